//! `cafleet skill install|list`: put the bundled skills (and the agent's presets) where a
//! coding agent looks for them, and show where they are installed. The files and
//! locations live in `crate::skills`.

use std::process::ExitCode;

use camino::Utf8PathBuf;
use clap::Subcommand;
use serde::Serialize;

use super::{print, print_json};
use crate::error::{Error, Result};
use crate::skills::{self, Agent, AgentStatus, Layout, Scope};

#[derive(Debug, Subcommand)]
pub enum SkillCommand {
    /// Install the bundled skills for a coding agent (safe to repeat)
    ///
    /// User scope (default): claude ~/.claude/skills (or $CLAUDE_CONFIG_DIR/skills);
    /// codex $CODEX_HOME/skills (default ~/.codex) plus rules/cafleet.rules; opencode
    /// $OPENCODE_CONFIG_DIR (default ~/.config/opencode) skills/ plus agents/cafleet.md.
    /// With --dir D: D/.claude/skills, D/.agents/skills (+ D/.codex/rules) or
    /// D/.opencode/skills (+ D/.opencode/agents).
    ///
    /// `--agent` repeats (`--agent claude --agent codex`); `--all` means all three. With
    /// `--json`, one agent prints one object, several print an array of them.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["agents", "all"])))]
    Install {
        /// The agent to install for (repeatable)
        #[arg(long = "agent", value_enum, value_name = "AGENT")]
        agents: Vec<Agent>,
        /// Install for claude, codex and opencode
        #[arg(long)]
        all: bool,
        /// Install into this project folder instead of the agent's user folder
        #[arg(long, value_name = "D")]
        dir: Option<Utf8PathBuf>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the bundled skills and where each is installed, per agent
    List {
        /// Look in this project folder instead of the agents' user folders
        #[arg(long, value_name = "D")]
        dir: Option<Utf8PathBuf>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: SkillCommand) -> Result<ExitCode> {
    match cmd {
        SkillCommand::Install {
            agents,
            all,
            dir,
            json,
        } => {
            let agents = if all { Agent::ALL.to_vec() } else { agents };
            install_all(&skills::unique(agents), dir, json)
        }
        SkillCommand::List { dir, json } => list(dir, json),
    }
}

fn scope(dir: Option<Utf8PathBuf>) -> Result<Scope> {
    let Some(dir) = dir else {
        return Ok(Scope::User);
    };
    if !dir.is_dir() {
        return Err(Error::failure(format!("`{dir}` is not a folder")).hint(
            "pass an existing project folder to --dir, or leave it out to install for your user",
        ));
    }
    // Absolute, so the reported paths say exactly where the files went.
    let dir = dir
        .canonicalize_utf8()
        .map_err(|err| Error::failure(format!("cannot resolve `{dir}`: {err}")))?;
    Ok(Scope::Project(dir))
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

#[derive(Serialize)]
struct InstallReport {
    agent: Agent,
    skills_dir: Utf8PathBuf,
    files: Vec<skills::Written>,
    changed: usize,
}

fn install_all(agents: &[Agent], dir: Option<Utf8PathBuf>, json: bool) -> Result<ExitCode> {
    let scope = scope(dir)?;
    let mut reports = Vec::new();
    for &agent in agents {
        let layout = Layout::resolve(agent, &scope, &env)?;
        let files = skills::install(&layout)?;
        let changed = files
            .iter()
            .filter(|w| w.action != skills::Action::Unchanged)
            .count();
        reports.push(InstallReport {
            agent,
            skills_dir: layout.skills_dir,
            files,
            changed,
        });
    }
    if json {
        match reports.as_slice() {
            [one] => print_json(one)?,
            several => print_json(&several)?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for report in &reports {
        for file in &report.files {
            out.push_str(&format!("{:<9} {}\n", file.action.as_str(), file.path));
        }
        let agent = report.agent.name();
        if report.changed == 0 {
            out.push_str(&format!(
                "{} skills for {agent} already up to date; nothing changed\n",
                skills::SKILLS.len(),
            ));
        } else {
            out.push_str(&format!(
                "installed {} skills for {agent} ({} of {} files changed); restart running {agent} sessions to load them\n",
                skills::SKILLS.len(),
                report.changed,
                report.files.len(),
            ));
        }
    }
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ListedSkill {
    name: &'static str,
    description: String,
    files: Vec<&'static str>,
}

#[derive(Serialize)]
struct ListReport {
    skills: Vec<ListedSkill>,
    agents: Vec<AgentStatus>,
}

fn list(dir: Option<Utf8PathBuf>, json: bool) -> Result<ExitCode> {
    let scope = scope(dir)?;
    let mut agents = Vec::new();
    for agent in Agent::ALL {
        // A missing HOME only hides the user scope of each agent; still list the skills.
        if let Ok(layout) = Layout::resolve(agent, &scope, &env) {
            agents.push(skills::status(&layout));
        }
    }
    let listed: Vec<ListedSkill> = skills::SKILLS
        .iter()
        .map(|skill| ListedSkill {
            name: skill.name,
            description: skill.description(),
            files: skill.files.iter().map(|f| f.path).collect(),
        })
        .collect();
    if json {
        print_json(&ListReport {
            skills: listed,
            agents,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for skill in &listed {
        out.push_str(&format!("{}\n", skill.name));
        out.push_str(&format!("  {}\n", first_sentence(&skill.description)));
        for status in &agents {
            if let Some(item) = status.skills.iter().find(|i| i.name == skill.name) {
                out.push_str(&format!(
                    "  {:<9} {:<10} {}\n",
                    status.agent.name(),
                    item.state.as_str(),
                    item.path
                ));
            }
        }
    }
    let presets: Vec<_> = agents
        .iter()
        .flat_map(|s| s.presets.iter().map(move |p| (s.agent, p)))
        .collect();
    if !presets.is_empty() {
        out.push_str("presets\n");
        for (agent, item) in presets {
            out.push_str(&format!(
                "  {:<9} {:<10} {}\n",
                agent.name(),
                item.state.as_str(),
                item.path
            ));
        }
    }
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}
