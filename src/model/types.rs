//! The things a memorial holds: events, sources, figures, claims and rules.

use serde::{Deserialize, Serialize};

use super::item::{Field, Input, Item, Kind};
use super::{group, Dataset, Interval, PartialDate, Table, Value};

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
    /// Why a claim is deprecated. Its OpenAPI schema keeps the name
    /// clients know, `Reason`.
    DeprecationReason as Reason {
        Superseded = "superseded",
        Discredited = "discredited",
        Erroneous = "erroneous",
        Retracted = "retracted",
    }
}

word_enum! {
    /// How a claim's number relates to what the source wrote.
    Qualifier {
        /// "about 700": widened by the event's `approximation` for checks.
        Approximate = "approximate",
        /// "more than 1,100": the number is in `low`; the value is above it.
        MoreThan = "more_than",
        /// "fewer than 50": the number is in `high`; the value is below it.
        FewerThan = "fewer_than",
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
    /// How far an approximate claim ("about 700") may be from its number, in
    /// percent; `None` is the default, [`Event::DEFAULT_APPROXIMATION`].
    #[serde(default)]
    pub approximation: Option<u32>,
}

impl Event {
    /// The tolerance of approximate claims when the event does not set one.
    pub const DEFAULT_APPROXIMATION: u32 = 10;

    /// The tolerance of approximate claims, in percent.
    pub fn approximation_percent(&self) -> u32 {
        self.approximation.unwrap_or(Self::DEFAULT_APPROXIMATION)
    }
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

/// "Source S states figure F = x, as of date D" (or undated).
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
    /// How the number is qualified: none (as written), `approximate`,
    /// `more_than` or `fewer_than`.
    #[serde(default)]
    pub qualifier: Option<Qualifier>,
    /// YYYY, YYYY-MM or YYYY-MM-DD; the precision is kept. `None`: the
    /// source does not date it ("undated"); no date is ever invented.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2004-09-07", max_length = 64)]
    pub as_of: Option<PartialDate>,
    pub rank: Rank,
    /// Why it is deprecated; only for a deprecated claim.
    // Its field in files, documents and the API is `reason`.
    #[serde(default, rename = "reason")]
    pub deprecation_reason: Option<DeprecationReason>,
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

// The fields of each kind, beside the types: labels and help are what the
// panel shows; the order is the CSV columns' order.

impl Kind for Event {
    const TABLE: Table = Table::Event;
    const KEY: &'static str = "slug";
    const OPTIONAL_COLUMNS: &'static [&'static str] = &["approximation"];
    const FIELDS: &'static [Field] = &[
        Field::new("slug", "Short name", Input::Key)
            .help("Lower-case letters, digits and hyphens, as in the page's address."),
        Field::new("title", "Title", Input::Text),
        Field::new("location", "Place", Input::Text),
        Field::new("started_on", "Began on", Input::Date)
            .help("YYYY, YYYY-MM or YYYY-MM-DD: only as precise as known.")
            .required(),
        Field::new("ended_on", "Ended on", Input::Date)
            .help("YYYY, YYYY-MM or YYYY-MM-DD: only as precise as known.")
            .required(),
        Field::new("timezone", "Time zone", Input::Text)
            .help("An IANA name, such as Europe/Moscow."),
        Field::new("summary", "Summary", Input::LongText),
        Field::new(
            "approximation",
            "Tolerance of \"about\" (percent)",
            Input::Percent,
        )
        .help("How far a claim written \"about N\" may be from N in the checks; empty for 10."),
    ];
    fn key(&self) -> &str {
        &self.slug
    }
    fn of(ds: &Dataset) -> &[Self] {
        std::slice::from_ref(&ds.event)
    }
    fn list(_: &mut Dataset) -> Option<&mut Vec<Self>> {
        None
    }
    fn into_item(self) -> Item {
        Item::Event(self)
    }
    fn from_item(item: Item) -> Option<Self> {
        match item {
            Item::Event(x) => Some(x),
            _ => None,
        }
    }
}

