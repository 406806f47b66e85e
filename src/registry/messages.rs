//! Message rows: what one member said to another, and how far it got — `queued` (stored),
//! `notified` (a preview was typed into the recipient's pane), `read` (the recipient ran
//! `inbox`), `acked`. Each state has its own timestamp; `state_reason` says why a message
//! is still `queued`. Bodies are stored byte-for-byte.
//!
//! Only the sender and the recipient may see a message and only the recipient may mark it
//! read or acknowledged: the queries here take the speaking member and enforce that, so
//! the CLI and the web UI cannot forget to.

use serde::Serialize;

use super::Registry;
use super::engine::{Exec, Row, Tx, params};
use crate::error::{Error, Result};

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// How the `state_reason` of a queued message starts while (or after) a notifier types
/// its preview: still there on the next attempt, it means that notifier never finished
/// (killed mid-keystroke) and its text may sit in the composer.
pub const TYPING: &str = "typing into pane";

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRow {
    pub id: i64,
    #[serde(skip)]
    pub fleet_id: i64,
    pub sender: String,
    pub recipient: String,
    /// The body as stored; [`MessageRow::body_text`] is its (lossy) text.
    #[serde(serialize_with = "body_as_text")]
    pub body: Vec<u8>,
    pub kind: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub broadcast_id: Option<i64>,
    pub created_at: String,
    pub notified_at: Option<String>,
    pub read_at: Option<String>,
    pub acked_at: Option<String>,
}

fn body_as_text<S: serde::Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(body))
}

impl MessageRow {
    /// The body as text; bytes that are not UTF-8 become U+FFFD.
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

pub(super) const COLUMNS: &str = "id, fleet_id, sender, recipient, body, kind, state, state_reason, broadcast_id, \
                       created_at, notified_at, read_at, acked_at";

pub(super) fn from_row(row: &Row) -> Result<MessageRow> {
    Ok(MessageRow {
        id: row.get(0)?,
        fleet_id: row.get(1)?,
        sender: row.get(2)?,
        recipient: row.get(3)?,
        // cafleet writes bytes, but a row written by another tool (or by hand with
        // `sqlite3`) may hold text: the same bytes.
        body: row.bytes(4),
        kind: row.get(5)?,
        state: row.get(6)?,
        state_reason: row.get(7)?,
        broadcast_id: row.get(8)?,
        created_at: row.get(9)?,
        notified_at: row.get(10)?,
        read_at: row.get(11)?,
        acked_at: row.get(12)?,
    })
}

/// The states a message moves through, in order.
pub const STATES: [&str; 4] = ["queued", "notified", "read", "acked"];

/// What `list` selects.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    /// Only messages in this state.
    pub state: Option<&'a str>,
    /// Only the thread between the speaker and this member (both directions).
    pub with: Option<&'a str>,
    /// At most this many, newest kept; oldest first.
    pub limit: Option<i64>,
}

impl Registry {
    /// Stores one message from `sender` to `recipient`; returns its id. The row is
    /// committed `queued` before anything is typed anywhere.
    pub fn insert_message(
        &mut self,
        fleet_id: i64,
        sender: &str,
        recipient: &str,
        body: &[u8],
        kind: &str,
    ) -> Result<i64> {
        self.write(|tx| insert(tx, fleet_id, sender, recipient, body, kind, None))
    }

