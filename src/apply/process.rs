//! Ending a pane's processes by pid, the way nextest ends a test: SIGTERM to the whole
//! process group, a grace period polled against a deadline, then SIGKILL.
//!
//! tmux starts every pane's program as a session and process-group leader, so the pane
//! pid is also the pgid of everything the agent started (tool calls, shells, servers).
//! Only the pid or pgid given is ever signalled, and never 0, 1 or our own group, where
//! a signal would reach far more than one pane. A zombie counts as gone: it has exited,
//! and in a container whose init does not reap, it would otherwise look alive forever.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp, getpid};

use crate::error::{Error, Result};

/// Short enough that a fast exit is noticed at once, long enough not to spin.
const POLL: Duration = Duration::from_millis(20);
/// SIGKILL cannot be ignored, but the kernel may take a moment to tear a process down
/// (for example while it finishes uninterruptible I/O).
const AFTER_KILL: Duration = Duration::from_secs(2);

/// How [`terminate`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Nothing with that pid or pgid was running.
    NotRunning,
    /// Everything exited within the grace period after SIGTERM.
    Terminated,
    /// SIGKILL was needed, and then everything was gone.
    Killed,
    /// Something was still running even after SIGKILL.
    Survived,
}

impl Ending {
    /// Whether any process was left behind.
    pub fn left_something(self) -> bool {
        self == Ending::Survived
    }
}

/// Whether `pid` is a running (not zombie) process.
pub fn is_alive(pid: u32) -> bool {
    let Some(pid) = as_pid(pid) else {
        return false;
    };
    match kill(pid, None) {
        Ok(()) | Err(Errno::EPERM) => !is_zombie(pid).unwrap_or(false),
        Err(_) => false,
    }
}

/// Ends the process group led by `pid` (or `pid` alone when it leads no group):
/// SIGTERM, up to `grace` for everything to exit, then SIGKILL.
pub fn terminate(pid: u32, grace: Duration) -> Result<Ending> {
    let target = as_pid(pid).ok_or_else(|| refuse(pid))?;
    if target == getpgrp() || target == getpid() {
        return Err(refuse(pid));
    }
    // EPERM means it exists but is not ours: the signal below reports that as an error.
    let victim = match (killpg(target, None), kill(target, None)) {
        (Ok(()) | Err(Errno::EPERM), _) => Victim::Group(target),
        (_, Ok(()) | Err(Errno::EPERM)) => Victim::Process(target),
        _ => return Ok(Ending::NotRunning),
    };
    if !victim.alive() {
        return Ok(Ending::NotRunning);
    }
    victim.signal(Signal::SIGTERM)?;
    if victim.wait_gone(grace) {
        return Ok(Ending::Terminated);
    }
    victim.signal(Signal::SIGKILL)?;
    if victim.wait_gone(AFTER_KILL) {
        Ok(Ending::Killed)
    } else {
        Ok(Ending::Survived)
    }
}

fn refuse(pid: u32) -> Error {
    Error::usage(format!(
        "refusing to signal pid {pid}: it is not a single pane's process"
    ))
}

/// Pids above `i32::MAX` do not exist, and 0 and 1 would signal far too much.
fn as_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|&p| p > 1)
        .map(Pid::from_raw)
}

#[derive(Debug, Clone, Copy)]
enum Victim {
    Group(Pid),
    Process(Pid),
}

impl Victim {
    fn signal(self, signal: Signal) -> Result<()> {
        let (result, what) = match self {
            Victim::Group(pgid) => (killpg(pgid, signal), format!("process group {pgid}")),
            Victim::Process(pid) => (kill(pid, signal), format!("process {pid}")),
        };
        match result {
            // Gone between the check and the signal: that is what we wanted.
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(err) => Err(Error::failure(format!(
                "failed to send {signal} to {what}: {}",
                err.desc().to_lowercase()
            ))),
        }
    }

    fn alive(self) -> bool {
        match self {
            Victim::Process(pid) => is_alive(pid.as_raw() as u32),
            Victim::Group(pgid) => match killpg(pgid, None) {
                Err(Errno::ESRCH) => false,
                _ => group_has_live_member(pgid).unwrap_or(true),
            },
        }
    }

    fn wait_gone(self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.alive() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }
}

/// A command that runs this very cafleet binary, on registry `db` and, when given, tmux
/// server `tmux_socket`: what cafleet starts in the background (the courier, the prompt paster, the monitor loop).
pub fn cafleet_command(
    db: &camino::Utf8Path,
    tmux_socket: Option<&str>,
) -> Result<std::process::Command> {
    let exe = std::env::current_exe()
        .map_err(|err| Error::failure(format!("cannot find the cafleet executable: {err}")))?;
    let mut command = std::process::Command::new(exe);
    if !crate::registry::location::is_postgres(db) {
        command.arg("--db").arg(db.as_str());
    }
    if let Some(socket) = tmux_socket {
        command.arg("--tmux-socket").arg(socket);
    }
    Ok(command)
}

/// Makes `command` start in a session of its own: detached from the caller's terminal and
/// process group, so closing the caller's pane or a C-c there does not end it, and it
/// outlives the caller.
pub fn detach(command: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        })
    }
}

