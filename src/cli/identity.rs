//! Who is speaking (cli.md "Identity"), and the lane an agent stays in.
//!
//! **Inside an agent's pane** the identity comes from the pane itself: `TMUX` and
//! `TMUX_PANE` lead to the pane, whose `@cafleet_fleet`/`@cafleet_member` tags (set by
//! `up`, `member create` and `fleet create`) name the agent. The pane counts only if its
//! process is an ancestor of this one (read from `/proc` where there is one), so a
//! `TMUX_PANE` copied from another pane names nobody. `CAFLEET_FLEET`/`CAFLEET_MEMBER`
//! are then ignored: an agent that changes or empties them is still itself.
//!
//! **Where tmux cannot be asked** — a codex agent runs its commands in a sandbox with no
//! access to the tmux socket (`CODEX_SANDBOX_NETWORK_DISABLED=1`), or the server does
//! not answer within 2 s — the identity falls back to `CAFLEET_FLEET` and
//! `CAFLEET_MEMBER`, with the same lane rules. A `CAFLEET_MEMBER` that is set but empty,
//! or set without `CAFLEET_FLEET`, is refused rather than read as "no agent".
//!
//! **The lane**: an agent acts only in its own fleet (`--fleet` may repeat it, not change
//! it), speaks only as itself (`--as` likewise), and only the Director and the monitor
//! (their role as recorded in the registry) manage members: create, delete, prompt,
//! ping, nudge, capture/logs, and `down`/`up` of the fleet.
//!
//! **Operators** — no agent pane and no `CAFLEET_MEMBER` — say `--fleet` and `--as NAME`
//! and are then treated exactly as that member; with one fleet registered `--fleet` may
//! be left out. Names given with `--as` are checked like member names.
//!
//! `operator` — the person at the web UI or a shell outside every pane — is a speaker in
//! every fleet without an agent row: `--as operator` reads the replies agents sent to it.
//!
//! The lane keeps a careless or prompt-injected agent in its place; it is not a wall
//! against a process of the same user set on breaking out (one could open the registry
//! file directly). Unknown names are "not found" (exit 3) with the names that do exist.

use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::manifest::is_valid_name;
use crate::registry::Registry;
use crate::registry::agents::AgentRow;
use crate::registry::fleets::FleetRow;
use crate::team::OPERATOR;

pub const FLEET_ENV: &str = "CAFLEET_FLEET";
pub const MEMBER_ENV: &str = "CAFLEET_MEMBER";

/// How long the pane's own tmux server gets to say whose pane this is.
const PANE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// `--fleet` and `--as`, shared by the message commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IdentityArgs {
    /// The fleet (default: this agent's own, else $CAFLEET_FLEET, else the only fleet in
    /// the registry)
    #[arg(long, value_name = "NAME")]
    pub fleet: Option<String>,

    /// Speak as this member (operators only; inside an agent's pane it is that agent)
    #[arg(long = "as", value_name = "MEMBER")]
    pub member: Option<String>,
}

/// A set, non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where an agent's identity was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The tags of the tmux pane this process runs in.
    Pane,
    /// `CAFLEET_FLEET`/`CAFLEET_MEMBER`, because tmux could not be asked.
    Env,
}

/// The agent running this command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub fleet: String,
    pub member: String,
    pub source: Source,
}

/// The agent this command runs for, or `None` for an operator. Worked out once a process.
pub fn caller() -> Result<Option<Agent>> {
    static CALLER: OnceLock<Result<Option<Agent>>> = OnceLock::new();
    CALLER.get_or_init(detect).clone()
}

fn detect() -> Result<Option<Agent>> {
    if let Some(agent) = from_pane() {
        return Ok(Some(agent));
    }
    from_env()
}

/// The agent named by the tags of the pane this process runs in, if tmux answers and the
/// pane is an agent's.
fn from_pane() -> Option<Agent> {
    let pane: crate::tmux::PaneId = env("TMUX_PANE")?.trim().parse().ok()?;
    // `$TMUX` is `SOCKET_PATH,SERVER_PID,SESSION`.
    let tmux_var = env("TMUX")?;
    let socket = tmux_var.rsplitn(3, ',').last()?;
    if socket.is_empty() {
        return None;
    }
    let tmux = crate::tmux::Tmux::at_path(socket).with_timeout(PANE_LOOKUP_TIMEOUT);
    let found = tmux
        .pane(pane, &[crate::apply::TAG_FLEET, crate::apply::TAG_MEMBER])
        .ok()??;
    if crate::apply::process::has_proc() {
        let ours = found
            .pid
            .is_some_and(|pid| crate::apply::process::ancestry().contains(&pid));
        if !ours {
            return None;
        }
    }
    Some(Agent {
        fleet: found.option(crate::apply::TAG_FLEET)?.to_string(),
        member: found.option(crate::apply::TAG_MEMBER)?.to_string(),
        source: Source::Pane,
    })
}

