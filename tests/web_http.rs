//! The web UI over HTTP: every route of a server on `127.0.0.1:0` (run in-process), the
//! token, the `Host` check and refused cross-origin posts; and `cafleet web` as a binary
//! (refusing a non-loopback bind without a token, serving its first page).

mod common;
mod web_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use cafleet::registry::engine::Exec;
use cafleet::web::{Options, spawn_for_tests};
use camino::Utf8PathBuf;
use web_support::{get, post_json};

/// A registry with fleet `shop` (agents `api`, `web`), three messages — one of them a
/// broadcast to both, one with hostile HTML — and two events.
fn seeded(dir: &std::path::Path) -> Utf8PathBuf {
    seeded_at(Utf8PathBuf::from_path_buf(dir.join("cafleet.db")).expect("utf-8 temp dir"))
}

/// [`seeded`] at `path`: a SQLite file or a `postgres://` URL.
fn seeded_at(path: Utf8PathBuf) -> Utf8PathBuf {
    let mut registry = cafleet::registry::Registry::open(&path).expect("open registry");
    registry
        .write(|tx| {
            tx.batch(
                "INSERT INTO fleets (id, name, origin, session) VALUES (1, 'shop', 'cli', 'cafleet-shop');
                 INSERT INTO agents (fleet_id, name, role, backend, model, origin) VALUES
                   (1, 'api', 'member', 'fake', 'small', 'cli'),
                   (1, 'web', 'member', 'fake', NULL, 'cli');
                 INSERT INTO messages (fleet_id, sender, recipient, body) VALUES
                   (1, 'api', 'web', CAST('<script>alert(1)</script>' AS BLOB));
                 INSERT INTO messages (fleet_id, sender, recipient, body, kind, broadcast_id) VALUES
                   (1, 'operator', 'api', CAST('all hands' AS BLOB), 'broadcast', 2),
                   (1, 'operator', 'web', CAST('all hands' AS BLOB), 'broadcast', 2);
                 INSERT INTO fleets (id, name, origin, session) VALUES (2, 'other', 'cli', 'cafleet-other');
                 INSERT INTO events (fleet_id, agent, kind, detail) VALUES
                   (1, 'api', 'spawn', '{\"pane\":\"%1\"}'),
                   (1, 'web', 'spawn', '{\"pane\":\"%2\"}'),
                   (2, 'x', 'spawn', '{}'),
                   (2, 'y', 'spawn', '{}');",
            )?;
            Ok(())
        })
        .expect("seed");
    path
}

fn serve(db: Utf8PathBuf, token: Option<&str>) -> SocketAddr {
    spawn_for_tests(Options {
        bind: "127.0.0.1".parse().expect("ip"),
        port: 0,
        token: token.map(String::from),
        db,
        tmux_socket: None,
    })
    .unwrap_or_else(|err| panic!("cannot start the server: {}", err.render()))
}

#[test]
fn page_and_assets_are_served_with_a_strict_policy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let addr = serve(seeded(tmp.path()), None);
    let page = get("/").send(addr);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(
        page.header("content-security-policy")
            .unwrap_or("")
            .contains("script-src 'self'")
    );
    assert!(page.body.contains("<script src=\"/app.js\""));
    let script = get("/app.js").send(addr);
    assert_eq!(script.status, 200);
    assert!(script.body.contains("EventSource"));
    // The page never parses data as HTML.
    assert!(!script.body.contains("innerHTML"));
    let style = get("/app.css").send(addr);
    assert_eq!(style.status, 200);
    assert!(
        style
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/css")
    );
    let missing = get("/nope").send(addr);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "no such page");
}

#[test]
fn api_lists_fleets_agents_messages_and_events() {
    let tmp = tempfile::tempdir().expect("tmp");
    api_lists_everything(serve(seeded(tmp.path()), None));
}

