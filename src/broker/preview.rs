//! The one line typed into a recipient's pane, and the sanitiser that guarantees it is
//! only text: every control character (C0 including ESC, tab, CR and LF; DEL; C1) and
//! every Unicode line separator or bidirectional override is replaced by a visible
//! stand-in, so a message body can never erase the composer, submit early, start a
//! bracketed paste or run anything in the recipient's pane. The stored body is untouched.

/// How many characters of the body the preview shows.
pub const PREVIEW_CHARS: usize = 80;

/// Replaces every character a terminal would act on with a visible stand-in; plain text
/// (including emoji and other non-ASCII) is kept. CR LF becomes one `⏎`. The stand-ins
/// are [`crate::safe_text`]'s, the same an operator's terminal shows.
pub fn sanitize(text: &str) -> String {
    crate::safe_text::line(text).into_owned()
}

/// The first `max` characters of `text` sanitised, with `…` when it was cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let clean = sanitize(text.trim());
    if clean.chars().count() <= max {
        return clean;
    }
    let mut cut: String = clean.chars().take(max).collect();
    cut.push('…');
    cut
}

/// The preview for one message (`more` = how many other new messages it also announces):
/// `[cafleet] message #42 from api: first 80 chars… — run: cafleet message inbox`.
pub fn preview(id: i64, sender: &str, body: &[u8], more: usize) -> String {
    let body = String::from_utf8_lossy(body);
    let also = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!(
        "[cafleet] message #{id} from {}: {}{also} — run: cafleet message inbox",
        sanitize(sender),
        excerpt(&body, PREVIEW_CHARS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_only_text(s: &str) {
        for c in s.chars() {
            assert!(
                !c.is_control() && !('\u{202a}'..='\u{202e}').contains(&c),
                "control {:?} in {s:?}",
                c
            );
        }
    }

    #[test]
    fn every_control_character_gets_a_stand_in() {
        for b in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(b).unwrap();
            let s = sanitize(&format!("a{c}b"));
            assert_only_text(&s);
            assert_eq!(s.chars().count(), 3, "{b:#x} -> {s:?}");
        }
    }

    #[test]
    fn named_stand_ins() {
        assert_eq!(sanitize("a\r\nb\nc\rd"), "a⏎b⏎c⏎d");
        assert_eq!(sanitize("\x1b\t\x7f\x03\x15"), "␛→␡␃␕");
        assert_eq!(sanitize("x\u{9b}y"), "x·y");
    }

    #[test]
    fn bracketed_paste_markers_cannot_survive() {
        let s = sanitize("\x1b[200~rm -rf /\x1b[201~\r");
        assert!(!s.contains('\x1b'));
        assert!(!s.contains("\x1b[20"));
        assert_eq!(s, "␛[200~rm -rf /␛[201~⏎");
        // C1 CSI (0x9b) starts an escape sequence on some terminals too.
        assert!(!sanitize("\u{9b}200~").contains('\u{9b}'));
    }

    #[test]
    fn text_and_emoji_are_kept() {
        let s = "héllo 👋 $(rm -rf ~); \"q\" 'q' `x` -flag;";
        assert_eq!(sanitize(s), s);
    }

    #[test]
    fn excerpt_cuts_on_characters() {
        assert_eq!(excerpt("  short  ", 80), "short");
        let long = "é".repeat(100);
        let cut = excerpt(&long, 80);
        assert_eq!(cut.chars().count(), 81);
        assert!(cut.ends_with('…'));
        // Stand-ins count as characters: a body cannot grow the preview unboundedly.
        assert_eq!(excerpt(&"\x01".repeat(200), 80).chars().count(), 81);
    }

    #[test]
    fn preview_line() {
        assert_eq!(
            preview(42, "api", b"hello\nthere", 0),
            "[cafleet] message #42 from api: hello⏎there — run: cafleet message inbox"
        );
        assert_eq!(
            preview(7, "a", b"x", 2),
            "[cafleet] message #7 from a: x (+2 more) — run: cafleet message inbox"
        );
        let hostile = preview(1, "a\x1b", b"\x03\x15\x1b[201~\r\n\t\xff", 0);
        assert_only_text(&hostile);
        assert!(hostile.contains(crate::backend::fake::PREVIEW_MARKER));
    }
}
