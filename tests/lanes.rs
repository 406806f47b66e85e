//! Agents stay in their lane (issue 15): inside an agent's pane the identity is the
//! pane's (its tmux tags), not the `CAFLEET_*` variables the agent can change; every
//! command is limited to the agent's own fleet; only the Director and the monitor manage
//! members; where tmux cannot be asked (codex's sandbox) the variables stand in, with
//! the same rules. Operators outside tmux keep `--fleet`/`--as`.

mod common;

use std::path::Path;
use std::time::Duration;

use cafleet::tmux::Launch;
use cafleet::tmux::testing::wait_until;
use common::{Harness, transcript};

/// A pane's identity variables.
type Env<'a> = [(&'a str, &'a str)];

/// Fleets `inj` (director, member `fk`) and `fmt` (director, member `c1`), fake agents.
fn two_fleets(h: &Harness) {
    for (fleet, member) in [("inj", "fk"), ("fmt", "c1")] {
        let file = h.write(
            &format!("{fleet}.toml"),
            &format!(
                "version = 1\n[fleet]\nname = \"{fleet}\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"{member}\"\n"
            ),
        );
        h.ok(&["up", &file, "--wait"]);
    }
}

/// What a command run in a pane printed.
struct PaneRun {
    code: i32,
    stdout: String,
    stderr: String,
}

