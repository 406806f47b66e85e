//! How an agent's program really starts. tmux is never handed the agent's command line:
//! a prompt of a few dozen KiB makes `new-session`/`respawn-pane` fail with "command too
//! long" (tmux's message limit is ~16 KiB). The pane runs a short launcher instead,
//! `cafleet agent launch --hash H`, which reads the agent's recorded launch spec from the
//! registry (the row `apply` writes before the pane starts), checks that it is still the
//! spec the pane was tagged with, adds what is only known at launch (this cafleet's own
//! path for the fake, the registry folder codex's sandbox must be able to write) and
//! `exec`s the program in its place: same pid, same process group, nothing in between.
//!
//! Linux caps one argument at 128 KiB (`MAX_ARG_STRLEN`). A longer prompt (up to
//! [`MAX_PROMPT_BYTES`]) is left off the command line; the launcher first starts a
//! detached `cafleet agent paste-prompt`, which waits until the agent shows its composer
//! and pastes the prompt there (a bracketed paste, then Enter), as a user would.

use std::time::{Duration, Instant};

use camino::Utf8Path;

use crate::backend::BackendName;
use crate::error::{Error, Result};
use crate::manifest::LaunchSpec;

pub use crate::backend::{MAX_ARG_BYTES, MAX_COMMAND_PROMPT_BYTES, MAX_PROMPT_BYTES};

/// How long `paste-prompt` waits for the agent's composer.
const PASTE_DEADLINE: Duration = Duration::from_secs(180);

/// What the pane runs: the launcher, by absolute path.
pub fn pane_argv(hash: &str) -> Result<Vec<String>> {
    let exe = std::env::current_exe()
        .map_err(|err| Error::failure(format!("cannot find the cafleet executable: {err}")))?;
    Ok(vec![
        exe.to_string_lossy().into_owned(),
        "agent".into(),
        "launch".into(),
        "--hash".into(),
        hash.into(),
    ])
}

/// What a pane on another host runs: the launcher of the `cafleet` on that host's PATH
/// (this binary's path means nothing there; `doctor` checks it is the same version).
pub fn remote_pane_argv(hash: &str) -> Vec<String> {
    ["cafleet", "agent", "launch", "--hash", hash]
        .map(String::from)
        .to_vec()
}

/// The program's argv as it is exec'd, and the prompt to paste when the prompt is too
/// long for the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub argv: Vec<String>,
    /// Variables set for the program on top of the pane's environment.
    pub env: Vec<(String, String)>,
    pub paste: Option<String>,
}

/// The argv actually run for `spec`, with the registry at `db`.
pub fn program(spec: &LaunchSpec, db: &Utf8Path) -> Program {
    let mut argv = spec.argv.clone();
    match spec.backend {
        // A fake agent runs this very binary (its spec says `cafleet` so the config
        // hash does not depend on where cafleet is installed).
        BackendName::Fake => {
            if let (Some(first), Ok(exe)) = (argv.first_mut(), std::env::current_exe()) {
                *first = exe.to_string_lossy().into_owned();
            }
        }
        // codex's `workspace-write` sandbox lets tool calls write only the workspace and
        // /tmp; `cafleet message send` must write the registry, its WAL and its lock
        // files, all in the registry's folder. Only that folder is opened, and the
        // network stays closed (delivery to panes is the courier's, outside the sandbox).
        // On a PostgreSQL registry there is no folder to open: `cafleet` reaches the
        // server over the network, which the sandbox must then allow.
        BackendName::Codex if crate::registry::location::is_postgres(db) => {
            argv.splice(
                1..1,
                [
                    "-c".to_string(),
                    "sandbox_workspace_write.network_access=true".to_string(),
                ],
            );
        }
        BackendName::Codex => {
            if let Some(folder) = crate::apply::absolute_db(db).parent() {
                let roots = serde_json::to_string(&[folder.as_str()]).unwrap_or_default();
                argv.splice(
                    1..1,
                    [
                        "-c".to_string(),
                        format!("sandbox_workspace_write.writable_roots={roots}"),
                    ],
                );
            }
        }
        _ => {}
    }
    // The agent's own hooks report its state (see `hooks`), calling this very cafleet.
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "cafleet".into());
    let config_content = spec
        .env
        .get("OPENCODE_CONFIG_CONTENT")
        .cloned()
        .or_else(|| std::env::var("OPENCODE_CONFIG_CONTENT").ok());
    let hooks = crate::hooks::install::additions(
        spec.backend,
        &exe,
        config_content.as_deref(),
        &crate::hooks::install::plugin_path(&crate::apply::absolute_db(db)),
    );
    if !hooks.args.is_empty() && !argv.is_empty() {
        argv.splice(1..1, hooks.args);
    }
    let mut paste = None;
    if spec.prompt.len() > MAX_ARG_BYTES && spec.backend != BackendName::Command {
        strip_prompt(&mut argv, spec.backend, &spec.prompt);
        paste = Some(spec.prompt.clone());
    }
    Program {
        argv,
        env: hooks.env,
        paste,
    }
}

