//! The web UI in a real headless Chromium, driven over the DevTools protocol (a
//! websocket, `Runtime.evaluate`), against a fleet of fake agents on a private tmux
//! server: the page lists the agents, a message sent with the CLI appears without a
//! reload (and its hostile HTML stays text), and a message typed into the page reaches
//! the registry and the recipient's pane; older messages load a page at a time.
//!
//! Skips when tmux or Chromium is missing, unless `CI` is set: there it fails. Set
//! `CAFLEET_CHROMIUM` to use a browser other than `chromium` on PATH.

mod common;
mod web_support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cafleet::tmux::testing::wait_until;
use common::Harness;
use serde_json::{Value, json};
use web_support::{Reap, get};

const FLEET: &str = r#"version = 1
[fleet]
name = "demo"
layout = "tiled"
[defaults]
backend = "fake"
[director]
prompt = "lead {{fleet.name}}"
[[member]]
name = "alpha"
description = "writes the code"
[[member]]
name = "beta"
description = "reviews it"
"#;

fn chromium() -> Option<String> {
    let program = std::env::var("CAFLEET_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(program);
    }
    if std::env::var_os("CI").is_some() {
        panic!("`{program}` is not installed, and CI is set: the browser test must not be skipped");
    }
    cafleet::tmux::testing::say_skipped(&format!("`{program}` is not installed"));
    None
}

/// A headless Chromium and a DevTools connection to its one page.
struct Browser {
    ws: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
    _child: Group,
    _profile: tempfile::TempDir,
}

/// Chromium's process group (it forks renderers and helpers), killed whole on drop.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

