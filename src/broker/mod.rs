//! The message lifecycle and pane notification (cli.md "Delivery of a message to a
//! pane"). A message is committed `queued` first; then, outside any transaction and
//! holding the recipient's [`crate::registry::lock::Lock`], the broker checks that the pane still
//! belongs to the agent (its `@cafleet_fleet`/`@cafleet_member` tags), looks at the
//! screen once, and either types a sanitised one-line preview and Enter (the message
//! becomes `notified`) or leaves it `queued` with a reason: pane gone or not the agent's
//! (the agent is marked `dead`), a trust or login gate (the agent is `waiting-input`), or
//! a tmux failure. Every outcome is written to the message rows and the event log, so
//! the registry always tells what really happened. Before the first key the attempt is
//! recorded on the messages ([`TYPING`]): a notifier killed mid-keystroke leaves them
//! `queued` with that reason, and the next attempt clears the composer (C-u) before its
//! preview, so the message is neither lost nor glued to the next one.
//!
//! `send` and `broadcast` do not wait for the keystrokes: they hand the stored messages
//! to the fleet's courier ([`hand_over`]; see [`crate::courier`]), which announces each
//! recipient's on its own thread; `--sync` calls [`notify_messages`] in place. The
//! monitor calls [`deliver_pending`] when an agent is back. The pane itself is reached
//! through the [`Panes`] trait (implemented by `tmux::Tmux`) so the decisions here are
//! tested without tmux.

mod post;
pub mod preview;
mod tmux_panes;

pub use post::{Sent, broadcast, send, send_to_operator};

/// The variable `up` gives an agent it starts on another host (`host`), naming it.
pub const HOST_ENV: &str = "CAFLEET_HOST";

/// Whether this process is an agent's cafleet on another host than the fleet's: panes
/// are reached from the fleet's own machine (its courier), never from here.
pub fn on_other_host() -> bool {
    std::env::var_os(HOST_ENV).is_some_and(|v| !v.is_empty())
}

use std::collections::BTreeMap;
use std::str::FromStr;

use camino::Utf8Path;
use serde::Serialize;
use serde_json::json;

use crate::backend::BackendName;
use crate::backend::screens::{self, Screen};
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::agents::{AgentRow, Signal};
use crate::registry::fleets::FleetRow;
use crate::registry::messages::MessageRow;

/// The pane option naming the fleet an agent's pane belongs to (set by `apply`).
pub const FLEET_TAG: &str = crate::apply::TAG_FLEET;
/// The pane option naming the member an agent's pane belongs to (set by `apply`).
pub const MEMBER_TAG: &str = crate::apply::TAG_MEMBER;

/// Agent states in which no pane is expected to answer.
const NOT_LIVE: [&str; 3] = ["stopped", "removed", "dead"];

/// A key the broker presses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneKey {
    Escape,
    Enter,
    /// Queues a typed line in a codex turn instead of steering it (see
    /// [`screens::submit_is_tab`]).
    Tab,
    /// C-u: clears the composer line in every backend.
    ClearLine,
}

/// What a pane says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    /// The process in the pane has exited (the pane is kept by `remain-on-exit`).
    pub dead: bool,
    /// `@cafleet_fleet`, if set.
    pub fleet: Option<String>,
    /// `@cafleet_member`, if set.
    pub member: Option<String>,
}

/// The tmux operations delivery needs, on the server the fleet lives on.
pub trait Panes: Sync {
    /// The pane's state and tags, or `None` when there is no such pane.
    fn info(&self, pane: &str) -> Result<Option<PaneInfo>>;
    /// The visible text of the pane.
    fn capture(&self, pane: &str) -> Result<String>;
    /// Types `text` as literal keys (never interpreted as key names or flags).
    fn type_text(&self, pane: &str, text: &str) -> Result<()>;
    fn press(&self, pane: &str, key: PaneKey) -> Result<()>;
    /// Waits between keystrokes (tests replace it to run instantly).
    fn pause(&self, duration: std::time::Duration) {
        std::thread::sleep(duration);
    }
    /// The same operations on the server `agent`'s pane is on, when that is another one
    /// (an agent with `host` runs on that host's tmux); `None`: this one.
    fn for_agent(&self, _agent: &AgentRow) -> Result<Option<Box<dyn Panes>>> {
        Ok(None)
    }
}

