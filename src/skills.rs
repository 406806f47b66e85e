//! The skills and agent presets shipped inside the binary, and where each coding agent
//! looks for them. `skills/` (one folder per skill, the layout `gh skill` and the
//! Claude Code / Codex plugins read) and `presets/` are embedded with `include_str!`, so
//! `cafleet skill install` never downloads anything; installing compares bytes first and
//! only writes files whose content differs, which makes a second run a no-op.
//!
//! Where things go (backends.md, "Skills and presets"):
//!
//! | agent | user scope | project scope (`--dir D`) |
//! |---|---|---|
//! | claude | `$CLAUDE_CONFIG_DIR` or `~/.claude`: `skills/<name>/` | `D/.claude/skills/<name>/` |
//! | codex | `$CODEX_HOME` or `~/.codex`: `skills/<name>/`, `rules/cafleet.rules` | `D/.agents/skills/<name>/`, `D/.codex/rules/cafleet.rules` |
//! | opencode | `$OPENCODE_CONFIG_DIR`, `$XDG_CONFIG_HOME/opencode` or `~/.config/opencode`: `skills/<name>/`, `agents/cafleet.md` | `D/.opencode/skills/<name>/`, `D/.opencode/agents/cafleet.md` |

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::error::{Error, Result};

/// One embedded file, by its path relative to its skill (or preset) root.
#[derive(Debug, Clone, Copy)]
pub struct BundledFile {
    pub path: &'static str,
    pub contents: &'static str,
}

/// One embedded skill: a folder whose `SKILL.md` starts with YAML front matter.
#[derive(Debug, Clone, Copy)]
pub struct Skill {
    pub name: &'static str,
    pub files: &'static [BundledFile],
}

impl Skill {
    /// The `SKILL.md` text.
    pub fn skill_md(&self) -> &'static str {
        self.files
            .iter()
            .find(|f| f.path == "SKILL.md")
            .map(|f| f.contents)
            .unwrap_or_default()
    }

    /// The `description` from the front matter.
    pub fn description(&self) -> String {
        front_matter(self.skill_md())
            .and_then(|fields| {
                fields
                    .into_iter()
                    .find(|(key, _)| key == "description")
                    .map(|(_, value)| value)
            })
            .unwrap_or_default()
    }
}

macro_rules! bundled {
    (preset $path:literal) => {
        BundledFile {
            path: $path,
            contents: include_str!(concat!("../presets/", $path)),
        }
    };
    ($root:literal, $path:literal) => {
        BundledFile {
            path: $path,
            contents: include_str!(concat!("../skills/", $root, "/", $path)),
        }
    };
}

/// Every bundled skill. A unit test checks this list against the `skills/` folder, so a
/// file added there and forgotten here fails the build's tests.
pub const SKILLS: &[Skill] = &[
    Skill {
        name: "cafleet",
        files: &[
            bundled!("cafleet", "SKILL.md"),
            bundled!("cafleet", "roles/director.md"),
            bundled!("cafleet", "roles/member.md"),
            bundled!("cafleet", "roles/monitor.md"),
            bundled!("cafleet", "reference/backends.md"),
            bundled!("cafleet", "reference/models.md"),
            bundled!("cafleet", "reference/recovery.md"),
            bundled!("cafleet", "reference/team-from-your-pane.md"),
        ],
    },
    Skill {
        name: "cafleet-design-doc",
        files: &[
            bundled!("cafleet-design-doc", "SKILL.md"),
            bundled!("cafleet-design-doc", "guidelines.md"),
        ],
    },
    Skill {
        name: "cafleet-design-doc-interview",
        files: &[bundled!("cafleet-design-doc-interview", "SKILL.md")],
    },
    Skill {
        name: "cafleet-design-doc-create",
        files: &[
            bundled!("cafleet-design-doc-create", "SKILL.md"),
            bundled!("cafleet-design-doc-create", "roles/drafter.md"),
            bundled!("cafleet-design-doc-create", "roles/reviewer.md"),
        ],
    },
    Skill {
        name: "cafleet-design-doc-execute",
        files: &[
            bundled!("cafleet-design-doc-execute", "SKILL.md"),
            bundled!("cafleet-design-doc-execute", "roles/programmer.md"),
            bundled!("cafleet-design-doc-execute", "roles/tester.md"),
            bundled!("cafleet-design-doc-execute", "roles/verifier.md"),
        ],
    },
    Skill {
        name: "cafleet-research",
        files: &[
            bundled!("cafleet-research", "SKILL.md"),
            bundled!("cafleet-research", "presentation.md"),
            bundled!("cafleet-research", "report.md"),
        ],
    },
];

