//! The PostgreSQL registry end to end: real `cafleet` commands with
//! `CAFLEET_DATABASE_URL=postgres://…` (and `--db postgres://…`) on a private PostgreSQL
//! server (`tests/postgres.sh` starts one and sets `CAFLEET_TEST_POSTGRES_URL`; without
//! it every test here says skipped, and fails under CI). Each test has a schema of its
//! own. The URLs carry a password (the test server trusts every login, so any password
//! passes) and no output may show it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cafleet::registry::Registry;
use common::{Harness, transcript};

const SECRET: &str = "hunter2-s3cret";

/// A harness on a new PostgreSQL schema whose URL carries [`SECRET`] as the password.
fn harness() -> Option<Harness> {
    let mut h = Harness::start_postgres()?;
    let url = h.db_url.take().expect("a PostgreSQL harness");
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let rest = match rest.split_once('@') {
        Some((user, host)) => format!("{}:{SECRET}@{host}", user.split(':').next().unwrap_or(user)),
        None => format!("cafleet:{SECRET}@{rest}"),
    };
    h.db_url = Some(format!("{scheme}://{rest}"));
    Some(h)
}

/// Fails the test when the output shows the password.
fn no_secret(out: &std::process::Output) {
    let text = transcript(out);
    assert!(!text.contains(SECRET), "the password was printed:\n{text}");
}

fn run(h: &Harness, args: &[&str]) -> std::process::Output {
    let out = h.run(args);
    no_secret(&out);
    out
}

