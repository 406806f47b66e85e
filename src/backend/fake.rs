//! The built-in fake backend: a stand-in coding agent that runs in a tmux pane so tests,
//! CI and demos need no real AI CLI. `cafleet agent fake` puts its tty in raw mode, turns
//! on bracketed paste and draws a screen shaped like a real agent's (a header with its
//! name, the start prompt, a transcript and a composer at the bottom). Every byte that
//! arrives is decoded by [`InputParser`] and written to a JSON-lines log, so a test can
//! prove exactly which text, keys and pastes reached the pane; a submitted
//! `[cafleet] message #…` preview makes it run the real `cafleet message inbox --json`
//! and, with `reply` set, answer each sender with `cafleet message send`.
//!
//! # Screens
//!
//! The texts below are `pub const`s so backend screen detection can be tested against
//! them. `ready_after` shows [`STARTING`] first; then the `screen` option picks one of:
//!
//! | screen | shows | input |
//! |---|---|---|
//! | `composer` | a box with [`COMPOSER_PROMPT`] and the footer [`READY_FOOTER`] | text is typed, Enter submits, Escape does nothing |
//! | `permission` | [`PERMISSION_QUESTION`], [`PERMISSION_YES`], [`PERMISSION_NO`] | Escape dismisses it, Enter confirms it (both logged, both go to `composer`); text is ignored |
//! | `trust` | [`TRUST_QUESTION`], [`TRUST_YES`], [`TRUST_NO`] | Enter accepts (→ `composer`); Escape quits with exit code 1, as claude's does; text is ignored |
//! | `login` | [`LOGIN_GATE`] | everything is ignored |
//! | `working` | [`WORKING_TITLE`] and the footer [`WORKING_FOOTER`] | text is typed; Enter queues the line (shown as [`QUEUED`]); Escape interrupts (→ `composer`, then the queued lines are submitted in order) |
//!
//! Every screen starts with the header [`HEADER_TITLE`]` · NAME`. Unless `freeze_after`
//! has passed, the bottom line carries a spinner and the seconds since start, redrawn
//! once a second, so a "drawing" agent can be told from a frozen one. C-c and C-u clear
//! the composer on every screen; C-c never exits (tests need to see that it arrived).
//! An empty Enter on the composer submits nothing.
//!
//! # Log
//!
//! The log path is `--log`, else `$CAFLEET_FAKE_LOG`; with neither nothing is logged.
//! The file is opened for appending, so several fakes may share one; each event is one
//! JSON object on one line, written with a single `write` and flushed at once. Every
//! object starts with `ts_ms` (milliseconds since the Unix epoch), `event` and `agent`
//! (the `--name`), then event fields:
//!
//! | event | fields | when |
//! |---|---|---|
//! | `start` | `pid`, `tty` (stdin is a terminal), `prompt`, `options` | first line |
//! | `screen` | `screen` | the screen changed (`starting`, `composer`, `permission`, `trust`, `login`, `working`) |
//! | `ready` | `screen` | startup ended (`ready_after` passed) |
//! | `text` | `text`, `screen` | printable text arrived; consecutive printable bytes of one read are one event |
//! | `key` | `key`, `screen` | a key arrived (names below) |
//! | `paste` | `text`, `screen` | a bracketed paste arrived, text verbatim between the markers (CR and LF kept) |
//! | `submit` | `line` | a composer line was submitted (CR/LF in it are `\n`) |
//! | `queued` | `line` | Enter on the `working` screen |
//! | `confirmed` / `dismissed` | `screen` | Enter / Escape on `permission` or `trust` |
//! | `interrupted` | | Escape on `working` |
//! | `inbox` | `messages` (the array `message inbox --json` printed) | after a preview was submitted |
//! | `replied` | `to`, `text`, `n`, `id` | a reply was sent |
//! | `sent` | `to`, `text` | the `opener` was sent |
//! | `ran` | `args` | the `on_message` command ran (after an inbox read with messages) |
//! | `error` | `error`, `during` (`inbox`, `ack`, `reply`, `opener`, `on_message`) | a child command failed; also shown on screen |
//! | `frozen` | | `freeze_after` passed; input is still read and logged |
//! | `signal` | `signal` (`SIGTERM`, `SIGHUP`, `SIGINT`) | a terminating signal arrived |
//! | `eof` | | stdin closed |
//! | `exit` | `code`, `reason` (`exit_after`, `trust`, `signal`, `eof`) | last line |
//!
//! Key names: `Enter` (CR), `Escape` (an ESC not followed by `[`, or alone for 30 ms),
//! `Tab`, `Backspace` (DEL, 0x7f), `C-a` … `C-z` and `C-@`, `C-\`, `C-]`, `C-^`, `C-_`
//! for the other C0 bytes (so LF is `C-j`, C-c is `C-c`), `Up`, `Down`, `Right`, `Left`,
//! `Home`, `End`, `Delete`, `BackTab`, `CSI <params><final>` for other escape sequences,
//! `0xNN` for a byte that is not valid UTF-8 and `U+NNNN` for a C1 control character.
//!
//! # Child commands
//!
//! `inbox`, replies and the opener run the current executable (or `$CAFLEET_FAKE_BIN`,
//! which tests use to put a stub in its place) on a thread with stdin null and output
//! captured; the pane's `CAFLEET_FLEET`, `CAFLEET_MEMBER` and `CAFLEET_DATABASE_URL` are
//! inherited. A failure is logged and shown, and the fake keeps running.
//!
//! When stdin is not a terminal (a pipe in tests) raw mode is skipped, and when stdout
//! is not one nothing is drawn; at end of input the fake waits for its child commands
//! and exits 0.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::termios::{self, SetArg, Termios};
use serde_json::{Value, json};

