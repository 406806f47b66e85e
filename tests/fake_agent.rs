//! Runs the real `cafleet agent fake` with stdin on a pipe (no raw mode) and reads its
//! JSON-lines log; one test also runs it in a private tmux server to check raw mode and
//! the screen text. Child commands go to a stub script through `CAFLEET_FAKE_BIN`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use cafleet::backend::fake;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(15);

struct Fake {
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fake {
    fn start(options: &str, extra_env: &[(&str, &Path)]) -> Fake {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("fake.jsonl");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cafleet"));
        cmd.args(["agent", "fake", "--name", "web", "--options", options])
            .arg("--log")
            .arg(&log)
            .arg("You are web.")
            .env_remove(fake::LOG_ENV)
            .env_remove(fake::BIN_ENV)
            // What the fake runs (`cafleet message inbox`) must not find the real user's
            // registry.
            .env("HOME", dir.path())
            .env_remove("CAFLEET_DATABASE_URL")
            .env_remove("XDG_DATA_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in extra_env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("spawn cafleet agent fake");
        let stdin = child.stdin.take();
        Fake {
            child,
            stdin,
            log,
            _dir: dir,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to fake");
        stdin.flush().expect("flush to fake");
    }

    fn events(&self) -> Vec<Value> {
        read_log(&self.log)
    }

    /// Waits until an event matching `pred` is logged; returns all events so far.
    fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let events = self.events();
            if events.iter().any(&pred) {
                return events;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; log:\n{}",
                dump(&events)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_exit(&mut self) -> i32 {
        self.stdin = None;
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for fake") {
                return status.code().expect("exit code");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "fake did not exit; log:\n{}",
                dump(&self.events())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| l.ends_with('}'))
        .map(|l| serde_json::from_str(l).expect("log line is JSON"))
        .collect()
}

fn dump(events: &[Value]) -> String {
    events
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn is(event: &str) -> impl Fn(&Value) -> bool + '_ {
    move |e| e["event"] == event
}

/// The input events (text, key, paste) in order, as compact strings.
fn inputs(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e["event"].as_str()? {
            "text" => Some(format!("text:{}", e["text"].as_str()?)),
            "key" => Some(format!("key:{}", e["key"].as_str()?)),
            "paste" => Some(format!(
                "paste:{}",
                e["paste"].as_str().or(e["text"].as_str())?
            )),
            _ => None,
        })
        .collect()
}

fn write_stub(dir: &Path) -> (PathBuf, PathBuf) {
    let calls = dir.join("calls.txt");
    let stub = dir.join("stub-cafleet");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$*\" >> '{}'\n\
             case \"$1 $2\" in\n\
             'message inbox') echo '[{{\"id\":42,\"sender\":\"api\",\"recipient\":\"web\",\"body\":\"hi\"}},\
             {{\"id\":43,\"sender\":\"db\",\"recipient\":\"web\",\"body\":\"yo\"}}]' ;;\n\
             'message send') [ \"$4\" = broken ] && {{ echo 'error: no member broken' >&2; exit 3; }} ;;\n\
             esac\n\
             exit 0\n",
            calls.display()
        ),
    )
    .expect("write stub");
    let mut perms = std::fs::metadata(&stub)
        .expect("stub metadata")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&stub, perms).expect("chmod stub");
    (stub, calls)
}

#[test]
fn logs_exactly_which_bytes_arrived() {
    let mut fake = Fake::start("{}", &[]);
    fake.wait_for("ready", is("ready"));
    fake.write(b"hello w\xc3\xb6rld\x1b");
    fake.wait_for("lone escape", |e| e["key"] == "Escape");
    fake.write(b"\x03\x15x\x7f\t\x1b[200~line 1\rline 2");
    fake.write(b"\x1b[201~\rnext\r\r");
    let events = fake.wait_for("second submit", |e| e["line"] == "next");
    assert_eq!(
        inputs(&events),
        [
            "text:hello wörld",
            "key:Escape",
            "key:C-c",
            "key:C-u",
            "text:x",
            "key:Backspace",
            "key:Tab",
            "paste:line 1\rline 2",
            "key:Enter",
            "text:next",
            "key:Enter",
            "key:Enter",
        ]
    );
    let submits: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "submit")
        .map(|e| &e["line"])
        .collect();
    // C-c and C-u cleared the composer; the paste was not submitted until Enter; the
    // empty Enter submitted nothing.
    assert_eq!(submits, ["line 1\nline 2", "next"]);
    assert!(
        events
            .iter()
            .all(|e| e["agent"] == "web" && e["ts_ms"].is_u64())
    );
    assert_eq!(fake.wait_exit(), 0);
    let events = fake.events();
    let last = events.last().expect("events");
    assert_eq!((&last["event"], &last["code"]), (&"exit".into(), &0.into()));
}

