//! Executing a [`Plan`]: starting, recreating and removing agents' panes in tmux and
//! recording every step in the registry and its event log. It decides nothing — the plan
//! did — and is safe to re-run: each agent's row is written before its pane starts and
//! its pane is tagged before its program runs, so an `up` killed half way leaves state
//! the next `observe` understands.

mod hosts;
pub mod launch;
mod observe;
pub mod process;
mod status;
pub mod trust;

use std::io::Write;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::json;

pub use hosts::{Servers, host_of};
pub use observe::{FleetPanes, fleet_panes, fleet_panes_everywhere, observe};
pub use status::{
    AgentStatus, FleetView, UNREACHABLE, agent_status, fleet_status, fleet_view, pane_text,
    screen_state,
};

use crate::error::{Error, Result};
use crate::manifest::{Agent, Fleet, LaunchSpec, Role};
use crate::plan::{Action, Plan};
use crate::registry::Registry;
use crate::registry::agents::NewAgent;
use crate::registry::fleets::{FleetRow, NewFleet};
use crate::tmux::{Launch, PaneId, Split, Tmux};

pub const TAG_FLEET: &str = "@cafleet_fleet";
pub const TAG_MEMBER: &str = "@cafleet_member";
pub const TAG_HASH: &str = "@cafleet_hash";
pub const TAGS: [&str; 3] = [TAG_FLEET, TAG_MEMBER, TAG_HASH];

/// How long an agent gets to exit on SIGTERM before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// The tmux server a fleet lives on: `override_socket` (a name for `-L`, or a path with a
/// `/` for `-S`) when given, else the socket the fleet recorded, else the default server.
pub fn tmux_for(override_socket: Option<&str>, fleet_socket: &str) -> Tmux {
    let socket = override_socket
        .filter(|s| !s.is_empty())
        .unwrap_or(fleet_socket);
    if socket.is_empty() {
        Tmux::default_server()
    } else if socket.contains('/') {
        Tmux::at_path(socket)
    } else {
        Tmux::named(socket)
    }
}

/// Where `program` would be found: a path with a `/` as it is (relative to `cwd`),
/// otherwise the first executable of that name on `path`.
pub fn find_program(program: &str, path: &str, cwd: &Utf8Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let candidate = cwd.as_std_path().join(program);
        return executable(&candidate).then_some(candidate);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// What an agent needs to be started in a pane.
pub struct SpawnRequest<'a> {
    pub fleet: &'a FleetRow,
    pub name: &'a str,
    pub role: Role,
    pub description: &'a str,
    pub origin: &'a str,
    pub spec: &'a LaunchSpec,
    pub hash: &'a str,
    pub layout: &'a str,
    pub panes_per_window: usize,
    /// The size of the session's windows, if `spawn` has to open the session.
    pub window_size: (u16, u16),
}

/// Everything a spawn touches. `tmux` is the server the agent starts on (its host's,
/// for an agent with `host`).
pub struct Env<'a> {
    pub registry: &'a mut Registry,
    pub tmux: &'a Tmux,
    pub db_path: &'a Utf8Path,
}

/// The environment of an agent's pane: the spec's, the identity variables, and PATH with
/// this cafleet's folder first so `cafleet` in the pane is the same binary.
fn launch_env(
    fleet: &str,
    name: &str,
    spec: &LaunchSpec,
    db_path: &Utf8Path,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = spec
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("CAFLEET_FLEET".into(), fleet.into()));
    env.push(("CAFLEET_MEMBER".into(), name.into()));
    env.push(("CAFLEET_DATABASE_URL".into(), db_path.to_string()));
    if let Some(host) = &spec.host {
        // Tells the agent's own cafleet there that this is not the fleet's home: the
        // courier and delivery run where `up` ran.
        env.push((crate::broker::HOST_ENV.into(), host.clone()));
    }
    // Passed through from the environment of `up`/`run` (or of whoever restarts the
    // agent), onto the pane only: the values are never stored.
    for name in &spec.env_from {
        if let Ok(value) = std::env::var(name) {
            env.push((name.clone(), value));
        }
    }
    // On another host the agent runs the cafleet installed there, on that host's PATH.
    if !spec.env.contains_key("PATH") && spec.host.is_none() {
        let path = std::env::var("PATH").unwrap_or_default();
        let path = match std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|p| p.to_owned()))
        {
            Some(dir) => format!("{}:{path}", dir.display()),
            None => path,
        };
        env.push(("PATH".into(), path));
    }
    env
}

