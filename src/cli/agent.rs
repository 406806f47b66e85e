//! `cafleet agent …`: hidden commands cafleet runs itself: `agent fake`, the built-in
//! stand-in agent run as a pane's own program (see `backend::fake`), `agent courier`,
//! the fleet's one deliverer of message previews (see `courier`), and `agent hook`, which an agent's own CLI runs to report its state (see `hooks`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{Globals, print};
use crate::backend::fake::{self, FakeConfig};
use crate::backend::fake_options::FakeOptions;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Run the built-in fake coding agent in this terminal
    Fake(FakeArgs),
    /// Become the agent recorded for this pane (what `up` starts in every pane)
    Launch(LaunchArgs),
    /// Paste a prompt read from stdin into this pane's agent once it is ready
    PastePrompt,
    /// Announce the fleet's queued messages nobody else could (what `up` starts)
    Courier(CourierArgs),
    /// Record what an agent's own CLI reports through the hook `up` installed
    Hook(HookArgs),
}

/// Record what an agent's own CLI reports through the hook `up` installed (claude's
/// hooks, codex's `notify`, cafleet's opencode plugin): silent, and always exit status 0,
/// so a hook can never disturb the agent.
#[derive(Debug, clap::Args)]
pub struct HookArgs {
    /// The agent's backend: claude, codex or opencode
    #[arg(value_name = "BACKEND")]
    pub backend: String,

    /// The event as JSON (codex passes it as an argument; otherwise read from stdin)
    #[arg(value_name = "JSON", allow_hyphen_values = true)]
    pub payload: Option<String>,
}

/// Announce the fleet's queued messages nobody else could: the fleet's courier, which
/// `up` starts in the background and `down` ends.
#[derive(Debug, clap::Args)]
pub struct CourierArgs {
    /// The fleet whose messages to announce
    #[arg(long, value_name = "NAME")]
    pub fleet: String,
}

/// Become the agent recorded for this pane: reads its launch spec from the registry
/// (`CAFLEET_FLEET`, `CAFLEET_MEMBER`, `CAFLEET_DATABASE_URL`) and execs it.
#[derive(Debug, clap::Args)]
pub struct LaunchArgs {
    /// The config hash the pane was tagged with; a different recorded spec is refused
    #[arg(long, value_name = "HASH")]
    pub hash: String,
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

/// The agent this pane belongs to, from the variables `apply` starts it with.
fn pane_identity() -> Result<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("CAFLEET_FLEET"), var("CAFLEET_MEMBER")) {
        (Some(fleet), Some(member)) => Ok((fleet, member)),
        _ => Err(Error::usage(
            "`cafleet agent launch` runs in an agent's pane, started by `cafleet up`",
        )
        .hint("CAFLEET_FLEET and CAFLEET_MEMBER must be set")),
    }
}

/// `cafleet agent hook`: reads the event and records it for the pane's agent.
fn record_hook(globals: &Globals, args: &HookArgs) -> Result<()> {
    use std::io::Read;
    let backend: crate::backend::BackendName = args
        .backend
        .parse()
        .map_err(|_| Error::usage(format!("unknown backend `{}`", args.backend)))?;
    let text = match &args.payload {
        Some(text) => text.clone(),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .take(crate::hooks::MAX_PAYLOAD)
                .read_to_string(&mut text)
                .map_err(|err| Error::failure(format!("cannot read the event: {err}")))?;
            text
        }
    };
    let payload: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| Error::usage(format!("the event is not JSON: {err}")))?;
    let Some(report) = crate::hooks::interpret(backend, &payload) else {
        return Ok(());
    };
    let (fleet, member) = pane_identity()?;
    let pane = std::env::var("TMUX_PANE").ok().filter(|p| !p.is_empty());
    let mut registry = globals.registry()?;
    crate::hooks::record(&mut registry, &fleet, &member, pane.as_deref(), &report)
}

pub fn run(globals: &Globals, cmd: AgentCommand) -> Result<ExitCode> {
    match cmd {
        AgentCommand::Launch(args) => {
            let (fleet, member) = pane_identity()?;
            let db = globals.db_path()?;
            // Returns only when the agent could not be started.
            Err(crate::apply::launch::exec(&db, &fleet, &member, &args.hash))
        }
        AgentCommand::Hook(args) => {
            // Whatever happens, the agent's hook succeeds and prints nothing.
            let _ = record_hook(globals, &args);
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Courier(args) => {
            use std::sync::Arc;
            use std::sync::atomic::AtomicBool;
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [
                signal_hook::consts::SIGTERM,
                signal_hook::consts::SIGINT,
                signal_hook::consts::SIGHUP,
            ] {
                signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|err| {
                    Error::failure(format!("cannot install a signal handler: {err}"))
                })?;
            }
            let reason = crate::courier::run(
                &crate::courier::Options {
                    db: globals.db_path()?,
                    fleet: args.fleet.clone(),
                    tmux_override: globals.tmux_socket.clone(),
                },
                &stop,
            )?;
            print(&format!("courier of `{}` stopped: {reason}\n", args.fleet))?;
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::PastePrompt => {
            use std::io::Read;
            let (fleet, member) = pane_identity()?;
            let pane: crate::tmux::PaneId = std::env::var("TMUX_PANE")
                .ok()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Error::usage("`agent paste-prompt` runs inside an agent's pane"))?;
            let mut prompt = String::new();
            std::io::stdin()
                .take(crate::apply::launch::MAX_PROMPT_BYTES as u64 + 1)
                .read_to_string(&mut prompt)
                .map_err(|err| Error::failure(format!("cannot read the prompt: {err}")))?;
            let registry = globals.registry()?;
            let fleet_row = registry.require_fleet(&fleet)?;
            let agent = registry.require_agent(fleet_row.id, &fleet, &member)?;
            drop(registry);
            let backend = agent
                .backend
                .parse()
                .unwrap_or(crate::backend::BackendName::Command);
            // On another host the fleet's socket names this machine's server: the pane's
            // own server is the one in `$TMUX` (`SOCKET_PATH,PID,SESSION`).
            let own_server = std::env::var("TMUX")
                .ok()
                .filter(|_| crate::broker::on_other_host())
                .and_then(|v| v.rsplitn(3, ',').last().map(str::to_owned))
                .filter(|s| !s.is_empty());
            let tmux = match own_server {
                Some(socket) => crate::tmux::Tmux::at_path(socket),
                None => crate::apply::tmux_for(globals.tmux_socket.as_deref(), &fleet_row.socket),
            };
            crate::apply::launch::paste_prompt(&tmux, pane, backend, &prompt)?;
            Ok(ExitCode::SUCCESS)
        }
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
