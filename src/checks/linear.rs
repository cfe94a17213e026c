//! Exact outcomes of linear relations over integer intervals.
//!
//! A relation `Σ cᵢ·xᵢ + k  op  0` is evaluated with every `xᵢ` ranging
//! independently over the integers of its interval:
//!
//! * `<`, `<=`, `>`, `>=`: the sum reaches the ends of its range
//!   ([`range`]), so comparing those ends decides exactly.
//! * `=`: holds only when the range is the single point 0; violated when 0 is
//!   outside the range or the sum cannot hit 0 exactly. Whether it can is
//!   decided by [`reachable`]: a gcd test, then unit steps (every integer
//!   between the ends is reachable), open ends turned into bounds or residues,
//!   a merge of arithmetic progressions, and as a last resort a bounded
//!   search. Only when that search would be too large (ranges of more than
//!   65,536 values whose steps leave gaps, e.g. `1000·a + 999·b = c` with
//!   wide intervals) is the answer unknown, and the outcome is then
//!   `uncertain` where the exact one might be `violated`.
//!
//! Intervals must not be empty; callers report empty ones themselves. Sums
//! are computed in `i128`; a range beyond ±1.7·10³⁸ (values and coefficients
//! near the `i64` limits) saturates rather than overflows, and an equality
//! whose search would overflow is left `uncertain`.

use crate::model::expr::Op;
use crate::model::Interval;

use super::Outcome;

/// The range of `Σ c·x + constant`: the least and greatest values it reaches.
/// `lo` is `i128::MIN` when unbounded below (see [`Interval::open_below`]).
fn range(terms: &[(i128, Interval)], constant: i128) -> Interval {
    terms
        .iter()
        .fold(Interval::point(constant), |acc, &(c, iv)| {
            acc.add(iv.scale(c))
        })
}

/// The outcome of `Σ c·x + constant  op  0` over the intervals: holds when it
/// is true for every choice of values, violated when false for every choice,
/// uncertain otherwise. See the module documentation for exactness.
pub(crate) fn outcome(terms: &[(i128, Interval)], constant: i128, op: Op) -> Outcome {
    let r = range(terms, constant);
    // On integers, `s < 0` is `s <= -1` and `s > 0` is `s >= 1`.
    match op {
        Op::Le => at_most(r, 0),
        Op::Lt => at_most(r, -1),
        Op::Ge => at_least(r, 0),
        Op::Gt => at_least(r, 1),
        // The ends decide holds (the range is just 0) and most violations (0
        // is outside it); in between, whether the sum can hit 0 exactly.
        Op::Eq => match unit_equals_zero(r) {
            Outcome::Uncertain => match constant.checked_neg().and_then(|t| reachable(terms, t)) {
                Some(false) => Outcome::Violated,
                Some(true) | None => Outcome::Uncertain,
            },
            decided => decided,
        },
    }
}

/// `s = 0` over the range `r` of a sum with unit coefficients, where every
/// integer between the ends is reached.
pub(crate) fn unit_equals_zero(r: Interval) -> Outcome {
    if r.lo == 0 && r.hi == Some(0) {
        Outcome::Holds
    } else if r.contains(0) {
        Outcome::Uncertain
    } else {
        Outcome::Violated
    }
}

/// `s <= t` for every `s` in `r`, for none, or for some.
pub(crate) fn at_most(r: Interval, t: i128) -> Outcome {
    if r.hi.is_some_and(|h| h <= t) {
        Outcome::Holds
    } else if !r.open_below() && r.lo > t {
        Outcome::Violated
    } else {
        Outcome::Uncertain
    }
}

/// `s >= t` for every `s` in `r`, for none, or for some.
fn at_least(r: Interval, t: i128) -> Outcome {
    if !r.open_below() && r.lo >= t {
        Outcome::Holds
    } else if r.hi.is_some_and(|h| h < t) {
        Outcome::Violated
    } else {
        Outcome::Uncertain
    }
}

