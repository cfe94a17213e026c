//! Integer feasibility and implied bounds of a system of linear constraints
//! over variables with interval domains: bounds propagation to a fixpoint,
//! then a depth-first search with propagation (trail-based backtracking) to
//! find witnesses and to prove bounds tight.
//!
//! Everything it answers is sound: `Unsat` is proven (propagation and an
//! exhausted search only ever remove values no solution has), `Sat` carries
//! a solution, and implied bounds are only ever narrowed by proofs. What it
//! cannot decide within its work budget it says so (`Unknown`; bounds then
//! stay the propagated ones, which still hold every solution, and are marked
//! not proven tight). An open upper end that propagation cannot close is
//! left open. Numbers are `i128`; a row whose products or sums would
//! overflow is not used to narrow anything (still sound).

/// `Σ c·x ≤ rhs`, or `= rhs` when `eq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub terms: Vec<(usize, i128)>,
    pub rhs: i128,
    pub eq: bool,
}

/// Variables' domains: `lo..=hi`, `hi` `None` when unbounded above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Domains {
    pub lo: Vec<i128>,
    pub hi: Vec<Option<i128>>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A solution.
    Sat(Vec<i128>),
    /// Proven: no solution.
    Unsat,
    /// The work budget ran out.
    Unknown,
}

/// Implied bounds of every variable, as tight as proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub dom: Domains,
    /// Whether each variable's bounds are proven tight (each finite end is
    /// reached by a solution).
    pub exact: Vec<bool>,
}

/// One system: rows over `n` variables with their domains.
pub(crate) struct Solver<'a> {
    rows: &'a [Row],
    /// For each variable, the rows that name it.
    of_var: Vec<Vec<usize>>,
    /// Row evaluations left.
    budget: u64,
    queue: Vec<usize>,
    queued: Vec<bool>,
    trail: Vec<(usize, i128, Option<i128>)>,
}

/// Why propagation stopped short.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    Empty,
    Budget,
}

/// How a dive orders the values of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefer {
    Low,
    High,
}

impl<'a> Solver<'a> {
    pub fn new(n: usize, rows: &'a [Row], budget: u64) -> Self {
        let mut of_var = vec![Vec::new(); n];
        for (r, row) in rows.iter().enumerate() {
            for &(v, c) in &row.terms {
                if c != 0 && of_var[v].last() != Some(&r) {
                    of_var[v].push(r);
                }
            }
        }
        Self {
            rows,
            of_var,
            budget,
            queue: Vec::new(),
            queued: vec![false; rows.len()],
            trail: Vec::new(),
        }
    }

    pub fn out_of_budget(&self) -> bool {
        self.budget == 0
    }

    fn set_lo(&mut self, d: &mut Domains, v: usize, lo: i128) -> Result<(), Stop> {
        if lo <= d.lo[v] {
            return Ok(());
        }
        if d.hi[v].is_some_and(|h| lo > h) {
            return Err(Stop::Empty);
        }
        self.trail.push((v, d.lo[v], d.hi[v]));
        d.lo[v] = lo;
        self.enqueue_var(v);
        Ok(())
    }

    fn set_hi(&mut self, d: &mut Domains, v: usize, hi: i128) -> Result<(), Stop> {
        if d.hi[v].is_some_and(|h| hi >= h) {
            return Ok(());
        }
        if hi < d.lo[v] {
            return Err(Stop::Empty);
        }
        self.trail.push((v, d.lo[v], d.hi[v]));
        d.hi[v] = Some(hi);
        self.enqueue_var(v);
        Ok(())
    }

    fn enqueue_var(&mut self, v: usize) {
        for &r in &self.of_var[v] {
            if !self.queued[r] {
                self.queued[r] = true;
                self.queue.push(r);
            }
        }
    }

    fn enqueue_all(&mut self) {
        for r in 0..self.rows.len() {
            if !self.queued[r] {
                self.queued[r] = true;
                self.queue.push(r);
            }
        }
    }

