//! One rule for machine-readable output: `--json` prints exactly one JSON document (an
//! array or an object) on every command that has it; the one stream, `events --jsonl`,
//! prints JSON Lines. Every command with `--json` is found from the command line
//! definition and run here, so a new one must join the table below.

mod common;

use std::collections::BTreeSet;

use clap::CommandFactory;
use common::{Harness, transcript};

/// Every command path (`message inbox`) that takes `--json`.
fn commands_with_json(cmd: &clap::Command, path: &str, out: &mut BTreeSet<String>) {
    if cmd.get_arguments().any(|a| a.get_long() == Some("json")) {
        out.insert(path.trim().to_string());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        commands_with_json(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

/// Stdout must be one JSON array or object, and nothing else.
fn one_document(args: &[&str], output: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "`cafleet {}` did not print one JSON document ({err}):\n{}",
            args.join(" "),
            transcript(output)
        )
    });
    assert!(
        value.is_array() || value.is_object(),
        "`cafleet {}`: {value}",
        args.join(" ")
    );
    value
}

/// The commands whose document is an array: they list things.
const ARRAYS: [&str; 8] = [
    "ps",
    "events",
    "member list",
    "fleet list",
    "message inbox",
    "message list",
    "message ack",
    "message broadcast",
];

#[test]
fn every_json_flag_prints_one_document_and_events_jsonl_streams_lines() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "js.toml",
        r#"version = 1
[fleet]
name = "js"
[defaults]
backend = "fake"
[director]
[[member]]
name = "coder"
"#,
    );
    let skills = h.home.path().join("project");
    std::fs::create_dir_all(&skills).expect("project dir");
    let skills = skills.to_string_lossy().into_owned();
    // An (empty) registry of the Python cafleet 0.22, for `db import-python`.
    let python = h.home.path().join("python.db");
    rusqlite::Connection::open(&python)
        .and_then(|conn| {
            conn.execute_batch(
                "CREATE TABLE alembic_version (version_num TEXT);
                 INSERT INTO alembic_version VALUES ('0006');
                 CREATE TABLE fleets (fleet_id INTEGER, name TEXT, created_at TEXT,
                                      deleted_at TEXT, director_member_id INTEGER);
                 CREATE TABLE members (member_id INTEGER, fleet_id INTEGER, name TEXT,
                                       description TEXT, status TEXT, registered_at TEXT,
                                       deregistered_at TEXT);
                 CREATE TABLE member_placements (member_id INTEGER, coding_agent TEXT,
                                                 mux_pane_id TEXT, mux_session TEXT);
                 CREATE TABLE messages (message_id INTEGER, owner_member_id INTEGER,
                                        from_member_id INTEGER, to_member_id INTEGER,
                                        type TEXT, created_at TEXT, status_state TEXT,
                                        status_timestamp TEXT, origin_message_id INTEGER,
                                        text TEXT);",
            )
        })
        .expect("a Python registry");
    let python = python.to_string_lossy().into_owned();
    h.ok(&["up", &file, "--wait"]);

    // In order: a message to show, ack and list; `done` and `down` last.
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("up", vec!["up", &file, "--json"]),
        ("plan", vec!["plan", &file, "--json"]),
        ("config show", vec!["config", "show", &file, "--json"]),
        ("ps", vec!["ps", "--json"]),
        ("fleet list", vec!["fleet", "list", "--json"]),
        ("fleet show", vec!["fleet", "show", "js", "--json"]),
        (
            "member list",
            vec!["member", "list", "--fleet", "js", "--json"],
        ),
        (
            "member show",
            vec!["member", "show", "coder", "--fleet", "js", "--json"],
        ),
        (
            "monitor status",
            vec!["monitor", "status", "--fleet", "js", "--json"],
        ),
        (
            "message send",
            vec![
                "message", "send", "--fleet", "js", "--as", "director", "--to", "coder", "one",
                "--json",
            ],
        ),
        (
            "message broadcast",
            vec![
                "message",
                "broadcast",
                "--fleet",
                "js",
                "--as",
                "director",
                "all",
                "--json",
            ],
        ),
        (
            "message show",
            vec![
                "message", "show", "1", "--fleet", "js", "--as", "coder", "--json",
            ],
        ),
        (
            "message inbox",
            vec![
                "message", "inbox", "--fleet", "js", "--as", "coder", "--json",
            ],
        ),
        (
            "message ack",
            vec![
                "message", "ack", "1", "--fleet", "js", "--as", "coder", "--json",
            ],
        ),
        (
            "message list",
            vec![
                "message", "list", "--fleet", "js", "--as", "coder", "--json",
            ],
        ),
        ("events", vec!["events", "--fleet", "js", "--json"]),
        ("doctor", vec!["doctor", "--json"]),
        (
            "skill install",
            vec![
                "skill", "install", "--agent", "claude", "--dir", &skills, "--json",
            ],
        ),
        (
            "skill list",
            vec!["skill", "list", "--dir", &skills, "--json"],
        ),
        (
            "done",
            vec![
                "done", "--fleet", "js", "--as", "director", "finished", "--json",
            ],
        ),
        (
            "member create",
            vec![
                "member",
                "create",
                "--fleet",
                "js",
                "--name",
                "extra",
                "--backend",
                "fake",
                "--json",
            ],
        ),
        (
            "db import-python",
            vec!["db", "import-python", &python, "--json"],
        ),
        ("down", vec!["down", &file, "--json"]),
    ];

    let mut expected = BTreeSet::new();
    commands_with_json(&cafleet::cli::Cli::command(), "", &mut expected);
    let covered: BTreeSet<String> = runs.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(covered, expected, "every command with --json is run here");

    for (name, args) in &runs {
        let output = h.run(args);
        // doctor reports missing agents with a non-zero exit; its JSON is still whole.
        if *name != "doctor" && *name != "plan" {
            assert!(output.status.success(), "{name}:\n{}", transcript(&output));
        }
        let value = one_document(args, &output);
        // Lists are arrays, everything else an object (README, "JSON output").
        assert_eq!(
            value.is_array(),
            ARRAYS.contains(name),
            "`cafleet {}` printed {}",
            args.join(" "),
            if value.is_array() {
                "an array"
            } else {
                "an object"
            }
        );
        if *name == "events" {
            assert!(value.as_array().is_some_and(|a| a.len() > 2), "{value}");
        }
    }

    // The stream: one object a line, as many lines as `--json` has elements.
    let array = one_document(&["events"], &h.run(&["events", "--fleet", "js", "--json"]));
    let lines = h.ok(&["events", "--fleet", "js", "--jsonl"]);
    let objects: Vec<serde_json::Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect();
    assert!(objects.iter().all(serde_json::Value::is_object));
    assert_eq!(objects.len(), array.as_array().map_or(0, Vec::len));
    assert!(
        serde_json::from_str::<serde_json::Value>(&lines).is_err(),
        "JSON Lines, not one document"
    );

    // An array that never ends is refused, with the flag that streams.
    let follow = h.run(&["events", "--fleet", "js", "--json", "--follow"]);
    assert_eq!(follow.status.code(), Some(2), "{}", transcript(&follow));
    let stderr = String::from_utf8_lossy(&follow.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("hint:") && stderr.contains("--jsonl"),
        "{stderr}"
    );
}
