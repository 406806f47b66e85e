//! The conformance suite: the real claude, codex and opencode CLIs (npm, pinned versions:
//! `.ci/run` installs them) run as cafleet starts them, each pointed at cafleet's own
//! scripted model (`cafleet model serve`) on loopback — no account, no network. Every
//! test has a private tmux server and a private HOME with the registry in its default
//! place under it (`~/.local/share/cafleet`, outside every agent's workspace, as for a
//! real user). Nothing is set up by hand beyond what the README says: `skill install`,
//! and the folder trusted where a test does not check the trust question itself.
//!
//! The CLIs are looked for in `$CAFLEET_AGENT_CLIS/node_modules/.bin` (default
//! `~/.cache/cafleet/agent-clis`), then on PATH. Without them each test prints
//! `skipped: …` and passes — except under `CI`, where it fails.
//!
//! The tests run one at a time (a lock): three agent CLIs per test already fill the two
//! cores CI has, and timing-sensitive checks (a message while a turn streams) must not
//! starve.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cafleet::backend::BackendName;
use cafleet::model::point::point_at;
use cafleet::tmux::testing::TestServer;
use serde_json::{Value, json};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The folder holding `claude`, `codex` and `opencode`, or `None` (after saying so) when
/// one is missing outside CI.
fn agent_clis() -> Option<PathBuf> {
    let root = std::env::var_os("CAFLEET_AGENT_CLIS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/cafleet/agent-clis"))
        });
    let mut candidates: Vec<PathBuf> = root
        .into_iter()
        .map(|r| r.join("node_modules/.bin"))
        .collect();
    candidates.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let found = candidates.into_iter().find(|dir| {
        ["claude", "codex", "opencode"]
            .iter()
            .all(|program| dir.join(program).is_file())
    });
    if found.is_none() {
        let why = "skipped: the claude, codex and opencode CLIs are not installed \
                   (`.ci/run` installs them into $CAFLEET_AGENT_CLIS)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}, and CI is set: the conformance suite must run");
        }
        cafleet::tmux::testing::say_skipped(why.trim_start_matches("skipped: "));
    }
    found
}

/// Panes get the tmux server's environment, as a user's panes get their own: this
/// server's HOME becomes the test's, and nothing of this machine's agent settings or
/// credentials reaches the agents.
fn isolate(server: &TestServer, home: &Path) {
    let mut setup = cafleet::tmux::Batch::new();
    setup.push(
        cafleet::tmux::Cmd::new("set-environment")
            .args(["-g", "HOME"])
            .arg(home.to_string_lossy()),
    );
    for var in [
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "XDG_CACHE_HOME",
        "CODEX_HOME",
        "CLAUDE_CONFIG_DIR",
        "OPENCODE_CONFIG_DIR",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "CAFLEET_DATABASE_URL",
    ] {
        setup.push(cafleet::tmux::Cmd::new("set-environment").args(["-gu", var]));
    }
    server
        .tmux()
        .run(setup)
        .expect("the test server's environment");
}

/// One member of a test team.
struct Member {
    name: &'static str,
    backend: BackendName,
    prompt: String,
    /// Extra arguments (added after cafleet's own).
    args: Vec<String>,
}

fn member(name: &'static str, backend: BackendName) -> Member {
    Member {
        name,
        backend,
        prompt: format!("You are {name}."),
        args: Vec::new(),
    }
}

/// A TOML basic string (JSON's escapes are a subset of TOML's).
fn toml_str(text: &str) -> String {
    serde_json::to_string(text).expect("json string")
}

/// A team of real agents against the scripted model, on a private tmux server and HOME.
struct Team {
    _serial: std::sync::MutexGuard<'static, ()>,
    server: TestServer,
    home: tempfile::TempDir,
    work: PathBuf,
    path: String,
    model: Child,
    model_log: PathBuf,
    file: PathBuf,
    name: String,
    down: bool,
}

struct Options {
    trust: bool,
    /// `fake = {…}` of the Director (a fake agent).
    director: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            trust: true,
            director: "{ ack = true }",
        }
    }
}

