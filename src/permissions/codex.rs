//! Codex's user config (`config.toml`): what a codex session the user started needs to
//! run `cafleet` in its `workspace-write` sandbox. Members get the same with `-c` at
//! launch (`crate::backend`, `crate::apply::launch`):
//! - `sandbox_workspace_write.writable_roots` holds the registry's folder, so `cafleet
//!   message send` can write the registry, its WAL and lock files;
//! - `allow_login_shell = false`, so the shell tool does not run a login shell, whose
//!   `/etc/profile` resets PATH and loses a `cafleet` found through the session's PATH.
//!
//! The network stays closed (`network_access` is not set): opening it would let every
//! command of the session reach the network.

use camino::Utf8Path;
use toml_edit::{Array, DocumentMut, Item};

use super::cannot_edit;
use crate::error::Result;

/// `text` with the missing settings added, and what was added; `None` when nothing is
/// missing. `folder` is the registry's folder.
pub fn edit(
    path: &Utf8Path,
    text: &str,
    folder: &Utf8Path,
) -> Result<Option<(String, Vec<String>)>> {
    let by_hand = format!(
        "allow_login_shell = false (at the top) and, under [sandbox_workspace_write], \
         writable_roots = [\"{folder}\"]"
    );
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|err| cannot_edit(path, format!("not TOML: {err}"), &by_hand))?;
    let mut added = Vec::new();
    if doc.get("allow_login_shell").and_then(Item::as_bool) != Some(false) {
        doc["allow_login_shell"] = toml_edit::value(false);
        added.push("allow_login_shell = false".to_string());
    }
    let sandbox = doc
        .entry("sandbox_workspace_write")
        .or_insert_with(toml_edit::table);
    let Some(sandbox) = sandbox.as_table_like_mut() else {
        return Err(cannot_edit(
            path,
            "`sandbox_workspace_write` is not a table",
            &by_hand,
        ));
    };
    let roots = sandbox
        .entry("writable_roots")
        .or_insert(toml_edit::value(Array::new()));
    let Some(roots) = roots.as_array_mut() else {
        return Err(cannot_edit(
            path,
            "`sandbox_workspace_write.writable_roots` is not an array",
            &by_hand,
        ));
    };
    if !roots.iter().any(|v| v.as_str() == Some(folder.as_str())) {
        roots.push(folder.as_str());
        added.push(format!(
            "sandbox_workspace_write.writable_roots += \"{folder}\""
        ));
    }
    if added.is_empty() {
        return Ok(None);
    }
    Ok(Some((doc.to_string(), added)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Option<(String, Vec<String>)> {
        edit(
            Utf8Path::new("/h/.codex/config.toml"),
            text,
            Utf8Path::new("/h/.local/share/cafleet"),
        )
        .unwrap()
    }

    #[test]
    fn adds_both_settings_and_keeps_the_file_byte_for_byte() {
        let text = "# mine\nmodel = \"o3\"   # keep this\n\n[projects.\"/w\"]\ntrust_level = \"trusted\"\n";
        let (after, added) = run(text).unwrap();
        assert_eq!(
            after,
            "# mine\nmodel = \"o3\"   # keep this\nallow_login_shell = false\n\n[projects.\"/w\"]\ntrust_level = \"trusted\"\n\n[sandbox_workspace_write]\nwritable_roots = [\"/h/.local/share/cafleet\"]\n"
        );
        assert_eq!(added.len(), 2);
        assert_eq!(run(&after), None, "second run");
    }

    #[test]
    fn appends_to_the_users_roots_and_turns_a_login_shell_off() {
        let text = "allow_login_shell = true\n[sandbox_workspace_write]\nwritable_roots = [\"/data\"]\nnetwork_access = false\n";
        let (after, added) = run(text).unwrap();
        assert_eq!(
            after,
            "allow_login_shell = false\n[sandbox_workspace_write]\nwritable_roots = [\"/data\", \"/h/.local/share/cafleet\"]\nnetwork_access = false\n"
        );
        assert_eq!(added.len(), 2);
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for bad in [
            "sandbox_workspace_write = 1\n",
            "[sandbox_workspace_write]\nwritable_roots = \"/x\"\n",
            "= broken",
        ] {
            let err = edit(Utf8Path::new("/c.toml"), bad, Utf8Path::new("/r")).unwrap_err();
            assert!(err.hints[0].contains("writable_roots = [\"/r\"]"), "{bad}");
        }
    }
}
