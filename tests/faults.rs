//! Faults: a registry held locked by another process, read-only or corrupt registry
//! files, processes killed half-way (`message send`, `down`), the tmux server dying under
//! a running fleet and a pane closed by hand. Each ends in a clear `error:`/`hint:` or in
//! a state the next command repairs.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cafleet::tmux::testing::wait_until;
use common::{Harness, transcript};

/// Registers fleet `f` (down) with idle members `a` and `b` that have no pane.
fn register(h: &Harness) {
    h.register_idle("f", &["a".into(), "b".into()]);
}

/// Exit 1 with an `error:` line and a `hint:` line, and no panic.
fn assert_clear_failure(out: &std::process::Output) {
    let text = transcript(out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(stderr.starts_with("error: "), "{text}");
    assert!(stderr.contains("\nhint: "), "{text}");
    assert!(!stderr.contains("panicked"), "{text}");
}

#[test]
fn a_writer_holding_the_lock_for_three_seconds_only_delays_send_and_inbox() {
    let Some(h) = Harness::start() else { return };
    register(&h);
    let mut holder = h.registry();
    let tx = holder
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let started = Instant::now();
    let spawn = |args: &[&str]| {
        h.cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let send = spawn(&[
        "message", "send", "--fleet", "f", "--as", "a", "--to", "b", "held",
    ]);
    let inbox = spawn(&["message", "inbox", "--fleet", "f", "--as", "a"]);
    // A deliberate hold, not a wait for state: the lock must outlast 3 s.
    std::thread::sleep(Duration::from_secs(3));
    tx.commit().unwrap();
    for child in [send, inbox] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", transcript(&out));
        assert!(started.elapsed() >= Duration::from_millis(2900));
    }
    let stored: i64 = h
        .registry()
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE body = CAST('held' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1);
}

/// Makes `path` immutable with `chattr +i` (root ignores mode bits); `None` when the
/// filesystem or the container refuses.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn set(path: &std::path::Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(path.to_owned()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_registry_is_a_clear_error_and_stays_unchanged() {
    let Some(h) = Harness::start() else { return };
    register(&h);
    h.ok(&[
        "message", "send", "--fleet", "f", "--as", "a", "--to", "b", "before",
    ]);
    let before = std::fs::read(h.db()).unwrap();
    let Some(_guard) = Immutable::set(&h.db()) else {
        cafleet::tmux::testing::say_skipped(
            "`chattr +i` is refused on this filesystem, so no read-only file",
        );
        return;
    };
    for args in [
        &[
            "message", "send", "--fleet", "f", "--as", "a", "--to", "b", "after",
        ][..],
        &["message", "inbox", "--fleet", "f", "--as", "b"][..],
    ] {
        let out = h.run(args);
        assert_clear_failure(&out);
        assert_eq!(
            std::fs::read(h.db()).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn junk_and_truncated_registries_are_clear_errors_and_stay_unchanged() {
    let Some(h) = Harness::start() else { return };
    let junk: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(h.db(), &junk).unwrap();
    for args in [
        &["ps"][..],
        &[
            "message", "send", "--fleet", "f", "--as", "a", "--to", "b", "x",
        ][..],
        &["db", "init"][..],
    ] {
        let out = h.run(args);
        assert_clear_failure(&out);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("corrupt"),
            "{}",
            transcript(&out)
        );
        assert_eq!(
            std::fs::read(h.db()).unwrap(),
            junk,
            "{args:?} changed the file"
        );
    }

    // A real registry cut short: the header is intact, most pages are gone.
    std::fs::remove_file(h.db()).unwrap();
    register(&h);
    {
        let conn = h.registry();
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO messages (fleet_id, sender, recipient, body)
             SELECT 1, 'a', 'b', CAST(printf('message %d %.200c', i, 'x') AS BLOB) FROM n;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    }
    let full = std::fs::read(h.db()).unwrap();
    assert!(full.len() > 100_000, "{}", full.len());
    let cut = full[..full.len() / 3].to_vec();
    std::fs::write(h.db(), &cut).unwrap();
    for args in [
        &["message", "inbox", "--fleet", "f", "--as", "b", "--all"][..],
        &["message", "list", "--fleet", "f", "--as", "a"][..],
    ] {
        let out = h.run(args);
        assert_clear_failure(&out);
        assert_eq!(
            std::fs::read(h.db()).unwrap(),
            cut,
            "{args:?} changed the file"
        );
    }
}

/// id, sender, recipient, body, kind, state, created_at
type MessageColumns = (i64, String, String, Vec<u8>, String, String, String);

#[test]
fn send_killed_at_any_point_leaves_only_whole_rows() {
    let Some(h) = Harness::start() else { return };
    register(&h);
    let body = "whole message ".repeat(50);
    let mut attempts = 0;
    for delay_us in (0..3_000).step_by(150) {
        let mut child = h
            .cmd()
            .args([
                "message", "send", "--fleet", "f", "--as", "a", "--to", "b", &body,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(delay_us));
        let _ = child.kill();
        let _ = child.wait();
        attempts += 1;
    }
    let conn = h.registry();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut stmt = conn
        .prepare("SELECT id, sender, recipient, body, kind, state, created_at FROM messages")
        .unwrap();
    let rows: Vec<MessageColumns> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(rows.len() <= attempts);
    for (id, sender, recipient, stored, kind, state, created) in &rows {
        assert_eq!((sender.as_str(), recipient.as_str()), ("a", "b"), "#{id}");
        assert_eq!(stored, body.as_bytes(), "#{id}");
        assert_eq!(kind, "message");
        assert!(
            ["queued", "notified"].contains(&state.as_str()),
            "#{id} {state}"
        );
        assert!(!created.is_empty());
    }
    eprintln!("{} of {attempts} killed sends had committed", rows.len());
    h.ok(&[
        "message", "send", "--fleet", "f", "--as", "a", "--to", "b", "after",
    ]);
    let out = h.ok(&["message", "inbox", "--fleet", "f", "--as", "b", "--json"]);
    let inbox: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inbox.as_array().unwrap().len(), rows.len() + 1);
}

const FLEET: &str = r#"version = 1
[fleet]
name = "ft"
[defaults]
backend = "fake"
[director]
prompt = "lead"
[[member]]
name = "m1"
[[member]]
name = "m2"
[[member]]
name = "m3"
[[member]]
name = "m4"
"#;

fn states(h: &Harness) -> Vec<(String, String)> {
    let out = h.ok(&["ps", "--fleet", "ft", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut states: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    states.sort();
    states
}

fn live_members(h: &Harness) -> Vec<String> {
    h.tagged("ft")
        .into_iter()
        .filter(|t| !t.3)
        .map(|t| t.1)
        .collect()
}

const ALL: [&str; 5] = ["director", "m1", "m2", "m3", "m4"];

#[test]
fn down_killed_half_way_converges_on_rerun() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("ft.toml", FLEET);
    h.ok(&["up", &file]);
    assert_eq!(live_members(&h), ALL);
    let mut child = h
        .cmd()
        .args(["down", &file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has started killing panes (or it finished first).
    wait_until(Duration::from_secs(10), || {
        h.tagged("ft").len() < ALL.len() || matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.kill();
    let _ = child.wait();
    h.ok(&["down", &file]);
    assert!(h.tagged("ft").is_empty(), "{:?}", h.tagged("ft"));
    h.ok(&["down", &file]);
    h.ok(&["up", &file]);
    assert_eq!(live_members(&h), ALL);
}

#[test]
fn a_killed_tmux_server_shows_dead_and_up_restores_every_agent() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("ft.toml", FLEET);
    h.ok(&["up", &file]);
    let status = Command::new("tmux")
        .arg("-S")
        .arg(h.server.socket_path())
        .arg("kill-server")
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        wait_until(Duration::from_secs(5), || {
            states(&h).iter().all(|(_, s)| s == "dead")
        }),
        "{:?}",
        states(&h)
    );
    let out = h.ok(&["up", &file]);
    assert!(
        out.contains("Plan: 5 to create") || out.contains("5 to recreate"),
        "{out}"
    );
    assert_eq!(live_members(&h), ALL);
    assert!(
        states(&h).iter().all(|(_, s)| s != "dead"),
        "{:?}",
        states(&h)
    );
}

#[test]
fn a_pane_closed_by_hand_shows_dead_and_up_recreates_only_it() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("ft.toml", FLEET);
    h.ok(&["up", &file]);
    let before = h.tagged("ft");
    let m2 = before.iter().find(|t| t.1 == "m2").unwrap().0.clone();
    let status = Command::new("tmux")
        .arg("-S")
        .arg(h.server.socket_path())
        .args(["kill-pane", "-t", &m2])
        .status()
        .unwrap();
    assert!(status.success());
    let m2_state = || {
        states(&h)
            .into_iter()
            .find(|(n, _)| n == "m2")
            .map(|(_, s)| s)
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(5), || m2_state() == "dead"),
        "{}",
        m2_state()
    );
    let out = h.ok(&["up", &file]);
    assert!(
        out.contains("Plan: 1 to create, 0 to recreate, 0 to remove, 4 unchanged"),
        "{out}"
    );
    assert!(out.contains("+ create m2"), "{out}");
    let after = h.tagged("ft");
    assert_eq!(after.len(), ALL.len(), "{after:?}");
    for (pane, member, _, dead) in &after {
        assert!(!dead, "{member}");
        let old = before.iter().find(|t| &t.1 == member).unwrap();
        if member == "m2" {
            assert_ne!(&old.0, pane, "m2 has a new pane");
        } else {
            assert_eq!(&old.0, pane, "{member} was left alone");
        }
    }
}