impl PaneRun {
    fn show(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn refused(&self) -> bool {
        self.code != 0 && self.stderr.contains("error:") && self.stderr.contains("hint:")
    }
}

static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `cafleet ARGS` as the program of a new pane tagged as `member` of `fleet` (the
/// way `up` tags an agent's pane), with `env` as the pane's identity variables.
fn in_pane(h: &Harness, fleet: &str, member: &str, env: &[(&str, &str)], args: &[&str]) -> PaneRun {
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = h.home.path().join(format!("run{n}"));
    std::fs::create_dir_all(&dir).expect("run dir");
    let script = "\"$@\" >out 2>err; echo $? >rc.tmp; mv rc.tmp rc";
    let mut argv: Vec<String> = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
    argv.push(common::bin().into());
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut launch = Launch::new(argv)
        .cwd(&dir)
        .env("CAFLEET_DATABASE_URL", h.db().to_string_lossy())
        .env("HOME", h.home.path().to_string_lossy())
        .option("@cafleet_fleet", fleet)
        .option("@cafleet_member", member);
    for (k, v) in env {
        launch = launch.env(*k, *v);
    }
    h.tmux()
        .new_session(&format!("run{n}"), None, &launch)
        .expect("pane for the command");
    wait_for_rc(&dir)
}

fn wait_for_rc(dir: &Path) -> PaneRun {
    let rc = dir.join("rc");
    assert!(
        wait_until(Duration::from_secs(30), || rc.exists()),
        "the command in the pane did not finish"
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    PaneRun {
        code: read("rc").trim().parse().unwrap_or(-1),
        stdout: read("out"),
        stderr: read("err"),
    }
}

fn messages(h: &Harness, fleet: &str) -> Vec<(String, String, String)> {
    let conn = h.registry();
    let mut stmt = conn
        .prepare(
            "SELECT m.sender, m.recipient, CAST(m.body AS TEXT) FROM messages m \
             JOIN fleets f ON f.id = m.fleet_id WHERE f.name = ?1 ORDER BY m.id",
        )
        .expect("prepare");
    stmt.query_map([fleet], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

fn live_agents(h: &Harness, fleet: &str) -> Vec<String> {
    let conn = h.registry();
    let mut stmt = conn
        .prepare(
            "SELECT a.name FROM agents a JOIN fleets f ON f.id = a.fleet_id \
             WHERE f.name = ?1 AND a.status NOT IN ('removed', 'stopped') ORDER BY a.name",
        )
        .expect("prepare");
    stmt.query_map([fleet], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

#[test]
fn a_member_pane_cannot_act_outside_its_lane_whatever_its_variables_say() {
    let Some(h) = Harness::start() else { return };
    two_fleets(&h);
    let mine = [("CAFLEET_FLEET", "inj"), ("CAFLEET_MEMBER", "fk")];
    // The variables changed by the agent: emptied, or naming the other fleet's Director.
    let emptied = [("CAFLEET_FLEET", "inj"), ("CAFLEET_MEMBER", "")];
    let forged = [("CAFLEET_FLEET", "fmt"), ("CAFLEET_MEMBER", "director")];

    let denied: Vec<(&Env, Vec<&str>)> = vec![
        (
            &mine,
            vec![
                "member", "nudge", "c1", "--fleet", "fmt", "--as", "director", "forged",
            ],
        ),
        (
            &emptied,
            vec!["member", "nudge", "c1", "--fleet", "fmt", "forged"],
        ),
        (&forged, vec!["member", "nudge", "c1", "forged"]),
        (
            &mine,
            vec![
                "member",
                "create",
                "--fleet",
                "fmt",
                "--name",
                "x1",
                "--backend",
                "fake",
            ],
        ),
        (
            &mine,
            vec!["member", "create", "--name", "x2", "--backend", "fake"],
        ),
        (
            &forged,
            vec!["member", "create", "--name", "x3", "--backend", "fake"],
        ),
        (&mine, vec!["member", "delete", "c1", "--fleet", "fmt"]),
        (&emptied, vec!["member", "delete", "director"]),
        (
            &mine,
            vec!["member", "prompt", "c1", "--fleet", "fmt", "forged"],
        ),
        (&forged, vec!["member", "prompt", "director", "forged"]),
        (&mine, vec!["member", "capture", "c1", "--fleet", "fmt"]),
        (&emptied, vec!["member", "capture", "director"]),
        (&mine, vec!["logs", "director"]),
        (
            &mine,
            vec!["message", "send", "--fleet", "fmt", "--to", "c1", "forged"],
        ),
        (&mine, vec!["message", "inbox", "--as", "director"]),
        (&mine, vec!["ps", "--fleet", "fmt"]),
        (&mine, vec!["down", "--fleet", "fmt"]),
    ];
    for (env, args) in &denied {
        let run = in_pane(&h, "inj", "fk", env, args);
        assert!(
            run.refused(),
            "{args:?} with {env:?} was not refused:\n{}",
            run.show()
        );
    }
    assert!(
        !messages(&h, "fmt").iter().any(|m| m.2.contains("forged")),
        "{:?}",
        messages(&h, "fmt")
    );
    assert!(!messages(&h, "inj").iter().any(|m| m.2.contains("forged")));
    assert_eq!(live_agents(&h, "fmt"), ["c1", "director"]);
    assert_eq!(live_agents(&h, "inj"), ["director", "fk"]);

    // Its own lane still works, and whatever the variables say it speaks as itself.
    let run = in_pane(
        &h,
        "inj",
        "fk",
        &forged,
        &["message", "send", "--to", "director", "hello"],
    );
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(
        messages(&h, "inj").contains(&("fk".into(), "director".into(), "hello".into())),
        "{:?}",
        messages(&h, "inj")
    );
    let run = in_pane(&h, "inj", "fk", &emptied, &["ps"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(
        run.stdout.contains("fk") && !run.stdout.contains("c1"),
        "{}",
        run.show()
    );
}

#[test]
fn the_director_and_the_monitor_manage_members_of_their_own_fleet() {
    let Some(h) = Harness::start() else { return };
    two_fleets(&h);
    let env = [("CAFLEET_FLEET", "inj"), ("CAFLEET_MEMBER", "director")];
    let run = in_pane(
        &h,
        "inj",
        "director",
        &env,
        &["member", "create", "--name", "helper", "--backend", "fake"],
    );
    assert_eq!(run.code, 0, "{}", run.show());
    let run = in_pane(
        &h,
        "inj",
        "director",
        &env,
        &["member", "nudge", "helper", "hi"],
    );
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(messages(&h, "inj").contains(&("director".into(), "helper".into(), "hi".into())));
    let run = in_pane(&h, "inj", "director", &env, &["member", "delete", "helper"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(live_agents(&h, "inj"), ["director", "fk"]);
    // Not in another fleet, though.
    let run = in_pane(
        &h,
        "inj",
        "director",
        &env,
        &["member", "delete", "c1", "--fleet", "fmt"],
    );
    assert!(run.refused(), "{}", run.show());
    assert_eq!(live_agents(&h, "fmt"), ["c1", "director"]);
}

#[test]
fn without_tmux_the_variables_name_the_agent_and_the_lane_still_holds() {
    let Some(h) = Harness::start() else { return };
    two_fleets(&h);
    // As in codex's sandbox: the variables are there, tmux cannot be reached.
    let sandboxed = |member: &str, args: &[&str]| {
        let mut cmd = h.cmd();
        cmd.env("CAFLEET_FLEET", "inj")
            .env("CAFLEET_MEMBER", member)
            .env("CODEX_SANDBOX_NETWORK_DISABLED", "1")
            .env("TMUX", "/nonexistent/socket,1,0")
            .env("TMUX_PANE", "%0")
            .args(args);
        cmd.output().expect("run")
    };
    for args in [
        &["member", "create", "--name", "x", "--backend", "fake"][..],
        &[
            "member", "nudge", "c1", "--fleet", "fmt", "--as", "director", "forged",
        ],
        &["member", "prompt", "director", "forged"],
        &["message", "send", "--fleet", "fmt", "--to", "c1", "forged"],
    ] {
        let out = sandboxed("fk", args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("error:") && err.contains("hint:"),
            "{args:?}: {}",
            transcript(&out)
        );
    }
    // An emptied member variable is refused, not read as "an operator".
    let out = sandboxed("", &["message", "send", "--to", "director", "forged"]);
    assert!(!out.status.success(), "{}", transcript(&out));
    assert!(!messages(&h, "fmt").iter().any(|m| m.2.contains("forged")));
    assert!(!messages(&h, "inj").iter().any(|m| m.2.contains("forged")));
    let out = sandboxed(
        "fk",
        &["message", "send", "--to", "director", "from the sandbox"],
    );
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(messages(&h, "inj").contains(&(
        "fk".into(),
        "director".into(),
        "from the sandbox".into()
    )));
}

#[test]
fn operators_keep_fleet_and_as_and_as_takes_only_member_names() {
    let Some(h) = Harness::start() else { return };
    two_fleets(&h);
    h.ok(&[
        "member", "nudge", "c1", "--fleet", "fmt", "--as", "director", "by hand",
    ]);
    assert!(messages(&h, "fmt").contains(&("director".into(), "c1".into(), "by hand".into())));
    for args in [
        &[
            "member",
            "nudge",
            "c1",
            "--fleet",
            "fmt",
            "--as",
            "\u{1b}]0;HACKED\u{7}",
            "x",
        ][..],
        &[
            "message",
            "send",
            "--fleet",
            "fmt",
            "--as",
            "c1\u{1b}[2J",
            "--to",
            "director",
            "x",
        ],
        &["message", "inbox", "--fleet", "fmt", "--as", "Director X"],
    ] {
        let out = h.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", transcript(&out));
        assert!(!out.stderr.contains(&0x1b), "{}", transcript(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
    }
}
