//! `cafleet model`: the scripted model server (`serve`) and its script's JSON Schema
//! (`schema`). The server itself lives in `crate::model`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

use camino::Utf8PathBuf;

use super::print;
use crate::error::{Error, Result};
use crate::manifest::raw::BackendName;
use crate::model::{self, Script, point_at};

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    Serve(ServeArgs),
    /// Print the JSON Schema of a model script (the same as schemas/model-script.schema.json)
    Schema,
}

/// Serve a scripted model: rehearse a team against it with no account and no network
///
/// A loopback HTTP server that speaks the APIs claude (Anthropic Messages), codex (OpenAI
/// Responses) and opencode (OpenAI chat completions) call, streaming. Instead of a model,
/// a TOML script answers: each turn matches the agent's latest message and answers with
/// shell commands, one tool call each, then a final reply. Point the agents at the
/// printed address (it prints how for each CLI) and watch them run the script.
/// The format: docs/model-server.md. Stops on Ctrl-C or SIGTERM.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The script to follow (TOML; see docs/model-server.md)
    #[arg(long, value_name = "FILE")]
    pub script: Utf8PathBuf,
    /// The address to listen on (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Allow --listen on an address other agents' machines can reach
    #[arg(long)]
    pub allow_remote: bool,
    /// Append one JSON line per request to this file (what was asked, what was answered)
    #[arg(long, value_name = "FILE")]
    pub log: Option<Utf8PathBuf>,
    /// The model name the printed instructions use
    #[arg(long, value_name = "NAME", default_value = model::DEFAULT_MODEL)]
    pub model: String,
}

pub fn run(command: ModelCommand) -> Result<ExitCode> {
    match command {
        ModelCommand::Serve(args) => serve(args),
        ModelCommand::Schema => {
            print(&model::script::schema_text()?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        return Err(Error::usage(format!(
            "refusing to listen on {}: the scripted model is meant for this machine",
            args.listen
        ))
        .hint("keep the default --listen 127.0.0.1:0, or add --allow-remote"));
    }
    let styled = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let script = Script::load(&args.script, styled)?;
    let log = match &args.log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| {
                    Error::usage(format!("cannot open the log `{path}`: {err}"))
                        .hint("pass a file in a folder that exists and that you can write to")
                })?,
        ),
        None => None,
    };
    let options = model::server::Options {
        listen: args.listen,
        script,
        log,
    };
    model::server::serve(options, |addr| {
        print(&instructions(&format!("http://{addr}"), &args.model))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The start-up text: the address on the first line (tests read it), then how to point
/// each CLI at it.
fn instructions(base: &str, model: &str) -> String {
    let mut out = format!("listening on {base}\n\nPoint an agent at it:\n");
    for (backend, program, model_flag) in [
        (BackendName::Claude, "claude", "--model"),
        (BackendName::Codex, "codex", "-m"),
        (BackendName::Opencode, "opencode", "-m"),
    ] {
        let Some(pointing) = point_at(backend, base, model) else {
            continue;
        };
        let mut words: Vec<String> = pointing
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        words.push(program.to_string());
        words.extend(pointing.args.iter().map(|a| quote(a)));
        words.push(model_flag.to_string());
        words.push(quote(&pointing.model));
        out.push_str(&format!("  {}\n", words.join(" ")));
    }
    out.push_str(
        "\n(claude also needs `\"hasCompletedOnboarding\": true` in ~/.claude.json; \
codex warns that the model's metadata is unknown, which is fine)\n",
    );
    out
}

/// Single-quotes a shell word when it needs it.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
