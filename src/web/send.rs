//! Sending from the page: the operator's message or broadcast goes through exactly the
//! broker calls `cafleet message send`/`broadcast` make ([`broker::send`],
//! [`broker::broadcast`]) with sender `operator`, so it is stored, notified by the
//! detached notifier and logged like any other message.

use camino::Utf8Path;
use serde::Serialize;

use crate::broker;
use crate::error::Result;
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

/// The sender name of everything typed into the web UI.
pub const OPERATOR: &str = "operator";

/// What was stored: the ids, and each message's state as `message send --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub ids: Vec<i64>,
    pub messages: Vec<broker::Sent>,
}

/// Stores a message to `to` (every other live agent when `None`) and hands its
/// notification to the broker. Opens its own connection: a write must not queue behind
/// the page's reads.
pub fn send(
    db: &Utf8Path,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    to: Option<&str>,
    body: &str,
) -> Result<Sent> {
    let mut registry = Registry::open(db)?;
    let messages = match to {
        Some(name) => {
            let agent = registry.require_agent(fleet.id, &fleet.name, name)?;
            vec![broker::send(
                &mut registry,
                tmux_socket,
                fleet,
                OPERATOR,
                &agent,
                body.as_bytes(),
                false,
            )?]
        }
        None => broker::broadcast(
            &mut registry,
            tmux_socket,
            fleet,
            OPERATOR,
            body.as_bytes(),
            false,
        )?,
    };
    Ok(Sent {
        ids: messages.iter().map(|m| m.id).collect(),
        messages,
    })
}