/// Starts one agent: records it as `starting`, opens its pane (a new session, a split of
/// the last window with room, or a new window), tags it, and records the pane.
pub fn spawn(env: &mut Env<'_>, req: &SpawnRequest<'_>) -> Result<PaneId> {
    let fleet = req.fleet;
    let spec_json = serde_json::to_string(req.spec).map_err(|e| Error::failure(e.to_string()))?;
    let agent_id = env.registry.upsert_agent(&NewAgent {
        fleet_id: fleet.id,
        name: req.name,
        role: req.role.as_str(),
        backend: req.spec.backend.as_str(),
        model: req.spec.model.as_deref(),
        description: req.description,
        origin: req.origin,
        config_hash: req.hash,
        spec_json: &spec_json,
    })?;
    // The pane runs the short launcher, never the agent's command line itself: see
    // `launch` (tmux refuses commands over ~16 KiB, and prompts are longer).
    let argv = match &req.spec.host {
        None => launch::pane_argv(req.hash)?,
        Some(_) => launch::remote_pane_argv(req.hash),
    };
    let mut launch = Launch::new(argv)
        .cwd(req.spec.cwd.as_std_path())
        .option(TAG_FLEET, fleet.name.as_str())
        .option(TAG_MEMBER, req.name)
        .option(TAG_HASH, req.hash)
        .remain_on_exit(true)
        .layout(req.layout)
        .window_size(req.window_size.0, req.window_size.1);
    for (key, value) in launch_env(&fleet.name, req.name, req.spec, env.db_path) {
        launch = launch.env(key, value);
    }
    let tmux = env.tmux;
    let spawned = match tmux.find_session(&fleet.session)? {
        None => tmux.new_session(&fleet.session, Some("agents"), &launch),
        Some(session) => {
            let windows = tmux.list_windows(session)?;
            match windows
                .iter()
                .rev()
                .find(|w| (w.panes as usize) < req.panes_per_window)
            {
                Some(window) => tmux.split_window(window.id, Split::Vertical, &launch),
                None => tmux.new_window(session, Some("agents"), &launch),
            }
        }
    }
    .map_err(|err| {
        let mut err = err;
        err.message = format!("failed to start a pane for `{}`: {}", req.name, err.message);
        err
    })?;
    env.registry.set_agent_pane(
        agent_id,
        &spawned.pane.to_string(),
        spawned.pid.map(i64::from),
    )?;
    env.registry.event(
        Some(fleet.id),
        Some(req.name),
        "spawn",
        json!({"pane": spawned.pane.to_string(), "pid": spawned.pid, "hash": req.hash, "argv0": req.spec.argv.first(), "host": req.spec.host}),
    )?;
    Ok(spawned.pane)
}

/// Kills an agent's pane and its whole process group — but only if the pane's tags still
/// name this agent: tmux reuses pane ids, and a reused id belongs to someone else.
/// Returns whether the pane was ours and is now gone.
pub fn kill_pane(tmux: &Tmux, pane: &str, fleet: &str, member: &str) -> Result<bool> {
    let Ok(pane_id) = pane.parse::<PaneId>() else {
        return Ok(false);
    };
    let Some(found) = tmux.pane(pane_id, &TAGS)? else {
        return Ok(false);
    };
    if found.option(TAG_FLEET) != Some(fleet) || found.option(TAG_MEMBER) != Some(member) {
        return Ok(false);
    }
    // On another host tmux's kill (a hang-up for the pane's processes) is all there is:
    // the pid is that host's, and nothing here may signal it.
    let Some(pid) = found.local_pid() else {
        tmux.kill_pane(pane_id)?;
        return Ok(true);
    };
    let found_pid = Some(pid);
    // Read before the pane goes: what marks the agent's processes wherever they went.
    let marker = found_pid.and_then(crate::apply::process::marker_of);
    tmux.kill_pane(pane_id)?;
    // Killing the pane hangs up its terminal; whatever the agent started in its own
    // process group (codex's helpers, a dev server) is ended here, by that group, and what
    // left the group (`setsid`, a daemon) by the variables it inherited.
    let ending = crate::apply::process::terminate(pid, KILL_GRACE)?;
    if let Some(marker) = &marker {
        crate::apply::process::terminate_marked(marker, KILL_GRACE);
    }
    if ending.left_something() {
        return Err(Error::failure(format!(
            "processes of `{member}` (process group {pid}) survived SIGKILL"
        ))
        .hint(format!(
            "look at them with `ps -g {pid}`; cafleet left them running"
        )));
    }
    Ok(true)
}