/// The agent named by the identity variables; none when `CAFLEET_MEMBER` is unset.
fn from_env() -> Result<Option<Agent>> {
    let Some(raw) = std::env::var_os(MEMBER_ENV) else {
        return Ok(None);
    };
    let member = raw.to_str().map(str::trim).unwrap_or_default();
    match env(FLEET_ENV) {
        Some(fleet) if !member.is_empty() => Ok(Some(Agent {
            fleet,
            member: member.to_string(),
            source: Source::Env,
        })),
        _ => Err(Error::usage(format!(
            "{MEMBER_ENV} is set but this shell's identity is incomplete ({MEMBER_ENV} and {FLEET_ENV} must both name it)"
        ))
        .hint(format!(
            "an agent's pane has both set by cafleet; an operator unsets {MEMBER_ENV} and passes --fleet/--as"
        ))),
    }
}

/// A name given on the command line for a member: the member-name spelling, so nothing
/// else (escape sequences, spaces) reaches the registry or the screen.
pub fn check_name(flag: &str, name: &str) -> Result<()> {
    if is_valid_name(name) && name.len() <= 32 {
        return Ok(());
    }
    Err(
        Error::usage(format!("invalid {flag} `{}`", crate::safe_text::line(name))).hint(
            "a member name is 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or digit",
        ),
    )
}

/// The fleet this command may act in: an agent's own (a different `flag` is refused), or
/// for an operator `flag`, else `$CAFLEET_FLEET`, else none (the caller picks the only
/// registered fleet).
pub fn lane_fleet(flag: Option<&str>) -> Result<Option<String>> {
    match caller()? {
        Some(agent) => {
            if let Some(other) = flag.filter(|f| *f != agent.fleet) {
                return Err(Error::usage(format!(
                    "this pane is `{}` of fleet `{}`; it cannot act in fleet `{}`",
                    agent.member,
                    agent.fleet,
                    crate::safe_text::line(other)
                ))
                .hint("an agent works only in its own fleet: drop --fleet"));
            }
            Ok(Some(agent.fleet))
        }
        None => Ok(flag.map(String::from).or_else(|| env(FLEET_ENV))),
    }
}

/// Refuses `what` (member create, delete, prompt, …) unless the caller is an operator or
/// the Director or monitor of `fleet`, as the registry records its role.
pub fn require_manager(registry: &Registry, fleet: &FleetRow, what: &str) -> Result<()> {
    let Some(agent) = caller()? else {
        return Ok(());
    };
    let role = registry
        .agent(fleet.id, &agent.member)?
        .filter(|row| row.fleet_id == fleet.id && agent.fleet == fleet.name)
        .map(|row| row.role);
    if matches!(role.as_deref(), Some("director" | "monitor")) {
        return Ok(());
    }
    Err(Error::failure(format!(
        "`{}` is a member of fleet `{}`; only the Director and the monitor may {what}",
        agent.member, agent.fleet
    ))
    .hint("ask the Director: cafleet message send --to director \"…\""))
}

impl IdentityArgs {
    /// The fleet this command acts in (see [`lane_fleet`]), or the only one registered.
    pub fn fleet(&self, registry: &Registry) -> Result<FleetRow> {
        resolve_fleet(registry, lane_fleet(self.fleet.as_deref())?)
    }

    /// The fleet and the speaking member; the member must exist in the fleet. Inside an
    /// agent's pane that is the agent: `--as` may repeat the name but not change it, so
    /// no agent can read, acknowledge or send as another.
    pub fn speaker(&self, registry: &Registry) -> Result<(FleetRow, AgentRow)> {
        let name = self.speaking_name()?;
        let fleet = self.fleet(registry)?;
        let member = resolve_member(registry, &fleet, name)?;
        Ok((fleet, member))
    }

    /// Like [`IdentityArgs::speaker`], for commands that only read history: the fleet
    /// may also be a deleted one.
    pub fn reader(&self, registry: &Registry) -> Result<(FleetRow, AgentRow)> {
        let name = self.speaking_name()?;
        let fleet = match lane_fleet(self.fleet.as_deref())? {
            Some(name) => registry.history_fleet(&name)?,
            None => resolve_fleet(registry, None)?,
        };
        let member = resolve_member(registry, &fleet, name)?;
        Ok((fleet, member))
    }

