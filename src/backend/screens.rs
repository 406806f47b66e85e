//! What an agent's pane is showing, told from one `capture-pane`, and how keys must be
//! paced for each backend. Every screen pattern lives here, one table per agent, with
//! tests on captured screen text (backends.md "Screens" and "Keys: what Escape really
//! does"); the broker decides from the [`Screen`] whether to press Escape, type, or leave
//! a message queued.
//!
//! Only the bottom [`BOTTOM_LINES`] non-blank lines are matched: dialogs, composers and
//! footers live there, while the transcript above may quote anything (a message that
//! mentions "esc to interrupt" must not change how the next one is delivered).

use std::time::Duration;

use super::BackendName;
use super::fake;

/// How many non-blank lines from the bottom of the screen are matched.
pub const BOTTOM_LINES: usize = 15;

/// What the pane shows, as far as delivering a message is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// A ready, idle composer: type, no Escape.
    Composer,
    /// The agent is in a turn: type (it queues the line), never Escape (it interrupts).
    Working,
    /// A permission or question prompt: Escape first, so the trailing Enter cannot
    /// confirm it.
    Prompt,
    /// A trust dialog: type nothing (Escape quits claude's), report `waiting-input`.
    Trust,
    /// A sign-in or first-run gate: type nothing, report `waiting-input`.
    Login,
    /// Nothing recognised: the original's Escape-first rule.
    Unknown,
}

impl Screen {
    pub fn name(self) -> &'static str {
        match self {
            Screen::Composer => "composer",
            Screen::Working => "working",
            Screen::Prompt => "prompt",
            Screen::Trust => "trust",
            Screen::Login => "login",
            Screen::Unknown => "unknown",
        }
    }

    /// Whether a preview may be typed at all.
    pub fn accepts_typing(self) -> bool {
        !matches!(self, Screen::Trust | Screen::Login)
    }

    /// Whether Escape goes first.
    pub fn escape_first(self) -> bool {
        matches!(self, Screen::Prompt | Screen::Unknown)
    }
}

/// The patterns of one backend, checked in this order: gates, prompts, working,
/// composer. Any one string of a group matching selects it.
struct Patterns {
    login: &'static [&'static str],
    trust: &'static [&'static str],
    prompt: &'static [&'static str],
    working: &'static [&'static str],
    composer: &'static [&'static str],
}

const CLAUDE: Patterns = Patterns {
    login: &[
        "Unable to connect to Anthropic services",
        "Not logged in",
        "Run /login",
        "Do you want to use this API key?",
    ],
    trust: &[
        "Yes, I trust this folder",
        "Do you trust the files in this folder?",
    ],
    prompt: &[
        "Do you want to proceed?",
        "Do you want to make this edit",
        "Do you want to create",
        "❯ 1. Yes",
        "Esc to cancel",
    ],
    working: &["esc to interrupt"],
    composer: &["don't ask on", "? for shortcuts"],
};

const CODEX: Patterns = Patterns {
    login: &["Sign in with ChatGPT"],
    trust: &["Trust this folder?", "Trust and continue"],
    prompt: &[
        "Would you like to run the following command?",
        "Would you like to make the following edits?",
        "Press Enter to confirm or Esc to cancel",
    ],
    working: &["esc to interrupt"],
    composer: &["Ask Codex to do anything", "? for shortcuts"],
};

const OPENCODE: Patterns = Patterns {
    login: &[],
    trust: &[],
    prompt: &["Permission required", "Allow once"],
    working: &["esc interrupt"],
    composer: &["tab agents", "ctrl+p commands"],
};

const FAKE: Patterns = Patterns {
    login: &[fake::LOGIN_GATE],
    trust: &[fake::TRUST_QUESTION, fake::TRUST_YES],
    prompt: &[fake::PERMISSION_QUESTION],
    working: &[fake::WORKING_FOOTER],
    composer: &[fake::READY_FOOTER],
};

/// An arbitrary command: nothing is known, so every screen is [`Screen::Unknown`].
const COMMAND: Patterns = Patterns {
    login: &[],
    trust: &[],
    prompt: &[],
    working: &[],
    composer: &[],
};

fn patterns(backend: BackendName) -> &'static Patterns {
    match backend {
        BackendName::Claude => &CLAUDE,
        BackendName::Codex => &CODEX,
        BackendName::Opencode => &OPENCODE,
        BackendName::Fake => &FAKE,
        BackendName::Command => &COMMAND,
    }
}

/// Classifies the text of a pane (as `capture-pane -p` prints it).
pub fn classify(backend: BackendName, captured: &str) -> Screen {
    let lines: Vec<&str> = captured.lines().filter(|l| !l.trim().is_empty()).collect();
    let bottom = &lines[lines.len().saturating_sub(BOTTOM_LINES)..];
    let any = |needles: &[&str]| {
        needles
            .iter()
            .any(|needle| bottom.iter().any(|line| line.contains(needle)))
    };
    let p = patterns(backend);
    if any(p.login) {
        Screen::Login
    } else if any(p.trust) {
        Screen::Trust
    } else if any(p.prompt) {
        Screen::Prompt
    } else if any(p.working) {
        Screen::Working
    } else if any(p.composer) {
        Screen::Composer
    } else {
        Screen::Unknown
    }
}

