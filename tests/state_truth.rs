//! One truth about every agent (issue 14): every view reads the same state, the monitor
//! keeps the registry's state true when `up` replaces panes and never reads a reconcile
//! as a crash, `ps` drift compares with the fleet file, and pane text is shown as the
//! pane draws it. Fake agents on a private tmux server per test.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use cafleet::tmux::testing::wait_until;
use common::{Harness, transcript};

fn fleet_file(h: &Harness, name: &str, body: &str) -> String {
    h.write(
        &format!("{name}.toml"),
        &format!(
            r#"version = 1
[fleet]
name = "{name}"
[defaults]
backend = "fake"
[director]
{body}"#
        ),
    )
}

/// A monitor loop this test started, ended by its pid when the test ends.
struct Monitor(Child);

impl Drop for Monitor {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let stopped = wait_until(Duration::from_secs(5), || {
                matches!(self.0.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = self.0.kill();
            }
        }
        let _ = self.0.wait();
    }
}

fn start_monitor(h: &Harness, fleet: &str, interval: &str) -> Monitor {
    Monitor(
        h.cmd()
            .args([
                "monitor",
                "start",
                "--fleet",
                fleet,
                "--interval",
                interval,
                "--stall-after",
                "10m",
            ])
            .stdout(
                std::fs::File::create(h.home.path().join(format!("monitor-{fleet}.out")))
                    .expect("log file"),
            )
            .stderr(Stdio::null())
            .spawn()
            .expect("start monitor"),
    )
}

fn monitor_log(h: &Harness, fleet: &str) -> String {
    std::fs::read_to_string(h.home.path().join(format!("monitor-{fleet}.out"))).unwrap_or_default()
}

