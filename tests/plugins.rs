//! cafleet installs into the agents as a plugin, as the Python cafleet did: the Claude Code
//! marketplace and plugin manifests (`.claude-plugin/`), the Codex plugin manifest
//! (`.codex-plugin/plugin.json`) and marketplace (`.agents/plugins/marketplace.json`),
//! and `skills/<name>/SKILL.md`, the layout `gh skill install` reads.
//!
//! The static checks always run. The real `claude` and `codex` CLIs (installed by
//! `tests/agent-clis.sh` into `$CAFLEET_AGENT_CLIS`, default `~/.cache/cafleet/agent-clis`,
//! else found on PATH) then add the repository as a local marketplace, install the plugin
//! and must list every bundled skill — each with a private HOME, offline. Without the CLIs
//! those tests print `skipped: …`; under `CI` they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn json(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path))
        .unwrap_or_else(|err| panic!("read {path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path} is not JSON: {err}"))
}

fn skill_names() -> Vec<&'static str> {
    cafleet::skills::SKILLS.iter().map(|s| s.name).collect()
}

#[test]
fn every_manifest_carries_the_cargo_version() {
    let version = env!("CARGO_PKG_VERSION");
    let claude_plugin = json(".claude-plugin/plugin.json");
    let claude_market = json(".claude-plugin/marketplace.json");
    let codex_plugin = json(".codex-plugin/plugin.json");
    let found = [
        ("claude plugin.json", &claude_plugin["version"]),
        (
            "claude marketplace metadata",
            &claude_market["metadata"]["version"],
        ),
        (
            "claude marketplace entry",
            &claude_market["plugins"][0]["version"],
        ),
        ("codex plugin.json", &codex_plugin["version"]),
    ];
    for (what, value) in found {
        assert_eq!(
            value.as_str(),
            Some(version),
            "{what} must say version {version} like Cargo.toml"
        );
    }
}

#[test]
fn the_manifests_name_one_plugin_cafleet_with_its_skills_at_the_root() {
    let codex_market = json(".agents/plugins/marketplace.json");
    let claude_market = json(".claude-plugin/marketplace.json");
    for market in [&codex_market, &claude_market] {
        assert_eq!(market["name"], "cafleet");
        let plugins = market["plugins"].as_array().expect("plugins array");
        assert_eq!(plugins.len(), 1);
        assert_eq!(plugins[0]["name"], "cafleet");
    }
    // Local sources, so a clone (or a local path) is the whole marketplace.
    assert_eq!(claude_market["plugins"][0]["source"], "./");
    assert_eq!(codex_market["plugins"][0]["source"]["source"], "local");
    assert_eq!(codex_market["plugins"][0]["source"]["path"], "./");
    for manifest in [".claude-plugin/plugin.json", ".codex-plugin/plugin.json"] {
        let plugin = json(manifest);
        assert_eq!(plugin["name"], "cafleet", "{manifest}");
        assert_eq!(plugin["skills"], "./skills/", "{manifest}");
    }
}

/// `gh skill install` (and the plugins) find skills as `skills/<name>/SKILL.md`, with
/// `name` in the front matter equal to the folder and in the Agent Skills name syntax.
#[test]
fn skills_folder_has_the_layout_gh_skill_reads() {
    let mut on_disk = Vec::new();
    for entry in std::fs::read_dir(root().join("skills")).expect("read skills/") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            entry.path().is_dir(),
            "skills/{name} is not a folder: skills/ holds only skill folders"
        );
        let text = std::fs::read_to_string(entry.path().join("SKILL.md"))
            .unwrap_or_else(|err| panic!("skills/{name}/SKILL.md: {err}"));
        let declared = text
            .lines()
            .skip(1)
            .take_while(|l| *l != "---")
            .find_map(|l| l.strip_prefix("name: "))
            .unwrap_or_else(|| panic!("skills/{name}/SKILL.md has no name"));
        assert_eq!(declared, name, "skills/{name}: front matter name");
        assert!(
            name.len() <= 64
                && name.split('-').all(|part| !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
            "skills/{name}: a skill name is lowercase words joined by single hyphens"
        );
        on_disk.push(name);
    }
    on_disk.sort();
    let mut bundled: Vec<String> = skill_names().into_iter().map(String::from).collect();
    bundled.sort();
    assert_eq!(
        on_disk, bundled,
        "the plugin ships exactly the embedded skills"
    );
}

