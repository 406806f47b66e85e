//! Running tmux on another host over ssh, for members with `host = "NAME"`.
//!
//! A [`Remote`] names one ssh destination (as the user's `~/.ssh/config` knows it) and
//! the ssh command to reach it: `CAFLEET_SSH_COMMAND` when set (a command line, split
//! like a shell would, e.g. `ssh -F FILE`), else the fleet file's `[fleet] ssh_command`,
//! else `ssh`. Every call becomes
//!
//! ```text
//! <ssh command> -o ControlMaster=auto -o ControlPath=<private dir>/%C
//!     -o ControlPersist=60 -o BatchMode=yes -o ConnectTimeout=5 -- HOST '<quoted argv>'
//! ```
//!
//! so all calls to one host share one connection, and nothing ever prompts. ssh hands
//! the remote side one string, which the remote user's shell splits: every word of the
//! tmux argv is quoted with `shlex` (POSIX shell quoting; a NUL byte is refused), never
//! pasted in as it is, so text typed into a remote pane cannot become a command there.
//! The host name itself is checked ([`check_host`]) so it can never be read as an ssh
//! option. ssh exits 255 when it cannot reach the host (or the connection broke): that
//! is [`Error::unreachable`], which callers tell apart from a tmux failure there.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// The environment variable that overrides the ssh command (like git's `GIT_SSH_COMMAND`).
pub const SSH_COMMAND_ENV: &str = "CAFLEET_SSH_COMMAND";
/// Where the connection sockets live; by default `$XDG_RUNTIME_DIR/cafleet-ssh`, else
/// `/tmp/cafleet-ssh-UID`.
pub const CONTROL_DIR_ENV: &str = "CAFLEET_SSH_CONTROL_DIR";
/// How long ssh may take to connect before the host counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a shared connection stays open after its last use.
const CONTROL_PERSIST: &str = "60";

/// One ssh destination and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    host: String,
    /// The ssh program and its own arguments.
    ssh: Vec<String>,
    control_dir: PathBuf,
}

/// Whether `host` may be used as an ssh destination: `[user@]name` with letters, digits,
/// `.`, `_` and `-`, not starting with `-` (which ssh would read as an option).
pub fn check_host(host: &str) -> Result<()> {
    let (user, name) = match host.split_once('@') {
        Some((user, name)) => (Some(user), name),
        None => (None, host),
    };
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.len() <= 253
            && !w.starts_with('-')
            && !w.starts_with('.')
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if word_ok(name) && user.is_none_or(word_ok) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "`{}` is not a host cafleet can reach over ssh",
            host.escape_debug()
        ))
        .hint("give a name your ~/.ssh/config knows (letters, digits, `.`, `_`, `-`, optionally `user@` first)"))
    }
}

/// The ssh command to use: `CAFLEET_SSH_COMMAND`, else `configured` (the fleet file's
/// `ssh_command`), else `ssh`, split into words like a shell would.
pub fn ssh_command(configured: Option<&str>) -> Result<Vec<String>> {
    let from_env = std::env::var(SSH_COMMAND_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (text, source) = match (&from_env, configured) {
        (Some(text), _) => (text.as_str(), SSH_COMMAND_ENV),
        (None, Some(text)) if !text.trim().is_empty() => (text, "[fleet] ssh_command"),
        _ => return Ok(vec!["ssh".to_string()]),
    };
    match shlex::split(text) {
        Some(words) if !words.is_empty() => Ok(words),
        _ => Err(Error::usage(format!(
            "{source} `{}` is not a command line",
            text.escape_debug()
        ))
        .hint("write it as you would in a shell, e.g. `ssh -F ~/.ssh/cafleet_config`")),
    }
}

fn control_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CONTROL_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("cafleet-ssh");
    }
    PathBuf::from(format!("/tmp/cafleet-ssh-{}", nix::unistd::getuid()))
}

