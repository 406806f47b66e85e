//! The setup commands run as a real binary: `skill install|list`, `doctor` and
//! `completions`. Every run gets a cleared environment with HOME and the agents' config
//! variables pointing into a temp dir, so the user's real folders are never touched.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use tempfile::TempDir;

/// `cafleet` with nothing from the caller's environment but a PATH to `/bin/sh`.
fn cafleet(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cafleet").unwrap();
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C");
    cmd
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The `key: value` lines between the opening and closing `---`.
fn front_matter(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("---"),
        "{} lacks front matter",
        path.display()
    );
    let mut fields = BTreeMap::new();
    for line in lines {
        if line == "---" {
            return fields;
        }
        if line.starts_with(' ') || line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{}: bad line {line:?}", path.display()));
        fields.insert(key.to_string(), value.trim().to_string());
    }
    panic!("{}: front matter is not closed", path.display());
}

fn assert_skills(skills_dir: &Path) {
    for name in [
        "cafleet",
        "cafleet-design-doc",
        "cafleet-design-doc-interview",
        "cafleet-design-doc-create",
        "cafleet-design-doc-execute",
        "cafleet-research",
    ] {
        let fields = front_matter(&skills_dir.join(name).join("SKILL.md"));
        assert_eq!(fields.get("name").map(String::as_str), Some(name));
        assert!(!fields.get("description").unwrap().is_empty());
    }
    for file in [
        "cafleet/roles/director.md",
        "cafleet/reference/recovery.md",
        "cafleet-design-doc/guidelines.md",
        "cafleet-design-doc-create/roles/drafter.md",
        "cafleet-design-doc-execute/roles/verifier.md",
        "cafleet-research/presentation.md",
    ] {
        assert!(skills_dir.join(file).is_file(), "{file} is not installed");
    }
}

/// Installs twice; the second run must report `unchanged` for every file and leave
/// every modification time alone.
fn install_twice(home: &Path, root: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Vec<PathBuf> {
    let run = |expect: &str| {
        let mut cmd = cafleet(home);
        cmd.args(["skill", "install"]).args(args);
        for (key, value) in envs {
            cmd.env(key, value);
        }
        let out = cmd.assert().success().get_output().stdout.clone();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 3, "{out}");
        for line in &lines[..lines.len() - 1] {
            assert!(line.starts_with(expect), "expected `{expect}`: {out}");
        }
        out
    };
    run("wrote");
    let files = files_under(root);
    assert!(!files.is_empty());
    // Backdate every file so a rewrite, however fast, would show.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for file in &files {
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let second = run("unchanged");
    assert!(second.contains("nothing changed"), "{second}");
    for file in &files {
        let mtime = file.metadata().unwrap().modified().unwrap();
        assert_eq!(mtime, old, "{} was rewritten", file.display());
    }
    assert_eq!(files_under(root), files, "the second run added files");
    files
}

#[test]
fn install_for_claude_into_home() {
    let home = TempDir::new().unwrap();
    install_twice(home.path(), home.path(), &["--agent", "claude"], &[]);
    assert_skills(&home.path().join(".claude/skills"));
}

#[test]
fn install_for_codex_respects_codex_home() {
    let home = TempDir::new().unwrap();
    let codex_home = home.path().join("codex-home");
    let files = install_twice(
        home.path(),
        home.path(),
        &["--agent", "codex"],
        &[("CODEX_HOME", &codex_home)],
    );
    assert!(files.iter().all(|f| f.starts_with(&codex_home)));
    assert_skills(&codex_home.join("skills"));
    let rules = std::fs::read_to_string(codex_home.join("rules/cafleet.rules")).unwrap();
    assert!(rules.contains("prefix_rule("));
}