/// `panes`, or the server `agent` is on when it is another one.
fn routed<'a>(
    panes: &'a dyn Panes,
    agent: &AgentRow,
    holder: &'a mut Option<Box<dyn Panes>>,
) -> Result<&'a dyn Panes> {
    *holder = panes.for_agent(agent)?;
    let holder: &'a Option<Box<dyn Panes>> = holder;
    Ok(match holder.as_deref() {
        Some(other) => other,
        None => panes,
    })
}

/// How one notification ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The preview and Enter were sent; the messages are `notified`.
    Notified {
        screen: String,
        escaped: bool,
        /// The composer held stray text and was cleared with C-u first.
        cleared: bool,
        /// How many times the submit key was pressed (more than one: the first was lost).
        presses: usize,
        /// How the agent was seen to take it: `hook` (its own hook saw the prompt),
        /// `read` (it read the message already), `screen` (the composer emptied), `earlier` (a notifier that ended before
        /// recording it had submitted it) or `unconfirmed` (the composer cannot be
        /// read).
        taken: &'static str,
    },
    /// Nothing was typed; the messages stay `queued` for this reason.
    Queued { reason: String },
    /// The messages were read or notified meanwhile: nothing to announce.
    Nothing,
}

/// The notification of one recipient's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub recipient: String,
    pub message_ids: Vec<i64>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Delivery {
    /// The state the messages are in after this delivery.
    pub fn state(&self) -> &'static str {
        match self.outcome {
            Outcome::Notified { .. } => "notified",
            Outcome::Queued { .. } => "queued",
            Outcome::Nothing => "read",
        }
    }
}

/// Whether an agent may have a pane to notify: it has one recorded and is not stopped,
/// removed or dead. When the recorded pane process is known to be gone (a cheap `kill -0`
/// on its pid), the answer is also `false`; the notifier checks properly either way.
pub fn may_be_live(agent: &AgentRow) -> bool {
    if agent.pane_id.is_none() || NOT_LIVE.contains(&agent.status.as_str()) {
        return false;
    }
    // On another host the pid is that host's: only the notifier, through ssh, can tell.
    if crate::apply::host_of(agent).is_some() {
        return true;
    }
    match agent.pane_pid.and_then(|pid| i32::try_from(pid).ok()) {
        Some(pid) if pid > 0 => {
            use nix::errno::Errno;
            !matches!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
                Err(Errno::ESRCH)
            )
        }
        _ => true,
    }
}

/// Announces every `queued` message of `recipient` in its pane with one preview (the
/// oldest message, "+N more"). For `up` and the monitor when an agent is back.
pub fn deliver_pending(
    registry: &mut Registry,
    panes: &dyn Panes,
    fleet: &FleetRow,
    recipient: &str,
) -> Result<Delivery> {
    notify_recipient(registry, panes, fleet, recipient, None)
}

/// Announces the given messages, grouped by recipient, each recipient on its own thread
/// with its own registry connection; returns one [`Delivery`] per recipient.
pub fn notify_messages(
    db: &Utf8Path,
    panes: &dyn Panes,
    fleet: &FleetRow,
    ids: &[i64],
) -> Result<Vec<Delivery>> {
    let registry = Registry::open(db)?;
    let mut by_recipient: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for message in registry.messages_by_id(fleet.id, ids)? {
        by_recipient
            .entry(message.recipient)
            .or_default()
            .push(message.id);
    }
    drop(registry);
    if by_recipient.len() == 1 {
        let (recipient, ids) = by_recipient.into_iter().next().unwrap_or_default();
        let mut registry = Registry::open(db)?;
        return Ok(vec![notify_recipient(
            &mut registry,
            panes,
            fleet,
            &recipient,
            Some(&ids),
        )?]);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = by_recipient
            .iter()
            .map(|(recipient, ids)| {
                scope.spawn(move || {
                    let mut registry = Registry::open(db)?;
                    notify_recipient(&mut registry, panes, fleet, recipient, Some(ids))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::failure("a notifier thread panicked")))
            })
            .collect()
    })
}

