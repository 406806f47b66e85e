//! Tests against a real tmux: each one starts its own private server (see `testing`) and
//! waits for state by polling with a deadline, never by sleeping.

use std::time::Duration;

use super::testing::{TestServer, wait_until};
use super::{Batch, Cmd, Key, Launch, PaneId, Split, Tmux};
use crate::apply::process::{self, Ending};
use crate::error::Kind;

const WAIT: Duration = Duration::from_secs(10);

macro_rules! server {
    () => {
        match TestServer::start() {
            Some(server) => server,
            None => return,
        }
    };
}

#[test]
fn spawns_sessions_windows_and_splits_with_argv_env_and_cwd() {
    let s = server!();
    let tmux = s.tmux();
    let dir = s.dir().join("work dir #{pane_id}");
    std::fs::create_dir(&dir).unwrap();
    let script = r#"echo "FOO=$FOO"; echo "ARG=$1"; pwd; sleep 30"#;
    let first = tmux
        .new_session(
            "a.b:c é 😀",
            Some("main #1"),
            &Launch::new(["sh", "-c", script, "sh", "#{pane_id};"])
                .env("FOO", "x y;")
                .cwd(&dir),
        )
        .unwrap();
    let text = s
        .wait_for_text(first.pane, WAIT, |t| t.contains(&dir.display().to_string()))
        .unwrap();
    assert!(text.contains("FOO=x y;"), "{text}");
    assert!(text.contains("ARG=#{pane_id};"), "{text}");

    let panes = tmux.list_panes(&[]).unwrap();
    let pane = panes.iter().find(|p| p.id == first.pane).unwrap();
    assert_eq!(pane.session, first.session);
    assert_eq!(pane.window, first.window);
    assert_eq!(pane.session_name, "a_b_c é 😀");
    assert_eq!(pane.window_name, "main #1");
    assert_eq!(pane.pid, first.pid);
    assert_eq!(pane.current_path, dir.display().to_string());
    assert!(!pane.dead);
    assert!(tmux.pane_alive(first.pane).unwrap());
    assert_eq!(
        tmux.find_session("a_b_c é 😀").unwrap(),
        Some(first.session)
    );

    // The first pane's environment was its own, not the session's.
    let second = tmux
        .new_window(
            first.session,
            Some("second"),
            &Launch::new(["sh", "-c", r#"echo "FOO=[$FOO]"; sleep 30"#]),
        )
        .unwrap();
    assert_eq!(second.session, first.session);
    assert_ne!(second.window, first.window);
    s.wait_for_text(second.pane, WAIT, |t| t.contains("FOO=[]"))
        .unwrap();

    let third = tmux
        .split_window(
            first.pane,
            Split::Horizontal,
            &Launch::new(["sh", "-c", "echo split-$BAR; sleep 30"]).env("BAR", "ok"),
        )
        .unwrap();
    assert_eq!(third.window, first.window);
    s.wait_for_text(third.pane, WAIT, |t| t.contains("split-ok"))
        .unwrap();

    let windows = tmux.list_windows(first.session).unwrap();
    let counts: Vec<_> = windows.iter().map(|w| (w.id, w.panes)).collect();
    assert_eq!(counts, [(first.window, 2), (second.window, 1)]);
    assert_eq!(windows[1].name, "second");
}

#[test]
fn pane_options_round_trip_and_tagging_is_one_tmux_call() {
    let s = server!();
    let tmux = s.tmux();
    let pane = tmux
        .split_window(s.placeholder().pane, Split::Vertical, &Launch::new(["cat"]))
        .unwrap()
        .pane;

    let before = tmux.invocations();
    tmux.set_pane_options(
        pane,
        &[
            ("@cafleet_fleet", "shop é"),
            ("@cafleet_member", "api;"),
            ("@cafleet_hash", "-abc"),
        ],
    )
    .unwrap();
    assert_eq!(tmux.invocations() - before, 1);

    // Options, remain-on-exit and a layout: still one process.
    let before = tmux.invocations();
    let batch = Batch::new()
        .with(Cmd::set_pane_option(pane, "@cafleet_role", "member").unwrap())
        .with(Cmd::set_pane_option(pane, "@hostile", "a\x1fb\nc\x1ed").unwrap())
        .with(Cmd::remain_on_exit(pane, true))
        .with(Cmd::select_layout(s.placeholder().window, "even-vertical"));
    tmux.run(batch).unwrap();
    assert_eq!(tmux.invocations() - before, 1);

    let names = [
        "@cafleet_fleet",
        "@cafleet_member",
        "@cafleet_hash",
        "@cafleet_role",
    ];
    let panes = tmux
        .list_panes(&[&names[..], &["@hostile", "@unset"]].concat())
        .unwrap();
    let tagged = panes.iter().find(|p| p.id == pane).unwrap();
    assert_eq!(tagged.option("@cafleet_fleet"), Some("shop é"));
    assert_eq!(tagged.option("@cafleet_member"), Some("api;"));
    assert_eq!(tagged.option("@cafleet_hash"), Some("-abc"));
    assert_eq!(tagged.option("@cafleet_role"), Some("member"));
    assert_eq!(tagged.option("@hostile"), Some("abcd"));
    assert_eq!(tagged.option("@unset"), None);
    let other = panes.iter().find(|p| p.id == s.placeholder().pane).unwrap();
    assert!(other.options.is_empty());

    assert_eq!(
        tmux.pane_option(pane, "@cafleet_member")
            .unwrap()
            .as_deref(),
        Some("api;")
    );
    tmux.run(Cmd::unset_pane_option(pane, "@cafleet_member").unwrap())
        .unwrap();
    assert_eq!(tmux.pane_option(pane, "@cafleet_member").unwrap(), None);
    let missing = tmux
        .pane_option(PaneId::new(9999), "@cafleet_fleet")
        .unwrap_err();
    assert_eq!(missing.kind, Kind::NotFound);
    assert!(tmux.pane_option(pane, "no-at").is_err());
}

#[test]
fn a_dead_pane_stays_with_its_exit_status() {
    let s = server!();
    let tmux = s.tmux();
    // Exits at once: remain-on-exit must be on before the program starts.
    let dead = tmux
        .split_window(
            s.placeholder().pane,
            Split::Vertical,
            &Launch::new(["sh", "-c", "exit 7"])
                .remain_on_exit(true)
                .option("@cafleet_member", "quitter")
                .layout("tiled"),
        )
        .unwrap();
    assert!(wait_until(WAIT, || tmux
        .pane(dead.pane, &[])
        .unwrap()
        .is_some_and(|p| p.dead)));
    // tmux records the status when it reaps the child, a moment after the pane dies. On
    // some machines tmux 3.3a never reaps it (the child stays a zombie, checked with
    // plain tmux and `ps`): then there is no status to report, and callers treat that as
    // "exited, status unknown". When there is one, it must be the program's.
    wait_until(Duration::from_secs(2), || {
        tmux.pane(dead.pane, &[])
            .unwrap()
            .is_some_and(|p| p.dead_status.is_some())
    });
    let pane = tmux.pane(dead.pane, &["@cafleet_member"]).unwrap().unwrap();
    assert!(matches!(pane.dead_status, Some(7) | None), "{pane:?}");
    assert_eq!(pane.option("@cafleet_member"), Some("quitter"));
    assert!(!tmux.pane_alive(dead.pane).unwrap());
    assert!(tmux.pane_alive(s.placeholder().pane).unwrap());

    let missing = PaneId::new(9999);
    assert_eq!(tmux.pane(missing, &[]).unwrap(), None);
    assert!(!tmux.pane_alive(missing).unwrap());
    assert!(tmux.kill_pane(dead.pane).unwrap());
    assert!(!tmux.kill_pane(dead.pane).unwrap());
    assert_eq!(tmux.pane(dead.pane, &[]).unwrap(), None);
}

#[test]
fn literal_text_arrives_verbatim() {
    let s = server!();
    let tmux = s.tmux();
    let pane = tmux
        .new_session("typing", None, &Launch::new(["cat"]))
        .unwrap()
        .pane;
    let texts = [
        "ls;",
        "-rf --help",
        r#"say "hi" 'there'"#,
        "$(id) `id` $HOME",
        "emoji 😀 é",
        r"a\;",
        "x ; y",
        "Enter",
    ];
    for text in texts {
        tmux.send_text(pane, text).unwrap();
        tmux.send_keys(pane, &[Key::Enter]).unwrap();
        // The terminal echoes the line, then cat prints it again.
        s.wait_for_text(pane, WAIT, |t| {
            t.lines().filter(|line| *line == text).count() >= 2
        })
        .unwrap();
    }
}

#[test]
fn bracketed_paste_of_five_lines() {
    let s = server!();
    let tmux = s.tmux();
    // Asks for bracketed paste like a TUI does, then shows raw input bytes visibly.
    let script = r#"printf '\033[?2004h'; stty raw -echo; exec cat -v"#;
    let pane = tmux
        .new_session("paste", None, &Launch::new(["sh", "-c", script]))
        .unwrap()
        .pane;
    // Wait for raw mode before pasting, or the tty would cook the first bytes.
    assert!(wait_until(WAIT, || tmux
        .pane(pane, &[])
        .unwrap()
        .is_some_and(|p| p.current_command == "cat")));
    tmux.paste_text(pane, "one\ntwo;\n-three\nfour 😀\nfive")
        .unwrap();
    let text = s
        .wait_for_text(pane, WAIT, |t| t.contains("[201~"))
        .unwrap();
    let flat: String = text.lines().collect();
    assert!(
        flat.contains("^[[200~one^Mtwo;^M-three^Mfour M-pM-^_M-^XM-^@^Mfive^[[201~"),
        "{text}"
    );
    assert_eq!(tmux.run(Cmd::new("list-buffers")).unwrap(), "");
}

#[test]
fn sessions_are_found_and_killed() {
    let s = server!();
    let tmux = s.tmux();
    let spawned = tmux
        .new_session("doomed", None, &Launch::new(["sleep", "30"]))
        .unwrap();
    assert!(tmux.has_session(spawned.session).unwrap());
    assert_eq!(tmux.find_session("doomed").unwrap(), Some(spawned.session));
    assert_eq!(tmux.find_session("doom").unwrap(), None);
    assert!(tmux.kill_session(spawned.session).unwrap());
    assert!(!tmux.has_session(spawned.session).unwrap());
    assert!(!tmux.kill_session(spawned.session).unwrap());
    assert!(!tmux.kill_window(spawned.window).unwrap());
    assert_eq!(tmux.find_session("doomed").unwrap(), None);
}

#[test]
fn a_process_group_ignoring_sigterm_ends_by_sigkill() {
    let s = server!();
    let tmux = s.tmux();
    let stubborn = tmux
        .split_window(
            s.placeholder().pane,
            Split::Vertical,
            &Launch::new([
                "sh",
                "-c",
                r#"trap "" TERM; echo ready; sleep 60; echo survived"#,
            ]),
        )
        .unwrap();
    let pid = stubborn.pid.unwrap();
    // Signalled before the trap is set, sh would just exit on SIGTERM.
    s.wait_for_text(stubborn.pane, WAIT, |t| t.contains("ready"))
        .unwrap();
    assert!(process::is_alive(pid));
    let ending = process::terminate(pid, Duration::from_millis(300)).unwrap();
    assert_eq!(ending, Ending::Killed);
    assert!(!ending.left_something());
    assert!(!process::is_alive(pid));
    assert!(wait_until(WAIT, || tmux
        .pane(stubborn.pane, &[])
        .unwrap()
        .is_none()));

    let polite = tmux
        .split_window(
            s.placeholder().pane,
            Split::Vertical,
            &Launch::new(["sleep", "60"]),
        )
        .unwrap();
    let ending = process::terminate(polite.pid.unwrap(), Duration::from_secs(5)).unwrap();
    assert_eq!(ending, Ending::Terminated);
}

#[test]
fn failures_name_the_command_and_missing_servers_are_empty() {
    let s = server!();
    let err = s
        .tmux()
        .run(Cmd::new("kill-pane").target(PaneId::new(9999)))
        .unwrap_err();
    assert_eq!(err.kind, Kind::NotFound);
    assert!(
        err.message.contains("kill-pane -t %9999"),
        "{}",
        err.message
    );
    assert!(err.message.contains("-S /tmp/cft-"), "{}", err.message);
    assert!(err.message.contains("can't find pane"), "{}", err.message);

    let err = s.tmux().run(Cmd::new("no-such-command")).unwrap_err();
    assert_eq!(err.kind, Kind::Failure);

    let nowhere = Tmux::at_path(s.dir().join("nowhere")).with_config("/dev/null");
    assert!(!nowhere.server_running().unwrap());
    assert!(nowhere.list_panes(&["@cafleet_fleet"]).unwrap().is_empty());
    assert!(nowhere.list_sessions().unwrap().is_empty());
    assert_eq!(nowhere.pane(PaneId::new(0), &[]).unwrap(), None);
    assert!(!nowhere.kill_pane(PaneId::new(0)).unwrap());
    assert!(s.tmux().server_running().unwrap());
    let clone = s.tmux().clone();
    assert_eq!(clone.socket(), s.tmux().socket());
}

#[test]
fn a_path_in_the_launch_env_reaches_the_pane() {
    let s = server!();
    let tmux = s.tmux();
    // tmux ignores `-e PATH=…` and uses its client's PATH instead; both spawn paths
    // (with and without the tag/option set-up step) must pass it.
    for launch in [
        Launch::new(["sh", "-c", "echo \"P=$PATH\"; sleep 30"]),
        Launch::new(["sh", "-c", "echo \"P=$PATH\"; sleep 30"]).option("@cafleet_member", "x"),
    ] {
        let spawned = tmux
            .split_window(
                s.placeholder().pane,
                Split::Vertical,
                &launch.env("PATH", "/custom/bin:/usr/bin:/bin"),
            )
            .unwrap();
        s.wait_for_text(spawned.pane, WAIT, |t| {
            t.contains("P=/custom/bin:/usr/bin:/bin")
        })
        .unwrap();
    }
}