impl Kind for Source {
    const TABLE: Table = Table::Sources;
    const KEY: &'static str = "key";
    const FIELDS: &'static [Field] = &[
        Field::new("key", "Source key", Input::Key)
            .help("Lower-case letters, digits, and - _ . between them."),
        Field::new("title", "Title", Input::Text),
        Field::new("author", "Author", Input::Text)
            .help("As the source names its author; empty when it names none."),
        Field::new("publisher", "Publisher", Input::Text),
        Field::new("kind", "Kind of source", Input::Choice(SourceKind::WORDS)).required(),
        Field::new("published_on", "Published on", Input::Date)
            .help("YYYY, YYYY-MM or YYYY-MM-DD; empty when the source is undated."),
        Field::new("url", "Web address", Input::Url).help("http or https."),
        Field::new("notes", "Notes", Input::LongText),
    ];
    fn key(&self) -> &str {
        &self.key
    }
    fn of(ds: &Dataset) -> &[Self] {
        &ds.sources
    }
    fn list(ds: &mut Dataset) -> Option<&mut Vec<Self>> {
        Some(&mut ds.sources)
    }
    fn into_item(self) -> Item {
        Item::Source(self)
    }
    fn from_item(item: Item) -> Option<Self> {
        match item {
            Item::Source(x) => Some(x),
            _ => None,
        }
    }
}

impl Kind for Figure {
    const TABLE: Table = Table::Figures;
    const KEY: &'static str = "key";
    const FIELDS: &'static [Field] = &[
        Field::new("key", "Figure key", Input::Key)
            .help("Dotted from its parent's key, such as fatalities.children."),
        Field::new("label", "Label", Input::Text).help("What the figure counts, in plain words."),
        Field::new("unit", "Unit", Input::Text).help("Usually persons."),
        Field::new("parent", "Part of", Input::Reference(Table::Figures))
            .help("The figure this one is a part of; empty for a top-level figure."),
        Field::new("breakdown", "How its parts add up", Input::Choice(Breakdown::WORDS)).help(
            "exhaustive: the parts add up to it; partial: at most to it; overlapping: each part at most it.",
        ),
        Field::new("position", "Order", Input::Number)
            .help("Its place among the figures with the same parent."),
        Field::new("low", "Lowest", Input::Number).help("The low end of the published range."),
        Field::new("best", "Best estimate", Input::Number),
        Field::new("high", "Highest", Input::Number).help("The high end of the published range."),
        Field::new("status", "Status", Input::Choice(Status::WORDS)).required(),
        Field::new("notes", "Notes", Input::LongText),
    ];
    fn key(&self) -> &str {
        &self.key
    }
    fn of(ds: &Dataset) -> &[Self] {
        &ds.figures
    }
    fn list(ds: &mut Dataset) -> Option<&mut Vec<Self>> {
        Some(&mut ds.figures)
    }
    fn into_item(self) -> Item {
        Item::Figure(self)
    }
    fn from_item(item: Item) -> Option<Self> {
        match item {
            Item::Figure(x) => Some(x),
            _ => None,
        }
    }
}

impl Kind for Claim {
    const TABLE: Table = Table::Claims;
    const KEY: &'static str = "id";
    const OPTIONAL_COLUMNS: &'static [&'static str] = &["qualifier"];
    const FIELDS: &'static [Field] = &[
        Field::new("id", "Claim id", Input::Key)
            .help("Lower-case letters, digits, and - _ . between them."),
        Field::new("figure", "Figure", Input::Reference(Table::Figures)).required(),
        Field::new("source", "Source", Input::Reference(Table::Sources)).required(),
        Field::new("low", "Lowest stated", Input::Number),
        Field::new("best", "Number stated", Input::Number)
            .help("The number as the source writes it; digits only."),
        Field::new("high", "Highest stated", Input::Number),
        Field::new("qualifier", "Qualifier", Input::Choice(Qualifier::WORDS)).help(
            "approximate for \"about N\"; more_than keeps N in Lowest; fewer_than keeps N in Highest.",
        ),
        Field::new("as_of", "As of", Input::Date)
            .help("The date the source gives for the number; empty when it gives none."),
        Field::new("rank", "Rank", Input::Choice(Rank::WORDS))
            .help("preferred: the published value rests on it; deprecated: kept for the record, with a reason.")
            .required(),
        Field::new("reason", "Why deprecated", Input::Choice(DeprecationReason::WORDS)),
        Field::new("locator", "Where in the source", Input::Text)
            .help("Page, section or paragraph."),
        Field::new("quote", "Quote", Input::LongText).help("The source's words, as written."),
        Field::new("note", "Note", Input::LongText),
    ];
    fn key(&self) -> &str {
        &self.id
    }
    fn of(ds: &Dataset) -> &[Self] {
        &ds.claims
    }
    fn list(ds: &mut Dataset) -> Option<&mut Vec<Self>> {
        Some(&mut ds.claims)
    }
    fn into_item(self) -> Item {
        Item::Claim(self)
    }
    fn from_item(item: Item) -> Option<Self> {
        match item {
            Item::Claim(x) => Some(x),
            _ => None,
        }
    }
}

