//! An event with everything it holds, and the validation of the whole.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::words::word_enum;
use serde::{Deserialize, Serialize};

use super::expr::{self, is_figure_key};
use super::item::Kind;
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

/// What validating one item needs to know of the others. The rules of
/// validation are written once, per item, against this: [`Index`] answers
/// for a whole dataset from tables built once, [`Scan`] for one item by
/// reading the dataset, so that checking one edited item costs one pass
/// and gives exactly what checking everything gives at that item.
trait Others {
    /// The first row of `table` whose key is `key`.
    fn first(&self, table: Table, key: &str) -> Option<usize>;
    /// The parent of figure `key` (of the last figure with that key that
    /// names one).
    fn parent(&self, key: &str) -> Option<&str>;
    /// Whether some figure names `key` as its parent.
    fn has_children(&self, key: &str) -> bool;
}

/// The answers for a whole dataset, looked up.
struct Index<'a> {
    /// The first row of each key, by table (sources, figures, claims, rules).
    first: [HashMap<&'a str, usize>; 4],
    parent: HashMap<&'a str, &'a str>,
    children: HashSet<&'a str>,
}

impl<'a> Index<'a> {
    fn of(ds: &'a Dataset) -> Self {
        fn first<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
            let mut at = HashMap::with_capacity(keys.len());
            for (i, k) in keys.enumerate() {
                at.entry(k).or_insert(i);
            }
            at
        }
        let mut parent = HashMap::with_capacity(ds.figures.len());
        let mut children = HashSet::new();
        for f in &ds.figures {
            if let Some(pa) = f.parent.as_deref() {
                parent.insert(f.key.as_str(), pa);
                children.insert(pa);
            }
        }
        Self {
            first: [
                first(ds.sources.iter().map(|x| x.key.as_str())),
                first(ds.figures.iter().map(|x| x.key.as_str())),
                first(ds.claims.iter().map(|x| x.id.as_str())),
                first(ds.rules.iter().map(|x| x.id.as_str())),
            ],
            parent,
            children,
        }
    }
}

impl Others for Index<'_> {
    fn first(&self, table: Table, key: &str) -> Option<usize> {
        let at = match table {
            Table::Event => return Some(0),
            Table::Sources => &self.first[0],
            Table::Figures => &self.first[1],
            Table::Claims => &self.first[2],
            Table::Rules => &self.first[3],
        };
        at.get(key).copied()
    }

    fn parent(&self, key: &str) -> Option<&str> {
        self.parent.get(key).copied()
    }

    fn has_children(&self, key: &str) -> bool {
        self.children.contains(key)
    }
}

/// The answers for one item, read off the dataset.
struct Scan<'a>(&'a Dataset);

impl Others for Scan<'_> {
    fn first(&self, table: Table, key: &str) -> Option<usize> {
        let ds = self.0;
        match table {
            Table::Event => Some(0),
            Table::Sources => ds.sources.iter().position(|x| x.key == key),
            Table::Figures => ds.figures.iter().position(|x| x.key == key),
            Table::Claims => ds.claims.iter().position(|x| x.id == key),
            Table::Rules => ds.rules.iter().position(|x| x.id == key),
        }
    }

    fn parent(&self, key: &str) -> Option<&str> {
        self.0
            .figures
            .iter()
            .rev()
            .filter(|f| f.key == key)
            .find_map(|f| f.parent.as_deref())
    }

    fn has_children(&self, key: &str) -> bool {
        self.0
            .figures
            .iter()
            .any(|f| f.parent.as_deref() == Some(key))
    }
}

impl Problems {
    /// A key that breaks its table's rule, or that an earlier row has.
    fn key(&mut self, t: Table, i: usize, field: &'static str, key: &str, o: &dyn Others) {
        if let Some(m) = key_problem(t, key) {
            self.add(t, i, field, m);
        }
        if let Some(first) = o.first(t, key).filter(|first| *first != i) {
            let what = match t {
                Table::Sources => "source key",
                Table::Figures => "figure key",
                Table::Claims => "claim id",
                _ => "rule id",
            };
            self.add(
                t,
                i,
                field,
                format!("duplicate {what} '{key}' (first in row {})", first + 1),
            );
        }
    }
}

