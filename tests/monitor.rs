//! The monitor loop on private tmux servers with fake agents: dead and restarted agents,
//! crash loops, stalls and the nudges they cause (one per stall), permission prompts, and
//! the loop's own lifecycle (one per fleet, SIGTERM, `down`).

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cafleet::tmux::testing::wait_until;
use common::{Harness, transcript};

fn fleet_file(h: &Harness, name: &str, members: &str) -> String {
    let log = h.home.path().join("fake.log");
    h.write(
        &format!("{name}.toml"),
        &format!(
            r#"version = 1
[fleet]
name = "{name}"
env = {{ CAFLEET_FAKE_LOG = "{}" }}
[defaults]
backend = "fake"
[director]
{members}"#,
            log.display()
        ),
    )
}

/// A monitor loop this test started; ended (by its pid) when the test ends, even when
/// an assertion fails first.
struct Monitor(Child);

impl Monitor {
    fn id(&self) -> u32 {
        self.0.id()
    }

    fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.try_wait()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn start_monitor(h: &Harness, fleet: &str) -> Monitor {
    Monitor(
        h.cmd()
            .args([
                "monitor",
                "start",
                "--fleet",
                fleet,
                "--interval",
                "200ms",
                "--stall-after",
                "1s",
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

fn state(h: &Harness, fleet: &str, member: &str) -> String {
    let out = h.run(&["ps", "--fleet", fleet, "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    rows.as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == member))
        .and_then(|r| r["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn wait_state(h: &Harness, fleet: &str, member: &str, want: &str, timeout: Duration) {
    let ok = wait_until(timeout, || state(h, fleet, member) == want);
    let events = h.ok(&["events", "--fleet", fleet]);
    let out = std::fs::read_to_string(h.home.path().join(format!("monitor-{fleet}.out")))
        .unwrap_or_default();
    assert!(
        ok,
        "{member} never became {want} (is {}); events:\n{events}\nmonitor:\n{out}",
        state(h, fleet, member)
    );
}

fn stop(mut monitor: Monitor) {
    // Our own child, by pid; it records that it stopped, then the guard reaps it.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    wait_until(Duration::from_secs(5), || {
        matches!(monitor.try_wait(), Ok(Some(_)))
    });
}

fn count(h: &Harness, sql: &str) -> i64 {
    h.registry()
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

fn pane_pid(h: &Harness, fleet: &str, member: &str) -> u32 {
    h.tmux()
        .list_panes(&["@cafleet_fleet", "@cafleet_member"])
        .expect("panes")
        .into_iter()
        .find(|p| {
            p.option("@cafleet_fleet") == Some(fleet)
                && p.option("@cafleet_member") == Some(member)
                && !p.dead
        })
        .and_then(|p| p.pid)
        .expect("live pane")
}

#[test]
fn a_killed_agent_is_dead_within_two_ticks_and_restarted_on_failure() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(
        &h,
        "r",
        "[[member]]\nname = \"api\"\nrestart = \"on-failure\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    let monitor = start_monitor(&h, "r");
    wait_state(&h, "r", "api", "idle", Duration::from_secs(10));
    let old = pane_pid(&h, "r", "api");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    let killed = Instant::now();
    let dead = wait_until(Duration::from_secs(10), || {
        count(
            &h,
            "SELECT COUNT(*) FROM events WHERE kind = 'state' AND agent = 'api' AND detail LIKE '%\"to\":\"dead\"%'",
        ) > 0
    });
    assert!(dead, "{}", h.ok(&["events", "--fleet", "r"]));
    // Two ticks of 200 ms, plus scheduling slack on a busy machine.
    assert!(
        killed.elapsed() < Duration::from_secs(3),
        "took {:?}",
        killed.elapsed()
    );
    wait_state(&h, "r", "api", "idle", Duration::from_secs(10));
    assert_ne!(pane_pid(&h, "r", "api"), old, "a new process");
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM events WHERE kind = 'restart' AND agent = 'api'"
        ),
        1
    );
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM messages WHERE kind = 'nudge' AND recipient = 'director'"
        ),
        1
    );
    stop(monitor);
}

#[test]
fn an_agent_that_dies_on_every_start_ends_in_crash_loop() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(
        &h,
        "cl",
        "[[member]]\nname = \"flaky\"\nrestart = \"on-failure\"\nmax_restarts = 2\nfake = { exit_after = \"100ms\", exit_code = 3 }\n",
    );
    h.ok(&["up", &file]);
    let monitor = start_monitor(&h, "cl");
    wait_state(&h, "cl", "flaky", "crash-loop", Duration::from_secs(20));
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM events WHERE kind = 'restart' AND agent = 'flaky'"
        ),
        2
    );
    // It stays there: no more restarts.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM events WHERE kind = 'restart' AND agent = 'flaky'"
        ),
        2
    );
    stop(monitor);
}