/// Whether the composer visibly holds text (a half-typed line the preview would be
/// appended to), so it must be cleared with C-u first. Only checked on [`Screen::Composer`]
/// and [`Screen::Working`]; a false alarm costs one C-u on an empty line, which does
/// nothing, so placeholders that look like text are acceptable. Unknown for opencode and
/// commands (`false`).
pub fn composer_has_text(backend: BackendName, captured: &str) -> bool {
    let lines: Vec<&str> = captured.lines().filter(|l| !l.trim().is_empty()).collect();
    let bottom = &lines[lines.len().saturating_sub(BOTTOM_LINES)..];
    // The composer is the last prompt-marked line on the screen.
    let after = |prefixes: &[&str]| {
        bottom.iter().rev().find_map(|line| {
            let line = line.trim_start();
            prefixes
                .iter()
                .find_map(|p| line.strip_prefix(p))
                .map(|rest| rest.trim_end_matches(['│', '┃', ' ']).trim().to_owned())
        })
    };
    let fake_prompt = format!("│ {}", fake::COMPOSER_PROMPT);
    let text = match backend {
        BackendName::Fake => after(&[fake_prompt.as_str()]),
        BackendName::Claude => after(&["│ > ", "> "]),
        BackendName::Codex => after(&["› "]),
        BackendName::Opencode | BackendName::Command => None,
    };
    text.is_some_and(|t| !t.is_empty())
}

/// How keys are paced for one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTiming {
    /// After Escape, before the text: long enough that the terminal cannot read ESC and
    /// the preview's leading `[` as one escape sequence, and for the prompt to close.
    pub after_escape: Duration,
    /// Between the text and Enter (codex drops an Enter that follows text too closely).
    pub before_enter: Duration,
}

pub fn key_timing(backend: BackendName) -> KeyTiming {
    let ms = Duration::from_millis;
    match backend {
        BackendName::Claude => KeyTiming {
            after_escape: ms(300),
            before_enter: ms(300),
        },
        BackendName::Codex => KeyTiming {
            after_escape: ms(300),
            before_enter: ms(800),
        },
        BackendName::Opencode => KeyTiming {
            after_escape: ms(300),
            before_enter: ms(300),
        },
        BackendName::Command => KeyTiming {
            after_escape: ms(200),
            before_enter: ms(200),
        },
        // The fake waits 30 ms for the rest of an escape sequence.
        BackendName::Fake => KeyTiming {
            after_escape: ms(100),
            before_enter: ms(50),
        },
    }
}

#[cfg(test)]
mod tests {
    /// Screens captured from the real programs (`capture-pane -p`, 120×40, no account,
    /// no network), kept in tests/screens/.
    #[test]
    fn real_captured_screens() {
        let cases = [
            (
                BackendName::Opencode,
                include_str!("../../tests/screens/opencode-1.18.33-ready.txt"),
                Screen::Composer,
            ),
            (
                BackendName::Codex,
                include_str!("../../tests/screens/codex-0.169.0-sign-in.txt"),
                Screen::Login,
            ),
            (
                BackendName::Claude,
                include_str!("../../tests/screens/claude-2.1.197-offline.txt"),
                Screen::Login,
            ),
        ];
        for (backend, text, want) in cases {
            assert_eq!(classify(backend, text), want, "{backend}: {text}");
        }
    }

    use super::*;

    fn screen(lines: &[&str]) -> String {
        let mut text = lines.join("\n");
        text.push_str("\n\n\n");
        text
    }

    #[test]
    fn claude_screens() {
        let b = BackendName::Claude;
        let trust = screen(&[
            " Do you trust the files in this folder?",
            " ❯ 1. Yes, I trust this folder",
            "   2. No, exit",
        ]);
        assert_eq!(classify(b, &trust), Screen::Trust);
        let composer = screen(&[
            "╭─── api ───────╮",
            "│ >             │",
            "╰───────────────╯",
            "  ⏵⏵ don't ask on (shift+tab to cycle)",
        ]);
        assert_eq!(classify(b, &composer), Screen::Composer);
        let working = screen(&[
            "✻ Pondering… (12s · ↑ 1.2k tokens · esc to interrupt)",
            "│ >             │",
            "  ⏵⏵ don't ask on (shift+tab to cycle)",
        ]);
        assert_eq!(classify(b, &working), Screen::Working);
        let permission = screen(&[
            " Bash command",
            "   rm -rf build",
            " Do you want to proceed?",
            " ❯ 1. Yes",
            "   2. No, and tell Claude what to do differently (esc)",
        ]);
        assert_eq!(classify(b, &permission), Screen::Prompt);
        let login = screen(&["Not logged in · Run /login"]);
        assert_eq!(classify(b, &login), Screen::Login);
        assert_eq!(
            classify(b, &screen(&["Unable to connect to Anthropic services"])),
            Screen::Login
        );
        assert_eq!(classify(b, &screen(&["$ "])), Screen::Unknown);
    }

