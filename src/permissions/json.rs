//! JSON settings files read and written back with their keys in the order the file had
//! them and its indentation, so editing one key leaves the rest of the file as it was
//! (serde_json's own `Value` sorts object keys).

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value under `key`, when this is an object that has it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under `key`, inserted at the end as `default` when absent. `None` when
    /// this is not an object.
    pub fn entry(&mut self, key: &str, default: Json) -> Option<&mut Json> {
        let Json::Object(entries) = self else {
            return None;
        };
        let index = match entries.iter().position(|(k, _)| k == key) {
            Some(index) => index,
            None => {
                entries.push((key.to_string(), default));
                entries.len() - 1
            }
        };
        Some(&mut entries[index].1)
    }

    /// What the value is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses a settings file. Blank text is an empty object (a file just created).
pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
    if text.trim().is_empty() {
        return Ok(Json::Object(Vec::new()));
    }
    serde_json::from_str(text)
}

/// Renders `value` pretty-printed with the indentation `original` used (two spaces for a
/// new file) and a final newline when `original` had one or was empty.
pub fn render(value: &Json, original: &str) -> String {
    let indent = indentation(original);
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing an in-memory value into a Vec cannot fail.
    let _ = value.serialize(&mut serializer);
    let mut text = String::from_utf8(out).unwrap_or_default();
    if original.is_empty() || original.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The leading whitespace of the first indented line, else two spaces.
fn indentation(text: &str) -> String {
    text.lines()
        .skip(1)
        .map(|line| {
            let trimmed = line.trim_start_matches([' ', '\t']);
            &line[..line.len() - trimmed.len()]
        })
        .find(|indent| !indent.is_empty())
        .unwrap_or("  ")
        .to_string()
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips_unchanged() {
        let text = "{\n    \"zeta\": 1,\n    \"alpha\": [true, null, 2.5, \"x\"],\n    \"mid\": {\n        \"b\": {},\n        \"a\": []\n    }\n}\n";
        let value = parse(text).unwrap();
        let expected = "{\n    \"zeta\": 1,\n    \"alpha\": [\n        true,\n        null,\n        2.5,\n        \"x\"\n    ],\n    \"mid\": {\n        \"b\": {},\n        \"a\": []\n    }\n}\n";
        assert_eq!(render(&value, text), expected);
        // Claude's own style (two spaces, arrays one item a line) comes back byte for byte.
        assert_eq!(render(&parse(expected).unwrap(), expected), expected);
    }

    #[test]
    fn entry_appends_missing_keys_at_the_end() {
        let mut value = parse(r#"{"b": 1, "a": 2}"#).unwrap();
        value.entry("c", Json::Null);
        value.entry("a", Json::Null);
        assert_eq!(
            render(&value, ""),
            "{\n  \"b\": 1,\n  \"a\": 2,\n  \"c\": null\n}\n"
        );
        assert!(Json::Null.clone().entry("x", Json::Null).is_none());
    }

    #[test]
    fn blank_is_an_empty_object_and_garbage_is_an_error() {
        assert_eq!(parse(" \n").unwrap(), Json::Object(Vec::new()));
        assert!(parse("{ // comment\n}").is_err());
    }
}
