//! OpenAI chat completions as opencode calls them through its bundled
//! `@ai-sdk/openai-compatible` provider: `POST /v1/chat/completions`, streaming with
//! `stream_options.include_usage`. Tool results come back as `role: "tool"` messages; the
//! answer is `chat.completion.chunk`s (a `tool_calls` delta or `content`), a finish
//! chunk, a usage chunk and `data: [DONE]`.

use axum::response::sse::Event;
use serde_json::{Value, json};

use super::conversation::{Answer, Conversation, ShellTool, content_text, result_text, user_text};
use super::new_id;

/// Reads a chat completions request.
pub fn read(body: &Value) -> Conversation {
    let tools = body.get("tools").and_then(Value::as_array);
    let shell = tools.and_then(|tools| {
        ShellTool::pick(tools.iter().filter_map(|t| {
            let function = t.get("function")?;
            Some((function.get("name")?.as_str()?, function.get("parameters")))
        }))
    });
    let messages: &[Value] = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let role = |m: &Value| m.get("role").and_then(Value::as_str).map(String::from);
    let last = messages.iter().enumerate().rev().find_map(|(i, m)| {
        (role(m).as_deref() == Some("user"))
            .then(|| user_text(m.get("content")?))
            .flatten()
            .map(|text| (i, text))
    });
    let calls = match (&last, &shell) {
        (Some((i, _)), Some(shell)) => messages[i + 1..]
            .iter()
            .filter(|m| role(m).as_deref() == Some("assistant"))
            .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
            .flatten()
            .filter(|c| {
                c.pointer("/function/name").and_then(Value::as_str) == Some(shell.name.as_str())
            })
            .count(),
        _ => 0,
    };
    let last_result = messages
        .iter()
        .rfind(|m| role(m).as_deref() == Some("tool"))
        .and_then(|m| result_text(m.get("content")));
    let json = match body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
    {
        Some("json_schema") => body.pointer("/response_format/json_schema/schema").cloned(),
        Some("json_object") => Some(Value::Null),
        _ => None,
    };
    let system = messages
        .iter()
        .filter(|m| matches!(role(m).as_deref(), Some("system" | "developer")))
        .filter_map(|m| m.get("content").and_then(content_text))
        .collect::<Vec<_>>()
        .join("\n");
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

fn finish_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Call { .. } => "tool_calls",
        Answer::Text(_) => "stop",
    }
}

fn usage(answer: &Answer, input_tokens: u64) -> Value {
    json!({
        "prompt_tokens": input_tokens, "completion_tokens": answer.tokens(),
        "total_tokens": input_tokens + answer.tokens(),
    })
}

/// The streamed answer; the usage chunk only when `include_usage` asked for it.
pub fn events(answer: &Answer, model: &str, input_tokens: u64, include_usage: bool) -> Vec<Event> {
    let id = new_id("chatcmpl");
    let created = super::now_secs();
    let chunk = |choices: Value, usage: Value| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices,
        });
        if !usage.is_null() {
            chunk["usage"] = usage;
        }
        Event::default().data(chunk.to_string())
    };
    let choice = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
    let mut events = vec![chunk(
        choice(json!({"role": "assistant", "content": ""}), Value::Null),
        Value::Null,
    )];
    match answer {
        Answer::Call {
            tool, arguments, ..
        } => {
            events.push(chunk(
                choice(
                    json!({"tool_calls": [{"index": 0, "id": new_id("call"), "type": "function",
                        "function": {"name": tool, "arguments": ""}}]}),
                    Value::Null,
                ),
                Value::Null,
            ));
            events.push(chunk(
                choice(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": arguments.to_string()}}]}),
                    Value::Null,
                ),
                Value::Null,
            ));
        }
        Answer::Text(text) => {
            events.push(chunk(
                choice(json!({"content": text}), Value::Null),
                Value::Null,
            ));
        }
    }
    events.push(chunk(
        choice(json!({}), json!(finish_reason(answer))),
        Value::Null,
    ));
    if include_usage {
        events.push(chunk(json!([]), usage(answer, input_tokens)));
    }
    events.push(Event::default().data("[DONE]"));
    events
}

/// The answer as one `chat.completion`, for a request without `stream: true`.
pub fn body(answer: &Answer, model: &str, input_tokens: u64) -> Value {
    let message = match answer {
        Answer::Call {
            tool, arguments, ..
        } => json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": new_id("call"), "type": "function",
            "function": {"name": tool, "arguments": arguments.to_string()}}]}),
        Answer::Text(text) => json!({"role": "assistant", "content": text}),
    };
    json!({
        "id": new_id("chatcmpl"), "object": "chat.completion", "created": super::now_secs(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(answer)}],
        "usage": usage(answer, input_tokens),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tool_calls_after_the_last_real_user_message() {
        let body = json!({
            "model": "m", "stream": true,
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {"properties": {"command": {}, "description": {}}}}}],
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": [{"type": "text", "text": "go"}]},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "1", "content": "out"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "2", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "2", "content": "out"},
            ]
        });
        let c = read(&body);
        assert_eq!(c.user_text.as_deref(), Some("go"));
        assert_eq!(c.calls, 2);
        assert_eq!(c.system, "sys");
    }
}
