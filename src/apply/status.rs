//! What each agent of a fleet is doing right now — the one state function every view
//! reads (`ps`, `member list/show`, `fleet show`, `monitor status`, the web UI and their
//! `--json`): the registry's recorded state checked against its tmux pane (gone, exited,
//! or re-tagged panes mean `dead`; a `starting` agent's screen is looked at once), its
//! unread count and whether it runs an outdated config (drift).

use serde::Serialize;

use super::{FleetPanes, Servers, TAG_FLEET, TAG_HASH, TAG_MEMBER, TAGS, tmux_for};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::agents::AgentRow;
use crate::registry::fleets::FleetRow;

/// One agent's observed state. Field names are stable: `ps --json` and the web API emit them.
#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub fleet: String,
    pub name: String,
    pub role: String,
    pub backend: String,
    pub model: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    /// What told it: `hook` (the agent's own CLI), `screen`, `pane` or `command`.
    pub signal: String,
    /// When the agent's own hooks last reported anything (`None`: never).
    pub hook_at: Option<String>,
    /// When the recorded state last changed.
    pub since: String,
    pub unread: i64,
    pub pane: Option<String>,
    /// The host the agent runs on (`host` in the fleet file); absent on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its running config differs from what the fleet file now declares (`plan` would
    /// recreate or remove it); without a readable file, from what its pane was tagged with.
    pub drift: bool,
    /// What drifted, per field, as `plan` says it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift_changes: Vec<String>,
    /// The fleet file drift is compared with: the one the fleet was last applied from.
    pub fleet_file: Option<String>,
    pub description: String,
}

/// A fleet's agents as every view shows them, and the fleet file their drift was
/// compared with.
#[derive(Debug, Clone, Default)]
pub struct FleetView {
    pub agents: Vec<AgentStatus>,
    /// The file the fleet was last applied from (`None`: made with `fleet create`).
    pub file: Option<String>,
    /// Why that file could not be read (drift is then only the pane tags' word).
    pub file_error: Option<String>,
    /// Why the panes could not be looked at (a tmux server that does not answer): the
    /// agents' state is then `unknown`, with this as the reason.
    pub tmux_warning: Option<String>,
}

/// The state shown for an agent whose pane could not be looked at.
pub const UNKNOWN: &str = "unknown";

/// The state of an agent whose host ssh cannot reach (not `dead`: it may well run there).
pub const UNREACHABLE: &str = "unreachable";

/// The state of every agent of `fleet` that has not been removed, oldest first.
/// `tmux_socket` overrides the socket the fleet recorded (`--tmux-socket`).
pub fn fleet_status(
    tmux_socket: Option<&str>,
    registry: &Registry,
    fleet: &FleetRow,
) -> Result<Vec<AgentStatus>> {
    Ok(fleet_view(tmux_socket, registry, fleet)?.agents)
}

