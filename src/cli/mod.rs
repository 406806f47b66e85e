//! The command line: clap structs, one file per command group. Each verb parses its
//! arguments, calls the library and prints; logic another verb or the web UI needs lives
//! in the library modules, not here.

mod agent;
mod completions;
mod config;
mod db;
mod doctor;
mod done;
mod down;
mod fleet;
pub mod identity;
mod init;
mod member;
mod message;
mod model;
mod monitor;
mod ps;
mod run;
pub mod schema;
mod setup;
mod skill;
mod up;
mod web;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};

/// Declare, run and talk to a team of coding agents in tmux.
///
/// A fleet file declares a Director, an optional monitoring member and members, each on a
/// backend (claude, codex, opencode, command or the built-in fake). `cafleet up` makes
/// tmux and the registry match it; the `message` commands let the agents talk.
#[derive(Debug, Parser)]
#[command(name = "cafleet", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Globals {
    /// The registry: a SQLite file, or a PostgreSQL database as
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $CAFLEET_DATABASE_URL, else
    /// $XDG_DATA_HOME/cafleet/cafleet.db, else ~/.local/share/cafleet/cafleet.db)
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        help_heading = "Global options"
    )]
    pub db: Option<String>,

    /// Use this tmux server instead of the fleet's own: a name for `tmux -L NAME`, or a
    /// socket path (containing `/`) for `tmux -S PATH`
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "CAFLEET_TMUX_SOCKET",
        help_heading = "Global options"
    )]
    pub tmux_socket: Option<String>,
}

impl Globals {
    /// The resolved registry path.
    pub fn db_path(&self) -> Result<camino::Utf8PathBuf> {
        crate::registry::location::resolve(self.db.as_deref())
    }

    /// Opens (creating and migrating when needed) the registry.
    pub fn registry(&self) -> Result<crate::registry::Registry> {
        crate::registry::Registry::open(&self.db_path()?)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter fleet file, its prompts and its JSON Schema (never over a file)
    Init(init::InitArgs),
    /// Make tmux and the registry match a fleet file (prints the plan first)
    Up(up::UpArgs),
    /// Print what `up` would do; exit 0 in sync, 2 with changes
    Plan(up::PlanArgs),
    /// Tear down what `up` made
    Down(down::DownArgs),
    /// Run a team to completion: up --wait, wait for `cafleet done`, report, down
    Run(run::RunArgs),
    /// The Director records that the team has finished, with a summary for the operator
    Done(done::DoneArgs),
    /// List agents with their state, unread count, pane and drift
    Ps(ps::PsArgs),
    /// Fleets without a fleet file: create (this pane is the Director), list, show, delete
    #[command(subcommand)]
    Fleet(fleet::FleetCommand),
    /// Manage agents by hand: create, delete, list, show, capture, prompt, ping, nudge
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// The monitoring member's heartbeat loop: start, status, config
    #[command(subcommand)]
    Monitor(monitor::MonitorCommand),
    /// Attach to a fleet's tmux session
    Attach(ps::AttachArgs),
    /// Print a member's pane text
    Logs(ps::LogsArgs),
    /// The audit timeline of every step, spawn, kill, nudge and delivery
    Events(ps::EventsArgs),
    /// Send, read and acknowledge messages between members
    #[command(subcommand)]
    Message(message::MessageCommand),
    /// Validate or print a fleet file
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print the JSON Schema of the fleet file
    Schema(schema::SchemaArgs),
    /// Create, migrate or locate the registry
    #[command(subcommand)]
    Db(db::DbCommand),

    /// Programs cafleet runs as an agent's pane (internal)
    #[command(subcommand, hide = true)]
    Agent(agent::AgentCommand),
    /// Check tmux, the agents on PATH, the registry and the skills; say how to fix problems
    Doctor(doctor::DoctorArgs),
    /// Set up once (safe to repeat): the registry, the skills for every agent on PATH, and
    /// (shown first, written when asked) the settings those agents need to run cafleet
    Setup(setup::SetupArgs),
    /// Install or list the skills bundled for claude, codex and opencode
    #[command(subcommand)]
    Skill(skill::SkillCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Serve the admin web UI (loopback by default)
    Web(web::WebArgs),
    /// A scripted stand-in for the models claude, codex and opencode call: rehearse a team
    /// with no account and no network
    #[command(subcommand)]
    Model(model::ModelCommand),
}

/// Parses the process arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version on stdout and exits 0, usage errors exit 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let _ = std::io::stderr().write_all(err.render().as_bytes());
            err.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let globals = cli.globals;
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Up(args) => up::run(&globals, args),
        Command::Plan(args) => up::run_plan(&globals, args),
        Command::Down(args) => down::run(&globals, args),
        Command::Run(args) => run::run(&globals, args),
        Command::Done(args) => done::run(&globals, args),
        Command::Ps(args) => ps::run_ps(&globals, args),
        Command::Fleet(cmd) => fleet::run(&globals, cmd),
        Command::Member(cmd) => member::run(&globals, cmd),
        Command::Monitor(cmd) => monitor::run(&globals, cmd),
        Command::Attach(args) => ps::run_attach(&globals, args),
        Command::Logs(args) => ps::run_logs(&globals, args),
        Command::Events(args) => ps::run_events(&globals, args),
        Command::Config(cmd) => config::run(&globals, cmd),
        Command::Schema(args) => schema::run(args),
        Command::Db(cmd) => db::run(&globals, cmd),
        Command::Message(cmd) => message::run(&globals, cmd),
        Command::Agent(cmd) => agent::run(&globals, cmd),
        Command::Doctor(args) => doctor::run(&globals, args),
        Command::Setup(args) => setup::run(&globals, args),
        Command::Skill(cmd) => skill::run(cmd),
        Command::Completions(args) => completions::run(args),
        Command::Web(args) => web::run(&globals, args),
        Command::Model(cmd) => model::run(cmd),
    }
}

/// Writes to stdout, treating a closed pipe (`cafleet ps | head`) as success. Every
/// control character but line feed and tab is shown as a visible stand-in
/// ([`crate::safe_text`]): what commands print comes from the registry, agents and
/// files, and must never drive the operator's terminal.
pub(crate) fn print(text: &str) -> Result<()> {
    print_raw(&crate::safe_text::text(text))
}

/// [`print`] without the stand-ins, for JSON (which escapes control characters itself
/// and must stay exact).
pub(crate) fn print_raw(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(Error::failure(format!("cannot write to stdout: {err}"))),
    }
}

/// Prints a value as pretty JSON followed by a newline.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|err| Error::failure(format!("cannot encode JSON: {err}")))?;
    text.push('\n');
    print_raw(&text)
}

/// The fleet a command acts on: inside an agent's pane the agent's own (another `flag` is
/// refused, see [`identity`]); for an operator `flag` (or `CAFLEET_FLEET`), else the only
/// registered fleet; an error listing the fleets otherwise.
pub(crate) fn pick_fleet(
    registry: &crate::registry::Registry,
    flag: Option<&str>,
) -> Result<crate::registry::fleets::FleetRow> {
    identity::resolve_fleet(registry, identity::lane_fleet(flag)?)
}
