//! opencode's user config: the `permission` rules that let a session the user started
//! run `cafleet` and load the bundled skills without asking. Members run with the
//! `cafleet` agent preset instead (`presets/opencode/agents/cafleet.md`).
//!
//! opencode evaluates a tool's rules in file order and the last matching one wins, so a
//! rule is appended after the user's own (`"*": "ask"` stays in force for everything
//! else); a tool whose rule is a plain string becomes `{"*": <that>, <ours>}`.

use camino::{Utf8Path, Utf8PathBuf};

use super::cannot_edit;
use super::json::{self, Json};
use crate::error::Result;

/// The first of opencode's global config files that exists (its own order), else
/// `opencode.json`.
pub fn settings_file(base: &Utf8Path) -> Utf8PathBuf {
    ["opencode.jsonc", "opencode.json", "config.json"]
        .iter()
        .map(|name| base.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| base.join("opencode.json"))
}

/// Per tool: the pattern added, and what it must allow.
fn wanted() -> Vec<(&'static str, &'static str, Vec<String>)> {
    vec![
        (
            "bash",
            "cafleet *",
            vec!["cafleet message inbox".into(), "cafleet ps".into()],
        ),
        (
            "skill",
            "cafleet*",
            crate::skills::SKILLS
                .iter()
                .map(|s| s.name.to_string())
                .collect(),
        ),
    ]
}

/// `text` with the missing rules added, and what was added; `None` when every cafleet
/// command and skill is already allowed.
pub fn edit(path: &Utf8Path, text: &str) -> Result<Option<(String, Vec<String>)>> {
    let by_hand =
        r#""permission": {"bash": {"cafleet *": "allow"}, "skill": {"cafleet*": "allow"}}"#;
    let mut value = json::parse(text).map_err(|err| {
        cannot_edit(
            path,
            format!("not plain JSON (cafleet does not rewrite comments): {err}"),
            by_hand,
        )
    })?;
    let kind = value.kind();
    let Some(permission) = value.entry("permission", Json::Object(Vec::new())) else {
        return Err(cannot_edit(path, format!("it holds {kind}"), by_hand));
    };
    let mut added = Vec::new();
    for (tool, pattern, probes) in wanted() {
        let kind = permission.kind();
        let Some(rule) = permission.entry(tool, Json::Object(Vec::new())) else {
            return Err(cannot_edit(
                path,
                format!("`permission` is {kind}"),
                by_hand,
            ));
        };
        let ours = (pattern.to_string(), Json::String("allow".into()));
        match rule {
            Json::String(action) if action == "allow" => continue,
            Json::String(action) => {
                *rule = Json::Object(vec![("*".into(), Json::String(action.clone())), ours]);
            }
            Json::Object(entries) => {
                if probes.iter().all(|probe| allowed(entries, probe)) {
                    continue;
                }
                entries.retain(|(key, _)| key != pattern);
                entries.push(ours);
            }
            other => {
                let kind = other.kind();
                return Err(cannot_edit(
                    path,
                    format!("`permission.{tool}` is {kind}"),
                    by_hand,
                ));
            }
        }
        added.push(format!("permission.{tool}: \"{pattern}\": \"allow\""));
    }
    if added.is_empty() {
        return Ok(None);
    }
    Ok(Some((json::render(&value, text), added)))
}

/// Whether the last rule matching `input` allows it.
fn allowed(rules: &[(String, Json)], input: &str) -> bool {
    rules
        .iter()
        .rev()
        .find(|(pattern, _)| matches(pattern, input))
        .is_some_and(|(_, action)| *action == Json::String("allow".into()))
}

/// opencode's wildcard: `*` any run of characters, `?` one, and a trailing ` *` also
/// matches the bare command.
fn matches(pattern: &str, input: &str) -> bool {
    fn glob(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
        }
    }
    let s: Vec<char> = input.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    glob(&p, &s)
        || pattern
            .strip_suffix(" *")
            .is_some_and(|bare| glob(&bare.chars().collect::<Vec<_>>(), &s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Option<(String, Vec<String>)> {
        edit(Utf8Path::new("/h/.config/opencode/opencode.json"), text).unwrap()
    }

    #[test]
    fn appends_after_the_users_rules_so_ours_win_for_cafleet_only() {
        let text = "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"permission\": {\n    \"bash\": {\n      \"*\": \"ask\",\n      \"git *\": \"allow\"\n    },\n    \"edit\": \"ask\"\n  }\n}\n";
        let (after, added) = run(text).unwrap();
        assert_eq!(
            after,
            "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"permission\": {\n    \"bash\": {\n      \"*\": \"ask\",\n      \"git *\": \"allow\",\n      \"cafleet *\": \"allow\"\n    },\n    \"edit\": \"ask\",\n    \"skill\": {\n      \"cafleet*\": \"allow\"\n    }\n  }\n}\n"
        );
        assert_eq!(added.len(), 2);
        assert_eq!(run(&after), None, "second run");
    }

    #[test]
    fn a_string_rule_keeps_its_meaning_for_everything_else() {
        let (after, _) = run(r#"{"permission": {"bash": "ask", "skill": "allow"}}"#).unwrap();
        let value: serde_json::Value = serde_json::from_str(&after).unwrap();
        assert_eq!(
            value["permission"]["bash"],
            serde_json::json!({"*": "ask", "cafleet *": "allow"})
        );
        assert_eq!(value["permission"]["skill"], "allow");
    }

    #[test]
    fn a_later_deny_is_overridden_by_moving_our_rule_last() {
        let text = r#"{"permission": {"bash": {"cafleet *": "allow", "*": "deny"}, "skill": {"*": "allow"}}}"#;
        let (after, added) = run(text).unwrap();
        assert_eq!(added, ["permission.bash: \"cafleet *\": \"allow\""]);
        assert!(
            after.contains("\"*\": \"deny\",\n      \"cafleet *\": \"allow\""),
            "{after}"
        );
    }

    #[test]
    fn wildcards() {
        assert!(matches("cafleet *", "cafleet ps"));
        assert!(matches("cafleet *", "cafleet"));
        assert!(!matches("cafleet *", "cafleetx ps"));
        assert!(matches("cafleet*", "cafleet-research"));
        assert!(matches("c?fleet", "cafleet"));
    }

    #[test]
    fn jsonc_with_comments_is_left_alone() {
        let err = edit(Utf8Path::new("/o/opencode.jsonc"), "{ // mine\n}").unwrap_err();
        assert!(err.message.contains("comments"), "{}", err.message);
        assert!(err.hints[0].contains("\"cafleet *\": \"allow\""));
    }

    #[test]
    fn the_first_existing_config_file_is_edited() {
        let dir = tempfile::tempdir().unwrap();
        let base = Utf8Path::from_path(dir.path()).unwrap();
        assert_eq!(settings_file(base), base.join("opencode.json"));
        std::fs::write(base.join("config.json"), "{}").unwrap();
        assert_eq!(settings_file(base), base.join("config.json"));
        std::fs::write(base.join("opencode.jsonc"), "{}").unwrap();
        assert_eq!(settings_file(base), base.join("opencode.jsonc"));
    }
}
