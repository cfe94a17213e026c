//! The one error type of vigil. The CLI turns it into a message and an exit
//! status; the HTTP layer into an `application/problem+json` response.
//!
//! # Policy
//!
//! - **Who raises what.** The domain, the checks and the file reader raise
//!   what is wrong with the input (`Files`, `BadRequest`, `Refused`, …) in
//!   words for the person who sent it, naming where. Storage raises
//!   `Database`, classified once here from the driver's error kinds and
//!   codes into a [`Fault`], the driver's error kept as its source. Data
//!   vigil wrote itself that does not read back (a stored state, a stored
//!   document) is `Internal`: a bug or a damaged store, never the caller's
//!   fault. The service raises the request's conflicts (`Conflict`,
//!   `Stale`, `Forbidden`, …). What only HTTP refuses before any use case
//!   runs (a body too large or of the wrong type, an edit without
//!   `If-Match`) is not here: it is `http::problem::HttpError`, which
//!   carries this type for everything else.
//! - **What is logged.** `Database`, `Internal` and `Io` are logged at
//!   `error` with their whole chain of causes; the rest are the caller's
//!   business and are not.
//! - **What the client sees.** For the caller's errors, the message itself.
//!   For `Database`, only what the [`Fault`] means for them (try again;
//!   the disk is full; read-only) — never the driver's text — with 503; for
//!   `Internal` and `Io`, a generic message with 500. Every problem body
//!   has a stable `type` URI naming the kind (`urn:vigil:problem:…`).

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

    /// No valid session or token came with the request.
    #[error("{0}")]
    Unauthorized(String),

    /// The session or token is valid but may not do this.
    #[error("{0}")]
    Forbidden(String),

    /// Log-ins to this account or from this address are locked out after
    /// too many failures; try again after `retry_after` seconds. (HTTP
    /// answers it 429 Too Many Requests with `Retry-After`.)
    #[error("too many failed log-ins; try again in {retry_after} seconds")]
    LockedOut { retry_after: i64 },

    /// The database failed or is unreachable.
    #[error("database: {0}")]
    Database(DatabaseError),

    /// Data vigil wrote does not read back: a bug or a damaged store.
    #[error("internal: {0}")]
    Internal(String),

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

/// What kind of database failure it was, as far as the caller is
/// concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Unreachable, closed, busy or otherwise failing: try again later.
    Unavailable,
    /// The disk is full: nothing was written.
    DiskFull,
    /// The database takes no writes at the moment.
    ReadOnly,
    /// A constraint refused the write (a unique name taken meanwhile, …).
    Constraint,
    /// The database file is damaged.
    Corrupt,
}

/// A database failure: its kind, a message, and the driver's error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DatabaseError {
    pub fault: Fault,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A database failure of a kind, with no driver error behind it.
    pub fn database(fault: Fault, message: impl Into<String>) -> Self {
        Error::Database(DatabaseError {
            fault,
            message: message.into(),
            source: None,
        })
    }
}

/// The kind of a driver's error, from its kind and, where the kind is not
/// enough, SQLite's and PostgreSQL's own codes as their messages carry them.
fn fault_of(e: &diesel::result::Error) -> Fault {
    use diesel::result::{DatabaseErrorKind as K, Error as D};
    match e {
        D::DatabaseError(kind, info) => {
            let m = info.message().to_ascii_lowercase();
            match kind {
                K::UniqueViolation
                | K::ForeignKeyViolation
                | K::NotNullViolation
                | K::CheckViolation
                | K::RestrictViolation
                | K::ExclusionViolation => Fault::Constraint,
                K::ReadOnlyTransaction => Fault::ReadOnly,
                // SQLITE_FULL; PostgreSQL's 53100 disk_full.
                _ if m.contains("disk is full")
                    || m.contains("no space left")
                    || m.contains("could not extend file") =>
                {
                    Fault::DiskFull
                }
                // SQLITE_READONLY; PostgreSQL's 25006 read_only_sql_transaction.
                _ if m.contains("readonly database") || m.contains("read-only") => Fault::ReadOnly,
                // SQLITE_CORRUPT and SQLITE_NOTADB.
                _ if m.contains("malformed") || m.contains("not a database") => Fault::Corrupt,
                _ => Fault::Unavailable,
            }
        }
        _ => Fault::Unavailable,
    }
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
        Error::Database(DatabaseError {
            fault: fault_of(&e),
            message: e.to_string(),
            source: Some(Box::new(e)),
        })
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
        Error::Database(DatabaseError {
            fault: Fault::Unavailable,
            message: e.to_string(),
            source: Some(Box::new(e)),
        })
    }
}

/// JSON vigil itself wrote or builds that does not read or encode: never
/// the caller's input (that is decoded at the edge, with its own errors).
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("JSON: {e}"))
    }
}

/// Every cause of an error, outermost first, for the log.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
