//! `up`, `plan`, `down` and `ps` on private tmux servers with fake agents: the reconcile
//! contract of the fleet file (create what is missing, recreate what drifted, remove what
//! was dropped, touch nothing else).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cafleet::tmux::testing::wait_until;
use common::{Harness, transcript};

const SIX: &str = r#"version = 1
[fleet]
name = "six"
layout = "tiled"
panes_per_window = 4
env = { FLEET_WIDE = "yes" }
[defaults]
backend = "fake"
[director]
prompt = "lead {{fleet.name}}"
[monitor]
prompt = "watch"
[[member]]
name = "api"
model = "small"
cwd = "work"
env = { PORT = "8081" }
[[member]]
name = "web"
model = "small"
depends_on = ["api"]
[[member]]
name = "db"
[[member]]
name = "bot"
backend = "command"
command = ["sleep", "600"]
"#;

fn cmdline(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn environ(pid: u32) -> BTreeMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn panes_by_member(h: &Harness, fleet: &str) -> BTreeMap<String, String> {
    h.tagged(fleet)
        .into_iter()
        .map(|(id, member, _, _)| (member, id))
        .collect()
}

fn setup_six(h: &Harness) -> String {
    std::fs::create_dir_all(h.home.path().join("work")).expect("mkdir");
    h.write("six.toml", SIX)
}

#[test]
fn up_creates_tagged_live_panes_and_a_second_up_changes_nothing() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    let out = h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    assert!(
        out.contains("Plan: 6 to create, 0 to recreate, 0 to remove, 0 unchanged."),
        "{out}"
    );

    let panes = h
        .tmux()
        .list_panes(&["@cafleet_fleet", "@cafleet_member", "@cafleet_hash"])
        .expect("panes");
    let ours: Vec<_> = panes
        .iter()
        .filter(|p| p.option("@cafleet_fleet") == Some("six"))
        .collect();
    assert_eq!(ours.len(), 6, "{ours:?}");
    let db = h.db().to_string_lossy().into_owned();
    for pane in &ours {
        let member = pane.option("@cafleet_member").expect("member tag");
        assert!(!pane.dead, "{member} is dead");
        assert!(
            pane.option("@cafleet_hash").is_some_and(|h| h.len() == 16),
            "{member} has no hash tag"
        );
        let pid = pane.pid.expect("pid");
        let env = environ(pid);
        assert_eq!(env.get("CAFLEET_FLEET").map(String::as_str), Some("six"));
        assert_eq!(env.get("CAFLEET_MEMBER").map(String::as_str), Some(member));
        assert_eq!(env.get("CAFLEET_DATABASE_URL"), Some(&db));
        assert_eq!(
            env.get("FLEET_WIDE").map(String::as_str),
            Some("yes"),
            "{member}"
        );
        let argv = cmdline(pid);
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
        match member {
            "bot" => assert_eq!(argv, ["sleep", "600"]),
            _ => {
                assert_eq!(&argv[1..5], ["agent", "fake", "--name", member], "{argv:?}");
                assert!(argv[0].ends_with("cafleet"), "{argv:?}");
            }
        }
        if member == "api" {
            assert_eq!(env.get("PORT").map(String::as_str), Some("8081"));
            assert_eq!(
                cwd,
                h.home.path().join("work").canonicalize().expect("canon")
            );
        } else {
            assert_eq!(
                cwd,
                h.home.path().canonicalize().expect("canon"),
                "{member}"
            );
            assert!(!env.contains_key("PORT"), "{member} must not get api's env");
        }
        if member == "director" {
            assert_eq!(argv.last().map(String::as_str), Some("lead six"));
        }
    }
    // 6 agents at 4 panes a window: two windows.
    let windows: std::collections::BTreeSet<_> = ours.iter().map(|p| p.window).collect();
    assert_eq!(windows.len(), 2);

    let before = panes_by_member(&h, "six");
    let out = h.ok(&["up", &file]);
    assert!(
        out.contains("Plan: 0 to create, 0 to recreate, 0 to remove, 6 unchanged."),
        "{out}"
    );
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(panes_by_member(&h, "six"), before, "no pane may change");
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
}

