//! The settings a coding agent needs so that an agent the user starts by hand (a Director
//! in their own pane, after `cafleet fleet create`) can run `cafleet` at all. cafleet
//! passes its own members these permissions on their command line; a session the user
//! starts has only the user's settings files. `cafleet setup` shows the change to each
//! file as a diff and writes it only when asked.
//!
//! | agent | file | what |
//! |---|---|---|
//! | claude | `$CLAUDE_CONFIG_DIR` or `~/.claude`: `settings.json` | `permissions.allow` gets `Bash(cafleet:*)` (what members get in `--allowedTools`) and `Skill(NAME)` for every bundled skill |
//! | codex | `$CODEX_HOME` or `~/.codex`: `config.toml` | `sandbox_workspace_write.writable_roots` gets the registry's folder, and `allow_login_shell = false` (what members get with `-c`) |
//! | opencode | its config folder: `opencode.jsonc`, `opencode.json` or `config.json` (the first that exists, else `opencode.json`) | `permission.bash` gets `"cafleet *": "allow"` and `permission.skill` `"cafleet*": "allow"` |
//!
//! Each edit only adds what is missing, so a second run finds nothing to do. TOML is
//! edited with `toml_edit` (comments, order and spacing stay byte for byte); JSON keeps
//! its key order and indentation ([`json`]).

pub mod claude;
pub mod codex;
pub mod diff;
pub mod json;
pub mod opencode;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, Result};
use crate::skills::{self, Agent};

/// One settings file that lacks something, and the text it would have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub agent: Agent,
    pub path: Utf8PathBuf,
    /// The file's text now (`None`: it does not exist).
    pub before: Option<String>,
    pub after: String,
    /// What is added, one short line each (`Bash(cafleet:*)`).
    pub added: Vec<String>,
}

impl Change {
    pub fn diff(&self) -> String {
        diff::unified(self.path.as_str(), self.before.as_deref(), &self.after)
    }

    /// Writes the new text, unless the file changed since it was read.
    pub fn write(&self) -> Result<()> {
        if read(&self.path)? != self.before {
            return Err(Error::failure(format!(
                "`{}` changed while cafleet setup was running; nothing written to it",
                self.path
            ))
            .hint("run `cafleet setup` again to see the change against the new file"));
        }
        crate::apply::trust::write_atomically(self.path.as_std_path(), self.after.as_bytes())
    }
}

/// Whether `agent`'s settings file already allows cafleet, or what it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    UpToDate { agent: Agent, path: Utf8PathBuf },
    Change(Change),
}

/// What `agent`'s user settings need. `registry` is the registry file (codex must be
/// able to write its folder); `env` reads the environment.
pub fn plan(
    agent: Agent,
    registry: &Utf8Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan> {
    let base = skills::user_config_dir(agent, env)?;
    let path = match agent {
        Agent::Claude => base.join("settings.json"),
        Agent::Codex => base.join("config.toml"),
        Agent::Opencode => opencode::settings_file(&base),
    };
    let before = read(&path)?;
    let text = before.as_deref().unwrap_or_default();
    let edited = match agent {
        Agent::Claude => claude::edit(&path, text)?,
        Agent::Codex => {
            // A PostgreSQL registry has no folder; this host's folder for it holds the
            // courier's pid file only.
            let folder = if crate::registry::location::is_postgres(registry) {
                Utf8PathBuf::from_path_buf(crate::registry::lock::lock_dir(registry))
                    .unwrap_or_default()
            } else {
                crate::apply::absolute_db(registry)
                    .parent()
                    .map(Utf8Path::to_owned)
                    .unwrap_or_default()
            };
            codex::edit(&path, text, &folder)?
        }
        Agent::Opencode => opencode::edit(&path, text)?,
    };
    Ok(match edited {
        None => Plan::UpToDate { agent, path },
        Some((after, added)) => Plan::Change(Change {
            agent,
            path,
            before,
            after,
            added,
        }),
    })
}

fn read(path: &Utf8Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::failure(format!("cannot read `{path}`: {err}"))
            .hint("check the file's permissions, or leave this agent out with --agent")),
    }
}

/// The error for a settings file cafleet cannot edit, with what to add by hand.
fn cannot_edit(path: &Utf8Path, why: impl std::fmt::Display, by_hand: &str) -> Error {
    Error::failure(format!("cannot edit `{path}`: {why}")).hint(format!(
        "cafleet leaves the file as it is; fix it and run `cafleet setup` again, or add this \
         yourself: {by_hand}"
    ))
}
