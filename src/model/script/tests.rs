//! Tests of the model script: parsing, diagnostics and turn matching.

use std::time::Duration;

use super::*;

fn file(text: &str) -> SourceFile {
    SourceFile {
        path: "script.toml".into(),
        text: text.into(),
    }
}

fn parse(text: &str) -> Script {
    match Script::parse(&file(text)) {
        Ok(script) => script,
        Err(diagnostics) => panic!("{}", diagnostics.render(false)),
    }
}

fn errors(text: &str) -> String {
    match Script::parse(&file(text)) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(diagnostics) => diagnostics.render(false),
    }
}

const PING: &str = r#"
version = 1

[[turn]]
match = 'message #(?P<id>\d+) from (?P<from>[\w-]+)'
model = "member-.*"
run = ["cafleet message inbox", "cafleet message ack ${id}", "cafleet message send --to $from pong"]
delay = "2s"
reply = "answered $from"

[[turn]]
contains = "hello"
reply = "hi"

[default]
reply = "nothing scripted"
"#;

#[test]
fn a_turn_runs_its_commands_in_order_then_replies() {
    let script = parse(PING);
    let text = "You have message #12 from director-1: ping";
    let step = |calls| script.step(text, "member-a", calls);
    assert_eq!(step(0).action, Action::Run("cafleet message inbox".into()));
    assert_eq!(step(1).action, Action::Run("cafleet message ack 12".into()));
    assert_eq!(
        step(2).action,
        Action::Run("cafleet message send --to director-1 pong".into())
    );
    assert_eq!(step(3).action, Action::Reply("answered director-1".into()));
    assert_eq!(step(9).action, Action::Reply("answered director-1".into()));
    assert_eq!(step(0).turn, Some(0));
    assert_eq!(step(0).delay, Duration::from_secs(2));
}

#[test]
fn the_first_matching_turn_wins_and_the_model_must_match_whole() {
    let script = parse(PING);
    // `member-.*` must match the whole name: `my-member-a` falls through.
    let step = script.step("message #1 from x", "my-member-a", 0);
    assert_eq!(step.turn, None);
    assert_eq!(step.action, Action::Reply("nothing scripted".into()));
    let step = script.step("hello there", "any", 0);
    assert_eq!(step.turn, Some(1));
    assert_eq!(step.action, Action::Reply("hi".into()));
    assert_eq!(step.delay, Duration::ZERO);
}

#[test]
fn defaults_apply_when_the_script_says_nothing() {
    let script = parse("version = 1\n[[turn]]\nrun = [\"ls\"]\n");
    assert_eq!(script.step("", "m", 0).action, Action::Run("ls".into()));
    assert_eq!(
        script.step("", "m", 1).action,
        Action::Reply(DEFAULT_TURN_REPLY.into())
    );
    let empty = parse("version = 1\n");
    assert_eq!(
        empty.step("x", "m", 0).action,
        Action::Reply(DEFAULT_REPLY.into())
    );
}

#[test]
fn captures_expand_and_shell_variables_pass_through() {
    let script = parse(
        r#"version = 1
[[turn]]
match = '(\w+) (?P<b>\w+)'
run = ["echo $1-${b}-$b$$b > $HOME/${TMPDIR}/x $ ${not closed"]
"#,
    );
    assert_eq!(
        script.step("one two", "m", 0).action,
        Action::Run("echo one-two-two$b > $HOME/${TMPDIR}/x $ ${not closed".into())
    );
}

#[test]
fn a_group_that_did_not_take_part_expands_to_nothing() {
    let script = parse("version = 1\n[[turn]]\nmatch = 'a(?P<x>b)?'\nreply = '[$x]'\n");
    assert_eq!(script.step("a", "m", 9).action, Action::Reply("[]".into()));
}

#[test]
fn bad_toml_is_reported_with_a_caret() {
    insta::assert_snapshot!(errors("version = 1\n[[turn]\nreply = 'x'\n"));
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    insta::assert_snapshot!(errors("version = 1\n[[turn]]\nrun = ['ls']\nrepyl = 'x'\n"));
}

#[test]
fn every_meaning_problem_is_reported_at_once() {
    insta::assert_snapshot!(errors(
        r#"version = 2

[[turn]]
match = 'message #(?P<id>\d+'
delay = "2 seconds"

[[turn]]
match = 'from (?P<from>\w+)'
run = ["cafleet message send --to $form hi"]

[[turn]]
contains = "x"
reply = "${id}"

[[turn]]
match = "a"
contains = "b"
model = "("
"#
    ));
}

#[test]
fn the_committed_schema_matches_the_code() {
    let committed = include_str!("../../../schemas/model-script.schema.json");
    assert_eq!(
        schema_text().expect("schema"),
        committed,
        "schemas/model-script.schema.json is stale: run `cargo run -- model schema > schemas/model-script.schema.json`"
    );
}

#[test]
fn the_example_script_loads() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/scripts/ping-pong.toml"
    );
    let script = Script::load(Utf8Path::new(path), false).expect("example script");
    let step = script.step("New message #4 from director", "m", 2);
    assert_eq!(
        step.action,
        Action::Run("cafleet message send --to director 'pong'".into())
    );
}