#[test]
fn drift_is_planned_per_field_and_only_that_pane_is_recreated() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    h.ok(&["up", &file]);
    let before = panes_by_member(&h, "six");

    h.write(
        "six.toml",
        &SIX.replacen(
            "name = \"web\"\nmodel = \"small\"",
            "name = \"web\"\nmodel = \"large\"",
            1,
        ),
    );
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(2), "{}", transcript(&plan));
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("~ recreate web (member) (model: small → large)"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 0 to create, 1 to recreate, 0 to remove, 5 unchanged."),
        "{text}"
    );

    let out = h.ok(&["up", &file]);
    assert!(out.contains("recreated web"), "{out}");
    let after = panes_by_member(&h, "six");
    for (member, pane) in &before {
        if member == "web" {
            assert_ne!(after.get(member), Some(pane), "web must get a new pane");
        } else {
            assert_eq!(after.get(member), Some(pane), "{member} must keep its pane");
        }
    }
    assert_eq!(h.run(&["plan", &file]).status.code(), Some(0));

    // The Director's drift is reported, not applied, unless asked.
    h.write(
        "six.toml",
        &SIX.replace(
            "model = \"small\"\ndepends_on",
            "model = \"large\"\ndepends_on",
        )
        .replace("lead {{fleet.name}}", "lead {{fleet.name}} well"),
    );
    let out = h.ok(&["up", &file]);
    assert!(out.contains("= keep director (director), drifted (prompt changed); not applied: use --recreate director"), "{out}");
    assert_eq!(
        panes_by_member(&h, "six").get("director"),
        before.get("director")
    );
    let out = h.ok(&["up", &file, "--recreate", "director"]);
    assert!(out.contains("recreated director"), "{out}");
    assert_ne!(
        panes_by_member(&h, "six").get("director"),
        before.get("director")
    );
}

#[test]
fn dropped_members_go_dead_ones_come_back_and_cli_extras_need_remove_orphans() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    h.ok(&["up", &file]);

    // Removing a member from the file removes its pane.
    h.write("six.toml", &SIX.replace("[[member]]\nname = \"db\"\n", ""));
    let out = h.ok(&["up", &file]);
    assert!(
        out.contains("- remove db (member): no longer in the fleet file"),
        "{out}"
    );
    assert!(!panes_by_member(&h, "six").contains_key("db"));

    // An agent whose process died is recreated by the next up.
    let panes = h
        .tmux()
        .list_panes(&["@cafleet_fleet", "@cafleet_member"])
        .expect("panes");
    let api = panes
        .iter()
        .find(|p| p.option("@cafleet_member") == Some("api"))
        .expect("api pane");
    let pid = api.pid.expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill api");
    assert!(
        wait_until(Duration::from_secs(5), || h
            .tagged("six")
            .iter()
            .any(|(_, m, _, dead)| m == "api" && *dead)),
        "api never died"
    );
    let ps = h.ok(&["ps", "--fleet", "six", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&ps).expect("json");
    let api_row = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["name"] == "api")
        .expect("api row");
    assert_eq!(api_row["state"], "dead", "{ps}");
    let out = h.ok(&["up", &file]);
    assert!(
        out.contains("+ create api (member): its process exited"),
        "{out}"
    );
    let tagged = h.tagged("six");
    assert_eq!(
        tagged.iter().filter(|(_, m, _, _)| m == "api").count(),
        1,
        "{tagged:?}"
    );
    assert!(tagged.iter().all(|(_, _, _, dead)| !dead), "{tagged:?}");
}

#[test]
fn depends_on_order_and_replicas() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "order.toml",
        r#"version = 1
[fleet]
name = "order"
[defaults]
backend = "fake"
[director]
[[member]]
name = "web"
depends_on = ["api", "rev"]
[[member]]
name = "rev"
replicas = 3
depends_on = ["api"]
[[member]]
name = "api"
"#,
    );
    h.ok(&["up", &file]);
    let conn = h.registry();
    let mut stmt = conn
        .prepare("SELECT agent FROM events WHERE kind = 'spawn' ORDER BY id")
        .expect("query");
    let order: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(order, ["director", "api", "rev-1", "rev-2", "rev-3", "web"]);
    let members: Vec<String> = h.tagged("order").into_iter().map(|t| t.1).collect();
    assert_eq!(
        members,
        ["api", "director", "rev-1", "rev-2", "rev-3", "web"]
    );
}

#[test]
fn wait_names_the_agent_that_is_not_ready() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "slow.toml",
        r#"version = 1
