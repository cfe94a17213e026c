//! Dates with the precision their source gave: `2004`, `2004-09` or `2004-09-07`.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date known to the year, the month or the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartialDate {
    year: i32,
    month: Option<u32>,
    day: Option<u32>,
}

impl PartialDate {
    /// The year, always known.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The first full day this date could mean, for ordering and ranges.
    pub fn earliest(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }
}

impl FromStr for PartialDate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a date: expected YYYY, YYYY-MM or YYYY-MM-DD");
        let parts: Vec<&str> = s.split('-').collect();
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            [y] if digits(y, 4) => Ok(Self {
                year: y.parse().map_err(|_| bad())?,
                month: None,
                day: None,
            }),
            [y, m] if digits(y, 4) && digits(m, 2) => {
                let month: u32 = m.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&month) {
                    return Err(format!("'{s}': month {month} does not exist"));
                }
                Ok(Self {
                    year: y.parse().map_err(|_| bad())?,
                    month: Some(month),
                    day: None,
                })
            }
            [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
                let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| format!("'{s}' is not a day of the calendar"))?;
                Ok(Self::from(date))
            }
            _ => Err(bad()),
        }
    }
}

impl From<NaiveDate> for PartialDate {
    fn from(date: NaiveDate) -> Self {
        use chrono::Datelike;
        Self {
            year: date.year(),
            month: Some(date.month()),
            day: Some(date.day()),
        }
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_precision() {
        for s in ["2004", "2004-09", "2004-09-07"] {
            assert_eq!(
                s.parse::<PartialDate>().map(|d| d.to_string()),
                Ok(s.into())
            );
        }
    }

    #[test]
    fn refuses_impossible_dates() {
        for s in [
            "2004-13",
            "2004-02-30",
            "04",
            "2004-9-7",
            "",
            "2004-09-07T00:00",
        ] {
            assert!(s.parse::<PartialDate>().is_err(), "{s}");
        }
    }

    #[test]
    fn orders_by_earliest_day() {
        let a: PartialDate = "2004-09".parse().unwrap_or_else(|e| panic!("{e}"));
        let b: PartialDate = "2004-09-07".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(a.earliest() < b.earliest());
    }
}
