//! The README's quick start: the fake ping-pong fleet in examples/fake.toml plays its ten
//! rounds from `up --wait` to `down` with no credentials, and leaves nothing behind.

mod common;

use std::time::Duration;

use cafleet::tmux::testing::wait_until;
use common::Harness;

#[test]
fn fake_ping_pong_plays_ten_rounds_then_goes_down_cleanly() {
    let Some(h) = Harness::start() else { return };
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fake.toml");
    let out = h.ok(&["up", file, "--wait", "--timeout", "30s"]);
    assert!(
        out.contains("Plan: 3 to create, 0 to recreate, 0 to remove, 0 unchanged."),
        "{out}"
    );

    let read = |h: &Harness| -> Vec<(String, String, String)> {
        let conn = h.registry();
        let mut stmt = conn.prepare("SELECT sender, recipient, CAST(body AS TEXT) FROM messages WHERE state IN ('read', 'acked') ORDER BY id").expect("query");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect()
    };
    let done = wait_until(Duration::from_secs(60), || read(&h).len() >= 21);
    let rally = read(&h);
    assert!(
        done,
        "only {} of 21 messages were read: {rally:?}\n{}",
        rally.len(),
        h.ok(&["events", "--fleet", "demo"])
    );
    assert_eq!(rally[0], ("ping".into(), "pong".into(), "ping".into()));
    assert_eq!(rally[1], ("pong".into(), "ping".into(), "pong 1".into()));
    assert_eq!(rally[20], ("ping".into(), "pong".into(), "ping 10".into()));
    let total: i64 = h
        .registry()
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .expect("count");
    assert_eq!(total, 21, "no reply beyond max_replies");

    let out = h.ok(&["down", file]);
    assert!(
        out.contains("fleet `demo` is down (3 panes stopped)"),
        "{out}"
    );
    assert!(h.tagged("demo").is_empty());
}