[fleet]
name = "slow"
[defaults]
backend = "fake"
[director]
[[member]]
name = "quick"
[[member]]
name = "laggard"
fake = { ready_after = "1h" }
"#,
    );
    let output = h.run(&["up", &file, "--wait", "--timeout", "2s"]);
    assert_eq!(output.status.code(), Some(4), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: not ready after 2s: laggard (still starting)"),
        "{stderr}"
    );
    assert!(!stderr.contains("quick"), "{stderr}");

    let quick = h.write(
        "quick.toml",
        &std::fs::read_to_string(&file)
            .expect("read")
            .replace("fake = { ready_after = \"1h\" }", ""),
    );
    // Another file of the same fleet: taken over on purpose.
    let output = h.run(&["up", &quick, "--force", "--wait", "--timeout", "20s"]);
    assert!(output.status.success(), "{}", transcript(&output));
}

#[test]
fn down_kills_only_tagged_panes_keeps_history_and_can_repeat() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    h.ok(&["up", &file]);
    // An untagged pane in the fleet's own session and one elsewhere must survive.
    let session = h
        .tmux()
        .find_session("cafleet-six")
        .expect("find")
        .expect("session");
    let windows = h.tmux().list_windows(session).expect("windows");
    let inside = h
        .tmux()
        .split_window(
            windows[0].id,
            cafleet::tmux::Split::Vertical,
            &cafleet::tmux::Launch::new(["sleep", "600"]),
        )
        .expect("split");
    let placeholder = h.server.placeholder().pane;
    {
        let conn = h.registry();
        conn.execute(
            "INSERT INTO messages (fleet_id, sender, recipient, body) SELECT id, 'api', 'web', 'hello' FROM fleets WHERE name = 'six'",
            [],
        )
        .expect("insert message");
    }
    let out = h.ok(&["down", &file]);
    assert!(
        out.contains("fleet `six` is down (6 panes stopped)"),
        "{out}"
    );
    assert!(h.tagged("six").is_empty(), "{:?}", h.tagged("six"));
    assert!(
        h.tmux().pane_alive(inside.pane).expect("alive?"),
        "the untagged pane in the session was killed"
    );
    assert!(
        h.tmux().pane_alive(placeholder).expect("alive?"),
        "a pane elsewhere was killed"
    );
    let conn = h.registry();
    let messages: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .expect("count");
    let events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'spawn'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!((messages, events), (1, 6));
    let ps = h.ok(&["ps", "--fleet", "six"]);
    assert_eq!(ps.matches("stopped").count(), 6, "{ps}");

    let out = h.ok(&["down", &file]);
    assert!(out.contains("(0 panes stopped)"), "{out}");
    h.ok(&["down", "--fleet", "six", "--purge"]);
    let fleets: i64 = h
        .registry()
        .query_row("SELECT COUNT(*) FROM fleets", [], |r| r.get(0))
        .expect("count");
    assert_eq!(fleets, 0);
}

#[test]
fn up_killed_half_way_converges_on_rerun() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    let mut child = h
        .cmd()
        .args(["up", &file])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn up");
    // Kill it as soon as the first agent has been spawned (or it finished first).
    let spawned = |h: &Harness| {
        h.registry()
            .query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'spawn'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
    };
    wait_until(Duration::from_secs(10), || {
        spawned(&h) >= 2 || matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.kill();
    let _ = child.wait();

    let out = h.ok(&["up", &file]);
    assert!(out.contains("Plan:"), "{out}");
    let tagged = h.tagged("six");
    let members: Vec<&str> = tagged.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(
        members,
        ["api", "bot", "db", "director", "monitor", "web"],
        "{tagged:?}"
    );
    assert!(tagged.iter().all(|t| !t.3));
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
}

#[test]
fn member_created_extra_survives_up_and_goes_with_remove_orphans() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    h.ok(&["up", &file]);
    let out = h.ok(&[
        "member",
        "create",
        "--fleet",
        "six",
        "--name",
        "helper",
        "--backend",
        "fake",
        "--description",
        "extra hands",
    ]);
    assert!(out.contains("created helper in %"), "{out}");
    assert!(panes_by_member(&h, "six").contains_key("helper"));

    let out = h.ok(&["up", &file]);
    assert!(out.contains("? unmanaged helper (member)"), "{out}");
    assert!(
        panes_by_member(&h, "six").contains_key("helper"),
        "up must keep a cli member"
    );
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));

    let out = h.ok(&["up", &file, "--remove-orphans"]);
    assert!(out.contains("- remove helper (member)"), "{out}");
    assert!(!panes_by_member(&h, "six").contains_key("helper"));
}

