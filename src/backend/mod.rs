//! Everything that differs between the agents cafleet can run — claude, codex, opencode,
//! an arbitrary command, and the built-in fake: which keys each accepts, the command line
//! an agent becomes, and (for the fake) its options.

pub mod fake;
pub mod fake_options;
pub mod screens;

pub use crate::manifest::raw::BackendName;

/// The reasoning-effort values a backend accepts; `None` when it has no effort setting.
pub fn effort_values(backend: BackendName) -> Option<&'static [&'static str]> {
    match backend {
        BackendName::Claude => Some(&["low", "medium", "high", "xhigh", "max"]),
        BackendName::Codex => Some(&["minimal", "low", "medium", "high", "xhigh"]),
        BackendName::Opencode | BackendName::Command | BackendName::Fake => None,
    }
}

/// Whether the backend takes a `model`.
pub fn takes_model(backend: BackendName) -> bool {
    !matches!(backend, BackendName::Command)
}

/// The program name written in a fake agent's argv; replaced by the running cafleet's
/// absolute path at launch so the config hash does not depend on where cafleet lives.
pub const SELF_PROGRAM: &str = "cafleet";

/// The longest prompt an agent can be started with; `config check` refuses longer ones.
pub const MAX_PROMPT_BYTES: usize = 1024 * 1024;

/// The longest single argument Linux passes to a program (`MAX_ARG_STRLEN`, 32 pages,
/// including its NUL), less a margin for `--prompt=`. A longer prompt is pasted into the
/// agent once it is ready instead (see `apply::launch`).
pub const MAX_ARG_BYTES: usize = 128 * 1024 - 64;

/// A `command` member gets its prompt in one environment variable, under the same cap.
pub const MAX_COMMAND_PROMPT_BYTES: usize = MAX_ARG_BYTES - "CAFLEET_PROMPT=".len();

/// The one tool a claude agent may use without asking: `cafleet` through its shell tool.
pub const CLAUDE_ALLOWED: &str = "Bash(cafleet:*)";

/// What an agent's command line is built from.
pub struct ArgvInput<'a> {
    pub backend: BackendName,
    pub name: &'a str,
    pub model: Option<&'a str>,
    pub effort: Option<&'a str>,
    pub prompt: &'a str,
    pub args: &'a [String],
    pub command: &'a [String],
    pub fake_options_json: &'a str,
}

/// `arg` as a POSIX shell reads it back: bare when it is plainly safe, else in single
/// quotes.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The argv an agent runs as its pane's own command. The prompt always comes last.
pub fn argv(input: &ArgvInput<'_>) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| argv.extend(items.iter().map(|s| s.to_string()));
    match input.backend {
        BackendName::Claude => {
            // `dontAsk` denies every tool call not allowed in advance; the agent must
            // still be able to run `cafleet …` (and, by this, nothing more).
            push(&[
                "claude",
                "--permission-mode",
                "dontAsk",
                "--allowedTools",
                CLAUDE_ALLOWED,
                "--name",
                input.name,
            ]);
            if let Some(model) = input.model {
                push(&["--model", model]);
            }
            if let Some(effort) = input.effort {
                push(&["--effort", effort]);
            }
        }
        BackendName::Codex => {
            // `--no-daemon`: otherwise codex leaves a background server that outlives its
            // pane and ignores SIGTERM (codex-cli 0.169).
            // `allow_login_shell=false`: codex's shell tool otherwise runs a login shell,
            // whose /etc/profile resets PATH and loses the `cafleet` the pane found.
            push(&[
                "codex",
                "--no-daemon",
                "--ask-for-approval",
                "never",
                "--sandbox",
                "workspace-write",
                "-c",
                "allow_login_shell=false",
            ]);
            if let Some(model) = input.model {
                push(&["--model", model]);
            }
            if let Some(effort) = input.effort {
                push(&["-c", &format!("model_reasoning_effort={effort}")]);
            }
        }
        BackendName::Opencode => {
            push(&["opencode", "--agent", "cafleet"]);
            if let Some(model) = input.model {
                push(&["--model", model]);
            }
        }
        BackendName::Command => {
            argv.extend(input.command.iter().cloned());
        }
        BackendName::Fake => {
            push(&[SELF_PROGRAM, "agent", "fake", "--name", input.name]);
            push(&["--options", input.fake_options_json]);
        }
    }
    argv.extend(input.args.iter().cloned());
    // A prompt may start with `-` (YAML front matter, a list): it must never be read as a
    // flag. claude (commander) and codex (clap) take `--` before the positional prompt;
    // opencode (yargs) takes the value glued to its flag.
    if !input.prompt.is_empty() {
        match input.backend {
            BackendName::Opencode => argv.push(format!("--prompt={}", input.prompt)),
            // A command gets its prompt in CAFLEET_PROMPT instead (see manifest).
            BackendName::Command => {}
            _ => argv.extend(["--".to_string(), input.prompt.to_string()]),
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        backend: BackendName,
        model: Option<&str>,
        effort: Option<&str>,
        args: &[&str],
    ) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let command = vec!["./watch.sh".to_string(), "--ci".to_string()];
        argv(&ArgvInput {
            backend,
            name: "api",
            model,
            effort,
            prompt: "You are api.",
            args: &args,
            command: &command,
            fake_options_json: "{}",
        })
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
    }

    #[test]
    fn claude() {
        insta::assert_snapshot!(line(BackendName::Claude, None, None, &[]), @"claude --permission-mode dontAsk --allowedTools Bash(cafleet:*) --name api -- 'You are api.'");
        insta::assert_snapshot!(line(BackendName::Claude, Some("opus"), Some("high"), &["--verbose"]), @"claude --permission-mode dontAsk --allowedTools Bash(cafleet:*) --name api --model opus --effort high --verbose -- 'You are api.'");
    }

    #[test]
    fn codex() {
        insta::assert_snapshot!(line(BackendName::Codex, None, None, &[]), @"codex --no-daemon --ask-for-approval never --sandbox workspace-write -c allow_login_shell=false -- 'You are api.'");
        insta::assert_snapshot!(line(BackendName::Codex, Some("gpt-5.4-mini"), Some("high"), &["--search"]), @"codex --no-daemon --ask-for-approval never --sandbox workspace-write -c allow_login_shell=false --model gpt-5.4-mini -c model_reasoning_effort=high --search -- 'You are api.'");
    }

    #[test]
    fn opencode() {
        insta::assert_snapshot!(line(BackendName::Opencode, None, None, &[]), @"opencode --agent cafleet '--prompt=You are api.'");
        insta::assert_snapshot!(line(BackendName::Opencode, Some("anthropic/claude-sonnet-4-6"), None, &["--log-level", "INFO"]), @"opencode --agent cafleet --model anthropic/claude-sonnet-4-6 --log-level INFO '--prompt=You are api.'");
    }

    #[test]
    fn command_and_fake() {
        insta::assert_snapshot!(line(BackendName::Command, None, None, &["--fast"]), @"./watch.sh --ci --fast");
        insta::assert_snapshot!(line(BackendName::Fake, Some("small"), None, &[]), @"cafleet agent fake --name api --options {} -- 'You are api.'");
    }

    #[test]
    fn effort_and_model_rules() {
        assert!(effort_values(BackendName::Opencode).is_none());
        assert!(effort_values(BackendName::Fake).is_none());
        assert!(effort_values(BackendName::Claude).is_some_and(|v| v.contains(&"max")));
        assert!(
            effort_values(BackendName::Codex)
                .is_some_and(|v| v.contains(&"minimal") && !v.contains(&"max"))
        );
        assert!(!takes_model(BackendName::Command));
    }
}
