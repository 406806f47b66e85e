//! Reading a pane's screen and typing into it: literal text with `send-keys -l`, named
//! keys, and multi-line text as a bracketed paste. This layer sends exactly what it is
//! given; stripping control characters from untrusted text is the caller's job.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Batch, Cmd, PaneId, Tmux};
use crate::error::Result;

/// The keys cafleet presses by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Enter,
    Escape,
    Tab,
    BackSpace,
    Up,
    Down,
    Left,
    Right,
    /// `C-c`
    CtrlC,
    /// `C-u`: clears a readline-style input line.
    CtrlU,
}

impl Key {
    /// The key's name in `send-keys`.
    pub fn tmux_name(self) -> &'static str {
        match self {
            Key::Enter => "Enter",
            Key::Escape => "Escape",
            Key::Tab => "Tab",
            Key::BackSpace => "BSpace",
            Key::Up => "Up",
            Key::Down => "Down",
            Key::Left => "Left",
            Key::Right => "Right",
            Key::CtrlC => "C-c",
            Key::CtrlU => "C-u",
        }
    }
}

/// Paste buffers are named per process and call, so concurrent notifiers never paste
/// each other's text.
fn buffer_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("cafleet-{}-{n}", std::process::id())
}

impl Tmux {
    /// The pane's visible text (`capture-pane -p -J`), plus up to `history` lines of
    /// scrollback above it; wrapped lines are joined, as the screen classifiers expect
    /// (people read [`Tmux::capture_text`]).
    pub fn capture_pane(&self, pane: PaneId, history: Option<u32>) -> Result<String> {
        let mut cmd = Cmd::new("capture-pane").arg("-p").arg("-J").target(pane);
        if let Some(lines) = history.filter(|n| *n > 0) {
            cmd = cmd.arg("-S").arg(format!("-{lines}"));
        }
        self.run(cmd)
    }

    /// The pane's text for people to read: rows as the pane draws them (no `-J`, so a
    /// line that fills the pane's width is not glued to the next one), trailing blank
    /// rows dropped. With `last`, the last that many lines of scrollback and screen
    /// together, like `tail -n`; without, the visible screen.
    pub fn capture_text(&self, pane: PaneId, last: Option<u32>) -> Result<String> {
        let mut cmd = Cmd::new("capture-pane").arg("-p").target(pane);
        let last = last.filter(|n| *n > 0);
        if let Some(lines) = last {
            cmd = cmd.arg("-S").arg(format!("-{lines}"));
        }
        let text = self.run(cmd)?;
        let mut lines: Vec<&str> = text.lines().collect();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        if let Some(n) = last {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            lines.drain(..lines.len().saturating_sub(n));
        }
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out)
    }

    /// The visible text of several panes in one tmux process (`ps` and the monitor look
    /// at every agent each time). The answers are split on a marker line carrying a
    /// per-call nonce, so no pane text can fake one. If any pane vanished meanwhile, tmux
    /// stops the batch; the panes are then captured one by one, a vanished one as `None`.
    pub fn capture_panes(&self, panes: &[PaneId]) -> Result<Vec<Option<String>>> {
        if panes.is_empty() {
            return Ok(Vec::new());
        }
        let nonce = format!(
            "cafleet-capture-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let mut batch = Batch::new();
        for pane in panes {
            batch.push(Cmd::new("display-message").arg("-p").arg(&nonce));
            batch.push(Cmd::new("capture-pane").arg("-p").arg("-J").target(*pane));
        }
        match self.run(batch) {
            Ok(out) => {
                let mut texts: Vec<Option<String>> = out
                    .split(&format!("{nonce}\n"))
                    .skip(1)
                    .map(|t| Some(t.to_string()))
                    .collect();
                texts.resize(panes.len(), None);
                Ok(texts)
            }
            Err(_) => Ok(panes
                .iter()
                .map(|pane| self.capture_pane(*pane, None).ok())
                .collect()),
        }
    }

    /// Types `text` literally: `send-keys -l -t %N -- TEXT` (the `--` so a leading `-`
    /// is text, not a flag; a trailing `;` is escaped by the batch).
    pub fn send_text(&self, pane: PaneId, text: &str) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.run(Cmd::send_text(pane, text)).map(drop)
    }

    /// Presses named keys, in order, in one tmux process.
    pub fn send_keys(&self, pane: PaneId, keys: &[Key]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.run(Cmd::send_keys(pane, keys)).map(drop)
    }

    /// Pastes `text` as one bracketed paste (`load-buffer` from stdin, then
    /// `paste-buffer -p -d`) in one tmux process; the buffer is deleted after the paste.
    /// Newlines arrive as carriage returns, as if typed into a terminal.
    pub fn paste_text(&self, pane: PaneId, text: &str) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let name = buffer_name();
        let batch = Batch::new()
            .with(Cmd::new("load-buffer").arg("-b").arg(&name).arg("-"))
            .with(
                Cmd::new("paste-buffer")
                    .arg("-p")
                    .arg("-d")
                    .arg("-b")
                    .arg(&name)
                    .target(pane),
            )
            .stdin(text.as_bytes());
        match self.run(batch) {
            Ok(_) => Ok(()),
            Err(err) => {
                // A failed paste (pane gone) would leave the loaded buffer on the server.
                let _ = self.run(Cmd::new("delete-buffer").arg("-b").arg(&name));
                Err(err)
            }
        }
    }
}

