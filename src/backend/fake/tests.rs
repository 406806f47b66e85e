//! Unit tests of the fake: input decoding (keys, escapes, pastes and UTF-8 split across
//! reads), the reply template, and what each screen shows and how it fits the terminal.

use super::*;

fn text(s: &str) -> Input {
    Input::Text(s.into())
}
fn key(k: Key) -> Input {
    Input::Key(k)
}

#[test]
fn text_and_control_keys() {
    let mut p = InputParser::new();
    assert_eq!(
        p.feed(b"ab c\r\x03\x15\t\x7f\x08\n\x00\x1f"),
        vec![
            text("ab c"),
            key(Key::Enter),
            key(Key::Ctrl(b'c')),
            key(Key::Ctrl(b'u')),
            key(Key::Tab),
            key(Key::Backspace),
            key(Key::Ctrl(b'h')),
            key(Key::Ctrl(b'j')),
            key(Key::Ctrl(b'@')),
            key(Key::Ctrl(b'_')),
        ]
    );
    assert!(!p.has_pending());
}

#[test]
fn key_names() {
    let names: Vec<String> = [
        Key::Enter,
        Key::Escape,
        Key::Ctrl(b'c'),
        Key::Ctrl(b'\\'),
        Key::Byte(0xff),
        Key::Control('\u{85}'),
        Key::Csi("1;5C".into()),
    ]
    .iter()
    .map(Key::name)
    .collect();
    assert_eq!(
        names,
        [
            "Enter", "Escape", "C-c", "C-\\", "0xff", "U+0085", "CSI 1;5C"
        ]
    );
}

#[test]
fn escape_alone_waits_for_idle() {
    let mut p = InputParser::new();
    assert_eq!(p.feed(b"x\x1b"), vec![text("x")]);
    assert!(p.has_pending());
    assert_eq!(p.flush(), vec![key(Key::Escape)]);
    assert!(!p.has_pending());
}

#[test]
fn escape_followed_by_text_is_a_key() {
    let mut p = InputParser::new();
    assert_eq!(
        p.feed(b"\x1bhi\x1b\x1b"),
        vec![key(Key::Escape), text("hi"), key(Key::Escape)]
    );
    assert_eq!(p.flush(), vec![key(Key::Escape)]);
}

#[test]
fn escape_then_paste_split_after_escape() {
    let mut p = InputParser::new();
    assert_eq!(p.feed(b"\x1b"), vec![]);
    assert_eq!(
        p.feed(b"[200~a\rb\x1b[201~"),
        vec![Input::Paste("a\rb".into())]
    );
}

#[test]
fn csi_keys() {
    let mut p = InputParser::new();
    assert_eq!(
        p.feed(b"\x1b[A\x1b[D\x1b[3~\x1b[1;5C\x1b[Z\x1b[201~"),
        vec![
            key(Key::Up),
            key(Key::Left),
            key(Key::Delete),
            key(Key::Csi("1;5C".into())),
            key(Key::BackTab),
            key(Key::Csi("201~".into())),
        ]
    );
}

#[test]
fn incomplete_csi_resolves_on_flush() {
    let mut p = InputParser::new();
    assert_eq!(p.feed(b"\x1b[1;"), vec![]);
    assert_eq!(p.flush(), vec![key(Key::Escape), text("[1;")]);
}

#[test]
fn paste_keeps_newlines_and_control_bytes() {
    let mut p = InputParser::new();
    assert_eq!(
        p.feed(b"x\x1b[200~line 1\nline 2\r\x1b\x03\x1b[201~\r"),
        vec![
            text("x"),
            Input::Paste("line 1\nline 2\r\x1b\x03".into()),
            key(Key::Enter),
        ]
    );
}

#[test]
fn paste_split_across_reads() {
    let mut p = InputParser::new();
    let whole = b"\x1b[200~[cafleet] message #42 from api: h\xc3\xa9llo\x1b[201~\r";
    // Every split point, including inside both markers and inside `é`.
    for cut in 1..whole.len() {
        let mut p2 = InputParser::new();
        let mut got = p2.feed(&whole[..cut]);
        got.extend(p2.feed(&whole[cut..]));
        assert_eq!(
            got,
            vec![
                Input::Paste("[cafleet] message #42 from api: héllo".into()),
                key(Key::Enter)
            ],
            "cut at {cut}"
        );
    }
    // A paste held open does not end on idle.
    assert_eq!(p.feed(b"\x1b[200~abc"), vec![]);
    assert_eq!(p.flush(), vec![]);
    assert!(!p.has_pending());
    assert_eq!(p.feed(b"\x1b[201"), vec![]);
    assert_eq!(p.feed(b"~"), vec![Input::Paste("abc".into())]);
}