impl Remote {
    /// `host` reached with the ssh command `CAFLEET_SSH_COMMAND` or `configured` names.
    pub fn new(host: &str, configured: Option<&str>) -> Result<Remote> {
        check_host(host)?;
        Ok(Remote {
            host: host.to_string(),
            ssh: ssh_command(configured)?,
            control_dir: control_dir(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The folder of the shared connections' sockets, made private (0700) if missing.
    fn ensure_control_dir(&self) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let dir = &self.control_dir;
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|err| {
                    Error::failure(format!("cannot create `{}`: {err}", dir.display()))
                })?;
        }
        let meta = std::fs::metadata(dir)
            .map_err(|err| Error::failure(format!("cannot read `{}`: {err}", dir.display())))?;
        if meta.uid() != nix::unistd::getuid().as_raw() || meta.mode() & 0o077 != 0 {
            return Err(Error::failure(format!(
                "`{}` must be a folder only you can use: it holds your ssh connections",
                dir.display()
            ))
            .hint(format!(
                "remove it, or point {CONTROL_DIR_ENV} at a private folder"
            )));
        }
        Ok(())
    }

    /// The program and arguments that run `argv` on the host: ssh's own options, the
    /// host, and the argv as one shell-quoted line.
    pub fn command(&self, argv: &[String]) -> Result<(String, Vec<OsString>)> {
        self.ensure_control_dir()?;
        let line = shlex::try_join(argv.iter().map(String::as_str)).map_err(|_| {
            Error::usage("a command for another host holds a NUL byte")
                .hint("NUL cannot travel through ssh's command line; remove it from the text")
        })?;
        let mut args: Vec<OsString> = self.ssh[1..].iter().map(OsString::from).collect();
        let mut control = OsString::from("ControlPath=");
        control.push(self.control_dir.join("%C"));
        for option in [
            OsString::from("ControlMaster=auto"),
            control,
            OsString::from(format!("ControlPersist={CONTROL_PERSIST}")),
            OsString::from("BatchMode=yes"),
            OsString::from(format!("ConnectTimeout={}", CONNECT_TIMEOUT.as_secs())),
        ] {
            args.push("-o".into());
            args.push(option);
        }
        args.push("--".into());
        args.push(self.host.clone().into());
        args.push(line.into());
        Ok((self.ssh[0].clone(), args))
    }

    /// Runs `argv` on the host (for `doctor`), at most `timeout`: its output, or
    /// [`Error::unreachable`] when ssh could not reach the host or it did not answer.
    pub fn output(&self, argv: &[String], timeout: Duration) -> Result<std::process::Output> {
        let (program, args) = self.command(argv)?;
        let child = std::process::Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|err| {
                Error::failure(format!("cannot run `{program}`: {err}"))
                    .hint("install the OpenSSH client, or set CAFLEET_SSH_COMMAND")
            })?;
        let pid = child.id();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait_with_output());
        });
        let output = match receiver.recv_timeout(timeout) {
            Ok(output) => {
                output.map_err(|err| Error::failure(format!("failed to wait for ssh: {err}")))?
            }
            Err(_) => {
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                return Err(Error::unreachable(format!(
                    "host `{}` did not answer over ssh within {:.1} s",
                    self.host,
                    timeout.as_secs_f64()
                )));
            }
        };
        if output.status.code() == Some(255) {
            return Err(self.unreachable(&String::from_utf8_lossy(&output.stderr)));
        }
        Ok(output)
    }

    /// The error for an ssh that exited 255: the host did not answer.
    pub fn unreachable(&self, stderr: &str) -> Error {
        let detail = stderr.lines().last().unwrap_or("").trim();
        let mut what = format!("host `{}` is unreachable over ssh", self.host);
        if !detail.is_empty() {
            what.push_str(": ");
            what.push_str(detail);
        }
        Error::unreachable(what).hint(format!(
            "check `{} {}` by hand; its agents show as `unreachable` and their messages wait",
            self.ssh.join(" "),
            self.host
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_cannot_be_options_or_commands() {
        for good in ["box", "user@box.example.com", "gpu-2", "10.0.0.7", "a_b"] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-oProxyCommand=touch /tmp/x",
            "box;rm -rf ~",
            "box $(id)",
            "box\nx",
            "user@",
            "@box",
            "a@b@c",
            "-box",
            "user@-box",
            ".hidden",
            "box`id`",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_word_is_quoted_for_the_remote_shell() {
        let dir = tempfile::tempdir().unwrap();
        let remote = Remote {
            host: "box".into(),
            ssh: vec!["ssh".into(), "-F".into(), "/tmp/cfg".into()],
            control_dir: dir.path().join("c"),
        };
        let hostile = [
            "tmux",
            "send-keys",
            "-l",
            "--",
            "$(touch /tmp/pwned); `id` | rm -rf ~ && echo 'x' \"y\" \\ ;",
        ]
        .map(String::from);
        let (program, args) = remote.command(&hostile).unwrap();
        assert_eq!(program, "ssh");
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&args[..2], ["-F", "/tmp/cfg"]);
        let dash = args.iter().position(|a| a == "--").unwrap();
        assert_eq!(args[dash + 1], "box");
        assert_eq!(args.len(), dash + 3, "one command word after the host");
        // The remote shell splits the line back into exactly the words given.
        assert_eq!(shlex::split(&args[dash + 2]).unwrap(), hostile);
        assert!(args.iter().any(|a| a == "BatchMode=yes"));
        assert!(remote.command(&["a\0b".to_string()]).is_err());
        // The connection folder is made private; a shared one is refused.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("c"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let open = Remote {
            control_dir: std::env::temp_dir(),
            ..remote
        };
        assert!(open.command(&hostile).is_err());
    }

    #[test]
    fn the_server_on_a_host_keeps_the_socket_name_only() {
        use crate::tmux::{Socket, Tmux};
        let remote = Remote {
            host: "box".into(),
            ssh: vec!["ssh".into()],
            control_dir: std::env::temp_dir(),
        };
        let by_path = Tmux::at_path("/tmp/cafleet-x/sock").on_host(remote.clone());
        assert_eq!(by_path.socket(), &Socket::Name("sock".into()));
        assert_eq!(by_path.host(), Some("box"));
        assert!(by_path.config().is_none());
        let named = Tmux::named("team").on_host(remote.clone());
        assert_eq!(named.socket(), &Socket::Name("team".into()));
        assert_eq!(
            Tmux::default_server().on_host(remote).socket(),
            &Socket::Default
        );
        assert!(!Tmux::named("team").is_remote());
    }

    #[test]
    fn ssh_command_is_split_like_a_shell() {
        // The environment variable is not set in unit tests' own process by cafleet.
        if std::env::var_os(SSH_COMMAND_ENV).is_some() {
            return;
        }
        assert_eq!(ssh_command(None).unwrap(), ["ssh"]);
        assert_eq!(
            ssh_command(Some("ssh -F '/a b/c'")).unwrap(),
            ["ssh", "-F", "/a b/c"]
        );
        assert!(ssh_command(Some("ssh 'unclosed")).is_err());
    }
}