impl Dataset {
    /// Every problem of the dataset, in table and row order: key syntax,
    /// duplicates, references to unknown figures or sources, parent cycles,
    /// value shapes, deprecation reasons, rule expressions and the text
    /// policy. Consistency of the values with each other is the checks'
    /// business, not this.
    pub fn validate(&self) -> Vec<Problem> {
        let o = Index::of(self);
        let mut p = Problems(Vec::new());
        for &table in Table::ALL {
            let rows = match table {
                Table::Event => 1,
                Table::Sources => self.sources.len(),
                Table::Figures => self.figures.len(),
                Table::Claims => self.claims.len(),
                Table::Rules => self.rules.len(),
            };
            for i in 0..rows {
                self.validate_row(table, i, &o, &mut p);
            }
        }
        p.0
    }

    /// The problems of the item `key` of `table` (of the first, if several
    /// have it): exactly what [`Dataset::validate`] gives at its row, in one
    /// pass over the dataset. Empty when there is no such item.
    pub fn validate_item(&self, table: Table, key: &str) -> Vec<Problem> {
        let o = Scan(self);
        let mut p = Problems(Vec::new());
        if let Some(i) = o.first(table, key) {
            self.validate_row(table, i, &o, &mut p);
        }
        p.0
    }

    /// The problems of one row: its own fields, then its text.
    fn validate_row(&self, table: Table, i: usize, o: &dyn Others, p: &mut Problems) {
        match table {
            Table::Event => self.validate_event(p),
            Table::Sources => self.validate_source(i, o, p),
            Table::Figures => self.validate_figure(i, o, p),
            Table::Claims => self.validate_claim(i, o, p),
            Table::Rules => self.validate_rule(i, o, p),
        }
        super::item::with_kind!(table, K => {
            super::texts::each_text(&K::of(self)[i], &mut |name, value| {
                if let Err(err) = crate::text::check_data(name, value) {
                    p.add(table, i, name, err.to_string());
                }
            })
        });
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

    fn validate_source(&self, i: usize, o: &dyn Others, p: &mut Problems) {
        let (t, s) = (Table::Sources, &self.sources[i]);
        p.key(t, i, "key", &s.key, o);
        p.required(t, i, "title", &s.title);
    }

    fn validate_figure(&self, i: usize, o: &dyn Others, p: &mut Problems) {
        let (t, f) = (Table::Figures, &self.figures[i]);
        p.key(t, i, "key", &f.key, o);
        p.required(t, i, "label", &f.label);
        p.required(t, i, "unit", &f.unit);
        for (field, message) in f.value().shape_problems() {
            p.add(t, i, field, message);
        }
        // Its parent: known, and no cycle through it.
        if let Some(pa) = f.parent.as_deref() {
            if o.first(t, pa).is_none() {
                p.add(t, i, "parent", format!("unknown figure '{pa}'"));
            } else {
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
                    match o.parent(at) {
                        Some(next) => at = next,
                        None => break,
                    }
                }
            }
        }
        if f.breakdown.is_none() && o.has_children(&f.key) {
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

    fn validate_claim(&self, i: usize, o: &dyn Others, p: &mut Problems) {
        let (t, c) = (Table::Claims, &self.claims[i]);
        p.key(t, i, "id", &c.id, o);
        if o.first(Table::Figures, &c.figure).is_none() {
            p.add(t, i, "figure", format!("unknown figure '{}'", c.figure));
        }
        if o.first(Table::Sources, &c.source).is_none() {
            p.add(t, i, "source", format!("unknown source '{}'", c.source));
        }
        if c.value().is_empty() {
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

    fn validate_rule(&self, i: usize, o: &dyn Others, p: &mut Problems) {
        let (t, r) = (Table::Rules, &self.rules[i]);
        p.key(t, i, "id", &r.id, o);
        match expr::parse(&r.expression) {
            Err(e) => p.add(t, i, "expression", e.to_string()),
            Ok(e) => {
                let keys = e.keys();
                for k in keys.iter().filter(|k| o.first(Table::Figures, k).is_none()) {
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
                if keys.is_empty() {
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

    /// A dataset with many of the ways to go wrong: duplicate and bad
    /// keys, unknown references, parent cycles, children without a
    /// breakdown, deprecated claims without a reason.
    fn tangled() -> impl proptest::strategy::Strategy<Value = Dataset> {
        use proptest::prelude::*;
        const KEYS: [&str; 6] = ["total", "total.a", "b", "c.d", "Bad Key", "=x"];
        let key = || proptest::sample::select(KEYS.to_vec()).prop_map(String::from);
        let figure = (key(), proptest::option::of(key()), any::<bool>(), 0i64..3);
        let claim = (
            key(),
            key(),
            prop_oneof![Just("s1"), Just("s9")],
            0usize..3,
            any::<bool>(),
        );
        let rule = (key(), key(), key());
        (
            proptest::collection::vec(figure, 0..7),
            proptest::collection::vec(claim, 0..7),
            proptest::collection::vec(rule, 0..3),
        )
            .prop_map(|(figures, claims, rules)| {
                let base = small();
                let mut ds = base.clone();
                ds.figures = figures
                    .into_iter()
                    .map(|(key, parent, breakdown, best)| Figure {
                        key,
                        parent,
                        breakdown: breakdown.then_some(crate::model::Breakdown::Partial),
                        best: (best > 0).then_some(best),
                        ..base.figures[0].clone()
                    })
                    .collect();
                ds.claims = claims
                    .into_iter()
                    .map(|(id, figure, source, rank, reason)| Claim {
                        id,
                        figure,
                        source: source.into(),
                        rank: [Rank::Preferred, Rank::Normal, Rank::Deprecated][rank],
                        deprecation_reason: reason.then_some(DeprecationReason::Erroneous),
                        ..base.claims[0].clone()
                    })
                    .collect();
                ds.rules = rules
                    .into_iter()
                    .map(|(id, a, b)| Rule {
                        id,
                        expression: format!("{a} <= {b}"),
                        ..base.rules[0].clone()
                    })
                    .collect();
                ds
            })
    }

    proptest::proptest! {
        /// Checking one item gives exactly what checking everything gives
        /// at that item's row.
        #[test]
        fn one_item_is_validated_as_the_whole_validates_it(ds in tangled()) {
            let all = ds.validate();
            let mut rows: Vec<(Table, usize, String)> = vec![(Table::Event, 0, ds.event.slug.clone())];
            fn keyed(t: Table, keys: Vec<&String>) -> Vec<(Table, usize, String)> {
                keys.into_iter().enumerate().map(|(i, k)| (t, i, k.clone())).collect()
            }
            rows.extend(keyed(Table::Sources, ds.sources.iter().map(|x| &x.key).collect()));
            rows.extend(keyed(Table::Figures, ds.figures.iter().map(|x| &x.key).collect()));
            rows.extend(keyed(Table::Claims, ds.claims.iter().map(|x| &x.id).collect()));
            rows.extend(keyed(Table::Rules, ds.rules.iter().map(|x| &x.id).collect()));
            for (table, row, key) in rows {
                let first = all.iter().all(|p| {
                    !(p.table == table && p.row == row && p.message.starts_with("duplicate"))
                });
                if !first {
                    continue; // a later row of a duplicate key: the item is the first one
                }
                let want: Vec<&Problem> = all.iter().filter(|p| p.table == table && p.row == row).collect();
                let got = ds.validate_item(table, &key);
                proptest::prop_assert_eq!(got.iter().collect::<Vec<_>>(), want, "{}/{}", table, key);
            }
            proptest::prop_assert!(ds.validate_item(Table::Figures, "no.such").is_empty());
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
