//! Prompt templates: Handlebars in strict mode (an unknown variable is an error naming it)
//! with HTML escaping off, since prompts are not HTML.
//!
//! A template is data from a file, so its cost is bounded before and while it renders:
//! partials and decorators are refused (an inline partial that includes itself recurses
//! until the stack overflows — Handlebars has no depth limit), `{{#each}}` blocks nest at
//! most [`MAX_EACH_DEPTH`] deep (five nested loops over 64 replicas ran for minutes), and
//! rendering stops once the output passes [`MAX_OUTPUT`].

use handlebars::template::{Template, TemplateElement};
use handlebars::{Handlebars, RenderErrorReason, TemplateError, TemplateErrorReason};

/// The most `{{#each}}` blocks a template may nest.
pub const MAX_EACH_DEPTH: usize = 3;
/// Rendering stops past this many bytes (the longest prompt an agent takes, plus room
/// for the error to name it).
pub const MAX_OUTPUT: usize = crate::backend::MAX_PROMPT_BYTES + 1;

/// A template failure with its 1-based line and column inside the template, when known.
pub struct TemplateProblem {
    pub message: String,
    pub position: Option<(usize, usize)>,
}

pub fn engine() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb
}

/// The data a template renders against, converted for Handlebars once and reused, with
/// the one part that differs per agent (`member`) replaced in place.
pub struct Context(handlebars::Context);

impl Context {
    pub fn new(data: serde_json::Value) -> Context {
        Context(handlebars::Context::from(data))
    }

    pub fn set_member(&mut self, member: serde_json::Value) {
        if let Some(map) = self.0.data_mut().as_object_mut() {
            map.insert("member".into(), member);
        }
    }
}

/// Renders `source` against `context` (a JSON value).
pub fn render(
    hb: &Handlebars<'_>,
    source: &str,
    context: &serde_json::Value,
) -> Result<String, TemplateProblem> {
    render_with(hb, source, &Context::new(context.clone()))
}

/// Renders `source` against a prepared [`Context`].
pub fn render_with(
    hb: &Handlebars<'_>,
    source: &str,
    context: &Context,
) -> Result<String, TemplateProblem> {
    let template = handlebars::Template::compile(source).map_err(syntax_problem)?;
    check_shape(&template, 0)?;
    let mut hb = hb.clone();
    hb.register_template("prompt", template);
    let mut out = Capped::default();
    let rendered = hb.render_with_context_to_write("prompt", &context.0, &mut out);
    if out.over {
        return Err(TemplateProblem {
            message: format!(
                "the prompt grows past {} bytes while it renders",
                MAX_OUTPUT - 1
            ),
            position: None,
        });
    }
    rendered.map_err(|err| {
        let position = err.line_no.zip(err.column_no);
        let message = match err.reason() {
            RenderErrorReason::MissingVariable(Some(path)) => {
                format!("undefined template variable `{path}`")
            }
            RenderErrorReason::MissingVariable(None) => "undefined template variable".to_string(),
            RenderErrorReason::HelperNotFound(name) => format!("unknown template helper `{name}`"),
            other => format!("template error: {other}"),
        };
        TemplateProblem { message, position }
    })?;
    String::from_utf8(out.bytes).map_err(|_| TemplateProblem {
        message: "the rendered prompt is not UTF-8".into(),
        position: None,
    })
}

/// Output that refuses to grow past [`MAX_OUTPUT`].
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for &mut Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.over = true;
            return Err(std::io::Error::other("the prompt is too long"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Refuses what could make rendering recurse or explode: partials, decorators, and
/// `{{#each}}` nested deeper than [`MAX_EACH_DEPTH`].
fn check_shape(template: &Template, each_depth: usize) -> Result<(), TemplateProblem> {
    let refuse = |what: &str| TemplateProblem {
        message: format!("{what} are not supported in prompts"),
        position: None,
    };
    for element in &template.elements {
        match element {
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                return Err(refuse("partials (`{{> name}}`)"));
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                return Err(refuse(
                    "decorators and inline partials (`{{*…}}`, `{{#*inline}}`)",
                ));
            }
            TemplateElement::HelperBlock(block) => {
                let depth = each_depth + usize::from(block.name.as_name() == Some("each"));
                if depth > MAX_EACH_DEPTH {
                    return Err(TemplateProblem {
                        message: format!(
                            "`{{{{#each}}}}` blocks nest {depth} deep; at most {MAX_EACH_DEPTH} are allowed"
                        ),
                        position: None,
                    });
                }
                for inner in [&block.template, &block.inverse].into_iter().flatten() {
                    check_shape(inner, depth)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn syntax_problem(err: TemplateError) -> TemplateProblem {
    let position = err.pos();
    let message = match err.reason() {
        // The parser's own text lists every token it could have accepted.
        TemplateErrorReason::InvalidSyntax(_) => {
            "invalid template syntax: check that every `{{#block}}` has its `{{/block}}` and every `{{` its `}}`"
                .to_string()
        }
        other => format!("template syntax error: {other}"),
    };
    TemplateProblem { message, position }
}

/// The byte offset of a 1-based line and column in `text`, clamped to its length.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, l) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let col: usize = l
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return (offset + col).min(text.len());
        }
        offset += l.len();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_and_unescaped() {
        let hb = engine();
        let ctx = json!({"fleet": {"name": "a<b>"}});
        assert_eq!(
            render(&hb, "hi {{fleet.name}}", &ctx).ok().unwrap(),
            "hi a<b>"
        );
        let err = render(&hb, "x\n {{nope.x}}", &ctx).err().unwrap();
        assert!(err.message.contains("nope.x"), "{}", err.message);
        assert_eq!(err.position, Some((2, 2)));
        let err = render(&hb, "{{#each members}}", &ctx).err().unwrap();
        assert!(err.message.contains("syntax"), "{}", err.message);
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_of("ab\ncd", 2, 2), 4);
        assert_eq!(offset_of("ab", 9, 9), 2);
    }
}

#[cfg(test)]
mod limits {
    use super::*;

    fn try_render(source: &str) -> Result<String, String> {
        let context = serde_json::json!({"members": (0..64).map(|i| serde_json::json!({"name": format!("m{i}")})).collect::<Vec<_>>()});
        render(&engine(), source, &context).map_err(|p| p.message)
    }

    #[test]
    fn a_partial_that_includes_itself_is_refused_not_run() {
        let err = try_render(r#"{{#*inline "r"}}{{> r}}{{/inline}}{{> r}}"#).unwrap_err();
        assert!(err.contains("not supported in prompts"), "{err}");
        let err = try_render("{{> other}}").unwrap_err();
        assert!(err.contains("partials"), "{err}");
    }

    #[test]
    fn deep_loops_and_huge_output_stop_with_an_error() {
        let deep = "{{#each @root.members}}".repeat(5) + &"{{/each}}".repeat(5);
        let err = try_render(&deep).unwrap_err();
        assert!(err.contains("nest 4 deep"), "{err}");
        // 64^3 iterations of 2 KiB each would be 512 MiB.
        let big = format!(
            "{{{{#each @root.members}}}}{{{{#each @root.members}}}}{{{{#each @root.members}}}}{}{{{{/each}}}}{{{{/each}}}}{{{{/each}}}}",
            "x".repeat(2048)
        );
        let err = try_render(&big).unwrap_err();
        assert!(err.contains("grows past"), "{err}");
        // Ordinary nesting still renders.
        let ok = try_render("{{#each members}}{{#if name}}{{name}} {{/if}}{{/each}}").unwrap();
        assert!(ok.starts_with("m0 m1"), "{ok}");
    }
}