#[test]
fn utf8_split_and_invalid_bytes() {
    let mut p = InputParser::new();
    assert_eq!(p.feed(b"h\xc3"), vec![text("h")]);
    assert_eq!(p.feed(b"\xa9!"), vec![text("é!")]);
    assert_eq!(
        p.feed(b"a\xffb\xc2\x85c"),
        vec![
            text("a"),
            key(Key::Byte(0xff)),
            text("b"),
            key(Key::Control('\u{85}')),
            text("c"),
        ]
    );
    assert_eq!(p.feed(b"\xe2\x82"), vec![]);
    assert_eq!(p.flush(), vec![key(Key::Byte(0xe2)), key(Key::Byte(0x82))]);
    assert_eq!(
        p.feed(b"\xe2\r"),
        vec![key(Key::Byte(0xe2)), key(Key::Enter)]
    );
}

#[test]
fn reply_template() {
    assert_eq!(
        render_reply("pong {n} to {from}", 3, "api"),
        "pong 3 to api"
    );
    assert_eq!(render_reply("{n}{n}{from}", 1, "x"), "11x");
    assert_eq!(render_reply("{x} {n", 2, "a"), "{x} {n");
    assert_eq!(render_reply("", 2, "a"), "");
    assert_eq!(render_reply("{from}", 2, "{n}"), "{n}");
}

fn app(screen: Screen) -> App {
    let (tx, _rx) = mpsc::channel();
    App {
        name: "api".into(),
        prompt: Some("You are api.\nBuild the thing.".into()),
        options: FakeOptions::default(),
        log: Log {
            file: None,
            agent: "api".into(),
        },
        tx,
        bin: PathBuf::from("cafleet"),
        started: Instant::now(),
        screen,
        composer: "hello".into(),
        transcript: vec!["> earlier line".into()],
        queued: vec!["later".into()],
        frozen: false,
        draws: false,
        opener_sent: true,
        replies: 0,
        jobs: 0,
    }
}

fn screen_text(screen: Screen) -> String {
    app(screen)
        .render(24, 80, Duration::from_secs(3))
        .lines
        .join("\n")
}

#[test]
fn screens_show_their_texts() {
    let composer = screen_text(Screen::Composer);
    for needle in [HEADER_TITLE, "You are api.", "> earlier line", "> hello"] {
        assert!(composer.contains(needle), "{needle} in\n{composer}");
    }
    assert!(composer.contains(READY_FOOTER));
    assert!(!composer.contains(WORKING_FOOTER));

    let working = screen_text(Screen::Working);
    for needle in [WORKING_TITLE, WORKING_FOOTER, QUEUED, "> hello"] {
        assert!(working.contains(needle), "{needle} in\n{working}");
    }
    assert!(!working.contains(READY_FOOTER));

    let permission = screen_text(Screen::Permission);
    for needle in [PERMISSION_QUESTION, PERMISSION_YES, PERMISSION_NO] {
        assert!(permission.contains(needle), "{needle} in\n{permission}");
    }
    let trust = screen_text(Screen::Trust);
    for needle in [TRUST_QUESTION, TRUST_YES, TRUST_NO] {
        assert!(trust.contains(needle), "{needle} in\n{trust}");
    }
    assert!(screen_text(Screen::Login).contains(LOGIN_GATE));
    assert!(screen_text(Screen::Starting).contains(STARTING));
    for screen in [Screen::Permission, Screen::Trust, Screen::Login] {
        let text = screen_text(screen);
        assert!(!text.contains(READY_FOOTER) && !text.contains(WORKING_FOOTER));
    }
}

#[test]
fn frame_fits_the_terminal() {
    let frame = app(Screen::Composer).render(24, 80, Duration::ZERO);
    assert_eq!(frame.lines.len(), 24);
    assert!(frame.lines.iter().all(|l| l.chars().count() <= 80));
    let frame = app(Screen::Composer).render(5, 30, Duration::ZERO);
    assert!(frame.lines.iter().all(|l| l.chars().count() <= 30));
}
