//! What the scripted model needs to know about one request, whatever API it came in on:
//! the model name, the text of the conversation's last real user turn, how many shell
//! tool calls the assistant made since, which shell tool is on offer (and the argument
//! shape its schema wants), and whether a JSON answer was asked for. Each API module
//! reads its wire format into a [`Conversation`]; the answer goes back as an [`Answer`].

use serde_json::{Value, json};

/// The tool names a CLI's shell tool goes by, in order of preference: claude `Bash`,
/// codex `exec_command` (older codex: `shell`), opencode `bash`.
pub const SHELL_TOOLS: [&str; 5] = ["Bash", "exec_command", "bash", "shell", "local_shell"];

/// One request, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    pub model: String,
    /// The text of the last user message that a person (or a prompt) wrote: tool results,
    /// `<system-reminder>`s, environment context blocks and system messages left out.
    pub user_text: Option<String>,
    /// The shell tool calls the assistant made after that message.
    pub calls: usize,
    /// The text of the last tool result, for the log.
    pub last_result: Option<String>,
    /// The shell tool the request offers; `None` for title requests and the like.
    pub shell: Option<ShellTool>,
    /// Set when the request asks for a JSON answer: the schema when one was given, else
    /// `Value::Null`.
    pub json: Option<Value>,
    /// The system prompt / instructions text, read for a JSON shape described in prose.
    pub system: String,
    pub stream: bool,
}

/// How to call the offered shell tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellTool {
    pub name: String,
    pub shape: ArgShape,
}

/// The argument object a shell tool's schema wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgShape {
    /// `{"cmd": "…"}` (codex `exec_command`).
    Cmd,
    /// `{"command": ["bash", "-lc", "…"]}` (codex's older `shell`).
    CommandArgv,
    /// `{"command": "…"}`, plus `"description"` when the schema has one (claude `Bash`,
    /// opencode `bash`).
    Command { description: bool },
}

impl ShellTool {
    /// Picks the shell tool among `(name, JSON schema of its parameters)` pairs.
    pub fn pick<'a>(tools: impl IntoIterator<Item = (&'a str, Option<&'a Value>)>) -> Option<Self> {
        let tools: Vec<(&str, Option<&Value>)> = tools.into_iter().collect();
        SHELL_TOOLS.iter().find_map(|wanted| {
            let (name, schema) = tools.iter().find(|(name, _)| name == wanted)?;
            let properties = schema.and_then(|s| s.get("properties"));
            let has = |key: &str| properties.and_then(|p| p.get(key)).is_some();
            let command_type = properties
                .and_then(|p| p.pointer("/command/type"))
                .and_then(Value::as_str);
            let shape = if has("cmd") {
                ArgShape::Cmd
            } else if command_type == Some("array") {
                ArgShape::CommandArgv
            } else if *wanted == "exec_command" && properties.is_none() {
                ArgShape::Cmd
            } else {
                ArgShape::Command {
                    description: has("description") || properties.is_none(),
                }
            };
            Some(ShellTool {
                name: name.to_string(),
                shape,
            })
        })
    }

    /// The arguments object for running `command`.
    pub fn arguments(&self, command: &str) -> Value {
        match self.shape {
            ArgShape::Cmd => json!({ "cmd": command }),
            ArgShape::CommandArgv => json!({ "command": ["bash", "-lc", command] }),
            ArgShape::Command { description: true } => {
                json!({ "command": command, "description": "Run the scripted command" })
            }
            ArgShape::Command { description: false } => json!({ "command": command }),
        }
    }
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// One call of the shell tool.
    Call {
        tool: String,
        arguments: Value,
        /// The command, for the log.
        command: String,
    },
    Text(String),
}

impl Answer {
    /// A rough output token count for the usage fields.
    pub fn tokens(&self) -> u64 {
        let len = match self {
            Answer::Call { arguments, .. } => arguments.to_string().len(),
            Answer::Text(text) => text.len(),
        };
        (len as u64).div_ceil(4).max(1)
    }
}

/// A rough input token count: a quarter of the request body's bytes.
pub fn input_tokens(body: &[u8]) -> u64 {
    (body.len() as u64).div_ceil(4).max(1)
}