/// The same API on a PostgreSQL registry (a schema of its own on `tests/postgres.sh`'s
/// server; skipped without it, failing under CI).
#[test]
fn api_lists_fleets_agents_messages_and_events_on_postgres() {
    let Some(base) = common::postgres_base() else {
        return;
    };
    let url = Utf8PathBuf::from(common::postgres_schema(&base));
    api_lists_everything(serve(seeded_at(url), None));
}

fn api_lists_everything(addr: SocketAddr) {
    let fleets = get("/api/fleets").send(addr).json();
    assert_eq!(fleets[1]["name"], "shop");
    let fleets = serde_json::json!([fleets[1].clone()]);
    assert_eq!(fleets[0]["agents"], 2);
    assert_eq!(fleets[0]["unread"], 3);

    let agents = get("/api/fleets/shop/agents").send(addr).json();
    let names: Vec<&str> = agents
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["api", "web"]);
    for field in [
        "role", "backend", "model", "state", "unread", "pane", "reason",
    ] {
        assert!(agents[0].get(field).is_some(), "agents lack `{field}`");
    }
    assert_eq!(agents[0]["model"], "small");
    assert_eq!(agents[0]["unread"], 1);
    assert_eq!(agents[1]["unread"], 2);
    // No tmux pane: the agents are dead, with the reason.
    assert_eq!(agents[0]["state"], "dead");

    let messages = get("/api/fleets/shop/messages").send(addr).json();
    assert_eq!(messages.as_array().map(Vec::len), Some(3));
    assert_eq!(messages[0]["preview"], "<script>alert(1)</script>");
    assert_eq!(messages[0]["truncated"], false);
    assert_eq!(messages[0]["size"], 25);
    assert!(
        messages[0].get("body").is_none(),
        "lists carry previews only"
    );
    let one = get("/api/fleets/shop/messages/1").send(addr);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["body"], "<script>alert(1)</script>");
    assert_eq!(get("/api/fleets/shop/messages/99").send(addr).status, 404);
    assert_eq!(get("/api/fleets/other/messages/1").send(addr).status, 404);
    let older = get("/api/fleets/shop/messages?before=3&limit=1")
        .send(addr)
        .json();
    assert_eq!(older[0]["id"], 2);
    assert_eq!(messages[1]["broadcast_id"], 2);
    assert_eq!(messages[2]["broadcast_id"], 2);
    for field in [
        "id",
        "sender",
        "recipient",
        "preview",
        "size",
        "truncated",
        "kind",
        "state",
        "created_at",
    ] {
        assert!(messages[0].get(field).is_some(), "messages lack `{field}`");
    }
    let bad = get("/api/fleets/shop/messages?limit=abc").send(addr);
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("bad query parameters"))
    );
    let thread = get("/api/fleets/shop/messages?member=api")
        .send(addr)
        .json();
    assert_eq!(thread.as_array().map(Vec::len), Some(2));
    let after = get("/api/fleets/shop/messages?after=2&limit=5")
        .send(addr)
        .json();
    assert_eq!(after.as_array().map(Vec::len), Some(1));

    let events = get("/api/fleets/shop/events").send(addr).json();
    assert_eq!(events.as_array().map(Vec::len), Some(2));
    assert_eq!(events[0]["kind"], "spawn");
    assert_eq!(events[0]["detail"]["pane"], "%1");
    let later = get("/api/fleets/shop/events?after=1").send(addr).json();
    assert_eq!(later.as_array().map(Vec::len), Some(1));
    let newest = get("/api/fleets/shop/events?limit=1").send(addr).json();
    assert_eq!(newest[0]["agent"], "web");

    let missing = get("/api/fleets/nope/agents").send(addr);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "no fleet named `nope`");
    assert_eq!(missing.json()["hints"][0], "registered fleets: other, shop");
    let no_pane = get("/api/fleets/shop/agents/api/pane").send(addr);
    assert_eq!(no_pane.status, 500);
    assert_eq!(no_pane.json()["error"], "`api` has no live pane");
    let no_agent = get("/api/fleets/shop/agents/zed/pane").send(addr);
    assert_eq!(no_agent.status, 404);
}