/// A variable after shifting its interval to start at 0: `c·y`, `y` in
/// `0..=width` (`None`: unbounded above).
#[derive(Debug, Clone, Copy)]
struct Var {
    c: i128,
    width: Option<i128>,
}

/// Largest search [`search`] will do: values in the range, and value × step
/// operations in all.
const SEARCH_WIDTH: i128 = 1 << 16;
const SEARCH_WORK: i128 = 1 << 23;

/// Whether `Σ c·x = target` for some integers `x` in the intervals. `None`
/// when deciding would take a search too large (or the numbers overflow).
pub(crate) fn reachable(terms: &[(i128, Interval)], target: i128) -> Option<bool> {
    let mut t = target;
    let mut vars = Vec::new();
    for &(c, iv) in terms {
        if c == 0 {
            continue;
        }
        t = t.checked_sub(c.checked_mul(iv.lo)?)?;
        match iv.hi {
            Some(h) if h == iv.lo => {}
            Some(h) => vars.push(Var {
                c,
                width: Some(h.checked_sub(iv.lo)?),
            }),
            None => vars.push(Var { c, width: None }),
        }
    }
    if vars.is_empty() {
        return Some(t == 0);
    }
    // Every reachable sum is a multiple of the gcd of the steps.
    let g = vars.iter().fold(0, |g, v| gcd(g, v.c.abs()));
    if t % g != 0 {
        return Some(false);
    }
    t /= g;
    for v in &mut vars {
        v.c /= g;
    }
    let up = vars.iter().any(|v| v.c > 0 && v.width.is_none());
    let down = vars.iter().any(|v| v.c < 0 && v.width.is_none());
    if up && down {
        return reachable_modulo(&vars, t);
    }
    if down {
        for v in &mut vars {
            v.c = -v.c;
        }
        t = -t;
    }
    if up || down {
        // Now every unbounded variable has c > 0. Raising one by 1 raises the
        // sum by c, and nothing brings it back below the least the others
        // can sum to, so values beyond (t - least) / c never reach t.
        let least: i128 = vars
            .iter()
            .filter_map(|v| v.width.map(|w| v.c.checked_mul(w).map(|s| s.min(0))))
            .try_fold(0i128, |a, x| a.checked_add(x?))?;
        let room = t.checked_sub(least)?;
        if room < 0 {
            return Some(false);
        }
        for v in &mut vars {
            if v.width.is_none() {
                v.width = Some(room / v.c);
            }
        }
    }
    let bounded: Vec<(i128, i128)> = vars
        .iter()
        .filter_map(|v| v.width.map(|w| (v.c, w)))
        .filter(|&(_, w)| w > 0)
        .collect();
    reachable_bounded(bounded, t)
}

/// All variables bounded: `Σ c·y = t`, `y` in `0..=w`.
fn reachable_bounded(mut vars: Vec<(i128, i128)>, t: i128) -> Option<bool> {
    // Unit steps (after the gcd division) reach every integer in the range.
    let (lo, hi) = vars.iter().try_fold((0i128, 0i128), |(lo, hi), &(c, w)| {
        let s = c.checked_mul(w)?;
        Some((lo.checked_add(s.min(0))?, hi.checked_add(s.max(0))?))
    })?;
    if t < lo || t > hi {
        return Some(false);
    }
    if vars.iter().all(|&(c, _)| c.abs() == 1) {
        return Some(true);
    }
    // Merge progressions, smallest steps first, while the sum stays a full
    // progression; otherwise search.
    vars.sort_by_key(|&(c, _)| c.abs());
    let mut acc = Progression::point(0);
    for &(c, w) in &vars {
        let s = c * w;
        let next = Progression {
            lo: s.min(0),
            hi: s.max(0),
            step: c.abs(),
        };
        match acc.merge(next) {
            Some(m) => acc = m,
            None => return search(&vars, lo, hi, t),
        }
    }
    Some(acc.contains(t))
}

