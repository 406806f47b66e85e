//! Hostile names and values on every command that takes them: path pieces, shell
//! syntax, flags, 10 KB names, unicode, empty strings, non-numeric and huge ids, garbage
//! durations. Each is refused with exit 1, 2 or 3 and an `error:` line, never a panic,
//! and a refused command writes no row.

mod common;

use common::{Harness, transcript};

fn register(h: &Harness) {
    h.register_idle("f", &["a".into(), "b".into()]);
}

/// Rows in every table a command could write to.
fn counts(h: &Harness) -> Vec<i64> {
    let conn = h.registry();
    ["fleets", "agents", "messages", "events", "monitors"]
        .iter()
        .map(|t| {
            conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        })
        .collect()
}

fn hostile_names() -> Vec<String> {
    [
        "../x",
        "a/b",
        "a;b",
        "a;",
        "$(id)",
        "`id`",
        "-rf",
        "--",
        "a b",
        "a\nb",
        "a\tb",
        "\u{1b}[31m",
        "名前",
        "😀",
        "\u{202e}evil",
        "%0",
        "@1",
        "#{pane_id}",
        "x\u{7f}y",
        "A",
        "a.b:c",
        "",
        " ",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["x".repeat(10 * 1024), "é".repeat(5 * 1024)])
    .collect()
}

fn assert_refused(h: &Harness, args: &[&str]) {
    check(h, args, false);
}

/// `down` of a fleet that is not registered has nothing to do and says so (exit 0), so
/// re-running it is always safe; it still must not panic or write.
fn assert_harmless(h: &Harness, args: &[&str]) {
    check(h, args, true);
}

fn check(h: &Harness, args: &[&str], may_succeed: bool) {
    let before = counts(h);
    let out = h.run(args);
    let text = transcript(&out);
    let shown: Vec<String> = args.iter().map(|a| a.chars().take(40).collect()).collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if may_succeed && out.status.success() {
        assert!(!stderr.contains("panicked"), "{shown:?}:\n{text}");
        assert_eq!(counts(h), before, "{shown:?} wrote a row:\n{text}");
        return;
    }
    assert!(
        matches!(out.status.code(), Some(1..=3)),
        "{shown:?} exited {:?}:\n{text}",
        out.status.code()
    );
    assert!(stderr.contains("error:"), "{shown:?}:\n{text}");
    assert!(!stderr.contains("panicked"), "{shown:?}:\n{text}");
    assert_eq!(counts(h), before, "{shown:?} wrote a row:\n{text}");
}

#[test]
fn hostile_names_are_refused_without_writing() {
    let Some(h) = Harness::start() else { return };
    register(&h);
    let file = h.write("fleet.toml", "version = 1\n");
    for name in hostile_names() {
        let n = name.as_str();
        assert_refused(
            &h,
            &[
                "message", "send", "--fleet", "f", "--as", "a", "--to", n, "hi",
            ],
        );
        assert_refused(
            &h,
            &[
                "message", "send", "--fleet", "f", "--as", n, "--to", "b", "hi",
            ],
        );
        assert_refused(
            &h,
            &[
                "message", "send", "--fleet", n, "--as", "a", "--to", "b", "hi",
            ],
        );
        assert_refused(&h, &["message", "inbox", "--fleet", "f", "--as", n]);
        assert_refused(
            &h,
            &["message", "list", "--fleet", "f", "--as", "a", "--with", n],
        );
        assert_refused(
            &h,
            &["message", "broadcast", "--fleet", n, "--as", "a", "hi"],
        );
        assert_refused(
            &h,
            &[
                "member",
                "create",
                "--fleet",
                "f",
                "--name",
                n,
                "--backend",
                "fake",
            ],
        );
        assert_refused(&h, &["member", "delete", "--fleet", "f", n]);
        assert_refused(&h, &["fleet", "create", n, "--backend", "fake"]);
        assert_refused(&h, &["fleet", "show", n]);
        assert_refused(&h, &["ps", "--fleet", n]);
        assert_harmless(&h, &["down", "--fleet", n]);
        assert_refused(&h, &["up", &file, "--recreate", n]);
    }
}

#[test]
fn bad_ids_and_durations_are_refused_without_writing() {
    let Some(h) = Harness::start() else { return };
    register(&h);
    h.ok(&[
        "message", "send", "--fleet", "f", "--as", "a", "--to", "b", "hi",
    ]);
    let who = ["--fleet", "f", "--as", "b"];
    for id in [
        "x",
        "-1",
        "0",
        "#",
        "##1",
        "1.5",
        "1e3",
        "0x10",
        " 1",
        "",
        "99999999999999999999999",
        "9223372036854775807",
        "-9223372036854775808",
        "١",
    ] {
        let mut show = vec!["message", "show", "--fleet", "f", "--as", "b", "--", id];
        assert_refused(&h, &show);
        show.retain(|a| *a != "--");
        if !id.starts_with('-') {
            assert_refused(&h, &show);
        }
        assert_refused(
            &h,
            &["message", "ack", "--fleet", "f", "--as", "b", "--", id],
        );
    }
    for timeout in [
        "",
        "x",
        "-1s",
        "1",
        "10q",
        "99999999999999999999h",
        "1s2",
        "∞",
        "1 s",
    ] {
        let args = ["message", "inbox", "--wait", "--timeout", timeout];
        let mut all: Vec<&str> = args.to_vec();
        all.extend(who);
        assert_refused(&h, &all);
    }
}
