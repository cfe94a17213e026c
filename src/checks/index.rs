//! What every check looks up, built once per run: figures by key, children
//! lists, published intervals, rules compiled to figure indices, and which
//! rules and claims name each figure.

use std::collections::HashMap;

use crate::model::expr::{self, Expression, Op};
use crate::model::{Dataset, Interval, Rule};

/// A rule ready to evaluate, or why it cannot be.
pub(super) struct Compiled<'a> {
    pub rule: &'a Rule,
    pub body: Result<Body, String>,
}

/// A parsed rule over known figures: `Σ c·figs[pos] + constant  op  0`.
pub(super) struct Body {
    pub expr: Expression,
    /// Figure indices, in the order of [`Expression::keys`].
    pub figs: Vec<usize>,
    /// `(position in figs, coefficient)`, like terms combined.
    pub terms: Vec<(usize, i128)>,
    pub constant: i128,
    pub op: Op,
}

/// Lookups over one dataset. Figures are referred to by their index in
/// `ds.figures`; keys are resolved once, here, and with duplicate keys (which
/// validation reports) the first figure wins.
pub(super) struct Index<'a> {
    pub ds: &'a Dataset,
    pub parent: Vec<Option<usize>>,
    /// For each figure, its children, in dataset order.
    pub children: Groups,
    /// Each figure's published value as an interval; unknown is `[0, ∞)`.
    pub published: Vec<Interval>,
    pub rules: Vec<Compiled<'a>>,
    /// For each figure, the rules (indices into `rules`) that name it.
    pub rules_of: Groups,
    /// For each figure, its claims (indices into `ds.claims`), in order.
    pub claims_of: Groups,
    /// For each claim, the index of its figure, if known.
    pub claim_figure: Vec<Option<usize>>,
    /// For each claim, the interval it stands for (approximate claims
    /// widened by the event's approximation).
    pub claim_value: Vec<Interval>,
}

impl<'a> Index<'a> {
    pub fn new(ds: &'a Dataset) -> Self {
        let n = ds.figures.len();
        let mut by_key = HashMap::with_capacity(n);
        for (i, f) in ds.figures.iter().enumerate() {
            by_key.entry(f.key.as_str()).or_insert(i);
        }
        let mut parent = vec![None; n];
        for (i, f) in ds.figures.iter().enumerate() {
            if let Some(&p) = f.parent.as_deref().and_then(|k| by_key.get(k)) {
                if p != i {
                    parent[i] = Some(p);
                }
            }
        }
        let children = Groups::new(
            n,
            parent
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some(((*p)?, i))),
        );
        let published = ds.figures.iter().map(|f| f.value().interval()).collect();
        let rules: Vec<Compiled<'a>> = ds
            .rules
            .iter()
            .map(|rule| Compiled {
                rule,
                body: compile(rule, &by_key),
            })
            .collect();
        let rules_of = Groups::new(
            n,
            rules.iter().enumerate().flat_map(|(r, c)| {
                c.body
                    .iter()
                    .flat_map(move |b| b.figs.iter().map(move |&f| (f, r)))
            }),
        );
        let claim_figure: Vec<Option<usize>> = ds
            .claims
            .iter()
            .map(|c| by_key.get(c.figure.as_str()).copied())
            .collect();
        let claims_of = Groups::new(
            n,
            claim_figure
                .iter()
                .enumerate()
                .filter_map(|(c, f)| Some(((*f)?, c))),
        );
        let tolerance = ds.event.approximation_percent();
        let claim_value = ds.claims.iter().map(|c| c.interval(tolerance)).collect();
        Self {
            ds,
            claim_value,
            parent,
            children,
            published,
            rules,
            rules_of,
            claims_of,
            claim_figure,
        }
    }

    /// The key of figure `i`.
    pub fn key(&self, i: usize) -> &'a str {
        &self.ds.figures[i].key
    }
}

/// For each of `n` owners a list of indices, stored flat in one allocation
/// (10,000 figures would otherwise mean 10,000 small vectors).
pub(super) struct Groups {
    start: Vec<usize>,
    items: Vec<usize>,
}

impl Groups {
    /// Groups `(owner, item)` pairs by owner, keeping their order within each.
    fn new(n: usize, pairs: impl Iterator<Item = (usize, usize)> + Clone) -> Self {
        let mut start = vec![0; n + 1];
        for (owner, _) in pairs.clone() {
            start[owner + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut items = vec![0; start[n]];
        for (owner, item) in pairs {
            items[next[owner]] = item;
            next[owner] += 1;
        }
        Self { start, items }
    }
}

impl std::ops::Index<usize> for Groups {
    type Output = [usize];

    fn index(&self, owner: usize) -> &[usize] {
        &self.items[self.start[owner]..self.start[owner + 1]]
    }
}

fn compile(rule: &Rule, by_key: &HashMap<&str, usize>) -> Result<Body, String> {
    let expr =
        expr::parse(&rule.expression).map_err(|e| format!("the rule does not parse ({e})"))?;
    let keys = expr.keys();
    if keys.is_empty() {
        return Err("the rule names no figure".into());
    }
    let mut figs = Vec::with_capacity(keys.len());
    for k in &keys {
        match by_key.get(k) {
            Some(&f) => figs.push(f),
            None => return Err(format!("the rule names an unknown figure '{k}'")),
        }
    }
    let lin = expr.linear();
    let terms = lin
        .terms
        .iter()
        .filter_map(|(k, &c)| keys.iter().position(|x| x == k).map(|pos| (pos, c)))
        .collect();
    let op = expr.op;
    Ok(Body {
        figs,
        terms,
        constant: lin.constant,
        op,
        expr,
    })
}
