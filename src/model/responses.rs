//! The OpenAI Responses API as codex calls it (`wire_api = "responses"`):
//! `POST /v1/responses`, streaming. Tool results come back as `function_call_output`
//! input items; the answer is a `function_call` (or a `message` with `output_text`)
//! between `response.created` and `response.completed`.

use axum::response::sse::Event;
use serde_json::{Value, json};

use super::conversation::{Answer, Conversation, ShellTool, content_text, result_text, user_text};
use super::new_id;

/// Reads a Responses request.
pub fn read(body: &Value) -> Conversation {
    let tools = body.get("tools").and_then(Value::as_array);
    let shell = tools.and_then(|tools| {
        ShellTool::pick(
            tools
                .iter()
                .filter_map(|t| Some((t.get("name")?.as_str()?, t.get("parameters")))),
        )
    });
    let input = body.get("input");
    let items: &[Value] = input.and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let is_user = |item: &Value| {
        item.get("role").and_then(Value::as_str) == Some("user")
            && matches!(
                item.get("type").and_then(Value::as_str),
                Some("message") | None
            )
    };
    let last = match input {
        Some(Value::String(text)) => super::conversation::real_text(text).map(|t| (0, t)),
        _ => items.iter().enumerate().rev().find_map(|(i, item)| {
            is_user(item)
                .then(|| user_text(item.get("content")?))
                .flatten()
                .map(|text| (i, text))
        }),
    };
    let calls = match (&last, &shell) {
        (Some((i, _)), Some(shell)) if !items.is_empty() => items[i + 1..]
            .iter()
            .filter(|item| {
                matches!(
                    item.get("type").and_then(Value::as_str),
                    Some("function_call" | "local_shell_call")
                ) && item
                    .get("name")
                    .and_then(Value::as_str)
                    .is_none_or(|name| name == shell.name)
            })
            .count(),
        _ => 0,
    };
    let last_result = items
        .iter()
        .rfind(|item| {
            matches!(
                item.get("type").and_then(Value::as_str),
                Some("function_call_output" | "custom_tool_call_output")
            )
        })
        .and_then(|item| result_text(item.get("output")));
    let json = match body.pointer("/text/format/type").and_then(Value::as_str) {
        Some("json_schema") => body.pointer("/text/format/schema").cloned(),
        Some("json_object") => Some(Value::Null),
        _ => None,
    };
    let mut system = body
        .get("instructions")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for item in items {
        if matches!(
            item.get("role").and_then(Value::as_str),
            Some("system" | "developer")
        ) {
            system.push('\n');
            system.push_str(
                &item
                    .get("content")
                    .and_then(content_text)
                    .unwrap_or_default(),
            );
        }
    }
    Conversation {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        user_text: last.map(|(_, text)| text),
        calls,
        last_result,
        shell,
        json,
        system,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
    }
}

fn event(name: &str, mut data: Value, sequence: &mut u64) -> Event {
    data["type"] = json!(name);
    data["sequence_number"] = json!(*sequence);
    *sequence += 1;
    Event::default().event(name).data(data.to_string())
}

/// The output item of the answer: in progress (empty) or done.
fn item(answer: &Answer, id: &str, call_id: &str, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    match answer {
        Answer::Call {
            tool, arguments, ..
        } => json!({
            "type": "function_call", "id": id, "call_id": call_id, "name": tool,
            "arguments": if done { arguments.to_string() } else { String::new() },
            "status": status,
        }),
        Answer::Text(text) => json!({
            "type": "message", "id": id, "role": "assistant", "status": status,
            "content": if done {
                json!([{"type": "output_text", "text": text, "annotations": []}])
            } else {
                json!([])
            },
        }),
    }
}

fn response(id: &str, model: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({
        "id": id, "object": "response", "created_at": super::now_secs(), "status": status,
        "model": model, "output": output, "usage": usage,
    })
}

fn usage(answer: &Answer, input_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": answer.tokens(), "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + answer.tokens(),
    })
}

/// The streamed answer.
pub fn events(answer: &Answer, model: &str, input_tokens: u64) -> Vec<Event> {
    let mut seq = 0;
    let response_id = new_id("resp");
    let (item_id, call_id) = match answer {
        Answer::Call { .. } => (new_id("fc"), new_id("call")),
        Answer::Text(_) => (new_id("msg"), String::new()),
    };
    let mut events = vec![event(
        "response.created",
        json!({"response": response(&response_id, model, "in_progress", json!([]), Value::Null)}),
        &mut seq,
    )];
    events.push(event(
        "response.output_item.added",
        json!({"output_index": 0, "item": item(answer, &item_id, &call_id, false)}),
        &mut seq,
    ));
    match answer {
        Answer::Call { arguments, .. } => {
            let arguments = arguments.to_string();
            events.push(event(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": 0, "delta": arguments}),
                &mut seq,
            ));
            events.push(event(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": 0, "arguments": arguments}),
                &mut seq,
            ));
        }
        Answer::Text(text) => {
            let at = json!({"item_id": item_id, "output_index": 0, "content_index": 0});
            let with = |extra: Value| {
                let mut v = at.clone();
                if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                    v.extend(extra.clone());
                }
                v
            };
            events.push(event(
                "response.content_part.added",
                with(json!({"part": {"type": "output_text", "text": "", "annotations": []}})),
                &mut seq,
            ));
            events.push(event(
                "response.output_text.delta",
                with(json!({"delta": text})),
                &mut seq,
            ));
            events.push(event(
                "response.output_text.done",
                with(json!({"text": text})),
                &mut seq,
            ));
            events.push(event(
                "response.content_part.done",
                with(json!({"part": {"type": "output_text", "text": text, "annotations": []}})),
                &mut seq,
            ));
        }
    }
    let done = item(answer, &item_id, &call_id, true);
    events.push(event(
        "response.output_item.done",
        json!({"output_index": 0, "item": done}),
        &mut seq,
    ));
    events.push(event(
        "response.completed",
        json!({"response": response(&response_id, model, "completed", json!([done]), usage(answer, input_tokens))}),
        &mut seq,
    ));
    events
}

/// The answer as one response object, for a request without `stream: true`.
pub fn body(answer: &Answer, model: &str, input_tokens: u64) -> Value {
    let output = item(answer, &new_id("item"), &new_id("call"), true);
    response(
        &new_id("resp"),
        model,
        "completed",
        json!([output]),
        usage(answer, input_tokens),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_function_calls_after_the_last_real_user_message() {
        let body = json!({
            "model": "m", "stream": true, "instructions": "be brief",
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"properties": {"cmd": {}}}}, {"type": "web_search"}],
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n</environment_context>"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "run it"}]},
                {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "a"},
                {"type": "function_call_output", "call_id": "a", "output": "ok"},
            ]
        });
        let c = read(&body);
        assert_eq!(c.user_text.as_deref(), Some("run it"));
        assert_eq!(c.calls, 1);
        assert_eq!(c.shell.map(|s| s.name), Some("exec_command".to_string()));
        assert!(c.system.contains("be brief") && c.system.contains("dev"));
    }
}