impl Team {
    fn start(name: &str, script: &str, members: &[Member], options: Options) -> Option<Team> {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let clis = agent_clis()?;
        let server = TestServer::start()?;
        let home = tempfile::tempdir().expect("home");
        isolate(&server, home.path());
        let work = home.path().join("work");
        std::fs::create_dir_all(&work).expect("work");
        let work = work.canonicalize().expect("canonical work");
        if !options.trust {
            // codex asks about trust for a project under version control.
            let git = Command::new("git")
                .args(["init", "-q"])
                .current_dir(&work)
                .status();
            assert!(git.is_ok_and(|s| s.success()), "git init");
        }
        let path = format!(
            "{}:{}",
            clis.display(),
            std::env::var("PATH").unwrap_or_default()
        );

        // What a user does once, by hand or with `claude`/`codex` themselves: finish
        // claude's onboarding, and (unless the test checks the question) trust the folder.
        let trusted = |yes: bool| serde_json::json!({"hasTrustDialogAccepted": yes});
        let mut claude = serde_json::json!({"hasCompletedOnboarding": true, "projects": {}});
        if options.trust {
            claude["projects"][work.to_string_lossy().as_ref()] = trusted(true);
        }
        std::fs::write(home.path().join(".claude.json"), claude.to_string()).expect("claude.json");
        std::fs::create_dir_all(home.path().join(".codex")).expect(".codex");
        if options.trust {
            std::fs::write(
                home.path().join(".codex/config.toml"),
                format!(
                    "[projects.{}]\ntrust_level = \"trusted\"\n",
                    toml_str(&work.to_string_lossy())
                ),
            )
            .expect("codex config");
        }

        let script_path = home.path().join("script.toml");
        std::fs::write(&script_path, script).expect("script");
        let model_log = home.path().join("model.jsonl");
        let mut model = Command::new(common::bin())
            .args(["model", "serve", "--script"])
            .arg(&script_path)
            .arg("--log")
            .arg(&model_log)
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the scripted model");
        let mut first = String::new();
        BufReader::new(model.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read the address");
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from model serve: {first:?}"))
            .to_string();

        let mut fleet = format!(
            "version = 1\n[fleet]\nname = {}\nroot = {}\n[director]\nbackend = \"fake\"\nfake = {}\n",
            toml_str(name),
            toml_str(&work.to_string_lossy()),
            options.director
        );
        for m in members {
            let pointing = point_at(m.backend, &base, m.name).expect("an agent backend");
            let env: Vec<String> = pointing
                .env
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_str(k), toml_str(v)))
                .collect();
            let args: Vec<String> = pointing
                .args
                .iter()
                .chain(&m.args)
                .map(|a| toml_str(a))
                .collect();
            fleet.push_str(&format!(
                "[[member]]\nname = {}\nbackend = \"{}\"\nmodel = {}\nargs = [{}]\nenv = {{ {} }}\nprompt = {}\n",
                toml_str(m.name),
                m.backend,
                toml_str(&pointing.model),
                args.join(", "),
                env.join(", "),
                toml_str(&m.prompt),
            ));
        }
        let file = home.path().join("fleet.toml");
        std::fs::write(&file, fleet).expect("fleet file");

