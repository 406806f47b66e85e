//! Delivery decisions against a scripted pane: what is typed for each screen, and what
//! the registry says afterwards.

use std::sync::Mutex;

use super::*;
use crate::backend::fake;
use crate::backend::fake_options::FakeScreen;
use crate::registry::agents::NewAgent;
use crate::registry::fleets::NewFleet;

/// A pane that shows a fixed screen and records every keystroke.
struct Scripted {
    info: Option<PaneInfo>,
    screen: String,
    typed: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(screen: &str) -> Scripted {
        Scripted {
            info: Some(PaneInfo {
                dead: false,
                fleet: Some("f".into()),
                member: Some("api".into()),
            }),
            screen: screen.into(),
            typed: Mutex::new(Vec::new()),
        }
    }

    fn typed(&self) -> Vec<String> {
        self.typed.lock().unwrap().clone()
    }
}

impl Panes for Scripted {
    fn info(&self, pane: &str) -> Result<Option<PaneInfo>> {
        assert_eq!(pane, "%7");
        Ok(self.info.clone())
    }
    fn capture(&self, _: &str) -> Result<String> {
        Ok(self.screen.clone())
    }
    fn type_text(&self, _: &str, text: &str) -> Result<()> {
        self.typed.lock().unwrap().push(format!("text:{text}"));
        Ok(())
    }
    fn press(&self, _: &str, key: PaneKey) -> Result<()> {
        self.typed.lock().unwrap().push(format!("key:{key:?}"));
        Ok(())
    }
    fn pause(&self, _: std::time::Duration) {}
}

fn setup() -> (Registry, FleetRow, i64) {
    seed(Registry::in_memory().unwrap())
}

/// A fleet `f` with idle agents `api` and `web` in pane %7, and one message web → api.
fn seed(mut reg: Registry) -> (Registry, FleetRow, i64) {
    reg.upsert_fleet(&NewFleet {
        name: "f",
        origin: "cli",
        manifest_path: None,
        session: "f",
        socket: "",
    })
    .unwrap();
    let fleet = reg.require_fleet("f").unwrap();
    for name in ["api", "web"] {
        let id = reg
            .upsert_agent(&NewAgent {
                fleet_id: fleet.id,
                name,
                role: "member",
                backend: "fake",
                model: None,
                description: "",
                origin: "cli",
                config_hash: "",
                spec_json: "{}",
            })
            .unwrap();
        reg.set_agent_pane(id, "%7", None).unwrap();
        reg.set_agent_status(id, "idle", None).unwrap();
    }
    let id = reg
        .insert_message(fleet.id, "web", "api", b"hello\x1b[201~\r", "message")
        .unwrap();
    (reg, fleet, id)
}

fn composer() -> String {
    fake::sample_screen(FakeScreen::Composer, "", &[], 24, 80)
}

#[test]
fn idle_composer_gets_text_and_enter_only() {
    let (mut reg, fleet, id) = setup();
    let pane = Scripted::new(&composer());
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(d.state(), "notified");
    assert_eq!(
        pane.typed(),
        [
            format!(
                "text:[cafleet] message #{id} from web: hello␛[201~ — run: cafleet message inbox"
            ),
            "key:Enter".to_string()
        ]
    );
    let row = reg.message(fleet.id, id).unwrap().unwrap();
    assert_eq!(row.state, "notified");
    assert!(row.notified_at.is_some());

    // Announced once: a second notifier for the same message types nothing.
    let again = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(again.outcome, Outcome::Nothing);
    assert_eq!(pane.typed().len(), 2);
}

#[test]
fn only_a_permission_prompt_gets_escape_first() {
    let permission = fake::sample_screen(FakeScreen::Permission, "", &[], 24, 80);
    let (mut reg, fleet, id) = setup();
    let pane = Scripted::new(&permission);
    notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    let typed = pane.typed();
    assert_eq!(typed.len(), 3, "{typed:?}");
    assert_eq!(typed[0], "key:Escape");
    assert_eq!(typed[2], "key:Enter");

    // An unknown screen (a shell, a readline program) gets no Escape: it would read
    // Escape and the preview's `[` as one Meta key.
    let (mut reg, fleet, id) = setup();
    let pane = Scripted::new("$ some shell\n");
    notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    let typed = pane.typed();
    assert_eq!(typed.len(), 2, "{typed:?}");
    assert!(typed[0].starts_with("text:[cafleet] message #"));
    assert_eq!(typed[1], "key:Enter");
}

