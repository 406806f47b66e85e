//! `cafleet doctor`: checks what a fleet needs before anything is started — tmux, the
//! coding agents on PATH, the registry location, the installed skills and the monitors
//! the registry believes are running — and says, for every problem, the command that
//! fixes it. Only tmux and a usable registry are required; everything else warns.
//!
//! Probing runs other programs (`tmux -V`, `claude --version`, …), each in its own process
//! group with a deadline, so a wedged CLI costs at most [`VERSION_TIMEOUT`] and never hangs
//! the diagnosis. Nothing here creates or changes the registry. The hosts members run on
//! over ssh are checked in [`hosts`].

pub mod hosts;

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::error::Result;
use crate::registry::SCHEMA_VERSION;
use crate::registry::inspect::{Inspection, RunningMonitor, inspect};
use crate::skills::{self, Agent, Layout, Scope, State};

/// How long a `--version` may take before it is killed and reported as not answering.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The word printed in the first column.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report. Field names are part of `doctor --json`'s contract.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `tmux`, `backend.<agent>`, `database`, `skills.<agent>`, `monitors`,
    /// `monitor.<fleet>`, or for another host `host.<name>` and `host.<name>.tmux`,
    /// `.cafleet`, `.program.<program>`, `.database`.
    pub name: String,
    pub status: Status,
    /// What was found, one line.
    pub message: String,
    /// The file the check is about (an executable, the database, a skills folder).
    pub path: Option<String>,
    /// The version reported by the program, or the database schema version.
    pub version: Option<String>,
    /// The command that fixes the problem; `null` when there is none.
    pub fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, message: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            message: message.into(),
            path: None,
            version: None,
            fix: None,
        }
    }

    fn path(mut self, path: impl ToString) -> Check {
        self.path = Some(path.to_string());
        self
    }

    fn version(mut self, version: impl Into<String>) -> Check {
        self.version = Some(version.into());
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check, in the order they are printed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// False when any required check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

/// What the checks look at; built from the process environment by the CLI and by hand in
/// tests.
pub struct Probe<'a> {
    /// The `PATH` to search for tmux and the agents.
    pub path_var: Option<OsString>,
    /// The environment, for the agents' config folders.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The resolved registry location, or why it could not be resolved.
    pub db_path: Result<Utf8PathBuf>,
    pub timeout: Duration,
}

/// Runs every check.
pub fn run(probe: &Probe<'_>) -> Report {
    let path_var = probe.path_var.clone().unwrap_or_default();
    let timeout = probe.timeout;
    // The four version probes are independent; running them side by side bounds the
    // whole diagnosis by one timeout instead of four.
    let (tmux, backends) = std::thread::scope(|scope| {
        let tmux = scope.spawn(|| check_tmux(&path_var, timeout));
        let backends: Vec<_> = Agent::ALL
            .into_iter()
            .map(|agent| {
                let path_var = &path_var;
                scope.spawn(move || check_backend(agent, path_var, timeout))
            })
            .collect();
        let tmux = tmux.join().unwrap_or_else(|_| panicked("tmux"));
        let backends: Vec<Check> = backends
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| panicked("backend")))
            .collect();
        (tmux, backends)
    });

    let mut checks = vec![tmux];
    checks.extend(backends);
    let (database, inspection) = check_database(&probe.db_path);
    checks.push(database);
    for agent in Agent::ALL {
        checks.push(check_skills(agent, probe.env));
    }
    let running = |monitor: &RunningMonitor| match &probe.db_path {
        // The loop holds this lock while it runs; a recorded pid may be stale or reused.
        Ok(db) => {
            crate::registry::lock::is_held(db, &crate::registry::lock::monitor_name(&monitor.fleet))
        }
        Err(_) => false,
    };
    checks.extend(check_monitors(inspection.as_ref(), running));
    Report {
        ok: checks.iter().all(|c| c.status != Status::Fail),
        checks,
    }
}

fn panicked(name: &str) -> Check {
    Check::new(name, Status::Fail, "the check itself crashed")
}

/// How to install tmux on this kind of machine.
pub fn tmux_install_hint() -> &'static str {
    if cfg!(target_os = "macos") {
        "brew install tmux"
    } else {
        "sudo apt-get install tmux (Debian/Ubuntu) or sudo dnf install tmux (Fedora)"
    }
}