/// The state the registry records (what the monitor wrote), not the live look.
fn recorded(h: &Harness, fleet: &str, member: &str) -> String {
    h.registry()
        .query_row(
            "SELECT a.status FROM agents a JOIN fleets f ON f.id = a.fleet_id \
             WHERE f.name = ?1 AND a.name = ?2",
            [fleet, member],
            |r| r.get(0),
        )
        .unwrap_or_default()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

fn ps_state(h: &Harness, fleet: &str, member: &str) -> String {
    let rows = json(&h.ok(&["ps", "--fleet", fleet, "--json"]));
    rows.as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == member))
        .and_then(|r| r["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_monitor_records_the_state_of_an_agent_up_recreated() {
    let Some(h) = Harness::start() else { return };
    let members = |model: &str| format!("[[member]]\nname = \"api\"\nmodel = \"{model}\"\n");
    let file = fleet_file(&h, "rc", &members("small"));
    h.ok(&["up", &file, "--wait"]);
    // Ticks far enough apart that the loop never sees the new pane before it is ready.
    let _monitor = start_monitor(&h, "rc", "1s");
    assert!(
        wait_until(Duration::from_secs(10), || recorded(&h, "rc", "api")
            == "idle"),
        "never idle: {}",
        monitor_log(&h, "rc")
    );
    fleet_file(&h, "rc", &members("tiny"));
    // No --wait: `up` records the new pane `starting` and leaves the rest to the monitor.
    let out = h.ok(&["up", &file]);
    assert!(out.contains("~ recreate api"), "{out}");
    assert_eq!(recorded(&h, "rc", "api"), "starting");
    // `up` recorded the new pane as starting; the loop must not keep its old belief.
    let idle = wait_until(Duration::from_secs(10), || {
        recorded(&h, "rc", "api") == "idle"
    });
    assert!(
        idle,
        "recorded {} while ps says {}; monitor:\n{}",
        recorded(&h, "rc", "api"),
        ps_state(&h, "rc", "api"),
        monitor_log(&h, "rc")
    );
    let status = json(&h.ok(&["monitor", "status", "--fleet", "rc", "--json"]));
    let api = status["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "api").cloned())
        .unwrap_or_default();
    assert_eq!(api["state"], "idle", "{status}");
    assert!(
        wait_until(Duration::from_secs(5), || {
            monitor_log(&h, "rc")
                .lines()
                .last()
                .is_some_and(|l| l.contains("2 idle ("))
        }),
        "{}",
        monitor_log(&h, "rc")
    );
}

#[test]
fn member_show_fleet_show_and_monitor_status_read_the_state_ps_shows() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(&h, "hand", "");
    h.ok(&["up", &file, "--wait"]);
    h.ok(&[
        "member",
        "create",
        "--name",
        "extra",
        "--backend",
        "fake",
        "--fleet",
        "hand",
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || ps_state(&h, "hand", "extra")
            == "idle"),
        "{}",
        h.ok(&["ps"])
    );
    // Nothing recorded it (no monitor runs): every view must still say what ps says.
    assert_eq!(recorded(&h, "hand", "extra"), "starting");
    let shown = h.ok(&["member", "show", "extra", "--fleet", "hand"]);
    assert!(
        shown.contains("  state: idle (signal: screen, since "),
        "{shown}"
    );
    let shown = json(&h.ok(&["member", "show", "extra", "--fleet", "hand", "--json"]));
    assert_eq!(shown["agent"]["status"], "idle", "{shown}");
    let fleet = h.ok(&["fleet", "show", "hand"]);
    assert!(fleet.contains("  extra [member] fake idle\n"), "{fleet}");
    let fleet = json(&h.ok(&["fleet", "show", "hand", "--json"]));
    let extra = fleet["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "extra").cloned())
        .unwrap_or_default();
    assert_eq!(extra["status"], "idle", "{fleet}");
    let status = h.ok(&["monitor", "status", "--fleet", "hand"]);
    let line = status
        .lines()
        .find(|l| l.starts_with("extra "))
        .unwrap_or_default();
    assert!(line.contains(" idle "), "{status}");
}

/// A fleet whose member `log` prints `text` (a shell `printf` format) and then waits.
fn printing_fleet(h: &Harness, name: &str, text: &str) -> String {
    let script = format!("printf '{text}'; exec sleep 600");
    h.write(
        &format!("{name}.toml"),
        &format!(
            r#"version = 1
[fleet]
name = "{name}"
size = "80x30"
[defaults]
backend = "fake"
[director]
[[member]]
name = "log"
backend = "command"
command = ["sh", "-c", "{script}"]
"#
        ),
    )
}

#[test]
fn logs_shows_rows_as_drawn_and_lines_is_the_last_n() {
    let Some(h) = Harness::start() else { return };
    let long = "x".repeat(200);
    let file = printing_fleet(&h, "lg", &format!("{long}\\nline-1\\nline-2\\nline-3\\n"));
    h.ok(&["up", &file]);
    assert!(
        wait_until(Duration::from_secs(10), || h
            .ok(&["logs", "log", "--fleet", "lg"])
            .contains("line-3")),
        "{}",
        h.ok(&["logs", "log", "--fleet", "lg"])
    );
    // A line that fills the pane's width is not glued to the next row.
    for args in [
        vec!["logs", "log", "--fleet", "lg"],
        vec!["member", "capture", "log", "--fleet", "lg"],
        vec!["logs", "log", "--fleet", "lg", "--lines", "50"],
    ] {
        let out = h.ok(&args);
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest < 200, "{args:?}: rows joined:\n{out}");
        assert_eq!(out.matches('x').count(), 200, "{args:?}:\n{out}");
    }
    // --lines N: the last N lines, like `tail -n`.
    assert_eq!(
        h.ok(&["logs", "log", "--fleet", "lg", "--lines", "2"]),
        "line-2\nline-3\n"
    );
    let five = h.ok(&["logs", "log", "--fleet", "lg", "--lines", "5"]);
    assert_eq!(five.lines().count(), 5, "{five}");
    assert!(five.ends_with("line-1\nline-2\nline-3\n"), "{five}");
    let many = h.ok(&["logs", "log", "--fleet", "lg", "--lines", "200"]);
    assert_ne!(five, many);
    assert!(many.ends_with(&five), "{many}");
}

#[test]
fn ps_drift_compares_with_the_file_the_fleet_was_applied_from() {
    let Some(h) = Harness::start() else { return };
    let members = |model: &str| format!("[[member]]\nname = \"docs\"\nmodel = \"{model}\"\n");
    let file = fleet_file(&h, "dr", &members("small"));
    h.ok(&["up", &file]);
    let docs = |h: &Harness| {
        json(&h.ok(&["ps", "--fleet", "dr", "--json"]))
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == "docs").cloned())
            .unwrap_or_default()
    };
    let row = docs(&h);
    assert_eq!(row["drift"], false, "{row}");
    assert!(
        row["fleet_file"]
            .as_str()
            .is_some_and(|f| f.ends_with("dr.toml")),
        "{row}"
    );
    fleet_file(&h, "dr", &members("tiny"));
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(2), "{}", transcript(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stdout)
            .contains("~ recreate docs (member) (model: small → tiny)"),
        "{}",
        transcript(&plan)
    );
    let row = docs(&h);
    assert_eq!(row["drift"], true, "{row}");
    assert_eq!(row["drift_changes"][0], "model: small → tiny", "{row}");
    let ps = h.ok(&["ps", "--fleet", "dr"]);
    assert!(
        ps.lines()
            .next()
            .is_some_and(|l| l.starts_with("fleet dr: drift against ") && l.ends_with("dr.toml")),
        "{ps}"
    );
    let line = ps
        .lines()
        .find(|l| l.contains(" docs "))
        .unwrap_or_default();
    assert!(line.trim_end().ends_with("yes"), "{ps}");
    let director = ps
        .lines()
        .find(|l| l.contains(" director "))
        .unwrap_or_default();
    assert!(director.trim_end().ends_with('-'), "{ps}");
    h.ok(&["up", &file]);
    assert_eq!(docs(&h)["drift"], false);
}

