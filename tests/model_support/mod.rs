//! Shared by the scripted model tests: start `cafleet model serve` as a child process,
//! learn its address from the first line it prints, and stop it by pid at the end.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Writes `script` to a file and serves it, logging to `log.jsonl` in the same folder.
    pub fn start(script: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("script.toml");
        std::fs::write(&path, script).expect("write script");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cafleet"))
            .args(["model", "serve", "--script"])
            .arg(&path)
            .arg("--log")
            .arg(dir.path().join("log.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cafleet model serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("wait");
                panic!(
                    "the server printed no address within 20 s; stderr:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server { child, base, dir }
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("log.jsonl")
    }

    /// The log's lines, parsed.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends SIGTERM and waits (with a deadline) for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.pid()), Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server ignored SIGTERM for 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where the agent CLIs live: `$CAFLEET_AGENT_CLIS/node_modules/.bin`, the usual cache
/// folder, or PATH. `None` when `program` is in none of them.
pub fn find_cli(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    // Where tests/agent-clis.sh installs them.
    let root = std::env::var_os("CAFLEET_AGENT_CLIS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/cafleet/agent-clis"))
        });
    if let Some(root) = root {
        dirs.push(root.join("node_modules/.bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