    /// Stores one `broadcast` row per recipient in one transaction, all sharing a
    /// `broadcast_id` (the first row's id); returns `(recipient, id)` in input order.
    pub fn insert_broadcast(
        &mut self,
        fleet_id: i64,
        sender: &str,
        recipients: &[String],
        body: &[u8],
    ) -> Result<Vec<(String, i64)>> {
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let mut out = Vec::with_capacity(recipients.len());
            let first = insert(
                tx,
                fleet_id,
                sender,
                &recipients[0],
                body,
                "broadcast",
                None,
            )?;
            tx.execute(
                "UPDATE messages SET broadcast_id = ?1 WHERE id = ?1",
                params![first],
            )?;
            out.push((recipients[0].clone(), first));
            for recipient in &recipients[1..] {
                let id = insert(
                    tx,
                    fleet_id,
                    sender,
                    recipient,
                    body,
                    "broadcast",
                    Some(first),
                )?;
                out.push((recipient.clone(), id));
            }
            Ok(out)
        })
    }

    /// One message by id, whoever it belongs to (for the broker, not for members).
    pub fn message(&self, fleet_id: i64, id: i64) -> Result<Option<MessageRow>> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE fleet_id = ?1 AND id = ?2");
        self.db().row(&sql, params![fleet_id, id], from_row)
    }

    /// Messages by id, whoever they belong to, in id order; missing ids are skipped.
    pub fn messages_by_id(&self, fleet_id: i64, ids: &[i64]) -> Result<Vec<MessageRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(row) = self.message(fleet_id, id)? {
                out.push(row);
            }
        }
        out.sort_by_key(|m| m.id);
        out.dedup_by_key(|m| m.id);
        Ok(out)
    }

    /// `member`'s inbox, oldest first: the unread messages (`queued`/`notified`), or with
    /// `all` every message addressed to them. The unread ones are marked `read` in the
    /// same `BEGIN IMMEDIATE` transaction, so two concurrent `inbox` calls never both
    /// return the same unread message as new.
    pub fn take_inbox(
        &mut self,
        fleet_id: i64,
        member: &str,
        all: bool,
    ) -> Result<Vec<MessageRow>> {
        self.write(|tx| {
            // Two statements, not `(?3 OR state IN …)`: a term that depends on a parameter
            // keeps the planner from using `state` in the index, and the unread inbox
            // would read every message the member ever received.
            let sql = if all {
                format!(
                    "SELECT {COLUMNS} FROM messages
                     WHERE fleet_id = ?1 AND recipient = ?2 ORDER BY id"
                )
            } else {
                format!(
                    "SELECT {COLUMNS} FROM messages INDEXED BY messages_unread
                     WHERE fleet_id = ?1 AND recipient = ?2 AND state IN ('queued', 'notified')
                     ORDER BY id"
                )
            };
            read_marking_unread(tx, &sql, fleet_id, member)
        })
    }

    /// Every message addressed to `member` that is not acknowledged yet — unread and
    /// read alike — oldest first (`inbox --unacked`, what the Python cafleet's `poll`
    /// listed). The unread ones are marked `read` in the same transaction.
    pub fn take_unacked(&mut self, fleet_id: i64, member: &str) -> Result<Vec<MessageRow>> {
        self.write(|tx| {
            let sql = format!(
                "SELECT {COLUMNS} FROM messages INDEXED BY messages_inbox
                 WHERE fleet_id = ?1 AND recipient = ?2 AND state IN ('queued', 'notified', 'read')
                 ORDER BY id"
            );
            read_marking_unread(tx, &sql, fleet_id, member)
        })
    }

    /// How many unread messages `member` has (no state changes).
    pub fn unread_count(&self, fleet_id: i64, member: &str) -> Result<i64> {
        self.db().value(
            "SELECT count(*) FROM messages
             WHERE fleet_id = ?1 AND recipient = ?2 AND state IN ('queued', 'notified')",
            params![fleet_id, member],
        )
    }

    /// Marks messages `acked`. Every id must exist in the fleet and be addressed to
    /// `member`, else nothing changes and the error names the first offending message.
    /// Acknowledging twice is not an error; returns the rows after the change.
    pub fn ack_messages(
        &mut self,
        fleet_id: i64,
        member: &str,
        ids: &[i64],
    ) -> Result<Vec<MessageRow>> {
        self.write(|tx| {
            let sql = format!("SELECT {COLUMNS} FROM messages WHERE fleet_id = ?1 AND id = ?2");
            for &id in ids {
                let row = tx.row(&sql, params![fleet_id, id], from_row)?;
                match row {
                    None => return Err(message_not_found(id)),
                    Some(row) if row.recipient != member => {
                        return Err(Error::failure(format!(
                            "message #{id} is not addressed to `{member}`"
                        ))
                        .hint("a member can acknowledge only the messages in its own inbox"));
                    }
                    Some(_) => {}
                }
            }
            let mut out = Vec::with_capacity(ids.len());
            for &id in ids {
                tx.execute(
                    &format!(
                        "UPDATE messages SET state = 'acked', state_reason = NULL,
                            read_at = COALESCE(read_at, {NOW}), acked_at = {NOW}
                         WHERE id = ?1 AND state <> 'acked'"
                    ),
                    params![id],
                )?;
                out.extend(tx.row(&sql, params![fleet_id, id], from_row)?);
            }
            Ok(out)
        })
    }

    /// One message as `member` may see it: only its sender or recipient.
    pub fn show_message(&self, fleet_id: i64, member: &str, id: i64) -> Result<MessageRow> {
        match self.message(fleet_id, id)? {
            None => Err(message_not_found(id)),
            Some(row) if row.sender == member || row.recipient == member => Ok(row),
            Some(_) => Err(Error::failure(format!(
                "message #{id} is neither from nor to `{member}`"
            ))
            .hint("a member can see only the messages it sent or received")),
        }
    }

    /// The messages `member` sent or received, oldest first, narrowed by `filter`.
    pub fn list_messages(
        &self,
        fleet_id: i64,
        member: &str,
        filter: &ListFilter<'_>,
    ) -> Result<Vec<MessageRow>> {
        // One index search per direction, merged in id order (each arm reads its index
        // newest first), instead of `(sender = ?2 OR recipient = ?2)`, which SQLite runs
        // as a walk over every message of the fleet. `sender <> ?2` keeps a message to
        // oneself from being listed twice.
        let (mine, theirs) = if filter.with.is_some() {
            (
                "sender = ?2 AND recipient = ?4",
                "sender = ?4 AND recipient = ?2",
            )
        } else {
            (
                "sender = ?2 AND CAST(?4 AS TEXT) IS NULL",
                "recipient = ?2 AND CAST(?4 AS TEXT) IS NULL",
            )
        };
        let sql = format!(
            "SELECT * FROM (
                SELECT {COLUMNS} FROM messages
                WHERE fleet_id = ?1 AND {mine} AND (CAST(?3 AS TEXT) IS NULL OR state = ?3)
                UNION ALL
                SELECT {COLUMNS} FROM messages
                WHERE fleet_id = ?1 AND {theirs} AND sender <> ?2
                  AND (CAST(?3 AS TEXT) IS NULL OR state = ?3)
                ORDER BY id DESC LIMIT ?5
             ) AS listed ORDER BY id"
        );
        self.db().rows(
            &sql,
            params![
                fleet_id,
                member,
                filter.state,
                filter.with,
                // No limit: PostgreSQL refuses SQLite's `LIMIT -1`.
                filter.limit.unwrap_or(i64::MAX)
            ],
            from_row,
        )
    }

    /// The `queued` messages addressed to `recipient`, oldest first: what is still to be
    /// announced in its pane.
    pub fn pending_messages(&self, fleet_id: i64, recipient: &str) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages
             WHERE fleet_id = ?1 AND recipient = ?2 AND state = 'queued' ORDER BY id"
        );
        self.db().rows(&sql, params![fleet_id, recipient], from_row)
    }

    /// The recipients that have `queued` messages, for redelivery sweeps.
    pub fn recipients_with_pending(&self, fleet_id: i64) -> Result<Vec<String>> {
        self.db().rows(
            "SELECT DISTINCT recipient FROM messages WHERE fleet_id = ?1 AND state = 'queued'
             ORDER BY recipient",
            params![fleet_id],
            |r| r.get(0),
        )
    }

    /// Each recipient with `queued` messages and the newest of their ids, for the
    /// courier: a new id means a message nobody has tried to announce yet.
    pub fn newest_pending(&self, fleet_id: i64) -> Result<Vec<(String, i64)>> {
        self.db().rows(
            "SELECT recipient, MAX(id) FROM messages WHERE fleet_id = ?1 AND state = 'queued'
             GROUP BY recipient ORDER BY recipient",
            params![fleet_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Marks the still-`queued` messages among `ids` `notified` (the preview's Enter was
    /// sent); returns how many changed. Messages already read meanwhile keep their state.
    pub fn mark_notified(&mut self, ids: &[i64]) -> Result<usize> {
        self.write(|tx| {
            let mut changed = 0;
            for &id in ids {
                // The recipient may have read it already (an agent runs `inbox` the
                // moment Enter lands): the notification still happened and keeps its
                // timestamp, but a later state is never moved back.
                changed += tx.execute(
                    &format!(
                        "UPDATE messages SET
                            state = CASE WHEN state = 'queued' THEN 'notified' ELSE state END,
                            state_reason = NULL,
                            notified_at = COALESCE(notified_at, {NOW})
                         WHERE id = ?1 AND (state = 'queued' OR notified_at IS NULL)"
                    ),
                    params![id],
                )? as usize;
            }
            Ok(changed)
        })
    }

    /// The agent took the preview announcing message `first` (its own hook saw the
    /// prompt): that message, and every other still-`queued` message of `recipient` that
    /// a notifier was typing or submitting (the same preview's "+N more"), become
    /// `notified`. Returns the ids that changed.
    pub fn mark_taken(&mut self, fleet_id: i64, recipient: &str, first: i64) -> Result<Vec<i64>> {
        self.write(|tx| {
            let mut ids: Vec<i64> = tx.rows(
                &format!(
                    "UPDATE messages SET state = 'notified', state_reason = NULL,
                        notified_at = COALESCE(notified_at, {NOW})
                     WHERE fleet_id = ?1 AND recipient = ?2 AND state = 'queued'
                       AND (id = ?3 OR state_reason LIKE CAST(?4 AS TEXT) || '%')
                     RETURNING id"
                ),
                params![fleet_id, recipient, first, TYPING],
                |r| r.get(0),
            )?;
            ids.sort_unstable();
            Ok(ids)
        })
    }

    /// Records why the still-`queued` messages among `ids` stay queued.
    pub fn mark_queued_reason(&mut self, ids: &[i64], reason: &str) -> Result<()> {
        self.write(|tx| {
            for &id in ids {
                tx.execute(
                    "UPDATE messages SET state_reason = ?2 WHERE id = ?1 AND state = 'queued'",
                    params![id, reason],
                )?;
            }
            Ok(())
        })
    }
}

impl Registry {
    /// Sets an agent's state as delivery found it, but only while the agent still has
    /// the pane that was looked at (`up` may have restarted it meanwhile); with
    /// `clear_pane` the pane is forgotten. Returns whether the row changed.
    pub fn set_agent_status_if_pane(
        &mut self,
        agent_id: i64,
        pane_id: &str,
        status: &str,
        reason: Option<&str>,
        clear_pane: bool,
        signal: super::agents::Signal,
    ) -> Result<bool> {
        self.update_status(agent_id, Some(pane_id), status, reason, clear_pane, signal)
    }
}

/// Runs `sql` (a select of `member`'s messages in id order, `?1` the fleet, `?2` the
/// member) and marks the unread ones among them `read`, in the caller's transaction.
fn read_marking_unread(
    tx: &Tx<'_>,
    sql: &str,
    fleet_id: i64,
    member: &str,
) -> Result<Vec<MessageRow>> {
    let rows = tx.rows(sql, params![fleet_id, member], from_row)?;
    if rows.iter().any(|m| is_unread(&m.state)) {
        tx.execute(
            &format!(
                "UPDATE messages SET state = 'read', state_reason = NULL, read_at = {NOW}
                 WHERE fleet_id = ?1 AND recipient = ?2 AND state IN ('queued', 'notified')
                   AND id <= ?3"
            ),
            params![fleet_id, member, rows.last().map_or(0, |m| m.id)],
        )?;
    }
    Ok(rows)
}

fn is_unread(state: &str) -> bool {
    matches!(state, "queued" | "notified")
}

fn insert(
    tx: &Tx<'_>,
    fleet_id: i64,
    sender: &str,
    recipient: &str,
    body: &[u8],
    kind: &str,
    broadcast_id: Option<i64>,
) -> Result<i64> {
    tx.value(
        "INSERT INTO messages (fleet_id, sender, recipient, body, kind, broadcast_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![fleet_id, sender, recipient, body, kind, broadcast_id],
    )
}

fn message_not_found(id: i64) -> Error {
    Error::not_found(format!("no message #{id} in this fleet"))
        .hint("`cafleet message list` shows the messages you sent and received")
}

impl Registry {
    /// Every message of a fleet with an id above `after_id`, oldest first: the rows one
    /// `cafleet run` produced, for its report.
    pub fn fleet_messages_after(&self, fleet_id: i64, after_id: i64) -> Result<Vec<MessageRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM messages WHERE fleet_id = ?1 AND id > ?2 ORDER BY id");
        self.db().rows(&sql, params![fleet_id, after_id], from_row)
    }

    /// Stores a message to a recipient that has no pane (the operator) as already
    /// `notified`, in one statement: nobody is to be typed at, so neither the notifier nor
    /// the courier ever picks it up, and it stays unread until someone reads it.
    pub fn insert_mailbox_message(
        &mut self,
        fleet_id: i64,
        sender: &str,
        recipient: &str,
        body: &[u8],
    ) -> Result<i64> {
        self.write(|tx| {
            tx.value(
                &format!(
                    "INSERT INTO messages (fleet_id, sender, recipient, body, kind, state, notified_at)
                     VALUES (?1, ?2, ?3, ?4, 'message', 'notified', {NOW}) RETURNING id"
                ),
                params![fleet_id, sender, recipient, body],
            )
        })
    }

    /// The highest message and event ids so far (0 when there are none): where a run's
    /// own rows begin.
    pub fn high_water_marks(&self) -> Result<(i64, i64)> {
        let db = self.db();
        let messages: i64 = db.value("SELECT COALESCE(MAX(id), 0) FROM messages", &[])?;
        let events: i64 = db.value("SELECT COALESCE(MAX(id), 0) FROM events", &[])?;
        Ok((messages, events))
    }

    /// How many times each agent of a fleet was restarted (the `restarts` log's length).
    pub fn restart_counts(
        &self,
        fleet_id: i64,
    ) -> Result<std::collections::HashMap<String, usize>> {
        let rows = self.db().rows(
            "SELECT name, restarts FROM agents WHERE fleet_id = ?1",
            params![fleet_id],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
        )?;
        Ok(rows
            .into_iter()
            .map(|(name, log)| {
                let n = serde_json::from_str::<Vec<serde_json::Value>>(&log).map_or(0, |v| v.len());
                (name, n)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fleets::NewFleet;

    /// Runs `body` on a registry with one fleet, on each engine.
    fn each(body: impl Fn(Registry, i64)) {
        crate::registry::testing::each_engine(|mut registry| {
            let fleet = registry
                .upsert_fleet(&NewFleet {
                    name: "f",
                    origin: "cli",
                    manifest_path: None,
                    session: "f",
                    socket: "",
                })
                .unwrap();
            body(registry, fleet)
        });
    }

    #[test]
    fn a_message_read_before_its_notifier_finished_keeps_both_timestamps() {
        each(|mut reg, f| {
            let id = reg.insert_message(f, "a", "b", b"hi", "message").unwrap();
            // The recipient reads it the moment Enter lands, before the notifier records it.
            assert_eq!(reg.take_inbox(f, "b", false).unwrap().len(), 1);
            assert_eq!(reg.mark_notified(&[id]).unwrap(), 1);
            let row = reg.message(f, id).unwrap().unwrap();
            assert_eq!(row.state, "read", "a later state is never moved back");
            assert!(row.notified_at.is_some() && row.read_at.is_some());
        });
    }

    #[test]
    fn lifecycle_has_a_timestamp_for_every_state() {
        each(|mut reg, f| {
            let id = reg.insert_message(f, "a", "b", b"hi", "message").unwrap();
            let row = reg.message(f, id).unwrap().unwrap();
            assert_eq!(row.state, "queued");
            assert!(row.notified_at.is_none());

            reg.mark_queued_reason(&[id], "no live pane").unwrap();
            assert_eq!(
                reg.message(f, id).unwrap().unwrap().state_reason.as_deref(),
                Some("no live pane")
            );
            assert_eq!(reg.mark_notified(&[id]).unwrap(), 1);
            let row = reg.message(f, id).unwrap().unwrap();
            assert_eq!(row.state, "notified");
            assert!(row.notified_at.is_some() && row.state_reason.is_none());
            assert_eq!(
                reg.mark_notified(&[id]).unwrap(),
                0,
                "only queued ones move"
            );

            let inbox = reg.take_inbox(f, "b", false).unwrap();
            assert_eq!(inbox.len(), 1);
            assert_eq!(
                inbox[0].state, "notified",
                "returned as it was before reading"
            );
            assert!(reg.take_inbox(f, "b", false).unwrap().is_empty());
            let row = reg.message(f, id).unwrap().unwrap();
            assert_eq!(row.state, "read");
            assert!(row.read_at.is_some());

            let acked = reg.ack_messages(f, "b", &[id]).unwrap();
            assert_eq!(acked[0].state, "acked");
            assert!(acked[0].acked_at.is_some());
            assert_eq!(reg.take_inbox(f, "b", true).unwrap().len(), 1);
        });
    }

    #[test]
    fn broadcast_rows_share_an_id() {
        each(|mut reg, f| {
            let rows = reg
                .insert_broadcast(f, "a", &["b".into(), "c".into(), "d".into()], b"all")
                .unwrap();
            assert_eq!(rows.len(), 3);
            let first = rows[0].1;
            for (_, id) in &rows {
                let row = reg.message(f, *id).unwrap().unwrap();
                assert_eq!(row.broadcast_id, Some(first));
                assert_eq!(row.kind, "broadcast");
            }
        });
    }

    #[test]
    fn only_the_recipient_acks_and_only_the_parties_see() {
        each(|mut reg, f| {
            let id = reg
                .insert_message(f, "a", "b", b"secret", "message")
                .unwrap();
            let err = reg.ack_messages(f, "c", &[id]).unwrap_err();
            assert!(err.message.contains(&format!("#{id}")), "{}", err.message);
            let err = reg.ack_messages(f, "a", &[id]).unwrap_err();
            assert!(err.message.contains("not addressed"), "{}", err.message);
            assert_eq!(reg.message(f, id).unwrap().unwrap().state, "queued");
            let err = reg.ack_messages(f, "b", &[id, 999]).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::NotFound);
            assert_eq!(
                reg.message(f, id).unwrap().unwrap().state,
                "queued",
                "all or nothing"
            );

            assert!(reg.show_message(f, "a", id).is_ok());
            assert!(reg.show_message(f, "b", id).is_ok());
            assert!(reg.show_message(f, "c", id).is_err());
            assert!(reg.take_inbox(f, "c", true).unwrap().is_empty());
        });
    }

    #[test]
    fn list_filters_threads_and_states() {
        each(|mut reg, f| {
            let ab = reg.insert_message(f, "a", "b", b"1", "message").unwrap();
            let ba = reg.insert_message(f, "b", "a", b"2", "message").unwrap();
            let ac = reg.insert_message(f, "a", "c", b"3", "message").unwrap();
            let _bc = reg.insert_message(f, "b", "c", b"4", "message").unwrap();
            let ids = |rows: Vec<MessageRow>| rows.into_iter().map(|m| m.id).collect::<Vec<_>>();

            let all = reg.list_messages(f, "a", &ListFilter::default()).unwrap();
            assert_eq!(ids(all), [ab, ba, ac]);
            let with_b = ListFilter {
                with: Some("b"),
                ..Default::default()
            };
            assert_eq!(ids(reg.list_messages(f, "a", &with_b).unwrap()), [ab, ba]);
            reg.take_inbox(f, "b", false).unwrap();
            let read = ListFilter {
                state: Some("read"),
                ..Default::default()
            };
            assert_eq!(ids(reg.list_messages(f, "a", &read).unwrap()), [ab]);
            assert_eq!(reg.pending_messages(f, "c").unwrap().len(), 2);
            assert_eq!(reg.recipients_with_pending(f).unwrap(), ["a", "c"]);
        });
    }

    #[test]
    fn unacked_lists_read_messages_until_they_are_acked() {
        each(|mut reg, f| {
            let first = reg.insert_message(f, "a", "b", b"1", "message").unwrap();
            assert_eq!(reg.take_inbox(f, "b", false).unwrap().len(), 1);
            assert!(reg.take_inbox(f, "b", false).unwrap().is_empty());
            let second = reg.insert_message(f, "a", "b", b"2", "message").unwrap();
            let ids = |rows: Vec<MessageRow>| rows.into_iter().map(|m| m.id).collect::<Vec<_>>();
            assert_eq!(ids(reg.take_unacked(f, "b").unwrap()), [first, second]);
            assert_eq!(reg.message(f, second).unwrap().unwrap().state, "read");
            reg.ack_messages(f, "b", &[first]).unwrap();
            assert_eq!(ids(reg.take_unacked(f, "b").unwrap()), [second]);
            assert!(reg.take_unacked(f, "a").unwrap().is_empty());
        });
    }

    #[test]
    fn bodies_are_kept_byte_for_byte() {
        each(|mut reg, f| {
            let body = b"a\x00b\x1b[200~\xff\r\n;".to_vec();
            let id = reg.insert_message(f, "a", "b", &body, "message").unwrap();
            assert_eq!(reg.message(f, id).unwrap().unwrap().body, body);
        });
    }
}
