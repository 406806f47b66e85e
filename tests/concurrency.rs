//! Many writers and readers at once on one registry (no panes): every message is stored
//! exactly once, every `inbox` hands each message out once, every `ack` is kept, and no
//! "database is locked" ever reaches the user. `bench/stress.sh` runs the full 16 × 1,000.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use common::{Harness, transcript};

const SENDERS: usize = 16;
const SENDS: usize = 50;
const READERS: usize = 4;

/// Registers fleet `load` (down: no tmux involved) with members `s0…`, `r0…`, no panes.
fn register(h: &Harness) {
    let names: Vec<String> = (0..SENDERS)
        .map(|i| format!("s{i}"))
        .chain((0..READERS).map(|i| format!("r{i}")))
        .collect();
    h.register_idle("load", &names);
}

fn complaint(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    (text.contains("locked") || text.contains("busy") || text.contains("panicked"))
        .then(|| text.into_owned())
}

#[test]
fn concurrent_senders_and_readers_lose_and_duplicate_nothing() {
    let Some(h) = Harness::start() else { return };
    register(&h);
    let sending = AtomicBool::new(true);
    let started = Instant::now();

    let (sent, read) = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let h = &h;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for n in 0..SENDS {
                        let body = format!("s{s}-{n}");
                        let to = format!("r{}", s % READERS);
                        let me = format!("s{s}");
                        let out = h.run(&[
                            "message", "send", "--fleet", "load", "--as", &me, "--to", &to, &body,
                        ]);
                        if !out.status.success() || complaint(&out.stderr).is_some() {
                            failures.push(transcript(&out));
                        }
                    }
                    failures
                })
            })
            .collect();
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let h = &h;
                let sending = &sending;
                scope.spawn(move || {
                    let me = format!("r{r}");
                    let mut seen: Vec<(i64, String)> = Vec::new();
                    let mut failures = Vec::new();
                    loop {
                        let done = !sending.load(Ordering::SeqCst);
                        let out =
                            h.run(&["message", "inbox", "--fleet", "load", "--as", &me, "--json"]);
                        if !out.status.success() || complaint(&out.stderr).is_some() {
                            failures.push(transcript(&out));
                            continue;
                        }
                        let rows: serde_json::Value =
                            serde_json::from_slice(&out.stdout).expect("inbox json");
                        let rows = rows.as_array().expect("array").clone();
                        let ids: Vec<String> = rows.iter().map(|m| m["id"].to_string()).collect();
                        for m in &rows {
                            seen.push((
                                m["id"].as_i64().expect("id"),
                                m["body"].as_str().expect("body").to_owned(),
                            ));
                        }
                        if !ids.is_empty() {
                            let mut args =
                                vec!["message", "ack", "--fleet", "load", "--as", me.as_str()];
                            args.extend(ids.iter().map(String::as_str));
                            let out = h.run(&args);
                            if !out.status.success() || complaint(&out.stderr).is_some() {
                                failures.push(transcript(&out));
                            }
                        } else if done {
                            break;
                        }
                    }
                    (seen, failures)
                })
            })
            .collect();
        let sent: Vec<String> = senders
            .into_iter()
            .flat_map(|s| s.join().expect("sender thread"))
            .collect();
        sending.store(false, Ordering::SeqCst);
        let read: Vec<_> = readers
            .into_iter()
            .map(|r| r.join().expect("reader thread"))
            .collect();
        (sent, read)
    });
    eprintln!(
        "{} sends and their inbox/ack loops took {:?}",
        SENDERS * SENDS,
        started.elapsed()
    );

    assert!(sent.is_empty(), "sends failed:\n{}", sent.join("\n"));
    let mut handed_out = BTreeMap::new();
    for (seen, failures) in &read {
        assert!(
            failures.is_empty(),
            "readers failed:\n{}",
            failures.join("\n")
        );
        for (id, body) in seen {
            assert!(
                handed_out.insert(*id, body.clone()).is_none(),
                "message #{id} handed out twice"
            );
        }
    }

    let conn = h.registry();
    let mut stmt = conn
        .prepare("SELECT id, CAST(body AS TEXT), state, acked_at IS NOT NULL FROM messages")
        .unwrap();
    let rows: Vec<(i64, String, String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(rows.len(), SENDERS * SENDS, "every send stored once");
    let bodies: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(bodies.len(), SENDERS * SENDS, "no body stored twice");
    for (id, body, state, acked) in &rows {
        assert_eq!(state, "acked", "message #{id} ({body}) not acked");
        assert!(acked, "message #{id} has no acked_at");
        assert_eq!(handed_out.get(id), Some(body), "message #{id} never read");
    }
}

