//! Text from stored data made safe for a terminal: the one place that decides how a
//! control character looks when cafleet prints it.
//!
//! Names, models, descriptions, message bodies, event details and pane text come from
//! agents and files cafleet does not control. Printed raw, an `ESC [2J` would clear the
//! operator's screen, an OSC 52 would write their clipboard and an OSC 0 retitle their
//! terminal. Every character a terminal acts on is therefore shown as a visible stand-in,
//! the Unicode "control pictures": C0 bytes as U+2400 + byte (`␛` for ESC, `␇` for BEL,
//! `␀` for NUL), DEL as `␡`, C1 (U+0080–U+009F) and the bidirectional overrides and
//! isolates as `·`; a line break in a one-line field as `⏎` and a tab there as `→`. Each
//! stand-in is one character, so column widths stay as they were. `--json` output is
//! never passed through here: JSON escapes control characters itself and stays exact.
//!
//! The same stand-ins are what reaches an agent's pane in a preview (`broker::preview`).

use std::borrow::Cow;

/// The stand-in for a control character `c`, or `None` for a character that is text.
/// Line breaks and tabs are the caller's decision.
fn stand_in(c: char) -> Option<char> {
    match c {
        // The "control pictures" block has a glyph for each C0 byte (␛, ␀…).
        '\u{0}'..='\u{1f}' => Some(char::from_u32(0x2400 + c as u32).unwrap_or('·')),
        '\u{7f}' => Some('␡'),
        '\u{80}'..='\u{9f}' => Some('·'),
        // Bidirectional overrides and isolates can reorder what the reader sees.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => Some('·'),
        _ => None,
    }
}

fn is_unsafe(c: char) -> bool {
    stand_in(c).is_some() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// One field of one line (a name, a model, a description, a preview): every control
/// character gets its stand-in, line breaks included (CR LF becomes one `⏎`).
pub fn line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('⏎');
            }
            '\n' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push('⏎'),
            '\t' => out.push('→'),
            c => out.push(stand_in(c).unwrap_or(c)),
        }
    }
    Cow::Owned(out)
}

/// Text of several lines (a message body, a pane's text, a whole listing): line feeds and
/// tabs are kept, every other control character gets its stand-in (a lone CR too, so it
/// cannot overwrite what the line already shows).
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && c != '\t' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            // CR LF is a line end written the Windows way.
            '\r' if chars.peek() == Some(&'\n') => {}
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c => out.push(stand_in(c).unwrap_or(c)),
        }
    }
    Cow::Owned(out)
}

/// [`text`] of bytes that may not be UTF-8 (invalid sequences become `�`).
pub fn bytes(bytes: &[u8]) -> String {
    text(&String::from_utf8_lossy(bytes)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_inert(s: &str) {
        for c in s.chars() {
            assert!(
                c == '\n' || c == '\t' || (!c.is_control() && stand_in(c).is_none()),
                "{c:?} left in {s:?}"
            );
        }
    }

    #[test]
    fn every_control_character_gets_one_visible_character() {
        for b in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(b).unwrap();
            let one = line(&format!("a{c}b")).into_owned();
            assert_inert(&one);
            assert_eq!(one.chars().count(), 3, "{b:#x} -> {one:?}");
            let many = text(&format!("a{c}b")).into_owned();
            assert_inert(&many);
        }
    }

    #[test]
    fn hostile_sequences_are_shown_not_acted_on() {
        assert_eq!(line("m\x1b[5m"), "m␛[5m");
        assert_eq!(line("\x1b]0;HACKED\x07\x1b[2J"), "␛]0;HACKED␇␛[2J");
        assert_eq!(
            text("\x1b]52;c;aGk=\x07 hi\r\nnext"),
            "␛]52;c;aGk=␇ hi\nnext"
        );
        assert_eq!(text("over\rwrite"), "over␍write");
        assert_eq!(line("a\u{202e}b"), "a·b");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "héllo 👋 $(x) \"q\"\n\tindented";
        assert!(matches!(text(s), Cow::Borrowed(_)));
        assert_eq!(text(s), s);
        assert!(matches!(line("api-2"), Cow::Borrowed(_)));
        assert_eq!(line("a\nb\tc"), "a⏎b→c");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(bytes(b"a\xffb\x1b"), "a\u{fffd}b␛");
    }
}
