//! The first pass over one agent table (`[director]`, `[monitor]` or a `[[member]]`,
//! with `[defaults]` filled in): its backend and the keys that backend accepts (`model`,
//! `effort`, `command`, `fake`), where its prompt comes from, its `cwd`, and its `env`
//! and `args`.

use std::ops::Range;

use super::{Common, Pending, PromptSource, Resolver};
use crate::backend::{self, fake_options::FakeOptions};
use crate::manifest::diagnostic::SourceFile;
use crate::manifest::raw::{BackendName, Sp};
use crate::manifest::{RestartPolicy, Role, duration, rules};

impl Resolver<'_> {
    /// The first pass over one agent table: backend, keys the backend accepts, paths.
    pub(super) fn agent(
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
                match crate::manifest::read::read_text(
                    path.as_std_path(),
                    crate::manifest::read::MAX_PROMPT_FILE,
                ) {
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
            host: None,
        })
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}
