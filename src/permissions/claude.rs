//! Claude Code's user settings (`settings.json`): the rules in `permissions.allow` that
//! let a session the user started run `cafleet` and load the bundled skills without a
//! permission prompt. Members get the same `Bash` rule as `--allowedTools`.

use camino::Utf8Path;

use super::cannot_edit;
use super::json::{self, Json};
use crate::error::Result;

/// The rules added to `permissions.allow`, in order.
pub fn rules() -> Vec<String> {
    let mut rules = vec![crate::backend::CLAUDE_ALLOWED.to_string()];
    rules.extend(
        crate::skills::SKILLS
            .iter()
            .map(|skill| format!("Skill({})", skill.name)),
    );
    rules
}

/// `text` with the missing rules appended to `permissions.allow`, and those rules; `None`
/// when nothing is missing.
pub fn edit(path: &Utf8Path, text: &str) -> Result<Option<(String, Vec<String>)>> {
    let rules = rules();
    let by_hand = format!(
        "\"permissions\": {{\"allow\": [{}]}}",
        rules
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut value =
        json::parse(text).map_err(|err| cannot_edit(path, format!("not JSON: {err}"), &by_hand))?;
    let kind = value.kind();
    let Some(permissions) = value.entry("permissions", Json::Object(Vec::new())) else {
        return Err(cannot_edit(
            path,
            format!("it holds {kind}, not an object"),
            &by_hand,
        ));
    };
    let kind = permissions.kind();
    let Some(allow) = permissions.entry("allow", Json::Array(Vec::new())) else {
        return Err(cannot_edit(
            path,
            format!("`permissions` is {kind}"),
            &by_hand,
        ));
    };
    let Json::Array(items) = allow else {
        let kind = allow.kind();
        return Err(cannot_edit(
            path,
            format!("`permissions.allow` is {kind}"),
            &by_hand,
        ));
    };
    let mut added = Vec::new();
    for rule in rules {
        let rule = Json::String(rule);
        if !items.contains(&rule) {
            if let Json::String(text) = &rule {
                added.push(text.clone());
            }
            items.push(rule);
        }
    }
    if added.is_empty() {
        return Ok(None);
    }
    Ok(Some((json::render(&value, text), added)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Utf8Path {
        Utf8Path::new("/h/.claude/settings.json")
    }

    #[test]
    fn adds_the_rules_after_the_users_own_and_keeps_the_rest() {
        let text = "{\n  \"model\": \"opus\",\n  \"permissions\": {\n    \"allow\": [\n      \"Bash(git:*)\"\n    ],\n    \"deny\": []\n  },\n  \"env\": {\n    \"A\": \"1\"\n  }\n}\n";
        let (after, added) = edit(path(), text).unwrap().unwrap();
        assert_eq!(added, rules());
        let expected_allow: String = rules()
            .iter()
            .map(|r| format!(",\n      \"{r}\""))
            .collect();
        let expected = format!(
            "{{\n  \"model\": \"opus\",\n  \"permissions\": {{\n    \"allow\": [\n      \"Bash(git:*)\"{expected_allow}\n    ],\n    \"deny\": []\n  }},\n  \"env\": {{\n    \"A\": \"1\"\n  }}\n}}\n"
        );
        assert_eq!(after, expected);
        assert!(after.contains("\"Bash(cafleet:*)\""));
        assert!(after.contains("\"Skill(cafleet)\""));
        assert_eq!(edit(path(), &after).unwrap(), None, "second run");
    }

    #[test]
    fn a_missing_file_gets_only_the_rules() {
        let (after, _) = edit(path(), "").unwrap().unwrap();
        let value: serde_json::Value = serde_json::from_str(&after).unwrap();
        assert_eq!(value["permissions"]["allow"][0], "Bash(cafleet:*)");
        assert_eq!(value.as_object().unwrap().len(), 1);
    }

    #[test]
    fn what_it_cannot_edit_is_an_error_with_the_lines_to_add() {
        for bad in [
            "[1]",
            "{\"permissions\": 3}",
            "{\"permissions\": {\"allow\": \"x\"}}",
            "{,",
        ] {
            let err = edit(path(), bad).unwrap_err();
            assert!(
                err.message.starts_with("cannot edit"),
                "{bad}: {}",
                err.message
            );
            assert!(err.hints[0].contains("Bash(cafleet:*)"), "{bad}");
        }
    }
}