impl Kind for Rule {
    const TABLE: Table = Table::Rules;
    const KEY: &'static str = "id";
    const FIELDS: &'static [Field] = &[
        Field::new("id", "Rule id", Input::Key)
            .help("Lower-case letters, digits, and - _ . between them."),
        Field::new("expression", "Rule", Input::LongText)
            .help("Figure keys with + and -, compared with =, <= or >=; such as deaths.burns <= fatalities."),
        Field::new("severity", "Severity", Input::Choice(Severity::WORDS))
            .help("error blocks publishing; warning is shown.")
            .required(),
        Field::new("note", "Note", Input::LongText),
    ];
    fn key(&self) -> &str {
        &self.id
    }
    fn of(ds: &Dataset) -> &[Self] {
        &ds.rules
    }
    fn list(ds: &mut Dataset) -> Option<&mut Vec<Self>> {
        Some(&mut ds.rules)
    }
    fn into_item(self) -> Item {
        Item::Rule(self)
    }
    fn from_item(item: Item) -> Option<Self> {
        match item {
            Item::Rule(x) => Some(x),
            _ => None,
        }
    }
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
    /// The numbers the source states, without the qualifier.
    pub fn value(&self) -> Value {
        Value {
            low: self.low,
            best: self.best,
            high: self.high,
        }
    }

    /// The interval the claim stands for in every check: the value's
    /// interval, widened by `approximation` percent (rounded outward) when
    /// approximate; above `low` for `more_than`; below `high` for
    /// `fewer_than`.
    pub fn interval(&self, approximation: u32) -> Interval {
        let v = self.value();
        match self.qualifier {
            None => v.interval(),
            Some(Qualifier::MoreThan) => Interval {
                lo: v.low.map_or(0, |l| i128::from(l) + 1),
                hi: None,
            },
            Some(Qualifier::FewerThan) => Interval {
                lo: 0,
                hi: Some(v.high.map_or(-1, |h| i128::from(h) - 1)),
            },
            Some(Qualifier::Approximate) => {
                let p = i128::from(approximation);
                let iv = v.interval();
                // The ends as written: `best` alone is both.
                let (lo, hi) = match (v.low, v.best, v.high) {
                    (None, Some(_), None) => (iv.lo, iv.hi),
                    (low, _, _) => (low.map_or(0, i128::from), iv.hi),
                };
                Interval {
                    lo: (lo * (100 - p.min(100))).div_euclid(100).max(0),
                    hi: hi.map(|h| -(-(h * (100 + p))).div_euclid(100)),
                }
            }
        }
    }

    /// What is wrong with the claim's numbers and qualifier, if anything:
    /// the value's shape problems, and a qualifier without its number.
    pub fn shape_problems(&self) -> Vec<(&'static str, String)> {
        let mut out = self.value().shape_problems();
        match self.qualifier {
            Some(Qualifier::MoreThan)
                if self.low.is_none() || self.best.is_some() || self.high.is_some() =>
            {
                out.push(("qualifier", "more_than keeps the stated number in low, and only there: \"more than 1,100\" is low 1100".into()));
            }
            Some(Qualifier::FewerThan)
                if self.high.is_none() || self.best.is_some() || self.low.is_some() =>
            {
                out.push(("qualifier", "fewer_than keeps the stated number in high, and only there: \"fewer than 50\" is high 50".into()));
            }
            Some(Qualifier::FewerThan) if self.high == Some(0) => {
                out.push(("qualifier", "fewer than 0 is impossible for a count".into()));
            }
            _ => {}
        }
        out
    }

    /// The claim as the source states it: "about 160", "more than 1,100",
    /// "fewer than 50", "58–76".
    pub fn stated(&self) -> String {
        let v = self.value();
        match (self.qualifier, v.low, v.high) {
            (None, _, _) => v.to_string(),
            (Some(Qualifier::Approximate), _, _) => format!("about {v}"),
            (Some(Qualifier::MoreThan), Some(l), _) => format!("more than {}", group(l)),
            (Some(Qualifier::FewerThan), _, Some(h)) => format!("fewer than {}", group(h)),
            (Some(q), _, _) => format!("{v} ({q})"),
        }
    }

    /// The claim's date as people write it, or "undated".
    pub fn dated(&self) -> String {
        self.as_of
            .map_or_else(|| "undated".to_string(), |d| d.long())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(
        low: Option<i64>,
        best: Option<i64>,
        high: Option<i64>,
        q: Option<Qualifier>,
    ) -> Claim {
        Claim {
            id: "c".into(),
            figure: "f".into(),
            source: "s".into(),
            low,
            best,
            high,
            qualifier: q,
            as_of: None,
            rank: Rank::Normal,
            deprecation_reason: None,
            locator: String::new(),
            quote: String::new(),
            note: String::new(),
        }
    }

    fn iv(lo: i128, hi: Option<i128>) -> Interval {
        Interval { lo, hi }
    }

    #[test]
    fn qualifiers_give_the_interval_the_source_means() {
        let about = Some(Qualifier::Approximate);
        // "some 160" at 10%: 144–176.
        assert_eq!(
            claim(None, Some(160), None, about).interval(10),
            iv(144, Some(176))
        );
        // Rounded outward: 13 ± 10% is 11.7–14.3, so 11–15.
        assert_eq!(
            claim(None, Some(13), None, about).interval(10),
            iv(11, Some(15))
        );
        // A range widens at both ends; an open end stays open.
        assert_eq!(
            claim(Some(58), None, Some(76), about).interval(10),
            iv(52, Some(84))
        );
        assert_eq!(
            claim(Some(800), None, None, about).interval(5),
            iv(760, None)
        );
        assert_eq!(
            claim(None, None, Some(50), about).interval(10),
            iv(0, Some(55))
        );
        // 0% leaves the number as written.
        assert_eq!(
            claim(None, Some(700), None, about).interval(0),
            iv(700, Some(700))
        );
        // "more than 1,100" is 1,101 and up; "fewer than 50" at most 49.
        let more = claim(Some(1100), None, None, Some(Qualifier::MoreThan));
        assert_eq!(more.interval(10), iv(1101, None));
        let fewer = claim(None, None, Some(50), Some(Qualifier::FewerThan));
        assert_eq!(fewer.interval(10), iv(0, Some(49)));
        // No qualifier: the value as written, whatever the tolerance.
        assert_eq!(
            claim(None, Some(334), None, None).interval(10),
            iv(334, Some(334))
        );
    }

    #[test]
    fn stated_as_the_source_says_it() {
        let about = Some(Qualifier::Approximate);
        assert_eq!(claim(None, Some(160), None, about).stated(), "about 160");
        assert_eq!(
            claim(Some(58), None, Some(76), about).stated(),
            "about 58–76"
        );
        let more = claim(Some(1100), None, None, Some(Qualifier::MoreThan));
        assert_eq!(more.stated(), "more than 1,100");
        let fewer = claim(None, None, Some(50), Some(Qualifier::FewerThan));
        assert_eq!(fewer.stated(), "fewer than 50");
        assert_eq!(claim(Some(800), None, None, None).stated(), "800+");
        assert_eq!(claim(None, Some(1128), None, None).dated(), "undated");
        let mut dated = claim(None, Some(1128), None, None);
        dated.as_of = Some(
            "2004-09-07"
                .parse()
                .unwrap_or_else(|e: String| panic!("{e}")),
        );
        assert_eq!(dated.dated(), "7 September 2004");
    }

    #[test]
    fn a_qualifier_needs_its_number_where_it_belongs() {
        let fields = |c: Claim| {
            c.shape_problems()
                .into_iter()
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
        };
        let more = Some(Qualifier::MoreThan);
        let fewer = Some(Qualifier::FewerThan);
        assert_eq!(fields(claim(None, Some(1100), None, more)), ["qualifier"]);
        assert_eq!(fields(claim(Some(1), None, Some(5), more)), ["qualifier"]);
        assert_eq!(fields(claim(Some(50), None, None, fewer)), ["qualifier"]);
        assert_eq!(fields(claim(None, None, Some(0), fewer)), ["qualifier"]);
        assert!(fields(claim(Some(1100), None, None, more)).is_empty());
        assert!(fields(claim(None, None, Some(50), fewer)).is_empty());
    }
}
