//! `cafleet config check|show`: validate a fleet file, or print every agent resolved.

use std::io::IsTerminal;
use std::process::ExitCode;

use camino::Utf8PathBuf;
use clap::Subcommand;

use super::{Globals, print, print_json};
use crate::error::Result;
use crate::manifest::{self, Fleet, LoadOptions};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a fleet file, reporting every problem with its line
    Check {
        /// The fleet file
        #[arg(default_value = "fleet.toml")]
        file: Utf8PathBuf,
    },
    /// Print the resolved fleet: each agent's role, backend, argv, cwd, env, prompt and hash
    Show {
        /// The fleet file
        #[arg(default_value = "fleet.toml")]
        file: Utf8PathBuf,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// Loads a fleet file the way every command that reads one does.
pub(crate) fn load(globals: &Globals, file: &camino::Utf8Path) -> Result<Fleet> {
    let options = LoadOptions {
        db_path: globals.db_path().ok(),
        styled: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    manifest::load(file, &options)
}

pub fn run(globals: &Globals, cmd: ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { file } => {
            let fleet = load(globals, &file)?;
            let members = fleet
                .agents
                .iter()
                .filter(|a| a.role == manifest::Role::Member)
                .count();
            let monitor = if fleet.monitor.is_some() {
                ", a monitor"
            } else {
                ""
            };
            print(&format!(
                "ok: fleet `{}`: a director{monitor} and {members} member{}\n",
                fleet.name,
                if members == 1 { "" } else { "s" }
            ))?;
        }
        ConfigCommand::Show { file, json } => {
            let fleet = load(globals, &file)?;
            if json {
                print_json(&fleet)?;
            } else {
                print(&render(&fleet))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(fleet: &Fleet) -> String {
    let mut out = format!(
        "fleet {}  (session {}, root {}, layout {}, {} panes/window{})\n",
        fleet.name,
        fleet.session,
        fleet.root,
        fleet.layout,
        fleet.panes_per_window,
        if fleet.socket.is_empty() {
            String::new()
        } else {
            format!(", tmux -L {}", fleet.socket)
        }
    );
    for agent in &fleet.agents {
        let spec = &agent.spec;
        out.push_str(&format!(
            "\n{} [{}] {}",
            agent.name, agent.role, spec.backend
        ));
        if let Some(model) = &spec.model {
            out.push_str(&format!(" model={model}"));
        }
        if let Some(effort) = &spec.effort {
            out.push_str(&format!(" effort={effort}"));
        }
        out.push_str(&format!("  hash {}\n", agent.hash));
        if !agent.description.is_empty() {
            out.push_str(&format!("  description: {}\n", agent.description));
        }
        if !agent.depends_on.is_empty() {
            out.push_str(&format!("  depends_on: {}\n", agent.depends_on.join(", ")));
        }
        out.push_str(&format!("  cwd: {}\n", spec.cwd));
        let argv: Vec<String> = spec.argv.iter().map(|a| shell_quote(a)).collect();
        out.push_str(&format!("  argv: {}\n", argv.join(" ")));
        for (key, value) in &spec.env {
            out.push_str(&format!("  env: {key}={value}\n"));
        }
        if !spec.prompt.is_empty() {
            out.push_str("  prompt:\n");
            for line in spec.prompt.lines() {
                out.push_str(&format!("    | {line}\n"));
            }
        }
    }
    out
}

/// Quotes an argument for display so a reader can paste the command line into a shell.
pub(crate) fn shell_quote(arg: &str) -> String {
    crate::backend::shell_quote(arg)
}
