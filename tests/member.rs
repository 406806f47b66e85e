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

// -------------------------------------------------------------------------------------
// An audit trail that stays

/// The id in `message #12 to w: …`.
fn sent_id(out: &str) -> i64 {
    out.strip_prefix("message #")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {out:?}"))
}

#[test]
fn fleet_delete_keeps_the_history_and_ids_are_never_reused() {
    let Some(h) = Harness::start() else { return };
    up(&h);
    let send = |text: &str| {
        sent_id(&h.ok(&[
            "message", "send", "--fleet", "m", "--as", "director", "--to", "w", text,
        ]))
    };
    let first = send("before the delete");
    let out = h.ok(&["fleet", "delete", "m"]);
    assert!(out.contains("history stays readable"), "{out}");
    assert!(h.tagged("m").is_empty(), "its panes are gone");

    // Gone from the live listings, still readable.
    let listed = |args: &[&str]| {
        h.ok(args)
            .lines()
            .filter(|l| l.starts_with("m "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert!(listed(&["fleet", "list"]).is_empty());
    let all = h.ok(&["fleet", "list", "--all"]);
    assert!(
        all.lines()
            .any(|l| l.starts_with("m ") && l.contains("deleted")),
        "{all}"
    );
    let events = h.ok(&["events", "--fleet", "m"]);
    assert!(events.contains("fleet.delete"), "{events}");
    let history = h.ok(&["message", "list", "--fleet", "m", "--as", "director"]);
    assert!(history.contains(&format!("#{first:<5}")), "{history}");
    let again = h.run(&["fleet", "delete", "m"]);
    assert_eq!(again.status.code(), Some(3), "{}", transcript(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--purge"));

    // A new fleet takes the name; the old history stays apart, ids keep counting.
    up(&h);
    let second = send("after the delete");
    assert!(second > first, "message #{first} was handed out again");
    let history = h.ok(&["message", "list", "--fleet", "m", "--as", "director"]);
    assert!(!history.contains("before the delete"), "{history}");
    assert_eq!(listed(&["fleet", "list", "--all"]).len(), 2);

    // Only --purge erases, the deleted fleet of that name too; ids still never repeat.
    h.ok(&["fleet", "delete", "--purge", "m"]);
    let rows: i64 = h
        .registry()
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 0);
    assert!(listed(&["fleet", "list", "--all"]).is_empty());
    up(&h);
    assert!(send("after the purge") > second);
}

// -------------------------------------------------------------------------------------
// member create

/// The prompt recorded in `name`'s launch spec.
fn recorded_prompt(h: &Harness, name: &str) -> String {
    let spec: String = h
        .registry()
        .query_row(
            "SELECT spec_json FROM agents WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .expect("agent row");
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("spec json");
    spec["prompt"].as_str().unwrap_or_default().to_string()
}

#[test]
fn member_create_renders_its_prompt_reads_stdin_and_prints_json() {
    let Some(h) = Harness::start() else { return };
    up(&h);
    let out = h.ok(&[
        "member",
        "create",
        "--name",
        "t1",
        "--backend",
        "fake",
        "--json",
        "--prompt",
        "{{member.name}} of {{fleet.name}}, reporting to {{director.name}}; team: {{#each members}}{{name}} {{/each}}",
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["name"], "t1");
    assert_eq!(json["fleet"], "m");
    assert_eq!(json["role"], "member");
    assert!(
        json["pane"].as_str().unwrap_or("").starts_with('%'),
        "{json}"
    );
    assert_eq!(
        recorded_prompt(&h, "t1"),
        "t1 of m, reporting to director; team: w t1 "
    );

    let mut child = h
        .cmd()
        .args(["member", "create", "--name", "t2", "--backend", "fake"])
        .args(["--prompt-file", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"from stdin for {{member.name}}\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(recorded_prompt(&h, "t2"), "from stdin for t2\n");

    let bad = h.run(&[
        "member",
        "create",
        "--name",
        "t3",
        "--backend",
        "fake",
        "--prompt",
        "{{nope}}",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", transcript(&bad));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("error: the prompt template: undefined template variable `nope`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(
        !h.tagged("m").iter().any(|p| p.1 == "t3"),
        "nothing was started"
    );
}

#[test]
fn member_create_refuses_a_second_monitor_and_a_missing_program() {
    let Some(h) = Harness::start() else { return };
    up(&h);
    h.ok(&[
        "member",
        "create",
        "--name",
        "mon",
        "--backend",
        "fake",
        "--role",
        "monitor",
    ]);
    let second = h.run(&[
        "member",
        "create",
        "--name",
        "mon2",
        "--backend",
        "fake",
        "--role",
        "monitor",
    ]);
    assert_eq!(second.status.code(), Some(2), "{}", transcript(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("already has a monitoring member, `mon`"),
        "{stderr}"
    );

    // No `claude` on PATH: refused before any row or pane exists.
    let missing = h
        .cmd()
        .env("PATH", h.bin_with_only_tmux())
        .args(["member", "create", "--name", "c1", "--backend", "claude"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(1), "{}", transcript(&missing));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("not installed or not on PATH: `claude`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: nothing was created"), "{stderr}");
    let rows: i64 = h
        .registry()
        .query_row("SELECT count(*) FROM agents WHERE name = 'c1'", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(rows, 0);
}

/// `--arg` (repeatable) adds to the agent's command line, after cafleet's own and before
/// the prompt, as a fleet file's `args` do; a value may start with `-`.
#[test]
fn member_create_passes_extra_arguments_to_the_agent() {
    let Some(h) = Harness::start() else { return };
    up(&h);
    h.ok(&[
        "member",
        "create",
        "--name",
        "x1",
        "--backend",
        "command",
        "--arg=--permission-mode=acceptEdits",
        "--arg",
        "-v",
        "--",
        "sh",
        "-c",
        "sleep 60",
    ]);
    let spec: String = h
        .registry()
        .query_row("SELECT spec_json FROM agents WHERE name = 'x1'", [], |r| {
            r.get(0)
        })
        .expect("agent row");
    let spec: serde_json::Value = serde_json::from_str(&spec).expect("spec json");
    assert_eq!(
        spec["argv"],
        serde_json::json!([
            "sh",
            "-c",
            "sleep 60",
            "--permission-mode=acceptEdits",
            "-v"
        ]),
        "{spec}"
    );
}
