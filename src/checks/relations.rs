//! Breakdowns and rules evaluated on one reading of the event's values (the
//! published ones, one source's, or the published ones with one claim
//! substituted), and the messages that explain the outcomes.

use std::fmt::{self, Write};

use crate::model::expr::{Op, Term};
use crate::model::{Breakdown, Grouped, Interval};

use super::index::Index;
use super::{linear, Outcome};

/// The value each figure has in one reading; `None` when the reading does not
/// state it (a source that gives no number for the figure).
pub(super) type Lookup<'v> = &'v dyn Fn(usize) -> Option<Interval>;

/// How many children a message lists before "and N more".
const LISTED: usize = 10;

/// A breakdown evaluated on one reading.
pub(super) struct BreakdownEval {
    pub kind: Breakdown,
    pub parent: usize,
    pub parent_value: Interval,
    /// The children the reading states, with their values.
    pub children: Vec<(usize, Interval)>,
    /// For an overlapping breakdown, each child's own outcome.
    pub each: Vec<Outcome>,
    /// The sum of the children's values.
    pub sum: Interval,
    pub outcome: Outcome,
    /// A figure whose value is impossible (low above high): nothing is decided.
    pub impossible: Option<(usize, Interval)>,
}

/// The breakdown of figure `parent` on `vals`. `None` when there is nothing
/// to evaluate: the figure has no children or no breakdown kind, the reading
/// does not state the parent, states none of the children, or, for an
/// exhaustive breakdown, not all of them.
pub(super) fn breakdown(ix: &Index, parent: usize, vals: Lookup) -> Option<BreakdownEval> {
    let kind = ix.ds.figures[parent].breakdown?;
    let parent_value = vals(parent)?;
    let kids = &ix.children[parent];
    let mut children = Vec::with_capacity(kids.len());
    let mut each = Vec::new();
    let t = tally(ix, parent, kind, parent_value, vals, |c, v, o| {
        children.push((c, v));
        if kind == Breakdown::Overlapping {
            each.push(o);
        }
    })?;
    Some(BreakdownEval {
        kind,
        parent,
        parent_value,
        children,
        each,
        sum: t.sum,
        outcome: t.outcome(kind, parent_value),
        impossible: t.impossible,
    })
}

/// The outcome of [`breakdown`] alone, collecting nothing: what the what-if
/// check needs for every claim.
pub(super) fn breakdown_outcome(ix: &Index, parent: usize, vals: Lookup) -> Option<Outcome> {
    let kind = ix.ds.figures[parent].breakdown?;
    let parent_value = vals(parent)?;
    let t = tally(ix, parent, kind, parent_value, vals, |_, _, _| {})?;
    Some(t.outcome(kind, parent_value))
}

/// What one pass over the stated children finds.
struct Tally {
    sum: Interval,
    /// The worst single "child ≤ parent" outcome.
    worst_child: Outcome,
    impossible: Option<(usize, Interval)>,
}

impl Tally {
    fn outcome(&self, kind: Breakdown, parent_value: Interval) -> Outcome {
        if self.impossible.is_some() {
            return Outcome::Uncertain;
        }
        // Unit coefficients: the ends of the range decide, and for `=` every
        // integer between them is reached (see `linear`).
        let difference = self.sum.add(parent_value.scale(-1));
        match kind {
            Breakdown::Exhaustive => linear::unit_equals_zero(difference),
            Breakdown::Partial => linear::at_most(difference, 0),
            // The children are distinct figures, so "each child ≤ parent" is
            // satisfiable exactly when no single comparison is violated: the
            // worst single outcome is the exact outcome of them all.
            Breakdown::Overlapping => self.worst_child,
        }
    }
}

/// Sums the stated children of `parent`, calling `each` with every one of
/// them, its value and its own "child ≤ parent" outcome. `None` when the
/// reading states none, or not all of an exhaustive breakdown's.
fn tally(
    ix: &Index,
    parent: usize,
    kind: Breakdown,
    parent_value: Interval,
    vals: Lookup,
    mut each: impl FnMut(usize, Interval, Outcome),
) -> Option<Tally> {
    let minus_parent = parent_value.scale(-1);
    let mut t = Tally {
        sum: Interval::point(0),
        worst_child: Outcome::Holds,
        impossible: parent_value.is_empty().then_some((parent, parent_value)),
    };
    let mut stated = 0;
    for &c in &ix.children[parent] {
        let Some(v) = vals(c) else {
            if kind == Breakdown::Exhaustive {
                return None;
            }
            continue;
        };
        stated += 1;
        t.sum = t.sum.add(v);
        if v.is_empty() && t.impossible.is_none() {
            t.impossible = Some((c, v));
        }
        let o = linear::at_most(v.add(minus_parent), 0);
        t.worst_child = t.worst_child.max(o);
        each(c, v, o);
    }
    (stated > 0).then_some(t)
}

