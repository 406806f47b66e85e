//! `cafleet ps`, `cafleet logs`, `cafleet attach` and `cafleet events`: looking at a
//! running fleet.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::{Globals, pick_fleet, print, print_json};
use crate::apply::{self, TAG_HASH, TAG_MEMBER};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

/// List every agent: role, backend, model, state, unread count, pane and drift
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Only this fleet (default: every fleet)
    #[arg(long, env = "CAFLEET_FLEET")]
    pub fleet: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Attach to a fleet's tmux session
#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    #[arg(long, env = "CAFLEET_FLEET")]
    pub fleet: Option<String>,
}

/// Print the text of a member's pane
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The member
    pub member: String,
    /// Lines of scrollback to include above the visible screen
    #[arg(long, default_value_t = 0)]
    pub lines: u32,
    #[arg(long, env = "CAFLEET_FLEET")]
    pub fleet: Option<String>,
}

/// The audit timeline, oldest first: every up/down step, spawn, kill, drift decision,
/// nudge and delivery
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[arg(long, env = "CAFLEET_FLEET")]
    pub fleet: Option<String>,
    /// Only events at or after this time (`2026-11-24T20:00:00Z`, or a prefix such as `2026-11-24`)
    #[arg(long)]
    pub since: Option<String>,
    /// Keep printing new events as they happen
    #[arg(long)]
    pub follow: bool,
    /// One JSON object a line (JSONL)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct PsRow {
    fleet: String,
    name: String,
    role: String,
    backend: String,
    model: Option<String>,
    state: String,
    reason: Option<String>,
    unread: i64,
    pane: Option<String>,
    drift: bool,
    description: String,
}

