//! Locks between cafleet processes: the per-agent delivery lock that keeps two previews
//! from interleaving in one pane, and the per-fleet lock that lets one `up` or `down` of
//! a fleet run at a time.
//!
//! Each is an advisory `flock` on `<registry>.locks/NAME.lock`, not a row in the
//! database: the kernel releases it when its holder exits, however it exits (a notifier
//! killed mid-keystroke leaves no stale lock to expire), waiting for it costs no polling,
//! and taking it never writes to SQLite — a lock held in the database would need a lease,
//! a clock and retries, and must never be held inside a transaction while typing anyway.
//! The lock is per agent rather than per pane id because tmux reuses pane ids and an agent
//! owns exactly one pane at a time.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use camino::Utf8Path;

use crate::error::{Error, Result};

/// The folder holding the lock files of the registry at `registry`.
pub fn lock_dir(registry: &Utf8Path) -> PathBuf {
    if registry.as_str() == ":memory:" {
        return std::env::temp_dir().join(format!("cafleet-{}.locks", std::process::id()));
    }
    PathBuf::from(format!("{registry}.locks"))
}

/// An exclusive lock on one agent's pane, released on drop.
pub struct Lock {
    file: File,
}

impl Lock {
    /// Blocks until this process holds the agent's delivery lock.
    pub fn agent(registry: &Utf8Path, agent_id: i64) -> Result<Lock> {
        Lock::named(registry, &format!("agent-{agent_id}"))
    }

    /// Blocks until this process holds the lock called `name` (for example a fleet's, so
    /// two `up`s of one fleet never start the same agent twice).
    pub fn named(registry: &Utf8Path, name: &str) -> Result<Lock> {
        let (file, path) = open(registry, name)?;
        file.lock()
            .map_err(|err| Error::failure(format!("cannot lock `{}`: {err}", path.display())))?;
        Ok(Lock { file })
    }

    /// The lock called `name` if nobody holds it, else `None` — the way to ask whether a
    /// process (a monitor loop) still runs: the kernel drops a lock with its holder, so a
    /// lock cannot go stale the way a recorded pid can.
    pub fn try_named(registry: &Utf8Path, name: &str) -> Result<Option<Lock>> {
        let (file, path) = open(registry, name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(Error::failure(format!(
                "cannot lock `{}`: {err}",
                path.display()
            ))),
        }
    }
}

/// Whether some process holds the lock called `name` right now. Creates nothing: a lock
/// file that does not exist was never held.
pub fn is_held(registry: &Utf8Path, name: &str) -> bool {
    let path = lock_dir(registry).join(format!("{name}.lock"));
    let Ok(file) = OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

fn open(registry: &Utf8Path, name: &str) -> Result<(File, PathBuf)> {
    let dir = lock_dir(registry);
    std::fs::create_dir_all(&dir).map_err(|err| {
        Error::failure(format!(
            "cannot create the lock folder `{}`: {err}",
            dir.display()
        ))
    })?;
    let path = dir.join(format!("{name}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|err| {
            Error::failure(format!("cannot open the lock `{}`: {err}", path.display()))
        })?;
    Ok((file, path))
}

/// The name of the lock one `up`, `down` or `fleet delete` of a fleet holds.
pub fn fleet_name(fleet: &str) -> String {
    format!("fleet-{fleet}")
}

/// The name of a fleet's monitor-loop lock.
pub fn monitor_name(fleet: &str) -> String {
    format!("monitor-{fleet}")
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = camino::Utf8PathBuf::from_path_buf(dir.path().join("r.db")).unwrap();
        let held = Arc::new(AtomicBool::new(false));
        let first = Lock::agent(&db, 1).unwrap();
        held.store(true, Ordering::SeqCst);
        let (db2, held2) = (db.clone(), held.clone());
        let waiter = std::thread::spawn(move || {
            // File locks from separate open file descriptions exclude each other even
            // within one process.
            let _lock = Lock::agent(&db2, 1).unwrap();
            assert!(!held2.load(Ordering::SeqCst), "acquired while held");
        });
        std::thread::sleep(Duration::from_millis(50));
        held.store(false, Ordering::SeqCst);
        drop(first);
        waiter.join().unwrap();
        // Another agent's lock is independent.
        let _a = Lock::agent(&db, 1).unwrap();
        let _b = Lock::agent(&db, 2).unwrap();
    }
}
