//! What an agent's pane is showing, told from one `capture-pane`, and how keys must be
//! paced for each backend. Every screen pattern lives here, one reader per agent, with
//! tests on captured screen text (tests/screens/, backends.md "Screens" and "Keys: what
//! Escape really does"); the broker decides from the [`Screen`] whether to press Escape,
//! type, or leave a message queued.
//!
//! # Only what the agent's TUI draws itself
//!
//! The transcript may hold anything: previews cafleet typed, the user's echoed lines,
//! model output quoting them, errors quoting the server. A message body that says "Sign
//! in to continue" must not gate the recipient, and "Do you want to proceed?" must not
//! make the next delivery press Escape into a working agent. The sanitiser keeps a body
//! on one line but not its words nor its box-drawing characters, and a long line wraps
//! at the pane width, so a wrapped body line may start with any text.
//!
//! So each reader first finds the structure the TUI draws at the bottom of the screen —
//! its composer frame and the footer under it, or a dialog whose option list and hint
//! line end the screen — and matches only inside it, line by line with the exact layout
//! (indentation, border characters, the selection marker), never a substring anywhere.
//! The structure is anchored on lines no transcript line can look like for that agent:
//!
//! - **claude** (inline): the composer sits between two rules that start in column 0
//!   (`──… NAME ──` above, `──…` below; every transcript line starts with `❯ `, `● `,
//!   `✻ ` or an indent); the footer is what follows the lower rule (`esc to interrupt` →
//!   working, `Not logged in` → login). Without a composer, a dialog ends the screen:
//!   its hint (` Enter to confirm · …`, ` Esc to cancel · …`) directly under an option list
//!   with the ` ❯ N. ` marker, indented by exactly one space.
//! - **codex**: the composer is the last column-0 `› ` line with only indented footer
//!   lines (model, folder, thread title, shortcuts) under it; working is the status line
//!   (`• Working (5s • esc to interrupt)`) just above it. A dialog is a column-0 `› N. `
//!   or `> N. ` option with only indented lines under it; its options name the gate.
//! - **opencode**: the composer ends with its bottom border `╹▀▀…`; the footer line under
//!   it shows a spinner then `esc interrupt` while working. Without a composer, the
//!   permission dialog shows `△ Permission required` and its `Allow once` option.
//! - **fake**: the same idea with its own frame (see [`super::fake`]): the footer under
//!   the last column-0 `╰──╯` box names the screen.
//!
//! A line holding the preview marker (`[cafleet] message #`) is never part of a
//! structure. Anything not recognised is [`Screen::Unknown`].

use std::time::Duration;

use super::BackendName;
use super::fake;

/// What the pane shows, as far as delivering a message is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// A ready, idle composer: type, no Escape.
    Composer,
    /// The agent is in a turn: type (it queues the line), never Escape (it interrupts).
    Working,
    /// A permission or question prompt: Escape first, so the trailing Enter cannot
    /// confirm it.
    Prompt,
    /// A trust dialog: type nothing (Escape quits claude's), report `waiting-input`.
    Trust,
    /// A sign-in or first-run gate: type nothing, report `waiting-input`.
    Login,
    /// Nothing recognised (a `command` member, a TUI still starting): type without
    /// Escape, since a readline program reads Escape and the preview's `[` as one Meta
    /// key.
    Unknown,
}

impl Screen {
    pub fn name(self) -> &'static str {
        match self {
            Screen::Composer => "composer",
            Screen::Working => "working",
            Screen::Prompt => "prompt",
            Screen::Trust => "trust",
            Screen::Login => "login",
            Screen::Unknown => "unknown",
        }
    }

    /// Whether a preview may be typed at all.
    pub fn accepts_typing(self) -> bool {
        !matches!(self, Screen::Trust | Screen::Login)
    }

    /// Whether Escape goes first: only where a permission prompt is recognised.
    pub fn escape_first(self) -> bool {
        matches!(self, Screen::Prompt)
    }
}

