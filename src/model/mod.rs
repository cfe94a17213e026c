//! The domain: events, sources, figures, claims and rules, as plain Rust that
//! validates itself. Nothing here knows of HTTP, SQL or files.

pub mod changeset;
mod dataset;
mod date;
mod diff;
pub mod expr;
pub mod item;
mod texts;
mod types;
mod value;

pub use dataset::{key_problem, Dataset, Problem, Table};
pub use date::PartialDate;
pub use diff::{Change, ItemEdit};
pub use item::{key_field, Field, FieldChange, Input, Item, ItemError, Kind};
pub use types::{
    Breakdown, Claim, DeprecationReason, Event, Figure, Qualifier, Rank, Rule, Severity, Source,
    SourceKind, Status,
};
pub(crate) use value::Grouped;
pub use value::{group, Interval, Value};

/// Whether `s` is a slug, source key, claim id or rule id: lower-case ASCII
/// letters and digits, with `-`, `_` or `.` between them, at most 100
/// characters, starting with a letter or digit.
pub fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 100
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}
