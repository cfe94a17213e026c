//! An event with everything it holds, and the validation of the whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::words::word_enum;
use serde::{Deserialize, Serialize};

use super::expr::{self, is_figure_key};
use super::{is_identifier, Claim, Event, Figure, Rank, Rule, Source};

/// One event's data: what an import folder, a published version or a
/// changeset's result holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub event: Event,
    pub sources: Vec<Source>,
    pub figures: Vec<Figure>,
    pub claims: Vec<Claim>,
    pub rules: Vec<Rule>,
}

word_enum! {
    /// The kinds of item a dataset holds, as in URLs; each is one file of
    /// an import folder.
    Table {
        Event = "event",
        Sources = "sources",
        Figures = "figures",
        Claims = "claims",
        Rules = "rules",
    }
}

impl Table {
    /// The file of an import folder that holds this table.
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Event => "event.csv",
            Table::Sources => "sources.csv",
            Table::Figures => "figures.csv",
            Table::Claims => "claims.csv",
            Table::Rules => "rules.csv",
        }
    }
}

/// Something wrong with one field of one item. `row` is the item's index in
/// its table (0 for the event), so that a file reader can turn it into a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub table: Table,
    pub row: usize,
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} row {}, {}: {}",
            self.table.as_str(),
            self.row + 1,
            self.field,
            self.message
        )
    }
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, table: Table, row: usize, field: &'static str, message: impl Into<String>) {
        self.0.push(Problem {
            table,
            row,
            field,
            message: message.into(),
        });
    }

    fn required(&mut self, table: Table, row: usize, field: &'static str, value: &str) {
        if value.trim().is_empty() {
            self.add(table, row, field, format!("{field} is required"));
        }
    }
}

