//! `checks::run` on a large event: 10,000 figures in nested breakdowns and
//! 1,000 linear rules over them.
//!
//! Run with `cargo bench --bench check`.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use vigil::checks::{self, Outcome};
use vigil::model::{
    Breakdown, Claim, Dataset, DeprecationReason, Event, Figure, PartialDate, Rank, Rule, Severity,
    Source, SourceKind, Status, Value,
};

const FIGURES: usize = 10_000;
const RULES: usize = 1_000;
const ROOTS: usize = 10;
const MIDS: usize = 30;
const LEAVES: usize = 32;
const SOURCES: usize = 20;

/// A small deterministic generator (xorshift), so every run benches the same
/// event.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn date(s: &str) -> PartialDate {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn figure(key: String, parent: Option<&str>, breakdown: Option<Breakdown>, v: Value) -> Figure {
    Figure {
        label: key.clone(),
        key,
        unit: "persons".into(),
        parent: parent.map(Into::into),
        breakdown,
        position: 0,
        low: v.low,
        best: v.best,
        high: v.high,
        status: Status::Confirmed,
        notes: String::new(),
    }
}

fn exact(n: u64) -> Value {
    Value::exact(i64::try_from(n).unwrap_or(i64::MAX))
}

fn hi(v: &Value) -> i64 {
    v.high.or(v.best).unwrap_or(0)
}

fn lo(v: &Value) -> i64 {
    v.low.or(v.best).unwrap_or(0)
}

/// Three levels of breakdowns (10 roots × 30 categories × 32 leaves), the
/// kinds mixed, the values consistent: exhaustive parents are the exact sums
/// of exact children; partial ones at least the sum of their children's high
/// ends; overlapping ones at least their largest child. Leaves under partial
/// and overlapping parents are sometimes ranges. The rest are loose figures.
/// Each figure has a preferred claim of its own value; every fourth also a
/// normal claim a little off, every tenth a deprecated one far off, so the
/// what-if and source checks have work to do.
fn event() -> Dataset {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kinds = [
        Breakdown::Exhaustive,
        Breakdown::Partial,
        Breakdown::Overlapping,
    ];
    let mut figures: Vec<Figure> = Vec::with_capacity(FIGURES);
    for r in 0..ROOTS {
        let root_key = format!("r{r}");
        let root_kind = kinds[r % 3];
        let mut mids = Vec::new();
        for m in 0..MIDS {
            let mid_key = format!("r{r}.m{m}");
            let mid_kind = kinds[(r + m) % 3];
            let mut leaves = Vec::new();
            for l in 0..LEAVES {
                let n = 1 + rng.below(1_000);
                let v = if mid_kind != Breakdown::Exhaustive && l % 5 == 0 {
                    Value {
                        low: Some(i64::try_from(n).unwrap_or(0)),
                        best: None,
                        high: Some(i64::try_from(n + rng.below(50)).unwrap_or(0)),
                    }
                } else {
                    exact(n)
                };
                leaves.push(figure(format!("r{r}.m{m}.l{l}"), Some(&mid_key), None, v));
            }
            // Categories of an exhaustive root are exact, so that it adds up.
            let exact_only = root_kind == Breakdown::Exhaustive;
            let mid_value = parent_value(mid_kind, &leaves, exact_only, &mut rng);
            mids.push((
                figure(mid_key, Some(&root_key), Some(mid_kind), mid_value),
                leaves,
            ));
        }
        let mid_values: Vec<Figure> = mids.iter().map(|(f, _)| f.clone()).collect();
        let root_value = parent_value(root_kind, &mid_values, false, &mut rng);
        figures.push(figure(root_key, None, Some(root_kind), root_value));
        for (mid, leaves) in mids {
            figures.push(mid);
            figures.extend(leaves);
        }
    }
    let mut loose = 0;
    while figures.len() < FIGURES {
        figures.push(figure(
            format!("loose.f{loose}"),
            None,
            None,
            exact(rng.below(500)),
        ));
        loose += 1;
    }

    let mut claims = Vec::new();
    for (i, f) in figures.iter().enumerate() {
        let v = f.value();
        claims.push(claim(format!("c{i}"), f, i % SOURCES, v, Rank::Preferred));
        if i % 4 == 0 {
            let off = Value {
                low: Some(lo(&v) + 1),
                best: None,
                high: Some(hi(&v) + 3),
            };
            claims.push(claim(
                format!("c{i}-normal"),
                f,
                (i + 7) % SOURCES,
                off,
                Rank::Normal,
            ));
        }
        if i % 10 == 0 {
            let far = Value::exact(lo(&v) / 2);
            claims.push(claim(
                format!("c{i}-old"),
                f,
                (i + 3) % SOURCES,
                far,
                Rank::Deprecated,
            ));
        }
    }

    let rules = rules(&figures, &mut rng);
    Dataset {
        event: Event {
            slug: "bench-event".into(),
            title: "Bench".into(),
            location: String::new(),
            started_on: date("2004-09-01"),
            ended_on: date("2004-09-03"),
            timezone: "UTC".into(),
            summary: String::new(),
            approximation: None,
        },
        sources: (0..SOURCES)
            .map(|s| Source {
                key: format!("s{s}"),
                title: format!("Source {s}"),
                author: String::new(),
                publisher: String::new(),
                kind: SourceKind::Other,
                published_on: None,
                url: String::new(),
                notes: String::new(),
            })
            .collect(),
        figures,
        claims,
        rules,
    }
}

