//! The only code in cafleet that runs tmux. It knows panes, windows, sessions, options
//! and keys — never fleets or agents.
//!
//! A [`Tmux`] handle names one server (the default one, `-L NAME` or `-S PATH`) and runs
//! every command as `tmux -u …` so non-ASCII text survives whatever locale the caller
//! has. Every exit status is checked: a failure becomes an [`Error`] quoting the exact
//! command line and tmux's stderr. Commands are targeted by id (`%N`, `@N`, `$N`) only,
//! `-F` output is parsed by [`format`], and several commands can share one tmux process
//! with a [`Batch`] (tagging a pane is one fork, not four).
//!
//! A handle may also name a server on another host ([`Tmux::on_host`]): the same
//! commands then run through ssh ([`remote`]), and a host that does not answer is an
//! [`Error::unreachable`] rather than a tmux failure.
//!
//! This module drives `std::process::Command` directly rather than `tmux_interface`:
//! cafleet needs a handful of commands, its own `-F` strings, stdin for `load-buffer`,
//! batching with escaped `;`, and a checked exit status on every call — the crate's
//! misspelt `pane_title`, swapped `copy_mode`/`reset` flags and `output()` returning `Ok`
//! on failure would all need working around, which is more code than the commands.

mod command;
mod format;
mod ids;
mod keys;
mod panes;
pub mod remote;
#[cfg(test)]
mod server_tests;
mod spawn;
#[doc(hidden)]
pub mod testing;

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub use command::{Batch, Cmd};
pub use ids::{PaneId, SessionId, Target, WindowId};
pub use keys::Key;
pub use panes::{Pane, Session, Window};
pub use remote::Remote;
pub use spawn::{Launch, Spawned, Split};

use crate::error::{Error, Result};

/// Which tmux server a handle talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// No `-L`/`-S`: tmux's own choice, which is the server of `$TMUX` inside a pane
    /// and the user's default server outside one.
    Default,
    /// `-L NAME`: a named socket in tmux's socket folder.
    Name(String),
    /// `-S PATH`: a socket at an explicit path.
    Path(PathBuf),
}

impl Socket {
    fn args(&self) -> Vec<OsString> {
        match self {
            Socket::Default => Vec::new(),
            Socket::Name(name) => vec!["-L".into(), name.into()],
            Socket::Path(path) => vec!["-S".into(), path.into()],
        }
    }
}

impl fmt::Display for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Socket::Default => f.write_str("the default tmux server"),
            Socket::Name(name) => write!(f, "tmux server `-L {name}`"),
            Socket::Path(path) => write!(f, "tmux server `-S {}`", path.display()),
        }
    }
}

/// A cheap, cloneable handle on one tmux server. Clones share the invocation counter.
#[derive(Debug, Clone)]
pub struct Tmux {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    program: PathBuf,
    socket: Socket,
    config: Option<PathBuf>,
    invocations: AtomicUsize,
    /// How long one tmux process may take before it is killed (see [`call_timeout`]).
    timeout: Duration,
    /// Set once a call timed out: the server does not answer, so later calls on this
    /// handle fail at once instead of waiting out the timeout again each.
    hung: AtomicBool,
    /// The server is on another host, reached through ssh.
    remote: Option<Remote>,
}

/// How long one tmux call may take: `CAFLEET_TMUX_TIMEOUT` seconds (a decimal number,
/// above 0), else 5 s. A server that is stopped (SIGSTOP) or wedged accepts the client's
/// connection and never answers; the client would wait forever.
pub const TIMEOUT_ENV: &str = "CAFLEET_TMUX_TIMEOUT";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

fn call_timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

impl Tmux {
    pub fn new(socket: Socket) -> Tmux {
        Tmux::build(PathBuf::from("tmux"), socket, None)
    }

    /// The user's server (see [`Socket::Default`]).
    pub fn default_server() -> Tmux {
        Tmux::new(Socket::Default)
    }

    /// `tmux -L NAME`.
    pub fn named(name: impl Into<String>) -> Tmux {
        Tmux::new(Socket::Name(name.into()))
    }