#[test]
fn stray_composer_text_is_cleared_with_c_u_first() {
    let (mut reg, fleet, id) = setup();
    let screen = fake::sample_screen(FakeScreen::Composer, "half typed", &[], 24, 80);
    let pane = Scripted::new(&screen);
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    let typed = pane.typed();
    assert_eq!(typed[0], "key:ClearLine");
    assert_eq!(typed.len(), 3);
    assert!(matches!(
        d.outcome,
        Outcome::Notified {
            cleared: true,
            escaped: false,
            ..
        }
    ));
}

#[test]
fn working_screen_gets_no_escape() {
    let (mut reg, fleet, id) = setup();
    let screen = fake::sample_screen(FakeScreen::Working, "", &[], 24, 80);
    let pane = Scripted::new(&screen);
    notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert!(!pane.typed().iter().any(|k| k == "key:Escape"));
}

#[test]
fn trust_and_login_gates_get_nothing() {
    for screen in [
        fake::sample_screen(FakeScreen::Trust, "", &[], 24, 80),
        fake::sample_screen(FakeScreen::Login, "", &[], 24, 80),
    ] {
        let (mut reg, fleet, id) = setup();
        let pane = Scripted::new(&screen);
        let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
        assert!(pane.typed().is_empty());
        assert_eq!(d.state(), "queued");
        let row = reg.message(fleet.id, id).unwrap().unwrap();
        assert_eq!(row.state, "queued");
        assert!(row.state_reason.unwrap().contains("waiting"));
        let agent = reg.agent(fleet.id, "api").unwrap().unwrap();
        assert_eq!(agent.status, "waiting-input");
        assert_eq!(agent.pane_id.as_deref(), Some("%7"));
    }
}

#[test]
fn a_pane_that_is_not_the_agents_is_left_alone() {
    let mut lost = vec![
        None,
        Some(PaneInfo {
            dead: false,
            fleet: Some("f".into()),
            member: Some("web".into()),
        }),
        Some(PaneInfo {
            dead: false,
            fleet: None,
            member: None,
        }),
        Some(PaneInfo {
            dead: true,
            fleet: Some("f".into()),
            member: Some("api".into()),
        }),
    ];
    for info in lost.drain(..) {
        let (mut reg, fleet, id) = setup();
        let mut pane = Scripted::new(&composer());
        pane.info = info;
        let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
        assert!(pane.typed().is_empty());
        assert_eq!(d.state(), "queued");
        assert_eq!(reg.message(fleet.id, id).unwrap().unwrap().state, "queued");
        let agent = reg.agent(fleet.id, "api").unwrap().unwrap();
        assert_eq!(agent.status, "dead");
        assert_eq!(agent.pane_id, None);
    }
}

#[test]
fn pending_messages_are_announced_with_one_preview() {
    let (mut reg, fleet, first) = setup();
    reg.insert_message(fleet.id, "web", "api", b"two", "message")
        .unwrap();
    reg.insert_message(fleet.id, "web", "api", b"three", "message")
        .unwrap();
    let pane = Scripted::new(&composer());
    let d = deliver_pending(&mut reg, &pane, &fleet, "api").unwrap();
    assert_eq!(d.message_ids.len(), 3);
    let typed = pane.typed();
    assert_eq!(typed.len(), 2);
    assert!(typed[0].contains(&format!("#{first} from web")));
    assert!(typed[0].contains("(+2 more)"));
    assert_eq!(reg.pending_messages(fleet.id, "api").unwrap().len(), 0);
    let events = reg.events(Some(fleet.id), None, 0, 100).unwrap();
    assert!(events.iter().any(|e| e.kind == "delivery"));
}

