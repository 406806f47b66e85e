//! Observing a fleet: its registry agents joined with the tmux panes tagged with it. An
//! agent is live only if its pane exists, still carries its tags, and its process has not
//! exited.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::hosts::{Servers, host_of};
use super::{TAG_FLEET, TAG_HASH, TAG_MEMBER, TAGS};
use crate::error::Result;
use crate::manifest::Role;
use crate::plan::{Observed, ObservedAgent, ObservedPane, StrayPane};
use crate::registry::Registry;
use crate::tmux::{Pane, Tmux};

/// A fleet's tagged panes as one `list-panes` per server saw them, by host and pane id,
/// and the hosts that could not be reached.
pub struct FleetPanes {
    panes: HashMap<(Option<String>, String), Pane>,
    unreachable: BTreeMap<String, String>,
}

impl FleetPanes {
    /// The panes on every server of `servers`; a host ssh cannot reach is noted (with
    /// why) instead of failing the whole look.
    pub fn list(servers: &Servers, fleet: &str) -> Result<FleetPanes> {
        let (panes, unreachable) = fleet_panes_everywhere(servers, fleet)?;
        Ok(FleetPanes {
            panes: panes
                .into_iter()
                .map(|p| ((p.host.clone(), p.id.to_string()), p))
                .collect(),
            unreachable,
        })
    }

    /// No panes (a fleet that is down needs no tmux call).
    pub fn none() -> FleetPanes {
        FleetPanes {
            panes: HashMap::new(),
            unreachable: BTreeMap::new(),
        }
    }

    /// The agent's recorded pane, if it exists and still carries the agent's tag.
    pub fn of(&self, agent: &crate::registry::agents::AgentRow) -> Option<&Pane> {
        let host = host_of(agent);
        agent
            .pane_id
            .as_deref()
            .and_then(|id| self.panes.get(&(host, id.to_string())))
            .filter(|p| p.option(TAG_MEMBER) == Some(agent.name.as_str()))
    }

    /// Why the agent's host could not be reached, when it is on one that could not.
    pub fn unreachable(&self, agent: &crate::registry::agents::AgentRow) -> Option<&str> {
        host_of(agent).and_then(|h| self.unreachable.get(&h).map(String::as_str))
    }

    /// The hosts that could not be reached, with why.
    pub fn unreachable_hosts(&self) -> &BTreeMap<String, String> {
        &self.unreachable
    }

    /// The visible text of the given agents' running panes, by agent name, in one tmux
    /// call per server.
    pub fn screens<'a>(
        &self,
        servers: &Servers,
        agents: impl IntoIterator<Item = &'a crate::registry::agents::AgentRow>,
    ) -> Result<HashMap<String, String>> {
        let mut by_host: BTreeMap<Option<String>, Vec<(String, crate::tmux::PaneId)>> =
            BTreeMap::new();
        for agent in agents {
            if let Some(pane) = self.of(agent).filter(|p| !p.exited()) {
                by_host
                    .entry(pane.host.clone())
                    .or_default()
                    .push((agent.name.clone(), pane.id));
            }
        }
        let mut screens = HashMap::new();
        for (host, wanted) in by_host {
            let tmux = servers.on(host.as_deref())?;
            let ids: Vec<crate::tmux::PaneId> = wanted.iter().map(|(_, id)| *id).collect();
            let texts = match tmux.capture_panes(&ids) {
                Ok(texts) => texts,
                // Gone since the listing: its agents have no screen this time.
                Err(err) if err.is_unreachable() => continue,
                Err(err) => return Err(err),
            };
            for ((name, _), text) in wanted.into_iter().zip(texts) {
                if let Some(text) = text {
                    screens.insert(name, text);
                }
            }
        }
        Ok(screens)
    }
}

