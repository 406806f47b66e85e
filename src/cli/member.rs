//! `cafleet member …`: operators managing agents by hand. Agents created here are
//! `cli`-origin: `up` lists them as unmanaged and keeps them unless `--remove-orphans`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use camino::Utf8PathBuf;

use super::{Globals, pick_fleet, print, print_json};
use crate::apply;
use crate::backend::{self, BackendName};
use crate::error::{Error, Result};
use crate::manifest::{LaunchSpec, RESERVED_NAMES, Role, is_valid_name};

#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Start one agent as a pane of the fleet's session
    Create(CreateArgs),
    /// Stop an agent and remove it from the fleet (its messages stay)
    Delete {
        name: String,
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
    },
    /// List the fleet's agents (like `cafleet ps --fleet`)
    List {
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One agent's details
    Show {
        name: String,
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Type a line into an agent's pane (sanitised; the same screen rules as a message)
    Prompt {
        name: String,
        /// The text to type; Enter follows
        text: String,
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
    },
    /// Wake an agent: Escape where a prompt shows, then Enter
    Ping {
        name: String,
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
    },
    /// Store an ack-able nudge for an agent and announce it in its pane
    Nudge {
        name: String,
        /// What the nudge says
        #[arg(default_value = "please check your inbox: run `cafleet message inbox`")]
        text: String,
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
        /// Who nudges (default: $CAFLEET_MEMBER, else `operator`)
        #[arg(long = "as", value_name = "MEMBER")]
        sender: Option<String>,
    },
    /// Print the text of an agent's pane
    Capture {
        name: String,
        /// Print the last N lines (scrollback included), like `tail -n`; 0: the visible screen
        #[arg(long, default_value_t = 0)]
        lines: u32,
        #[arg(long, env = "CAFLEET_FLEET")]
        fleet: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The member's name, `[a-z0-9][a-z0-9_-]*`
    #[arg(long)]
    pub name: String,
    /// claude, codex, opencode, command or fake
    #[arg(long)]
    pub backend: BackendName,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long)]
    pub effort: Option<String>,
    /// The prompt text
    #[arg(long, conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// A file holding the prompt
    #[arg(long)]
    pub prompt_file: Option<Utf8PathBuf>,
    /// `member` (default) or `monitor`
    #[arg(long, default_value = "member", value_parser = ["member", "monitor"])]
    pub role: String,
    /// One line shown to the Director and in `ps`
    #[arg(long, default_value = "")]
    pub description: String,
    /// The fake agent's options as JSON (`backend = fake` only)
    #[arg(long, hide = true)]
    pub fake_options: Option<String>,
    #[arg(long, env = "CAFLEET_FLEET")]
    pub fleet: Option<String>,
    /// The program to run (`--backend command`), after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn run(globals: &Globals, cmd: MemberCommand) -> Result<ExitCode> {
    match cmd {
        MemberCommand::Create(args) => create(globals, args),
        MemberCommand::Delete { name, fleet } => {
            let mut registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            let agent = registry.require_agent(fleet.id, &fleet.name, &name)?;
            if agent.role == "director" {
                return Err(Error::usage("the Director cannot be deleted")
                    .hint("tear the whole fleet down with `cafleet down`"));
            }
            let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
            if let Some(pane) = &agent.pane_id {
                apply::kill_pane(&tmux, pane, &fleet.name, &agent.name)?;
            }
            registry.clear_agent_pane(agent.id, "removed", Some("cafleet member delete"))?;
            registry.event(
                Some(fleet.id),
                Some(&name),
                "remove",
                serde_json::json!({"reason": "member delete", "pane": agent.pane_id}),
            )?;
            print(&format!("deleted {name}\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        MemberCommand::List { fleet, json } => {
            let registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            super::ps::run_ps(
                globals,
                super::ps::PsArgs {
                    fleet: Some(fleet.name),
                    json,
                },
            )
        }
        MemberCommand::Show { name, fleet, json } => {
            let registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            let mut agent = registry.require_agent(fleet.id, &fleet.name, &name)?;
            // The state `ps` shows, pane checked: never the bare recorded one.
            (agent.status, agent.status_reason) =
                apply::agent_status(globals.tmux_socket.as_deref(), &registry, &fleet, &agent)?;
            let spec = agent.spec();
            if json {
                print_json(
                    &serde_json::json!({"fleet": fleet.name, "agent": agent, "spec": spec}),
                )?;
            } else {
                let mut text = format!(
                    "{} [{}] in fleet {}\n  backend: {}\n  model: {}\n  origin: {}\n  state: {}{}\n  pane: {}\n",
                    agent.name,
                    agent.role,
                    fleet.name,
                    agent.backend,
                    agent.model.as_deref().unwrap_or("-"),
                    agent.origin,
                    agent.status,
                    agent
                        .status_reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    agent.pane_id.as_deref().unwrap_or("-"),
                );
                if !agent.description.is_empty() {
                    text.push_str(&format!("  description: {}\n", agent.description));
                }
                if let Some(spec) = spec {
                    let argv: Vec<String> = spec
                        .argv
                        .iter()
                        .map(|a| super::config::shell_quote(a))
                        .collect();
                    text.push_str(&format!(
                        "  cwd: {}\n  argv: {}\n",
                        spec.cwd,
                        argv.join(" ")
                    ));
                }
                print(&text)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        MemberCommand::Prompt { name, text, fleet } => {
            type_line(globals, &name, &text, fleet.as_deref())
        }
        MemberCommand::Ping { name, fleet } => type_line(globals, &name, "", fleet.as_deref()),
        MemberCommand::Nudge {
            name,
            text,
            fleet,
            sender,
        } => {
            let mut registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            let sender = sender
                .or_else(|| {
                    std::env::var(super::identity::MEMBER_ENV)
                        .ok()
                        .filter(|s| !s.is_empty())
                })
                .unwrap_or_else(|| "operator".into());
            registry.require_agent(fleet.id, &fleet.name, &name)?;
            let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
            let delivery =
                crate::broker::nudge(&mut registry, &tmux, &fleet, &sender, &name, &text)?;
            let id = delivery.message_ids.first().copied().unwrap_or_default();
            print(&format!(
                "nudge #{id} to {name}: {}\n",
                describe(&delivery.outcome)
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        MemberCommand::Capture { name, lines, fleet } => super::ps::run_logs(
            globals,
            super::ps::LogsArgs {
                member: name,
                lines,
                fleet,
            },
        ),
    }
}

fn describe(outcome: &crate::broker::Outcome) -> String {
    match outcome {
        crate::broker::Outcome::Notified { .. } => "notified".into(),
        crate::broker::Outcome::Queued { reason } => format!("queued ({reason})"),
        crate::broker::Outcome::Nothing => "already read".into(),
    }
}

fn type_line(globals: &Globals, name: &str, text: &str, fleet: Option<&str>) -> Result<ExitCode> {
    let mut registry = globals.registry()?;
    let fleet = pick_fleet(&registry, fleet)?;
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    match crate::broker::type_line(&mut registry, &tmux, &fleet, name, text)? {
        crate::broker::Outcome::Queued { reason } => Err(Error::failure(format!(
            "nothing was typed: {reason}"
        ))
        .hint(format!(
            "look at its screen with `cafleet member capture {name}`"
        ))),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn create(globals: &Globals, args: CreateArgs) -> Result<ExitCode> {
    let name = args.name.as_str();
    if !is_valid_name(name) {
        return Err(Error::usage(format!("invalid member name `{name}`")).hint(
            "a member name is 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or digit",
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(
            Error::usage(format!("`{name}` is a reserved name")).hint("choose another name")
        );
    }
    let backend = args.backend;
    if args.model.is_some() && !backend::takes_model(backend) {
        return Err(Error::usage(format!(
            "backend `{backend}` takes no --model"
        )));
    }
    if backend == BackendName::Opencode && args.model.as_deref().is_some_and(|m| !m.contains('/')) {
        return Err(Error::usage("opencode needs --model provider/model")
            .hint("for example anthropic/claude-sonnet-4-6"));
    }
    if let Some(effort) = &args.effort {
        match backend::effort_values(backend) {
            None => {
                return Err(Error::usage(format!(
                    "backend `{backend}` has no effort setting"
                )));
            }
            Some(values) if !values.contains(&effort.as_str()) => {
                return Err(Error::usage(format!(
                    "backend `{backend}` does not accept effort `{effort}`"
                ))
                .hint(format!("{backend} takes {}", values.join(", "))));
            }
            Some(_) => {}
        }
    }
    match (backend, args.command.is_empty()) {
        (BackendName::Command, true) => {
            return Err(
                Error::usage("--backend command needs the program after `--`")
                    .hint("cafleet member create --name bot --backend command -- ./watch.sh"),
            );
        }
        (BackendName::Command, false) | (_, true) => {}
        (_, false) => {
            return Err(Error::usage(format!(
                "a program after `--` is only for --backend command, not `{backend}`"
            )));
        }
    }
    if args.fake_options.is_some() && backend != BackendName::Fake {
        return Err(Error::usage("--fake-options is only for --backend fake"));
    }
    let fake_json = match (&args.fake_options, backend) {
        (Some(json), _) => {
            serde_json::from_str::<crate::backend::fake_options::FakeOptions>(json)
                .map_err(|err| Error::usage(format!("invalid --fake-options: {err}")))?;
            json.clone()
        }
        (None, BackendName::Fake) => "{}".into(),
        (None, _) => String::new(),
    };
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => crate::manifest::read::read_text(
            std::path::Path::new(path),
            crate::backend::MAX_PROMPT_BYTES as u64,
        )
        .map_err(|err| Error::failure(format!("cannot read --prompt-file `{path}`: {err}")))?,
        (None, None) => String::new(),
    };

    let mut registry = globals.registry()?;
    let db_path = apply::absolute_db(registry.path());
    let fleet = pick_fleet(&registry, args.fleet.as_deref())?;
    if fleet.status != "up" {
        let how = match &fleet.manifest_path {
            Some(file) => format!("`cafleet up {file}`"),
            None => format!(
                "`cafleet fleet create {}` in the Director's pane",
                fleet.name
            ),
        };
        return Err(Error::failure(format!("fleet `{}` is down", fleet.name))
            .hint(format!("bring it up first with {how}")));
    }
    if registry
        .agent(fleet.id, name)?
        .is_some_and(|a| a.status != "removed" && a.status != "stopped")
    {
        return Err(Error::failure(format!(
            "fleet `{}` already has a member `{name}`",
            fleet.name
        ))
        .hint(format!(
            "choose another name, or `cafleet member delete {name}` first"
        )));
    }
    let argv = backend::argv(&backend::ArgvInput {
        backend,
        name,
        model: args.model.as_deref(),
        effort: args.effort.as_deref(),
        prompt: &prompt,
        args: &[],
        command: &args.command,
        fake_options_json: &fake_json,
    });
    let mut env = BTreeMap::new();
    if backend == BackendName::Command && !prompt.is_empty() {
        env.insert("CAFLEET_PROMPT".to_string(), prompt.clone());
    }
    if let Ok(log) = std::env::var(crate::backend::fake::LOG_ENV) {
        env.insert(crate::backend::fake::LOG_ENV.to_string(), log);
    }
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
        .ok_or_else(|| Error::failure("the current directory is not valid UTF-8"))?;
    let spec = LaunchSpec {
        backend,
        model: args.model.clone(),
        effort: args.effort.clone(),
        argv,
        cwd,
        env,
        prompt,
        env_from: Vec::new(),
    };
    let role = if args.role == "monitor" {
        Role::Monitor
    } else {
        Role::Member
    };
    let hash = spec.hash();
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    let pane = apply::spawn(
        &mut apply::Env {
            registry: &mut registry,
            tmux: &tmux,
            db_path: &db_path,
        },
        &apply::SpawnRequest {
            fleet: &fleet,
            name,
            role,
            description: &args.description,
            origin: "cli",
            spec: &spec,
            hash: &hash,
            layout: "tiled",
            panes_per_window: 4,
            window_size: crate::manifest::default_window_size("tiled", 4),
        },
    )?;
    crate::courier::ensure_or_warn(&db_path, globals.tmux_socket.as_deref(), &fleet.name);
    print(&format!("created {name} in {pane}\n"))?;
    Ok(ExitCode::SUCCESS)
}