use super::fake_options::{FakeOptions, FakeScreen};
use crate::error::{Error, Result};

/// The environment variable naming the log file when `--log` is not given.
pub const LOG_ENV: &str = "CAFLEET_FAKE_LOG";
/// The environment variable that replaces the `cafleet` executable the fake runs.
pub const BIN_ENV: &str = "CAFLEET_FAKE_BIN";

/// The first header line, followed by ` · NAME`.
pub const HEADER_TITLE: &str = "✻ cafleet fake agent";
/// Shown until `ready_after` has passed.
pub const STARTING: &str = "starting…";
/// The start of the composer's first line inside its box.
pub const COMPOSER_PROMPT: &str = "> ";
/// The footer under the composer when the agent is idle and ready.
pub const READY_FOOTER: &str = "fake ready · ? for shortcuts";
/// The question of the permission screen.
pub const PERMISSION_QUESTION: &str = "Do you want to proceed?";
/// The selected option of the permission screen.
pub const PERMISSION_YES: &str = "❯ 1. Yes";
/// The other option of the permission screen.
pub const PERMISSION_NO: &str = "2. No";
/// The question of the trust dialog.
pub const TRUST_QUESTION: &str = "Do you trust the files in this folder?";
/// The selected option of the trust dialog.
pub const TRUST_YES: &str = "Yes, I trust this folder";
/// The other option of the trust dialog.
pub const TRUST_NO: &str = "No, exit";
/// The sign-in gate.
pub const LOGIN_GATE: &str = "Sign in to continue";
/// The line under the sign-in gate.
pub const LOGIN_HINT: &str = "(fake agent: this gate ignores all input)";
/// The status line of the working screen.
pub const WORKING_TITLE: &str = "✻ Working…";
/// The footer of the working screen.
pub const WORKING_FOOTER: &str = "esc to interrupt";
/// The label in front of a line typed while working.
pub const QUEUED: &str = "QUEUED";
/// What a submitted line must contain to make the fake read its inbox.
pub const PREVIEW_MARKER: &str = "[cafleet] message #";

/// How long a lone ESC waits for the rest of an escape sequence before it is a key.
const ESCAPE_WAIT: Duration = Duration::from_millis(30);
/// The slow redraw that shows the agent is alive.
const TICK: Duration = Duration::from_secs(1);
const SPINNER: [char; 4] = ['✢', '✳', '✶', '✻'];
const MAX_TRANSCRIPT: usize = 200;
const PROMPT_LINES: usize = 3;

// ---------------------------------------------------------------------------------------
// Input decoding

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

// ---------------------------------------------------------------------------------------
// Small helpers

/// Fills in a `reply` template: `{n}` is the reply's number, `{from}` the sender.
pub fn render_reply(template: &str, n: u32, from: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{n}") {
            let _ = write!(out, "{n}");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{from}") {
            out.push_str(from);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn option_duration(name: &str, value: Option<&String>) -> Result<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(text) => crate::manifest::duration::parse(text)
            .map(Some)
            .ok_or_else(|| {
                Error::usage(format!("invalid `{name}` duration `{text}`"))
                    .hint("use a number and a unit: `500ms`, `2s`, `5m`, `1h`")
            }),
    }
}