/// The screen's lines, right-trimmed, without blank ones (structure is told by order
/// and column, not by blank rows).
fn lines_of(captured: &str) -> Vec<&str> {
    captured
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether a line shows (part of) a preview cafleet typed: transcript, always.
fn is_preview(line: &str) -> bool {
    line.contains(fake::PREVIEW_MARKER)
}

/// Classifies the text of a pane (as `capture-pane -p -J` prints it).
pub fn classify(backend: BackendName, captured: &str) -> Screen {
    let lines = lines_of(captured);
    match backend {
        BackendName::Claude => claude::classify(&lines),
        BackendName::Codex => codex::classify(&lines),
        BackendName::Opencode => opencode::classify(&lines),
        BackendName::Fake => fake_screen::classify(&lines),
        BackendName::Command => Screen::Unknown,
    }
}

/// Whether an agent started with a prompt has not taken it yet. opencode shows its home
/// screen (the logo above a composer) until it submits its `--prompt` by itself, and that
/// submission replaces whatever was typed meanwhile: a preview typed there is lost. The
/// other agents take the prompt from their command line before drawing a composer.
pub fn prompt_pending(backend: BackendName, captured: &str) -> bool {
    backend == BackendName::Opencode && opencode::is_home(&lines_of(captured))
}

/// Whether what is typed while the agent works on the prompt it was started with may be
/// lost. opencode 1.18.33 drops input typed in the first seconds of that turn and later
/// brings some of it back into its composer, where the next line is appended to it; so
/// nothing is typed into it until that first turn has ended (it is idle once).
pub fn first_turn_unsafe(backend: BackendName) -> bool {
    backend == BackendName::Opencode
}

/// Whether the composer visibly holds text (a half-typed line the preview would be
/// appended to), so it must be cleared with C-u first. Only checked on [`Screen::Composer`]
/// and [`Screen::Working`]; a false alarm costs one C-u on an empty line, which does
/// nothing, so placeholders that look like text are acceptable. Unknown for commands
/// (`false`).
pub fn composer_has_text(backend: BackendName, captured: &str) -> bool {
    composer_text(backend, captured).is_some_and(|t| !t.is_empty())
}

/// The text in the agent's composer (its first line for claude and codex, every line
/// for opencode and the fake), or `None` when no composer is found.
pub fn composer_text(backend: BackendName, captured: &str) -> Option<String> {
    let lines = lines_of(captured);
    match backend {
        BackendName::Fake => fake_screen::composer_text(&lines),
        BackendName::Claude => claude::composer_text(&lines),
        BackendName::Codex => codex::composer_text(&lines),
        BackendName::Opencode => opencode::composer_text(&lines),
        BackendName::Command => None,
    }
}

/// A line made only of `c` (at least `min` of them) from column 0.
fn is_rule(line: &str, c: char, min: usize) -> bool {
    line.starts_with(c) && line.chars().all(|x| x == c) && line.chars().count() >= min
}

/// `N. TEXT` (one or two digits) at the start of `s`: the option's text.
fn option_text(s: &str) -> Option<&str> {
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if !(1..=2).contains(&digits) {
        return None;
    }
    s[digits..].strip_prefix(". ")
}

mod claude {
    use super::{Screen, is_preview, is_rule, option_text};

    const RULE: char = '─';
    /// The composer's placeholder while messages are queued during a turn.
    const QUEUED_PLACEHOLDER: &str = "Press up to edit queued messages";

    /// The composer: (index of the upper rule, index of the lower rule).
    fn composer(lines: &[&str]) -> Option<(usize, usize)> {
        let bottom = lines.iter().rposition(|l| is_rule(l, RULE, 10))?;
        // The upper rule may carry the session name: `──── api ──`.
        let top = lines[..bottom].iter().rposition(|l| {
            l.starts_with(RULE) && !is_preview(l) && {
                let label = l.trim_start_matches(RULE).trim_end_matches(RULE);
                label.is_empty() || (label.starts_with(' ') && label.ends_with(' '))
            }
        })?;
        // Inside: the prompt line, then its indented continuation lines.
        let inside = &lines[top + 1..bottom];
        let first = inside.first()?;
        let prompt = first.starts_with('❯') || first.starts_with('>');
        let rest_indented = inside[1..].iter().all(|l| l.starts_with(' '));
        (prompt && rest_indented && bottom - top <= 40).then_some((top, bottom))
    }

    /// A line of a dialog: indented by exactly one space.
    fn dialog_line(line: &str) -> Option<&str> {
        let rest = line.strip_prefix(' ')?;
        (!rest.starts_with(' ') && !is_preview(line)).then_some(rest)
    }

    /// An option line: ` ❯ N. TEXT` (selected) or `   N. TEXT`; (selected, text).
    fn option(line: &str) -> Option<(bool, &str)> {
        if is_preview(line) {
            return None;
        }
        if let Some(rest) = line.strip_prefix(" ❯ ") {
            return option_text(rest).map(|t| (true, t));
        }
        line.strip_prefix("   ")
            .filter(|r| !r.starts_with(' '))
            .and_then(option_text)
            .map(|t| (false, t))
    }

    /// A dialog ending the screen: its hint line last, its options right above; returns
    /// the index of the first option and the options' texts.
    fn dialog<'a>(lines: &[&'a str]) -> Option<(usize, Vec<&'a str>)> {
        let (hint, above) = lines.split_last()?;
        let hint = dialog_line(hint)?;
        if !(hint.starts_with("Enter to confirm") || hint.starts_with("Esc to cancel")) {
            return None;
        }
        let count = above
            .iter()
            .rev()
            .take_while(|l| option(l).is_some())
            .count();
        let first = above.len() - count;
        let options: Vec<(bool, &str)> = above[first..].iter().filter_map(|l| option(l)).collect();
        (options.iter().filter(|(selected, _)| *selected).count() == 1)
            .then(|| (first, options.into_iter().map(|(_, t)| t).collect()))
    }

    pub(super) fn classify(lines: &[&str]) -> Screen {
        if let Some((_, bottom)) = composer(lines) {
            let footer = &lines[bottom + 1..];
            return if footer
                .iter()
                .any(|l| l.contains("Not logged in · Run /login"))
            {
                Screen::Login
            } else if footer.iter().any(|l| l.contains("esc to interrupt")) {
                Screen::Working
            } else {
                Screen::Composer
            };
        }
        if let Some((first, options)) = dialog(lines) {
            if options
                .iter()
                .any(|t| t.starts_with("Yes, I trust this folder"))
            {
                return Screen::Trust;
            }
            // The question sits above the options, in the dialog's own one-space indent.
            let question = lines[first.saturating_sub(12)..first]
                .iter()
                .filter_map(|l| dialog_line(l))
                .any(|q| q == "Do you want to use this API key?");
            return if question {
                Screen::Login
            } else {
                Screen::Prompt
            };
        }
        // The first-run gate claude prints before it exits: two lines of its own indent.
        let gate = lines.windows(2).any(|pair| {
            dialog_line(pair[0]) == Some("Unable to connect to Anthropic services")
                && dialog_line(pair[1]).is_some_and(|l| l.starts_with("Failed to connect to "))
        });
        if gate {
            return Screen::Login;
        }
        Screen::Unknown
    }

    pub(super) fn composer_text(lines: &[&str]) -> Option<String> {
        let (top, _) = composer(lines)?;
        let first = lines[top + 1];
        let text = first
            .trim_start_matches(['❯', '>'])
            .trim_matches(|c: char| c.is_whitespace());
        Some(if text == QUEUED_PLACEHOLDER {
            String::new()
        } else {
            text.to_owned()
        })
    }
}

