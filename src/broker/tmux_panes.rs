//! [`Panes`] on a real tmux server: the fleet's own (`[fleet] socket`, remembered in the
//! registry) unless `--tmux-socket` overrides it.
//!
//! Interim: until `src/tmux/` is merged this runs `tmux -u` itself with the few commands
//! delivery needs; it then becomes a thin adapter over `crate::tmux::Tmux`.

use std::process::{Command, Stdio};

use super::{FLEET_TAG, MEMBER_TAG, PaneInfo, PaneKey, Panes};
use crate::error::{Error, Result};

/// The tmux server a fleet lives on.
#[derive(Debug, Clone)]
pub struct TmuxPanes {
    socket: Vec<String>,
}

impl TmuxPanes {
    /// `override_socket` is `--tmux-socket`/`CAFLEET_TMUX_SOCKET`; `fleet_socket` the
    /// registry's record ("" for the default server; a value with `/` is a socket path).
    pub fn for_fleet(override_socket: Option<&str>, fleet_socket: &str) -> TmuxPanes {
        let socket = override_socket
            .filter(|s| !s.is_empty())
            .unwrap_or(fleet_socket);
        let socket = if socket.is_empty() {
            Vec::new()
        } else if socket.contains('/') {
            vec!["-S".into(), socket.into()]
        } else {
            vec!["-L".into(), socket.into()]
        };
        TmuxPanes { socket }
    }

    /// Runs `tmux -u [-L|-S …] ARGS`; `Ok(Err(stderr))` when tmux ran and failed.
    fn run(&self, args: &[&str]) -> Result<std::result::Result<String, String>> {
        let output = Command::new("tmux")
            .arg("-u")
            .args(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| {
                Error::failure(format!("cannot run tmux: {err}"))
                    .hint("install tmux (3.2 or newer) and make sure it is on PATH")
            })?;
        if output.status.success() {
            Ok(Ok(String::from_utf8_lossy(&output.stdout).into_owned()))
        } else {
            Ok(Err(String::from_utf8_lossy(&output.stderr)
                .trim()
                .to_owned()))
        }
    }

    fn checked(&self, args: &[&str]) -> Result<String> {
        self.run(args)?
            .map_err(|stderr| Error::failure(format!("`tmux {}` failed: {stderr}", args.join(" "))))
    }
}

/// A trailing `;` would be read by tmux as a command separator.
fn escape_trailing_semicolon(text: &str) -> String {
    match text.strip_suffix(';') {
        Some(rest) => format!("{rest}\\;"),
        None => text.to_owned(),
    }
}

impl Panes for TmuxPanes {
    fn info(&self, pane: &str) -> Result<Option<PaneInfo>> {
        let format =
            format!("#{{pane_id}}\x1f#{{pane_dead}}\x1f#{{{FLEET_TAG}}}\x1f#{{{MEMBER_TAG}}}");
        match self.run(&["list-panes", "-t", pane, "-F", &format])? {
            Ok(out) => Ok(out.lines().find_map(|line| {
                let fields: Vec<&str> = line.split('\x1f').collect();
                let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
                match fields.as_slice() {
                    [id, dead, fleet, member] if *id == pane => Some(PaneInfo {
                        dead: *dead == "1",
                        fleet: non_empty(fleet),
                        member: non_empty(member),
                    }),
                    _ => None,
                }
            })),
            Err(stderr)
                if stderr.starts_with("can't find")
                    || stderr.starts_with("no server running")
                    || stderr.starts_with("error connecting") =>
            {
                Ok(None)
            }
            Err(stderr) => Err(Error::failure(format!(
                "`tmux list-panes -t {pane}` failed: {stderr}"
            ))),
        }
    }

    fn capture(&self, pane: &str) -> Result<String> {
        self.checked(&["capture-pane", "-p", "-J", "-t", pane])
    }

    fn type_text(&self, pane: &str, text: &str) -> Result<()> {
        let text = escape_trailing_semicolon(text);
        self.checked(&["send-keys", "-l", "-t", pane, "--", &text])
            .map(drop)
    }

    fn press(&self, pane: &str, key: PaneKey) -> Result<()> {
        let name = match key {
            PaneKey::Escape => "Escape",
            PaneKey::Enter => "Enter",
        };
        self.checked(&["send-keys", "-t", pane, name]).map(drop)
    }
}
