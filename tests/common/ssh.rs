//! A second "host" for tests without a second machine: a private `sshd` on 127.0.0.1,
//! started by the test as its own process, with its own host key, its own authorised
//! client key and a client `ssh_config` naming it `remote1`. Sessions on it get a HOME
//! and a TMUX_TMPDIR of their own (sshd's `SetEnv`), so the "remote" tmux server is a
//! second server on this machine and nothing touches the real user's files. The
//! registry is shared the way a real fleet shares its PostgreSQL one: both "hosts" see
//! the same file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cafleet::tmux::Tmux;
use cafleet::tmux::testing::wait_until;

/// The host name the client config knows.
pub const HOST: &str = "remote1";

pub struct SshHost {
    pub dir: tempfile::TempDir,
    pub port: u16,
    sshd: Option<Child>,
}

fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn skip(reason: &str) -> Option<SshHost> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason}, and CI=true: the ssh tests must not be skipped");
    }
    eprintln!("skipped: {reason}");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SshHost {
    /// Starts the private sshd, or `None` (with the reason printed) when this machine has
    /// no sshd/ssh/ssh-keygen; under `CI=true` that is a failure instead.
    pub fn start() -> Option<SshHost> {
        let (Some(sshd), Some(_), Some(keygen)) =
            (program("sshd"), program("ssh"), program("ssh-keygen"))
        else {
            return skip("openssh (sshd, ssh, ssh-keygen) is not installed");
        };
        // Short: the ssh connection sockets live under it.
        let dir = tempfile::Builder::new()
            .prefix("cfs")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let p = dir.path();
        for key in ["host_key", "client_key"] {
            let status = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(p.join(key))
                .stdin(Stdio::null())
                .status()
                .expect("ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(p.join("client_key.pub"), p.join("authorized_keys")).expect("keys");
        for sub in ["remote_home", "remote_tmux", "control"] {
            std::fs::create_dir_all(p.join(sub)).expect("mkdir");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p.join(sub), std::fs::Permissions::from_mode(0o700))
                .expect("chmod");
        }
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| {
                Command::new("id")
                    .arg("-un")
                    .output()
                    .ok()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            })
            .unwrap_or_else(|| "root".into());
        let bin = Path::new(super::bin()).parent().expect("bin dir");
        let port = free_port();
        let sshd_config = format!(
            "ListenAddress 127.0.0.1\n\
             Port {port}\n\
             HostKey {host_key}\n\
             PidFile none\n\
             AuthorizedKeysFile {keys}\n\
             StrictModes no\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\n\
             AllowUsers {user}\n\
             MaxStartups 100\n\
             MaxSessions 100\n\
             SetEnv HOME={home} TMUX_TMPDIR={tmux} PATH={bin}:/usr/local/bin:/usr/bin:/bin\n",
            host_key = p.join("host_key").display(),
            keys = p.join("authorized_keys").display(),
            home = p.join("remote_home").display(),
            tmux = p.join("remote_tmux").display(),
            bin = bin.display(),
        );
        std::fs::write(p.join("sshd_config"), sshd_config).expect("sshd_config");
        let ssh_config = format!(
            "Host {HOST}\n\
             \x20 HostName 127.0.0.1\n\
             \x20 Port {port}\n\
             \x20 User {user}\n\
             \x20 IdentityFile {key}\n\
             \x20 IdentitiesOnly yes\n\
             \x20 StrictHostKeyChecking no\n\
             \x20 UserKnownHostsFile {known}\n\
             \x20 GlobalKnownHostsFile /dev/null\n\
             \x20 LogLevel ERROR\n",
            key = p.join("client_key").display(),
            known = p.join("known_hosts").display(),
        );
        std::fs::write(p.join("ssh_config"), ssh_config).expect("ssh_config");
        let mut host = SshHost {
            dir,
            port,
            sshd: None,
        };
        if let Err(reason) = host.start_sshd(&sshd) {
            return skip(&reason);
        }
        Some(host)
    }

    fn start_sshd(&mut self, sshd: &Path) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.path().join("sshd.log")).expect("log");
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|err| format!("cannot start sshd: {err}"))?;
        self.sshd = Some(child);
        // An sshd that exits at once (a missing privilege separation folder, a port
        // taken) is not waited for.
        let answered = wait_until(Duration::from_secs(15), || {
            let exited = self
                .sshd
                .as_mut()
                .is_none_or(|c| c.try_wait().ok().flatten().is_some());
            exited || self.answers()
        }) && self.answers();
        if !answered {
            let log = std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default();
            self.stop();
            return Err(format!("the private sshd does not answer: {log}"));
        }
        Ok(())
    }

    /// Whether `ssh remote1 true` works (without the shared connection).
    pub fn answers(&self) -> bool {
        Command::new("ssh")
            .arg("-F")
            .arg(self.dir.path().join("ssh_config"))
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
            ])
            .args(["--", HOST, "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills the sshd (by its pid) and ends the shared connection: the host is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.end_shared_connection();
    }

    /// Starts the sshd again, on the same port with the same keys.
    pub fn restart(&mut self) {
        let sshd = program("sshd").expect("sshd");
        self.start_sshd(&sshd).expect("sshd restarts");
    }

    /// `ssh -O exit`: ends the ControlMaster cafleet opened, if any.
    pub fn end_shared_connection(&self) {
        let _ = Command::new("ssh")
            .arg("-F")
            .arg(self.dir.path().join("ssh_config"))
            .arg("-o")
            .arg(format!(
                "ControlPath={}",
                self.dir.path().join("control").join("%C").display()
            ))
            .args(["-O", "exit", "--", HOST])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The variables that point cafleet at this host's ssh config and connection folder.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "CAFLEET_SSH_COMMAND",
                format!("ssh -F {}", self.dir.path().join("ssh_config").display()),
            ),
            (
                "CAFLEET_SSH_CONTROL_DIR",
                self.dir.path().join("control").display().to_string(),
            ),
        ]
    }

    /// The "remote" tmux server (`-L NAME` under the sessions' TMUX_TMPDIR), reached
    /// directly: it is on this machine.
    pub fn tmux(&self, socket_name: &str) -> Tmux {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "0".into());
        Tmux::at_path(
            self.dir
                .path()
                .join("remote_tmux")
                .join(format!("tmux-{uid}"))
                .join(socket_name),
        )
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        let _ = self.tmux("s").kill_server();
        self.stop();
    }
}
