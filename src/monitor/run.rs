//! The loop itself: each tick, holding the fleet's lock (a tick that finds `up` or `down`
//! holding it is skipped), it re-reads the registry's agents, scans the fleet's panes (one
//! `list-panes`, one `capture-pane` per live agent) and inboxes, hands the observations to
//! the [`Tracker`], carries out its decisions (states, restarts; then nudges), announces queued
//! messages to agents that are back, and pings the monitoring agent's own pane. It exits
//! on SIGINT/SIGTERM within a second, and by itself when the fleet is brought down or
//! deleted, recording why.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use serde_json::json;

use super::tracker::{Decision, Liveness, Observation, Screen, State, Tracker};
use crate::apply;
use crate::backend::screens;
use crate::broker::{self, PaneKey, Panes};
use crate::error::{Error, Result};
use crate::manifest::{BackendName, RestartPolicy};
use crate::registry::Registry;
use crate::registry::agents::{AgentRow, Signal};
use crate::registry::fleets::FleetRow;
use crate::tmux::Tmux;

/// The sender name of what the monitor stores.
pub const SENDER: &str = "monitor";

pub struct Options {
    pub fleet: String,
    pub db: Utf8PathBuf,
    pub tmux_override: Option<String>,
    pub interval: Option<Duration>,
    pub stall_after: Option<Duration>,
    /// Run one tick and return (tests, cron).
    pub once: bool,
}

/// What the fleet file says that the registry does not keep.
struct FileSettings {
    policies: HashMap<String, RestartPolicy>,
    layout: String,
    panes_per_window: usize,
    window_size: (u16, u16),
}

fn file_settings(fleet: &FleetRow, db: &Utf8PathBuf) -> FileSettings {
    let mut settings = FileSettings {
        policies: HashMap::new(),
        layout: "tiled".into(),
        panes_per_window: 4,
        window_size: crate::manifest::default_window_size("tiled", 4),
    };
    let Some(path) = &fleet.manifest_path else {
        return settings;
    };
    let options = crate::manifest::LoadOptions {
        db_path: Some(db.clone()),
        styled: false,
    };
    if let Ok(file) = crate::manifest::load(path.as_str().into(), &options) {
        settings.layout = file.layout.clone();
        settings.panes_per_window = file.panes_per_window;
        settings.window_size = file.window_size;
        settings.policies = file
            .agents
            .iter()
            .map(|a| (a.name.clone(), a.restart.clone()))
            .collect();
    }
    settings
}

