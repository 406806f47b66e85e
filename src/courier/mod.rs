//! The courier: one background process per fleet, started by `up` (and `fleet create`,
//! `member create`) outside any agent's sandbox, that announces every message nobody
//! else could. An agent inside a sandbox may write the registry but not reach tmux —
//! codex's `workspace-write` sandbox refuses the tmux socket, and opening it would mean
//! opening the network to every command the agent runs — so its `cafleet message send`
//! only stores the row. The courier notices the commit (SQLite's `data_version`, polled
//! every [`POLL`]), and delivers through the same [`crate::broker`] code as the notifier:
//! under the recipient's delivery lock, reading the rows again, so a message is announced
//! once whoever gets there first. Messages that stay queued (a trust gate, a dead pane)
//! are tried again with a growing pause, and at once when a new message arrives.
//!
//! It holds the fleet's courier lock while it runs (so there is one per fleet, and `down`
//! signals its recorded pid only while that lock is held), and ends by itself when the
//! fleet is brought down or deleted, its registry file is gone, or its tmux server has
//! been gone for [`SERVER_GONE_FOR`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};

use crate::broker::{self, Outcome};
use crate::error::{Error, Result};
use crate::registry::Registry;

/// How often the registry is asked whether anything was committed.
pub const POLL: Duration = Duration::from_millis(50);
/// Even with no commit seen, the queue is looked at this often (a pane may have left its
/// trust gate, which commits nothing).
const IDLE_LOOK: Duration = Duration::from_secs(1);
/// The first pause before a queued message is tried again, doubled up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How long the fleet's tmux server must be missing before the courier ends.
const SERVER_GONE_FOR: Duration = Duration::from_secs(5);

/// The name of a fleet's courier lock.
pub fn lock_name(fleet: &str) -> String {
    format!("courier-{fleet}")
}

fn pid_file(db: &Utf8Path, fleet: &str) -> std::path::PathBuf {
    crate::registry::lock::lock_dir(db).join(format!("{}.pid", lock_name(fleet)))
}

/// Whether a courier of `fleet` runs now.
pub fn is_running(db: &Utf8Path, fleet: &str) -> bool {
    crate::registry::lock::is_held(db, &lock_name(fleet))
}

/// Starts the fleet's courier unless one runs: a detached `cafleet agent courier` in its
/// own session with stdio on /dev/null. Returns without waiting for it.
pub fn ensure(db: &Utf8Path, tmux_socket: Option<&str>, fleet: &str) -> Result<()> {
    if is_running(db, fleet) {
        return Ok(());
    }
    let mut command = crate::apply::process::cafleet_command(db, tmux_socket)?;
    // Started from an agent's pane (a Director running `up`), it must not carry that
    // agent's identity: `down` ends every process that does.
    crate::apply::process::forget_identity(&mut command, db);
    command.args(["agent", "courier", "--fleet", fleet]);
    // The courier outlives `up` and must not share its terminal or process group.
    crate::apply::process::spawn_detached(&mut command).map_err(|err| {
        Error::failure(format!("cannot start the courier of `{fleet}`: {err}"))
            .hint("messages from sandboxed agents stay queued until `cafleet up` runs again")
    })
}

/// [`ensure`], saying on stderr when the courier could not be started instead of failing
/// the command that has already started the agents: they work without it, only messages
/// stored from inside a sandbox wait for the next `up`.
pub fn ensure_or_warn(db: &Utf8Path, tmux_socket: Option<&str>, fleet: &str) {
    if let Err(err) = ensure(db, tmux_socket, fleet) {
        let mut text = format!("warning: {}\n", err.message);
        for hint in &err.hints {
            text.push_str(&format!("hint: {hint}\n"));
        }
        eprint!("{}", crate::safe_text::text(&text));
    }
}

/// Ends the fleet's courier, if one runs, and waits for it to be gone.
pub fn stop(db: &Utf8Path, fleet: &str) -> Result<()> {
    if !is_running(db, fleet) {
        return Ok(());
    }
    let pid = std::fs::read_to_string(pid_file(db, fleet))
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    // The pid is only trusted while its lock is held: checked just above, and the
    // courier writes its pid only after taking the lock.
    if let Some(pid) = pid
        && is_running(db, fleet)
    {
        crate::apply::process::terminate(pid, Duration::from_secs(2))?;
    }
    Ok(())
}

/// What the courier was started with.
pub struct Options {
    pub db: Utf8PathBuf,
    pub fleet: String,
    pub tmux_override: Option<String>,
}

/// When a recipient's queue is next worth a try.
struct Backoff {
    newest: i64,
    /// The recipient's pane and state when it was tried: a new pane (`up` or a restart
    /// brought the agent back) or a new state (its hook says it is idle now) is worth a
    /// try at once.
    seen: (Option<String>, String),
    next: Instant,
    pause: Duration,
}