/// Starts `command` [`detach`]ed with its stdio on /dev/null and returns without waiting;
/// a thread reaps it should this process live on (the web UI). A CLI exits first and
/// init reaps it.
pub fn spawn_detached(command: &mut std::process::Command) -> std::io::Result<()> {
    use std::process::Stdio;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = detach(command).spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The identity variables an agent's pane starts it with: every process the agent starts
/// inherits them, also one that left the pane's process group (`setsid`, a daemon), so
/// they find what `terminate` of the group missed.
pub const MARKER_VARS: [&str; 3] = ["CAFLEET_DATABASE_URL", "CAFLEET_FLEET", "CAFLEET_MEMBER"];

/// Drops the agent identity ([`MARKER_VARS`]) `command` would inherit — a process that
/// cafleet starts in the background must not pass for an agent, or `down` would end it —
/// and gives it the registry again: a PostgreSQL URL, which may carry a password, goes
/// in the environment (`CAFLEET_DATABASE_URL`), not on a command line every user of the
/// host can read; a SQLite path is on the command line already ([`cafleet_command`]).
pub fn forget_identity(command: &mut std::process::Command, db: &camino::Utf8Path) {
    for var in MARKER_VARS {
        command.env_remove(var);
    }
    if crate::registry::location::is_postgres(db) {
        command.env(crate::registry::location::DATABASE_URL_ENV, db.as_str());
    }
}

/// `pid`'s values of [`MARKER_VARS`], when it has all three.
pub fn marker_of(pid: u32) -> Option<Vec<String>> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let mut values = vec![None; MARKER_VARS.len()];
    for entry in environ.split(|b| *b == 0) {
        let entry = String::from_utf8_lossy(entry);
        if let Some((key, value)) = entry.split_once('=')
            && let Some(i) = MARKER_VARS.iter().position(|k| *k == key)
        {
            values[i] = Some(value.to_string());
        }
    }
    values.into_iter().collect()
}

/// Ends every live process (but this one and its ancestors) whose [`marker_of`] is
/// `marker`: SIGTERM, `grace`, then SIGKILL. Returns how many were found.
pub fn terminate_marked(marker: &[String], grace: Duration) -> usize {
    let mut spared = vec![std::process::id()];
    let mut pid = std::process::id();
    while let Some(parent) = parent_of(pid).filter(|p| *p > 1) {
        spared.push(parent);
        pid = parent;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let marked: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| !spared.contains(pid) && is_alive(*pid))
        .filter(|pid| marker_of(*pid).as_deref() == Some(marker))
        .collect();
    for pid in &marked {
        if let Some(pid) = as_pid(*pid) {
            let _ = kill(pid, Signal::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    while marked.iter().any(|p| is_alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    for pid in marked.iter().filter(|p| is_alive(**p)) {
        if let Some(pid) = as_pid(*pid) {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
    marked.len()
}

/// This process and its ancestors up to (not including) init, nearest first; just this
/// process where `/proc` cannot tell (not Linux).
pub fn ancestry() -> Vec<u32> {
    let mut chain = vec![std::process::id()];
    let mut pid = std::process::id();
    while let Some(parent) = parent_of(pid).filter(|p| *p > 1 && !chain.contains(p)) {
        chain.push(parent);
        pid = parent;
    }
    chain
}

/// Whether `/proc` describes processes here (Linux), so [`ancestry`] is complete.
pub fn has_proc() -> bool {
    parent_of(std::process::id()).is_some()
}

fn parent_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The state letter of `/proc/PID/stat` and its process group; `None` where there is no
/// such file (not Linux, or the process is gone).
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain `)` and spaces.
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn is_zombie(pid: Pid) -> Option<bool> {
    proc_stat(pid.as_raw()).map(|(state, _)| matches!(state, 'Z' | 'X'))
}

/// Whether any non-zombie process is in group `pgid`, by scanning `/proc`; `None` when
/// `/proc` cannot be read, so the caller falls back to what `kill(2)` says.
fn group_has_live_member(pgid: Pid) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut live = false;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some((state, pgrp)) = proc_stat(pid)
            && pgrp == pgid.as_raw()
            && !matches!(state, 'Z' | 'X')
        {
            live = true;
            break;
        }
    }
    Some(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_pids_that_reach_too_far() {
        assert!(terminate(0, Duration::ZERO).is_err());
        assert!(terminate(1, Duration::ZERO).is_err());
        assert!(terminate(std::process::id(), Duration::ZERO).is_err());
        assert!(terminate(u32::MAX, Duration::ZERO).is_err());
    }

    #[test]
    fn liveness_of_ourselves_and_of_nothing() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(0));
        assert!(!is_alive(u32::MAX));
    }

    #[test]
    fn ends_a_group_that_exits_on_term() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        // Reap in the background, as tmux does for a pane, so the exit is visible.
        let reaper = std::thread::spawn(move || child.wait());
        assert!(is_alive(pid));
        assert_eq!(
            terminate(pid, Duration::from_secs(5)).unwrap(),
            Ending::Terminated
        );
        reaper.join().unwrap().unwrap();
        assert!(!is_alive(pid));
        assert_eq!(terminate(pid, Duration::ZERO).unwrap(), Ending::NotRunning);
    }
}