pub fn run(options: Options, stop: Arc<AtomicBool>, out: &mut dyn Write) -> Result<String> {
    let mut registry = Registry::open(&options.db)?;
    let fleet = registry.require_fleet(&options.fleet)?;
    let pid = std::process::id();
    // Held for as long as this loop runs: the kernel releases it however the loop ends,
    // so "is a monitor running?" never trusts a pid that may have been reused.
    let Some(_running) = crate::registry::lock::Lock::try_named(
        &options.db,
        &crate::registry::lock::monitor_name(&fleet.name),
    )?
    else {
        let other = registry
            .monitor(fleet.id)?
            .and_then(|m| m.pid)
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        return Err(Error::failure(format!(
            "a monitor already runs for fleet `{}`{other}",
            fleet.name
        ))
        .hint("read its state with `cafleet monitor status`; `cafleet down` stops it"));
    };
    let to_ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    registry.claim_monitor(
        fleet.id,
        pid,
        options.interval.map(to_ms),
        options.stall_after.map(to_ms),
    )?;
    registry.event(Some(fleet.id), None, "monitor.start", json!({"pid": pid}))?;
    let settings = file_settings(&fleet, &options.db);
    let tmux = apply::tmux_for(options.tmux_override.as_deref(), &fleet.socket);
    let mut tracker = Tracker::new();
    for agent in registry.agents(fleet.id)? {
        tracker.seed(&agent.name, State::parse(&agent.status));
    }
    let started = Instant::now();
    let mut tick_no: u64 = 0;
    let reason = loop {
        if stop.load(Ordering::Relaxed) {
            break "stopped by a signal".to_string();
        }
        // Deleted under us (a test's temp folder, a purge by hand): nothing left to watch.
        if crate::registry::location::is_gone(&options.db) {
            return Ok("the registry file is gone".to_string());
        }
        let Some(fleet) = registry.fleet_by_name(&options.fleet)? else {
            break "the fleet was deleted".to_string();
        };
        if fleet.status == "down" {
            break "the fleet was brought down".to_string();
        }
        let row = registry
            .monitor(fleet.id)?
            .ok_or_else(|| Error::failure("the monitor row vanished"))?;
        if row.pid != Some(i64::from(pid)) {
            break format!(
                "another monitor took over (pid {})",
                row.pid.unwrap_or_default()
            );
        }
        let stall_after =
            Duration::from_millis(u64::try_from(row.stall_after_ms).unwrap_or(600_000));
        let interval =
            Duration::from_millis(u64::try_from(row.interval_ms).unwrap_or(60_000).max(100));
        tick_no += 1;
        match tick(
            &mut registry,
            &tmux,
            &fleet,
            &settings,
            &mut tracker,
            started.elapsed(),
            stall_after,
            tick_no,
        ) {
            Ok(summary) => {
                let _ = writeln!(out, "tick {tick_no}: {}", crate::safe_text::text(&summary));
            }
            // A tick that fails (tmux restarting, say) is reported and the loop goes on.
            Err(err) => {
                let _ = writeln!(
                    out,
                    "tick {tick_no} failed: {}",
                    crate::safe_text::text(&err.message)
                );
                registry.event(
                    Some(fleet.id),
                    None,
                    "monitor.error",
                    json!({"error": err.message}),
                )?;
            }
        }
        registry.monitor_ticked(fleet.id)?;
        if options.once {
            break "ran once".to_string();
        }
        let deadline = Instant::now() + interval;
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(
                Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now())),
            );
        }
    };
    if let Some(fleet) = registry.fleet_by_name(&options.fleet)? {
        let still_ours = registry
            .monitor(fleet.id)?
            .is_some_and(|m| m.pid == Some(i64::from(pid)));
        if still_ours {
            registry.mark_monitor_stopped(fleet.id, &reason)?;
        }
        registry.event(
            Some(fleet.id),
            None,
            "monitor.stop",
            json!({"pid": pid, "reason": reason}),
        )?;
    }
    Ok(reason)
}

fn screen_of(backend: BackendName, text: &str) -> Screen {
    match screens::classify(backend, text) {
        screens::Screen::Composer => Screen::Idle,
        screens::Screen::Working => Screen::Working,
        screens::Screen::Prompt => Screen::Prompt,
        screens::Screen::Trust | screens::Screen::Login => Screen::Gate,
        screens::Screen::Unknown => Screen::Unknown,
    }
}

