//! The skills' flows, run end to end by a real agent the user started by hand.
//!
//! Each test is a user's desk: a private HOME and a private tmux server, `cafleet setup
//! --write` (the registry, the skills, and exactly the permissions `setup` writes into
//! the user's own settings), then a shell in a plain pane in which `claude` is typed —
//! not started by cafleet, so it has no permission flags of cafleet's, only the user's
//! settings. claude talks to cafleet's scripted model (`cafleet model serve`), pointed
//! at it by the environment, as a user's account would be; so do the members cafleet
//! starts. A prompt from the README is typed into the pane. The script answers with the
//! command lines TAKEN FROM THE SKILL FILES, so a command that is wrong, drifts or is
//! refused by the agent's permissions fails the test:
//!
//! - `fleet create` from the agent's own pane, two members playing ping-pong, shutdown
//!   (skills/cafleet/reference/team-from-your-pane.md, part A);
//! - the same with a fleet file and `cafleet up` (part B);
//! - the design-doc flow: a claude drafter writes `design-docs/…/design-doc.md`, a codex
//!   reviewer writes its findings, the Director settles and shuts the team down
//!   (cafleet-design-doc, cafleet-design-doc-create and its roles).
//!
//! Checked after each: the registry (`--json` outputs), the files, no permission
//! question in the user's pane and no refused command in the model's log, the user's
//! pane still alive and nothing of the team left in tmux.
//!
//! The CLIs are looked for as the conformance suite does (`$CAFLEET_AGENT_CLIS`, default
//! `~/.cache/cafleet/agent-clis`, then PATH; `tests/agent-clis.sh` installs them).
//! Without them each test prints `skipped: …` and passes, except under `CI`, where it
//! fails.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cafleet::tmux::testing::TestServer;
use cafleet::tmux::{Key, Launch, PaneId};
use serde_json::Value;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long a whole flow may take on a loaded machine.
const FLOW_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------------
// The skill files, read as a user's agent reads them.

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The lines of every ```sh block of `text`, trailing `  # comment` dropped.
fn sh_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with("```") {
            in_sh = !in_sh && line == "```sh";
            continue;
        }
        if in_sh && !line.is_empty() {
            let command = line.split("  #").next().unwrap_or_default().trim();
            lines.push(command.to_string());
        }
    }
    lines
}

/// The one command line of `text`'s sh blocks that starts with `prefix`.
fn skill_line(text: &str, prefix: &str) -> String {
    let found: Vec<String> = sh_lines(text)
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one command line starting with `{prefix}` in the skill, found {found:?}"
    );
    found[0].clone()
}

/// The part of `text` from the heading `from` (to the end).
fn section<'a>(text: &'a str, from: &str) -> &'a str {
    let at = text
        .find(from)
        .unwrap_or_else(|| panic!("the skill has no `{from}`"));
    &text[at..]
}

/// The first fenced block of kind `kind` (```toml, ```markdown) in `text`.
fn fenced(text: &str, kind: &str) -> String {
    let open = format!("```{kind}\n");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("no ```{kind} block"))
        + open.len();
    let end = text[start..].find("\n```").expect("closing fence") + start;
    format!("{}\n", &text[start..end])
}

/// The README prompt (a line of its "ask it" block) that contains `words`.
fn readme_prompt(words: &str) -> String {
    let readme = repo_file("README.md");
    let block = fenced(section(&readme, "start an agent yourself"), "text");
    block
        .lines()
        .find(|l| l.contains(words))
        .unwrap_or_else(|| panic!("no README prompt with `{words}`"))
        .to_string()
}

// ---------------------------------------------------------------------------------------
// The model script.

/// A TOML basic string (JSON's escapes are a subset of TOML's).
fn toml_str(text: &str) -> String {
    serde_json::to_string(text).expect("json string")
}

/// A command line as a script step: `$` is literal unless it names a capture.
fn step(command: &str) -> String {
    command.replace('$', "$$")
}

/// One `[[turn]]` matching the regex `pattern`, running `run` (already script steps).
fn turn(pattern: &str, run: &[String], reply: &str) -> String {
    let run: Vec<String> = run.iter().map(|c| toml_str(c)).collect();
    format!(
        "[[turn]]\nmatch = {}\nrun = [{}]\nreply = {}\n",
        toml_str(pattern),
        run.join(", "),
        toml_str(reply)
    )
}

