//! Reconcile planning: what `up` will do, as plain data. [`diff`] is a pure function of
//! the validated fleet file and what was observed in tmux and the registry, so nearly all
//! reconcile logic is tested without tmux; `apply` executes a [`Plan`], and `plan` /
//! `up --dry-run` only print it. A fleet is in sync when the plan changes nothing and
//! keeps no drift (`plan` exits 0); drift kept unapplied (the Director's, `--no-recreate`)
//! is not "up to date".

use std::collections::HashSet;
use std::fmt::Write;

use serde::Serialize;

use crate::manifest::{Agent, Fleet, LaunchSpec, Role};

/// One agent as found before planning: its registry row (if any) and its pane (if any).
#[derive(Debug, Clone)]
pub struct ObservedAgent {
    pub name: String,
    pub role: Role,
    /// `manifest` (declared by a fleet file) or `cli` (added by `member create`).
    pub origin: String,
    /// The registry state, e.g. `starting`, `idle`, `stopped`, `removed`.
    pub status: String,
    pub hash: Option<String>,
    pub spec: Option<LaunchSpec>,
    pub pane: Option<ObservedPane>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedPane {
    pub id: String,
    /// The pane exists and its process has not exited.
    pub alive: bool,
    /// The config hash the pane was tagged with when it was started.
    pub hash: Option<String>,
}

/// A pane tagged with this fleet that no registry agent owns (for example left by an
/// `up` that was killed between starting the pane and recording it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrayPane {
    pub id: String,
    pub member: String,
    /// The host the pane is on (`None`: this machine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub agents: Vec<ObservedAgent>,
    pub strays: Vec<StrayPane>,
    /// Hosts ssh could not reach, with why: their agents keep what the registry says,
    /// and `up` leaves them alone.
    pub unreachable: std::collections::BTreeMap<String, String>,
}