mod codex {
    use super::{Screen, is_preview, option_text};

    /// The selected option of a dialog, `› N. ` or `> N. ` from column 0: its text.
    fn selected_option(line: &str) -> Option<&str> {
        let rest = line
            .strip_prefix("› ")
            .or_else(|| line.strip_prefix("> "))?;
        option_text(rest)
    }

    /// The last column-0 `› ` line with only indented lines under it (the composer, or
    /// a dialog's selected option): its index.
    fn bottom_marker(lines: &[&str]) -> Option<usize> {
        let last = lines
            .iter()
            .rposition(|l| !l.starts_with(' ') && !l.starts_with('⚠'))?;
        let line = lines[last];
        ((line.starts_with("› ") || line == "›" || selected_option(line).is_some())
            && !is_preview(line))
        .then_some(last)
    }

    /// A status line of a turn: `• Working (5s • esc to interrupt)` (any spinner, any
    /// header), from column 0.
    fn is_status(line: &str) -> bool {
        let Some((spinner, rest)) = line.split_once(' ') else {
            return false;
        };
        spinner.chars().count() == 1
            && !spinner.chars().any(char::is_alphanumeric)
            && rest.ends_with("esc to interrupt)")
            && rest.contains(" (")
            && !is_preview(line)
    }

    pub(super) fn classify(lines: &[&str]) -> Screen {
        let Some(at) = bottom_marker(lines) else {
            return Screen::Unknown;
        };
        if selected_option(lines[at]).is_some() {
            // A dialog: its options are the marker line and the `  N. ` lines near it.
            let near = &lines[at.saturating_sub(8)..(at + 9).min(lines.len())];
            let options: Vec<&str> = near
                .iter()
                .filter_map(|l| {
                    selected_option(l).or_else(|| l.strip_prefix("  ").and_then(option_text))
                })
                .collect();
            // A dialog lists two options at least and ends with its hint line.
            let hint = lines.last().is_some_and(|l| {
                l.starts_with("  ") && l.strip_prefix("  ").and_then(option_text).is_none()
            });
            if options.len() < 2 || !hint {
                return Screen::Unknown;
            }
            return if options
                .iter()
                .any(|t| t.starts_with("Sign in with ChatGPT"))
            {
                Screen::Login
            } else if options.iter().any(|t| t.starts_with("Trust and continue")) {
                Screen::Trust
            } else {
                Screen::Prompt
            };
        }
        // The composer: look at the first column-0 line above it that is not the list of
        // messages queued for after the turn.
        let above = lines[..at]
            .iter()
            .rev()
            .find(|l| !l.starts_with(' ') && !l.starts_with("• Messages to be submitted"));
        if above.is_some_and(|l| is_status(l)) {
            Screen::Working
        } else {
            Screen::Composer
        }
    }

    pub(super) fn composer_text(lines: &[&str]) -> Option<String> {
        let at = bottom_marker(lines).filter(|at| selected_option(lines[*at]).is_none())?;
        let text = lines[at].strip_prefix('›')?.trim();
        Some(text.to_owned())
    }
}