fn screen_name(screen: Screen) -> &'static str {
    match screen {
        Screen::Starting => "starting",
        Screen::Composer => "composer",
        Screen::Permission => "permission",
        Screen::Trust => "trust",
        Screen::Login => "login",
        Screen::Working => "working",
    }
}

// ---------------------------------------------------------------------------------------
// The log

/// The JSON-lines event log; a no-op without a path.
struct Log {
    file: Option<File>,
    agent: String,
}

impl Log {
    fn open(path: Option<&PathBuf>, agent: &str) -> Result<Self> {
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

    fn event(&mut self, event: &str, fields: Value) {
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
struct Terminal {
    saved: Option<Termios>,
    /// Whether stdout is a terminal: only then is anything drawn, so a test that pipes
    /// stdout and never reads it cannot block the agent on a full pipe.
    draws: bool,
}

impl Terminal {
    fn setup() -> Result<Self> {
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

    fn is_tty(&self) -> bool {
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

fn write_out(text: &str) {
    let mut out = std::io::stdout().lock();
    // A vanished pane (EIO) or closed pipe must not stop the agent.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The size of the terminal on stdout, 24×80 when it is not one.
fn term_size() -> (usize, usize) {
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

// ---------------------------------------------------------------------------------------
// The agent

/// What `cafleet agent fake` was started with.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub name: String,
    pub prompt: Option<String>,
    pub options: FakeOptions,
    pub log: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screen {
    Starting,
    Composer,
    Permission,
    Trust,
    Login,
    Working,
}

impl From<FakeScreen> for Screen {
    fn from(screen: FakeScreen) -> Self {
        match screen {
            FakeScreen::Composer => Screen::Composer,
            FakeScreen::Permission => Screen::Permission,
            FakeScreen::Trust => Screen::Trust,
            FakeScreen::Login => Screen::Login,
            FakeScreen::Working => Screen::Working,
        }
    }
}

enum Msg {
    Bytes(Vec<u8>),
    Eof,
    Signal(i32),
    Inbox(std::result::Result<Vec<Value>, String>),
    Sent {
        during: &'static str,
        to: String,
        text: String,
        n: Option<u32>,
        id: Value,
        result: std::result::Result<(), String>,
    },
}

struct Timers {
    ready_at: Instant,
    exit_at: Option<Instant>,
    freeze_at: Option<Instant>,
}

struct App {
    name: String,
    prompt: Option<String>,
    options: FakeOptions,
    log: Log,
    tx: Sender<Msg>,
    bin: PathBuf,
    started: Instant,
    screen: Screen,
    composer: String,
    transcript: Vec<String>,
    queued: Vec<String>,
    frozen: bool,
    draws: bool,
    opener_sent: bool,
    replies: u32,
    jobs: usize,
}

/// The screen the fake draws on `rows` × `cols` with `transcript` above and `composer` in
/// its box, as `capture-pane` shows it (for screen-detection tests); a frame taller than
/// the pane keeps its bottom lines, as the terminal scrolls.
#[cfg(test)]
pub(crate) fn sample_screen(
    screen: FakeScreen,
    composer: &str,
    transcript: &[&str],
    rows: usize,
    cols: usize,
) -> String {
    let (tx, _rx) = mpsc::channel();
    let app = App {
        name: "api".into(),
        prompt: Some("You are api.".into()),
        options: FakeOptions::default(),
        log: Log {
            file: None,
            agent: "api".into(),
        },
        tx,
        bin: PathBuf::from("cafleet"),
        started: Instant::now(),
        screen: Screen::from(screen),
        composer: composer.into(),
        transcript: transcript.iter().map(|l| truncate(l, cols)).collect(),
        queued: Vec::new(),
        frozen: false,
        draws: false,
        opener_sent: true,
        replies: 0,
        jobs: 0,
    };
    // A frame taller than the pane scrolls: the terminal keeps its last `rows` lines.
    let lines = app.render(rows, cols, Duration::from_secs(3)).lines;
    let mut text = lines[lines.len().saturating_sub(rows)..].join("\n");
    text.push('\n');
    text
}

/// Runs the fake agent until it exits; returns its exit status.
pub fn run(config: FakeConfig) -> Result<i32> {
    let ready_after = option_duration("ready_after", config.options.ready_after.as_ref())?;
    let exit_after = option_duration("exit_after", config.options.exit_after.as_ref())?;
    let freeze_after = option_duration("freeze_after", config.options.freeze_after.as_ref())?;
    let mut log = Log::open(config.log.as_ref(), &config.name)?;
    let bin = match std::env::var_os(BIN_ENV) {
        Some(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => std::env::current_exe()
            .map_err(|err| Error::failure(format!("cannot find the cafleet executable: {err}")))?,
    };

    let (tx, rx) = mpsc::channel();
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGWINCH,
    ])
    .map_err(|err| Error::failure(format!("cannot install signal handlers: {err}")))?;
    spawn_signal_thread(signals, tx.clone());

    let terminal = Terminal::setup()?;
    log.event(
        "start",
        json!({
            "pid": std::process::id(),
            "tty": terminal.is_tty(),
            "prompt": config.prompt,
            "options": config.options,
        }),
    );
    spawn_stdin_thread(tx.clone());

    let started = Instant::now();
    let timers = Timers {
        ready_at: started + ready_after.unwrap_or_default(),
        exit_at: exit_after.map(|d| started + d),
        freeze_at: freeze_after.map(|d| started + d),
    };
    let mut app = App {
        name: config.name,
        prompt: config.prompt,
        options: config.options,
        log,
        tx,
        bin,
        started,
        screen: Screen::Starting,
        composer: String::new(),
        transcript: Vec::new(),
        queued: Vec::new(),
        frozen: false,
        draws: terminal.draws,
        opener_sent: false,
        replies: 0,
        jobs: 0,
    };
    let code = app.main_loop(&rx, &timers);
    let draws = terminal.draws;
    drop(terminal);
    if draws {
        write_out(&format!("\r\nfake agent {} exited ({code})\r\n", app.name));
    }
    Ok(code)
}

fn spawn_signal_thread(mut signals: signal_hook::iterator::Signals, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if tx.send(Msg::Signal(signal)).is_err() {
                break;
            }
        }
    });
}

fn spawn_stdin_thread(tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(Msg::Bytes(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(Msg::Eof);
    });
}

impl App {
    fn main_loop(&mut self, rx: &Receiver<Msg>, timers: &Timers) -> i32 {
        let mut parser = InputParser::new();
        let mut escape_at: Option<Instant> = None;
        let mut next_tick = self.started;
        let mut eof = false;
        self.log
            .event("screen", json!({ "screen": screen_name(self.screen) }));
        loop {
            let now = Instant::now();
            if let Some(at) = timers.exit_at
                && now >= at
            {
                return self.exit(self.options.exit_code.unwrap_or(1), "exit_after");
            }
            if self.screen == Screen::Starting && now >= timers.ready_at {
                let first = self.options.screen.map_or(Screen::Composer, Screen::from);
                self.log
                    .event("ready", json!({ "screen": screen_name(first) }));
                self.set_screen(first);
                self.draw();
            }
            if let Some(at) = timers.freeze_at
                && now >= at
                && !self.frozen
            {
                self.draw();
                self.frozen = true;
                self.log.event("frozen", json!({}));
            }
            if let Some(at) = escape_at
                && now >= at
            {
                escape_at = None;
                let inputs = parser.flush();
                if let Some(code) = self.handle_inputs(inputs) {
                    return code;
                }
                self.draw();
            }
            if now >= next_tick {
                self.draw();
                while next_tick <= now {
                    next_tick += TICK;
                }
            }
            if eof && self.jobs == 0 {
                return self.exit(0, "eof");
            }

            let mut deadline = next_tick;
            for at in [
                Some(timers.ready_at).filter(|_| self.screen == Screen::Starting),
                timers.exit_at,
                timers.freeze_at.filter(|_| !self.frozen),
                escape_at,
            ]
            .into_iter()
            .flatten()
            {
                deadline = deadline.min(at);
            }
            let msg = match rx.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => continue,
                // Every sender lives in `self`, so this cannot happen; end quietly anyway.
                Err(RecvTimeoutError::Disconnected) => return self.exit(0, "eof"),
            };
            match msg {
                Msg::Bytes(bytes) => {
                    let inputs = parser.feed(&bytes);
                    escape_at = parser.has_pending().then(|| Instant::now() + ESCAPE_WAIT);
                    if let Some(code) = self.handle_inputs(inputs) {
                        return code;
                    }
                    self.draw();
                }
                Msg::Eof => {
                    let inputs = parser.flush();
                    if let Some(code) = self.handle_inputs(inputs) {
                        return code;
                    }
                    self.log.event("eof", json!({}));
                    eof = true;
                    escape_at = None;
                }
                Msg::Signal(signal) if signal == signal_hook::consts::SIGWINCH => self.draw(),
                Msg::Signal(signal) => {
                    let name = match signal {
                        signal_hook::consts::SIGTERM => "SIGTERM",
                        signal_hook::consts::SIGHUP => "SIGHUP",
                        _ => "SIGINT",
                    };
                    self.log.event("signal", json!({ "signal": name }));
                    return self.exit(128 + signal, "signal");
                }
                Msg::Inbox(result) => {
                    self.jobs -= 1;
                    self.on_inbox(result);
                    self.draw();
                }
                Msg::Sent {
                    during,
                    to,
                    text,
                    n,
                    id,
                    result,
                } => {
                    self.jobs -= 1;
                    match result {
                        Ok(()) if during == "reply" => {
                            self.log.event(
                                "replied",
                                json!({ "to": to, "text": text, "n": n, "id": id }),
                            );
                            self.note(format!("⏺ replied to {to}: {text}"));
                        }
                        Ok(()) => {
                            self.log.event("sent", json!({ "to": to, "text": text }));
                            self.note(format!("⏺ sent to {to}: {text}"));
                        }
                        Err(err) => self.error(during, err),
                    }
                    self.draw();
                }
            }
        }
    }

    fn exit(&mut self, code: i32, reason: &str) -> i32 {
        self.log
            .event("exit", json!({ "code": code, "reason": reason }));
        code
    }

    fn set_screen(&mut self, screen: Screen) {
        if self.screen == screen {
            return;
        }
        self.screen = screen;
        self.log
            .event("screen", json!({ "screen": screen_name(screen) }));
        if matches!(screen, Screen::Composer | Screen::Working) && !self.opener_sent {
            self.opener_sent = true;
            if let Some(opener) = self.options.opener.clone() {
                self.send("opener", opener.to, opener.text, None, Value::Null);
            }
        }
        if screen == Screen::Composer {
            for line in std::mem::take(&mut self.queued) {
                self.submit(line);
            }
        }
    }

    /// Applies decoded input; returns an exit status when the input ends the agent.
    fn handle_inputs(&mut self, inputs: Vec<Input>) -> Option<i32> {
        for input in inputs {
            let screen = screen_name(self.screen);
            match input {
                Input::Text(text) => {
                    self.log
                        .event("text", json!({ "text": text, "screen": screen }));
                    if self.accepts_text() {
                        self.composer.push_str(&text);
                    }
                }
                Input::Paste(text) => {
                    self.log
                        .event("paste", json!({ "text": text, "screen": screen }));
                    if self.accepts_text() {
                        self.composer
                            .push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
                    }
                }
                Input::Key(key) => {
                    self.log
                        .event("key", json!({ "key": key.name(), "screen": screen }));
                    if let Some(code) = self.on_key(&key) {
                        return Some(code);
                    }
                }
            }
        }
        None
    }

    fn accepts_text(&self) -> bool {
        matches!(
            self.screen,
            Screen::Starting | Screen::Composer | Screen::Working
        )
    }

    fn on_key(&mut self, key: &Key) -> Option<i32> {
        match (key, self.screen) {
            (Key::Ctrl(b'c' | b'u'), _) => self.composer.clear(),
            (Key::Enter, Screen::Composer) => {
                let line = std::mem::take(&mut self.composer);
                if !line.is_empty() {
                    self.submit(line);
                }
            }
            (Key::Enter, Screen::Starting | Screen::Working) => {
                let line = std::mem::take(&mut self.composer);
                if !line.is_empty() {
                    self.log.event("queued", json!({ "line": line }));
                    self.queued.push(line);
                }
            }
            (Key::Escape, Screen::Working) => {
                self.log.event("interrupted", json!({}));
                self.note("⏺ interrupted by user".into());
                self.set_screen(Screen::Composer);
            }
            (Key::Enter | Key::Escape, Screen::Permission) => {
                let event = if *key == Key::Enter {
                    "confirmed"
                } else {
                    "dismissed"
                };
                self.log.event(event, json!({ "screen": "permission" }));
                self.note(format!("⏺ permission {event}"));
                self.set_screen(Screen::Composer);
            }
            (Key::Enter, Screen::Trust) => {
                self.log.event("confirmed", json!({ "screen": "trust" }));
                self.set_screen(Screen::Composer);
            }
            (Key::Escape, Screen::Trust) => {
                self.log.event("dismissed", json!({ "screen": "trust" }));
                return Some(self.exit(1, "trust"));
            }
            (Key::Backspace | Key::Ctrl(b'h'), _) if self.accepts_text() => {
                self.composer.pop();
            }
            _ => {}
        }
        None
    }

    fn submit(&mut self, line: String) {
        self.log.event("submit", json!({ "line": line }));
        for (i, part) in line.lines().enumerate() {
            self.note(format!("{} {part}", if i == 0 { ">" } else { " " }));
        }
        if line.contains(PREVIEW_MARKER) {
            self.jobs += 1;
            let tx = self.tx.clone();
            let bin = self.bin.clone();
            std::thread::spawn(move || {
                let result = run_cafleet(&bin, &["message", "inbox", "--json"]).and_then(|out| {
                    match serde_json::from_str::<Value>(&out) {
                        Ok(Value::Array(messages)) => Ok(messages),
                        Ok(_) => Err("`message inbox --json` did not print an array".into()),
                        Err(err) => Err(format!("cannot parse `message inbox --json`: {err}")),
                    }
                });
                let _ = tx.send(Msg::Inbox(result));
            });
        }
    }

    fn on_inbox(&mut self, result: std::result::Result<Vec<Value>, String>) {
        let messages = match result {
            Ok(messages) => messages,
            Err(err) => return self.error("inbox", err),
        };
        self.log.event("inbox", json!({ "messages": messages }));
        self.note(format!("⏺ inbox: {} message(s)", messages.len()));
        if self.options.ack == Some(true) {
            let ids: Vec<String> = messages
                .iter()
                .filter_map(|m| m.get("id").and_then(Value::as_i64))
                .map(|id| id.to_string())
                .collect();
            if !ids.is_empty() {
                let bin = self.bin.clone();
                let mut args = vec!["message".to_string(), "ack".to_string()];
                args.extend(ids);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if let Err(err) = run_cafleet(&bin, &args) {
                    self.error("ack", err);
                }
            }
        }
        if let Some(command) = self.options.on_message.clone()
            && !messages.is_empty()
        {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            match run_cafleet(&self.bin.clone(), &args) {
                Ok(_) => self.log.event("ran", json!({ "args": command })),
                Err(err) => self.error("on_message", err),
            }
        }
        let Some(template) = self.options.reply.clone() else {
            return;
        };
        for message in &messages {
            if self
                .options
                .max_replies
                .is_some_and(|max| self.replies >= max)
            {
                break;
            }
            let sender = message.get("sender").or_else(|| message.get("from"));
            let Some(sender) = sender.and_then(Value::as_str) else {
                self.error("reply", "inbox message has no `sender`".into());
                continue;
            };
            self.replies += 1;
            let text = render_reply(&template, self.replies, sender);
            let id = message.get("id").cloned().unwrap_or(Value::Null);
            self.send("reply", sender.to_owned(), text, Some(self.replies), id);
        }
    }

    fn send(&mut self, during: &'static str, to: String, text: String, n: Option<u32>, id: Value) {
        self.jobs += 1;
        let tx = self.tx.clone();
        let bin = self.bin.clone();
        std::thread::spawn(move || {
            // `--` keeps a body that starts with `-` from being read as a flag.
            let result =
                run_cafleet(&bin, &["message", "send", "--to", &to, "--", &text]).map(|_| ());
            let _ = tx.send(Msg::Sent {
                during,
                to,
                text,
                n,
                id,
                result,
            });
        });
    }

    fn error(&mut self, during: &str, error: String) {
        self.log
            .event("error", json!({ "error": error, "during": during }));
        self.note(format!("⏺ error ({during}): {error}"));
    }

    fn note(&mut self, line: String) {
        self.transcript.push(line);
        if self.transcript.len() > MAX_TRANSCRIPT {
            self.transcript.remove(0);
        }
    }

    fn draw(&mut self) {
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
    fn render(&self, rows: usize, cols: usize, elapsed: Duration) -> Frame {
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

struct Frame {
    lines: Vec<String>,
    cursor: Option<(usize, usize)>,
}

fn truncate(line: &str, cols: usize) -> String {
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

/// Runs `cafleet ARGS…` with stdin null; returns its stdout or a one-line error.
fn run_cafleet(bin: &PathBuf, args: &[&str]) -> std::result::Result<String, String> {
    let shown = format!("cafleet {}", args.join(" "));
    let output = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| format!("cannot run `{shown}`: {err}"))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let detail = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    Err(format!("`{shown}` failed ({}): {detail}", output.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Input {
        Input::Text(s.into())
    }
    fn key(k: Key) -> Input {
        Input::Key(k)
    }

    #[test]
    fn text_and_control_keys() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"ab c\r\x03\x15\t\x7f\x08\n\x00\x1f"),
            vec![
                text("ab c"),
                key(Key::Enter),
                key(Key::Ctrl(b'c')),
                key(Key::Ctrl(b'u')),
                key(Key::Tab),
                key(Key::Backspace),
                key(Key::Ctrl(b'h')),
                key(Key::Ctrl(b'j')),
                key(Key::Ctrl(b'@')),
                key(Key::Ctrl(b'_')),
            ]
        );
        assert!(!p.has_pending());
    }

    #[test]
    fn key_names() {
        let names: Vec<String> = [
            Key::Enter,
            Key::Escape,
            Key::Ctrl(b'c'),
            Key::Ctrl(b'\\'),
            Key::Byte(0xff),
            Key::Control('\u{85}'),
            Key::Csi("1;5C".into()),
        ]
        .iter()
        .map(Key::name)
        .collect();
        assert_eq!(
            names,
            [
                "Enter", "Escape", "C-c", "C-\\", "0xff", "U+0085", "CSI 1;5C"
            ]
        );
    }

    #[test]
    fn escape_alone_waits_for_idle() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"x\x1b"), vec![text("x")]);
        assert!(p.has_pending());
        assert_eq!(p.flush(), vec![key(Key::Escape)]);
        assert!(!p.has_pending());
    }

    #[test]
    fn escape_followed_by_text_is_a_key() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"\x1bhi\x1b\x1b"),
            vec![key(Key::Escape), text("hi"), key(Key::Escape)]
        );
        assert_eq!(p.flush(), vec![key(Key::Escape)]);
    }

    #[test]
    fn escape_then_paste_split_after_escape() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"\x1b"), vec![]);
        assert_eq!(
            p.feed(b"[200~a\rb\x1b[201~"),
            vec![Input::Paste("a\rb".into())]
        );
    }

    #[test]
    fn csi_keys() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"\x1b[A\x1b[D\x1b[3~\x1b[1;5C\x1b[Z\x1b[201~"),
            vec![
                key(Key::Up),
                key(Key::Left),
                key(Key::Delete),
                key(Key::Csi("1;5C".into())),
                key(Key::BackTab),
                key(Key::Csi("201~".into())),
            ]
        );
    }

    #[test]
    fn incomplete_csi_resolves_on_flush() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"\x1b[1;"), vec![]);
        assert_eq!(p.flush(), vec![key(Key::Escape), text("[1;")]);
    }

    #[test]
    fn paste_keeps_newlines_and_control_bytes() {
        let mut p = InputParser::new();
        assert_eq!(
            p.feed(b"x\x1b[200~line 1\nline 2\r\x1b\x03\x1b[201~\r"),
            vec![
                text("x"),
                Input::Paste("line 1\nline 2\r\x1b\x03".into()),
                key(Key::Enter),
            ]
        );
    }

    #[test]
    fn paste_split_across_reads() {
        let mut p = InputParser::new();
        let whole = b"\x1b[200~[cafleet] message #42 from api: h\xc3\xa9llo\x1b[201~\r";
        // Every split point, including inside both markers and inside `é`.
        for cut in 1..whole.len() {
            let mut p2 = InputParser::new();
            let mut got = p2.feed(&whole[..cut]);
            got.extend(p2.feed(&whole[cut..]));
            assert_eq!(
                got,
                vec![
                    Input::Paste("[cafleet] message #42 from api: héllo".into()),
                    key(Key::Enter)
                ],
                "cut at {cut}"
            );
        }
        // A paste held open does not end on idle.
        assert_eq!(p.feed(b"\x1b[200~abc"), vec![]);
        assert_eq!(p.flush(), vec![]);
        assert!(!p.has_pending());
        assert_eq!(p.feed(b"\x1b[201"), vec![]);
        assert_eq!(p.feed(b"~"), vec![Input::Paste("abc".into())]);
    }

    #[test]
    fn utf8_split_and_invalid_bytes() {
        let mut p = InputParser::new();
        assert_eq!(p.feed(b"h\xc3"), vec![text("h")]);
        assert_eq!(p.feed(b"\xa9!"), vec![text("é!")]);
        assert_eq!(
            p.feed(b"a\xffb\xc2\x85c"),
            vec![
                text("a"),
                key(Key::Byte(0xff)),
                text("b"),
                key(Key::Control('\u{85}')),
                text("c"),
            ]
        );
        assert_eq!(p.feed(b"\xe2\x82"), vec![]);
        assert_eq!(p.flush(), vec![key(Key::Byte(0xe2)), key(Key::Byte(0x82))]);
        assert_eq!(
            p.feed(b"\xe2\r"),
            vec![key(Key::Byte(0xe2)), key(Key::Enter)]
        );
    }

    #[test]
    fn reply_template() {
        assert_eq!(
            render_reply("pong {n} to {from}", 3, "api"),
            "pong 3 to api"
        );
        assert_eq!(render_reply("{n}{n}{from}", 1, "x"), "11x");
        assert_eq!(render_reply("{x} {n", 2, "a"), "{x} {n");
        assert_eq!(render_reply("", 2, "a"), "");
        assert_eq!(render_reply("{from}", 2, "{n}"), "{n}");
    }

    fn app(screen: Screen) -> App {
        let (tx, _rx) = mpsc::channel();
        App {
            name: "api".into(),
            prompt: Some("You are api.\nBuild the thing.".into()),
            options: FakeOptions::default(),
            log: Log {
                file: None,
                agent: "api".into(),
            },
            tx,
            bin: PathBuf::from("cafleet"),
            started: Instant::now(),
            screen,
            composer: "hello".into(),
            transcript: vec!["> earlier line".into()],
            queued: vec!["later".into()],
            frozen: false,
            draws: false,
            opener_sent: true,
            replies: 0,
            jobs: 0,
        }
    }

    fn screen_text(screen: Screen) -> String {
        app(screen)
            .render(24, 80, Duration::from_secs(3))
            .lines
            .join("\n")
    }

    #[test]
    fn screens_show_their_texts() {
        let composer = screen_text(Screen::Composer);
        for needle in [HEADER_TITLE, "You are api.", "> earlier line", "> hello"] {
            assert!(composer.contains(needle), "{needle} in\n{composer}");
        }
        assert!(composer.contains(READY_FOOTER));
        assert!(!composer.contains(WORKING_FOOTER));

        let working = screen_text(Screen::Working);
        for needle in [WORKING_TITLE, WORKING_FOOTER, QUEUED, "> hello"] {
            assert!(working.contains(needle), "{needle} in\n{working}");
        }
        assert!(!working.contains(READY_FOOTER));

        let permission = screen_text(Screen::Permission);
        for needle in [PERMISSION_QUESTION, PERMISSION_YES, PERMISSION_NO] {
            assert!(permission.contains(needle), "{needle} in\n{permission}");
        }
        let trust = screen_text(Screen::Trust);
        for needle in [TRUST_QUESTION, TRUST_YES, TRUST_NO] {
            assert!(trust.contains(needle), "{needle} in\n{trust}");
        }
        assert!(screen_text(Screen::Login).contains(LOGIN_GATE));
        assert!(screen_text(Screen::Starting).contains(STARTING));
        for screen in [Screen::Permission, Screen::Trust, Screen::Login] {
            let text = screen_text(screen);
            assert!(!text.contains(READY_FOOTER) && !text.contains(WORKING_FOOTER));
        }
    }

    #[test]
    fn frame_fits_the_terminal() {
        let frame = app(Screen::Composer).render(24, 80, Duration::ZERO);
        assert_eq!(frame.lines.len(), 24);
        assert!(frame.lines.iter().all(|l| l.chars().count() <= 80));
        let frame = app(Screen::Composer).render(5, 30, Duration::ZERO);
        assert!(frame.lines.iter().all(|l| l.chars().count() <= 30));
    }
}
