//! The agent's state machine: `App` holds the screen, composer, transcript and queued
//! lines; its main loop reacts to timers, to decoded input, and to the messages (`Msg`)
//! of the stdin and signal threads and of child commands. Submitting a preview reads
//! the inbox, and replies and the opener are sent, through `run_cafleet` on threads.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::PREVIEW_MARKER;
use super::input::{Input, InputParser, Key};
use super::terminal::Log;
use crate::backend::fake_options::{FakeOptions, FakeScreen};

/// How long a lone ESC waits for the rest of an escape sequence before it is a key.
const ESCAPE_WAIT: Duration = Duration::from_millis(30);
/// The slow redraw that shows the agent is alive.
const TICK: Duration = Duration::from_secs(1);
const MAX_TRANSCRIPT: usize = 200;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Screen {
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

pub(super) enum Msg {
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

pub(super) struct Timers {
    pub(super) ready_at: Instant,
    pub(super) exit_at: Option<Instant>,
    pub(super) freeze_at: Option<Instant>,
}

pub(super) struct App {
    pub(super) name: String,
    pub(super) prompt: Option<String>,
    pub(super) options: FakeOptions,
    pub(super) log: Log,
    pub(super) tx: Sender<Msg>,
    pub(super) bin: PathBuf,
    pub(super) started: Instant,
    pub(super) screen: Screen,
    pub(super) composer: String,
    pub(super) transcript: Vec<String>,
    pub(super) queued: Vec<String>,
    pub(super) frozen: bool,
    pub(super) draws: bool,
    pub(super) opener_sent: bool,
    pub(super) replies: u32,
    pub(super) jobs: usize,
}

impl App {
    pub(super) fn main_loop(&mut self, rx: &Receiver<Msg>, timers: &Timers) -> i32 {
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
