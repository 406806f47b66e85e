//! The docs stay true: every `cafleet …` command line shown in the README, docs/, the
//! bundled skills and presets parses with the real command line definition.

use std::path::Path;

use clap::Parser;

/// A command line, and whether it was inline prose (which may name a command without
/// its required arguments: "`cafleet message send` stores the message first").
fn command_lines(text: &str) -> Vec<(String, bool)> {
    let mut lines = Vec::new();
    let mut in_code = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        // Commands in code blocks, and inline ones written as `cafleet …` in prose.
        let inline = !in_code;
        let candidates: Vec<String> = if in_code {
            vec![line.trim_start_matches("$ ").to_string()]
        } else {
            line.split('`')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect()
        };
        for candidate in candidates {
            // Drop a trailing comment and shell redirections.
            let candidate = candidate.split("  #").next().unwrap_or_default();
            let candidate = candidate.split(" >").next().unwrap_or_default();
            let candidate = candidate
                .split(" 2>")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            let candidate = candidate
                .strip_prefix("target/release/")
                .unwrap_or(&candidate)
                .to_string();
            let Some(rest) = candidate.strip_prefix("cafleet ") else {
                continue;
            };
            // Synopses with alternatives, optional parts or elisions are not runnable lines.
            if ["|", "[", "…", "...", "&&", "<"]
                .iter()
                .any(|m| rest.contains(m))
                || rest.ends_with('\\')
            {
                continue;
            }
            lines.push((candidate, inline));
        }
    }
    lines
}

fn check_file(path: &Path, checked: &mut usize) {
    let text = std::fs::read_to_string(path).expect("read doc");
    for (line, inline) in command_lines(&text) {
        // An unbalanced quote: a message body that goes on over the next lines.
        let Some(args) = shlex::split(&line) else {
            continue;
        };
        *checked += 1;
        if let Err(err) = cafleet::cli::Cli::try_parse_from(&args) {
            use clap::error::ErrorKind;
            // Prose may quote a fragment; its command and flag names must still exist.
            let partial = !matches!(
                err.kind(),
                ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand
            );
            // A placeholder such as SHELL where a fixed value belongs.
            let placeholder = matches!(
                err.kind(),
                ErrorKind::InvalidValue | ErrorKind::ValueValidation
            ) && args
                .iter()
                .any(|a| a.len() >= 2 && a.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            if err.use_stderr() && !(inline && partial) && !placeholder {
                panic!("{}: `{line}` does not parse:\n{err}", path.display());
            }
        }
    }
}

#[test]
fn every_documented_command_line_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for dir in ["docs", "skills", "presets"] {
        let mut stack = vec![root.join(dir)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "md")
                    // It also quotes the Python tool's commands, which we do not have.
                    && !path.ends_with("docs/benchmarks.md")
                {
                    files.push(path);
                }
            }
        }
    }
    let mut checked = 0;
    for file in &files {
        check_file(file, &mut checked);
    }
    assert!(
        checked >= 40,
        "only {checked} command lines found in {} files",
        files.len()
    );
}