#[test]
fn fleet_create_registers_the_current_pane_and_members_join_it() {
    let Some(h) = Harness::start() else { return };
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
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(
        panes_by_member(&h, "adhoc").get("director"),
        Some(&director)
    );
    let out = h.ok(&["member", "create", "--name", "w1", "--backend", "fake"]);
    assert!(out.contains("created w1"), "{out}");
    let listed = h.ok(&["member", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let names: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["director", "w1"]);
    let shown = h.ok(&["member", "show", "w1"]);
    assert!(shown.contains("origin: cli"), "{shown}");
    h.ok(&["member", "delete", "w1"]);
    assert!(!panes_by_member(&h, "adhoc").contains_key("w1"));
    let missing = h.run(&["member", "show", "w1"]);
    assert_eq!(missing.status.code(), Some(3), "{}", transcript(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("hint: members of `adhoc`: director")
    );
    h.ok(&["fleet", "delete", "adhoc"]);
    assert!(
        h.tmux()
            .pane_alive(h.server.placeholder().pane)
            .expect("alive?"),
        "the adopted Director pane must survive"
    );
    assert!(h.tagged("adhoc").is_empty());
}

#[test]
fn up_refuses_a_fleet_that_is_up_on_another_tmux_server() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "elsewhere.toml",
        "version = 1\n[fleet]\nname = \"elsewhere\"\n[defaults]\nbackend = \"fake\"\n[director]\n",
    );
    h.ok(&["up", &file]);
    let other = h.home.path().join("other.sock");
    let out = h
        .cmd()
        .env("CAFLEET_TMUX_SOCKET", &other)
        .args(["up", &file])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: fleet `elsewhere` is up on tmux server"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: bring it down there first"),
        "{stderr}"
    );
    assert!(
        !other.exists(),
        "no tmux server was started on the other socket"
    );
    assert_eq!(h.tagged("elsewhere").len(), 1);
}

#[test]
fn two_concurrent_ups_start_each_agent_once() {
    let Some(h) = Harness::start() else { return };
    let file = setup_six(&h);
    let children: Vec<_> = (0..2)
        .map(|_| {
            h.cmd()
                .args(["up", &file])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn up")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let members: Vec<String> = h.tagged("six").into_iter().map(|t| t.1).collect();
    assert_eq!(members, ["api", "bot", "db", "director", "monitor", "web"]);
    let spawns: i64 = h
        .registry()
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'spawn'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(spawns, 6);
}

#[test]
fn a_prompt_that_starts_with_a_dash_still_starts_the_agent() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "dash.toml",
        "version = 1\n[fleet]\nname = \"dash\"\n[defaults]\nbackend = \"fake\"\n[director]\nprompt = \"---\\ntitle: lead\\n---\\n- plan the work\"\n",
    );
    let out = h.run(&["up", &file, "--wait", "--timeout", "20s"]);
    assert!(out.status.success(), "{}", transcript(&out));
    assert_eq!(h.tagged("dash").len(), 1);
    assert!(
        h.tagged("dash").iter().all(|t| !t.3),
        "the agent must be running"
    );
}

#[test]
fn down_of_an_unknown_fleet_name_is_not_found_but_of_a_file_never_up_is_fine() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "never.toml",
        "version = 1\n[fleet]\nname = \"never\"\n[defaults]\nbackend = \"fake\"\n[director]\n",
    );
    let out = h.ok(&["down", &file]);
    assert!(
        out.contains("fleet `never` was never brought up: nothing to do"),
        "{out}"
    );
    h.register_idle("real", &["a".into()]);
    let typo = h.run(&["down", "--fleet", "reel"]);
    assert_eq!(typo.status.code(), Some(3), "{}", transcript(&typo));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("hint: registered fleets: real"),
        "{}",
        transcript(&typo)
    );
}

