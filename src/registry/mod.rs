//! The registry: one SQLite file — or one PostgreSQL database, for a `postgres://`
//! location — holding fleets, agents, messages, events and monitor state. This module
//! owns the connection settings, the migrations and every SQL statement; nothing outside
//! it writes SQL. Each statement is written once and runs on both engines
//! ([`engine`]).
//!
//! Every SQLite connection runs in WAL mode with `synchronous=NORMAL`, foreign keys on and a
//! busy timeout, and every read-then-write transaction starts with `BEGIN IMMEDIATE` so
//! concurrent writers queue on the busy timeout instead of failing with SQLITE_BUSY; on
//! PostgreSQL the same transactions queue on the registry's writer advisory lock.
//! No tmux call, keystroke or sleep ever happens while a transaction is open.

pub mod agents;
pub mod engine;
pub mod events;
pub mod fleets;
pub mod inspect;
pub mod location;
pub mod lock;
pub mod messages;
pub mod monitors;
pub mod python_import;
#[cfg(test)]
mod query_plans;
mod sqlite_error;
#[cfg(test)]
pub(crate) mod testing;
pub mod timeline;

pub use sqlite_error::describe_sqlite_error;

use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};
use engine::{Db, Exec, Tx};

/// The embedded migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_scale_indexes",
        include_str!("../../migrations/0002_scale_indexes.sql"),
    ),
    (
        "0003_audit_trail",
        include_str!("../../migrations/0003_audit_trail.sql"),
    ),
    (
        "0004_status_signal",
        include_str!("../../migrations/0004_status_signal.sql"),
    ),
];

/// The same migrations for PostgreSQL, one for one with [`MIGRATIONS`] (same names, same
/// count), so [`SCHEMA_VERSION`] is one number; the `cafleet_schema` table records how
/// many ran.
const POSTGRES_MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_scale_indexes",
        include_str!("../../migrations/postgres/0002_scale_indexes.sql"),
    ),
    (
        "0003_audit_trail",
        include_str!("../../migrations/postgres/0003_audit_trail.sql"),
    ),
    (
        "0004_status_signal",
        include_str!("../../migrations/postgres/0004_status_signal.sql"),
    ),
];

const _: () = assert!(MIGRATIONS.len() == POSTGRES_MIGRATIONS.len());

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Long enough to ride out any other cafleet process's transaction, which never waits on
/// anything but SQLite itself.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An open, migrated registry: a SQLite file or a PostgreSQL database.
pub struct Registry {
    db: Db,
    /// The location as given: a file path, or a `postgres://` URL (see
    /// [`Registry::location`] for the form to print).
    path: Utf8PathBuf,
}

impl Registry {
    /// Opens the registry at `path` — a SQLite file, or a PostgreSQL database when `path`
    /// is a `postgres://` URL — creating and migrating it when needed.
    pub fn open(path: &Utf8Path) -> Result<Registry> {
        if engine::postgres::is_url(path.as_str()) {
            return Registry::open_postgres(path);
        }
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
        let mut registry = Registry::with_sqlite(conn, path);
        registry.configure().map_err(|err| open_error(path, err))?;
        registry.migrate()?;
        Ok(registry)
    }

    /// An in-memory registry for unit tests.
    pub fn in_memory() -> Result<Registry> {
        let conn = Connection::open_in_memory()?;
        let mut registry = Registry::with_sqlite(conn, Utf8Path::new(":memory:"));
        registry.configure()?;
        registry.migrate()?;
        Ok(registry)
    }

    fn with_sqlite(conn: Connection, path: &Utf8Path) -> Registry {
        Registry {
            db: Db::Sqlite(engine::sqlite::Sqlite::new(conn)),
            path: path.to_owned(),
        }
    }

    /// Connects to the PostgreSQL registry at `url` and migrates it when needed.
    fn open_postgres(url: &Utf8Path) -> Result<Registry> {
        let client = engine::postgres::connect(url.as_str()).map_err(|mut err| {
            err.message = format!(
                "cannot open the registry `{}`: {}",
                location::redact(url.as_str()),
                err.message
            );
            err
        })?;
        let mut registry = Registry {
            db: Db::Postgres(Box::new(engine::postgres::Postgres::new(client))),
            path: url.to_owned(),
        };
        registry.migrate_postgres()?;
        Ok(registry)
    }

    /// The location as given: a file path, or a PostgreSQL URL with its password — for
    /// locks and child processes, never for printing (see [`Registry::location`]).
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// The location as it may be printed: a PostgreSQL URL's password is redacted.
    pub fn location(&self) -> String {
        location::redact(self.path.as_str()).into_owned()
    }