#[test]
fn install_for_opencode_respects_its_config_dirs() {
    let home = TempDir::new().unwrap();
    let xdg = home.path().join("xdg");
    install_twice(
        home.path(),
        home.path(),
        &["--agent", "opencode"],
        &[("XDG_CONFIG_HOME", &xdg)],
    );
    assert_skills(&xdg.join("opencode/skills"));
    let agent = front_matter(&xdg.join("opencode/agents/cafleet.md"));
    for key in ["description", "mode", "permission"] {
        assert!(agent.contains_key(key), "agent preset lacks `{key}`");
    }

    let other = TempDir::new().unwrap();
    let config_dir = other.path().join("oc");
    install_twice(
        other.path(),
        other.path(),
        &["--agent", "opencode"],
        &[
            ("OPENCODE_CONFIG_DIR", &config_dir),
            ("XDG_CONFIG_HOME", &xdg),
        ],
    );
    assert_skills(&config_dir.join("skills"));
    assert!(config_dir.join("agents/cafleet.md").is_file());
}

#[test]
fn install_into_a_project_folder() {
    let home = TempDir::new().unwrap();
    let project = TempDir::new().unwrap();
    let dir = project.path().to_str().unwrap();
    for agent in ["claude", "codex", "opencode"] {
        cafleet(home.path())
            .args(["skill", "install", "--agent", agent, "--dir", dir])
            .assert()
            .success();
    }
    assert_skills(&project.path().join(".claude/skills"));
    assert_skills(&project.path().join(".agents/skills"));
    assert_skills(&project.path().join(".opencode/skills"));
    assert!(project.path().join(".codex/rules/cafleet.rules").is_file());
    assert!(project.path().join(".opencode/agents/cafleet.md").is_file());
    assert!(files_under(home.path()).is_empty(), "--dir wrote into HOME");

    let missing = project.path().join("nope");
    let out = cafleet(home.path())
        .args(["skill", "install", "--agent", "claude", "--dir"])
        .arg(&missing)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.starts_with("error: ") && err.contains("\nhint: "),
        "{err}"
    );
}