/// Notifies one recipient of its `queued` messages among `ids` (all of them when `None`).
pub fn notify_recipient(
    registry: &mut Registry,
    panes: &dyn Panes,
    fleet: &FleetRow,
    recipient: &str,
    ids: Option<&[i64]>,
) -> Result<Delivery> {
    let Some(agent) = registry.agent(fleet.id, recipient)? else {
        return Err(Error::not_found(format!(
            "no member `{recipient}` in fleet `{}`",
            fleet.name
        )));
    };
    let path = registry.path().to_owned();
    let _lock = crate::registry::lock::Lock::agent(&path, agent.id)?;

    // Read everything again under the lock: another notifier may have announced these
    // messages, the recipient may have read them, or `up` may have moved the agent.
    let Some(agent) = registry.agent(fleet.id, recipient)? else {
        return Err(Error::not_found(format!("member `{recipient}` vanished")));
    };
    let mut holder = None;
    let panes = routed(panes, &agent, &mut holder)?;
    let pending: Vec<MessageRow> = registry
        .pending_messages(fleet.id, recipient)?
        .into_iter()
        .filter(|m| ids.is_none_or(|ids| ids.contains(&m.id)))
        .collect();
    let message_ids: Vec<i64> = pending.iter().map(|m| m.id).collect();
    let Some(first) = pending.first() else {
        return Ok(Delivery {
            recipient: recipient.to_owned(),
            message_ids: ids.map(<[i64]>::to_vec).unwrap_or_default(),
            outcome: Outcome::Nothing,
        });
    };

    let text = preview::preview(first.id, &first.sender, &first.body, pending.len() - 1);
    // A notifier that died while typing one of these left (part of) its preview in the
    // composer, whatever the screen now shows: clear it first.
    let interrupted = pending.iter().any(|m| {
        m.state_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(TYPING))
    });
    // One that died after its submit key may have announced them already: if its line
    // is not in the composer any more, the agent took it, and it is not typed again.
    if let Some(outcome) = taken_earlier(panes, &agent, &pending)? {
        registry.mark_notified(&message_ids)?;
        return finish(registry, fleet, recipient, message_ids, outcome);
    }
    let attempt = Attempt {
        message_ids: &message_ids,
        interrupted,
    };
    let mut outcome = look_and_type(registry, panes, fleet, &agent, &text, &attempt)?;

    if let Outcome::Notified {
        presses,
        taken,
        screen,
        ..
    } = &mut outcome
    {
        // Still under the agent's lock, so no other line is typed meanwhile: the
        // messages are `notified` once the agent is seen to take the line.
        let watch = Watch {
            registry: Some((&*registry, fleet.id, first.id)),
            looks: CONFIRM_LOOKS,
            on_composer: *screen == Screen::Composer.name(),
        };
        let seen = confirm_submitted(panes, &agent, &text, &watch)?;
        *presses += seen.presses;
        *taken = seen.taken;
        match seen.taken {
            "lost" => {
                let reason = format!(
                    "the preview left the composer of pane {} but no prompt hook reported it: dropped, to be typed again",
                    agent.pane_id.as_deref().unwrap_or("?"),
                );
                registry.mark_queued_reason(&message_ids, &reason)?;
                outcome = Outcome::Queued { reason };
            }
            "stuck" => {
                let reason = format!(
                    "the preview is still in the composer of pane {} after {} presses of the submit key",
                    agent.pane_id.as_deref().unwrap_or("?"),
                    *presses
                );
                registry.mark_queued_reason(&message_ids, &reason)?;
                outcome = Outcome::Queued { reason };
            }
            _ => {
                registry.mark_notified(&message_ids)?;
            }
        }
    } else if let Outcome::Queued { reason } = &outcome {
        registry.mark_queued_reason(&message_ids, reason)?;
    }
    finish(registry, fleet, recipient, message_ids, outcome)
}

