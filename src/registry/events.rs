//! The audit timeline: every up/down step, spawn, kill, restart, drift decision, nudge and
//! delivery, oldest first.

use serde::Serialize;

use super::Registry;
use super::engine::{Exec, Row, params};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub fleet: Option<String>,
    pub agent: Option<String>,
    pub kind: String,
    pub detail: serde_json::Value,
    pub created_at: String,
}

fn from_row(row: &Row) -> Result<EventRow> {
    let detail: String = row.get(4)?;
    Ok(EventRow {
        id: row.get(0)?,
        fleet: row.get(1)?,
        agent: row.get(2)?,
        kind: row.get(3)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        created_at: row.get(5)?,
    })
}

impl Registry {
    /// Appends an event. `detail` is any JSON object.
    pub fn event(
        &self,
        fleet_id: Option<i64>,
        agent: Option<&str>,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO events (fleet_id, agent, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![fleet_id, agent, kind, detail.to_string()],
        )?;
        Ok(())
    }

    /// Events after `after_id`, optionally of one fleet and since a timestamp, oldest first.
    pub fn events(
        &self,
        fleet_id: Option<i64>,
        since: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        self.db().rows(
            "SELECT e.id, f.name, e.agent, e.kind, e.detail, e.created_at
             FROM events e LEFT JOIN fleets f ON f.id = e.fleet_id
             WHERE e.id > ?1 AND (CAST(?2 AS BIGINT) IS NULL OR e.fleet_id = ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR e.created_at >= ?3)
             ORDER BY e.id LIMIT ?4",
            params![after_id, fleet_id, since, limit],
            from_row,
        )
    }
}

impl Registry {
    /// The newest `limit` events of one fleet, oldest first (the web UI's event log).
    pub fn recent_events(&self, fleet_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        self.db().rows(
            "SELECT * FROM (
                SELECT e.id, f.name, e.agent, e.kind, e.detail, e.created_at
                FROM events e LEFT JOIN fleets f ON f.id = e.fleet_id
                WHERE e.fleet_id = ?1 ORDER BY e.id DESC LIMIT ?2
             ) AS recent ORDER BY 1",
            params![fleet_id, limit],
            from_row,
        )
    }
}
