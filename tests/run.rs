//! `cafleet run` and `cafleet done` with fake agents on a private tmux server: the exit
//! codes (done 0, done --fail 1, timeout 4, team died 5, SIGTERM 143), the report's
//! files and fields, `env_from` values kept out of every output, and runs in a row that
//! leave no pane or process behind.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Harness, transcript};

/// A Director that sends `w` work and calls `cafleet done ARGS…` once `w` answers.
fn team(name: &str, done: &[&str], extra_fleet: &str) -> String {
    let done: Vec<String> = done.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"version = 1
[fleet]
name = "{name}"
{extra_fleet}
[defaults]
backend = "fake"
[director]
fake = {{ opener = {{ to = "w", text = "please work" }}, on_message = ["done", {}] }}
[[member]]
name = "w"
fake = {{ reply = "finished {{n}}" }}
"#,
        done.join(", ")
    )
}

/// Every process whose command line or environment mentions `needle` (this test's HOME):
/// agents, notifiers and couriers of this test that are still alive.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let read = |f: &str| std::fs::read(entry.path().join(f)).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        let environ = String::from_utf8_lossy(&read("environ")).into_owned();
        // The tmux server of the harness is started with the test's socket path, not HOME.
        if (cmdline.contains(needle) || environ.contains(needle)) && !cmdline.starts_with("tmux") {
            let stat = String::from_utf8_lossy(&read("stat")).into_owned();
            // Zombies already exited; their parent reaps them.
            if stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                continue;
            }
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