/// The opencode agent preset `cafleet` (`opencode --agent cafleet`).
pub const OPENCODE_AGENT: BundledFile = bundled!(preset "opencode/agents/cafleet.md");

/// The codex execpolicy rules that let `cafleet …` run outside codex's sandbox.
pub const CODEX_RULES: BundledFile = bundled!(preset "codex/rules/cafleet.rules");

/// A coding agent cafleet can install skills for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    Claude,
    Codex,
    Opencode,
}

impl Agent {
    pub const ALL: [Agent; 3] = [Agent::Claude, Agent::Codex, Agent::Opencode];

    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Opencode => "opencode",
        }
    }
}

/// The agent's own user configuration folder, which holds its skills and its settings
/// file: `$CLAUDE_CONFIG_DIR` or `~/.claude`; `$CODEX_HOME` or `~/.codex`;
/// `$OPENCODE_CONFIG_DIR`, `$XDG_CONFIG_HOME/opencode` or `~/.config/opencode`. The
/// environment is read through `env` so tests need not touch the real one.
pub fn user_config_dir(agent: Agent, env: &dyn Fn(&str) -> Option<String>) -> Result<Utf8PathBuf> {
    let var = |key: &str| env(key).filter(|v| !v.is_empty());
    let home = || {
        var("HOME").map(Utf8PathBuf::from).ok_or_else(|| {
            Error::failure("cannot find the agent's config folder: HOME is not set")
                .hint("set HOME, or pass --dir D to install into a project folder")
        })
    };
    Ok(match agent {
        Agent::Claude => match var("CLAUDE_CONFIG_DIR") {
            Some(dir) => Utf8PathBuf::from(dir),
            None => home()?.join(".claude"),
        },
        Agent::Codex => match var("CODEX_HOME") {
            Some(dir) => Utf8PathBuf::from(dir),
            None => home()?.join(".codex"),
        },
        Agent::Opencode => match (var("OPENCODE_CONFIG_DIR"), var("XDG_CONFIG_HOME")) {
            (Some(dir), _) => Utf8PathBuf::from(dir),
            (None, Some(xdg)) if xdg.starts_with('/') => Utf8PathBuf::from(xdg).join("opencode"),
            _ => home()?.join(".config/opencode"),
        },
    })
}

/// `agents` without repeats, in the order given.
pub fn unique(agents: Vec<Agent>) -> Vec<Agent> {
    let mut seen = Vec::new();
    for agent in agents {
        if !seen.contains(&agent) {
            seen.push(agent);
        }
    }
    seen
}

/// Where to install: the agent's user-wide folders, or a project folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    User,
    Project(Utf8PathBuf),
}

/// Where an agent keeps skills and presets for one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub agent: Agent,
    /// The folder holding `<name>/SKILL.md`.
    pub skills_dir: Utf8PathBuf,
    /// Presets for this agent: destination and contents.
    pub presets: Vec<(Utf8PathBuf, &'static str)>,
}

