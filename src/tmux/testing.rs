//! Test support: a private tmux server per test and polling with a deadline.
//!
//! A plain public module (hidden from docs) so integration tests in `tests/` can use it
//! too. Each [`TestServer`] lives on its own `-S` socket in a fresh short folder under
//! `/tmp` (socket paths must stay under ~104 bytes, which `$TMPDIR` on macOS is not),
//! ignores every configuration file with `-f /dev/null`, and is killed on drop: tests
//! never touch the user's tmux server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Launch, PaneId, Spawned, Tmux};

/// A private tmux server that exists for as long as this value.
#[derive(Debug)]
pub struct TestServer {
    tmux: Tmux,
    dir: PathBuf,
    placeholder: Spawned,
}

impl TestServer {
    /// Starts a server holding one detached placeholder session (so it does not exit
    /// when a test kills its last own session). Returns `None` — the test should return
    /// early — when tmux is not installed, unless `CI` is set: there it panics, so a CI
    /// image without tmux cannot pass by skipping everything.
    pub fn start() -> Option<TestServer> {
        if !tmux_available() {
            if std::env::var_os("CI").is_some() {
                panic!("tmux is not installed, and CI is set: tmux tests must not be skipped");
            }
            say_skipped("tmux is not installed");
            return None;
        }
        let dir = fresh_dir();
        let tmux = Tmux::at_path(dir.join("s")).with_config("/dev/null");
        let placeholder = tmux
            .new_session("placeholder", None, &Launch::new(["sleep", "86400"]))
            .unwrap_or_else(|err| panic!("cannot start a test tmux server: {}", err.render()));
        // Panes get the server's environment: give them a HOME of their own (removed with
        // the server) and none of the caller's cafleet or XDG settings, so nothing a test
        // starts in a pane (a shell's history, a registry in its default place) lands in
        // the real user's files.
        let home = dir.join("home");
        let _ = std::fs::create_dir_all(&home);
        let mut setup = super::Batch::new();
        setup.push(
            super::Cmd::new("set-environment")
                .args(["-g", "HOME"])
                .arg(home.to_string_lossy()),
        );
        for var in [
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
            "XDG_CACHE_HOME",
            "CAFLEET_DATABASE_URL",
            "CAFLEET_FLEET",
            "CAFLEET_MEMBER",
            "CAFLEET_TMUX_SOCKET",
        ] {
            setup.push(super::Cmd::new("set-environment").args(["-gu", var]));
        }
        tmux.run(setup)
            .unwrap_or_else(|err| panic!("cannot set up a test tmux server: {}", err.render()));
        Some(TestServer {
            tmux,
            dir,
            placeholder,
        })
    }

    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("s")
    }

    /// A folder that is removed with the server, for test files and working directories.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The placeholder session's pane, a handy target for splits.
    pub fn placeholder(&self) -> &Spawned {
        &self.placeholder
    }

    /// Polls the pane's text (with scrollback) until `cond` holds, returning that text;
    /// on timeout the error carries the last text seen, for the test failure message.
    pub fn wait_for_text(
        &self,
        pane: PaneId,
        timeout: Duration,
        mut cond: impl FnMut(&str) -> bool,
    ) -> Result<String, String> {
        let mut last = String::new();
        let met = wait_until(timeout, || {
            match self.tmux.capture_pane(pane, Some(1000)) {
                Ok(text) => last = text,
                Err(err) => last = format!("<capture failed: {}>", err.render().trim()),
            }
            cond(&last)
        });
        if met {
            Ok(last)
        } else {
            Err(format!(
                "timed out after {timeout:?} waiting on pane {pane}; its text:\n{}",
                last.trim_end()
            ))
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.tmux.kill_server();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Calls `cond` every few milliseconds until it returns true (→ `true`) or `timeout`
/// passes (→ `false`). It is always called at least once, and once more at the deadline.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25).min(deadline - now));
    }
}

/// Whether a `tmux` binary runs at all.
pub fn tmux_available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `/tmp/cft-XXXXXXXX`, created here (so never shared) and private to this user.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(0);
        let seed = (u64::from(std::process::id()) << 32)
            ^ nanos
            ^ NEXT
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let dir = PathBuf::from(format!(
            "/tmp/cft-{:08x}",
            seed as u32 ^ (seed >> 32) as u32
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
                return dir;
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => panic!("cannot create a folder for a test tmux server: {err}"),
        }
    }
}

/// Tells whoever runs the tests that one was skipped, where they see it: straight to the
/// process's stderr, which the test harness does not capture (it captures `eprintln!`,
/// and shows that only for failing tests).
pub fn say_skipped(why: &str) {
    use std::io::Write;
    let name = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(std::io::stderr().lock(), "skipped: {name}: {why}");
}
