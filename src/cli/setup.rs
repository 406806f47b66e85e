//! `cafleet setup`: everything a user needs once, safe to repeat. It creates (or
//! migrates) the registry, installs the bundled skills for every agent CLI on PATH (or
//! the ones named), and shows the change each agent's user settings need so that an
//! agent the user starts by hand can run `cafleet` (`crate::permissions`). Those files
//! are the user's: the change is printed as a diff first and written only with
//! `--write`, or after a "y" at the prompt when run in a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use super::{Globals, print};
use crate::error::{Error, Result};
use crate::permissions::{self, Change, Plan};
use crate::skills::{self, Agent, Layout, Scope, State};

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Set up this agent (repeatable; default: every agent CLI found on PATH)
    #[arg(long = "agent", value_enum, value_name = "AGENT")]
    agents: Vec<Agent>,
    /// Set up claude, codex and opencode, found on PATH or not
    #[arg(long, conflicts_with = "agents")]
    all: bool,
    /// Write the settings changes without asking
    #[arg(long)]
    write: bool,
    /// Show what setup would do and change nothing at all
    #[arg(long, conflicts_with = "write")]
    dry_run: bool,
    /// Leave the agents' settings files alone: registry and skills only
    #[arg(long, conflicts_with_all = ["write", "dry_run"])]
    no_permissions: bool,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

pub fn run(globals: &Globals, args: SetupArgs) -> Result<ExitCode> {
    let db = globals.db_path()?;
    let shown = crate::registry::location::redact(db.as_str()).into_owned();
    if args.dry_run {
        if crate::registry::location::is_postgres(&db) {
            print(&format!(
                "registry  {shown} (PostgreSQL; `cafleet db init` creates its tables if needed)\n"
            ))?;
        } else if db.exists() {
            print(&format!(
                "registry  {shown} (exists; `cafleet db init` migrates it if needed)\n"
            ))?;
        } else {
            print(&format!("registry  {shown} would be created\n"))?;
        }
    } else {
        let registry = globals.registry()?;
        print(&format!(
            "registry  {} at schema version {}\n",
            registry.location(),
            registry.schema_version()?
        ))?;
    }

    let agents = agents(&args);
    if agents.is_empty() {
        print(
            "agents    none of claude, codex, opencode is on PATH: no skills or settings to set up\n\
             hint: install one, or name it: `cafleet setup --agent claude`\n",
        )?;
        return Ok(ExitCode::SUCCESS);
    }

    for &agent in &agents {
        let layout = Layout::resolve(agent, &Scope::User, &env)?;
        if args.dry_run {
            let state = skills::status(&layout).overall();
            let note = match state {
                State::Installed => "up to date",
                State::Outdated => "would be updated",
                State::Missing => "would be installed",
            };
            print(&format!(
                "skills    {:<8} {note} in {}\n",
                agent.name(),
                layout.skills_dir
            ))?;
            continue;
        }
        let written = skills::install(&layout)?;
        let changed = written
            .iter()
            .filter(|w| w.action != skills::Action::Unchanged)
            .count();
        print(&format!(
            "skills    {:<8} {} in {} ({changed} of {} files changed)\n",
            agent.name(),
            if changed == 0 {
                "up to date"
            } else {
                "installed"
            },
            layout.skills_dir,
            written.len()
        ))?;
    }

    if args.no_permissions {
        return Ok(ExitCode::SUCCESS);
    }
    // Every file is planned before any is written: one that cannot be edited stops
    // setup with none of them changed.
    let mut changes: Vec<Change> = Vec::new();
    for &agent in &agents {
        match permissions::plan(agent, &db, &env)? {
            Plan::UpToDate { agent, path } => print(&format!(
                "settings  {:<8} {path} already lets {} run cafleet\n",
                agent.name(),
                agent.name()
            ))?,
            Plan::Change(change) => {
                print(&format!(
                    "settings  {:<8} {} needs: {}\n",
                    agent.name(),
                    change.path,
                    change.added.join("; ")
                ))?;
                changes.push(change);
            }
        }
    }
    if changes.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    print(
        "\nAgents cafleet starts get these permissions on their command line; an agent you start \
         yourself (a Director in your own pane) has only your settings. The change:\n\n",
    )?;
    for change in &changes {
        print(&change.diff())?;
        print("\n")?;
    }
    if args.dry_run {
        print("dry run: nothing written\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut written = 0;
    for change in &changes {
        let yes = args.write || (interactive && ask(&format!("Write {}? [y/N] ", change.path))?);
        if yes {
            change.write()?;
            print(&format!("wrote     {}\n", change.path))?;
            written += 1;
        }
    }
    if written < changes.len() {
        print(
            "not written: run `cafleet setup --write` to write them, or add the lines yourself \
             (docs/setup.md says why each is needed)\n",
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The agents to set up: the named ones, all three, or those on PATH.
fn agents(args: &SetupArgs) -> Vec<Agent> {
    if args.all {
        return Agent::ALL.to_vec();
    }
    if !args.agents.is_empty() {
        return skills::unique(args.agents.clone());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    Agent::ALL
        .into_iter()
        .filter(|agent| crate::doctor::find_in_path(agent.name(), &path).is_some())
        .collect()
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
fn ask(question: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    out.write_all(question.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| Error::failure(format!("cannot write to stdout: {err}")))?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|err| Error::failure(format!("cannot read the answer: {err}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
