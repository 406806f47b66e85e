//! `cafleet monitor start|status|config`: the monitoring member's heartbeat loop.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::up::parse_duration;
use super::{Globals, pick_fleet, print, print_json};
use crate::error::{Error, Result};
use crate::manifest::duration;
use crate::monitor::run::{self, Options};

#[derive(Debug, clap::Subcommand)]
pub enum MonitorCommand {
    /// Run the scan → ping → sleep loop in the foreground (one per fleet)
    Start {
        #[arg(long)]
        fleet: Option<String>,
        /// The period between ticks (default: the stored setting, else 60s)
        #[arg(long, value_parser = parse_duration)]
        interval: Option<Duration>,
        /// No screen activity with unread messages for this long means stalled (default 10m)
        #[arg(long, value_parser = parse_duration)]
        stall_after: Option<Duration>,
        /// Run a single tick and exit
        #[arg(long)]
        once: bool,
    },
    /// Whether the loop runs, its last tick, and every agent's state and since when
    Status {
        #[arg(long)]
        fleet: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the loop's settings, or change them (a running loop reads them each tick)
    Config {
        #[arg(long)]
        fleet: Option<String>,
        #[arg(long, value_parser = parse_duration)]
        interval: Option<Duration>,
        #[arg(long, value_parser = parse_duration)]
        stall_after: Option<Duration>,
    },
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn show_ms(value: i64) -> String {
    duration::format(Duration::from_millis(u64::try_from(value).unwrap_or(0)))
}

pub fn run(globals: &Globals, cmd: MonitorCommand) -> Result<ExitCode> {
    match cmd {
        MonitorCommand::Start {
            fleet,
            interval,
            stall_after,
            once,
        } => {
            let registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            super::identity::require_manager(&registry, &fleet, "run the monitor loop")?;
            if fleet.status != "up" {
                return Err(Error::failure(format!("fleet `{}` is down", fleet.name))
                    .hint("bring it up with `cafleet up` first"));
            }
            let db = crate::apply::absolute_db(registry.path());
            drop(registry);
            // A defaults-only start takes the fleet file's [monitor] settings.
            let (interval, stall_after) = match (&fleet.manifest_path, interval, stall_after) {
                (Some(path), None, _) | (Some(path), _, None) => {
                    let options = crate::manifest::LoadOptions {
                        db_path: Some(db.clone()),
                        styled: false,
                    };
                    let from_file = crate::manifest::load(path.as_str().into(), &options)
                        .ok()
                        .and_then(|f| f.monitor);
                    (
                        interval.or(from_file.as_ref().map(|m| m.interval)),
                        stall_after.or(from_file.as_ref().map(|m| m.stall_after)),
                    )
                }
                _ => (interval, stall_after),
            };
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [
                signal_hook::consts::SIGTERM,
                signal_hook::consts::SIGINT,
                signal_hook::consts::SIGHUP,
            ] {
                signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|err| {
                    Error::failure(format!("cannot install a signal handler: {err}"))
                })?;
            }
            let mut out = std::io::stdout();
            let reason = run::run(
                Options {
                    fleet: fleet.name.clone(),
                    db,
                    tmux_override: globals.tmux_socket.clone(),
                    interval,
                    stall_after,
                    once,
                },
                stop,
                &mut out,
            )?;
            print(&format!("monitor of `{}` stopped: {reason}\n", fleet.name))?;
            Ok(ExitCode::SUCCESS)
        }
        MonitorCommand::Status { fleet, json } => {
            let registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            let row = registry.monitor(fleet.id)?;
            let running = crate::monitor::stop::is_running(&registry, &fleet.name)?;
            // The states `ps` shows, panes checked.
            let agents: Vec<_> =
                crate::apply::fleet_status(globals.tmux_socket.as_deref(), &registry, &fleet)?
                    .into_iter()
                    .map(|a| serde_json::json!({"name": a.name, "role": a.role, "state": a.state, "since": a.since, "reason": a.reason}))
                    .collect();
            if json {
                print_json(
                    &serde_json::json!({"fleet": fleet.name, "running": running, "monitor": row, "agents": agents}),
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut text = match &row {
                Some(m) if running => format!(
                    "monitor of `{}`: running (pid {}), every {}, stalled after {}, last tick {}\n",
                    fleet.name,
                    m.pid.unwrap_or_default(),
                    show_ms(m.interval_ms),
                    show_ms(m.stall_after_ms),
                    m.last_tick_at.as_deref().unwrap_or("not yet")
                ),
                Some(m) => format!(
                    "monitor of `{}`: stopped{}{}\n",
                    fleet.name,
                    m.stopped_at
                        .as_deref()
                        .map(|t| format!(" at {t}"))
                        .unwrap_or_default(),
                    m.stop_reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
                None => format!("monitor of `{}`: never started\n", fleet.name),
            };
            let mut rows = vec![
                ["NAME", "ROLE", "STATE", "SINCE", "REASON"]
                    .map(String::from)
                    .to_vec(),
            ];
            for a in &agents {
                rows.push(
                    ["name", "role", "state", "since", "reason"]
                        .iter()
                        .map(|k| a[k].as_str().unwrap_or("-").to_string())
                        .collect(),
                );
            }
            text.push_str(&super::ps::format_table(&rows));
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        MonitorCommand::Config {
            fleet,
            interval,
            stall_after,
        } => {
            let mut registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            if interval.is_some() || stall_after.is_some() {
                super::identity::require_manager(
                    &registry,
                    &fleet,
                    "change the monitor's settings",
                )?;
                registry.configure_monitor(fleet.id, interval.map(ms), stall_after.map(ms))?;
            }
            let row = registry.monitor(fleet.id)?;
            let (i, s) = row
                .map(|m| (m.interval_ms, m.stall_after_ms))
                .unwrap_or((60_000, 600_000));
            print(&format!(
                "interval = \"{}\"\nstall_after = \"{}\"\n",
                show_ms(i),
                show_ms(s)
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