/// Fleet `race` on the harness's tmux server: a fake Director, panes_per_window 4.
fn race_fleet(h: &Harness) {
    let file = h.write(
        "race.toml",
        "version = 1\n[fleet]\nname = \"race\"\npanes_per_window = 4\n[defaults]\nbackend = \"fake\"\n[director]\n",
    );
    h.ok(&["up", &file, "--wait"]);
}

/// Runs `member create --name NAME --backend fake` for every name at once; returns the
/// outputs in order.
fn create_at_once(h: &Harness, names: &[String]) -> Vec<std::process::Output> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                scope.spawn(move || {
                    h.run(&["member", "create", "--name", name, "--backend", "fake"])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    })
}

/// `(name, status)` of the fleet's agents in the registry.
fn race_rows(h: &Harness) -> Vec<(String, String)> {
    let conn = h.registry();
    let mut stmt = conn
        .prepare(
            "SELECT a.name, a.status FROM agents a JOIN fleets f ON f.id = a.fleet_id \
             WHERE f.name = 'race' ORDER BY a.name",
        )
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

#[test]
fn parallel_creates_of_one_name_make_exactly_one_agent() {
    let Some(h) = Harness::start() else { return };
    race_fleet(&h);
    let names = vec!["same".to_string(); 10];
    let outputs = create_at_once(&h, &names);
    let created = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        created,
        1,
        "{}",
        outputs
            .iter()
            .map(transcript)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for out in outputs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("already has a member `same`") && err.contains("hint:"),
            "{err}"
        );
    }
    let tagged: Vec<_> = h
        .tagged("race")
        .into_iter()
        .filter(|p| p.1 == "same")
        .collect();
    assert_eq!(tagged.len(), 1, "untracked panes: {tagged:?}");
    let rows: Vec<_> = race_rows(&h)
        .into_iter()
        .filter(|(n, _)| n == "same")
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_ne!(rows[0].1, "dead");
}

#[test]
fn parallel_creates_never_overfill_a_window_or_leave_dead_rows() {
    let Some(h) = Harness::start() else { return };
    race_fleet(&h);
    let names: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    let outputs = create_at_once(&h, &names);
    let failures: Vec<String> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(transcript)
        .collect();
    // Every window of the fleet's session holds at most panes_per_window panes.
    let name: String = h
        .registry()
        .query_row("SELECT session FROM fleets WHERE name = 'race'", [], |r| {
            r.get(0)
        })
        .expect("session name");
    let session = h
        .tmux()
        .find_session(&name)
        .expect("sessions")
        .expect("the fleet's session");
    for window in h.tmux().list_windows(session).expect("windows") {
        assert!(
            window.panes <= 4,
            "window {} holds {} panes; failures:\n{}",
            window.index,
            window.panes,
            failures.join("\n")
        );
    }
    let rows = race_rows(&h);
    let tagged = h.tagged("race");
    for (name, status) in &rows {
        assert_ne!(status, "dead", "{name} left dead: {rows:?}");
        if status != "removed" {
            assert!(
                tagged.iter().any(|p| &p.1 == name),
                "{name} has no pane: {tagged:?}"
            );
        }
    }
    // A failure is a clear error, never a half-made agent; here there is room for all.
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(tagged.len(), 21, "{tagged:?}");
}