/// How the members ping and pong play their five rounds: a reply names the round it
/// answers, and ping sends `rally_done` to `director` after `pong 5`.
fn rally_turns() -> String {
    let mut script = String::new();
    script.push_str(&turn(r"^You are pong\b", &[], "waiting for ping"));
    script.push_str(&turn(
        r"^You are ping\b",
        &[step(r#"cafleet message send --to pong "ping 1""#)],
        "sent ping 1",
    ));
    script.push_str(&turn(
        r"message #(?P<id>\d+) from ping: ping (?P<n>\d+)",
        &[
            "cafleet message inbox".into(),
            r#"cafleet message send --to ping "pong $n""#.into(),
            "cafleet message ack $id".into(),
        ],
        "answered ping",
    ));
    for n in 1..5 {
        script.push_str(&turn(
            &format!(r"message #(?P<id>\d+) from pong: pong {n}\b"),
            &[
                "cafleet message inbox".into(),
                format!(r#"cafleet message send --to pong "ping {}""#, n + 1),
                "cafleet message ack $id".into(),
            ],
            "answered pong",
        ));
    }
    script.push_str(&turn(
        r"message #(?P<id>\d+) from pong: pong 5\b",
        &[
            "cafleet message inbox".into(),
            r#"cafleet message send --to director "rally done""#.into(),
            "cafleet message ack $id".into(),
        ],
        "rally over",
    ));
    script
}

// ---------------------------------------------------------------------------------------
// The user's desk.

/// The folder holding `claude` and `codex`, or `None` (after saying so) outside CI.
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
        ["claude", "codex"]
            .iter()
            .all(|program| dir.join(program).is_file())
    });
    if found.is_none() {
        let why = "the claude and codex CLIs are not installed \
                   (tests/agent-clis.sh installs them into $CAFLEET_AGENT_CLIS)";
        if std::env::var_os("CI").is_some() {
            panic!("{why}, and CI is set: the skill flows must run");
        }
        cafleet::tmux::testing::say_skipped(why);
    }
    found
}

struct Desk {
    _serial: std::sync::MutexGuard<'static, ()>,
    server: TestServer,
    home: tempfile::TempDir,
    work: PathBuf,
    path: String,
    model: Child,
    model_log: PathBuf,
    /// The pane the user typed `claude` into.
    pane: PaneId,
}

