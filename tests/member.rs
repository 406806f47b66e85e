//! `member prompt|ping|nudge`: keystrokes an operator sends by hand follow the same rules
//! as message previews (only text reaches a pane), and a nudge is a stored, ack-able
//! message.

mod common;

use std::time::Duration;

use cafleet::tmux::testing::wait_until;
use common::{Harness, transcript};

fn up(h: &Harness) -> std::path::PathBuf {
    let log = h.home.path().join("fake.log");
    let file = h.write(
        "m.toml",
        &format!(
            "version = 1\n[fleet]\nname = \"m\"\nenv = {{ CAFLEET_FAKE_LOG = \"{}\" }}\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
            log.display()
        ),
    );
    h.ok(&["up", &file, "--wait"]);
    log
}

fn events(log: &std::path::Path, agent: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["agent"] == agent)
        .collect()
}

#[test]
fn prompt_types_only_visible_text_then_enter() {
    let Some(h) = Harness::start() else { return };
    let log = up(&h);
    h.ok(&[
        "member",
        "prompt",
        "w",
        "--",
        "rm -rf /\u{3}\u{15}\u{1b}[201~\rnow",
    ]);
    let submitted = wait_until(Duration::from_secs(10), || {
        events(&log, "w").iter().any(|e| e["event"] == "submit")
    });
    assert!(submitted, "{:?}", events(&log, "w"));
    let ev = events(&log, "w");
    let keys: Vec<&str> = ev
        .iter()
        .filter(|e| e["event"] == "key")
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert_eq!(keys, ["Enter"], "only the final Enter may be a key: {ev:?}");
    let line = ev
        .iter()
        .find(|e| e["event"] == "submit")
        .and_then(|e| e["line"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        line.starts_with("rm -rf /") && line.ends_with("now"),
        "{line}"
    );
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
}

#[test]
fn ping_presses_enter_and_nudge_is_stored_and_announced() {
    let Some(h) = Harness::start() else { return };
    let log = up(&h);
    h.ok(&["member", "ping", "w"]);
    assert!(wait_until(Duration::from_secs(10), || events(&log, "w")
        .iter()
        .any(|e| e["event"] == "key" && e["key"] == "Enter")));

    let out = h.ok(&["member", "nudge", "w", "wake up"]);
    assert!(out.starts_with("nudge #1 to w: notified"), "{out}");
    let kind: String = h
        .registry()
        .query_row(
            "SELECT kind || ':' || sender FROM messages WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert_eq!(kind, "nudge:operator");
    // The fake reads its inbox when the preview arrives; the nudge is then ack-able.
    assert!(wait_until(Duration::from_secs(10), || {
        h.registry()
            .query_row("SELECT state FROM messages WHERE id = 1", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap_or_default()
            == "read"
    }));
    let acked = h.run(&["message", "ack", "1", "--fleet", "m", "--as", "w"]);
    assert!(acked.status.success(), "{}", transcript(&acked));
    let missing = h.run(&["member", "ping", "nobody"]);
    assert_eq!(missing.status.code(), Some(3), "{}", transcript(&missing));
}

#[test]
fn inside_a_pane_an_agent_cannot_speak_as_another() {
    let Some(h) = Harness::start() else { return };
    h.register_idle("f", &["a".into(), "b".into()]);
    h.register_idle("g", &["a".into()]);
    h.ok(&[
        "message",
        "send",
        "--fleet",
        "f",
        "--as",
        "b",
        "--to",
        "a",
        "for a only",
    ]);
    let as_agent = |args: &[&str]| {
        h.cmd()
            .env("CAFLEET_FLEET", "f")
            .env("CAFLEET_MEMBER", "b")
            .args(args)
            .output()
            .expect("run")
    };
    // b may name itself, and read its own inbox.
    let own = as_agent(&["message", "inbox", "--as", "b", "--json"]);
    assert!(own.status.success(), "{}", transcript(&own));
    for args in [
        vec!["message", "inbox", "--as", "a"],
        vec!["message", "ack", "1", "--as", "a"],
        vec!["message", "inbox", "--fleet", "g"],
    ] {
        let out = as_agent(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", transcript(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    }
    let state: String = h
        .registry()
        .query_row("SELECT state FROM messages WHERE id = 1", [], |r| r.get(0))
        .expect("row");
    assert_eq!(state, "queued", "nobody but a may read a's message");
}