    /// Who speaks: inside an agent's pane the agent (`--as` may repeat its name, not
    /// change it), else `--as`, checked like a member name.
    fn speaking_name(&self) -> Result<Option<String>> {
        if let Some(name) = &self.member {
            check_name("--as name", name)?;
        }
        Ok(match caller()? {
            Some(agent) => {
                if let Some(other) = self.member.as_deref().filter(|m| *m != agent.member) {
                    return Err(Error::usage(format!(
                        "this pane is `{}`; it cannot speak as `{other}`",
                        agent.member
                    ))
                    .hint("an agent reads and acknowledges only its own messages; drop --as"));
                }
                Some(agent.member)
            }
            None => self.member.clone(),
        })
    }
}

/// The fleet called `name`, or with no name the registry's only fleet.
pub fn resolve_fleet(registry: &Registry, name: Option<String>) -> Result<FleetRow> {
    if let Some(name) = name {
        return registry.require_fleet(&name);
    }
    let mut fleets = registry.fleets()?;
    match fleets.len() {
        0 => Err(Error::not_found("no fleets are registered")
            .hint("bring one up with `cafleet up FILE` or `cafleet fleet create`")),
        1 => Ok(fleets.remove(0)),
        n => {
            let names: Vec<String> = fleets.into_iter().map(|f| f.name).collect();
            Err(
                Error::usage(format!("{n} fleets are registered; which one?")).hint(format!(
                    "pass --fleet NAME or set {FLEET_ENV}; registered fleets: {}",
                    names.join(", ")
                )),
            )
        }
    }
}

/// The operator as a speaker: a name with no agent row, no pane and no backend.
pub fn operator(fleet: &FleetRow) -> AgentRow {
    AgentRow {
        id: 0,
        fleet_id: fleet.id,
        name: OPERATOR.to_string(),
        role: OPERATOR.to_string(),
        backend: String::new(),
        model: None,
        description: "the person at the web UI or a shell outside the fleet's panes".into(),
        origin: "cli".into(),
        config_hash: None,
        spec_json: None,
        pane_id: None,
        pane_pid: None,
        status: "idle".into(),
        status_reason: None,
        status_since: fleet.created_at.clone(),
        status_signal: "command".into(),
        hook_at: None,
        created_at: fleet.created_at.clone(),
    }
}

/// The member called `name` in `fleet` (or `operator`); no name is a usage error listing
/// the members.
pub fn resolve_member(
    registry: &Registry,
    fleet: &FleetRow,
    name: Option<String>,
) -> Result<AgentRow> {
    if let Some(name) = name {
        if name == OPERATOR {
            return Ok(operator(fleet));
        }
        return registry.require_agent(fleet.id, &fleet.name, &name);
    }
    let names: Vec<String> = registry
        .agents(fleet.id)?
        .into_iter()
        .filter(|a| a.status != "removed")
        .map(|a| a.name)
        .collect();
    let known = if names.is_empty() {
        format!("fleet `{}` has no members", fleet.name)
    } else {
        format!("members of `{}`: {}", fleet.name, names.join(", "))
    };
    Err(Error::usage("who is speaking? no member given")
        .hint(format!(
            "pass --as MEMBER or set {MEMBER_ENV} (agents started by cafleet have it)"
        ))
        .hint(known))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::registry::fleets::NewFleet;

    fn fleet(reg: &mut Registry, name: &str) {
        reg.upsert_fleet(&NewFleet {
            name,
            origin: "cli",
            manifest_path: None,
            session: name,
            socket: "",
        })
        .unwrap();
    }

    #[test]
    fn fleet_defaults_to_the_only_one() {
        let mut reg = Registry::in_memory().unwrap();
        let err = resolve_fleet(&reg, None).unwrap_err();
        assert_eq!(err.kind, Kind::NotFound);
        fleet(&mut reg, "alpha");
        assert_eq!(resolve_fleet(&reg, None).unwrap().name, "alpha");
        fleet(&mut reg, "beta");
        let err = resolve_fleet(&reg, None).unwrap_err();
        assert_eq!(err.kind, Kind::Usage);
        assert!(err.hints[0].contains("alpha, beta"), "{:?}", err.hints);
        let err = resolve_fleet(&reg, Some("gamma".into())).unwrap_err();
        assert_eq!(err.kind, Kind::NotFound);
        assert!(err.hints[0].contains("alpha, beta"));
    }

    #[test]
    fn member_is_required_and_must_exist() {
        let mut reg = Registry::in_memory().unwrap();
        fleet(&mut reg, "alpha");
        let f = reg.require_fleet("alpha").unwrap();
        let err = resolve_member(&reg, &f, None).unwrap_err();
        assert_eq!(err.kind, Kind::Usage);
        let err = resolve_member(&reg, &f, Some("ghost".into())).unwrap_err();
        assert_eq!(err.kind, Kind::NotFound);
        let me = resolve_member(&reg, &f, Some("operator".into())).unwrap();
        assert_eq!(me.name, "operator");
    }
}
