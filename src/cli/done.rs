//! `cafleet done [--fail] [SUMMARY | - | --file F]`: the Director says the team has
//! finished. Recorded as a `done` event and a message to `operator` (see `team`); a
//! `cafleet run` watching the fleet then writes its report, brings the team down and
//! exits 0 (1 with `--fail`).

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use super::identity::IdentityArgs;
use super::{Globals, print, print_json};
use crate::error::{Error, Result};

/// Largest summary accepted, as for messages.
const MAX_SUMMARY: usize = 1 << 20;

/// Record that the team has finished (the Director only), with a summary for the operator.
///
/// A `cafleet run` watching the fleet ends on it: exit 0, or 1 with --fail.
#[derive(Debug, clap::Args)]
pub struct DoneArgs {
    /// The summary; `-` reads it from stdin
    #[arg(value_name = "SUMMARY", value_parser = clap::value_parser!(OsString))]
    pub summary: Option<OsString>,

    /// Read the summary from a file
    #[arg(long, value_name = "FILE", conflicts_with = "summary")]
    pub file: Option<PathBuf>,

    /// The team finished without reaching its goal (`cafleet run` exits 1)
    #[arg(long)]
    pub fail: bool,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

fn read_summary(args: &DoneArgs) -> Result<String> {
    let bytes = match (&args.summary, &args.file) {
        (_, Some(path)) => std::fs::read(path).map_err(|err| {
            Error::failure(format!("cannot read `{}`: {err}", path.display()))
                .hint("pass an existing file, or `-` to read the summary from stdin")
        })?,
        (Some(text), None) if text == "-" => {
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .take(MAX_SUMMARY as u64 + 1)
                .read_to_end(&mut body)
                .map_err(|err| Error::failure(format!("cannot read stdin: {err}")))?;
            body
        }
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, None) => Vec::new(),
    };
    if bytes.len() > MAX_SUMMARY {
        return Err(Error::usage(format!(
            "the summary is larger than {} KiB",
            MAX_SUMMARY / 1024
        ))
        .hint("write it to a file and give its path in the summary"));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn run(globals: &Globals, args: DoneArgs) -> Result<ExitCode> {
    let summary = read_summary(&args)?;
    let mut registry = globals.registry()?;
    let (fleet, me) = args.who.speaker(&registry)?;
    if me.role != "director" {
        return Err(Error::usage(format!(
            "only the Director may call `cafleet done`; this is `{}` ({})",
            me.name, me.role
        ))
        .hint("tell the Director instead: `cafleet message send --to director \"…\"`"));
    }
    let id = crate::team::record_done(&mut registry, &fleet, &me.name, &summary, args.fail)?;
    if args.json {
        print_json(&serde_json::json!({
            "fleet": fleet.name, "by": me.name, "failed": args.fail, "message": id,
        }))?;
    } else {
        print(&format!(
            "recorded: fleet `{}` is {} (message #{id} to operator)\n",
            fleet.name,
            if args.fail { "done, failed" } else { "done" }
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