impl Dataset {
    /// Every problem of the dataset, in table and row order: key syntax,
    /// duplicates, references to unknown figures or sources, parent cycles,
    /// value shapes, deprecation reasons and rule expressions. Consistency of
    /// the values with each other is the checks' business, not this.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Problems(Vec::new());
        self.validate_event(&mut p);
        let sources = self.validate_sources(&mut p);
        let figures = self.validate_figures(&mut p);
        self.validate_claims(&mut p, &figures, &sources);
        self.validate_rules(&mut p, &figures);
        self.validate_text(&mut p);
        p.0.sort_by_key(|x| (x.table, x.row));
        p.0
    }

    /// The text policy ([`crate::text::check_data`]) on every free-text
    /// field the registry names ([`super::Field::is_text`]); keys and
    /// references have rules of their own.
    fn validate_text(&self, p: &mut Problems) {
        for &table in Table::ALL {
            super::item::with_kind!(table, K => self.validate_text_of::<K>(p));
        }
    }

    fn validate_text_of<K: super::Kind>(&self, p: &mut Problems) {
        let texts: Vec<&super::Field> = K::FIELDS.iter().filter(|f| f.is_text()).collect();
        for (i, item) in K::of(self).iter().enumerate() {
            let Ok(json) = serde_json::to_value(item) else {
                continue;
            };
            for f in &texts {
                if let Some(serde_json::Value::String(value)) = json.get(f.name) {
                    if let Err(err) = crate::text::check_data(f.name, value) {
                        p.add(K::TABLE, i, f.name, err.to_string());
                    }
                }
            }
        }
    }

    fn validate_event(&self, p: &mut Problems) {
        let e = &self.event;
        let t = Table::Event;
        if let Some(m) = key_problem(t, &e.slug) {
            p.add(t, 0, "slug", m);
        }
        p.required(t, 0, "title", &e.title);
        p.required(t, 0, "timezone", &e.timezone);
        if !e.timezone.trim().is_empty() && e.timezone.parse::<chrono_tz::Tz>().is_err() {
            p.add(
                t,
                0,
                "timezone",
                format!(
                    "'{}' is not an IANA time zone name: write e.g. Europe/Moscow or UTC",
                    e.timezone.escape_debug()
                ),
            );
        }
        if let Some(a) = e.approximation.filter(|a| *a > 100) {
            p.add(
                t,
                0,
                "approximation",
                format!("approximation is {a}: a percentage from 0 to 100"),
            );
        }
        if e.ended_on.earliest() < e.started_on.earliest() {
            p.add(
                t,
                0,
                "ended_on",
                format!(
                    "ended_on {} is before started_on {}",
                    e.ended_on, e.started_on
                ),
            );
        }
    }

    fn validate_sources(&self, p: &mut Problems) -> HashSet<&str> {
        let t = Table::Sources;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, s) in self.sources.iter().enumerate() {
            if let Some(m) = key_problem(t, &s.key) {
                p.add(t, i, "key", m);
            }
            if let Some(first) = seen.insert(&s.key, i) {
                seen.insert(&s.key, first);
                p.add(
                    t,
                    i,
                    "key",
                    format!(
                        "duplicate source key '{}' (first in row {})",
                        s.key,
                        first + 1
                    ),
                );
            }
            p.required(t, i, "title", &s.title);
        }
        seen.into_keys().collect()
    }

    fn validate_figures(&self, p: &mut Problems) -> HashSet<&str> {
        let t = Table::Figures;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, f) in self.figures.iter().enumerate() {
            if let Some(m) = key_problem(t, &f.key) {
                p.add(t, i, "key", m);
            }
            if let Some(first) = seen.insert(&f.key, i) {
                seen.insert(&f.key, first);
                p.add(
                    t,
                    i,
                    "key",
                    format!(
                        "duplicate figure key '{}' (first in row {})",
                        f.key,
                        first + 1
                    ),
                );
            }
            p.required(t, i, "label", &f.label);
            p.required(t, i, "unit", &f.unit);
            for (field, message) in f.value().shape_problems() {
                p.add(t, i, field, message);
            }
        }
        // Parents: known, and no cycles.
        let parent: BTreeMap<&str, &str> = self
            .figures
            .iter()
            .filter_map(|f| f.parent.as_deref().map(|pa| (f.key.as_str(), pa)))
            .collect();
        let mut has_children: HashSet<&str> = HashSet::new();
        for (i, f) in self.figures.iter().enumerate() {
            let Some(pa) = f.parent.as_deref() else {
                continue;
            };
            has_children.insert(pa);
            if !seen.contains_key(pa) {
                p.add(t, i, "parent", format!("unknown figure '{pa}'"));
                continue;
            }
            // Walk up; a walk longer than the table is a cycle.
            let mut path = vec![f.key.as_str()];
            let mut at = pa;
            loop {
                if at == f.key {
                    path.push(at);
                    p.add(
                        t,
                        i,
                        "parent",
                        format!("parents form a cycle: {}", path.join(" → ")),
                    );
                    break;
                }
                if path.len() > self.figures.len() {
                    break; // a cycle further up, reported on its own rows
                }
                path.push(at);
                match parent.get(at) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        for (i, f) in self.figures.iter().enumerate() {
            if f.breakdown.is_none() && has_children.contains(f.key.as_str()) {
                p.add(
                    t,
                    i,
                    "breakdown",
                    format!(
                        "figure '{}' has child figures, so it needs a breakdown: exhaustive, partial or overlapping",
                        f.key
                    ),
                );
            }
        }
        seen.into_keys().collect()
    }

    fn validate_claims(&self, p: &mut Problems, figures: &HashSet<&str>, sources: &HashSet<&str>) {
        let t = Table::Claims;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, c) in self.claims.iter().enumerate() {
            if let Some(m) = key_problem(t, &c.id) {
                p.add(t, i, "id", m);
            }
            if let Some(first) = seen.insert(&c.id, i) {
                seen.insert(&c.id, first);
                p.add(
                    t,
                    i,
                    "id",
                    format!("duplicate claim id '{}' (first in row {})", c.id, first + 1),
                );
            }
            if !figures.contains(c.figure.as_str()) {
                p.add(t, i, "figure", format!("unknown figure '{}'", c.figure));
            }
            if !sources.contains(c.source.as_str()) {
                p.add(t, i, "source", format!("unknown source '{}'", c.source));
            }
            let v = c.value();
            if v.is_empty() {
                p.add(
                    t,
                    i,
                    "best",
                    "a claim needs at least one of low, best, high",
                );
            }
            for (field, message) in c.shape_problems() {
                p.add(t, i, field, message);
            }
            match (c.rank, c.deprecation_reason) {
                (Rank::Deprecated, None) => p.add(
                    t,
                    i,
                    "reason",
                    "a deprecated claim needs a reason: superseded, discredited, erroneous or retracted",
                ),
                (Rank::Preferred | Rank::Normal, Some(r)) => p.add(
                    t,
                    i,
                    "reason",
                    format!("reason '{r}' is only for deprecated claims; this claim is {}", c.rank),
                ),
                _ => {}
            }
        }
    }

    fn validate_rules(&self, p: &mut Problems, figures: &HashSet<&str>) {
        let t = Table::Rules;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(m) = key_problem(t, &r.id) {
                p.add(t, i, "id", m);
            }
            if let Some(first) = seen.insert(&r.id, i) {
                seen.insert(&r.id, first);
                p.add(
                    t,
                    i,
                    "id",
                    format!("duplicate rule id '{}' (first in row {})", r.id, first + 1),
                );
            }
            match expr::parse(&r.expression) {
                Err(e) => p.add(t, i, "expression", e.to_string()),
                Ok(e) => {
                    let unknown: Vec<&str> = e
                        .keys()
                        .into_iter()
                        .filter(|k| !figures.contains(k))
                        .collect();
                    for k in unknown {
                        let column = r
                            .expression
                            .find(k)
                            .map_or(1, |b| r.expression[..b].chars().count() + 1);
                        p.add(
                            t,
                            i,
                            "expression",
                            format!("column {column}: unknown figure key '{k}'"),
                        );
                    }
                    if e.keys().is_empty() {
                        p.add(
                            t,
                            i,
                            "expression",
                            "column 1: a rule must name at least one figure",
                        );
                    }
                }
            }
        }
    }

    /// The figure with this key.
    pub fn figure(&self, key: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.key == key)
    }

    /// The source with this key.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.key == key)
    }

    /// Puts every table in its canonical order: figures by position then key,
    /// claims by figure then id, the rest by key or id. Exports and
    /// documents use this order.
    pub fn sort(&mut self) {
        self.sources.sort_by(|a, b| a.key.cmp(&b.key));
        self.figures
            .sort_by(|a, b| (a.position, &a.key).cmp(&(b.position, &b.key)));
        self.claims
            .sort_by(|a, b| (&a.figure, &a.id).cmp(&(&b.figure, &b.id)));
        self.rules.sort_by(|a, b| a.id.cmp(&b.id));
    }
}