impl Desk {
    /// A desk with the scripted model following `script`, `setup --write` done for
    /// `agents`, and `program` (`claude` or `codex`) started by hand in a shell in a
    /// plain pane.
    fn start(script: &str, agents: &[&str], program: &str) -> Option<Desk> {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let clis = agent_clis()?;
        let server = TestServer::start()?;
        let home = tempfile::tempdir().expect("home");
        let work = home.path().join("work");
        std::fs::create_dir_all(&work).expect("work");
        let work = work.canonicalize().expect("canonical work");
        let path = format!(
            "{}:{}:{}",
            Path::new(common::bin())
                .parent()
                .expect("the binary's folder")
                .display(),
            clis.display(),
            std::env::var("PATH").unwrap_or_default()
        );

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

        // What a user has done once: claude's onboarding and trust in the project
        // folder; codex's trust and its model provider (their "account", here the
        // scripted model). Everything else comes from `cafleet setup --write`.
        let claude = serde_json::json!({
            "hasCompletedOnboarding": true,
            "projects": {work.to_string_lossy(): {"hasTrustDialogAccepted": true}},
        });
        std::fs::write(home.path().join(".claude.json"), claude.to_string()).expect("claude");
        std::fs::create_dir_all(home.path().join(".codex")).expect(".codex");
        std::fs::write(
            home.path().join(".codex/config.toml"),
            format!(
                "model = \"scripted\"\nmodel_provider = \"cafleet\"\n\n\
                 [model_providers.cafleet]\nname = \"cafleet\"\nbase_url = {}\n\
                 env_key = \"SCRIPTED_MODEL_KEY\"\nwire_api = \"responses\"\n\n\
                 [projects.{}]\ntrust_level = \"trusted\"\n",
                toml_str(&format!("{base}/v1")),
                toml_str(&work.to_string_lossy())
            ),
        )
        .expect("codex config");

        // The user's environment, as their login would give it to every pane: this
        // HOME, the scripted model in place of an account, and (a precaution of the
        // test) this private tmux server for every `cafleet` run in a pane.
        let mut env = cafleet::tmux::Batch::new();
        let set = |k: &str, v: &str| {
            cafleet::tmux::Cmd::new("set-environment")
                .args(["-g", k])
                .arg(v)
        };
        env.push(set("HOME", &home.path().to_string_lossy()));
        env.push(set("ANTHROPIC_BASE_URL", &base));
        env.push(set("ANTHROPIC_AUTH_TOKEN", "cafleet-scripted"));
        env.push(set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"));
        env.push(set("SCRIPTED_MODEL_KEY", "cafleet-scripted"));
        env.push(set(
            "CAFLEET_TMUX_SOCKET",
            &server.socket_path().to_string_lossy(),
        ));
        for var in [
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "OPENCODE_CONFIG_DIR",
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
        ] {
            env.push(cafleet::tmux::Cmd::new("set-environment").args(["-gu", var]));
        }
        server.tmux().run(env).expect("the desk's environment");

        let desk_shell = Launch::new(["bash", "--norc", "--noprofile"])
            .cwd(&work)
            .env("PATH", &path)
            .env("PS1", "desk$ ")
            .window_size(220, 50);
        let pane = server
            .tmux()
            .new_session("desk", None, &desk_shell)
            .expect("the user's pane")
            .pane;
        let desk = Desk {
            _serial: serial,
            server,
            home,
            work,
            path,
            model,
            model_log,
            pane,
        };

        let mut setup = vec!["setup", "--write"];
        for agent in agents {
            setup.extend(["--agent", agent]);
        }
        desk.ok(&setup);
        let settings = std::fs::read_to_string(desk.home.path().join(".claude/settings.json"))
            .expect("setup wrote claude's settings");
        assert!(settings.contains("Bash(cafleet:*)"), "{settings}");
        if agents.contains(&"codex") {
            let config = std::fs::read_to_string(desk.home.path().join(".codex/config.toml"))
                .expect("codex's config");
            assert!(config.contains("allow_login_shell = false"), "{config}");
            assert!(config.contains("writable_roots"), "{config}");
        }

        // The user types `claude` (or `codex`) into their shell.
        desk.server
            .wait_for_text(pane, Duration::from_secs(20), |t| t.contains("desk$"))
            .unwrap_or_else(|e| panic!("the shell did not start: {e}"));
        desk.type_line(program);
        desk.server
            .wait_for_text(pane, Duration::from_secs(60), |t| {
                t.contains("? for shortcuts")
            })
            .unwrap_or_else(|e| panic!("{program} did not become ready: {e}"));
        // The desk's processes are found by their HOME (what the shutdown checks rely on).
        let running = desk.processes();
        assert!(
            running.iter().any(|(_, cmd)| cmd.contains(program)),
            "{program} is not among the desk's processes: {running:?}"
        );
        Some(desk)
    }

    /// The registry, in its default place under the user's HOME.
    fn db(&self) -> PathBuf {
        self.home.path().join(".local/share/cafleet/cafleet.db")
    }

    /// `cafleet` as the user in another terminal of the same desk.
    fn cmd(&self) -> Command {
        let mut cmd = common::cafleet(self.home.path());
        cmd.env("PATH", &self.path)
            .env("CAFLEET_TMUX_SOCKET", self.server.socket_path())
            .current_dir(&self.work);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("run cafleet");
        assert!(
            out.status.success(),
            "cafleet {args:?} failed:\n{}{}",
            common::transcript(&out),
            self.report()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
    }

    /// Types `text` into the user's pane and presses Enter once it shows.
    fn type_line(&self, text: &str) {
        let tmux = self.server.tmux();
        tmux.send_text(self.pane, text).expect("type");
        let shown: String = text.chars().take(40).collect();
        self.server
            .wait_for_text(self.pane, Duration::from_secs(20), |t| t.contains(&shown))
            .unwrap_or_else(|e| panic!("the typed text did not show: {e}"));
        tmux.send_keys(self.pane, &[Key::Enter]).expect("Enter");
    }

    /// Types the user's prompt and presses Enter until the model has it: an Enter that
    /// comes right after fast typing can be taken as part of a paste (codex), as when a
    /// person types too fast, and the person presses it again.
    fn ask(&self, prompt: &str) {
        self.type_line(prompt);
        let asked = || {
            self.model_requests()
                .iter()
                .any(|r| r["user"].as_str().is_some_and(|u| u.contains(prompt)))
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut enter_at = Instant::now() + Duration::from_secs(3);
        while !asked() {
            assert!(
                Instant::now() < deadline,
                "the prompt never reached the model{}",
                self.report()
            );
            if Instant::now() >= enter_at {
                self.server
                    .tmux()
                    .send_keys(self.pane, &[Key::Enter])
                    .expect("Enter");
                enter_at = Instant::now() + Duration::from_secs(3);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screen(&self) -> String {
        self.server
            .tmux()
            .capture_pane(self.pane, Some(2000))
            .unwrap_or_default()
    }

    fn model_requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.model_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The user's pane, every other pane and the model log's tail, for failures.
    fn report(&self) -> String {
        let mut text = format!("\n===== the user's pane =====\n{}", self.screen());
        if let Ok(panes) = self.server.tmux().list_panes(&["@cafleet_member"]) {
            for pane in panes.iter().filter(|p| p.id != self.pane) {
                let screen = self
                    .server
                    .tmux()
                    .capture_pane(pane.id, Some(60))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "\n===== {} ({}) =====\n{}",
                    pane.option("@cafleet_member").unwrap_or("?"),
                    pane.id,
                    screen
                ));
            }
        }
        text.push_str("\n===== events (tail) =====\n");
        if let Ok(out) = self.cmd().arg("events").output() {
            let events = String::from_utf8_lossy(&out.stdout).into_owned();
            let lines: Vec<&str> = events.lines().collect();
            for line in &lines[lines.len().saturating_sub(40)..] {
                text.push_str(&line.chars().take(300).collect::<String>());
                text.push('\n');
            }
        }
        text.push_str("\n===== model log (tail) =====\n");
        let log = std::fs::read_to_string(&self.model_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(20)..] {
            text.push_str(&line.chars().take(500).collect::<String>());
            text.push('\n');
        }
        text
    }

    /// Waits until the user's pane shows `done`; fails at once when claude asks for a
    /// permission (a `cafleet` line the user's settings do not allow) and on timeout.
    fn wait_for_reply(&self, done: &str) {
        let deadline = Instant::now() + FLOW_TIMEOUT;
        loop {
            let screen = self.screen();
            // claude's and codex's approval questions.
            for question in [
                "Do you want to proceed?",
                "Would you like to run the following command?",
                "Allow command?",
            ] {
                assert!(
                    !screen.contains(question),
                    "the agent asked for a permission the user's settings should give{}",
                    self.report()
                );
            }
            if screen.contains(done) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {FLOW_TIMEOUT:?} waiting for `{done}`{}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// No command of any agent was refused, and every step of the script ran.
    fn assert_nothing_refused(&self) {
        for request in self.model_requests() {
            let result = request["last_tool_result"].as_str().unwrap_or_default();
            for refusal in ["Permission to use", "requires approval", "denied"] {
                assert!(
                    !result.contains(refusal),
                    "an agent's command was refused: {request}{}",
                    self.report()
                );
            }
        }
    }

    /// Every live process whose environment has this desk's HOME (all its panes and
    /// what they started), with its command line.
    fn processes(&self) -> Vec<(u32, String)> {
        let home = format!("HOME={}", self.home.path().display());
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            let mine = environ.split(|b| *b == 0).any(|var| var == home.as_bytes());
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, r)| r.starts_with('Z'))
            });
            if mine && !zombie && pid != std::process::id() {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                found.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
            }
        }
        found
    }

    /// The user's pane and claude in it are alive, no other pane but the test server's
    /// placeholder is left, and no courier of cafleet's runs on for the team.
    fn assert_only_the_user_is_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let couriers: Vec<(u32, String)> = self
                .processes()
                .into_iter()
                .filter(|(_, cmd)| cmd.contains(" agent courier "))
                .collect();
            if couriers.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "couriers left after the shutdown: {couriers:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let panes = self.server.tmux().list_panes(&[]).expect("list panes");
            let others: Vec<_> = panes
                .iter()
                .filter(|p| p.id != self.pane && p.id != self.server.placeholder().pane)
                .map(|p| p.id)
                .collect();
            let me = panes.iter().find(|p| p.id == self.pane);
            assert!(
                me.is_some_and(|p| !p.exited()),
                "the user's pane is gone{}",
                self.report()
            );
            if others.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "panes left after the shutdown: {others:?}{}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.model.kill();
        let _ = self.model.wait();
        // The panes and what runs in them go with the tmux server; a codex started by
        // hand also leaves its app-server daemon (codex's own doing: cafleet starts
        // codex members with --no-daemon), which this desk's HOME names.
        let _ = self.server.tmux().kill_server();
        for (pid, _) in self.processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// `(sender, recipient, body, state)` of each message of `json`, a `message list --json`.
fn messages(json: &Value) -> Vec<(String, String, String, String)> {
    json.as_array()
        .expect("a message list")
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            (s("sender"), s("recipient"), s("body"), s("state"))
        })
        .collect()
}