/// Records the delivery in the event log and returns it.
fn finish(
    registry: &mut Registry,
    fleet: &FleetRow,
    recipient: &str,
    message_ids: Vec<i64>,
    outcome: Outcome,
) -> Result<Delivery> {
    let delivery = Delivery {
        recipient: recipient.to_owned(),
        message_ids,
        outcome,
    };
    registry.event(
        Some(fleet.id),
        Some(recipient),
        "delivery",
        serde_json::to_value(&delivery).unwrap_or_else(|_| json!({})),
    )?;
    Ok(delivery)
}

/// Types one line of operator text (`member prompt`; empty for `member ping`) into an
/// agent's pane under the same rules as a preview: the pane must still be the agent's,
/// nothing is typed on a trust or sign-in screen, Escape only where a prompt shows or the
/// screen is unknown, the text sanitised, then Enter. Returns what happened.
pub fn type_line(
    registry: &mut Registry,
    panes: &dyn Panes,
    fleet: &FleetRow,
    member: &str,
    text: &str,
) -> Result<Outcome> {
    let agent = registry.require_agent(fleet.id, &fleet.name, member)?;
    let mut holder = None;
    let panes = routed(panes, &agent, &mut holder)?;
    let path = registry.path().to_owned();
    let _lock = crate::registry::lock::Lock::agent(&path, agent.id)?;
    let line = preview::sanitize(text);
    let attempt = Attempt {
        message_ids: &[],
        interrupted: false,
    };
    let mut outcome = look_and_type(registry, panes, fleet, &agent, &line, &attempt)?;
    if let Outcome::Notified { presses, taken, .. } = &mut outcome {
        // The operator waits for this one: a shorter watch (6 s).
        let watch = Watch {
            registry: None,
            looks: CONFIRM_LOOKS / 10,
            on_composer: false,
        };
        let seen = confirm_submitted(panes, &agent, &line, &watch)?;
        *presses += seen.presses;
        *taken = seen.taken;
    }
    registry.event(
        Some(fleet.id),
        Some(member),
        if text.is_empty() { "ping" } else { "prompt" },
        serde_json::to_value(&outcome).unwrap_or_else(|_| json!({})),
    )?;
    Ok(outcome)
}

/// Stores an ack-able nudge from `sender` to `recipient` and announces it in its pane.
pub fn nudge(
    registry: &mut Registry,
    panes: &dyn Panes,
    fleet: &FleetRow,
    sender: &str,
    recipient: &str,
    text: &str,
) -> Result<Delivery> {
    let id = registry.insert_message(fleet.id, sender, recipient, text.as_bytes(), "nudge")?;
    registry.event(
        Some(fleet.id),
        Some(recipient),
        "nudge",
        json!({"message": id, "from": sender, "text": text}),
    )?;
    notify_recipient(registry, panes, fleet, recipient, Some(&[id]))
}

pub use crate::registry::messages::TYPING;

/// The messages one preview announces, and whether an earlier attempt at them was cut
/// short while typing.
struct Attempt<'a> {
    message_ids: &'a [i64],
    interrupted: bool,
}