        let team = Team {
            _serial: serial,
            server,
            home,
            work,
            path,
            model,
            model_log,
            file,
            name: name.to_string(),
            down: false,
        };
        for agent in ["claude", "codex", "opencode"] {
            team.ok(&["skill", "install", "--agent", agent]);
        }
        Some(team)
    }

    fn cmd(&self) -> Command {
        let mut cmd = common::cafleet(self.home.path());
        cmd.env("PATH", &self.path)
            .env("CAFLEET_TMUX_SOCKET", self.server.socket_path())
            .current_dir(self.home.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd().args(args).output().expect("run cafleet")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "cafleet {args:?} failed:\n{}\n{}",
            common::transcript(&out),
            self.panes()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn file(&self) -> &str {
        self.file.to_str().expect("utf-8 path")
    }

    fn up(&self) {
        self.ok(&["up", self.file(), "--wait", "--timeout", "180s"]);
    }

    /// As the Director: `cafleet message send --to TO TEXT`; returns the message id.
    fn send(&self, to: &str, text: &str) -> i64 {
        let out = self.ok(&[
            "message", "send", "--fleet", &self.name, "--as", "director", "--to", to, "--json",
            "--", text,
        ]);
        let value: Value = serde_json::from_str(&out).expect("send --json");
        value["id"]
            .as_i64()
            .or_else(|| value["ids"][0].as_i64())
            .unwrap_or_else(|| panic!("no id in {out}"))
    }

    fn db(&self) -> PathBuf {
        self.home.path().join(".local/share/cafleet/cafleet.db")
    }

    fn query<T: rusqlite::types::FromSql>(&self, sql: &str) -> Vec<T> {
        let conn = rusqlite::Connection::open(self.db()).expect("registry");
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<Vec<T>>>()
            .expect("rows")
    }

    /// Every pane's text, for failure messages.
    fn panes(&self) -> String {
        let mut text = String::new();
        let Ok(panes) = self.server.tmux().list_panes(&["@cafleet_member"]) else {
            return text;
        };
        for pane in panes {
            let screen = self
                .server
                .tmux()
                .capture_pane(pane.id, Some(40))
                .unwrap_or_default();
            text.push_str(&format!(
                "\n===== {} ({}) =====\n{}",
                pane.option("@cafleet_member").unwrap_or("?"),
                pane.id,
                screen
            ));
        }
        text.push_str("\n===== events (tail) =====\n");
        let events = self.run(&["events", "--fleet", &self.name]);
        let events = String::from_utf8_lossy(&events.stdout).into_owned();
        let lines: Vec<&str> = events.lines().collect();
        for line in &lines[lines.len().saturating_sub(30)..] {
            text.push_str(&line.chars().take(300).collect::<String>());
            text.push('\n');
        }
        text.push_str("\n===== model log (tail) =====\n");
        let log = std::fs::read_to_string(&self.model_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(15)..] {
            text.push_str(&line.chars().take(400).collect::<String>());
            text.push('\n');
        }
        text
    }

    fn pane_of(&self, member: &str) -> String {
        self.query::<String>(&format!(
            "SELECT pane_id FROM agents WHERE name = '{member}'"
        ))
        .pop()
        .unwrap_or_default()
    }

    fn screen(&self, member: &str) -> String {
        let pane = self.pane_of(member).parse().expect("pane id");
        self.server
            .tmux()
            .capture_pane(pane, Some(200))
            .unwrap_or_default()
    }

    /// Polls `cond` until it holds; on timeout fails with every pane's text.
    fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}{}",
                self.panes()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn model_requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.model_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every process in the sessions of the agents' panes (each pane's program leads a
    /// session; what it starts stays in it unless it calls setsid itself).
    fn agent_processes(&self) -> Vec<u32> {
        let leaders: Vec<u32> = self
            .query::<i64>("SELECT pane_pid FROM agents WHERE pane_pid IS NOT NULL")
            .into_iter()
            .filter_map(|p| u32::try_from(p).ok())
            .collect();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name: state ppid pgrp session …
            let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let state = fields.first().copied().unwrap_or("");
            let session: u32 = fields.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
            if state != "Z" && leaders.contains(&session) {
                found.push(pid);
            }
        }
        found
    }

    /// `down`, then nothing of any agent may be left running.
    fn down(&mut self) {
        let before = self.agent_processes();
        assert!(!before.is_empty(), "no agent processes found before down");
        self.ok(&["down", self.file()]);
        self.down = true;
        let left = || {
            before
                .iter()
                .copied()
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| !s.contains(") Z "))
                })
                .collect::<Vec<u32>>()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !left().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let left = left();
        let names: Vec<String> = left
            .iter()
            .map(|pid| {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!(
                    "{pid}: {}",
                    String::from_utf8_lossy(&cmd).replace('\0', " ")
                )
            })
            .collect();
        assert!(left.is_empty(), "processes left after down: {names:#?}");
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        if !self.down {
            let _ = self.run(&["down", self.file()]);
        }
        let _ = self.model.kill();
        let _ = self.model.wait();
    }
}

