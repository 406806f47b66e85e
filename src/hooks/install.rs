//! Installing the hooks when an agent starts, without touching the user's own files:
//! - claude: `--settings '{"hooks": …}'` on its command line (Claude Code merges it with
//!   the user's settings); each hook runs `cafleet agent hook claude`, which reads the
//!   event from stdin.
//! - codex: `-c notify=[cafleet, "agent", "hook", "codex"]`; codex runs it at the end of
//!   every turn with the event as its last argument. This replaces a `notify` the user
//!   set in `~/.codex/config.toml` for the agents cafleet starts.
//! - opencode: a plugin file ([`OPENCODE_PLUGIN`]) in cafleet's cache folder, added to
//!   `OPENCODE_CONFIG_CONTENT` (merged with what the user put there) as a `file://`
//!   plugin; it finds this cafleet through `CAFLEET_EXE`.

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::{Value, json};

use crate::backend::BackendName;
use crate::error::{Error, Result};

/// The opencode plugin, written to [`plugin_path`] when it differs.
pub const OPENCODE_PLUGIN: &str = include_str!("opencode-plugin.js");

/// The claude hook events cafleet listens to.
const CLAUDE_EVENTS: [&str; 7] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
];

/// What starting an agent adds to its program: arguments after the program name and
/// environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The hooks for `backend`, calling the cafleet at `exe`; `config_content` is the
/// `OPENCODE_CONFIG_CONTENT` the agent would otherwise get, `plugin` the plugin file.
pub fn additions(
    backend: BackendName,
    exe: &str,
    config_content: Option<&str>,
    plugin: &Utf8Path,
) -> Additions {
    match backend {
        BackendName::Claude => {
            let command = format!("{} agent hook claude", crate::backend::shell_quote(exe));
            let entry =
                json!([{"hooks": [{"type": "command", "command": command, "timeout": 10}]}]);
            let hooks: serde_json::Map<String, Value> = CLAUDE_EVENTS
                .iter()
                .map(|event| ((*event).to_string(), entry.clone()))
                .collect();
            Additions {
                args: vec!["--settings".into(), json!({"hooks": hooks}).to_string()],
                env: Vec::new(),
            }
        }
        BackendName::Codex => {
            // A TOML array of strings; JSON's string syntax is TOML's basic string.
            let notify = json!([exe, "agent", "hook", "codex"]).to_string();
            Additions {
                args: vec!["-c".into(), format!("notify={notify}")],
                env: Vec::new(),
            }
        }
        BackendName::Opencode => {
            let mut config = config_content
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            let spec = Value::String(format!("file://{plugin}"));
            match config.get_mut("plugin").and_then(Value::as_array_mut) {
                Some(list) if !list.contains(&spec) => list.push(spec),
                Some(_) => {}
                None => config["plugin"] = json!([spec]),
            }
            Additions {
                args: Vec::new(),
                env: vec![
                    ("OPENCODE_CONFIG_CONTENT".into(), config.to_string()),
                    ("CAFLEET_EXE".into(), exe.to_string()),
                ],
            }
        }
        BackendName::Fake | BackendName::Command => Additions::default(),
    }
}

/// Where the opencode plugin lives: cafleet's cache folder (`$XDG_CACHE_HOME/cafleet`,
/// else `~/.cache/cafleet`), not beside the registry `db` (used only with no home): a
/// codex agent may write the registry's folder from its sandbox, and a plugin there would
/// run with the opencode agents' rights.
pub fn plugin_path(db: &Utf8Path) -> Utf8PathBuf {
    let var = |name: &str| std::env::var(name).ok().filter(|v| v.starts_with('/'));
    let cache = var("XDG_CACHE_HOME")
        .map(Utf8PathBuf::from)
        .or_else(|| var("HOME").map(|home| Utf8PathBuf::from(home).join(".cache")));
    let folder = match cache {
        Some(cache) => cache.join("cafleet"),
        None if crate::registry::location::is_postgres(db) => Utf8PathBuf::from("."),
        None => db.parent().unwrap_or_else(|| Utf8Path::new(".")).to_owned(),
    };
    folder.join("hooks").join("cafleet-opencode-state.js")
}

