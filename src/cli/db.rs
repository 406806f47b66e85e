//! `cafleet db init|path|import-python`.

use std::process::ExitCode;

use clap::Subcommand;

use super::{Globals, print, print_json};
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the registry or migrate it to this version's schema (safe to repeat)
    Init,
    /// Print where the registry lives
    Path,
    /// Bring a Python cafleet (0.22) registry's fleets, members and messages into this
    /// registry: a dry run printing what would come over, unless --apply
    ImportPython(ImportPythonArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportPythonArgs {
    /// The Python cafleet's registry file, or its `sqlite:///…` URL
    #[arg(
        value_name = "PATH",
        default_value = "~/.local/share/cafleet/cafleet_v5.db"
    )]
    pub source: String,
    /// Write the import (without it nothing is written)
    #[arg(long)]
    pub apply: bool,
    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(globals: &Globals, cmd: DbCommand) -> Result<ExitCode> {
    match cmd {
        DbCommand::Init => {
            let registry = globals.registry()?;
            print(&format!(
                "registry {} at schema version {}\n",
                registry.location(),
                registry.schema_version()?
            ))?;
        }
        DbCommand::Path => print(&format!(
            "{}\n",
            crate::registry::location::redact(globals.db_path()?.as_str())
        ))?,
        DbCommand::ImportPython(args) => import_python(globals, &args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn import_python(globals: &Globals, args: &ImportPythonArgs) -> Result<()> {
    let source = crate::registry::location::resolve(Some(&args.source))?;
    let target = globals.db_path()?;
    if source == target {
        return Err(Error::usage(format!(
            "`{source}` is both the Python registry and the one to import into"
        ))
        .hint(
            "import into cafleet's own registry: unset CAFLEET_DATABASE_URL, or pass --db NEW.db",
        ));
    }
    let mut registry = globals.registry()?;
    let summary = registry.import_python(&source, args.apply)?;
    if args.json {
        return print_json(&summary);
    }
    let mut out = format!(
        "{} the Python cafleet registry {} (alembic revision {}) into {}:\n",
        if summary.applied {
            "imported"
        } else {
            "would import"
        },
        summary.source,
        summary.revision.as_deref().unwrap_or("unknown"),
        registry.location()
    );
    if summary.fleets.is_empty() {
        out.push_str("  no fleets\n");
    }
    for f in &summary.fleets {
        let renamed = match &f.python_name {
            Some(old) if *old == f.name => String::new(),
            Some(old) => format!(" (was `{old}`)"),
            None => " (it had no name)".to_string(),
        };
        out.push_str(&format!(
            "  fleet `{}`{renamed}{}: {} member{}, {} message{} ({} unread), {} broadcast{}\n",
            f.name,
            if f.deleted { ", deleted" } else { "" },
            f.members,
            plural(f.members),
            f.messages,
            plural(f.messages),
            f.unread,
            f.broadcasts,
            plural(f.broadcasts),
        ));
        for (old, new) in &f.renamed_members {
            out.push_str(&format!("    member {old} is `{new}`\n"));
        }
    }
    if summary.applied {
        out.push_str("the fleets are down; read their history with `cafleet message list --fleet NAME --as MEMBER` or `cafleet web`\n");
    } else {
        out.push_str("nothing was written: run again with --apply to import\n");
    }
    print(&out)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
