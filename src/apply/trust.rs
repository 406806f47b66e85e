//! Headless gates: pre-trusting a fleet's folders so neither claude nor codex stops at
//! its "do you trust this folder?" question in a run nobody watches (`[fleet] trust =
//! true`, `up --trust`, `run --trust`).
//!
//! Only the trust keys are written: claude's `projects[PATH].hasTrustDialogAccepted =
//! true` in `~/.claude.json` (`$CLAUDE_CONFIG_DIR/.claude.json` when set), codex's
//! `[projects."PATH"] trust_level = "trusted"` in `~/.codex/config.toml` (`$CODEX_HOME`
//! when set). The codex file is edited with `toml_edit`, so the rest of it — comments,
//! order, spacing — stays byte for byte; claude's file is JSON that claude itself
//! rewrites all the time, so its keys and values are kept but not its key order. A file
//! already saying so is not touched. Every write goes to a temp file created exclusively
//! in the same folder, with the old file's permissions, then renamed over the original.

use std::io::Write;
use std::path::{Path, PathBuf};

use camino::Utf8Path;

use crate::error::{Error, Result};
use crate::manifest::{BackendName, Fleet};

/// What [`trust_fleet`] changed: one line per file written.
pub fn trust_fleet(fleet: &Fleet) -> Result<Vec<String>> {
    let mut claude: Vec<&Utf8Path> = Vec::new();
    let mut codex: Vec<&Utf8Path> = Vec::new();
    for agent in &fleet.agents {
        let list = match agent.spec.backend {
            BackendName::Claude => &mut claude,
            BackendName::Codex => &mut codex,
            _ => continue,
        };
        if !list.contains(&agent.spec.cwd.as_path()) {
            list.push(&agent.spec.cwd);
        }
    }
    let mut done = Vec::new();
    if !claude.is_empty() {
        let path = claude_file()?;
        if trust_claude(&path, &claude)? {
            done.push(format!(
                "trusted {} folder(s) for claude in {}",
                claude.len(),
                path.display()
            ));
        }
    }
    if !codex.is_empty() {
        let path = codex_file()?;
        if trust_codex(&path, &codex)? {
            done.push(format!(
                "trusted {} folder(s) for codex in {}",
                codex.len(),
                path.display()
            ));
        }
    }
    Ok(done)
}

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::failure(
                "HOME is not set: cannot find the agents' settings to trust the fleet's folders",
            )
        })
}

fn claude_file() -> Result<PathBuf> {
    match std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir).join(".claude.json")),
        None => Ok(home()?.join(".claude.json")),
    }
}

fn codex_file() -> Result<PathBuf> {
    match std::env::var_os("CODEX_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir).join("config.toml")),
        None => Ok(home()?.join(".codex").join("config.toml")),
    }
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::failure(format!(
            "cannot read `{}`: {err}",
            path.display()
        ))),
    }
}

/// Sets `projects[dir].hasTrustDialogAccepted = true` for each dir; whether it wrote.
pub fn trust_claude(path: &Path, dirs: &[&Utf8Path]) -> Result<bool> {
    let text = read(path)?;
    let mut root: serde_json::Value = match text.as_deref() {
        None => serde_json::json!({}),
        Some(t) if t.trim().is_empty() => serde_json::json!({}),
        Some(t) => serde_json::from_str(t).map_err(|err| {
            Error::failure(format!("`{}` is not valid JSON: {err}", path.display())).hint(
                "fix or remove the file, or trust the folders by answering claude once by hand",
            )
        })?,
    };
    let Some(object) = root.as_object_mut() else {
        return Err(Error::failure(format!(
            "`{}` is not a JSON object",
            path.display()
        )));
    };
    let projects = object
        .entry("projects")
        .or_insert_with(|| serde_json::json!({}));
    let Some(projects) = projects.as_object_mut() else {
        return Err(Error::failure(format!(
            "`projects` in `{}` is not an object",
            path.display()
        )));
    };
    let mut changed = false;
    for dir in dirs {
        let project = projects
            .entry(dir.to_string())
            .or_insert_with(|| serde_json::json!({}));
        let Some(project) = project.as_object_mut() else {
            continue;
        };
        if project.get("hasTrustDialogAccepted") != Some(&serde_json::Value::Bool(true)) {
            project.insert(
                "hasTrustDialogAccepted".into(),
                serde_json::Value::Bool(true),
            );
            changed = true;
        }
    }
    if !changed {
        return Ok(false);
    }
    let mut out = serde_json::to_string_pretty(&root)
        .map_err(|err| Error::failure(format!("cannot encode JSON: {err}")))?;
    out.push('\n');
    write_atomically(path, out.as_bytes())?;
    Ok(true)
}