/// Writes the opencode plugin to `path` unless it is already there as this cafleet
/// ships it (a temporary file renamed into place, so opencode never loads half a file).
pub fn write_plugin(path: &Utf8Path) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|text| text == OPENCODE_PLUGIN) {
        return Ok(());
    }
    let folder = path.parent().unwrap_or_else(|| Utf8Path::new("."));
    let fail = |err: std::io::Error| {
        Error::failure(format!(
            "cannot write the opencode hook plugin `{path}`: {err}"
        ))
        .hint("the registry's folder must be writable")
    };
    std::fs::create_dir_all(folder).map_err(fail)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cafleet-opencode-state")
        .tempfile_in(folder)
        .map_err(fail)?;
    std::io::Write::write_all(&mut tmp, OPENCODE_PLUGIN.as_bytes()).map_err(fail)?;
    tmp.persist(path).map_err(|err| fail(err.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/opt/my tools/cafleet";

    #[test]
    fn claude_gets_one_settings_argument_with_every_hook() {
        let a = additions(BackendName::Claude, EXE, None, "/r/p.js".into());
        assert_eq!(a.args[0], "--settings");
        let settings: Value = serde_json::from_str(&a.args[1]).expect("json");
        for event in CLAUDE_EVENTS {
            let command = settings["hooks"][event][0]["hooks"][0]["command"]
                .as_str()
                .expect("a command");
            assert_eq!(command, "'/opt/my tools/cafleet' agent hook claude");
        }
    }

    #[test]
    fn codex_gets_a_notify_program_as_toml() {
        let a = additions(BackendName::Codex, EXE, None, "/r/p.js".into());
        assert_eq!(a.args[0], "-c");
        let (key, value) = a.args[1].split_once('=').expect("key=value");
        assert_eq!(key, "notify");
        let parsed: toml::Value = toml::from_str(&format!("v = {value}")).expect("toml");
        assert_eq!(parsed["v"].as_array().expect("array").len(), 4, "{value}");
        assert_eq!(parsed["v"][0].as_str(), Some(EXE));
    }

    #[test]
    fn opencode_keeps_the_users_config_and_adds_the_plugin_once() {
        let user = r#"{"provider": {"x": {"npm": "y"}}, "plugin": ["their-plugin"]}"#;
        let a = additions(
            BackendName::Opencode,
            EXE,
            Some(user),
            "/r/hooks/p.js".into(),
        );
        let content = &a
            .env
            .iter()
            .find(|(k, _)| k == "OPENCODE_CONFIG_CONTENT")
            .expect("set")
            .1;
        let config: Value = serde_json::from_str(content).expect("json");
        assert_eq!(config["provider"]["x"]["npm"], "y");
        assert_eq!(
            config["plugin"],
            json!(["their-plugin", "file:///r/hooks/p.js"])
        );
        let again = additions(
            BackendName::Opencode,
            EXE,
            Some(content),
            "/r/hooks/p.js".into(),
        );
        assert_eq!(&again.env[0].1, content, "added once");
        assert!(a.env.contains(&("CAFLEET_EXE".into(), EXE.into())));
    }

    #[test]
    fn the_plugin_is_written_once_and_atomically() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = Utf8PathBuf::from_path_buf(dir.path().join("hooks/p.js")).expect("utf-8");
        write_plugin(&path).expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            OPENCODE_PLUGIN
        );
        write_plugin(&path).expect("second write");
        let files = std::fs::read_dir(path.parent().expect("folder"))
            .expect("dir")
            .count();
        assert_eq!(files, 1, "no temporary file left");
    }
}
