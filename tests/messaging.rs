//! `cafleet message …` end to end: the real binary against a temp registry, and for pane
//! delivery fake agents in a private tmux server (one per test). Fleets and agents are
//! registered through the library, as `up` would; every wait polls with a deadline.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cafleet::apply::{TAG_FLEET, TAG_MEMBER};
use cafleet::backend::fake;
use cafleet::registry::Registry;
use cafleet::registry::agents::NewAgent;
use cafleet::registry::fleets::NewFleet;
use cafleet::tmux::testing::{TestServer, wait_until};
use cafleet::tmux::{Launch, PaneId};
use serde_json::Value;

const FLEET: &str = "team";

/// A temp HOME with a registry holding fleet `team`.
struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    fn new(members: &[&str]) -> Env {
        Env::with_socket(members, "")
    }

    fn with_socket(members: &[&str], socket: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cafleet.db");
        let env = Env { dir, db };
        let mut reg = env.registry();
        let fleet = reg
            .upsert_fleet(&NewFleet {
                name: FLEET,
                origin: "cli",
                manifest_path: None,
                session: FLEET,
                socket,
            })
            .unwrap();
        for name in members {
            let role = if *name == "director" {
                "director"
            } else {
                "member"
            };
            let id = reg
                .upsert_agent(&NewAgent {
                    fleet_id: fleet,
                    name,
                    role,
                    backend: "fake",
                    model: None,
                    description: "",
                    origin: "cli",
                    config_hash: "",
                    spec_json: "{}",
                })
                .unwrap();
            reg.set_agent_status(id, "idle", None).unwrap();
        }
        env
    }

    fn registry(&self) -> Registry {
        Registry::open(camino::Utf8Path::from_path(&self.db).unwrap()).unwrap()
    }

    /// `cafleet --db DB` with a clean environment.
    fn cmd(&self) -> Command {
        let mut cmd = common::cafleet(self.dir.path());
        cmd.arg("--db").arg(&self.db);
        cmd
    }

    /// `cafleet --db DB message VERB --as AS ARGS…`
    fn message(&self, verb: &str, speaker: &str, args: &[&str]) -> Output {
        self.cmd()
            .args(["message", verb, "--as", speaker])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn fleet_id(&self) -> i64 {
        self.registry().require_fleet(FLEET).unwrap().id
    }

    fn state(&self, id: i64) -> (String, Option<String>) {
        let row = self
            .registry()
            .message(self.fleet_id(), id)
            .unwrap()
            .unwrap();
        (row.state, row.state_reason)
    }
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", common::transcript(output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The id in `message #12 to api: queued`.
fn sent_id(stdout: &str) -> i64 {
    stdout
        .strip_prefix("message #")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {stdout:?}"))
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

const HOSTILE: &[&str] = &[
    "ends with a semicolon;",
    "-rf starts with a dash",
    "--also-a-flag",
    "\"double\" and 'single' quotes, `backticks`",
    "$(rm -rf ~) and ${HOME} and $HOME",
    "tabs\tin\tbetween",
    "line 1\nline 2\nline 3\nline 4\nline 5",
    "emoji 🚀👋🏽 and ünïcödé",
    "C-c \x03 C-u \x15 ESC \x1b CR \r paste \x1b[200~evil\x1b[201~ DEL \x7f",
    "  leading and trailing spaces  ",
];

#[test]
fn hostile_bodies_round_trip_byte_for_byte() {
    let env = Env::new(&["director", "api"]);
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for text in HOSTILE {
        let out = ok(&env.message("send", "director", &["--to", "api", "--", text]));
        assert!(
            out.starts_with("message #") && out.contains(" to api: queued"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 1, "{out}");
        bodies.push(text.as_bytes().to_vec());
    }
    // 10 KB from a file, and non-UTF-8 bytes from stdin.
    let big: String = (0..10 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let file = env.dir.path().join("big.txt");
    std::fs::write(&file, &big).unwrap();
    ok(&env.message(
        "send",
        "director",
        &["--to", "api", "--file", file.to_str().unwrap()],
    ));
    bodies.push(big.into_bytes());
    let raw = b"bytes \xff\xfe not utf-8\n".to_vec();
    let mut child = env
        .cmd()
        .args(["message", "send", "--as", "director", "--to", "api", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    bodies.push(raw);
    // `--file -` reads stdin too, as its hint and the skill say.
    let piped = b"from stdin via --file -\n".to_vec();
    let mut child = env
        .cmd()
        .args([
            "message", "send", "--as", "director", "--to", "api", "--file", "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&piped).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bodies.push(piped);

    let reg = env.registry();
    let fleet = env.fleet_id();
    let stored = reg
        .list_messages(fleet, "api", &Default::default())
        .unwrap();
    assert_eq!(stored.len(), bodies.len());
    for (row, body) in stored.iter().zip(&bodies) {
        assert_eq!(&row.body, body, "message #{}", row.id);
        if let Ok(text) = std::str::from_utf8(body) {
            let shown = json(&ok(&env.message(
                "show",
                "api",
                &[&row.id.to_string(), "--json"],
            )));
            assert_eq!(shown["body"].as_str(), Some(text));
            assert_eq!(shown["sender"], "director");
            // The plain `show` prints the body after the header with its control
            // characters as visible stand-ins (`--json` above has it exact).
            let plain = env.message("show", "director", &[&format!("#{}", row.id)]);
            assert!(plain.status.success());
            let safe = cafleet::safe_text::text(text);
            let safe = safe.as_bytes();
            assert!(
                plain.stdout.windows(safe.len()).any(|w| w == safe),
                "{}",
                String::from_utf8_lossy(&plain.stdout)
            );
            assert!(!plain.stdout.contains(&0x1b));
        }
    }
}

#[test]
fn inbox_marks_read_then_ack_and_list() {
    let env = Env::new(&["director", "api", "web"]);
    let a = sent_id(&ok(&env.message(
        "send",
        "director",
        &["--to", "api", "first"],
    )));
    let b = sent_id(&ok(&env.message("send", "web", &["--to", "api", "second"])));
    ok(&env.message("send", "api", &["--to", "web", "reply"]));

    let inbox = json(&ok(&env.message("inbox", "api", &["--json"])));
    let items = inbox.as_array().unwrap();
    assert_eq!(items.len(), 2);
    for field in [
        "id",
        "sender",
        "recipient",
        "body",
        "kind",
        "state",
        "created_at",
    ] {
        assert!(
            items[0].get(field).is_some(),
            "no `{field}` in {}",
            items[0]
        );
    }
    assert_eq!(items[0]["id"], a);
    assert_eq!(items[0]["sender"], "director");
    assert_eq!(items[1]["body"], "second");
    assert_eq!(env.state(a).0, "read");
    assert_eq!(
        json(&ok(&env.message("inbox", "api", &["--json"]))),
        Value::Array(vec![])
    );
    assert_eq!(
        ok(&env.message("inbox", "api", &[])),
        "no unread messages\n"
    );
    let all = json(&ok(&env.message("inbox", "api", &["--all", "--json"])));
    assert_eq!(all.as_array().unwrap().len(), 2);

    assert_eq!(
        ok(&env.message("ack", "api", &[&a.to_string(), &format!("#{b}")])),
        format!("message #{a} acked\nmessage #{b} acked\n")
    );
    let row = env.registry().message(env.fleet_id(), a).unwrap().unwrap();
    assert_eq!(row.state, "acked");
    assert!(row.read_at.is_some() && row.acked_at.is_some());

    let thread = json(&ok(&env.message(
        "list",
        "api",
        &["--with", "web", "--json"],
    )));
    let bodies: Vec<&str> = thread
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["second", "reply"]);
    let queued = json(&ok(&env.message(
        "list",
        "api",
        &["--state", "queued", "--json"],
    )));
    assert_eq!(queued.as_array().unwrap().len(), 1);
    let text = ok(&env.message("list", "api", &[]));
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn members_cannot_read_or_ack_each_others_messages() {
    let env = Env::new(&["director", "api", "web"]);
    let id = sent_id(&ok(&env.message(
        "send",
        "director",
        &["--to", "api", "for api only"],
    )));

    let show = env.message("show", "web", &[&id.to_string()]);
    assert_eq!(code(&show), 1, "{}", common::transcript(&show));
    assert!(stderr(&show).contains(&format!("message #{id}")));
    assert!(!String::from_utf8_lossy(&show.stdout).contains("for api only"));

    let ack = env.message("ack", "web", &[&id.to_string()]);
    assert_eq!(code(&ack), 1);
    assert!(stderr(&ack).contains(&format!("message #{id} is not addressed to `web`")));
    // The sender cannot acknowledge it either.
    assert_eq!(code(&env.message("ack", "director", &[&id.to_string()])), 1);
    assert_eq!(env.state(id).0, "queued");

    assert_eq!(
        json(&ok(&env.message("inbox", "web", &["--json"]))),
        Value::Array(vec![])
    );
    assert!(ok(&env.message("list", "web", &[])).starts_with("no messages"));
    assert_eq!(code(&env.message("show", "api", &["999"])), 3);
}

#[test]
fn identity_comes_from_flags_env_or_the_only_fleet() {
    let env = Env::new(&["director", "api"]);
    // CAFLEET_FLEET / CAFLEET_MEMBER, as inside a pane.
    let out = env
        .cmd()
        .env("CAFLEET_FLEET", FLEET)
        .env("CAFLEET_MEMBER", "director")
        .args(["message", "send", "--to", "api", "hi"])
        .output()
        .unwrap();
    ok(&out);

    let no_speaker = env.cmd().args(["message", "inbox"]).output().unwrap();
    assert_eq!(code(&no_speaker), 2);
    assert!(
        stderr(&no_speaker).contains("--as"),
        "{}",
        stderr(&no_speaker)
    );
    assert!(stderr(&no_speaker).contains("director, api"));

    let ghost = env.message("inbox", "ghost", &[]);
    assert_eq!(code(&ghost), 3);
    assert!(stderr(&ghost).contains("no member `ghost`"));
    assert!(stderr(&ghost).contains("director, api"));

    let to_ghost = env.message("send", "director", &["--to", "ghost", "x"]);
    assert_eq!(code(&to_ghost), 3);

    let no_fleet = env.message("inbox", "api", &["--fleet", "nope"]);
    assert_eq!(code(&no_fleet), 3);
    assert!(stderr(&no_fleet).contains("registered fleets: team"));

    env.registry()
        .upsert_fleet(&NewFleet {
            name: "other",
            origin: "cli",
            manifest_path: None,
            session: "other",
            socket: "",
        })
        .unwrap();
    let ambiguous = env.message("inbox", "api", &[]);
    assert_eq!(code(&ambiguous), 2);
    assert!(stderr(&ambiguous).contains("other, team"));
    ok(&env.message("inbox", "api", &["--fleet", FLEET]));
}

#[test]
fn inbox_wait_returns_on_arrival_and_times_out_with_exit_4() {
    let env = Env::new(&["director", "api"]);
    let started = Instant::now();
    let timed_out = env.message("inbox", "api", &["--wait", "--timeout", "300ms"]);
    assert_eq!(code(&timed_out), 4, "{}", common::transcript(&timed_out));
    assert!(started.elapsed() >= Duration::from_millis(300));

    let waiter = env
        .cmd()
        .args([
            "message",
            "inbox",
            "--as",
            "api",
            "--wait",
            "--timeout",
            "20s",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    ok(&env.message("send", "director", &["--to", "api", "wake up"]));
    let out = waiter.wait_with_output().unwrap();
    let items = json(&ok(&out));
    assert_eq!(items[0]["body"], "wake up");
}

#[test]
fn usage_errors() {
    let env = Env::new(&["director", "api"]);
    assert_eq!(code(&env.message("send", "director", &["--to", "api"])), 2);
    assert_eq!(
        code(&env.message("send", "director", &["--to", "api", ""])),
        2
    );
    assert_eq!(code(&env.message("list", "api", &["--state", "lost"])), 2);
    assert_eq!(code(&env.message("inbox", "api", &["--timeout", "1s"])), 2);
    let bad = env.message("inbox", "api", &["--wait", "--timeout", "soon"]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("hint:"));
}

#[test]
fn concurrent_sends_from_8_processes() {
    const PROCS: usize = 8;
    const EACH: usize = 200;
    let env = Env::new(&["director", "api"]);
    // 8 concurrent senders, each a stream of 200 `cafleet message send` processes.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..PROCS)
            .map(|p| {
                let env = &env;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for i in 0..EACH {
                        let out = env.message(
                            "send",
                            "director",
                            &["--to", "api", &format!("p{p} n{i}")],
                        );
                        if !out.status.success() {
                            failures.push(common::transcript(&out));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failed, first: {}",
        failures.len(),
        failures[0]
    );
    let rows = env
        .registry()
        .list_messages(env.fleet_id(), "api", &Default::default())
        .unwrap();
    assert_eq!(rows.len(), PROCS * EACH);
    let mut bodies: Vec<&[u8]> = rows.iter().map(|m| &m.body[..]).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), PROCS * EACH, "duplicates");
}

// -------------------------------------------------------------------------------------
// Delivery to fake agents in a private tmux server

/// A fleet on a private tmux server with fake agents in panes.
struct Live {
    server: TestServer,
    env: Env,
    log: PathBuf,
}

impl Live {
    fn start() -> Option<Live> {
        let server = TestServer::start()?;
        let socket = server.socket_path().to_string_lossy().into_owned();
        let env = Env::with_socket(&["director"], &socket);
        let log = server.dir().join("fake.jsonl");
        Some(Live { server, env, log })
    }

    /// Starts `cafleet agent fake` as member `name` in its own session, tags the pane and
    /// records it; waits until the fake is ready.
    fn agent(&self, name: &str, options: &str, tags: (&str, &str)) -> PaneId {
        let launch = Launch::new([
            common::bin(),
            "agent",
            "fake",
            "--name",
            name,
            "--options",
            options,
        ])
        .env("CAFLEET_FLEET", FLEET)
        .env("CAFLEET_MEMBER", name)
        .env("CAFLEET_DATABASE_URL", self.env.db.to_str().unwrap())
        .env(fake::LOG_ENV, self.log.to_str().unwrap())
        .option(TAG_FLEET, tags.0)
        .option(TAG_MEMBER, tags.1);
        let spawned = self.server.tmux().new_session(name, None, &launch).unwrap();
        let mut reg = self.env.registry();
        let fleet = reg.require_fleet(FLEET).unwrap().id;
        let id = reg
            .upsert_agent(&NewAgent {
                fleet_id: fleet,
                name,
                role: "member",
                backend: "fake",
                model: None,
                description: "",
                origin: "cli",
                config_hash: "",
                spec_json: "{}",
            })
            .unwrap();
        reg.set_agent_pane(id, &spawned.pane.to_string(), spawned.pid.map(i64::from))
            .unwrap();
        reg.set_agent_status(id, "idle", None).unwrap();
        self.wait_log(name, "ready", |events| {
            events.iter().any(|e| e["event"] == "ready")
        });
        spawned.pane
    }

    fn events(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["agent"] == name)
            .collect()
    }

    fn wait_log(&self, name: &str, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut events = Vec::new();
        let met = wait_until(Duration::from_secs(20), || {
            events = self.events(name);
            cond(&events)
        });
        assert!(
            met,
            "timed out waiting for {what} from `{name}`; log:\n{}",
            show(&events)
        );
        events
    }

    /// The input events (`text`, `key`, `paste`) after the fake was ready.
    fn input(&self, name: &str) -> Vec<Value> {
        let events = self.events(name);
        let ready = events
            .iter()
            .position(|e| e["event"] == "ready")
            .unwrap_or(0);
        events[ready..]
            .iter()
            .filter(|e| matches!(e["event"].as_str(), Some("text" | "key" | "paste")))
            .cloned()
            .collect()
    }
}

fn show(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

/// The concatenated `text` events and the list of keys, in order.
fn typed(input: &[Value]) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut keys = Vec::new();
    for e in input {
        match e["event"].as_str() {
            Some("text") => text.push_str(e["text"].as_str().unwrap_or_default()),
            Some("key") => keys.push(e["key"].as_str().unwrap_or_default().to_owned()),
            Some(other) => keys.push(format!("<{other}>")),
            None => {}
        }
    }
    (text, keys)
}

#[test]
fn a_message_to_an_idle_fake_arrives_exactly_once() {
    let Some(live) = Live::start() else { return };
    live.agent("api", "{}", (FLEET, "api"));
    let started = Instant::now();
    let out = ok(&live
        .env
        .message("send", "director", &["--to", "api", "hello api"]));
    let send_time = started.elapsed();
    let id = sent_id(&out);

    // The fake submits the preview, runs `message inbox --json`, and so reads it.
    let events = live.wait_log("api", "inbox", |ev| {
        ev.iter().any(|e| e["event"] == "inbox")
    });
    let inbox = events.iter().find(|e| e["event"] == "inbox").unwrap();
    assert_eq!(inbox["messages"][0]["id"], id);
    assert_eq!(inbox["messages"][0]["body"], "hello api");

    let (text, keys) = typed(&live.input("api"));
    assert_eq!(
        text,
        format!("[cafleet] message #{id} from director: hello api — run: cafleet message inbox")
    );
    assert_eq!(keys, ["Enter"], "only the preview and one Enter");
    let submits = events.iter().filter(|e| e["event"] == "submit").count();
    assert_eq!(submits, 1);
    // The courier records the notification once it has seen the agent take the line,
    // which may be after the agent already read the message.
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        let row = live
            .env
            .registry()
            .message(live.env.fleet_id(), id)
            .unwrap()
            .unwrap();
        if row.notified_at.is_some() || Instant::now() > deadline {
            break row;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(row.state, "read");
    assert!(row.notified_at.is_some(), "the notification is recorded");
    eprintln!("send returned in {send_time:?}");
}

#[test]
fn a_permission_prompt_gets_one_escape_first() {
    let Some(live) = Live::start() else { return };
    live.agent("api", r#"{"screen":"permission"}"#, (FLEET, "api"));
    let out = ok(&live
        .env
        .message("send", "director", &["--to", "api", "--sync", "careful"]));
    // The fake reads its inbox as soon as the preview is submitted, so by the time
    // `--sync` reports, the message may already be `read`.
    assert!(
        out.contains(": notified") || out.contains(": read"),
        "{out}"
    );
    live.wait_log("api", "inbox", |ev| {
        ev.iter().any(|e| e["event"] == "inbox")
    });
    let (text, keys) = typed(&live.input("api"));
    assert_eq!(keys, ["Escape", "Enter"]);
    assert!(text.starts_with("[cafleet] message #"), "{text}");
    let events = live.events("api");
    assert!(events.iter().any(|e| e["event"] == "dismissed"));
    assert!(
        !events.iter().any(|e| e["event"] == "confirmed"),
        "{}",
        show(&events)
    );
}

#[test]
fn a_trust_dialog_gets_nothing_and_the_message_stays_queued() {
    let Some(live) = Live::start() else { return };
    live.agent("api", r#"{"screen":"trust"}"#, (FLEET, "api"));
    let out = ok(&live
        .env
        .message("send", "director", &["--to", "api", "--sync", "hello"]));
    assert!(out.contains(": queued ("), "{out}");
    let id = sent_id(&out);
    assert!(live.input("api").is_empty(), "{}", show(&live.input("api")));
    let (state, reason) = live.env.state(id);
    assert_eq!(state, "queued");
    assert!(reason.unwrap().contains("trust dialog"));
    let agent = live
        .env
        .registry()
        .agent(live.env.fleet_id(), "api")
        .unwrap()
        .unwrap();
    assert_eq!(agent.status, "waiting-input");
    assert!(
        live.events("api").iter().all(|e| e["event"] != "exit"),
        "the fake is still running"
    );
}

#[test]
fn control_characters_in_a_body_never_reach_the_pane_as_control() {
    let Some(live) = Live::start() else { return };
    live.agent("api", "{}", (FLEET, "api"));
    let body = "a\x03b\x15c\x1bd\re\tf\x1b[200~g\x1b[201~h\x7fi\u{9b}j\nk";
    let id = sent_id(&ok(&live.env.message(
        "send",
        "director",
        &["--to", "api", "--sync", "--", body],
    )));
    let events = live.wait_log("api", "inbox", |ev| {
        ev.iter().any(|e| e["event"] == "inbox")
    });
    let (text, keys) = typed(&live.input("api"));
    assert_eq!(keys, ["Enter"], "{}", show(&events));
    assert_eq!(
        text,
        format!(
            "[cafleet] message #{id} from director: a␃b␕c␛d⏎e→f␛[200~g␛[201~h␡i·j⏎k — run: cafleet message inbox"
        )
    );
    let inbox = events.iter().find(|e| e["event"] == "inbox").unwrap();
    assert_eq!(
        inbox["messages"][0]["body"], body,
        "the stored body is untouched"
    );
}

#[test]
fn a_pane_that_is_no_longer_the_agents_is_left_alone() {
    let Some(live) = Live::start() else { return };
    live.agent("api", "{}", (FLEET, "someone-else"));
    let out = ok(&live
        .env
        .message("send", "director", &["--to", "api", "--sync", "hi"]));
    assert!(
        out.contains(": queued (") && out.contains("no longer belongs"),
        "{out}"
    );
    assert!(live.input("api").is_empty());
    let agent = live
        .env
        .registry()
        .agent(live.env.fleet_id(), "api")
        .unwrap()
        .unwrap();
    assert_eq!(agent.status, "dead");
    assert_eq!(agent.pane_id, None);
}

#[test]
fn a_broadcast_reaches_every_live_member_once() {
    let Some(live) = Live::start() else { return };
    for name in ["a", "b", "c"] {
        live.agent(name, "{}", (FLEET, name));
    }
    let started = Instant::now();
    let out = ok(&live
        .env
        .message("broadcast", "director", &["--sync", "--json", "all hands"]));
    let took = started.elapsed();
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let broadcast = rows[0]["broadcast_id"].clone();
    for row in rows {
        assert_eq!(row["broadcast_id"], broadcast);
        assert_ne!(row["state"], "queued", "{row}");
    }
    for name in ["a", "b", "c"] {
        live.wait_log(name, "inbox", |ev| ev.iter().any(|e| e["event"] == "inbox"));
        let (_, keys) = typed(&live.input(name));
        assert_eq!(keys, ["Enter"]);
    }
    eprintln!("broadcast --sync to 3 panes took {took:?}");
}

#[test]
fn concurrent_notifiers_never_interleave_in_one_pane() {
    let Some(live) = Live::start() else { return };
    live.agent("api", "{}", (FLEET, "api"));
    let outs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let env = &live.env;
                scope.spawn(move || {
                    env.message("send", "director", &["--to", "api", &format!("msg {i}")])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: Vec<i64> = outs.iter().map(|o| sent_id(&ok(o))).collect();
    let fleet = live.env.fleet_id();
    let done = wait_until(Duration::from_secs(20), || {
        let reg = live.env.registry();
        ids.iter()
            .all(|id| reg.message(fleet, *id).unwrap().unwrap().state != "queued")
    });
    assert!(done, "{}", show(&live.events("api")));
    // Every submitted line is one whole preview.
    let events = live.wait_log("api", "inbox", |ev| {
        ev.iter().any(|e| e["event"] == "inbox")
    });
    for submit in events.iter().filter(|e| e["event"] == "submit") {
        let line = submit["line"].as_str().unwrap();
        assert!(line.starts_with("[cafleet] message #"), "{line}");
        assert_eq!(line.matches("[cafleet]").count(), 1, "{line}");
        assert!(line.ends_with("— run: cafleet message inbox"), "{line}");
    }
}

#[test]
fn stray_composer_text_is_cleared_before_the_preview() {
    let Some(live) = Live::start() else { return };
    let pane = live.agent("api", "{}", (FLEET, "api"));
    live.server
        .tmux()
        .send_text(pane, "half a thought")
        .unwrap();
    live.server
        .wait_for_text(pane, Duration::from_secs(10), |s| {
            s.contains("> half a thought")
        })
        .unwrap();
    let out = ok(&live
        .env
        .message("send", "director", &["--to", "api", "--sync", "hi"]));
    let id = sent_id(&out);
    let events = live.wait_log("api", "inbox", |ev| {
        ev.iter().any(|e| e["event"] == "inbox")
    });
    let (_, keys) = typed(&live.input("api"));
    assert_eq!(keys, ["C-u", "Enter"], "{}", show(&events));
    let submit = events.iter().find(|e| e["event"] == "submit").unwrap();
    assert_eq!(
        submit["line"],
        format!("[cafleet] message #{id} from director: hi — run: cafleet message inbox")
    );
}

#[test]
fn a_fake_with_ack_acknowledges_what_it_read() {
    let Some(h) = common::Harness::start() else {
        return;
    };
    let file = h.write(
        "acks.toml",
        r#"version = 1
[fleet]
name = "acks"
[defaults]
backend = "fake"
[director]
fake = { ack = true }
[[member]]
name = "w"
fake = { opener = { to = "director", text = "done" } }
"#,
    );
    h.ok(&["up", &file, "--wait", "--timeout", "20s"]);
    let acked = || -> bool {
        h.registry()
            .query_row(
                "SELECT count(*) FROM messages WHERE recipient = 'director' AND state = 'acked'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
            == 1
    };
    assert!(
        wait_until(Duration::from_secs(15), acked),
        "the Director's message was not acked"
    );
    h.ok(&["down", &file]);
}

// -------------------------------------------------------------------------------------
// The operator can be answered

#[test]
fn a_reply_to_the_operator_is_stored_unannounced_and_read_from_outside_a_pane() {
    let env = Env::new(&["director", "api"]);
    let out = ok(&env.message("send", "api", &["--to", "operator", "the answer is 42"]));
    assert_eq!(
        out,
        format!("message #{} to operator: notified\n", sent_id(&out))
    );
    let id = sent_id(&out);
    // Stored, unread, and typed into no pane: no delivery was ever attempted.
    let reg = env.registry();
    let row = reg.message(env.fleet_id(), id).unwrap().unwrap();
    assert_eq!(
        (row.sender.as_str(), row.recipient.as_str()),
        ("api", "operator")
    );
    assert_eq!(reg.unread_count(env.fleet_id(), "operator").unwrap(), 1);
    let deliveries = reg
        .events(Some(env.fleet_id()), None, 0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "delivery")
        .count();
    assert_eq!(deliveries, 0);

    let inbox = ok(&env.message("inbox", "operator", &[]));
    assert!(
        inbox.starts_with(&format!("#{id} from api at ")) && inbox.contains("the answer is 42"),
        "{inbox}"
    );
    assert_eq!(
        ok(&env.message("inbox", "operator", &[])),
        "no unread messages\n"
    );
    ok(&env.message("ack", "operator", &[&id.to_string()]));
    assert_eq!(env.state(id).0, "acked");
    // The thread with the operator, from the member's side.
    let thread = ok(&env.message("list", "api", &["--with", "operator"]));
    assert!(thread.contains("api → operator"), "{thread}");
    // Inside an agent's pane nobody may read the operator's inbox.
    let out = env
        .cmd()
        .env("CAFLEET_FLEET", FLEET)
        .env("CAFLEET_MEMBER", "api")
        .args(["message", "inbox", "--as", "operator"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn inbox_unacked_lists_read_messages_until_they_are_acked() {
    let env = Env::new(&["director", "api"]);
    let first = sent_id(&ok(&env.message(
        "send",
        "director",
        &["--to", "api", "one"],
    )));
    ok(&env.message("inbox", "api", &[]));
    assert_eq!(
        ok(&env.message("inbox", "api", &[])),
        "no unread messages\n"
    );
    let second = sent_id(&ok(&env.message(
        "send",
        "director",
        &["--to", "api", "two"],
    )));
    let listed = json(&ok(&env.message("inbox", "api", &["--unacked", "--json"])));
    let ids: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [first, second]);
    assert_eq!(
        env.state(second).0,
        "read",
        "--unacked reads the unread ones too"
    );
    ok(&env.message("ack", "api", &[&first.to_string(), &second.to_string()]));
    assert_eq!(
        ok(&env.message("inbox", "api", &["--unacked"])),
        "no unacknowledged messages\n"
    );
    let both = env.message("inbox", "api", &["--unacked", "--all"]);
    assert_eq!(code(&both), 2, "{}", stderr(&both));
}
