//! Every constraint together: breakdowns and rules judged jointly over the
//! figures' curated ranges, in integers ([`super::solver`]).
//!
//! First the error-severity breakdowns and rules alone: when no choice of
//! values within the ranges satisfies them all, a `joint` result, violated
//! and blocking, names a minimal conflicting set (the fewest breakdowns,
//! rules and curated ranges that cannot hold together; minimal by deletion:
//! dropping any one of them leaves a system with a solution, or one the
//! search could not decide). Otherwise each figure gets its implied range:
//! the tightest one consistent with all of them and every curated range.
//! A figure whose curated range is wider than implied gets an `implied`
//! warning. Then the warning rules are added: a conflict among them (or
//! with the errors) is a `joint` warning naming a minimal set; warnings do
//! not narrow the implied ranges (they are what may hold, not what must).
//!
//! Figures are split into independent groups (linked by some breakdown or
//! rule) and each is solved alone.

use std::collections::HashMap;
use std::fmt::Write;

use crate::model::expr::Op;
use crate::model::{Breakdown, Interval, Severity};

use super::index::Index;
use super::relations::show;
use super::solver::{Domains, Row, Solver, Verdict};
use super::what_if::Published;
use super::{CheckResult, Outcome};

/// Work allowed per solve, in row evaluations.
const BUDGET: u64 = 2_000_000;
/// Largest conflict (in breakdowns, rules and ranges) minimised by deletion.
const MINIMISE: usize = 400;

/// A breakdown, a rule or a figure's curated range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Item {
    Breakdown(usize),
    Rule(usize),
    Range(usize),
}

/// The rows of the breakdowns and rules, each tagged with its item.
struct System {
    rows: Vec<Row>,
    item_of: Vec<Item>,
}

/// What the joint judgement found.
pub(super) struct Joint {
    /// For each figure, its implied range, when known.
    pub implied: Vec<Option<Interval>>,
}

fn system(ix: &Index, warnings: bool) -> System {
    let mut rows = Vec::new();
    let mut item_of = Vec::new();
    for (f, fig) in ix.ds.figures.iter().enumerate() {
        let Some(kind) = fig.breakdown else { continue };
        let kids = &ix.children[f];
        if kids.is_empty() {
            continue;
        }
        let item = Item::Breakdown(f);
        match kind {
            Breakdown::Exhaustive | Breakdown::Partial => {
                let mut terms: Vec<(usize, i128)> = kids.iter().map(|&k| (k, 1)).collect();
                terms.push((f, -1));
                rows.push(Row {
                    terms,
                    rhs: 0,
                    eq: kind == Breakdown::Exhaustive,
                });
                item_of.push(item);
            }
            Breakdown::Overlapping => {
                for &k in kids {
                    rows.push(Row {
                        terms: vec![(k, 1), (f, -1)],
                        rhs: 0,
                        eq: false,
                    });
                    item_of.push(item);
                }
            }
        }
    }
    for (r, compiled) in ix.rules.iter().enumerate() {
        if compiled.rule.severity != Severity::Error && !warnings {
            continue;
        }
        let Ok(body) = &compiled.body else { continue };
        let terms: Vec<(usize, i128)> = body
            .terms
            .iter()
            .map(|&(pos, c)| (body.figs[pos], c))
            .collect();
        let k = body.constant;
        let neg = |t: &[(usize, i128)]| t.iter().map(|&(v, c)| (v, -c)).collect::<Vec<_>>();
        let row = match body.op {
            Op::Le => Some(Row {
                terms,
                rhs: -k,
                eq: false,
            }),
            Op::Lt => k.checked_add(1).map(|k1| Row {
                terms,
                rhs: -k1,
                eq: false,
            }),
            Op::Eq => Some(Row {
                terms,
                rhs: -k,
                eq: true,
            }),
            Op::Ge => Some(Row {
                terms: neg(&terms),
                rhs: k,
                eq: false,
            }),
            Op::Gt => k.checked_sub(1).map(|k1| Row {
                terms: neg(&terms),
                rhs: k1,
                eq: false,
            }),
        };
        if let Some(row) = row {
            rows.push(row);
            item_of.push(Item::Rule(r));
        }
    }
    System { rows, item_of }
}

