//! Decoding stdin: [`InputParser`] turns the bytes a pane sends into [`Input`]s —
//! printable text, [`Key`]s (control bytes and escape sequences) and bracketed pastes —
//! holding back a sequence split across reads until the next read, or until input has
//! been idle for a moment.

/// One thing that arrived on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Printable text (no control characters).
    Text(String),
    /// A key: a control byte or an escape sequence.
    Key(Key),
    /// The text between `ESC [200~` and `ESC [201~`, verbatim (invalid UTF-8 replaced).
    Paste(String),
}

/// A key that is not printable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Enter,
    Escape,
    Tab,
    Backspace,
    Up,
    Down,
    Right,
    Left,
    Home,
    End,
    Delete,
    BackTab,
    /// A C0 control byte other than CR, tab and ESC, as its `C-x` letter (`b'c'` for 0x03).
    Ctrl(u8),
    /// Another CSI sequence: its parameters and final byte (`1;5C`).
    Csi(String),
    /// A byte that is not valid UTF-8.
    Byte(u8),
    /// A C1 control character (U+0080–U+009F) that arrived as valid UTF-8.
    Control(char),
}

impl Key {
    /// The name used in the log.
    pub fn name(&self) -> String {
        match self {
            Key::Enter => "Enter".into(),
            Key::Escape => "Escape".into(),
            Key::Tab => "Tab".into(),
            Key::Backspace => "Backspace".into(),
            Key::Up => "Up".into(),
            Key::Down => "Down".into(),
            Key::Right => "Right".into(),
            Key::Left => "Left".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::Delete => "Delete".into(),
            Key::BackTab => "BackTab".into(),
            Key::Ctrl(c) => format!("C-{}", *c as char),
            Key::Csi(seq) => format!("CSI {seq}"),
            Key::Byte(b) => format!("0x{b:02x}"),
            Key::Control(c) => format!("U+{:04X}", u32::from(*c)),
        }
    }
}

const PASTE_END: &[u8] = b"\x1b[201~";

/// Turns the byte stream from stdin into [`Input`]s. Bytes that may be the start of a
/// longer sequence (an ESC, part of a UTF-8 character, part of a paste) are kept until
/// the next [`feed`](Self::feed), or resolved by [`flush`](Self::flush) once input has
/// been idle for a moment; a paste is kept until its end marker, however many reads it
/// takes.
#[derive(Debug, Default)]
pub struct InputParser {
    buf: Vec<u8>,
    paste: Option<Vec<u8>>,
}

enum Escape {
    Incomplete,
    Key(Key, usize),
    PasteStart(usize),
}

