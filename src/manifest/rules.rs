//! The rules one value of a fleet file must follow on its own — name patterns, ranges,
//! the duration format, the tmux layouts, reserved names — in one place. `config check`
//! enforces them (with its own words, in `resolve`), and the JSON Schema carries them:
//! the `transform` attributes in [`super::raw`] call the functions below, so an editor
//! checking a file against `schemas/fleet.schema.json` and `config check` agree.
//!
//! What depends on more than one key (an effort a backend takes, `depends_on` naming a
//! member, a name used twice, a prompt file that must exist) is only in `config check`.

use std::sync::LazyLock;

use regex::Regex;
use schemars::Schema;
use serde_json::{Value, json};

/// A fleet or member name: 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or
/// digit.
pub const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,31}$";

/// A duration: one or more number-unit pairs (`500ms`, `30s`, `5m`, `1h30m`), with
/// surrounding spaces allowed.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+(ms|s|m|h))+\s*$";

/// A tmux socket name for `tmux -L` (`""`: the user's default server).
pub const SOCKET_PATTERN: &str = "^[A-Za-z0-9_.-]{0,64}$";

/// An ssh destination for `host`: `[user@]name`, never starting with `-` (kept in step
/// with [`crate::tmux::remote::check_host`]).
pub const HOST_PATTERN: &str =
    "^([A-Za-z0-9_][A-Za-z0-9._-]{0,252}@)?[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$";

/// A window size, `WIDTHxHEIGHT` in cells (the ranges are [`WINDOW_WIDTH`] and
/// [`WINDOW_HEIGHT`]).
pub const SIZE_PATTERN: &str = r"^\s*([0-9]+)\s*x\s*([0-9]+)\s*$";
pub const WINDOW_WIDTH: (u16, u16) = (20, 2000);
pub const WINDOW_HEIGHT: (u16, u16) = (5, 1000);

/// An environment variable name a program can be given: not empty, no `=`, no NUL.
pub const ENV_NAME_PATTERN: &str = "^[^=\\x00]+$";
/// What an environment value cannot hold.
pub const ENV_VALUE_PATTERN: &str = "^[^\\x00]*$";
/// Variables cafleet sets itself; a fleet file may not set them...
pub const CAFLEET_ENV_PREFIX: &str = "CAFLEET_";
/// ...except this one, which the fake agent reads.
pub const CAFLEET_ENV_ALLOWED: &str = "CAFLEET_FAKE_LOG";

/// The only fleet file version this cafleet reads.
pub const VERSION: i64 = 1;
/// `[fleet] panes_per_window`, inclusive.
pub const PANES_PER_WINDOW: (i64, i64) = (1, 32);
/// `replicas`, inclusive.
pub const REPLICAS: (i64, i64) = (1, 64);

/// The tmux layouts `[fleet] layout` takes.
pub const LAYOUTS: [&str; 5] = [
    "even-horizontal",
    "even-vertical",
    "main-horizontal",
    "main-vertical",
    "tiled",
];

/// Names no member may take: the fixed roles, the broadcast address and the web UI's
/// sender.
pub const RESERVED_NAMES: [&str; 4] = ["director", "monitor", "all", "operator"];

fn compiled(pattern: &'static str) -> Regex {
    // The patterns are constants, compiled in a unit test below.
    Regex::new(pattern).unwrap_or_else(|err| panic!("bad built-in pattern {pattern}: {err}"))
}

static NAME: LazyLock<Regex> = LazyLock::new(|| compiled(NAME_PATTERN));
static DURATION: LazyLock<Regex> = LazyLock::new(|| compiled(DURATION_PATTERN));
static SOCKET: LazyLock<Regex> = LazyLock::new(|| compiled(SOCKET_PATTERN));
static SIZE: LazyLock<Regex> = LazyLock::new(|| compiled(SIZE_PATTERN));
static ENV_NAME: LazyLock<Regex> = LazyLock::new(|| compiled(ENV_NAME_PATTERN));

/// Whether `name` is a valid fleet or member name ([`NAME_PATTERN`]).
pub fn is_valid_name(name: &str) -> bool {
    NAME.is_match(name)
}

/// Whether `text` is written as a duration ([`DURATION_PATTERN`]); its value may still
/// overflow.
pub fn is_duration(text: &str) -> bool {
    DURATION.is_match(text)
}

pub fn is_valid_socket(name: &str) -> bool {
    SOCKET.is_match(name)
}

/// `WIDTHxHEIGHT` as written, without the range check.
pub fn parse_size(text: &str) -> Option<(u16, u16)> {
    let captures = SIZE.captures(text)?;
    Some((captures[1].parse().ok()?, captures[2].parse().ok()?))
}