#[test]
fn stopped_agents_are_not_typed_into() {
    let (mut reg, fleet, id) = setup();
    let agent = reg.agent(fleet.id, "api").unwrap().unwrap();
    reg.set_agent_status(agent.id, "stopped", None).unwrap();
    let pane = Scripted::new(&composer());
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert!(pane.typed().is_empty());
    assert_eq!(d.state(), "queued");
}

/// A pane whose composer still shows the typed line for the first `stuck` looks after
/// each submit key, as opencode does when it drops an Enter during its first prompt.
struct Sticky {
    stuck: usize,
    looks: Mutex<usize>,
    typed: Mutex<Vec<String>>,
}

impl Panes for Sticky {
    fn info(&self, _: &str) -> Result<Option<PaneInfo>> {
        Ok(Some(PaneInfo {
            dead: false,
            fleet: Some("f".into()),
            member: Some("api".into()),
        }))
    }
    fn capture(&self, _: &str) -> Result<String> {
        let typed = self.typed.lock().unwrap();
        let text = typed
            .iter()
            .rev()
            .find_map(|t| t.strip_prefix("text:"))
            .unwrap_or_default()
            .to_string();
        let submitted = typed.iter().any(|t| t.starts_with("key:Enter"));
        drop(typed);
        let mut looks = self.looks.lock().unwrap();
        if submitted {
            *looks += 1;
        }
        let shown = if submitted && *looks > self.stuck {
            ""
        } else {
            text.as_str()
        };
        Ok(fake::sample_screen(
            FakeScreen::Composer,
            shown,
            &[],
            24,
            200,
        ))
    }
    fn type_text(&self, _: &str, text: &str) -> Result<()> {
        self.typed.lock().unwrap().push(format!("text:{text}"));
        Ok(())
    }
    fn press(&self, _: &str, key: PaneKey) -> Result<()> {
        self.typed.lock().unwrap().push(format!("key:{key:?}"));
        Ok(())
    }
    fn pause(&self, _: std::time::Duration) {}
}

#[test]
fn a_preview_left_in_the_composer_is_submitted_again() {
    let (mut reg, fleet, _) = setup();
    reg.insert_message(fleet.id, "web", "api", b"hello", "message")
        .unwrap();
    let pane = Sticky {
        stuck: 12,
        looks: Mutex::new(0),
        typed: Mutex::new(Vec::new()),
    };
    let delivery = deliver_pending(&mut reg, &pane, &fleet, "api").unwrap();
    assert_eq!(delivery.state(), "notified");
    let keys: Vec<String> = pane
        .typed
        .lock()
        .unwrap()
        .iter()
        .filter(|t| *t == "key:Enter")
        .cloned()
        .collect();
    // The first Enter, then one more after the line sat there for 10 looks.
    assert_eq!(keys.len(), 2, "{:?}", pane.typed.lock().unwrap());

    // A line that leaves the composer at once gets exactly one Enter.
    reg.insert_message(fleet.id, "web", "api", b"again", "message")
        .unwrap();
    let pane = Sticky {
        stuck: 0,
        looks: Mutex::new(0),
        typed: Mutex::new(Vec::new()),
    };
    deliver_pending(&mut reg, &pane, &fleet, "api").unwrap();
    let enters = pane
        .typed
        .lock()
        .unwrap()
        .iter()
        .filter(|t| *t == "key:Enter")
        .count();
    assert_eq!(enters, 1);
}

#[test]
fn opencode_is_not_typed_into_while_it_works_on_its_first_prompt() {
    let (mut reg, fleet, _) = setup();
    let spec = serde_json::json!({
        "backend": "opencode", "model": null, "effort": null, "argv": ["opencode"],
        "cwd": "/tmp", "env": {}, "prompt": "You are api."
    });
    let id = reg
        .upsert_agent(&NewAgent {
            fleet_id: fleet.id,
            name: "api",
            role: "member",
            backend: "opencode",
            model: None,
            description: "",
            origin: "cli",
            config_hash: "",
            spec_json: &spec.to_string(),
        })
        .unwrap();
    reg.set_agent_pane(id, "%7", None).unwrap();
    reg.set_agent_status(id, "starting", None).unwrap();
    let working = include_str!("../../tests/screens/opencode-1.18.33-working-hostile.txt");
    let pane = Scripted::new(working);
    let d = deliver_pending(&mut reg, &pane, &fleet, "api").unwrap();
    assert_eq!(d.state(), "queued", "{d:?}");
    assert!(pane.typed().is_empty(), "{:?}", pane.typed());

    // Once it has been seen idle, a later turn is typed into as usual.
    reg.set_agent_status(id, "idle", None).unwrap();
    let d = deliver_pending(&mut reg, &pane, &fleet, "api").unwrap();
    assert_eq!(d.state(), "notified", "{d:?}");
}

