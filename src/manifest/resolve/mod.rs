//! Semantic validation: from the file as written ([`RawFile`]) to resolved agents. Checks
//! names, backends and their keys, replicas, `depends_on`, durations, paths and templates,
//! collecting every problem before giving up.
//!
//! This file holds the shared types, [`resolve`] itself (fleet settings, then every agent,
//! then the start order, then the prompts) and the `Resolver`'s diagnostic and path
//! helpers; `fleet` checks the `[fleet]` settings, `agent` the keys of one agent table,
//! `members` the `[[member]]` tables, their replicas, restart policy and `depends_on`
//! order, and `prompt` renders and checks the prompt templates.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use super::raw::{BackendName, RawFile, Sp};
use super::{
    Agent, Fleet, LaunchSpec, LoadOptions, MonitorSettings, RestartPolicy, Role, duration,
    is_valid_name, session_name, template,
};
use crate::backend::{self, fake_options::FakeOptions};

/// Byte ranges of the tables, for problems that belong to a whole table.
#[derive(Debug, Default)]
pub struct Sections {
    top: HashMap<String, Range<usize>>,
    members: Vec<Range<usize>>,
}

impl Sections {
    pub fn from_document(doc: &Spanned<DeTable<'_>>) -> Sections {
        let mut sections = Sections::default();
        for (key, value) in doc.get_ref().iter() {
            let name: &str = key.get_ref();
            sections.top.insert(name.to_string(), key.span());
            if name == "member"
                && let DeValue::Array(items) = value.get_ref()
            {
                sections.members = items.iter().map(|item| item.span()).collect();
            }
        }
        sections
    }

    fn top(&self, name: &str) -> Range<usize> {
        self.top.get(name).cloned().unwrap_or(0..0)
    }
}

/// The keys every agent table has, borrowed from whichever table it was.
struct Common<'a> {
    backend: Option<&'a Sp<BackendName>>,
    model: Option<&'a Sp<String>>,
    effort: Option<&'a Sp<String>>,
    prompt: Option<&'a Sp<String>>,
    prompt_file: Option<&'a Sp<String>>,
    cwd: Option<&'a Sp<String>>,
    env: &'a BTreeMap<String, String>,
    args: Option<&'a Vec<String>>,
    command: Option<&'a Sp<Vec<String>>>,
    fake: Option<&'a Sp<FakeOptions>>,
}

macro_rules! common {
    ($raw:expr) => {
        Common {
            backend: $raw.backend.as_ref(),
            model: $raw.model.as_ref(),
            effort: $raw.effort.as_ref(),
            prompt: $raw.prompt.as_ref(),
            prompt_file: $raw.prompt_file.as_ref(),
            cwd: $raw.cwd.as_ref(),
            env: &$raw.env,
            args: $raw.args.as_ref(),
            command: $raw.command.as_ref(),
            fake: $raw.fake.as_ref(),
        }
    };
}

// Declared after `common!` so that they can use it.
mod agent;
mod fleet;
mod members;
mod prompt;

/// Where an agent's prompt template comes from.
enum PromptSource {
    None,
    Inline { text: String, span: Range<usize> },
    File { file: SourceFile },
}

/// An agent after the first pass, waiting for its prompt to be rendered.
struct Pending {
    name: String,
    role: Role,
    backend: BackendName,
    model: Option<String>,
    effort: Option<String>,
    description: String,
    depends_on: Vec<(String, Range<usize>)>,
    restart: RestartPolicy,
    cwd: Utf8PathBuf,
    env: BTreeMap<String, String>,
    args: Vec<String>,
    command: Vec<String>,
    fake_json: String,
    prompt: PromptSource,
    /// `host`: the ssh destination the member runs on; `None` on this machine.
    host: Option<String>,
}

struct Resolver<'a> {
    raw: &'a RawFile,
    sections: &'a Sections,
    file: &'a SourceFile,
    dir: Utf8PathBuf,
    root: Utf8PathBuf,
    home: Option<String>,
    diagnostics: Diagnostics,
}