fn three() -> Vec<Member> {
    vec![
        member("cl", BackendName::Claude),
        member("cx", BackendName::Codex),
        member("oc", BackendName::Opencode),
    ]
}

const PING: &str = r#"version = 1
[[turn]]
match = 'message #(?P<id>\d+) from director: ping'
run = [
    "cafleet message inbox",
    "WHERE",
    "cafleet message ack $id",
    "cafleet message send --to director pong",
]
reply = "answered"
"#;

#[test]
fn every_backend_answers_the_director_both_ways_and_down_leaves_nothing() {
    // `$member` is not a capture: the script names each member by its model.
    // claude may run `cafleet …` and nothing else (its allow list is tested by that);
    // codex and opencode also say which `cafleet` their shell found: codex runs commands
    // in a login shell unless told otherwise, and Debian's /etc/profile resets PATH there.
    let script = ["cl", "cx", "oc"]
        .iter()
        .map(|m| {
            let whereis = if *m == "cl" {
                String::new()
            } else {
                format!("\"command -v cafleet > where-{m}.txt\",")
            };
            PING.replacen("version = 1\n", "", 1)
                .replace("\"WHERE\",", &whereis)
                .replace("[[turn]]\n", &format!("[[turn]]\nmodel = \"{m}\"\n"))
        })
        .collect::<String>();
    let Some(mut team) = Team::start(
        "conf-ping",
        &format!("version = 1\n{script}"),
        &three(),
        Options::default(),
    ) else {
        return;
    };
    team.up();
    let ids: Vec<i64> = ["cl", "cx", "oc"]
        .iter()
        .map(|m| team.send(m, "ping"))
        .collect();
    team.wait("three pongs acked by the Director", Duration::from_secs(90), || {
        team.query::<i64>(
            "SELECT count(*) FROM messages WHERE recipient = 'director' AND state = 'acked' AND body = CAST('pong' AS BLOB)",
        ) == [3]
    });
    for (id, m) in ids.iter().zip(["cl", "cx", "oc"]) {
        let state = team.query::<String>(&format!("SELECT state FROM messages WHERE id = {id}"));
        assert_eq!(state, ["acked"], "the ping to {m}");
        // The preview was typed into the pane and submitted: the agent's model got it
        // as the user's turn, word for word.
        let preview =
            format!("[cafleet] message #{id} from director: ping — run: cafleet message inbox");
        assert!(
            team.model_requests().iter().any(|r| {
                r["model"].as_str().is_some_and(|x| x.ends_with(m))
                    && r["user"].as_str() == Some(preview.as_str())
            }),
            "the preview never reached {m}'s model{}",
            team.panes()
        );
        let senders = team.query::<String>(&format!(
            "SELECT sender FROM messages WHERE recipient = 'director' AND sender = '{m}'"
        ));
        assert_eq!(senders.len(), 1, "one pong from {m}");
        if m == "cl" {
            continue;
        }
        // The agent's shell found the very cafleet the pane was started with, also
        // where the CLI runs its commands in a login shell.
        let found =
            std::fs::read_to_string(team.work.join(format!("where-{m}.txt"))).unwrap_or_default();
        let ours = Path::new(common::bin()).canonicalize().expect("bin");
        assert_eq!(
            Path::new(found.trim()).canonicalize().ok().as_deref(),
            Some(ours.as_path()),
            "{m} ran a different cafleet: {found:?}"
        );
    }
    team.down();
}

