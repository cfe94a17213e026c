//! Checks on one figure at a time: `range`, `cited` and `within_sources`.

use std::fmt::Write;

use crate::model::{Claim, Interval, Rank, Severity};

use super::index::Index;
use super::relations::show;
use super::{CheckResult, Outcome};

/// `range`: every figure's and every claim's value is well formed. A result
/// only for a value that is not, to keep the report short: a well-formed
/// value is the rule, and a figure without a `range` result has one.
pub(super) fn range(ix: &Index, out: &mut Vec<CheckResult>) {
    for f in &ix.ds.figures {
        let v = f.value();
        let problems = v.shape_problems();
        if problems.is_empty() {
            continue;
        }
        out.push(CheckResult {
            check: "range".into(),
            subject: f.key.clone(),
            outcome: Outcome::Violated,
            severity: Severity::Error,
            figures: vec![f.key.clone()],
            sources: Vec::new(),
            claim: None,
            message: format!("{} is {v}: {}", f.key, join(&problems)),
            class: super::Class::default(),
        });
    }
    for c in &ix.ds.claims {
        let v = c.stated();
        let problems = c.shape_problems();
        if problems.is_empty() {
            continue;
        }
        out.push(CheckResult {
            check: "range".into(),
            subject: c.id.clone(),
            outcome: Outcome::Violated,
            severity: Severity::Error,
            figures: vec![c.figure.clone()],
            sources: vec![c.source.clone()],
            claim: Some(c.id.clone()),
            message: format!(
                "claim {} (source {}) gives {} as {v}: {}",
                c.id,
                c.source,
                c.figure,
                join(&problems)
            ),
            class: super::Class::default(),
        });
    }
}

fn join(problems: &[(&'static str, String)]) -> String {
    problems
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The preferred claims of figure `f`, as claims.
fn preferred<'i>(ix: &'i Index<'_>, f: usize) -> impl Iterator<Item = &'i Claim> + 'i {
    let claims: &'i [Claim] = &ix.ds.claims;
    ix.claims_of[f]
        .iter()
        .map(move |&c| &claims[c])
        .filter(|c| c.rank == Rank::Preferred)
}

/// `cited` (every figure with a value has a preferred claim) and
/// `within_sources` (its value lies within the envelope of those claims).
/// Figures without a value are skipped by both; figures without a preferred
/// claim by `within_sources`.
pub(super) fn cited_and_within(ix: &Index, out: &mut Vec<CheckResult>) {
    let mut within = Vec::new();
    for (i, f) in ix.ds.figures.iter().enumerate() {
        if f.value().is_empty() {
            continue;
        }
        let mut sources: Vec<String> = Vec::new();
        let mut count = 0;
        for c in preferred(ix, i) {
            count += 1;
            if !sources.contains(&c.source) {
                sources.push(c.source.clone());
            }
        }
        let shown = show(ix.published[i]);
        let mut message = String::with_capacity(96);
        let outcome = if count == 0 {
            let also = match ix.claims_of[i].len() {
                0 => String::new(),
                1 => " (its 1 claim is not preferred)".into(),
                n => format!(" ({n} claims, none preferred)"),
            };
            let _ = write!(
                message,
                "{} {shown} has no preferred claim{also}: cite a source",
                f.key
            );
            Outcome::Violated
        } else {
            let s = if count == 1 { "" } else { "s" };
            let _ = write!(
                message,
                "{} {shown} rests on {count} preferred claim{s} from ",
                f.key
            );
            write_list(&mut message, &sources);
            Outcome::Holds
        };
        if count > 0 {
            if let Some(r) = within_sources(ix, i, sources.clone()) {
                within.push(r);
            }
        }
        out.push(CheckResult {
            check: "cited".into(),
            subject: f.key.clone(),
            outcome,
            severity: Severity::Error,
            figures: vec![f.key.clone()],
            sources,
            claim: None,
            message,
            class: super::Class::default(),
        });
    }
    out.append(&mut within);
}

/// "a, b, c".
fn write_list(out: &mut String, items: &[String]) {
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(s);
    }
}

/// Figure `i`'s value against the hull of its preferred claims' values.
/// Claims with impossible values (low above high) are left out of the hull.
fn within_sources(ix: &Index, i: usize, sources: Vec<String>) -> Option<CheckResult> {
    let fig = ix.published[i];
    if fig.is_empty() {
        return None;
    }
    let hull = ix.claims_of[i]
        .iter()
        .filter(|&&c| ix.ds.claims[c].rank == Rank::Preferred)
        .map(|&c| ix.claim_value[c])
        .filter(|v| !v.is_empty())
        .reduce(Interval::hull)?;
    let key = &ix.ds.figures[i].key;
    let disjoint = hull.hi.is_some_and(|hh| fig.lo > hh) || fig.hi.is_some_and(|fh| fh < hull.lo);
    let (outcome, relation) = if hull.covers(&fig) {
        (Outcome::Holds, "lies within")
    } else if disjoint {
        (Outcome::Violated, "lies outside")
    } else {
        (Outcome::Uncertain, "reaches beyond")
    };
    let mut message = String::with_capacity(96);
    let _ = write!(message, "{key} {} {relation} what its sources (", show(fig));
    write_list(&mut message, &sources);
    let _ = write!(message, ") say {}", show(hull));
    if outcome == Outcome::Uncertain {
        let low = fig.lo < hull.lo;
        let high = match (fig.hi, hull.hi) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a > b,
            _ => false,
        };
        let ends = match (low, high) {
            (true, true) => "both its ends are",
            (true, false) => "its low end is",
            _ => "its high end is",
        };
        let _ = write!(message, ": {ends} not backed by a source");
    }
    Some(CheckResult {
        check: "within_sources".into(),
        subject: key.clone(),
        outcome,
        severity: Severity::Warning,
        figures: vec![key.clone()],
        sources,
        claim: None,
        message,
        class: super::Class::default(),
    })
}
