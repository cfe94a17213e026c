//! `source:<key>`: does a source agree with itself?
//!
//! The values a source states are its claims that are not deprecated, each
//! as the interval it stands for (approximate ones widened). Where it has
//! several for one figure, its latest stands (a source's later statement
//! revises its earlier one): latest by `as_of`, an undated claim standing at
//! the source's `published_on` (and before every dated one when the source
//! has no date either), then by file order. On those values alone, the
//! check evaluates
//!
//! * breakdowns whose parent the source states: exhaustive ones only when it
//!   states every child, partial and overlapping ones on the children it
//!   states (counts are never negative, so the stated children of a partial
//!   breakdown must fit within the parent whatever the others are);
//! * rules whose every figure it states.
//!
//! One result per source that has anything to evaluate (sources with none
//! are left out), with the worst outcome; its message names each breakdown
//! and rule that fails or is uncertain, with the figures and values. Its
//! figures are those of the failing or uncertain breakdowns (parent and the
//! categories the source states) and rules; when all hold, the parents of
//! the breakdowns and the figures of the rules checked.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::model::{Interval, PartialDate, Rank, Severity};

use super::index::Index;
use super::relations::{self, Lookup};
use super::{CheckResult, Outcome};

/// `source:<key>` for every source, in the dataset's order.
pub(super) fn check(ix: &Index, out: &mut Vec<CheckResult>) {
    let position: HashMap<&str, usize> = ix
        .ds
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.as_str(), i))
        .collect();
    let mut claims_of: Vec<Vec<usize>> = vec![Vec::new(); ix.ds.sources.len()];
    for (c, claim) in ix.ds.claims.iter().enumerate() {
        if claim.rank != Rank::Deprecated && ix.claim_figure[c].is_some() {
            if let Some(&s) = position.get(claim.source.as_str()) {
                claims_of[s].push(c);
            }
        }
    }
    // What the current source states, by figure, with the date it stands
    // at; reset after each source.
    let mut stated: Vec<Option<(Option<PartialDate>, Interval)>> = vec![None; ix.ds.figures.len()];
    for (source, claims) in ix.ds.sources.iter().zip(&claims_of) {
        let mut figs = Vec::with_capacity(claims.len());
        for &c in claims {
            let claim = &ix.ds.claims[c];
            let Some(f) = ix.claim_figure[c] else {
                continue;
            };
            let v = ix.claim_value[c];
            // An undated claim stands at the source's publication date; the
            // later in file order wins a tie.
            let at = claim.as_of.or(source.published_on);
            match stated[f] {
                None => {
                    figs.push(f);
                    stated[f] = Some((at, v));
                }
                Some((cur, _)) if at >= cur => stated[f] = Some((at, v)),
                Some(_) => {}
            }
        }
        figs.sort_unstable();
        if let Some(r) = one_source(ix, &source.key, &figs, &stated) {
            out.push(r);
        }
        for f in figs {
            stated[f] = None;
        }
    }
}

/// One breakdown or rule a source's values were checked against.
enum Item {
    Breakdown(relations::BreakdownEval),
    Rule(usize, relations::RuleEval),
}

impl Item {
    fn outcome(&self) -> Outcome {
        match self {
            Item::Breakdown(e) => e.outcome,
            Item::Rule(_, e) => e.outcome,
        }
    }

    /// Writes "breakdown of fatalities fails: categories add up to …".
    fn describe(&self, out: &mut String, ix: &Index) {
        let verb = match self.outcome() {
            Outcome::Holds => "holds",
            Outcome::Uncertain => "is uncertain",
            Outcome::Violated => "fails",
        };
        match self {
            Item::Breakdown(e) => {
                let _ = write!(out, "breakdown of {} {verb}: ", ix.key(e.parent));
                relations::write_breakdown(out, ix, e);
            }
            Item::Rule(r, e) => {
                let _ = write!(out, "rule {} {verb}: ", ix.rules[*r].rule.id);
                relations::write_rule(out, ix, *r, e);
            }
        }
    }

    /// The figures to name: a breakdown's parent (and, when `categories`,
    /// the children the source states), a rule's figures.
    fn figures(&self, ix: &Index, categories: bool, out: &mut Vec<usize>) {
        match self {
            Item::Breakdown(e) => {
                out.push(e.parent);
                if categories {
                    out.extend(e.children.iter().map(|&(c, _)| c));
                }
            }
            Item::Rule(r, _) => {
                if let Ok(b) = &ix.rules[*r].body {
                    out.extend_from_slice(&b.figs);
                }
            }
        }
    }
}

/// The check of one source, which states the figures `figs` (sorted) with
/// the values in `stated`.
fn one_source(
    ix: &Index,
    key: &str,
    figs: &[usize],
    stated: &[Option<(Option<PartialDate>, Interval)>],
) -> Option<CheckResult> {
    let vals: Lookup = &|f| stated[f].map(|(_, v)| v);
    let mut items = Vec::new();
    let mut rules = Vec::new();
    for &f in figs {
        if let Some(e) = relations::breakdown(ix, f, vals) {
            items.push(Item::Breakdown(e));
        }
        rules.extend_from_slice(&ix.rules_of[f]);
    }
    let breakdowns = items.len();
    rules.sort_unstable();
    rules.dedup();
    for r in rules {
        if let Some(e) = relations::rule(ix, r, vals) {
            items.push(Item::Rule(r, e));
        }
    }
    let outcome = items.iter().map(Item::outcome).max()?;
    let mut figures = Vec::new();
    let message = if outcome == Outcome::Holds {
        for i in &items {
            i.figures(ix, false, &mut figures);
        }
        let rules = items.len() - breakdowns;
        format!(
            "{key} agrees with itself: {breakdowns} breakdown{} and {rules} rule{} hold on its own figures",
            if breakdowns == 1 { "" } else { "s" },
            if rules == 1 { "" } else { "s" },
        )
    } else {
        // Violations first, then what is uncertain.
        let mut shown: Vec<&Item> = items
            .iter()
            .filter(|i| i.outcome() != Outcome::Holds)
            .collect();
        shown.sort_by_key(|i| std::cmp::Reverse(i.outcome()));
        let lead = if outcome == Outcome::Violated {
            "contradicts itself"
        } else {
            "may contradict itself"
        };
        let mut message = format!("{key} {lead}: ");
        for (n, i) in shown.into_iter().enumerate() {
            if n > 0 {
                message.push_str("; ");
            }
            i.describe(&mut message, ix);
            i.figures(ix, true, &mut figures);
        }
        message
    };
    let mut seen = HashSet::new();
    figures.retain(|&f| seen.insert(f));
    Some(CheckResult {
        check: format!("source:{key}"),
        subject: key.to_string(),
        outcome,
        severity: Severity::Warning,
        figures: figures.into_iter().map(|f| ix.key(f).to_string()).collect(),
        sources: vec![key.to_string()],
        claim: None,
        message,
        class: super::Class::default(),
    })
}
