//! Agent rows: one per agent a fleet has had, with its pane, its launch spec and its state.
//! Rows are never deleted by normal operation; a dropped agent becomes `removed`.

use serde::Serialize;

use super::Registry;
use super::engine::{Exec, Row, params};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct AgentRow {
    pub id: i64,
    pub fleet_id: i64,
    pub name: String,
    pub role: String,
    pub backend: String,
    pub model: Option<String>,
    pub description: String,
    pub origin: String,
    pub config_hash: Option<String>,
    #[serde(skip)]
    pub spec_json: Option<String>,
    pub pane_id: Option<String>,
    pub pane_pid: Option<i64>,
    pub status: String,
    pub status_reason: Option<String>,
    pub status_since: String,
    /// What set the state: `hook`, `screen`, `pane` or `command` (see [`Signal`]).
    pub status_signal: String,
    /// When the agent's own hooks last reported anything.
    pub hook_at: Option<String>,
    pub created_at: String,
}

/// What told cafleet an agent's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The agent's own CLI, through the hook cafleet installed at launch.
    Hook,
    /// cafleet read the agent's screen.
    Screen,
    /// The pane, or the process in it, is gone.
    Pane,
    /// A cafleet command (`up`, `down`, `member delete` …) decided it.
    Command,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Hook => "hook",
            Signal::Screen => "screen",
            Signal::Pane => "pane",
            Signal::Command => "command",
        }
    }
}

impl AgentRow {
    /// The launch spec stored when the agent was last started, if it parses.
    pub fn spec(&self) -> Option<crate::manifest::LaunchSpec> {
        self.spec_json
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
    }
}

const COLUMNS: &str = "id, fleet_id, name, role, backend, model, description, origin, config_hash, spec_json, \
                       pane_id, pane_pid, status, status_reason, status_since, created_at, \
                       status_signal, hook_at";

fn from_row(row: &Row) -> Result<AgentRow> {
    Ok(AgentRow {
        id: row.get(0)?,
        fleet_id: row.get(1)?,
        name: row.get(2)?,
        role: row.get(3)?,
        backend: row.get(4)?,
        model: row.get(5)?,
        description: row.get(6)?,
        origin: row.get(7)?,
        config_hash: row.get(8)?,
        spec_json: row.get(9)?,
        pane_id: row.get(10)?,
        pane_pid: row.get(11)?,
        status: row.get(12)?,
        status_reason: row.get(13)?,
        status_since: row.get(14)?,
        created_at: row.get(15)?,
        status_signal: row.get(16)?,
        hook_at: row.get(17)?,
    })
}

/// What is recorded when an agent is (re)started.
pub struct NewAgent<'a> {
    pub fleet_id: i64,
    pub name: &'a str,
    pub role: &'a str,
    pub backend: &'a str,
    pub model: Option<&'a str>,
    pub description: &'a str,
    pub origin: &'a str,
    pub config_hash: &'a str,
    pub spec_json: &'a str,
}

/// States that mean the agent is not expected to be running.
pub const INACTIVE_STATES: [&str; 2] = ["stopped", "removed"];

