//! Sending from the page: the operator's message or broadcast goes through exactly the
//! broker call `cafleet message send`/`broadcast` makes, with sender `operator`, so it is
//! stored, notified and logged like any other message.

use camino::Utf8Path;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::registry::fleets::FleetRow;

/// The sender name of everything typed into the web UI.
pub const OPERATOR: &str = "operator";

/// What was stored.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub ids: Vec<i64>,
    pub recipients: Vec<String>,
}

/// Stores a message to `to` (every other live agent when `None`) and hands its
/// notification to the broker.
pub fn send(
    _db: &Utf8Path,
    _tmux_socket: Option<&str>,
    _fleet: &FleetRow,
    _to: Option<&str>,
    _body: &str,
) -> Result<Sent> {
    Err(
        Error::failure("this build cannot send messages yet: the broker is not merged")
            .hint("use `cafleet message send` for now"),
    )
}
