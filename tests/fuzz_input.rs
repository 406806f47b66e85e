//! Bad input never panics: the fleet-file loader (`manifest::load_source`, and the error
//! report it renders) on random text and on mutations of every example and every
//! known-invalid fleet file. Case counts are kept small so this runs in seconds; set
//! `PROPTEST_CASES` for a longer run.

use std::sync::Arc;

use cafleet::manifest::{LoadOptions, diagnostic::SourceFile, load_source};
use camino::{Utf8Path, Utf8PathBuf};
use proptest::prelude::*;

fn corpus() -> Vec<(Utf8PathBuf, String)> {
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "examples",
        "tests/manifests/invalid",
        "tests/manifests/valid",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = Utf8PathBuf::from_path_buf(entry.path()).expect("utf-8 path");
            if path.extension() == Some("toml") {
                let text = std::fs::read_to_string(&path).expect("read corpus file");
                files.push((path, text));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "corpus too small: {}", files.len());
    files
}

/// Loads `text` as if it were the file at `path` and renders any error, as `config
/// check` does; the only requirement is that it returns.
fn load(path: &Utf8Path, text: &str) {
    let file = SourceFile {
        path: path.file_name().unwrap_or("fleet.toml").into(),
        text: Arc::from(text),
    };
    let options = LoadOptions::default();
    if let Err(diagnostics) = load_source(&file, path, &options) {
        let err = diagnostics.into_error(file.path.as_str(), false);
        assert!(!err.message.is_empty());
    }
}

/// Pieces that stress TOML, handlebars and the span arithmetic of the error report.
const NASTY: &[&str] = &[
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "{{",
    "}}",
    "{{#each members}}",
    "{{/each}}",
    "\0",
    "\n",
    "\r\n",
    "\t",
    "=",
    "#",
    "\\",
    "\\u{0}",
    "é",
    "😀",
    "\u{202e}",
    "99999999999999999999999999",
    "-9223372036854775809",
    "1e999",
    "nan",
    "inf",
    "version = 1\n",
    "[fleet]\n",
    "[[member]]\n",
    "name = \"\"\n",
    "\"\"\"",
    "'''",
    "replicas = 4294967296\n",
    "interval = \"99999999999h\"\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, usize),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..NASTY.len()).prop_map(|(at, piece)| Mutation::Insert(at, piece)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(at, bits) => {
                if !bytes.is_empty() {
                    bytes[at % len] ^= bits;
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
            Mutation::Insert(at, piece) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, NASTY[piece].bytes());
            }
            Mutation::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
        }
    }
    // The loader takes text: invalid UTF-8 is what reading the file would reject first.
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn loader_survives_random_text(text in "\\PC{0,400}") {
        load(Utf8Path::new("/tmp/fuzz/fleet.toml"), &text);
    }

    #[test]
    fn loader_survives_random_pieces(pieces in prop::collection::vec(0..NASTY.len(), 0..40)) {
        let text: String = pieces.iter().map(|&i| NASTY[i]).collect();
        load(Utf8Path::new("/tmp/fuzz/fleet.toml"), &text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn loader_survives_mutated_fleet_files(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let files = corpus();
        let (path, text) = &files[pick.index(files.len())];
        load(path, &apply(text, &mutations));
    }
}

#[test]
fn every_corpus_file_loads_or_reports() {
    for (path, text) in corpus() {
        load(&path, &text);
    }
}