impl Registry {
    /// Every agent of a fleet, including stopped and removed ones, oldest first.
    pub fn agents(&self, fleet_id: i64) -> Result<Vec<AgentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE fleet_id = ?1 ORDER BY id");
        self.db().rows(&sql, params![fleet_id], from_row)
    }

    pub fn agent(&self, fleet_id: i64, name: &str) -> Result<Option<AgentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE fleet_id = ?1 AND name = ?2");
        self.db().row(&sql, params![fleet_id, name], from_row)
    }

    /// The agent named `name`, or a not-found error listing the fleet's agents.
    pub fn require_agent(&self, fleet_id: i64, fleet_name: &str, name: &str) -> Result<AgentRow> {
        if let Some(agent) = self
            .agent(fleet_id, name)?
            .filter(|a| a.status != "removed")
        {
            return Ok(agent);
        }
        let names: Vec<String> = self
            .agents(fleet_id)?
            .into_iter()
            .filter(|a| a.status != "removed")
            .map(|a| a.name)
            .collect();
        let hint = if names.is_empty() {
            format!("fleet `{fleet_name}` has no members")
        } else {
            format!("members of `{fleet_name}`: {}", names.join(", "))
        };
        Err(Error::not_found(format!("no member `{name}` in fleet `{fleet_name}`")).hint(hint))
    }

    /// Records an agent about to be started: inserts it or resets the existing row to
    /// `starting` with the new spec and no pane.
    pub fn upsert_agent(&mut self, agent: &NewAgent<'_>) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO agents (fleet_id, name, role, backend, model, description, origin,
                                     config_hash, spec_json, pane_id, pane_pid, status, status_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, 'starting', NULL)
                 ON CONFLICT (fleet_id, name) DO UPDATE SET
                    role = excluded.role, backend = excluded.backend, model = excluded.model,
                    description = excluded.description, origin = excluded.origin,
                    config_hash = excluded.config_hash, spec_json = excluded.spec_json,
                    pane_id = NULL, pane_pid = NULL, status = 'starting', status_reason = NULL,
                    status_since = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![
                    agent.fleet_id,
                    agent.name,
                    agent.role,
                    agent.backend,
                    agent.model,
                    agent.description,
                    agent.origin,
                    agent.config_hash,
                    agent.spec_json
                ],
            )?;
            tx.value(
                "SELECT id FROM agents WHERE fleet_id = ?1 AND name = ?2",
                params![agent.fleet_id, agent.name],
            )
        })
    }

    /// Records the pane an agent now runs in.
    pub fn set_agent_pane(
        &mut self,
        agent_id: i64,
        pane_id: &str,
        pane_pid: Option<i64>,
    ) -> Result<()> {
        self.db().execute(
            "UPDATE agents SET pane_id = ?2, pane_pid = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1",
            params![agent_id, pane_id, pane_pid],
        )?;
        Ok(())
    }

    /// Sets an agent's state as a cafleet command decided it; `status_since` moves only
    /// when the state changes.
    pub fn set_agent_status(
        &mut self,
        agent_id: i64,
        status: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        self.set_agent_status_by(agent_id, status, reason, Signal::Command)
    }

    /// Sets an agent's state and the signal that told it.
    pub fn set_agent_status_by(
        &mut self,
        agent_id: i64,
        status: &str,
        reason: Option<&str>,
        signal: Signal,
    ) -> Result<()> {
        self.update_status(agent_id, None, status, reason, false, signal)?;
        Ok(())
    }

    /// Forgets an agent's pane (it is gone) and sets its state.
    pub fn clear_agent_pane(
        &mut self,
        agent_id: i64,
        status: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        self.update_status(agent_id, None, status, reason, true, Signal::Command)?;
        Ok(())
    }

    /// Records what the agent's own CLI reported through a hook: the state, unless the
    /// agent no longer runs in `pane` (a hook of a replaced process is ignored) or is
    /// stopped, removed or dead; `hook_at` moves either way. Returns the state it had
    /// before when the state changed.
    pub fn record_hook(
        &mut self,
        agent_id: i64,
        pane: Option<&str>,
        status: &str,
        reason: &str,
    ) -> Result<Option<String>> {
        self.write(|tx| {
            let before: Option<(String, Option<String>)> = tx.row(
                "SELECT status, pane_id FROM agents WHERE id = ?1",
                params![agent_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some((before, pane_id)) = before else {
                return Ok(None);
            };
            let ours = pane.is_none_or(|p| pane_id.as_deref() == Some(p));
            let settled = matches!(before.as_str(), "stopped" | "removed" | "dead");
            tx.execute(
                "UPDATE agents SET hook_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
                params![agent_id],
            )?;
            if !ours || settled {
                return Ok(None);
            }
            // The prompt an agent was started with is part of its start: until that first
            // turn ends (a hook says idle), `working` keeps it `starting`, so nothing is
            // typed into an agent that drops keys during its first turn (opencode; the
            // broker waits for an agent that is `starting`).
            let first_turn = before == "starting" && status == "working";
            let (status, reason) = if first_turn {
                (
                    "starting",
                    format!("working on the prompt it was started with ({reason})"),
                )
            } else {
                (status, reason.to_string())
            };
            tx.execute(
                "UPDATE agents SET
                    status_since = CASE WHEN status = ?2 THEN status_since
                                        ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END,
                    status = ?2, status_reason = ?3, status_signal = 'hook',
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id = ?1",
                params![agent_id, status, reason],
            )?;
            Ok((before != status).then_some(before))
        })
    }

    /// The one status update: optionally only while the agent still has `only_if_pane`,
    /// optionally forgetting its pane; `status_since` moves only when the state changes.
    /// Returns whether the row changed.
    pub(crate) fn update_status(
        &mut self,
        agent_id: i64,
        only_if_pane: Option<&str>,
        status: &str,
        reason: Option<&str>,
        clear_pane: bool,
        signal: Signal,
    ) -> Result<bool> {
        let changed = self.db().execute(
            "UPDATE agents SET
                status_since = CASE WHEN status = ?3 THEN status_since
                                    ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END,
                status = ?3, status_reason = ?4, status_signal = ?6,
                pane_id = CASE WHEN ?5 THEN NULL ELSE pane_id END,
                pane_pid = CASE WHEN ?5 THEN NULL ELSE pane_pid END,
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR pane_id = ?2)",
            params![
                agent_id,
                only_if_pane,
                status,
                reason,
                clear_pane,
                signal.as_str()
            ],
        )?;
        Ok(changed > 0)
    }
}

impl Registry {
    /// Unread (queued or notified) messages per recipient of a fleet.
    pub fn unread_counts(&self, fleet_id: i64) -> Result<std::collections::HashMap<String, i64>> {
        let rows = self.db().rows(
            "SELECT recipient, COUNT(*) FROM messages INDEXED BY messages_unread
             WHERE fleet_id = ?1 AND state IN ('queued', 'notified') GROUP BY recipient",
            params![fleet_id],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
        )?;
        Ok(rows.into_iter().collect())
    }
}
