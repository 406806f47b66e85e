//! `cafleet model serve` over real HTTP: the binary is started as a child, each API is
//! called the way its CLI calls it, and the server-sent events are parsed and checked —
//! event order, the tool call's arguments, and a multi-step turn carried by the history.

mod model_support;

use std::time::{Duration, Instant};

use model_support::Server;
use serde_json::{Value, json};

const SCRIPT: &str = r#"
version = 1

[[turn]]
match = 'make (?P<name>\w+)'
run = ["echo one > $name", "echo two >> $name"]
reply = "made $name"

[[turn]]
contains = "slow"
delay = "400ms"
reply = "finally"

[default]
reply = "no idea"
"#;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// POSTs JSON and returns the status and the body text.
fn post(server: &Server, path: &str, body: &Value) -> (u16, String) {
    let mut response = agent()
        .post(format!("{}{path}", server.base))
        .header("content-type", "application/json")
        .send(body.to_string())
        .expect("request");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (status, text)
}

/// Server-sent events as (event name, data).
fn sse(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    name = Some(rest.trim().to_string());
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data.push(rest.strip_prefix(' ').unwrap_or(rest));
                }
            }
            (name, data.join("\n"))
        })
        .collect()
}

fn json_events(text: &str) -> Vec<(String, Value)> {
    sse(text)
        .into_iter()
        .map(|(name, data)| {
            let value: Value = serde_json::from_str(&data)
                .unwrap_or_else(|err| panic!("event data is not JSON ({err}): {data}"));
            (name.expect("every event is named"), value)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

// ---------- Anthropic Messages (claude) ----------

fn claude_request(messages: Value) -> Value {
    json!({
        "model": "claude-test", "stream": true, "max_tokens": 100,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "tools": [
            {"name": "Read", "input_schema": {"type": "object"}},
            {"name": "Bash", "input_schema": {"type": "object", "properties": {
                "command": {"type": "string"}, "description": {"type": "string"}}}}
        ],
        "messages": messages,
    })
}

fn claude_tool_command(events: &[(String, Value)]) -> String {
    let start = &events[1].1["content_block"];
    assert_eq!(start["type"], "tool_use");
    assert_eq!(start["name"], "Bash");
    assert_eq!(start["input"], json!({}));
    let delta = &events[2].1["delta"];
    assert_eq!(delta["type"], "input_json_delta");
    let input: Value =
        serde_json::from_str(delta["partial_json"].as_str().expect("partial_json")).expect("JSON");
    assert!(input["description"].is_string(), "{input}");
    assert_eq!(events[4].1["delta"]["stop_reason"], "tool_use");
    input["command"].as_str().expect("command").to_string()
}

#[test]
fn anthropic_streams_each_command_then_the_reply() {
    let server = Server::start(SCRIPT);
    let user = json!({"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\nctx\n</system-reminder>\n"},
        {"type": "text", "text": "please make notes"}]});
    let system = json!({"role": "system", "content": "late system text"});
    let (status, text) = post(
        &server,
        "/v1/messages?beta=true",
        &claude_request(json!([user, system])),
    );
    assert_eq!(status, 200, "{text}");
    let events = json_events(&text);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0].1["message"]["model"], "claude-test");
    assert!(events[4].1["usage"]["output_tokens"].as_u64().is_some());
    assert_eq!(claude_tool_command(&events), "echo one > notes");

    // The first call and its result in the history: the second command.
    let call = |id: &str| {
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Bash",
            "input": {"command": "x", "description": "y"}}]})
    };
    let result = |id: &str| {
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": "ok"},
            {"type": "text", "text": "<system-reminder>r</system-reminder>"}]})
    };
    let (_, text) = post(
        &server,
        "/v1/messages?beta=true",
        &claude_request(json!([user, system, call("a"), result("a")])),
    );
    assert_eq!(
        claude_tool_command(&json_events(&text)),
        "echo two >> notes"
    );

    // Both done: the final text.
    let (_, text) = post(
        &server,
        "/v1/messages?beta=true",
        &claude_request(json!([
            user,
            system,
            call("a"),
            result("a"),
            call("b"),
            result("b")
        ])),
    );
    let events = json_events(&text);
    assert_eq!(events[1].1["content_block"]["type"], "text");
    assert_eq!(events[2].1["delta"]["type"], "text_delta");
    assert_eq!(events[2].1["delta"]["text"], "made notes");
    assert_eq!(events[4].1["delta"]["stop_reason"], "end_turn");

    let log = server.log_lines();
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0]["api"], "anthropic");
    assert_eq!(log[0]["turn"], 0);
    assert_eq!(log[0]["answer"]["command"], "echo one > notes");
    assert_eq!(log[2]["answer"]["text"], "made notes");
    assert!(log[0]["time_ms"].as_u64().is_some());
}