#[test]
fn list_shows_where_skills_are_installed() {
    let home = TempDir::new().unwrap();
    cafleet(home.path())
        .args(["skill", "install", "--agent", "claude"])
        .assert()
        .success();
    let out = cafleet(home.path())
        .args(["skill", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let names: Vec<&str> = json["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cafleet",
            "cafleet-design-doc",
            "cafleet-design-doc-interview",
            "cafleet-design-doc-create",
            "cafleet-design-doc-execute",
            "cafleet-research",
        ]
    );
    let state = |agent: &str| {
        json["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == agent)
            .unwrap()["skills"][0]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("claude"), "installed");
    assert_eq!(state("codex"), "missing");
    assert_eq!(state("opencode"), "missing");
}

/// A PATH of fake programs that print a version.
fn fake_path(programs: &[&str]) -> TempDir {
    let dir = TempDir::new().unwrap();
    for program in programs {
        let version = match *program {
            "tmux" => "tmux 3.3a",
            "claude" => "2.1.197 (Claude Code)",
            "codex" => "codex-cli 0.169.0",
            _ => "1.18.33",
        };
        let path = dir.path().join(program);
        std::fs::write(&path, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

struct Doctor {
    code: i32,
    stdout: String,
    stderr: String,
}

fn doctor(home: &Path, path: &Path, extra: &[&str]) -> Doctor {
    let out = cafleet(home)
        .env("PATH", path)
        .arg("doctor")
        .args(extra)
        .output()
        .unwrap();
    Doctor {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn line_of<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{report}"))
}

#[test]
fn doctor_fails_without_tmux_and_says_how_to_install_it() {
    let home = TempDir::new().unwrap();
    let path = fake_path(&["claude", "codex", "opencode"]);
    let run = doctor(home.path(), path.path(), &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        line_of(&run.stdout, "tmux").starts_with("FAIL"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: tmux: ") && run.stderr.contains("install tmux"),
        "{}",
        run.stderr
    );
    // Checking must not create the registry.
    assert!(!home.path().join(".local/share/cafleet").exists());
}

#[test]
fn doctor_only_warns_about_each_missing_backend() {
    let home = TempDir::new().unwrap();
    for missing in ["claude", "codex", "opencode"] {
        let present: Vec<&str> = ["tmux", "claude", "codex", "opencode"]
            .into_iter()
            .filter(|p| *p != missing)
            .collect();
        let path = fake_path(&present);
        let run = doctor(home.path(), path.path(), &[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let line = line_of(&run.stdout, &format!("backend.{missing}"));
        assert!(line.starts_with("warn"), "{line}");
        assert!(run.stdout.contains("fix: npm install -g"), "{}", run.stdout);
        assert!(line_of(&run.stdout, "tmux").starts_with("ok"));
    }
}

#[test]
fn doctor_is_all_ok_when_everything_is_there() {
    let home = TempDir::new().unwrap();
    let path = fake_path(&["tmux", "claude", "codex", "opencode"]);
    for agent in ["claude", "codex", "opencode"] {
        cafleet(home.path())
            .args(["skill", "install", "--agent", agent])
            .assert()
            .success();
    }
    cafleet(home.path()).args(["db", "init"]).assert().success();
    let run = doctor(home.path(), path.path(), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let checks: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.contains(" ok, "))
        .collect();
    assert!(checks.iter().all(|l| l.starts_with("ok")), "{}", run.stdout);
    assert!(line_of(&run.stdout, "tmux").contains("tmux 3.3a"));
    assert!(line_of(&run.stdout, "backend.codex").contains("codex-cli 0.169.0"));

    let run = doctor(home.path(), path.path(), &["--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], true);
    let database = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "database")
        .unwrap();
    assert_eq!(database["status"], "ok");
    assert_eq!(
        database["version"],
        cafleet::registry::SCHEMA_VERSION.to_string()
    );
    for check in json["checks"].as_array().unwrap() {
        for field in ["name", "status", "message", "path", "version", "fix"] {
            assert!(check.get(field).is_some(), "{check} lacks `{field}`");
        }
    }
}

#[test]
fn doctor_reports_a_registry_that_is_not_created_yet() {
    let home = TempDir::new().unwrap();
    let path = fake_path(&["tmux"]);
    let run = doctor(home.path(), path.path(), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let line = line_of(&run.stdout, "database");
    assert!(line.starts_with("warn") && line.contains("not created yet, run `cafleet db init`"));
    assert!(!home.path().join(".local/share/cafleet").exists());
}

#[test]
fn completions_for_each_shell() {
    let home = TempDir::new().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = cafleet(home.path())
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("cafleet"), "{shell}: {script}");
        assert!(script.contains("doctor"), "{shell} lacks the subcommands");
    }
    cafleet(home.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2);
}

#[test]
fn completions_offer_no_hidden_command_or_flag() {
    let home = TempDir::new().unwrap();
    for shell in ["bash", "zsh"] {
        let out = cafleet(home.path())
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let script = String::from_utf8(out).unwrap();
        // The hidden `agent` group (launch, fake, courier, notify …) and its about line.
        for hidden in [
            "cafleet__agent",
            "Programs cafleet runs",
            "--fake-options",
            "courier",
        ] {
            assert!(!script.contains(hidden), "{shell} offers `{hidden}`");
        }
        // Everything people use is still there, down to member's last subcommands.
        for visible in [
            "init",
            "nudge",
            "ping",
            "prompt",
            "capture",
            "--force",
            "--jsonl",
            "--tmux-socket",
        ] {
            assert!(script.contains(visible), "{shell} lacks `{visible}`");
        }
    }
}

#[test]
fn member_help_lists_every_member_subcommand() {
    let home = TempDir::new().unwrap();
    let help = |args: &[&str]| {
        let out = cafleet(home.path())
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let member = help(&["member", "--help"]);
    let top = help(&["--help"]);
    let top_line = top
        .lines()
        .find(|l| l.trim_start().starts_with("member "))
        .unwrap_or_default()
        .to_string();
    for sub in [
        "create", "delete", "list", "show", "capture", "prompt", "ping", "nudge",
    ] {
        assert!(
            member
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
            "member --help lacks {sub}:\n{member}"
        );
        assert!(top_line.contains(sub), "`cafleet --help` says: {top_line}");
    }
}

#[test]
fn skill_install_takes_several_agents_or_all() {
    let home = TempDir::new().unwrap();
    let codex_home = home.path().join("codex-home");
    cafleet(home.path())
        .env("CODEX_HOME", &codex_home)
        .args([
            "skill", "install", "--agent", "claude", "--agent", "codex", "--json",
        ])
        .assert()
        .success();
    assert_skills(&home.path().join(".claude/skills"));
    assert_skills(&codex_home.join("skills"));
    assert!(!home.path().join(".config/opencode").exists());

    let out = cafleet(home.path())
        .env("CODEX_HOME", &codex_home)
        .args(["skill", "install", "--all", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let agents: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["claude", "codex", "opencode"]);
    assert_eq!(reports[0]["changed"], 0, "claude was already installed");
    assert_skills(&home.path().join(".config/opencode/skills"));

    let out = cafleet(home.path())
        .args(["skill", "install"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no agent named");
}

/// A HOME whose agents already have settings of the user's own, in their own style.
fn home_with_settings() -> TempDir {
    let home = TempDir::new().unwrap();
    let write = |rel: &str, text: &str| {
        let path = home.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(".claude/settings.json", CLAUDE_SETTINGS);
    write(".codex/config.toml", CODEX_CONFIG);
    write(".config/opencode/opencode.jsonc", OPENCODE_CONFIG);
    home
}

const CLAUDE_SETTINGS: &str = "{\n    \"model\": \"opus\",\n    \"permissions\": {\n        \"allow\": [\n            \"Bash(git status)\"\n        ],\n        \"defaultMode\": \"acceptEdits\"\n    },\n    \"env\": {\n        \"FOO\": \"1\"\n    },\n    \"alwaysThinkingEnabled\": true\n}\n";
const CODEX_CONFIG: &str = "# my codex settings\nmodel = \"gpt-5.4\"   # the one I like\napproval_policy = \"on-request\"\n\n[projects.\"/work\"]\ntrust_level = \"trusted\"\n";
const OPENCODE_CONFIG: &str = "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"theme\": \"nord\",\n  \"permission\": {\n    \"bash\": \"ask\"\n  }\n}\n";

fn setup(home: &Path, args: &[&str]) -> (String, String, i32) {
    let out = cafleet(home).arg("setup").args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

fn snapshot(home: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(home)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect()
}

#[test]
fn setup_dry_run_shows_the_change_and_writes_nothing() {
    let home = home_with_settings();
    let before = snapshot(home.path());
    let (out, err, code) = setup(home.path(), &["--all", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(snapshot(home.path()), before, "a dry run wrote:\n{out}");
    assert!(out.contains("would be created"), "{out}");
    assert!(out.contains("+            \"Bash(cafleet:*)\""), "{out}");
    assert!(out.contains("+allow_login_shell = false"), "{out}");
    assert!(out.contains("+      \"cafleet *\": \"allow\""), "{out}");
    assert!(out.contains("dry run: nothing written"), "{out}");
}

#[test]
fn setup_writes_settings_only_when_asked_keeping_the_users_own() {
    let home = home_with_settings();
    let claude = home.path().join(".claude/settings.json");
    let codex = home.path().join(".codex/config.toml");
    let opencode = home.path().join(".config/opencode/opencode.jsonc");

    // Not a terminal and no --write: registry and skills, settings only shown.
    let (out, err, code) = setup(home.path(), &["--all"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        home.path()
            .join(".local/share/cafleet/cafleet.db")
            .is_file()
    );
    assert_skills(&home.path().join(".claude/skills"));
    assert_skills(&home.path().join(".codex/skills"));
    assert_skills(&home.path().join(".config/opencode/skills"));
    assert!(
        out.contains("not written: run `cafleet setup --write`"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&claude).unwrap(), CLAUDE_SETTINGS);
    assert_eq!(std::fs::read_to_string(&codex).unwrap(), CODEX_CONFIG);
    assert_eq!(std::fs::read_to_string(&opencode).unwrap(), OPENCODE_CONFIG);

    let (out, err, code) = setup(home.path(), &["--all", "--write"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\nwrote     ").count(), 3, "{out}");

    // claude: our rules after the user's, every other key, its order and indentation kept.
    let text = std::fs::read_to_string(&claude).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let allow: Vec<&str> = value["permissions"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(allow[..2], ["Bash(git status)", "Bash(cafleet:*)"]);
    assert!(allow.contains(&"Skill(cafleet)"));
    let ours: String = allow[1..]
        .iter()
        .map(|rule| format!(",\n            \"{rule}\""))
        .collect();
    assert_eq!(
        text,
        CLAUDE_SETTINGS.replace(
            "\"Bash(git status)\"",
            &format!("\"Bash(git status)\"{ours}")
        )
    );

    // codex: the user's file byte for byte, then ours.
    let text = std::fs::read_to_string(&codex).unwrap();
    let registry = home.path().join(".local/share/cafleet");
    assert_eq!(
        text,
        format!(
            "# my codex settings\nmodel = \"gpt-5.4\"   # the one I like\napproval_policy = \"on-request\"\nallow_login_shell = false\n\n[projects.\"/work\"]\ntrust_level = \"trusted\"\n\n[sandbox_workspace_write]\nwritable_roots = [\"{}\"]\n",
            registry.display()
        )
    );

    // opencode: a plain-JSON .jsonc is edited in place; "ask" stays for other commands.
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&opencode).unwrap()).unwrap();
    assert_eq!(value["theme"], "nord");
    assert_eq!(
        value["permission"]["bash"],
        serde_json::json!({"*": "ask", "cafleet *": "allow"})
    );
    assert!(!home.path().join(".config/opencode/opencode.json").exists());

    // A second run has nothing to do and touches nothing.
    let before = snapshot(home.path());
    let (out, err, code) = setup(home.path(), &["--all", "--write"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("already lets").count(), 3, "{out}");
    assert!(!out.contains("wrote"), "{out}");
    assert_eq!(snapshot(home.path()), before);
}

#[test]
fn setup_leaves_a_settings_file_it_cannot_read_alone() {
    let home = home_with_settings();
    let claude = home.path().join(".claude/settings.json");
    std::fs::write(&claude, "{ \"model\": \"opus\", }").unwrap();
    let (_, err, code) = setup(home.path(), &["--all", "--write"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: cannot edit"), "{err}");
    assert!(
        err.contains("\nhint: ") && err.contains("Bash(cafleet:*)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&claude).unwrap(),
        "{ \"model\": \"opus\", }"
    );
    // Planned before anything is written: codex's file is untouched too.
    assert_eq!(
        std::fs::read_to_string(home.path().join(".codex/config.toml")).unwrap(),
        CODEX_CONFIG
    );
}

#[test]
fn setup_covers_the_agents_on_path() {
    let home = TempDir::new().unwrap();
    let path = fake_path(&["claude"]);
    let out = cafleet(home.path())
        .env("PATH", path.path())
        .args(["setup", "--write"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert_skills(&home.path().join(".claude/skills"));
    assert!(home.path().join(".claude/settings.json").is_file());
    assert!(!home.path().join(".codex").exists(), "{stdout}");
    assert!(!home.path().join(".config/opencode").exists(), "{stdout}");

    let nothing = fake_path(&[]);
    let out = cafleet(home.path())
        .env("PATH", nothing.path())
        .arg("setup")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        stdout.contains("none of claude, codex, opencode is on PATH"),
        "{stdout}"
    );
}