#[test]
fn members_talk_in_rings_across_backends_both_ways() {
    let script = r#"version = 1
[[turn]]
model = "cl"
match = 'message #(?P<id>\d+) from director: ring'
run = ["cafleet message ack $id", "cafleet message send --to cx ring-2"]
[[turn]]
model = "cx"
match = 'message #(?P<id>\d+) from cl: ring-2'
run = ["cafleet message ack $id", "cafleet message send --to oc ring-3"]
[[turn]]
model = "oc"
match = 'message #(?P<id>\d+) from cx: ring-3'
run = ["cafleet message ack $id", "cafleet message send --to cl ring-4"]
[[turn]]
model = "cl"
match = 'message #(?P<id>\d+) from oc: ring-4'
run = ["cafleet message ack $id", "cafleet message send --to director ring-done"]
[[turn]]
model = "cl"
match = 'message #(?P<id>\d+) from director: back'
run = ["cafleet message ack $id", "cafleet message send --to oc back-2"]
[[turn]]
model = "oc"
match = 'message #(?P<id>\d+) from cl: back-2'
run = ["cafleet message ack $id", "cafleet message send --to cx back-3"]
[[turn]]
model = "cx"
match = 'message #(?P<id>\d+) from oc: back-3'
run = ["cafleet message ack $id", "cafleet message send --to cl back-4"]
[[turn]]
model = "cl"
match = 'message #(?P<id>\d+) from cx: back-4'
run = ["cafleet message ack $id", "cafleet message send --to director back-done"]
"#;
    // One ring each way, so every pair of backends has a round trip.
    let Some(mut team) = Team::start("conf-ring", script, &three(), Options::default()) else {
        return;
    };
    team.up();
    team.send("cl", "ring");
    team.wait("the ring closed", Duration::from_secs(120), || {
        team.query::<i64>(
            "SELECT count(*) FROM messages WHERE recipient = 'director' AND state = 'acked'",
        ) == [1]
    });
    let hops = team.query::<String>(
        "SELECT sender || '>' || recipient || ':' || state FROM messages ORDER BY id",
    );
    assert_eq!(
        hops,
        [
            "director>cl:acked",
            "cl>cx:acked",
            "cx>oc:acked",
            "oc>cl:acked",
            "cl>director:acked"
        ]
    );
    team.send("cl", "back");
    team.wait(
        "the ring the other way closed",
        Duration::from_secs(120),
        || {
            team.query::<i64>(
                "SELECT count(*) FROM messages WHERE recipient = 'director' AND state = 'acked'",
            ) == [2]
        },
    );
    let hops = team.query::<String>(
        "SELECT sender || '>' || recipient || ':' || state FROM messages WHERE id > 5 ORDER BY id",
    );
    assert_eq!(
        hops,
        [
            "director>cl:acked",
            "cl>oc:acked",
            "oc>cx:acked",
            "cx>cl:acked",
            "cl>director:acked"
        ]
    );
    team.down();
}