/// Every message of the fleet `name`, straight from the registry: once a member is
/// deleted no command reads as it any more, but its messages stay.
fn fleet_messages(desk: &Desk, name: &str) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(desk.db()).expect("the registry");
    let mut stmt = conn
        .prepare(
            "SELECT m.sender, m.recipient, CAST(m.body AS TEXT), m.state FROM messages m \
             JOIN fleets f ON f.id = m.fleet_id WHERE f.name = ?1 ORDER BY m.id",
        )
        .expect("prepare");
    stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows")
}

/// The ten rally messages between ping and pong, in order, all acked.
fn assert_rally(list: &[(String, String, String, String)]) {
    let rally: Vec<(String, String, String, String)> = list
        .iter()
        .filter(|(from, to, _, _)| {
            (from == "ping" && to == "pong") || (from == "pong" && to == "ping")
        })
        .cloned()
        .collect();
    let mut expected = Vec::new();
    for n in 1..=5 {
        expected.push(("ping", "pong", format!("ping {n}")));
        expected.push(("pong", "ping", format!("pong {n}")));
    }
    let got: Vec<(&str, &str, String)> = rally
        .iter()
        .map(|(f, t, b, _)| (f.as_str(), t.as_str(), b.clone()))
        .collect();
    assert_eq!(got, expected, "the rally: {list:#?}");
    assert!(
        rally.iter().all(|(_, _, _, state)| state == "acked"),
        "every rally message acked: {list:#?}"
    );
}