/// The folder holding `program`, or `None` after saying why the test is skipped (a
/// failure under CI).
fn cli_or_skip(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let root = std::env::var_os("CAFLEET_AGENT_CLIS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/cafleet/agent-clis"))
        });
    if let Some(root) = root {
        dirs.push(root.join("node_modules/.bin"));
    }
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let found = dirs
        .into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        let why = format!(
            "`{program}` is not installed (looked in $CAFLEET_AGENT_CLIS/node_modules/.bin, \
             default ~/.cache/cafleet/agent-clis, and PATH; tests/agent-clis.sh installs it)"
        );
        assert!(std::env::var_os("CI").is_none(), "{why}, and CI is set");
        cafleet::tmux::testing::say_skipped(&why);
    }
    found
}

/// A copy of what a clone of the repository holds for the plugins (the source tree's
/// `target/` would be copied too, and is large).
fn marketplace_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for item in [
        ".claude-plugin",
        ".codex-plugin",
        ".agents",
        "skills",
        "presets",
        "README.md",
    ] {
        copy(&root().join(item), &dir.path().join(item));
    }
    dir
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("entry");
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy");
    }
}

/// The CLI with nothing of the caller's agent settings: a private HOME, the caller's PATH
/// (node), and the switches that keep claude from phoning home.
fn agent_cli(program: &Path, home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` with a deadline; panics with its output unless it exits 0.
fn run_ok(mut cmd: Command, what: &str) -> String {
    let child = cmd
        .spawn()
        .unwrap_or_else(|err| panic!("{what}: spawn: {err}"));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output: Output = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.unwrap_or_else(|err| panic!("{what}: wait: {err}")),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{what}: no answer within 120 s");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn claude_code_installs_the_plugin_from_a_local_marketplace() {
    let Some(claude) = cli_or_skip("claude") else {
        return;
    };
    let market = marketplace_copy();
    let home = tempfile::tempdir().expect("home");
    let path = market.path().to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let mut cmd = agent_cli(&claude, home.path(), market.path());
        cmd.args(args);
        run_ok(cmd, &format!("claude {}", args.join(" ")))
    };

    let validated = cli(&["plugin", "validate", "."]);
    assert!(validated.contains("Validation passed"), "{validated}");
    let validated = cli(&["plugin", "validate", ".claude-plugin/plugin.json"]);
    assert!(validated.contains("Validation passed"), "{validated}");

    cli(&["plugin", "marketplace", "add", &path]);
    cli(&["plugin", "install", "cafleet@cafleet"]);
    let listed: Value =
        serde_json::from_str(&cli(&["plugin", "list", "--json"])).expect("plugin list JSON");
    let entry = listed
        .as_array()
        .and_then(|all| all.iter().find(|p| p["id"] == "cafleet@cafleet"))
        .unwrap_or_else(|| panic!("cafleet@cafleet is not installed: {listed}"));
    assert_eq!(entry["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(entry["enabled"], true);

    // "Skills (N)  a, b, c" in the plugin's component inventory.
    let details = cli(&["plugin", "details", "cafleet@cafleet"]);
    let skills_line = details
        .lines()
        .find(|l| l.trim_start().starts_with("Skills ("))
        .unwrap_or_else(|| panic!("no skills in:\n{details}"));
    let (_, names) = skills_line
        .split_once(')')
        .unwrap_or_else(|| panic!("unexpected skills line {skills_line:?}"));
    let mut listed: Vec<&str> = names.split(',').map(str::trim).collect();
    listed.sort();
    let mut expected = skill_names();
    expected.sort();
    assert_eq!(listed, expected, "{details}");
}

#[test]
fn codex_installs_the_plugin_from_a_local_marketplace() {
    let Some(codex) = cli_or_skip("codex") else {
        return;
    };
    let market = marketplace_copy();
    let home = tempfile::tempdir().expect("home");
    let work = tempfile::tempdir().expect("workspace");
    let path = market.path().to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let mut cmd = agent_cli(&codex, home.path(), work.path());
        cmd.args(args);
        run_ok(cmd, &format!("codex {}", args.join(" ")))
    };

    cli(&["plugin", "marketplace", "add", &path]);
    let available = cli(&["plugin", "list"]);
    assert!(
        available
            .lines()
            .any(|l| l.starts_with("cafleet@cafleet") && l.contains("not installed")),
        "{available}"
    );
    cli(&["plugin", "add", "cafleet@cafleet"]);
    let listed: Value =
        serde_json::from_str(&cli(&["plugin", "list", "--json"])).expect("plugin list JSON");
    let entry = listed["installed"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["pluginId"] == "cafleet@cafleet"))
        .unwrap_or_else(|| panic!("cafleet@cafleet is not installed: {listed}"));
    assert_eq!(entry["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(entry["enabled"], true);

    // The skills list codex puts in front of the model names plugin skills
    // `plugin:skill: description`.
    let prompt = cli(&["debug", "prompt-input", "hello"]);
    for name in skill_names() {
        assert!(
            prompt.contains(&format!("cafleet:{name}: ")),
            "codex does not offer the skill {name}"
        );
    }
}
