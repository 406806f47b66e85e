//! `cafleet run FILE`: a whole team run, start to finish, for CI and scripts — `up
//! --wait`, then watch until the Director calls `cafleet done`, the timeout, a signal, or
//! the team can no longer finish; then write the report (`--report DIR`), run `down`, and
//! exit with a code that says which (README "Exit codes"). Progress is printed one line
//! per event (no spinner), so logs read the same on a terminal and in CI.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

use super::{Globals, config, print};
use crate::error::{Error, Result};
use crate::team::watch::{Marks, Outcome};

/// Run a team to completion: up --wait, wait for `cafleet done`, write a report, down.
///
/// Exit 0 after `cafleet done`, 1 after `cafleet done --fail`, 4 on timeout, 5 when the
/// team died (the Director, or every member, dead or in crash-loop), 130/143 on
/// SIGINT/SIGTERM. Whatever happens the report is written and the team brought down.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The fleet file
    #[arg(default_value = "fleet.toml")]
    pub file: Utf8PathBuf,
    /// How long the whole run may take, start-up included
    #[arg(long, default_value = "30m", value_parser = super::up::parse_duration)]
    pub timeout: Duration,
    /// How long `up --wait` waits for every agent to be ready
    #[arg(long, default_value = "120s", value_parser = super::up::parse_duration)]
    pub ready_timeout: Duration,
    /// Write the report (summary.md, messages.jsonl, events.jsonl, panes/, junit.xml) here
    #[arg(long, value_name = "DIR")]
    pub report: Option<Utf8PathBuf>,
    /// Pre-trust the fleet's folders for claude and codex (as `[fleet] trust = true`)
    #[arg(long)]
    pub trust: bool,
    /// Rehearse against the scripted model: start it with this script and point every
    /// claude, codex and opencode agent at it (through env and command line only)
    #[arg(long, value_name = "SCRIPT")]
    pub rehearse: Option<Utf8PathBuf>,
}

/// Stdout, one line at a time, ignoring a closed pipe.
struct Lines;

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = print(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn run(globals: &Globals, args: RunArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let deadline = started + args.timeout;
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
            .map_err(|err| Error::failure(format!("cannot handle signal {sig}: {err}")))?;
    }
    let mut fleet = config::load(globals, &args.file)?;
    // Kept alive until the end: dropping it stops the scripted model.
    let _model = match &args.rehearse {
        Some(script) => {
            let log = args.report.as_ref().map(|dir| dir.join("model.jsonl"));
            Some(crate::team::rehearse::prepare(
                script,
                log.as_deref(),
                &mut fleet,
            )?)
        }
        None => None,
    };
    // After a rehearsal dropped them: it needs no credentials.
    let missing = crate::apply::trust::missing_env(&fleet);
    if !missing.is_empty() {
        return Err(Error::failure(format!(
            "`[fleet] env_from` names variables that are not set: {}",
            missing.join(", ")
        ))
        .hint("export them in the shell that runs cafleet; nothing was started"));
    }
    if let Some(model) = &_model {
        print(&format!("rehearsal: scripted model on {}\n", model.base))?;
    }
    let db_path = crate::apply::absolute_db(&globals.db_path()?);
    let registry = crate::registry::Registry::open(&db_path)?;
    let (message, event) = registry.high_water_marks()?;
    let marks = Marks { message, event };
    let ready_timeout = args
        .ready_timeout
        .min(deadline.saturating_duration_since(Instant::now()));
    let name = fleet.name.clone();
    let count = fleet.agents.len();
    let up = super::up::run_fleet(
        globals,
        super::up::UpArgs {
            file: args.file.clone(),
            dry_run: false,
            wait: true,
            timeout: ready_timeout,
            no_recreate: false,
            force_recreate: false,
            recreate: Vec::new(),
            remove_orphans: false,
            attach: false,
            json: false,
            trust: args.trust,
            force: false,
        },
        fleet,
    );
    let Some(fleet_row) = registry.fleet_by_name(&name)? else {
        // Nothing was started: there is nothing to report on or bring down.
        return up.map(|_| ExitCode::FAILURE);
    };
    let tmux_socket = globals.tmux_socket.as_deref().filter(|s| !s.is_empty());
    let outcome = match up {
        Err(err) => {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), err.render().as_bytes());
            Outcome::NotStarted(err.message.clone(), err.kind.exit_code())
        }
        Ok(_) => {
            print(&format!(
                "{:>7} {count} agent(s) of `{name}` are ready; waiting for `cafleet done`\n",
                "ready"
            ))?;
            registry.event(
                Some(fleet_row.id),
                None,
                "run.start",
                serde_json::json!({"file": args.file, "timeout_ms": args.timeout.as_millis() as u64, "rehearsal": args.rehearse.is_some()}),
            )?;
            crate::team::watch::watch(
                &registry,
                tmux_socket,
                &fleet_row,
                marks,
                deadline,
                &signal,
                &mut Lines,
            )?
        }
    };
    let duration = started.elapsed();
    print(&format!(
        "{:>7} {} after {:.1}s: {}\n",
        "outcome",
        outcome.label(),
        duration.as_secs_f64(),
        outcome.describe()
    ))?;
    registry.event(
        Some(fleet_row.id),
        None,
        "run.end",
        serde_json::json!({"outcome": outcome.label(), "exit": outcome.exit_code(), "duration_ms": duration.as_millis() as u64}),
    )?;
    // The report is read while the panes still exist; `down` runs whatever happens.
    let report = match &args.report {
        Some(dir) => crate::team::report::gather(
            &registry,
            tmux_socket,
            &fleet_row,
            marks,
            outcome.clone(),
            duration,
        )
        .and_then(|gathered| crate::team::report::write(dir, &gathered))
        .map(|()| Some(dir.clone())),
        None => Ok(None),
    };
    let down = super::down::run(
        globals,
        super::down::DownArgs {
            file: None,
            fleet: Some(name),
            purge: false,
            json: false,
        },
    );
    drop(_model);
    if let Some(dir) = report? {
        print(&format!("{:>7} written to {dir}\n", "report"))?;
    }
    down?;
    Ok(ExitCode::from(outcome.exit_code()))
}
