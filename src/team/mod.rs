//! A team run from start to finish: the Director's `cafleet done` (recorded here as an
//! event and a message to `operator`), the watch `cafleet run` keeps until the team is
//! done, out of time or dead ([`watch`]), and the report it writes ([`report`]).
//!
//! `done` is stored twice, on purpose. The `done` event is what `cafleet run` polls for
//! and what `cafleet events` and the web UI's timeline show. The message is what the
//! operator reads: the web UI already sends as `operator`, but no agent row has that name
//! (it is reserved), so the message is stored straight away as `notified` — nobody is to
//! be typed at, so the courier never picks it up — and stays
//! unread until read; `cafleet message list --as director --with operator` lists it.

pub mod rehearse;
pub mod report;
pub mod watch;

use serde::Serialize;
use serde_json::json;

use crate::error::Result;
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

/// The recipient of the Director's final summary.
pub const OPERATOR: &str = "operator";

/// The event kind `cafleet done` records.
pub const DONE_EVENT: &str = "done";

/// What the Director said when it called `cafleet done`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Done {
    /// `--fail` was given.
    pub failed: bool,
    pub summary: String,
    /// Who called it (the Director's name).
    pub by: String,
    /// The id of the message to `operator` that carries the summary.
    pub message: Option<i64>,
    pub at: String,
}

/// Records that the team has finished: a message from `director` to `operator` with the
/// summary, then the `done` event that points at it. Returns the message id.
pub fn record_done(
    registry: &mut Registry,
    fleet: &FleetRow,
    director: &str,
    summary: &str,
    failed: bool,
) -> Result<i64> {
    let body = if summary.trim().is_empty() {
        if failed {
            "(done --fail, no summary)".to_string()
        } else {
            "(done, no summary)".to_string()
        }
    } else {
        summary.to_string()
    };
    let id = registry.insert_mailbox_message(fleet.id, director, OPERATOR, body.as_bytes())?;
    registry.event(
        Some(fleet.id),
        Some(director),
        DONE_EVENT,
        json!({"failed": failed, "summary": summary, "message": id}),
    )?;
    Ok(id)
}

/// The first `done` of `fleet` recorded after event `after_id`, if any.
pub fn find_done(registry: &Registry, fleet_id: i64, after_id: i64) -> Result<Option<Done>> {
    let mut after = after_id;
    loop {
        let events = registry.events(Some(fleet_id), None, after, 500)?;
        let Some(last) = events.last() else {
            return Ok(None);
        };
        after = last.id;
        if let Some(event) = events.iter().find(|e| e.kind == DONE_EVENT) {
            return Ok(Some(Done {
                failed: event.detail["failed"].as_bool().unwrap_or(false),
                summary: event.detail["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                by: event.agent.clone().unwrap_or_default(),
                message: event.detail["message"].as_i64(),
                at: event.created_at.clone(),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fleets::NewFleet;

    #[test]
    fn done_is_an_event_and_an_unannounced_message_to_the_operator() {
        let mut reg = Registry::in_memory().unwrap();
        reg.upsert_fleet(&NewFleet {
            name: "t",
            origin: "cli",
            manifest_path: None,
            session: "t",
            socket: "",
        })
        .unwrap();
        let fleet = reg.require_fleet("t").unwrap();
        let (_, events) = reg.high_water_marks().unwrap();
        assert_eq!(find_done(&reg, fleet.id, events).unwrap(), None);
        let id = record_done(&mut reg, &fleet, "director", "all green", true).unwrap();
        let done = find_done(&reg, fleet.id, events).unwrap().unwrap();
        assert!(done.failed);
        assert_eq!(done.summary, "all green");
        assert_eq!(done.message, Some(id));
        let messages = reg.fleet_messages_after(fleet.id, 0).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].recipient, "operator");
        assert_eq!(messages[0].state, "notified");
        // Never picked up for delivery.
        assert!(reg.recipients_with_pending(fleet.id).unwrap().is_empty());
    }
}