#[test]
fn up_refuses_to_start_agents_whose_program_is_missing() {
    let Some(h) = Harness::start() else { return };
    // A PATH holding tmux and nothing else, whatever this machine has installed.
    let bin = h.bin_with_only_tmux();
    let file = h.write(
        "missing.toml",
        r#"version = 1
[fleet]
name = "missing"
[defaults]
backend = "claude"
[director]
[[member]]
name = "api"
[[member]]
name = "bot"
backend = "command"
command = ["no-such-program-here", "--flag"]
[[member]]
name = "ok"
backend = "fake"
"#,
    );
    let out = h
        .cmd()
        .env("PATH", &bin)
        .args(["up", &file])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: not installed or not on PATH: `claude` (for director, api); `no-such-program-here` (for bot)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: install claude with `npm install -g @anthropic-ai/claude-code`"),
        "{stderr}"
    );
    assert!(h.tagged("missing").is_empty(), "nothing may start");
}

#[test]
fn wait_says_when_an_agent_waits_at_a_sign_in_screen() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "gate.toml",
        "version = 1\n[fleet]\nname = \"gate\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"locked\"\nfake = { screen = \"login\" }\n",
    );
    let out = h.run(&["up", &file, "--wait", "--timeout", "2s", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("locked (it shows a sign-in screen: log it in once by hand)"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["not_ready"][0]["name"], "locked", "{json}");
}

#[test]
fn a_director_that_runs_down_in_its_own_pane_stops_the_team_and_itself_last() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "selfdown.toml",
        "version = 1\n[fleet]\nname = \"selfdown\"\n[defaults]\nbackend = \"fake\"\n[director]\nbackend = \"command\"\ncommand = [\"bash\", \"--norc\", \"--noprofile\"]\n[[member]]\nname = \"m1\"\n[[member]]\nname = \"m2\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    let director: cafleet::tmux::PaneId = panes_by_member(&h, "selfdown")["director"]
        .parse()
        .expect("pane id");
    // The Director types `cafleet down` into its own shell: `cafleet` is on the pane's PATH.
    h.tmux()
        .send_text(director, "cafleet down --fleet selfdown")
        .expect("type");
    h.tmux()
        .send_keys(director, &[cafleet::tmux::Key::Enter])
        .expect("enter");
    let done = wait_until(Duration::from_secs(15), || h.tagged("selfdown").is_empty());
    let screen = h.tmux().capture_pane(director, None).unwrap_or_default();
    assert!(done, "still tagged: {:?}\n{screen}", h.tagged("selfdown"));
    let conn = h.registry();
    let status: String = conn
        .query_row(
            "SELECT status FROM fleets WHERE name = 'selfdown'",
            [],
            |r| r.get(0),
        )
        .expect("fleet");
    assert_eq!(status, "down");
    let finished: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'down.done'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(finished, 1);
}

#[test]
fn wait_does_not_wait_out_an_agent_that_exited() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "quit.toml",
        "version = 1\n[fleet]\nname = \"quit\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"quitter\"\nbackend = \"command\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    let started = std::time::Instant::now();
    let out = h.run(&["up", &file, "--wait", "--timeout", "120s"]);
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    // The status is the one tmux reaped; a tmux that left the process a zombie has none.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("quitter (it exited with status 3)")
            || stderr.contains("quitter (its process exited)"),
        "{}",
        transcript(&out)
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "waited out the timeout: {:?}",
        started.elapsed()
    );
}

