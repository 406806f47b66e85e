//! `cafleet agent …`: hidden commands that run as an agent's own pane program. Today the
//! only one is `agent fake`, the built-in stand-in agent (see `backend::fake`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::backend::fake::{self, FakeConfig};
use crate::backend::fake_options::FakeOptions;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run the built-in fake coding agent in this terminal
    Fake(FakeArgs),
}

/// Run the built-in fake coding agent in this terminal.
#[derive(Debug, clap::Args)]
pub struct FakeArgs {
    /// The fleet file's `fake = {…}` table as JSON
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub options: String,

    /// The name shown in the header and written to every log line
    #[arg(
        long,
        value_name = "NAME",
        env = "CAFLEET_MEMBER",
        default_value = "fake"
    )]
    pub name: String,

    /// Append a JSON-lines event log here
    #[arg(long, value_name = "PATH", env = fake::LOG_ENV)]
    pub log: Option<PathBuf>,

    /// The prompt the agent is started with
    pub prompt: Option<String>,
}

pub fn run(cmd: AgentCommand) -> Result<ExitCode> {
    match cmd {
        AgentCommand::Fake(args) => {
            let options: FakeOptions = serde_json::from_str(&args.options).map_err(|err| {
                Error::usage(format!("invalid --options: {err}"))
                    .hint("pass the `fake` table as a JSON object, e.g. '{\"reply\":\"ok\"}'")
            })?;
            let code = fake::run(FakeConfig {
                name: args.name,
                prompt: args.prompt,
                options,
                log: args.log.filter(|p| !p.as_os_str().is_empty()),
            })?;
            Ok(ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)))
        }
    }
}