/// The courier's loop; returns why it ended.
pub fn run(options: &Options, stop: &Arc<AtomicBool>) -> Result<String> {
    let registry = Registry::open(&options.db)?;
    let fleet = registry.require_fleet(&options.fleet)?;
    let Some(_running) =
        crate::registry::lock::Lock::try_named(&options.db, &lock_name(&fleet.name))?
    else {
        return Ok(format!("a courier already runs for `{}`", fleet.name));
    };
    let pid_path = pid_file(&options.db, &fleet.name);
    // A PostgreSQL registry's lock folder holds only this file: made on first use.
    if let Some(dir) = pid_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&pid_path, format!("{}\n", std::process::id()))
        .map_err(|err| Error::failure(format!("cannot write `{}`: {err}", pid_path.display())))?;
    let tmux = crate::apply::tmux_for(options.tmux_override.as_deref(), &fleet.socket);
    let mut backoff: HashMap<String, Backoff> = HashMap::new();
    let mut busy: HashMap<String, std::thread::JoinHandle<Result<Outcome>>> = HashMap::new();
    let mut seen_version = None;
    let mut last_look = Instant::now() - IDLE_LOOK;
    let mut last_server_look = Instant::now() - IDLE_LOOK;
    let mut server_gone_since: Option<Instant> = None;
    let reason = loop {
        if stop.load(Ordering::Relaxed) {
            break "stopped by a signal".to_string();
        }
        if crate::registry::location::is_gone(&options.db) {
            break "the registry file is gone".to_string();
        }
        let version = registry.data_version()?;
        let now = Instant::now();
        let due = backoff.values().any(|b| b.next <= now)
            || busy.values().any(std::thread::JoinHandle::is_finished);
        if seen_version == Some(version) && !due && now - last_look < IDLE_LOOK {
            std::thread::sleep(POLL);
            continue;
        }
        seen_version = Some(version);
        last_look = now;
        let Some(fleet) = registry.fleet_by_name(&options.fleet)? else {
            break "the fleet was deleted".to_string();
        };
        if fleet.status == "down" {
            break "the fleet was brought down".to_string();
        }
        // A fleet whose tmux server is gone (killed without `down`) has no pane left to
        // type into here. A registry file that stays (or a PostgreSQL registry, which
        // never goes) must not keep its courier forever: gone for a while means gone
        // (a server that does not answer is not gone; a later send starts a courier
        // again).
        if now - last_server_look >= IDLE_LOOK {
            last_server_look = now;
            match tmux.server_running() {
                Ok(false) => {
                    let since = *server_gone_since.get_or_insert(now);
                    if now - since >= SERVER_GONE_FOR {
                        break "the fleet's tmux server is gone".to_string();
                    }
                }
                Ok(true) | Err(_) => server_gone_since = None,
            }
        }
        // Deliveries that ended since the last look: when the recipient's queue still
        // holds what was tried, wait longer before the next try.
        let finished: Vec<String> = busy
            .iter()
            .filter(|(_, handle)| handle.is_finished())
            .map(|(name, _)| name.clone())
            .collect();
        for recipient in finished {
            let Some(handle) = busy.remove(&recipient) else {
                continue;
            };
            let outcome = handle
                .join()
                .unwrap_or_else(|_| Err(Error::failure("a courier thread panicked")));
            let newest = registry
                .newest_pending(fleet.id)?
                .into_iter()
                .find(|(r, _)| *r == recipient)
                .map(|(_, id)| id);
            match (outcome, newest) {
                (Ok(Outcome::Queued { .. }), Some(newest)) | (Err(_), Some(newest)) => {
                    let pause = match backoff.get(&recipient) {
                        Some(b) if b.newest == newest => (b.pause * 2).min(MAX_RETRY),
                        _ => FIRST_RETRY,
                    };
                    let seen = registry
                        .agent(fleet.id, &recipient)?
                        .map(|a| (a.pane_id, a.status))
                        .unwrap_or_default();
                    backoff.insert(
                        recipient,
                        Backoff {
                            newest,
                            seen,
                            next: Instant::now() + pause,
                            pause,
                        },
                    );
                }
                _ => {
                    backoff.remove(&recipient);
                }
            }
            // Something may have arrived while it worked: look again at once.
            seen_version = None;
        }
        let pending = registry.newest_pending(fleet.id)?;
        backoff.retain(|name, _| pending.iter().any(|(r, _)| r == name));
        // A recipient back in a new pane, or in a new state, is tried at once (the
        // agents are read only while some recipient waits out a pause).
        if !backoff.is_empty() {
            let now_seen: HashMap<String, (Option<String>, String)> = registry
                .agents(fleet.id)?
                .into_iter()
                .filter(|a| backoff.contains_key(&a.name))
                .map(|a| (a.name, (a.pane_id, a.status)))
                .collect();
            backoff.retain(|name, b| now_seen.get(name).is_none_or(|seen| *seen == b.seen));
        }
        let ready: Vec<String> = pending
            .into_iter()
            .filter(|(recipient, _)| !busy.contains_key(recipient))
            .filter(|(recipient, newest)| match backoff.get(recipient) {
                Some(b) => b.newest != *newest || b.next <= now,
                None => true,
            })
            .map(|(recipient, _)| recipient)
            .collect();
        // Each recipient on its own thread with its own registry connection: a slow pane
        // (a preview watched until the agent takes it) never holds up the others.
        for recipient in ready {
            let (db, tmux, fleet, name) = (
                options.db.clone(),
                tmux.clone(),
                fleet.clone(),
                recipient.clone(),
            );
            let handle = std::thread::spawn(move || {
                let mut registry = Registry::open(&db)?;
                broker::deliver_pending(&mut registry, &tmux, &fleet, &name).map(|d| d.outcome)
            });
            busy.insert(recipient, handle);
        }
    };
    // Deliveries under way finish their keystrokes before the courier ends.
    for (_, handle) in busy {
        let _ = handle.join();
    }
    let _ = std::fs::remove_file(&pid_path);
    Ok(reason)
}
