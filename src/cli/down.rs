//! `cafleet down`: tear down exactly what `up` made.

use std::process::ExitCode;

use camino::Utf8PathBuf;

use super::{Globals, config, pick_fleet, print, print_json};
use crate::apply;
use crate::error::{Error, Result};

/// Kill the panes, windows and session a fleet's `up` made — never an untagged pane —
/// and mark its agents stopped. Messages and events stay. Safe to run twice.
#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// The fleet file (or name the fleet with --fleet)
    pub file: Option<Utf8PathBuf>,
    /// The fleet to tear down
    #[arg(long, conflicts_with = "file")]
    pub fleet: Option<String>,
    /// Also delete the fleet's agents, messages and events from the registry
    #[arg(long)]
    pub purge: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(globals: &Globals, args: DownArgs) -> Result<ExitCode> {
    let mut registry = globals.registry()?;
    let name = match (&args.file, &args.fleet) {
        (Some(file), _) => Some(config::load(globals, file)?.name),
        // A name typed by hand must exist (a typo is not "already down").
        (None, Some(name)) => Some(registry.require_fleet(name)?.name),
        (None, None) if std::path::Path::new("fleet.toml").exists() => {
            Some(config::load(globals, "fleet.toml".as_ref())?.name)
        }
        (None, None) => None,
    };
    let fleet = match name {
        Some(name) => match registry.fleet_by_name(&name)? {
            Some(fleet) => fleet,
            None => {
                if args.json {
                    print_json(&serde_json::json!({"fleet": name, "stopped": 0, "purged": false}))?;
                } else {
                    print(&format!(
                        "fleet `{name}` was never brought up: nothing to do\n"
                    ))?;
                }
                return Ok(ExitCode::SUCCESS);
            }
        },
        None => pick_fleet(&registry, None)?,
    };
    // From inside an agent's pane: only its own fleet, and only by its Director/monitor.
    super::identity::lane_fleet(Some(&fleet.name))?;
    super::identity::require_manager(&registry, &fleet, "bring the fleet down")?;
    let Stopped {
        fleet_lock,
        tmux,
        report,
        out,
    } = stop_fleet(globals, &mut registry, &fleet)?;
    let stopped = report.stopped;
    // Rows of agents that may still run on a host that did not answer are kept, so the
    // next `down` can find them.
    let purge = args.purge && report.unreached.is_empty();
    if purge {
        registry.purge_fleet(fleet.id)?;
    }
    if args.json {
        print_json(
            &serde_json::json!({"fleet": fleet.name, "stopped": stopped, "purged": purge, "unreached": report.unreached.iter().map(|(host, names)| serde_json::json!({"host": host, "agents": names})).collect::<Vec<_>>()}),
        )?;
    } else {
        print(&String::from_utf8_lossy(&out))?;
        let purged = if purge {
            "; its registry rows were deleted"
        } else {
            ""
        };
        print(&format!(
            "fleet `{}` is down ({stopped} pane{} stopped{purged})\n",
            fleet.name,
            if stopped == 1 { "" } else { "s" }
        ))?;
    }
    // Last of all: the pane this runs in, when a Director brings its own team down.
    drop(fleet_lock);
    if let Some(pane) = report.own_pane {
        apply::end_own_pane(&tmux, pane);
    }
    if !report.unreached.is_empty() {
        let hosts: Vec<String> = report
            .unreached
            .iter()
            .map(|(host, names)| format!("{host} ({})", names.join(", ")))
            .collect();
        return Err(Error::failure(format!(
            "could not reach {}: those agents may still run there",
            hosts.join("; ")
        ))
        .hint("run `cafleet down` again once the host answers; `cafleet ps` shows them as `unreachable`"));
    }
    Ok(ExitCode::SUCCESS)
}

/// A fleet brought down by [`stop_fleet`]: its lock, still held so the caller records the
/// outcome before another `up` may start, the tmux server of its own machine, and what
/// `down` reported and printed.
pub(super) struct Stopped {
    pub fleet_lock: crate::registry::lock::Lock,
    pub tmux: crate::tmux::Tmux,
    pub report: apply::DownReport,
    pub out: Vec<u8>,
}

/// Under the fleet's lock, stops its monitor, its panes on every host and its courier:
/// what `down` and `fleet delete` both do before they record the outcome.
pub(super) fn stop_fleet(
    globals: &Globals,
    registry: &mut crate::registry::Registry,
    fleet: &crate::registry::fleets::FleetRow,
) -> Result<Stopped> {
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    let db = registry.path().to_owned();
    let fleet_lock =
        crate::registry::lock::Lock::named(&db, &crate::registry::lock::fleet_name(&fleet.name))?;
    crate::monitor::stop::stop(registry, fleet)?;
    let mut out = Vec::new();
    let servers = apply::Servers::of_agents(
        tmux.clone(),
        registry
            .agents(fleet.id)?
            .iter()
            .filter(|a| a.status != "removed"),
    )?;
    let report = apply::down(registry, &servers, fleet, &mut out)?;
    crate::courier::stop(&db, &fleet.name)?;
    Ok(Stopped {
        fleet_lock,
        tmux,
        report,
        out,
    })
}