pub fn resolve(
    raw: &RawFile,
    sections: &Sections,
    file: &SourceFile,
    absolute: &Utf8Path,
    options: &LoadOptions,
) -> Result<Fleet, Diagnostics> {
    let dir = absolute
        .parent()
        .map(Utf8Path::to_owned)
        .unwrap_or_else(|| "/".into());
    let mut r = Resolver {
        raw,
        sections,
        file,
        root: dir.clone(),
        dir,
        home: std::env::var("HOME").ok(),
        diagnostics: Diagnostics::default(),
    };

    if *raw.version.get() != 1 {
        r.error(
            raw.version.span(),
            format!("unsupported fleet file version {}", raw.version.get()),
            Some("this cafleet reads `version = 1`".into()),
        );
    }
    let fleet_name = raw.fleet.name.get().clone();
    if !is_valid_name(&fleet_name) {
        r.error(
            raw.fleet.name.span(),
            format!("invalid fleet name `{fleet_name}`"),
            Some(
                "a fleet name is 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or digit"
                    .into(),
            ),
        );
    }
    r.root = r.resolve_root();
    let layout = r.layout();
    let panes_per_window = r.panes_per_window();
    let window_size = r.window_size(&layout, panes_per_window);
    let socket = r.socket();
    let monitor_settings = raw.monitor.as_ref().map(|m| MonitorSettings {
        interval: r.duration_or(m.interval.as_ref(), Duration::from_secs(60), "interval"),
        stall_after: r.duration_or(
            m.stall_after.as_ref(),
            Duration::from_secs(600),
            "stall_after",
        ),
        run_loop: m.run_loop.unwrap_or_default(),
    });

    let mut pending = Vec::new();
    let director_span = sections.top("director");
    if let Some(agent) = r.agent(
        "director",
        director_span.clone(),
        Role::Director,
        &common!(raw.director),
    ) {
        pending.push(agent);
    }
    if let Some(monitor) = &raw.monitor
        && let Some(agent) = r.agent(
            "monitor",
            sections.top("monitor"),
            Role::Monitor,
            &common!(monitor),
        )
    {
        pending.push(agent);
    }
    r.members(&mut pending);
    let order = r.start_order(&pending);

    let session = session_name(&fleet_name);
    // Built once for the whole fleet; only `member` changes from one agent to the next
    // (cloning `members` for every agent made a large fleet quadratic).
    let mut data = json!({
        "fleet": {"name": fleet_name, "root": r.root, "session": session},
        "member": null,
        "director": {"name": "director"},
        "members": pending
            .iter()
            .filter(|p| p.role == Role::Member)
            .map(member_json)
            .collect::<Vec<_>>(),
        "vars": raw.fleet.vars,
        "cafleet": {
            "bin": std::env::current_exe().ok().and_then(|p| p.to_str().map(String::from)).unwrap_or_else(|| "cafleet".into()),
            // Prompts are typed into panes and stored: a URL's password never is (the
            // agent reaches the registry through CAFLEET_DATABASE_URL in its environment).
            "db": options.db_path.as_ref().map(|p| crate::registry::location::redact(p.as_str()).into_owned()).unwrap_or_default(),
        },
    });
    if let (Some(monitor), Some(map)) = (
        pending.iter().find(|p| p.role == Role::Monitor),
        data.as_object_mut(),
    ) {
        map.insert("monitor".into(), json!({"name": monitor.name}));
    }
    let mut context = template::Context::new(data);
    let mut agents = Vec::new();
    for index in order {
        let p = &pending[index];
        let prompt = r.render_prompt(p, &mut context);
        let fake_json = p.fake_json.clone();
        let argv = backend::argv(&backend::ArgvInput {
            backend: p.backend,
            name: &p.name,
            model: p.model.as_deref(),
            effort: p.effort.as_deref(),
            prompt: &prompt,
            args: &p.args,
            command: &p.command,
            fake_options_json: &fake_json,
        });
        let mut env = p.env.clone();
        if p.backend == BackendName::Command && !prompt.is_empty() {
            env.insert("CAFLEET_PROMPT".into(), prompt.clone());
        }
        let spec = LaunchSpec {
            backend: p.backend,
            model: p.model.clone(),
            effort: p.effort.clone(),
            argv,
            cwd: p.cwd.clone(),
            env,
            prompt,
            env_from: raw.fleet.env_from.clone(),
            ssh_command: p.host.as_ref().and_then(|_| {
                raw.fleet
                    .ssh_command
                    .as_ref()
                    .map(|c| c.get().clone())
                    .filter(|c| !c.trim().is_empty())
            }),
            host: p.host.clone(),
        };
        agents.push(Agent {
            name: p.name.clone(),
            role: p.role,
            description: p.description.clone(),
            depends_on: dedup(p.depends_on.iter().map(|(n, _)| n.clone())),
            restart: p.restart.clone(),
            hash: spec.hash(),
            spec,
        });
    }
    if !r.diagnostics.is_empty() {
        return Err(r.diagnostics);
    }
    Ok(Fleet {
        name: fleet_name,
        file: absolute.to_owned(),
        root: r.root,
        session,
        layout,
        panes_per_window,
        window_size,
        socket,
        trust: raw.fleet.trust.unwrap_or(false),
        env_from: raw.fleet.env_from.clone(),
        monitor: monitor_settings,
        agents,
    })
}

fn dedup(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn member_json(p: &Pending) -> serde_json::Value {
    json!({
        "name": p.name,
        "role": p.role.as_str(),
        "backend": p.backend.as_str(),
        "model": p.model.clone().unwrap_or_default(),
        "description": p.description,
    })
}

impl Resolver<'_> {
    fn error(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        self.diagnostics
            .push(Diagnostic::new(self.file, span, message).help_opt(help));
    }

    fn expand(&self, path: &str) -> Utf8PathBuf {
        crate::registry::location::expand_tilde(path, self.home.as_deref())
            .unwrap_or_else(|_| path.into())
    }

    /// `base` joined with `path` (absolute paths and `~` stand alone), if it is a directory.
    fn existing_dir(&self, base: &Utf8Path, path: &str) -> Option<Utf8PathBuf> {
        let joined = base.join(self.expand(path));
        let canonical = joined.canonicalize_utf8().ok()?;
        canonical.is_dir().then_some(canonical)
    }

    fn duration_or(
        &mut self,
        value: Option<&Sp<String>>,
        default: Duration,
        key: &str,
    ) -> Duration {
        let Some(value) = value else {
            return default;
        };
        match duration::parse(value.get()) {
            Some(d) => d,
            None => {
                self.error(
                    value.span(),
                    format!("invalid duration `{}` for `{key}`", value.get()),
                    Some("write a number and a unit: \"500ms\", \"30s\", \"5m\", \"1h\"".into()),
                );
                default
            }
        }
    }
}
