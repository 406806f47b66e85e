//! `cafleet init`: the starter it writes checks, validates against the schema it writes
//! beside it, plans, and is never written over an existing file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Harness, cafleet, transcript};

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).expect("under dir");
                out.push((
                    name.to_string_lossy().into_owned(),
                    std::fs::read(&path).expect("read"),
                ));
            }
        }
    }
    out.sort();
    out
}

/// A folder of executables named `names` that only exit 0, to stand for agents on PATH.
fn fake_agents(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).expect("bin");
    for name in names {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn init_writes_a_team_that_checks_validates_and_plans() {
    let Some(h) = Harness::start() else { return };
    let dir = h.home.path().join("My Team");
    let out = h
        .cmd()
        .args(["init"])
        .arg(&dir)
        .args(["--backend", "fake"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", transcript(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fleet.toml") && stdout.contains("cafleet up"),
        "{stdout}"
    );
    let names: Vec<String> = files_of(&dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "fleet.schema.json",
            "fleet.toml",
            "prompts/coder.md.hbs",
            "prompts/director.md.hbs"
        ]
    );
    let fleet = std::fs::read_to_string(dir.join("fleet.toml")).expect("fleet.toml");
    assert!(
        fleet.starts_with("#:schema ./fleet.schema.json\n"),
        "{fleet}"
    );
    assert!(fleet.contains("name = \"my-team\""), "{fleet}");

    // The schema beside it is the one `cafleet schema` prints, and accepts the file.
    let schema = h.ok(&["schema"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("fleet.schema.json")).expect("schema"),
        schema
    );
    let schema: serde_json::Value = serde_json::from_str(&schema).expect("schema JSON");
    let doc: serde_json::Value = toml::from_str(&fleet).expect("TOML");
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .expect("schema")
        .iter_errors(&doc)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // `config check` from inside the folder, with the default file name.
    let check = h
        .cmd()
        .current_dir(&dir)
        .args(["config", "check"])
        .output()
        .expect("run");
    assert!(check.status.success(), "{}", transcript(&check));
    let plan = h
        .cmd()
        .current_dir(&dir)
        .args(["plan", "--json"])
        .output()
        .expect("run");
    assert_eq!(plan.status.code(), Some(2), "{}", transcript(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let steps: Vec<(&str, &str)> = plan["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default(),
                s["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [("director", "director"), ("coder", "member")],
        "{plan}"
    );
    // And the team comes up.
    h.ok(&["up", &dir.join("fleet.toml").to_string_lossy(), "--wait"]);
    h.ok(&["down", "--fleet", "my-team"]);
}

#[test]
fn init_puts_the_agents_found_on_path_in_the_team() {
    let home = tempfile::tempdir().expect("home");
    let bin = home.path().join("bin");
    fake_agents(&bin, &["codex", "opencode"]);
    let dir = home.path().join("shop");
    let out = cafleet(home.path())
        .env("PATH", &bin)
        .arg("init")
        .arg(&dir)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", transcript(&out));
    let fleet = std::fs::read_to_string(dir.join("fleet.toml")).expect("fleet.toml");
    assert!(
        fleet.contains("Found on PATH: codex, opencode. Not found: claude."),
        "{fleet}"
    );
    assert!(fleet.contains("[defaults]\nbackend = \"codex\""), "{fleet}");
    assert!(fleet.contains("backend = \"opencode\""), "{fleet}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cafleet skill install --agent opencode"),
        "{stdout}"
    );
    let check = cafleet(home.path())
        .args(["config", "check"])
        .arg(dir.join("fleet.toml"))
        .output()
        .expect("run");
    assert!(check.status.success(), "{}", transcript(&check));

    // No agent on PATH: the built-in fake, said in the file.
    let empty = home.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let dir = home.path().join("nothing");
    let out = cafleet(home.path())
        .env("PATH", &empty)
        .arg("init")
        .arg(&dir)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", transcript(&out));
    let fleet = std::fs::read_to_string(dir.join("fleet.toml")).expect("fleet.toml");
    assert!(
        fleet.contains("backend = \"fake\"") && fleet.contains("No claude, codex or opencode"),
        "{fleet}"
    );
}

#[test]
fn init_never_writes_over_a_file() {
    let home = tempfile::tempdir().expect("home");
    let dir = home.path().join("team");
    std::fs::create_dir_all(dir.join("prompts")).expect("mkdir");
    std::fs::write(dir.join("prompts/coder.md.hbs"), "mine").expect("write");
    let out = cafleet(home.path())
        .arg("init")
        .arg(&dir)
        .args(["--backend", "fake"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(stderr.contains("prompts/coder.md.hbs"), "{stderr}");
    // Nothing was written, the existing file kept.
    assert_eq!(
        files_of(&dir),
        [("prompts/coder.md.hbs".to_string(), b"mine".to_vec())]
    );

    // A second init over a first one refuses too.
    let other = home.path().join("other");
    let first = cafleet(home.path())
        .arg("init")
        .arg(&other)
        .args(["--backend", "fake"])
        .output()
        .expect("run");
    assert!(first.status.success(), "{}", transcript(&first));
    let before = files_of(&other);
    let second = cafleet(home.path())
        .arg("init")
        .arg(&other)
        .args(["--backend", "fake"])
        .output()
        .expect("run");
    assert_eq!(second.status.code(), Some(1), "{}", transcript(&second));
    assert_eq!(files_of(&other), before);

    // A bad name is refused before anything is written.
    let bad = cafleet(home.path())
        .arg("init")
        .arg(home.path().join("bad"))
        .args(["--name", "Bad Name"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2), "{}", transcript(&bad));
    assert!(!home.path().join("bad").exists());
}
