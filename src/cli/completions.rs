//! `cafleet completions SHELL`: print a completion script generated from the clap
//! definition, so it always matches this binary's commands and flags.

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, print};
use crate::error::{Error, Result};

/// Print a shell completion script
///
/// bash: `cafleet completions bash > ~/.local/share/bash-completion/completions/cafleet`;
/// zsh: `cafleet completions zsh > "${fpath[1]}/_cafleet"`;
/// fish: `cafleet completions fish > ~/.config/fish/completions/cafleet.fish`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "cafleet", &mut script);
    let script = String::from_utf8(script)
        .map_err(|err| Error::failure(format!("completion script is not UTF-8: {err}")))?;
    print(&script)?;
    Ok(ExitCode::SUCCESS)
}