/// `lo, lo + step, …, hi`; `step` 0 for a single point.
#[derive(Debug, Clone, Copy)]
struct Progression {
    lo: i128,
    hi: i128,
    step: i128,
}

impl Progression {
    fn point(n: i128) -> Self {
        Self {
            lo: n,
            hi: n,
            step: 0,
        }
    }

    fn contains(&self, t: i128) -> bool {
        t >= self.lo && t <= self.hi && (self.step == 0 || (t - self.lo) % self.step == 0)
    }

    /// Every sum of one value from each, when that is a full progression.
    fn merge(self, other: Self) -> Option<Self> {
        fn fine(a: Progression, b: Progression) -> Option<Progression> {
            // b's steps are whole multiples of a's and no longer than a's span
            // plus one step: the shifted copies of a leave no gap.
            let reach = a.hi.checked_sub(a.lo)?.checked_add(a.step)?;
            (b.step % a.step == 0 && b.step <= reach).then_some(Progression {
                lo: a.lo + b.lo,
                hi: a.hi + b.hi,
                step: a.step,
            })
        }
        if self.step == 0 || other.step == 0 {
            let step = self.step.max(other.step);
            return Some(Self {
                lo: self.lo + other.lo,
                hi: self.hi + other.hi,
                step,
            });
        }
        fine(self, other).or_else(|| fine(other, self))
    }
}

/// Exhaustive search over the sums in `lo..=hi`, when small enough.
fn search(vars: &[(i128, i128)], lo: i128, hi: i128, t: i128) -> Option<bool> {
    let width = hi.checked_sub(lo)?;
    let work = vars.iter().try_fold(0i128, |a, &(_, w)| {
        a.checked_add(w.checked_add(1)?.checked_mul(width.checked_add(1)?)?)
    })?;
    if width > SEARCH_WIDTH || work > SEARCH_WORK {
        return None;
    }
    let n = usize::try_from(width + 1).ok()?;
    let mut seen = vec![false; n];
    let at = |v: i128| usize::try_from(v - lo).ok();
    seen[at(0)?] = true;
    for &(c, w) in vars {
        let mut next = seen.clone();
        for (i, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
            let from = lo + i128::try_from(i).ok()?;
            for y in 1..=w {
                if let Some(j) = at(from + c * y) {
                    if let Some(slot) = next.get_mut(j) {
                        *slot = true;
                    }
                }
            }
        }
        seen = next;
    }
    Some(seen[at(t)?])
}

