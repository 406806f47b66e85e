//! Observing a fleet: its registry agents joined with the tmux panes tagged with it. An
//! agent is live only if its pane exists, still carries its tags, and its process has not
//! exited.

use std::collections::HashSet;

use super::{TAG_FLEET, TAG_HASH, TAG_MEMBER, TAGS};
use crate::error::Result;
use crate::manifest::Role;
use crate::plan::{Observed, ObservedAgent, ObservedPane, StrayPane};
use crate::registry::Registry;
use crate::tmux::{Pane, Tmux};

/// A fleet's tagged panes as one `list-panes` saw them, by pane id.
pub struct FleetPanes(std::collections::HashMap<String, Pane>);

impl FleetPanes {
    pub fn list(tmux: &Tmux, fleet: &str) -> Result<FleetPanes> {
        Ok(FleetPanes(
            fleet_panes(tmux, fleet)?
                .into_iter()
                .map(|p| (p.id.to_string(), p))
                .collect(),
        ))
    }

    /// No panes (a fleet that is down needs no tmux call).
    pub fn none() -> FleetPanes {
        FleetPanes(std::collections::HashMap::new())
    }

    /// The agent's recorded pane, if it exists and still carries the agent's tag.
    pub fn of(&self, agent: &crate::registry::agents::AgentRow) -> Option<&Pane> {
        agent
            .pane_id
            .as_deref()
            .and_then(|id| self.0.get(id))
            .filter(|p| p.option(TAG_MEMBER) == Some(agent.name.as_str()))
    }

    /// The visible text of the given agents' running panes, in one tmux call.
    pub fn screens<'a>(
        &self,
        tmux: &Tmux,
        agents: impl IntoIterator<Item = &'a crate::registry::agents::AgentRow>,
    ) -> Result<std::collections::HashMap<crate::tmux::PaneId, String>> {
        let ids: Vec<crate::tmux::PaneId> = agents
            .into_iter()
            .filter_map(|a| self.of(a))
            .filter(|p| !p.dead)
            .map(|p| p.id)
            .collect();
        Ok(ids
            .iter()
            .copied()
            .zip(tmux.capture_panes(&ids)?)
            .filter_map(|(id, text)| text.map(|t| (id, t)))
            .collect())
    }
}

/// Every pane on the server tagged with `fleet`.
pub fn fleet_panes(tmux: &Tmux, fleet: &str) -> Result<Vec<Pane>> {
    Ok(tmux
        .list_panes(&TAGS)?
        .into_iter()
        .filter(|p| p.option(TAG_FLEET) == Some(fleet))
        .collect())
}

/// The registry's agents of `fleet` and the panes that are theirs.
pub fn observe(registry: &Registry, tmux: &Tmux, fleet: &str) -> Result<Observed> {
    let panes = fleet_panes(tmux, fleet)?;
    let Some(row) = registry.fleet_by_name(fleet)? else {
        // Nothing registered: every tagged pane is a stray.
        return Ok(Observed {
            agents: Vec::new(),
            strays: panes
                .iter()
                .map(|p| StrayPane {
                    id: p.id.to_string(),
                    member: p.option(TAG_MEMBER).unwrap_or_default().to_string(),
                })
                .collect(),
        });
    };
    let mut claimed: HashSet<String> = HashSet::new();
    let mut agents = Vec::new();
    for agent in registry.agents(row.id)? {
        let tagged_for = |p: &&Pane| p.option(TAG_MEMBER) == Some(agent.name.as_str());
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
                        .find(|p| !claimed.contains(&p.id.to_string()))
                }
            });
        if let Some(p) = pane {
            claimed.insert(p.id.to_string());
        }
        let role = match agent.role.as_str() {
            "director" => Role::Director,
            "monitor" => Role::Monitor,
            _ => Role::Member,
        };
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
        .filter(|p| !claimed.contains(&p.id.to_string()))
        .map(|p| StrayPane {
            id: p.id.to_string(),
            member: p.option(TAG_MEMBER).unwrap_or_default().to_string(),
        })
        .collect();
    Ok(Observed { agents, strays })
}
