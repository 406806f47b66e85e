//! How agents start and where their messages go when they cannot reach tmux, on private
//! tmux servers with fake agents: prompts of any size up to the documented limit (the
//! launcher), panes big enough for a real TUI, and the courier that announces messages
//! stored from inside a sandbox.

mod common;

use std::time::Duration;

use common::{Harness, transcript};

/// Polls `cond` until it holds; fails the test naming `what` after `timeout`.
fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    assert!(
        cafleet::tmux::testing::wait_until(timeout, cond),
        "timed out after {timeout:?} waiting for {what}"
    );
}

/// The fake's JSON-lines log, parsed.
fn log_events(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn fleet_with_prompt_file(name: &str, prompt_file: &str, log: &str) -> String {
    format!(
        r#"version = 1
[fleet]
name = "{name}"
[defaults]
backend = "fake"
[director]
[[member]]
name = "big"
prompt_file = "{prompt_file}"
env = {{ CAFLEET_FAKE_LOG = "{log}" }}
"#
    )
}

/// A prompt with lines, quotes, `-` at the start and multi-byte text, `len` bytes long.
fn prompt_of(len: usize) -> String {
    let line = "- line with \"quotes\", $dollars, ; semicolons and ünïcode\n";
    let mut text = String::from("---\nfront: matter\n---\n");
    while text.len() + line.len() < len {
        text.push_str(line);
    }
    while text.len() < len {
        text.push('x');
    }
    text
}

#[test]
fn a_64_kib_prompt_starts_the_agent_with_it_on_its_command_line() {
    let Some(h) = Harness::start() else { return };
    let prompt = prompt_of(64 * 1024);
    h.write("p64.md", &prompt);
    let log = h.home.path().join("fake.log");
    let file = h.write(
        "p64.toml",
        &fleet_with_prompt_file("p64", "p64.md", &log.to_string_lossy()),
    );
    // tmux refuses commands over ~16 KiB: before the launcher this failed with
    // "command too long" and left the agent dead.
    h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    wait_until(Duration::from_secs(10), "the fake's start event", || {
        log_events(&log).iter().any(|e| e["event"] == "start")
    });
    let start = log_events(&log)
        .into_iter()
        .find(|e| e["event"] == "start")
        .expect("start");
    assert_eq!(start["prompt"].as_str(), Some(prompt.as_str()));
    // Still one process: the launcher exec'd the agent in its place.
    let pid = start["pid"].as_u64().expect("pid") as u32;
    let pane_pid: i64 = h
        .registry()
        .query_row("SELECT pane_pid FROM agents WHERE name = 'big'", [], |r| {
            r.get(0)
        })
        .expect("pane pid");
    assert_eq!(i64::from(pid), pane_pid);
    h.ok(&["down", &file]);
}

#[test]
fn a_prompt_longer_than_one_argument_is_pasted_once_the_agent_is_ready() {
    let Some(h) = Harness::start() else { return };
    // Linux caps one argument at 128 KiB; the documented limit is 1 MiB.
    let prompt = prompt_of(1024 * 1024);
    h.write("p1m.md", &prompt);
    let log = h.home.path().join("fake.log");
    let file = h.write(
        "p1m.toml",
        &fleet_with_prompt_file("p1m", "p1m.md", &log.to_string_lossy()),
    );
    h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    wait_until(
        Duration::from_secs(30),
        "the pasted prompt submitted",
        || log_events(&log).iter().any(|e| e["event"] == "submit"),
    );
    let events = log_events(&log);
    let start = events
        .iter()
        .find(|e| e["event"] == "start")
        .expect("start");
    assert!(start["prompt"].is_null(), "no prompt on the command line");
    let paste = events
        .iter()
        .filter(|e| e["event"] == "paste")
        .map(|e| e["text"].as_str().unwrap_or_default())
        .collect::<String>();
    // A paste turns newlines into carriage returns, as a terminal does.
    assert_eq!(
        paste.replace('\r', "\n"),
        prompt,
        "the whole prompt, intact"
    );
    let submit = events
        .iter()
        .find(|e| e["event"] == "submit")
        .expect("submit");
    assert_eq!(submit["line"].as_str(), Some(prompt.as_str()));
    h.ok(&["down", &file]);
}

#[test]
fn config_check_refuses_a_prompt_over_the_limit() {
    let Some(h) = Harness::start() else { return };
    h.write("huge.md", &"z".repeat(1024 * 1024 + 1));
    let file = h.write(
        "huge.toml",
        &fleet_with_prompt_file("huge", "huge.md", "/dev/null"),
    );
    let out = h.run(&["config", "check", &file]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the prompt of `big` is 1048577 bytes once rendered; the limit is 1048576"),
        "{text}"
    );
    // A `command` member's prompt travels in one environment variable: 128 KiB.
    let file = h.write(
        "cmd.toml",
        &format!(
            "version = 1\n[fleet]\nname = \"cmd\"\n[director]\nbackend = \"fake\"\n[[member]]\nname = \"sh\"\nbackend = \"command\"\ncommand = [\"sh\"]\nprompt = \"{}\"\n",
            "q".repeat(200 * 1024)
        ),
    );
    let out = h.run(&["config", "check", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert!(transcript(&out).contains("environment variable"));
}

/// (width, height) of every pane of the fleet's session.
fn pane_sizes(h: &Harness, session: &str) -> Vec<(u32, u32)> {
    let out = std::process::Command::new("tmux")
        .args(["-S"])
        .arg(h.server.socket_path())
        .args([
            "list-panes",
            "-s",
            "-t",
            session,
            "-F",
            "#{pane_width} #{pane_height}",
        ])
        .output()
        .expect("tmux list-panes");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (w, h) = l.split_once(' ')?;
            Some((w.parse().ok()?, h.parse().ok()?))
        })
        .collect()
}

fn many(name: &str, members: usize, layout: &str, per_window: usize, extra: &str) -> String {
    let mut text = format!(
        "version = 1\n[fleet]\nname = \"{name}\"\nlayout = \"{layout}\"\npanes_per_window = {per_window}\n{extra}\n[defaults]\nbackend = \"fake\"\n[director]\n"
    );
    for i in 0..members {
        text.push_str(&format!("[[member]]\nname = \"m{i}\"\n"));
    }
    text
}

#[test]
fn every_pane_gets_at_least_60_by_15_whatever_the_layout() {
    let Some(h) = Harness::start() else { return };
    for (layout, per_window) in [
        ("tiled", 8),
        ("main-vertical", 8),
        ("even-horizontal", 3),
        ("even-vertical", 4),
        ("main-horizontal", 4),
    ] {
        let name = format!("sz{}", layout.replace('-', ""));
        let file = h.write(
            &format!("{name}.toml"),
            &many(&name, per_window - 1, layout, per_window, ""),
        );
        h.ok(&["up", &file]);
        let sizes = pane_sizes(&h, &format!("cafleet-{name}"));
        assert_eq!(sizes.len(), per_window, "{layout}: {sizes:?}");
        for (w, ht) in &sizes {
            assert!(
                *w >= 60 && *ht >= 15,
                "{layout}: a pane of {w}x{ht} in {sizes:?}"
            );
        }
        h.ok(&["down", &file]);
    }
}

#[test]
fn the_fleet_file_sets_the_window_size() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "sized.toml",
        &many("sized", 0, "tiled", 4, "size = \"150x45\""),
    );
    h.ok(&["up", &file]);
    assert_eq!(pane_sizes(&h, "cafleet-sized"), [(150, 45)]);
    h.ok(&["down", &file]);

    let bad = h.write("bad.toml", &many("bad", 0, "tiled", 4, "size = \"huge\""));
    let out = h.run(&["config", "check", &bad]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("invalid window size `huge`"), "{text}");
    assert!(text.contains("WIDTHxHEIGHT"), "{text}");
}