#[test]
fn pane_text_comes_from_the_agents_own_pane() {
    let Some(server) = cafleet::tmux::testing::TestServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let db = seeded(tmp.path());
    let spawned = server
        .tmux()
        .new_session(
            "shop",
            None,
            &cafleet::tmux::Launch::new(["sh", "-c", "echo 'hello from <api>'; sleep 600"])
                .option("@cafleet_fleet", "shop")
                .option("@cafleet_member", "api"),
        )
        .expect("spawn pane");
    let pane = spawned.pane.to_string();
    let mut registry = cafleet::registry::Registry::open(&db).expect("open");
    registry
        .write(|tx| {
            tx.execute(
                "UPDATE agents SET pane_id = ?1, status = 'idle' WHERE name = 'api'",
                &[cafleet::registry::engine::Value::from(&pane)],
            )?;
            Ok(())
        })
        .expect("record pane");
    server
        .wait_for_text(spawned.pane, Duration::from_secs(10), |t| {
            t.contains("hello from")
        })
        .expect("pane text");
    let addr = spawn_for_tests(Options {
        bind: "127.0.0.1".parse().expect("ip"),
        port: 0,
        token: None,
        db,
        tmux_socket: Some(server.socket_path().to_string_lossy().into_owned()),
    })
    .expect("serve");
    let response = get("/api/fleets/shop/agents/api/pane?lines=50").send(addr);
    assert_eq!(response.status, 200, "{}", response.body);
    let json = response.json();
    assert_eq!(json["name"], "api");
    assert_eq!(json["pane"], pane.as_str());
    assert!(
        json["text"]
            .as_str()
            .unwrap_or("")
            .contains("hello from <api>")
    );
    let agents = get("/api/fleets/shop/agents").send(addr).json();
    assert_eq!(agents[0]["state"], "idle");
    assert_eq!(agents[0]["pane"], pane.as_str());
}

#[test]
fn live_stream_pushes_new_messages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = seeded(tmp.path());
    let addr = serve(db.clone(), None);
    let mut events = get("/api/live").stream(addr);
    let first = events
        .wait_for(Duration::from_secs(10), |_| true)
        .expect("first versions event");
    assert!(first.get("messages").is_some() && first.get("events").is_some());
    let mut registry = cafleet::registry::Registry::open(&db).expect("open");
    registry
        .write(|tx| {
            tx.batch(
                "INSERT INTO messages (fleet_id, sender, recipient, body) VALUES (1, 'web', 'api', X'6869')",
            )?;
            Ok(())
        })
        .expect("insert");
    events
        .wait_for(Duration::from_secs(10), |v| v["messages"] == 4)
        .expect("a versions event with the new message");
}

