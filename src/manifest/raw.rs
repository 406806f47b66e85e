//! The fleet file exactly as written: serde structs that mirror the TOML, with the spans
//! validation needs. The JSON Schema (`cafleet schema`) is generated from these types, and
//! the structural check walks the parsed TOML against that same schema, so the types are
//! the one source of truth for which keys exist.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::rules;
use crate::backend::fake_options::FakeOptions;

/// A value with the byte range it came from in the fleet file.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Sp<T>(pub toml::Spanned<T>);

impl<T> Sp<T> {
    pub fn get(&self) -> &T {
        self.0.get_ref()
    }

    pub fn span(&self) -> std::ops::Range<usize> {
        self.0.span()
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// A cafleet fleet file: one team of coding agents in tmux.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cafleet fleet file")]
pub struct RawFile {
    /// The file format version; must be 1.
    #[schemars(transform = rules::schema_version)]
    pub version: Sp<i64>,
    /// The fleet: its name, where its agents work, and how its tmux session looks.
    pub fleet: RawFleet,
    /// Settings every agent inherits unless it sets its own.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// The Director: the agent that leads the team.
    pub director: RawDirector,
    /// The monitoring member, which keeps the team awake with the heartbeat loop
    /// (`cafleet monitor start`), started by the member itself or, with
    /// `loop = "cafleet"`, by `cafleet up`.
    #[serde(default)]
    pub monitor: Option<RawMonitor>,
    /// The members that do the work.
    #[serde(default)]
    pub member: Vec<RawMember>,
}

/// `[fleet]`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    /// The fleet's name, `[a-z0-9][a-z0-9_-]{0,31}`; its tmux session is `cafleet-NAME`.
    #[schemars(transform = rules::schema_name)]
    pub name: Sp<String>,
    /// The working directory of every agent, relative to this file; `~` expands.
    #[serde(default)]
    pub root: Option<Sp<String>>,
    /// A tmux layout name, re-applied after every spawn (default `tiled`).
    #[serde(default)]
    #[schemars(transform = rules::schema_layout)]
    pub layout: Option<Sp<String>>,
    /// How many agents share one tmux window before another window is opened (1 to 32,
    /// default 4).
    #[serde(default)]
    #[schemars(transform = rules::schema_panes_per_window)]
    pub panes_per_window: Option<Sp<i64>>,
    /// The size of each of the fleet's tmux windows, `WIDTHxHEIGHT` in cells, while no
    /// terminal is attached (default: room for at least 60×15 for every pane in the
    /// layout with `panes_per_window` panes); 20–2000 by 5–1000.
    #[serde(default)]
    #[schemars(transform = rules::schema_size)]
    pub size: Option<Sp<String>>,
    /// `""` for the user's tmux server, or a name for `tmux -L NAME`.
    #[serde(default)]
    #[schemars(transform = rules::schema_socket)]
    pub socket: Option<Sp<String>>,
    /// Environment variables added to every agent.
    #[serde(default)]
    #[schemars(transform = rules::schema_env)]
    pub env: BTreeMap<String, String>,
    /// Free variables for templates: `{{vars.NAME}}`.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Names of environment variables (an API key, say) passed from the environment of
    /// `cafleet up`/`run` into every agent's pane when it starts. Only the names are
    /// stored; the values never reach the registry, events, `config show`, `ps`, the web
    /// UI or a run's report. A name that is not set is an error before anything starts.
    #[serde(default)]
    pub env_from: Vec<String>,
    /// The ssh command that reaches members' hosts (`host`), as a shell-style command
    /// line such as `"ssh -F ~/.ssh/cafleet_config"`; default `ssh`. The variable
    /// `CAFLEET_SSH_COMMAND` overrides it, as `GIT_SSH_COMMAND` does for git.
    #[serde(default)]
    pub ssh_command: Option<Sp<String>>,
    /// Pre-trust the folders of the fleet's claude and codex agents before they start
    /// (`~/.claude.json` and `~/.codex/config.toml`, only the trust keys), so no
    /// trust question stops a headless run. `up --trust` and `run --trust` do the same.
    #[serde(default)]
    pub trust: Option<bool>,
}

/// The restart policy when an agent's process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    No,
    OnFailure,
    Always,
}

/// Who starts a fleet's heartbeat loop (`cafleet monitor start`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MonitorLoop {
    /// The monitoring member: its prompt tells it to start the loop (the default). An
    /// agent that never runs commands (the `fake` one) never starts it.
    #[default]
    Agent,
    /// `cafleet up` starts the loop in the background and `cafleet down` stops it,
    /// whatever the monitoring member does.
    Cafleet,
}

/// The programs an agent can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    Claude,
    Codex,
    Opencode,
    Command,
    Fake,
}

impl BackendName {
    pub const ALL: [BackendName; 5] = [
        BackendName::Claude,
        BackendName::Codex,
        BackendName::Opencode,
        BackendName::Command,
        BackendName::Fake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BackendName::Claude => "claude",
            BackendName::Codex => "codex",
            BackendName::Opencode => "opencode",
            BackendName::Command => "command",
            BackendName::Fake => "fake",
        }
    }
}

impl std::fmt::Display for BackendName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BackendName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendName::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("unknown backend `{s}`"))
    }
}