    /// Whether this registry is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The schema version stored in the registry.
    pub fn schema_version(&self) -> Result<i64> {
        match &self.db {
            Db::Sqlite(db) => Ok(db
                .conn
                .query_row("PRAGMA user_version", [], |row| row.get(0))?),
            Db::Postgres(_) => postgres_version(&self.db),
        }
    }

    fn conn(&self) -> &Connection {
        match &self.db {
            Db::Sqlite(db) => &db.conn,
            Db::Postgres(_) => unreachable!("SQLite-only setup on a PostgreSQL registry"),
        }
    }

    #[cfg(test)]
    fn conn_mut(&mut self) -> &mut Connection {
        match &mut self.db {
            Db::Sqlite(db) => &mut db.conn,
            Db::Postgres(_) => unreachable!("SQLite-only test on a PostgreSQL registry"),
        }
    }

    fn configure(&mut self) -> rusqlite::Result<()> {
        self.conn().busy_timeout(BUSY_TIMEOUT)?;
        // Read the version before anything writes to the file: a newer schema is refused
        // with the file exactly as it was.
        let version: i64 = self
            .conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Ok(());
        }
        // Nor is a Python cafleet registry touched: `migrate` refuses it.
        if version == 0 && python_import::is_python_registry(self.conn())? {
            return Ok(());
        }
        self.enable_wal()?;
        self.conn().pragma_update(None, "synchronous", "NORMAL")?;
        self.conn().pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// Switches the file to WAL once. SQLite answers a competing switch with SQLITE_BUSY
    /// at once, without calling the busy handler, so processes that open a brand-new
    /// registry together poll here until one of them has done it.
    fn enable_wal(&mut self) -> rusqlite::Result<()> {
        let mode: String = self
            .conn()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match self.conn().pragma_update(None, "journal_mode", "WAL") {
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
            return Err(newer_schema(&self.location(), found));
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if found == 0 && python_import::is_python_registry(self.conn())? {
            return Err(python_import::refuse_python_registry(&self.path));
        }
        // A migration that rebuilds a table (create, copy, drop, rename) must not cascade
        // the drop into the tables that reference it: foreign keys are off while the
        // migrations run (the pragma is a no-op inside a transaction, so it is set
        // here), every reference is checked before the commit, and they are on again
        // whatever happened.
        self.conn().pragma_update(None, "foreign_keys", "OFF")?;
        let migrated = self.run_migrations();
        let restored = self.conn().pragma_update(None, "foreign_keys", "ON");
        migrated?;
        restored?;
        Ok(())
    }

    fn run_migrations(&mut self) -> Result<()> {
        let location = self.location();
        let conn = self.conn();
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(newer_schema(&location, found));
        }
        for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql)
                .map_err(|err| Error::failure(format!("migration {name} failed: {err}")))?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
        }
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(Error::failure(format!(
                "the migrated registry has a row in `{table}` that points at nothing"
            ))
            .hint("the registry was left as it was; report this with `cafleet doctor` output"));
        }
        tx.commit()?;
        Ok(())
    }

    /// Brings a PostgreSQL registry to [`SCHEMA_VERSION`]: every migration still to run,
    /// in one transaction holding the writer lock (PostgreSQL's DDL is transactional, so
    /// a failed migration leaves the database as it was).
    fn migrate_postgres(&mut self) -> Result<()> {
        let location = self.location();
        let found = postgres_version(&self.db)?;
        if found > SCHEMA_VERSION {
            return Err(newer_schema(&location, found));
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        self.db.transaction(|tx| {
            tx.batch("CREATE TABLE IF NOT EXISTS cafleet_schema (version BIGINT NOT NULL)")?;
            // Another process may have migrated while we waited for the writer lock.
            let found: Option<i64> =
                tx.row("SELECT version FROM cafleet_schema", &[], |r| r.get(0))?;
            let found = match found {
                Some(found) => found,
                None => {
                    tx.execute("INSERT INTO cafleet_schema (version) VALUES (0)", &[])?;
                    0
                }
            };
            if found > SCHEMA_VERSION {
                return Err(newer_schema(&location, found));
            }
            for (index, (name, sql)) in POSTGRES_MIGRATIONS.iter().enumerate().skip(found as usize)
            {
                tx.batch(sql).map_err(|err| {
                    Error::failure(format!("migration {name} failed: {}", err.message))
                })?;
                tx.execute(
                    "UPDATE cafleet_schema SET version = ?1",
                    engine::params![index as i64 + 1],
                )?;
            }
            Ok(())
        })
    }

    /// Runs `f` inside a write transaction (`BEGIN IMMEDIATE` on SQLite, the writer
    /// advisory lock on PostgreSQL) and commits it.
    pub fn write<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.db.transaction(f)
    }
}

