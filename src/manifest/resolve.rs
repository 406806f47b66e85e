//! Semantic validation: from the file as written ([`RawFile`]) to resolved agents. Checks
//! names, backends and their keys, replicas, `depends_on`, durations, paths and templates,
//! collecting every problem before giving up.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, Diagnostics, SourceFile, nearest};
use super::raw::{BackendName, MonitorLoop, RawFile, Restart, Sp};
use super::{
    Agent, Fleet, LaunchSpec, LoadOptions, MonitorSettings, RESERVED_NAMES, RestartPolicy, Role,
    duration, is_valid_name, rules, session_name, template,
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
            "db": options.db_path.as_ref().map(|p| p.as_str()).unwrap_or(""),
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

    fn resolve_root(&mut self) -> Utf8PathBuf {
        let Some(root) = &self.raw.fleet.root else {
            return self.dir.clone();
        };
        match self.existing_dir(&self.dir.clone(), root.get()) {
            Some(dir) => dir,
            None => {
                self.error(
                    root.span(),
                    format!("root `{}` is not a directory", root.get()),
                    Some("`root` is relative to the fleet file".into()),
                );
                self.dir.clone()
            }
        }
    }

    /// The structural check already refused a layout not in [`rules::LAYOUTS`] (the
    /// schema lists them as an enum).
    fn layout(&mut self) -> String {
        match &self.raw.fleet.layout {
            Some(layout) => layout.get().clone(),
            None => "tiled".into(),
        }
    }

    fn panes_per_window(&mut self) -> usize {
        let Some(n) = &self.raw.fleet.panes_per_window else {
            return 4;
        };
        let (min, max) = rules::PANES_PER_WINDOW;
        match usize::try_from(*n.get()) {
            Ok(value) if (min..=max).contains(n.get()) => value,
            _ => {
                self.error(
                    n.span(),
                    format!(
                        "panes_per_window must be between {min} and {max}, not {}",
                        n.get()
                    ),
                    None,
                );
                4
            }
        }
    }

    fn window_size(&mut self, layout: &str, panes_per_window: usize) -> (u16, u16) {
        let default = super::default_window_size(layout, panes_per_window);
        let Some(size) = &self.raw.fleet.size else {
            return default;
        };
        match rules::parse_size(size.get()) {
            Some(parsed) if rules::size_in_range(parsed) => parsed,
            _ => {
                self.error(
                    size.span(),
                    format!("invalid window size `{}`", size.get().escape_debug()),
                    Some(format!(
                        "write WIDTHxHEIGHT in cells, {}–{} by {}–{} (without it: \"{}x{}\")",
                        rules::WINDOW_WIDTH.0,
                        rules::WINDOW_WIDTH.1,
                        rules::WINDOW_HEIGHT.0,
                        rules::WINDOW_HEIGHT.1,
                        default.0,
                        default.1
                    )),
                );
                default
            }
        }
    }

    fn socket(&mut self) -> String {
        let Some(socket) = &self.raw.fleet.socket else {
            return String::new();
        };
        let name = socket.get();
        if !rules::is_valid_socket(name) {
            self.error(
                socket.span(),
                format!("invalid tmux socket name `{name}`"),
                Some(
                    "use letters, digits, `_`, `.` and `-`, or \"\" for the default server".into(),
                ),
            );
        }
        name.clone()
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

    fn members(&mut self, pending: &mut Vec<Pending>) {
        let raw = self.raw;
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (index, member) in raw.member.iter().enumerate() {
            let base = member.name.get().clone();
            let span = member.name.span();
            let table_span = self
                .sections
                .members
                .get(index)
                .cloned()
                .unwrap_or(span.clone());
            // A bad name is reported and the member checked all the same, so its other
            // problems (replicas, depends_on, its keys) show in the same run.
            if !is_valid_name(&base) {
                self.error(span.clone(), format!("invalid member name `{base}`"), Some("a member name is 1 to 32 of a-z, 0-9, `_` and `-`, starting with a letter or digit".into()));
            } else if RESERVED_NAMES.contains(&base.as_str()) {
                self.error(
                    span.clone(),
                    format!("`{base}` is a reserved name"),
                    Some(format!(
                        "{} are reserved; choose another name",
                        RESERVED_NAMES.map(|n| format!("`{n}`")).join(", ")
                    )),
                );
            }
            let replicas = match &member.replicas {
                None => None,
                Some(n) => {
                    let (min, max) = rules::REPLICAS;
                    match u32::try_from(*n.get()) {
                        Ok(v) if (min..=max).contains(n.get()) => Some(v),
                        _ => {
                            self.error(
                                n.span(),
                                format!(
                                    "replicas must be between {min} and {max}, not {}",
                                    n.get()
                                ),
                                None,
                            );
                            None
                        }
                    }
                }
            };
            let names: Vec<String> = match replicas {
                None => vec![base.clone()],
                Some(count) => (1..=count).map(|i| format!("{base}-{i}")).collect(),
            };
            let Some(template) = self.agent(&base, table_span, Role::Member, &common!(member))
            else {
                continue;
            };
            let restart = self.restart_policy(
                member.restart,
                member.max_restarts.as_ref(),
                member.restart_window.as_ref(),
            );
            for name in names {
                if let Some(first) = seen.get(&name) {
                    let first_line = Diagnostic::new(self.file, first.clone(), "").line();
                    self.error(span.clone(), format!("duplicate member name `{name}`"), Some(format!("`{name}` is already declared on line {first_line}; names must be unique after replicas are expanded")));
                    continue;
                }
                seen.insert(name.clone(), span.clone());
                pending.push(Pending {
                    name: name.clone(),
                    description: member.description.clone().unwrap_or_default(),
                    depends_on: member
                        .depends_on
                        .iter()
                        .map(|d| (d.get().clone(), d.span()))
                        .collect(),
                    restart: restart.clone(),
                    prompt: match &template.prompt {
                        PromptSource::None => PromptSource::None,
                        PromptSource::Inline { text, span } => PromptSource::Inline {
                            text: text.clone(),
                            span: span.clone(),
                        },
                        PromptSource::File { file } => PromptSource::File { file: file.clone() },
                    },
                    model: template.model.clone(),
                    effort: template.effort.clone(),
                    cwd: template.cwd.clone(),
                    env: template.env.clone(),
                    args: template.args.clone(),
                    command: template.command.clone(),
                    fake_json: template.fake_json.clone(),
                    backend: template.backend,
                    role: Role::Member,
                });
            }
        }
    }

    fn restart_policy(
        &mut self,
        restart: Option<Restart>,
        max: Option<&Sp<i64>>,
        window: Option<&Sp<String>>,
    ) -> RestartPolicy {
        let defaults = self.raw.defaults.clone().unwrap_or_default();
        let mut policy = RestartPolicy {
            restart: restart.or(defaults.restart).unwrap_or(Restart::No),
            ..RestartPolicy::default()
        };
        if let Some(max) = max.or(defaults.max_restarts.as_ref()) {
            match u32::try_from(*max.get()) {
                Ok(v) => policy.max_restarts = v,
                Err(_) => self.error(
                    max.span(),
                    format!("max_restarts must be 0 or more, not {}", max.get()),
                    None,
                ),
            }
        }
        let window = window.or(defaults.restart_window.as_ref());
        policy.window = self.duration_or(window, policy.window, "restart_window");
        policy
    }

    /// The first pass over one agent table: backend, keys the backend accepts, paths.
    fn agent(
        &mut self,
        name: &str,
        table_span: Range<usize>,
        role: Role,
        c: &Common<'_>,
    ) -> Option<Pending> {
        let defaults = self.raw.defaults.clone().unwrap_or_default();
        let backend = match c.backend.or(defaults.backend.as_ref()) {
            Some(b) => *b.get(),
            None => {
                self.error(table_span, format!("`{name}` has no backend"), Some("set `backend` here or in [defaults]: claude, codex, opencode, command or fake".into()));
                return None;
            }
        };

        let model = match (c.model, backend::takes_model(backend)) {
            (Some(model), false) => {
                self.error(
                    model.span(),
                    format!("backend `{backend}` takes no `model`"),
                    Some("remove `model`; a command agent runs exactly its `command`".into()),
                );
                None
            }
            (Some(model), true) => Some(model.get().clone()),
            (None, true) => defaults.model.as_ref().map(|m| m.get().clone()),
            (None, false) => None,
        };
        if backend == BackendName::Opencode
            && let Some(m) = &model
            && !m.contains('/')
        {
            let span = c
                .model
                .or(defaults.model.as_ref())
                .map(Sp::span)
                .unwrap_or(table_span.clone());
            self.error(
                span,
                format!("opencode needs `provider/model`, not `{m}`"),
                Some("for example \"anthropic/claude-sonnet-4-6\"".into()),
            );
        }

        let effort = match (c.effort, backend::effort_values(backend)) {
            (Some(effort), None) => {
                self.error(
                    effort.span(),
                    format!("backend `{backend}` has no effort setting"),
                    Some("remove `effort` from this agent".into()),
                );
                None
            }
            (explicit, Some(values)) => {
                let chosen = explicit.or(defaults.effort.as_ref());
                if let Some(effort) = chosen
                    && !values.contains(&effort.get().as_str())
                {
                    let whose = if explicit.is_some() {
                        String::new()
                    } else {
                        format!(" (inherited by `{name}`)")
                    };
                    self.error(
                        effort.span(),
                        format!(
                            "backend `{backend}` does not accept effort `{}`{whose}",
                            effort.get()
                        ),
                        Some(format!("{backend} takes {}", values.join(", "))),
                    );
                }
                chosen.map(|e| e.get().clone())
            }
            (None, None) => None,
        };

        let command = match (c.command, backend) {
            (Some(cmd), BackendName::Command) => {
                if cmd.get().is_empty() || cmd.get()[0].is_empty() {
                    self.error(
                        cmd.span(),
                        "`command` must name a program".into(),
                        Some("for example command = [\"bash\", \"-lc\", \"./watch.sh\"]".into()),
                    );
                }
                cmd.get().clone()
            }
            (Some(cmd), _) => {
                self.error(
                    cmd.span(),
                    format!("`command` is only for `backend = \"command\"`, not `{backend}`"),
                    None,
                );
                Vec::new()
            }
            (None, BackendName::Command) => {
                self.error(
                    table_span.clone(),
                    format!("`{name}` uses backend `command` but has no `command`"),
                    Some("add command = [\"program\", \"arg\"]".into()),
                );
                Vec::new()
            }
            (None, _) => Vec::new(),
        };

        let fake = match (c.fake, backend) {
            (Some(fake), BackendName::Fake) => {
                let options = fake.get();
                for (key, value) in [
                    ("ready_after", &options.ready_after),
                    ("exit_after", &options.exit_after),
                    ("freeze_after", &options.freeze_after),
                ] {
                    if let Some(v) = value
                        && duration::parse(v).is_none()
                    {
                        self.error(
                            fake.span(),
                            format!("invalid duration `{v}` for `fake.{key}`"),
                            Some("write a number and a unit: \"500ms\", \"30s\", \"5m\"".into()),
                        );
                    }
                }
                options.clone()
            }
            (Some(fake), _) => {
                self.error(
                    fake.span(),
                    format!("`fake` options are only for `backend = \"fake\"`, not `{backend}`"),
                    None,
                );
                FakeOptions::default()
            }
            (None, _) => FakeOptions::default(),
        };
        let fake_json = if backend == BackendName::Fake {
            serde_json::to_string(&fake).unwrap_or_else(|_| "{}".into())
        } else {
            String::new()
        };

        let prompt = match (c.prompt, c.prompt_file) {
            (Some(_), Some(file)) => {
                self.error(
                    file.span(),
                    "set `prompt` or `prompt_file`, not both".into(),
                    None,
                );
                PromptSource::None
            }
            (Some(prompt), None) => PromptSource::Inline {
                text: prompt.get().clone(),
                span: prompt.span(),
            },
            (None, Some(file)) => {
                let path = self.dir.join(self.expand(file.get()));
                match super::read::read_text(path.as_std_path(), super::read::MAX_PROMPT_FILE) {
                    Ok(text) => {
                        // Shown relative to where the fleet file was named from.
                        let shown = self
                            .file
                            .path
                            .parent()
                            .map(|p| p.join(file.get()))
                            .unwrap_or_else(|| file.get().into());
                        PromptSource::File {
                            file: SourceFile {
                                path: shown,
                                text: text.into(),
                            },
                        }
                    }
                    Err(err) => {
                        self.error(
                            file.span(),
                            format!(
                                "cannot read prompt_file `{}`: {}",
                                file.get(),
                                io_reason(&err)
                            ),
                            Some("`prompt_file` is relative to the fleet file".into()),
                        );
                        PromptSource::None
                    }
                }
            }
            (None, None) => PromptSource::None,
        };

        let cwd = match c.cwd {
            None => self.root.clone(),
            Some(cwd) => match self.existing_dir(&self.root.clone(), cwd.get()) {
                Some(dir) => dir,
                None => {
                    self.error(cwd.span(), format!("cwd `{}` is not a directory", cwd.get()), Some("`cwd` is relative to `[fleet] root`, which defaults to the fleet file's folder".into()));
                    self.root.clone()
                }
            },
        };

        let mut env = self.raw.fleet.env.clone();
        env.extend(defaults.env.clone());
        env.extend(c.env.clone());
        for (key, value) in &env {
            // What the kernel cannot pass to a program: `up` would fail half way.
            if !rules::is_valid_env_name(key) {
                self.error(
                    table_span.clone(),
                    format!(
                        "env name `{}` cannot be passed to a program",
                        key.escape_debug()
                    ),
                    Some(
                        "an environment variable's name is not empty and has no `=` or NUL".into(),
                    ),
                );
            } else if value.contains('\0') {
                self.error(
                    table_span.clone(),
                    format!("env `{key}` holds a NUL byte, which cannot be passed to a program"),
                    None,
                );
            }
            if rules::is_cafleet_env(key) {
                self.error(
                    table_span.clone(),
                    format!("env `{key}` is set by cafleet itself"),
                    Some("choose a name that does not start with CAFLEET_".into()),
                );
            }
        }
        let args = c
            .args
            .or(defaults.args.as_ref())
            .cloned()
            .unwrap_or_default();

        Some(Pending {
            name: name.to_string(),
            role,
            backend,
            model,
            effort,
            description: String::new(),
            depends_on: Vec::new(),
            restart: RestartPolicy::default(),
            cwd,
            env,
            args,
            command,
            fake_json,
            prompt,
        })
    }

    /// The order agents start in: Director, monitor, then members after their
    /// dependencies, in file order otherwise. Reports unknown names and cycles.
    fn start_order(&mut self, pending: &[Pending]) -> Vec<usize> {
        let raw = self.raw;
        let index_of: HashMap<&str, usize> = pending
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        // Each member under its own name and, for `NAME-N`, under `NAME` too: what a
        // `depends_on` on a replicated member's base name means. One pass over the agents
        // (matching every base against every agent was quadratic).
        let mut by_base: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, p) in pending.iter().enumerate() {
            if p.role != Role::Member {
                continue;
            }
            by_base.entry(p.name.as_str()).or_default().push(i);
            if let Some((base, n)) = p.name.rsplit_once('-')
                && !n.is_empty()
                && n.parse::<u32>().is_ok()
            {
                by_base.entry(base).or_default().push(i);
            }
        }
        let mut bases: HashMap<String, Vec<usize>> = HashMap::new();
        for member in &raw.member {
            let base = member.name.get();
            let indices = by_base.get(base.as_str()).cloned().unwrap_or_default();
            bases.insert(base.clone(), indices);
        }
        let member_names: Vec<&str> = pending
            .iter()
            .filter(|p| p.role == Role::Member)
            .map(|p| p.name.as_str())
            .collect();
        let mut edges: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); pending.len()];
        let mut reported = std::collections::HashSet::new();
        for (i, p) in pending.iter().enumerate() {
            for (dep, span) in &p.depends_on {
                let targets: Vec<usize> = match bases.get(dep) {
                    Some(list) => list.clone(),
                    None => match index_of.get(dep.as_str()) {
                        Some(&j) if pending[j].role == Role::Member => vec![j],
                        _ => {
                            if reported.insert(span.start) {
                                let help = nearest(dep, member_names.iter().copied())
                                    .map(|s| format!("did you mean `{s}`?"));
                                self.error(
                                    span.clone(),
                                    format!("`{}` depends on unknown member `{dep}`", p.name),
                                    help,
                                );
                            }
                            continue;
                        }
                    },
                };
                for j in targets {
                    edges[i].push((j, span.clone()));
                }
            }
        }
        // Depth-first topological sort; a back edge is a cycle.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks = vec![Mark::New; pending.len()];
        let mut order = Vec::new();
        let mut path: Vec<usize> = Vec::new();
        fn visit(
            i: usize,
            pending: &[Pending],
            edges: &[Vec<(usize, Range<usize>)>],
            marks: &mut [Mark],
            order: &mut Vec<usize>,
            path: &mut Vec<usize>,
            cycles: &mut Vec<(Range<usize>, String)>,
        ) {
            marks[i] = Mark::Active;
            path.push(i);
            for (j, span) in &edges[i] {
                match marks[*j] {
                    Mark::New => visit(*j, pending, edges, marks, order, path, cycles),
                    Mark::Active => {
                        let start = path.iter().position(|k| k == j).unwrap_or(0);
                        let mut names: Vec<&str> = path[start..]
                            .iter()
                            .map(|k| pending[*k].name.as_str())
                            .collect();
                        names.push(pending[*j].name.as_str());
                        cycles.push((span.clone(), names.join(" → ")));
                    }
                    Mark::Done => {}
                }
            }
            path.pop();
            marks[i] = Mark::Done;
            order.push(i);
        }
        let mut cycles = Vec::new();
        for i in 0..pending.len() {
            if marks[i] == Mark::New {
                visit(
                    i,
                    pending,
                    &edges,
                    &mut marks,
                    &mut order,
                    &mut path,
                    &mut cycles,
                );
            }
        }
        for (span, cycle) in cycles {
            if reported.insert(span.start) {
                self.error(
                    span,
                    format!("depends_on forms a cycle: {cycle}"),
                    Some("remove one of these dependencies".into()),
                );
            }
        }
        // Director and monitor first, whatever the file order.
        let rank = |i: &usize| match pending[*i].role {
            Role::Director => 0,
            Role::Monitor => 1,
            Role::Member => 2,
        };
        let mut ranked: Vec<usize> = order.clone();
        ranked.sort_by_key(|i| rank(i));
        ranked
    }

    /// The rendered prompt, checked against what an agent can be started with.
    fn render_prompt(&mut self, p: &Pending, context: &mut template::Context) -> String {
        let prompt = self.render_prompt_text(p, context);
        let (limit, how) = if p.backend == BackendName::Command {
            (
                backend::MAX_COMMAND_PROMPT_BYTES,
                "a `command` member gets its prompt in one environment variable",
            )
        } else {
            (
                backend::MAX_PROMPT_BYTES,
                "an agent's prompt is pasted into it when it does not fit on its command line",
            )
        };
        if prompt.contains('\0') {
            let message = format!(
                "the prompt of `{}` holds a NUL byte, which cannot be passed to a program",
                p.name
            );
            match &p.prompt {
                PromptSource::Inline { span, .. } => self.error(span.clone(), message, None),
                PromptSource::File { file } => {
                    self.diagnostics.push(Diagnostic::new(file, 0..0, message))
                }
                PromptSource::None => {}
            }
        }
        if prompt.len() > limit {
            let message = format!(
                "the prompt of `{}` is {} bytes once rendered; the limit is {limit}",
                p.name,
                prompt.len()
            );
            let help = format!("{how}; move the bulk into a file the agent reads, and say where");
            match &p.prompt {
                PromptSource::Inline { span, .. } => self.error(span.clone(), message, Some(help)),
                PromptSource::File { file } => self
                    .diagnostics
                    .push(Diagnostic::new(file, 0..0, message).help(help)),
                PromptSource::None => {}
            }
        }
        prompt
    }

    fn render_prompt_text(&mut self, p: &Pending, ctx: &mut template::Context) -> String {
        if matches!(p.prompt, PromptSource::None) && p.role != Role::Monitor {
            return String::new();
        }
        ctx.set_member(member_json(p));
        let ctx = &*ctx;
        let hb = template::engine();
        match &p.prompt {
            // The monitoring member's job needs no words from the file: start the loop.
            PromptSource::None if p.role == Role::Monitor => {
                let run_loop = self.raw.monitor.as_ref().and_then(|m| m.run_loop);
                let text = match run_loop.unwrap_or_default() {
                    MonitorLoop::Agent => DEFAULT_MONITOR_PROMPT,
                    MonitorLoop::Cafleet => DEFAULT_MONITOR_PROMPT_LOOP_RUNS,
                };
                template::render_with(&hb, text, ctx).unwrap_or_default()
            }
            PromptSource::None => String::new(),
            PromptSource::Inline { text, span } => match template::render_with(&hb, text, ctx) {
                Ok(rendered) => rendered,
                Err(problem) => {
                    let at = match problem.position {
                        Some((line, column)) => {
                            let start = inline_content_start(&self.file.text, span.clone());
                            let offset = start
                                + template::offset_of(
                                    &self.file.text[start..span.end],
                                    line,
                                    column,
                                );
                            offset..offset + 1
                        }
                        None => span.clone(),
                    };
                    let message = format!("{} in the prompt of `{}`", problem.message, p.name);
                    self.error(at, message, Some(template_help()));
                    String::new()
                }
            },
            PromptSource::File { file } => match template::render_with(&hb, &file.text, ctx) {
                Ok(rendered) => rendered,
                Err(problem) => {
                    let at = match problem.position {
                        Some((line, column)) => {
                            let offset = template::offset_of(&file.text, line, column);
                            offset..offset + 1
                        }
                        None => 0..0,
                    };
                    let message = format!("{} in the prompt of `{}`", problem.message, p.name);
                    self.diagnostics
                        .push(Diagnostic::new(file, at, message).help(template_help()));
                    String::new()
                }
            },
        }
    }
}

