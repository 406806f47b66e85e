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
