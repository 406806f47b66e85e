//! What cafleet prints to a terminal from stored data shows control characters as visible
//! stand-ins (`␛`, `␇`…, see `src/safe_text.rs`); `--json` keeps the exact text (issue
//! 15: a model, a description and a nudge sender carrying escape sequences).

mod common;

use common::{Harness, transcript};

const MODEL: &str = "m\u{1b}[5m";
const DESCRIPTION: &str = "\u{1b}]0;HACKED\u{7}\u{1b}[2J";
const OSC52: &str = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}";

fn up(h: &Harness) {
    let file = h.write(
        "s.toml",
        "version = 1\n[fleet]\nname = \"s\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
}

/// No byte a terminal acts on: C0 but LF and tab, DEL, and C1 (as UTF-8, `C2 80`–`C2 9F`).
fn assert_inert(what: &str, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        let c1 = *b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..0xa0).contains(n));
        assert!(
            !((*b < 0x20 && *b != b'\n' && *b != b'\t') || *b == 0x7f || c1),
            "{what} printed control byte {b:#04x}:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn listings_show_escape_sequences_as_stand_ins_and_json_keeps_them() {
    let Some(h) = Harness::start() else { return };
    up(&h);
    let out = h.run(&[
        "member",
        "create",
        "--name",
        "evil",
        "--backend",
        "fake",
        "--model",
        MODEL,
        "--description",
        DESCRIPTION,
    ]);
    assert!(out.status.success(), "{}", transcript(&out));

    for args in [
        &["ps"][..],
        &["member", "list"],
        &["member", "show", "evil"],
        &["fleet", "show", "s"],
        &["fleet", "list"],
        &["events"],
        &["monitor", "status"],
    ] {
        let out = h.run(args);
        assert!(out.status.success(), "{args:?}: {}", transcript(&out));
        assert_inert(&format!("{args:?}"), &out.stdout);
        assert_inert(&format!("{args:?} (stderr)"), &out.stderr);
    }
    let ps = h.ok(&["ps"]);
    assert!(ps.contains("m␛[5m"), "{ps}");
    let show = h.ok(&["member", "show", "evil"]);
    assert!(show.contains("description: ␛]0;HACKED␇␛[2J"), "{show}");

    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["member", "show", "evil", "--json"])).expect("json");
    assert_eq!(json["agent"]["model"], MODEL);
    assert_eq!(json["agent"]["description"], DESCRIPTION);
    let ps: serde_json::Value = serde_json::from_str(&h.ok(&["ps", "--json"])).expect("json");
    assert!(
        ps.as_array()
            .expect("rows")
            .iter()
            .any(|r| r["model"] == MODEL),
        "{ps}"
    );
}

#[test]
fn inbox_and_message_views_neutralise_senders_and_bodies() {
    let Some(h) = Harness::start() else { return };
    up(&h);
    // A body with escapes, sent the ordinary way.
    h.ok(&[
        "message",
        "send",
        "--as",
        "director",
        "--to",
        "w",
        &format!("look {OSC52} here\r\nline two\u{1b}[2J"),
    ]);
    // A nudge whose sender carries OSC 52, as stored before `--as` was checked (the CLI
    // now refuses such a name): straight into the registry.
    let fleet_id: i64 = h
        .registry()
        .query_row("SELECT id FROM fleets WHERE name = 's'", [], |r| r.get(0))
        .expect("fleet");
    h.registry()
        .execute(
            "INSERT INTO messages (fleet_id, sender, recipient, body, kind) VALUES (?1, ?2, 'w', ?3, 'nudge')",
            rusqlite::params![fleet_id, OSC52, format!("wake {OSC52}").into_bytes()],
        )
        .expect("insert");

    let list = h.run(&["message", "list", "--as", "w"]);
    assert!(list.status.success(), "{}", transcript(&list));
    assert_inert("message list", &list.stdout);
    let show = h.run(&["message", "show", "2", "--as", "w"]);
    assert!(show.status.success(), "{}", transcript(&show));
    assert_inert("message show", &show.stdout);
    let events = h.run(&["events"]);
    assert_inert("events", &events.stdout);

    // `--all`: the fake agent may have read its inbox already.
    let inbox = h.run(&["message", "inbox", "--as", "w", "--all"]);
    assert!(inbox.status.success(), "{}", transcript(&inbox));
    assert_inert("inbox", &inbox.stdout);
    let text = String::from_utf8_lossy(&inbox.stdout);
    assert!(text.contains("from ␛]52;c;cm0gLXJmIH4=␇ (nudge)"), "{text}");
    assert!(
        text.contains("look ␛]52;c;cm0gLXJmIH4=␇ here\nline two␛[2J"),
        "{text}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["message", "inbox", "--as", "w", "--all", "--json"]))
            .expect("json");
    let rows = json.as_array().expect("rows");
    assert!(rows.iter().any(|m| m["sender"] == OSC52), "{json}");
}