/// Groups of figures linked by rows: for each, its figures and its rows.
fn components(n: usize, s: &System) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for row in &s.rows {
        if let Some(&(first, _)) = row.terms.first() {
            for &(v, _) in &row.terms[1..] {
                let (a, b) = (find(&mut parent, first), find(&mut parent, v));
                if a != b {
                    parent[a] = b;
                }
            }
        }
    }
    let mut index: HashMap<usize, usize> = HashMap::new();
    let mut out: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (r, row) in s.rows.iter().enumerate() {
        let Some(&(v, _)) = row.terms.first() else {
            continue;
        };
        let root = find(&mut parent, v);
        let at = *index.entry(root).or_insert_with(|| {
            out.push((Vec::new(), Vec::new()));
            out.len() - 1
        });
        out[at].1.push(r);
    }
    for v in 0..n {
        let root = find(&mut parent, v);
        if let Some(&at) = index.get(&root) {
            out[at].0.push(v);
        }
    }
    out
}

/// One group, renumbered: local rows and domains.
struct Local {
    figs: Vec<usize>,
    rows: Vec<Row>,
    items: Vec<Item>,
}

fn local(s: &System, figs: Vec<usize>, rows: &[usize]) -> Local {
    let at: HashMap<usize, usize> = figs.iter().enumerate().map(|(i, &f)| (f, i)).collect();
    let rows_local = rows
        .iter()
        .map(|&r| Row {
            terms: s.rows[r].terms.iter().map(|&(v, c)| (at[&v], c)).collect(),
            rhs: s.rows[r].rhs,
            eq: s.rows[r].eq,
        })
        .collect();
    let items = rows.iter().map(|&r| s.item_of[r]).collect();
    Local {
        figs,
        rows: rows_local,
        items,
    }
}

fn domains(ix: &Index, figs: &[usize], ranged: &dyn Fn(usize) -> bool) -> Domains {
    let iv = |f: usize| {
        if ranged(f) {
            ix.published[f]
        } else {
            Interval::unknown()
        }
    };
    Domains {
        lo: figs.iter().map(|&f| iv(f).lo).collect(),
        hi: figs.iter().map(|&f| iv(f).hi).collect(),
    }
}

/// A minimal set of items of `g` that cannot hold together.
fn conflict(ix: &Index, g: &Local) -> (Vec<Item>, bool) {
    let mut items: Vec<Item> = Vec::new();
    for &it in &g.items {
        if !items.contains(&it) {
            items.push(it);
        }
    }
    for &f in &g.figs {
        if ix.published[f] != Interval::unknown() {
            items.push(Item::Range(f));
        }
    }
    if items.len() > MINIMISE {
        return (items, false);
    }
    let mut keep = vec![true; items.len()];
    for i in 0..items.len() {
        keep[i] = false;
        let kept = |it: &Item| items.iter().zip(&keep).any(|(x, k)| *k && x == it);
        let rows: Vec<Row> = g
            .rows
            .iter()
            .zip(&g.items)
            .filter(|(_, it)| kept(it))
            .map(|(r, _)| r.clone())
            .collect();
        let d = domains(ix, &g.figs, &|f| kept(&Item::Range(f)));
        let mut s = Solver::new(g.figs.len(), &rows, BUDGET);
        if s.feasible(d) != Verdict::Unsat {
            keep[i] = true;
        }
    }
    let out = items
        .into_iter()
        .zip(keep)
        .filter_map(|(it, k)| k.then_some(it))
        .collect();
    (out, true)
}

