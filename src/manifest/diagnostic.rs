//! A problem in a fleet file (or a prompt template it names), with the file, the byte
//! range and an optional suggestion, rendered like a compiler error with a caret.

use std::ops::Range;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use camino::Utf8PathBuf;

use crate::error::Error;

/// The text of one file problems point into.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user.
    pub path: Utf8PathBuf,
    pub text: Arc<str>,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub file: SourceFile,
    pub span: Range<usize>,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &SourceFile, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.clone(),
            span,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The 1-based line the problem starts on.
    pub fn line(&self) -> usize {
        let end = self.span.start.min(self.file.text.len());
        self.file.text[..end].matches('\n').count() + 1
    }

    pub fn render(&self, renderer: &Renderer) -> String {
        let text: &str = &self.file.text;
        // Clamp so a span past the end (an unterminated table, say) still renders.
        let start = floor_char_boundary(text, self.span.start.min(text.len()));
        let end = floor_char_boundary(text, self.span.end.clamp(start, text.len()));
        let mut annotation = AnnotationKind::Primary.span(start..end);
        if let Some(label) = &self.label {
            annotation = annotation.label(label.as_str());
        }
        let snippet = Snippet::source(text)
            .path(self.file.path.as_str())
            .annotation(annotation);
        let mut report = vec![
            Level::ERROR
                .primary_title(self.message.as_str())
                .element(snippet),
        ];
        if let Some(help) = &self.help {
            report.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        renderer.render(&report)
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Every problem found in one run, in file order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Renders every problem, plain text (no colour) unless `styled`.
    pub fn render(&self, styled: bool) -> String {
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut sorted: Vec<&Diagnostic> = self.0.iter().collect();
        sorted.sort_by(|a, b| {
            (a.file.path.as_str() != b.file.path.as_str())
                .cmp(&false)
                .then(a.file.path.cmp(&b.file.path))
                .then(a.span.start.cmp(&b.span.start))
        });
        let mut out = String::new();
        for diagnostic in sorted {
            out.push_str(&diagnostic.render(&renderer));
            out.push_str("\n\n");
        }
        out
    }

    /// The command error for a file with these problems.
    pub fn into_error(self, path: &str, styled: bool) -> Error {
        let count = self.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        Error::failure(format!("`{path}` has {count} {noun}"))
            .with_report(self.render(styled))
            .hint(format!(
                "fix the file and run `cafleet config check {path}` again"
            ))
    }
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_only() {
        let keys = ["model", "backend", "effort"];
        assert_eq!(nearest("modle", keys), Some("model"));
        assert_eq!(nearest("backedn", keys), Some("backend"));
        assert_eq!(nearest("zzz", keys), None);
    }
}