    #[test]
    fn codex_screens() {
        let b = BackendName::Codex;
        assert_eq!(
            classify(
                b,
                &screen(&["> Sign in with ChatGPT", "  Provide your own API key"])
            ),
            Screen::Login
        );
        assert_eq!(
            classify(
                b,
                &screen(&["Trust this folder?", "› 1. Trust and continue"])
            ),
            Screen::Trust
        );
        assert_eq!(
            classify(
                b,
                &screen(&["› Ask Codex to do anything", "  ? for shortcuts"])
            ),
            Screen::Composer
        );
        assert_eq!(
            classify(b, &screen(&["• Working (3s • esc to interrupt)", "› "])),
            Screen::Working
        );
        assert_eq!(
            classify(b, &screen(&["This model has been retired."])),
            Screen::Unknown
        );
    }

    #[test]
    fn opencode_screens() {
        let b = BackendName::Opencode;
        assert_eq!(
            classify(b, &screen(&["┃ ", "  tab agents  ctrl+p commands"])),
            Screen::Composer
        );
        assert_eq!(
            classify(b, &screen(&["⬝⬝⬝ esc interrupt", "  tab agents"])),
            Screen::Working
        );
    }

    #[test]
    fn fake_screens_from_its_own_texts() {
        let b = BackendName::Fake;
        let header = format!("{} · api", fake::HEADER_TITLE);
        let with_header = |lines: &[&str]| {
            let mut all = vec![header.as_str()];
            all.extend_from_slice(lines);
            screen(&all)
        };
        let footer = format!("  {} · ✻ 3s", fake::READY_FOOTER);
        assert_eq!(
            classify(b, &with_header(&["╭─ api ─╮", "│ >  │", "╰──╯", &footer])),
            Screen::Composer
        );
        let working = format!("{} (3s · {})", fake::WORKING_TITLE, fake::WORKING_FOOTER);
        assert_eq!(classify(b, &with_header(&[&working])), Screen::Working);
        assert_eq!(
            classify(
                b,
                &with_header(&[fake::PERMISSION_QUESTION, fake::PERMISSION_YES])
            ),
            Screen::Prompt
        );
        assert_eq!(
            classify(b, &with_header(&[fake::TRUST_QUESTION, fake::TRUST_YES])),
            Screen::Trust
        );
        assert_eq!(
            classify(b, &with_header(&[fake::LOGIN_GATE])),
            Screen::Login
        );
        assert_eq!(
            classify(b, &with_header(&[fake::STARTING])),
            Screen::Unknown
        );
    }

    #[test]
    fn transcript_above_the_bottom_is_not_matched() {
        let mut lines = vec!["> [cafleet] message #1 from a: Sign in to continue"];
        lines.extend(std::iter::repeat_n("  transcript line", BOTTOM_LINES));
        lines.push(fake::READY_FOOTER);
        assert_eq!(
            classify(BackendName::Fake, &screen(&lines)),
            Screen::Composer
        );
    }

    #[test]
    fn only_gates_block_typing_and_only_prompts_and_unknown_get_escape() {
        for s in [
            Screen::Composer,
            Screen::Working,
            Screen::Prompt,
            Screen::Trust,
            Screen::Login,
            Screen::Unknown,
        ] {
            assert_eq!(
                s.accepts_typing(),
                !matches!(s, Screen::Trust | Screen::Login)
            );
            assert_eq!(
                s.escape_first(),
                matches!(s, Screen::Prompt | Screen::Unknown)
            );
        }
    }

    #[test]
    fn stray_composer_text() {
        let fake_screen = |composer: &str| {
            format!(
                "{} · api\n\n╭─ api ─╮\n│ > {composer}   │\n╰──╯\n  {}\n",
                fake::HEADER_TITLE,
                fake::READY_FOOTER
            )
        };
        assert!(!composer_has_text(BackendName::Fake, &fake_screen("")));
        assert!(composer_has_text(
            BackendName::Fake,
            &fake_screen("half a thought")
        ));
        let claude = "> earlier prompt\n⏺ answer\n────\n> \n────\n  ⏵⏵ don't ask on\n";
        assert!(!composer_has_text(BackendName::Claude, claude));
        let claude = "> earlier prompt\n────\n> draft\n────\n  ⏵⏵ don't ask on\n";
        assert!(composer_has_text(BackendName::Claude, claude));
        assert!(!composer_has_text(
            BackendName::Opencode,
            "┃ typed\n tab agents\n"
        ));
    }

    #[test]
    fn codex_waits_longest_before_enter() {
        let codex = key_timing(BackendName::Codex).before_enter;
        for b in [
            BackendName::Claude,
            BackendName::Opencode,
            BackendName::Fake,
        ] {
            assert!(key_timing(b).before_enter < codex);
        }
    }
}
