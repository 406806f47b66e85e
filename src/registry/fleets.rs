//! Fleet rows: one per team, from a fleet file (`manifest`) or `cafleet fleet create` (`cli`).
//!
//! `fleet delete` marks a fleet deleted (`deleted_at`) and keeps its messages and events;
//! only a purge erases them. Every lookup by name for running things sees the live fleets
//! only (one per name); [`Registry::history_fleet`] also finds a deleted one, for the
//! commands that read history.

use serde::Serialize;

use super::Registry;
use super::engine::{Exec, Row, params};
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
    /// When `fleet delete` deleted it; `None` for a live fleet.
    pub deleted_at: Option<String>,
}

const COLUMNS: &str =
    "id, name, origin, manifest_path, session, socket, status, created_at, updated_at, deleted_at";

fn from_row(row: &Row) -> Result<FleetRow> {
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
        deleted_at: row.get(9)?,
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
    /// The live (not deleted) fleet called `name`.
    pub fn fleet_by_name(&self, name: &str) -> Result<Option<FleetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM fleets WHERE name = ?1 AND deleted_at IS NULL");
        self.db().row(&sql, params![name], from_row)
    }

    /// The live fleets, by name.
    pub fn fleets(&self) -> Result<Vec<FleetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM fleets WHERE deleted_at IS NULL ORDER BY name");
        self.db().rows(&sql, &[], from_row)
    }

    /// Every fleet, deleted ones too, by name and then age (`fleet list --all`).
    pub fn all_fleets(&self) -> Result<Vec<FleetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM fleets ORDER BY name, id");
        self.db().rows(&sql, &[], from_row)
    }

    /// The fleet whose history a reader means by `name`: the live one, else the most
    /// recently deleted one of that name.
    pub fn history_fleet(&self, name: &str) -> Result<FleetRow> {
        let sql = format!(
            "SELECT {COLUMNS} FROM fleets WHERE name = ?1
             ORDER BY deleted_at IS NOT NULL, id DESC LIMIT 1"
        );
        match self.db().row(&sql, params![name], from_row)? {
            Some(fleet) => Ok(fleet),
            None => self.require_fleet(name),
        }
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
                 ON CONFLICT (name) WHERE deleted_at IS NULL DO UPDATE SET
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
            tx.value(
                "SELECT id FROM fleets WHERE name = ?1 AND deleted_at IS NULL",
                params![fleet.name],
            )
        })
    }

    pub fn set_fleet_status(&mut self, fleet_id: i64, status: &str) -> Result<()> {
        self.db().execute(
            "UPDATE fleets SET status = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
            params![fleet_id, status],
        )?;
        Ok(())
    }

    /// Marks a fleet deleted: it leaves every live listing and frees its name, and its
    /// agents, messages and events stay for the history readers.
    pub fn mark_fleet_deleted(&mut self, fleet_id: i64) -> Result<()> {
        self.db().execute(
            "UPDATE fleets SET status = 'down', deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE id = ?1 AND deleted_at IS NULL",
            params![fleet_id],
        )?;
        Ok(())
    }

    /// The deleted fleets called `name`, oldest first.
    pub fn deleted_fleets(&self, name: &str) -> Result<Vec<FleetRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM fleets WHERE name = ?1 AND deleted_at IS NOT NULL ORDER BY id"
        );
        self.db().rows(&sql, params![name], from_row)
    }

    /// Erases a fleet and, by cascade, its agents, messages, events and monitor state.
    /// Their ids are never handed out again.
    pub fn purge_fleet(&mut self, fleet_id: i64) -> Result<()> {
        self.db()
            .execute("DELETE FROM fleets WHERE id = ?1", params![fleet_id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_fleet(reg: &mut Registry, name: &str) -> i64 {
        reg.upsert_fleet(&NewFleet {
            name,
            origin: "cli",
            manifest_path: None,
            session: name,
            socket: "",
        })
        .unwrap()
    }

    #[test]
    fn a_deleted_fleet_keeps_its_history_and_frees_its_name() {
        crate::registry::testing::each_engine(deleted_fleet_keeps_history);
    }

    fn deleted_fleet_keeps_history(mut reg: Registry) {
        let old = new_fleet(&mut reg, "shop");
        let first = reg
            .insert_message(old, "a", "b", b"one", "message")
            .unwrap();
        reg.event(Some(old), Some("a"), "test", serde_json::json!({}))
            .unwrap();
        reg.mark_fleet_deleted(old).unwrap();
        assert!(reg.fleet_by_name("shop").unwrap().is_none());
        assert!(reg.fleets().unwrap().is_empty());
        assert_eq!(reg.history_fleet("shop").unwrap().id, old);
        assert_eq!(reg.message(old, first).unwrap().unwrap().body, b"one");
        assert_eq!(reg.events(Some(old), None, 0, 10).unwrap().len(), 1);

        // The name is free again; the new fleet is what `shop` means now.
        let new = new_fleet(&mut reg, "shop");
        assert_ne!(new, old);
        assert_eq!(reg.history_fleet("shop").unwrap().id, new);
        assert_eq!(reg.all_fleets().unwrap().len(), 2);
        assert_eq!(reg.deleted_fleets("shop").unwrap()[0].id, old);
        // A second live fleet of that name is still impossible.
        assert_eq!(new_fleet(&mut reg, "shop"), new);
    }

    #[test]
    fn ids_are_never_reused_after_a_purge() {
        crate::registry::testing::each_engine(ids_not_reused);
    }

    fn ids_not_reused(mut reg: Registry) {
        let old = new_fleet(&mut reg, "shop");
        let message = reg
            .insert_message(old, "a", "b", b"one", "message")
            .unwrap();
        reg.event(Some(old), None, "test", serde_json::json!({}))
            .unwrap();
        let (_, event) = reg.high_water_marks().unwrap();
        reg.purge_fleet(old).unwrap();
        assert!(reg.message(old, message).unwrap().is_none());
        let new = new_fleet(&mut reg, "shop");
        assert!(new > old, "fleet id {old} was handed out again");
        let next = reg
            .insert_message(new, "a", "b", b"two", "message")
            .unwrap();
        assert!(next > message, "message id {message} was handed out again");
        reg.event(Some(new), None, "test", serde_json::json!({}))
            .unwrap();
        let (_, next_event) = reg.high_water_marks().unwrap();
        assert!(next_event > event, "event id {event} was handed out again");
    }
}
