//! What changed between two datasets of one event, item by item.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use super::{Dataset, Table};

/// One item added (`before` is `None`), removed (`after` is `None`) or
/// changed (both present), as the JSON the published document uses.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub table: Table,
    pub key: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Json>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Json>,
}

impl Change {
    /// "added", "removed" or "changed".
    pub fn kind(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
    }
}

fn items<T: Serialize>(
    list: &[T],
    key: impl Fn(&T) -> &str,
) -> Result<BTreeMap<String, Json>, serde_json::Error> {
    list.iter()
        .map(|x| Ok((key(x).to_string(), serde_json::to_value(x)?)))
        .collect()
}

impl Dataset {
    /// Every item that differs from `self` to `other`, by table then key.
    pub fn changes(&self, other: &Dataset) -> Result<Vec<Change>, serde_json::Error> {
        let mut out = Vec::new();
        let pairs = [
            (
                Table::Event,
                items(std::slice::from_ref(&self.event), |e| &e.slug)?,
                items(std::slice::from_ref(&other.event), |e| &e.slug)?,
            ),
            (
                Table::Sources,
                items(&self.sources, |s| &s.key)?,
                items(&other.sources, |s| &s.key)?,
            ),
            (
                Table::Figures,
                items(&self.figures, |f| &f.key)?,
                items(&other.figures, |f| &f.key)?,
            ),
            (
                Table::Claims,
                items(&self.claims, |c| &c.id)?,
                items(&other.claims, |c| &c.id)?,
            ),
            (
                Table::Rules,
                items(&self.rules, |r| &r.id)?,
                items(&other.rules, |r| &r.id)?,
            ),
        ];
        for (table, mut before, after) in pairs {
            for (key, a) in after {
                match before.remove(&key) {
                    Some(b) if b == a => {}
                    b => out.push(Change {
                        table,
                        key,
                        before: b,
                        after: Some(a),
                    }),
                }
            }
            for (key, b) in before {
                out.push(Change {
                    table,
                    key,
                    before: Some(b),
                    after: None,
                });
            }
        }
        out.sort_by(|a, b| (a.table, &a.key).cmp(&(b.table, &b.key)));
        Ok(out)
    }
}
