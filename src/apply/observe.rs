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
                alive: !p.dead && p.pid.is_some_and(crate::process::is_alive),
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