impl Layout {
    /// Resolves the folders for `agent` in `scope`, reading the environment through `env`
    /// so tests need not touch the real one.
    pub fn resolve(
        agent: Agent,
        scope: &Scope,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Layout> {
        let (skills_dir, presets) = match (agent, scope) {
            (Agent::Claude, Scope::User) => {
                (user_config_dir(agent, env)?.join("skills"), Vec::new())
            }
            (Agent::Claude, Scope::Project(dir)) => (dir.join(".claude/skills"), Vec::new()),
            (Agent::Codex, Scope::User) => {
                let base = user_config_dir(agent, env)?;
                let rules = base.join("rules/cafleet.rules");
                (base.join("skills"), vec![(rules, CODEX_RULES.contents)])
            }
            (Agent::Codex, Scope::Project(dir)) => (
                dir.join(".agents/skills"),
                vec![(dir.join(".codex/rules/cafleet.rules"), CODEX_RULES.contents)],
            ),
            (Agent::Opencode, Scope::User) => {
                let base = user_config_dir(agent, env)?;
                let agent = base.join("agents/cafleet.md");
                (base.join("skills"), vec![(agent, OPENCODE_AGENT.contents)])
            }
            (Agent::Opencode, Scope::Project(dir)) => (
                dir.join(".opencode/skills"),
                vec![(
                    dir.join(".opencode/agents/cafleet.md"),
                    OPENCODE_AGENT.contents,
                )],
            ),
        };
        Ok(Layout {
            agent,
            skills_dir,
            presets,
        })
    }

    /// Every file an install writes, in a stable order: skills, then presets.
    pub fn files(&self) -> Vec<(Utf8PathBuf, &'static str)> {
        let mut files = Vec::new();
        for skill in SKILLS {
            for file in skill.files {
                files.push((
                    self.skills_dir.join(skill.name).join(file.path),
                    file.contents,
                ));
            }
        }
        files.extend(self.presets.iter().cloned());
        files
    }

    /// The files of one skill.
    fn skill_files(&self, skill: &Skill) -> Vec<(Utf8PathBuf, &'static str)> {
        skill
            .files
            .iter()
            .map(|f| (self.skills_dir.join(skill.name).join(f.path), f.contents))
            .collect()
    }
}

/// What installing did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The file did not exist.
    Wrote,
    /// The file existed with other contents.
    Updated,
    /// The file already had exactly these contents; it was not touched.
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Wrote => "wrote",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: Utf8PathBuf,
    pub action: Action,
}

/// Writes every skill and preset of `layout`, leaving files that already match alone.
pub fn install(layout: &Layout) -> Result<Vec<Written>> {
    layout
        .files()
        .into_iter()
        .map(|(path, contents)| {
            let action = write_if_changed(&path, contents)?;
            Ok(Written { path, action })
        })
        .collect()
}

fn write_if_changed(path: &Utf8Path, contents: &str) -> Result<Action> {
    let action = match std::fs::read(path) {
        Ok(existing) if existing == contents.as_bytes() => return Ok(Action::Unchanged),
        Ok(_) => Action::Updated,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Action::Wrote,
        Err(err) => return Err(write_error(path, err)),
    };
    let parent = path.parent().unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(parent).map_err(|err| write_error(path, err))?;
    // Write beside the target and rename, so an agent starting up meanwhile never reads
    // half a skill. The temporary file has a random name and is created exclusively: a
    // predictable name could be a symlink planted by someone else, and writing through
    // it would overwrite whatever it points at.
    let name = path.file_name().unwrap_or("file");
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.cafleet-"))
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(|err| write_error(path, err))?;
    // The mode a plain create would have given (tempfile makes 0600).
    use std::os::unix::fs::PermissionsExt;
    tmp.write_all(contents.as_bytes())
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|err| write_error(path, err))?;
    tmp.persist(path)
        .map_err(|err| write_error(path, err.error))?;
    Ok(action)
}

fn write_error(path: &Utf8Path, err: std::io::Error) -> Error {
    Error::failure(format!("cannot write `{path}`: {err}"))
        .hint("check that the folder is writable, or pass --dir D to install elsewhere")
}

/// How far one skill (or preset) is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Every file is present with the bundled contents.
    Installed,
    /// Some files are present but differ from or lack the bundled ones.
    Outdated,
    /// None of the files are present.
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Installed => "installed",
            State::Outdated => "outdated",
            State::Missing => "missing",
        }
    }
}

fn state_of(files: &[(Utf8PathBuf, &str)]) -> State {
    let mut present = 0;
    let mut current = 0;
    for (path, contents) in files {
        if let Ok(existing) = std::fs::read(path) {
            present += 1;
            if existing == contents.as_bytes() {
                current += 1;
            }
        }
    }
    match (present, current) {
        (0, _) => State::Missing,
        (p, c) if p == files.len() && c == files.len() => State::Installed,
        _ => State::Outdated,
    }
}

/// The state of one skill or preset for one agent.
#[derive(Debug, Clone, Serialize)]
pub struct ItemStatus {
    pub name: String,
    /// Where it lives: the skill's folder or the preset file.
    pub path: Utf8PathBuf,
    pub state: State,
}

/// What is installed for one agent in one scope.
#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub agent: Agent,
    pub skills: Vec<ItemStatus>,
    pub presets: Vec<ItemStatus>,
}

