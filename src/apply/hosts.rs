//! Which tmux server each agent's pane is on. A fleet lives on one tmux server on this
//! machine, plus the same server (same socket name) on every host its members name with
//! `host`; [`Servers`] holds a handle on each. An agent's host is kept in its stored
//! launch spec (`spec_json`), so every later command — `ps`, `down`, delivery, the
//! monitor — finds the agent's pane where `up` started it, without a registry column.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::manifest::LaunchSpec;
use crate::registry::agents::AgentRow;
use crate::tmux::{Remote, Tmux};

/// The fleet's tmux servers: this machine's and one per other host.
#[derive(Debug, Clone)]
pub struct Servers {
    local: Tmux,
    remote: BTreeMap<String, Tmux>,
}

impl Servers {
    /// Only this machine's server.
    pub fn new(local: Tmux) -> Servers {
        Servers {
            local,
            remote: BTreeMap::new(),
        }
    }

    /// This machine's server and the hosts of `agents` (from their stored specs).
    pub fn of_agents<'a>(
        local: Tmux,
        agents: impl IntoIterator<Item = &'a AgentRow>,
    ) -> Result<Servers> {
        let mut servers = Servers::new(local);
        for agent in agents {
            if let Some((host, ssh_command)) = placement(agent) {
                servers.add_host(&host, ssh_command.as_deref())?;
            }
        }
        Ok(servers)
    }

    /// Adds the host `spec` runs on, if it is another host and not known yet.
    pub fn add(&mut self, spec: &LaunchSpec) -> Result<()> {
        match &spec.host {
            Some(host) => self.add_host(host, spec.ssh_command.as_deref()),
            None => Ok(()),
        }
    }

    fn add_host(&mut self, host: &str, ssh_command: Option<&str>) -> Result<()> {
        if !self.remote.contains_key(host) {
            let remote = Remote::new(host, ssh_command)?;
            self.remote
                .insert(host.to_string(), self.local.on_host(remote));
        }
        Ok(())
    }

    /// The server on `host` (`None`: this machine). A host not added yet is reached with
    /// the default ssh command.
    pub fn on(&self, host: Option<&str>) -> Result<Tmux> {
        match host {
            None => Ok(self.local.clone()),
            Some(host) => match self.remote.get(host) {
                Some(tmux) => Ok(tmux.clone()),
                None => Ok(self.local.on_host(Remote::new(host, None)?)),
            },
        }
    }

    /// The server `spec`'s agent runs on.
    pub fn for_spec(&self, spec: &LaunchSpec) -> Result<Tmux> {
        match &spec.host {
            None => Ok(self.local.clone()),
            Some(host) => match self.remote.get(host) {
                Some(tmux) => Ok(tmux.clone()),
                None => Ok(self
                    .local
                    .on_host(Remote::new(host, spec.ssh_command.as_deref())?)),
            },
        }
    }

    /// The server `agent`'s pane is on.
    pub fn for_agent(&self, agent: &AgentRow) -> Result<Tmux> {
        match placement(agent) {
            None => Ok(self.local.clone()),
            Some((host, ssh_command)) => match self.remote.get(&host) {
                Some(tmux) => Ok(tmux.clone()),
                None => Ok(self
                    .local
                    .on_host(Remote::new(&host, ssh_command.as_deref())?)),
            },
        }
    }

    /// Every server: this machine's first (`None`), then each host's.
    pub fn all(&self) -> impl Iterator<Item = (Option<&str>, &Tmux)> {
        std::iter::once((None, &self.local))
            .chain(self.remote.iter().map(|(h, t)| (Some(h.as_str()), t)))
    }
}

/// Only the placement keys of a stored launch spec: reading them skips the rest (a
/// prompt may be long) instead of building the whole spec, for every agent on every look.
#[derive(serde::Deserialize)]
struct Placement {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    ssh_command: Option<String>,
}

/// The host `agent` runs on and the `ssh_command` to reach it, from its stored launch
/// spec; `None` for this machine.
fn placement(agent: &AgentRow) -> Option<(String, Option<String>)> {
    let json = agent.spec_json.as_deref()?;
    // Most fleets have no `host` at all: no parse for them.
    if !json.contains("\"host\"") {
        return None;
    }
    let placement: Placement = serde_json::from_str(json).ok()?;
    Some((placement.host?, placement.ssh_command))
}

/// The host `agent` runs on, from its stored launch spec (`None`: this machine).
pub fn host_of(agent: &AgentRow) -> Option<String> {
    placement(agent).map(|(host, _)| host)
}