#[test]
fn a_frozen_agent_with_waiting_work_stalls_once_and_a_drawing_one_never() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(
        &h,
        "st",
        "[[member]]\nname = \"frozen\"\nfake = { freeze_after = \"0s\" }\n[[member]]\nname = \"busy\"\n",
    );
    h.ok(&["up", &file, "--wait"]);
    // Work that waits: notified, never read.
    for member in ["frozen", "busy"] {
        h.registry()
            .execute(
                "INSERT INTO messages (fleet_id, sender, recipient, body, state, notified_at)
                 SELECT id, 'director', ?1, 'do it', 'notified', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM fleets WHERE name = 'st'",
                [member],
            )
            .expect("insert");
    }
    let monitor = start_monitor(&h, "st");
    let stalled = wait_until(Duration::from_secs(15), || {
        count(
            &h,
            "SELECT COUNT(*) FROM events WHERE kind = 'state' AND agent = 'frozen' AND detail LIKE '%\"to\":\"stalled\"%'",
        ) > 0
    });
    assert!(stalled, "{}", h.ok(&["events", "--fleet", "st"]));
    // Several more ticks: still exactly one nudge to the Director about it.
    std::thread::sleep(Duration::from_millis(1500));
    let nudges = count(
        &h,
        "SELECT COUNT(*) FROM messages WHERE kind = 'nudge' AND recipient = 'director' AND body LIKE 'frozen stalled%'",
    );
    assert_eq!(nudges, 1, "{}", h.ok(&["events", "--fleet", "st"]));
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM messages WHERE kind = 'nudge' AND body LIKE 'busy%'"
        ),
        0
    );
    assert_eq!(
        count(
            &h,
            "SELECT COUNT(*) FROM messages WHERE kind = 'nudge' AND recipient = 'busy'"
        ),
        0
    );
    assert_ne!(state(&h, "st", "busy"), "stalled");
    stop(monitor);
}

#[test]
fn a_permission_prompt_is_waiting_input_and_its_nudge_starts_with_escape() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(
        &h,
        "pp",
        "[[member]]\nname = \"asker\"\nfake = { screen = \"permission\" }\n",
    );
    h.ok(&["up", &file]);
    assert!(wait_until(Duration::from_secs(10), || {
        let pane = h
            .tagged("pp")
            .into_iter()
            .find(|t| t.1 == "asker")
            .map(|t| t.0)
            .unwrap_or_default();
        pane.parse()
            .ok()
            .and_then(|p| h.tmux().capture_pane(p, None).ok())
            .is_some_and(|t| t.contains("Do you want to proceed?"))
    }));
    h.registry()
        .execute(
            "INSERT INTO messages (fleet_id, sender, recipient, body, state) SELECT id, 'director', 'asker', 'hello', 'notified' FROM fleets WHERE name = 'pp'",
            [],
        )
        .expect("insert");
    let monitor = start_monitor(&h, "pp");
    wait_state(&h, "pp", "asker", "waiting-input", Duration::from_secs(10));
    let log = h.home.path().join("fake.log");
    let escaped = wait_until(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let events: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|e: &serde_json::Value| e["agent"] == "asker")
            .collect();
        let first_text = events.iter().position(|e| {
            e["event"] == "text"
                && e["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("[cafleet] message #"))
        });
        let first_escape = events
            .iter()
            .position(|e| e["event"] == "key" && e["key"] == "Escape");
        matches!((first_escape, first_text), (Some(esc), Some(txt)) if esc < txt)
    });
    assert!(
        escaped,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    stop(monitor);
}

#[test]
fn one_loop_per_fleet_sigterm_stops_it_and_down_ends_it() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(&h, "lc", "");
    h.ok(&["up", &file]);
    let mut first = start_monitor(&h, "lc");
    let pid = first.id();
    assert!(wait_until(Duration::from_secs(10), || h
        .ok(&["monitor", "status", "--fleet", "lc"])
        .contains("running")));
    let second = h.run(&["monitor", "start", "--fleet", "lc", "--interval", "200ms"]);
    assert_eq!(second.status.code(), Some(1), "{}", transcript(&second));
    assert!(String::from_utf8_lossy(&second.stderr).contains(&format!(
        "a monitor already runs for fleet `lc` (pid {pid})"
    )));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    let sent = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || matches!(
        first.try_wait(),
        Ok(Some(_))
    )));
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "took {:?}",
        sent.elapsed()
    );
    let status = h.ok(&["monitor", "status", "--fleet", "lc"]);
    assert!(
        status.contains("stopped") && status.contains("stopped by a signal"),
        "{status}"
    );

    let mut again = start_monitor(&h, "lc");
    assert!(wait_until(Duration::from_secs(10), || h
        .ok(&["monitor", "status", "--fleet", "lc"])
        .contains("running")));
    h.ok(&["down", &file]);
    assert!(
        wait_until(Duration::from_secs(5), || matches!(
            again.try_wait(),
            Ok(Some(_))
        )),
        "down must end the loop"
    );
    let status = h.ok(&["monitor", "status", "--fleet", "lc"]);
    assert!(status.contains("stopped"), "{status}");
}

