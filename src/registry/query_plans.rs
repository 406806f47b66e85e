//! Checks that the queries agents run many times a minute use an index for everything
//! they filter on, so a registry with 100,000 messages answers as fast as an empty one.
//! The statements are captured as they run (SQLite's profile trace), then each one's
//! `EXPLAIN QUERY PLAN` is read: no `SCAN` of `messages` or `agents`, and no search of
//! `messages` narrowed by the fleet alone (that reads a whole fleet's history) except
//! through the partial indexes of unread messages.

use std::sync::{Arc, Mutex};

use rusqlite::trace::{TraceEvent, TraceEventCodes};

use super::Registry;
use super::engine::Exec;
use super::fleets::NewFleet;
use super::messages::ListFilter;

fn plan(registry: &Registry, sql: &str) -> Vec<String> {
    let mut stmt = registry
        .conn()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    // Unbound parameters plan as they run: the planner never sees their values.
    let mut rows = stmt.raw_query();
    let mut lines = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        lines.push(row.get::<_, String>(3).unwrap());
    }
    lines
}

/// Why a plan line is a full scan of a big table, if it is.
fn full_scan(line: &str) -> Option<&'static str> {
    let line = line.trim();
    for table in ["messages", "agents"] {
        if line == format!("SCAN {table}") || line.starts_with(&format!("SCAN {table} ")) {
            return Some("scans the table");
        }
    }
    // A fleet-wide search is fine through the partial indexes that hold only the
    // unread (or queued) rows.
    let partial = ["messages_unread", "messages_pending"]
        .iter()
        .any(|index| line.contains(&format!("INDEX {index} ")));
    if line.starts_with("SEARCH messages ") && line.ends_with("(fleet_id=?)") && !partial {
        return Some("reads every message of the fleet");
    }
    None
}

#[test]
fn hot_queries_use_an_index() {
    let mut registry = Registry::in_memory().unwrap();
    let fleet = registry
        .upsert_fleet(&NewFleet {
            name: "f",
            origin: "cli",
            manifest_path: None,
            session: "f",
            socket: "",
        })
        .unwrap();
    registry
        .write(|tx| {
            tx.batch(
                "INSERT INTO agents (fleet_id, name, role, backend, origin, status)
                 VALUES (1, 'a', 'director', 'fake', 'cli', 'idle'),
                        (1, 'b', 'member', 'fake', 'cli', 'idle');",
            )?;
            Ok(())
        })
        .unwrap();

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&seen);
    registry
        .conn_mut()
        .trace_v2(
            TraceEventCodes::SQLITE_TRACE_PROFILE,
            Some(move |event: TraceEvent<'_>| {
                if let TraceEvent::Profile(stmt, _) = event {
                    sink.lock().unwrap().push(stmt.sql().into_owned());
                }
            }),
        )
        .unwrap();

    // What `send`, `inbox`, `inbox --wait`, `ack`, `show`, `list`, `ps` and `member
    // list` run.
    let id = registry
        .insert_message(fleet, "a", "b", b"hi", "message")
        .unwrap();
    registry.mark_queued_reason(&[id], "no live pane").unwrap();
    registry.message(fleet, id).unwrap();
    registry.fleet_by_name("f").unwrap();
    registry.fleets().unwrap();
    registry.agent(fleet, "a").unwrap();
    registry.agents(fleet).unwrap();
    registry.unread_count(fleet, "b").unwrap();
    registry.unread_counts(fleet).unwrap();
    registry.take_inbox(fleet, "b", false).unwrap();
    registry.take_inbox(fleet, "b", true).unwrap();
    registry.take_unacked(fleet, "b").unwrap();
    registry.addressed_to(fleet, "operator", 100).unwrap();
    registry.ack_messages(fleet, "b", &[id]).unwrap();
    registry.show_message(fleet, "b", id).unwrap();
    for with in [None, Some("b")] {
        for state in [None, Some("acked")] {
            let filter = ListFilter {
                state,
                with,
                limit: Some(20),
            };
            registry.list_messages(fleet, "a", &filter).unwrap();
        }
    }
    registry.pending_messages(fleet, "b").unwrap();
    registry.mark_notified(&[id]).unwrap();

    registry
        .conn_mut()
        .trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)
        .unwrap();
    let mut statements = seen.lock().unwrap().clone();
    statements.sort();
    statements.dedup();
    let mut bad = Vec::new();
    let mut checked = 0;
    for sql in &statements {
        let upper = sql.trim_start().to_uppercase();
        if upper.starts_with("INSERT") || upper.starts_with("BEGIN") || upper.starts_with("COMMIT")
        {
            continue;
        }
        if !(sql.contains("messages") || sql.contains("agents")) {
            continue;
        }
        checked += 1;
        let lines = plan(&registry, sql);
        eprintln!("{sql}\n  -> {}", lines.join(" | "));
        for line in &lines {
            if let Some(why) = full_scan(line) {
                bad.push(format!("{why}: `{line}` in\n{sql}\nplan: {lines:#?}"));
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} statements seen: {statements:#?}"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}
