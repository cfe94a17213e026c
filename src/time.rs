//! Times as text: the one place that knows how vigil writes and reads a time.
//!
//! The code holds times as [`DateTime<Utc>`]; they become text only where text
//! is written — a stored column, JSON, CSV, a page. Two forms are used, both
//! RFC 3339 in UTC with a `Z`:
//!
//! - [`secs()`], whole seconds (`2026-12-01T05:49:07Z`): the stamps stored with
//!   users, tokens, sessions, changesets, edits, versions, backups and
//!   checkpoints, and how they are shown;
//! - [`millis()`], milliseconds (`2026-12-01T05:49:07.123Z`): the audit log's
//!   entry times (and its filter bounds) and recorded verifications.
//!
//! [`secs::serde`], [`secs::opt`] and [`millis::serde`] are the
//! `#[serde(with = ...)]` helpers that write a field as it always was.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

use crate::error::{Error, Result};

/// `t` to whole seconds, as a whole-seconds stamp keeps it.
pub fn to_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}

/// `t` to milliseconds, as a milliseconds stamp keeps it.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// A time, or a reference to one: what [`secs()`] and [`millis()`] take, so
/// that templates may pass either.
pub trait AsTime {
    /// The time itself.
    fn as_time(&self) -> DateTime<Utc>;
}

impl AsTime for DateTime<Utc> {
    fn as_time(&self) -> DateTime<Utc> {
        *self
    }
}

impl<T: AsTime + ?Sized> AsTime for &T {
    fn as_time(&self) -> DateTime<Utc> {
        (**self).as_time()
    }
}

/// A time as a whole-seconds stamp: `2026-12-01T05:49:07Z`.
pub fn secs(t: impl AsTime) -> String {
    t.as_time().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time as a milliseconds stamp: `2026-12-01T05:49:07.123Z`.
pub fn millis(t: impl AsTime) -> String {
    t.as_time().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 time (any offset, any precision), in UTC.
pub fn parse(s: &str) -> std::result::Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// Reads a stored stamp. One that does not read is an error naming where it
/// is stored: `what` says which row and field, e.g. `"user 'ada': created_at"`.
pub fn stored(what: &str, s: &str) -> Result<DateTime<Utc>> {
    parse(s)
        .map_err(|e| Error::Internal(format!("{what}: the stored time '{s}' does not read: {e}")))
}

/// Reads a stored stamp that may be absent; see [`stored`].
pub fn stored_opt(what: &str, s: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| stored(what, s)).transpose()
}

/// Serde helpers for a whole-seconds time: `#[serde(with = "crate::time::secs::serde")]`.
pub mod secs {
    /// A `DateTime<Utc>` written and read as a whole-seconds stamp.
    pub mod serde {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `t` as [`crate::time::secs`] does.
        pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&crate::time::secs(t))
        }

        /// Reads an RFC 3339 time.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
            let s = String::deserialize(d)?;
            crate::time::parse(&s).map_err(serde::de::Error::custom)
        }
    }

    /// An `Option<DateTime<Utc>>` written and read as a whole-seconds stamp
    /// or `null`.
    pub mod opt {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `t` as [`crate::time::secs`] does, or `null`.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&crate::time::secs(t)),
                None => s.serialize_none(),
            }
        }

        /// Reads an RFC 3339 time or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| crate::time::parse(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// Serde helpers for a milliseconds time: `#[serde(with = "crate::time::millis::serde")]`.
pub mod millis {
    /// A `DateTime<Utc>` written and read as a milliseconds stamp.
    pub mod serde {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `t` as [`crate::time::millis`] does.
        pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&crate::time::millis(t))
        }

        /// Reads an RFC 3339 time.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
            let s = String::deserialize(d)?;
            crate::time::parse(&s).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_as_written() {
        for s in ["2026-12-01T05:49:07Z", "1999-01-31T23:59:59Z"] {
            assert_eq!(secs(parse(s).expect("reads")), s);
        }
        for s in ["2026-12-01T05:49:07.123Z", "2026-12-01T05:49:07.000Z"] {
            assert_eq!(millis(parse(s).expect("reads")), s);
        }
    }

    #[test]
    fn a_stamp_keeps_its_precision() {
        let t = parse("2026-12-01T05:49:07.123456789Z").expect("reads");
        assert_eq!(secs(t), "2026-12-01T05:49:07Z");
        assert_eq!(millis(t), "2026-12-01T05:49:07.123Z");
        assert_eq!(to_secs(t), parse("2026-12-01T05:49:07Z").expect("reads"));
        assert_eq!(
            to_millis(t),
            parse("2026-12-01T05:49:07.123Z").expect("reads")
        );
    }

    #[test]
    fn a_stored_stamp_that_does_not_read_names_its_place() {
        let e = stored("user 'ada': created_at", "yesterday").expect_err("does not read");
        assert!(e.to_string().contains("user 'ada': created_at"), "{e}");
        assert!(e.to_string().contains("yesterday"), "{e}");
    }
}