/// [`fleet_status`], with the fleet file drift was compared with.
pub fn fleet_view(
    tmux_socket: Option<&str>,
    registry: &Registry,
    fleet: &FleetRow,
) -> Result<FleetView> {
    let file = fleet.manifest_path.as_ref().map(|path| {
        let options = crate::manifest::LoadOptions {
            db_path: Some(registry.path().to_owned()),
            styled: false,
        };
        (
            path.to_string(),
            crate::manifest::load(path.as_str().into(), &options),
        )
    });
    let declared = match &file {
        Some((_, Ok(declared))) => Some(declared),
        _ => None,
    };
    let tmux = tmux_for(tmux_socket, &fleet.socket);
    let agents = registry.agents(fleet.id)?;
    let servers = Servers::of_agents(
        tmux.clone(),
        agents.iter().filter(|a| a.status != "removed"),
    )?;
    // A server that does not answer (stopped, wedged) is not an error of the view: the
    // panes are unknown, said once as a warning and as each agent's reason. A host ssh
    // cannot reach makes its agents `unreachable` (see `FleetPanes::list`).
    let mut tmux_warning = None;
    let panes = if fleet.status == "up" {
        match FleetPanes::list(&servers, &fleet.name) {
            Ok(panes) => panes,
            Err(err) if tmux.hung() => {
                tmux_warning = Some(err.message);
                FleetPanes::none()
            }
            Err(err) => return Err(err),
        }
    } else {
        FleetPanes::none()
    };
    let unread = registry.unread_counts(fleet.id)?;
    // Agents no monitor has looked at since they started: one batched capture for all.
    let screens = if tmux_warning.is_some() {
        Default::default()
    } else {
        panes.screens(&servers, agents.iter().filter(|a| needs_a_look(a)))?
    };
    let mut rows = Vec::new();
    for agent in agents {
        if agent.status == "removed" {
            continue;
        }
        let pane = panes.of(&agent);
        let recorded = agent.status_signal.clone();
        let (state, reason, signal) = match pane {
            // Stopped by `down`, or given up on by the monitor: that says more than `dead`.
            _ if agent.status == "stopped" || agent.status == "crash-loop" => {
                (agent.status.clone(), agent.status_reason.clone(), recorded)
            }
            // Its host does not answer: nothing is known of its pane, which may well run.
            _ if panes.unreachable(&agent).is_some() => (
                UNREACHABLE.to_string(),
                panes.unreachable(&agent).map(str::to_string),
                "pane".to_string(),
            ),
            None if tmux_warning.is_some() => (
                UNKNOWN.to_string(),
                tmux_warning.clone(),
                "pane".to_string(),
            ),
            // Left on a host `down` could not reach: not looked at while the fleet is down.
            None if fleet.status != "up" && agent.status == UNREACHABLE => {
                (agent.status.clone(), agent.status_reason.clone(), recorded)
            }
            None => (
                "dead".to_string(),
                Some("its pane is gone".to_string()),
                "pane".to_string(),
            ),
            Some(p) if p.exited() => {
                let how = match (p.dead_status, p.dead_signal) {
                    (Some(code), _) => format!("exited with status {code}"),
                    (_, Some(signal)) => format!("killed by signal {signal}"),
                    _ => "its process exited".to_string(),
                };
                ("dead".to_string(), Some(how), "pane".to_string())
            }
            // No monitor has looked at it since it started (or since its host was away):
            // look once.
            Some(_) if needs_a_look(&agent) => (
                live_state(screens.get(&agent.name), &agent.backend),
                None,
                "screen".to_string(),
            ),
            Some(_) => (agent.status.clone(), agent.status_reason.clone(), recorded),
        };
        let running = pane.filter(|p| !p.exited());
        let running_hash = running
            .and_then(|p| p.option(TAG_HASH))
            .or(agent.config_hash.as_deref());
        let (drift, drift_changes) = match (running, declared) {
            (None, _) => (false, Vec::new()),
            // As `plan` decides: a changed hash, a declared agent that was added by hand,
            // a file agent no longer declared.
            (Some(_), Some(file)) => match file.agent(&agent.name) {
                Some(_) if agent.origin != "manifest" => (
                    true,
                    vec!["was added with `member create`; now declared in the file".into()],
                ),
                Some(want) if running_hash != Some(want.hash.as_str()) => {
                    let changes = agent
                        .spec()
                        .map(|old| want.spec.changes_from(&old))
                        .filter(|c| !c.is_empty())
                        .unwrap_or_else(|| vec!["config changed".into()]);
                    (true, changes)
                }
                Some(_) => (false, Vec::new()),
                None if agent.origin == "manifest" => {
                    (true, vec!["no longer in the fleet file".into()])
                }
                None => (false, Vec::new()),
            },
            (Some(p), None) => (
                p.option(TAG_HASH)
                    .is_some_and(|h| Some(h) != agent.config_hash.as_deref()),
                Vec::new(),
            ),
        };
        rows.push(AgentStatus {
            fleet: fleet.name.clone(),
            unread: unread.get(&agent.name).copied().unwrap_or(0),
            pane: agent.pane_id.clone(),
            host: super::host_of(&agent),
            name: agent.name,
            role: agent.role,
            backend: agent.backend,
            model: agent.model,
            state,
            reason,
            signal,
            hook_at: agent.hook_at,
            since: agent.status_since,
            drift,
            drift_changes,
            fleet_file: file.as_ref().map(|(path, _)| path.clone()),
            description: agent.description,
        });
    }
    let (file, file_error) = match file {
        Some((path, Ok(_))) => (Some(path), None),
        Some((path, Err(err))) => (
            Some(path),
            Some(err.message.lines().next().unwrap_or_default().to_string()),
        ),
        None => (None, None),
    };
    Ok(FleetView {
        agents: rows,
        file,
        file_error,
        tmux_warning,
    })
}

/// The state of one agent of `fleet`, as [`fleet_status`] tells it; an agent it skips
/// (removed) keeps its recorded state.
pub fn agent_status(
    tmux_socket: Option<&str>,
    registry: &Registry,
    fleet: &FleetRow,
    agent: &AgentRow,
) -> Result<(String, Option<String>, String)> {
    Ok(fleet_status(tmux_socket, registry, fleet)?
        .into_iter()
        .find(|row| row.name == agent.name)
        .map_or_else(
            || {
                (
                    agent.status.clone(),
                    agent.status_reason.clone(),
                    agent.status_signal.clone(),
                )
            },
            |row| (row.state, row.reason, row.signal),
        ))
}

/// Whether the recorded state says nothing about the pane now: just started, or last
/// seen while its host could not be reached.
fn needs_a_look(agent: &AgentRow) -> bool {
    agent.status == "starting" || agent.status == UNREACHABLE
}

/// The state a just-started agent's screen shows, without recording it.
pub fn screen_state(screen: Option<&String>, backend: &str) -> String {
    live_state(screen, backend)
}

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

/// The text of `agent`'s pane for people (the visible screen, or with `last` its last
/// that many lines, scrollback included), provided the pane still exists and still
/// carries the agent's tag; an error with a hint otherwise.
pub fn pane_text(
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    agent: &AgentRow,
    last: Option<u32>,
) -> Result<String> {
    let no_pane = || {
        Error::failure(format!("`{}` has no live pane", agent.name))
            .hint("bring it back with `cafleet up`")
    };
    let tmux = Servers::new(tmux_for(tmux_socket, &fleet.socket)).for_agent(agent)?;
    let pane_id: crate::tmux::PaneId = agent
        .pane_id
        .as_deref()
        .and_then(|p| p.parse().ok())
        .ok_or_else(no_pane)?;
    let pane = tmux.pane(pane_id, &TAGS)?.ok_or_else(no_pane)?;
    // tmux reuses pane ids: show the text only if the pane still names this agent.
    if pane.option(TAG_FLEET) != Some(fleet.name.as_str())
        || pane.option(TAG_MEMBER) != Some(agent.name.as_str())
    {
        return Err(no_pane());
    }
    tmux.capture_text(pane_id, last)
}
