//! A read-only look at a registry for `cafleet doctor`: whether it exists, its schema
//! version and the monitors it says are running. Unlike `Registry::open` this never
//! creates, migrates or writes the file (or, on PostgreSQL, the tables), so a diagnosis
//! changes nothing.

use camino::Utf8Path;
use rusqlite::{Connection, OpenFlags};

use super::engine::{Db, Exec};
use super::{SCHEMA_VERSION, describe_sqlite_error};
use crate::error::Result;

/// What is at the registry location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// No file there yet (no cafleet tables in a PostgreSQL database); the first command
    /// that needs it creates it.
    Missing,
    /// A registry of the Python cafleet, at this alembic revision: cafleet refuses it
    /// and offers `db import-python`.
    Python { revision: Option<String> },
    /// A registry at `schema_version`; `monitors` is empty when the schema is one this
    /// binary does not know.
    Present {
        schema_version: i64,
        monitors: Vec<RunningMonitor>,
    },
}

/// A `monitors` row whose status is `running`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningMonitor {
    pub fleet: String,
    pub pid: Option<i64>,
    pub last_tick_at: Option<String>,
}

/// Inspects the registry at `path` without creating or changing it.
pub fn inspect(path: &Utf8Path) -> Result<Inspection> {
    if super::engine::postgres::is_url(path.as_str()) {
        let client = super::engine::postgres::connect(path.as_str())?;
        let db = Db::Postgres(Box::new(super::engine::postgres::Postgres::new(client)));
        let schema_version = super::postgres_version(&db)?;
        if schema_version == 0 {
            return Ok(Inspection::Missing);
        }
        let monitors = if schema_version <= SCHEMA_VERSION {
            running_monitors(&db)?
        } else {
            Vec::new()
        };
        return Ok(Inspection::Present {
            schema_version,
            monitors,
        });
    }
    if !path.as_std_path().exists() {
        return Ok(Inspection::Missing);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(describe_sqlite_error)?;
    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(describe_sqlite_error)?;
    if schema_version == 0
        && super::python_import::is_python_registry(&conn).map_err(describe_sqlite_error)?
    {
        let revision = conn
            .query_row("SELECT version_num FROM alembic_version", [], |row| {
                row.get(0)
            })
            .ok();
        return Ok(Inspection::Python { revision });
    }
    let monitors = if (1..=SCHEMA_VERSION).contains(&schema_version) {
        running_monitors(&Db::Sqlite(super::engine::sqlite::Sqlite::new(conn)))?
    } else {
        Vec::new()
    };
    Ok(Inspection::Present {
        schema_version,
        monitors,
    })
}

fn running_monitors(db: &Db) -> Result<Vec<RunningMonitor>> {
    db.rows(
        "SELECT f.name, m.pid, m.last_tick_at FROM monitors m \
         JOIN fleets f ON f.id = m.fleet_id \
         WHERE m.status = 'running' ORDER BY f.name",
        &[],
        |row| {
            Ok(RunningMonitor {
                fleet: row.get(0)?,
                pid: row.get(1)?,
                last_tick_at: row.get(2)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use camino::Utf8PathBuf;

    use super::*;
    use crate::registry::Registry;
    use crate::registry::engine::Exec;

    #[test]
    fn missing_file_is_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(tmp.path().join("sub/cafleet.db")).unwrap();
        assert_eq!(inspect(&path).unwrap(), Inspection::Missing);
        assert!(!path.as_std_path().exists());
        assert!(!path.parent().unwrap().as_std_path().exists());
    }

    #[test]
    fn reads_version_and_running_monitors() {
        let tmp = tempfile::tempdir().unwrap();
        let path = Utf8PathBuf::from_path_buf(tmp.path().join("cafleet.db")).unwrap();
        reads_version_and_monitors_at(&path);
    }

    #[test]
    fn reads_a_postgres_registry_without_creating_it() {
        let Some(url) = crate::registry::testing::postgres_url() else {
            return;
        };
        assert_eq!(inspect(&url).unwrap(), Inspection::Missing);
        assert_eq!(
            inspect(&url).unwrap(),
            Inspection::Missing,
            "created nothing"
        );
        reads_version_and_monitors_at(&url);
    }

    fn reads_version_and_monitors_at(path: &Utf8Path) {
        let mut registry = Registry::open(path).unwrap();
        registry
            .write(|tx| {
                tx.batch(
                    "INSERT INTO fleets (id, name, origin, session) VALUES \
                       (1, 'shop', 'cli', 'cafleet-shop'), (2, 'idle', 'cli', 'cafleet-idle');
                     INSERT INTO monitors (fleet_id, pid, status) VALUES \
                       (1, 4242, 'running'), (2, 17, 'stopped');",
                )?;
                Ok(())
            })
            .unwrap();
        drop(registry);
        let Inspection::Present {
            schema_version,
            monitors,
        } = inspect(path).unwrap()
        else {
            panic!("registry should be present");
        };
        assert_eq!(schema_version, SCHEMA_VERSION);
        assert_eq!(
            monitors,
            vec![RunningMonitor {
                fleet: "shop".into(),
                pid: Some(4242),
                last_tick_at: None,
            }]
        );
    }
}
