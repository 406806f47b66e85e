//! `cafleet up` and `cafleet plan`: reconcile tmux and the registry to a fleet file.

use std::process::ExitCode;
use std::time::Duration;

use camino::Utf8PathBuf;

use super::{Globals, config, print, print_json};
use crate::apply;
use crate::error::{Error, Result};
use crate::plan::{self, Plan};

/// Make tmux and the registry match a fleet file: create what is missing, recreate what
/// drifted, remove what was dropped, and touch nothing else. The plan is printed first.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The fleet file
    #[arg(default_value = "fleet.toml")]
    pub file: Utf8PathBuf,
    /// Print the plan and stop: exit 0 when in sync, 2 when there are changes
    #[arg(long)]
    pub dry_run: bool,
    /// Return only when every agent is ready (exit 4 naming those that are not)
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Report drift but recreate nothing
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Recreate every agent, drifted or not (the Director too)
    #[arg(long)]
    pub force_recreate: bool,
    /// Recreate this agent even if it did not drift (repeatable; `director` allowed)
    #[arg(long, value_name = "NAME")]
    pub recreate: Vec<String>,
    /// Also remove agents added with `cafleet member create`
    #[arg(long)]
    pub remove_orphans: bool,
    /// Attach to the fleet's tmux session afterwards
    #[arg(long)]
    pub attach: bool,
    /// Print the plan and the result as JSON
    #[arg(long)]
    pub json: bool,
    /// Pre-trust the fleet's folders for claude and codex (as `[fleet] trust = true`)
    #[arg(long)]
    pub trust: bool,
    /// Take over a fleet that is up from another fleet file of the same name: its agents
    /// are reconciled to this file, which is remembered from now on
    #[arg(long)]
    pub force: bool,
}

/// Print what `cafleet up` would do; exit 0 when in sync, 2 when there are changes
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The fleet file
    #[arg(default_value = "fleet.toml")]
    pub file: Utf8PathBuf,
    /// Print the plan as JSON
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    crate::manifest::duration::parse(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 30s, 5m or 1h"))
}

pub fn run_plan(globals: &Globals, args: PlanArgs) -> Result<ExitCode> {
    run(
        globals,
        UpArgs {
            file: args.file,
            dry_run: true,
            wait: false,
            timeout: Duration::ZERO,
            no_recreate: false,
            force_recreate: false,
            recreate: Vec::new(),
            remove_orphans: false,
            attach: false,
            json: args.json,
            trust: false,
            force: false,
        },
    )
}

pub fn run(globals: &Globals, args: UpArgs) -> Result<ExitCode> {
    let fleet = config::load(globals, &args.file)?;
    run_fleet(globals, args, fleet)
}

