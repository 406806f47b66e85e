//! The monitor's judgement, as a pure state machine: each tick it is handed what was
//! observed of every agent and decides states, nudges and restarts. Time is passed in,
//! so every rule — debouncing, stall detection, restart budgets — is tested without
//! tmux or a clock.

use std::collections::HashMap;
use std::time::Duration;

use crate::manifest::{Restart, RestartPolicy};

/// Consecutive ticks a new state must be seen before it is believed, so one odd capture
/// never nudges or restarts a busy agent.
pub const DEBOUNCE_TICKS: u32 = 2;

/// What the screen shows, reduced to what the monitor cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Idle,
    Working,
    /// A permission or question prompt: the agent waits for an answer.
    Prompt,
    /// A trust or sign-in gate: only a human can pass it.
    Gate,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// No pane (or not ours any more).
    Missing,
    /// The pane's process exited.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// Running; `screen_hash` changes whenever the screen does.
    Running { screen_hash: u64, screen: Screen },
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub name: String,
    pub is_director: bool,
    pub liveness: Liveness,
    /// Messages waiting for it (queued or notified, not yet read).
    pub unread: i64,
    pub restart: RestartPolicy,
    /// The state the agent's own hook last recorded, when a hook set the recorded state:
    /// believed where the screen is not recognised.
    pub hook: Option<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Starting,
    Working,
    Idle,
    WaitingInput,
    Stalled,
    Dead,
    CrashLoop,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Working => "working",
            State::Idle => "idle",
            State::WaitingInput => "waiting-input",
            State::Stalled => "stalled",
            State::Dead => "dead",
            State::CrashLoop => "crash-loop",
        }
    }

    pub fn parse(text: &str) -> State {
        match text {
            "working" => State::Working,
            "idle" => State::Idle,
            "waiting-input" => State::WaitingInput,
            "stalled" => State::Stalled,
            "dead" => State::Dead,
            "crash-loop" => State::CrashLoop,
            _ => State::Starting,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Record a new state (and an event).
    SetState {
        name: String,
        state: State,
        reason: String,
    },
    /// A stored, ack-able nudge to an agent, with the pane preview.
    Nudge { name: String, text: String },
    /// Start the agent again from its recorded spec.
    Restart { name: String },
}

#[derive(Debug, Default)]
struct Agent {
    state: Option<State>,
    /// The process last seen recorded for it (pane id and pid): a new one means `up` or
    /// a restart replaced it, and the registry's state is believed again.
    process: Option<String>,
    candidate: Option<(State, u32)>,
    last_hash: Option<u64>,
    last_change: Duration,
    restarts: Vec<Duration>,
}

#[derive(Debug, Default)]
pub struct Tracker {
    agents: HashMap<String, Agent>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Seeds an agent's believed state (from the registry) so a restarted monitor does
    /// not report every agent again.
    pub fn seed(&mut self, name: &str, state: State) {
        self.agents.entry(name.to_string()).or_default().state = Some(state);
    }

    /// Re-reads what the registry records for an agent, each tick: a process the tracker
    /// has not seen (its first look, a new row, or a pane `up` or a restart replaced)
    /// starts over from the recorded state — no stale belief, no half-counted death of the old pane. A pane the
    /// registry forgot (`process` is `None`) changes nothing: the observation tells.
    ///
    /// A state the agent's own hook recorded (`by_hook`) is believed at once: it counts
    /// as seen, with no debouncing, and the screen changes it only by disagreeing for
    /// [`DEBOUNCE_TICKS`] ticks.
    pub fn sync(&mut self, name: &str, recorded: State, process: Option<String>, by_hook: bool) {
        let agent = self.agents.entry(name.to_string()).or_default();
        let Some(process) = process else {
            return;
        };
        if by_hook && agent.process.as_ref() == Some(&process) && agent.state != Some(recorded) {
            agent.state = Some(recorded);
            agent.candidate = None;
            return;
        }
        if agent.process.as_ref() == Some(&process) {
            return;
        }
        agent.process = Some(process);
        agent.state = Some(recorded);
        agent.candidate = None;
        agent.last_hash = None;
    }

    /// One tick at time `now` (since the monitor started).
    pub fn tick(
        &mut self,
        now: Duration,
        stall_after: Duration,
        observations: &[Observation],
    ) -> Vec<Decision> {
        let director = observations
            .iter()
            .find(|o| o.is_director)
            .map(|o| o.name.clone());
        let mut decisions = Vec::new();
        for o in observations {
            let agent = self.agents.entry(o.name.clone()).or_default();
            let (raw, reason) = raw_state(agent, now, stall_after, o);
            if agent.state == Some(raw)
                || (agent.state == Some(State::CrashLoop) && raw == State::Dead)
            {
                agent.candidate = None;
                continue;
            }
            let seen = match agent.candidate {
                Some((state, n)) if state == raw => n + 1,
                _ => 1,
            };
            agent.candidate = Some((raw, seen));
            if seen < DEBOUNCE_TICKS {
                continue;
            }
            agent.candidate = None;
            let mut state = raw;
            let mut reason = reason;
            let mut nudges: Vec<(String, String)> = Vec::new();
            let tell_director = |nudges: &mut Vec<(String, String)>, text: String| {
                if let Some(d) = &director
                    && *d != o.name
                {
                    nudges.push((d.clone(), text));
                }
            };
            match raw {
                State::Dead => {
                    if wants_restart(&o.restart, &o.liveness) {
                        agent
                            .restarts
                            .retain(|t| now.saturating_sub(*t) < o.restart.window);
                        if agent.restarts.len() as u32 >= o.restart.max_restarts {
                            state = State::CrashLoop;
                            reason = format!(
                                "{reason}; restarted {} times within {}, giving up",
                                agent.restarts.len(),
                                crate::manifest::duration::format(o.restart.window)
                            );
                            tell_director(
                                &mut nudges,
                                format!("{} is in a crash loop: {reason}", o.name),
                            );
                        } else {
                            agent.restarts.push(now);
                            tell_director(
                                &mut nudges,
                                format!("{} died ({reason}); restarting it", o.name),
                            );
                            decisions.push(Decision::SetState {
                                name: o.name.clone(),
                                state: State::Dead,
                                reason: reason.clone(),
                            });
                            decisions.push(Decision::Restart {
                                name: o.name.clone(),
                            });
                            // A fresh process: its next death is a new one.
                            state = State::Starting;
                            reason = format!(
                                "restart {} of {}",
                                agent.restarts.len(),
                                o.restart.max_restarts
                            );
                        }
                    } else {
                        tell_director(&mut nudges, format!("{} died ({reason})", o.name));
                    }
                }
                State::Stalled => {
                    nudges.push((
                        o.name.clone(),
                        format!(
                            "you have {} unread message(s): run `cafleet message inbox`",
                            o.unread
                        ),
                    ));
                    tell_director(&mut nudges, format!("{} stalled: {reason}", o.name));
                }
                State::WaitingInput if o.unread > 0 => {
                    if matches!(
                        o.liveness,
                        Liveness::Running {
                            screen: Screen::Prompt,
                            ..
                        }
                    ) {
                        nudges.push((
                            o.name.clone(),
                            format!(
                                "you have {} unread message(s): run `cafleet message inbox`",
                                o.unread
                            ),
                        ));
                    } else {
                        tell_director(
                            &mut nudges,
                            format!(
                                "{} is waiting at a gate only a person can pass: {reason}",
                                o.name
                            ),
                        );
                    }
                }
                _ => {}
            }
            agent.state = Some(state);
            decisions.push(Decision::SetState {
                name: o.name.clone(),
                state,
                reason,
            });
            decisions.extend(
                nudges
                    .into_iter()
                    .map(|(name, text)| Decision::Nudge { name, text }),
            );
        }
        decisions
    }
}

fn wants_restart(policy: &RestartPolicy, liveness: &Liveness) -> bool {
    match policy.restart {
        Restart::No => false,
        Restart::Always => true,
        Restart::OnFailure => match liveness {
            Liveness::Exited {
                code: Some(0),
                signal: None,
            } => false,
            Liveness::Exited { .. } | Liveness::Missing => true,
            Liveness::Running { .. } => false,
        },
    }
}

/// The state this tick's observation alone suggests, and why.
fn raw_state(
    agent: &mut Agent,
    now: Duration,
    stall_after: Duration,
    o: &Observation,
) -> (State, String) {
    let (hash, screen) = match &o.liveness {
        Liveness::Missing => return (State::Dead, "its pane is gone".into()),
        Liveness::Exited {
            code: Some(code), ..
        } => return (State::Dead, format!("exited with status {code}")),
        Liveness::Exited {
            signal: Some(signal),
            ..
        } => return (State::Dead, format!("killed by signal {signal}")),
        Liveness::Exited { .. } => return (State::Dead, "its process exited".into()),
        Liveness::Running {
            screen_hash,
            screen,
        } => (*screen_hash, *screen),
    };
    if agent.last_hash != Some(hash) {
        agent.last_hash = Some(hash);
        agent.last_change = now;
    }
    let quiet = now.saturating_sub(agent.last_change);
    match screen {
        Screen::Prompt => (
            State::WaitingInput,
            "a permission or question prompt is showing".into(),
        ),
        Screen::Gate => (
            State::WaitingInput,
            "a trust or sign-in screen is showing".into(),
        ),
        _ if o.unread > 0 && quiet >= stall_after => (
            State::Stalled,
            format!(
                "no screen activity for {} with {} unread message(s)",
                crate::manifest::duration::format(Duration::from_secs(quiet.as_secs())),
                o.unread
            ),
        ),
        Screen::Working => (State::Working, String::new()),
        Screen::Idle => (State::Idle, String::new()),
        Screen::Unknown => match o.hook {
            Some(state) => (state, "as its hook reported".into()),
            None => (State::Working, "screen not recognised".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(60);
    const TICK: Duration = Duration::from_secs(10);

    fn obs(name: &str, liveness: Liveness, unread: i64) -> Observation {
        Observation {
            name: name.into(),
            is_director: name == "director",
            liveness,
            unread,
            restart: RestartPolicy::default(),
            hook: None,
        }
    }

    fn running(hash: u64, screen: Screen) -> Liveness {
        Liveness::Running {
            screen_hash: hash,
            screen,
        }
    }

    fn nudges(decisions: &[Decision]) -> Vec<(String, String)> {
        decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Nudge { name, text } => Some((name.clone(), text.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn dead_within_two_ticks_and_the_director_hears_once() {
        let mut t = Tracker::new();
        let dead = Liveness::Exited {
            code: Some(1),
            signal: None,
        };
        let d = t.tick(
            TICK,
            STALL,
            &[
                obs("director", running(1, Screen::Idle), 0),
                obs("api", running(1, Screen::Idle), 0),
            ],
        );
        assert!(nudges(&d).is_empty());
        t.tick(
            2 * TICK,
            STALL,
            &[
                obs("director", running(1, Screen::Idle), 0),
                obs("api", running(1, Screen::Idle), 0),
            ],
        );
        let first = t.tick(
            3 * TICK,
            STALL,
            &[
                obs("director", running(1, Screen::Idle), 0),
                obs("api", dead.clone(), 0),
            ],
        );
        assert!(first.is_empty(), "one tick is not enough: {first:?}");
        let second = t.tick(
            4 * TICK,
            STALL,
            &[
                obs("director", running(1, Screen::Idle), 0),
                obs("api", dead.clone(), 0),
            ],
        );
        assert!(second.contains(&Decision::SetState {
            name: "api".into(),
            state: State::Dead,
            reason: "exited with status 1".into()
        }));
        assert_eq!(
            nudges(&second),
            [(
                "director".to_string(),
                "api died (exited with status 1)".to_string()
            )]
        );
        for i in 5..20 {
            let later = t.tick(
                i * TICK,
                STALL,
                &[
                    obs("director", running(1, Screen::Idle), 0),
                    obs("api", dead.clone(), 0),
                ],
            );
            assert!(later.is_empty(), "no storm: {later:?}");
        }
    }

    #[test]
    fn a_drawing_agent_is_never_stalled_a_frozen_one_once() {
        let mut t = Tracker::new();
        for i in 1..50u64 {
            let d = t.tick(
                i as u32 * TICK,
                STALL,
                &[obs("api", running(i, Screen::Idle), 3)],
            );
            assert!(nudges(&d).is_empty(), "tick {i}: {d:?}");
        }
        let mut t = Tracker::new();
        let mut all = Vec::new();
        for i in 1..50u32 {
            all.extend(t.tick(
                i * TICK,
                STALL,
                &[
                    obs("director", running(u64::from(i), Screen::Idle), 0),
                    obs("api", running(7, Screen::Idle), 2),
                ],
            ));
        }
        let n = nudges(&all);
        assert_eq!(
            n.iter().filter(|(to, _)| to == "director").count(),
            1,
            "{n:?}"
        );
        assert_eq!(n.iter().filter(|(to, _)| to == "api").count(), 1, "{n:?}");
        assert!(all.iter().any(|d| matches!(
            d,
            Decision::SetState {
                state: State::Stalled,
                ..
            }
        )));
    }

    #[test]
    fn a_replaced_process_starts_over_from_the_recorded_state() {
        let mut t = Tracker::new();
        let idle = || [obs("api", running(1, Screen::Idle), 0)];
        t.sync("api", State::Starting, Some("%1:10".into()), false);
        t.tick(TICK, STALL, &idle());
        assert!(t.tick(2 * TICK, STALL, &idle()).iter().any(|d| matches!(
            d,
            Decision::SetState {
                state: State::Idle,
                ..
            }
        )));
        // Same process, nothing new: no decision.
        t.sync("api", State::Idle, Some("%1:10".into()), false);
        assert!(t.tick(3 * TICK, STALL, &idle()).is_empty());
        // `up` replaced its pane and recorded `starting`: the idle screen is recorded again.
        t.sync("api", State::Starting, Some("%2:11".into()), false);
        t.tick(4 * TICK, STALL, &idle());
        let d = t.tick(5 * TICK, STALL, &idle());
        assert!(
            d.iter().any(|d| matches!(
                d,
                Decision::SetState {
                    state: State::Idle,
                    ..
                }
            )),
            "{d:?}"
        );
        // A forgotten pane changes nothing by itself.
        t.sync("api", State::Dead, None, false);
        assert!(t.tick(6 * TICK, STALL, &idle()).is_empty());
    }

    #[test]
    fn a_hook_state_is_believed_at_once_and_the_screen_overrules_it_only_twice() {
        let mut t = Tracker::new();
        let process = || Some("%1:10".into());
        let seen = |state: State, hook: Option<State>, screen: Screen| Observation {
            hook,
            ..obs("api", running(state as u64, screen), 0)
        };
        t.sync("api", State::Idle, process(), false);
        t.tick(TICK, STALL, &[seen(State::Idle, None, Screen::Idle)]);
        // The hook said `working` between two ticks: believed, no decision to make.
        t.sync("api", State::Working, process(), true);
        let d = t.tick(
            2 * TICK,
            STALL,
            &[seen(State::Working, Some(State::Working), Screen::Unknown)],
        );
        assert!(d.is_empty(), "{d:?}");
        // An unrecognised screen keeps what the hook said, however long.
        for i in 3..6 {
            let d = t.tick(
                i * TICK,
                STALL,
                &[seen(
                    State::Working,
                    Some(State::WaitingInput),
                    Screen::Unknown,
                )],
            );
            if i == 3 {
                assert!(d.is_empty(), "one look is not two: {d:?}");
            }
        }
        // A turn interrupted by hand fires no hook: the idle screen wins after two looks.
        t.sync("api", State::Working, process(), true);
        let idle = || [seen(State::Idle, Some(State::Working), Screen::Idle)];
        assert!(t.tick(7 * TICK, STALL, &idle()).is_empty());
        assert!(t.tick(8 * TICK, STALL, &idle()).iter().any(|d| matches!(
            d,
            Decision::SetState {
                state: State::Idle,
                ..
            }
        )));
    }

    #[test]
    fn half_counted_death_of_a_replaced_pane_is_forgotten() {
        let mut t = Tracker::new();
        let policy = RestartPolicy {
            restart: Restart::OnFailure,
            ..RestartPolicy::default()
        };
        let o = |liveness| Observation {
            restart: policy.clone(),
            ..obs("api", liveness, 0)
        };
        t.sync("api", State::Idle, Some("%1:10".into()), false);
        t.tick(TICK, STALL, &[o(Liveness::Missing)]);
        // `up` replaced it between two ticks.
        t.sync("api", State::Starting, Some("%2:11".into()), false);
        let d = t.tick(2 * TICK, STALL, &[o(Liveness::Missing)]);
        assert!(d.is_empty(), "one look at the new pane is not two: {d:?}");
    }

    #[test]
    fn no_unread_no_stall() {
        let mut t = Tracker::new();
        for i in 1..50u32 {
            let d = t.tick(i * TICK, STALL, &[obs("api", running(7, Screen::Idle), 0)]);
            assert!(!d.iter().any(|d| matches!(
                d,
                Decision::SetState {
                    state: State::Stalled,
                    ..
                }
            )));
        }
    }

    #[test]
    fn a_permission_prompt_is_waiting_input_and_the_agent_is_nudged() {
        let mut t = Tracker::new();
        t.tick(TICK, STALL, &[obs("api", running(1, Screen::Prompt), 1)]);
        let d = t.tick(
            2 * TICK,
            STALL,
            &[obs("api", running(1, Screen::Prompt), 1)],
        );
        assert!(d.contains(&Decision::SetState {
            name: "api".into(),
            state: State::WaitingInput,
            reason: "a permission or question prompt is showing".into()
        }));
        assert_eq!(nudges(&d).len(), 1);
        assert_eq!(nudges(&d)[0].0, "api");
    }

    #[test]
    fn on_failure_restarts_within_budget_then_crash_loop() {
        let mut t = Tracker::new();
        let policy = RestartPolicy {
            restart: Restart::OnFailure,
            max_restarts: 2,
            window: Duration::from_secs(600),
        };
        let dead = |code| Observation {
            restart: policy.clone(),
            ..obs(
                "api",
                Liveness::Exited {
                    code: Some(code),
                    signal: None,
                },
                0,
            )
        };
        let alive = Observation {
            restart: policy.clone(),
            ..obs("api", running(1, Screen::Idle), 0)
        };
        let mut restarts = 0;
        let mut now = Duration::ZERO;
        let mut states = Vec::new();
        // An agent that dies again at once, before a tick could see it alive.
        for o in std::iter::once(&alive).chain(std::iter::repeat_n(&dead(1), 12)) {
            now += TICK;
            for d in t.tick(now, STALL, std::slice::from_ref(o)) {
                match d {
                    Decision::Restart { .. } => restarts += 1,
                    Decision::SetState { state, .. } => states.push(state),
                    Decision::Nudge { .. } => {}
                }
            }
        }
        assert_eq!(restarts, 2, "{states:?}");
        assert_eq!(states.last(), Some(&State::CrashLoop), "{states:?}");

        let mut t = Tracker::new();
        let mut restarts = 0;
        let mut states = Vec::new();
        for _ in 0..4 {
            for o in [&alive, &alive, &dead(1), &dead(1)] {
                now += TICK;
                for d in t.tick(now, STALL, std::slice::from_ref(o)) {
                    match d {
                        Decision::Restart { .. } => restarts += 1,
                        Decision::SetState { state, .. } => states.push(state),
                        Decision::Nudge { .. } => {}
                    }
                }
            }
        }
        assert_eq!(restarts, 2);
        assert_eq!(states.last(), Some(&State::CrashLoop), "{states:?}");

        // A clean exit is not a failure.
        let mut t = Tracker::new();
        t.tick(TICK, STALL, &[dead(0)]);
        let d = t.tick(2 * TICK, STALL, &[dead(0)]);
        assert!(
            !d.iter().any(|d| matches!(d, Decision::Restart { .. })),
            "{d:?}"
        );
    }
}
