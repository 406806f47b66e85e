//! Where the registry lives: `--db`, else `CAFLEET_DATABASE_URL`, else
//! `$XDG_DATA_HOME/cafleet/cafleet.db`, else `~/.local/share/cafleet/cafleet.db`. A
//! `postgres://` (or `postgresql://`) URL selects a PostgreSQL registry; it is carried as
//! given (the same type as a path) and printed only through [`redact`], which hides its
//! password.

use std::borrow::Cow;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, Result};

pub const DATABASE_URL_ENV: &str = "CAFLEET_DATABASE_URL";

/// Resolves the database path from an explicit flag and the process environment.
pub fn resolve(flag: Option<&str>) -> Result<Utf8PathBuf> {
    resolve_with(flag, |key| std::env::var(key).ok()).map(|path| canonical(&path))
}

/// The registry's real path, symlinks resolved: the locks beside it must be the same
/// files whichever name a command was given (`--db link.db` and `--db real.db` once ran
/// two `up`s of one fleet at the same time).
fn canonical(path: &Utf8Path) -> Utf8PathBuf {
    if path.as_str() == ":memory:" || is_postgres(path) {
        return path.to_owned();
    }
    let real = std::fs::canonicalize(path).or_else(|_| {
        // Not created yet: its folder may exist, and may itself be a link.
        let parent = path
            .parent()
            .filter(|p| !p.as_str().is_empty())
            .unwrap_or(Utf8Path::new("."));
        std::fs::canonicalize(parent).map(|dir| dir.join(path.file_name().unwrap_or_default()))
    });
    real.ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
        .unwrap_or_else(|| path.to_owned())
}

/// [`resolve`] with the environment passed in, so tests need not touch the real one.
pub fn resolve_with(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Utf8PathBuf> {
    let home = || env("HOME").filter(|h| !h.is_empty());
    if let Some(flag) = flag.filter(|f| !f.is_empty()) {
        return parse_location(flag, home().as_deref());
    }
    if let Some(url) = env(DATABASE_URL_ENV).filter(|u| !u.is_empty()) {
        return parse_location(&url, home().as_deref()).map_err(|err| {
            err.hint(format!(
                "{DATABASE_URL_ENV} takes `sqlite:///abs/path.db`, a plain path or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`"
            ))
        });
    }
    if let Some(xdg) = env("XDG_DATA_HOME").filter(|x| x.starts_with('/')) {
        return Ok(Utf8PathBuf::from(xdg).join("cafleet/cafleet.db"));
    }
    match home() {
        Some(home) => Ok(Utf8PathBuf::from(home).join(".local/share/cafleet/cafleet.db")),
        None => Err(Error::failure("cannot find the registry: HOME is not set")
            .hint("pass --db PATH or set CAFLEET_DATABASE_URL")),
    }
}

/// Accepts `sqlite:///abs/path`, `sqlite:////abs/path` (the Python tool's form),
/// `sqlite:///~/path`, a plain path and `~/path`, and a `postgres://` URL as it is.
fn parse_location(raw: &str, home: Option<&str>) -> Result<Utf8PathBuf> {
    if super::engine::postgres::is_url(raw) {
        return Ok(Utf8PathBuf::from(raw));
    }
    let path = match raw.strip_prefix("sqlite://") {
        Some(rest) => {
            let rest = rest.split('?').next().unwrap_or_default();
            let trimmed = rest.trim_start_matches('/');
            if trimmed.is_empty() {
                return Err(Error::usage(format!("`{raw}` names no database file")));
            }
            if trimmed == "~" || trimmed.starts_with("~/") {
                trimmed.to_string()
            } else {
                format!("/{trimmed}")
            }
        }
        None if raw.contains("://") => {
            return Err(Error::usage(format!(
                "`{}` is not a SQLite or PostgreSQL location",
                redact(raw)
            ))
            .hint("use `sqlite:///path`, a plain path, or `postgres://USER:PASSWORD@HOST:PORT/DATABASE`"));
        }
        None => raw.to_string(),
    };
    expand_tilde(&path, home)
}

/// Whether the registry file at `location` was deleted (the loops that watch a registry
/// stop then); a PostgreSQL registry is never gone this way.
pub fn is_gone(location: &Utf8Path) -> bool {
    !is_postgres(location) && !location.exists()
}

/// Whether the registry at `location` is a PostgreSQL database.
pub fn is_postgres(location: &Utf8Path) -> bool {
    super::engine::postgres::is_url(location.as_str())
}

/// `location` as it may be printed: the password of a URL (`user:PASSWORD@`, and a
/// `password=` parameter) becomes `***`. A path is returned as it is.
pub fn redact(location: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = location.split_once("://") else {
        return Cow::Borrowed(location);
    };
    // The credentials end at an `@`: the driver takes the first one anywhere (so a
    // password may hold `/` or `?`), a reader may mean a later one (`p@ss`). Hide up to
    // the last: better a host hidden than a password shown.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let creds_end = rest.rfind('@');
    let (authority, tail) = match creds_end {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => {
                let after = &rest[at + 1..];
                let host_end = after.find(['/', '?']).unwrap_or(after.len());
                let (host, tail) = after.split_at(host_end);
                (Cow::Owned(format!("{user}:***@{host}")), tail)
            }
            None => {
                let (authority, tail) = rest.split_at(authority_end);
                (Cow::Borrowed(authority), tail)
            }
        },
        None => {
            let (authority, tail) = rest.split_at(authority_end);
            (Cow::Borrowed(authority), tail)
        }
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            Cow::Owned(format!("{path}?{}", query.join("&")))
        }
        None => Cow::Borrowed(tail),
    };
    if matches!((&authority, &tail), (Cow::Borrowed(_), Cow::Borrowed(_))) {
        return Cow::Borrowed(location);
    }
    Cow::Owned(format!("{scheme}://{authority}{tail}"))
}