#[test]
fn a_message_while_the_model_streams_waits_for_the_turn() {
    let script = r#"version = 1
[[turn]]
contains = "slow"
delay = "6s"
reply = "slow turn finished"
[[turn]]
match = 'message #(?P<id>\d+) from director: second'
run = ["cafleet message ack $id"]
reply = "second handled"
"#;
    let Some(mut team) = Team::start("conf-busy", script, &three(), Options::default()) else {
        return;
    };
    team.up();
    let mut monitor = team
        .cmd()
        .args([
            "monitor",
            "start",
            "--fleet",
            "conf-busy",
            "--interval",
            "300ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("monitor");
    let state = |m: &str| {
        team.query::<String>(&format!("SELECT status FROM agents WHERE name = '{m}'"))
            .pop()
            .unwrap_or_default()
    };
    for m in ["cl", "cx", "oc"] {
        team.send(m, "slow");
    }
    team.wait("every agent working", Duration::from_secs(30), || {
        ["cl", "cx", "oc"].iter().all(|m| state(m) == "working")
    });
    let seconds: Vec<i64> = ["cl", "cx", "oc"]
        .iter()
        .map(|m| team.send(m, "second"))
        .collect();
    team.wait("the second messages acked", Duration::from_secs(60), || {
        seconds.iter().all(|id| {
            team.query::<String>(&format!("SELECT state FROM messages WHERE id = {id}"))
                == ["acked"]
        })
    });
    team.wait("every agent idle", Duration::from_secs(30), || {
        ["cl", "cx", "oc"].iter().all(|m| state(m) == "idle")
    });
    // Each slow turn ran to its end: it was answered in full, and no agent reported it
    // interrupted to the model (claude, codex and opencode all say so in the history).
    for request in team.model_requests() {
        let user = request["user"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            !user.contains("interrupted"),
            "a turn was interrupted: {request}"
        );
    }
    // The second message's turn began only once the slow answer (held 6 s mid-stream)
    // had run to its end: an Escape would have cut the stream and started it early.
    let requests = team.model_requests();
    for m in ["cl", "cx", "oc"] {
        let at = |text: &str| {
            requests
                .iter()
                .filter(|r| r["model"].as_str().is_some_and(|x| x.ends_with(m)))
                .filter(|r| r["user"].as_str().is_some_and(|u| u.contains(text)))
                .filter_map(|r| r["time_ms"].as_u64())
                .min()
        };
        let (Some(slow), Some(second)) = (at(": slow"), at(": second")) else {
            panic!("{m}: no slow or second turn at the model{}", team.panes());
        };
        assert!(
            second >= slow + 6000,
            "{m}: the second turn began {} ms after the slow one, inside its 6 s stream",
            second - slow
        );
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    team.down();
}

#[test]
fn a_permission_prompt_waits_for_input_and_escape_dismisses_it() {
    let script = r#"version = 1
[[turn]]
contains = "start"
run = ["touch forbidden.txt"]
[[turn]]
match = 'message #(?P<id>\d+) from director: after'
run = ["cafleet message ack $id"]
reply = "after handled"
"#;
    let mut asking = member("cl", BackendName::Claude);
    // The user's own asking mode, not cafleet's: `touch` is not allowed in advance.
    asking.args = vec!["--permission-mode".into(), "default".into()];
    let Some(mut team) = Team::start("conf-ask", script, &[asking], Options::default()) else {
        return;
    };
    team.up();
    let mut monitor = team
        .cmd()
        .args([
            "monitor",
            "start",
            "--fleet",
            "conf-ask",
            "--interval",
            "300ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("monitor");
    team.send("cl", "start");
    team.wait("cl waiting for input", Duration::from_secs(30), || {
        team.query::<String>("SELECT status FROM agents WHERE name = 'cl'") == ["waiting-input"]
    });
    let id = team.send("cl", "after");
    team.wait(
        "the message after the prompt acked",
        Duration::from_secs(60),
        || {
            team.query::<String>(&format!("SELECT state FROM messages WHERE id = {id}"))
                == ["acked"]
        },
    );
    assert!(
        !team.work.join("forbidden.txt").exists(),
        "the permission prompt was confirmed{}",
        team.panes()
    );
    let _ = monitor.kill();
    let _ = monitor.wait();
    team.down();
}

#[test]
fn a_64_kib_prompt_reaches_every_backend_intact() {
    let mut prompt = String::from("BEGIN-PROMPT\n");
    let mut n = 0;
    while prompt.len() < 64 * 1024 {
        prompt.push_str(&format!("line {n}: \"quoted\" $dollar `tick` ünï ;\n"));
        n += 1;
    }
    prompt.push_str("END-PROMPT");
    let members: Vec<Member> = three()
        .into_iter()
        .map(|mut m| {
            m.prompt = prompt.clone();
            m
        })
        .collect();
    let script = "version = 1\n[[turn]]\ncontains = \"BEGIN-PROMPT\"\nreply = \"read it\"\n";
    let Some(mut team) = Team::start("conf-big", script, &members, Options::default()) else {
        return;
    };
    team.up();
    team.wait(
        "the prompt at the model from every backend",
        Duration::from_secs(60),
        || {
            let requests = team.model_requests();
            ["cl", "cx", "oc"].iter().all(|m| {
                requests
                    .iter()
                    .any(|r| r["model"].as_str().is_some_and(|x| x.ends_with(m)) && r["turn"] == 0)
            })
        },
    );
    for m in ["cl", "cx", "oc"] {
        let requests = team.model_requests();
        let request = requests
            .iter()
            .find(|r| r["model"].as_str().is_some_and(|x| x.ends_with(m)) && r["turn"] == 0)
            .expect("request");
        let user = request["user"].as_str().unwrap_or_default();
        assert!(
            user.contains(&prompt),
            "{m}'s prompt arrived changed ({} bytes of {})",
            user.len(),
            prompt.len()
        );
    }
    team.down();
}

#[test]
fn up_wait_reports_a_trust_question_and_presses_nothing() {
    let members = vec![
        member("cl", BackendName::Claude),
        member("cx", BackendName::Codex),
    ];
    let options = Options {
        trust: false,
        ..Options::default()
    };
    let Some(mut team) = Team::start("conf-trust", "version = 1\n", &members, options) else {
        return;
    };
    let out = team.run(&["up", team.file(), "--wait", "--timeout", "30s"]);
    let text = common::transcript(&out);
    assert_eq!(out.status.code(), Some(4), "{text}{}", team.panes());
    for m in ["cl", "cx"] {
        assert!(
            text.contains(&format!("{m} (it asks whether to trust the folder")),
            "{text}{}",
            team.panes()
        );
    }
    // Still asking: nothing was pressed (Escape would have quit claude's dialog).
    assert!(team.screen("cl").contains("trust"), "{}", team.panes());
    assert!(
        team.screen("cx").to_lowercase().contains("trust"),
        "{}",
        team.panes()
    );
    team.down();
}

/// `cafleet run --rehearse` on the shipped example (examples/rehearsal): a real claude
/// Director, a codex and an opencode member against the scripted model; the Director's
/// script ends with `cafleet done`, so the run exits 0 with a report, after trusting the
/// folder for claude and codex itself (`trust = true`), and leaves no pane behind. The
/// user's agent config files are not touched beyond the trust keys.
#[test]
fn the_rehearsal_example_runs_to_done_with_a_report() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(clis) = agent_clis() else {
        return;
    };
    let Some(server) = TestServer::start() else {
        return;
    };
    let home = tempfile::tempdir().expect("home");
    isolate(&server, home.path());
    // A git repository: codex asks about trust there unless `trust = true` did its job.
    let work = home.path().join("work");
    std::fs::create_dir_all(&work).expect("work");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rehearsal");
    for file in ["fleet.toml", "script.toml"] {
        std::fs::copy(example.join(file), work.join(file)).expect("copy the example");
    }
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&work)
        .status();
    assert!(git.is_ok_and(|s| s.success()), "git init");
    // claude's onboarding, done once by a user (cafleet does not do it).
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding":true}"#,
    )
    .expect("claude.json");
    let path = format!(
        "{}:{}",
        clis.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cafleet = |args: &[&str]| {
        common::cafleet(home.path())
            .env("PATH", &path)
            .env("CAFLEET_TMUX_SOCKET", server.socket_path())
            .current_dir(&work)
            .args(args)
            .output()
            .expect("run cafleet")
    };
    for agent in ["claude", "codex", "opencode"] {
        let out = cafleet(&["skill", "install", "--agent", agent]);
        assert!(out.status.success(), "{}", common::transcript(&out));
    }
    let report = home.path().join("report");
    let out = cafleet(&[
        "run",
        "fleet.toml",
        "--rehearse",
        "script.toml",
        "--timeout",
        "240s",
        "--report",
        report.to_str().expect("utf-8"),
    ]);
    let text = common::transcript(&out);
    let director = std::fs::read_to_string(report.join("panes/director.txt")).unwrap_or_default();
    let oc = std::fs::read_to_string(report.join("panes/oc.txt")).unwrap_or_default();
    let events = std::fs::read_to_string(report.join("events.jsonl")).unwrap_or_default();
    let events: Vec<&str> = events.lines().collect();
    let events = events[events.len().saturating_sub(40)..].join("\n");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n--- director\n{director}\n--- oc\n{oc}\n--- events\n{events}"
    );
    assert!(text.contains("oc → director"), "{text}");
    let summary = std::fs::read_to_string(report.join("summary.md")).expect("summary");
    assert!(summary.contains("the team works"), "{summary}");
    assert!(report.join("model.jsonl").is_file());
    let codex = std::fs::read_to_string(home.path().join(".codex/config.toml")).expect("codex");
    assert!(codex.contains("trust_level = \"trusted\""), "{codex}");
    let claude: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join(".claude.json")).expect("claude.json"),
    )
    .expect("json");
    assert_eq!(claude["hasCompletedOnboarding"], true);
    let panes = server
        .tmux()
        .list_panes(&["@cafleet_fleet"])
        .unwrap_or_default();
    assert!(
        panes.iter().all(|p| p.option("@cafleet_fleet").is_none()),
        "panes left: {panes:?}"
    );
}

