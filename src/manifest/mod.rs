//! The fleet file: parsing, validation with spans, template rendering and the config hash.
//! Raw values become validated values in two steps, like ripgrep's lowargs → hiargs:
//! [`raw::RawFile`] is the file as written; [`Fleet`] is every agent resolved into the
//! exact launch spec `up` will run. Nothing here touches tmux or the database.

pub mod check;
pub mod diagnostic;
pub mod duration;
pub mod raw;
pub mod read;
mod resolve;
pub mod rules;
pub mod starter;
pub mod template;

use std::collections::BTreeMap;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use diagnostic::{Diagnostic, Diagnostics, SourceFile};
pub use raw::{BackendName, MonitorLoop, Restart};
pub use rules::{RESERVED_NAMES, is_valid_name};

/// What loading needs from outside the file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The registry path, exposed to templates as `{{cafleet.db}}`.
    pub db_path: Option<Utf8PathBuf>,
    /// Colour the error report.
    pub styled: bool,
}

/// An agent's place in the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Director,
    Monitor,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Director => "director",
            Role::Monitor => "monitor",
            Role::Member => "member",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The smallest pane cafleet opens for an agent, in cells: a real agent's TUI needs
/// about this much to show its composer and footer whole.
pub const MIN_PANE: (u16, u16) = (60, 15);

/// A window size that gives every pane at least [`MIN_PANE`] when `panes` panes share it
/// in `layout` (tmux's arithmetic: one cell of border between panes, `main-*` panes of
/// tmux's default 80 columns or 24 lines).
pub fn default_window_size(layout: &str, panes: usize) -> (u16, u16) {
    let n = panes.max(1);
    let (w, h) = (usize::from(MIN_PANE.0), usize::from(MIN_PANE.1));
    let across = |count: usize, each: usize| count * (each + 1) - 1;
    let (width, height) = match layout {
        "even-horizontal" => (across(n, w), h),
        "even-vertical" => (w, across(n, h)),
        "main-vertical" if n > 1 => (80 + 1 + w, across(n - 1, h).max(24)),
        "main-horizontal" if n > 1 => (across(n - 1, w).max(80), 24 + 1 + h),
        "main-vertical" | "main-horizontal" => (80, 24),
        _ => {
            // tmux's tiled layout adds a row, then a column, until every pane fits.
            let (mut rows, mut columns) = (1, 1);
            while rows * columns < n {
                rows += 1;
                if rows * columns < n {
                    columns += 1;
                }
            }
            (across(columns, w), across(rows, h))
        }
    };
    let clamp = |v: usize, min: u16| u16::try_from(v).unwrap_or(u16::MAX).max(min);
    (clamp(width, 80), clamp(height, 24))
}

/// A validated fleet file.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub name: String,
    /// The fleet file, absolute.
    pub file: Utf8PathBuf,
    /// The working directory of every agent, absolute.
    pub root: Utf8PathBuf,
    /// The tmux session name, `cafleet-NAME`.
    pub session: String,
    pub layout: String,
    pub panes_per_window: usize,
    /// Each tmux window's size in cells (width, height) while no terminal is attached.
    pub window_size: (u16, u16),
    /// `""` for the default tmux server, else the `-L` socket name.
    pub socket: String,
    /// `[fleet] trust`.
    pub trust: bool,
    /// `[fleet] env_from`: variable names passed through at launch.
    pub env_from: Vec<String>,
    pub monitor: Option<MonitorSettings>,
    /// Every agent in start order: the Director, the monitor, then members so that each
    /// comes after everything it depends on.
    pub agents: Vec<Agent>,
}

impl Fleet {
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitorSettings {
    #[serde(serialize_with = "ser_duration")]
    pub interval: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub stall_after: Duration,
    /// `[monitor] loop`: who starts the heartbeat loop.
    #[serde(rename = "loop")]
    pub run_loop: MonitorLoop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub restart: Restart,
    pub max_restarts: u32,
    #[serde(serialize_with = "ser_duration", deserialize_with = "de_duration")]
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            restart: Restart::No,
            max_restarts: 3,
            window: Duration::from_secs(600),
        }
    }
}

/// One agent, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    pub name: String,
    pub role: Role,
    pub description: String,
    pub depends_on: Vec<String>,
    pub restart: RestartPolicy,
    pub spec: LaunchSpec,
    /// A stable digest of `spec`: same file, same hash.
    pub hash: String,
}

/// Everything that determines the process an agent runs. Stored in the registry, so the
/// next `up` can say which field drifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    pub backend: BackendName,
    pub model: Option<String>,
    pub effort: Option<String>,
    pub argv: Vec<String>,
    pub cwd: Utf8PathBuf,
    /// The environment the file adds; cafleet adds the identity variables at launch.
    pub env: BTreeMap<String, String>,
    pub prompt: String,
    /// `[fleet] env_from`: the names of variables passed from the environment of
    /// `up`/`run` into the pane at launch. Only the names are stored, never the values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<String>,
    /// `host`: the ssh destination the agent runs on; `None` (left out of the JSON, so
    /// the hash of an agent on this machine is what it always was) for this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `[fleet] ssh_command`, kept with agents that have a `host` so that every later
    /// command (`ps`, the courier, the monitor) reaches the host the same way. Not part
    /// of the hash: a new way to reach the host does not restart the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_command: Option<String>,
}