/// A value for a parent that agrees with its children under `kind`; a range
/// for an overlapping parent unless `exact_only`.
fn parent_value(kind: Breakdown, children: &[Figure], exact_only: bool, rng: &mut Rng) -> Value {
    let sum_hi: i64 = children.iter().map(|c| hi(&c.value())).sum();
    let max_hi = children.iter().map(|c| hi(&c.value())).max().unwrap_or(0);
    let slack = i64::try_from(rng.below(100)).unwrap_or(0);
    match kind {
        Breakdown::Exhaustive => Value::exact(sum_hi),
        Breakdown::Partial => Value::exact(sum_hi + slack),
        Breakdown::Overlapping if exact_only => Value::exact(max_hi + slack),
        Breakdown::Overlapping => Value {
            low: Some(max_hi + slack),
            best: None,
            high: Some(max_hi + 2 * slack + 10),
        },
    }
}

fn claim(id: String, f: &Figure, source: usize, v: Value, rank: Rank) -> Claim {
    Claim {
        id,
        figure: f.key.clone(),
        source: format!("s{source}"),
        low: v.low,
        best: v.best,
        high: v.high,
        qualifier: None,
        as_of: Some(date("2005")),
        rank,
        deprecation_reason: (rank == Rank::Deprecated).then_some(DeprecationReason::Superseded),
        locator: String::new(),
        quote: String::new(),
        note: String::new(),
    }
}

