//! The script `cafleet model serve` follows: a TOML file of turns, each matched against
//! the conversation's last real user message (and optionally the model name), each
//! answering with shell commands, one per request, then a final reply. Parsing reports
//! every problem with the file, line and a caret, like fleet files do; the JSON Schema
//! (`schemas/model-script.schema.json`) is generated from the same types.

use std::time::Duration;

use camino::Utf8Path;
use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::manifest::diagnostic::{Diagnostic, Diagnostics, SourceFile, nearest};
use crate::manifest::duration;
use crate::manifest::raw::Sp;

/// A script for `cafleet model serve`: what the scripted model answers to which message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cafleet model script")]
pub struct RawScript {
    /// The script format version; must be 1.
    pub version: Sp<i64>,
    /// The turns, tried in order: the first whose `match`/`contains` and `model` fit the
    /// conversation's last user message answers it.
    #[serde(default)]
    pub turn: Vec<RawTurn>,
    /// What to answer when no turn matches.
    #[serde(default)]
    pub default: Option<RawDefault>,
}

/// `[[turn]]`: one scripted exchange.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTurn {
    /// A regular expression (Rust `regex` syntax) searched for in the last user message.
    /// Its named groups `(?P<name>…)` can be used as `$name` or `${name}` in `run` and
    /// `reply`. Leave out both `match` and `contains` to match every message.
    #[serde(default, rename = "match")]
    pub pattern: Option<Sp<String>>,
    /// Plain text the last user message must contain (instead of `match`).
    #[serde(default)]
    pub contains: Option<Sp<String>>,
    /// A regular expression the request's model name must match (whole name).
    #[serde(default)]
    pub model: Option<Sp<String>>,
    /// Shell commands, one tool call each, in order; `$name`/`${name}` expand captures,
    /// `$$` is a literal `$`, upper-case names such as `$HOME` are left for the shell.
    #[serde(default)]
    pub run: Vec<Sp<String>>,
    /// How long to hold every answer of this turn mid-stream (`500ms`, `2s`, `1m`), so
    /// the agent looks busy.
    #[serde(default)]
    pub delay: Option<Sp<String>>,
    /// The final text after the last command (default: `done`).
    #[serde(default)]
    pub reply: Option<Sp<String>>,
}

/// `[default]`: the answer when no turn matches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefault {
    /// The text to answer (default: `OK`).
    #[serde(default)]
    pub reply: Option<Sp<String>>,
    /// How long to hold the answer mid-stream.
    #[serde(default)]
    pub delay: Option<Sp<String>>,
}

/// The JSON Schema of the script, as committed in `schemas/model-script.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().for_deserialize();
    let schema = settings
        .into_generator()
        .into_root_schema_for::<RawScript>();
    schema.to_value()
}

/// The schema as committed: pretty JSON with a trailing newline.
pub fn schema_text() -> Result<String> {
    let mut text = serde_json::to_string_pretty(&json_schema())
        .map_err(|err| Error::failure(format!("cannot encode the schema: {err}")))?;
    text.push('\n');
    Ok(text)
}

/// How a turn recognises its message.
#[derive(Debug, Clone)]
pub enum Matcher {
    Regex(Regex),
    Contains(String),
    Any,
}

/// Text with `$capture` references, split once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Capture(String),
}

impl Template {
    fn literal(text: &str) -> Self {
        Template(vec![Piece::Text(text.to_string())])
    }

    /// The text with every capture replaced by what it matched (empty when the group did
    /// not take part in the match).
    pub fn expand(&self, captures: Option<&regex::Captures<'_>>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Capture(name) => {
                    let found = captures.and_then(|c| match name.parse::<usize>() {
                        Ok(index) => c.get(index),
                        Err(_) => c.name(name),
                    });
                    out.push_str(found.map_or("", |m| m.as_str()));
                }
            }
        }
        out
    }
}

/// Splits `text` into literal text and capture references. `known` says whether a name
/// is a group of the turn's regex; a reference to an unknown name that has a lower-case
/// letter is an error (returned as the byte range of the reference within `text` and the
/// name), while upper-case names (`$HOME`, `${TMPDIR}`) are left for the shell.
fn parse_template(
    text: &str,
    known: &dyn Fn(&str) -> bool,
) -> std::result::Result<Template, (std::ops::Range<usize>, String)> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len, braced) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(close) => (&inner[..close], close + 2, true),
                None => ("", 0, true),
            }
        } else if let Some(tail) = after.strip_prefix('$') {
            literal.push('$');
            offset += at + 2;
            rest = tail;
            continue;
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end, false)
        };
        let well_formed = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && (!braced || len > 0);
        if !well_formed {
            // A lone `$`, `${` or `${x y}`: not ours, keep it as written.
            literal.push('$');
            offset += at + 1;
            rest = after;
            continue;
        }
        let reference = &rest[at..at + 1 + len];
        if known(name) {
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Capture(name.to_string()));
        } else if name.chars().any(|c| c.is_ascii_lowercase()) {
            let start = offset + at;
            return Err((start..start + reference.len(), name.to_string()));
        } else {
            literal.push_str(reference);
        }
        offset += at + 1 + len;
        rest = &rest[at + 1 + len..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(Template(pieces))
}