/// The flags of `up` that change the plan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub no_recreate: bool,
    pub force_recreate: bool,
    pub recreate: Vec<String>,
    pub remove_orphans: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Start the agent: it has no live pane.
    Create { reason: String },
    /// Kill the agent's pane and start it again with the new spec.
    Recreate { changes: Vec<String> },
    /// Leave it running.
    Keep {
        /// Drift that was found but not applied (the Director, or `--no-recreate`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        drift: Vec<String>,
    },
    /// Kill its pane and mark it removed.
    Remove { reason: String },
    /// Added with `member create`; kept without `--remove-orphans`.
    Unmanaged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub role: Role,
    #[serde(flatten)]
    pub action: Action,
    /// The pane the step acts on, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pane: Option<String>,
    /// The host that pane is on (`None`: this machine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pane_host: Option<String>,
    /// The host the agent runs on once started (`None`: this machine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Step {
    /// The unreachable host this step would have to touch, if any: `up` skips the step.
    pub fn blocked_by<'a>(&'a self, plan: &'a Plan) -> Option<&'a str> {
        let touches_pane = !matches!(self.action, Action::Keep { .. } | Action::Unmanaged);
        let starts = matches!(self.action, Action::Create { .. } | Action::Recreate { .. });
        [
            self.pane_host.as_deref().filter(|_| touches_pane),
            self.host.as_deref().filter(|_| starts),
        ]
        .into_iter()
        .flatten()
        .find(|h| plan.unreachable.contains_key(*h))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub fleet: String,
    /// Removals first, then the rest in start order.
    pub steps: Vec<Step>,
    /// Tagged panes no agent owns; `apply` kills them.
    pub strays: Vec<StrayPane>,
    /// Hosts ssh could not reach, with why: steps that touch them are skipped.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unreachable: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub recreate: usize,
    pub remove: usize,
    pub unchanged: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            match step.action {
                Action::Create { .. } => s.create += 1,
                Action::Recreate { .. } => s.recreate += 1,
                Action::Remove { .. } => s.remove += 1,
                Action::Keep { .. } | Action::Unmanaged => s.unchanged += 1,
            }
        }
        s.remove += self.strays.len();
        s
    }

    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        let s = self.summary();
        s.create + s.recreate + s.remove > 0
    }

    /// Agents whose drift is kept, not applied (the Director, `--no-recreate`): name,
    /// role and what drifted.
    pub fn kept_drift(&self) -> Vec<(&str, Role, &[String])> {
        self.steps
            .iter()
            .filter_map(|step| match &step.action {
                Action::Keep { drift } if !drift.is_empty() => {
                    Some((step.name.as_str(), step.role, drift.as_slice()))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether the fleet matches its file: nothing to change and no drift kept.
    pub fn in_sync(&self) -> bool {
        !self.has_changes() && self.kept_drift().is_empty()
    }

    /// `N drifted agent(s) not applied: NAME (CHANGES); …`, or `None` when none is kept.
    pub fn kept_drift_line(&self) -> Option<String> {
        let kept = self.kept_drift();
        if kept.is_empty() {
            return None;
        }
        let names: Vec<String> = kept
            .iter()
            .map(|(name, _, drift)| format!("{name} ({})", drift.join("; ")))
            .collect();
        let flags: Vec<String> = kept
            .iter()
            .map(|(name, role, _)| {
                if *role == Role::Director {
                    format!("--recreate {name}")
                } else {
                    "up without --no-recreate".to_string()
                }
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        Some(format!(
            "{} drifted agent{} not applied: {}; use {}",
            kept.len(),
            if kept.len() == 1 { "" } else { "s" },
            names.join(", "),
            flags.join(" or ")
        ))
    }

    /// The terraform-style listing: one line a step, then the `Plan:` line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            let on = step
                .host
                .as_ref()
                .map(|h| format!(" on {h}"))
                .unwrap_or_default();
            let who = format!("{} ({}){on}", step.name, step.role);
            let _ = match &step.action {
                Action::Create { reason } => writeln!(out, "+ create {who}: {reason}"),
                Action::Recreate { changes } => {
                    writeln!(out, "~ recreate {who} ({})", changes.join("; "))
                }
                Action::Keep { drift } if drift.is_empty() => writeln!(out, "= keep {who}"),
                Action::Keep { drift } => {
                    let flag = if step.role == Role::Director {
                        format!("--recreate {}", step.name)
                    } else {
                        "up without --no-recreate".to_string()
                    };
                    writeln!(
                        out,
                        "= keep {who}, drifted ({}); not applied: use {flag}",
                        drift.join("; ")
                    )
                }
                Action::Remove { reason } => writeln!(out, "- remove {who}: {reason}"),
                Action::Unmanaged => writeln!(
                    out,
                    "? unmanaged {who}: added with `cafleet member create`; --remove-orphans removes it"
                ),
            };
        }
        for stray in &self.strays {
            let on = stray
                .host
                .as_ref()
                .map(|h| format!(" on {h}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- remove stray pane {}{on} tagged `{}`",
                stray.id, stray.member
            );
        }
        for (host, why) in &self.unreachable {
            let skipped: Vec<&str> = self
                .steps
                .iter()
                .filter(|s| s.blocked_by(self) == Some(host.as_str()))
                .map(|s| s.name.as_str())
                .collect();
            let what = if skipped.is_empty() {
                "nothing to change there".to_string()
            } else {
                format!("skipped: {}", skipped.join(", "))
            };
            let _ = writeln!(out, "! host {host} is unreachable ({what}): {why}");
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to recreate, {} to remove, {} unchanged.",
            s.create, s.recreate, s.remove, s.unchanged
        );
        out
    }
}

/// Decides, per agent, what `up` must do to make tmux and the registry match `fleet`.
pub fn diff(fleet: &Fleet, observed: &Observed, options: &Options) -> Plan {
    let declared: HashSet<&str> = fleet.agents.iter().map(|a| a.name.as_str()).collect();
    let mut steps = Vec::new();

    // Removals first, so a recreated name never meets its old pane.
    for o in &observed.agents {
        if declared.contains(o.name.as_str()) || o.status == "removed" {
            continue;
        }
        let live_pane = o.pane.as_ref().filter(|p| p.alive).map(|p| p.id.clone());
        let action = if o.origin == "cli" {
            if options.remove_orphans {
                Action::Remove {
                    reason: "not in the fleet file (--remove-orphans)".into(),
                }
            } else if live_pane.is_some() {
                Action::Unmanaged
            } else {
                continue;
            }
        } else {
            Action::Remove {
                reason: "no longer in the fleet file".into(),
            }
        };
        let host = o.spec.as_ref().and_then(|s| s.host.clone());
        steps.push(Step {
            name: o.name.clone(),
            role: o.role,
            action,
            pane: o.pane.as_ref().map(|p| p.id.clone()),
            pane_host: host.clone().filter(|_| o.pane.is_some()),
            host,
        });
    }

    for agent in &fleet.agents {
        let o = observed.agents.iter().find(|o| o.name == agent.name);
        let action = decide(agent, o, options);
        let pane = o.and_then(|o| o.pane.as_ref()).map(|p| p.id.clone());
        steps.push(Step {
            name: agent.name.clone(),
            role: agent.role,
            action,
            pane_host: o
                .and_then(|o| o.spec.as_ref())
                .and_then(|s| s.host.clone())
                .filter(|_| pane.is_some()),
            pane,
            host: agent.spec.host.clone(),
        });
    }
    Plan {
        fleet: fleet.name.clone(),
        steps,
        strays: observed.strays.clone(),
        unreachable: observed.unreachable.clone(),
    }
}

fn decide(agent: &Agent, observed: Option<&ObservedAgent>, options: &Options) -> Action {
    let Some(o) = observed else {
        return Action::Create {
            reason: "new".into(),
        };
    };
    let pane = match &o.pane {
        None if o.status == "stopped" || o.status == "removed" => {
            return Action::Create {
                reason: format!("{} before", o.status),
            };
        }
        None => {
            return Action::Create {
                reason: "its pane is gone".into(),
            };
        }
        Some(pane) if !pane.alive => {
            return Action::Create {
                reason: "its process exited".into(),
            };
        }
        Some(pane) => pane,
    };
    let running_hash = pane.hash.as_deref().or(o.hash.as_deref());
    let forced = options.force_recreate || options.recreate.iter().any(|n| n == &agent.name);
    if running_hash == Some(agent.hash.as_str()) && o.origin == "manifest" {
        return if forced {
            Action::Recreate {
                changes: vec!["recreate requested".into()],
            }
        } else {
            Action::Keep { drift: Vec::new() }
        };
    }
    let changes = match &o.spec {
        _ if o.origin != "manifest" => {
            vec!["was added with `member create`; now declared in the file".into()]
        }
        Some(old) => {
            let c = agent.spec.changes_from(old);
            if c.is_empty() {
                vec!["config changed".into()]
            } else {
                c
            }
        }
        None => vec!["config changed".into()],
    };
    let director_guard = agent.role == Role::Director && !forced;
    if director_guard || (options.no_recreate && !forced) {
        return Action::Keep { drift: changes };
    }
    Action::Recreate { changes }
}

#[cfg(test)]
mod tests;