pub(crate) fn expand_tilde(path: &str, home: Option<&str>) -> Result<Utf8PathBuf> {
    if path == "~" || path.starts_with("~/") {
        let Some(home) = home else {
            return Err(Error::failure(format!(
                "cannot expand `~` in `{path}`: HOME is not set"
            )));
        };
        return Ok(Utf8Path::new(home).join(path.trim_start_matches('~').trim_start_matches('/')));
    }
    Ok(Utf8PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn flag_wins_over_everything() {
        let got = resolve_with(
            Some("/tmp/a.db"),
            env(&[("CAFLEET_DATABASE_URL", "/tmp/b.db"), ("HOME", "/h")]),
        );
        assert_eq!(got.unwrap(), "/tmp/a.db");
    }

    #[test]
    fn url_forms() {
        let cases = [
            ("sqlite:///abs/path.db", "/abs/path.db"),
            ("sqlite:////abs/path.db", "/abs/path.db"),
            ("sqlite:///~/x/c.db", "/home/u/x/c.db"),
            ("~/c.db", "/home/u/c.db"),
            ("rel/c.db", "rel/c.db"),
        ];
        for (url, want) in cases {
            let got = resolve_with(
                None,
                env(&[("CAFLEET_DATABASE_URL", url), ("HOME", "/home/u")]),
            );
            assert_eq!(got.unwrap(), want, "{url}");
        }
    }

    #[test]
    fn defaults() {
        let got = resolve_with(None, env(&[("XDG_DATA_HOME", "/xdg"), ("HOME", "/h")]));
        assert_eq!(got.unwrap(), "/xdg/cafleet/cafleet.db");
        let got = resolve_with(None, env(&[("HOME", "/h")]));
        assert_eq!(got.unwrap(), "/h/.local/share/cafleet/cafleet.db");
        let got = resolve_with(None, env(&[]));
        assert!(got.unwrap_err().render().contains("hint: pass --db"));
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        for url in ["mysql://x/y", "sqlite://", "sqlite:///"] {
            let got = resolve_with(None, env(&[("CAFLEET_DATABASE_URL", url)]));
            assert!(got.is_err(), "{url}");
        }
    }

    #[test]
    fn postgres_urls_select_postgres_as_given() {
        for url in [
            "postgres://u:secret@db.example:5433/cafleet",
            "postgresql://u@localhost/cafleet?options=-csearch_path%3Dteam",
        ] {
            let got = resolve_with(None, env(&[("CAFLEET_DATABASE_URL", url)])).unwrap();
            assert_eq!(got, url);
            assert!(is_postgres(&got));
            assert_eq!(resolve(Some(url)).unwrap(), url, "not made a path");
        }
        assert!(!is_postgres(Utf8Path::new("/tmp/postgres://x")));
    }

    #[test]
    fn passwords_are_redacted() {
        let cases = [
            (
                "postgres://u:s3cr%40t@db:5433/cafleet",
                "postgres://u:***@db:5433/cafleet",
            ),
            (
                "postgresql://u:p@ss@host/db?sslmode=disable",
                "postgresql://u:***@host/db?sslmode=disable",
            ),
            (
                "postgres://host/db?user=u&password=hunter2&x=1",
                "postgres://host/db?user=u&password=***&x=1",
            ),
            ("postgres://u@host/db", "postgres://u@host/db"),
            // The driver ends the credentials at the first `@`, past a `/` or `?`.
            ("postgres://u:a/b@h/db", "postgres://u:***@h/db"),
            ("postgres://u:a?b@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u:p@ss/x@h/db", "postgres://u:***@h/db"),
            (
                "postgres://h/db?password=x&application_name=a@b",
                "postgres://h/db?password=***&application_name=a@b",
            ),
            ("/home/u/cafleet.db", "/home/u/cafleet.db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
        let err = resolve_with(
            None,
            env(&[("CAFLEET_DATABASE_URL", "mysql://u:hunter2@h/d")]),
        )
        .unwrap_err()
        .render();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_link_to_the_registry_is_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        std::fs::write(&real, b"").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let by_link = resolve(Some(link.to_str().unwrap())).unwrap();
        let by_real = resolve(Some(real.to_str().unwrap())).unwrap();
        assert_eq!(by_link, by_real);
        // A registry not created yet, in a linked folder.
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&folder, &linked).unwrap();
        assert_eq!(
            resolve(Some(linked.join("new.db").to_str().unwrap())).unwrap(),
            resolve(Some(folder.join("new.db").to_str().unwrap())).unwrap()
        );
    }
}