fn describe(ix: &Index, it: Item, out: &mut String) {
    let _ = match it {
        Item::Breakdown(f) => {
            let kind = ix.ds.figures[f].breakdown.map_or("", |b| b.as_str());
            write!(out, "the {kind} breakdown of {}", ix.key(f))
        }
        Item::Rule(r) => {
            let rule = ix.rules[r].rule;
            write!(out, "rule {} ({})", rule.id, rule.expression)
        }
        Item::Range(f) => write!(out, "{} {}", ix.key(f), show(ix.published[f])),
    };
}

fn item_figures(ix: &Index, it: Item, out: &mut Vec<usize>) {
    match it {
        Item::Breakdown(f) => {
            out.push(f);
            out.extend_from_slice(&ix.children[f]);
        }
        Item::Rule(r) => {
            if let Ok(b) = &ix.rules[r].body {
                out.extend_from_slice(&b.figs);
            }
        }
        Item::Range(f) => out.push(f),
    }
}

fn conflict_result(ix: &Index, items: &[Item], minimal: bool, severity: Severity) -> CheckResult {
    let mut message = String::from(if minimal {
        "these cannot all hold together: "
    } else {
        "these cannot all hold together (too many to narrow down): "
    });
    for (i, &it) in items.iter().enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        describe(ix, it, &mut message);
    }
    let mut figs = Vec::new();
    for &it in items {
        item_figures(ix, it, &mut figs);
    }
    let mut seen = std::collections::HashSet::new();
    figs.retain(|f| seen.insert(*f));
    let subject = match items.first() {
        Some(Item::Breakdown(f)) | Some(Item::Range(f)) => ix.key(*f).to_string(),
        Some(Item::Rule(r)) => ix.rules[*r].rule.id.clone(),
        None => ix.ds.event.slug.clone(),
    };
    CheckResult {
        check: "joint".into(),
        subject,
        outcome: Outcome::Violated,
        severity,
        figures: figs.into_iter().map(|f| ix.key(f).to_string()).collect(),
        sources: Vec::new(),
        claim: None,
        message,
        class: super::Class::default(),
    }
}

/// What solving one system found.
struct Solved {
    conflicts: Vec<(Vec<Item>, bool)>,
    undecided: usize,
    /// Implied ranges, for the figures of groups that have a solution.
    implied: Vec<Option<Interval>>,
    groups: usize,
}

fn solve(ix: &Index, s: &System, bounds: bool) -> Solved {
    let n = ix.ds.figures.len();
    // A figure no breakdown or rule links is implied by its own range.
    let mut out = Solved {
        conflicts: Vec::new(),
        undecided: 0,
        implied: if bounds {
            ix.published.iter().map(|&v| Some(v)).collect()
        } else {
            vec![None; n]
        },
        groups: 0,
    };
    for (figs, rows) in components(n, s) {
        out.groups += 1;
        let g = local(s, figs, &rows);
        let d = domains(ix, &g.figs, &|_| true);
        let mut solver = Solver::new(g.figs.len(), &g.rows, BUDGET);
        let verdict = if bounds {
            match solver.bounds(d) {
                Ok(b) => {
                    for (i, &f) in g.figs.iter().enumerate() {
                        out.implied[f] = Some(Interval {
                            lo: b.dom.lo[i],
                            hi: b.dom.hi[i],
                        });
                    }
                    continue;
                }
                Err(v) => v,
            }
        } else {
            solver.feasible(d)
        };
        if verdict != Verdict::Unsat && !matches!(verdict, Verdict::Sat(_)) {
            out.undecided += 1;
        } else if verdict == Verdict::Unsat {
            out.conflicts.push(conflict(ix, &g));
        }
        if !matches!(verdict, Verdict::Sat(_)) {
            for &f in &g.figs {
                out.implied[f] = None;
            }
        }
    }
    out
}