#[test]
fn fleet_create_refuses_a_pane_of_another_fleet_and_member_create_a_fleet_that_is_down() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "owner.toml",
        "version = 1\n[fleet]\nname = \"owner\"\n[defaults]\nbackend = \"fake\"\n[director]\n",
    );
    h.ok(&["up", &file]);
    let pane = panes_by_member(&h, "owner")["director"].clone();
    let socket = h.server.socket_path().to_string_lossy().into_owned();
    let out = h
        .cmd()
        .env("TMUX", format!("{socket},1,0"))
        .env("TMUX_PANE", &pane)
        .args(["fleet", "create", "thief", "--backend", "fake"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("pane {pane} is `director` of fleet `owner`"))
    );
    assert_eq!(
        panes_by_member(&h, "owner").get("director"),
        Some(&pane),
        "the pane keeps its fleet"
    );

    h.ok(&["down", &file]);
    let out = h.run(&[
        "member",
        "create",
        "--fleet",
        "owner",
        "--name",
        "late",
        "--backend",
        "fake",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hint: bring it up first with `cafleet up"),
        "{}",
        transcript(&out)
    );
    assert!(h.tagged("owner").is_empty());
}

#[test]
fn a_director_that_recreates_itself_is_replaced_before_its_old_pane_ends() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "selfup.toml",
        "version = 1\n[fleet]\nname = \"selfup\"\n[defaults]\nbackend = \"fake\"\n[director]\nbackend = \"command\"\ncommand = [\"bash\", \"--norc\", \"--noprofile\"]\n[[member]]\nname = \"m1\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    let before = panes_by_member(&h, "selfup");
    let old: cafleet::tmux::PaneId = before["director"].parse().expect("pane id");
    // The test's private server is not the one the file names: say so, as CI does.
    let socket = h.server.socket_path().to_string_lossy().into_owned();
    h.tmux()
        .send_text(
            old,
            &format!("CAFLEET_TMUX_SOCKET={socket} cafleet up {file} --recreate director"),
        )
        .expect("type");
    h.tmux()
        .send_keys(old, &[cafleet::tmux::Key::Enter])
        .expect("enter");
    let replaced = wait_until(Duration::from_secs(15), || {
        let now = panes_by_member(&h, "selfup");
        now.get("director")
            .is_some_and(|p| *p != before["director"])
            && h.tagged("selfup").len() == 2
    });
    let screen = h.tmux().capture_pane(old, None).unwrap_or_default();
    assert!(replaced, "{:?}\n{screen}", h.tagged("selfup"));
    assert!(
        !h.tmux().pane_alive(old).expect("alive?"),
        "the old Director pane must end"
    );
    assert_eq!(
        panes_by_member(&h, "selfup").get("m1"),
        before.get("m1"),
        "m1 untouched"
    );
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
}

#[test]
fn up_warns_when_opencode_lacks_the_cafleet_agent() {
    let Some(h) = Harness::start() else { return };
    // A stand-in `opencode` (and tmux) on an otherwise empty PATH.
    let bin = h.bin_with_only_tmux();
    let script = bin.join("opencode");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let file = h.write(
        "oc.toml",
        "version = 1\n[fleet]\nname = \"oc\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"rev\"\nbackend = \"opencode\"\n",
    );
    let out = h
        .cmd()
        .env("PATH", &bin)
        .args(["up", &file])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: opencode has no `cafleet` agent for rev"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: install it with `cafleet skill install --agent opencode`"),
        "{stderr}"
    );

    h.ok(&["skill", "install", "--agent", "opencode"]);
    let out = h
        .cmd()
        .env("PATH", &bin)
        .args(["up", &file, "--force-recreate"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        transcript(&out)
    );
}

#[test]
fn a_second_file_with_the_same_fleet_name_needs_force() {
    let Some(h) = Harness::start() else { return };
    let text = "version = 1\n[fleet]\nname = \"twin\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"api\"\n";
    let first = h.write("one/fleet.toml", text);
    let second = h.write("two/fleet.toml", text);
    h.ok(&["up", &first, "--wait"]);
    let panes = h.tagged("twin");

    for verb in ["up", "plan"] {
        let out = h.run(&[verb, &second]);
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", transcript(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error:") && stderr.contains("hint:"),
            "{verb}: {stderr}"
        );
        assert!(
            stderr.contains(&first) && stderr.contains(&second),
            "{verb}: both files named: {stderr}"
        );
        assert!(stderr.contains("--force"), "{verb}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Nothing was touched.
    assert_eq!(h.tagged("twin"), panes);
    // Its own file is still fine.
    assert!(h.ok(&["up", &first]).contains("up to date"));

    // --force takes the fleet over; the second file is the one remembered from now on.
    let taken = h.ok(&["up", &second, "--force"]);
    assert!(taken.contains("recreate"), "{taken}");
    let recorded: String = h
        .registry()
        .query_row(
            "SELECT manifest_path FROM fleets WHERE name = 'twin'",
            [],
            |r| r.get(0),
        )
        .expect("fleet row");
    assert_eq!(recorded, second);
    let back = h.run(&["up", &first]);
    assert_eq!(back.status.code(), Some(1), "{}", transcript(&back));

    // Once it is down, either file may bring it up.
    h.ok(&["down", &second]);
    h.ok(&["up", &first]);
    h.ok(&["down", &first]);
}
