//! The one error type of vigil. The CLI turns it into a message and an exit
//! status; the HTTP layer into an `application/problem+json` response.

use crate::checks::CheckResult;
use crate::files::FileError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An import folder or uploaded file has problems; every one is listed.
    #[error("{} problem(s) in the files:\n{}", .0.len(), list(.0))]
    Files(Vec<FileError>),

    /// Publishing was refused because error-severity checks are violated.
    #[error("publishing refused: {} error check(s) violated:\n{}", .0.len(), list(.0.iter().map(|r| format!("{}: {}", r.check, r.message))))]
    Refused(Vec<CheckResult>),

    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),

    /// The request is malformed or names something invalid.
    #[error("{0}")]
    BadRequest(String),

    /// The request body is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),

    /// The request body is not in a format the operation takes.
    #[error("{0}")]
    UnsupportedMediaType(String),

    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),

    /// An edit was made against a state that has changed since; `current`
    /// is the item as it is now (`None` when absent), with its ETag.
    #[error("{message}")]
    Stale {
        message: String,
        current: Option<serde_json::Value>,
        etag: String,
    },

    /// An edit did not say which state it was made against.
    #[error("{0}")]
    PreconditionRequired(String),

    /// No valid session or token came with the request.
    #[error("{0}")]
    Unauthorized(String),

    /// The session or token is valid but may not do this.
    #[error("{0}")]
    Forbidden(String),

    /// Too many failed log-ins; try again after `retry_after` seconds.
    #[error("too many failed log-ins; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: i64 },

    /// The database failed or is unreachable.
    #[error("database: {0}")]
    Database(String),

    /// A file or directory could not be read or written.
    #[error("{0}")]
    Io(String),
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        // PostgreSQL's text cannot hold U+0000: the request that sent it is
        // at fault, not the database.
        if let diesel::result::Error::DatabaseError(_, info) = &e {
            let m = info.message();
            if m.contains("invalid byte sequence") && m.contains("0x00") {
                return Error::BadRequest(NUL.into());
            }
        }
        Error::Database(e.to_string())
    }
}

/// Why text holding U+0000 is refused.
pub const NUL: &str = crate::text::NUL;

impl From<crate::text::TextError> for Error {
    fn from(e: crate::text::TextError) -> Self {
        Error::BadRequest(e.to_string())
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Error::Database(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Database(format!("stored JSON does not parse: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
