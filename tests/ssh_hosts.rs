//! Members on another host over ssh, end to end with no second machine: a private sshd
//! on 127.0.0.1 (see `common::ssh`) stands for host `remote1`, with a second tmux server
//! behind it; the registry is one SQLite file both "hosts" see, or (the second run of the
//! main test) a PostgreSQL schema, as real machines would share. `up`, `plan`, `ps`,
//! `logs`, messages both ways, then the host goes away in the middle (sshd killed by pid,
//! the shared connection ended) and comes back; `up` and `down` with the host away.

mod common;
mod web_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::time::Duration;

use cafleet::registry::Registry;
use cafleet::tmux::testing::wait_until;
use common::Harness;
use common::ssh::{HOST, SshHost};
use serde_json::Value;
use web_support::get;

const FLEET: &str = r#"version = 1
[fleet]
name = "spread"
[defaults]
backend = "fake"
[director]
fake = { ack = true }
[[member]]
name = "near"
fake = { ack = true }
[[member]]
name = "far"
host = "remote1"
fake = { reply = "pong {n} from far", ack = true }
"#;

struct Setup {
    h: Harness,
    ssh: SshHost,
    file: String,
}

impl Setup {
    fn start() -> Option<Setup> {
        Setup::on(Harness::start()?)
    }

    /// The same, with the registry on PostgreSQL: what two real machines would share.
    fn start_postgres() -> Option<Setup> {
        Setup::on(Harness::start_postgres()?)
    }

