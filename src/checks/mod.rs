//! The consistency checks: do an event's figures, claims and rules agree?
//!
//! Pure functions of a [`Dataset`]: nothing here knows of HTTP, SQL or files.
//!
//! Every value is an interval ([`crate::model::Value::interval`]: `best`
//! alone is exact, an open low end is 0, an open high end unbounded; a figure
//! with no value is `[0, ∞)`), and every check has an [`Outcome`]: `holds`
//! when true for every choice of values in the intervals, `violated` when
//! false for every choice, `uncertain` otherwise. Rules and breakdowns are
//! decided exactly, with one limit: an equality with coefficients other than
//! ±1 whose sums leave gaps (`1000 * a + 999 * b = c` over wide ranges) is
//! decided by a gcd test, an arithmetic-progression merge and a bounded
//! search (up to 65,536 sums); beyond that it is `uncertain` where the exact
//! answer might be `violated`.
//!
//! | check | severity | results |
//! | --- | --- | --- |
//! | `range` | error | one per figure or claim whose value is malformed (low ≤ best ≤ high, none negative) |
//! | `breakdown` | error | one per figure with children and a breakdown kind |
//! | `cited` | error | one per figure with a value: it has a preferred claim |
//! | `within_sources` | warning | one per figure with a value and a preferred claim: it lies within their hull |
//! | `rule:<id>` | the rule's | one per rule, on the published values |
//! | `source:<key>` | warning | one per source with something to check |
//! | `what_if` | warning | one per claim that would break something |
//! | `joint` | error; warning for conflicts with warning rules | one per conflict, or one saying all hold together |
//! | `implied` | warning | one per figure whose curated range is wider than implied |
//!
//! Claims enter every check as the interval they stand for
//! ([`crate::model::Claim::interval`]): "about 160" widened by the event's
//! `approximation` (default 10%, rounded outward), "more than 1,100" as
//! 1,101 and up, "fewer than 50" as at most 49.
//!
//! `source:<key>` evaluates the breakdowns and rules on that source's own
//! values: its claims that are not deprecated, its latest standing where it
//! has several for a figure (by `as_of`, an undated claim at the source's
//! `published_on`, then file order).
//! An exhaustive breakdown needs the parent and every child stated; partial
//! and overlapping ones use the children stated; a rule needs all its
//! figures stated. Sources with nothing to check get no result.
//!
//! `what_if` puts each claim, deprecated ones included, in place of its
//! figure's published value and evaluates the rules and breakdowns that
//! involve the figure; it reports the claim only when that violates one that
//! is not violated on the published values (nothing for claims that break
//! nothing, to keep the report short).
//!
//! Results come in the order of the table, and within a check in the
//! dataset's order, so the same dataset always gives the same report. A rule
//! that does not parse or names an unknown figure, and a relation over a
//! value whose low end is above its high end, is `uncertain` with a message
//! saying why: validation ([`Dataset::validate`]) reports those as problems
//! of their own.
//!
//! `joint` judges every breakdown and rule together (see `joint`): a minimal
//! conflicting set when they cannot all hold, otherwise each figure's
//! implied range, and an `implied` warning where the curated range is wider.
//! Every result has a [`Class`]: blocks, attention, or consistent.
//!
//! [`run`] on 10,000 figures, 13,500 claims and 1,000 rules takes 56–61 ms
//! on a loaded 2-core build machine, the joint judgement included (15–23 ms
//! before it); on Beslan 0.54–0.63 ms (`cargo bench --bench check`).

mod figures;
mod index;
mod joint;
mod linear;
mod relations;
mod solver;
mod sources;
mod what_if;

#[cfg(test)]
mod tests;

use std::fmt::Write;

use crate::words::word_enum;
use serde::{Deserialize, Serialize};

use crate::model::{Dataset, Severity};

use index::Index;
use relations::Lookup;

word_enum! {
    /// How a check came out. Ordered so that `max()` is the worst.
    Outcome {
        /// True for every choice of values within the intervals.
        Holds = "holds",
        /// True for some choices and false for others.
        Uncertain = "uncertain",
        /// False for every choice of values within the intervals.
        Violated = "violated",
    }
}

