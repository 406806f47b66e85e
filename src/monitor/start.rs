//! Starting a fleet's monitor loop from `up` when the fleet file says `[monitor] loop =
//! "cafleet"`: a detached `cafleet monitor start` in its own session, as the courier is
//! started, so the heartbeat runs whether or not the monitoring member ever starts it.
//! `down` ends it like any other loop ([`super::stop`]).

use camino::Utf8Path;

use crate::error::{Error, Result};
use crate::registry::lock::{is_held, monitor_name};

/// Starts the loop of `fleet` unless one runs; returns whether it started one. It does
/// not wait: the loop takes the fleet's monitor lock once it is up.
pub fn ensure(db: &Utf8Path, tmux_socket: Option<&str>, fleet: &str) -> Result<bool> {
    if is_held(db, &monitor_name(fleet)) {
        return Ok(false);
    }
    let mut command = crate::apply::process::cafleet_command(db, tmux_socket)?;
    // Run from a Director's pane, it must not carry that agent's identity: `down` ends
    // every process that does, and this one is ended through its lock instead.
    crate::apply::process::forget_identity(&mut command, db);
    command.args(["monitor", "start", "--fleet", fleet]);
    crate::apply::process::spawn_detached(&mut command).map_err(|err| {
        Error::failure(format!("cannot start the monitor loop of `{fleet}`: {err}"))
            .hint("start it by hand with `cafleet monitor start`, or run `cafleet up` again")
    })?;
    Ok(true)
}
