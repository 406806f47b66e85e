//! `cafleet member …`: operators managing agents by hand. Agents created here are
//! `cli`-origin: `up` lists them as unmanaged and keeps them unless `--remove-orphans`.
//!
//! `member create` renders its prompt as a template against the same context a fleet
//! file's prompts get (`fleet`, `member`, `director`, `members`, `monitor`, `cafleet`;
//! `vars` is empty, there being no fleet file), refuses a second monitor, and refuses a
//! backend whose program is not installed before anything is created, as `up` does.

use std::collections::BTreeMap;
use std::process::ExitCode;

use camino::Utf8PathBuf;

use super::identity::{check_name, require_manager};
use super::{Globals, pick_fleet, print, print_json};
use crate::apply;
use crate::backend::{self, BackendName};
use crate::error::{Error, Result};
use crate::manifest::{LaunchSpec, RESERVED_NAMES, Role, is_valid_name};
use crate::safe_text::line;

#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Start one agent as a pane of the fleet's session
    Create(CreateArgs),
    /// Stop an agent and remove it from the fleet (its messages stay)
    Delete {
        name: String,
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
        fleet: Option<String>,
    },
    /// List the fleet's agents (like `cafleet ps --fleet`)
    List {
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
        fleet: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One agent's details
    Show {
        name: String,
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
        fleet: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Type a line into an agent's pane (sanitised; the same screen rules as a message)
    Prompt {
        name: String,
        /// The text to type; Enter follows
        text: String,
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
        fleet: Option<String>,
    },
    /// Wake an agent: Escape where a prompt shows, then Enter
    Ping {
        name: String,
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
        fleet: Option<String>,
    },
    /// Store an ack-able nudge for an agent and announce it in its pane
    Nudge {
        name: String,
        /// What the nudge says
        #[arg(default_value = "please check your inbox: run `cafleet message inbox`")]
        text: String,
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
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
        /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
        #[arg(long)]
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
    /// The prompt, a template like a fleet file's (`{{fleet.name}}`, `{{member.name}}`,
    /// `{{director.name}}`, `{{#each members}}…{{/each}}`)
    #[arg(long, conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// A file holding the prompt template (`-`: stdin)
    #[arg(long)]
    pub prompt_file: Option<Utf8PathBuf>,
    /// `member` (default) or `monitor`
    #[arg(long, default_value = "member", value_parser = ["member", "monitor"])]
    pub role: String,
    /// One line shown to the Director and in `ps`
    #[arg(long, default_value = "")]
    pub description: String,
    /// An extra argument for the agent's command line, after cafleet's own and before
    /// the prompt, as a fleet file's `args` (repeatable). A claude member that must
    /// write files: `--arg=--permission-mode=acceptEdits`
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub agent_args: Vec<String>,
    /// The fake agent's options as JSON (`backend = fake` only)
    #[arg(long, hide = true)]
    pub fake_options: Option<String>,
    /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only one)
    #[arg(long)]
    pub fleet: Option<String>,
    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,
    /// The program to run (`--backend command`), after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// What `member create --json` prints.
#[derive(Debug, serde::Serialize)]
struct Created {
    fleet: String,
    name: String,
    role: String,
    backend: String,
    model: Option<String>,
    pane: String,
}

pub fn run(globals: &Globals, cmd: MemberCommand) -> Result<ExitCode> {
    match cmd {
        MemberCommand::Create(args) => create(globals, args),
        MemberCommand::Delete { name, fleet } => {
            let mut registry = globals.registry()?;
            let fleet = pick_fleet(&registry, fleet.as_deref())?;
            require_manager(&registry, &fleet, "delete members")?;
            let agent = registry.require_agent(fleet.id, &fleet.name, &name)?;
            if agent.role == "director" {
                return Err(Error::usage("the Director cannot be deleted")
                    .hint("tear the whole fleet down with `cafleet down`"));
            }
            let tmux = apply::Servers::new(apply::tmux_for(
                globals.tmux_socket.as_deref(),
                &fleet.socket,
            ))
            .for_agent(&agent)?;
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
            (agent.status, agent.status_reason, agent.status_signal) =
                apply::agent_status(globals.tmux_socket.as_deref(), &registry, &fleet, &agent)?;
            let spec = agent.spec();
            if json {
                print_json(
                    &serde_json::json!({"fleet": fleet.name, "agent": agent, "spec": spec}),
                )?;
            } else {
                let mut text = format!(
                    "{} [{}] in fleet {}\n  backend: {}\n  model: {}\n  origin: {}\n  state: {}{} (signal: {}, since {})\n  pane: {}\n",
                    agent.name,
                    agent.role,
                    fleet.name,
                    agent.backend,
                    line(agent.model.as_deref().unwrap_or("-")),
                    agent.origin,
                    agent.status,
                    agent
                        .status_reason
                        .as_deref()
                        .map(|r| format!(" ({})", line(r)))
                        .unwrap_or_default(),
                    agent.status_signal,
                    agent.status_since,
                    agent.pane_id.as_deref().unwrap_or("-"),
                );
                if !agent.description.is_empty() {
                    text.push_str(&format!("  description: {}\n", line(&agent.description)));
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
            require_manager(&registry, &fleet, "nudge members")?;
            if let Some(sender) = &sender {
                check_name("--as name", sender)?;
            }
            // Inside a pane the nudge is from that agent, whatever `--as` says.
            let sender = match super::identity::caller()? {
                Some(me) => {
                    if let Some(other) = sender.as_deref().filter(|s| *s != me.member) {
                        return Err(Error::usage(format!(
                            "this pane is `{}`; it cannot nudge as `{other}`",
                            me.member
                        ))
                        .hint("drop --as: a nudge from an agent's pane is from that agent"));
                    }
                    me.member
                }
                None => sender.unwrap_or_else(|| "operator".into()),
            };
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
    require_manager(
        &registry,
        &fleet,
        if text.is_empty() {
            "ping members"
        } else {
            "type into members' panes"
        },
    )?;
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
    let template = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_str() == "-" => read_prompt_stdin()?,
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
    require_manager(&registry, &fleet, "create members")?;
    // One change to the fleet's panes at a time, like `up`: two creates of one name would
    // both find it free and both start a pane, and two creates at once would both find
    // the same window with room. Read the fleet again once holding the lock.
    let _fleet_lock = crate::registry::lock::Lock::named(
        &db_path,
        &crate::registry::lock::fleet_name(&fleet.name),
    )?;
    let fleet = registry.require_fleet(&fleet.name)?;
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
    let live: Vec<_> = registry
        .agents(fleet.id)?
        .into_iter()
        .filter(|a| a.status != "removed" && a.status != "stopped")
        .collect();
    if live.iter().any(|a| a.name == name) {
        return Err(Error::failure(format!(
            "fleet `{}` already has a member `{name}`",
            fleet.name
        ))
        .hint(format!(
            "choose another name, or `cafleet member delete {name}` first"
        )));
    }
    if args.role == "monitor"
        && let Some(monitor) = live.iter().find(|a| a.role == "monitor")
    {
        return Err(Error::usage(format!(
            "fleet `{}` already has a monitoring member, `{}`",
            fleet.name, monitor.name
        ))
        .hint(format!(
            "a fleet has one monitor; create this one as a member, or `cafleet member delete {}` first",
            monitor.name
        )));
    }
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
        .ok_or_else(|| Error::failure("the current directory is not valid UTF-8"))?;
    let prompt = render_prompt(&template, &fleet, &live, &args, &cwd, &db_path)?;
    let argv = backend::argv(&backend::ArgvInput {
        backend,
        name,
        model: args.model.as_deref(),
        effort: args.effort.as_deref(),
        prompt: &prompt,
        args: &args.agent_args,
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
    let spec = LaunchSpec {
        backend,
        model: args.model.clone(),
        effort: args.effort.clone(),
        argv,
        cwd,
        env,
        prompt,
        env_from: Vec::new(),
        host: None,
        ssh_command: None,
    };
    let role = if args.role == "monitor" {
        Role::Monitor
    } else {
        Role::Member
    };
    check_program(&spec)?;
    let hash = spec.hash();
    // The fleet file's window settings, when it has one that still loads.
    let (layout, panes_per_window, window_size) = fleet
        .manifest_path
        .as_deref()
        .and_then(|file| super::config::load(globals, file.as_ref()).ok())
        .map(|f| (f.layout, f.panes_per_window, f.window_size))
        .unwrap_or_else(|| {
            (
                "tiled".to_string(),
                4,
                crate::manifest::default_window_size("tiled", 4),
            )
        });
    let tmux = apply::tmux_for(globals.tmux_socket.as_deref(), &fleet.socket);
    let spawned = apply::spawn(
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
            layout: &layout,
            panes_per_window,
            window_size,
        },
    );
    let pane = match spawned {
        Ok(pane) => pane,
        Err(err) => {
            // Nothing runs for it: the row `spawn` wrote is not left behind as `dead`.
            if let Some(row) = registry.agent(fleet.id, name)? {
                registry.clear_agent_pane(row.id, "removed", Some("member create failed"))?;
                registry.event(
                    Some(fleet.id),
                    Some(name),
                    "spawn.failed",
                    serde_json::json!({"reason": err.message}),
                )?;
            }
            return Err(err);
        }
    };
    crate::courier::ensure_or_warn(&db_path, globals.tmux_socket.as_deref(), &fleet.name);
    if args.json {
        print_json(&Created {
            fleet: fleet.name.clone(),
            name: name.to_string(),
            role: role.as_str().to_string(),
            backend: backend.as_str().to_string(),
            model: args.model.clone(),
            pane: pane.to_string(),
        })?;
    } else {
        print(&format!("created {name} in {pane}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--prompt-file -`: the prompt from stdin, at most the longest prompt an agent takes.
fn read_prompt_stdin() -> Result<String> {
    use std::io::Read;
    let limit = crate::backend::MAX_PROMPT_BYTES;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| Error::failure(format!("cannot read the prompt from stdin: {err}")))?;
    if bytes.len() > limit {
        return Err(
            Error::usage(format!("the prompt on stdin is longer than {limit} bytes"))
                .hint("move the bulk into a file the agent reads, and say where"),
        );
    }
    String::from_utf8(bytes).map_err(|_| {
        Error::usage("the prompt on stdin is not UTF-8").hint("pass the prompt as UTF-8 text")
    })
}

/// Renders the prompt template against the context a fleet file's prompts get: the
/// fleet, this member, the Director, the fleet's live members (this one included), the
/// monitor when there is one, and where cafleet and its registry are.
fn render_prompt(
    template: &str,
    fleet: &crate::registry::fleets::FleetRow,
    live: &[crate::registry::agents::AgentRow],
    args: &CreateArgs,
    cwd: &camino::Utf8Path,
    db_path: &camino::Utf8Path,
) -> Result<String> {
    use serde_json::json;
    if template.is_empty() {
        return Ok(String::new());
    }
    let agent_json = |name: &str, role: &str, backend: &str, model: &str, description: &str| json!({"name": name, "role": role, "backend": backend, "model": model, "description": description});
    let me = agent_json(
        &args.name,
        &args.role,
        args.backend.as_str(),
        args.model.as_deref().unwrap_or_default(),
        &args.description,
    );
    let mut members: Vec<serde_json::Value> = live
        .iter()
        .filter(|a| a.role == "member")
        .map(|a| {
            agent_json(
                &a.name,
                &a.role,
                &a.backend,
                a.model.as_deref().unwrap_or_default(),
                &a.description,
            )
        })
        .collect();
    if args.role == "member" {
        members.push(me.clone());
    }
    let root = fleet
        .manifest_path
        .as_deref()
        .and_then(|file| camino::Utf8Path::new(file).parent())
        .map_or_else(|| cwd.to_string(), |dir| dir.to_string());
    let director = live
        .iter()
        .find(|a| a.role == "director")
        .map_or("director", |a| a.name.as_str());
    let mut data = json!({
        "fleet": {"name": fleet.name, "root": root, "session": fleet.session},
        "member": me,
        "director": {"name": director},
        "members": members,
        "vars": {},
        "cafleet": {
            "bin": std::env::current_exe().ok().and_then(|p| p.to_str().map(String::from)).unwrap_or_else(|| "cafleet".into()),
            "db": crate::registry::location::redact(db_path.as_str()),
        },
    });
    let monitor = live
        .iter()
        .find(|a| a.role == "monitor")
        .map(|a| a.name.clone());
    let monitor = monitor.or_else(|| (args.role == "monitor").then(|| args.name.clone()));
    if let (Some(monitor), Some(map)) = (monitor, data.as_object_mut()) {
        map.insert("monitor".into(), json!({"name": monitor}));
    }
    let hb = crate::manifest::template::engine();
    let prompt = crate::manifest::template::render(&hb, template, &data).map_err(|problem| {
        let at = problem
            .position
            .map(|(line, column)| format!(" (line {line}, column {column})"))
            .unwrap_or_default();
        Error::usage(format!("the prompt template: {}{at}", problem.message)).hint(
            "it can use fleet.name, fleet.root, fleet.session, member.*, director.name, members, monitor.name, cafleet.bin and cafleet.db; write `\\{{` for a literal `{{`",
        )
    })?;
    let limit = if args.backend == BackendName::Command {
        crate::backend::MAX_COMMAND_PROMPT_BYTES
    } else {
        crate::backend::MAX_PROMPT_BYTES
    };
    if prompt.len() > limit {
        return Err(Error::usage(format!(
            "the prompt is {} bytes once rendered; the limit is {limit}",
            prompt.len()
        ))
        .hint("move the bulk into a file the agent reads, and say where"));
    }
    if prompt.contains('\0') {
        return Err(Error::usage(
            "the prompt holds a NUL byte, which cannot be passed to a program",
        ));
    }
    Ok(prompt)
}

/// Refuses an agent whose program is not installed, before anything is created: its pane
/// would die at once (the check `up` makes).
fn check_program(spec: &LaunchSpec) -> Result<()> {
    if spec.backend == BackendName::Fake {
        return Ok(());
    }
    let Some(program) = spec.argv.first() else {
        return Ok(());
    };
    let path = std::env::var("PATH").unwrap_or_default();
    if apply::find_program(program, &path, &spec.cwd).is_some() {
        return Ok(());
    }
    let mut err = Error::failure(format!("not installed or not on PATH: `{program}`"));
    if let Some(install) = super::up::install_hint(program) {
        err = err.hint(install);
    }
    Err(err.hint("nothing was created; `cafleet doctor` checks every backend"))
}