/// The fleet's tagged panes on every server, and the hosts ssh could not reach (with
/// the error's message).
pub fn fleet_panes_everywhere(
    servers: &Servers,
    fleet: &str,
) -> Result<(Vec<Pane>, BTreeMap<String, String>)> {
    let mut panes = Vec::new();
    let mut unreachable = BTreeMap::new();
    for (host, tmux) in servers.all() {
        match fleet_panes(tmux, fleet) {
            Ok(found) => panes.extend(found),
            Err(err) if err.is_unreachable() => {
                unreachable.insert(host.unwrap_or_default().to_string(), err.message);
            }
            Err(err) => return Err(err),
        }
    }
    Ok((panes, unreachable))
}

/// Every pane on the server tagged with `fleet`.
pub fn fleet_panes(tmux: &Tmux, fleet: &str) -> Result<Vec<Pane>> {
    Ok(tmux
        .list_panes(&TAGS)?
        .into_iter()
        .filter(|p| p.option(TAG_FLEET) == Some(fleet))
        .collect())
}

/// The registry's agents of `fleet` and the panes that are theirs, on every server of
/// `servers`. An agent on a host that cannot be reached keeps the pane it had on record
/// (as running, with its recorded hash): nothing can be known or changed there now.
pub fn observe(registry: &Registry, servers: &Servers, fleet: &str) -> Result<Observed> {
    let (panes, unreachable) = fleet_panes_everywhere(servers, fleet)?;
    let stray = |p: &Pane| StrayPane {
        id: p.id.to_string(),
        member: p.option(TAG_MEMBER).unwrap_or_default().to_string(),
        host: p.host.clone(),
    };
    let key = |p: &Pane| (p.host.clone(), p.id.to_string());
    let Some(row) = registry.fleet_by_name(fleet)? else {
        // Nothing registered: every tagged pane is a stray.
        return Ok(Observed {
            agents: Vec::new(),
            strays: panes.iter().map(stray).collect(),
            unreachable,
        });
    };
    let mut claimed: HashSet<(Option<String>, String)> = HashSet::new();
    let mut agents = Vec::new();
    for agent in registry.agents(row.id)? {
        let host = host_of(&agent);
        let role = match agent.role.as_str() {
            "director" => Role::Director,
            "monitor" => Role::Monitor,
            _ => Role::Member,
        };
        if let Some(h) = &host
            && unreachable.contains_key(h)
        {
            let running = !["stopped", "removed", "dead"].contains(&agent.status.as_str());
            agents.push(ObservedAgent {
                role,
                origin: agent.origin.clone(),
                status: agent.status.clone(),
                hash: agent.config_hash.clone(),
                spec: agent.spec(),
                pane: agent
                    .pane_id
                    .clone()
                    .filter(|_| running)
                    .map(|id| ObservedPane {
                        id,
                        alive: true,
                        hash: agent.config_hash.clone(),
                    }),
                name: agent.name,
            });
            continue;
        }
        let tagged_for =
            |p: &&Pane| p.host == host && p.option(TAG_MEMBER) == Some(agent.name.as_str());
        // Prefer the pane the registry recorded; fall back to any pane tagged for this
        // agent (an `up` killed after starting the pane but before recording it).
        let pane = agent
            .pane_id
            .as_deref()
            .and_then(|id| {
                panes
                    .iter()
                    .filter(tagged_for)
                    .find(|p| p.id.to_string() == id)
            })
            .or_else(|| {
                if agent.status == "removed" {
                    None
                } else {
                    panes
                        .iter()
                        .filter(tagged_for)
                        .find(|p| !claimed.contains(&key(p)))
                }
            });
        if let Some(p) = pane {
            claimed.insert(key(p));
        }
        agents.push(ObservedAgent {
            role,
            origin: agent.origin.clone(),
            status: agent.status.clone(),
            hash: agent.config_hash.clone(),
            spec: agent.spec(),
            pane: pane.map(|p| ObservedPane {
                id: p.id.to_string(),
                alive: !p.exited(),
                hash: p.option(TAG_HASH).map(String::from),
            }),
            name: agent.name,
        });
    }
    let strays = panes
        .iter()
        .filter(|p| !claimed.contains(&key(p)))
        .map(stray)
        .collect();
    Ok(Observed {
        agents,
        strays,
        unreachable,
    })
}