#[test]
fn monitor_config_changes_settings() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(&h, "cfg", "");
    h.ok(&["up", &file]);
    assert_eq!(
        h.ok(&["monitor", "config", "--fleet", "cfg"]),
        "interval = \"1m\"\nstall_after = \"10m\"\n"
    );
    assert_eq!(
        h.ok(&[
            "monitor",
            "config",
            "--fleet",
            "cfg",
            "--interval",
            "30s",
            "--stall-after",
            "5m"
        ]),
        "interval = \"30s\"\nstall_after = \"5m\"\n"
    );
}

#[test]
fn a_stale_monitor_row_neither_blocks_start_nor_gets_another_process_killed() {
    let Some(h) = Harness::start() else { return };
    let file = fleet_file(&h, "stale", "");
    h.ok(&["up", &file]);
    // A process of ours that happens to have the pid a dead loop left in the registry.
    let mut bystander = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .expect("sleep");
    h.registry()
        .execute(
            "INSERT INTO monitors (fleet_id, pid, status) SELECT id, ?1, 'running' FROM fleets WHERE name = 'stale'",
            [i64::from(bystander.id())],
        )
        .expect("stale row");
    let status = h.ok(&["monitor", "status", "--fleet", "stale"]);
    assert!(!status.contains("running"), "{status}");
    let once = h.run(&[
        "monitor",
        "start",
        "--fleet",
        "stale",
        "--once",
        "--interval",
        "200ms",
    ]);
    assert!(once.status.success(), "{}", transcript(&once));
    h.registry()
        .execute(
            "UPDATE monitors SET status = 'running', pid = ?1",
            [i64::from(bystander.id())],
        )
        .expect("stale again");
    h.ok(&["down", &file]);
    assert!(
        matches!(bystander.try_wait(), Ok(None)),
        "down must not signal a process that is not the monitor"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
}

/// Ends, by its pid, a monitor loop `up` started for this test's registry, should the
/// test fail before `down` does: only a process whose command line names this registry.
struct StartedLoop {
    db: std::path::PathBuf,
    pid: Option<u32>,
}

impl StartedLoop {
    fn alive(&self) -> bool {
        self.pid.is_some_and(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*self.db.to_string_lossy()))
        })
    }
}

impl Drop for StartedLoop {
    fn drop(&mut self) {
        if let (true, Some(pid)) = (self.alive(), self.pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

fn monitor_json(h: &Harness, fleet: &str) -> serde_json::Value {
    serde_json::from_str(&h.ok(&["monitor", "status", "--fleet", fleet, "--json"]))
        .expect("monitor status JSON")
}

#[test]
fn loop_cafleet_makes_up_start_the_heartbeat_and_down_stop_it() {
    let Some(h) = Harness::start() else { return };
    // Fake agents never start the loop themselves: without `loop`, nothing runs it.
    let plain = fleet_file(&h, "quiet", "[monitor]\n");
    h.ok(&["up", &plain, "--wait"]);
    assert_eq!(
        monitor_json(&h, "quiet")["monitor"],
        serde_json::Value::Null
    );
    h.ok(&["down", &plain]);

    let file = fleet_file(
        &h,
        "hb",
        "[monitor]\nloop = \"cafleet\"\ninterval = \"200ms\"\n",
    );
    let out = h.ok(&["up", &file, "--wait"]);
    assert!(out.contains("started the monitor loop of `hb`"), "{out}");
    let mut started = StartedLoop {
        db: h.db(),
        pid: None,
    };
    let ticked = wait_until(Duration::from_secs(10), || {
        let status = monitor_json(&h, "hb");
        started.pid = status["monitor"]["pid"].as_u64().map(|p| p as u32);
        status["running"] == true && !status["monitor"]["last_tick_at"].is_null()
    });
    assert!(ticked, "{}", monitor_json(&h, "hb"));
    assert!(started.alive());
    let pid = started.pid;

    // One loop: a second `up` leaves the running one alone.
    let again = h.ok(&["up", &file]);
    assert!(!again.contains("started the monitor loop"), "{again}");
    assert_eq!(
        monitor_json(&h, "hb")["monitor"]["pid"]
            .as_u64()
            .map(|p| p as u32),
        pid
    );

    h.ok(&["down", &file]);
    assert!(
        wait_until(Duration::from_secs(5), || !started.alive()),
        "down must end the loop up started"
    );
    let status = monitor_json(&h, "hb");
    assert_eq!(status["running"], false, "{status}");
}