pub fn run_ps(globals: &Globals, args: PsArgs) -> Result<ExitCode> {
    let registry = globals.registry()?;
    let fleets = match &args.fleet {
        Some(name) => vec![registry.require_fleet(name)?],
        None => registry.fleets()?,
    };
    let mut rows = Vec::new();
    for fleet in &fleets {
        rows.extend(ps_rows(globals, &registry, fleet)?);
    }
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        print("no agents: bring a fleet up with `cafleet up FILE`\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![
        [
            "FLEET", "NAME", "ROLE", "BACKEND", "MODEL", "STATE", "UNREAD", "PANE", "DRIFT",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &rows {
        table.push(vec![
            r.fleet.clone(),
            r.name.clone(),
            r.role.clone(),
            r.backend.clone(),
            r.model.clone().unwrap_or_else(|| "-".into()),
            r.state.clone(),
            r.unread.to_string(),
            r.pane.clone().unwrap_or_else(|| "-".into()),
            if r.drift { "yes".into() } else { "-".into() },
        ]);
    }
    print(&format_table(&table))?;
    Ok(ExitCode::SUCCESS)
}

fn ps_rows(globals: &Globals, registry: &Registry, fleet: &FleetRow) -> Result<Vec<PsRow>> {
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    let panes: HashMap<String, crate::tmux::Pane> = if fleet.status == "up" {
        apply::fleet_panes(&tmux, &fleet.name)?
            .into_iter()
            .map(|p| (p.id.to_string(), p))
            .collect()
    } else {
        HashMap::new()
    };
    let unread = registry.unread_counts(fleet.id)?;
    let agents = registry.agents(fleet.id)?;
    // Agents no monitor has looked at since they started: one batched capture for all.
    let starting: Vec<crate::tmux::PaneId> = agents
        .iter()
        .filter(|a| a.status == "starting")
        .filter_map(|a| a.pane_id.as_deref().and_then(|id| panes.get(id)))
        .filter(|p| !p.dead)
        .map(|p| p.id)
        .collect();
    let screens: HashMap<crate::tmux::PaneId, String> = starting
        .iter()
        .copied()
        .zip(tmux.capture_panes(&starting)?)
        .filter_map(|(id, text)| text.map(|t| (id, t)))
        .collect();
    let mut rows = Vec::new();
    for agent in agents {
        if agent.status == "removed" {
            continue;
        }
        let pane = agent
            .pane_id
            .as_deref()
            .and_then(|id| panes.get(id))
            .filter(|p| p.option(TAG_MEMBER) == Some(agent.name.as_str()));
        let (state, reason) = match pane {
            // Stopped by `down`, or given up on by the monitor: that says more than `dead`.
            _ if agent.status == "stopped" || agent.status == "crash-loop" => {
                (agent.status.clone(), agent.status_reason.clone())
            }
            None => ("dead".to_string(), Some("its pane is gone".to_string())),
            Some(p) if p.dead || !p.pid.is_some_and(crate::process::is_alive) => {
                let how = match (p.dead_status, p.dead_signal) {
                    (Some(code), _) => format!("exited with status {code}"),
                    (_, Some(signal)) => format!("killed by signal {signal}"),
                    _ => "its process exited".to_string(),
                };
                ("dead".to_string(), Some(how))
            }
            // No monitor has looked at it since it started: look once.
            Some(p) if agent.status == "starting" => {
                (live_state(screens.get(&p.id), &agent.backend), None)
            }
            Some(_) => (agent.status.clone(), agent.status_reason.clone()),
        };
        let drift = pane
            .and_then(|p| p.option(TAG_HASH))
            .is_some_and(|h| Some(h) != agent.config_hash.as_deref());
        rows.push(PsRow {
            fleet: fleet.name.clone(),
            unread: unread.get(&agent.name).copied().unwrap_or(0),
            pane: agent.pane_id.clone(),
            name: agent.name,
            role: agent.role,
            backend: agent.backend,
            model: agent.model,
            state,
            reason,
            drift,
            description: agent.description,
        });
    }
    Ok(rows)
}

/// The state a just-started agent's screen shows, without recording it.
fn live_state(screen: Option<&String>, backend: &str) -> String {
    use crate::backend::screens::{Screen, classify};
    let Ok(backend) = backend.parse::<crate::manifest::BackendName>() else {
        return "starting".into();
    };
    if backend == crate::manifest::BackendName::Command {
        return "working".into();
    }
    let Some(text) = screen else {
        return "starting".into();
    };
    match classify(backend, text) {
        Screen::Composer => "idle",
        Screen::Working => "working",
        Screen::Prompt | Screen::Trust | Screen::Login => "waiting-input",
        Screen::Unknown => "starting",
    }
    .into()
}

/// Left-aligned columns separated by two spaces.
pub(crate) fn format_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub fn run_attach(globals: &Globals, args: AttachArgs) -> Result<ExitCode> {
    let registry = globals.registry()?;
    let fleet = pick_fleet(&registry, args.fleet.as_deref())?;
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    super::up::attach(&tmux, &fleet.session)
}

pub fn run_logs(globals: &Globals, args: LogsArgs) -> Result<ExitCode> {
    let registry = globals.registry()?;
    let fleet = pick_fleet(&registry, args.fleet.as_deref())?;
    let agent = registry.require_agent(fleet.id, &fleet.name, &args.member)?;
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    let no_pane = || {
        Error::failure(format!("`{}` has no live pane", args.member))
            .hint("bring it back with `cafleet up`")
    };
    let pane_id: crate::tmux::PaneId = agent
        .pane_id
        .as_deref()
        .and_then(|p| p.parse().ok())
        .ok_or_else(no_pane)?;
    let pane = tmux.pane(pane_id, &apply::TAGS)?.ok_or_else(no_pane)?;
    if pane.option(TAG_MEMBER) != Some(agent.name.as_str()) {
        return Err(no_pane());
    }
    let history = (args.lines > 0).then_some(args.lines);
    let text = tmux.capture_pane(pane_id, history)?;
    print(&format!("{}\n", text.trim_end_matches('\n')))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_events(globals: &Globals, args: EventsArgs) -> Result<ExitCode> {
    let registry = globals.registry()?;
    let fleet_id = match &args.fleet {
        Some(name) => Some(registry.require_fleet(name)?.id),
        None => None,
    };
    let mut after = 0;
    loop {
        let events = registry.events(fleet_id, args.since.as_deref(), after, 1000)?;
        for event in &events {
            if args.json {
                let line =
                    serde_json::to_string(event).map_err(|e| Error::failure(e.to_string()))?;
                print(&format!("{line}\n"))?;
            } else {
                print(&format!(
                    "{}  {:<10} {:<12} {:<14} {}\n",
                    event.created_at,
                    event.fleet.as_deref().unwrap_or("-"),
                    event.agent.as_deref().unwrap_or("-"),
                    event.kind,
                    event.detail
                ))?;
            }
            after = event.id;
        }
        if events.len() == 1000 {
            continue;
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
