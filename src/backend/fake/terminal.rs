//! The fake's surroundings: the raw-mode `Terminal` (bracketed paste on, both undone on
//! drop), `write_out` and `term_size` for the pane on stdout, and the JSON-lines `Log`
//! of every event (its format is in the `fake` module doc).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::termios::{self, SetArg, Termios};
use serde_json::Value;

use crate::error::{Error, Result};

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

// ---------------------------------------------------------------------------------------
// The log

/// The JSON-lines event log; a no-op without a path.
pub(super) struct Log {
    pub(super) file: Option<File>,
    pub(super) agent: String,
}

impl Log {
    pub(super) fn open(path: Option<&PathBuf>, agent: &str) -> Result<Self> {
        let file = match path {
            None => None,
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| {
                        Error::failure(format!("cannot open log {}: {err}", path.display()))
                    })?,
            ),
        };
        Ok(Log {
            file,
            agent: agent.to_owned(),
        })
    }

    pub(super) fn event(&mut self, event: &str, fields: Value) {
        let Some(file) = &mut self.file else { return };
        let mut line = format!(
            "{{\"ts_ms\":{},\"event\":{},\"agent\":{}",
            now_ms(),
            Value::from(event),
            Value::from(self.agent.as_str())
        );
        if let Value::Object(map) = fields {
            for (key, value) in map {
                let _ = write!(line, ",{}:{}", Value::from(key), value);
            }
        }
        line.push_str("}\n");
        // One write per line keeps lines whole when several fakes append to one file.
        let _ = file.write_all(line.as_bytes());
        let _ = file.flush();
    }
}

// ---------------------------------------------------------------------------------------
// The terminal

/// Raw mode and bracketed paste, undone on drop (also on unwinding).
pub(super) struct Terminal {
    saved: Option<Termios>,
    /// Whether stdout is a terminal: only then is anything drawn, so a test that pipes
    /// stdout and never reads it cannot block the agent on a full pipe.
    pub(super) draws: bool,
}

impl Terminal {
    pub(super) fn setup() -> Result<Self> {
        let stdin = std::io::stdin();
        let saved = if nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
            let saved = termios::tcgetattr(stdin.as_fd())
                .map_err(|err| Error::failure(format!("cannot read tty settings: {err}")))?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
                .map_err(|err| Error::failure(format!("cannot set raw mode: {err}")))?;
            Some(saved)
        } else {
            None
        };
        let draws = nix::unistd::isatty(std::io::stdout().as_fd()).unwrap_or(false);
        if draws {
            write_out("\x1b[?2004h\x1b[2J\x1b[H");
        }
        Ok(Terminal { saved, draws })
    }

    pub(super) fn is_tty(&self) -> bool {
        self.saved.is_some()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.draws {
            write_out("\x1b[?2004l\x1b[?25h");
        }
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

pub(super) fn write_out(text: &str) {
    let mut out = std::io::stdout().lock();
    // A vanished pane (EIO) or closed pipe must not stop the agent.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The size of the terminal on stdout, 24×80 when it is not one.
pub(super) fn term_size() -> (usize, usize) {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own and pass by pointer.
    let rc = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 && ws.ws_row > 0 && ws.ws_col > 0 {
        (usize::from(ws.ws_row), usize::from(ws.ws_col))
    } else {
        (24, 80)
    }
}