#[test]
fn preview_reads_inbox_and_replies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (stub, calls) = write_stub(dir.path());
    let options =
        r#"{"reply":"pong {n} to {from}","max_replies":1,"opener":{"to":"broken","text":"hello"}}"#;
    let mut fake = Fake::start(options, &[(fake::BIN_ENV, &stub)]);
    fake.wait_for("opener failure", |e| {
        e["event"] == "error" && e["during"] == "opener"
    });
    fake.write(b"[cafleet] message #42 from api: hi \xe2\x80\x94 run: cafleet message inbox\r");
    let events = fake.wait_for("reply", is("replied"));
    let inbox = events
        .iter()
        .find(|e| e["event"] == "inbox")
        .expect("inbox");
    assert_eq!(inbox["messages"].as_array().map(Vec::len), Some(2));
    let replied = events
        .iter()
        .find(|e| e["event"] == "replied")
        .expect("replied");
    assert_eq!(replied["to"], "api");
    assert_eq!(replied["text"], "pong 1 to api");
    assert_eq!(replied["id"], 42);
    assert_eq!(fake.wait_exit(), 0);
    // max_replies = 1: the second message got no answer.
    let calls = std::fs::read_to_string(&calls).expect("stub calls");
    let mut calls: Vec<&str> = calls.lines().collect();
    calls.sort_unstable();
    assert_eq!(
        calls,
        [
            "message inbox --json",
            "message send --to api -- pong 1 to api",
            "message send --to broken -- hello",
        ]
    );
    assert_eq!(
        fake.events()
            .iter()
            .filter(|e| e["event"] == "replied")
            .count(),
        1
    );
}

#[test]
fn trust_screen_ignores_text_and_escape_quits() {
    let mut fake = Fake::start(r#"{"screen":"trust"}"#, &[]);
    fake.wait_for("trust screen", |e| e["screen"] == "trust");
    fake.write(b"yes\r");
    fake.wait_for("enter", |e| e["key"] == "Enter");
    // Enter on the trust screen accepts it; the typed text was not kept.
    let events = fake.wait_for("composer", |e| {
        e["event"] == "screen" && e["screen"] == "composer"
    });
    assert!(!events.iter().any(is("submit")), "{}", dump(&events));
    assert_eq!(fake.wait_exit(), 0);

    let mut fake = Fake::start(r#"{"screen":"trust"}"#, &[]);
    fake.wait_for("trust screen", |e| e["screen"] == "trust");
    fake.write(b"\x1b");
    let code = fake.wait_exit();
    assert_eq!(code, 1);
    let events = fake.events();
    assert_eq!(
        events.last().map(|e| e["reason"].clone()),
        Some("trust".into())
    );
}

#[test]
fn exit_after_uses_exit_code() {
    let mut fake = Fake::start(r#"{"exit_after":"300ms","exit_code":7}"#, &[]);
    let start = Instant::now();
    loop {
        if let Some(status) = fake.child.try_wait().expect("wait") {
            assert_eq!(status.code(), Some(7));
            break;
        }
        assert!(start.elapsed() < DEADLINE, "fake did not exit by itself");
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = fake.events();
    let last = events.last().expect("events");
    assert_eq!(
        (&last["code"], &last["reason"]),
        (&7.into(), &"exit_after".into())
    );
}

#[test]
fn bad_options_are_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_cafleet"))
        .args(["agent", "fake", "--options", r#"{"replies":"x"}"#])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid --options: unknown field `replies`"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_cafleet"))
        .args(["agent", "fake", "--options", r#"{"ready_after":"soon"}"#])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid `ready_after` duration"));
}

/// A private tmux server, killed on drop.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
            cafleet::tmux::testing::say_skipped("tmux is not installed");
            return None;
        }
        // Socket paths must be short; keep the directory under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("cft")
            .tempdir_in("/tmp")
            .expect("temp dir");
        Some(Tmux {
            socket: dir.path().join("s"),
            _dir: dir,
        })
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.run(&["capture-pane", "-p", "-t", "%0"]);
            if pred(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; pane:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

#[test]
fn runs_in_a_tmux_pane() {
    let Some(tmux) = Tmux::start() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("fake.jsonl");
    let command = format!(
        // Its own HOME: the inbox it runs must not find (or create) the user's registry.
        "exec env -u CAFLEET_DATABASE_URL -u XDG_DATA_HOME HOME='{}' '{}' agent fake --name web --log '{}' --options '{{\"screen\":\"permission\"}}' 'You are web.'",
        dir.path().display(),
        env!("CARGO_BIN_EXE_cafleet"),
        log.display()
    );
    tmux.run(&["new-session", "-d", "-x", "100", "-y", "30", &command]);
    let screen = tmux.wait_screen("permission screen", |s| {
        s.contains(fake::PERMISSION_QUESTION)
    });
    assert!(screen.contains(fake::PERMISSION_YES) && screen.contains(fake::PERMISSION_NO));
    assert!(screen.contains("You are web."), "{screen}");
    tmux.run(&["send-keys", "-t", "%0", "Escape"]);
    tmux.wait_screen("composer", |s| s.contains(fake::READY_FOOTER));
    // Raw mode: C-c arrives as a key instead of killing the process.
    tmux.run(&["send-keys", "-t", "%0", "-l", "--", "typed away"]);
    tmux.run(&["send-keys", "-t", "%0", "C-c"]);
    tmux.run(&[
        "send-keys",
        "-t",
        "%0",
        "-l",
        "--",
        "[cafleet] message #1 from api: hi",
    ]);
    tmux.wait_screen("typed text", |s| {
        s.contains("> [cafleet] message #1 from api: hi")
    });
    // Without a registry the inbox fails; the agent shows it and keeps running.
    tmux.run(&["send-keys", "-t", "%0", "Enter"]);
    let start = Instant::now();
    let events = loop {
        let events = read_log(&log);
        if events
            .iter()
            .any(|e| e["event"] == "error" && e["during"] == "inbox")
        {
            break events;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no inbox error; log:\n{}",
            dump(&events)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "dismissed" && e["screen"] == "permission")
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "start" && e["tty"] == true)
    );
    assert!(events.iter().any(|e| e["key"] == "C-c"));
    tmux.wait_screen("error on screen", |s| s.contains("error (inbox)"));
}