#[test]
fn posts_from_other_origins_and_hosts_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let addr = serve(seeded(tmp.path()), None);
    let body = r#"{"to": "api", "body": "rm -rf"}"#;
    for path in ["/api/fleets/shop/send", "/api/fleets/shop/broadcast"] {
        let evil = post_json(path, body)
            .header("Origin", "http://evil.example")
            .send(addr);
        assert_eq!(evil.status, 403, "{path}: {}", evil.body);
        assert!(
            evil.json()["error"]
                .as_str()
                .unwrap_or("")
                .contains("cross-origin")
        );
        // Same scheme and port but another host name is another origin too.
        let other = post_json(path, body)
            .header(
                "Origin",
                format!("http://localhost.evil.example:{}", addr.port()),
            )
            .send(addr);
        assert_eq!(other.status, 403);
        let site = post_json(path, body)
            .header("Sec-Fetch-Site", "cross-site")
            .send(addr);
        assert_eq!(site.status, 403);
    }
    // DNS rebinding: the right address under another name, for reads too.
    let rebound = get("/api/fleets")
        .header("Host", format!("evil.example:{}", addr.port()))
        .send(addr);
    assert_eq!(rebound.status, 403);
    assert!(
        rebound.json()["error"]
            .as_str()
            .unwrap_or("")
            .contains("unexpected host")
    );
    let wrong_port = get("/").header("Host", "127.0.0.1:1").send(addr);
    assert_eq!(wrong_port.status, 403);
    let by_name = get("/")
        .header("Host", format!("localhost:{}", addr.port()))
        .send(addr);
    assert_eq!(by_name.status, 200);

    // A form post (no JSON) is refused even from the right origin.
    let form = web_support::Request {
        method: "POST",
        path: "/api/fleets/shop/send",
        headers: vec![
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("Origin", format!("http://{addr}")),
        ],
        body: "to=api&body=x",
    }
    .send(addr);
    assert_eq!(form.status, 400);
    let empty = post_json("/api/fleets/shop/send", r#"{"to": "api", "body": "  "}"#)
        .header("Origin", format!("http://{addr}"))
        .send(addr);
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()["error"], "the message is empty");
    let malformed = post_json("/api/fleets/shop/send", "{")
        .header("Origin", format!("http://{addr}"))
        .send(addr);
    assert_eq!(malformed.status, 400);
    let unknown = post_json("/api/fleets/nope/send", body)
        .header("Origin", format!("http://{addr}"))
        .send(addr);
    assert_eq!(unknown.status, 404);
}

