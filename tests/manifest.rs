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

/// The invalid files the schema cannot refuse, each with why: what they get wrong
/// depends on more than the one value (another key, another table, the file system or
/// the rendered template), or they are not TOML at all.
const SCHEMA_EXEMPT: [(&str, &str); 18] = [
    ("syntax.toml", "not TOML: there is no document to validate"),
    (
        "command-on-other-backend.toml",
        "`command` depends on the backend",
    ),
    (
        "command-without-command.toml",
        "`command` depends on the backend",
    ),
    ("depends-on-cycle.toml", "a cycle spans several members"),
    (
        "depends-on-missing.toml",
        "`depends_on` must name another member",
    ),
    (
        "duplicate-after-replicas.toml",
        "names collide across members after `replicas`",
    ),
    (
        "effort-rejected-by-backend.toml",
        "the efforts depend on the backend",
    ),
    ("effort-value.toml", "the efforts depend on the backend"),
    (
        "fake-options-on-claude.toml",
        "`fake` depends on the backend",
    ),
    ("missing-cwd.toml", "the folder must exist"),
    ("missing-prompt-file.toml", "the prompt file must exist"),
    ("no-backend.toml", "`backend` may come from [defaults]"),
    (
        "opencode-model.toml",
        "the model's form depends on the backend",
    ),
    (
        "prompt-and-prompt-file.toml",
        "two keys that exclude each other",
    ),
    ("template-file-error.toml", "the template in a prompt file"),
    ("template-syntax.toml", "the template is rendered"),
    ("template-that-recurses.toml", "the template is rendered"),
    ("undefined-variable.toml", "the template is rendered"),
];

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/fleet.schema.json"),
    )
    .expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// A fleet file as the JSON document an editor validates.
fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read");
    toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn every_per_key_mistake_config_check_reports_the_schema_refuses_too() {
    let validator = schema_validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/invalid");
    let mut checked = 0;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("invalid/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        names.push(name.clone());
        if SCHEMA_EXEMPT.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&path))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            !errors.is_empty(),
            "{name}: config check refuses it, the schema accepts it"
        );
        checked += 1;
    }
    for (name, _) in SCHEMA_EXEMPT {
        assert!(
            names.iter().any(|n| n == name),
            "{name} is listed but missing"
        );
    }
    assert!(
        checked >= 12,
        "only {checked} files checked against the schema"
    );
}

#[test]
fn the_schema_refuses_what_the_issue_found_taplo_accepting() {
    let validator = schema_validator();
    let base = |fleet: &str, member: &str| {
        format!(
            "version = 1\n[fleet]\nname = \"t\"\n{fleet}\n[defaults]\nbackend = \"fake\"\n[director]\n[monitor]\n[[member]]\nname = \"a\"\n{member}\n"
        )
    };
    let good = base("", "");
    let doc: serde_json::Value = toml::from_str(&good).expect("toml");
    assert!(validator.is_valid(&doc), "{good}");
    for (fleet, member) in [
        ("", "replicas = 0"),
        ("panes_per_window = 0", ""),
        ("layout = \"grid\"", ""),
        ("socket = \"a/b\"", ""),
        ("", "restart_window = \"banana\""),
        ("", "depends_on = [\"Bad Name\"]"),
        ("", "env = { CAFLEET_FLEET = \"x\" }"),
    ] {
        let text = base(fleet, member);
        let doc: serde_json::Value = toml::from_str(&text).expect("toml");
        assert!(!validator.is_valid(&doc), "the schema accepts:\n{text}");
    }
    for text in [
        good.replace("name = \"t\"", "name = \"Bad Name!\""),
        good.replace("name = \"a\"", "name = \"Also Bad\""),
        good.replace("name = \"a\"", "name = \"operator\""),
        good.replace("[monitor]", "[monitor]\ninterval = \"banana\""),
        good.replace("[monitor]", "[monitor]\nloop = \"cron\""),
    ] {
        let doc: serde_json::Value = toml::from_str(&text).expect("toml");
        assert!(!validator.is_valid(&doc), "the schema accepts:\n{text}");
    }
}

#[test]
fn every_example_is_valid_by_the_schema() {
    let validator = schema_validator();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for path in [
        examples.join("fake.toml"),
        examples.join("ping-pong.toml"),
        examples.join("mixed.toml"),
        examples.join("rehearsal/fleet.toml"),
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&path))
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn an_invalid_member_name_hides_none_of_its_other_problems() {
    let home = tmp();
    let dir = tmp();
    let file = dir.path().join("fleet.toml");
    std::fs::write(
        &file,
        "version = 1\n[fleet]\nname = \"t\"\n[defaults]\nbackend = \"fake\"\n[director]\n[[member]]\nname = \"Also Bad\"\nreplicas = 0\ndepends_on = [\"ghost\"]\n[[member]]\nname = \"all\"\ndepends_on = [\"nobody\"]\n",
    )
    .expect("write");
    let output = cafleet(home.path())
        .args(["config", "check"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for problem in [
        "invalid member name `Also Bad`",
        "replicas must be between 1 and 64, not 0",
        "depends on unknown member `ghost`",
        "`all` is a reserved name",
        "depends on unknown member `nobody`",
    ] {
        assert!(stderr.contains(problem), "missing `{problem}`:\n{stderr}");
    }
}

/// The first fenced block of `lang` after `heading` in the README.
fn readme_block(heading: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let after = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no `{heading}`"))
        .1;
    let start = after
        .split_once(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("no {lang} block after {heading}"))
        .1;
    start.split_once("```").expect("closed block").0.to_string()
}

#[test]
fn the_readme_fleet_file_runs_as_written() {
    let home = tmp();
    let dir = tmp();
    let fleet = readme_block("## The fleet file", "toml");
    assert!(
        fleet.starts_with("#:schema ./fleet.schema.json\n"),
        "{fleet}"
    );
    std::fs::write(dir.path().join("fleet.toml"), &fleet).expect("write");
    std::fs::create_dir_all(dir.path().join("prompts")).expect("mkdir");
    std::fs::write(
        dir.path().join("prompts/coder.md.hbs"),
        readme_block("## The fleet file", "handlebars"),
    )
    .expect("write prompt");
    let schema = cafleet(home.path()).arg("schema").output().expect("run");
    std::fs::write(dir.path().join("fleet.schema.json"), &schema.stdout).expect("write schema");
    let output = cafleet(home.path())
        .current_dir(dir.path())
        .args(["config", "check"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", transcript(&output));
    let errors: Vec<String> = schema_validator()
        .iter_errors(&as_json(&dir.path().join("fleet.toml")))
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_monitor_with_loop_cafleet_is_told_the_loop_runs() {
    let home = tmp();
    let dir = tmp();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, "version = 1\n[fleet]\nname = \"m\"\n[defaults]\nbackend = \"fake\"\n[director]\n[monitor]\nloop = \"cafleet\"\n").expect("write");
    let fleet = show_json(home.path(), &file);
    assert_eq!(fleet["monitor"]["loop"], "cafleet", "{fleet}");
    let monitor = fleet["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .find(|a| a["role"] == "monitor")
        .expect("monitor")
        .clone();
    let prompt = monitor["spec"]["prompt"].as_str().unwrap_or_default();
    assert!(prompt.contains("do not start another"), "{prompt}");
}
