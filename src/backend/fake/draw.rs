//! Painting the screen: `App::render` lays out a `Frame` for a terminal of a given size
//! (the header, the start prompt, as much transcript as fits, and the current screen's
//! box and footer), `App::draw` writes it to the pane, and the box helpers frame the
//! composer and the dialogs.

use std::fmt::Write as _;
use std::time::Duration;

use super::app::{App, Screen};
use super::terminal::{term_size, write_out};
use super::{
    COMPOSER_PROMPT, HEADER_TITLE, LOGIN_GATE, LOGIN_HINT, PERMISSION_NO, PERMISSION_QUESTION,
    PERMISSION_YES, QUEUED, READY_FOOTER, STARTING, TRUST_NO, TRUST_QUESTION, TRUST_YES,
    WORKING_FOOTER, WORKING_TITLE,
};

const SPINNER: [char; 4] = ['✢', '✳', '✶', '✻'];
const PROMPT_LINES: usize = 3;

impl App {
    pub(super) fn draw(&mut self) {
        if self.frozen || !self.draws {
            return;
        }
        let (rows, cols) = term_size();
        let frame = self.render(rows, cols, self.started.elapsed());
        let mut out = String::from("\x1b[?25l\x1b[H");
        for (i, line) in frame.lines.iter().enumerate() {
            if i > 0 {
                out.push_str("\r\n");
            }
            out.push_str(line);
            out.push_str("\x1b[K");
        }
        out.push_str("\x1b[J");
        if let Some((row, col)) = frame.cursor {
            let _ = write!(out, "\x1b[{};{}H\x1b[?25h", row + 1, col + 1);
        }
        write_out(&out);
    }

    /// Lays out the screen for a terminal of `rows` × `cols`.
    pub(super) fn render(&self, rows: usize, cols: usize, elapsed: Duration) -> Frame {
        let cols = cols.max(20);
        let mut top = vec![format!("{HEADER_TITLE} · {}", self.name)];
        if let Some(prompt) = &self.prompt {
            let lines: Vec<&str> = prompt.lines().collect();
            for line in lines.iter().take(PROMPT_LINES) {
                top.push(format!("  │ {line}"));
            }
            if lines.len() > PROMPT_LINES {
                top.push(format!("  │ … ({} more lines)", lines.len() - PROMPT_LINES));
            }
        }
        top.push(String::new());

        let secs = elapsed.as_secs();
        let spinner = SPINNER[(secs % SPINNER.len() as u64) as usize];
        let clock = format!("{spinner} {secs}s");
        let mut bottom = Vec::new();
        let mut cursor = None;
        match self.screen {
            Screen::Starting => {
                bottom.push(format!("{spinner} {STARTING}"));
                bottom.push(format!("  {clock}"));
            }
            Screen::Composer | Screen::Working => {
                if self.screen == Screen::Working {
                    bottom.push(format!("{WORKING_TITLE} ({secs}s · {WORKING_FOOTER})"));
                    for line in &self.queued {
                        bottom.push(format!("  {QUEUED} {}", line.replace('\n', " ⏎ ")));
                    }
                }
                let title = format!("╭─ {} ", self.name);
                bottom.push(box_top(&title, cols));
                let lines: Vec<&str> = self.composer.split('\n').collect();
                for (i, line) in lines.iter().enumerate() {
                    let lead = if i == 0 { COMPOSER_PROMPT } else { "  " };
                    bottom.push(boxed(&format!("{lead}{line}"), cols));
                }
                if let Some(last) = lines.last() {
                    let col = 2 + 2 + last.chars().count();
                    cursor = Some((bottom.len() - 1, col.min(cols - 2)));
                }
                bottom.push(box_bottom(cols));
                let footer = if self.screen == Screen::Working {
                    WORKING_FOOTER
                } else {
                    READY_FOOTER
                };
                bottom.push(format!("  {footer} · {clock}"));
            }
            Screen::Permission => {
                bottom.push(box_top("╭─ Bash command ", cols));
                bottom.push(boxed("", cols));
                bottom.push(boxed("  echo 'fake agent wants to run a command'", cols));
                bottom.push(boxed("", cols));
                bottom.push(boxed(PERMISSION_QUESTION, cols));
                bottom.push(boxed(PERMISSION_YES, cols));
                bottom.push(boxed(&format!("  {PERMISSION_NO}"), cols));
                bottom.push(box_bottom(cols));
                bottom.push(format!("  Esc to cancel · {clock}"));
            }
            Screen::Trust => {
                bottom.push(box_top("╭─ ", cols));
                bottom.push(boxed(TRUST_QUESTION, cols));
                bottom.push(boxed("", cols));
                let cwd = std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                bottom.push(boxed(&cwd, cols));
                bottom.push(boxed("", cols));
                bottom.push(boxed(&format!("❯ 1. {TRUST_YES}"), cols));
                bottom.push(boxed(&format!("  2. {TRUST_NO}"), cols));
                bottom.push(box_bottom(cols));
                bottom.push(format!("  Enter to confirm · Esc to exit · {clock}"));
            }
            Screen::Login => {
                bottom.push(LOGIN_GATE.to_owned());
                bottom.push(String::new());
                bottom.push(format!("  {LOGIN_HINT}"));
                bottom.push(format!("  {clock}"));
            }
        }

        let room = rows.saturating_sub(top.len() + bottom.len());
        let start = self.transcript.len().saturating_sub(room);
        let middle: Vec<String> = self.transcript[start..].to_vec();
        let pad = room.saturating_sub(middle.len());
        let mut lines = top;
        lines.extend(middle);
        lines.extend(std::iter::repeat_n(String::new(), pad));
        let offset = lines.len();
        lines.extend(bottom);
        let lines: Vec<String> = lines.iter().map(|l| truncate(l, cols)).collect();
        Frame {
            cursor: cursor.map(|(row, col)| (offset + row, col)).filter(|_| {
                // The layout only fits when the terminal is tall enough.
                lines.len() <= rows
            }),
            lines,
        }
    }
}

pub(super) struct Frame {
    pub(super) lines: Vec<String>,
    cursor: Option<(usize, usize)>,
}

pub(super) fn truncate(line: &str, cols: usize) -> String {
    line.chars().take(cols).collect()
}

fn box_top(title: &str, cols: usize) -> String {
    let used = title.chars().count();
    format!("{title}{}╮", "─".repeat(cols.saturating_sub(used + 1)))
}

fn box_bottom(cols: usize) -> String {
    format!("╰{}╯", "─".repeat(cols.saturating_sub(2)))
}

fn boxed(text: &str, cols: usize) -> String {
    let inner = cols.saturating_sub(4);
    let text = truncate(text, inner);
    let pad = inner.saturating_sub(text.chars().count());
    format!("│ {text}{} │", " ".repeat(pad))
}
