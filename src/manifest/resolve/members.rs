//! The `[[member]]` tables: names (valid, not reserved, unique once replicas are
//! expanded), replicas, the restart policy with `[defaults]`, and the start order that
//! `depends_on` implies, with unknown names and cycles reported.

use std::collections::HashMap;
use std::ops::Range;

use super::{Common, Pending, PromptSource, Resolver};
use crate::manifest::diagnostic::{Diagnostic, nearest};
use crate::manifest::raw::{Restart, Sp};
use crate::manifest::{RESERVED_NAMES, RestartPolicy, Role, is_valid_name, rules};

impl Resolver<'_> {
    pub(super) fn members(&mut self, pending: &mut Vec<Pending>) {
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
            let host = self.member_host(member.host.as_ref());
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
                    host: host.clone(),
                });
            }
        }
    }

    /// The member's `host`, else `[defaults] host`; `None` for this machine. A value
    /// ssh could read as an option (or that is no host name at all) is an error.
    fn member_host(&mut self, own: Option<&Sp<String>>) -> Option<String> {
        let defaults = self.raw.defaults.clone().unwrap_or_default();
        let host = own.or(defaults.host.as_ref())?;
        if let Err(err) = crate::tmux::remote::check_host(host.get()) {
            self.error(host.span(), err.message, err.hints.first().cloned());
            return None;
        }
        Some(host.get().clone())
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

    /// The order agents start in: Director, monitor, then members after their
    /// dependencies, in file order otherwise. Reports unknown names and cycles.
    pub(super) fn start_order(&mut self, pending: &[Pending]) -> Vec<usize> {
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
}