/// Whether a conflict only repeats one breakdown or rule already violated on
/// its own (with the ranges of its figures): its own result says it.
fn repeats(items: &[Item], published: &Published) -> bool {
    let mut relations = items.iter().filter(|it| !matches!(it, Item::Range(_)));
    match (relations.next(), relations.next()) {
        (Some(Item::Breakdown(f)), None) => published.breakdowns[*f] == Some(Outcome::Violated),
        (Some(Item::Rule(r)), None) => published.rules[*r] == Some(Outcome::Violated),
        _ => false,
    }
}

/// Judges every constraint together; pushes `joint` and `implied` results.
/// `published` holds each breakdown's and rule's outcome on its own.
pub(super) fn check(ix: &Index, published: &Published, out: &mut Vec<CheckResult>) -> Joint {
    let n = ix.ds.figures.len();
    let none = Joint {
        implied: vec![None; n],
    };
    if let Some(f) = (0..n).find(|&f| ix.published[f].is_empty()) {
        out.push(CheckResult {
            check: "joint".into(),
            subject: ix.ds.event.slug.clone(),
            outcome: Outcome::Uncertain,
            severity: Severity::Error,
            figures: vec![ix.key(f).to_string()],
            sources: Vec::new(),
            claim: None,
            message: format!(
                "cannot be judged: {} has an impossible value, low above high",
                ix.key(f)
            ),
            class: super::Class::default(),
        });
        return none;
    }
    let errors = system(ix, false);
    let hard = solve(ix, &errors, true);
    for (items, minimal) in &hard.conflicts {
        if !repeats(items, published) {
            out.push(conflict_result(ix, items, *minimal, Severity::Error));
        }
    }
    if !hard.conflicts.is_empty() {
        return none;
    }
    // The warnings are what a curator believes may hold: a conflict among
    // them is worth a look, but they do not narrow the implied ranges.
    let all = system(ix, true);
    let warnings = all.rows.len() - errors.rows.len();
    let soft = if warnings > 0 {
        let soft = solve(ix, &all, false);
        for (items, minimal) in &soft.conflicts {
            if !repeats(items, published) {
                out.push(conflict_result(ix, items, *minimal, Severity::Warning));
            }
        }
        soft
    } else {
        Solved {
            conflicts: Vec::new(),
            undecided: 0,
            implied: Vec::new(),
            groups: 0,
        }
    };
    let implied = hard.implied;
    let undecided = hard.undecided + soft.undecided;
    let message = if undecided > 0 {
        format!(
            "{undecided} group(s) of figures could not be judged within the search limit; their implied ranges are not given"
        )
    } else {
        format!(
            "the breakdowns and error rules ({} constraint rows, in {} group(s) of linked figures) hold together over the figures' ranges{}",
            errors.rows.len(),
            hard.groups,
            if soft.conflicts.is_empty() {
                format!(", and with the warning rules ({warnings} rows) too")
            } else {
                String::new()
            }
        )
    };
    out.push(CheckResult {
        check: "joint".into(),
        subject: ix.ds.event.slug.clone(),
        outcome: if undecided > 0 {
            Outcome::Uncertain
        } else {
            Outcome::Holds
        },
        severity: Severity::Error,
        figures: Vec::new(),
        sources: Vec::new(),
        claim: None,
        message,
        class: super::Class::default(),
    });
    for (f, imp) in implied.iter().enumerate() {
        let Some(imp) = *imp else { continue };
        let cur = ix.published[f];
        if ix.ds.figures[f].value().is_empty() || imp == cur || !cur.covers(&imp) {
            continue;
        }
        let key = ix.key(f);
        out.push(CheckResult {
            check: "implied".into(),
            subject: key.to_string(),
            outcome: Outcome::Uncertain,
            severity: Severity::Warning,
            figures: vec![key.to_string()],
            sources: Vec::new(),
            claim: None,
            message: format!(
                "{key} is {} but the ranges, breakdowns and rules together allow only {}: the curated range is wider than the sources and rules allow",
                show(cur),
                show(imp)
            ),
            class: super::Class::default(),
        });
    }
    Joint { implied }
}