/// Where a [`Dies`] pane's notifier is killed (panics).
#[derive(Clone, Copy, PartialEq)]
enum KilledAt {
    /// Once the first half of the preview reached the pane.
    Typing,
    /// Right after its submit key, before it could record anything more.
    AfterSubmit,
}

/// A pane whose notifier dies at a given keystroke.
struct Dies(Scripted, KilledAt);

impl Panes for Dies {
    fn info(&self, pane: &str) -> Result<Option<PaneInfo>> {
        self.0.info(pane)
    }
    fn capture(&self, pane: &str) -> Result<String> {
        self.0.capture(pane)
    }
    fn type_text(&self, pane: &str, text: &str) -> Result<()> {
        if self.1 != KilledAt::Typing {
            return self.0.type_text(pane, text);
        }
        let half: String = text.chars().take(text.chars().count() / 2).collect();
        self.0.type_text(pane, &half)?;
        panic!("killed mid-keystroke");
    }
    fn press(&self, pane: &str, key: PaneKey) -> Result<()> {
        self.0.press(pane, key)?;
        if self.1 == KilledAt::AfterSubmit && key == PaneKey::Enter {
            panic!("killed after the submit key");
        }
        Ok(())
    }
    fn pause(&self, _: std::time::Duration) {}
}

#[test]
fn a_notifier_killed_while_typing_is_cleared_after_and_announced_once() {
    let (mut reg, fleet, id) = setup();
    let dying = Dies(Scripted::new(&composer()), KilledAt::Typing);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        notify_recipient(&mut reg, &dying, &fleet, "api", Some(&[id]))
    }));
    assert!(crashed.is_err());
    let row = reg.message(fleet.id, id).unwrap().unwrap();
    assert_eq!(row.state, "queued", "not lost: still to announce");
    assert!(
        row.state_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(TYPING)),
        "the attempt is recorded: {:?}",
        row.state_reason
    );
    // The retry clears what the dead notifier left, even where the composer cannot be
    // read (a screen it does not recognise), then types one preview and one Enter.
    for screen in [
        fake::sample_screen(FakeScreen::Composer, "[cafleet] message #1 fr", &[], 24, 80),
        "$ some shell\n".to_string(),
    ] {
        let (mut reg, fleet, id) = setup();
        let dying = Dies(Scripted::new(&screen), KilledAt::Typing);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            notify_recipient(&mut reg, &dying, &fleet, "api", Some(&[id]))
        }));
        let pane = Scripted::new(&screen);
        let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
        assert_eq!(d.state(), "notified");
        let typed = pane.typed();
        assert_eq!(typed.len(), 3, "{typed:?}");
        assert_eq!(typed[0], "key:ClearLine", "{typed:?}");
        assert!(typed[1].starts_with(&format!("text:[cafleet] message #{id} from web")));
        assert_eq!(typed[2], "key:Enter");
        let row = reg.message(fleet.id, id).unwrap().unwrap();
        assert_eq!(row.state, "notified");
        assert_eq!(row.state_reason, None);
        // Announced once: nothing more to type.
        let again = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
        assert_eq!(again.outcome, Outcome::Nothing);
    }
}

