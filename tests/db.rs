//! `cafleet db init|path`: idempotent creation, the location rules, and refusal of a
//! registry written by a newer cafleet.

mod common;

use common::{cafleet, transcript};

#[test]
fn init_twice_succeeds() {
    let home = tempfile::tempdir().expect("tmp");
    let db = home.path().join("r.db");
    for _ in 0..2 {
        let output = cafleet(home.path())
            .arg("--db")
            .arg(&db)
            .args(["db", "init"])
            .output()
            .expect("run");
        assert!(output.status.success(), "{}", transcript(&output));
        let expected = format!("schema version {}", cafleet::registry::SCHEMA_VERSION);
        assert!(String::from_utf8_lossy(&output.stdout).contains(&expected));
    }
}

#[test]
fn database_url_with_tilde_expands_home() {
    let home = tempfile::tempdir().expect("tmp");
    let output = cafleet(home.path())
        .env("CAFLEET_DATABASE_URL", "sqlite:///~/data/c.db")
        .args(["db", "init"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", transcript(&output));
    assert!(home.path().join("data/c.db").exists());
    let output = cafleet(home.path())
        .env("CAFLEET_DATABASE_URL", "sqlite:///~/data/c.db")
        .args(["db", "path"])
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        home.path().join("data/c.db").to_string_lossy()
    );
}

#[test]
fn default_location_follows_xdg() {
    let home = tempfile::tempdir().expect("tmp");
    let output = cafleet(home.path())
        .args(["db", "path"])
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        home.path()
            .join(".local/share/cafleet/cafleet.db")
            .to_string_lossy()
    );
    let output = cafleet(home.path())
        .env("XDG_DATA_HOME", home.path().join("x"))
        .args(["db", "path"])
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        home.path().join("x/cafleet/cafleet.db").to_string_lossy()
    );
}

#[test]
fn newer_schema_is_refused_and_left_untouched() {
    let home = tempfile::tempdir().expect("tmp");
    let db = home.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .expect("setup");
    }
    let before = std::fs::read(&db).expect("read");
    let output = cafleet(home.path())
        .arg("--db")
        .arg(&db)
        .args(["db", "init"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("schema version 99, newer than this cafleet knows"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: upgrade cafleet"), "{stderr}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the file must be untouched"
    );
    assert!(!home.path().join("future.db-wal").exists());
}

#[test]
fn corrupt_file_is_refused_and_left_untouched() {
    let home = tempfile::tempdir().expect("tmp");
    let db = home.path().join("junk.db");
    let junk = b"this is not a sqlite database, just some text that is long enough".repeat(100);
    std::fs::write(&db, &junk).expect("write");
    let output = cafleet(home.path())
        .arg("--db")
        .arg(&db)
        .args(["db", "init"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a cafleet registry or is corrupt"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), junk);
}

#[test]
fn many_processes_may_create_the_registry_at_once() {
    let home = tempfile::tempdir().expect("tmp");
    for round in 0..3 {
        let db = home.path().join(format!("fresh-{round}.db"));
        let children: Vec<_> = (0..16)
            .map(|_| {
                cafleet(home.path())
                    .arg("--db")
                    .arg(&db)
                    .args(["db", "init"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", transcript(&out));
        }
    }
}

#[test]
fn a_new_registry_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("tmp");
    let output = cafleet(home.path())
        .args(["db", "init"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", transcript(&output));
    let dir = home.path().join(".local/share/cafleet");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("cafleet.db")), 0o600);
}