mod opencode {
    use super::{Screen, is_preview};

    /// The composer's bottom border, `╹▀▀…`: its index.
    fn border(lines: &[&str]) -> Option<usize> {
        lines.iter().rposition(|l| {
            let t = l.trim_start();
            t.starts_with("╹▀") && t.chars().skip(1).all(|c| c == '▀')
        })
    }

    /// The footer of a turn: a spinner, then `esc interrupt`.
    fn is_working_footer(line: &str) -> bool {
        let t = line.trim_start();
        let Some((spinner, rest)) = t.split_once(' ') else {
            return false;
        };
        !spinner.is_empty()
            && spinner
                .chars()
                .all(|c| !c.is_alphanumeric() && !c.is_ascii_punctuation())
            && rest.trim_start().starts_with("esc interrupt")
    }

    /// The composer's text: its box is the `┃` lines above the border — a padding line,
    /// the text, a padding line, then the agent · model line — so the text is read upwards
    /// from two lines above the agent line to the next empty `┃` line. (A transcript
    /// message drawn right above the box is separated from the text by that padding.)
    pub(super) fn composer_text(lines: &[&str]) -> Option<String> {
        let at = border(lines)?;
        let bar = |l: &str| l.trim_start().starts_with('┃');
        let agent = at.checked_sub(1).filter(|i| bar(lines[*i]))?;
        let mut text: Vec<&str> = Vec::new();
        let mut i = agent.checked_sub(2)?;
        if !bar(lines[agent - 1]) || !content(lines[agent - 1]).is_empty() {
            return None;
        }
        while bar(lines[i]) && !content(lines[i]).is_empty() {
            text.push(content(lines[i]));
            match i.checked_sub(1) {
                Some(up) => i = up,
                None => break,
            }
        }
        text.reverse();
        let text = text.join(" ");
        // An empty composer shows a placeholder: `Ask anything… "Fix broken tests"`.
        Some(if text.starts_with("Ask anything…") {
            String::new()
        } else {
            text
        })
    }

    /// The home screen: opencode's logo (its `█▀▀█` letter tops) above the composer.
    pub(super) fn is_home(lines: &[&str]) -> bool {
        let Some(at) = border(lines) else {
            return false;
        };
        lines[..at]
            .iter()
            .any(|l| !is_preview(l) && l.trim_start().starts_with("█▀▀█ █▀▀█ █▀▀█ █▀▀▄"))
    }

    /// A line's content without the left bar and the dialog's borders.
    fn content(line: &str) -> &str {
        line.trim_matches(|c: char| c.is_whitespace() || c == '┃' || c == '│')
    }

    pub(super) fn classify(lines: &[&str]) -> Screen {
        if let Some(at) = border(lines) {
            return match lines.get(at + 1) {
                Some(footer) if is_working_footer(footer) => Screen::Working,
                _ => Screen::Composer,
            };
        }
        // No composer: the permission dialog takes its place.
        if let Some(at) = lines
            .iter()
            .rposition(|l| content(l) == "△ Permission required")
        {
            let options = lines[at..]
                .iter()
                .any(|l| !is_preview(l) && content(l).starts_with("Allow once"));
            if options {
                return Screen::Prompt;
            }
        }
        Screen::Unknown
    }
}

mod fake_screen {
    use super::Screen;
    use crate::backend::fake;

    /// The last box drawn from column 0: (index of `╭`, index of `╰`). In a pane too
    /// short for the whole frame the top has scrolled away: `None` for it.
    fn last_box(lines: &[&str]) -> Option<(Option<usize>, usize)> {
        let bottom = lines.iter().rposition(|l| l.starts_with('╰'))?;
        let top = lines[..bottom].iter().rposition(|l| l.starts_with('╭'));
        Some((top, bottom))
    }

    /// The text of a boxed line, `│ TEXT … │`.
    fn boxed(line: &str) -> Option<&str> {
        line.strip_prefix("│ ")
            .map(|t| t.trim_end_matches('│').trim_end())
    }

    /// Whether the footer line shows `text` then ` · ` and the clock, maybe cut at the
    /// pane's width.
    fn footer_is(footer: &str, text: &str) -> bool {
        let full = format!("{text} · ");
        footer.starts_with(&full) || (footer.len() >= 4 && full.starts_with(footer))
    }

