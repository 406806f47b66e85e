//! The registry: one SQLite file holding fleets, agents, messages, events and monitor
//! state. This module owns the connection settings, the migrations and every SQL
//! statement; nothing outside it writes SQL.
//!
//! Every connection runs in WAL mode with `synchronous=NORMAL`, foreign keys on and a
//! busy timeout, and every read-then-write transaction starts with `BEGIN IMMEDIATE` so
//! concurrent writers queue on the busy timeout instead of failing with SQLITE_BUSY.
//! No tmux call, keystroke or sleep ever happens while a transaction is open.

pub mod agents;
pub mod events;
pub mod fleets;
pub mod inspect;
pub mod location;
pub mod lock;
pub mod messages;
pub mod monitors;
#[cfg(test)]
mod query_plans;
mod sqlite_error;
pub mod timeline;

pub use sqlite_error::describe_sqlite_error;

use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};

/// The embedded migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_scale_indexes",
        include_str!("../../migrations/0002_scale_indexes.sql"),
    ),
    (
        "0004_status_signal",
        include_str!("../../migrations/0004_status_signal.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Long enough to ride out any other cafleet process's transaction, which never waits on
/// anything but SQLite itself.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An open, migrated registry.
pub struct Registry {
    conn: Connection,
    path: Utf8PathBuf,
}

impl Registry {
    /// Opens the registry at `path`, creating and migrating it when needed.
    pub fn open(path: &Utf8Path) -> Result<Registry> {
        use std::os::unix::fs::PermissionsExt;
        // Every message of the team is in here: a new registry is the user's alone (its
        // -wal and -shm files take the database file's mode).
        let private = |p: &Utf8Path, mode: u32| {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_str().is_empty())
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|err| {
                Error::failure(format!(
                    "cannot create the registry folder `{parent}`: {err}"
                ))
                .hint("pass --db PATH to put the registry somewhere writable")
            })?;
            private(parent, 0o700);
        }
        let created = !path.exists();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(|err| open_error(path, err))?;
        if created {
            private(path, 0o600);
        }
        let mut registry = Registry {
            conn,
            path: path.to_owned(),
        };
        registry.configure().map_err(|err| open_error(path, err))?;
        registry.migrate()?;
        Ok(registry)
    }

    /// An in-memory registry for unit tests.
    pub fn in_memory() -> Result<Registry> {
        let conn = Connection::open_in_memory()?;
        let mut registry = Registry {
            conn,
            path: Utf8PathBuf::from(":memory:"),
        };
        registry.configure()?;
        registry.migrate()?;
        Ok(registry)
    }

    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    fn configure(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // Read the version before anything writes to the file: a newer schema is refused
        // with the file exactly as it was.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Ok(());
        }
        self.enable_wal()?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// Switches the file to WAL once. SQLite answers a competing switch with SQLITE_BUSY
    /// at once, without calling the busy handler, so processes that open a brand-new
    /// registry together poll here until one of them has done it.
    fn enable_wal(&mut self) -> rusqlite::Result<()> {
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match self.conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => return Ok(()),
                Err(err)
                    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(newer_schema(&self.path, found));
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(newer_schema(&self.path, found));
        }
        for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql)
                .map_err(|err| Error::failure(format!("migration {name} failed: {err}")))?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` inside a `BEGIN IMMEDIATE` transaction and commits it.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

fn newer_schema(path: &Utf8Path, found: i64) -> Error {
    Error::failure(format!(
        "the registry `{path}` has schema version {found}, newer than this cafleet knows ({SCHEMA_VERSION})"
    ))
    .hint("upgrade cafleet, or point --db at another file; the registry was left untouched")
}

fn open_error(path: &Utf8Path, err: rusqlite::Error) -> Error {
    let mut error = describe_sqlite_error(err);
    error.message = format!("cannot open the registry `{path}`: {}", error.message);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_in_memory() {
        let registry = Registry::in_memory().unwrap();
        assert_eq!(registry.schema_version().unwrap(), SCHEMA_VERSION);
    }
}