impl Browser {
    fn launch(program: &str, url: &str) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Group(
            Command::new(program)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,800",
                    "--remote-debugging-port=0",
                    "--remote-allow-origins=*",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg(url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
                .expect("start chromium"),
        );
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…" on stderr.
        let stderr = child.0.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://") {
                    let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
                }
            }
        });
        let host = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed no DevTools address within 30 s");
        let addr: SocketAddr = host.parse().expect("DevTools address");
        let mut page_ws = None;
        let found = wait_until(Duration::from_secs(15), || {
            let targets = get("/json/list").send(addr);
            page_ws = serde_json::from_str::<Value>(&targets.body)
                .ok()
                .and_then(|list| {
                    list.as_array()?
                        .iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(String::from))
                });
            page_ws.is_some()
        });
        assert!(found, "chromium lists no page target");
        let page_ws = page_ws.unwrap_or_default();
        let stream = TcpStream::connect(addr).expect("connect to DevTools");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let (ws, _) = tungstenite::client(page_ws.as_str(), stream).expect("DevTools handshake");
        Browser {
            ws,
            next_id: 0,
            _child: child,
            _profile: profile,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(tungstenite::Message::text(request.to_string()))
            .expect("send to DevTools");
        loop {
            let message = self.ws.read().expect("read from DevTools");
            let Ok(text) = message.to_text() else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if value["id"] == id {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
        }
    }

    /// Evaluates `expr` in the page and returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("`{expr}` threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluates `expr` until it is `true`; on timeout, fails with `describe` evaluated.
    fn wait_for(&mut self, expr: &str, timeout: Duration, describe: &str) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.eval(expr) == Value::Bool(true) {
                return;
            }
            if Instant::now() >= deadline {
                let state = self.eval(describe);
                panic!("timed out after {timeout:?} waiting for `{expr}`; page: {state}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `cafleet web` on a free port; the URL it prints carries the session token.
fn serve(h: &Harness) -> (Reap, String) {
    let mut web = Reap(
        h.cmd()
            .args(["web", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cafleet web"),
    );
    let mut line = String::new();
    BufReader::new(web.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the URL");
    let url = line
        .trim()
        .strip_prefix("serving the web UI at ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (web, url)
}

const DESCRIBE: &str = "JSON.stringify({hash: location.hash, error: document.getElementById('error').textContent, \
     agents: document.querySelector('#agents tbody').innerText, \
     timeline: document.getElementById('timeline').innerText, \
     status: document.getElementById('send-status').textContent})";

#[test]
fn page_lists_agents_shows_cli_messages_live_and_sends_to_panes() {
    let Some(h) = Harness::start() else { return };
    let Some(program) = chromium() else { return };
    let file = h.write("fleet.toml", FLEET);
    h.ok(&["up", &file, "--wait", "--timeout", "30s"]);

    let (web, url) = serve(&h);

    let mut browser = Browser::launch(&program, &format!("{url}#/fleet/demo"));

    // The agents, with their state and a link to their pane text.
    browser.wait_for(
        "[...document.querySelectorAll('#agents tbody tr')].map(r => r.dataset.agent).join() === 'director,alpha,beta'",
        Duration::from_secs(20),
        DESCRIBE,
    );
    browser.wait_for(
        "document.querySelector('#agents tr[data-agent=beta] a') !== null",
        Duration::from_secs(10),
        DESCRIBE,
    );
    browser.wait_for(
        "document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
        DESCRIBE,
    );

    // A message sent with the CLI appears without a reload; its HTML stays text.
    let hostile = "<img src=x onerror=\"document.title='pwned'\"> hello-live";
    h.ok(&["message", "send", "--as", "alpha", "--to", "beta", hostile]);
    browser.wait_for(
        "[...document.querySelectorAll('#timeline .body')].some(b => b.textContent.includes('hello-live'))",
        Duration::from_secs(10),
        DESCRIBE,
    );
    assert_eq!(
        browser.eval(
            "document.querySelector('#timeline img') === null && document.title === 'cafleet'"
        ),
        Value::Bool(true),
        "a message body was parsed as HTML"
    );
    assert_eq!(
        browser.eval("[...document.querySelectorAll('#timeline .body')].some(b => b.textContent === '<img src=x onerror=\"document.title=\\'pwned\\'\"> hello-live')"),
        Value::Bool(true)
    );

    // beta's fake agent reads it after the preview; the page shows the new state live.
    // (Waiting for this also keeps the next preview from racing this inbox run.)
    browser.wait_for(
        "[...document.querySelectorAll('#timeline li')].some(li => li.textContent.includes('hello-live') && li.querySelector('.state-read'))",
        Duration::from_secs(20),
        DESCRIBE,
    );

    // A message typed into the page is stored as `operator` and reaches beta's pane.
    browser.wait_for(
        "[...document.getElementById('send-to').options].some(o => o.value === 'beta')",
        Duration::from_secs(10),
        DESCRIBE,
    );
    browser.eval(
        "document.getElementById('send-to').value = 'beta'; \
         document.getElementById('send-body').value = 'typed-in-the-page'; \
         document.getElementById('send').requestSubmit(); true",
    );
    browser.wait_for(
        "document.getElementById('send-status').textContent.startsWith('sent #')",
        Duration::from_secs(10),
        DESCRIBE,
    );
    let conn = h.registry();
    let mut stored: Option<(i64, String)> = None;
    let found = wait_until(Duration::from_secs(10), || {
        stored = conn
            .query_row(
                "SELECT id, recipient FROM messages WHERE sender = 'operator' AND body = CAST('typed-in-the-page' AS BLOB)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        stored.is_some()
    });
    assert!(found, "the page's message is not in the registry");
    let (id, recipient) = stored.unwrap_or_default();
    assert_eq!(recipient, "beta");
    let pane: String = conn
        .query_row("SELECT pane_id FROM agents WHERE name = 'beta'", [], |r| {
            r.get(0)
        })
        .expect("beta's pane");
    let pane: cafleet::tmux::PaneId = pane.parse().expect("pane id");
    h.server
        .wait_for_text(pane, Duration::from_secs(20), |text| {
            text.contains(&format!("message #{id} from operator"))
        })
        .unwrap_or_else(|err| panic!("{err}"));
    browser.wait_for(
        "[...document.querySelectorAll('#timeline .body')].some(b => b.textContent === 'typed-in-the-page')",
        Duration::from_secs(10),
        DESCRIBE,
    );

    // A broadcast from the page is one timeline entry listing every recipient.
    browser.eval(
        "document.getElementById('send-to').value = '*'; \
         document.getElementById('send-body').value = 'all-hands'; \
         document.getElementById('send').requestSubmit(); true",
    );
    browser.wait_for(
        "[...document.querySelectorAll('#timeline li.broadcast')].some(li => li.textContent.includes('all-hands') && li.querySelectorAll('.recipient').length === 3)",
        Duration::from_secs(10),
        DESCRIBE,
    );

    // The pane link shows the agent's screen.
    browser.eval("document.querySelector('#agents tr[data-agent=beta] a').click(); true");
    browser.wait_for(
        "location.hash === '#/fleet/demo/pane/beta' && document.getElementById('pane-text').textContent.includes('cafleet fake agent')",
        Duration::from_secs(10),
        "JSON.stringify({hash: location.hash, text: document.getElementById('pane-text').textContent, status: document.getElementById('pane-status').textContent})",
    );
    drop(web);
}

#[test]
fn older_messages_load_page_by_page_and_stay_through_live_updates() {
    let Some(h) = Harness::start() else { return };
    let Some(program) = chromium() else { return };
    let file = h.write("fleet.toml", FLEET);
    h.ok(&["up", &file, "--wait", "--timeout", "30s"]);
    // Replies to the operator: stored and listed, never typed into a pane.
    for n in 1..=130 {
        h.ok(&[
            "message",
            "send",
            "--as",
            "alpha",
            "--to",
            "operator",
            &format!("reply-{n}"),
        ]);
    }
    let (web, url) = serve(&h);
    let mut browser = Browser::launch(&program, &format!("{url}#/fleet/demo"));
    let describe = "JSON.stringify({error: document.getElementById('error').textContent, \
         shown: document.querySelectorAll('#timeline li').length, \
         older: !document.getElementById('older').hidden})";

    // The newest page only, newest first, with a way to older ones.
    browser.wait_for(
        "document.querySelectorAll('#timeline li').length === 100 && !document.getElementById('older').hidden",
        Duration::from_secs(20),
        describe,
    );
    assert_eq!(
        browser.eval("document.querySelector('#timeline li .body').textContent"),
        Value::from("reply-130")
    );
    assert_eq!(
        browser.eval("document.querySelector('#timeline li:last-child .body').textContent"),
        Value::from("reply-31")
    );

    // One press brings the rest; nothing older is left, so the button goes.
    browser.eval("document.getElementById('older').click(); true");
    browser.wait_for(
        "document.querySelectorAll('#timeline li').length === 130 && document.getElementById('older').hidden",
        Duration::from_secs(10),
        describe,
    );
    assert_eq!(
        browser.eval("document.querySelector('#timeline li:last-child .body').textContent"),
        Value::from("reply-1")
    );

    // A live update keeps the older page on screen.
    browser.wait_for(
        "document.getElementById('live').textContent === 'live'",
        Duration::from_secs(10),
        describe,
    );
    h.ok(&[
        "message",
        "send",
        "--as",
        "beta",
        "--to",
        "operator",
        "reply-131",
    ]);
    browser.wait_for(
        "document.querySelectorAll('#timeline li').length === 131 && document.querySelector('#timeline li .body').textContent === 'reply-131'",
        Duration::from_secs(10),
        describe,
    );
    assert_eq!(
        browser.eval("document.querySelector('#timeline li:last-child .body').textContent"),
        Value::from("reply-1")
    );
    drop(web);
}