    /// `tmux -S PATH`.
    pub fn at_path(path: impl Into<PathBuf>) -> Tmux {
        Tmux::new(Socket::Path(path.into()))
    }

    /// `-f FILE` on every call; it matters only for the call that starts the server
    /// (tests pass `/dev/null` so no user configuration leaks in).
    pub fn with_config(&self, file: impl Into<PathBuf>) -> Tmux {
        Tmux::build(
            self.inner.program.clone(),
            self.inner.socket.clone(),
            Some(file.into()),
        )
    }

    /// Runs `program` instead of the `tmux` found on `PATH`.
    pub fn with_program(&self, program: impl Into<PathBuf>) -> Tmux {
        Tmux::build(
            program.into(),
            self.inner.socket.clone(),
            self.inner.config.clone(),
        )
    }

    fn build(program: PathBuf, socket: Socket, config: Option<PathBuf>) -> Tmux {
        Tmux {
            inner: Arc::new(Inner {
                program,
                socket,
                config,
                invocations: AtomicUsize::new(0),
                timeout: call_timeout(),
                hung: AtomicBool::new(false),
                remote: None,
            }),
        }
    }

    /// The same fleet's server on another host, reached through `remote`: `tmux` on
    /// that host's PATH, with this handle's socket name (`-L NAME`). A socket given as a
    /// path here names a file on this machine, so there it is `-L` with the file's name.
    /// Calls may take the ssh connect time on top of the tmux timeout.
    pub fn on_host(&self, remote: Remote) -> Tmux {
        let socket = match &self.inner.socket {
            Socket::Default => Socket::Default,
            Socket::Name(name) => Socket::Name(name.clone()),
            Socket::Path(path) => Socket::Name(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "cafleet".into()),
            ),
        };
        Tmux {
            inner: Arc::new(Inner {
                program: PathBuf::from("tmux"),
                socket,
                config: None,
                invocations: AtomicUsize::new(0),
                timeout: self.inner.timeout + remote::CONNECT_TIMEOUT,
                hung: AtomicBool::new(false),
                remote: Some(remote),
            }),
        }
    }

    /// The host this handle's server is on, when it is not this machine.
    pub fn host(&self) -> Option<&str> {
        self.inner.remote.as_ref().map(Remote::host)
    }

    pub fn is_remote(&self) -> bool {
        self.inner.remote.is_some()
    }

    pub fn socket(&self) -> &Socket {
        &self.inner.socket
    }

    pub fn config(&self) -> Option<&Path> {
        self.inner.config.as_deref()
    }

    /// The same server with calls limited to `timeout` each.
    pub fn with_timeout(&self, timeout: Duration) -> Tmux {
        let mut tmux = Tmux::build(
            self.inner.program.clone(),
            self.inner.socket.clone(),
            self.inner.config.clone(),
        );
        if let Some(inner) = Arc::get_mut(&mut tmux.inner) {
            inner.timeout = timeout;
            inner.remote = self.inner.remote.clone();
        }
        tmux
    }

    /// Whether a call on this handle (or a clone) timed out: the server does not answer.
    pub fn hung(&self) -> bool {
        self.inner.hung.load(Ordering::Relaxed)
    }

    /// How many tmux processes this handle and its clones have started; lets tests pin
    /// the cost of an operation.
    pub fn invocations(&self) -> usize {
        self.inner.invocations.load(Ordering::Relaxed)
    }

    /// Runs one command or a batch in one tmux process and returns its stdout.
    pub fn run(&self, commands: impl Into<Batch>) -> Result<String> {
        self.invoke(&commands.into())?.map_err(Failed::into_error)
    }

    /// `kill-server`; a server that is not running is not an error.
    pub fn kill_server(&self) -> Result<()> {
        match self.invoke(&Cmd::new("kill-server").into())? {
            Ok(_) => Ok(()),
            Err(failed) if failed.no_server() => Ok(()),
            Err(failed) => Err(failed.into_error()),
        }
    }

    /// Whether the server answers at all.
    pub fn server_running(&self) -> Result<bool> {
        match self.invoke(&Cmd::new("list-sessions").arg("-F").arg("x").into())? {
            Ok(_) => Ok(true),
            Err(failed) if failed.no_server() => Ok(false),
            Err(failed) => Err(failed.into_error()),
        }
    }

    /// A `tmux -u` command on this server with no subcommand yet, for the one case that
    /// must hand the terminal to tmux itself (`attach-session`).
    pub fn interactive_command(&self) -> Command {
        let mut command = Command::new(&self.inner.program);
        command.arg("-u").args(self.inner.socket.args());
        if let Some(config) = &self.inner.config {
            command.arg("-f").arg(config);
        }
        command
    }

    /// The version tmux reports (`tmux 3.3a`), for `doctor`.
    pub fn version(&self) -> Result<String> {
        if let Some(remote) = &self.inner.remote {
            let (program, args) = remote.command(&["tmux".to_string(), "-V".to_string()])?;
            let output = Command::new(&program)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|err| self.spawn_error(err))
                .and_then(|child| self.wait(child, &args))?;
            if output.status.code() == Some(255) {
                return Err(remote.unreachable(&String::from_utf8_lossy(&output.stderr)));
            }
            if !output.status.success() {
                return Err(Error::failure(format!(
                    "`tmux -V` on `{}` failed: {}",
                    remote.host(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
                .hint("install tmux (3.3 or newer) on that host, on the PATH ssh gives"));
            }
            return Ok(String::from_utf8_lossy(&output.stdout).trim().to_string());
        }
        let output = Command::new(&self.inner.program)
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .map_err(|err| self.spawn_error(err))?;
        if !output.status.success() {
            return Err(Error::failure(format!(
                "`{} -V` failed: {}",
                self.inner.program.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Runs `batch`; the outer error means tmux could not be run at all, the inner one
    /// that it ran and failed (callers decide whether a missing target is an error).
    fn invoke(&self, batch: &Batch) -> Result<Result<String, Failed>> {
        let mut args: Vec<OsString> = vec!["-u".into()];
        args.extend(self.inner.socket.args());
        if let Some(config) = &self.inner.config {
            args.push("-f".into());
            args.push(config.into());
        }
        args.extend(batch.argv().into_iter().map(OsString::from));

        let stdin = batch.stdin_bytes();
        // What an error shows: tmux's own words, not ssh's one joined line (whose
        // `-e` values `command::Shown` could not tell apart).
        let mut shown: Vec<String> = Vec::new();
        let (mut command, args) = match &self.inner.remote {
            None => {
                let mut command = Command::new(&self.inner.program);
                if let Some(path) = batch.client_path_value() {
                    command.env("PATH", path);
                }
                shown.push(self.inner.program.display().to_string());
                shown.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
                (command, args)
            }
            Some(remote) => {
                // The client's PATH is the new pane's PATH there too (see `client_path`).
                let mut argv: Vec<String> = Vec::new();
                if let Some(path) = batch.client_path_value() {
                    argv.extend(["env".to_string(), format!("PATH={path}")]);
                }
                argv.push("tmux".into());
                argv.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
                let (program, ssh_args) = remote.command(&argv)?;
                shown.extend([program.clone(), remote.host().to_string()]);
                shown.extend(argv);
                (Command::new(program), ssh_args)
            }
        };
        command
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.hung() {
            return Err(self.timeout_error(&args));
        }
        self.inner.invocations.fetch_add(1, Ordering::Relaxed);
        let mut child = command.spawn().map_err(|err| self.spawn_error(err))?;
        // Feed stdin from a thread so a tmux that writes before it reads cannot deadlock
        // against us; a write error only means tmux quit early, which its status reports.
        let writer = match (stdin, child.stdin.take()) {
            (Some(bytes), Some(mut pipe)) => {
                let bytes = bytes.to_vec();
                Some(std::thread::spawn(move || {
                    let _ = pipe.write_all(&bytes);
                }))
            }
            _ => None,
        };
        let output = self.wait(child, &args)?;
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            return Ok(Ok(stdout));
        }
        if let Some(remote) = &self.inner.remote
            && output.status.code() == Some(255)
        {
            return Err(remote.unreachable(&String::from_utf8_lossy(&output.stderr)));
        }
        Ok(Err(Failed {
            command: command::Shown(&shown).to_string(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }))
    }

    /// Waits for `child` at most the handle's timeout; past it the child is killed, the
    /// handle marked hung and the call fails with a hint about the server.
    fn wait(&self, child: std::process::Child, args: &[OsString]) -> Result<std::process::Output> {
        let pid = child.id();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait_with_output());
        });
        match receiver.recv_timeout(self.inner.timeout) {
            Ok(output) => {
                output.map_err(|err| Error::failure(format!("failed to wait for tmux: {err}")))
            }
            Err(_) => {
                // Only the waiting thread reaps the child, and it has not returned, so the
                // pid is still the child's (barring an exit in this very instant); the kill
                // ends that thread's wait too.
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = receiver.recv_timeout(Duration::from_secs(2));
                self.inner.hung.store(true, Ordering::Relaxed);
                Err(self.timeout_error(args))
            }
        }
    }

    fn timeout_error(&self, args: &[OsString]) -> Error {
        if let Some(remote) = &self.inner.remote {
            return Error::unreachable(format!(
                "host `{}` did not answer over ssh within {:.1} s",
                remote.host(),
                self.inner.timeout.as_secs_f64()
            ))
            .hint(format!(
                "check the host and its tmux; its agents show as `unreachable`, or raise {TIMEOUT_ENV}"
            ));
        }
        let mut shown = vec![self.inner.program.display().to_string()];
        shown.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        Error::failure(format!(
            "{} did not answer within {:.1} s: `{}`",
            self.inner.socket,
            self.inner.timeout.as_secs_f64(),
            command::Shown(&shown)
        ))
        .hint(format!(
            "the tmux server may be stopped or overloaded; check it with `tmux ls`, or raise {TIMEOUT_ENV}"
        ))
    }

    fn spawn_error(&self, err: std::io::Error) -> Error {
        let program = self.inner.program.display();
        let error = Error::failure(format!("cannot run `{program}`: {err}"));
        if err.kind() == std::io::ErrorKind::NotFound {
            error.hint("install tmux (3.3 or newer) and make sure it is on PATH")
        } else {
            error
        }
    }
}

/// A tmux process that ran and exited non-zero.
#[derive(Debug)]
struct Failed {
    command: String,
    status: ExitStatus,
    stderr: String,
}

impl Failed {
    /// No server on that socket (never started, or it exited with its last session; a
    /// server caught shutting down, after `kill-server`, says "server exited
    /// unexpectedly").
    fn no_server(&self) -> bool {
        self.stderr.starts_with("no server running on")
            || self.stderr.starts_with("error connecting to")
            || self.stderr.starts_with("server exited unexpectedly")
    }

    /// The `-t` target does not exist (tmux 3.x spells it several ways).
    fn no_target(&self) -> bool {
        [
            "can't find pane",
            "can't find window",
            "can't find session",
            "no such pane",
            "no such window",
            "no such session",
        ]
        .iter()
        .any(|start| self.stderr.starts_with(start))
    }

    fn into_error(self) -> Error {
        let what = if self.stderr.is_empty() {
            format!("`{}` failed ({})", self.command, self.status)
        } else {
            format!("`{}` failed: {}", self.command, self.stderr)
        };
        if self.no_server() {
            Error::failure(what).hint("the tmux server is not running; `cafleet up` starts it")
        } else if self.no_target() {
            Error::not_found(what)
        } else {
            Error::failure(what)
        }
    }
}

/// What a `-F` query printed that could not be understood.
fn unexpected(command: &str, detail: String) -> Error {
    Error::failure(format!("unexpected output from `tmux {command}`: {detail}"))
        .hint("cafleet needs tmux 3.3 or newer; check `tmux -V`")
}
