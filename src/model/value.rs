//! Values as the memorial holds them: a `best` figure, a `low`–`high` range
//! with open ends, or both; and the interval every value stands for.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A curated or claimed value. `best` alone is exact; otherwise an empty end
/// is open ("800+" is `low` 800).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    pub low: Option<i64>,
    pub best: Option<i64>,
    pub high: Option<i64>,
}

impl Value {
    /// An exact value.
    pub fn exact(n: i64) -> Self {
        Self {
            low: None,
            best: Some(n),
            high: None,
        }
    }

    /// True when none of low, best, high is given.
    pub fn is_empty(&self) -> bool {
        self.low.is_none() && self.best.is_none() && self.high.is_none()
    }

    /// The interval this value stands for. Quantities are never negative, so
    /// an open low end is 0; an open high end is unbounded.
    pub fn interval(&self) -> Interval {
        match (self.low, self.best, self.high) {
            (None, Some(b), None) => Interval::point(i128::from(b)),
            (low, _, high) => Interval {
                lo: low.map_or(0, i128::from),
                hi: high.map(i128::from),
            },
        }
    }

    /// What is wrong with the value's shape, if anything: a negative number,
    /// or `best` outside `low`–`high`, or `low` above `high`.
    pub fn shape_problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (field, v) in [("low", self.low), ("best", self.best), ("high", self.high)] {
            if let Some(n) = v.filter(|n| *n < 0) {
                out.push((
                    field,
                    format!("{field} is {n}: counts and amounts cannot be negative"),
                ));
            }
        }
        if let (Some(l), Some(h)) = (self.low, self.high) {
            if l > h {
                out.push(("high", format!("low {l} is above high {h}")));
            }
        }
        if let (Some(l), Some(b)) = (self.low, self.best) {
            if b < l {
                out.push(("best", format!("best {b} is below low {l}")));
            }
        }
        if let (Some(b), Some(h)) = (self.best, self.high) {
            if b > h {
                out.push(("best", format!("best {b} is above high {h}")));
            }
        }
        out
    }
}

