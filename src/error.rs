//! The one error type every command returns: what failed, what to do about it, and the
//! exit code it maps to (cli.md: 1 error, 2 usage/plan changes, 3 not found, 4 timed out, 5 a
//! `cafleet run` whose team died).

use std::fmt;
use std::process::ExitCode;

/// How a failure maps onto the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything that went wrong: exit 1.
    Failure,
    /// The caller asked for something malformed: exit 2.
    Usage,
    /// A fleet, member or message that does not exist: exit 3.
    NotFound,
    /// A `--wait` ran out of time: exit 4.
    Timeout,
    /// `cafleet run`: the team can no longer finish (its Director, or every member, is
    /// dead or in `crash-loop`): exit 5.
    TeamDied,
    /// Another host could not be reached over ssh (a member with `host`): exit 1, but
    /// callers tell it apart from a failure there (the agent is `unreachable`, not dead).
    Unreachable,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failure => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Timeout => 4,
            Kind::TeamDied => 5,
            Kind::Unreachable => 1,
        }
    }
}

/// A failure as the user sees it: `error: <message>` then one `hint:` line per hint.
/// `report` carries pre-rendered text (for example source snippets with carets) that is
/// printed between the two.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub report: Option<String>,
    pub hints: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            report: None,
            hints: Vec::new(),
        }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Error::new(Kind::Failure, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Kind::NotFound, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Error::new(Kind::Timeout, message)
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Error::new(Kind::Unreachable, message)
    }

    /// Whether this is a host that ssh could not reach (see [`Kind::Unreachable`]).
    pub fn is_unreachable(&self) -> bool {
        self.kind == Kind::Unreachable
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn with_report(mut self, report: impl Into<String>) -> Self {
        self.report = Some(report.into());
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind.exit_code())
    }

    /// The full text printed on stderr.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(report) = &self.report {
            out.push_str(report.trim_end());
            out.push_str("\n\n");
        }
        // Messages quote names and values from the registry and the command line: shown
        // with visible stand-ins, never acted on by the terminal. (`report` is rendered
        // by annotate-snippets, which may colour it, from the user's own file.)
        out.push_str("error: ");
        out.push_str(&crate::safe_text::text(&self.message));
        out.push('\n');
        for hint in &self.hints {
            out.push_str("hint: ");
            out.push_str(&crate::safe_text::text(hint));
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

// `From<rusqlite::Error>` lives with the registry (`registry::sqlite_error`): only the
// registry knows what a SQLite failure means for the user.

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::failure(err.to_string())
    }
}

/// Adds what was being attempted to a lower-level error, keeping its kind and hints.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| {
            let mut err: Error = err.into();
            err.message = format!("{}: {}", what(), err.message);
            err
        })
    }
}