/// One scripted exchange, ready to match.
#[derive(Debug, Clone)]
pub struct Turn {
    pub matcher: Matcher,
    pub model: Option<Regex>,
    pub run: Vec<Template>,
    pub delay: Duration,
    pub reply: Template,
}

/// A loaded, checked script.
#[derive(Debug, Clone)]
pub struct Script {
    pub turns: Vec<Turn>,
    pub default_reply: String,
    pub default_delay: Duration,
}

/// The reply of a turn that sets none.
pub const DEFAULT_TURN_REPLY: &str = "done";
/// The reply when no turn matches and `[default]` sets none.
pub const DEFAULT_REPLY: &str = "OK";

/// What the conversation needs next, according to the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The index of the matched turn, `None` for `[default]`.
    pub turn: Option<usize>,
    pub action: Action,
    pub delay: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Call the shell tool with this command.
    Run(String),
    /// Answer with this text and end the turn.
    Reply(String),
}

impl Script {
    /// Reads and checks the script at `path`: every problem is reported in one error, with
    /// the line and a caret; exit code 2.
    pub fn load(path: &Utf8Path, styled: bool) -> Result<Script> {
        let limit = crate::manifest::read::MAX_FLEET_FILE;
        let text = crate::manifest::read::read_text(path.as_std_path(), limit).map_err(|err| {
            Error::usage(format!("cannot read the script `{path}`: {err}"))
                .hint("pass the path of a TOML script: see docs/model-server.md")
        })?;
        let file = SourceFile {
            path: path.to_owned(),
            text: text.into(),
        };
        Script::parse(&file).map_err(|diagnostics| {
            let count = diagnostics.len();
            let noun = if count == 1 { "problem" } else { "problems" };
            Error::usage(format!("the script `{path}` has {count} {noun}"))
                .with_report(diagnostics.render(styled))
                .hint("fix the script and start `cafleet model serve` again (format: docs/model-server.md)")
        })
    }

    /// [`Script::load`] on text already read.
    pub fn parse(file: &SourceFile) -> std::result::Result<Script, Diagnostics> {
        let mut diagnostics = Diagnostics::default();
        let raw: RawScript = match toml::from_str(&file.text) {
            Ok(raw) => raw,
            Err(err) => {
                let message = err.message().trim().to_string();
                let help = unknown_key_help(&message);
                diagnostics.push(
                    Diagnostic::new(file, err.span().unwrap_or(0..0), message)
                        .label("here")
                        .help_opt(help),
                );
                return Err(diagnostics);
            }
        };
        if *raw.version.get() != 1 {
            diagnostics.push(
                Diagnostic::new(file, raw.version.span(), "unsupported script version")
                    .label("this cafleet reads version 1")
                    .help("write `version = 1`"),
            );
        }
        let mut turns = Vec::new();
        for raw_turn in &raw.turn {
            if let Some(turn) = compile_turn(file, raw_turn, &mut diagnostics) {
                turns.push(turn);
            }
        }
        let default = raw.default.as_ref();
        let default_delay = default
            .and_then(|d| d.delay.as_ref())
            .and_then(|d| parse_delay(file, d, &mut diagnostics))
            .unwrap_or_default();
        let default_reply = default
            .and_then(|d| d.reply.as_ref())
            .map_or(DEFAULT_REPLY.to_string(), |r| r.get().clone());
        if diagnostics.is_empty() {
            Ok(Script {
                turns,
                default_reply,
                default_delay,
            })
        } else {
            Err(diagnostics)
        }
    }

    /// The next step of the conversation whose last real user message is `text`, sent to
    /// `model`, after the assistant already made `calls` shell tool calls answering it.
    pub fn step(&self, text: &str, model: &str, calls: usize) -> Step {
        for (index, turn) in self.turns.iter().enumerate() {
            if let Some(re) = &turn.model
                && !re.is_match(model)
            {
                continue;
            }
            let captures = match &turn.matcher {
                Matcher::Regex(re) => match re.captures(text) {
                    Some(captures) => Some(captures),
                    None => continue,
                },
                Matcher::Contains(needle) if !text.contains(needle.as_str()) => continue,
                Matcher::Contains(_) | Matcher::Any => None,
            };
            let action = match turn.run.get(calls) {
                Some(command) => Action::Run(command.expand(captures.as_ref())),
                None => Action::Reply(turn.reply.expand(captures.as_ref())),
            };
            return Step {
                turn: Some(index),
                action,
                delay: turn.delay,
            };
        }
        Step {
            turn: None,
            action: Action::Reply(self.default_reply.clone()),
            delay: self.default_delay,
        }
    }
}

