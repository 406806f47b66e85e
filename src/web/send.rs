//! Sending from the page: the operator's message or broadcast goes through exactly the
//! broker calls `cafleet message send`/`broadcast` make ([`broker::send`],
//! [`broker::broadcast`]) with sender `operator`, so it is stored, announced by the
//! fleet's courier and logged like any other message. The page may also speak as the
//! fleet's Director (as the Python UI could); no other member can be impersonated.

use camino::Utf8Path;
use serde::Serialize;

use crate::broker;
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

/// The default sender of everything typed into the web UI.
pub const OPERATOR: &str = crate::team::OPERATOR;

/// What was stored: the ids, and each message's state as `message send --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub ids: Vec<i64>,
    pub messages: Vec<broker::Sent>,
}

/// Who the page speaks as: `operator` (also when `from` is `None` or empty), or the
/// name of the fleet's Director.
fn sender(registry: &Registry, fleet: &FleetRow, from: Option<&str>) -> Result<String> {
    let from = from.filter(|f| !f.is_empty()).unwrap_or(OPERATOR);
    if from == OPERATOR {
        return Ok(OPERATOR.to_string());
    }
    let director = registry
        .agents(fleet.id)?
        .into_iter()
        .find(|a| a.role == "director" && a.status != "removed");
    match director {
        Some(d) if d.name == from => Ok(d.name),
        Some(d) => Err(
            Error::usage(format!("the page cannot send as `{from}`")).hint(format!(
                "`from` is `{OPERATOR}` or the Director, `{}`",
                d.name
            )),
        ),
        None => Err(
            Error::usage(format!("the page cannot send as `{from}`")).hint(format!(
                "fleet `{}` has no Director; send as `{OPERATOR}`",
                fleet.name
            )),
        ),
    }
}

/// Stores a message from `from` (see [`sender`]) to `to` (every other live agent when
/// `None`; `operator` when the Director answers the operator) and hands its notification
/// to the broker. Opens its own connection: a write must not queue behind the page's
/// reads.
pub fn send(
    db: &Utf8Path,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    from: Option<&str>,
    to: Option<&str>,
    body: &str,
) -> Result<Sent> {
    let mut registry = Registry::open(db)?;
    let from = sender(&registry, fleet, from)?;
    let messages = match to {
        Some(name) if name == from => {
            return Err(Error::usage(format!("`{from}` cannot send to itself"))
                .hint("pick another recipient"));
        }
        Some(OPERATOR) => vec![broker::send_to_operator(
            &mut registry,
            fleet,
            &from,
            body.as_bytes(),
        )?],
        Some(name) => {
            let agent = registry.require_agent(fleet.id, &fleet.name, name)?;
            vec![broker::send(
                &mut registry,
                tmux_socket,
                fleet,
                &from,
                &agent,
                body.as_bytes(),
                false,
            )?]
        }
        None => broker::broadcast(
            &mut registry,
            tmux_socket,
            fleet,
            &from,
            body.as_bytes(),
            false,
        )?,
    };
    Ok(Sent {
        ids: messages.iter().map(|m| m.id).collect(),
        messages,
    })
}