/// What a curator reads about a breakdown's outcome.
pub(super) fn breakdown_message(ix: &Index, e: &BreakdownEval) -> String {
    let mut out = String::with_capacity(128);
    write_breakdown(&mut out, ix, e);
    out
}

/// Writes [`breakdown_message`] to `out`.
pub(super) fn write_breakdown(out: &mut String, ix: &Index, e: &BreakdownEval) {
    if let Some((f, v)) = e.impossible {
        return write_impossible(out, ix, f, v);
    }
    let pkey = ix.key(e.parent);
    let p = show(e.parent_value);
    let c = e.sum;
    let all = ix.children[e.parent].len();
    let n = e.children.len();
    let cats = Categories { n, all };
    let add = if n == 1 { "adds" } else { "add" };
    // Writing to a String cannot fail.
    let _ = match (e.kind, e.outcome) {
        (Breakdown::Exhaustive, Outcome::Holds) => {
            write!(out, "{cats} {add} up to {c} = {pkey} {p}")
        }
        (Breakdown::Exhaustive, Outcome::Violated) => {
            write!(out, "categories add up to {c} but {pkey} is {p}")
        }
        (Breakdown::Exhaustive, Outcome::Uncertain) => write!(
            out,
            "the categories imply {c}; {pkey} says {p}: {}",
            sum_reasons(c, e.parent_value)
        ),
        (Breakdown::Partial, Outcome::Holds) => {
            write!(out, "{cats} {add} up to {c}, within {pkey} {p}")
        }
        (Breakdown::Partial, Outcome::Violated) => {
            write!(out, "{cats} {add} up to {c}, more than {pkey} {p}")
        }
        (Breakdown::Partial, Outcome::Uncertain) => write!(
            out,
            "the categories imply {c}; {pkey} says {p}: the categories can add up to more than it"
        ),
        (Breakdown::Overlapping, Outcome::Holds) if n == 1 => {
            write!(out, "{cats} is within {pkey} {p}")
        }
        (Breakdown::Overlapping, Outcome::Holds) => {
            write!(out, "each of {cats} is within {pkey} {p}")
        }
        (Breakdown::Overlapping, _) => {
            let failing = e
                .children
                .iter()
                .zip(&e.each)
                .filter(|(_, o)| **o != Outcome::Holds);
            for (i, (&(f, v), o)) in failing.enumerate() {
                let sep = if i > 0 { "; " } else { "" };
                let verb = if *o == Outcome::Violated {
                    "is"
                } else {
                    "can be"
                };
                let _ = write!(
                    out,
                    "{sep}{} {} {verb} more than {pkey} {p}",
                    ix.key(f),
                    show(v)
                );
            }
            Ok(())
        }
    };
    // A sum that does not hold lists what it adds up.
    if e.kind != Breakdown::Overlapping && e.outcome != Outcome::Holds {
        out.push_str(" (");
        write_children(out, ix, &e.children);
        out.push(')');
    }
}

/// "7 categories", "1 category", "2 of 3 categories".
struct Categories {
    n: usize,
    all: usize,
}

impl fmt::Display for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.n, self.all) {
            (n, all) if n != all => write!(f, "{n} of {all} categories"),
            (1, _) => f.write_str("1 category"),
            (n, _) => write!(f, "{n} categories"),
        }
    }
}

/// Why an exhaustive breakdown is uncertain: which ends of the parent the
/// children cannot reach, or how far the children's sum reaches past it.
fn sum_reasons(sum: Interval, parent: Interval) -> String {
    let above = |a: Option<i128>, b: Option<i128>| match (a, b) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => a > b,
        _ => false,
    };
    let low_unreached = parent.lo < sum.lo;
    let high_unreached = above(parent.hi, sum.hi);
    let mut out = Vec::new();
    match (low_unreached, high_unreached) {
        (true, true) => out.push("neither of its ends can be reached"),
        (true, false) => out.push("its low end cannot be reached"),
        (false, true) => out.push("its high end cannot be reached"),
        (false, false) => {}
    }
    match (sum.lo < parent.lo, above(sum.hi, parent.hi)) {
        (true, true) => out.push("the categories can add up to less or more than it"),
        (true, false) => out.push("the categories can add up to less than it"),
        (false, true) => out.push("the categories can add up to more than it"),
        (false, false) => {}
    }
    if out.is_empty() {
        out.push("they agree only when both take the same value");
    }
    out.join("; ")
}

/// "a 3 + b 5", at most [`LISTED`] children then "and N more".
fn write_children(out: &mut String, ix: &Index, children: &[(usize, Interval)]) {
    for (i, &(f, v)) in children.iter().take(LISTED).enumerate() {
        let plus = if i > 0 { " + " } else { "" };
        let _ = write!(out, "{plus}{} {}", ix.key(f), show(v));
    }
    if children.len() > LISTED {
        let _ = write!(out, " and {} more", children.len() - LISTED);
    }
}