#[test]
fn anthropic_answers_count_tokens_and_plain_requests() {
    let server = Server::start(SCRIPT);
    let (status, text) = post(
        &server,
        "/v1/messages/count_tokens",
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(status, 200);
    let value: Value = serde_json::from_str(&text).expect("JSON");
    assert!(value["input_tokens"].as_u64().unwrap_or(0) > 0, "{value}");

    // Not streaming, no tools: one JSON message with a short text.
    let (status, text) = post(
        &server,
        "/v1/messages",
        &json!({"model": "m", "max_tokens": 10,
            "messages": [{"role": "user", "content": "please make notes"}]}),
    );
    assert_eq!(status, 200);
    let value: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(value["type"], "message");
    assert_eq!(value["content"][0]["type"], "text");
    assert_eq!(value["stop_reason"], "end_turn");

    // A title request that asks for JSON gets JSON of that shape.
    let (_, text) = post(
        &server,
        "/v1/messages",
        &json!({"model": "m", "max_tokens": 10,
            "output_format": {"type": "json_schema", "schema": {"type": "object",
                "properties": {"title": {"type": "string"}}, "required": ["title"]}},
            "messages": [{"role": "user", "content": "title this"}]}),
    );
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let answer: Value =
        serde_json::from_str(value["content"][0]["text"].as_str().expect("text")).expect("JSON");
    assert_eq!(answer, json!({"title": "cafleet"}));

    // Bad JSON is a 400 in the API's error shape, not a crash.
    let mut response = agent()
        .post(format!("{}/v1/messages", server.base))
        .send("{not json")
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let text = response.body_mut().read_to_string().expect("body");
    assert!(text.contains("invalid_request_error"), "{text}");
}

// ---------- OpenAI Responses (codex) ----------

fn codex_request(input: Value) -> Value {
    json!({
        "model": "some-unknown-model", "stream": true, "instructions": "You are Codex.",
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object",
                "properties": {"cmd": {"type": "string"}, "login": {"type": "boolean"}}}},
            {"type": "web_search"}
        ],
        "input": input,
    })
}

#[test]
fn responses_streams_a_function_call_then_a_message() {
    let server = Server::start(SCRIPT);
    let context = json!({"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "<environment_context>\n  <cwd>/tmp</cwd>\n</environment_context>"}]});
    let user = json!({"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "make log"}]});
    let (status, text) = post(
        &server,
        "/v1/responses",
        &codex_request(json!([context, user])),
    );
    assert_eq!(status, 200, "{text}");
    let events = json_events(&text);
    let names = names(&events);
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.get(1), Some(&"response.output_item.added"));
    assert_eq!(names.last(), Some(&"response.completed"));
    let done = events
        .iter()
        .find(|(n, _)| n == "response.output_item.done")
        .expect("output_item.done");
    let item = &done.1["item"];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["name"], "exec_command");
    let arguments: Value =
        serde_json::from_str(item["arguments"].as_str().expect("arguments")).expect("JSON");
    assert_eq!(arguments, json!({"cmd": "echo one > log"}));
    let completed = &events.last().expect("events").1;
    assert!(
        completed["response"]["usage"]["total_tokens"]
            .as_u64()
            .is_some()
    );
    // Sequence numbers count up from 0.
    for (i, (_, value)) in events.iter().enumerate() {
        assert_eq!(value["sequence_number"], i);
    }

    let call = |id: &str| {
        json!([{"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": id},
               {"type": "function_call_output", "call_id": id, "output": "ok"}])
    };
    let mut input = vec![context, user];
    input.extend(call("a").as_array().cloned().unwrap_or_default());
    input.extend(call("b").as_array().cloned().unwrap_or_default());
    let (_, text) = post(
        &server,
        "/v1/responses",
        &codex_request(Value::Array(input)),
    );
    let events = json_events(&text);
    let done = events
        .iter()
        .find(|(n, _)| n == "response.output_item.done")
        .expect("output_item.done");
    assert_eq!(done.1["item"]["type"], "message");
    assert_eq!(done.1["item"]["content"][0]["type"], "output_text");
    assert_eq!(done.1["item"]["content"][0]["text"], "made log");
    assert!(
        events
            .iter()
            .any(|(n, v)| n == "response.output_text.delta" && v["delta"] == "made log")
    );
}

// ---------- chat completions (opencode) ----------

fn opencode_request(messages: Value) -> Value {
    json!({
        "model": "scripted", "stream": true, "stream_options": {"include_usage": true},
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object",
            "properties": {"command": {"type": "string"}, "description": {"type": "string"}}}}}],
        "messages": messages,
    })
}