#[test]
fn same_origin_posts_store_operator_messages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = seeded(tmp.path());
    let addr = serve(db.clone(), None);
    let origin = format!("http://{addr}");
    let sent = post_json(
        "/api/fleets/shop/send",
        r#"{"to": "api", "body": "ship it"}"#,
    )
    .header("Origin", origin.clone())
    .header("Sec-Fetch-Site", "same-origin")
    .send(addr);
    assert_eq!(sent.status, 201, "{}", sent.body);
    let json = sent.json();
    assert_eq!(json["ids"], serde_json::json!([4]));
    assert_eq!(json["messages"][0]["recipient"], "api");
    // No live pane: stored and left queued, with the reason.
    assert_eq!(json["messages"][0]["state"], "queued");
    assert!(
        json["messages"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no live pane")
    );

    // A client that sends no Origin (curl, scripts) is not a browser page: allowed.
    let all = post_json(
        "/api/fleets/shop/broadcast",
        r#"{"body": "all hands again"}"#,
    )
    .send(addr);
    assert_eq!(all.status, 201, "{}", all.body);
    assert_eq!(all.json()["ids"], serde_json::json!([5, 6]));

    let thread = get("/api/fleets/shop/messages?member=operator&after=3")
        .send(addr)
        .json();
    let rows: Vec<(String, String, Option<i64>)> = thread
        .as_array()
        .expect("array")
        .iter()
        .map(|m| {
            (
                m["recipient"].as_str().unwrap_or("").to_string(),
                m["preview"].as_str().unwrap_or("").to_string(),
                m["broadcast_id"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("api".to_string(), "ship it".to_string(), None),
            ("api".to_string(), "all hands again".to_string(), Some(5)),
            ("web".to_string(), "all hands again".to_string(), Some(5)),
        ]
    );
    assert!(
        thread
            .as_array()
            .expect("array")
            .iter()
            .all(|m| m["sender"] == "operator")
    );

    let nobody = post_json("/api/fleets/shop/send", r#"{"to": "zed", "body": "hi"}"#)
        .header("Origin", origin)
        .send(addr);
    assert_eq!(nobody.status, 404);
    assert_eq!(nobody.json()["error"], "no member `zed` in fleet `shop`");
}

#[test]
fn a_token_guards_every_route() {
    let tmp = tempfile::tempdir().expect("tmp");
    let token = "s3cret-token";
    let addr = serve(seeded(tmp.path()), Some(token));
    for path in [
        "/",
        "/app.js",
        "/api/fleets",
        "/api/live",
        "/api/fleets/shop/messages",
    ] {
        let response = get(path).send(addr);
        assert_eq!(response.status, 401, "{path}");
        assert_eq!(response.json()["error"], "a token is required");
    }
    let wrong = get("/api/fleets")
        .header("Authorization", "Bearer s3cret-tokeN")
        .send(addr);
    assert_eq!(wrong.status, 401);
    let bearer = get("/api/fleets")
        .header("Authorization", format!("Bearer {token}"))
        .send(addr);
    assert_eq!(bearer.status, 200);

    // First visit with ?token=: a cookie and a redirect to the same URL without it.
    let visit = get("/?token=s3cret-token").send(addr);
    assert_eq!(visit.status, 303);
    assert_eq!(visit.header("location"), Some("/"));
    let cookie = visit.header("set-cookie").expect("cookie").to_string();
    assert!(cookie.starts_with("cafleet_token=s3cret-token;"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let wrong_visit = get("/?token=guess").send(addr);
    assert_eq!(wrong_visit.status, 401);
    let with_cookie = get("/api/fleets")
        .header("Cookie", "other=1; cafleet_token=s3cret-token")
        .send(addr);
    assert_eq!(with_cookie.status, 200);
    // The token does not excuse a cross-origin post.
    let evil = post_json("/api/fleets/shop/broadcast", r#"{"body": "x"}"#)
        .header("Cookie", "cafleet_token=s3cret-token")
        .header("Origin", "http://evil.example")
        .send(addr);
    assert_eq!(evil.status, 403);
}

#[test]
fn binding_beyond_loopback_without_a_token_is_refused() {
    let home = tempfile::tempdir().expect("tmp");
    let output = common::cafleet(home.path())
        .args(["web", "--bind", "0.0.0.0", "--port", "0", "--no-token"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: refusing to serve on 0.0.0.0 without a token"),
        "{stderr}"
    );
    assert!(stderr.contains("\nhint: drop --no-token"), "{stderr}");
    let short = common::cafleet(home.path())
        .args(["web", "--bind", "0.0.0.0", "--token", "abc"])
        .output()
        .expect("run");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).starts_with("error: the token must be"));
}

/// Starts `cafleet web --port 0 EXTRA…` and returns it with the URL it printed.
fn start_binary(home: &std::path::Path, extra: &[&str]) -> (web_support::Reap, String) {
    let mut child = web_support::Reap(
        common::cafleet(home)
            .args(["--db"])
            .arg(home.join("cafleet.db"))
            .args(["web", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn"),
    );
    let mut line = String::new();
    let stdout = child.0.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read url");
    let url = line
        .trim()
        .strip_prefix("serving the web UI at http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    (child, url)
}

/// Like Jupyter: a random token by default, in the printed URL; the first visit with it
/// sets an HttpOnly, SameSite=Strict cookie; without it every route answers 401.
#[test]
fn the_binary_makes_a_random_token_by_default() {
    let home = tempfile::tempdir().expect("tmp");
    let (_child, url) = start_binary(home.path(), &[]);
    let (host, query) = url.split_once('/').expect("path");
    let token = query
        .strip_prefix("?token=")
        .unwrap_or_else(|| panic!("no token in {url}"))
        .to_string();
    assert_eq!(token.len(), 32, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    let addr: SocketAddr = host.parse().expect("address");
    for path in ["/", "/api/fleets"] {
        let bare = get(path).send(addr);
        assert_eq!(bare.status, 401, "{path}: {}", bare.body);
    }
    let visit = get(&format!("/?token={token}")).send(addr);
    assert_eq!(visit.status, 303);
    assert_eq!(visit.header("location"), Some("/"));
    let cookie = visit.header("set-cookie").expect("cookie").to_string();
    assert!(
        cookie.starts_with(&format!("cafleet_token={token};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    let page = get("/").header("Cookie", pair.clone()).send(addr);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>cafleet</title>"));
    let api = get("/api/fleets").header("Cookie", pair).send(addr);
    assert_eq!(api.status, 200, "{}", api.body);

    // Another start, another token.
    let (_second, other) = start_binary(home.path(), &[]);
    assert_ne!(other.split_once('/').expect("path").1, query);
}

#[test]
fn no_token_serves_loopback_openly() {
    let home = tempfile::tempdir().expect("tmp");
    let (_child, url) = start_binary(home.path(), &["--no-token"]);
    let (host, query) = url.split_once('/').expect("path");
    assert_eq!(query, "");
    let addr: SocketAddr = host.parse().expect("address");
    assert_eq!(get("/api/fleets").send(addr).status, 200);
}

/// `cafleet web` as a binary: prints its URL and serves the page (with a token, after
/// the cookie-setting first visit).
#[test]
fn the_binary_prints_its_url_and_serves() {
    let home = tempfile::tempdir().expect("tmp");
    let mut child = web_support::Reap(
        common::cafleet(home.path())
            .args(["--db"])
            .arg(home.path().join("cafleet.db"))
            .args([
                "web",
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--token",
                "abcdefgh12",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn"),
    );
    let mut line = String::new();
    let stdout = child.0.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read url");
    let url = line
        .trim()
        .strip_prefix("serving the web UI at http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    let (host, query) = url.split_once('/').expect("path");
    assert_eq!(query, "?token=abcdefgh12");
    let addr: SocketAddr = host.parse().expect("address");
    let page = get("/")
        .header("Authorization", "Bearer abcdefgh12")
        .send(addr);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>cafleet</title>"));
}

/// 60 messages of 1 MiB: a timeline page stays small (previews), its size bounded
/// whatever `limit` asks for, and each body is still there whole on its own route.
#[test]
fn a_timeline_of_huge_messages_is_listed_small() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = seeded(tmp.path());
    {
        let mut registry = cafleet::registry::Registry::open(&db).expect("open");
        let body = vec![b'x'; 1024 * 1024];
        for _ in 0..60 {
            registry
                .insert_message(1, "api", "web", &body, "message")
                .expect("insert");
        }
    }
    let addr = serve(db, None);
    let page = get("/api/fleets/shop/messages?limit=1000").send(addr);
    assert_eq!(page.status, 200);
    assert!(
        page.body.len() < 512 * 1024,
        "a page of 1 MiB messages is {} bytes",
        page.body.len()
    );
    let rows = page.json();
    let rows = rows.as_array().expect("array");
    assert!(rows.len() <= 200, "{} rows", rows.len());
    let last = rows.last().expect("rows");
    assert_eq!(last["size"], 1024 * 1024);
    assert_eq!(last["truncated"], true);
    let id = last["id"].as_i64().expect("id");
    let whole = get(&format!("/api/fleets/shop/messages/{id}")).send(addr);
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.json()["body"].as_str().map(str::len),
        Some(1024 * 1024)
    );
}

/// A client that sends half a request header and stalls is closed within seconds.
#[test]
fn a_half_sent_header_is_closed() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().expect("tmp");
    let addr = serve(seeded(tmp.path()), None);
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .write_all(b"GET /api/fleets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .expect("write");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    // The server ends the connection: EOF (perhaps after a 408), or a reset.
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(8),
        "a half-sent header was held open {held:?}"
    );
}

/// Sends past the documented rate (a burst of 20, then 5 a second) answer 429 with
/// `Retry-After`, and store nothing.
#[test]
fn fast_sends_get_429() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = seeded(tmp.path());
    let addr = serve(db.clone(), None);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..40 {
        let response = post_json("/api/fleets/shop/broadcast", r#"{"body": "flood"}"#).send(addr);
        if response.status == 429 {
            retry_after = response.header("retry-after").map(String::from);
            assert!(
                response.json()["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("too many messages"))
            );
        }
        statuses.push(response.status);
    }
    let accepted = statuses.iter().filter(|s| **s == 201).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(accepted + limited, 40, "{statuses:?}");
    assert!(limited >= 10, "{statuses:?}");
    assert!((20..=30).contains(&accepted), "{statuses:?}");
    assert!(retry_after.is_some());
    // Only the accepted ones were stored (a broadcast is one row per recipient).
    let registry = cafleet::registry::Registry::open(&db).expect("open");
    let stored = registry
        .timeline_page(
            1,
            &cafleet::registry::timeline::Page {
                member: Some("operator"),
                after: 3,
                before: None,
                limit: 1000,
            },
        )
        .expect("timeline");
    assert_eq!(stored.len(), accepted * 2);
}

#[test]
fn the_operator_has_an_inbox_and_the_page_can_speak_as_the_director() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = seeded(tmp.path());
    {
        let mut registry = cafleet::registry::Registry::open(&db).expect("open");
        registry
            .write(|tx| {
                tx.batch(
                    "INSERT INTO agents (fleet_id, name, role, backend, origin) VALUES
                       (1, 'boss', 'director', 'fake', 'cli');",
                )?;
                Ok(())
            })
            .expect("director");
    }
    let addr = serve(db.clone(), None);

    // An agent answers the operator from its shell.
    let reply = common::cafleet(tmp.path())
        .arg("--db")
        .arg(db.as_str())
        .args([
            "message", "send", "--fleet", "shop", "--as", "api", "--to", "operator",
        ])
        .arg("the answer")
        .output()
        .expect("run");
    assert!(reply.status.success(), "{}", common::transcript(&reply));

    let inbox = get("/api/fleets/shop/operator").send(addr).json();
    assert_eq!(inbox["unread"], 1);
    let last = &inbox["messages"][inbox["messages"].as_array().map_or(0, Vec::len) - 1];
    assert_eq!(last["sender"], "api");
    assert_eq!(last["body"], "the answer");
    let fleets = get("/api/fleets").send(addr).json();
    assert_eq!(fleets[1]["name"], "shop");
    assert_eq!(fleets[1]["operator_unread"], 1);

    let read = post_json("/api/fleets/shop/operator/read", "{}").send(addr);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["read"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        get("/api/fleets/shop/operator").send(addr).json()["unread"],
        0
    );

    // As the Director: to a member, and back to the operator.
    let sent = post_json(
        "/api/fleets/shop/send",
        r#"{"to": "api", "body": "from the top", "from": "boss"}"#,
    )
    .send(addr);
    assert_eq!(sent.status, 201, "{}", sent.body);
    let id = sent.json()["ids"][0].as_i64().expect("id");
    let thread = get(&format!("/api/fleets/shop/messages?after={}", id - 1))
        .send(addr)
        .json();
    assert_eq!(thread[0]["sender"], "boss");
    let up = post_json(
        "/api/fleets/shop/send",
        r#"{"to": "operator", "body": "status: green", "from": "boss"}"#,
    )
    .send(addr);
    assert_eq!(up.status, 201, "{}", up.body);
    assert_eq!(
        get("/api/fleets/shop/operator").send(addr).json()["unread"],
        1
    );

    // No one else can be impersonated.
    let other = post_json(
        "/api/fleets/shop/send",
        r#"{"to": "web", "body": "x", "from": "api"}"#,
    )
    .send(addr);
    assert_eq!(other.status, 400, "{}", other.body);
    assert_eq!(other.json()["error"], "the page cannot send as `api`");
    let all = post_json(
        "/api/fleets/shop/broadcast",
        r#"{"body": "all", "from": "web"}"#,
    )
    .send(addr);
    assert_eq!(all.status, 400, "{}", all.body);
}
