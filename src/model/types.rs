//! The things a memorial holds: events, sources, figures, claims and rules.

use serde::{Deserialize, Serialize};

use super::{PartialDate, Value};

use crate::words::word_enum;

word_enum! {
    /// What kind of thing a source is.
    SourceKind {
        Official = "official",
        Parliamentary = "parliamentary",
        Court = "court",
        Ngo = "ngo",
        News = "news",
        Encyclopedia = "encyclopedia",
        Testimony = "testimony",
        Perpetrator = "perpetrator",
        Other = "other",
    }
}

word_enum! {
    /// How a figure's children relate to it.
    Breakdown {
        /// The children add up to the parent exactly.
        Exhaustive = "exhaustive",
        /// The children are disjoint and add up to at most the parent.
        Partial = "partial",
        /// Each child is at most the parent.
        Overlapping = "overlapping",
    }
}

word_enum! {
    /// How settled a published figure is.
    Status {
        Confirmed = "confirmed",
        Estimate = "estimate",
        Disputed = "disputed",
    }
}

word_enum! {
    /// A claim's standing, as in Wikidata.
    Rank {
        /// The figure's published value rests on it.
        Preferred = "preferred",
        Normal = "normal",
        /// Kept for the record, with a reason; never the published value.
        Deprecated = "deprecated",
    }
}

word_enum! {
    /// Why a claim is deprecated.
    Reason {
        Superseded = "superseded",
        Discredited = "discredited",
        Erroneous = "erroneous",
        Retracted = "retracted",
    }
}

word_enum! {
    /// Whether a broken rule blocks publishing.
    Severity {
        Error = "error",
        Warning = "warning",
    }
}

/// A mass-casualty event the memorial serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    #[schema(max_length = 100)]
    pub slug: String,
    #[schema(max_length = 500)]
    pub title: String,
    #[schema(max_length = 500)]
    pub location: String,
    #[schema(value_type = String, example = "2004-09-01", max_length = 64)]
    pub started_on: PartialDate,
    #[schema(value_type = String, example = "2004-09-03", max_length = 64)]
    pub ended_on: PartialDate,
    #[schema(max_length = 64)]
    pub timezone: String,
    #[schema(max_length = 10000)]
    pub summary: String,
}

/// Something a number comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[schema(max_length = 100)]
    pub key: String,
    #[schema(max_length = 500)]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub author: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub publisher: String,
    pub kind: SourceKind,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2006-12", max_length = 64)]
    pub published_on: Option<PartialDate>,
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub notes: String,
}

/// A quantity the memorial tracks, with its curated, published value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    #[schema(max_length = 100)]
    pub key: String,
    #[schema(max_length = 500)]
    pub label: String,
    #[schema(max_length = 500)]
    pub unit: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub parent: Option<String>,
    #[serde(default)]
    pub breakdown: Option<Breakdown>,
    #[serde(default)]
    pub position: i64,
    #[serde(default)]
    pub low: Option<i64>,
    #[serde(default)]
    pub best: Option<i64>,
    #[serde(default)]
    pub high: Option<i64>,
    pub status: Status,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub notes: String,
}

/// "Source S states figure F = x, as of date D."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    #[schema(max_length = 100)]
    pub id: String,
    #[schema(max_length = 100)]
    pub figure: String,
    #[schema(max_length = 100)]
    pub source: String,
    #[serde(default)]
    pub low: Option<i64>,
    #[serde(default)]
    pub best: Option<i64>,
    #[serde(default)]
    pub high: Option<i64>,
    /// YYYY, YYYY-MM or YYYY-MM-DD; the precision is kept.
    #[schema(value_type = String, example = "2004-09-07", max_length = 64)]
    pub as_of: PartialDate,
    pub rank: Rank,
    #[serde(default)]
    pub reason: Option<Reason>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub locator: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub quote: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub note: String,
}

/// A consistency rule of the event: a linear (in)equality over figure keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[schema(max_length = 100)]
    pub id: String,
    #[schema(max_length = 10000)]
    pub expression: String,
    pub severity: Severity,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub note: String,
}

impl Figure {
    /// The curated value.
    pub fn value(&self) -> Value {
        Value {
            low: self.low,
            best: self.best,
            high: self.high,
        }
    }
}

impl Claim {
    /// The value the source states.
    pub fn value(&self) -> Value {
        Value {
            low: self.low,
            best: self.best,
            high: self.high,
        }
    }
}
