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

/// The argv an agent runs as its pane's own command. The prompt always comes last.
pub fn argv(input: &ArgvInput<'_>) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| argv.extend(items.iter().map(|s| s.to_string()));
    match input.backend {
        BackendName::Claude => {
            push(&[
                "claude",
                "--permission-mode",
                "dontAsk",
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
            push(&[
                "codex",
                "--ask-for-approval",
                "never",
                "--sandbox",
                "workspace-write",
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
    if !input.prompt.is_empty() {
        match input.backend {
            BackendName::Opencode => {
                argv.extend(["--prompt".to_string(), input.prompt.to_string()])
            }
            // A command gets its prompt in CAFLEET_PROMPT instead (see manifest).
            BackendName::Command => {}
            _ => argv.push(input.prompt.to_string()),
        }
    }
    argv
}