/// The outcome of [`run`], for `--json`.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub created: Vec<String>,
    pub recreated: Vec<String>,
    pub removed: Vec<String>,
    /// Agents left alone because their host could not be reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The old pane `up` ran in, when it was recreated or removed: for the caller to end
    /// with [`end_own_pane`] once it is done.
    #[serde(skip)]
    pub own_pane: Option<PaneId>,
}

/// Applies `plan` for `fleet`, printing one line a change.
pub fn run(
    registry: &mut Registry,
    servers: &Servers,
    fleet: &Fleet,
    socket: &str,
    db_path: &Utf8Path,
    plan: &Plan,
    out: &mut dyn Write,
) -> Result<Report> {
    let fleet_id = registry.upsert_fleet(&NewFleet {
        name: &fleet.name,
        origin: "manifest",
        manifest_path: Some(fleet.file.as_str()),
        session: &fleet.session,
        socket,
    })?;
    let row = registry.require_fleet(&fleet.name)?;
    registry.event(
        Some(fleet_id),
        None,
        "up.start",
        json!({"file": fleet.file, "summary": plan.summary()}),
    )?;
    let mut report = Report::default();
    // `up` run from an agent's own pane (a Director recreating itself): that pane is
    // ended last, by the caller, after everything else is done and printed.
    let caller: Option<String> = std::env::var("TMUX_PANE").ok();
    let is_caller = |pane: &str| caller.as_deref() == Some(pane);

    for stray in &plan.strays {
        if stray
            .host
            .as_ref()
            .is_some_and(|h| plan.unreachable.contains_key(h))
        {
            continue;
        }
        kill_pane(
            &servers.on(stray.host.as_deref())?,
            &stray.id,
            &fleet.name,
            &stray.member,
        )?;
        registry.event(
            Some(fleet_id),
            Some(&stray.member),
            "kill",
            json!({"pane": stray.id, "reason": "stray"}),
        )?;
    }
    // Steps that would touch a host ssh cannot reach are left for the next `up`.
    for step in &plan.steps {
        let changes = !matches!(step.action, Action::Keep { .. } | Action::Unmanaged);
        if changes && let Some(host) = step.blocked_by(plan) {
            let _ = writeln!(out, "skipped {}: host {host} is unreachable", step.name);
            report.skipped.push(step.name.clone());
        }
    }
    for step in &plan.steps {
        if step.blocked_by(plan).is_some() {
            continue;
        }
        match &step.action {
            Action::Remove { reason } => {
                match &step.pane {
                    Some(pane) if is_caller(pane) && step.pane_host.is_none() => {
                        report.own_pane = pane.parse().ok()
                    }
                    Some(pane) => {
                        kill_pane(
                            &servers.on(step.pane_host.as_deref())?,
                            pane,
                            &fleet.name,
                            &step.name,
                        )?;
                    }
                    None => {}
                }
                if let Some(agent) = registry.agent(fleet_id, &step.name)? {
                    registry.clear_agent_pane(agent.id, "removed", Some(reason))?;
                }
                registry.event(
                    Some(fleet_id),
                    Some(&step.name),
                    "remove",
                    json!({"reason": reason, "pane": step.pane}),
                )?;
                let _ = writeln!(out, "removed {}", step.name);
                report.removed.push(step.name.clone());
            }
            Action::Keep { drift } if !drift.is_empty() => {
                registry.event(
                    Some(fleet_id),
                    Some(&step.name),
                    "drift.kept",
                    json!({"changes": drift}),
                )?;
            }
            _ => {}
        }
    }
    for step in &plan.steps {
        let recreate = matches!(step.action, Action::Recreate { .. });
        if !recreate && !matches!(step.action, Action::Create { .. }) {
            continue;
        }
        if step.blocked_by(plan).is_some() {
            continue;
        }
        let Some(agent) = fleet.agent(&step.name) else {
            continue;
        };
        if let Some(pane) = &step.pane {
            // A dead pane kept by remain-on-exit, or the old pane of a recreate; the pane
            // this runs in is replaced first and ended last.
            if is_caller(pane) && step.pane_host.is_none() {
                report.own_pane = pane.parse().ok();
            } else {
                kill_pane(
                    &servers.on(step.pane_host.as_deref())?,
                    pane,
                    &fleet.name,
                    &step.name,
                )?;
            }
            registry.event(
                Some(fleet_id),
                Some(&step.name),
                "kill",
                json!({"pane": pane, "reason": if recreate { "recreate" } else { "dead" }}),
            )?;
        }
        let tmux = servers.for_spec(&agent.spec)?;
        let pane = spawn_agent(registry, &tmux, db_path, &row, fleet, agent).map_err(|err| {
            err.hint("what already started stays registered; run `cafleet up` again to continue")
        })?;
        let verb = if recreate { "recreated" } else { "created" };
        let on = agent
            .spec
            .host
            .as_ref()
            .map(|h| format!(" on {h}"))
            .unwrap_or_default();
        let _ = writeln!(out, "{verb} {} in {pane}{on}", step.name);
        if recreate {
            report.recreated.push(step.name.clone());
        } else {
            report.created.push(step.name.clone());
        }
    }
    registry.event(Some(fleet_id), None, "up.done", json!({"created": report.created.len(), "recreated": report.recreated.len(), "removed": report.removed.len(), "skipped": report.skipped}))?;
    Ok(report)
}

