//! `cafleet fleet create|list|show|delete`: fleets without a fleet file. `create`
//! registers the tmux pane it runs in as the Director. `delete` tears a fleet down and
//! marks it deleted, keeping its history (`fleet list --all`, `events --fleet`,
//! `message list`); `delete --purge` erases it.

use std::process::ExitCode;

use super::{Globals, print, print_json};
use crate::apply::{self, TAG_FLEET, TAG_MEMBER};
use crate::error::{Error, Result};
use crate::manifest::{Role, is_valid_name};
use crate::registry::agents::NewAgent;
use crate::registry::fleets::NewFleet;
use crate::tmux::PaneId;

#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    /// Register a fleet whose Director is the tmux pane this runs in
    Create {
        /// The fleet's name, `[a-z0-9][a-z0-9_-]*`
        name: String,
        /// What runs in this pane
        #[arg(long, default_value = "claude")]
        backend: crate::manifest::BackendName,
    },
    /// List the registered fleets
    List {
        /// Deleted fleets too (their history is still readable)
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// A fleet's details and agents
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Tear a fleet down and mark it deleted; its messages and events stay readable
    Delete {
        name: String,
        /// Erase the fleet and every deleted fleet of that name, with their messages
        /// and events, for good
        #[arg(long)]
        purge: bool,
    },
}