/// One check on one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// `range`, `breakdown`, `cited`, `within_sources`, `rule:<id>`,
    /// `source:<key>` or `what_if`.
    pub check: String,
    /// The figure key, claim id, rule id or source key the result is about.
    pub subject: String,
    pub outcome: Outcome,
    pub severity: Severity,
    /// The keys of the figures involved.
    pub figures: Vec<String>,
    /// The keys of the sources involved, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// The claim the result is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// What a curator reads: which figures, which values, which sources.
    pub message: String,
    /// Whether it blocks publishing, needs a curator's attention, or only
    /// confirms consistency.
    #[serde(default)]
    pub class: Class,
}

/// What a result asks of people.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// A violated error: publishing is refused.
    Blocks,
    /// A source contradicting itself, a claim that would break a rule or
    /// breakdown, a curated range wider than implied or not backed by its
    /// sources, constraints that cannot hold together (warnings), anything
    /// the checks could not decide.
    Attention,
    /// Holds, or uncertain only as to where in the ranges the truth lies
    /// while everything holds together.
    #[default]
    Consistent,
}

impl CheckResult {
    /// The class of this result, from its check, outcome and severity.
    fn classify(&self) -> Class {
        if self.blocks() {
            Class::Blocks
        } else if self.outcome == Outcome::Violated
            || self.check == "implied"
            || (self.check == "joint" && self.outcome != Outcome::Holds)
            || (self.check == "within_sources" && self.outcome != Outcome::Holds)
        {
            Class::Attention
        } else {
            Class::Consistent
        }
    }
}

/// A figure's implied range: the tightest one consistent with the curated
/// ranges, breakdowns and rules together. `high` absent when open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Implied {
    pub low: i64,
    pub high: Option<i64>,
}

impl CheckResult {
    /// Whether the result blocks publishing: severity error and violated.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error && self.outcome == Outcome::Violated
    }
}

/// Every check of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// The event's slug.
    pub event: String,
    /// `violated` when some error-severity result is violated (that blocks
    /// publishing and makes `vigil check` exit 1); otherwise `uncertain` when
    /// any result, of any severity, is not `holds` (a violated warning
    /// included); otherwise `holds`.
    pub status: Outcome,
    pub results: Vec<CheckResult>,
    /// Each figure's implied range, by key; absent when the constraints
    /// cannot all hold together (or could not be judged).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub implied: std::collections::BTreeMap<String, Implied>,
}

/// Runs every check on the dataset.
pub fn run(ds: &Dataset) -> Report {
    let ix = Index::new(ds);
    // cited and within_sources give about one result per figure each, and
    // some claims a what-if.
    let capacity = 2 * ds.figures.len() + ds.rules.len() + ds.sources.len() + ds.claims.len() / 4;
    let mut results = Vec::with_capacity(capacity);
    figures::range(&ix, &mut results);
    let breakdowns = breakdowns(&ix, &mut results);
    figures::cited_and_within(&ix, &mut results);
    let rules = rules(&ix, &mut results);
    sources::check(&ix, &mut results);
    let published = what_if::Published { rules, breakdowns };
    what_if::check(&ix, &published, &mut results);
    let joint = joint::check(&ix, &published, &mut results);
    for r in &mut results {
        r.class = r.classify();
    }
    let status = status(&results);
    let implied = joint
        .implied
        .iter()
        .enumerate()
        .filter_map(|(f, iv)| {
            let iv = (*iv)?;
            let low = i64::try_from(iv.lo).ok()?;
            let high = match iv.hi {
                Some(h) => Some(i64::try_from(h).ok()?),
                None => None,
            };
            Some((ix.key(f).to_string(), Implied { low, high }))
        })
        .collect();
    Report {
        event: ds.event.slug.clone(),
        status,
        results,
        implied,
    }
}