/// With unbounded steps both up and down, the unbounded variables reach
/// exactly the multiples of their gcd `m`; `t` is reachable when the bounded
/// variables reach `t` modulo `m`.
fn reachable_modulo(vars: &[Var], t: i128) -> Option<bool> {
    let m = vars
        .iter()
        .filter(|v| v.width.is_none())
        .fold(0, |g, v| gcd(g, v.c.abs()));
    if m == 1 {
        return Some(true);
    }
    let work = vars
        .iter()
        .filter_map(|v| v.width)
        .try_fold(0i128, |a, w| {
            a.checked_add((w.min(m - 1) + 1).checked_mul(m)?)
        })?;
    if m > SEARCH_WIDTH || work > SEARCH_WORK {
        return None;
    }
    let size = usize::try_from(m).ok()?;
    let mut seen = vec![false; size];
    seen[0] = true;
    for v in vars {
        let Some(w) = v.width else { continue };
        // c·y modulo m repeats with period at most m.
        let steps = w.min(m - 1);
        let mut next = seen.clone();
        for (r, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
            let r = i128::try_from(r).ok()?;
            for y in 1..=steps {
                let j = usize::try_from((r + v.c * y).rem_euclid(m)).ok()?;
                next[j] = true;
            }
        }
        seen = next;
    }
    let want = usize::try_from(t.rem_euclid(m)).ok()?;
    Some(seen[want])
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iv(lo: i128, hi: Option<i128>) -> Interval {
        Interval { lo, hi }
    }

    const OPS: [Op; 5] = [Op::Eq, Op::Le, Op::Ge, Op::Lt, Op::Gt];

    #[test]
    fn comparisons_use_the_ends_of_the_range() {
        // a - b with a in 3..=5 and b in 1..=2: the difference is 1..=4.
        let t = [(1, iv(3, Some(5))), (-1, iv(1, Some(2)))];
        assert_eq!(range(&t, 0), iv(1, Some(4)));
        assert_eq!(outcome(&t, 0, Op::Gt), Outcome::Holds);
        assert_eq!(outcome(&t, 0, Op::Le), Outcome::Violated);
        assert_eq!(outcome(&t, -2, Op::Le), Outcome::Uncertain);
        assert_eq!(outcome(&t, -4, Op::Le), Outcome::Holds);
        assert_eq!(outcome(&t, -4, Op::Lt), Outcome::Uncertain);
        // Unbounded: a - b with a in 3.. is never known to be small.
        let t = [(1, iv(3, None)), (-1, iv(1, Some(2)))];
        assert_eq!(outcome(&t, 0, Op::Ge), Outcome::Holds);
        assert_eq!(outcome(&t, -10, Op::Le), Outcome::Uncertain);
        assert_eq!(outcome(&t, 10, Op::Le), Outcome::Violated);
    }

    #[test]
    fn equalities_are_exact_beyond_the_range() {
        // 2a = 3 cannot hold for any a.
        assert_eq!(
            outcome(&[(2, iv(0, Some(5)))], -3, Op::Eq),
            Outcome::Violated
        );
        // 3a + 3b = 4: gcd 3 does not divide 4.
        let t = [(3, iv(0, None)), (3, iv(0, None))];
        assert_eq!(outcome(&t, -4, Op::Eq), Outcome::Violated);
        // a + 3b = 2 with a in 0..=1, b in 0..=5: sums 0,1,3,4,6,… miss 2.
        let t = [(1, iv(0, Some(1))), (3, iv(0, Some(5)))];
        assert_eq!(reachable(&t, 2), Some(false));
        assert_eq!(outcome(&t, -2, Op::Eq), Outcome::Violated);
        assert_eq!(outcome(&t, -4, Op::Eq), Outcome::Uncertain);
        // 2a - 3b = 1 with both unbounded: every integer is reachable.
        let t = [(2, iv(0, None)), (-3, iv(0, None))];
        assert_eq!(reachable(&t, 1), Some(true));
        // 4a - 6b + 2c = 2 with c in 0..=0: multiples of 2 only, and 2 is one.
        let t = [(4, iv(0, None)), (-6, iv(0, None)), (2, iv(0, Some(0)))];
        assert_eq!(reachable(&t, 2), Some(true));
        // 4a - 8b + 2c = 2 with c in 5..=5: 4a - 8b = -8, a multiple of 4.
        let t = [(4, iv(0, None)), (-8, iv(0, None)), (2, iv(5, Some(5)))];
        assert_eq!(reachable(&t, 2), Some(true));
        let t = [(4, iv(0, None)), (-8, iv(0, None)), (6, iv(1, Some(1)))];
        assert_eq!(reachable(&t, 0), Some(false));
        // 1 - a = 0 with a unbounded above: a = 1 does it.
        assert_eq!(outcome(&[(-1, iv(0, None))], 1, Op::Eq), Outcome::Uncertain);
        assert_eq!(outcome(&[(-2, iv(0, None))], 1, Op::Eq), Outcome::Violated);
        // 5a + 7b = 23 with a, b unbounded above (Frobenius: 23 is a gap).
        let t = [(5, iv(0, None)), (7, iv(0, None))];
        assert_eq!(reachable(&t, 23), Some(false));
        assert_eq!(reachable(&t, 24), Some(true));
        // Large wide sums whose steps leave gaps are left undecided.
        let t = [
            (1000, iv(0, Some(1_000_000))),
            (999, iv(0, Some(1_000_000))),
        ];
        assert_eq!(reachable(&t, 1), None);
        assert_eq!(outcome(&t, -1, Op::Eq), Outcome::Uncertain);
        // …but a full progression needs no search.
        let t = [(1000, iv(0, Some(1_000_000))), (1, iv(0, Some(999)))];
        assert_eq!(reachable(&t, 123_456_789), Some(true));
    }

    #[test]
    fn points_only_decide_by_value() {
        let t = [(1, Interval::point(777)), (-1, Interval::point(354))];
        assert_eq!(outcome(&t, 0, Op::Le), Outcome::Violated);
        assert_eq!(outcome(&t, -423, Op::Eq), Outcome::Holds);
    }

    /// One variable for the property tests: bounds in 0..6, possibly open
    /// above.
    fn var() -> impl Strategy<Value = (i128, Interval)> {
        (-3i128..=3, 0i128..6, 0i128..6, any::<bool>()).prop_map(|(c, a, b, open)| {
            let (lo, hi) = (a.min(b), a.max(b));
            (c, iv(lo, (!open).then_some(hi)))
        })
    }

    /// Enumerates the values of each interval, open ends capped at `CAP`.
    /// Sound for the property: with coefficients in -3..=3 and constants
    /// in -12..=12, any relation that is true (or false) for some values is
    /// so for values below the cap, so a capped enumeration finds both kinds
    /// of witness exactly when the open intervals have them.
    const CAP: i128 = 60;

    fn brute(terms: &[(i128, Interval)], k: i128, op: Op) -> Outcome {
        fn go(terms: &[(i128, Interval)], acc: i128, out: &mut [bool; 2], op: Op) {
            match terms.split_first() {
                None => out[usize::from(op.test(acc, 0))] = true,
                Some((&(c, iv), rest)) => {
                    for x in iv.lo..=iv.hi.unwrap_or(CAP) {
                        go(rest, acc + c * x, out, op);
                    }
                }
            }
        }
        let mut seen = [false; 2];
        go(terms, k, &mut seen, op);
        match seen {
            [false, true] => Outcome::Holds,
            [true, false] => Outcome::Violated,
            _ => Outcome::Uncertain,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_brute_force(
            terms in proptest::collection::vec(var(), 0..=3),
            k in -12i128..=12,
            op in 0usize..5,
        ) {
            let op = OPS[op];
            prop_assert_eq!(outcome(&terms, k, op), brute(&terms, k, op), "{:?} {} {:?} 0", terms, k, op);
        }

        #[test]
        fn never_panics_on_extreme_numbers(
            terms in proptest::collection::vec(
                (any::<i64>(), 0..=i64::MAX, 0..=i64::MAX, any::<bool>()).prop_map(|(c, a, b, open)| {
                    let (lo, hi) = (i128::from(a.min(b)), i128::from(a.max(b)));
                    (i128::from(c), iv(lo, (!open).then_some(hi)))
                }),
                0..=4,
            ),
            k in any::<i64>(),
            op in 0usize..5,
        ) {
            let _ = outcome(&terms, i128::from(k), OPS[op]);
        }

        #[test]
        fn reachable_agrees_with_brute_force_on_bounded_sums(
            terms in proptest::collection::vec(
                (-40i128..=40, 0i128..30, 0i128..30).prop_map(|(c, a, b)| (c, iv(a.min(b), Some(a.max(b))))),
                0..=4,
            ),
            t in -200i128..=200,
        ) {
            let want = brute(&terms, -t, Op::Eq) != Outcome::Violated;
            prop_assert_eq!(reachable(&terms, t), Some(want));
        }
    }
}