pub fn run(globals: &Globals, cmd: FleetCommand) -> Result<ExitCode> {
    match cmd {
        FleetCommand::Create { name, backend } => create(globals, &name, backend),
        FleetCommand::List { all, json } => {
            let registry = globals.registry()?;
            let mut fleets = if all {
                registry.all_fleets()?
            } else {
                registry.fleets()?
            };
            // An agent sees only its own fleet.
            if let Some(me) = super::identity::caller()? {
                fleets.retain(|f| f.name == me.fleet);
            }
            if json {
                print_json(&fleets)?;
            } else if fleets.is_empty() {
                print(
                    "no fleets: bring one up with `cafleet up FILE` or `cafleet fleet create NAME`\n",
                )?;
            } else {
                let mut rows = vec![
                    ["NAME", "ORIGIN", "STATUS", "SESSION", "AGENTS"]
                        .map(String::from)
                        .to_vec(),
                ];
                for f in &fleets {
                    let agents = registry
                        .agents(f.id)?
                        .iter()
                        .filter(|a| a.status != "removed")
                        .count();
                    rows.push(vec![
                        f.name.clone(),
                        f.origin.clone(),
                        if f.deleted_at.is_some() {
                            "deleted".to_string()
                        } else {
                            f.status.clone()
                        },
                        f.session.clone(),
                        agents.to_string(),
                    ]);
                }
                print(&super::ps::format_table(&rows))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Show { name, json } => {
            let registry = globals.registry()?;
            super::identity::lane_fleet(Some(&name))?;
            let fleet = registry.require_fleet(&name)?;
            let mut agents: Vec<_> = registry
                .agents(fleet.id)?
                .into_iter()
                .filter(|a| a.status != "removed")
                .collect();
            // The states `ps` shows, panes checked: never the bare recorded ones.
            let states = apply::fleet_status(globals.tmux_socket.as_deref(), &registry, &fleet)?;
            for agent in &mut agents {
                if let Some(row) = states.iter().find(|r| r.name == agent.name) {
                    agent.status = row.state.clone();
                    agent.status_reason = row.reason.clone();
                }
            }
            if json {
                print_json(&serde_json::json!({"fleet": fleet, "agents": agents}))?;
            } else {
                let mut text = format!(
                    "fleet {} ({}, {})\n  session: {}\n  tmux: {}\n",
                    fleet.name,
                    fleet.origin,
                    fleet.status,
                    fleet.session,
                    if fleet.socket.is_empty() {
                        "default server"
                    } else {
                        &fleet.socket
                    }
                );
                if let Some(path) = &fleet.manifest_path {
                    text.push_str(&format!("  file: {path}\n"));
                }
                for a in agents {
                    text.push_str(&format!(
                        "  {} [{}] {} {}\n",
                        a.name, a.role, a.backend, a.status
                    ));
                }
                print(&text)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Delete { name, purge } => delete(globals, &name, purge),
    }
}

/// `fleet delete [--purge] NAME`: tears the live fleet down, then marks it deleted or,
/// with `--purge`, erases it and every deleted fleet of that name.
fn delete(globals: &Globals, name: &str, purge: bool) -> Result<ExitCode> {
    let mut registry = globals.registry()?;
    super::identity::lane_fleet(Some(name))?;
    let live = registry.fleet_by_name(name)?;
    if let Some(fleet) = &live {
        super::identity::require_manager(&registry, fleet, "delete the fleet")?;
    } else if super::identity::caller()?.is_some() {
        return Err(Error::failure("an agent cannot purge a deleted fleet")
            .hint("purging erases history: run it outside the fleet's panes"));
    }
    let deleted = if purge {
        registry.deleted_fleets(name)?
    } else {
        Vec::new()
    };
    let Some(fleet) = live else {
        if deleted.is_empty() {
            if !purge && !registry.deleted_fleets(name)?.is_empty() {
                return Err(Error::not_found(format!("fleet `{name}` is already deleted"))
                    .hint(format!(
                        "its history stays readable; `cafleet fleet delete --purge {name}` erases it"
                    )));
            }
            registry.require_fleet(name)?;
        }
        for old in &deleted {
            registry.purge_fleet(old.id)?;
        }
        print(&format!(
            "purged {} deleted fleet{} named `{name}` with their messages and events\n",
            deleted.len(),
            if deleted.len() == 1 { "" } else { "s" }
        ))?;
        return Ok(ExitCode::SUCCESS);
    };
    let super::down::Stopped {
        fleet_lock,
        tmux,
        report,
        ..
    } = super::down::stop_fleet(globals, &mut registry, &fleet)?;
    if purge {
        registry.purge_fleet(fleet.id)?;
        for old in &deleted {
            registry.purge_fleet(old.id)?;
        }
        print(&format!(
            "purged fleet `{name}` with its messages and events\n"
        ))?;
    } else {
        registry.event(Some(fleet.id), None, "fleet.delete", serde_json::json!({}))?;
        registry.mark_fleet_deleted(fleet.id)?;
        print(&format!(
            "deleted fleet `{name}`; its history stays readable (`cafleet fleet list --all`, `cafleet events --fleet {name}`)\nhint: `cafleet fleet delete --purge {name}` erases it for good\n"
        ))?;
    }
    drop(fleet_lock);
    if let Some(pane) = report.own_pane {
        apply::end_own_pane(&tmux, pane);
    }
    Ok(ExitCode::SUCCESS)
}

/// The tmux socket of the server this process runs inside (`$TMUX` is `path,pid,index`).
fn current_socket() -> Option<String> {
    let tmux = std::env::var("TMUX").ok()?;
    tmux.split(',')
        .next()
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn create(
    globals: &Globals,
    name: &str,
    backend: crate::manifest::BackendName,
) -> Result<ExitCode> {
    if !is_valid_name(name) {
        return Err(Error::usage(format!("invalid fleet name `{name}`")).hint(
            "a fleet name is 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or digit",
        ));
    }
    let pane: PaneId = std::env::var("TMUX_PANE")
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| {
            Error::failure("`fleet create` must run inside a tmux pane")
                .hint("start tmux, then run it in the pane that will be the Director")
        })?;
    let socket = globals
        .tmux_socket
        .clone()
        .or_else(current_socket)
        .unwrap_or_default();
    let tmux = apply::tmux_for(Some(&socket), "");
    let found = tmux
        .pane(pane, &apply::TAGS)?
        .ok_or_else(|| Error::failure(format!("tmux does not know pane {pane}")))?;
    // A pane already in a fleet (a member asked to "start a team", or the Director of
    // another one) must not be taken over: its own fleet would lose it.
    if let Some(other) = found.option(TAG_FLEET).filter(|f| *f != name) {
        let member = found.option(TAG_MEMBER).unwrap_or("an agent");
        return Err(
            Error::failure(format!("pane {pane} is `{member}` of fleet `{other}`")).hint(format!(
                "run `cafleet fleet create` in a pane of its own, or bring `{other}` down first"
            )),
        );
    }
    let mut registry = globals.registry()?;
    if let Some(existing) = registry.fleet_by_name(name)?
        && existing.status == "up"
    {
        return Err(
            Error::failure(format!("fleet `{name}` already exists")).hint(format!(
                "pick another name, or `cafleet fleet delete {name}` first"
            )),
        );
    }
    let fleet_id = registry.upsert_fleet(&NewFleet {
        name,
        origin: "cli",
        manifest_path: None,
        session: &found.session_name,
        socket: &socket,
    })?;
    tmux.set_pane_options(pane, &[(TAG_FLEET, name), (TAG_MEMBER, "director")])?;
    let agent_id = registry.upsert_agent(&NewAgent {
        fleet_id,
        name: "director",
        role: Role::Director.as_str(),
        backend: backend.as_str(),
        model: None,
        description: "",
        origin: "cli",
        config_hash: "",
        spec_json: "",
    })?;
    registry.set_agent_pane(agent_id, &pane.to_string(), found.pid.map(i64::from))?;
    registry.set_agent_status(agent_id, "idle", None)?;
    registry.event(
        Some(fleet_id),
        Some("director"),
        "fleet.create",
        serde_json::json!({"pane": pane.to_string()}),
    )?;
    let db = registry.path().to_owned();
    crate::courier::ensure_or_warn(&db, (!socket.is_empty()).then_some(socket.as_str()), name);
    print(&format!(
        "fleet `{name}` created with pane {pane} as its Director\nhint: `cafleet` commands run from this pane now act as `director` of `{name}` (no export needed); where tmux cannot be asked (a codex sandbox), add `--fleet {name} --as director`\n"
    ))?;
    Ok(ExitCode::SUCCESS)
}