/// Waits (polling, with a deadline) until nothing of this test runs any more.
fn assert_nothing_left(h: &Harness, fleet: &str) {
    assert!(
        h.tagged(fleet).is_empty(),
        "panes left: {:?}",
        h.tagged(fleet)
    );
    let needle = h.home.path().to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(&needle);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn done_ends_the_run_with_exit_0_and_a_full_report() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("fleet.toml", &team("ok", &["all <green> & done"], ""));
    let report = h.home.path().join("report");
    let out = h.run(&[
        "run",
        &file,
        "--timeout",
        "60s",
        "--report",
        report.to_str().unwrap(),
    ]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ready"), "{text}");
    assert!(text.contains("message #"), "{text}");
    assert!(text.contains("outcome done"), "{text}");

    let summary = read(&report.join("summary.md"));
    assert!(summary.contains("**done** (exit 0)"), "{summary}");
    assert!(summary.contains("> all <green> & done"), "{summary}");
    assert!(
        summary.contains("| director | director | fake | - |"),
        "{summary}"
    );
    assert!(summary.contains("| w | member | fake | - |"), "{summary}");
    assert!(summary.contains("Duration: "), "{summary}");

    let messages: Vec<serde_json::Value> = read(&report.join("messages.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    for key in [
        "id",
        "sender",
        "recipient",
        "body",
        "kind",
        "state",
        "created_at",
        "read_at",
    ] {
        assert!(
            messages[0].get(key).is_some(),
            "no `{key}` in {}",
            messages[0]
        );
    }
    let last = &messages[2];
    assert_eq!(last["sender"], "director");
    assert_eq!(last["recipient"], "operator");
    assert_eq!(last["body"], "all <green> & done");

    let events: Vec<serde_json::Value> = read(&report.join("events.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["up.start", "spawn", "run.start", "done", "run.end"] {
        assert!(kinds.contains(&kind), "no `{kind}` event in {kinds:?}");
    }
    for key in ["id", "fleet", "agent", "kind", "detail", "created_at"] {
        assert!(events[0].get(key).is_some(), "no `{key}` in {}", events[0]);
    }

    let director = read(&report.join("panes/director.txt"));
    assert!(
        director.contains("please work") || !director.trim().is_empty(),
        "{director}"
    );
    assert!(report.join("panes/w.txt").exists());

    let junit = read(&report.join("junit.xml"));
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(junit.contains("tests=\"3\" failures=\"0\""), "{junit}");
    assert!(junit.contains("all &lt;green&gt; &amp; done"), "{junit}");
    assert!(junit.contains("name=\"w\""), "{junit}");

    // The operator's copy is readable afterwards, and the event log has it.
    let listed = h.ok(&[
        "message", "list", "--fleet", "ok", "--as", "director", "--with", "operator",
    ]);
    assert!(listed.contains("all <green> & done"), "{listed}");
    assert_nothing_left(&h, "ok");
}

#[test]
fn done_fail_exits_1_and_timeout_exits_4() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("fail.toml", &team("bad", &["--fail", "tests are red"], ""));
    let report = h.home.path().join("r1");
    let out = h.run(&[
        "run",
        &file,
        "--timeout",
        "60s",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    assert!(read(&report.join("summary.md")).contains("**failed** (exit 1)"));
    assert!(read(&report.join("junit.xml")).contains("<failure type=\"failed\""));
    assert_nothing_left(&h, "bad");

    // Nobody calls done.
    let file = h.write(
        "slow.toml",
        "version = 1\n[fleet]\nname = \"slow\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    let report = h.home.path().join("r2");
    let started = Instant::now();
    let out = h.run(&[
        "run",
        &file,
        "--timeout",
        "4s",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", transcript(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let summary = read(&report.join("summary.md"));
    assert!(summary.contains("**timeout** (exit 4)"), "{summary}");
    assert!(summary.contains("did not call `cafleet done`"), "{summary}");
    assert!(read(&report.join("junit.xml")).contains("<failure type=\"timeout\""));
    assert_nothing_left(&h, "slow");
}

#[test]
fn a_team_whose_director_dies_exits_5_and_one_whose_members_die_too() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "dies.toml",
        "version = 1\n[fleet]\nname = \"dies\"\n[defaults]\nbackend = \"fake\"\n[director]\nfake = { exit_after = \"3s\", exit_code = 3 }\n[[member]]\nname = \"w\"\n",
    );
    let report = h.home.path().join("r");
    let out = h.run(&[
        "run",
        &file,
        "--timeout",
        "60s",
        "--report",
        report.to_str().unwrap(),
    ]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("the Director is dead"), "{text}");
    let summary = read(&report.join("summary.md"));
    assert!(summary.contains("**died** (exit 5)"), "{summary}");
    // tmux may report the exit before its status: "dead (its process exited)".
    assert!(
        summary.contains("| director | director | fake | - | dead ("),
        "{summary}"
    );
    assert_nothing_left(&h, "dies");

    let file = h.write(
        "crew.toml",
        "version = 1\n[fleet]\nname = \"crew\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"a\"\nfake = { exit_after = \"3s\" }\n[[member]]\nname = \"b\"\nfake = { exit_after = \"3s\" }\n",
    );
    let out = h.run(&["run", &file, "--timeout", "60s"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("every member is gone"), "{text}");
    assert_nothing_left(&h, "crew");
}

#[test]
fn only_the_director_may_call_done() {
    let Some(h) = Harness::start() else { return };
    h.register_idle("solo", &["w".to_string()]);
    let out = h.run(&["done", "--fleet", "solo", "--as", "w", "finished"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("error: only the Director may call `cafleet done`"),
        "{text}"
    );
    assert!(text.contains("hint: "), "{text}");
    let count: i64 = h
        .registry()
        .query_row("SELECT COUNT(*) FROM events WHERE kind = 'done'", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(count, 0);
}

#[test]
fn sigterm_writes_the_report_brings_the_team_down_and_exits_143() {
    let Some(h) = Harness::start() else { return };
    let file = h.write(
        "sig.toml",
        "version = 1\n[fleet]\nname = \"sig\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"w\"\n",
    );
    let report = h.home.path().join("r");
    let child = h
        .cmd()
        .args([
            "run",
            &file,
            "--timeout",
            "120s",
            "--report",
            report.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn run");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let started: i64 = h
            .registry()
            .query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'run.start'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if started > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(143), "{}", transcript(&out));
    assert!(read(&report.join("summary.md")).contains("**interrupted** (exit 143)"));
    assert_nothing_left(&h, "sig");
}

#[test]
fn env_from_values_reach_the_pane_and_nothing_else() {
    let Some(h) = Harness::start() else { return };
    const SECRET: &str = "sk-test-5ecret-VALUE-0042";
    let file = h.write(
        "sec.toml",
        &team(
            "sec",
            &["ok"],
            "env_from = [\"CAFLEET_TEST_SECRET_KEY_X\", \"SECRET_API_KEY\"]",
        ),
    );
    // A variable that is not set: an error before anything starts.
    let out = h.run(&["run", &file, "--timeout", "60s"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("CAFLEET_TEST_SECRET_KEY_X"), "{text}");
    assert!(h.tagged("sec").is_empty());

    let file = h.write(
        "sec.toml",
        &team("sec", &["ok"], "env_from = [\"SECRET_API_KEY\"]"),
    );
    let up = h
        .cmd()
        .args(["up", &file, "--wait", "--timeout", "30s"])
        .env("SECRET_API_KEY", SECRET)
        .output()
        .expect("up");
    assert!(up.status.success(), "{}", transcript(&up));
    // It reached the agent's process.
    let pid: i64 = h
        .registry()
        .query_row("SELECT pane_pid FROM agents WHERE name = 'w'", [], |r| {
            r.get(0)
        })
        .expect("pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    assert!(
        String::from_utf8_lossy(&environ).contains(&format!("SECRET_API_KEY={SECRET}")),
        "the pane has no SECRET_API_KEY"
    );
    let mut outputs = vec![
        h.ok(&["ps", "--json"]),
        h.ok(&["ps"]),
        h.ok(&["config", "show", &file]),
        h.ok(&["config", "show", &file, "--json"]),
        h.ok(&["events", "--json"]),
    ];
    h.ok(&["down", "--fleet", "sec"]);
    let report = h.home.path().join("rep");
    let run = h
        .cmd()
        .args([
            "run",
            &file,
            "--timeout",
            "60s",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("SECRET_API_KEY", SECRET)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(0), "{}", transcript(&run));
    outputs.push(transcript(&run));
    for output in &outputs {
        assert!(!output.contains(SECRET), "the secret leaked:\n{output}");
    }
    for entry in walk(&report) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "the secret is in {}",
            entry.display()
        );
    }
    // WAL files of the registry too.
    for entry in std::fs::read_dir(h.home.path()).expect("home").flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("cafleet.db")
            && entry.path().is_file()
        {
            let bytes = std::fs::read(entry.path()).expect("read");
            assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
        }
    }
    assert_nothing_left(&h, "sec");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn runs_in_a_row_leave_nothing_behind() {
    let Some(h) = Harness::start() else { return };
    let file = h.write("row.toml", &team("row", &["round done"], ""));
    for round in 0..20 {
        let report = h.home.path().join(format!("r{round}"));
        let out = h.run(&[
            "run",
            &file,
            "--timeout",
            "60s",
            "--report",
            report.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            transcript(&out)
        );
        // Each report holds that run's rows only.
        let messages = read(&report.join("messages.jsonl"));
        assert_eq!(messages.lines().count(), 3, "round {round}: {messages}");
        assert_nothing_left(&h, "row");
    }
    // No temp files next to the registry or in HOME.
    for entry in std::fs::read_dir(h.home.path()).expect("home").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temp file left: {name}");
    }
}

#[test]
fn done_reads_its_summary_from_a_file_or_stdin_and_needs_no_running_run() {
    let Some(h) = Harness::start() else { return };
    h.register_idle("desk", &["boss".to_string(), "w".to_string()]);
    h.registry()
        .execute(
            "UPDATE agents SET role = 'director' WHERE name = 'boss'",
            [],
        )
        .expect("make boss the Director");
    let file = h.write("summary.txt", "line one\nline <two>\n");
    let out = h.ok(&["done", "--fleet", "desk", "--as", "boss", "--file", &file]);
    assert!(out.contains("message #"), "{out}");
    let mut child = h
        .cmd()
        .args([
            "done", "--fail", "--json", "--fleet", "desk", "--as", "boss", "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn done");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"from stdin")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", transcript(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["failed"], true);
    let bodies: Vec<(String, String)> = {
        let conn = h.registry();
        let mut stmt = conn
            .prepare("SELECT CAST(body AS TEXT), state FROM messages WHERE recipient = 'operator' ORDER BY id")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    assert_eq!(
        bodies,
        [
            ("line one\nline <two>\n".to_string(), "notified".to_string()),
            ("from stdin".to_string(), "notified".to_string())
        ]
    );
    let events = h.ok(&["events", "--fleet", "desk", "--json"]);
    assert!(events.contains("\"done\""), "{events}");
}
