//! The starter team `cafleet init` writes: a fleet file with a Director and one member on
//! the backends found on PATH, and their prompt templates. Only text here; the command
//! writes the files (next to the schema they point to).

use super::raw::BackendName;
use super::rules;

/// The file name of the schema the starter's `#:schema` line points to, next to it.
pub const SCHEMA_FILE: &str = "fleet.schema.json";

/// One file of the starter, relative to the folder it is written to.
pub struct StarterFile {
    pub path: &'static str,
    pub text: String,
}

/// What the starter team runs on.
pub struct Choice {
    /// The Director's backend (and `[defaults] backend`).
    pub director: BackendName,
    /// The member's backend.
    pub member: BackendName,
    /// Which real agents were looked for and found, for the comment at the top; `None`
    /// when the backend was chosen with `--backend`.
    pub found: Option<Vec<BackendName>>,
}

/// The agents `init` looks for on PATH, in the order it prefers them for the Director.
pub const AGENTS: [BackendName; 3] = [
    BackendName::Claude,
    BackendName::Codex,
    BackendName::Opencode,
];

impl Choice {
    /// The Director on the first agent found, the member on the second (or the first);
    /// with none found, both on the built-in `fake` agent.
    pub fn from_found(found: Vec<BackendName>) -> Choice {
        let director = found.first().copied().unwrap_or(BackendName::Fake);
        let member = found.get(1).copied().unwrap_or(director);
        Choice {
            director,
            member,
            found: Some(found),
        }
    }

    pub fn only(backend: BackendName) -> Choice {
        Choice {
            director: backend,
            member: backend,
            found: None,
        }
    }
}

/// A fleet name from a folder's name: lowercased, other characters turned into `-`, cut
/// to 32; `team` when nothing usable is left.
pub fn fleet_name(folder: &str) -> String {
    let mut name: String = folder
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name
        .trim_start_matches(['-', '_'])
        .chars()
        .take(32)
        .collect();
    if rules::is_valid_name(&name) {
        name
    } else {
        "team".into()
    }
}

/// The starter's files: `fleet.toml` and its two prompt templates (the schema is the
/// caller's, from the same code as `cafleet schema`).
pub fn files(name: &str, choice: &Choice) -> Vec<StarterFile> {
    vec![
        StarterFile {
            path: "fleet.toml",
            text: fleet_toml(name, choice),
        },
        StarterFile {
            path: "prompts/director.md.hbs",
            text: DIRECTOR_PROMPT.into(),
        },
        StarterFile {
            path: "prompts/coder.md.hbs",
            text: CODER_PROMPT.into(),
        },
    ]
}

fn fleet_toml(name: &str, choice: &Choice) -> String {
    let mut text = format!(
        "#:schema ./{SCHEMA_FILE}\n\
         # A starter team written by `cafleet init`: a Director that leads and one member that\n\
         # does the work. `cafleet config check` checks this file, `cafleet plan` says what\n\
         # `cafleet up --wait` would start. Every key is described in {SCHEMA_FILE}.\n"
    );
    match &choice.found {
        Some(found) if found.is_empty() => text.push_str(
            "# No claude, codex or opencode was found on PATH, so this team runs on cafleet's\n\
             # built-in `fake` agent (no account, no API key). Change `backend` once one is\n\
             # installed.\n",
        ),
        Some(found) => {
            let names: Vec<&str> = found.iter().map(|b| b.as_str()).collect();
            let missing: Vec<&str> = AGENTS
                .iter()
                .filter(|b| !found.contains(b))
                .map(|b| b.as_str())
                .collect();
            text.push_str(&format!("# Found on PATH: {}.", names.join(", ")));
            if !missing.is_empty() {
                text.push_str(&format!(" Not found: {}.", missing.join(", ")));
            }
            text.push('\n');
        }
        None => {}
    }
    text.push_str(&format!(
        "version = 1\n\
         \n\
         [fleet]\n\
         name = \"{name}\"\n\
         root = \".\"                        # every agent works here, relative to this file\n\
         layout = \"main-vertical\"          # the Director on the left, members on the right\n\
         socket = \"cafleet-{name}\"{pad}# its own tmux server: `tmux -L cafleet-{name} attach`\n\
         \n\
         [defaults]\n\
         backend = \"{director}\"\n\
         \n\
         [director]\n\
         prompt_file = \"prompts/director.md.hbs\"\n\
         \n\
         [[member]]\n\
         name = \"coder\"\n\
         description = \"writes and tests the code the Director assigns\"\n",
        pad = " ".repeat(15usize.saturating_sub(name.len()).max(1)),
        director = choice.director,
    ));
    if choice.member != choice.director {
        text.push_str(&format!("backend = \"{}\"\n", choice.member));
    }
    text.push_str("prompt_file = \"prompts/coder.md.hbs\"\n");
    if choice.member == BackendName::Fake {
        text.push_str(
            "# The fake agent reads its inbox when a message arrives and answers the sender.\n\
             fake = { reply = \"on it ({n})\", ack = true }\n",
        );
    }
    text
}

const DIRECTOR_PROMPT: &str = "\
You are {{director.name}}, the Director of the {{fleet.name}} team, working in {{fleet.root}}.
Your members:
{{#each members}}- {{name}} ({{backend}}): {{description}}
{{/each}}
Split the work into parts, send each member its part with
`cafleet message send --to NAME \"…\"`, and read their answers with `cafleet message inbox`.
When the team has finished, say so with `cafleet done \"what was done\"`.
";

const CODER_PROMPT: &str = "\
You are {{member.name}} in the {{fleet.name}} team, led by {{director.name}}: you
{{member.description}}.
Wait for {{director.name}}'s messages (`cafleet message inbox` shows them), do what they
ask, and answer with `cafleet message send --to {{director.name}} \"…\"` when done.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_names_from_folders() {
        assert_eq!(fleet_name("shop"), "shop");
        assert_eq!(fleet_name("My Shop.v2"), "my-shop-v2");
        assert_eq!(fleet_name("--x"), "x");
        assert_eq!(fleet_name(""), "team");
        assert_eq!(fleet_name("é"), "team");
        assert_eq!(fleet_name(&"a".repeat(40)).len(), 32);
    }

    #[test]
    fn the_choice_follows_what_is_found() {
        let none = Choice::from_found(Vec::new());
        assert_eq!(
            (none.director, none.member),
            (BackendName::Fake, BackendName::Fake)
        );
        let two = Choice::from_found(vec![BackendName::Codex, BackendName::Opencode]);
        assert_eq!(
            (two.director, two.member),
            (BackendName::Codex, BackendName::Opencode)
        );
        let text = fleet_toml("t", &two);
        assert!(text.contains("Found on PATH: codex, opencode. Not found: claude."));
        assert!(
            text.contains("backend = \"codex\"\n") && text.contains("backend = \"opencode\"\n")
        );
    }
}
