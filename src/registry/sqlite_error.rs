//! What a SQLite failure means for the user: the message and hint every registry error
//! is turned into, also where a `?` converts a `rusqlite::Error` outside this module.

use crate::error::Error;

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        describe_sqlite_error(err)
    }
}

/// Turns a SQLite failure into a message and a hint a user can act on.
pub fn describe_sqlite_error(err: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    let code = err.sqlite_error_code();
    let text = err.to_string();
    match code {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => Error::failure(
            format!("the file is not a cafleet registry or is corrupt ({text})"),
        )
        .hint("point --db at another file; this one was left untouched"),
        Some(ErrorCode::ReadOnly) => Error::failure(format!("the registry is read-only ({text})"))
            .hint("make the file and its folder writable, or point --db at another file"),
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => {
            Error::failure(format!("cannot open the file ({text})"))
                .hint("check that the folder exists and is writable, or pass --db PATH")
        }
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => Error::failure(format!(
            "the registry stayed locked for {}s ({text})",
            super::BUSY_TIMEOUT.as_secs()
        ))
        .hint("another process holds a long write transaction; try again"),
        _ => Error::failure(format!("registry error: {text}")),
    }
}