impl Cmd {
    /// `send-keys -l -t %N -- TEXT`, for callers building a batch.
    pub fn send_text(pane: PaneId, text: &str) -> Cmd {
        Cmd::new("send-keys")
            .arg("-l")
            .target(pane)
            .arg("--")
            .arg(text)
    }

    /// `send-keys -t %N KEY…`, for callers building a batch.
    pub fn send_keys(pane: PaneId, keys: &[Key]) -> Cmd {
        Cmd::new("send-keys")
            .target(pane)
            .args(keys.iter().map(|key| key.tmux_name()))
    }
}

#[cfg(test)]
mod capture_tests {
    use super::super::testing::TestServer;
    use super::super::{Launch, PaneId};
    use std::time::Duration;

    #[test]
    fn capture_panes_splits_one_batch_and_survives_a_missing_pane() {
        let Some(server) = TestServer::start() else {
            return;
        };
        let tmux = server.tmux();
        let a = tmux
            .split_window(
                server.placeholder().window,
                super::super::Split::Vertical,
                &Launch::new(["sh", "-c", "echo alpha; sleep 60"]),
            )
            .expect("a");
        let b = tmux
            .split_window(
                server.placeholder().window,
                super::super::Split::Vertical,
                &Launch::new(["sh", "-c", "echo beta; sleep 60"]),
            )
            .expect("b");
        server
            .wait_for_text(b.pane, Duration::from_secs(5), |t| t.contains("beta"))
            .expect("beta");
        server
            .wait_for_text(a.pane, Duration::from_secs(5), |t| t.contains("alpha"))
            .expect("alpha");
        let texts = tmux.capture_panes(&[a.pane, b.pane]).expect("capture");
        assert!(
            texts[0]
                .as_deref()
                .is_some_and(|t| t.contains("alpha") && !t.contains("beta")),
            "{texts:?}"
        );
        assert!(
            texts[1]
                .as_deref()
                .is_some_and(|t| t.contains("beta") && !t.contains("alpha")),
            "{texts:?}"
        );
        let texts = tmux
            .capture_panes(&[a.pane, PaneId::new(9999), b.pane])
            .expect("capture");
        assert!(
            texts[0].is_some() && texts[1].is_none() && texts[2].is_some(),
            "{texts:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_text_is_protected() {
        let batch = Batch::from(Cmd::send_text(PaneId::new(2), "-rf ;"));
        assert_eq!(
            batch.argv(),
            ["send-keys", "-l", "-t", "%2", "--", "-rf \\;"]
        );
    }

    #[test]
    fn named_keys() {
        let batch = Batch::from(Cmd::send_keys(PaneId::new(2), &[Key::Escape, Key::CtrlU]));
        assert_eq!(batch.argv(), ["send-keys", "-t", "%2", "Escape", "C-u"]);
    }

    #[test]
    fn buffer_names_differ() {
        assert_ne!(buffer_name(), buffer_name());
    }
}
