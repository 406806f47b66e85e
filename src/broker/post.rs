//! Sending: the one code path behind `cafleet message send`/`broadcast` and the web UI's
//! send form. The rows are committed `queued` first; recipients with no live pane keep
//! them `queued` with the reason; the others are handed to the fleet's courier (or,
//! with `sync`, notified here). The result reports the state the registry holds after.

use serde::Serialize;

use super::{Delivery, Outcome, hand_over, may_be_live, notify_messages};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::agents::AgentRow;
use crate::registry::fleets::FleetRow;

/// The result of sending one message. Field names are stable (`message send --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub id: i64,
    pub recipient: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Stores a message from `sender` (a member, or `operator` from the web UI) to `to` and
/// notifies its pane.
pub fn send(
    registry: &mut Registry,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    sender: &str,
    to: &AgentRow,
    body: &[u8],
    sync: bool,
) -> Result<Sent> {
    let id = registry.insert_message(fleet.id, sender, &to.name, body, "message")?;
    let mut sent = notify(
        registry,
        tmux_socket,
        fleet,
        &[(to.clone(), id)],
        None,
        sync,
    )?;
    sent.pop()
        .ok_or_else(|| Error::failure(format!("message #{id} vanished")))
}

/// Stores a message from `sender` to `operator`, who has no pane: nothing is typed
/// anywhere and the courier never picks it up (it is stored
/// `notified`, so it is unread until the web UI or `message inbox --as operator` reads it).
pub fn send_to_operator(
    registry: &mut Registry,
    fleet: &FleetRow,
    sender: &str,
    body: &[u8],
) -> Result<Sent> {
    let id = registry.insert_mailbox_message(fleet.id, sender, crate::team::OPERATOR, body)?;
    Ok(Sent {
        id,
        recipient: crate::team::OPERATOR.to_string(),
        state: "notified".to_string(),
        broadcast_id: None,
        reason: None,
    })
}

/// Stores one `broadcast` row for every other live member of the fleet (all sharing a
/// `broadcast_id`) and notifies their panes in parallel.
pub fn broadcast(
    registry: &mut Registry,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    sender: &str,
    body: &[u8],
    sync: bool,
) -> Result<Vec<Sent>> {
    let recipients: Vec<AgentRow> = registry
        .agents(fleet.id)?
        .into_iter()
        .filter(|a| a.name != sender && !["stopped", "removed", "dead"].contains(&&*a.status))
        .collect();
    if recipients.is_empty() {
        return Err(Error::failure(format!(
            "fleet `{}` has no other live member to broadcast to",
            fleet.name
        ))
        .hint("`cafleet ps` shows the members and their states"));
    }
    let names: Vec<String> = recipients.iter().map(|a| a.name.clone()).collect();
    let rows = registry.insert_broadcast(fleet.id, sender, &names, body)?;
    let broadcast_id = rows.first().map(|(_, id)| *id);
    let pairs: Vec<(AgentRow, i64)> = recipients
        .into_iter()
        .zip(rows.into_iter().map(|(_, id)| id))
        .collect();
    notify(registry, tmux_socket, fleet, &pairs, broadcast_id, sync)
}

/// Hands the just-committed messages to the fleet's courier (or, with `sync`, notifies
/// here) and reports each message's state. Recipients with no live pane are not
/// notified: their messages stay `queued` with the reason.
fn notify(
    registry: &mut Registry,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    messages: &[(AgentRow, i64)],
    broadcast_id: Option<i64>,
    sync: bool,
) -> Result<Vec<Sent>> {
    let mut sent = Vec::with_capacity(messages.len());
    let mut live = Vec::new();
    for (agent, id) in messages {
        if may_be_live(agent) {
            live.push(*id);
        } else {
            let reason = format!(
                "`{}` has no live pane; it is told when it is back",
                agent.name
            );
            registry.mark_queued_reason(&[*id], &reason)?;
        }
    }
    let mut deliveries: Vec<Delivery> = Vec::new();
    if !live.is_empty() {
        if sync && !super::on_other_host() {
            let tmux = crate::apply::tmux_for(tmux_socket, &fleet.socket);
            deliveries = notify_messages(registry.path(), &tmux, fleet, &live)?;
        } else {
            hand_over(registry.path(), tmux_socket, &fleet.name)?;
        }
    }
    for (agent, id) in messages {
        // The registry is the truth: report the state it holds now.
        let row = registry
            .message(fleet.id, *id)?
            .ok_or_else(|| Error::failure(format!("message #{id} vanished")))?;
        let reason = match (&row.state_reason, sync) {
            (Some(reason), _) if row.state == "queued" => Some(reason.clone()),
            _ => deliveries
                .iter()
                .find(|d| d.message_ids.contains(id))
                .and_then(|d| match &d.outcome {
                    Outcome::Notified { escaped: true, .. } => {
                        Some("Escape first: the pane showed a prompt".to_owned())
                    }
                    _ => None,
                }),
        };
        sent.push(Sent {
            id: *id,
            recipient: agent.name.clone(),
            state: row.state,
            broadcast_id,
            reason,
        });
    }
    Ok(sent)
}
