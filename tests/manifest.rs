//! The fleet file through the real binary: every mistake in tests/manifests/invalid is
//! pinned by a snapshot of its exact message; hashes are stable; examples validate; the
//! committed schema matches the code.

mod common;

use std::path::Path;

use common::{cafleet, transcript};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn invalid_manifests_are_reported_with_their_line() {
    let home = tmp();
    insta::glob!("manifests/invalid/*.toml", |path| {
        let dir = path.parent().expect("parent");
        let name = path.file_name().expect("file name");
        let output = cafleet(home.path())
            .current_dir(dir)
            .arg("config")
            .arg("check")
            .arg(name)
            .output()
            .expect("run cafleet");
        assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("error:") && stderr.contains("hint:"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        insta::assert_snapshot!(transcript(&output));
    });
}

fn show_json(home: &Path, file: &Path) -> serde_json::Value {
    let output = cafleet(home)
        .args(["config", "show", "--json"])
        .arg(file)
        .output()
        .expect("run cafleet");
    assert!(output.status.success(), "{}", transcript(&output));
    serde_json::from_slice(&output.stdout).expect("json")
}

fn hashes(value: &serde_json::Value) -> Vec<(String, String)> {
    value["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["hash"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

const HASH_FLEET: &str = r#"version = 1
[fleet]
name = "h"
[defaults]
backend = "fake"
[director]
prompt = "Lead {{fleet.name}}: {{#each members}}{{name}} {{/each}}"
[[member]]
name = "api"
model = "small"
[[member]]
name = "web"
model = "small"
"#;

#[test]
fn config_hash_is_stable_and_local_to_the_changed_member() {
    let home = tmp();
    let dir = tmp();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, HASH_FLEET).expect("write");
    let first = hashes(&show_json(home.path(), &file));
    let second = hashes(&show_json(home.path(), &file));
    assert_eq!(first, second, "same file, same hashes");
    assert_eq!(first.len(), 3);

    let changed = HASH_FLEET.replacen(
        "name = \"web\"\nmodel = \"small\"",
        "name = \"web\"\nmodel = \"large\"",
        1,
    );
    assert_ne!(changed, HASH_FLEET);
    std::fs::write(&file, changed).expect("write");
    let third = hashes(&show_json(home.path(), &file));
    for ((name, before), (_, after)) in first.iter().zip(&third) {
        if name == "web" {
            assert_ne!(before, after, "web's model changed");
        } else {
            assert_eq!(before, after, "{name} did not change");
        }
    }
}

#[test]
fn every_example_passes_config_check() {
    let home = tmp();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            count += 1;
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(
                text.starts_with("#:schema ../schemas/fleet.schema.json"),
                "{} lacks the #:schema line",
                path.display()
            );
            let output = cafleet(home.path())
                .args(["config", "check"])
                .arg(&path)
                .output()
                .expect("run");
            assert!(
                output.status.success(),
                "{}: {}",
                path.display(),
                transcript(&output)
            );
        }
    }
    assert!(
        count >= 3,
        "expected at least three examples, found {count}"
    );
}

#[test]
fn committed_schema_matches_the_code() {
    let home = tmp();
    let output = cafleet(home.path()).arg("schema").output().expect("run");
    assert!(output.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/fleet.schema.json"),
    )
    .expect("schema file");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        committed,
        "schemas/fleet.schema.json is stale: run `cargo run -- schema > schemas/fleet.schema.json`"
    );
}

#[test]
fn config_show_prints_argv_and_rendered_prompt() {
    let home = tmp();
    let dir = tmp();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, HASH_FLEET).expect("write");
    let output = cafleet(home.path())
        .args(["config", "show"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", transcript(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("| Lead h: api web "), "{stdout}");
    assert!(
        stdout.contains("argv: cafleet agent fake --name api"),
        "{stdout}"
    );
}

#[test]
fn a_monitor_without_a_prompt_is_told_to_start_the_loop() {
    let home = tmp();
    let dir = tmp();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, "version = 1\n[fleet]\nname = \"m\"\n[defaults]\nbackend = \"fake\"\n[director]\n[monitor]\n").expect("write");
    let fleet = show_json(home.path(), &file);
    let monitor = fleet["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["role"] == "monitor")
        .expect("monitor")
        .clone();
    let prompt = monitor["spec"]["prompt"].as_str().unwrap_or_default();
    assert!(prompt.contains("cafleet monitor start"), "{prompt}");
    assert!(
        prompt.contains("the monitoring member of the m team"),
        "{prompt}"
    );
}
