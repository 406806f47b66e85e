//! The house rules of the source tree, checked so they stay true as it grows: every file
//! says what it is for (`//!`), the registry is the only code that speaks SQL, and the
//! registry never reaches tmux, the broker or anything else that waits on a pane — so no
//! keystroke or tmux call can happen while a registry transaction is open (and no code
//! outside the registry opens one with `Registry::write`; tests seed rows with it).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} source files", files.len());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read source");
            let name = path
                .strip_prefix(root)
                .expect("under the crate")
                .to_string_lossy()
                .into_owned();
            (name, text)
        })
        .collect()
}

/// The lines of `text` that are code, not comments.
fn code(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line))
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
}

#[test]
fn every_source_file_begins_with_a_module_doc() {
    let missing: Vec<String> = all()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "no `//!` paragraph at the top of: {missing:?}"
    );
}

#[test]
fn only_the_registry_speaks_sql() {
    let mut found = Vec::new();
    for (name, text) in all() {
        if name.starts_with("src/registry/") {
            continue;
        }
        for (n, line) in code(&text) {
            if ["rusqlite", "postgres::"].iter().any(|w| line.contains(w)) {
                found.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a SQL engine used outside src/registry:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_registry_opens_a_transaction() {
    let mut found = Vec::new();
    for (name, text) in all() {
        if name.starts_with("src/registry/") {
            continue;
        }
        for (n, line) in code(&text) {
            if line.contains(".write(|") || line.contains(".write(move |") {
                found.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a registry transaction opened outside src/registry, where it could wait on a pane:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_registry_never_reaches_a_pane() {
    let mut found = Vec::new();
    for (name, text) in all() {
        if !name.starts_with("src/registry/") {
            continue;
        }
        for (n, line) in code(&text) {
            let modules = [
                "tmux", "broker", "courier", "apply", "monitor", "web", "backend",
            ];
            // `crate::tmux::…`, and a grouped `use crate::{…, tmux, …}`.
            let grouped = line.contains("crate::{");
            let reaches = modules.iter().any(|m| {
                line.contains(&format!("crate::{m}"))
                    || (grouped
                        && line
                            .split(|c: char| !c.is_alphanumeric() && c != '_')
                            .any(|word| word == *m))
            });
            if reaches {
                found.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the registry uses code that types into or waits on panes:\n{}",
        found.join("\n")
    );
}
