//! Who is speaking (cli.md "Identity"): the fleet from `--fleet`, else `$CAFLEET_FLEET`,
//! else the only fleet in the registry; the member from `--as`, else `$CAFLEET_MEMBER`.
//! Inside a pane both variables are set by `up`/`member create`, so agents pass no ids;
//! an operator outside one says `--as NAME` and is then treated exactly as that member.
//! Unknown names are "not found" (exit 3) with the names that do exist.
//!
//! `operator` — the person at the web UI or a shell outside every pane — is a speaker in
//! every fleet without an agent row: `--as operator` reads the replies agents sent to it.

use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::agents::AgentRow;
use crate::registry::fleets::FleetRow;
use crate::team::OPERATOR;

pub const FLEET_ENV: &str = "CAFLEET_FLEET";
pub const MEMBER_ENV: &str = "CAFLEET_MEMBER";

/// `--fleet` and `--as`, shared by the message commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IdentityArgs {
    /// The fleet (default: $CAFLEET_FLEET, else the only fleet in the registry)
    #[arg(long, value_name = "NAME")]
    pub fleet: Option<String>,

    /// Speak as this member (default: $CAFLEET_MEMBER, set in every agent's pane)
    #[arg(long = "as", value_name = "MEMBER")]
    pub member: Option<String>,
}

/// A set, non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl IdentityArgs {
    /// The fleet named by the flag or the environment, or the only one registered.
    pub fn fleet(&self, registry: &Registry) -> Result<FleetRow> {
        resolve_fleet(registry, self.fleet.clone().or_else(|| env(FLEET_ENV)))
    }

    /// The fleet and the speaking member; the member must exist in the fleet.
    pub fn speaker(&self, registry: &Registry) -> Result<(FleetRow, AgentRow)> {
        self.refuse_impersonation()?;
        let fleet = self.fleet(registry)?;
        let member = resolve_member(
            registry,
            &fleet,
            self.member.clone().or_else(|| env(MEMBER_ENV)),
        )?;
        Ok((fleet, member))
    }

    /// Like [`IdentityArgs::speaker`], for commands that only read history: a fleet
    /// named by the flag or the environment may also be a deleted one.
    pub fn reader(&self, registry: &Registry) -> Result<(FleetRow, AgentRow)> {
        self.refuse_impersonation()?;
        let fleet = match self.fleet.clone().or_else(|| env(FLEET_ENV)) {
            Some(name) => registry.history_fleet(&name)?,
            None => resolve_fleet(registry, None)?,
        };
        let member = resolve_member(
            registry,
            &fleet,
            self.member.clone().or_else(|| env(MEMBER_ENV)),
        )?;
        Ok((fleet, member))
    }
}

impl IdentityArgs {
    /// Inside an agent's pane (`CAFLEET_MEMBER` set) the agent is who it is: `--as` and
    /// `--fleet` may repeat that identity but not change it, so no agent can read or
    /// acknowledge another's messages. Operators outside a pane have no such variable.
    fn refuse_impersonation(&self) -> Result<()> {
        let Some(me) = env(MEMBER_ENV) else {
            return Ok(());
        };
        if let Some(other) = self.member.as_deref().filter(|m| *m != me) {
            return Err(Error::usage(format!(
                "this pane is `{me}` ({MEMBER_ENV}); it cannot speak as `{other}`"
            ))
            .hint("an agent reads and acknowledges only its own messages; drop --as"));
        }
        if let (Some(mine), Some(other)) = (env(FLEET_ENV), self.fleet.as_deref())
            && other != mine
        {
            return Err(Error::usage(format!(
                "this pane belongs to fleet `{mine}` ({FLEET_ENV}); it cannot act in `{other}`"
            ))
            .hint("drop --fleet, or run the command outside the agent's pane"));
        }
        Ok(())
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
        created_at: fleet.created_at.clone(),
    }
}

/// The member called `name` in `fleet` (or `operator`); no name is a usage error listing the members.
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