fn spawn_agent(
    registry: &mut Registry,
    tmux: &Tmux,
    db_path: &Utf8Path,
    row: &FleetRow,
    fleet: &Fleet,
    agent: &Agent,
) -> Result<PaneId> {
    let mut env = Env {
        registry,
        tmux,
        db_path,
    };
    spawn(
        &mut env,
        &SpawnRequest {
            fleet: row,
            name: &agent.name,
            role: agent.role,
            description: &agent.description,
            origin: "manifest",
            spec: &agent.spec,
            hash: &agent.hash,
            layout: &fleet.layout,
            panes_per_window: fleet.panes_per_window,
            window_size: fleet.window_size,
        },
    )
}

/// How long an agent's ready screen must stay before it counts: codex 0.171 draws its
/// composer for about half a second before its trust question appears over it.
pub const READY_FOR: Duration = Duration::from_secs(1);

/// The same for an opencode agent started with a prompt, counted from when its first
/// turn has ended (see [`crate::backend::screens::first_turn_unsafe`]).
pub const OPENCODE_READY_FOR: Duration = Duration::from_secs(2);

/// An agent `up --wait` waits for: its name, pane, backend, whether it was started with
/// a prompt, and its host (`None`: this machine).
pub type ReadyWait = (
    String,
    String,
    crate::manifest::BackendName,
    bool,
    Option<String>,
);