fn check_tmux(path_var: &OsString, timeout: Duration) -> Check {
    let Some(exe) = find_in_path("tmux", path_var) else {
        return Check::new(
            "tmux",
            Status::Fail,
            "tmux is not on PATH; cafleet needs it",
        )
        .fix(tmux_install_hint());
    };
    let shown = exe.display().to_string();
    match run_version(&exe, "-V", timeout) {
        Ok(line) => {
            let version = line.strip_prefix("tmux ").unwrap_or(&line).to_string();
            Check::new("tmux", Status::Ok, format!("{line} ({shown})"))
                .path(&shown)
                .version(version)
        }
        Err(why) => Check::new("tmux", Status::Fail, format!("`{shown} -V` {why}"))
            .path(&shown)
            .fix(format!("reinstall tmux: {}", tmux_install_hint())),
    }
}

/// The npm package each agent's CLI comes from (backends.md).
pub fn backend_install_hint(agent: Agent) -> &'static str {
    match agent {
        Agent::Claude => "npm install -g @anthropic-ai/claude-code",
        Agent::Codex => "npm install -g @openai/codex",
        Agent::Opencode => "npm install -g opencode-ai",
    }
}

fn check_backend(agent: Agent, path_var: &OsString, timeout: Duration) -> Check {
    let name = format!("backend.{}", agent.name());
    let Some(exe) = find_in_path(agent.name(), path_var) else {
        return Check::new(
            name,
            Status::Warn,
            format!(
                "{} is not on PATH; fleets using it cannot start",
                agent.name()
            ),
        )
        .fix(backend_install_hint(agent));
    };
    let shown = exe.display().to_string();
    match run_version(&exe, "--version", timeout) {
        Ok(line) => Check::new(name, Status::Ok, format!("{line} ({shown})"))
            .path(&shown)
            .version(line),
        Err(why) => Check::new(name, Status::Warn, format!("`{shown} --version` {why}"))
            .path(&shown)
            .fix(format!("reinstall it: {}", backend_install_hint(agent))),
    }
}

fn check_database(db_path: &Result<Utf8PathBuf>) -> (Check, Option<Inspection>) {
    let path = match db_path {
        Ok(path) => path,
        Err(err) => {
            let fix = err
                .hints
                .first()
                .cloned()
                .unwrap_or_else(|| "pass --db PATH or set CAFLEET_DATABASE_URL".into());
            return (
                Check::new("database", Status::Fail, err.message.clone()).fix(fix),
                None,
            );
        }
    };
    // A PostgreSQL URL is printed without its password.
    let pg = crate::registry::location::is_postgres(path);
    let shown = crate::registry::location::redact(path.as_str()).into_owned();
    let inspection = match inspect(path) {
        Ok(inspection) => inspection,
        Err(err) => {
            let fix = err
                .hints
                .first()
                .cloned()
                .unwrap_or_else(|| "point --db at another file".into());
            let check = Check::new(
                "database",
                Status::Fail,
                format!("cannot read `{shown}`: {}", err.message),
            )
            .path(&shown)
            .fix(fix);
            return (check, None);
        }
    };
    let check = match &inspection {
        Inspection::Missing if pg => Check::new(
            "database",
            Status::Warn,
            format!("{shown}: no cafleet tables yet, run `cafleet db init`"),
        )
        .path(&shown)
        .fix("cafleet db init"),
        Inspection::Missing => match creatable(path) {
            Ok(()) => Check::new(
                "database",
                Status::Warn,
                format!("{shown}: not created yet, run `cafleet db init`"),
            )
            .path(&shown)
            .fix("cafleet db init"),
            Err(blocker) => Check::new(
                "database",
                Status::Fail,
                format!("{shown} cannot be created: `{blocker}` is not a writable folder"),
            )
            .path(&shown)
            .fix("pass --db PATH (or set CAFLEET_DATABASE_URL) to a writable location"),
        },
        Inspection::Python { revision } => Check::new(
            "database",
            Status::Fail,
            format!(
                "{shown} is a registry of the Python cafleet (alembic revision {}), which this cafleet cannot use in place",
                revision.as_deref().unwrap_or("unknown")
            ),
        )
        .path(&shown)
        .fix(format!(
            "cafleet --db NEW.db db import-python {shown} (dry run; add --apply), then use NEW.db"
        )),
        Inspection::Present { schema_version, .. } => {
            let version = schema_version.to_string();
            let check = if *schema_version > SCHEMA_VERSION {
                Check::new(
                    "database",
                    Status::Fail,
                    format!(
                        "{shown}: schema version {schema_version} is newer than this cafleet knows ({SCHEMA_VERSION})"
                    ),
                )
                .fix("upgrade cafleet, or pass --db PATH to use another registry")
            } else if !pg && !writable(path.as_std_path()) {
                Check::new("database", Status::Fail, format!("{shown} is read-only"))
                    .fix(format!("chmod u+w {shown}"))
            } else if *schema_version < SCHEMA_VERSION {
                Check::new(
                    "database",
                    Status::Warn,
                    format!(
                        "{shown}: schema version {schema_version}, migrated to {SCHEMA_VERSION} on next use"
                    ),
                )
                .fix("cafleet db init")
            } else {
                Check::new(
                    "database",
                    Status::Ok,
                    format!("{shown} (schema version {schema_version})"),
                )
            };
            check.path(&shown).version(version)
        }
    };
    (check, Some(inspection))
}

