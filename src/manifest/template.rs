//! Prompt templates: Handlebars in strict mode (an unknown variable is an error naming it)
//! with HTML escaping off, since prompts are not HTML.

use handlebars::{Handlebars, RenderErrorReason, TemplateError, TemplateErrorReason};

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

/// Renders `source` against `context`.
pub fn render(
    hb: &Handlebars<'_>,
    source: &str,
    context: &serde_json::Value,
) -> Result<String, TemplateProblem> {
    let template = handlebars::Template::compile(source).map_err(syntax_problem)?;
    let mut hb = hb.clone();
    hb.register_template("prompt", template);
    hb.render("prompt", context).map_err(|err| {
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
    })
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