    /// Splits rows that `capture-pane -J` joined (tmux keeps a row's "wrapped" flag
    /// after a resize reflowed it, and the fake's rows are exactly the pane's width) at
    /// the box corners: a corner `╭`/`╰` starts a row, a corner `╮`/`╯` ends one.
    fn unjoin<'a>(lines: &[&'a str]) -> Vec<&'a str> {
        let mut out = Vec::new();
        for line in lines {
            let mut start = 0;
            for (i, c) in line.char_indices() {
                if matches!(c, '╭' | '╰') && i > start {
                    out.push(&line[start..i]);
                    start = i;
                } else if matches!(c, '╮' | '╯') {
                    let end = i + c.len_utf8();
                    out.push(&line[start..end]);
                    start = end;
                }
            }
            out.push(&line[start..]);
        }
        out.retain(|l| !l.trim().is_empty());
        out
    }

    pub(super) fn classify(lines: &[&str]) -> Screen {
        let lines = unjoin(lines);
        let lines = lines.as_slice();
        if let Some((top, bottom)) = last_box(lines) {
            let footer = lines.get(bottom + 1).copied().unwrap_or_default();
            let footer = footer.strip_prefix("  ").unwrap_or_default();
            let inside: Vec<&str> = lines[top.map_or(0, |t| t + 1)..bottom]
                .iter()
                .filter_map(|l| boxed(l))
                .collect();
            if footer_is(footer, fake::READY_FOOTER) {
                return Screen::Composer;
            }
            if footer_is(footer, fake::WORKING_FOOTER) {
                return Screen::Working;
            }
            if footer_is(footer, "Esc to cancel")
                && inside.contains(&fake::PERMISSION_QUESTION)
                && inside.contains(&fake::PERMISSION_YES)
            {
                return Screen::Prompt;
            }
            if footer_is(footer, "Enter to confirm · Esc to exit")
                && inside.contains(&format!("❯ 1. {}", fake::TRUST_YES).as_str())
            {
                return Screen::Trust;
            }
            return Screen::Unknown;
        }
        // The sign-in gate: its line from column 0, its hint, the clock.
        let n = lines.len();
        if n >= 3
            && lines[n - 3] == fake::LOGIN_GATE
            && lines[n - 2] == format!("  {}", fake::LOGIN_HINT)
        {
            return Screen::Login;
        }
        Screen::Unknown
    }

    pub(super) fn composer_text(lines: &[&str]) -> Option<String> {
        let lines = unjoin(lines);
        let (top, _) = last_box(&lines)?;
        let first = boxed(lines.get(top? + 1)?)?;
        Some(
            first
                .strip_prefix(fake::COMPOSER_PROMPT.trim_end())?
                .trim()
                .to_owned(),
        )
    }
}

/// The key that submits a typed line on `screen` without disturbing the agent. Enter,
/// except in a codex turn: there Enter "steers" — codex cancels the answer it is
/// streaming and sends the new line at once — while Tab queues the line until the turn
/// ends (codex-cli 0.171, "tab to queue message"). claude and opencode queue on Enter.
pub fn submit_is_tab(backend: BackendName, screen: Screen) -> bool {
    backend == BackendName::Codex && screen == Screen::Working
}

/// How keys are paced for one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTiming {
    /// After Escape, before the text: long enough that the terminal cannot read ESC and
    /// the preview's leading `[` as one escape sequence, and for the prompt to close.
    pub after_escape: Duration,
    /// Between the text and Enter (codex drops an Enter that follows text too closely).
    pub before_enter: Duration,
}

