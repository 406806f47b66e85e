//! `cafleet ps`, `cafleet logs`, `cafleet attach` and `cafleet events`: looking at a
//! running fleet.

use std::process::ExitCode;
use std::time::Duration;

use super::{Globals, pick_fleet, print, print_json};
use crate::apply;
use crate::error::{Error, Result};

/// List every agent: role, backend, model, state, unread count, pane and drift
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Only this fleet (default: every fleet)
    #[arg(long)]
    pub fleet: Option<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Attach to a fleet's tmux session
#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    #[arg(long)]
    pub fleet: Option<String>,
}

/// Print the text of a member's pane
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The member
    pub member: String,
    /// Print the last N lines (scrollback included), like `tail -n`; 0: the visible screen
    #[arg(long, default_value_t = 0)]
    pub lines: u32,
    #[arg(long)]
    pub fleet: Option<String>,
}

/// The audit timeline, oldest first: every up/down step, spawn, kill, drift decision,
/// nudge and delivery
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[arg(long)]
    pub fleet: Option<String>,
    /// Only events at or after this time (`2026-11-24T20:00:00Z`, or a prefix such as `2026-11-24`)
    #[arg(long)]
    pub since: Option<String>,
    /// Keep printing new events as they happen (with --jsonl to stream JSON)
    #[arg(long)]
    pub follow: bool,
    /// Print the events as one JSON array (`id`, `fleet`, `agent`, `kind`, `detail`,
    /// `created_at`)
    #[arg(long, conflicts_with = "jsonl")]
    pub json: bool,
    /// Print one JSON object a line (JSON Lines), as they come with --follow
    #[arg(long)]
    pub jsonl: bool,
}

pub fn run_ps(globals: &Globals, args: PsArgs) -> Result<ExitCode> {
    let registry = globals.registry()?;
    // An agent sees its own fleet only; an operator every fleet unless `--fleet` says.
    let fleets = match super::identity::lane_fleet(args.fleet.as_deref())? {
        Some(name) => vec![registry.require_fleet(&name)?],
        None => registry.fleets()?,
    };
    let mut rows = Vec::new();
    // Which fleet file DRIFT compares with, one line a fleet.
    let mut header = String::new();
    for fleet in &fleets {
        let view = apply::fleet_view(globals.tmux_socket.as_deref(), &registry, fleet)?;
        if let Some(warning) = &view.tmux_warning {
            warn(&format!(
                "fleet {}: its agents' state is unknown: {warning}",
                fleet.name
            ));
        }
        if !view.agents.is_empty() {
            match (&view.file, &view.file_error) {
                (Some(file), None) => {
                    header.push_str(&format!("fleet {}: drift against {file}\n", fleet.name));
                }
                (Some(file), Some(err)) => header.push_str(&format!(
                    "fleet {}: drift unknown, cannot load {file}: {err}\n",
                    fleet.name
                )),
                (None, _) => {}
            }
        }
        rows.extend(view.agents);
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
            match (&r.pane, &r.host) {
                (Some(pane), Some(host)) => format!("{pane} on {host}"),
                (Some(pane), None) => pane.clone(),
                (None, _) => "-".into(),
            },
            if r.drift { "yes".into() } else { "-".into() },
        ]);
    }
    print(&format!("{header}{}", format_table(&table)))?;
    Ok(ExitCode::SUCCESS)
}

/// `warning: …` on stderr, with control characters as stand-ins.
pub(crate) fn warn(text: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "warning: {}",
        crate::safe_text::text(text)
    );
}

/// Left-aligned columns separated by two spaces; every cell is one line with its control
/// characters shown as stand-ins ([`crate::safe_text::line`]).
pub(crate) fn format_table(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| crate::safe_text::line(c).into_owned())
                .collect()
        })
        .collect();
    let rows = rows.as_slice();
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
    super::identity::require_manager(&registry, &fleet, "read members' panes")?;
    let agent = registry.require_agent(fleet.id, &fleet.name, &args.member)?;
    let history = (args.lines > 0).then_some(args.lines);
    let text = apply::pane_text(globals.tmux_socket.as_deref(), &fleet, &agent, history)?;
    print(&format!("{}\n", text.trim_end_matches('\n')))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_events(globals: &Globals, args: EventsArgs) -> Result<ExitCode> {
    // `--json` is one document, which a stream that never ends cannot be.
    if args.json && args.follow {
        return Err(
            Error::usage("`--json` prints one JSON array, and `--follow` never ends")
                .hint("stream JSON with `cafleet events --follow --jsonl` (one object a line)"),
        );
    }
    let registry = globals.registry()?;
    let fleet_id = match super::identity::lane_fleet(args.fleet.as_deref())? {
        // A deleted fleet's events stay readable.
        Some(name) => Some(registry.history_fleet(&name)?.id),
        None => None,
    };
    if args.json {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let events = registry.events(fleet_id, args.since.as_deref(), after, 1000)?;
            let full = events.len() == 1000;
            if let Some(last) = events.last() {
                after = last.id;
            }
            all.extend(events);
            if !full {
                break;
            }
        }
        print_json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = 0;
    loop {
        let events = registry.events(fleet_id, args.since.as_deref(), after, 1000)?;
        for event in &events {
            if args.jsonl {
                let line =
                    serde_json::to_string(event).map_err(|e| Error::failure(e.to_string()))?;
                super::print_raw(&format!("{line}\n"))?;
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