/// Why `key` cannot be the key of an item of `table`, naming the rule it
/// breaks; `None` when it is a good key.
pub fn key_problem(table: Table, key: &str) -> Option<String> {
    let shown = key.escape_debug();
    match table {
        Table::Event => (!is_identifier(key) || key.contains(['.', '_'])).then(|| {
            format!(
                "'{shown}' is not a slug: use lower-case letters, digits and '-', at most 100 characters"
            )
        }),
        Table::Figures => (!is_figure_key(key)).then(|| {
            format!(
                "'{shown}' is not a figure key: lower-case segments of letters, digits and '_', each starting with a letter, joined by '.', at most 64 characters"
            )
        }),
        Table::Sources => (!is_identifier(key)).then(|| not_identifier("source key", key)),
        Table::Claims => (!is_identifier(key)).then(|| not_identifier("claim id", key)),
        Table::Rules => (!is_identifier(key)).then(|| not_identifier("rule id", key)),
    }
}

fn not_identifier(what: &str, s: &str) -> String {
    let s = s.escape_debug();
    format!(
        "'{s}' is not a valid {what}: use lower-case letters, digits, '-', '_' and '.', starting with a letter or digit, at most 100 characters"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeprecationReason, PartialDate, Severity, SourceKind, Status};

    fn small() -> Dataset {
        let d = |s: &str| s.parse::<PartialDate>().unwrap();
        Dataset {
            event: Event {
                slug: "test-event".into(),
                title: "Test".into(),
                location: "".into(),
                started_on: d("2004-09-01"),
                ended_on: d("2004-09-03"),
                timezone: "UTC".into(),
                summary: "".into(),
                approximation: None,
            },
            sources: vec![Source {
                key: "s1".into(),
                title: "Source one".into(),
                author: "".into(),
                publisher: "".into(),
                kind: SourceKind::Official,
                published_on: None,
                url: "".into(),
                notes: "".into(),
            }],
            figures: vec![
                Figure {
                    key: "total".into(),
                    label: "Total".into(),
                    unit: "persons".into(),
                    parent: None,
                    breakdown: Some(crate::model::Breakdown::Exhaustive),
                    position: 1,
                    low: None,
                    best: Some(3),
                    high: None,
                    status: Status::Confirmed,
                    notes: "".into(),
                },
                Figure {
                    key: "total.a".into(),
                    label: "A".into(),
                    unit: "persons".into(),
                    parent: Some("total".into()),
                    breakdown: None,
                    position: 2,
                    low: None,
                    best: Some(3),
                    high: None,
                    status: Status::Confirmed,
                    notes: "".into(),
                },
            ],
            claims: vec![Claim {
                id: "c1".into(),
                figure: "total".into(),
                source: "s1".into(),
                low: None,
                best: Some(3),
                high: None,
                qualifier: None,
                as_of: Some(d("2004")),
                rank: Rank::Preferred,
                deprecation_reason: None,
                locator: "".into(),
                quote: "".into(),
                note: "".into(),
            }],
            rules: vec![Rule {
                id: "r1".into(),
                expression: "total.a <= total".into(),
                severity: Severity::Error,
                note: "".into(),
            }],
        }
    }

    #[test]
    fn a_good_dataset_has_no_problems() {
        assert_eq!(small().validate(), vec![]);
    }

    #[test]
    fn each_problem_is_named() {
        let mut ds = small();
        ds.figures[0].parent = Some("total.a".into());
        ds.figures.push(ds.figures[1].clone());
        ds.claims[0].rank = Rank::Deprecated;
        ds.claims[0].figure = "nope".into();
        ds.claims.push(ds.claims[0].clone());
        ds.claims[1].deprecation_reason = Some(DeprecationReason::Discredited);
        ds.claims[1].best = None;
        ds.claims[1].id = "Bad Id".into();
        ds.rules[0].expression = "total.a <= totl".into();
        let got: Vec<String> = ds.validate().iter().map(|p| p.to_string()).collect();
        let want = [
            "figures row 1, parent: parents form a cycle: total → total.a → total",
            "figures row 2, parent: parents form a cycle: total.a → total → total.a",
            "figures row 2, breakdown: figure 'total.a' has child figures, so it needs a breakdown",
            "figures row 3, key: duplicate figure key 'total.a' (first in row 2)",
            "figures row 3, parent: parents form a cycle: total.a → total → total.a",
            "figures row 3, breakdown: figure 'total.a' has child figures",
            "claims row 1, figure: unknown figure 'nope'",
            "claims row 1, reason: a deprecated claim needs a reason",
            "claims row 2, id: 'Bad Id' is not a valid claim id",
            "claims row 2, figure: unknown figure 'nope'",
            "claims row 2, best: a claim needs at least one of low, best, high",
            "rules row 1, expression: column 12: unknown figure key 'totl'",
        ];
        for w in want {
            assert!(
                got.iter().any(|g| g.starts_with(w)),
                "missing {w:?} in {got:#?}"
            );
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
    }
}
