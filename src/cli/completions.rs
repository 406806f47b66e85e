//! `cafleet completions SHELL`: print a completion script generated from the clap
//! definition, so it always matches this binary's commands and flags. Hidden commands
//! and flags (the `agent` programs cafleet runs in panes, `member create
//! --fake-options`) are left out: clap_complete offers whatever it is given.

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
    clap_complete::generate(
        args.shell,
        &mut visible(&Cli::command()),
        "cafleet",
        &mut script,
    );
    let script = String::from_utf8(script)
        .map_err(|err| Error::failure(format!("completion script is not UTF-8: {err}")))?;
    print(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// `cmd` without its hidden subcommands and arguments, all the way down. Built before
/// clap propagates global flags, which the copy then propagates itself.
pub fn visible(cmd: &clap::Command) -> clap::Command {
    let args: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .cloned()
        .collect();
    let kept = |id: &clap::Id| args.iter().any(|arg| arg.get_id() == id);
    let groups: Vec<clap::ArgGroup> = cmd
        .get_groups()
        .map(|group| {
            clap::ArgGroup::new(group.get_id().clone())
                .args(group.get_args().filter(|id| kept(id)).cloned())
                .multiple(group.clone().is_multiple())
        })
        .collect();
    let mut out = clap::Command::new(cmd.get_name().to_owned())
        .args(args.clone())
        .groups(groups)
        .subcommands(
            cmd.get_subcommands()
                .filter(|sub| !sub.is_hide_set())
                .map(visible),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    for alias in cmd.get_visible_aliases() {
        out = out.visible_alias(alias.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            let here = format!("{path} {}", sub.get_name());
            out.push(here.clone());
            names(sub, &here, out);
        }
        for arg in cmd.get_arguments() {
            out.push(format!("{path} --{}", arg.get_id()));
        }
    }

    #[test]
    fn the_visible_command_drops_only_what_is_hidden() {
        let full = Cli::command();
        let pruned = visible(&full);
        let mut before = Vec::new();
        names(&full, "cafleet", &mut before);
        let mut after = Vec::new();
        names(&pruned, "cafleet", &mut after);
        let dropped: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
        assert!(
            dropped.iter().any(|n| n.as_str() == "cafleet agent"),
            "{dropped:?}"
        );
        assert!(
            dropped.iter().all(|n| n.starts_with("cafleet agent")
                || n.as_str() == "cafleet member create --fake_options"),
            "{dropped:?}"
        );
        assert!(after.iter().all(|n| before.contains(n)));
    }
}
