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
//!
//! # Layout
//!
//! This file holds the public texts, [`FakeConfig`], [`run`] and the stdin and signal
//! threads; `input` decodes stdin, `terminal` owns raw mode and the log, `app` is the
//! agent's state machine, `draw` lays out and paints its screen, and `tests` checks them.

mod app;
mod draw;
mod input;
mod terminal;

use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use serde_json::json;

pub use self::app::render_reply;
use self::app::{App, Msg, Screen, Timers};
#[cfg(test)]
use self::draw::truncate;
pub use self::input::{Input, InputParser, Key};
use self::terminal::{Log, Terminal, write_out};
use super::fake_options::FakeOptions;
#[cfg(test)]
use super::fake_options::FakeScreen;
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

/// What `cafleet agent fake` was started with.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub name: String,
    pub prompt: Option<String>,
    pub options: FakeOptions,
    pub log: Option<PathBuf>,
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

#[cfg(test)]
mod tests;
