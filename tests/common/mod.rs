//! Helpers shared by the integration tests: run the real binary with an isolated
//! environment (its own HOME and registry, no inherited cafleet variables).

#![allow(dead_code)]

pub mod ssh;

use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cafleet")
}

/// A `cafleet` command whose HOME, XDG dirs and registry live under `home`.
pub fn cafleet(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("CAFLEET_")
            || key.starts_with("XDG_")
            || key == "TMUX"
            || key == "TMUX_PANE"
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", home).env("NO_COLOR", "1");
    cmd
}

/// Stdout, stderr and the exit code as one string, for snapshots.
pub fn transcript(output: &Output) -> String {
    let mut text = format!("exit: {}\n", output.status.code().unwrap_or(-1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stdout.is_empty() {
        text.push_str("--- stdout\n");
        text.push_str(&stdout);
    }
    if !stderr.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&stderr);
    }
    text
}

/// A private tmux server, a private HOME and registry, and the binary pointed at both.
pub struct Harness {
    pub server: cafleet::tmux::testing::TestServer,
    pub home: tempfile::TempDir,
    /// A PostgreSQL registry's URL ([`Harness::start_postgres`]); `None`: the SQLite
    /// file [`Harness::db`].
    pub db_url: Option<String>,
}

impl Harness {
    /// `None` when tmux is missing locally (the test then returns early); panics under CI.
    pub fn start() -> Option<Harness> {
        let server = cafleet::tmux::testing::TestServer::start()?;
        let home = tempfile::tempdir().expect("temp home");
        Some(Harness {
            server,
            home,
            db_url: None,
        })
    }

    /// A harness whose registry is a new PostgreSQL schema of its own in the database at
    /// `CAFLEET_TEST_POSTGRES_URL` (`tests/postgres.sh`). `None` (skipped, with the
    /// reason printed) without that variable or tmux; panics under CI.
    pub fn start_postgres() -> Option<Harness> {
        let base = postgres_base()?;
        let mut h = Harness::start()?;
        h.db_url = Some(postgres_schema(&base));
        Some(h)
    }

    /// The registry location the commands get: the URL, or the SQLite file.
    pub fn location(&self) -> String {
        match &self.db_url {
            Some(url) => url.clone(),
            None => self.db().to_string_lossy().into_owned(),
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.home.path().join("cafleet.db")
    }

    pub fn tmux(&self) -> &cafleet::tmux::Tmux {
        self.server.tmux()
    }

    /// `cafleet` on this harness's server and registry.
    pub fn cmd(&self) -> Command {
        let mut cmd = cafleet(self.home.path());
        cmd.env("CAFLEET_TMUX_SOCKET", self.server.socket_path())
            .env("CAFLEET_DATABASE_URL", self.location())
            .current_dir(self.home.path());
        cmd
    }

    /// Runs `cafleet ARGS`, returning the output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run cafleet")
    }

    /// Runs `cafleet ARGS` and fails the test unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "cafleet {args:?} failed:\n{}",
            transcript(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Writes a file under HOME and returns its path as a string.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.home.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    }

    /// Panes tagged with `fleet`: (pane id, member, hash, dead).
    pub fn tagged(&self, fleet: &str) -> Vec<(String, String, String, bool)> {
        let mut panes: Vec<_> = self
            .tmux()
            .list_panes(&["@cafleet_fleet", "@cafleet_member", "@cafleet_hash"])
            .expect("list panes")
            .into_iter()
            .filter(|p| p.option("@cafleet_fleet") == Some(fleet))
            .map(|p| {
                (
                    p.id.to_string(),
                    p.option("@cafleet_member").unwrap_or_default().to_string(),
                    p.option("@cafleet_hash").unwrap_or_default().to_string(),
                    p.dead,
                )
            })
            .collect();
        panes.sort_by(|a, b| a.1.cmp(&b.1));
        panes
    }

    /// The registry, opened directly.
    pub fn registry(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).expect("open registry")
    }
}

impl Harness {
    /// Registers fleet `fleet` as down (no tmux involved) with idle members `names` that
    /// have no pane, straight through the registry API.
    pub fn register_idle(&self, fleet: &str, names: &[String]) {
        use cafleet::registry::Registry;
        use cafleet::registry::agents::NewAgent;
        use cafleet::registry::fleets::NewFleet;
        let path = camino::Utf8PathBuf::from(self.location());
        let mut reg = Registry::open(&path).expect("open registry");
        let fleet_id = reg
            .upsert_fleet(&NewFleet {
                name: fleet,
                origin: "cli",
                manifest_path: None,
                session: fleet,
                socket: "",
            })
            .expect("fleet");
        reg.set_fleet_status(fleet_id, "down").expect("down");
        for name in names {
            let id = reg
                .upsert_agent(&NewAgent {
                    fleet_id,
                    name,
                    role: "member",
                    backend: "fake",
                    model: None,
                    description: "",
                    origin: "cli",
                    config_hash: "",
                    spec_json: "{}",
                })
                .expect("agent");
            reg.set_agent_status(id, "idle", None).expect("status");
        }
    }
}

impl Harness {
    /// A folder under HOME holding only a link to tmux, to use as the whole PATH: the
    /// binary still reaches tmux, and nothing else this machine has installed is found.
    pub fn bin_with_only_tmux(&self) -> std::path::PathBuf {
        let bin = self.home.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let tmux = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join("tmux"))
            .find(|p| p.exists())
            .expect("tmux on PATH");
        std::os::unix::fs::symlink(tmux, bin.join("tmux")).expect("symlink");
        bin
    }
}

/// `CAFLEET_TEST_POSTGRES_URL`, or `None` with the reason printed (a panic under CI).
pub fn postgres_base() -> Option<String> {
    match std::env::var("CAFLEET_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let why = "CAFLEET_TEST_POSTGRES_URL is not set (source tests/postgres.sh)";
            if std::env::var_os("CI").is_some() {
                panic!("{why}, and CI is set: the PostgreSQL tests must run");
            }
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// Makes a schema no other test uses in the database at `base`; returns the URL that
/// selects it.
pub fn postgres_schema(base: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!(
        "it_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let mut client = postgres::Client::connect(base, postgres::NoTls).expect("test PostgreSQL");
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}