/// The fleet `name` as `fleet list --all --json` shows it.
fn fleet_row(desk: &Desk, name: &str) -> Value {
    let fleets = desk.json(&["fleet", "list", "--all", "--json"]);
    fleets
        .as_array()
        .expect("fleets")
        .iter()
        .rev()
        .find(|f| f["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no fleet `{name}` in {fleets:#}"))
}

// ---------------------------------------------------------------------------------------

/// Part A of team-from-your-pane.md: the user's own claude becomes the Director with
/// `fleet create`, adds pong and ping with the skill's `member create` lines, and shuts
/// the team down with the skill's commands once ping reports the rally done.
#[test]
fn a_hand_started_claude_makes_its_pane_the_director_and_runs_the_rally() {
    rally_from_the_users_pane("claude");
}

/// The same with codex as the user's own agent: `setup --write` gave it
/// `allow_login_shell = false`, the registry's folder as a writable root and (through
/// `skill install`) the rule that lets `cafleet` run without a question.
#[test]
fn a_hand_started_codex_makes_its_pane_the_director_and_runs_the_rally() {
    rally_from_the_users_pane("codex");
}

fn rally_from_the_users_pane(director: &str) {
    let skill = repo_file("skills/cafleet/reference/team-from-your-pane.md");
    let part_a = section(&skill, "## A.");
    let part_a = &part_a[..part_a.find("## B.").expect("part B")];
    // Every command line of part A, in order, as the agent would run them: up to
    // `cafleet ps` in the turn the user's prompt starts, the rest once ping's "rally
    // done" arrives (the skill's `cafleet message ack 12` acks that message's id).
    let lines = sh_lines(part_a);
    let split = lines
        .iter()
        .position(|l| l == "cafleet ps")
        .unwrap_or_else(|| panic!("part A has no `cafleet ps`: {lines:?}"))
        + 1;
    let (setup, after) = lines.split_at(split);
    assert_eq!(setup[0], "cafleet fleet create demo --backend claude");
    // "--backend: what runs in THIS pane", says the skill.
    let mut setup = setup.to_vec();
    setup[0] = format!("cafleet fleet create demo --backend {director}");
    let pong = skill_line(part_a, "cafleet member create --name pong ");
    let ping = skill_line(part_a, "cafleet member create --name ping ");
    let pong_first = lines.iter().position(|l| *l == pong) < lines.iter().position(|l| *l == ping);
    assert!(
        pong_first,
        "the skill creates ping before pong: ping opens at once"
    );
    for shutdown in [
        "cafleet member delete ping",
        "cafleet member delete pong",
        "cafleet fleet delete demo",
    ] {
        assert!(
            after.iter().any(|l| l == shutdown),
            "part A lost `{shutdown}`"
        );
    }

    let prompt = readme_prompt("from this pane");
    let mut script = String::from("version = 1\n");
    script.push_str(&turn(
        "from this pane, start a team",
        &setup.iter().map(|c| step(c)).collect::<Vec<_>>(),
        "The team is up; waiting for ping to report.",
    ));
    let after: Vec<String> = after
        .iter()
        .map(|c| {
            if c == "cafleet message ack 12" {
                "cafleet message ack $id".to_string()
            } else {
                step(c)
            }
        })
        .collect();
    assert!(
        after.contains(&"cafleet message ack $id".to_string()),
        "{after:?}"
    );
    script.push_str(&turn(
        r"message #(?P<id>\d+) from ping: rally done",
        &after,
        "The rally is over and the team is shut down.",
    ));
    script.push_str(&rally_turns());

    // `setup` for every agent on the user's PATH, as it does by default.
    let Some(desk) = Desk::start(&script, &["claude", "codex"], director) else {
        return;
    };
    let started = Instant::now();
    desk.ask(&prompt);
    desk.wait_for_reply("The rally is over and the team is shut down.");
    eprintln!(
        "the rally and shutdown with {director} took {:?}",
        started.elapsed()
    );

    // The fleet was made from the user's pane, whose claude is its Director.
    let events = desk.json(&["events", "--fleet", "demo", "--json"]);
    let created = events
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "fleet.create")
        .unwrap_or_else(|| panic!("no fleet.create event: {events:#}"));
    let detail: Value = match &created["detail"] {
        Value::String(text) => serde_json::from_str(text).expect("detail"),
        other => other.clone(),
    };
    assert_eq!(detail["pane"], desk.pane.to_string(), "{created}");
    // (`fleet show` no longer shows a deleted fleet; the registry keeps its rows.)
    let conn = rusqlite::Connection::open(desk.db()).expect("the registry");
    let backend: String = conn
        .query_row(
            "SELECT a.backend FROM agents a JOIN fleets f ON f.id = a.fleet_id \
             WHERE f.name = 'demo' AND a.name = 'director'",
            [],
            |r| r.get(0),
        )
        .expect("the Director's row");
    assert_eq!(backend, director);
    // Messages went both ways, and ping told the Director, who acked it (the
    // Director's thread stays readable after the shutdown).
    assert_rally(&fleet_messages(&desk, "demo"));
    let list = desk.json(&[
        "message", "list", "--fleet", "demo", "--as", "director", "--json",
    ]);
    assert!(
        messages(&list).contains(&(
            "ping".into(),
            "director".into(),
            "rally done".into(),
            "acked".into()
        )),
        "{list:#}"
    );
    // Shut down: the fleet deleted (its history kept), no member pane left, and the
    // user's own pane and claude still there.
    let row = fleet_row(&desk, "demo");
    assert!(
        row["deleted_at"].is_string(),
        "the fleet is not deleted: {row:#}"
    );
    desk.assert_only_the_user_is_left();
    desk.assert_nothing_refused();
}

