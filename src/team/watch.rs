//! The watch `cafleet run` keeps once its team is up: it polls the registry and the panes
//! every [`POLL`] until the Director calls `cafleet done`, the deadline passes, a signal
//! arrives, or the team can no longer finish — the Director's pane is dead (or the
//! Director is in `crash-loop`), or every member is. Meanwhile it prints one line per new
//! message and per state change.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Done;
use crate::error::Result;
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

/// How often the registry and the panes are looked at.
pub const POLL: Duration = Duration::from_millis(200);

/// States in which an agent will not do anything more by itself.
pub const GONE_STATES: [&str; 3] = ["dead", "crash-loop", "stopped"];

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The Director called `cafleet done` (`failed` with `--fail`).
    Done(Done),
    /// The deadline passed first.
    Timeout,
    /// The team can no longer finish; the reason names who died.
    Died(String),
    /// SIGINT or SIGTERM (the signal number).
    Interrupted(i32),
    /// `up --wait` failed; the error as printed, and its exit code.
    NotStarted(String, u8),
}

impl Outcome {
    /// The word the report and the last line use.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done(done) if done.failed => "failed",
            Outcome::Done(_) => "done",
            Outcome::Timeout => "timeout",
            Outcome::Died(_) => "died",
            Outcome::Interrupted(_) => "interrupted",
            Outcome::NotStarted(..) => "not-started",
        }
    }

    /// The process exit code (README "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done(done) if done.failed => 1,
            Outcome::Done(_) => 0,
            Outcome::Timeout => crate::error::Kind::Timeout.exit_code(),
            Outcome::Died(_) => crate::error::Kind::TeamDied.exit_code(),
            Outcome::Interrupted(signal) => 128u8.saturating_add(*signal as u8),
            Outcome::NotStarted(_, code) => *code,
        }
    }

    /// One sentence for people.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Done(done) if done.failed => {
                format!(
                    "the Director called `cafleet done --fail`: {}",
                    done.summary
                )
            }
            Outcome::Done(done) => format!("the Director called `cafleet done`: {}", done.summary),
            Outcome::Timeout => "the team did not call `cafleet done` in time".into(),
            Outcome::Died(why) => format!("the team can no longer finish: {why}"),
            Outcome::Interrupted(signal) => format!("interrupted by signal {signal}"),
            Outcome::NotStarted(err, _) => format!("the team did not start: {err}"),
        }
    }
}

/// Where the run's own rows begin, and when it started.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    pub message: i64,
    pub event: i64,
}

/// Polls until the run ends; see the module docs.
pub fn watch(
    registry: &Registry,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    marks: Marks,
    deadline: Instant,
    signal: &Arc<AtomicUsize>,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let mut last_message = marks.message;
    let mut states: HashMap<String, String> = HashMap::new();
    loop {
        if let Some(done) = super::find_done(registry, fleet.id, marks.event)? {
            print_messages(registry, fleet.id, &mut last_message, out)?;
            return Ok(Outcome::Done(done));
        }
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 {
            return Ok(Outcome::Interrupted(sig as i32));
        }
        print_messages(registry, fleet.id, &mut last_message, out)?;
        let agents = crate::apply::fleet_status(tmux_socket, registry, fleet)?;
        for agent in &agents {
            let previous = states.insert(agent.name.clone(), agent.state.clone());
            if previous.as_deref() != Some(agent.state.as_str()) {
                let reason = agent
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:>7} {}: {}{}",
                    "state",
                    agent.name,
                    agent.state,
                    crate::safe_text::line(&reason)
                );
            }
        }
        if let Some(why) = cannot_finish(&agents) {
            // A `done` written just before the Director's pane ended still counts.
            if let Some(done) = super::find_done(registry, fleet.id, marks.event)? {
                return Ok(Outcome::Done(done));
            }
            return Ok(Outcome::Died(why));
        }
        if Instant::now() >= deadline {
            return Ok(Outcome::Timeout);
        }
        let _ = out.flush();
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// Why the team can no longer finish, if it cannot: the Director is gone, or every
/// member (not the monitoring member) is.
pub fn cannot_finish(agents: &[crate::apply::AgentStatus]) -> Option<String> {
    let gone = |a: &crate::apply::AgentStatus| GONE_STATES.contains(&a.state.as_str());
    if let Some(director) = agents.iter().find(|a| a.role == "director")
        && gone(director)
    {
        return Some(format!(
            "the Director is {}{}",
            director.state,
            director
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    let members: Vec<&crate::apply::AgentStatus> =
        agents.iter().filter(|a| a.role == "member").collect();
    if !members.is_empty() && members.iter().all(|a| gone(a)) {
        let names: Vec<String> = members
            .iter()
            .map(|a| format!("{} {}", a.name, a.state))
            .collect();
        return Some(format!("every member is gone: {}", names.join(", ")));
    }
    None
}

fn print_messages(
    registry: &Registry,
    fleet_id: i64,
    last: &mut i64,
    out: &mut dyn Write,
) -> Result<()> {
    for message in registry.fleet_messages_after(fleet_id, *last)? {
        *last = message.id;
        let body = message.body_text();
        let first = body.lines().next().unwrap_or_default();
        let short: String = first.chars().take(80).collect();
        let more = if short.len() < body.trim_end().len() {
            "…"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:>7} #{} {} → {}: {}{more}",
            "message",
            message.id,
            crate::safe_text::line(&message.sender),
            crate::safe_text::line(&message.recipient),
            crate::safe_text::line(&short)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str, role: &str, state: &str) -> crate::apply::AgentStatus {
        crate::apply::AgentStatus {
            fleet: "f".into(),
            name: name.into(),
            role: role.into(),
            backend: "fake".into(),
            model: None,
            state: state.into(),
            reason: None,
            signal: "screen".into(),
            hook_at: None,
            unread: 0,
            pane: None,
            host: None,
            drift: false,
            description: String::new(),
            since: String::new(),
            drift_changes: Vec::new(),
            fleet_file: None,
        }
    }

    #[test]
    fn a_team_dies_with_its_director_or_all_its_members() {
        let live = [
            agent("director", "director", "idle"),
            agent("a", "member", "dead"),
            agent("b", "member", "working"),
        ];
        assert_eq!(cannot_finish(&live), None);
        let no_members = [
            agent("director", "director", "idle"),
            agent("monitor", "monitor", "dead"),
        ];
        assert_eq!(cannot_finish(&no_members), None);
        let headless = [
            agent("director", "director", "dead"),
            agent("a", "member", "idle"),
        ];
        assert!(
            cannot_finish(&headless)
                .unwrap()
                .contains("Director is dead")
        );
        let crew_gone = [
            agent("director", "director", "idle"),
            agent("a", "member", "dead"),
            agent("b", "member", "crash-loop"),
        ];
        assert!(
            cannot_finish(&crew_gone)
                .unwrap()
                .contains("a dead, b crash-loop")
        );
    }

    #[test]
    fn exit_codes() {
        let done = |failed| Done {
            failed,
            summary: String::new(),
            by: "director".into(),
            message: None,
            at: String::new(),
        };
        assert_eq!(Outcome::Done(done(false)).exit_code(), 0);
        assert_eq!(Outcome::Done(done(true)).exit_code(), 1);
        assert_eq!(Outcome::Timeout.exit_code(), 4);
        assert_eq!(Outcome::Died(String::new()).exit_code(), 5);
        assert_eq!(Outcome::Interrupted(2).exit_code(), 130);
        assert_eq!(Outcome::Interrupted(15).exit_code(), 143);
    }
}