/// A rule evaluated on one reading.
pub(super) struct RuleEval {
    /// The value of each figure of the rule, in the order of its keys.
    pub values: Vec<Interval>,
    pub outcome: Outcome,
    /// A figure whose value is impossible (low above high): nothing is decided.
    pub impossible: Option<(usize, Interval)>,
}

/// Rule `r` on `vals`; `None` when the rule cannot be evaluated (it does not
/// parse or names unknown figures) or the reading does not state all its
/// figures.
pub(super) fn rule(ix: &Index, r: usize, vals: Lookup) -> Option<RuleEval> {
    let body = ix.rules[r].body.as_ref().ok()?;
    let values = body
        .figs
        .iter()
        .map(|&f| vals(f))
        .collect::<Option<Vec<_>>>()?;
    let impossible = body
        .figs
        .iter()
        .zip(&values)
        .find(|(_, v)| v.is_empty())
        .map(|(&f, &v)| (f, v));
    let outcome = if impossible.is_some() {
        Outcome::Uncertain
    } else {
        let terms: Vec<(i128, Interval)> = body
            .terms
            .iter()
            .map(|&(pos, c)| (c, values[pos]))
            .collect();
        linear::outcome(&terms, body.constant, body.op)
    };
    Some(RuleEval {
        values,
        outcome,
        impossible,
    })
}

/// What a curator reads about a rule's outcome: both sides with the values,
/// e.g. "hostages.children 777 > hostages.total 354".
pub(super) fn rule_message(ix: &Index, r: usize, e: &RuleEval) -> String {
    let mut out = String::with_capacity(96);
    write_rule(&mut out, ix, r, e);
    out
}

/// Writes [`rule_message`] to `out`.
pub(super) fn write_rule(out: &mut String, ix: &Index, r: usize, e: &RuleEval) {
    let Ok(body) = &ix.rules[r].body else {
        return;
    };
    if let Some((f, v)) = e.impossible {
        return write_impossible(out, ix, f, v);
    }
    let value_of = |key: &str| {
        body.figs
            .iter()
            .position(|&f| ix.key(f) == key)
            .map_or(Interval::unknown(), |pos| e.values[pos])
    };
    let op = body.expr.op;
    write_side(out, &body.expr.lhs, &value_of);
    out.push(' ');
    out.push_str(match e.outcome {
        Outcome::Violated => negation(op),
        Outcome::Holds | Outcome::Uncertain => symbol(op),
    });
    out.push(' ');
    write_side(out, &body.expr.rhs, &value_of);
    if e.outcome == Outcome::Uncertain {
        out.push_str(" only for some values in these ranges");
    }
}

/// One side of a rule with values: "militants.died 31 + militants.captured 1
/// (together 32)".
fn write_side(out: &mut String, terms: &[Term], value_of: &dyn Fn(&str) -> Interval) {
    let mut total = Interval::point(0);
    for (i, t) in terms.iter().enumerate() {
        let c = i128::from(t.coefficient);
        if i > 0 {
            out.push_str(if c < 0 { " - " } else { " + " });
        } else if c < 0 {
            out.push('-');
        }
        let shown = c.abs();
        match &t.key {
            Some(k) => {
                let v = value_of(k);
                total = total.add(v.scale(c));
                if shown != 1 {
                    let _ = write!(out, "{shown} × ");
                }
                let _ = write!(out, "{k} {}", show(v));
            }
            None => {
                total = total.add(Interval::point(c));
                let _ = write!(out, "{}", Grouped(shown));
            }
        }
    }
    let plain = matches!(
        terms,
        [Term {
            coefficient: 1,
            key: Some(_)
        }] | [Term { key: None, .. }]
    );
    if !plain {
        let together = if terms.len() > 1 { "together " } else { "" };
        let _ = write!(out, " ({together}{total})");
    }
}

fn symbol(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Le => "≤",
        Op::Ge => "≥",
        Op::Lt => "<",
        Op::Gt => ">",
    }
}

/// The comparison that is true when `op` is false.
fn negation(op: Op) -> &'static str {
    match op {
        Op::Eq => "≠",
        Op::Le => ">",
        Op::Ge => "<",
        Op::Lt => "≥",
        Op::Gt => "≤",
    }
}

fn write_impossible(out: &mut String, ix: &Index, f: usize, v: Interval) {
    let _ = write!(
        out,
        "cannot be checked: {} has an impossible value, low {} above high ",
        ix.key(f),
        Grouped(v.lo),
    );
    let _ = match v.hi {
        Some(h) => write!(out, "{}", Grouped(h)),
        None => write!(out, "unbounded"),
    };
}

/// A figure's value as a curator reads it: "334–335", "800+", or "unknown"
/// for a figure with no value at all.
pub(super) fn show(v: Interval) -> Shown {
    Shown(v)
}

/// See [`show`].
pub(super) struct Shown(Interval);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == Interval::unknown() {
            f.write_str("unknown")
        } else {
            self.0.fmt(f)
        }
    }
}