    fn on(h: Harness) -> Option<Setup> {
        let ssh = SshHost::start()?;
        let file = h.write("spread/fleet.toml", FLEET);
        Some(Setup { h, ssh, file })
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.h.cmd();
        for (key, value) in self.ssh.env() {
            cmd.env(key, value);
        }
        cmd.args(args).output().expect("run cafleet")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "cafleet {args:?} failed:\n{}",
            common::transcript(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ps(&self) -> Vec<Value> {
        let out = self.ok(&["ps", "--fleet", "spread", "--json"]);
        let value: Value = serde_json::from_str(&out).expect("ps --json");
        value
            .get("agents")
            .and_then(Value::as_array)
            .or_else(|| value.as_array())
            .cloned()
            .unwrap_or_else(|| panic!("unexpected ps --json: {out}"))
    }

    fn state(&self, member: &str) -> String {
        self.ps()
            .into_iter()
            .find(|a| a["name"] == member)
            .and_then(|a| a["state"].as_str().map(String::from))
            .unwrap_or_default()
    }

    /// The registry, whichever engine the harness put it on.
    fn registry(&self) -> Registry {
        Registry::open(camino::Utf8Path::new(&self.h.location())).expect("open the registry")
    }

    /// (sender, recipient, state, body) of every message of the fleet, oldest first.
    fn messages(&self) -> Vec<(String, String, String, String)> {
        let registry = self.registry();
        let fleet = registry.history_fleet("spread").expect("fleet spread");
        registry
            .timeline(fleet.id, None, 0, i64::MAX)
            .expect("messages")
            .into_iter()
            .map(|m| {
                let body = String::from_utf8_lossy(&m.body).into_owned();
                (m.sender, m.recipient, m.state, body)
            })
            .collect()
    }

    /// Why the message with `body` is still queued, as the courier recorded it.
    fn queued_reason(&self, body: &str) -> Option<String> {
        let registry = self.registry();
        let fleet = registry.history_fleet("spread").expect("fleet spread");
        registry
            .timeline(fleet.id, None, 0, i64::MAX)
            .expect("messages")
            .into_iter()
            .find(|m| m.body == body.as_bytes() && m.state == "queued")
            .and_then(|m| m.state_reason)
    }

    /// `doctor FILE --json`: each check's status, by name.
    fn doctor(&self) -> std::collections::BTreeMap<String, String> {
        let out = self.run(&["doctor", &self.file, "--json"]);
        let value: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("doctor --json: {}", common::transcript(&out)));
        value["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The state the registry records for `member` (what the monitor wrote).
    fn recorded(&self, member: &str) -> String {
        let registry = self.registry();
        let fleet = registry.history_fleet("spread").expect("fleet spread");
        registry
            .agent(fleet.id, member)
            .expect("agent row")
            .map(|a| a.status)
            .unwrap_or_else(|| panic!("no agent {member}"))
    }

    /// `cafleet web` (no token, loopback) with the same ssh settings; its address.
    fn web(&self) -> (web_support::Reap, SocketAddr) {
        let mut cmd = self.h.cmd();
        for (key, value) in self.ssh.env() {
            cmd.env(key, value);
        }
        let mut web = web_support::Reap(
            cmd.args(["web", "--port", "0", "--no-token"])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start cafleet web"),
        );
        let mut line = String::new();
        BufReader::new(web.0.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the URL");
        let addr = line
            .trim()
            .strip_prefix("serving the web UI at http://")
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        (web, addr)
    }

    /// The web API's row for `member`.
    fn web_agent(&self, addr: SocketAddr, member: &str) -> Value {
        let agents = get("/api/fleets/spread/agents").send(addr).json();
        agents
            .as_array()
            .and_then(|all| all.iter().find(|a| a["name"] == member).cloned())
            .unwrap_or_else(|| panic!("no {member} in {agents}"))
    }

    fn remote_panes(&self) -> Vec<String> {
        self.ssh
            .tmux("s")
            .list_panes(&["@cafleet_fleet", "@cafleet_member"])
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.option("@cafleet_fleet") == Some("spread"))
            .filter_map(|p| p.option("@cafleet_member").map(String::from))
            .collect()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_member_on_another_host_is_started_reached_and_survives_the_host_going_away() {
    let Some(s) = Setup::start() else { return };
    started_reached_and_survives_the_host_going_away(s);
}

/// The same with the registry on PostgreSQL, as a fleet across real machines runs.
#[test]
fn on_a_postgres_registry_a_member_on_another_host_is_reached_and_survives_it_going_away() {
    let Some(s) = Setup::start_postgres() else {
        return;
    };
    started_reached_and_survives_the_host_going_away(s);
}

fn started_reached_and_survives_the_host_going_away(mut s: Setup) {
    // up: the remote member's pane is on the other host's tmux server, tagged the same.
    let out = s.ok(&["up", &s.file, "--wait", "--timeout", "60s"]);
    assert!(
        out.contains("+ create far (member) on remote1: new"),
        "{out}"
    );
    assert!(out.contains(" on remote1\n"), "{out}");
    assert_eq!(s.remote_panes(), ["far"]);
    let local: Vec<String> = s.h.tagged("spread").into_iter().map(|t| t.1).collect();
    assert_eq!(local, ["director", "near"]);
    // doctor (once the registry exists) checks the host the file places a member on, through the same ssh.
    let checks = s.doctor();
    for name in [
        "host.remote1",
        "host.remote1.tmux",
        "host.remote1.cafleet",
        "host.remote1.database",
    ] {
        assert_eq!(
            checks.get(name).map(String::as_str),
            Some("ok"),
            "{name}: {checks:?}"
        );
    }

    // The same file again: nothing to do, on either host.
    let plan = s.run(&["plan", &s.file]);
    assert_eq!(plan.status.code(), Some(0), "{}", common::transcript(&plan));
    assert!(
        stdout(&plan).contains("= keep far (member) on remote1"),
        "{}",
        stdout(&plan)
    );

    // ps and logs reach it; its pid is the other host's and is never looked up here.
    assert!(
        wait_until(Duration::from_secs(20), || s.state("far") == "idle"),
        "{:?}",
        s.ps()
    );
    let far = s
        .ps()
        .into_iter()
        .find(|a| a["name"] == "far")
        .expect("far");
    assert_eq!(far["host"], "remote1", "{far}");
    let table = s.ok(&["ps", "--fleet", "spread"]);
    assert!(table.contains(" on remote1"), "{table}");
    let logs = s.ok(&["logs", "far", "--fleet", "spread"]);
    assert!(!logs.trim().is_empty(), "empty screen of far");

    // The monitor looks at it on its host like at any other pane.
    s.ok(&["monitor", "start", "--fleet", "spread", "--once"]);
    assert_eq!(s.recorded("far"), "idle");

    // A message to it is announced in its pane; it reads it there (with the cafleet on
    // that host's PATH) and its reply comes back to the Director through the courier.
    s.ok(&[
        "message", "send", "--fleet", "spread", "--as", "director", "--to", "far", "ping one",
    ]);
    let replied = wait_until(Duration::from_secs(30), || {
        s.messages().iter().any(|(from, to, state, body)| {
            from == "far" && to == "director" && body.contains("pong 1") && state != "queued"
        })
    });
    assert!(replied, "{:?}", s.messages());
    assert!(
        s.messages()
            .iter()
            .any(|(from, to, state, _)| from == "director" && to == "far" && state != "queued"),
        "{:?}",
        s.messages()
    );

    // The web UI reaches it too: its row says where it runs, and its pane text comes
    // from the other host's tmux server.
    let (web, addr) = s.web();
    let row = s.web_agent(addr, "far");
    assert_eq!(row["host"], "remote1", "{row}");
    let pane = get("/api/fleets/spread/agents/far/pane").send(addr);
    assert_eq!(pane.status, 200, "{}", pane.body);
    assert!(pane.body.contains("cafleet fake agent"), "{}", pane.body);

    // The host goes away: far is `unreachable`, never `dead`, and a message waits.
    s.ssh.stop();
    assert!(!s.ssh.answers());
    assert!(
        wait_until(Duration::from_secs(20), || s.state("far") == "unreachable"),
        "{:?}",
        s.ps()
    );
    assert_eq!(s.state("near"), "idle");
    assert_eq!(
        s.doctor().get("host.remote1").map(String::as_str),
        Some("fail")
    );
    // The monitor records it `unreachable` (no restart, no nudge), the rest as they are.
    s.ok(&["monitor", "start", "--fleet", "spread", "--once"]);
    assert_eq!(s.recorded("far"), "unreachable");
    assert_eq!(s.recorded("near"), "idle");
    s.ok(&[
        "message", "send", "--fleet", "spread", "--as", "director", "--to", "far", "ping two",
    ]);
    // The courier tries, finds the host away, and leaves the message queued saying so.
    let said = wait_until(Duration::from_secs(20), || {
        s.queued_reason("ping two")
            .is_some_and(|reason| reason.contains("unreachable"))
    });
    assert!(said, "{:?} {:?}", s.queued_reason("ping two"), s.messages());
    let waiting = s.messages();
    assert!(
        waiting
            .iter()
            .any(|(_, to, state, body)| to == "far" && body == "ping two" && state == "queued"),
        "{waiting:?}"
    );
    assert_eq!(s.web_agent(addr, "far")["state"], "unreachable");
    drop(web);

    // up with the host away: the rest of the fleet is reconciled, far2 is skipped and said.
    std::fs::write(
        &s.file,
        format!(
            "{FLEET}[[member]]\nname = \"near2\"\n[[member]]\nname = \"far2\"\nhost = \"remote1\"\n"
        ),
    )
    .expect("write");
    let up = s.run(&["up", &s.file]);
    assert_eq!(up.status.code(), Some(1), "{}", common::transcript(&up));
    assert!(
        stdout(&up).contains("skipped far2: host remote1 is unreachable"),
        "{}",
        stdout(&up)
    );
    assert!(
        stdout(&up).contains("! host remote1 is unreachable (skipped: far2)"),
        "{}",
        stdout(&up)
    );
    assert!(
        stdout(&up).contains("created near2 in %"),
        "{}",
        stdout(&up)
    );
    assert!(stderr(&up).contains("skipped far2"), "{}", stderr(&up));

    // The host is back: the waiting message is announced by the courier's next try.
    s.ssh.restart();
    let announced = wait_until(Duration::from_secs(60), || {
        s.messages()
            .iter()
            .any(|(_, to, state, body)| to == "far" && body == "ping two" && state != "queued")
    });
    assert!(announced, "{:?}", s.messages());
    assert_ne!(s.state("far"), "unreachable");
    s.ok(&["monitor", "start", "--fleet", "spread", "--once"]);
    assert_ne!(s.recorded("far"), "unreachable");
    assert_ne!(s.recorded("far"), "dead");
    let out = s.ok(&["up", &s.file]);
    assert!(
        out.contains("created far2 in %") && out.contains(" on remote1"),
        "{out}"
    );
    let mut remote = s.remote_panes();
    remote.sort();
    assert_eq!(remote, ["far", "far2"]);

    // down with the host away says what it could not reach and leaves those rows.
    s.ssh.stop();
    let down = s.run(&["down", &s.file]);
    assert_eq!(down.status.code(), Some(1), "{}", common::transcript(&down));
    assert!(
        stdout(&down).contains("could not reach host remote1; left as they were: far, far2"),
        "{}",
        stdout(&down)
    );
    assert!(
        stderr(&down).contains("could not reach remote1 (far, far2)"),
        "{}",
        stderr(&down)
    );
    assert!(
        s.h.tagged("spread").is_empty(),
        "local panes stay after down"
    );
    assert_eq!(s.state("far"), "unreachable");
    // Back again: the next down reaches it and nothing of the fleet is left anywhere.
    s.ssh.restart();
    let out = s.ok(&["down", &s.file]);
    assert!(out.contains("on remote1)"), "{out}");
    assert!(s.remote_panes().is_empty(), "{:?}", s.remote_panes());
    assert_eq!(s.state("far"), "stopped");
    let _ = HOST;
}

/// Text and paths that a shell would run travel to the other host as data: a working
/// folder and a message full of shell syntax reach the remote pane literally, and
/// nothing in them is ever run there.
#[test]
fn shell_syntax_in_paths_and_messages_is_never_run_on_the_other_host() {
    let Some(s) = Setup::start() else { return };
    let trap = s.h.home.path().join("trap");
    std::fs::create_dir_all(&trap).expect("trap dir");
    let t = trap.display();
    let odd = format!("odd dir $(touch {t}/cwd1); touch {t}/cwd2 `touch {t}/cwd3` 'q' \"d\" \\ x;");
    std::fs::create_dir_all(s.h.home.path().join("spread").join(&odd)).expect("odd dir");
    let file = s.h.write(
        "spread/fleet.toml",
        &format!(
            "version = 1\n[fleet]\nname = \"spread\"\n[defaults]\nbackend = \"fake\"\n[director]\n\
             [[member]]\nname = \"far\"\nhost = \"remote1\"\ncwd = {odd:?}\nfake = {{ ack = true }}\n\
             env = {{ NOTE = \"$(touch {t}/env1)\" }}\n"
        ),
    );
    s.ok(&["up", &file, "--wait", "--timeout", "60s"]);
    let pane = s
        .ssh
        .tmux("s")
        .list_panes(&["@cafleet_member"])
        .expect("remote panes")
        .into_iter()
        .find(|p| p.option("@cafleet_member") == Some("far"))
        .expect("far's pane on the remote server");
    assert!(pane.current_path.ends_with(&odd), "{}", pane.current_path);
    let body =
        format!("hi $(touch {t}/msg1); touch {t}/msg2 `touch {t}/msg3` | x && y 'q' \"d\" \\;");
    s.ok(&[
        "message", "send", "--fleet", "spread", "--as", "director", "--to", "far", &body,
    ]);
    let taken = wait_until(Duration::from_secs(30), || {
        s.messages()
            .iter()
            .any(|(_, to, state, text)| to == "far" && *text == body && state != "queued")
    });
    assert!(taken, "{:?}", s.messages());
    let screen = s.ok(&["logs", "far", "--fleet", "spread"]);
    assert!(screen.contains("$(touch"), "{screen}");
    let ran: Vec<_> = std::fs::read_dir(&trap)
        .expect("trap")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(ran.is_empty(), "shell syntax was run: {ran:?}");
    s.ok(&["down", &file]);
}

/// The monitor restarts a member whose process exited on its own host, there.
#[test]
fn the_monitor_restarts_a_remote_member_on_its_host() {
    let Some(s) = Setup::start() else { return };
    let file = s.h.write(
        "spread/fleet.toml",
        "version = 1\n[fleet]\nname = \"spread\"\n[defaults]\nbackend = \"fake\"\n[director]\n\
         [[member]]\nname = \"far\"\nhost = \"remote1\"\nrestart = \"always\"\n\
         fake = { exit_after = \"1s\", exit_code = 3 }\n",
    );
    s.ok(&["up", &file]);
    assert!(
        wait_until(Duration::from_secs(20), || s.state("far") == "dead"),
        "{:?}",
        s.ps()
    );
    // A running monitor (it needs two looks to call a pane dead), ended by its pid.
    let mut cmd = s.h.cmd();
    for (key, value) in s.ssh.env() {
        cmd.env(key, value);
    }
    let mut monitor = cmd
        .args([
            "monitor",
            "start",
            "--fleet",
            "spread",
            "--interval",
            "200ms",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("monitor");
    let restarted = wait_until(Duration::from_secs(30), || {
        s.ok(&["events", "--fleet", "spread", "--json"])
            .contains("\"restart\"")
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    wait_until(Duration::from_secs(5), || {
        matches!(monitor.try_wait(), Ok(Some(_)))
    });
    assert!(restarted, "{}", s.ok(&["events", "--fleet", "spread"]));
    let spawns = s.ok(&["events", "--fleet", "spread", "--json"]);
    assert!(
        spawns.matches("\"host\": \"remote1\"").count() >= 2,
        "the restart spawned there: {spawns}"
    );
    // (A new pane there: the remote server may have started afresh, so its id may be
    // `%0` again.)
    assert_eq!(s.remote_panes(), ["far"], "restarted on remote1, not here");
    assert_eq!(
        s.h.tagged("spread")
            .into_iter()
            .map(|t| t.1)
            .collect::<Vec<_>>(),
        ["director"]
    );
    s.ok(&["down", &file]);
}