#[test]
fn a_composer_holding_half_a_preview_is_cleared_for_the_fake() {
    // What a notifier killed mid-keystroke leaves behind, as the fake draws it.
    let (mut reg, fleet, id) = setup();
    let screen = fake::sample_screen(
        FakeScreen::Composer,
        "[cafleet] message #9 from director: half",
        &[],
        24,
        80,
    );
    assert!(screens::composer_has_text(BackendName::Fake, &screen));
    let pane = Scripted::new(&screen);
    notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(pane.typed()[0], "key:ClearLine");
}

#[test]
fn a_notifier_killed_after_its_submit_key_is_not_announced_twice() {
    let (mut reg, fleet, id) = setup();
    let dying = Dies(Scripted::new(&composer()), KilledAt::AfterSubmit);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        notify_recipient(&mut reg, &dying, &fleet, "api", Some(&[id]))
    }));
    assert!(crashed.is_err());
    let row = reg.message(fleet.id, id).unwrap().unwrap();
    assert_eq!(row.state, "queued", "not recorded as taken yet");
    // The agent took the line (its composer is empty): the next notifier records it and
    // types nothing.
    let pane = Scripted::new(&composer());
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(d.state(), "notified");
    assert!(
        matches!(
            d.outcome,
            Outcome::Notified {
                taken: "earlier",
                ..
            }
        ),
        "{d:?}"
    );
    assert!(pane.typed().is_empty(), "typed again: {:?}", pane.typed());
    assert_eq!(
        reg.message(fleet.id, id).unwrap().unwrap().state,
        "notified"
    );

    // The Enter was lost (the line still waits in the composer): it is cleared and
    // announced once.
    let (mut reg, fleet, id) = setup();
    let dying = Dies(Scripted::new(&composer()), KilledAt::AfterSubmit);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        notify_recipient(&mut reg, &dying, &fleet, "api", Some(&[id]))
    }));
    let waiting = fake::sample_screen(
        FakeScreen::Composer,
        &format!("[cafleet] message #{id} from web: hello"),
        &[],
        24,
        80,
    );
    let pane = Scripted::new(&waiting);
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    let typed = pane.typed();
    assert_eq!(typed[0], "key:ClearLine", "{typed:?}");
    assert_eq!(
        typed.iter().filter(|t| t.starts_with("text:")).count(),
        1,
        "{typed:?}"
    );
    // That screen never lets the line go: after every press it stays queued, with why.
    assert_eq!(d.state(), "queued", "{d:?}");
    let row = reg.message(fleet.id, id).unwrap().unwrap();
    assert!(
        row.state_reason
            .as_deref()
            .is_some_and(|r| r.contains("still in the composer")),
        "{:?}",
        row.state_reason
    );
}

#[test]
fn the_agents_hook_taking_the_line_confirms_it() {
    // A hook (another process) marks the message taken while the notifier watches.
    struct HookTakes<'a>(Scripted, &'a std::path::Path, i64, i64);
    impl Panes for HookTakes<'_> {
        fn info(&self, pane: &str) -> Result<Option<PaneInfo>> {
            self.0.info(pane)
        }
        fn capture(&self, pane: &str) -> Result<String> {
            self.0.capture(pane)
        }
        fn type_text(&self, pane: &str, text: &str) -> Result<()> {
            self.0.type_text(pane, text)
        }
        fn press(&self, pane: &str, key: PaneKey) -> Result<()> {
            self.0.press(pane, key)?;
            if key == PaneKey::Enter {
                let path = camino::Utf8Path::from_path(self.1).unwrap();
                let mut other = Registry::open(path).unwrap();
                other.mark_taken(self.2, "api", self.3).unwrap();
            }
            Ok(())
        }
        fn pause(&self, _: std::time::Duration) {}
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    // A registry on disk, so the "hook" can write it from its own connection.
    let (mut disk, f, m) = seed(Registry::open(camino::Utf8Path::from_path(&db).unwrap()).unwrap());
    // A composer that never empties: only the hook can confirm.
    let stuck = fake::sample_screen(
        FakeScreen::Composer,
        &format!("[cafleet] message #{m} from web: hello"),
        &[],
        24,
        80,
    );
    let pane = HookTakes(Scripted::new(&stuck), &db, f.id, m);
    let d = notify_recipient(&mut disk, &pane, &f, "api", Some(&[m])).unwrap();
    assert!(
        matches!(d.outcome, Outcome::Notified { taken: "hook", .. }),
        "{d:?}"
    );
    assert_eq!(disk.message(f.id, m).unwrap().unwrap().state, "notified");
}

