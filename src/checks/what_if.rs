//! What if a claim were published? Each claim, deprecated ones included, is
//! put in place of its figure's published value, and the rules and
//! breakdowns that involve the figure are evaluated again.
//!
//! A result is emitted only for a claim under which some rule or breakdown is
//! violated that is not violated on the published values (it holds or is
//! uncertain there): that is what the claim would break. Claims whose value
//! equals the published one, or is impossible, are skipped. To keep the
//! report short, nothing is said about claims that break nothing, and the
//! result's figures are the claim's figure, the figures of the rules it
//! breaks and the parents of the breakdowns it breaks (the message lists
//! their categories).

use std::fmt::Write;

use crate::model::{Claim, Interval, Severity};

use super::index::Index;
use super::relations::{self, Lookup};
use super::{CheckResult, Outcome};

/// The outcomes on the published values, to compare against.
pub(super) struct Published {
    /// For each rule, its outcome (`None`: the rule cannot be evaluated).
    pub rules: Vec<Option<Outcome>>,
    /// For each figure, the outcome of its breakdown (`None`: it has none).
    pub breakdowns: Vec<Option<Outcome>>,
}

/// `what_if` for every claim, in the dataset's order.
pub(super) fn check(ix: &Index, published: &Published, out: &mut Vec<CheckResult>) {
    for (c, claim) in ix.ds.claims.iter().enumerate() {
        let Some(f) = ix.claim_figure[c] else {
            continue;
        };
        let v = ix.claim_value[c];
        if v.is_empty() || v == ix.published[f] {
            continue;
        }
        let vals: Lookup = &|i| Some(if i == f { v } else { ix.published[i] });
        let mut broken = Broken::default();
        for &r in &ix.rules_of[f] {
            if published.rules[r] == Some(Outcome::Violated) {
                continue;
            }
            let Some(e) = relations::rule(ix, r, vals) else {
                continue;
            };
            if e.outcome == Outcome::Violated {
                let figs = ix.rules[r].body.as_ref().map_or(&[][..], |b| &b.figs);
                let out = broken.item(claim, f, v, figs);
                let _ = write!(out, "rule {} fails: ", ix.rules[r].rule.id);
                relations::write_rule(out, ix, r, &e);
            }
        }
        // The figure's own breakdown, and the one it is a category of.
        for p in std::iter::once(f).chain(ix.parent[f]) {
            if published.breakdowns[p] == Some(Outcome::Violated)
                || relations::breakdown_outcome(ix, p, vals) != Some(Outcome::Violated)
            {
                continue;
            }
            let Some(e) = relations::breakdown(ix, p, vals) else {
                continue;
            };
            let out = broken.item(claim, f, v, &[p]);
            let _ = write!(out, "breakdown of {} fails: ", ix.key(p));
            relations::write_breakdown(out, ix, &e);
        }
        let Broken { message, figures } = broken;
        if message.is_empty() {
            continue;
        }
        out.push(CheckResult {
            check: "what_if".into(),
            subject: claim.id.clone(),
            outcome: Outcome::Violated,
            severity: Severity::Warning,
            figures: figures.into_iter().map(|x| ix.key(x).to_string()).collect(),
            sources: vec![claim.source.clone()],
            claim: Some(claim.id.clone()),
            message,
            class: super::Class::default(),
        });
    }
}

/// What one claim would break: the message and the figures involved, both
/// begun only when something breaks (most claims break nothing).
#[derive(Default)]
struct Broken {
    message: String,
    figures: Vec<usize>,
}

impl Broken {
    /// Starts the next item of the message, naming `figs`, and returns the
    /// message to write it to.
    fn item(&mut self, claim: &Claim, f: usize, v: Interval, figs: &[usize]) -> &mut String {
        if self.message.is_empty() {
            self.message.reserve(256);
            let _ = write!(
                self.message,
                "if {} were {} (claim {}, source {}): ",
                claim.figure,
                relations::show(v),
                claim.id,
                claim.source
            );
            self.figures.push(f);
        } else {
            self.message.push_str("; ");
        }
        for x in figs {
            if !self.figures.contains(x) {
                self.figures.push(*x);
            }
        }
        &mut self.message
    }
}