/// Part B of team-from-your-pane.md: the same rally from the skill's fleet file, brought
/// up and down with the skill's commands by the user's claude, which reads the
/// Director's report as `operator`.
#[test]
fn a_hand_started_claude_runs_the_rally_from_the_skills_fleet_file() {
    let skill = repo_file("skills/cafleet/reference/team-from-your-pane.md");
    let part_b = section(&skill, "## B.");
    let fleet_file = fenced(part_b, "toml");
    let commands: Vec<String> = sh_lines(part_b);
    assert!(
        commands
            .first()
            .is_some_and(|c| c.starts_with("cafleet config check"))
            && commands
                .last()
                .is_some_and(|c| c.starts_with("cafleet down")),
        "part B's commands: {commands:?}"
    );

    let prompt = readme_prompt("write a fleet file");
    let mut script = String::from("version = 1\n");
    script.push_str(&turn(
        "write a fleet file for two members",
        &commands.iter().map(|c| step(c)).collect::<Vec<_>>(),
        "The rally is over and the fleet is down.",
    ));
    // The fleet's own Director, as its prompt in the file says.
    script.push_str(&turn(r"^You direct pingpong\b", &[], "waiting for ping"));
    script.push_str(&turn(
        r"message #(?P<id>\d+) from ping: rally done",
        &[
            "cafleet message inbox".into(),
            r#"cafleet message send --to operator "rally over""#.into(),
            "cafleet message ack $id".into(),
        ],
        "reported to the user",
    ));
    script.push_str(&rally_turns());

    let Some(desk) = Desk::start(&script, &["claude"], "claude") else {
        return;
    };
    // The file the user's claude writes (after the user approved the edit): the
    // skill's, as it stands.
    std::fs::write(desk.work.join("pingpong.toml"), &fleet_file).expect("fleet file");
    let started = Instant::now();
    desk.ask(&prompt);
    desk.wait_for_reply("The rally is over and the fleet is down.");
    eprintln!("the fleet-file rally took {:?}", started.elapsed());

    let list = desk.json(&[
        "message", "list", "--fleet", "pingpong", "--as", "ping", "--json",
    ]);
    assert_rally(&messages(&list));
    let to_operator = desk.json(&[
        "message", "list", "--fleet", "pingpong", "--as", "operator", "--json",
    ]);
    assert!(
        messages(&to_operator)
            .iter()
            .any(|(from, _, body, state)| from == "director"
                && body == "rally over"
                && state == "read"),
        "the user's claude read the Director's report: {to_operator:#}"
    );
    assert_eq!(fleet_row(&desk, "pingpong")["status"], "down");
    let show = desk.json(&["fleet", "show", "pingpong", "--json"]);
    let agents = show["agents"].as_array().expect("agents");
    assert_eq!(agents.len(), 3, "{show:#}");
    assert!(agents.iter().all(|a| a["status"] == "stopped"), "{show:#}");
    desk.assert_only_the_user_is_left();
    desk.assert_nothing_refused();
}