fn chat_chunks(text: &str) -> Vec<Value> {
    let events = sse(text);
    assert_eq!(
        events.last().map(|(_, d)| d.as_str()),
        Some("[DONE]"),
        "{text}"
    );
    events[..events.len() - 1]
        .iter()
        .map(|(name, data)| {
            assert_eq!(*name, None, "chat chunks are unnamed");
            serde_json::from_str(data).expect("chunk is JSON")
        })
        .collect()
}

#[test]
fn chat_streams_tool_calls_usage_and_done() {
    let server = Server::start(SCRIPT);
    let user = json!({"role": "user", "content": "make todo"});
    let (status, text) = post(
        &server,
        "/v1/chat/completions",
        &opencode_request(json!([{"role": "system", "content": "You are opencode."}, user])),
    );
    assert_eq!(status, 200, "{text}");
    let chunks = chat_chunks(&text);
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert_eq!(calls[0]["function"]["name"], "bash");
    assert!(calls[0]["id"].is_string());
    let arguments: String = calls
        .iter()
        .filter_map(|c| c.pointer("/function/arguments").and_then(Value::as_str))
        .collect();
    let arguments: Value = serde_json::from_str(&arguments).expect("JSON");
    assert_eq!(arguments["command"], "echo one > todo");
    assert!(arguments["description"].is_string());
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
    let usage = chunks.last().expect("chunks");
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["total_tokens"].as_u64().is_some());

    let call = |id: &str| {
        [
            json!({"role": "assistant", "content": "", "tool_calls": [{"id": id, "type": "function",
                "function": {"name": "bash", "arguments": "{}"}}]}),
            json!({"role": "tool", "tool_call_id": id, "content": "ok"}),
        ]
    };
    let mut messages = vec![user.clone()];
    messages.extend(call("1"));
    let (_, text) = post(
        &server,
        "/v1/chat/completions",
        &opencode_request(json!(messages)),
    );
    let chunks = chat_chunks(&text);
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0/function/arguments"))
        .filter_map(Value::as_str)
        .collect();
    assert!(arguments.contains("echo two >> todo"), "{arguments}");

    messages.extend(call("2"));
    let (_, text) = post(
        &server,
        "/v1/chat/completions",
        &opencode_request(json!(messages)),
    );
    let chunks = chat_chunks(&text);
    let content: String = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content"))
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(content, "made todo");
    assert!(
        chunks
            .iter()
            .any(|c| c.pointer("/choices/0/finish_reason") == Some(&json!("stop")))
    );
}

#[test]
fn title_requests_without_a_shell_tool_get_a_fitting_short_answer() {
    let server = Server::start(SCRIPT);
    let (_, text) = post(
        &server,
        "/v1/chat/completions",
        &json!({"model": "scripted", "stream": true,
            "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": {
                "type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}}},
            "messages": [{"role": "system", "content": "You are a title generator."},
                         {"role": "user", "content": "make todo"}]}),
    );
    let content: String = chat_chunks(&text)
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content"))
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&content).expect("JSON title"),
        json!({"title": "cafleet"})
    );
    let log = server.log_lines();
    assert_eq!(log[0]["turn"], Value::Null);
}

#[test]
fn a_delay_holds_the_stream_open() {
    let server = Server::start(SCRIPT);
    let started = Instant::now();
    let (_, text) = post(
        &server,
        "/v1/messages",
        &claude_request(json!([{"role": "user", "content": "be slow"}])),
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answered in {:?}",
        started.elapsed()
    );
    let events = json_events(&text);
    assert_eq!(events[2].1["delta"]["text"], "finally");
    // No turn matches: the default.
    let (_, text) = post(
        &server,
        "/v1/messages",
        &claude_request(json!([{"role": "user", "content": "what?"}])),
    );
    assert_eq!(json_events(&text)[2].1["delta"]["text"], "no idea");
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = Server::start(SCRIPT);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_script_is_an_error_with_a_caret_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "version = 1\n[[turn]]\nmatch = '(unclosed'\n").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cafleet"))
        .args(["model", "serve", "--script"])
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:3:9"), "{stderr}");
    assert!(stderr.contains("^^^^"), "{stderr}");
    assert!(stderr.contains("error: the script"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cafleet"))
        .args(["model", "serve", "--listen", "0.0.0.0:0", "--script"])
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-remote"), "{stderr}");
}