impl AgentStatus {
    /// The worst state over every skill and preset.
    pub fn overall(&self) -> State {
        let states: Vec<State> = self
            .skills
            .iter()
            .chain(&self.presets)
            .map(|s| s.state)
            .collect();
        if states.iter().all(|s| *s == State::Installed) {
            State::Installed
        } else if states.iter().all(|s| *s == State::Missing) {
            State::Missing
        } else {
            State::Outdated
        }
    }
}

/// Compares what `layout` would install with what is on disk.
pub fn status(layout: &Layout) -> AgentStatus {
    let skills = SKILLS
        .iter()
        .map(|skill| ItemStatus {
            name: skill.name.to_string(),
            path: layout.skills_dir.join(skill.name),
            state: state_of(&layout.skill_files(skill)),
        })
        .collect();
    let presets = layout
        .presets
        .iter()
        .map(|(path, contents)| ItemStatus {
            name: path.file_name().unwrap_or_default().to_string(),
            path: path.clone(),
            state: state_of(&[(path.clone(), *contents)]),
        })
        .collect();
    AgentStatus {
        agent: layout.agent,
        skills,
        presets,
    }
}

/// The `key: value` lines of a Markdown file's YAML front matter, with surrounding quotes
/// removed from values; `None` when the file does not start with a `---` block. Nested
/// mappings (indented lines) are skipped: callers only need the top-level scalars.
pub fn front_matter(text: &str) -> Option<Vec<(String, String)>> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut fields = Vec::new();
    for line in lines {
        if line.trim_end() == "---" {
            return Some(fields);
        }
        if line.starts_with([' ', '\t']) || line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once(':')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        fields.push((key.trim().to_string(), value.to_string()));
    }
    // No closing `---`.
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn bundled_skill_paths() -> BTreeSet<String> {
        SKILLS
            .iter()
            .flat_map(|s| {
                s.files
                    .iter()
                    .map(move |f| format!("{}/{}", s.name, f.path))
            })
            .collect()
    }

    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_in_skills_and_presets_folders_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = BTreeSet::new();
        walk(&root.join("skills"), &root.join("skills"), &mut on_disk);
        assert_eq!(on_disk, bundled_skill_paths());
        let mut presets = BTreeSet::new();
        walk(&root.join("presets"), &root.join("presets"), &mut presets);
        let bundled: BTreeSet<String> = [OPENCODE_AGENT.path, CODEX_RULES.path]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(presets, bundled);
    }

    /// A hand check of the YAML subset the agents parse: plain scalars must not contain
    /// `: ` or ` #`, which YAML would read as a mapping or a comment.
    fn assert_plain_yaml(file: &str, text: &str) {
        let fields = front_matter(text).unwrap_or_else(|| panic!("{file}: no front matter"));
        for (key, value) in &fields {
            assert!(
                !value.contains(": ") && !value.contains(" #"),
                "{file}: `{key}` needs quoting in YAML"
            );
        }
    }

    #[test]
    fn skills_have_front_matter_matching_their_folder() {
        for skill in SKILLS {
            let fields = front_matter(skill.skill_md()).expect("front matter");
            let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
            assert_eq!(get("name").map(String::as_str), Some(skill.name));
            let description = get("description").expect("description");
            assert!(description.len() > 40 && description.len() <= 1024);
            assert_plain_yaml(skill.name, skill.skill_md());
        }
    }

    #[test]
    fn opencode_agent_has_its_keys() {
        let fields = front_matter(OPENCODE_AGENT.contents).expect("front matter");
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["description", "mode", "permission"]);
        assert_plain_yaml(OPENCODE_AGENT.path, OPENCODE_AGENT.contents);
    }

    #[test]
    fn skills_name_only_commands_that_exist() {
        // Guards against the original's numeric-id vocabulary creeping back in.
        for skill in SKILLS {
            for file in skill.files {
                for banned in ["--agent-id", "agent_id", "--session-id", "cafleet send "] {
                    assert!(
                        !file.contents.contains(banned),
                        "{}/{} mentions `{banned}`",
                        skill.name,
                        file.path
                    );
                }
            }
        }
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn user_layouts_follow_the_override_variables() {
        let plain = env_of(&[("HOME", "/h")]);
        let claude = Layout::resolve(Agent::Claude, &Scope::User, &plain).unwrap();
        assert_eq!(claude.skills_dir, "/h/.claude/skills");
        let codex = Layout::resolve(Agent::Codex, &Scope::User, &plain).unwrap();
        assert_eq!(codex.skills_dir, "/h/.codex/skills");
        assert_eq!(codex.presets[0].0, "/h/.codex/rules/cafleet.rules");
        let opencode = Layout::resolve(Agent::Opencode, &Scope::User, &plain).unwrap();
        assert_eq!(opencode.skills_dir, "/h/.config/opencode/skills");
        assert_eq!(
            opencode.presets[0].0,
            "/h/.config/opencode/agents/cafleet.md"
        );

        let custom = env_of(&[
            ("HOME", "/h"),
            ("CLAUDE_CONFIG_DIR", "/c"),
            ("CODEX_HOME", "/x"),
            ("XDG_CONFIG_HOME", "/xdg"),
        ]);
        let claude = Layout::resolve(Agent::Claude, &Scope::User, &custom).unwrap();
        assert_eq!(claude.skills_dir, "/c/skills");
        let codex = Layout::resolve(Agent::Codex, &Scope::User, &custom).unwrap();
        assert_eq!(codex.skills_dir, "/x/skills");
        let opencode = Layout::resolve(Agent::Opencode, &Scope::User, &custom).unwrap();
        assert_eq!(opencode.skills_dir, "/xdg/opencode/skills");
        let with_dir = env_of(&[("XDG_CONFIG_HOME", "/xdg"), ("OPENCODE_CONFIG_DIR", "/o")]);
        let opencode = Layout::resolve(Agent::Opencode, &Scope::User, &with_dir).unwrap();
        assert_eq!(opencode.skills_dir, "/o/skills");
    }

    #[test]
    fn project_layouts() {
        let none = env_of(&[]);
        let dir = Scope::Project(Utf8PathBuf::from("/p"));
        let claude = Layout::resolve(Agent::Claude, &dir, &none).unwrap();
        assert_eq!(claude.skills_dir, "/p/.claude/skills");
        let codex = Layout::resolve(Agent::Codex, &dir, &none).unwrap();
        assert_eq!(codex.skills_dir, "/p/.agents/skills");
        let opencode = Layout::resolve(Agent::Opencode, &dir, &none).unwrap();
        assert_eq!(opencode.skills_dir, "/p/.opencode/skills");
        assert!(Layout::resolve(Agent::Claude, &Scope::User, &none).is_err());
    }

    #[test]
    fn install_is_idempotent_and_status_follows() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Utf8PathBuf::from_path_buf(tmp.path().to_path_buf()).unwrap();
        let layout = Layout::resolve(Agent::Opencode, &Scope::Project(dir), &env_of(&[])).unwrap();
        assert_eq!(status(&layout).overall(), State::Missing);
        let first = install(&layout).unwrap();
        assert!(first.iter().all(|w| w.action == Action::Wrote));
        assert_eq!(status(&layout).overall(), State::Installed);
        let second = install(&layout).unwrap();
        assert!(second.iter().all(|w| w.action == Action::Unchanged));

        let skill_md = layout.skills_dir.join("cafleet/SKILL.md");
        std::fs::write(&skill_md, "old").unwrap();
        assert_eq!(status(&layout).overall(), State::Outdated);
        let third = install(&layout).unwrap();
        let updated: Vec<_> = third
            .iter()
            .filter(|w| w.action == Action::Updated)
            .collect();
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0].path, skill_md);
    }

    #[test]
    fn front_matter_parses_the_subset() {
        let text = "---\nname: x\ndescription: \"a b\"\npermission:\n  bash: allow\n---\nbody";
        assert_eq!(
            front_matter(text).unwrap(),
            vec![
                ("name".into(), "x".into()),
                ("description".into(), "a b".into()),
                ("permission".into(), "".into()),
            ]
        );
        assert!(front_matter("no front matter").is_none());
        assert!(front_matter("---\nname: x\n").is_none());
    }

    #[test]
    fn a_planted_symlink_at_the_old_temp_name_is_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Utf8PathBuf::from_path_buf(tmp.path().to_path_buf()).unwrap();
        let victim = dir.join("victim.txt");
        std::fs::write(&victim, "keep me").unwrap();
        let skill = dir.join("skills/cafleet/SKILL.md");
        std::fs::create_dir_all(skill.parent().unwrap()).unwrap();
        let planted = dir.join(format!(
            "skills/cafleet/.SKILL.md.cafleet-{}.tmp",
            std::process::id()
        ));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_if_changed(&skill, "the skill").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(std::fs::read_to_string(&skill).unwrap(), "the skill");
    }
}