#[test]
fn each_cli_reports_its_own_state_through_the_hooks_cafleet_installs() {
    // No monitor runs: every state below comes from the agents' own hooks.
    let script = r#"version = 1
[[turn]]
contains = "slow"
delay = "5s"
reply = "slow turn finished"
[[turn]]
contains = "forbidden"
run = ["touch forbidden.txt"]
"#;
    let mut asking = member("cl", BackendName::Claude);
    // The user's own asking mode, so a command outside the allow list asks.
    asking.args = vec!["--permission-mode".into(), "default".into()];
    let members = vec![
        asking,
        member("cx", BackendName::Codex),
        member("oc", BackendName::Opencode),
    ];
    let Some(mut team) = Team::start("conf-hooks", script, &members, Options::default()) else {
        return;
    };
    team.up();
    let state = |m: &str| {
        team.query::<String>(&format!(
            "SELECT status || ' ' || status_signal FROM agents WHERE name = '{m}'"
        ))
        .pop()
        .unwrap_or_default()
    };
    let slow: Vec<(&str, i64)> = ["cl", "cx", "oc"]
        .iter()
        .map(|m| (*m, team.send(m, "slow")))
        .collect();
    // claude's UserPromptSubmit and opencode's session status say `working` while the
    // model streams (codex reports only the end of a turn).
    team.wait("cl and oc working by hook", Duration::from_secs(30), || {
        ["cl", "oc"].iter().all(|m| state(m) == "working hook")
    });
    team.wait("every agent idle by hook", Duration::from_secs(60), || {
        ["cl", "cx", "oc"].iter().all(|m| state(m) == "idle hook")
    });
    // Each message became `notified` once the agent was seen to take the line: claude's
    // UserPromptSubmit hook sees the preview before its composer is drawn empty;
    // opencode's plugin and codex's screen may be slower or faster than the composer.
    let deliveries =
        team.query::<String>("SELECT detail FROM events WHERE kind = 'delivery' ORDER BY id");
    for (m, id) in &slow {
        let delivery: Value = deliveries
            .iter()
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .find(|d| {
                d["message_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.contains(&json!(id)))
            })
            .unwrap_or_else(|| panic!("{m}: no delivery of #{id}{}", team.panes()));
        let taken = delivery["taken"].as_str().unwrap_or_default();
        let expected: &[&str] = if *m == "cl" {
            &["hook"]
        } else {
            &["hook", "screen"]
        };
        assert!(expected.contains(&taken), "{m}: taken {delivery}");
        assert_eq!(delivery["outcome"], "notified", "{m}: {delivery}");
    }
    // A permission prompt: claude's own hook says it waits for input.
    team.send("cl", "forbidden");
    team.wait("cl waiting-input by hook", Duration::from_secs(30), || {
        state("cl") == "waiting-input hook"
    });
    assert!(!team.work.join("forbidden.txt").exists());
    // `ps --json` shows the state with its signal.
    let ps: Value = serde_json::from_str(&team.ok(&["ps", "--fleet", "conf-hooks", "--json"]))
        .expect("ps --json");
    let text = ps.to_string();
    assert!(text.contains("\"signal\":\"hook\""), "{text}");
    team.down();
}