/// The schema version of a PostgreSQL registry: 0 before its first migration.
fn postgres_version(db: &Db) -> Result<i64> {
    let exists: bool = db.value("SELECT to_regclass('cafleet_schema') IS NOT NULL", &[])?;
    if !exists {
        return Ok(0);
    }
    Ok(db
        .row("SELECT version FROM cafleet_schema", &[], |r| r.get(0))?
        .unwrap_or(0))
}

fn newer_schema(path: &str, found: i64) -> Error {
    Error::failure(format!(
        "the registry `{path}` has schema version {found}, newer than this cafleet knows ({SCHEMA_VERSION})"
    ))
    .hint("upgrade cafleet, or point --db at another file; the registry was left untouched")
}

fn open_error(path: &Utf8Path, err: rusqlite::Error) -> Error {
    let mut error = describe_sqlite_error(err);
    error.message = format!(
        "cannot open the registry `{}`: {}",
        location::redact(path.as_str()),
        error.message
    );
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_in_memory() {
        testing::each_engine(|registry| {
            assert_eq!(registry.schema_version().unwrap(), SCHEMA_VERSION);
        });
    }

    /// A PostgreSQL registry migrates once (a second open finds it current), records its
    /// version in `cafleet_schema`, and a newer schema is refused untouched.
    #[test]
    fn a_postgres_registry_migrates_once_and_refuses_a_newer_schema() {
        let Some(url) = testing::postgres_url() else {
            return;
        };
        let registry = Registry::open(&url).unwrap();
        assert!(registry.is_postgres());
        let again = Registry::open(&url).unwrap();
        assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
        registry
            .db()
            .execute("UPDATE cafleet_schema SET version = 99", &[])
            .unwrap();
        let err = Registry::open(&url).err().expect("refused");
        assert!(err.message.contains("schema version 99"), "{}", err.message);
    }

    /// Opening the same brand-new PostgreSQL registry from many threads at once migrates
    /// it exactly once: the others wait on the writer lock, then find it current.
    #[test]
    fn concurrent_opens_of_a_new_postgres_registry_migrate_once() {
        let Some(url) = testing::postgres_url() else {
            return;
        };
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || Registry::open(&url).map(|r| r.schema_version()))
            })
            .collect();
        for thread in threads {
            assert_eq!(thread.join().unwrap().unwrap().unwrap(), SCHEMA_VERSION);
        }
    }

    /// A registry written by the previous schema keeps every row through the rebuild of
    /// `fleets` (nothing cascades), and its ids are never handed out again.
    #[test]
    fn the_audit_trail_migration_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("old.db")).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            for (_, sql) in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO fleets (id, name, origin, session) VALUES (1, 'shop', 'cli', 's');
                 INSERT INTO agents (fleet_id, name, role, backend, origin) VALUES (1, 'api', 'member', 'fake', 'cli');
                 INSERT INTO messages (id, fleet_id, sender, recipient, body) VALUES (7, 1, 'a', 'api', X'6869');
                 INSERT INTO events (id, fleet_id, kind) VALUES (9, 1, 'spawn');
                 INSERT INTO monitors (fleet_id) VALUES (1);",
            )
            .unwrap();
        }
        let mut registry = Registry::open(&path).unwrap();
        assert_eq!(registry.schema_version().unwrap(), SCHEMA_VERSION);
        let count = |registry: &Registry, table: &str| -> i64 {
            registry
                .conn()
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        for table in ["fleets", "agents", "messages", "events", "monitors"] {
            assert_eq!(count(&registry, table), 1, "{table} lost its row");
        }
        let fk: bool = registry
            .conn()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are on again after the migration");
        let fleet = registry.require_fleet("shop").unwrap();
        assert_eq!(registry.message(fleet.id, 7).unwrap().unwrap().body, b"hi");
        registry.purge_fleet(fleet.id).unwrap();
        assert_eq!(count(&registry, "messages"), 0, "a purge still cascades");
        let fleet = registry
            .upsert_fleet(&fleets::NewFleet {
                name: "shop",
                origin: "cli",
                manifest_path: None,
                session: "s",
                socket: "",
            })
            .unwrap();
        assert!(fleet > 1);
        let id = registry
            .insert_message(fleet, "a", "b", b"new", "message")
            .unwrap();
        assert!(id > 7, "message id {id} reused");
    }

    /// A Python cafleet registry is refused before anything is written to it.
    #[test]
    fn a_python_registry_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(dir.path().join("py.db")).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
                 INSERT INTO alembic_version VALUES ('0006');
                 CREATE TABLE fleets (fleet_id INTEGER PRIMARY KEY, name VARCHAR);",
            )
            .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = Registry::open(&path).err().expect("refused");
        assert!(err.message.contains("Python cafleet"), "{}", err.message);
        assert!(err.hints.iter().any(|h| h.contains("db import-python")));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file was changed"
        );
        assert!(!dir.path().join("py.db-wal").exists());
    }
}
