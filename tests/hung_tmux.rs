//! A tmux server that does not answer (SIGSTOP, as a wedged server behaves: it accepts
//! the connection and never replies) freezes nothing: every tmux call has a timeout, `ps`
//! and the web API answer with the agents' state `unknown` and a warning, and no route
//! waits on another that waits on tmux (issue 15).

mod common;
mod web_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cafleet::tmux::Cmd;
use common::{Harness, transcript};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use web_support::get;

/// Stops the test's own tmux server until dropped, then lets it run again (the harness
/// then kills it), whether the test passed or not.
struct Stopped(Pid);

impl Stopped {
    fn server(h: &Harness) -> Stopped {
        let pid: i32 = h
            .tmux()
            .run(Cmd::new("display-message").args(["-p", "#{pid}"]))
            .expect("server pid")
            .trim()
            .parse()
            .expect("a pid");
        let pid = Pid::from_raw(pid);
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP the test's tmux server");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

/// Runs `cmd`, killing it and failing the test if it has not finished within `limit`
/// (a command frozen by the stopped server must fail the test, not hang it).
fn output_within(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let finished =
        cafleet::tmux::testing::wait_until(limit, || child.try_wait().ok().flatten().is_some());
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} was still running after {limit:?}");
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_stopped_tmux_server_freezes_neither_ps_nor_the_web_api() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "h.toml",
        "version = 1\n[fleet]\nname = \"h\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    h.ok(&["up", &file, "--wait"]);

    let mut web = web_support::Reap(
        h.cmd()
            .env("CAFLEET_TMUX_TIMEOUT", "1")
            .args(["web", "--port", "0", "--no-token"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cafleet web"),
    );
    let mut line = String::new();
    BufReader::new(web.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the URL");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("serving the web UI at http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");

    let stopped = Stopped::server(&h);

    let started = Instant::now();
    let mut cmd = h.cmd();
    cmd.env("CAFLEET_TMUX_TIMEOUT", "1").arg("ps");
    let ps = output_within(cmd, Duration::from_secs(15));
    let took = started.elapsed();
    assert!(ps.status.success(), "{}", transcript(&ps));
    assert!(took < Duration::from_secs(10), "ps took {took:?}");
    let stdout = String::from_utf8_lossy(&ps.stdout);
    let stderr = String::from_utf8_lossy(&ps.stderr);
    assert!(
        stdout.lines().filter(|l| l.contains("unknown")).count() == 2,
        "{}",
        transcript(&ps)
    );
    assert!(
        stderr.starts_with("warning: fleet h: its agents' state is unknown")
            && stderr.contains("did not answer"),
        "{}",
        transcript(&ps)
    );
    let mut cmd = h.cmd();
    cmd.env("CAFLEET_TMUX_TIMEOUT", "1").args(["ps", "--json"]);
    let json = output_within(cmd, Duration::from_secs(15));
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["state"] == "unknown" && r["reason"].is_string()),
        "{rows}"
    );

    // The web API: the agents route answers within its timeout, and the other routes do
    // not wait for it.
    let (agents, fleets) = std::thread::scope(|scope| {
        let agents = scope.spawn(|| {
            let started = Instant::now();
            let response = get("/api/fleets/h/agents").send(addr);
            (response, started.elapsed())
        });
        let fleets = scope.spawn(|| {
            let started = Instant::now();
            let response = get("/api/fleets").send(addr);
            let messages = get("/api/fleets/h/messages").send(addr);
            assert_eq!(messages.status, 200, "{}", messages.body);
            (response, started.elapsed())
        });
        (
            agents.join().expect("agents"),
            fleets.join().expect("fleets"),
        )
    });
    assert_eq!(agents.0.status, 200, "{}", agents.0.body);
    assert!(
        agents.1 < Duration::from_secs(10),
        "agents took {:?}",
        agents.1
    );
    let rows = agents.0.json();
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .all(|r| r["state"] == "unknown"
                && r["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("did not answer"))),
        "{rows}"
    );
    assert_eq!(fleets.0.status, 200);
    assert!(
        fleets.1 < Duration::from_secs(3),
        "fleets took {:?}",
        fleets.1
    );

    drop(stopped);
    // Running again, the server is asked again: the states come back.
    let ps = h.ok(&["ps"]);
    assert!(!ps.contains("unknown"), "{ps}");
}