/// Takes the prompt (and the `--` before it) off the end of `argv`.
fn strip_prompt(argv: &mut Vec<String>, backend: BackendName, prompt: &str) {
    match backend {
        BackendName::Opencode => {
            if argv
                .last()
                .is_some_and(|a| a.strip_prefix("--prompt=") == Some(prompt))
            {
                argv.pop();
            }
        }
        _ => {
            if argv.last().is_some_and(|a| a == prompt) {
                argv.pop();
                if argv.last().is_some_and(|a| a == "--") {
                    argv.pop();
                }
            }
        }
    }
}

/// `cafleet agent launch`: run in the agent's pane, with `CAFLEET_FLEET`,
/// `CAFLEET_MEMBER` and `CAFLEET_DATABASE_URL` set by `apply`. Returns only on failure.
pub fn exec(db: &Utf8Path, fleet: &str, member: &str, hash: &str) -> Error {
    match prepare(db, fleet, member, hash) {
        Ok(program) => {
            if let Some(prompt) = &program.paste
                && let Err(err) = start_paster(prompt)
            {
                return err;
            }
            exec_argv(&program.argv, &program.env)
        }
        Err(err) => err,
    }
}

fn prepare(db: &Utf8Path, fleet: &str, member: &str, hash: &str) -> Result<Program> {
    let registry = crate::registry::Registry::open(db)?;
    let fleet_row = registry.require_fleet(fleet)?;
    let agent = registry.require_agent(fleet_row.id, fleet, member)?;
    if agent.config_hash.as_deref() != Some(hash) {
        return Err(Error::failure(format!(
            "`{member}` was reconfigured while its pane started (hash {} in the registry, {hash} on the pane)",
            agent.config_hash.as_deref().unwrap_or("none")
        ))
        .hint("run `cafleet up` again"));
    }
    let spec = agent.spec().ok_or_else(|| {
        Error::failure(format!("`{member}` has no recorded launch spec"))
            .hint("run `cafleet up` again to record it")
    })?;
    if spec.backend == BackendName::Opencode {
        // Without its plugin the agent still runs; its state is then read off the screen.
        let path = crate::hooks::install::plugin_path(&crate::apply::absolute_db(db));
        if let Err(err) = crate::hooks::install::write_plugin(&path) {
            eprintln!("warning: {}", err.message);
        }
    }
    Ok(program(&spec, db))
}

fn exec_argv(argv: &[String], env: &[(String, String)]) -> Error {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = argv.split_first() else {
        return Error::failure("the agent's command line is empty");
    };
    let err = std::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .exec();
    Error::failure(format!("cannot start `{program}`: {err}"))
        .hint("check that it is installed and on PATH (`cafleet doctor`)")
}