/// `[defaults]`
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// The backend of agents that set none.
    #[serde(default)]
    pub backend: Option<Sp<BackendName>>,
    /// The model of agents that set none.
    #[serde(default)]
    pub model: Option<Sp<String>>,
    /// The reasoning effort of agents that set none.
    #[serde(default)]
    pub effort: Option<Sp<String>>,
    /// Environment variables for every agent.
    #[serde(default)]
    #[schemars(transform = rules::schema_env)]
    pub env: BTreeMap<String, String>,
    /// Extra arguments appended to every agent's command.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// What the monitor does when a member's process exits: `no`, `on-failure`, `always`.
    #[serde(default)]
    pub restart: Option<Restart>,
    /// Restarts allowed within `restart_window` before the member is marked `crash-loop`.
    #[serde(default)]
    #[schemars(transform = rules::schema_count)]
    pub max_restarts: Option<Sp<i64>>,
    /// The window `max_restarts` counts over, as a duration (`"10m"`).
    #[serde(default)]
    #[schemars(transform = rules::schema_duration)]
    pub restart_window: Option<Sp<String>>,
    /// The host members run on unless they set their own `host` (the Director and the
    /// monitoring member always run on this machine).
    #[serde(default)]
    #[schemars(transform = rules::schema_host)]
    pub host: Option<Sp<String>>,
}

/// Declares the keys every kind of agent has, plus the ones given, so the three agent
/// tables stay in step.
macro_rules! agent_table {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// `claude`, `codex`, `opencode`, `command` or `fake`.
            #[serde(default)]
            pub backend: Option<Sp<BackendName>>,
            /// The model, passed to the backend's model flag.
            #[serde(default)]
            pub model: Option<Sp<String>>,
            /// The reasoning effort: claude low..max, codex minimal..xhigh; others reject it.
            #[serde(default)]
            pub effort: Option<Sp<String>>,
            /// The prompt, a Handlebars template.
            #[serde(default)]
            pub prompt: Option<Sp<String>>,
            /// A file holding the prompt template, relative to the fleet file.
            #[serde(default)]
            pub prompt_file: Option<Sp<String>>,
            /// The working directory, relative to `[fleet] root`.
            #[serde(default)]
            pub cwd: Option<Sp<String>>,
            /// Extra environment variables.
            #[serde(default)]
            #[schemars(transform = rules::schema_env)]
            pub env: BTreeMap<String, String>,
            /// Extra arguments appended to the backend's command.
            #[serde(default)]
            pub args: Option<Vec<String>>,
            /// The program to run (`backend = "command"` only).
            #[serde(default)]
            pub command: Option<Sp<Vec<String>>>,
            /// Options of the built-in stand-in agent (`backend = "fake"` only).
            #[serde(default)]
            pub fake: Option<Sp<FakeOptions>>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }
    };
}

agent_table!(
    /// `[director]`
    RawDirector {}
);

agent_table!(
    /// `[monitor]`
    RawMonitor {
        /// The scan → ping → sleep period, as a duration (default `"60s"`).
        #[serde(default)]
        #[schemars(transform = rules::schema_duration)]
        interval: Option<Sp<String>>,
        /// No pane activity with work pending for this long means stalled (default `"10m"`).
        #[serde(default)]
        #[schemars(transform = rules::schema_duration)]
        stall_after: Option<Sp<String>>,
        /// Who starts the heartbeat loop: `agent` (the default: the monitoring member's
        /// prompt tells it to run `cafleet monitor start`) or `cafleet` (`cafleet up`
        /// starts it in the background and `cafleet down` stops it).
        #[serde(default, rename = "loop")]
        run_loop: Option<MonitorLoop>,
    }
);

agent_table!(
    /// `[[member]]`
    RawMember {
        /// The member's name, 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or
        /// digit; not `director`, `monitor`, `all` or `operator`.
        #[schemars(transform = rules::schema_member_name)]
        name: Sp<String>,
        /// One line shown to the Director and in `cafleet ps`.
        #[serde(default)]
        description: Option<String>,
        /// Members started before this one.
        #[serde(default)]
        #[schemars(transform = rules::schema_names)]
        depends_on: Vec<Sp<String>>,
        /// Run N copies named NAME-1..NAME-N (1 to 64).
        #[serde(default)]
        #[schemars(transform = rules::schema_replicas)]
        replicas: Option<Sp<i64>>,
        /// What the monitor does when the process exits: `no`, `on-failure`, `always`.
        #[serde(default)]
        restart: Option<Restart>,
        /// Restarts allowed within `restart_window` before `crash-loop`.
        #[serde(default)]
        #[schemars(transform = rules::schema_count)]
        max_restarts: Option<Sp<i64>>,
        /// The window `max_restarts` counts over, as a duration (`"10m"`).
        #[serde(default)]
        #[schemars(transform = rules::schema_duration)]
        restart_window: Option<Sp<String>>,
        /// Run this member on another machine: an ssh destination as your
        /// `~/.ssh/config` knows it (`[user@]name`). Its tmux server runs there, reached
        /// over one shared ssh connection; the agent runs the `cafleet` installed there,
        /// which must reach the same registry. Default: this machine.
        #[serde(default)]
        #[schemars(transform = rules::schema_host)]
        host: Option<Sp<String>>,
    }
);

/// The JSON Schema of the fleet file, as committed in `schemas/fleet.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().for_deserialize();
    let schema = settings.into_generator().into_root_schema_for::<RawFile>();
    schema.to_value()
}
