//! The agents' own signals. Screen text changes with every release of claude, codex and
//! opencode, so cafleet asks each CLI to tell it what it is doing: at launch it installs
//! a hook per agent (claude's `--settings` hooks, codex's `notify` program, an opencode
//! plugin; see [`install`]), each of which runs the hidden `cafleet agent hook BACKEND`
//! with the event as JSON. [`interpret`] turns an event into a state (`working`, `idle`,
//! `waiting-input`) and, for a submitted prompt that is one of cafleet's previews, the
//! message it announced; [`record`] writes both to the registry with the signal `hook`.
//!
//! A hook never decides liveness (a dead pane says nothing): the monitor still looks at
//! panes, and reads the screen only where no hook spoke or where the screen clearly
//! disagrees for two ticks in a row (an interrupted turn fires no `Stop`).

pub mod install;

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use crate::backend::BackendName;
use crate::error::Result;
use crate::registry::Registry;

/// What one hook event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The agent's state now: `working`, `idle` or `waiting-input`.
    pub state: &'static str,
    /// The event, as `backend:Event`, for the state's reason.
    pub event: String,
    /// The message announced by the prompt the agent just took, when the prompt is a
    /// cafleet preview.
    pub taken: Option<i64>,
}

/// The biggest event payload read (claude sends the whole prompt with
/// `UserPromptSubmit`; previews are one short line, anything else is cut).
pub const MAX_PAYLOAD: u64 = 1 << 20;

static PREVIEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[cafleet\] message #([0-9]{1,18}) from ").unwrap_or_else(|_| unreachable!())
});

/// The message a submitted prompt announced, when it is a cafleet preview.
fn taken(prompt: Option<&str>) -> Option<i64> {
    let captures = PREVIEW.captures(prompt?)?;
    captures.get(1)?.as_str().parse().ok()
}

/// What an event from `backend`'s hook means, or `None` for events that say nothing
/// about the state.
pub fn interpret(backend: BackendName, payload: &Value) -> Option<Report> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    // codex's `notify` program gets `{"type": "agent-turn-complete", …}`.
    let name = text("hook_event_name").or_else(|| text("type"))?;
    let report = |state: &'static str| Report {
        state,
        event: format!("{backend}:{name}"),
        taken: None,
    };
    Some(match (backend, name) {
        // claude and codex hooks share the event names.
        (_, "UserPromptSubmit") => Report {
            taken: taken(text("prompt")),
            ..report("working")
        },
        (_, "PreToolUse" | "PostToolUse") => report("working"),
        (_, "PermissionRequest") => report("waiting-input"),
        (_, "Stop" | "SessionStart") => report("idle"),
        (BackendName::Claude, "Notification") => {
            match text("notification_type") {
                Some("permission_prompt" | "elicitation_dialog") => report("waiting-input"),
                Some("idle_prompt") => report("idle"),
                Some(_) => return None,
                // Without a type, the message tells.
                None if text("message").is_some_and(|m| m.contains("permission")) => {
                    report("waiting-input")
                }
                None => return None,
            }
        }
        (BackendName::Codex, "agent-turn-complete") => report("idle"),
        // Forwarded by cafleet's opencode plugin (`install::OPENCODE_PLUGIN`).
        (BackendName::Opencode, "session.status") => match text("status") {
            Some("busy" | "retry") => report("working"),
            Some("idle") => report("idle"),
            _ => return None,
        },
        (BackendName::Opencode, "session.idle") => report("idle"),
        (BackendName::Opencode, "permission.asked" | "question.asked") => report("waiting-input"),
        (BackendName::Opencode, "permission.replied" | "question.replied") => report("working"),
        (BackendName::Opencode, "chat.message") => Report {
            taken: taken(text("prompt")),
            ..report("working")
        },
        _ => return None,
    })
}