impl InputParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the bytes of one read.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Input> {
        self.buf.extend_from_slice(bytes);
        self.parse(false)
    }

    /// Resolves what is held back after input went idle: a lone ESC becomes Escape and a
    /// truncated UTF-8 character becomes `0xNN` keys. An unfinished paste is kept.
    pub fn flush(&mut self) -> Vec<Input> {
        self.parse(true)
    }

    /// Whether bytes are held back that [`flush`](Self::flush) would resolve.
    pub fn has_pending(&self) -> bool {
        self.paste.is_none() && !self.buf.is_empty()
    }

    fn parse(&mut self, idle: bool) -> Vec<Input> {
        let buf = std::mem::take(&mut self.buf);
        let mut out = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            if let Some(paste) = &mut self.paste {
                let rest = &buf[i..];
                if let Some(pos) = find(rest, PASTE_END) {
                    paste.extend_from_slice(&rest[..pos]);
                    out.push(Input::Paste(String::from_utf8_lossy(paste).into_owned()));
                    self.paste = None;
                    i += pos + PASTE_END.len();
                    continue;
                }
                let keep = partial_suffix(rest, PASTE_END);
                paste.extend_from_slice(&rest[..rest.len() - keep]);
                i = buf.len() - keep;
                break;
            }
            match buf[i] {
                0x1b => match parse_escape(&buf[i..], idle) {
                    Escape::Incomplete => break,
                    Escape::Key(key, len) => {
                        out.push(Input::Key(key));
                        i += len;
                    }
                    Escape::PasteStart(len) => {
                        self.paste = Some(Vec::new());
                        i += len;
                    }
                },
                b'\r' => {
                    out.push(Input::Key(Key::Enter));
                    i += 1;
                }
                b'\t' => {
                    out.push(Input::Key(Key::Tab));
                    i += 1;
                }
                0x7f => {
                    out.push(Input::Key(Key::Backspace));
                    i += 1;
                }
                b @ 0x00..=0x1f => {
                    out.push(Input::Key(Key::Ctrl(b + 0x40).lowercase()));
                    i += 1;
                }
                _ => {
                    let end = buf[i..]
                        .iter()
                        .position(|&b| b < 0x20 || b == 0x7f)
                        .map_or(buf.len(), |p| i + p);
                    match std::str::from_utf8(&buf[i..end]) {
                        Ok(text) => {
                            push_text(&mut out, text);
                            i = end;
                        }
                        Err(err) => {
                            let valid = err.valid_up_to();
                            if let Ok(text) = std::str::from_utf8(&buf[i..i + valid]) {
                                push_text(&mut out, text);
                            }
                            i += valid;
                            let bad = match err.error_len() {
                                Some(len) => len,
                                // A character cut off by the end of the read: wait for the
                                // rest unless input went idle or a control byte cut it.
                                None if end == buf.len() && !idle => break,
                                None => end - i,
                            };
                            for &b in &buf[i..i + bad] {
                                out.push(Input::Key(Key::Byte(b)));
                            }
                            i += bad;
                        }
                    }
                }
            }
        }
        self.buf = buf[i..].to_vec();
        out
    }
}

impl Key {
    fn lowercase(self) -> Key {
        match self {
            Key::Ctrl(c) => Key::Ctrl(c.to_ascii_lowercase()),
            other => other,
        }
    }
}

/// Decodes the escape sequence at the start of `bytes` (which starts with ESC).
fn parse_escape(bytes: &[u8], idle: bool) -> Escape {
    if bytes.len() == 1 {
        return if idle {
            Escape::Key(Key::Escape, 1)
        } else {
            Escape::Incomplete
        };
    }
    if bytes[1] != b'[' {
        return Escape::Key(Key::Escape, 1);
    }
    let mut j = 2;
    while j < bytes.len() && (0x30..=0x3f).contains(&bytes[j]) {
        j += 1;
    }
    while j < bytes.len() && (0x20..=0x2f).contains(&bytes[j]) {
        j += 1;
    }
    if j == bytes.len() {
        return if idle {
            Escape::Key(Key::Escape, 1)
        } else {
            Escape::Incomplete
        };
    }
    if !(0x40..=0x7e).contains(&bytes[j]) {
        return Escape::Key(Key::Escape, 1);
    }
    let seq = &bytes[2..=j];
    let len = j + 1;
    let key = match seq {
        b"200~" => return Escape::PasteStart(len),
        b"A" => Key::Up,
        b"B" => Key::Down,
        b"C" => Key::Right,
        b"D" => Key::Left,
        b"H" => Key::Home,
        b"F" => Key::End,
        b"Z" => Key::BackTab,
        b"3~" => Key::Delete,
        _ => Key::Csi(String::from_utf8_lossy(seq).into_owned()),
    };
    Escape::Key(key, len)
}

/// Appends printable text, merging it with a preceding text event and splitting out C1
/// control characters as keys.
fn push_text(out: &mut Vec<Input>, text: &str) {
    for c in text.chars() {
        if ('\u{80}'..='\u{9f}').contains(&c) {
            out.push(Input::Key(Key::Control(c)));
        } else if let Some(Input::Text(last)) = out.last_mut() {
            last.push(c);
        } else {
            out.push(Input::Text(c.to_string()));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest proper prefix of `needle` that `haystack` ends with.
fn partial_suffix(haystack: &[u8], needle: &[u8]) -> usize {
    (1..needle.len())
        .rev()
        .find(|&n| haystack.ends_with(&needle[..n]))
        .unwrap_or(0)
}
