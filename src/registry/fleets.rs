//! Fleet rows: one per team, from a fleet file (`manifest`) or `cafleet fleet create` (`cli`).

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Registry;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct FleetRow {
    pub id: i64,
    pub name: String,
    pub origin: String,
    pub manifest_path: Option<String>,
    pub session: String,
    pub socket: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, name, origin, manifest_path, session, socket, status, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<FleetRow> {
    Ok(FleetRow {
        id: row.get(0)?,
        name: row.get(1)?,
        origin: row.get(2)?,
        manifest_path: row.get(3)?,
        session: row.get(4)?,
        socket: row.get(5)?,
        status: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// What `up` or `fleet create` records about a fleet.
pub struct NewFleet<'a> {
    pub name: &'a str,
    pub origin: &'a str,
    pub manifest_path: Option<&'a str>,
    pub session: &'a str,
    pub socket: &'a str,
}

impl Registry {
    pub fn fleet_by_name(&self, name: &str) -> Result<Option<FleetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM fleets WHERE name = ?1");
        Ok(self.conn().query_row(&sql, [name], from_row).optional()?)
    }

    pub fn fleets(&self) -> Result<Vec<FleetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM fleets ORDER BY name");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt
            .query_map([], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The fleet named `name`, or a not-found error listing the fleets that exist.
    pub fn require_fleet(&self, name: &str) -> Result<FleetRow> {
        if let Some(fleet) = self.fleet_by_name(name)? {
            return Ok(fleet);
        }
        let names: Vec<String> = self.fleets()?.into_iter().map(|f| f.name).collect();
        let hint = if names.is_empty() {
            "no fleets are registered: bring one up with `cafleet up FILE`".to_string()
        } else {
            format!("registered fleets: {}", names.join(", "))
        };
        Err(Error::not_found(format!("no fleet named `{name}`")).hint(hint))
    }

    /// Creates the fleet or updates where it lives, marking it up; returns its id.
    pub fn upsert_fleet(&mut self, fleet: &NewFleet<'_>) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO fleets (name, origin, manifest_path, session, socket, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'up')
                 ON CONFLICT (name) DO UPDATE SET
                    origin = excluded.origin,
                    manifest_path = excluded.manifest_path,
                    session = excluded.session,
                    socket = excluded.socket,
                    status = 'up',
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![
                    fleet.name,
                    fleet.origin,
                    fleet.manifest_path,
                    fleet.session,
                    fleet.socket
                ],
            )?;
            Ok(
                tx.query_row("SELECT id FROM fleets WHERE name = ?1", [fleet.name], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    pub fn set_fleet_status(&mut self, fleet_id: i64, status: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE fleets SET status = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
            params![fleet_id, status],
        )?;
        Ok(())
    }

    /// Deletes a fleet and, by cascade, its agents, messages, events and monitor state.
    pub fn purge_fleet(&mut self, fleet_id: i64) -> Result<()> {
        self.conn()
            .execute("DELETE FROM fleets WHERE id = ?1", [fleet_id])?;
        Ok(())
    }
}