/// Looks at the agent's pane and, if the screen allows, types `text` (already safe:
/// a preview or sanitised) and Enter. What could not be typed comes back as `Queued` with
/// the reason, and a gate or a lost pane is recorded on the agent. The attempt is recorded
/// on the messages before the first key, so a retry after a crash clears the composer.
fn look_and_type(
    registry: &mut Registry,
    panes: &dyn Panes,
    fleet: &FleetRow,
    agent: &AgentRow,
    text: &str,
    attempt: &Attempt<'_>,
) -> Result<Outcome> {
    Ok(match decide(panes, fleet, agent) {
        Decision::Queue {
            reason,
            agent_status,
        } => {
            if let (Some((status, clear_pane)), Some(pane)) = (agent_status, &agent.pane_id) {
                let signal = if clear_pane {
                    Signal::Pane
                } else {
                    Signal::Screen
                };
                registry.set_agent_status_if_pane(
                    agent.id,
                    pane,
                    status,
                    Some(&reason),
                    clear_pane,
                    signal,
                )?;
            }
            Outcome::Queued { reason }
        }
        Decision::Type {
            pane,
            screen,
            clear,
        } => {
            if screen == Screen::Composer && agent.status == "starting" {
                // Seen idle: it is up, and done with the prompt it was started with.
                registry.set_agent_status_if_pane(
                    agent.id,
                    &pane,
                    "idle",
                    None,
                    false,
                    Signal::Screen,
                )?;
            }
            if !attempt.message_ids.is_empty() {
                registry.mark_queued_reason(
                    attempt.message_ids,
                    &format!("{TYPING} {pane}: started, not yet submitted"),
                )?;
            }
            let clear = clear || attempt.interrupted;
            type_and_report(
                registry,
                panes,
                &pane,
                backend_of(agent),
                screen,
                clear,
                text,
                attempt,
            )
        }
    })
}

/// What the reason of a message says once its preview's submit key is about to be
/// pressed: a notifier that ends after that may have announced it.
const SUBMITTED: &str = "submitted, not yet seen taken";

/// Types the preview and says how it went.
/// Types the line, records that its submit key comes next (a message whose row cannot
/// be written is not announced: the line is taken back), presses it.
#[allow(clippy::too_many_arguments)]
fn type_and_report(
    registry: &mut Registry,
    panes: &dyn Panes,
    pane: &str,
    backend: BackendName,
    screen: Screen,
    clear: bool,
    text: &str,
    attempt: &Attempt<'_>,
) -> Outcome {
    let failed = |err: Error| Outcome::Queued {
        reason: format!("{TYPING} {pane} failed: {}", err.message),
    };
    if let Err(err) = type_preview(panes, pane, backend, screen, clear, text) {
        return failed(err);
    }
    if !attempt.message_ids.is_empty()
        && let Err(err) = registry.mark_queued_reason(
            attempt.message_ids,
            &format!("{TYPING} {pane}: {SUBMITTED}"),
        )
    {
        let _ = panes.press(pane, PaneKey::ClearLine);
        return Outcome::Queued {
            reason: format!(
                "the preview was taken back: the registry could not record it ({})",
                err.message
            ),
        };
    }
    match panes.press(pane, submit_key(backend, screen)) {
        Ok(()) => Outcome::Notified {
            screen: screen.name().to_owned(),
            escaped: screen.escape_first(),
            cleared: clear,
            presses: 1,
            taken: "unconfirmed",
        },
        Err(err) => failed(err),
    }
}

/// The key that submits a typed line on `screen` (see [`screens::submit_is_tab`]).
fn submit_key(backend: BackendName, screen: Screen) -> PaneKey {
    if screens::submit_is_tab(backend, screen) {
        PaneKey::Tab
    } else {
        PaneKey::Enter
    }
}

/// When an earlier notifier ended after pressing the submit key for some of `pending`
/// (their reason says so, for the agent's current pane) and its line is no longer in
/// the composer, the agent took it: returns the outcome to record instead of typing
/// the preview again. `None`: nothing was submitted before, or the line still waits
/// in the composer (it is cleared and typed again).
fn taken_earlier(
    panes: &dyn Panes,
    agent: &AgentRow,
    pending: &[MessageRow],
) -> Result<Option<Outcome>> {
    let Some(pane) = agent.pane_id.as_deref() else {
        return Ok(None);
    };
    let marker = format!("{TYPING} {pane}: {SUBMITTED}");
    let Some(first) = pending
        .iter()
        .find(|m| m.state_reason.as_deref() == Some(marker.as_str()))
    else {
        return Ok(None);
    };
    let backend = backend_of(agent);
    let Ok(captured) = panes.capture(pane) else {
        return Ok(None);
    };
    let screen = screens::classify(backend, &captured);
    let head = format!("[cafleet] message #{} ", first.id);
    let waiting = screens::composer_text(backend, &captured)
        .is_some_and(|composer| composer.contains(head.as_str()));
    if waiting || !matches!(screen, Screen::Composer | Screen::Working) {
        return Ok(None);
    }
    Ok(Some(Outcome::Notified {
        screen: screen.name().to_owned(),
        escaped: false,
        cleared: false,
        presses: 0,
        taken: "earlier",
    }))
}