/// The `[monitor]` prompt when the file gives none.
const DEFAULT_MONITOR_PROMPT: &str = "You are {{member.name}}, the monitoring member of the \
{{fleet.name}} team. Start the heartbeat now, in the background: `cafleet monitor start \
>monitor.log 2>&1 &` (or your shell tool's background option). Each tick it types a \
`[cafleet] heartbeat #N: …` line here; it already nudges stalled agents and tells \
{{director.name}} when one dies. When a heartbeat names a problem that needs judgement, \
look with `cafleet member capture NAME` and tell {{director.name}} with \
`cafleet message send --to {{director.name}} \"…\"`. Use the cafleet skill for details.";

/// The `[monitor]` prompt when the file gives none and `loop = "cafleet"`: `up` has
/// started the loop already.
const DEFAULT_MONITOR_PROMPT_LOOP_RUNS: &str = "You are {{member.name}}, the monitoring \
member of the {{fleet.name}} team. cafleet itself runs the team's heartbeat loop (`[monitor] \
loop = \"cafleet\"`), so do not start another. Each tick it types a `[cafleet] heartbeat \
#N: …` line here; it already nudges stalled agents and tells {{director.name}} when one \
dies. When a heartbeat names a problem that needs judgement, look with `cafleet member \
capture NAME` and tell {{director.name}} with `cafleet message send --to \
{{director.name}} \"…\"`. Use the cafleet skill for details.";

fn template_help() -> String {
    "templates can use fleet.*, member.*, director.name, monitor.name, members, vars.* and cafleet.*".into()
}

/// Where a TOML string's content starts, past its quotes and a leading newline.
fn inline_content_start(text: &str, span: Range<usize>) -> usize {
    let raw = text.get(span.clone()).unwrap_or_default();
    let mut start = span.start;
    if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        start += 3;
        let rest = &text[start..];
        if rest.starts_with("\r\n") {
            start += 2;
        } else if rest.starts_with('\n') {
            start += 1;
        }
    } else if raw.starts_with('"') || raw.starts_with('\'') {
        start += 1;
    }
    start.min(span.end)
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}