/// Starts the detached `cafleet agent paste-prompt` with the prompt on its stdin.
fn start_paster(prompt: &str) -> Result<()> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let exe = std::env::current_exe()
        .map_err(|err| Error::failure(format!("cannot find the cafleet executable: {err}")))?;
    let mut command = Command::new(exe);
    command
        .args(["agent", "paste-prompt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The paster must outlive this process, which is about to become the agent.
    let mut child = super::process::detach(&mut command)
        .spawn()
        .map_err(|err| Error::failure(format!("cannot start the prompt paster: {err}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(prompt.as_bytes())
            .map_err(|err| Error::failure(format!("cannot hand over the prompt: {err}")))?;
    }
    Ok(())
}

/// `cafleet agent paste-prompt`: waits until the agent in `pane` shows its composer, then
/// pastes `prompt` (bracketed, so newlines do not submit it) and presses Enter.
pub fn paste_prompt(
    tmux: &crate::tmux::Tmux,
    pane: crate::tmux::PaneId,
    backend: BackendName,
    prompt: &str,
) -> Result<()> {
    use crate::backend::screens::{Screen, classify};
    let deadline = Instant::now() + PASTE_DEADLINE;
    loop {
        let Some(found) = tmux.pane(pane, &[])? else {
            return Err(Error::failure(format!("pane {pane} is gone")));
        };
        if found.exited() {
            return Err(Error::failure(format!("the agent in pane {pane} exited")));
        }
        if classify(backend, &tmux.capture_pane(pane, None)?) == Screen::Composer {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::timeout(format!(
                "the agent in pane {pane} showed no composer within {}s",
                PASTE_DEADLINE.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.paste_text(pane, prompt)?;
    let timing = crate::backend::screens::key_timing(backend);
    std::thread::sleep(timing.before_enter.max(Duration::from_millis(200)));
    tmux.send_keys(pane, &[crate::tmux::Key::Enter])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(backend: BackendName, argv: &[&str], prompt: &str) -> LaunchSpec {
        LaunchSpec {
            backend,
            model: None,
            effort: None,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: "/tmp".into(),
            env: BTreeMap::new(),
            prompt: prompt.into(),
            env_from: Vec::new(),
            host: None,
            ssh_command: None,
        }
    }

    #[test]
    fn codex_may_write_the_registry_folder_and_nothing_else() {
        let s = spec(
            BackendName::Codex,
            &["codex", "--no-daemon", "--", "hi"],
            "hi",
        );
        let program = program(&s, Utf8Path::new("/home/u/.local/share/cafleet/cafleet.db"));
        let exe = std::env::current_exe().expect("exe");
        let notify = serde_json::json!([exe.to_string_lossy(), "agent", "hook", "codex"]);
        assert_eq!(
            program.argv,
            [
                "codex",
                "-c",
                &format!("notify={notify}"),
                "-c",
                r#"sandbox_workspace_write.writable_roots=["/home/u/.local/share/cafleet"]"#,
                "--no-daemon",
                "--",
                "hi"
            ]
        );
        assert!(!program.argv.iter().any(|a| a.contains("network_access")));
        assert_eq!(program.paste, None);
    }

    /// On a PostgreSQL registry codex opens no folder but the network (its `cafleet`
    /// calls reach the server), and the URL's password is nowhere on the command line.
    #[test]
    fn codex_on_a_postgres_registry_may_reach_the_network() {
        let s = spec(BackendName::Codex, &["codex", "--", "hi"], "hi");
        let program = program(&s, Utf8Path::new("postgres://u:secret@db:5432/cafleet"));
        assert!(
            program
                .argv
                .iter()
                .any(|a| a == "sandbox_workspace_write.network_access=true"),
            "{:?}",
            program.argv
        );
        assert!(!program.argv.iter().any(|a| a.contains("writable_roots")));
        assert!(!program.argv.iter().any(|a| a.contains("secret")));
    }

    #[test]
    fn a_prompt_too_long_for_one_argument_is_pasted_instead() {
        let long = "x".repeat(MAX_ARG_BYTES + 1);
        let s = spec(
            BackendName::Claude,
            &["claude", "--name", "a", "--", &long],
            &long,
        );
        let p = program(&s, Utf8Path::new("/r/c.db"));
        assert_eq!(p.argv[1], "--settings", "the hooks come first");
        assert_eq!(p.argv[3..], ["--name", "a"]);
        assert_eq!(p.paste.as_deref(), Some(long.as_str()));

        let glued = format!("--prompt={long}");
        let s = spec(BackendName::Opencode, &["opencode", &glued], &long);
        let p = program(&s, Utf8Path::new("/r/c.db"));
        assert_eq!(p.argv, ["opencode"]);
        assert!(p.paste.is_some());
    }

    #[test]
    fn a_prompt_that_fits_stays_on_the_command_line() {
        let prompt = "y".repeat(64 * 1024);
        let s = spec(BackendName::Claude, &["claude", "--", &prompt], &prompt);
        let p = program(&s, Utf8Path::new("/r/c.db"));
        assert_eq!(p.argv.len(), 5, "claude, --settings JSON, --, the prompt");
        assert_eq!(p.argv[4], prompt);
        assert_eq!(p.paste, None);
    }
}