/// 1,000 rules that hold on the published values: two categories within a
/// partial or exhaustive parent, a category within an overlapping one,
/// equalities with coefficients 2 and 3 over exact figures, and lower bounds
/// on sums of three figures anywhere.
fn rules(figures: &[Figure], rng: &mut Rng) -> Vec<Rule> {
    let index: HashMap<&str, &Figure> = figures.iter().map(|f| (f.key.as_str(), f)).collect();
    let by_key = |k: &str| index.get(k).copied();
    let iv = |f: &Figure| f.value().interval();
    let exact: Vec<&Figure> = figures
        .iter()
        .filter(|f| f.best.is_some() && f.low.is_none() && f.high.is_none())
        .collect();
    let mut pick = |n: usize| usize::try_from(rng.below(n as u64)).unwrap_or(0);
    let mut out = Vec::with_capacity(RULES);
    for i in 0..RULES {
        let expression = match i % 4 {
            0 | 2 => {
                let (r, m) = (pick(ROOTS), pick(MIDS));
                let parent = format!("r{r}.m{m}");
                let p = by_key(&parent).unwrap_or_else(|| panic!("no figure {parent}"));
                let (a, b) = (pick(LEAVES), pick(LEAVES));
                match p.breakdown {
                    Some(Breakdown::Overlapping) => format!("{parent}.l{a} <= {parent}"),
                    _ if a != b => format!("{parent}.l{a} + {parent}.l{b} <= {parent}"),
                    _ => format!("{parent}.l{a} <= {parent}"),
                }
            }
            1 => {
                let (a, b, c) = (
                    exact[pick(exact.len())],
                    exact[pick(exact.len())],
                    exact[pick(exact.len())],
                );
                if a.key == b.key || b.key == c.key || a.key == c.key {
                    format!("{} = {}", a.key, a.best.unwrap_or(0))
                } else {
                    let k = 2 * a.best.unwrap_or(0) + 3 * b.best.unwrap_or(0) - c.best.unwrap_or(0);
                    let sum = format!("2 * {} + 3 * {} - {}", a.key, b.key, c.key);
                    // The grammar has no negative numbers: move them across.
                    if k < 0 {
                        format!("{sum} + {} = 0", -k)
                    } else {
                        format!("{sum} = {k}")
                    }
                }
            }
            _ => {
                let (a, b, c) = (
                    &figures[pick(figures.len())],
                    &figures[pick(figures.len())],
                    &figures[pick(figures.len())],
                );
                let least = iv(a).add(iv(b)).add(iv(c)).lo;
                format!("{} + {} + {} >= {least}", a.key, b.key, c.key)
            }
        };
        out.push(Rule {
            id: format!("rule-{i}"),
            expression,
            severity: if i % 2 == 0 {
                Severity::Error
            } else {
                Severity::Warning
            },
            note: String::new(),
        });
    }
    out
}

fn bench(c: &mut Criterion) {
    let ds = event();
    assert_eq!(ds.figures.len(), FIGURES);
    assert_eq!(ds.rules.len(), RULES);
    assert_eq!(ds.validate(), vec![], "the generated event is valid");
    let report = checks::run(&ds);
    assert!(
        report.blocking().is_empty(),
        "nothing blocks:\n{}",
        report.to_text()
    );
    let count = |check: &str, o: Outcome| {
        report
            .results
            .iter()
            .filter(|r| r.check.starts_with(check) && r.outcome == o)
            .count()
    };
    assert_eq!(count("rule:", Outcome::Holds), RULES, "every rule holds");
    assert_eq!(count("joint", Outcome::Holds), 1, "all hold together");
    assert_eq!(
        report.implied.len(),
        FIGURES,
        "every figure has its implied range"
    );
    assert_eq!(
        count("breakdown", Outcome::Holds),
        ROOTS * (MIDS + 1),
        "every breakdown holds"
    );
    eprintln!(
        "event: {} figures, {} claims, {} rules; report: {} results ({} what-if, {} source)",
        ds.figures.len(),
        ds.claims.len(),
        ds.rules.len(),
        report.results.len(),
        report
            .results
            .iter()
            .filter(|r| r.check == "what_if")
            .count(),
        report
            .results
            .iter()
            .filter(|r| r.check.starts_with("source:"))
            .count(),
    );
    // `run` alone: the caller drops the report when it is done with it.
    c.bench_function("checks::run 10k figures 1k rules", |b| {
        b.iter_with_large_drop(|| checks::run(black_box(&ds)))
    });
    // And with the report dropped, ~23,000 results of owned strings.
    c.bench_function("checks::run 10k figures 1k rules, report dropped", |b| {
        b.iter(|| checks::run(black_box(&ds)))
    });
}

/// The Beslan event, every check including the joint judgement.
fn beslan(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("imports/beslan-2004");
    let ds = vigil::files::Folder::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let report = checks::run(&ds);
    assert!(report.implied.contains_key("fatalities"));
    c.bench_function("checks::run beslan-2004", |b| {
        b.iter(|| checks::run(black_box(&ds)))
    });
}

criterion_group!(benches, bench, beslan);
criterion_main!(benches);
