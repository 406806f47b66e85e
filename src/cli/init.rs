//! `cafleet init [DIR]`: write a starter fleet file, its prompt templates and the JSON
//! Schema its `#:schema` line points to, never over an existing file.

use std::io::Write;
use std::process::ExitCode;

use camino::{Utf8Path, Utf8PathBuf};

use super::print;
use crate::error::{Error, Result};
use crate::manifest::BackendName;
use crate::manifest::starter::{self, Choice};

/// Write a starter team: fleet.toml (a Director and a member on the agents found on
/// PATH), its prompt templates in prompts/, and fleet.schema.json for editors
///
/// Existing files are never overwritten: init stops before writing anything.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The folder to write to (created if missing)
    #[arg(default_value = ".")]
    pub dir: Utf8PathBuf,
    /// The fleet's name (default: the folder's name)
    #[arg(long)]
    pub name: Option<String>,
    /// Run every agent on this backend instead of the agents found on PATH (`fake`: no
    /// account, no API key)
    #[arg(long)]
    pub backend: Option<BackendName>,
}

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let name = match &args.name {
        Some(name) if crate::manifest::is_valid_name(name) => name.clone(),
        Some(name) => {
            return Err(Error::usage(format!("invalid fleet name `{name}`")).hint(
                "a fleet name is 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or digit",
            ));
        }
        None => starter::fleet_name(&folder_name(&args.dir)),
    };
    let choice = match args.backend {
        Some(BackendName::Command) => {
            return Err(Error::usage("`init` cannot write a `command` team").hint(
                "choose claude, codex, opencode or fake; a command member needs its own `command`",
            ));
        }
        Some(backend) => Choice::only(backend),
        None => Choice::from_found(found_on_path()),
    };
    let mut files = starter::files(&name, &choice);
    files.push(starter::StarterFile {
        path: starter::SCHEMA_FILE,
        text: super::schema::schema_text()?,
    });
    let existing: Vec<Utf8PathBuf> = files
        .iter()
        .map(|f| args.dir.join(f.path))
        .filter(|p| p.as_std_path().symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() {
        let list: Vec<&str> = existing.iter().map(|p| p.as_str()).collect();
        return Err(Error::failure(format!(
            "`cafleet init` would overwrite {}",
            list.join(", ")
        ))
        .hint(format!(
            "nothing was written; move {} away, or run `cafleet init` in another folder",
            if existing.len() == 1 { "it" } else { "them" }
        )));
    }
    for file in &files {
        write_new(&args.dir.join(file.path), &file.text)?;
    }
    let shown = |path: &str| -> String {
        if args.dir == "." {
            path.to_string()
        } else {
            args.dir.join(path).to_string()
        }
    };
    let mut text = String::new();
    for file in &files {
        text.push_str(&format!("wrote {}\n", shown(file.path)));
    }
    text.push_str(&format!(
        "fleet `{name}`: the Director on {}, member `coder` on {}\n",
        choice.director, choice.member
    ));
    let fleet = shown("fleet.toml");
    text.push_str(&format!(
        "next: cafleet config check {fleet} && cafleet plan {fleet} && cafleet up {fleet} --wait\n"
    ));
    let mut agents = vec![choice.director, choice.member];
    agents.dedup();
    for agent in agents.into_iter().filter(|b| starter::AGENTS.contains(b)) {
        text.push_str(&format!(
            "teach {agent} cafleet: cafleet skill install --agent {agent}\n"
        ));
    }
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The name of the folder `dir` is, `.` included.
fn folder_name(dir: &Utf8Path) -> String {
    std::path::absolute(dir.as_std_path())
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// The real agents on PATH, in the order the starter prefers them.
fn found_on_path() -> Vec<BackendName> {
    let path = std::env::var("PATH").unwrap_or_default();
    starter::AGENTS
        .into_iter()
        .filter(|b| crate::apply::find_program(b.as_str(), &path, Utf8Path::new("/")).is_some())
        .collect()
}

/// Creates `path` (and its folder) with `text`, failing if it exists by now.
fn write_new(path: &Utf8Path, text: &str) -> Result<()> {
    let fail = |err: std::io::Error| {
        Error::failure(format!("cannot write `{path}`: {err}"))
            .hint("check that the folder is writable; files already written are kept")
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}
