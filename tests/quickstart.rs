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

#[test]
fn a_message_to_a_dead_agent_stays_queued_until_up_brings_it_back() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "back.toml",
        "version = 1\n[fleet]\nname = \"back\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    let pid = h
        .tmux()
        .list_panes(&["@cafleet_member"])
        .expect("panes")
        .into_iter()
        .find(|p| p.option("@cafleet_member") == Some("w"))
        .and_then(|p| p.pid)
        .expect("w's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill w");
    assert!(wait_until(Duration::from_secs(5), || h
        .tagged("back")
        .iter()
        .any(|t| t.1 == "w" && t.3)));

    let out = h.ok(&[
        "message",
        "send",
        "--fleet",
        "back",
        "--as",
        "director",
        "--to",
        "w",
        "--sync",
        "are you there?",
    ]);
    assert!(out.contains("queued"), "{out}");
    let state = |h: &Harness| -> (String, Option<String>) {
        h.registry()
            .query_row(
                "SELECT state, state_reason FROM messages WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row")
    };
    let (st, reason) = state(&h);
    assert_eq!(st, "queued");
    assert!(reason.is_some(), "a queued message says why");

    let out = h.ok(&["up", &file, "--wait"]);
    assert!(
        out.contains("+ create w (member): its process exited"),
        "{out}"
    );
    // `up` announces it, unless the fleet's courier, which retries queued messages,
    // got there first once the agent was back.
    assert!(
        out.contains("announcing 1 queued message(s)") || state(&h).0 != "queued",
        "{out}"
    );
    // The fake reads its inbox when the preview arrives.
    assert!(
        wait_until(Duration::from_secs(10), || state(&h).0 == "read"),
        "{:?}",
        state(&h)
    );
}

#[test]
fn up_announces_a_message_whose_notifier_died() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "lost.toml",
        "version = 1\n[fleet]\nname = \"lost\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    // Stored, but the notifier that should have announced it never ran.
    h.registry()
        .execute(
            "INSERT INTO messages (fleet_id, sender, recipient, body) SELECT id, 'director', 'w', 'hello' FROM fleets WHERE name = 'lost'",
            [],
        )
        .expect("insert");
    let out = h.ok(&["up", &file]);
    assert!(out.contains("announcing 1 queued message(s)"), "{out}");
    let read = || {
        h.registry()
            .query_row("SELECT state FROM messages WHERE id = 1", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(10), || read() == "read"),
        "{}",
        read()
    );
}