/// Waits until every named agent's pane has shown it is ready for [`READY_FOR`], or
/// `timeout` passes. Returns the agents that were not ready in time, each with what its
/// pane shows.
pub fn wait_ready(
    servers: &Servers,
    agents: &[ReadyWait],
    timeout: Duration,
) -> Result<Vec<(String, String)>> {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<&ReadyWait> = agents.iter().collect();
    let mut laggards = Vec::new();
    let mut ready_since: std::collections::HashMap<&str, Instant> = Default::default();
    loop {
        let mut still = Vec::new();
        for item in pending {
            let (name, pane, backend, has_prompt, host) = item;
            let looked = servers
                .on(host.as_deref())
                .and_then(|tmux| not_ready(&tmux, pane, *backend, *has_prompt));
            let looked = match looked {
                // Its host stopped answering: waiting longer will not tell.
                Err(err) if err.is_unreachable() => Some((err.message, true)),
                other => other?,
            };
            match looked {
                None => {
                    let since = *ready_since
                        .entry(name.as_str())
                        .or_insert_with(Instant::now);
                    let opencode = *backend == crate::manifest::BackendName::Opencode;
                    let needed = if opencode && *has_prompt {
                        OPENCODE_READY_FOR
                    } else {
                        READY_FOR
                    };
                    if since.elapsed() < needed {
                        still.push((item, name.clone(), "ready only just now".to_string()));
                    }
                }
                // An agent whose process ended will not become ready by waiting.
                Some((why, true)) => laggards.push((name.clone(), why)),
                Some((why, false)) => {
                    ready_since.remove(name.as_str());
                    still.push((item, name.clone(), why));
                }
            }
        }
        if still.is_empty() {
            return Ok(laggards);
        }
        if Instant::now() >= deadline {
            laggards.extend(still.into_iter().map(|(_, name, why)| (name, why)));
            return Ok(laggards);
        }
        pending = still.into_iter().map(|(item, _, _)| item).collect();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Why an agent is not ready yet, and whether that is final (its process ended), or
/// `None` when it is ready. `has_prompt`: the agent was started with a prompt it submits
/// by itself once up.
fn not_ready(
    tmux: &Tmux,
    pane: &str,
    backend: crate::manifest::BackendName,
    has_prompt: bool,
) -> Result<Option<(String, bool)>> {
    use crate::backend::screens::{Screen, classify};
    let Some(found) = pane
        .parse::<PaneId>()
        .ok()
        .map(|id| tmux.pane(id, &[]))
        .transpose()?
        .flatten()
    else {
        return Ok(Some(("its pane is gone".into(), true)));
    };
    if found.exited() {
        let why = match found.dead_status {
            Some(code) => format!("it exited with status {code}"),
            None => "its process exited".into(),
        };
        return Ok(Some((why, true)));
    }
    if backend == crate::manifest::BackendName::Command {
        // Any program: running is all "ready" can mean.
        return Ok(None);
    }
    let captured = tmux.capture_pane(found.id, None)?;
    if has_prompt && crate::backend::screens::prompt_pending(backend, &captured) {
        return Ok(Some((
            "still starting (its prompt is not submitted yet)".into(),
            false,
        )));
    }
    if has_prompt
        && crate::backend::screens::first_turn_unsafe(backend)
        && classify(backend, &captured) == Screen::Working
    {
        return Ok(Some((
            "busy with its first prompt (it drops what is typed meanwhile)".into(),
            false,
        )));
    }
    let why = match classify(backend, &captured) {
        Screen::Composer | Screen::Working => return Ok(None),
        Screen::Login => "it shows a sign-in screen: log it in once by hand",
        Screen::Trust => "it asks whether to trust the folder: answer it once by hand",
        Screen::Prompt => "it shows a question",
        Screen::Unknown => "still starting",
    };
    Ok(Some((why.into(), false)))
}

/// What `down` did. `own_pane` is the pane `down` was run from (a Director bringing its
/// own team down): it is left for last, for the caller to end with
/// [`end_own_pane`] once everything is recorded and printed — ending it first would end
/// `down` itself half way. `unreached` lists the hosts ssh could not reach, each with the
/// agents left there as they were (marked `unreachable`; the next `down` tries again).
#[derive(Debug, Default)]
pub struct DownReport {
    pub stopped: usize,
    pub own_pane: Option<PaneId>,
    pub unreached: Vec<(String, Vec<String>)>,
}

/// `down`: kills every pane tagged with the fleet (and only those) on every server of
/// `servers`, the session if nothing else is left in it, marks the agents stopped, and
/// checks nothing tagged is left. Agents on a host that cannot be reached are marked
/// `unreachable` and reported; the rest goes down all the same.
pub fn down(
    registry: &mut Registry,
    servers: &Servers,
    fleet: &FleetRow,
    out: &mut dyn Write,
) -> Result<DownReport> {
    registry.event(Some(fleet.id), None, "down.start", json!({}))?;
    let mut report = DownReport::default();
    let caller: Option<PaneId> = std::env::var("TMUX_PANE").ok().and_then(|p| p.parse().ok());
    let mut unreached: std::collections::BTreeMap<String, String> = Default::default();
    for (host, tmux) in servers.all() {
        match down_on(
            registry,
            tmux,
            fleet,
            caller.filter(|_| host.is_none()),
            &mut report,
            out,
        ) {
            Ok(()) => {}
            Err(err) if err.is_unreachable() => {
                if let Some(host) = host {
                    unreached.insert(host.to_string(), err.message);
                }
            }
            Err(err) => return Err(err),
        }
    }
    for agent in registry.agents(fleet.id)? {
        if agent.status == "removed" {
            continue;
        }
        match host_of(&agent).filter(|h| unreached.contains_key(h)) {
            Some(host) => {
                let why = format!("host {host} could not be reached by `cafleet down`");
                registry.set_agent_status(agent.id, "unreachable", Some(&why))?;
                match report.unreached.iter_mut().find(|(h, _)| *h == host) {
                    Some((_, names)) => names.push(agent.name.clone()),
                    None => report.unreached.push((host, vec![agent.name.clone()])),
                }
            }
            None => registry.clear_agent_pane(agent.id, "stopped", Some("cafleet down"))?,
        }
    }
    for (host, why) in &unreached {
        let names = report
            .unreached
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, n)| n.join(", "))
            .unwrap_or_default();
        let left = if names.is_empty() {
            String::new()
        } else {
            format!("; left as they were: {names}")
        };
        let _ = writeln!(out, "could not reach host {host}{left} ({why})");
        registry.event(
            Some(fleet.id),
            None,
            "down.unreachable",
            json!({"host": host, "reason": why}),
        )?;
    }
    registry.set_fleet_status(fleet.id, "down")?;
    registry.event(
        Some(fleet.id),
        None,
        "down.done",
        json!({"killed": report.stopped, "unreached": unreached.keys().collect::<Vec<_>>()}),
    )?;
    Ok(report)
}