fn status(results: &[CheckResult]) -> Outcome {
    if results.iter().any(CheckResult::blocks) {
        Outcome::Violated
    } else if results.iter().any(|r| r.outcome != Outcome::Holds) {
        Outcome::Uncertain
    } else {
        Outcome::Holds
    }
}

/// `breakdown` on the published values; returns each figure's outcome.
fn breakdowns(ix: &Index, out: &mut Vec<CheckResult>) -> Vec<Option<Outcome>> {
    let vals: Lookup = &|f| Some(ix.published[f]);
    (0..ix.ds.figures.len())
        .map(|f| {
            let e = relations::breakdown(ix, f, vals)?;
            out.push(CheckResult {
                check: "breakdown".into(),
                subject: ix.key(f).to_string(),
                outcome: e.outcome,
                severity: Severity::Error,
                figures: std::iter::once(f)
                    .chain(e.children.iter().map(|&(c, _)| c))
                    .map(|x| ix.key(x).to_string())
                    .collect(),
                sources: Vec::new(),
                claim: None,
                message: relations::breakdown_message(ix, &e),
                class: Class::default(),
            });
            Some(e.outcome)
        })
        .collect()
}

/// `rule:<id>` on the published values; returns each rule's outcome.
fn rules(ix: &Index, out: &mut Vec<CheckResult>) -> Vec<Option<Outcome>> {
    let vals: Lookup = &|f| Some(ix.published[f]);
    ix.rules
        .iter()
        .enumerate()
        .map(|(r, compiled)| {
            let rule = compiled.rule;
            let (outcome, message, figures) = match &compiled.body {
                Err(why) => (
                    Outcome::Uncertain,
                    format!("cannot be checked: {why}"),
                    Vec::new(),
                ),
                Ok(body) => {
                    let figures = body.figs.iter().map(|&f| ix.key(f).to_string()).collect();
                    match relations::rule(ix, r, vals) {
                        Some(e) => (e.outcome, relations::rule_message(ix, r, &e), figures),
                        None => (Outcome::Uncertain, "cannot be checked".into(), figures),
                    }
                }
            };
            out.push(CheckResult {
                check: format!("rule:{}", rule.id),
                subject: rule.id.clone(),
                outcome,
                severity: rule.severity,
                figures,
                sources: Vec::new(),
                claim: None,
                message,
                class: Class::default(),
            });
            compiled.body.is_ok().then_some(outcome)
        })
        .collect()
}

impl Report {
    /// The results that block publishing: severity error and violated.
    pub fn blocking(&self) -> Vec<&CheckResult> {
        self.results.iter().filter(|r| r.blocks()).collect()
    }

    /// The report as a curator reads it, in three parts: what blocks
    /// publishing, then what needs a curator's attention, one line each
    /// ("violated (error) breakdown fatalities: …"); then how many results
    /// only confirm consistency (counted, not listed); then a summary line
    /// with the status and the counts.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        for (class, title) in [
            (Class::Blocks, "Blocks publishing"),
            (Class::Attention, "Needs a curator's attention"),
        ] {
            let listed: Vec<&CheckResult> =
                self.results.iter().filter(|r| r.class == class).collect();
            if listed.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title} ({}):", listed.len());
            for r in listed {
                let _ = write!(out, "{} ({}) {}", r.outcome, r.severity, r.check);
                if !r.check.contains(':') {
                    let _ = write!(out, " {}", r.subject);
                }
                let _ = writeln!(out, ": {}", r.message);
            }
        }
        let consistent = self
            .results
            .iter()
            .filter(|r| r.class == Class::Consistent)
            .count();
        let _ = writeln!(
            out,
            "Confirms consistency: {consistent} results (not listed); {} figures with an implied range",
            self.implied.len()
        );
        let count = |o: Outcome| self.results.iter().filter(|r| r.outcome == o).count();
        let _ = writeln!(
            out,
            "{}: {} — {} results: {} hold, {} uncertain, {} violated; {} blocking",
            self.event,
            self.status,
            self.results.len(),
            count(Outcome::Holds),
            count(Outcome::Uncertain),
            count(Outcome::Violated),
            self.blocking().len(),
        );
        out
    }
}