fn compile_turn(file: &SourceFile, raw: &RawTurn, diagnostics: &mut Diagnostics) -> Option<Turn> {
    let before = diagnostics.len();
    let matcher = match (&raw.pattern, &raw.contains) {
        (Some(pattern), Some(contains)) => {
            diagnostics.push(
                Diagnostic::new(
                    file,
                    contains.span(),
                    "a turn takes `match` or `contains`, not both",
                )
                .label("second matcher")
                .help(format!(
                    "keep `match` (a regex) at line {}, or this plain text",
                    Diagnostic::new(file, pattern.span(), "").line()
                )),
            );
            Matcher::Any
        }
        (Some(pattern), None) => match compile_regex(file, pattern, false, diagnostics) {
            Some(re) => Matcher::Regex(re),
            None => Matcher::Any,
        },
        (None, Some(contains)) => Matcher::Contains(contains.get().clone()),
        (None, None) => Matcher::Any,
    };
    let model = raw
        .model
        .as_ref()
        .and_then(|m| compile_regex(file, m, true, diagnostics));
    let known = |name: &str| match &matcher {
        Matcher::Regex(re) => match name.parse::<usize>() {
            Ok(index) => index < re.captures_len(),
            Err(_) => re.capture_names().flatten().any(|n| n == name),
        },
        _ => false,
    };
    let mut template = |text: &Sp<String>| -> Template {
        match parse_template(text.get(), &known) {
            Ok(template) => template,
            Err((range, name)) => {
                // The value's span covers its quotes; the reference sits one byte in for
                // the plain strings scripts use ('…', "…").
                let span = text.span();
                let quote = usize::from(matches!(
                    file.text.as_bytes().get(span.start),
                    Some(b'\'' | b'"')
                ));
                let start = span.start + quote + range.start;
                let names: Vec<&str> = match &matcher {
                    Matcher::Regex(re) => re.capture_names().flatten().collect(),
                    _ => Vec::new(),
                };
                let help = match (nearest(&name, names.iter().copied()), names.is_empty()) {
                    (Some(near), _) => format!(
                        "did you mean `${near}`? (write `$${name}` for a literal `${name}`)"
                    ),
                    (None, true) => format!(
                        "this turn's `match` has no named groups such as `(?P<{name}>…)`; write `$${name}` for a literal `${name}`"
                    ),
                    (None, false) => format!(
                        "the groups are {}; write `$${name}` for a literal `${name}`",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                diagnostics.push(
                    Diagnostic::new(
                        file,
                        start..start + range.len(),
                        format!("no capture named `{name}`"),
                    )
                    .label("not a group of this turn's `match`")
                    .help(help),
                );
                Template::literal(text.get())
            }
        }
    };
    let run: Vec<Template> = raw.run.iter().map(&mut template).collect();
    let reply = raw
        .reply
        .as_ref()
        .map_or_else(|| Template::literal(DEFAULT_TURN_REPLY), &mut template);
    let delay = raw
        .delay
        .as_ref()
        .and_then(|d| parse_delay(file, d, diagnostics))
        .unwrap_or_default();
    (diagnostics.len() == before).then_some(Turn {
        matcher,
        model,
        run,
        delay,
        reply,
    })
}

fn compile_regex(
    file: &SourceFile,
    text: &Sp<String>,
    whole: bool,
    diagnostics: &mut Diagnostics,
) -> Option<Regex> {
    let source = if whole {
        format!("^(?:{})$", text.get())
    } else {
        text.get().clone()
    };
    match Regex::new(&source) {
        Ok(re) => Some(re),
        Err(err) => {
            let detail = match &err {
                regex::Error::Syntax(detail) => detail
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string(),
                other => other.to_string(),
            };
            diagnostics.push(
                Diagnostic::new(file, text.span(), "not a valid regular expression")
                    .label(detail)
                    .help("the syntax is the Rust regex crate's: https://docs.rs/regex/#syntax"),
            );
            None
        }
    }
}

fn parse_delay(
    file: &SourceFile,
    text: &Sp<String>,
    diagnostics: &mut Diagnostics,
) -> Option<Duration> {
    let parsed = duration::parse(text.get());
    if parsed.is_none() {
        diagnostics.push(
            Diagnostic::new(file, text.span(), "not a duration")
                .label("expected a number and a unit")
                .help("write e.g. `500ms`, `2s`, `1m` or `1m30s`"),
        );
    }
    parsed
}

/// A "did you mean" for serde's `unknown field `x`, expected one of …` message.
fn unknown_key_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    nearest(word, candidates.iter().copied()).map(|near| format!("did you mean `{near}`?"))
}

#[cfg(test)]
mod tests;
