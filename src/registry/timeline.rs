//! Read-only views for the admin web UI: a fleet's message timeline (every message,
//! whoever sent it, oldest first, optionally one member's thread) and the cheap
//! "has anything changed" versions the UI's live updates poll. Only `SELECT`s: storing
//! and delivering messages belongs to `messages` and the broker.

use rusqlite::params;
use serde::Serialize;

use super::Registry;
use super::messages::{COLUMNS, MessageRow, from_row};
use crate::error::Result;

/// How many of the newest messages [`Versions::deliveries`] watches: far more than the
/// page shows.
pub const DELIVERY_WINDOW: i64 = 5000;

/// Markers of change: the UI refetches a part only when its marker moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Versions {
    /// The highest message id.
    pub messages: i64,
    /// Changes whenever one of the newest [`DELIVERY_WINDOW`] messages changes state (a
    /// count of their state timestamps), so a poll never scans the whole table.
    pub deliveries: i64,
    /// The highest event id.
    pub events: i64,
    /// The newest `updated_at` and the number of agent and fleet rows.
    pub agents: String,
}

impl Registry {
    /// Messages of a fleet with an id above `after_id`, oldest first; only those `member`
    /// sent or received when given. With `limit`, the newest `limit` of them.
    pub fn timeline(
        &self,
        fleet_id: i64,
        member: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT * FROM (
                SELECT {COLUMNS}
                FROM messages
                WHERE fleet_id = ?1 AND id > ?2
                  AND (?3 IS NULL OR sender = ?3 OR recipient = ?3)
                ORDER BY id DESC LIMIT ?4
             ) ORDER BY id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![fleet_id, after_id, member, limit], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The newest `limit` messages addressed to `recipient`, oldest first, whatever their
    /// state (the web UI's operator inbox; nothing is marked read).
    pub fn addressed_to(
        &self,
        fleet_id: i64,
        recipient: &str,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT * FROM (
                SELECT {COLUMNS} FROM messages
                WHERE fleet_id = ?1 AND recipient = ?2
                ORDER BY id DESC LIMIT ?3
             ) ORDER BY id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![fleet_id, recipient, limit], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// SQLite's `data_version`: it moves when another connection commits, so a poller
    /// can skip [`Registry::versions`] while nothing was written.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// The change markers of the whole registry, in one cheap statement.
    pub fn versions(&self) -> Result<Versions> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT
                (SELECT COALESCE(MAX(id), 0) FROM messages),
                (SELECT COUNT(notified_at) + COUNT(read_at) + COUNT(acked_at) FROM messages
                 WHERE id > (SELECT COALESCE(MAX(id), 0) FROM messages) - ?1),
                (SELECT COALESCE(MAX(id), 0) FROM events),
                (SELECT COALESCE(MAX(updated_at), '') || '/' || COUNT(*) FROM agents)
                    || ' ' ||
                (SELECT COALESCE(MAX(updated_at), '') || '/' || COUNT(*) FROM fleets)",
        )?;
        Ok(stmt.query_row([DELIVERY_WINDOW], |r| {
            Ok(Versions {
                messages: r.get(0)?,
                deliveries: r.get(1)?,
                events: r.get(2)?,
                agents: r.get(3)?,
            })
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> Registry {
        let mut registry = Registry::in_memory().unwrap();
        registry
            .write(|tx| {
                tx.execute_batch(
                    "INSERT INTO fleets (id, name, origin, session) VALUES (1, 'shop', 'cli', 's');
                     INSERT INTO messages (fleet_id, sender, recipient, body) VALUES
                       (1, 'api', 'web', CAST('hi' AS BLOB)),
                       (1, 'web', 'api', X'6f6bff'),
                       (1, 'db', 'web', CAST('<b>x</b>' AS BLOB));",
                )?;
                Ok(())
            })
            .unwrap();
        registry
    }

    #[test]
    fn timeline_is_oldest_first_and_filters_by_member() {
        let registry = seeded();
        let all = registry.timeline(1, None, 0, 100).unwrap();
        assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(all[1].body_text(), "ok\u{fffd}");
        let api = registry.timeline(1, Some("api"), 0, 100).unwrap();
        assert_eq!(api.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
        let newest = registry.timeline(1, None, 0, 2).unwrap();
        assert_eq!(newest.iter().map(|m| m.id).collect::<Vec<_>>(), [2, 3]);
        assert!(registry.timeline(1, None, 3, 100).unwrap().is_empty());
    }

    #[test]
    fn versions_move_with_messages_and_states() {
        let mut registry = seeded();
        let before = registry.versions().unwrap();
        assert_eq!(before.messages, 3);
        registry
            .write(|tx| {
                tx.execute(
                    "UPDATE messages SET state = 'read', read_at = 'now' WHERE id = 1",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        let after = registry.versions().unwrap();
        assert_eq!(after.messages, 3);
        assert_ne!(before.deliveries, after.deliveries);
    }
}
