//! Helpers shared by the integration tests: run the real binary with an isolated
//! environment (its own HOME and registry, no inherited cafleet variables).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cafleet")
}

/// A `cafleet` command whose HOME, XDG dirs and registry live under `home`.
pub fn cafleet(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("CAFLEET_")
            || key.starts_with("XDG_")
            || key == "TMUX"
            || key == "TMUX_PANE"
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", home).env("NO_COLOR", "1");
    cmd
}

/// Stdout, stderr and the exit code as one string, for snapshots.
pub fn transcript(output: &Output) -> String {
    let mut text = format!("exit: {}\n", output.status.code().unwrap_or(-1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stdout.is_empty() {
        text.push_str("--- stdout\n");
        text.push_str(&stdout);
    }
    if !stderr.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&stderr);
    }
    text
}