/// Whether the registry file can be created: the nearest existing ancestor must be a
/// writable folder (`Registry::open` creates the missing ones). Returns the blocker.
fn creatable(path: &Utf8Path) -> std::result::Result<(), Utf8PathBuf> {
    let mut dir = path.parent();
    while let Some(candidate) = dir {
        let candidate = if candidate.as_str().is_empty() {
            Utf8Path::new(".")
        } else {
            candidate
        };
        if candidate.as_std_path().exists() {
            return if candidate.is_dir() && writable(candidate.as_std_path()) {
                Ok(())
            } else {
                Err(candidate.to_owned())
            };
        }
        dir = candidate.parent();
    }
    Err(path.to_owned())
}

fn writable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn check_skills(agent: Agent, env: &dyn Fn(&str) -> Option<String>) -> Check {
    let name = format!("skills.{}", agent.name());
    let fix = format!("cafleet skill install --agent {}", agent.name());
    let layout = match Layout::resolve(agent, &Scope::User, env) {
        Ok(layout) => layout,
        Err(err) => return Check::new(name, Status::Warn, err.message).fix(fix),
    };
    let status = skills::status(&layout);
    let dir = &layout.skills_dir;
    match status.overall() {
        State::Installed => Check::new(
            name,
            Status::Ok,
            format!("{} skills up to date in {dir}", skills::SKILLS.len()),
        )
        .path(dir),
        State::Missing => Check::new(name, Status::Warn, format!("not installed in {dir}"))
            .path(dir)
            .fix(fix),
        State::Outdated => {
            let stale: Vec<&str> = status
                .skills
                .iter()
                .chain(&status.presets)
                .filter(|item| item.state != State::Installed)
                .map(|item| item.name.as_str())
                .collect();
            Check::new(
                name,
                Status::Warn,
                format!(
                    "missing or older than this cafleet in {dir}: {}",
                    stale.join(", ")
                ),
            )
            .path(dir)
            .fix(fix)
        }
    }
}

fn check_monitors(
    inspection: Option<&Inspection>,
    is_running: impl Fn(&RunningMonitor) -> bool,
) -> Vec<Check> {
    let monitors: &[RunningMonitor] = match inspection {
        Some(Inspection::Present { monitors, .. }) => monitors,
        Some(Inspection::Python { .. }) => {
            return vec![Check::new(
                "monitors",
                Status::Ok,
                "none running (the registry is the Python cafleet's)",
            )];
        }
        Some(Inspection::Missing) => {
            return vec![Check::new(
                "monitors",
                Status::Ok,
                "none running (no registry yet)",
            )];
        }
        None => return Vec::new(),
    };
    if monitors.is_empty() {
        return vec![Check::new("monitors", Status::Ok, "none running")];
    }
    monitors
        .iter()
        .map(|monitor| {
            let name = format!("monitor.{}", monitor.fleet);
            let fleet = &monitor.fleet;
            let restart = format!("cafleet monitor start --fleet {fleet}");
            match monitor.pid {
                Some(pid) if is_running(monitor) => {
                    let tick = monitor
                        .last_tick_at
                        .as_deref()
                        .map(|t| format!(", last tick {t}"))
                        .unwrap_or_default();
                    Check::new(
                        name,
                        Status::Ok,
                        format!("fleet `{fleet}`: running (pid {pid}{tick})"),
                    )
                }
                Some(pid) => Check::new(
                    name,
                    Status::Warn,
                    format!(
                        "fleet `{fleet}`: marked running (pid {pid}) but no loop holds its lock"
                    ),
                )
                .fix(restart),
                None => Check::new(
                    name,
                    Status::Warn,
                    format!("fleet `{fleet}`: marked running without a pid"),
                )
                .fix(restart),
            }
        })
        .collect()
}