pub fn size_in_range((width, height): (u16, u16)) -> bool {
    (WINDOW_WIDTH.0..=WINDOW_WIDTH.1).contains(&width)
        && (WINDOW_HEIGHT.0..=WINDOW_HEIGHT.1).contains(&height)
}

pub fn is_valid_env_name(name: &str) -> bool {
    ENV_NAME.is_match(name)
}

pub fn is_cafleet_env(name: &str) -> bool {
    name.starts_with(CAFLEET_ENV_PREFIX) && name != CAFLEET_ENV_ALLOWED
}

// ---- the same rules in the JSON Schema (`#[schemars(transform = …)]` in raw.rs) ----

fn set(schema: &mut Schema, key: &str, value: Value) {
    schema.insert(key.into(), value);
}

fn range(schema: &mut Schema, (min, max): (i64, i64)) {
    set(schema, "minimum", json!(min));
    set(schema, "maximum", json!(max));
}

pub fn schema_version(schema: &mut Schema) {
    range(schema, (VERSION, VERSION));
}

pub fn schema_name(schema: &mut Schema) {
    set(schema, "pattern", json!(NAME_PATTERN));
}

pub fn schema_member_name(schema: &mut Schema) {
    schema_name(schema);
    set(schema, "not", json!({ "enum": RESERVED_NAMES }));
}

/// `depends_on`: a list of member names.
pub fn schema_names(schema: &mut Schema) {
    if let Some(Value::Object(items)) = schema.get_mut("items") {
        items.insert("pattern".into(), json!(NAME_PATTERN));
    }
}

pub fn schema_duration(schema: &mut Schema) {
    set(schema, "pattern", json!(DURATION_PATTERN));
}

pub fn schema_socket(schema: &mut Schema) {
    set(schema, "pattern", json!(SOCKET_PATTERN));
}

pub fn schema_host(schema: &mut Schema) {
    set(schema, "pattern", json!(HOST_PATTERN));
}

pub fn schema_size(schema: &mut Schema) {
    set(schema, "pattern", json!(SIZE_PATTERN));
}

pub fn schema_layout(schema: &mut Schema) {
    set(schema, "enum", json!(LAYOUTS));
}

pub fn schema_panes_per_window(schema: &mut Schema) {
    range(schema, PANES_PER_WINDOW);
}

pub fn schema_replicas(schema: &mut Schema) {
    range(schema, REPLICAS);
}

/// `max_restarts`: 0 or more.
pub fn schema_count(schema: &mut Schema) {
    set(schema, "minimum", json!(0));
}

/// An `env` table: names a program can get and cafleet does not set, values without NUL.
pub fn schema_env(schema: &mut Schema) {
    set(
        schema,
        "propertyNames",
        json!({
            "pattern": ENV_NAME_PATTERN,
            "anyOf": [
                { "not": { "pattern": format!("^{CAFLEET_ENV_PREFIX}") } },
                { "const": CAFLEET_ENV_ALLOWED }
            ]
        }),
    );
    if let Some(Value::Object(values)) = schema.get_mut("additionalProperties") {
        values.insert("pattern".into(), json!(ENV_VALUE_PATTERN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile_and_mean_what_they_say() {
        for name in ["a", "api", "rev-2", "a_b", "0day", &"x".repeat(32)] {
            assert!(is_valid_name(name), "{name}");
        }
        for name in ["", "Api", "my.fleet", "-a", "_a", "a b", &"x".repeat(33)] {
            assert!(!is_valid_name(name), "{name}");
        }
        for text in ["500ms", "30s", "1h30m", " 5m ", "0s"] {
            assert!(is_duration(text), "{text}");
        }
        for text in ["", "10", "s", "10 minutes", "-5s", "1.5h", "banana", "5s5"] {
            assert!(!is_duration(text), "{text}");
        }
        assert!(is_valid_socket("") && is_valid_socket("cafleet-demo"));
        assert!(!is_valid_socket("a/b"));
        assert_eq!(parse_size("240x60"), Some((240, 60)));
        assert_eq!(parse_size(" 80 x 24 "), Some((80, 24)));
        assert_eq!(parse_size("+80x24"), None);
        assert!(size_in_range((80, 24)) && !size_in_range((10, 24)));
        assert!(is_valid_env_name("PATH") && !is_valid_env_name("A=B"));
        assert!(!is_valid_env_name("") && !is_valid_env_name("A\0"));
        assert!(is_cafleet_env("CAFLEET_FLEET") && !is_cafleet_env(CAFLEET_ENV_ALLOWED));
    }
}