#[test]
fn an_agent_still_drawing_its_first_screen_is_not_typed_into() {
    let (mut reg, fleet, id) = setup();
    let agent = reg.require_agent(fleet.id, "f", "api").unwrap();
    reg.set_agent_status(agent.id, "starting", None).unwrap();
    // A blank pane, or a program's boot text: no composer drawn yet.
    let pane = Scripted::new("\n\n  loading…\n");
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(d.state(), "queued", "{d:?}");
    assert!(pane.typed().is_empty(), "{:?}", pane.typed());
    let row = reg.message(fleet.id, id).unwrap().unwrap();
    assert!(
        row.state_reason
            .as_deref()
            .is_some_and(|r| r.contains("still starting")),
        "{:?}",
        row.state_reason
    );
    // Once it is up (seen idle), the same screen gets the preview.
    reg.set_agent_status(agent.id, "idle", None).unwrap();
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(d.state(), "notified", "{d:?}");
}

/// `api` as a claude in pane %7, idle, started by cafleet with its hooks (`hooks`) or
/// by the user (none of cafleet's hooks).
fn as_claude(reg: &mut Registry, fleet: &FleetRow, hooks: bool) {
    let id = reg
        .upsert_agent(&NewAgent {
            fleet_id: fleet.id,
            name: "api",
            role: "member",
            backend: "claude",
            model: None,
            description: "",
            origin: "cli",
            config_hash: "",
            // cafleet's own launch (with its hooks) records a spec; `fleet create` none.
            spec_json: if hooks { "{}" } else { "" },
        })
        .unwrap();
    reg.set_agent_pane(id, "%7", None).unwrap();
    reg.set_agent_status(id, "idle", None).unwrap();
}

fn claude_idle() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/screens/claude-2.1.197-idle.txt"
    );
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_line_a_hooked_claude_drops_without_its_prompt_hook_is_typed_again() {
    // The composer is empty right after the submit key, but no UserPromptSubmit hook
    // reported the prompt: claude dropped the keys (typed while it finished a turn).
    let (mut reg, fleet, id) = setup();
    as_claude(&mut reg, &fleet, true);
    let pane = Scripted::new(&claude_idle());
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert_eq!(d.state(), "queued", "{d:?}");
    let row = reg.message(fleet.id, id).unwrap().unwrap();
    assert_eq!(row.state, "queued");
    assert!(
        row.state_reason
            .as_deref()
            .is_some_and(|r| r.contains("no prompt hook reported it")),
        "{:?}",
        row.state_reason
    );
}

#[test]
fn a_claude_without_cafleets_hooks_is_taken_at_its_screens_word() {
    // The user's own claude (a Director from `fleet create`) has no hooks of cafleet's.
    let (mut reg, fleet, id) = setup();
    as_claude(&mut reg, &fleet, false);
    let pane = Scripted::new(&claude_idle());
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert!(
        matches!(
            d.outcome,
            Outcome::Notified {
                taken: "screen",
                ..
            }
        ),
        "{d:?}"
    );
    assert_eq!(
        reg.message(fleet.id, id).unwrap().unwrap().state,
        "notified"
    );
}

#[test]
fn a_line_typed_while_claude_works_is_taken_at_its_screens_word() {
    // claude queues a line typed during a turn and reports it only when the turn ends:
    // that silence is not a dropped line.
    let (mut reg, fleet, id) = setup();
    as_claude(&mut reg, &fleet, true);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/screens/claude-2.1.197-working-hostile.txt"
    );
    let pane = Scripted::new(&std::fs::read_to_string(path).unwrap());
    let d = notify_recipient(&mut reg, &pane, &fleet, "api", Some(&[id])).unwrap();
    assert!(
        matches!(&d.outcome, Outcome::Notified { taken: "screen", screen, .. } if screen == "working"),
        "{d:?}"
    );
}