/// The text a user message carries once system reminders are cut out; `None` when
/// nothing a person wrote is left (only reminders, or a context block such as codex's
/// `<environment_context>` or its AGENTS.md instructions).
pub fn real_text(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<system-reminder>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</system-reminder>") {
            Some(end) => rest = &rest[start + end + "</system-reminder>".len()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    let trimmed = out.trim();
    if trimmed.is_empty() || is_context_block(trimmed) {
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// A message that is entirely one `<tag>…</tag>` block, or codex's AGENTS.md preamble.
fn is_context_block(text: &str) -> bool {
    if text.starts_with("# AGENTS.md instructions") {
        return true;
    }
    let Some(tag) = text
        .strip_prefix('<')
        .and_then(|t| t.split(|c: char| c == '>' || c.is_whitespace()).next())
    else {
        return false;
    };
    !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && text.ends_with(&format!("</{tag}>"))
}

/// The answer to a request that offers no shell tool (a title request, say), or a final
/// reply where JSON was asked for: `fallback` as is, or JSON that fits the asked shape.
pub fn fitting_text(json: Option<&Value>, system: &str, fallback: &str) -> String {
    match json {
        Some(schema) if schema.is_object() => value_for(schema, fallback, 0).to_string(),
        Some(_) => json_from_prose(system, fallback)
            .unwrap_or_else(|| json!({"title": fallback}).to_string()),
        // Only a prompt that says JSON and shows its keys (`{"title": …}`) asks for JSON; a
        // title prompt whose examples name `config.json` does not.
        None if system.contains("JSON") => {
            json_from_prose(system, fallback).unwrap_or_else(|| fallback.to_string())
        }
        None => fallback.to_string(),
    }
}

/// An object with the keys a prompt names as `"key":` (`{"title": "…"}`), each set to
/// `fallback`; `None` when it names none.
fn json_from_prose(system: &str, fallback: &str) -> Option<String> {
    let mut keys: Vec<String> = Vec::new();
    for part in system.split('"').skip(1).step_by(2) {
        let after = system
            .split(&format!("\"{part}\""))
            .nth(1)
            .unwrap_or_default();
        if !part.is_empty()
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && after.trim_start().starts_with(':')
            && !keys.iter().any(|k| k == part)
        {
            keys.push(part.to_string());
        }
    }
    if keys.is_empty() {
        return None;
    }
    let object: serde_json::Map<String, Value> = keys
        .into_iter()
        .map(|k| (k, Value::String(fallback.to_string())))
        .collect();
    Some(Value::Object(object).to_string())
}

/// A value that satisfies the (simple) JSON Schema `schema`: objects get their required
/// (or else all) properties, strings `fallback`.
fn value_for(schema: &Value, fallback: &str, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return value_for(first, fallback, depth + 1);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().find_map(Value::as_str).unwrap_or("string"),
        Some(Value::String(kind)) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = serde_json::Map::new();
            if let Some(properties) = properties {
                for (name, sub) in properties {
                    if required.is_empty() || required.contains(&name.as_str()) {
                        object.insert(name.clone(), value_for(sub, fallback, depth + 1));
                    }
                }
            }
            Value::Object(object)
        }
        "array" => Value::Array(Vec::new()),
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => Value::String(fallback.to_string()),
    }
}

/// The text of a message `content` that is a string or an array of `{type, text}` parts
/// (`text`, `input_text`, `output_text`), joined; `None` when it carries no text.
pub fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| {
                    matches!(
                        p.get("type").and_then(Value::as_str),
                        Some("text" | "input_text" | "output_text") | None
                    )
                })
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// The last tool result's text, cut to a log-friendly length.
pub fn result_text(content: Option<&Value>) -> Option<String> {
    let text = match content? {
        Value::String(text) => text.clone(),
        other => content_text(other).unwrap_or_else(|| other.to_string()),
    };
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    Some(cut)
}

/// The real text of each text part on its own (so a reminder part does not hide the
/// prompt part beside it), joined.
pub fn user_text(content: &Value) -> Option<String> {
    let parts: Vec<String> = match content {
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| content_text(&Value::Array(vec![p.clone()])))
            .filter_map(|t| real_text(&t))
            .collect(),
        other => content_text(other)
            .and_then(|t| real_text(&t))
            .into_iter()
            .collect(),
    };
    (!parts.is_empty()).then(|| parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_and_context_blocks_are_not_user_text() {
        assert_eq!(real_text("<system-reminder>x</system-reminder>\n\n"), None);
        assert_eq!(
            real_text("<system-reminder>x</system-reminder>ping me").as_deref(),
            Some("ping me")
        );
        assert_eq!(
            real_text("<environment_context>\n <cwd>/</cwd>\n</environment_context>"),
            None
        );
        assert_eq!(
            real_text("# AGENTS.md instructions for /x\n\n<INSTRUCTIONS>"),
            None
        );
        assert_eq!(
            real_text("<b>bold</b> is fine").as_deref(),
            Some("<b>bold</b> is fine")
        );
        let parts = json!([
            {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
            {"type": "text", "text": "message #3 from director"}
        ]);
        assert_eq!(
            user_text(&parts).as_deref(),
            Some("message #3 from director")
        );
    }

    #[test]
    fn shell_tool_is_picked_with_its_shape() {
        let bash = json!({"properties": {"command": {"type": "string"}, "description": {}}});
        let exec = json!({"properties": {"cmd": {"type": "string"}, "login": {}}});
        let shell = json!({"properties": {"command": {"type": "array"}}});
        let tool = ShellTool::pick([("Read", None), ("Bash", Some(&bash))]).unwrap();
        assert_eq!(
            tool.arguments("ls"),
            json!({"command": "ls", "description": "Run the scripted command"})
        );
        let tool = ShellTool::pick([("exec_command", Some(&exec))]).unwrap();
        assert_eq!(tool.arguments("ls"), json!({"cmd": "ls"}));
        let tool = ShellTool::pick([("shell", Some(&shell))]).unwrap();
        assert_eq!(
            tool.arguments("ls"),
            json!({"command": ["bash", "-lc", "ls"]})
        );
        assert_eq!(ShellTool::pick([("Read", None)]), None);
    }

    #[test]
    fn json_answers_fit_the_asked_shape() {
        let schema = json!({"type": "object", "properties": {"title": {"type": "string"}, "n": {"type": "integer"}}, "required": ["title"]});
        assert_eq!(
            fitting_text(Some(&schema), "", "cafleet"),
            r#"{"title":"cafleet"}"#
        );
        assert_eq!(
            fitting_text(None, r#"Reply with JSON like {"title": "…"}"#, "cafleet"),
            r#"{"title":"cafleet"}"#
        );
        assert_eq!(
            fitting_text(Some(&Value::Null), "", "x"),
            r#"{"title":"x"}"#
        );
        assert_eq!(fitting_text(None, "Write a title", "cafleet"), "cafleet");
        let opencode = "Generate a title.\n\"look at @config.json\" → Config review";
        assert_eq!(fitting_text(None, opencode, "cafleet"), "cafleet");
    }
}
