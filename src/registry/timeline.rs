//! Read-only views for the admin web UI: a fleet's message timeline (every message,
//! whoever sent it, oldest first, optionally one member's thread; pages of previews, so
//! a listing never carries whole megabyte bodies) and the cheap
//! "has anything changed" versions the UI's live updates poll. Only `SELECT`s: storing
//! and delivering messages belongs to `messages` and the broker.

use serde::Serialize;

use super::Registry;
use super::engine::{Exec, params};
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

/// How many bytes of a body a [`TimelineEntry`] carries.
pub const PREVIEW_BYTES: i64 = 1024;

/// One message as the timeline lists it: the start of its body, not the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub sender: String,
    pub recipient: String,
    /// The first [`PREVIEW_BYTES`] bytes of the body as text (never a broken character).
    pub preview: String,
    /// The whole body's length in bytes.
    pub size: i64,
    /// Whether `preview` is less than the whole body.
    pub truncated: bool,
    pub kind: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub broadcast_id: Option<i64>,
    pub created_at: String,
    pub notified_at: Option<String>,
    pub read_at: Option<String>,
    pub acked_at: Option<String>,
}

/// The first bytes of a body as text. When `cut` (the body goes on), a character cut in
/// half at the end is dropped; other bytes that are not UTF-8 become U+FFFD.
fn preview_text(bytes: &[u8], cut: bool) -> String {
    let mut end = bytes.len();
    if cut
        && let Some(i) = (bytes.len().saturating_sub(3)..bytes.len())
            .rev()
            .find(|&i| bytes[i] & 0xc0 != 0x80)
    {
        let needs = match bytes[i] {
            b if b >= 0xf0 => 4,
            b if b >= 0xe0 => 3,
            b if b >= 0xc0 => 2,
            _ => 1,
        };
        if i + needs > bytes.len() {
            end = i;
        }
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Which page of the timeline: ids above `after` and below `before`, the newest `limit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page<'a> {
    pub member: Option<&'a str>,
    pub after: i64,
    pub before: Option<i64>,
    pub limit: i64,
}

impl Registry {
    /// One page of a fleet's timeline, oldest first, as previews: SQLite hands over only
    /// the first [`PREVIEW_BYTES`] of each body, so a page of huge messages stays small.
    pub fn timeline_page(&self, fleet_id: i64, page: &Page<'_>) -> Result<Vec<TimelineEntry>> {
        self.db().rows(
            "SELECT * FROM (
                SELECT id, sender, recipient, substr(body, 1, ?5), length(CAST(body AS BLOB)),
                       kind, state, state_reason, broadcast_id, created_at, notified_at,
                       read_at, acked_at
                FROM messages
                WHERE fleet_id = ?1 AND id > ?2 AND (CAST(?3 AS BIGINT) IS NULL OR id < ?3)
                  AND (CAST(?4 AS TEXT) IS NULL OR sender = ?4 OR recipient = ?4)
                ORDER BY id DESC LIMIT ?6
             ) AS page ORDER BY id",
            params![
                fleet_id,
                page.after,
                page.before,
                page.member,
                PREVIEW_BYTES,
                page.limit
            ],
            |r| {
                let head = r.bytes(3);
                let size: i64 = r.get::<Option<i64>>(4)?.unwrap_or(0);
                let truncated = (head.len() as i64) < size;
                Ok(TimelineEntry {
                    id: r.get(0)?,
                    sender: r.get(1)?,
                    recipient: r.get(2)?,
                    preview: preview_text(&head, truncated),
                    truncated,
                    size,
                    kind: r.get(5)?,
                    state: r.get(6)?,
                    state_reason: r.get(7)?,
                    broadcast_id: r.get(8)?,
                    created_at: r.get(9)?,
                    notified_at: r.get(10)?,
                    read_at: r.get(11)?,
                    acked_at: r.get(12)?,
                })
            },
        )
    }

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
                  AND (CAST(?3 AS TEXT) IS NULL OR sender = ?3 OR recipient = ?3)
                ORDER BY id DESC LIMIT ?4
             ) AS page ORDER BY id"
        );
        self.db()
            .rows(&sql, params![fleet_id, after_id, member, limit], from_row)
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
             ) AS page ORDER BY id"
        );
        self.db()
            .rows(&sql, params![fleet_id, recipient, limit], from_row)
    }

    /// SQLite's `data_version`: it moves when another connection commits, so a poller
    /// can skip [`Registry::versions`] while nothing was written. On PostgreSQL, a hash
    /// of the server's current snapshot (`pg_current_snapshot()`), which moves whenever
    /// a writing transaction starts or ends anywhere on the server: it reads no table,
    /// and moves at least whenever the registry was written (sometimes also for writes
    /// elsewhere, which only costs a look).
    pub fn data_version(&self) -> Result<i64> {
        if self.is_postgres() {
            return self.db().value(
                "SELECT hashtextextended(pg_current_snapshot()::text, 0)",
                &[],
            );
        }
        self.db().value("PRAGMA data_version", &[])
    }

    /// The change markers of the whole registry, in one cheap statement.
    pub fn versions(&self) -> Result<Versions> {
        self.db()
            .row(
                "SELECT
                (SELECT COALESCE(MAX(id), 0) FROM messages),
                (SELECT COUNT(notified_at) + COUNT(read_at) + COUNT(acked_at) FROM messages
                 WHERE id > (SELECT COALESCE(MAX(id), 0) FROM messages) - ?1),
                (SELECT COALESCE(MAX(id), 0) FROM events),
                (SELECT COALESCE(MAX(updated_at), '') || '/' || COUNT(*) FROM agents)
                    || ' ' ||
                (SELECT COALESCE(MAX(updated_at), '') || '/' || COUNT(*) FROM fleets)",
                params![DELIVERY_WINDOW],
                |r| {
                    Ok(Versions {
                        messages: r.get(0)?,
                        deliveries: r.get(1)?,
                        events: r.get(2)?,
                        agents: r.get(3)?,
                    })
                },
            )?
            .ok_or_else(|| crate::error::Error::failure("registry error: no versions row"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `body` on a registry with fleet 1 and three messages, on each engine.
    fn seeded(body: impl Fn(Registry)) {
        crate::registry::testing::each_engine(|mut registry| {
            registry
                .write(|tx| {
                    tx.batch(
                        "INSERT INTO fleets (id, name, origin, session) VALUES (1, 'shop', 'cli', 's')",
                    )?;
                    let bodies: [(&str, &str, &[u8]); 3] = [
                        ("api", "web", b"hi"),
                        ("web", "api", b"ok\xff"),
                        ("db", "web", b"<b>x</b>"),
                    ];
                    for (sender, recipient, body) in bodies {
                        tx.execute(
                            "INSERT INTO messages (fleet_id, sender, recipient, body) VALUES (1, ?1, ?2, ?3)",
                            params![sender, recipient, body],
                        )?;
                    }
                    Ok(())
                })
                .unwrap();
            body(registry)
        });
    }

    #[test]
    fn timeline_is_oldest_first_and_filters_by_member() {
        seeded(|registry| {
            let all = registry.timeline(1, None, 0, 100).unwrap();
            assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3]);
            assert_eq!(all[1].body_text(), "ok\u{fffd}");
            let api = registry.timeline(1, Some("api"), 0, 100).unwrap();
            assert_eq!(api.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
            let newest = registry.timeline(1, None, 0, 2).unwrap();
            assert_eq!(newest.iter().map(|m| m.id).collect::<Vec<_>>(), [2, 3]);
            assert!(registry.timeline(1, None, 3, 100).unwrap().is_empty());
        });
    }

    #[test]
    fn pages_carry_previews_and_move_with_before() {
        seeded(|mut registry| {
            let big = "é".repeat(2000);
            registry
            .write(|tx| {
                tx.execute(
                    "INSERT INTO messages (fleet_id, sender, recipient, body) VALUES (1, 'api', 'web', ?1)",
                    params![big.as_bytes()],
                )?;
                Ok(())
            })
            .unwrap();
            let page = |after, before, limit| Page {
                member: None,
                after,
                before,
                limit,
            };
            let all = registry.timeline_page(1, &page(0, None, 100)).unwrap();
            assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3, 4]);
            assert_eq!(all[1].preview, "ok\u{fffd}");
            assert!(!all[0].truncated);
            let long = &all[3];
            assert_eq!(long.size, 4000);
            assert!(long.truncated);
            // 1024 bytes of two-byte characters: 512 whole ones.
            assert_eq!(long.preview, "é".repeat(512));
            let older = registry.timeline_page(1, &page(0, Some(4), 2)).unwrap();
            assert_eq!(older.iter().map(|m| m.id).collect::<Vec<_>>(), [2, 3]);
            let web = registry
                .timeline_page(
                    1,
                    &Page {
                        member: Some("api"),
                        ..page(0, None, 10)
                    },
                )
                .unwrap();
            assert_eq!(web.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 4]);
        });
    }

    #[test]
    fn a_cut_character_is_dropped_from_a_preview() {
        assert_eq!(preview_text("aé".as_bytes(), true), "aé");
        assert_eq!(preview_text(&"aé".as_bytes()[..2], true), "a");
        assert_eq!(preview_text(&"a€".as_bytes()[..3], true), "a");
        assert_eq!(preview_text(b"a\xffb", true), "a\u{fffd}b");
        // A body that really ends in a broken character shows it as U+FFFD.
        assert_eq!(preview_text(b"a\xc3", false), "a\u{fffd}");
    }

    #[test]
    fn versions_move_with_messages_and_states() {
        seeded(|mut registry| {
            let before = registry.versions().unwrap();
            assert_eq!(before.messages, 3);
            registry
                .write(|tx| {
                    tx.execute(
                        "UPDATE messages SET state = 'read', read_at = 'now' WHERE id = 1",
                        &[],
                    )?;
                    Ok(())
                })
                .unwrap();
            let after = registry.versions().unwrap();
            assert_eq!(after.messages, 3);
            assert_ne!(before.deliveries, after.deliveries);
        });
    }
}