impl fmt::Display for Value {
    /// "334", "800+", "58–76", "1,100 (1,000–1,200)", "up to 400".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = |n: i64| Grouped(i128::from(n));
        if let Some(b) = self.best {
            write!(f, "{}", g(b))?;
            if self.low.is_none() && self.high.is_none() {
                return Ok(());
            }
            f.write_str(" (")?;
        }
        match (self.low, self.high) {
            (Some(l), Some(h)) if l == h => write!(f, "{}", g(l))?,
            (Some(l), Some(h)) => write!(f, "{}–{}", g(l), g(h))?,
            (Some(l), None) => write!(f, "{}+", g(l))?,
            (None, Some(h)) => write!(f, "up to {}", g(h))?,
            (None, None) => f.write_str("unknown")?,
        }
        if self.best.is_some() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Digits grouped by thousands with commas: 1128 → "1,128".
pub fn group(n: impl Into<i128>) -> String {
    Grouped(n.into()).to_string()
}

/// A number that displays grouped by thousands, as [`group`] writes it,
/// without allocating: messages of the checks show many numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grouped(pub i128);

impl fmt::Display for Grouped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // u128::MAX has 39 digits.
        let mut buf = [0u8; 39];
        let mut at = buf.len();
        let mut m = self.0.unsigned_abs();
        // Division of u128 is slow; peel off what does not fit a u64 first.
        while m > u128::from(u64::MAX) {
            at -= 1;
            // `m % 10` is below 10, so the cast cannot truncate.
            buf[at] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        let mut m = u64::try_from(m).map_err(|_| fmt::Error)?;
        loop {
            at -= 1;
            buf[at] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let digits = &buf[at..];
        let first = match digits.len() % 3 {
            0 => 3,
            r => r,
        };
        let (head, rest) = digits.split_at(first);
        f.write_str(std::str::from_utf8(head).map_err(|_| fmt::Error)?)?;
        for chunk in rest.chunks(3) {
            f.write_str(",")?;
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// A closed interval of integers, `[lo, hi]`, `hi = None` meaning unbounded
/// above. Wide integers keep sums of many large figures exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub lo: i128,
    pub hi: Option<i128>,
}

impl Interval {
    /// `[n, n]`.
    pub fn point(n: i128) -> Self {
        Self { lo: n, hi: Some(n) }
    }

    /// `[0, ∞)`: nothing is known.
    pub fn unknown() -> Self {
        Self { lo: 0, hi: None }
    }

    /// The sum of two intervals: every total two values from them can make.
    /// An end that is open on either side stays open. (A method rather than
    /// `std::ops::Add`: it saturates, which `+` should not hide.)
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Self) -> Self {
        Self {
            lo: if self.open_below() || other.open_below() {
                i128::MIN
            } else {
                self.lo.saturating_add(other.lo)
            },
            hi: self.hi.zip(other.hi).map(|(a, b)| a.saturating_add(b)),
        }
    }

    /// The interval scaled by an integer; a negative factor turns it around,
    /// so the result may be unbounded below (`lo` is then `i128::MIN`).
    pub fn scale(self, k: i128) -> Self {
        if k == 0 {
            Self::point(0)
        } else if k > 0 {
            Self {
                lo: if self.open_below() {
                    i128::MIN
                } else {
                    self.lo.saturating_mul(k)
                },
                hi: self.hi.map(|h| h.saturating_mul(k)),
            }
        } else {
            Self {
                lo: self.hi.map_or(i128::MIN, |h| h.saturating_mul(k)),
                hi: (!self.open_below()).then(|| self.lo.saturating_mul(k)),
            }
        }
    }

    /// True when no integer lies inside: `lo` above `hi`, as a value whose low
    /// end is above its high end gives.
    pub fn is_empty(&self) -> bool {
        self.hi.is_some_and(|h| h < self.lo)
    }

    /// True when the interval is unbounded below (only after a negative scale).
    pub fn open_below(&self) -> bool {
        self.lo == i128::MIN
    }

    /// True when `n` lies inside.
    pub fn contains(&self, n: i128) -> bool {
        n >= self.lo && self.hi.is_none_or(|h| n <= h)
    }

    /// True when every value of `other` lies inside this one.
    pub fn covers(&self, other: &Self) -> bool {
        other.lo >= self.lo
            && match (self.hi, other.hi) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => b <= a,
            }
    }

    /// The smallest interval holding both.
    pub fn hull(self, other: Self) -> Self {
        Self {
            lo: self.lo.min(other.lo),
            hi: self.hi.zip(other.hi).map(|(a, b)| a.max(b)),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hi {
            Some(h) if h == self.lo => write!(f, "{}", Grouped(h)),
            Some(h) if self.open_below() => write!(f, "at most {}", Grouped(h)),
            Some(h) => write!(f, "{}–{}", Grouped(self.lo), Grouped(h)),
            None => write!(f, "{}+", Grouped(self.lo)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_alone_is_exact_otherwise_ends_are_open() {
        assert_eq!(Value::exact(334).interval(), Interval::point(334));
        let v = Value {
            low: Some(800),
            best: None,
            high: None,
        };
        assert_eq!(v.interval(), Interval { lo: 800, hi: None });
        let v = Value {
            low: Some(58),
            best: Some(60),
            high: Some(76),
        };
        assert_eq!(
            v.interval(),
            Interval {
                lo: 58,
                hi: Some(76)
            }
        );
        let v = Value {
            low: None,
            best: Some(50),
            high: Some(76),
        };
        assert_eq!(
            v.interval(),
            Interval {
                lo: 0,
                hi: Some(76)
            }
        );
    }

    #[test]
    fn displays_like_a_person_writes() {
        assert_eq!(Value::exact(1128).to_string(), "1,128");
        let open = Value {
            low: Some(800),
            ..Value::default()
        };
        assert_eq!(open.to_string(), "800+");
        let range = Value {
            low: Some(58),
            best: None,
            high: Some(76),
        };
        assert_eq!(range.to_string(), "58–76");
        assert_eq!(group(-1234567), "-1,234,567");
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(123456), "123,456");
        assert_eq!(
            group(i128::MIN),
            "-170,141,183,460,469,231,731,687,303,715,884,105,728"
        );
        let both = Value {
            low: Some(1000),
            best: Some(1100),
            high: Some(1200),
        };
        assert_eq!(both.to_string(), "1,100 (1,000–1,200)");
        let up_to = Value {
            high: Some(400),
            ..Value::default()
        };
        assert_eq!(up_to.to_string(), "up to 400");
        assert_eq!(Value::default().to_string(), "unknown");
    }

    #[test]
    fn open_ends_stay_open_through_sums_and_scales() {
        let unknown = Interval::unknown();
        let below = unknown.scale(-1);
        assert!(below.open_below());
        assert_eq!(below.hi, Some(0));
        // An open low end stays open when a bounded interval is added.
        let sum = below.add(Interval::point(5));
        assert!(sum.open_below());
        assert_eq!(sum.hi, Some(5));
        assert_eq!(sum.to_string(), "at most 5");
        // Turning an interval open below around makes it open above.
        assert_eq!(sum.scale(-2), Interval { lo: -10, hi: None });
        assert!(sum.scale(3).open_below());
        assert_eq!(unknown.scale(0), Interval::point(0));
        assert!(Interval { lo: 3, hi: Some(2) }.is_empty());
        assert!(!Interval::point(2).is_empty() && !unknown.is_empty());
    }

    #[test]
    fn shape_problems_name_the_field() {
        let v = Value {
            low: Some(10),
            best: Some(5),
            high: Some(3),
        };
        let fields: Vec<_> = v.shape_problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["high", "best", "best"]);
        assert!(Value::exact(-1).shape_problems()[0].1.contains("negative"));
    }
}