/// Records `report` for the agent `member` of `fleet` running in `pane`: its state with
/// the signal `hook` (and a `state` event when it changed), and the preview it took,
/// whose messages become `notified`.
pub fn record(
    registry: &mut Registry,
    fleet: &str,
    member: &str,
    pane: Option<&str>,
    report: &Report,
) -> Result<()> {
    let fleet_row = registry.require_fleet(fleet)?;
    let agent = registry.require_agent(fleet_row.id, fleet, member)?;
    let reason = format!("reported by its {} hook", report.event);
    if let Some(before) = registry.record_hook(agent.id, pane, report.state, &reason)? {
        registry.event(
            Some(fleet_row.id),
            Some(member),
            "state",
            json!({"from": before, "to": report.state, "signal": "hook", "event": report.event}),
        )?;
    }
    if let Some(id) = report.taken {
        let ids = registry.mark_taken(fleet_row.id, member, id)?;
        if !ids.is_empty() {
            registry.event(
                Some(fleet_row.id),
                Some(member),
                "taken",
                json!({"message_ids": ids, "signal": "hook", "event": report.event}),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(backend: BackendName, payload: Value) -> Option<&'static str> {
        interpret(backend, &payload).map(|r| r.state)
    }

    #[test]
    fn claude_events_map_to_states() {
        let c = BackendName::Claude;
        assert_eq!(
            state(
                c,
                json!({"hook_event_name": "UserPromptSubmit", "prompt": "hi"})
            ),
            Some("working")
        );
        assert_eq!(
            state(c, json!({"hook_event_name": "PreToolUse"})),
            Some("working")
        );
        assert_eq!(state(c, json!({"hook_event_name": "Stop"})), Some("idle"));
        assert_eq!(
            state(
                c,
                json!({"hook_event_name": "Notification", "notification_type": "permission_prompt"})
            ),
            Some("waiting-input")
        );
        assert_eq!(
            state(
                c,
                json!({"hook_event_name": "Notification", "message": "Claude needs your permission to use Bash"})
            ),
            Some("waiting-input")
        );
        assert_eq!(
            state(
                c,
                json!({"hook_event_name": "Notification", "notification_type": "auth_success"})
            ),
            None
        );
        assert_eq!(state(c, json!({"hook_event_name": "SubagentStop"})), None);
        assert_eq!(state(c, json!({"no": "name"})), None);
    }

    #[test]
    fn codex_notify_and_opencode_plugin_events_map_to_states() {
        assert_eq!(
            state(
                BackendName::Codex,
                json!({"type": "agent-turn-complete", "turn-id": "1"})
            ),
            Some("idle")
        );
        let o = BackendName::Opencode;
        assert_eq!(
            state(
                o,
                json!({"hook_event_name": "session.status", "status": "busy"})
            ),
            Some("working")
        );
        assert_eq!(
            state(
                o,
                json!({"hook_event_name": "session.status", "status": "idle"})
            ),
            Some("idle")
        );
        assert_eq!(
            state(o, json!({"hook_event_name": "permission.asked"})),
            Some("waiting-input")
        );
        assert_eq!(state(o, json!({"hook_event_name": "session.status"})), None);
        assert_eq!(
            state(o, json!({"hook_event_name": "message.part.updated"})),
            None
        );
    }

    /// opencode drops keys while it works on the prompt it was started with: a hook's
    /// `working` then keeps the agent `starting` (which the broker waits out) until the
    /// first turn ends; later turns are `working` as reported.
    #[test]
    fn the_first_turn_keeps_an_agent_starting_until_it_ends() {
        use crate::registry::agents::NewAgent;
        use crate::registry::fleets::NewFleet;
        let mut reg = Registry::in_memory().unwrap();
        reg.upsert_fleet(&NewFleet {
            name: "f",
            origin: "cli",
            manifest_path: None,
            session: "f",
            socket: "",
        })
        .unwrap();
        let fleet = reg.require_fleet("f").unwrap();
        let id = reg
            .upsert_agent(&NewAgent {
                fleet_id: fleet.id,
                name: "oc",
                role: "member",
                backend: "opencode",
                model: None,
                description: "",
                origin: "cli",
                config_hash: "",
                spec_json: "{}",
            })
            .unwrap();
        reg.set_agent_pane(id, "%3", None).unwrap();
        let o = BackendName::Opencode;
        let mut hook = |payload: Value| {
            let report = interpret(o, &payload).expect("a report");
            record(&mut reg, "f", "oc", Some("%3"), &report).unwrap();
            let agent = reg.agent(fleet.id, "oc").unwrap().expect("oc");
            (agent.status, agent.status_reason.unwrap_or_default())
        };
        let busy = json!({"hook_event_name": "session.status", "status": "busy"});
        let idle = json!({"hook_event_name": "session.status", "status": "idle"});
        let (status, reason) = hook(json!({"hook_event_name": "chat.message", "prompt": "go"}));
        assert_eq!(status, "starting");
        assert!(
            reason.contains("the prompt it was started with"),
            "{reason}"
        );
        assert_eq!(hook(busy.clone()).0, "starting");
        assert_eq!(hook(idle).0, "idle");
        assert_eq!(hook(busy).0, "working");
    }

    #[test]
    fn a_submitted_preview_names_its_message() {
        let preview = crate::broker::preview::preview(42, "api", b"hello", 2);
        let report = interpret(
            BackendName::Claude,
            &json!({"hook_event_name": "UserPromptSubmit", "prompt": preview}),
        )
        .expect("a report");
        assert_eq!(report.taken, Some(42));
        assert_eq!(report.event, "claude:UserPromptSubmit");
        let typed = interpret(
            BackendName::Opencode,
            &json!({"hook_event_name": "chat.message", "prompt": "please read message #42"}),
        )
        .expect("a report");
        assert_eq!(typed.taken, None);
    }
}