fn ok(h: &Harness, args: &[&str]) -> String {
    let out = run(h, args);
    assert!(
        out.status.success(),
        "cafleet {args:?} failed:\n{}",
        transcript(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `fleet delete NAME` when dropped.
struct Deleted<'a>(&'a Harness, &'a str);

impl Drop for Deleted<'_> {
    fn drop(&mut self) {
        let out = self.0.run(&["fleet", "delete", self.1]);
        if !std::thread::panicking() {
            assert!(out.status.success(), "{}", transcript(&out));
            no_secret(&out);
        }
    }
}

fn registry(h: &Harness) -> Registry {
    Registry::open(camino::Utf8Path::new(&h.location())).expect("open the PostgreSQL registry")
}

#[test]
fn messaging_commands_run_on_postgres_and_never_print_the_password() {
    let Some(h) = harness() else { return };
    // `fleet create` in a pane of the test server, then a member beside it.
    let director = h.server.placeholder().pane.to_string();
    let socket = h.server.socket_path().to_string_lossy().into_owned();
    let out = h
        .cmd()
        .env("TMUX", format!("{socket},1,0"))
        .env("TMUX_PANE", &director)
        .env_remove("CAFLEET_TMUX_SOCKET")
        .args(["fleet", "create", "adhoc", "--backend", "fake"])
        .output()
        .expect("run");
    no_secret(&out);
    assert!(out.status.success(), "{}", transcript(&out));
    // The fleet's courier outlives this test's tmux server and HOME on PostgreSQL (its
    // registry does not vanish with the temp folder): deleting the fleet ends it, even
    // when an assertion below fails.
    let _courier = Deleted(&h, "adhoc");
    let created = ok(
        &h,
        &[
            "member",
            "create",
            "--fleet",
            "adhoc",
            "--name",
            "w1",
            "--backend",
            "fake",
        ],
    );
    assert!(created.contains("created w1"), "{created}");
    let members = ok(&h, &["member", "list", "--fleet", "adhoc", "--json"]);
    assert!(
        members.contains("\"w1\"") && members.contains("\"director\""),
        "{members}"
    );

    h.register_idle("shop", &["api".to_string(), "web".to_string()]);
    let sent = ok(
        &h,
        &[
            "message", "send", "--fleet", "shop", "--as", "api", "--to", "web", "--json", "hello",
        ],
    );
    let sent: serde_json::Value = serde_json::from_str(&sent).expect("send json");
    let id = sent["id"]
        .as_i64()
        .or_else(|| sent[0]["id"].as_i64())
        .expect("message id");
    let inbox = ok(
        &h,
        &[
            "message", "inbox", "--fleet", "shop", "--as", "web", "--json",
        ],
    );
    let inbox: serde_json::Value = serde_json::from_str(&inbox).expect("inbox json");
    assert_eq!(inbox[0]["body"], "hello");
    assert_eq!(inbox[0]["id"].as_i64(), Some(id));
    let again = ok(
        &h,
        &[
            "message", "inbox", "--fleet", "shop", "--as", "web", "--json",
        ],
    );
    assert_eq!(again.trim(), "[]", "a message is handed out once");
    ok(
        &h,
        &[
            "message",
            "ack",
            "--fleet",
            "shop",
            "--as",
            "web",
            &id.to_string(),
        ],
    );
    let row = registry(&h)
        .message(registry(&h).require_fleet("shop").unwrap().id, id)
        .unwrap()
        .expect("stored");
    assert_eq!(row.state, "acked");
    assert!(
        row.acked_at
            .as_deref()
            .is_some_and(|t| t.len() == 24 && t.ends_with('Z')),
        "{row:?}"
    );

    let ps = ok(&h, &["ps", "--json"]);
    assert!(ps.contains("\"shop\""), "{ps}");
    let path = ok(&h, &["db", "path"]);
    assert!(
        path.starts_with("postgres://") && path.contains(":***@"),
        "{path}"
    );
    ok(&h, &["db", "init"]);
    let doctor = run(&h, &["doctor", "--json"]);
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        report.contains(&format!(
            "(schema version {})",
            cafleet::registry::SCHEMA_VERSION
        )),
        "{report}"
    );

    // `--db` selects it too, and wins over the environment.
    let mut cmd = h.cmd();
    cmd.env("CAFLEET_DATABASE_URL", h.home.path().join("other.db"));
    let out = cmd
        .args(["--db", &h.location(), "fleet", "list"])
        .output()
        .unwrap();
    no_secret(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("shop"),
        "{}",
        transcript(&out)
    );
    assert!(!h.home.path().join("other.db").exists());
}

#[test]
fn an_unreachable_server_is_an_error_with_a_hint_and_no_password() {
    let Some(h) = Harness::start() else { return };
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://cafleet:{SECRET}@127.0.0.1:{port}/cafleet?connect_timeout=5");
    let out = h
        .cmd()
        .args(["--db", &url, "fleet", "list"])
        .output()
        .unwrap();
    no_secret(&out);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: cannot open the registry `postgres://cafleet:***@127.0.0.1"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    let bad = h
        .cmd()
        .args(["--db", "postgres://u:pw@host:notaport/db", "fleet", "list"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("error:") && err.contains("hint:") && !err.contains(":pw@"),
        "{err}"
    );
}

/// 16 writers × 40 sends while 4 readers run `inbox` and `ack` in a loop, every one a
/// separate `cafleet` process on the PostgreSQL registry: nothing is lost, nothing is
/// handed out twice, nothing fails. `bench/postgres.sh` runs 16 × 1,000.
#[test]
fn concurrent_senders_and_readers_lose_nothing_on_postgres() {
    const SENDERS: usize = 16;
    const SENDS: usize = 40;
    const READERS: usize = 4;
    let Some(h) = harness() else { return };
    let names: Vec<String> = (0..SENDERS)
        .map(|i| format!("s{i}"))
        .chain((0..READERS).map(|i| format!("r{i}")))
        .collect();
    h.register_idle("load", &names);
    let sending = AtomicBool::new(true);
    let started = Instant::now();
    let (failed_sends, read) = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let h = &h;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for n in 0..SENDS {
                        let (me, to, body) = (
                            format!("s{s}"),
                            format!("r{}", s % READERS),
                            format!("s{s}-{n}"),
                        );
                        let out = run(
                            h,
                            &[
                                "message", "send", "--fleet", "load", "--as", &me, "--to", &to,
                                &body,
                            ],
                        );
                        if !out.status.success() {
                            failures.push(transcript(&out));
                        }
                    }
                    failures
                })
            })
            .collect();
        let readers: Vec<_> = (0..READERS)
            .map(|r| {
                let (h, sending) = (&h, &sending);
                scope.spawn(move || {
                    let me = format!("r{r}");
                    let (mut seen, mut failures) = (Vec::new(), Vec::new());
                    loop {
                        let done = !sending.load(Ordering::SeqCst);
                        let out = run(
                            h,
                            &["message", "inbox", "--fleet", "load", "--as", &me, "--json"],
                        );
                        if !out.status.success() {
                            failures.push(transcript(&out));
                            if failures.len() > 5 {
                                break;
                            }
                            continue;
                        }
                        let rows: Vec<serde_json::Value> =
                            serde_json::from_slice(&out.stdout).expect("inbox json");
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
                            let out = run(h, &args);
                            if !out.status.success() {
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
        let failed: Vec<String> = senders
            .into_iter()
            .flat_map(|s| s.join().expect("sender"))
            .collect();
        sending.store(false, Ordering::SeqCst);
        let read: Vec<_> = readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .collect();
        (failed, read)
    });
    eprintln!(
        "{} sends with inbox/ack loops on PostgreSQL took {:?}",
        SENDERS * SENDS,
        started.elapsed()
    );
    assert!(
        failed_sends.is_empty(),
        "sends failed:\n{}",
        failed_sends.join("\n")
    );
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
    let reg = registry(&h);
    let fleet = reg.require_fleet("load").unwrap();
    let rows = reg.fleet_messages_after(fleet.id, 0).unwrap();
    assert_eq!(rows.len(), SENDERS * SENDS, "every send stored once");
    let bodies: BTreeSet<String> = rows.iter().map(|m| m.body_text().into_owned()).collect();
    assert_eq!(bodies.len(), SENDERS * SENDS, "no body stored twice");
    for m in &rows {
        assert_eq!(m.state, "acked", "message #{} not acked", m.id);
        assert_eq!(
            handed_out.get(&m.id),
            Some(&m.body_text().into_owned()),
            "message #{} never read",
            m.id
        );
    }
}

/// `up` starts a fake team on the PostgreSQL registry: the members' panes get the URL
/// through their environment, the rally's messages are delivered (the per-agent delivery
/// lock is an advisory lock), `ps` shows them, and `down` removes what `up` made.
#[test]
fn up_delivers_and_down_removes_on_postgres() {
    let Some(h) = harness() else { return };
    let file = h.write(
        "rally.toml",
        r#"version = 1
[fleet]
name = "rally"
[defaults]
backend = "fake"
[director]
[[member]]
name = "pong"
fake = { reply = "pong {n}", max_replies = 2 }
[[member]]
name = "ping"
depends_on = ["pong"]
fake = { opener = { to = "pong", text = "ping" }, reply = "ping {n}", max_replies = 2 }
"#,
    );
    ok(&h, &["up", &file, "--wait"]);
    // Ends the courier even when an assertion fails before `down`.
    let _courier = Deleted(&h, "rally");
    let reg = registry(&h);
    let fleet = reg.require_fleet("rally").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = reg.fleet_messages_after(fleet.id, 0).unwrap();
        let done = rows
            .iter()
            .filter(|m| m.state == "read" || m.state == "acked")
            .count();
        if done >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rally did not run on PostgreSQL: {:?}\n{}",
            rows.iter()
                .map(|m| (&m.sender, &m.recipient, &m.state))
                .collect::<Vec<_>>(),
            ok(&h, &["events", "--fleet", "rally"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ps = ok(&h, &["ps", "--json"]);
    assert!(ps.contains("\"ping\"") && ps.contains("\"pong\""), "{ps}");
    ok(&h, &["down", &file]);
    assert!(h.tagged("rally").is_empty(), "down left panes");
    let agents = registry(&h).agents(fleet.id).unwrap();
    assert!(
        agents
            .iter()
            .all(|a| a.status == "stopped" || a.status == "removed"),
        "{agents:?}"
    );
}