enum Decision {
    Queue {
        reason: String,
        /// The agent's new status, and whether its pane is forgotten.
        agent_status: Option<(&'static str, bool)>,
    },
    Type {
        pane: String,
        screen: Screen,
        /// Clear stray composer text with C-u before typing.
        clear: bool,
    },
}

fn backend_of(agent: &AgentRow) -> BackendName {
    // An unknown backend name is treated like an arbitrary command: nothing recognised.
    BackendName::from_str(&agent.backend).unwrap_or(BackendName::Command)
}

/// Looks at the pane (tags, then one capture) and decides what to do; types nothing.
fn decide(panes: &dyn Panes, fleet: &FleetRow, agent: &AgentRow) -> Decision {
    let queue = |reason: String| Decision::Queue {
        reason,
        agent_status: None,
    };
    let Some(pane) = agent.pane_id.clone() else {
        return queue(format!("`{}` has no pane", agent.name));
    };
    if NOT_LIVE.contains(&agent.status.as_str()) {
        return queue(format!("`{}` is {}", agent.name, agent.status));
    }
    let lost = |reason: String| Decision::Queue {
        reason,
        agent_status: Some(("dead", true)),
    };
    let info = match panes.info(&pane) {
        Ok(Some(info)) => info,
        Ok(None) => return lost(format!("pane {pane} of `{}` is gone", agent.name)),
        Err(err) => return queue(format!("cannot look at pane {pane}: {}", err.message)),
    };
    if info.fleet.as_deref() != Some(fleet.name.as_str())
        || info.member.as_deref() != Some(agent.name.as_str())
    {
        return lost(format!(
            "pane {pane} no longer belongs to `{}` (tags {}={}, {}={})",
            agent.name,
            FLEET_TAG,
            info.fleet.as_deref().unwrap_or("unset"),
            MEMBER_TAG,
            info.member.as_deref().unwrap_or("unset"),
        ));
    }
    if info.dead {
        return lost(format!("the process in pane {pane} has exited"));
    }
    let captured = match panes.capture(&pane) {
        Ok(text) => text,
        Err(err) => return queue(format!("cannot capture pane {pane}: {}", err.message)),
    };
    let backend = backend_of(agent);
    if screens::prompt_pending(backend, &captured)
        && agent.spec().is_some_and(|spec| !spec.prompt.is_empty())
    {
        // What is typed now would be replaced when the agent submits its own prompt; the
        // courier tries again in a moment.
        return queue(format!(
            "`{}` is still starting (its prompt is not submitted yet)",
            agent.name
        ));
    }
    let screen = screens::classify(backend, &captured);
    if screen == Screen::Unknown && agent.status == "starting" && backend != BackendName::Command {
        // A coding agent still drawing its first screen drops what is typed: the courier
        // tries again once it shows its composer.
        return queue(format!(
            "`{}` is still starting (its screen is not drawn yet)",
            agent.name
        ));
    }
    if screen == Screen::Working
        && agent.status == "starting"
        && screens::first_turn_unsafe(backend)
        && agent.spec().is_some_and(|spec| !spec.prompt.is_empty())
    {
        // Still on the prompt it was started with: `up --wait` and the monitor record it
        // idle once that turn ends; the courier tries again meanwhile.
        return queue(format!("`{}` is busy with its first prompt", agent.name));
    }
    match screen {
        Screen::Trust | Screen::Login => Decision::Queue {
            reason: format!(
                "`{}` shows a {} screen and is waiting for its user",
                agent.name,
                if screen == Screen::Trust {
                    "trust dialog"
                } else {
                    "sign-in"
                }
            ),
            agent_status: Some(("waiting-input", false)),
        },
        Screen::Composer | Screen::Working => Decision::Type {
            pane,
            screen,
            clear: screens::composer_has_text(backend, &captured),
        },
        Screen::Prompt | Screen::Unknown => Decision::Type {
            pane,
            screen,
            clear: false,
        },
    }
}

/// Escape (only where the screen calls for it) or C-u (only when the composer holds
/// stray text), the preview as literal keys, the backend's submit delay; the submit key
/// is the caller's.
fn type_preview(
    panes: &dyn Panes,
    pane: &str,
    backend: BackendName,
    screen: Screen,
    clear: bool,
    text: &str,
) -> Result<()> {
    let timing = screens::key_timing(backend);
    if screen.escape_first() {
        panes.press(pane, PaneKey::Escape)?;
        panes.pause(timing.after_escape);
    }
    if clear {
        panes.press(pane, PaneKey::ClearLine)?;
    }
    panes.type_text(pane, text)?;
    panes.pause(timing.before_enter);
    Ok(())
}

/// How often the composer is looked at after the submit key, and how many looks (60 s:
/// an opencode busy with its first prompt ignores Enter until that turn ends, which took
/// 20 s on a loaded machine).
const CONFIRM_EVERY: std::time::Duration = std::time::Duration::from_millis(150);
const CONFIRM_LOOKS: usize = 400;
/// How many looks a line may sit in the composer before the key is pressed again (1.5 s).
const PRESS_AGAIN_AFTER: usize = 10;
/// How many looks a claude whose hooks report gets, once the line has left its composer,
/// for its UserPromptSubmit hook to say so (3 s; the hook usually takes well under 1 s).
const HOOK_GRACE_LOOKS: usize = 20;
const MAX_PRESSES: usize = 40;

/// What [`confirm_submitted`] watches besides the composer: the message the line
/// announced (its state in the registry, which the agent's own hook moves), and for how
/// many looks.
struct Watch<'a> {
    registry: Option<(&'a Registry, i64, i64)>,
    looks: usize,
    /// The line was typed on an idle composer: an agent whose hook reports every prompt
    /// must report this one (see [`confirm_submitted`]).
    on_composer: bool,
}

/// What the watch saw.
struct Seen {
    /// Extra presses of the submit key.
    presses: usize,
    /// `hook`, `read`, `screen`, `unconfirmed`, `stuck` (the line never left the
    /// composer) or `lost` (it left the composer of an agent whose hook reports every
    /// prompt, and no hook reported it: the agent dropped it).
    taken: &'static str,
}

/// Watches the composer after a line was submitted: an agent busy with its first prompt
/// can drop the Enter (opencode 1.18 does), leaving the preview in its composer where
/// nobody submits it. While the line's start is still seen there, the submit key is
/// pressed again, at most [`MAX_PRESSES`] times. The line is taken once the agent's hook
/// reports the message taken or the composer no longer shows it. Nothing is pressed once
/// a prompt or a gate shows, and an agent whose composer cannot be read is not watched.
fn confirm_submitted(
    panes: &dyn Panes,
    agent: &AgentRow,
    text: &str,
    watch: &Watch<'_>,
) -> Result<Seen> {
    let unconfirmed = |presses| Seen {
        presses,
        taken: "unconfirmed",
    };
    let Some(pane) = agent.pane_id.as_deref() else {
        return Ok(unconfirmed(0));
    };
    let backend = backend_of(agent);
    // The line's start, as the composer shows it (wrapped lines are joined with a space).
    let head: String = text.chars().take(24).collect();
    if head.chars().count() < 8 || backend == BackendName::Command {
        return Ok(unconfirmed(0));
    }
    // `notified` only by the agent's hook (this notifier has not recorded it yet);
    // `read` or `acked` by the agent itself.
    let taken_by_agent = || -> Option<&'static str> {
        let (registry, fleet_id, id) = watch.registry?;
        let rows = registry.messages_by_id(fleet_id, &[id]).ok()?;
        match rows.first()?.state.as_str() {
            "queued" => None,
            "notified" => Some("hook"),
            _ => Some("read"),
        }
    };
    // claude reports every prompt it takes through its UserPromptSubmit hook, which
    // cafleet installs in every claude it starts (those have a launch spec). A line
    // typed on what looked like an idle composer that leaves it with no hook report
    // was dropped, not taken: keys typed as claude finishes a turn (just after its Stop
    // hook) or begins its first one can vanish. A line typed while claude works is
    // queued by claude and reported only when that turn ends: the screen's word holds
    // there, as it does for a claude the user started (no hooks of cafleet's).
    let hook_confirms = backend == BackendName::Claude
        && watch.on_composer
        && agent.spec_json.as_deref().is_some_and(|s| !s.is_empty())
        && watch.registry.is_some();
    let mut gone_for = 0;
    let mut since_press = 0;
    let mut presses = 0;
    for _ in 0..watch.looks {
        panes.pause(CONFIRM_EVERY);
        since_press += 1;
        if let Some(taken) = taken_by_agent() {
            return Ok(Seen { presses, taken });
        }
        let Ok(captured) = panes.capture(pane) else {
            return Ok(unconfirmed(presses));
        };
        let screen = screens::classify(backend, &captured);
        if !matches!(screen, Screen::Composer | Screen::Working) {
            return Ok(unconfirmed(presses));
        }
        let waiting = screens::composer_text(backend, &captured)
            .is_some_and(|composer| composer.contains(head.as_str()));
        if !waiting {
            if let Some(taken) = taken_by_agent() {
                return Ok(Seen { presses, taken });
            }
            if !hook_confirms {
                return Ok(Seen {
                    presses,
                    taken: "screen",
                });
            }
            gone_for += 1;
            if gone_for >= HOOK_GRACE_LOOKS {
                return Ok(Seen {
                    presses,
                    taken: "lost",
                });
            }
            continue;
        }
        gone_for = 0;
        if since_press >= PRESS_AGAIN_AFTER && presses < MAX_PRESSES {
            panes.press(pane, submit_key(backend, screen))?;
            presses += 1;
            since_press = 0;
        }
    }
    Ok(Seen {
        presses,
        taken: "stuck",
    })
}