#[test]
fn a_hundred_members_are_all_ready_with_eight_panes_a_window() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("hundred.toml", &many("hundred", 100, "tiled", 8, ""));
    let out = h.run(&["up", &file, "--wait", "--timeout", "120s"]);
    assert!(out.status.success(), "{}", transcript(&out));
    let sizes = pane_sizes(&h, "cafleet-hundred");
    assert_eq!(sizes.len(), 101);
    assert!(
        sizes.iter().all(|(w, ht)| *w >= 60 && *ht >= 15),
        "{sizes:?}"
    );
    h.ok(&["down", &file]);
}

fn message_state(h: &Harness, id: i64) -> String {
    h.registry()
        .query_row("SELECT state FROM messages WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap_or_default()
}

fn courier_pids(h: &Harness, fleet: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        let db = h.db().to_string_lossy().into_owned();
        if args.iter().any(|a| a == "courier")
            && args.contains(&db)
            && args.iter().any(|a| a == fleet)
        {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn the_courier_announces_what_a_sandboxed_agent_stored_and_down_ends_it() {
    let Some(h) = Harness::start() else { return };
    let log = h.home.path().join("fake.log");
    let file = h.write(
        "sandbox.toml",
        &format!(
            "version = 1\n[fleet]\nname = \"sandbox\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\nenv = {{ CAFLEET_FAKE_LOG = \"{}\" }}\n",
            log.display()
        ),
    );
    h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    wait_until(Duration::from_secs(5), "the courier", || {
        courier_pids(&h, "sandbox").len() == 1
    });
    // As codex runs a tool call in its sandbox: no tmux server can be reached, so no
    // notifier is started; the row alone is written.
    let out = h
        .cmd()
        .args(["message", "send", "--fleet", "sandbox", "--as", "director"])
        .args(["--to", "w", "from the sandbox"])
        .env("CODEX_SANDBOX_NETWORK_DISABLED", "1")
        .env("CAFLEET_TMUX_SOCKET", "/nonexistent/socket")
        .output()
        .expect("send");
    assert!(out.status.success(), "{}", transcript(&out));
    let id: i64 = h
        .registry()
        .query_row("SELECT max(id) FROM messages", [], |r| r.get(0))
        .expect("id");
    wait_until(
        Duration::from_secs(10),
        "the courier's announcement",
        || {
            log_events(&log).iter().any(|e| {
                e["event"] == "submit"
                    && e["line"]
                        .as_str()
                        .is_some_and(|l| l.contains(&format!("message #{id} from director")))
            })
        },
    );
    wait_until(Duration::from_secs(5), "the row read", || {
        message_state(&h, id) != "queued"
    });
    let pids = courier_pids(&h, "sandbox");
    h.ok(&["down", &file]);
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "the courier {pid} outlived down"
        );
    }
    // A second up brings a courier back.
    h.ok(&["up", &file]);
    wait_until(Duration::from_secs(5), "the courier again", || {
        courier_pids(&h, "sandbox").len() == 1
    });
    h.ok(&["down", &file]);
}

/// A fleet whose tmux server was killed without `down` keeps no courier: with the
/// registry still there (or on PostgreSQL, where it never goes away) nothing else would
/// end it.
#[test]
fn the_courier_ends_when_its_fleets_tmux_server_is_gone() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "orphan.toml",
        "version = 1\n[fleet]\nname = \"orphan\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    wait_until(Duration::from_secs(5), "the courier", || {
        courier_pids(&h, "orphan").len() == 1
    });
    let pids = courier_pids(&h, "orphan");
    h.tmux()
        .kill_server()
        .expect("kill the fleet's tmux server");
    let gone = |pid: &u32| {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    };
    wait_until(Duration::from_secs(30), "the courier to end", || {
        pids.iter().all(gone)
    });
}

#[test]
fn down_ends_what_an_agent_started_outside_its_process_group() {
    let Some(h) = Harness::start() else { return };
    let marker = h.home.path().join("escaped.pid");
    let file = h.write(
        "escape.toml",
        &format!(
            "version = 1\n[fleet]\nname = \"escape\"\n[director]\nbackend = \"fake\"\n[[member]]\nname = \"sh\"\nbackend = \"command\"\ncommand = [\"sh\", \"-c\", \"setsid sleep 600 & echo $! > {} ; exec sleep 600\"]\n",
            marker.display()
        ),
    );
    h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    wait_until(Duration::from_secs(10), "the escaped sleep", || {
        std::fs::read_to_string(&marker).is_ok_and(|s| !s.trim().is_empty())
    });
    let pid: u32 = std::fs::read_to_string(&marker)
        .expect("pid")
        .trim()
        .parse()
        .expect("a pid");
    assert!(cafleet::apply::process::is_alive(pid));
    h.ok(&["down", &file]);
    wait_until(Duration::from_secs(10), "the escaped sleep ended", || {
        !cafleet::apply::process::is_alive(pid)
    });
}