/// `up` for a fleet file already loaded (and, for `cafleet run --rehearse`, adjusted).
pub(crate) fn run_fleet(
    globals: &Globals,
    args: UpArgs,
    fleet: crate::manifest::Fleet,
) -> Result<ExitCode> {
    for name in &args.recreate {
        if fleet.agent(name).is_none() {
            let names: Vec<&str> = fleet.agents.iter().map(|a| a.name.as_str()).collect();
            return Err(Error::usage(format!(
                "--recreate names `{name}`, which the fleet file does not declare"
            ))
            .hint(format!("agents: {}", names.join(", "))));
        }
    }
    let db_path = apply::absolute_db(&globals.db_path()?);
    let mut registry = crate::registry::Registry::open(&db_path)?;
    // From inside an agent's pane: only its own fleet, and only by its Director/monitor.
    super::identity::lane_fleet(Some(&fleet.name))?;
    if let Some(row) = registry.fleet_by_name(&fleet.name)? {
        super::identity::require_manager(&registry, &row, "bring the fleet up")?;
    }
    let socket = globals
        .tmux_socket
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| fleet.socket.clone());
    let tmux = apply::tmux_for(Some(&socket), "");
    // One reconcile of a fleet at a time: a second `up` waits, then finds it in sync.
    let fleet_lock = crate::registry::lock::Lock::named(
        &db_path,
        &crate::registry::lock::fleet_name(&fleet.name),
    )?;
    // A fleet that is up on another tmux server would be started a second time here
    // while its agents run on there: say so instead.
    if let Some(row) = registry.fleet_by_name(&fleet.name)?
        && row.status == "up"
        && row.socket != socket
    {
        let server = |s: &str| {
            if s.is_empty() {
                "the default tmux server".to_string()
            } else {
                format!("tmux server `{s}`")
            }
        };
        let flag = if row.socket.is_empty() {
            String::new()
        } else {
            format!(" --tmux-socket {}", row.socket)
        };
        return Err(Error::failure(format!(
            "fleet `{}` is up on {}, not on {}",
            fleet.name,
            server(&row.socket),
            server(&socket)
        ))
        .hint(format!(
            "bring it down there first with `cafleet{flag} down --fleet {}`, then run up again",
            fleet.name
        )));
    }
    if !args.force {
        check_same_file(&registry, &fleet, args.dry_run)?;
    }
    // This machine's server and every host the fleet's agents run on, as recorded and as
    // the file now declares.
    let mut servers = match registry.fleet_by_name(&fleet.name)? {
        Some(row) => apply::Servers::of_agents(
            tmux.clone(),
            registry
                .agents(row.id)?
                .iter()
                .filter(|a| a.status != "removed"),
        )?,
        None => apply::Servers::new(tmux.clone()),
    };
    for agent in &fleet.agents {
        servers.add(&agent.spec)?;
    }
    let observed = apply::observe(&registry, &servers, &fleet.name)?;
    let options = plan::Options {
        no_recreate: args.no_recreate,
        force_recreate: args.force_recreate,
        recreate: args.recreate.clone(),
        remove_orphans: args.remove_orphans,
    };
    let plan = plan::diff(&fleet, &observed, &options);
    if !args.json {
        print(&plan.render())?;
    }
    if args.dry_run {
        if args.json {
            print_json(
                &serde_json::json!({ "plan": plan, "summary": plan.summary(), "changes": plan.has_changes(), "in_sync": plan.in_sync() }),
            )?;
        }
        if !args.json
            && let Some(line) = plan.kept_drift_line()
        {
            print(&format!("{line}\n"))?;
        }
        // Drift kept unapplied is not "in sync" either.
        return Ok(ExitCode::from(if plan.in_sync() { 0 } else { 2 }));
    }
    check_programs(&fleet, &plan)?;
    let missing = crate::apply::trust::missing_env(&fleet);
    if !missing.is_empty() {
        return Err(Error::failure(format!(
            "`[fleet] env_from` names variables that are not set: {}",
            missing.join(", ")
        ))
        .hint("export them in the shell that runs cafleet; nothing was started"));
    }
    if args.trust || fleet.trust {
        for line in crate::apply::trust::trust_fleet(&fleet)? {
            if !args.json {
                print(&format!("{line}\n"))?;
            }
        }
    }
    warn_missing_opencode_agent(&fleet, &plan);
    let report = if plan.has_changes() {
        let mut out: Vec<u8> = Vec::new();
        let report = apply::run(
            &mut registry,
            &servers,
            &fleet,
            &socket,
            &db_path,
            &plan,
            &mut out,
        )?;
        if !args.json {
            print(&String::from_utf8_lossy(&out))?;
            if let Some(line) = plan.kept_drift_line() {
                print(&format!("{line}\n"))?;
            }
        }
        report
    } else {
        if !args.json {
            match plan.kept_drift_line() {
                Some(line) => print(&format!("{line}\n"))?,
                None => print(&format!("fleet `{}` is up to date\n", fleet.name))?,
            }
        }
        apply::Report::default()
    };
    let laggards = if args.wait {
        wait(&mut registry, &servers, &fleet.name, &plan, args.timeout)?
    } else {
        Vec::new()
    };
    let announced = announce_queued(&registry, &db_path, &socket, &fleet.name)?;
    // Also after a reboot or a kill: `up` is how a fleet gets its courier back.
    crate::courier::ensure_or_warn(
        &db_path,
        (!socket.is_empty()).then_some(socket.as_str()),
        &fleet.name,
    );
    if announced > 0 && !args.json {
        print(&format!("announcing {announced} queued message(s)\n"))?;
    }
    if fleet
        .monitor
        .as_ref()
        .is_some_and(|m| m.run_loop == crate::manifest::MonitorLoop::Cafleet)
    {
        start_monitor_loop(&db_path, &socket, &fleet.name, args.json)?;
    }
    if args.json {
        print_json(
            &serde_json::json!({ "plan": plan, "summary": plan.summary(), "applied": report, "not_ready": laggards.iter().map(|(name, reason)| serde_json::json!({"name": name, "reason": reason})).collect::<Vec<_>>() }),
        )?;
    }
    let outcome = if !laggards.is_empty() {
        Err(Error::timeout(format!(
            "not ready after {}: {}",
            crate::manifest::duration::format(args.timeout),
            laggards
                .iter()
                .map(|(name, why)| format!("{name} ({why})"))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .hint(
            "look at their screens with `cafleet logs NAME`, or wait longer with --timeout"
                .to_string(),
        ))
    } else if !report.skipped.is_empty() {
        let hosts: Vec<&String> = plan.unreachable.keys().collect();
        Err(Error::failure(format!(
            "skipped {}: {} unreachable over ssh",
            report.skipped.join(", "),
            hosts
                .iter()
                .map(|h| format!("host {h}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("the rest of the fleet is up; run `cafleet up` again once the host answers"))
    } else {
        Ok(ExitCode::SUCCESS)
    };
    // Run from a pane this `up` replaced or removed: everything is done and recorded, so
    // say how it went and end that pane last (this process ends with it).
    if let Some(pane) = report.own_pane {
        drop(fleet_lock);
        if let Err(err) = &outcome {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), err.render().as_bytes());
        }
        apply::end_own_pane(&tmux, pane);
        return outcome;
    }
    if outcome.is_ok() && args.attach {
        return attach(&tmux, &fleet.session);
    }
    outcome
}

/// A fleet's name is its identity in the registry and on tmux: `up` of another file that
/// declares the same name would silently recreate the first file's agents. The file a
/// fleet was brought up from is remembered (`fleets.manifest_path`); while that fleet is
/// up, another file needs `--force`.
fn check_same_file(
    registry: &crate::registry::Registry,
    fleet: &crate::manifest::Fleet,
    dry_run: bool,
) -> Result<()> {
    let Some(row) = registry.fleet_by_name(&fleet.name)? else {
        return Ok(());
    };
    let Some(recorded) = row.manifest_path.as_deref() else {
        return Ok(());
    };
    if row.status != "up" || same_file(recorded, fleet.file.as_str()) {
        return Ok(());
    }
    let verb = if dry_run { "plan" } else { "up" };
    Err(Error::failure(format!(
        "fleet `{}` is up from another fleet file: {recorded}, not {}",
        fleet.name, fleet.file
    ))
    .hint(format!(
        "give this file another `[fleet] name`, bring the other one down with `cafleet down {recorded}`, or take the fleet over with `cafleet up --force {}`",
        fleet.file
    ))
    .hint(format!(
        "nothing was changed by `cafleet {verb}`; with --force, `up` reconciles its agents to this file"
    )))
}

/// Whether two paths name one file (symlinks resolved), else whether they are equal.
fn same_file(a: &str, b: &str) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `[monitor] loop = "cafleet"`: the heartbeat loop runs whether or not the monitoring
/// member starts it. Like the courier, a loop that cannot start is a warning: the agents
/// are up.
fn start_monitor_loop(db: &camino::Utf8Path, socket: &str, fleet: &str, json: bool) -> Result<()> {
    let socket = (!socket.is_empty()).then_some(socket);
    match crate::monitor::start::ensure(db, socket, fleet) {
        Ok(true) if !json => print(&format!(
            "started the monitor loop of `{fleet}` (`cafleet monitor status` shows it)\n"
        )),
        Ok(_) => Ok(()),
        Err(err) => {
            let mut text = format!("warning: {}\n", err.message);
            for hint in &err.hints {
                text.push_str(&format!("hint: {hint}\n"));
            }
            eprint!("{text}");
            Ok(())
        }
    }
}

/// Refuses to start agents whose program is not installed: each would open a pane that
/// dies at once. One error names every missing program and who needs it.
fn check_programs(fleet: &crate::manifest::Fleet, plan: &Plan) -> Result<()> {
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for step in &plan.steps {
        if !matches!(
            step.action,
            plan::Action::Create { .. } | plan::Action::Recreate { .. }
        ) {
            continue;
        }
        let Some(agent) = fleet.agent(&step.name) else {
            continue;
        };
        // The fake is this very binary; on another host `doctor` checks its programs.
        if agent.spec.backend == crate::manifest::BackendName::Fake || agent.spec.host.is_some() {
            continue;
        }
        let Some(program) = agent.spec.argv.first() else {
            continue;
        };
        let path = agent
            .spec
            .env
            .get("PATH")
            .cloned()
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        if apply::find_program(program, &path, &agent.spec.cwd).is_none() {
            match missing.iter_mut().find(|(p, _)| p == program) {
                Some((_, who)) => who.push(agent.name.clone()),
                None => missing.push((program.clone(), vec![agent.name.clone()])),
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing
        .iter()
        .map(|(p, who)| format!("`{p}` (for {})", who.join(", ")))
        .collect();
    let mut err = Error::failure(format!("not installed or not on PATH: {}", list.join("; ")));
    for (program, _) in &missing {
        if let Some(install) = install_hint(program) {
            err = err.hint(install);
        }
    }
    Err(err.hint("nothing was started; `cafleet doctor` checks every backend"))
}

/// opencode falls back to its default agent, silently, when `--agent cafleet` names none:
/// say so before starting members that would lose their instructions that way.
fn warn_missing_opencode_agent(fleet: &crate::manifest::Fleet, plan: &Plan) {
    use crate::skills::{Agent, Layout, Scope};
    let env = |key: &str| std::env::var(key).ok();
    let starting: Vec<&crate::manifest::Agent> = plan
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.action,
                plan::Action::Create { .. } | plan::Action::Recreate { .. }
            )
        })
        .filter_map(|s| fleet.agent(&s.name))
        .filter(|a| a.spec.backend == crate::manifest::BackendName::Opencode)
        .collect();
    let has_preset = |scope: Scope| {
        Layout::resolve(Agent::Opencode, &scope, &env)
            .is_ok_and(|layout| layout.presets.iter().any(|(path, _)| path.exists()))
    };
    let missing: Vec<&str> = starting
        .iter()
        .filter(|a| !has_preset(Scope::User) && !has_preset(Scope::Project(a.spec.cwd.clone())))
        .map(|a| a.name.as_str())
        .collect();
    if !missing.is_empty() {
        let warning = format!(
            "warning: opencode has no `cafleet` agent for {}; it would start its default agent instead\nhint: install it with `cafleet skill install --agent opencode`\n",
            missing.join(", ")
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), warning.as_bytes());
    }
}

pub(crate) fn install_hint(program: &str) -> Option<String> {
    let package = match program {
        "claude" => "@anthropic-ai/claude-code",
        "codex" => "@openai/codex",
        "opencode" => "opencode-ai",
        _ => return None,
    };
    Some(format!(
        "install {program} with `npm install -g {package}`, or try the team on backend = \"fake\""
    ))
}

/// Hands every message still `queued` in the fleet to its courier, now that the agents
/// are back; returns how many.
fn announce_queued(
    registry: &crate::registry::Registry,
    db_path: &camino::Utf8Path,
    socket: &str,
    fleet: &str,
) -> Result<usize> {
    let row = registry.require_fleet(fleet)?;
    // Every queued message, also one whose deliverer died before recording why: the
    // courier re-reads under the agent's lock, so a message another one is already
    // announcing is never announced twice.
    let mut count = 0;
    for recipient in registry.recipients_with_pending(row.id)? {
        count += registry.pending_messages(row.id, &recipient)?.len();
    }
    if count > 0 {
        let socket = (!socket.is_empty()).then_some(socket);
        crate::broker::hand_over(db_path, socket, fleet)?;
    }
    Ok(count)
}

fn wait(
    registry: &mut crate::registry::Registry,
    servers: &apply::Servers,
    fleet: &str,
    plan: &Plan,
    timeout: Duration,
) -> Result<Vec<(String, String)>> {
    let row = registry.require_fleet(fleet)?;
    let declared: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| !matches!(s.action, plan::Action::Remove { .. }))
        .map(|s| s.name.as_str())
        .collect();
    let mut agents = Vec::new();
    for agent in registry.agents(row.id)? {
        if !declared.contains(&agent.name.as_str()) {
            continue;
        }
        let host = apply::host_of(&agent);
        // Left alone on a host that does not answer: `up` said so already.
        if host
            .as_ref()
            .is_some_and(|h| plan.unreachable.contains_key(h))
        {
            continue;
        }
        let backend = agent.backend.parse().map_err(Error::failure)?;
        let has_prompt = agent.spec().is_some_and(|s| !s.prompt.is_empty());
        agents.push((
            agent.name.clone(),
            agent.pane_id.clone().unwrap_or_default(),
            backend,
            has_prompt,
            host,
        ));
    }
    let laggards = apply::wait_ready(servers, &agents, timeout)?;
    for agent in registry.agents(row.id)? {
        let ready = declared.contains(&agent.name.as_str())
            && !laggards.iter().any(|(name, _)| *name == agent.name);
        if ready && agent.status == "starting" {
            registry.set_agent_status(agent.id, "idle", None)?;
        }
    }
    Ok(laggards)
}

/// Replaces this process with `tmux attach` to the session.
pub(crate) fn attach(tmux: &crate::tmux::Tmux, session: &str) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let mut cmd = tmux.interactive_command();
    cmd.args(["attach-session", "-t", &format!("={session}")]);
    let err = cmd.exec();
    Err(Error::failure(format!("cannot run tmux attach: {err}"))
        .hint("is tmux installed and on PATH?"))
}