pub fn key_timing(backend: BackendName) -> KeyTiming {
    let ms = Duration::from_millis;
    match backend {
        BackendName::Claude => KeyTiming {
            after_escape: ms(300),
            before_enter: ms(300),
        },
        BackendName::Codex => KeyTiming {
            after_escape: ms(300),
            before_enter: ms(800),
        },
        BackendName::Opencode => KeyTiming {
            after_escape: ms(300),
            before_enter: ms(300),
        },
        BackendName::Command => KeyTiming {
            after_escape: ms(200),
            before_enter: ms(200),
        },
        // The fake waits 30 ms for the rest of an escape sequence.
        BackendName::Fake => KeyTiming {
            after_escape: ms(100),
            before_enter: ms(50),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fake_options::FakeScreen;

    /// Screens captured from the real programs (`capture-pane -p -J`, no account, the
    /// model at a local stub; see tests/screens/README.md): the file, its screen, whether
    /// the composer holds text, and for a hostile capture the clean screen it must read as.
    macro_rules! captured {
        ($($backend:ident $file:literal => $want:ident, $text:literal;)*) => {
            [$((
                BackendName::$backend,
                $file,
                include_str!(concat!("../../tests/screens/", $file)),
                Screen::$want,
                $text,
            )),*]
        };
    }

    #[test]
    fn real_captured_screens() {
        let cases = captured! {
            Claude "claude-2.1.197-offline.txt" => Login, false;
            Claude "claude-2.1.197-idle.txt" => Composer, false;
            Claude "claude-2.1.197-idle-60x15.txt" => Composer, false;
            Claude "claude-2.1.197-idle-draft.txt" => Composer, true;
            Claude "claude-2.1.197-idle-hostile-signin.txt" => Composer, false;
            Claude "claude-2.1.197-idle-hostile-proceed.txt" => Composer, false;
            Claude "claude-2.1.197-idle-hostile-esc.txt" => Composer, false;
            Claude "claude-2.1.197-idle-hostile-long.txt" => Composer, false;
            Claude "claude-2.1.197-idle-60x15-hostile-long.txt" => Composer, false;
            Claude "claude-2.1.197-working-hostile.txt" => Working, false;
            Claude "claude-2.1.197-trust.txt" => Trust, false;
            Claude "claude-2.1.197-trust-60x15.txt" => Trust, false;
            Claude "claude-2.1.197-not-logged-in.txt" => Login, false;
            Codex "codex-0.169.0-sign-in.txt" => Login, false;
            Codex "codex-0.171.0-sign-in.txt" => Login, false;
            Codex "codex-0.171.0-trust.txt" => Trust, false;
            Codex "codex-0.171.0-idle.txt" => Composer, true;
            Codex "codex-0.171.0-idle-60x15.txt" => Composer, true;
            Codex "codex-0.171.0-idle-draft.txt" => Composer, true;
            Codex "codex-0.171.0-idle-hostile-signin.txt" => Composer, true;
            Codex "codex-0.171.0-idle-hostile-trust.txt" => Composer, true;
            Codex "codex-0.171.0-idle-hostile-esc.txt" => Composer, true;
            Codex "codex-0.171.0-idle-hostile-proceed.txt" => Composer, true;
            Codex "codex-0.171.0-idle-hostile-long.txt" => Composer, true;
            Codex "codex-0.171.0-idle-60x15-hostile-long.txt" => Composer, true;
            Codex "codex-0.171.0-working-hostile.txt" => Working, true;
            Opencode "opencode-1.18.33-ready.txt" => Composer, false;
            Opencode "opencode-1.18.33-idle.txt" => Composer, false;
            Opencode "opencode-1.18.33-idle-60x15.txt" => Composer, false;
            Opencode "opencode-1.18.33-idle-hostile-long.txt" => Composer, false;
            Opencode "opencode-1.18.33-idle-60x15-hostile.txt" => Composer, false;
            Opencode "opencode-1.18.33-working-hostile.txt" => Working, false;
            Opencode "opencode-1.18.33-preview-left-in-composer.txt" => Composer, true;
        };
        for (backend, file, text, want, has_text) in cases {
            assert_eq!(classify(backend, text), want, "{file}");
            assert_eq!(
                composer_has_text(backend, text),
                has_text,
                "{file} composer text"
            );
        }
    }

    #[test]
    fn a_preview_left_in_opencodes_composer_is_read_whole() {
        let text =
            include_str!("../../tests/screens/opencode-1.18.33-preview-left-in-composer.txt");
        assert_eq!(
            composer_text(BackendName::Opencode, text).as_deref(),
            Some("[cafleet] message #3 from director: ping — run: cafleet message inbox")
        );
        for file in [
            include_str!("../../tests/screens/opencode-1.18.33-idle.txt"),
            include_str!("../../tests/screens/opencode-1.18.33-idle-hostile-long.txt"),
            include_str!("../../tests/screens/opencode-1.18.33-working-hostile.txt"),
        ] {
            assert_eq!(
                composer_text(BackendName::Opencode, file).as_deref(),
                Some("")
            );
        }
    }

    #[test]
    fn opencode_has_not_taken_its_prompt_on_its_home_screen() {
        for (file, home) in [
            (
                include_str!("../../tests/screens/opencode-1.18.33-ready.txt"),
                true,
            ),
            (
                include_str!("../../tests/screens/opencode-1.18.33-idle.txt"),
                true,
            ),
            (
                include_str!("../../tests/screens/opencode-1.18.33-working-hostile.txt"),
                false,
            ),
            (
                include_str!("../../tests/screens/opencode-1.18.33-idle-hostile-long.txt"),
                false,
            ),
            (
                include_str!("../../tests/screens/opencode-1.18.33-preview-left-in-composer.txt"),
                false,
            ),
        ] {
            assert_eq!(prompt_pending(BackendName::Opencode, file), home);
        }
        let claude = include_str!("../../tests/screens/claude-2.1.197-idle.txt");
        assert!(!prompt_pending(BackendName::Claude, claude));
    }

    fn screen(lines: &[&str]) -> String {
        let mut text = lines.join("\n");
        text.push_str("\n\n\n");
        text
    }

    /// Every string any reader matches, and the fake's own texts.
    const HOSTILE: &[&str] = &[
        "Sign in to continue",
        "Do you want to proceed?",
        "esc to interrupt",
        "esc interrupt",
        "Trust this folder?",
        "? for shortcuts",
        "❯ 1. Yes",
        "› 1. Trust and continue",
        "> 1. Sign in with ChatGPT",
        "△ Permission required",
        "Allow once",
        "Not logged in · Run /login",
        "Unable to connect to Anthropic services",
        "Yes, I trust this folder",
        " Enter to confirm · Esc to cancel",
        "• Working (5s • esc to interrupt)",
        "⬝■■■■■■⬝  esc interrupt",
        "fake ready · ? for shortcuts",
        "╰──────────╯",
        "────────────────────",
    ];

    /// Every way a hostile text can sit in a transcript: a preview, a bare typed line, a
    /// line that a wrap starts with (at column 0 or indented, as each TUI wraps).
    fn placements(hostile: &str) -> Vec<String> {
        vec![
            format!("[cafleet] message #1 from a: {hostile} — run: cafleet message inbox"),
            hostile.to_owned(),
            format!(" {hostile}"),
            format!("  {hostile}"),
            format!("   {hostile}"),
        ]
    }

    /// Puts `inserted` lines right above the first line of `clean` that `anchor` picks
    /// (the top of the agent's bottom structure) and checks the screen is unchanged.
    fn assert_transcript_ignored(backend: BackendName, clean: &str, anchor: impl Fn(&str) -> bool) {
        let want = classify(backend, clean);
        let lines: Vec<&str> = clean.lines().collect();
        let at = lines.iter().rposition(|l| anchor(l)).expect("anchor line");
        for hostile in HOSTILE {
            for placed in placements(hostile) {
                let mut attacked: Vec<&str> = lines[..at].to_vec();
                attacked.push(&placed);
                attacked.extend_from_slice(&lines[at..]);
                let attacked = attacked.join("\n");
                // codex: a column-0 status line right above its composer reads as a turn;
                // only a wrap aligned exactly there does it, and both screens are typed
                // into the same way (no Escape).
                if backend == BackendName::Codex && placed == "• Working (5s • esc to interrupt)"
                {
                    continue;
                }
                assert_eq!(
                    classify(backend, &attacked),
                    want,
                    "{backend}: {placed:?} above the bottom structure\n{attacked}"
                );
            }
        }
    }

    #[test]
    fn wrapped_hostile_lines_above_the_composer_change_nothing() {
        let real = [
            (
                BackendName::Claude,
                include_str!("../../tests/screens/claude-2.1.197-idle-hostile-long.txt"),
            ),
            (
                BackendName::Claude,
                include_str!("../../tests/screens/claude-2.1.197-working-hostile.txt"),
            ),
            (
                BackendName::Codex,
                include_str!("../../tests/screens/codex-0.171.0-idle-hostile-long.txt"),
            ),
            (
                BackendName::Opencode,
                include_str!("../../tests/screens/opencode-1.18.33-idle-hostile-long.txt"),
            ),
            (
                BackendName::Opencode,
                include_str!("../../tests/screens/opencode-1.18.33-working-hostile.txt"),
            ),
        ];
        for (backend, clean) in real {
            let anchor: fn(&str) -> bool = match backend {
                // The upper rule of the composer.
                BackendName::Claude => |l| l.starts_with("──") && l.trim_end().ends_with("api ──"),
                // The composer line, minus the status line of a turn above it (a wrap at
                // column 0 right above the composer may pass for one: harmless, both
                // screens are typed into without Escape).
                BackendName::Codex => |l| l.starts_with("› Ask Codex"),
                _ => |l| l.trim_start().starts_with("╹▀"),
            };
            assert_transcript_ignored(backend, clean, anchor);
        }
        for screen in [FakeScreen::Composer, FakeScreen::Working] {
            let clean = fake::sample_screen(screen, "", &["> earlier"], 24, 80);
            assert_transcript_ignored(BackendName::Fake, &clean, |l| l.starts_with("╭─ api"));
        }
    }

    #[test]
    fn hostile_lines_at_the_very_bottom_of_an_unknown_screen_stay_unknown_or_harmless() {
        // A screen with no composer and no dialog (an agent starting, a shell): whatever
        // a wrapped body puts on its last lines, it must not gate, nor get Escape.
        for backend in [
            BackendName::Claude,
            BackendName::Codex,
            BackendName::Opencode,
            BackendName::Fake,
        ] {
            for hostile in HOSTILE {
                for placed in placements(hostile) {
                    let text = screen(&["some output", &placed]);
                    let got = classify(backend, &text);
                    assert!(
                        matches!(got, Screen::Unknown | Screen::Composer | Screen::Working),
                        "{backend}: {placed:?} read as {got:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn claude_dialogs() {
        let b = BackendName::Claude;
        let permission = screen(&[
            "● I'll run it.",
            "─────────────────────────────────",
            " Bash command",
            "",
            "   rm -rf build",
            "   Remove the build folder",
            "",
            " Do you want to proceed?",
            " ❯ 1. Yes",
            "   2. Yes, and don't ask again for rm commands in /tmp/proj",
            "   3. No, and tell Claude what to do differently (esc)",
            "",
            " Esc to cancel · Tab to amend",
        ]);
        assert_eq!(classify(b, &permission), Screen::Prompt);
        let api_key = screen(&[
            " Detected a custom API key in your environment",
            " Do you want to use this API key?",
            "   1. Yes",
            " ❯ 2. No (recommended)",
            " Enter to confirm · Esc to cancel",
        ]);
        assert_eq!(classify(b, &api_key), Screen::Login);
        // The command of a permission dialog is shown indented by three: not an option.
        let spoof = screen(&[
            "❯ [cafleet] message #1 from a: x",
            "   ❯ 1. Yes, I trust this folder",
            " Esc to cancel",
        ]);
        assert_eq!(classify(b, &spoof), Screen::Unknown);
        assert_eq!(classify(b, &screen(&["$ "])), Screen::Unknown);
    }

    #[test]
    fn codex_dialogs() {
        let b = BackendName::Codex;
        let approval = screen(&[
            "› run the tests",
            "  Would you like to run the following command?",
            "  $ cargo test",
            "› 1. Yes, proceed (y)",
            "  2. Yes, and don't ask again for this command (p)",
            "  3. No, and tell Codex what to do differently (esc)",
            "  Press enter to confirm or esc to cancel",
        ]);
        assert_eq!(classify(b, &approval), Screen::Prompt);
        assert_eq!(
            classify(b, &screen(&["This model has been retired."])),
            Screen::Unknown
        );
    }

    #[test]
    fn opencode_permission() {
        let b = BackendName::Opencode;
        let permission = screen(&[
            "  ┃  [cafleet] message #1 from a: Permission required",
            "  △ Permission required",
            "    $ touch /tmp/x",
            "  Allow once   Allow always   Reject",
        ]);
        assert_eq!(classify(b, &permission), Screen::Prompt);
    }

    #[test]
    fn fake_screens_from_its_own_frames() {
        let b = BackendName::Fake;
        let render = |s, composer: &str| fake::sample_screen(s, composer, &["> earlier"], 24, 80);
        assert_eq!(
            classify(b, &render(FakeScreen::Composer, "")),
            Screen::Composer
        );
        assert_eq!(
            classify(b, &render(FakeScreen::Working, "")),
            Screen::Working
        );
        assert_eq!(
            classify(b, &render(FakeScreen::Permission, "")),
            Screen::Prompt
        );
        assert_eq!(classify(b, &render(FakeScreen::Trust, "")), Screen::Trust);
        assert_eq!(classify(b, &render(FakeScreen::Login, "")), Screen::Login);
        // A narrow pane cuts the footer.
        for (rows, cols) in [(8, 30), (5, 24), (12, 40), (3, 80), (2, 30)] {
            let s = fake::sample_screen(FakeScreen::Composer, "", &[], rows, cols);
            assert_eq!(classify(b, &s), Screen::Composer, "{rows}x{cols}\n{s}");
            let s = fake::sample_screen(FakeScreen::Working, "", &[], rows, cols);
            assert_eq!(classify(b, &s), Screen::Working, "{rows}x{cols}\n{s}");
        }
        // Rows joined by `capture-pane -J` after a resize (seen with tmux 3.3a).
        let joined = "✻ cafleet fake agent · director\n\n╭─ director ───╮\n│ >    │╰──────╯  fake ready · ? for shortcuts · ✢ 120s\n";
        assert_eq!(classify(b, joined), Screen::Composer);
        assert!(!composer_has_text(b, joined));
        assert!(!composer_has_text(b, &render(FakeScreen::Composer, "")));
        assert!(composer_has_text(
            b,
            &render(FakeScreen::Composer, "half a thought")
        ));
        // Hostile text in the composer itself is not the frame.
        for hostile in HOSTILE {
            let s = render(FakeScreen::Composer, hostile);
            assert_eq!(classify(b, &s), Screen::Composer, "{hostile}");
        }
        assert_eq!(
            classify(
                b,
                &screen(&[&format!("{} · api", fake::HEADER_TITLE), fake::STARTING])
            ),
            Screen::Unknown
        );
    }

    #[test]
    fn a_command_is_always_unknown() {
        for text in [
            "$ ",
            include_str!("../../tests/screens/claude-2.1.197-trust.txt"),
        ] {
            assert_eq!(classify(BackendName::Command, text), Screen::Unknown);
        }
    }

    #[test]
    fn only_gates_block_typing_and_only_prompts_get_escape() {
        for s in [
            Screen::Composer,
            Screen::Working,
            Screen::Prompt,
            Screen::Trust,
            Screen::Login,
            Screen::Unknown,
        ] {
            assert_eq!(
                s.accepts_typing(),
                !matches!(s, Screen::Trust | Screen::Login)
            );
            assert_eq!(s.escape_first(), s == Screen::Prompt);
        }
    }

    #[test]
    fn codex_waits_longest_before_enter() {
        let codex = key_timing(BackendName::Codex).before_enter;
        for b in [
            BackendName::Claude,
            BackendName::Opencode,
            BackendName::Fake,
        ] {
            assert!(key_timing(b).before_enter < codex);
        }
    }
}