/// The first executable file called `name` in the directories of `path_var`.
pub fn find_in_path(name: &str, path_var: &OsString) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Runs `exe arg` and returns the first line it printed, or why that failed. The child
/// gets its own process group, which is killed whole when the deadline passes.
pub fn run_version(
    exe: &Path,
    arg: &str,
    timeout: Duration,
) -> std::result::Result<String, String> {
    let mut child = Command::new(exe)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|err| format!("cannot be run: {err}"))?;
    // Read the pipes on threads: a grandchild may keep them open after the child exits,
    // and reading on this thread would then block past the deadline.
    let (tx, rx) = mpsc::channel();
    for (index, pipe) in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(mut pipe) = pipe {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = pipe.read_to_end(&mut text);
                let _ = tx.send((index, text));
            });
        }
    }
    drop(tx);

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "did not answer within {}s and was stopped",
                    timeout.as_secs_f32()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => return Err(format!("could not be waited for: {err}")),
        }
    };

    let mut outputs = [Vec::new(), Vec::new()];
    let grace = Instant::now() + Duration::from_millis(500);
    while let Ok((index, text)) = rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
        outputs[index] = text;
    }
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    let line = first_line(&outputs[0]).or_else(|| first_line(&outputs[1]));
    match (status.success(), line) {
        (true, Some(line)) => Ok(line),
        (true, None) => Err("printed nothing".into()),
        (false, line) => Err(format!(
            "failed ({status}){}",
            line.map(|l| format!(": {l}")).unwrap_or_default()
        )),
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn version_of_a_program() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = script(tmp.path(), "tool", "echo '  '; echo 'tool 1.2.3'");
        assert_eq!(
            run_version(&exe, "--version", Duration::from_secs(5)).unwrap(),
            "tool 1.2.3"
        );
        let failing = script(tmp.path(), "bad", "echo oops >&2; exit 3");
        let err = run_version(&failing, "--version", Duration::from_secs(5)).unwrap_err();
        assert!(err.contains("oops"), "{err}");
    }

    #[test]
    fn a_hanging_program_is_stopped_at_the_deadline() {
        let tmp = tempfile::tempdir().unwrap();
        // The background sleep keeps the pipes open after the shell is killed.
        let exe = script(tmp.path(), "hang", "sleep 30 & sleep 30");
        let start = Instant::now();
        let err = run_version(&exe, "--version", Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("did not answer"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn find_in_path_needs_the_executable_bit() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("plain"), "x").unwrap();
        script(tmp.path(), "exe", "true");
        let path_var = OsString::from(tmp.path());
        assert!(find_in_path("plain", &path_var).is_none());
        assert!(find_in_path("exe", &path_var).is_some());
        assert!(find_in_path("missing", &path_var).is_none());
    }

    #[test]
    fn database_not_created_yet_is_a_warning_and_stays_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(tmp.path().join("a/b/cafleet.db")).unwrap();
        let (check, _) = check_database(&Ok(path.clone()));
        assert_eq!(check.status, Status::Warn);
        assert!(check.message.contains("cafleet db init"));
        assert!(!tmp.path().join("a").exists());
    }

    #[test]
    fn dead_monitor_pid_is_reported() {
        let inspection = Inspection::Present {
            schema_version: SCHEMA_VERSION,
            monitors: vec![
                RunningMonitor {
                    fleet: "live".into(),
                    pid: Some(i64::from(std::process::id())),
                    last_tick_at: None,
                },
                RunningMonitor {
                    fleet: "gone".into(),
                    pid: Some(i64::from(i32::MAX)),
                    last_tick_at: None,
                },
            ],
        };
        let checks = check_monitors(Some(&inspection), |m| m.fleet == "live");
        assert_eq!(checks[0].status, Status::Ok);
        assert_eq!(checks[1].status, Status::Warn);
        assert_eq!(
            checks[1].fix.as_deref(),
            Some("cafleet monitor start --fleet gone")
        );
    }
}
