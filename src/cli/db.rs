//! `cafleet db init|path`.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Globals, print};
use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the registry or migrate it to this version's schema (safe to repeat)
    Init,
    /// Print where the registry lives
    Path,
}

pub fn run(globals: &Globals, cmd: DbCommand) -> Result<ExitCode> {
    match cmd {
        DbCommand::Init => {
            let registry = globals.registry()?;
            print(&format!(
                "registry {} at schema version {}\n",
                registry.path(),
                registry.schema_version()?
            ))?;
        }
        DbCommand::Path => print(&format!("{}\n", globals.db_path()?))?,
    }
    Ok(ExitCode::SUCCESS)
}