/// The design-doc flow (cafleet-design-doc, -create and the drafter and reviewer
/// roles), from the interview's requirements to a reviewed doc: the user's claude
/// creates the team with the skill's lines (a claude drafter, a codex reviewer), briefs
/// and reviews with the skill's messages, and shuts the team down.
#[test]
fn a_hand_started_claude_runs_the_design_doc_flow() {
    let flow = repo_file("skills/cafleet-design-doc/SKILL.md");
    let create_skill = repo_file("skills/cafleet-design-doc-create/SKILL.md");
    let drafter_role = repo_file("skills/cafleet-design-doc-create/roles/drafter.md");
    let reviewer_role = repo_file("skills/cafleet-design-doc-create/roles/reviewer.md");
    let template = fenced(
        &repo_file("skills/cafleet-design-doc/guidelines.md"),
        "markdown",
    );

    // The team block, every line of it, as the agent would run it.
    let team_part = section(&flow, "## A team for the whole flow");
    let team_part = &team_part[..team_part.find("\n## ").unwrap_or(team_part.len())];
    let team = sh_lines(team_part);
    assert_eq!(team[0], "cafleet fleet create design --backend claude");
    skill_line(team_part, "cafleet member create --name drafter ");
    skill_line(team_part, "cafleet member create --name reviewer ");
    for inline in [
        "`cafleet member delete NAME`",
        "`cafleet fleet delete design`",
    ] {
        assert!(flow.contains(inline), "the flow skill lost {inline}");
    }
    let brief = skill_line(&create_skill, "cafleet message send --to drafter ");
    let review = skill_line(&create_skill, "cafleet message send --to reviewer ");
    let draft_ready = skill_line(&drafter_role, "cafleet message send --to director ");
    assert_eq!(
        skill_line(&drafter_role, "cafleet message ack "),
        "cafleet message ack 12",
        "the drafter's ack line changed"
    );
    // The reviewer's example reports blocking findings; this round finds none, which
    // reviewer.md says to report as such, so the Director can approve after one round.
    let review_done = skill_line(&reviewer_role, "cafleet message send --to director ");
    assert!(review_done.contains("2 blocking"), "{review_done}");
    let review_done = review_done.replace("2 blocking", "0 blocking");

    let doc = "design-docs/tui-calculator/design-doc.md";
    let findings = "design-docs/tui-calculator/review-1.md";
    assert!(brief.contains(doc) && review.contains(findings) && review.contains(doc));
    let filled = template
        .replace("<Title>", "TUI calculator")
        .replace("<slug>", "tui-calculator");

    let prompt = readme_prompt("create a design doc");
    let mut script = String::from("version = 1\n");
    // The Director: the team, then the brief (step 2 of -create).
    script.push_str(&turn(
        "Please create a design doc using the CAFleet skill",
        &team
            .iter()
            .chain([&brief])
            .map(|c| step(c))
            .collect::<Vec<_>>(),
        "The drafter is briefed.",
    ));
    // The drafter (role file): read, write the template, reply, ack.
    script.push_str(&turn(r"^You are drafter\b", &[], "waiting for the brief"));
    script.push_str(&turn(
        r"message #(?P<id>\d+) from director: Draft ",
        &[
            "cafleet message inbox".into(),
            "mkdir -p design-docs/tui-calculator".into(),
            step(&format!("cat > {doc} <<'DOC'\n{filled}DOC")),
            step(&draft_ready),
            "cafleet message ack $id".into(),
        ],
        "draft sent",
    ));
    // The Director: the draft goes to the reviewer (step 4).
    script.push_str(&turn(
        r"message #(?P<id>\d+) from drafter: Draft ready",
        &[
            "cafleet message inbox".into(),
            "cafleet message ack $id".into(),
            step(&review),
        ],
        "The draft is with the reviewer.",
    ));
    // The reviewer (codex; role file): read, write the findings, reply, ack.
    script.push_str(&turn(r"You are reviewer\b", &[], "waiting for a review"));
    script.push_str(&turn(
        r"message #(?P<id>\d+) from director: Review ",
        &[
            "cafleet message inbox".into(),
            step(&format!(
                "printf '%s\\n' '1. should - Tasks: task 2 needs a check that can fail.' \
                 '2. nit - Goal: one sentence too long.' > {findings}"
            )),
            step(&review_done),
            "cafleet message ack $id".into(),
        ],
        "review sent",
    ));
    // The Director: nothing blocking; the team is no longer needed.
    script.push_str(&turn(
        r"message #(?P<id>\d+) from reviewer: Review 1",
        &[
            "cafleet message inbox".into(),
            "cafleet message ack $id".into(),
            "cafleet member delete drafter".into(),
            "cafleet member delete reviewer".into(),
            "cafleet fleet delete design".into(),
        ],
        "The design doc is written and reviewed; the team is shut down.",
    ));

    let Some(desk) = Desk::start(&script, &["claude", "codex"], "claude") else {
        return;
    };
    // Step 1, the interview between the user and their claude, ended with this file.
    let dir = desk.work.join("design-docs/tui-calculator");
    std::fs::create_dir_all(&dir).expect("design-docs");
    std::fs::write(
        dir.join("requirements.md"),
        "# TUI calculator: requirements\n\n1. Add, subtract, multiply and divide.\n",
    )
    .expect("requirements");
    let started = Instant::now();
    desk.ask(&prompt);
    desk.wait_for_reply("The design doc is written and reviewed; the team is shut down.");
    eprintln!("the design-doc flow took {:?}", started.elapsed());

    let written = std::fs::read_to_string(desk.work.join(doc))
        .unwrap_or_else(|e| panic!("{doc}: {e}{}", desk.report()));
    for heading in ["# TUI calculator", "## Tasks", "## Review log"] {
        assert!(
            written.contains(heading),
            "{doc} lacks {heading}:\n{written}"
        );
    }
    let review_file = std::fs::read_to_string(desk.work.join(findings))
        .unwrap_or_else(|e| panic!("{findings}: {e}{}", desk.report()));
    assert!(review_file.contains("1. should"), "{review_file}");

    let thread = messages(&desk.json(&[
        "message", "list", "--fleet", "design", "--as", "director", "--json",
    ]));
    let drafter_thread = thread.clone();
    let reviewer_thread = thread;
    let hop = |list: &[(String, String, String, String)], from: &str, to: &str| {
        list.iter()
            .any(|(f, t, _, state)| f == from && t == to && state == "acked")
    };
    assert!(
        hop(&drafter_thread, "director", "drafter") && hop(&drafter_thread, "drafter", "director"),
        "{drafter_thread:#?}"
    );
    assert!(
        hop(&reviewer_thread, "director", "reviewer")
            && hop(&reviewer_thread, "reviewer", "director"),
        "{reviewer_thread:#?}"
    );
    let row = fleet_row(&desk, "design");
    assert!(
        row["deleted_at"].is_string(),
        "the fleet is not deleted: {row:#}"
    );
    desk.assert_only_the_user_is_left();
    desk.assert_nothing_refused();
}
