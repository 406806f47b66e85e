//! Prompts: each agent's template (inline, from `prompt_file`, or the default for the
//! monitoring member) rendered against the fleet's data, with template errors pointed at
//! their place in the file and the result checked against what an agent can be started
//! with (no NUL byte, not over the size limit).

use std::ops::Range;

use super::{Pending, PromptSource, Resolver, member_json};
use crate::backend;
use crate::manifest::diagnostic::Diagnostic;
use crate::manifest::raw::{BackendName, MonitorLoop};
use crate::manifest::{Role, template};

impl Resolver<'_> {
    /// The rendered prompt, checked against what an agent can be started with.
    pub(super) fn render_prompt(&mut self, p: &Pending, context: &mut template::Context) -> String {
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
