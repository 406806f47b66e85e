//! `-F` format strings and the parser for what tmux prints with them.
//!
//! Fields are separated by `\x1f` and every record ends with `\x1e` before tmux's own
//! newline, so a record is found by its terminator rather than by lines. Free-text fields
//! (names, commands, user options) are passed through tmux's `s///` modifier, which turns
//! those three bytes into `?` on the tmux side: whatever a process or another tool put in
//! a name or an option, it cannot shift the fields of a record. The parser still checks
//! every record and returns an error instead of guessing (or panicking) when one is off.

/// Separates the fields of one record.
pub(crate) const FIELD_SEP: char = '\x1f';
/// Ends a record; tmux adds a newline after it.
pub(crate) const RECORD_END: char = '\x1e';
/// Characters cafleet never writes into a name or option value and tmux never shows us
/// raw, because each would break a record apart.
pub(crate) const SEPARATORS: [char; 4] = [FIELD_SEP, RECORD_END, '\n', '\r'];

/// One field of a `-F` string.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    /// A variable tmux controls fully: ids, numbers, flags.
    Plain(&'a str),
    /// A variable anyone can fill with any bytes: names, commands, user options.
    Text(&'a str),
}

/// The `-F` argument printing `fields` as one record.
pub(crate) fn format(fields: &[Field<'_>]) -> String {
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(FIELD_SEP);
        }
        match field {
            Field::Plain(name) => {
                out.push_str("#{");
                out.push_str(name);
                out.push('}');
            }
            Field::Text(name) => {
                // A bracket expression with the raw bytes: POSIX regex has no escapes.
                out.push_str("#{s/[");
                out.extend(SEPARATORS);
                out.push_str("]/?/:");
                out.push_str(name);
                out.push('}');
            }
        }
    }
    out.push(RECORD_END);
    out
}

/// Removes the bytes that could split a record, so a value cafleet writes reads back
/// exactly.
pub(crate) fn clean(value: &str) -> String {
    value.chars().filter(|c| !SEPARATORS.contains(c)).collect()
}

/// Splits `output` into records of exactly `fields` fields each.
pub(crate) fn records(output: &str, fields: usize) -> Result<Vec<Vec<&str>>, String> {
    let mut out = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let Some(end) = rest.find(RECORD_END) else {
            return Err(format!("unterminated record {}", excerpt(rest)));
        };
        let record = &rest[..end];
        rest = &rest[end + RECORD_END.len_utf8()..];
        // tmux ends each line with `\n`; tolerate `\r\n` too rather than fail on it.
        rest = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\n'))
            .unwrap_or(rest);
        let values: Vec<&str> = record.split(FIELD_SEP).collect();
        if values.len() != fields {
            return Err(format!(
                "record with {} fields instead of {fields}: {}",
                values.len(),
                excerpt(record)
            ));
        }
        out.push(values);
    }
    Ok(out)
}

/// A short, escaped piece of `text` for an error message.
pub(crate) fn excerpt(text: &str) -> String {
    let mut shown: String = text.chars().take(120).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("`{}`", shown.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_separates_and_sanitises() {
        let f = format(&[Field::Plain("pane_id"), Field::Text("@cafleet_fleet")]);
        assert_eq!(
            f,
            "#{pane_id}\x1f#{s/[\x1f\x1e\n\r]/?/:@cafleet_fleet}\x1e".to_string()
        );
    }

    #[test]
    fn parses_records() {
        let out = "%1\x1fa b:c.d é 😀\x1e\n%2\x1f\x1e\n";
        let recs = records(out, 2).unwrap();
        assert_eq!(recs, vec![vec!["%1", "a b:c.d é 😀"], vec!["%2", ""]]);
        assert!(records("", 2).unwrap().is_empty());
        // A newline inside a value does not end a record.
        assert_eq!(
            records("a\nb\x1fc\x1e\n", 2).unwrap(),
            vec![vec!["a\nb", "c"]]
        );
        assert_eq!(records("a\x1fc\x1e\r\n", 2).unwrap(), vec![vec!["a", "c"]]);
    }

    #[test]
    fn rejects_malformed_output() {
        assert!(records("%1\x1fx", 2).is_err());
        assert!(records("%1\x1fx\x1fy\x1e\n", 2).is_err());
        assert!(records("%1\x1e\n", 2).is_err());
        assert!(records("\n", 1).is_err());
    }

    #[test]
    fn clean_removes_separators_only() {
        assert_eq!(clean("a\x1fb\x1ec\nd\re;f é"), "abcde;f é");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..Default::default()
        })]

        /// `-F` output as tmux could garble it: separators, newlines, huge numbers and
        /// non-ASCII anywhere; parsing returns an error or panes, never panics.
        #[test]
        fn pane_parser_never_panics(
            text in "([\\x1f\\x1e\\n\\r%@$:.,0-9a-z_-]|\\PC|99999999999999999999){0,120}",
            options in 0usize..3,
        ) {
            let names = ["@cafleet_fleet", "@cafleet_member", "@cafleet_hash"];
            let _ = crate::tmux::panes::parse_panes(&text, &names[..options]);
            for fields in 0..12 {
                let _ = records(&text, fields);
            }
            let _ = excerpt(&text);
            let _ = clean(&text);
        }

        /// Well-formed records whose values are random: still no panic.
        #[test]
        fn pane_parser_never_panics_on_wellformed_records(
            rows in proptest::collection::vec(proptest::collection::vec("\\PC{0,12}", 1..14), 0..4),
        ) {
            let text: String = rows
                .iter()
                .map(|row| format!("{}{RECORD_END}\n", row.join(&FIELD_SEP.to_string())))
                .collect();
            let _ = crate::tmux::panes::parse_panes(&text, &[]);
            let _ = crate::tmux::panes::parse_panes(&text, &["@cafleet_fleet"]);
        }
    }

    /// A tiny deterministic generator: the parser must return, never panic, on any input.
    #[test]
    fn never_panics_on_arbitrary_input() {
        let alphabet = [
            '\x1f', '\x1e', '\n', '\r', 'a', '%', '1', 'é', '😀', ' ', ':', '.',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            for fields in 0..4 {
                let _ = records(&text, fields);
            }
            let _ = excerpt(&text);
        }
    }
}
