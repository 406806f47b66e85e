//! Running a registry test on both engines: [`each_engine`] runs the test's body on a
//! fresh in-memory SQLite registry, then on a fresh PostgreSQL registry (a schema of its
//! own in the database at `CAFLEET_TEST_POSTGRES_URL`; `tests/postgres.sh` starts a
//! private server and sets it). Without that variable the PostgreSQL half is skipped with
//! a printed reason — except under `CI`, where it fails, so CI never passes a test that
//! did not run on PostgreSQL.

use std::sync::atomic::{AtomicU32, Ordering};

use camino::Utf8PathBuf;

use super::Registry;

/// The variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_URL_ENV: &str = "CAFLEET_TEST_POSTGRES_URL";

/// Runs `body` on a new SQLite registry and on a new PostgreSQL one.
pub fn each_engine(body: impl Fn(Registry)) {
    body(Registry::in_memory().expect("in-memory registry"));
    if let Some(url) = postgres_url() {
        body(Registry::open(&url).expect("PostgreSQL registry"));
    }
}

/// The URL of a new, empty PostgreSQL registry (its own schema), or `None` (skipped)
/// when no test server is configured.
pub fn postgres_url() -> Option<Utf8PathBuf> {
    let Some(base) = std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        let why = format!("{POSTGRES_URL_ENV} is not set (source tests/postgres.sh)");
        if std::env::var_os("CI").is_some() {
            panic!("{why}, and CI is set: the registry tests must run on PostgreSQL too");
        }
        eprintln!("skipped: the PostgreSQL half of this test: {why}");
        return None;
    };
    Some(fresh_schema(&base))
}

/// Makes a schema no other test uses in the database at `base` and returns the URL that
/// selects it.
pub fn fresh_schema(base: &str) -> Utf8PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let mut client = super::engine::postgres::connect(base).expect("test PostgreSQL server");
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create a test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Utf8PathBuf::from(format!("{base}{sep}options=-csearch_path%3D{schema}"))
}
