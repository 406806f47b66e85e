//! The real agent CLIs against `cafleet model serve`, headless, each with a private HOME
//! and no network: each must run the scripted shell commands and print the final reply.
//! The CLIs are found in `$CAFLEET_AGENT_CLIS/node_modules/.bin`, the usual cache folder
//! or PATH; a missing one is skipped with a visible line, except under CI, where it fails.

mod common;
mod model_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cafleet::manifest::raw::BackendName;
use cafleet::model::point_at;
use model_support::{Server, find_cli};

const SCRIPT: &str = r#"
version = 1

[[turn]]
# `opencode run` sends the prompt wrapped in double quotes: keep them out of the path.
match = 'make the marker in (?P<dir>[^\s"]+)'
run = ["echo scripted > ${dir}/marker", "echo again >> ${dir}/marker"]
reply = "The marker is made."
"#;

/// The CLI's path, or `None` after printing why the test is skipped (a failure under CI).
fn cli_or_skip(program: &str) -> Option<PathBuf> {
    let found = find_cli(program);
    if found.is_none() {
        let why = format!(
            "skipped: `{program}` is not installed (looked in $CAFLEET_AGENT_CLIS/node_modules/.bin, default ~/.cache/cafleet/agent-clis, and PATH; tests/agent-clis.sh installs them)"
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        cafleet::tmux::testing::say_skipped(why.trim_start_matches("skipped: "));
    }
    found
}

/// Runs `command` to completion with a deadline, returning its output.
fn run_with_deadline(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the CLI");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("wait for the CLI"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("the CLI did not finish within {limit:?}");
        }
    }
}

/// A command for `program` with a private HOME (also its working folder) and the
/// server's pointing applied.
fn command(program: &Path, backend: BackendName, server: &Server, home: &Path) -> Command {
    let pointing = point_at(backend, &server.base, "scripted").expect("a model backend");
    let mut command = Command::new(program);
    command
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .envs(pointing.env.iter().map(|(k, v)| (k, v)));
    // The CLI's own folder first, so a node-based launcher finds its siblings.
    if let Some(dir) = program.parent() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        command.env("PATH", std::env::join_paths(dirs).expect("PATH"));
    }
    command.args(&pointing.args);
    command
}

/// Checks the marker file the script's two commands write, and the reply in `output`.
fn assert_ran(output: &Output, marker_dir: &Path, server: &Server) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log = std::fs::read_to_string(server.log()).unwrap_or_default();
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{log}");
    assert!(output.status.success(), "{:?}\n{context}", output.status);
    let marker = std::fs::read_to_string(marker_dir.join("marker"))
        .unwrap_or_else(|err| panic!("no marker ({err}): the command did not run\n{context}"));
    assert_eq!(marker, "scripted\nagain\n", "{context}");
    assert!(stdout.contains("The marker is made."), "{context}");
}

fn marker_prompt(dir: &Path) -> String {
    format!("Please make the marker in {}", dir.display())
}

#[test]
fn claude_runs_the_scripted_commands() {
    let Some(claude) = cli_or_skip("claude") else {
        return;
    };
    let server = Server::start(SCRIPT);
    let home = tempfile::tempdir().expect("home");
    // Inside the working folder: opencode refuses commands on folders outside it.
    let marker = tempfile::tempdir_in(home.path()).expect("marker dir");
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding":true}"#,
    )
    .expect("write .claude.json");
    let mut cmd = command(&claude, BackendName::Claude, &server, home.path());
    cmd.args(["--model", "scripted", "--allowedTools", "Bash", "-p"])
        .arg(marker_prompt(marker.path()));
    let started = Instant::now();
    let output = run_with_deadline(cmd, Duration::from_secs(120));
    eprintln!("claude took {:?}", started.elapsed());
    assert_ran(&output, marker.path(), &server);
}

#[test]
fn codex_runs_the_scripted_commands() {
    let Some(codex) = cli_or_skip("codex") else {
        return;
    };
    let server = Server::start(SCRIPT);
    let home = tempfile::tempdir().expect("home");
    // Inside the working folder: opencode refuses commands on folders outside it.
    let marker = tempfile::tempdir_in(home.path()).expect("marker dir");
    let mut cmd = command(&codex, BackendName::Codex, &server, home.path());
    // An unknown model name: a catalogue name may pop a "model replaced" notice.
    cmd.args([
        "exec",
        "--skip-git-repo-check",
        "--sandbox",
        "danger-full-access",
        "-m",
        "scripted-unknown",
    ])
    .arg(marker_prompt(marker.path()));
    let started = Instant::now();
    let output = run_with_deadline(cmd, Duration::from_secs(120));
    eprintln!("codex took {:?}", started.elapsed());
    assert_ran(&output, marker.path(), &server);
}

#[test]
fn opencode_runs_the_scripted_commands() {
    let Some(opencode) = cli_or_skip("opencode") else {
        return;
    };
    let server = Server::start(SCRIPT);
    let home = tempfile::tempdir().expect("home");
    // Inside the working folder: opencode refuses commands on folders outside it.
    let marker = tempfile::tempdir_in(home.path()).expect("marker dir");
    let mut cmd = command(&opencode, BackendName::Opencode, &server, home.path());
    let model = point_at(BackendName::Opencode, &server.base, "scripted")
        .expect("opencode pointing")
        .model;
    cmd.args(["run", "-m", &model])
        .arg(marker_prompt(marker.path()));
    let started = Instant::now();
    let output = run_with_deadline(cmd, Duration::from_secs(180));
    eprintln!("opencode took {:?}", started.elapsed());
    assert_ran(&output, marker.path(), &server);
}

/// The rollouts codex wrote under `home`, as one text.
fn codex_sessions(home: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![home.join(".codex/sessions")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    text
}

#[test]
fn codex_lists_the_skills_cafleet_installs() {
    let Some(codex) = cli_or_skip("codex") else {
        return;
    };
    let server = Server::start("version = 1\n[default]\nreply = \"OK\"\n");
    let home = tempfile::tempdir().expect("home");
    let project = tempfile::tempdir_in(home.path()).expect("project");
    for args in [
        vec!["skill", "install", "--agent", "codex"],
        vec![
            "skill",
            "install",
            "--agent",
            "codex",
            "--dir",
            project.path().to_str().expect("utf-8 path"),
        ],
    ] {
        let out = common::cafleet(home.path())
            .env_remove("CODEX_HOME")
            .args(&args)
            .output()
            .expect("run cafleet");
        assert!(out.status.success(), "{}", common::transcript(&out));
    }
    let user = home.path().join(".codex/skills");
    let shared = project.path().join(".agents/skills");
    assert!(user.join("cafleet/SKILL.md").is_file());
    assert!(shared.join("cafleet/SKILL.md").is_file());

    let mut cmd = command(&codex, BackendName::Codex, &server, home.path());
    cmd.current_dir(project.path())
        .env_remove("CODEX_HOME")
        .args([
            "exec",
            "--skip-git-repo-check",
            "-m",
            "scripted-unknown",
            "hello",
        ]);
    let output = run_with_deadline(cmd, Duration::from_secs(120));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // codex lists each skill root it read, then the skills found there.
    let sessions = codex_sessions(home.path());
    for root in [&user, &shared] {
        let line = format!("= `{}`", root.display());
        assert!(
            sessions.contains(&line),
            "codex did not read {}",
            root.display()
        );
    }
    for skill in ["- cafleet:", "- cafleet-design-doc:", "- cafleet-research:"] {
        assert!(sessions.contains(skill), "codex does not list `{skill}`");
    }
}