/// `down` on one server: kills the fleet's panes there, then its session if nothing
/// else is left in it, and checks nothing tagged is left.
fn down_on(
    registry: &mut Registry,
    tmux: &Tmux,
    fleet: &FleetRow,
    caller: Option<PaneId>,
    report: &mut DownReport,
    out: &mut dyn Write,
) -> Result<()> {
    let on = tmux.host().map(|h| format!(" on {h}")).unwrap_or_default();
    let panes = fleet_panes(tmux, &fleet.name)?;
    let mut own_here = None;
    for pane in &panes {
        let member = pane.option(TAG_MEMBER).unwrap_or_default().to_string();
        if pane.option(TAG_HASH).is_none() {
            // A pane cafleet adopted (`fleet create` registers the caller's own pane) but
            // did not start: untag it and leave it running.
            for tag in TAGS {
                tmux.run(crate::tmux::Cmd::unset_pane_option(pane.id, tag)?)?;
            }
            let _ = writeln!(
                out,
                "released {member} ({}{on}), which cafleet did not start",
                pane.id
            );
            continue;
        }
        if Some(pane.id) == caller {
            report.own_pane = Some(pane.id);
            own_here = Some(pane.id);
            report.stopped += 1;
            registry.event(
                Some(fleet.id),
                Some(&member),
                "kill",
                json!({"pane": pane.id.to_string(), "reason": "down, run from this pane: ended last"}),
            )?;
            let _ = writeln!(out, "stopping {member} ({}) last: down runs in it", pane.id);
            continue;
        }
        if kill_pane(tmux, &pane.id.to_string(), &fleet.name, &member)? {
            report.stopped += 1;
            registry.event(
                Some(fleet.id),
                Some(&member),
                "kill",
                json!({"pane": pane.id.to_string(), "reason": "down", "host": tmux.host()}),
            )?;
            let _ = writeln!(out, "stopped {member} ({}{on})", pane.id);
        }
    }
    if own_here.is_none()
        && let Some(session) = tmux.find_session(&fleet.session)?
    {
        let untagged = tmux
            .list_panes(&TAGS)?
            .into_iter()
            .any(|p| p.session == session && p.option(TAG_FLEET) != Some(fleet.name.as_str()));
        if !untagged {
            tmux.kill_session(session)?;
        }
    }
    let left: Vec<String> = fleet_panes(tmux, &fleet.name)?
        .iter()
        .filter(|p| Some(p.id) != own_here)
        .map(|p| p.id.to_string())
        .collect();
    if !left.is_empty() {
        return Err(Error::failure(format!(
            "panes of `{}` are still there after down{on}: {}",
            fleet.name,
            left.join(", ")
        ))
        .hint("run `cafleet down` again; if they stay, kill them with `tmux kill-pane -t ID`"));
    }
    Ok(())
}

/// Ends the pane `down` ran in, after everything else. Its process group is ours too,
/// so only tmux closes it: the hang-up ends the agent and this process with it.
pub fn end_own_pane(tmux: &Tmux, pane: PaneId) {
    let _ = tmux.kill_pane(pane);
}

/// The registry path written into agents' environment, absolute.
pub fn absolute_db(path: &Utf8Path) -> Utf8PathBuf {
    if crate::registry::location::is_postgres(path) {
        return path.to_owned();
    }
    std::path::absolute(path.as_std_path())
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .unwrap_or_else(|| path.to_owned())
}
