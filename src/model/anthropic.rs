//! The Anthropic Messages API as claude calls it: `POST /v1/messages?beta=true`, always
//! streaming. Reads the request into a [`Conversation`] and writes an [`Answer`] as the
//! `message_start` … `message_stop` event sequence (or one JSON message when the request
//! did not ask to stream).

use axum::response::sse::Event;
use serde_json::{Value, json};

use super::conversation::{Answer, Conversation, ShellTool, content_text, result_text, user_text};
use super::new_id;

/// Reads a Messages request.
pub fn read(body: &Value) -> Conversation {
    let tools = body.get("tools").and_then(Value::as_array);
    let shell = tools.and_then(|tools| {
        ShellTool::pick(
            tools
                .iter()
                .filter_map(|t| Some((t.get("name")?.as_str()?, t.get("input_schema")))),
        )
    });
    let messages: &[Value] = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    // The last user message with real text; claude sends tool results and reminders as
    // user messages too, and appends `role: "system"` messages after the user turn.
    let last = messages.iter().enumerate().rev().find_map(|(i, m)| {
        (m.get("role").and_then(Value::as_str) == Some("user"))
            .then(|| user_text(m.get("content")?))
            .flatten()
            .map(|text| (i, text))
    });
    let calls = match (&last, &shell) {
        (Some((i, _)), Some(shell)) => messages[i + 1..]
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
            .filter_map(|m| m.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|b| {
                b.get("type").and_then(Value::as_str) == Some("tool_use")
                    && b.get("name").and_then(Value::as_str) == Some(shell.name.as_str())
            })
            .count(),
        _ => 0,
    };
    let last_result = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .rfind(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .and_then(|b| result_text(b.get("content")));
    let json = body
        .pointer("/output_format/schema")
        .or_else(|| body.pointer("/output_config/format/schema"))
        .cloned();
    let mut system = body
        .get("system")
        .and_then(content_text)
        .unwrap_or_default();
    for m in messages {
        if m.get("role").and_then(Value::as_str) == Some("system") {
            system.push('\n');
            system.push_str(&m.get("content").and_then(content_text).unwrap_or_default());
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

fn event(name: &str, data: Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

fn stop_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Call { .. } => "tool_use",
        Answer::Text(_) => "end_turn",
    }
}

/// The streamed answer.
pub fn events(answer: &Answer, model: &str, input_tokens: u64) -> Vec<Event> {
    let (start, delta) = match answer {
        Answer::Call {
            tool, arguments, ..
        } => (
            json!({"type": "tool_use", "id": new_id("toolu"), "name": tool, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": arguments.to_string()}),
        ),
        Answer::Text(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
        ),
    };
    vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": new_id("msg"), "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            }}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
                "usage": {"input_tokens": input_tokens, "output_tokens": answer.tokens()}}),
        ),
        event("message_stop", json!({"type": "message_stop"})),
    ]
}

/// The answer as one JSON message, for a request without `stream: true`.
pub fn body(answer: &Answer, model: &str, input_tokens: u64) -> Value {
    let block = match answer {
        Answer::Call {
            tool, arguments, ..
        } => json!({"type": "tool_use", "id": new_id("toolu"), "name": tool, "input": arguments}),
        Answer::Text(text) => json!({"type": "text", "text": text}),
    };
    json!({
        "id": new_id("msg"), "type": "message", "role": "assistant", "model": model,
        "content": [block], "stop_reason": stop_reason(answer), "stop_sequence": null,
        "usage": {"input_tokens": input_tokens, "output_tokens": answer.tokens()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_shell_calls_after_the_last_real_user_message() {
        let body = json!({
            "model": "m", "stream": true,
            "tools": [{"name": "Bash", "input_schema": {"properties": {"command": {}, "description": {}}}}],
            "messages": [
                {"role": "user", "content": "old prompt"},
                {"role": "assistant", "content": [{"type": "tool_use", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>r</system-reminder>"},
                    {"type": "text", "text": "message #1 from director"}]},
                {"role": "system", "content": "late system text"},
                {"role": "assistant", "content": [{"type": "tool_use", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "ok"},
                    {"type": "text", "text": "<system-reminder>r</system-reminder>"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "hm"}, {"type": "tool_use", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "y", "content": "ok"}]},
            ]
        });
        let c = read(&body);
        assert_eq!(c.user_text.as_deref(), Some("message #1 from director"));
        assert_eq!(c.calls, 2);
        assert!(c.stream);
        assert!(c.system.contains("late system text"));
        assert_eq!(c.shell.map(|s| s.name), Some("Bash".to_string()));
    }
}