impl LaunchSpec {
    /// The config hash: the first 16 hex digits of SHA-256 over the spec's canonical
    /// JSON (struct fields in declaration order, env sorted).
    pub fn hash(&self) -> String {
        let json = if self.ssh_command.is_some() {
            let mut hashed = self.clone();
            hashed.ssh_command = None;
            serde_json::to_vec(&hashed).unwrap_or_default()
        } else {
            serde_json::to_vec(self).unwrap_or_default()
        };
        let digest = Sha256::digest(&json);
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The fields that differ from `old`, as `field: old → new` lines for a plan.
    pub fn changes_from(&self, old: &LaunchSpec) -> Vec<String> {
        let mut changes = Vec::new();
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        if self.backend != old.backend {
            changes.push(format!("backend: {} → {}", old.backend, self.backend));
        }
        if self.model != old.model {
            changes.push(format!("model: {} → {}", opt(&old.model), opt(&self.model)));
        }
        if self.effort != old.effort {
            changes.push(format!(
                "effort: {} → {}",
                opt(&old.effort),
                opt(&self.effort)
            ));
        }
        if self.cwd != old.cwd {
            changes.push(format!("cwd: {} → {}", old.cwd, self.cwd));
        }
        if self.host != old.host {
            let host = |h: &Option<String>| h.clone().unwrap_or_else(|| "(this machine)".into());
            changes.push(format!("host: {} → {}", host(&old.host), host(&self.host)));
        }
        if self.prompt != old.prompt {
            changes.push("prompt changed".into());
        }
        if self.env != old.env {
            let keys: Vec<&str> = self
                .env
                .keys()
                .chain(old.env.keys())
                .filter(|k| self.env.get(*k) != old.env.get(*k))
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            changes.push(format!("env: {}", keys.join(", ")));
        }
        if changes.is_empty() && self.argv != old.argv {
            changes.push("command line changed".into());
        }
        changes
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&duration::format(*d))
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    duration::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("bad duration `{text}`")))
}

/// Reads, validates and resolves the fleet file at `path`. Every problem in the file is
/// reported in one error, each with its line and a caret.
pub fn load(path: &Utf8Path, options: &LoadOptions) -> Result<Fleet> {
    let text = read::read_text(path.as_std_path(), read::MAX_FLEET_FILE).map_err(|err| {
        let error = Error::failure(format!("cannot read the fleet file `{path}`: {err}"));
        if err.kind() == std::io::ErrorKind::NotFound {
            error.hint("pass the fleet file's path, or run in the folder that holds fleet.toml")
        } else {
            error
        }
    })?;
    let file = SourceFile {
        path: path.to_owned(),
        text: text.into(),
    };
    let absolute = std::path::absolute(path.as_std_path())
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .ok_or_else(|| Error::failure(format!("cannot resolve the path `{path}`")))?;
    load_source(&file, &absolute, options).map_err(|d| d.into_error(path.as_str(), options.styled))
}

/// [`load`] on text already read; `absolute` is the file's absolute path.
pub fn load_source(
    file: &SourceFile,
    absolute: &Utf8Path,
    options: &LoadOptions,
) -> std::result::Result<Fleet, Diagnostics> {
    let text = file.text.clone();
    let (mut doc, syntax_errors) = toml::de::DeTable::parse_recoverable(&text);
    if !syntax_errors.is_empty() {
        let mut diagnostics = Diagnostics::default();
        for err in syntax_errors {
            let span = err.span().unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::new(
                    file,
                    span,
                    format!("invalid TOML: {}", err.message().trim()),
                )
                .label("here"),
            );
        }
        return Err(diagnostics);
    }
    let schema = raw::json_schema();
    let mut checker = check::Checker::new(&schema, file);
    checker.check_document(&mut doc);
    // What the check reported was removed from `doc`, so the rest can still be checked
    // for meaning and every problem is reported in one run.
    let mut diagnostics = checker.diagnostics;
    let sections = resolve::Sections::from_document(&doc);
    let raw_file: raw::RawFile =
        match serde::Deserialize::deserialize(toml::de::Deserializer::from(doc)) {
            Ok(raw_file) => raw_file,
            Err(err) => {
                if diagnostics.is_empty() {
                    let span = err.span().unwrap_or(0..0);
                    diagnostics.push(Diagnostic::new(
                        file,
                        span,
                        err.message().trim().to_string(),
                    ));
                }
                return Err(diagnostics);
            }
        };
    match resolve::resolve(&raw_file, &sections, file, absolute, options) {
        Ok(fleet) if diagnostics.is_empty() => Ok(fleet),
        Ok(_) => Err(diagnostics),
        Err(more) => {
            diagnostics.0.extend(more.0);
            Err(diagnostics)
        }
    }
}

/// The tmux session name of a fleet.
pub fn session_name(fleet: &str) -> String {
    format!("cafleet-{fleet}")
}