    fn clear_queue(&mut self) {
        for r in self.queue.drain(..) {
            self.queued[r] = false;
        }
    }

    fn undo(&mut self, d: &mut Domains, to: usize) {
        while self.trail.len() > to {
            if let Some((v, lo, hi)) = self.trail.pop() {
                d.lo[v] = lo;
                d.hi[v] = hi;
            }
        }
    }

    /// Propagates the queued rows to a fixpoint.
    fn propagate(&mut self, d: &mut Domains) -> Result<(), Stop> {
        while let Some(r) = self.queue.pop() {
            self.queued[r] = false;
            let row: &'a Row = &self.rows[r];
            let cost = 1 + row.terms.len() as u64;
            if self.budget < cost {
                self.budget = 0;
                self.clear_queue();
                return Err(Stop::Budget);
            }
            self.budget -= cost;
            let result = self.narrow(d, &row.terms, row.rhs, 1).and_then(|()| {
                if row.eq {
                    self.narrow(d, &row.terms, row.rhs, -1)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = result {
                self.clear_queue();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Narrows the domains by `Σ s·c·x ≤ s·rhs`.
    fn narrow(
        &mut self,
        d: &mut Domains,
        terms: &[(usize, i128)],
        rhs: i128,
        s: i128,
    ) -> Result<(), Stop> {
        let Some(rhs) = rhs.checked_mul(s) else {
            return Ok(());
        };
        // The least each term can be; None: unbounded below.
        let least = |v: usize, c: i128, d: &Domains| -> Option<Option<i128>> {
            if c > 0 {
                Some(Some(c.checked_mul(d.lo[v])?))
            } else {
                match d.hi[v] {
                    Some(h) => Some(Some(c.checked_mul(h)?)),
                    None => Some(None),
                }
            }
        };
        let mut sum: i128 = 0;
        let mut open = 0usize;
        for &(v, c) in terms {
            let Some(c) = c.checked_mul(s) else {
                return Ok(());
            };
            match least(v, c, d) {
                None => return Ok(()),
                Some(None) => open += 1,
                Some(Some(m)) => match sum.checked_add(m) {
                    Some(x) => sum = x,
                    None => return Ok(()),
                },
            }
        }
        if open == 0 && sum > rhs {
            return Err(Stop::Empty);
        }
        if open > 1 {
            return Ok(());
        }
        for &(v, c) in terms {
            let c = c * s;
            if c == 0 {
                continue;
            }
            let rest = match least(v, c, d) {
                Some(None) => sum,
                Some(Some(m)) if open == 0 => match sum.checked_sub(m) {
                    Some(r) => r,
                    None => continue,
                },
                _ => continue,
            };
            let Some(slack) = rhs.checked_sub(rest) else {
                continue;
            };
            if c > 0 {
                self.set_hi(d, v, slack.div_euclid(c))?;
            } else {
                if let Some(lo) = slack.div_euclid(-c).checked_neg() {
                    self.set_lo(d, v, lo)?;
                }
            }
        }
        Ok(())
    }

    /// Propagates every row from `d`; `Unsat` when a domain empties.
    pub fn root(&mut self, d: &mut Domains) -> Option<Verdict> {
        self.enqueue_all();
        let r = self.propagate(d);
        self.trail.clear();
        match r {
            Ok(()) => None,
            Err(Stop::Empty) => Some(Verdict::Unsat),
            Err(Stop::Budget) => Some(Verdict::Unknown),
        }
    }

    /// Depth-first search for a solution within `d` (already propagated);
    /// `d` is left as it was.
    fn search(&mut self, d: &mut Domains, prefer: Prefer) -> Verdict {
        struct Frame {
            trail: usize,
            var: usize,
            alts: [(i128, Option<i128>); 3],
            count: usize,
            next: usize,
            start: usize,
        }
        let base = self.trail.len();
        let mut stack: Vec<Frame> = Vec::new();
        let mut start = 0;
        let n = d.lo.len();
        let verdict = 'outer: loop {
            // At a propagated state: choose the next variable not fixed.
            let var = (start..n).find(|&v| d.hi[v] != Some(d.lo[v]));
            let Some(var) = var else {
                break Verdict::Sat(d.lo.clone());
            };
            let (lo, hi) = (d.lo[var], d.hi[var]);
            let mid = match hi {
                Some(h) => lo.saturating_add(h.saturating_sub(lo) / 2),
                None => lo.saturating_mul(2).saturating_add(16),
            };
            let mut alts = [(0, None); 3];
            let count;
            match (prefer, hi) {
                (Prefer::High, Some(h)) => {
                    alts[0] = (h, Some(h));
                    alts[1] = (mid.saturating_add(1), Some(h.saturating_sub(1)));
                    alts[2] = (lo, Some(mid));
                    count = 3;
                }
                _ => {
                    alts[0] = (lo, Some(lo));
                    alts[1] = (lo.saturating_add(1), Some(mid));
                    alts[2] = (mid.saturating_add(1), hi);
                    count = 3;
                }
            }
            stack.push(Frame {
                trail: self.trail.len(),
                var,
                alts,
                count,
                next: 0,
                start: var,
            });
            // Apply the next alternative, backtracking as needed.
            loop {
                let Some(f) = stack.last_mut() else {
                    break 'outer Verdict::Unsat;
                };
                let (to, var, fstart) = (f.trail, f.var, f.start);
                if f.next == f.count {
                    stack.pop();
                    self.undo(d, to);
                    continue;
                }
                let (l, h) = f.alts[f.next];
                f.next += 1;
                self.undo(d, to);
                // Every branch costs, so that a search over open domains
                // ends with its budget.
                if self.budget == 0 {
                    break 'outer Verdict::Unknown;
                }
                self.budget -= 1;
                if h.is_some_and(|h| h < l) {
                    continue;
                }
                let applied = self.set_lo(d, var, l).and_then(|()| match h {
                    Some(h) => self.set_hi(d, var, h),
                    None => Ok(()),
                });
                let r = applied.and_then(|()| self.propagate(d));
                match r {
                    Ok(()) => {
                        start = fstart;
                        break;
                    }
                    Err(Stop::Empty) => {
                        self.clear_queue();
                        continue;
                    }
                    Err(Stop::Budget) => break 'outer Verdict::Unknown,
                }
            }
        };
        self.undo(d, base);
        verdict
    }

    /// A solution of the rows within `d` with `x[v]` in `lo..=hi`, or why
    /// there is none.
    fn within(
        &mut self,
        d: &mut Domains,
        v: usize,
        lo: i128,
        hi: Option<i128>,
        prefer: Prefer,
    ) -> Verdict {
        let base = self.trail.len();
        let applied = self.set_lo(d, v, lo).and_then(|()| match hi {
            Some(h) => self.set_hi(d, v, h),
            None => Ok(()),
        });
        let r = applied.and_then(|()| self.propagate(d));
        let verdict = match r {
            Ok(()) => self.search(d, prefer),
            Err(Stop::Empty) => {
                self.clear_queue();
                Verdict::Unsat
            }
            Err(Stop::Budget) => Verdict::Unknown,
        };
        self.undo(d, base);
        verdict
    }

    /// Whether the rows have a solution within `d`.
    pub fn feasible(&mut self, mut d: Domains) -> Verdict {
        if let Some(v) = self.root(&mut d) {
            return v;
        }
        self.search(&mut d, Prefer::Low)
    }

    /// The implied bounds of every variable: `Err` with the verdict when the
    /// rows have no solution within `d` (or it could not be told).
    pub fn bounds(&mut self, mut d: Domains) -> Result<Bounds, Verdict> {
        if let Some(v) = self.root(&mut d) {
            return Err(v);
        }
        let n = d.lo.len();
        let mut low_seen = vec![false; n];
        let mut high_seen: Vec<bool> = d.hi.iter().map(Option::is_none).collect();
        let mut exact = vec![true; n];
        let note = |w: &[i128], d: &Domains, low: &mut [bool], high: &mut [bool]| {
            for (u, &x) in w.iter().enumerate() {
                low[u] |= x == d.lo[u];
                high[u] |= Some(x) == d.hi[u];
            }
        };
        for prefer in [Prefer::Low, Prefer::High] {
            match self.search(&mut d, prefer) {
                Verdict::Sat(w) => note(&w, &d, &mut low_seen, &mut high_seen),
                other => return Err(other),
            }
        }
        for v in 0..n {
            // The least value: grow a window above the low end until a
            // solution falls in it, then halve down to the least.
            let mut width: i128 = 1;
            while !low_seen[v] {
                let lo = d.lo[v];
                let top = lo.saturating_add(width - 1);
                let top = d.hi[v].map_or(top, |h| top.min(h));
                match self.within(&mut d, v, lo, Some(top), Prefer::Low) {
                    Verdict::Sat(w) => {
                        note(&w, &d, &mut low_seen, &mut high_seen);
                        if low_seen[v] {
                            break;
                        }
                        // The least lies in lo..=w[v]: halve.
                        let (mut a, mut b) = (lo, w[v]);
                        while a < b && !self.out_of_budget() {
                            let m = midpoint(a, b);
                            match self.within(&mut d, v, a, Some(m), Prefer::Low) {
                                Verdict::Sat(w) => {
                                    b = w[v];
                                    note(&w, &d, &mut low_seen, &mut high_seen);
                                }
                                Verdict::Unsat => a = m.saturating_add(1),
                                Verdict::Unknown => break,
                            }
                        }
                        if a == b {
                            if self.tighten(&mut d, v, Some(a), None).is_err() {
                                return Err(Verdict::Unknown);
                            }
                            low_seen[v] = true;
                        } else {
                            exact[v] = false;
                            break;
                        }
                    }
                    Verdict::Unsat => {
                        if self
                            .tighten(&mut d, v, Some(top.saturating_add(1)), None)
                            .is_err()
                        {
                            return Err(Verdict::Unknown);
                        }
                        width = width.saturating_mul(2);
                    }
                    Verdict::Unknown => {
                        exact[v] = false;
                        break;
                    }
                }
            }
            // The greatest value, likewise from the high end down.
            let mut width: i128 = 1;
            while !high_seen[v] {
                let Some(hi) = d.hi[v] else { break };
                let bottom = hi.saturating_sub(width - 1).max(d.lo[v]);
                match self.within(&mut d, v, bottom, Some(hi), Prefer::High) {
                    Verdict::Sat(w) => {
                        note(&w, &d, &mut low_seen, &mut high_seen);
                        if high_seen[v] {
                            break;
                        }
                        let (mut a, mut b) = (w[v], hi);
                        while a < b && !self.out_of_budget() {
                            let m = midpoint(a, b).saturating_add(1).min(b);
                            match self.within(&mut d, v, m, Some(b), Prefer::High) {
                                Verdict::Sat(w) => {
                                    a = w[v];
                                    note(&w, &d, &mut low_seen, &mut high_seen);
                                }
                                Verdict::Unsat => b = m.saturating_sub(1),
                                Verdict::Unknown => break,
                            }
                        }
                        if a == b {
                            if self.tighten(&mut d, v, None, Some(a)).is_err() {
                                return Err(Verdict::Unknown);
                            }
                            high_seen[v] = true;
                        } else {
                            exact[v] = false;
                            break;
                        }
                    }
                    Verdict::Unsat => {
                        if self
                            .tighten(&mut d, v, None, Some(bottom.saturating_sub(1)))
                            .is_err()
                        {
                            return Err(Verdict::Unknown);
                        }
                        width = width.saturating_mul(2);
                    }
                    Verdict::Unknown => {
                        exact[v] = false;
                        break;
                    }
                }
            }
        }
        Ok(Bounds { dom: d, exact })
    }

    /// Narrows a root domain by what was proven, and propagates. An empty
    /// domain here would contradict a solution found before: `Err`.
    fn tighten(
        &mut self,
        d: &mut Domains,
        v: usize,
        lo: Option<i128>,
        hi: Option<i128>,
    ) -> Result<(), Stop> {
        let r = lo
            .map_or(Ok(()), |l| self.set_lo(d, v, l))
            .and_then(|()| hi.map_or(Ok(()), |h| self.set_hi(d, v, h)))
            .and_then(|()| self.propagate(d));
        self.trail.clear();
        if r.is_err() {
            self.clear_queue();
        }
        r
    }
}

/// The middle of `a..=b` (`a <= b`), rounded down, without overflow.
fn midpoint(a: i128, b: i128) -> i128 {
    match b.checked_sub(a) {
        Some(w) => a + w / 2,
        None => a / 2 + b / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dom(v: &[(i128, Option<i128>)]) -> Domains {
        Domains {
            lo: v.iter().map(|x| x.0).collect(),
            hi: v.iter().map(|x| x.1).collect(),
        }
    }

    fn row(terms: &[(usize, i128)], rhs: i128, eq: bool) -> Row {
        Row {
            terms: terms.to_vec(),
            rhs,
            eq,
        }
    }

    #[test]
    fn an_exact_sum_pins_a_range() {
        // 334–335 = seven categories adding to exactly 334.
        let rows = [row(&[(0, 1), (1, -1)], 0, true)];
        let mut s = Solver::new(2, &rows, 10_000);
        let b = s
            .bounds(dom(&[(334, Some(335)), (334, Some(334))]))
            .unwrap();
        assert_eq!(b.dom.lo, [334, 334]);
        assert_eq!(b.dom.hi, [Some(334), Some(334)]);
        assert!(b.exact.iter().all(|e| *e));
    }

    #[test]
    fn a_lower_bound_through_a_sum() {
        // outpatients 700–753 + hospitalised 437+ <= injured 800+.
        let rows = [row(&[(0, 1), (1, 1), (2, -1)], 0, false)];
        let mut s = Solver::new(3, &rows, 10_000);
        let b = s
            .bounds(dom(&[(700, Some(753)), (437, None), (800, None)]))
            .unwrap();
        assert_eq!((b.dom.lo[2], b.dom.hi[2]), (1137, None));
    }

    #[test]
    fn gaps_propagation_cannot_see_are_found_by_search() {
        // 2a = b, b in 3..=5: only a = 2, b = 4.
        let rows = [row(&[(0, 2), (1, -1)], 0, true)];
        let mut s = Solver::new(2, &rows, 10_000);
        let b = s.bounds(dom(&[(0, Some(10)), (3, Some(5))])).unwrap();
        assert_eq!(b.dom.lo, [2, 4]);
        assert_eq!(b.dom.hi, [Some(2), Some(4)]);
        // 2a = b, b in 3..=3: none.
        let mut s = Solver::new(2, &rows, 10_000);
        assert_eq!(
            s.feasible(dom(&[(0, Some(10)), (3, Some(3))])),
            Verdict::Unsat
        );
    }

    /// Every assignment of small bounded domains.
    fn brute(n: usize, d: &Domains, rows: &[Row]) -> Option<Vec<(i128, i128)>> {
        let mut x: Vec<i128> = d.lo.clone();
        let mut b: Option<Vec<(i128, i128)>> = None;
        loop {
            let ok = rows.iter().all(|r| {
                let s: i128 = r.terms.iter().map(|&(v, c)| c * x[v]).sum();
                if r.eq {
                    s == r.rhs
                } else {
                    s <= r.rhs
                }
            });
            if ok {
                let bb = b.get_or_insert_with(|| x.iter().map(|&v| (v, v)).collect());
                for (i, &v) in x.iter().enumerate() {
                    bb[i].0 = bb[i].0.min(v);
                    bb[i].1 = bb[i].1.max(v);
                }
            }
            // Next assignment.
            let mut i = 0;
            loop {
                if i == n {
                    return b;
                }
                if Some(x[i]) == d.hi[i] {
                    x[i] = d.lo[i];
                    i += 1;
                } else {
                    x[i] += 1;
                    break;
                }
            }
        }
    }

    fn instance() -> impl Strategy<Value = (usize, Domains, Vec<Row>)> {
        (1usize..=4).prop_flat_map(|n| {
            let doms = proptest::collection::vec((0i128..8, 0i128..8), n).prop_map(|v| Domains {
                lo: v.iter().map(|&(a, b)| a.min(b)).collect(),
                hi: v.iter().map(|&(a, b)| Some(a.max(b))).collect(),
            });
            let rows = proptest::collection::vec(
                (
                    proptest::collection::vec((0..n, -3i128..=3), 1..=3),
                    -10i128..=15,
                    any::<bool>(),
                )
                    .prop_map(|(terms, rhs, eq)| Row { terms, rhs, eq }),
                0..=4,
            );
            (Just(n), doms, rows)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// With open upper ends, exactness is not claimed, soundness is:
        /// every solution brute force finds below a cap lies within the
        /// implied bounds, and the solver never calls a system with such a
        /// solution infeasible.
        #[test]
        fn open_ends_stay_sound((n, d, rows) in instance(), open in proptest::collection::vec(any::<bool>(), 4)) {
            let mut d = d;
            for (i, o) in open.iter().enumerate().take(n) {
                if *o {
                    d.hi[i] = None;
                }
            }
            let capped = Domains {
                lo: d.lo.clone(),
                hi: d.hi.iter().map(|h| Some(h.unwrap_or(12))).collect(),
            };
            let want = brute(n, &capped, &rows);
            let mut s = Solver::new(n, &rows, 200_000);
            match s.bounds(d.clone()) {
                Ok(b) => {
                    if let Some(want) = want {
                        for (i, &(lo, hi)) in want.iter().enumerate() {
                            prop_assert!(b.dom.lo[i] <= lo, "var {} low {} above a solution's {}", i, b.dom.lo[i], lo);
                            prop_assert!(b.dom.hi[i].is_none_or(|h| h >= hi), "var {} high below a solution's {}", i, hi);
                        }
                    }
                }
                Err(v) => prop_assert!(
                    v == Verdict::Unknown || want.is_none(),
                    "called infeasible, but brute force found {:?}", want
                ),
            }
        }

        #[test]
        fn feasibility_and_bounds_agree_with_brute_force((n, d, rows) in instance()) {
            let want = brute(n, &d, &rows);
            let mut s = Solver::new(n, &rows, 1_000_000);
            match s.bounds(d.clone()) {
                Ok(b) => {
                    let want = want.expect("solver found bounds of an infeasible system");
                    prop_assert!(b.exact.iter().all(|e| *e));
                    for (i, &(lo, hi)) in want.iter().enumerate() {
                        prop_assert_eq!((b.dom.lo[i], b.dom.hi[i]), (lo, Some(hi)), "var {}", i);
                    }
                }
                Err(v) => {
                    prop_assert_eq!(v, Verdict::Unsat);
                    prop_assert!(want.is_none(), "solver says infeasible, brute force found {:?}", want);
                }
            }
            let mut s = Solver::new(n, &rows, 1_000_000);
            let f = s.feasible(d.clone());
            prop_assert_eq!(matches!(f, Verdict::Sat(_)), brute(n, &d, &rows).is_some());
            if let Verdict::Sat(w) = f {
                let holds = rows.iter().all(|r| {
                    let s: i128 = r.terms.iter().map(|&(v, c)| c * w[v]).sum();
                    if r.eq { s == r.rhs } else { s <= r.rhs }
                });
                prop_assert!(holds, "the witness breaks a row");
            }
        }
    }
}