fn hash_text(text: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

#[allow(clippy::too_many_arguments)]
fn tick(
    registry: &mut Registry,
    tmux: &Tmux,
    fleet: &FleetRow,
    settings: &FileSettings,
    tracker: &mut Tracker,
    now: Duration,
    stall_after: Duration,
    tick_no: u64,
) -> Result<String> {
    // Looking and deciding happen under the fleet's lock, the one `up` and `down` hold
    // while they replace panes: a reconcile in progress is never read as a crash, and a
    // restart never races `up` starting the same agent. A tick that finds it held waits
    // for the next one. Deliveries and nudges (which may take seconds) come after.
    let db = registry.path().to_owned();
    let Some(fleet_lock) = crate::registry::lock::Lock::try_named(
        &db,
        &crate::registry::lock::fleet_name(&fleet.name),
    )?
    else {
        return Ok("skipped: `up` or `down` is changing the fleet".to_string());
    };
    let unread = registry.unread_counts(fleet.id)?;
    let agents: Vec<AgentRow> = registry
        .agents(fleet.id)?
        .into_iter()
        .filter(|a| a.status != "removed" && a.status != "stopped")
        .collect();
    let servers = apply::Servers::of_agents(tmux.clone(), &agents)?;
    let panes = apply::FleetPanes::list(&servers, &fleet.name)?;
    // An agent whose host does not answer is `unreachable`, never `dead`: it may well
    // run there. It is not judged (no restart, no nudge) until the host answers again.
    let mut agents = agents;
    let mut away = Vec::new();
    agents.retain(|agent| match panes.unreachable(agent) {
        Some(why) => {
            away.push((
                agent.id,
                agent.name.clone(),
                agent.status.clone(),
                why.to_string(),
            ));
            false
        }
        None => true,
    });
    for (id, name, was, why) in away {
        if was != apply::UNREACHABLE {
            registry.set_agent_status_by(id, apply::UNREACHABLE, Some(&why), Signal::Pane)?;
            registry.event(
                Some(fleet.id),
                Some(&name),
                "state",
                json!({"from": was, "to": apply::UNREACHABLE, "reason": why, "signal": "pane"}),
            )?;
        }
    }
    let screens_text = panes.screens(&servers, &agents)?;
    // Back from a host that did not answer: its screen says where it is now, and the
    // tracker judges it from there.
    for agent in agents.iter_mut().filter(|a| a.status == apply::UNREACHABLE) {
        if panes.of(agent).is_none_or(|p| p.exited()) {
            continue;
        }
        let state = apply::screen_state(screens_text.get(&agent.name), &agent.backend);
        let reason = "its host answers again";
        registry.set_agent_status_by(agent.id, &state, Some(reason), Signal::Screen)?;
        registry.event(
            Some(fleet.id),
            Some(&agent.name),
            "state",
            json!({"from": apply::UNREACHABLE, "to": state, "reason": reason, "signal": "screen"}),
        )?;
        agent.status = state;
    }
    // What others recorded since the last tick (a pane `up` replaced, a new member).
    for agent in &agents {
        let process = agent
            .pane_id
            .as_ref()
            .map(|pane| format!("{pane}:{}", agent.pane_pid.unwrap_or_default()));
        let by_hook = agent.status_signal == "hook";
        tracker.sync(&agent.name, State::parse(&agent.status), process, by_hook);
    }
    let mut observations = Vec::new();
    for agent in &agents {
        let backend: BackendName = agent.backend.parse().unwrap_or(BackendName::Command);
        let pane = panes.of(agent);
        let liveness = match pane {
            None => Liveness::Missing,
            Some(p) if p.exited() => Liveness::Exited {
                code: p.dead_status,
                signal: p.dead_signal,
            },
            Some(_) => {
                let Some(text) = screens_text.get(&agent.name) else {
                    // Vanished between list-panes and the capture: next tick will tell.
                    continue;
                };
                Liveness::Running {
                    screen_hash: hash_text(text),
                    screen: screen_of(backend, text),
                }
            }
        };
        observations.push(Observation {
            name: agent.name.clone(),
            is_director: agent.role == "director",
            liveness,
            unread: unread.get(&agent.name).copied().unwrap_or(0),
            restart: settings
                .policies
                .get(&agent.name)
                .cloned()
                .unwrap_or_default(),
            hook: (agent.status_signal == "hook").then(|| State::parse(&agent.status)),
        });
    }
    let decisions = tracker.tick(now, stall_after, &observations);
    let mut nudges = Vec::new();
    for decision in &decisions {
        match decision {
            Decision::SetState {
                name,
                state,
                reason,
            } => {
                if let Some(agent) = agents.iter().find(|a| &a.name == name) {
                    let reason = (!reason.is_empty()).then_some(reason.as_str());
                    let signal = match observations.iter().find(|o| &o.name == name) {
                        Some(Observation {
                            liveness: Liveness::Running { .. },
                            ..
                        }) => Signal::Screen,
                        _ => Signal::Pane,
                    };
                    registry.set_agent_status_by(agent.id, state.as_str(), reason, signal)?;
                    registry.event(
                        Some(fleet.id),
                        Some(name),
                        "state",
                        json!({"from": agent.status, "to": state.as_str(), "reason": reason, "signal": signal.as_str()}),
                    )?;
                }
            }
            Decision::Nudge { name, text } => nudges.push((name, text)),
            Decision::Restart { name } => {
                if let Some(agent) = agents.iter().find(|a| &a.name == name) {
                    restart(registry, tmux, fleet, settings, agent)?;
                }
            }
        }
    }
    drop(fleet_lock);
    for (name, text) in nudges {
        broker::nudge(registry, tmux, fleet, SENDER, name, text)?;
    }
    // Messages that waited while an agent was away are announced once it is live.
    let live: Vec<&Observation> = observations
        .iter()
        .filter(|o| {
            matches!(
                o.liveness,
                Liveness::Running {
                    screen: Screen::Idle | Screen::Working,
                    ..
                }
            )
        })
        .collect();
    for o in live {
        if registry.pending_messages(fleet.id, &o.name)?.is_empty() {
            continue;
        }
        broker::deliver_pending(registry, tmux, fleet, &o.name)?;
    }
    let mut counts: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for agent in registry.agents(fleet.id)? {
        if agent.status != "removed" && agent.status != "stopped" {
            counts.entry(agent.status).or_default().push(agent.name);
        }
    }
    let summary: Vec<String> = counts
        .iter()
        .map(|(state, names)| format!("{} {state} ({})", names.len(), names.join(", ")))
        .collect();
    let summary = summary.join("; ");
    heartbeat(registry, tmux, fleet, tick_no, &summary)?;
    Ok(summary)
}

fn restart(
    registry: &mut Registry,
    tmux: &Tmux,
    fleet: &FleetRow,
    settings: &FileSettings,
    agent: &AgentRow,
) -> Result<()> {
    let spec = agent.spec().ok_or_else(|| {
        Error::failure(format!(
            "`{}` has no recorded launch spec to restart from",
            agent.name
        ))
    })?;
    // Its own server: another host's for an agent with `host`.
    let tmux = &apply::Servers::new(tmux.clone()).for_spec(&spec)?;
    if let Some(pane) = &agent.pane_id {
        apply::kill_pane(tmux, pane, &fleet.name, &agent.name)?;
    }
    let role = match agent.role.as_str() {
        "director" => crate::manifest::Role::Director,
        "monitor" => crate::manifest::Role::Monitor,
        _ => crate::manifest::Role::Member,
    };
    let db = registry.path().to_owned();
    let hash = agent.config_hash.clone().unwrap_or_else(|| spec.hash());
    let pane = apply::spawn(
        &mut apply::Env {
            registry,
            tmux,
            db_path: &db,
        },
        &apply::SpawnRequest {
            fleet,
            name: &agent.name,
            role,
            description: &agent.description,
            origin: &agent.origin,
            spec: &spec,
            hash: &hash,
            layout: &settings.layout,
            panes_per_window: settings.panes_per_window,
            window_size: settings.window_size,
        },
    )?;
    registry.event(
        Some(fleet.id),
        Some(&agent.name),
        "restart",
        json!({"pane": pane.to_string()}),
    )?;
    Ok(())
}

/// Wakes the monitoring agent with one line a tick: never Escape, never on a prompt.
fn heartbeat(
    registry: &mut Registry,
    tmux: &Tmux,
    fleet: &FleetRow,
    tick_no: u64,
    summary: &str,
) -> Result<()> {
    let Some(agent) = registry
        .agents(fleet.id)?
        .into_iter()
        .find(|a| a.role == "monitor" && broker::may_be_live(a))
    else {
        return Ok(());
    };
    let Some(pane) = agent.pane_id.clone() else {
        return Ok(());
    };
    let backend: BackendName = agent.backend.parse().unwrap_or(BackendName::Command);
    let db = registry.path().to_owned();
    let _lock = crate::registry::lock::Lock::agent(&db, agent.id)?;
    let Some(info) = tmux.info(&pane)? else {
        return Ok(());
    };
    if info.dead
        || info.fleet.as_deref() != Some(fleet.name.as_str())
        || info.member.as_deref() != Some(agent.name.as_str())
    {
        return Ok(());
    }
    let screen = screens::classify(backend, &tmux.capture(&pane)?);
    if !matches!(screen, screens::Screen::Composer | screens::Screen::Working) {
        return Ok(());
    }
    let line = broker::preview::sanitize(&format!("[cafleet] heartbeat #{tick_no}: {summary}"));
    tmux.type_text(&pane, &line)?;
    tmux.pause(screens::key_timing(backend).before_enter);
    tmux.press(&pane, PaneKey::Enter)?;
    Ok(())
}