#[test]
fn up_says_when_drift_is_kept_and_plan_exits_2() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(&h, "kd", "model = \"big\"\n");
    h.ok(&["up", &file]);
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
    fleet_file(&h, "kd", "model = \"huge\"\n");
    let out = h.ok(&["up", &file]);
    assert!(
        out.contains("= keep director (director), drifted (model: big → huge); not applied"),
        "{out}"
    );
    assert!(!out.contains("up to date"), "{out}");
    assert!(
        out.contains("1 drifted agent not applied: director (model: big → huge)"),
        "{out}"
    );
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(2), "{}", transcript(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("1 drifted agent not applied"),
        "{}",
        transcript(&plan)
    );
    let plan = h.run(&["plan", &file, "--json"]);
    assert_eq!(plan.status.code(), Some(2), "{}", transcript(&plan));
    let plan = json(&String::from_utf8_lossy(&plan.stdout));
    assert_eq!(plan["in_sync"], false, "{plan}");
    h.ok(&["up", &file, "--recreate", "director"]);
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
}

fn pane_of(h: &Harness, fleet: &str, member: &str) -> Option<String> {
    h.registry()
        .query_row(
            "SELECT a.pane_id FROM agents a JOIN fleets f ON f.id = a.fleet_id \
             WHERE f.name = ?1 AND a.name = ?2",
            [fleet, member],
            |r| r.get(0),
        )
        .ok()
        .flatten()
}

/// Every sign the monitor took a live agent for a dead one: a `dead` or `crash-loop`
/// state, a restart, or a nudge to the Director.
fn false_crash_reports(h: &Harness) -> Vec<String> {
    let registry = h.registry();
    let mut stmt = registry
        .prepare(
            "SELECT kind || ' ' || COALESCE(agent, '-') || ' ' || detail FROM events \
             WHERE kind = 'restart' \
                OR (kind = 'state' AND (detail LIKE '%\"to\":\"dead\"%' OR detail LIKE '%crash-loop%')) \
             UNION ALL SELECT 'nudge ' || recipient || ' ' || CAST(body AS TEXT) FROM messages \
             WHERE kind = 'nudge'",
        )
        .expect("query");
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .filter_map(std::result::Result::ok)
        .collect();
    rows
}

#[test]
fn a_reconcile_in_progress_is_never_read_as_a_crash() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(
        &h,
        "race",
        "[[member]]\nname = \"api\"\nrestart = \"on-failure\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    let _monitor = start_monitor(&h, "race", "100ms");
    assert!(wait_until(Duration::from_secs(10), || recorded(
        &h, "race", "api"
    ) == "idle"));
    // What `up` does while it replaces a pane: it holds the fleet lock, the old pane is
    // gone and the registry still names it.
    let db = camino::Utf8PathBuf::from_path_buf(h.db()).expect("utf-8");
    let lock =
        cafleet::registry::lock::Lock::named(&db, &cafleet::registry::lock::fleet_name("race"))
            .expect("lock");
    let old = pane_of(&h, "race", "api").expect("a pane");
    h.tmux()
        .kill_pane(old.parse().expect("pane id"))
        .expect("kill");
    std::thread::sleep(Duration::from_millis(1500));
    let up = h
        .cmd()
        .args(["up", &file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("up");
    std::thread::sleep(Duration::from_millis(200));
    drop(lock);
    let out = up.wait_with_output().expect("up");
    assert!(out.status.success(), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("created api"),
        "{}",
        transcript(&out)
    );
    assert!(
        wait_until(Duration::from_secs(10), || recorded(&h, "race", "api")
            == "idle"),
        "{}",
        monitor_log(&h, "race")
    );
    assert_eq!(false_crash_reports(&h), Vec::<String>::new());
    assert!(
        monitor_log(&h, "race").contains("skipped"),
        "{}",
        monitor_log(&h, "race")
    );
}

#[test]
fn monitor_and_up_run_together_for_50_reconciles_with_no_false_crash_report() {
    let Some(h) = Harness::start() else { return };
    let members = |model: &str| {
        format!("[[member]]\nname = \"api\"\nmodel = \"{model}\"\nrestart = \"on-failure\"\n")
    };
    let file = fleet_file(&h, "churn", &members("m0"));
    h.ok(&["up", &file]);
    let _monitor = start_monitor(&h, "churn", "50ms");
    for i in 1..=50 {
        fleet_file(&h, "churn", &members(&format!("m{}", i % 2)));
        let out = h.ok(&["up", &file]);
        assert!(out.contains("recreated api"), "reconcile {i}: {out}");
    }
    assert!(
        wait_until(Duration::from_secs(10), || recorded(&h, "churn", "api")
            == "idle"),
        "{}",
        monitor_log(&h, "churn")
    );
    assert_eq!(false_crash_reports(&h), Vec::<String>::new());
    let api_panes = h
        .tagged("churn")
        .into_iter()
        .filter(|(_, member, _, _)| member == "api")
        .count();
    assert_eq!(api_panes, 1, "{:?}", h.tagged("churn"));
    let plan = h.run(&["plan", &file]);
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
}