/// Sets `[projects."DIR"] trust_level = "trusted"` for each dir; whether it wrote.
pub fn trust_codex(path: &Path, dirs: &[&Utf8Path]) -> Result<bool> {
    let text = read(path)?.unwrap_or_default();
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|err| {
        Error::failure(format!("`{}` is not valid TOML: {err}", path.display()))
            .hint("fix it, or trust the folders by answering codex once by hand")
    })?;
    let mut changed = false;
    for dir in dirs {
        if doc
            .get("projects")
            .and_then(|p| p.get(dir.as_str()))
            .and_then(|p| p.get("trust_level"))
            .and_then(|v| v.as_str())
            == Some("trusted")
        {
            continue;
        }
        let projects = doc.entry("projects").or_insert_with(|| {
            let mut table = toml_edit::Table::new();
            table.set_implicit(true);
            toml_edit::Item::Table(table)
        });
        let Some(projects) = projects.as_table_like_mut() else {
            return Err(Error::failure(format!(
                "`projects` in `{}` is not a table",
                path.display()
            )));
        };
        let project = projects
            .entry(dir.as_str())
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        let Some(project) = project.as_table_like_mut() else {
            return Err(Error::failure(format!(
                "`projects.\"{dir}\"` in `{}` is not a table",
                path.display()
            )));
        };
        project.insert("trust_level", toml_edit::value("trusted"));
        changed = true;
    }
    if !changed {
        return Ok(false);
    }
    write_atomically(path, doc.to_string().as_bytes())?;
    Ok(true)
}

/// Writes `bytes` to `path` through an exclusively created temp file in the same folder
/// (with the old file's permissions, else 0600) and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail =
        |err: std::io::Error| Error::failure(format!("cannot write `{}`: {err}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(
            ".{name}.cafleet-{}-{attempt}.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1
            }
            Err(err) => return Err(fail(err)),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(err));
    }
    Ok(())
}

/// The `env_from` names that are not set in this process's environment.
pub fn missing_env(fleet: &Fleet) -> Vec<String> {
    fleet
        .env_from
        .iter()
        .filter(|name| std::env::var_os(name.as_str()).is_none())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_trust_keeps_the_rest_of_the_file_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let original = "# my settings\nmodel = \"o3\"   # keep\n\n[projects.\"/old\"]\ntrust_level = \"trusted\"\n\n[tui]\nx = 1\n";
        std::fs::write(&path, original).unwrap();
        let work = Utf8Path::new("/w/a b");
        assert!(trust_codex(&path, &[work, Utf8Path::new("/old")]).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        // Only the new table is added (next to its sibling); every other byte stays.
        let added = "[projects.\"/w/a b\"]\ntrust_level = \"trusted\"\n\n";
        assert_eq!(text.replacen(added, "", 1), original, "{text}");
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(
            parsed["projects"]["/w/a b"]["trust_level"].as_str(),
            Some("trusted")
        );
        // Already trusted: nothing written.
        assert!(!trust_codex(&path, &[work]).unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn claude_trust_sets_only_the_trust_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude.json");
        std::fs::write(
            &path,
            r#"{"hasCompletedOnboarding":true,"projects":{"/w":{"allowedTools":["x"]}}}"#,
        )
        .unwrap();
        assert!(trust_claude(&path, &[Utf8Path::new("/w")]).unwrap());
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["hasCompletedOnboarding"], true);
        assert_eq!(value["projects"]["/w"]["allowedTools"][0], "x");
        assert_eq!(value["projects"]["/w"]["hasTrustDialogAccepted"], true);
        assert!(!trust_claude(&path, &[Utf8Path::new("/w")]).unwrap());
        // No file yet: created with only the key.
        let fresh = dir.path().join("new.json");
        assert!(trust_claude(&fresh, &[Utf8Path::new("/x")]).unwrap());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