/// Whether this process runs inside a sandbox that closes sockets (codex sets
/// `CODEX_SANDBOX_NETWORK_DISABLED=1` for the commands it sandboxes).
pub fn in_sandbox() -> bool {
    std::env::var_os("CODEX_SANDBOX_NETWORK_DISABLED").is_some_and(|v| !v.is_empty())
}

/// Hands the fleet's newly stored messages to its courier, the one process that
/// announces them (see [`crate::courier`]): it notices the commit within
/// [`crate::courier::POLL`], and is started here if it does not run. However many
/// messages are sent, a fleet has one deliverer, and one delivery per pane at a time.
pub fn hand_over(db: &Utf8Path, tmux_socket: Option<&str>, fleet: &str) -> Result<()> {
    // Inside codex's sandbox no tmux server can be reached, and a courier started from
    // here would be inside it too: the one `up` started announces the stored messages.
    // So does an agent on another host (`host`): the fleet's courier runs where `up` ran.
    if in_sandbox() || on_other_host() || crate::courier::is_running(db, fleet) {
        return Ok(());
    }
    crate::courier::ensure(db, tmux_socket, fleet).map_err(|err| {
        Error::failure(format!("cannot start the fleet's courier: {}", err.message))
            .hint("the messages are stored; `cafleet up` or the monitor will announce them")
    })
}

#[cfg(test)]
mod tests;
