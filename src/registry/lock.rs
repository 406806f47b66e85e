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
//!
//! On a PostgreSQL registry the same locks are PostgreSQL session advisory locks
//! (`pg_advisory_lock`), each held by a connection of its own that the guard keeps open:
//! they hold across every host that uses the registry, and the server releases one when
//! its holder's connection ends, however the holder died — the same property as `flock`.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use camino::Utf8Path;

use super::engine::postgres::{LOCK_CLASS, LOCK_KEY, connect};
use super::location::is_postgres;
use crate::error::{Error, Result};

/// The folder holding the lock files of the registry at `registry`. A PostgreSQL
/// registry's locks live in the server; this host's folder for it (the courier's pid
/// file) is `$XDG_DATA_HOME/cafleet/postgres-HASH.locks` (else under
/// `~/.local/share`), HASH naming the URL without its password.
pub fn lock_dir(registry: &Utf8Path) -> PathBuf {
    if registry.as_str() == ":memory:" {
        return std::env::temp_dir().join(format!("cafleet-{}.locks", std::process::id()));
    }
    if is_postgres(registry) {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(super::location::redact(registry.as_str()).as_bytes());
        let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let var = |name: &str| std::env::var(name).ok().filter(|v| v.starts_with('/'));
        let data = var("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .unwrap_or_else(std::env::temp_dir);
        return data.join("cafleet").join(format!("postgres-{hash}.locks"));
    }
    PathBuf::from(format!("{registry}.locks"))
}

/// An exclusive lock on one agent's pane, released on drop.
pub struct Lock {
    held: Held,
}

enum Held {
    File(File),
    /// The connection holding the advisory lock; closing it releases the lock.
    Postgres(Box<postgres::Client>),
}

/// Takes the advisory lock `name` of the PostgreSQL registry at `url` on a connection of
/// its own: waiting for it, or only if it is free.
fn advisory(url: &Utf8Path, name: &str, wait: bool) -> Result<Option<Lock>> {
    let mut client = connect(url.as_str())?;
    let held = |client| Lock {
        held: Held::Postgres(Box::new(client)),
    };
    if wait {
        client.execute(
            &format!("SELECT pg_advisory_lock({LOCK_CLASS}, {LOCK_KEY})"),
            &[&name],
        )?;
        return Ok(Some(held(client)));
    }
    let got: bool = client
        .query_one(
            &format!("SELECT pg_try_advisory_lock({LOCK_CLASS}, {LOCK_KEY})"),
            &[&name],
        )?
        .get(0);
    Ok(got.then(|| held(client)))
}

impl Lock {
    /// Blocks until this process holds the agent's delivery lock.
    pub fn agent(registry: &Utf8Path, agent_id: i64) -> Result<Lock> {
        Lock::named(registry, &format!("agent-{agent_id}"))
    }

    /// Blocks until this process holds the lock called `name` (for example a fleet's, so
    /// two `up`s of one fleet never start the same agent twice).
    pub fn named(registry: &Utf8Path, name: &str) -> Result<Lock> {
        if is_postgres(registry) {
            return advisory(registry, name, true)?
                .ok_or_else(|| Error::failure(format!("cannot take the lock `{name}`")));
        }
        let (file, path) = open(registry, name)?;
        file.lock()
            .map_err(|err| Error::failure(format!("cannot lock `{}`: {err}", path.display())))?;
        Ok(Lock {
            held: Held::File(file),
        })
    }

    /// The lock called `name` if nobody holds it, else `None` — the way to ask whether a
    /// process (a monitor loop) still runs: the kernel drops a lock with its holder, so a
    /// lock cannot go stale the way a recorded pid can.
    pub fn try_named(registry: &Utf8Path, name: &str) -> Result<Option<Lock>> {
        if is_postgres(registry) {
            return advisory(registry, name, false);
        }
        let (file, path) = open(registry, name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lock {
                held: Held::File(file),
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(Error::failure(format!(
                "cannot lock `{}`: {err}",
                path.display()
            ))),
        }
    }
}

/// Whether some process holds the lock called `name` right now. Creates nothing: a lock
/// file that does not exist was never held. On PostgreSQL: whether the advisory lock
/// cannot be taken (taken and at once released when it is free); a server that cannot be
/// reached holds nothing.
pub fn is_held(registry: &Utf8Path, name: &str) -> bool {
    if is_postgres(registry) {
        return matches!(advisory(registry, name, false), Ok(None));
    }
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
        match &mut self.held {
            Held::File(file) => {
                let _ = file.unlock();
            }
            // Closing the connection (dropping the client) releases it too; unlocking
            // first releases it before the connection's teardown.
            Held::Postgres(client) => {
                let _ = client.execute("SELECT pg_advisory_unlock_all()", &[]);
            }
        }
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

    /// The same on PostgreSQL: advisory locks exclude each other across connections (and
    /// so across hosts), `try_named` and `is_held` see a held lock, and dropping the guard
    /// frees it.
    #[test]
    fn postgres_advisory_locks_hold_one_holder_at_a_time() {
        let Some(url) = crate::registry::testing::postgres_url() else {
            return;
        };
        let first = Lock::named(&url, &fleet_name("shop")).unwrap();
        assert!(is_held(&url, &fleet_name("shop")));
        assert!(
            Lock::try_named(&url, &fleet_name("shop"))
                .unwrap()
                .is_none()
        );
        assert!(!is_held(&url, &fleet_name("other")), "another name is free");
        let held = Arc::new(AtomicBool::new(true));
        let (url2, held2) = (url.clone(), held.clone());
        let waiter = std::thread::spawn(move || {
            let _lock = Lock::named(&url2, &fleet_name("shop")).unwrap();
            assert!(!held2.load(Ordering::SeqCst), "acquired while held");
        });
        std::thread::sleep(Duration::from_millis(100));
        held.store(false, Ordering::SeqCst);
        drop(first);
        waiter.join().unwrap();
        assert!(!is_held(&url, &fleet_name("shop")), "released on drop");
        let monitor = Lock::try_named(&url, &monitor_name("shop")).unwrap();
        assert!(monitor.is_some());
        // A registry in another schema of the same database has locks of its own.
        let other = crate::registry::testing::postgres_url().unwrap();
        assert!(!is_held(&other, &monitor_name("shop")));
        assert!(is_held(&url, &monitor_name("shop")));
    }
}
