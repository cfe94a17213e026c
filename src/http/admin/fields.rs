//! How the item editor presents a column to a person: a plain label, a
//! line of help, and the input it needs (a choice from the domain's words,
//! a picker of the event's figures or sources, a whole number, a date).
//! The columns are the field registry's (`crate::model::item::fields`), and
//! a form is read through it; this adds what only the panel needs: pickers
//! of the event's figures and sources, and a check of dates and choices in
//! plain words before anything is stored.

use crate::model::{
    Breakdown, Dataset, Qualifier, Rank, Reason, Severity, SourceKind, Status, Table,
};

/// What input a column takes.
pub enum Input {
    Text,
    Long,
    /// A whole number, typed (`inputmode="numeric"`).
    Number,
    /// A date: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// One of a closed list; `optional` offers "none".
    Choice {
        options: Vec<(String, String)>,
        optional: bool,
    },
}

/// A column as the editor shows it.
pub struct Look {
    pub label: &'static str,
    pub help: &'static str,
    pub input: Input,
}

fn words<W: Copy>(all: &[W], word: impl Fn(W) -> &'static str) -> Vec<(String, String)> {
    all.iter()
        .map(|w| (word(*w).to_string(), word(*w).replace('_', " ")))
        .collect()
}

fn figures(ds: &Dataset) -> Vec<(String, String)> {
    let mut list: Vec<&crate::model::Figure> = ds.figures.iter().collect();
    list.sort_by_key(|f| (f.position, f.key.clone()));
    list.into_iter()
        .map(|f| (f.key.clone(), format!("{} ({})", f.label, f.key)))
        .collect()
}

fn sources(ds: &Dataset) -> Vec<(String, String)> {
    ds.sources
        .iter()
        .map(|s| (s.key.clone(), format!("{} ({})", s.title, s.key)))
        .collect()
}

/// How `name` of `table` is shown, its choices taken from `ds` where they
/// name items of the event.
pub fn look(table: Table, name: &str, ds: &Dataset) -> Look {
    use Input::*;
    let choice = |options, optional| Choice { options, optional };
    let (label, help, input) = match (table, name) {
        (_, "key" | "id") => ("Key", "How the item is named in files and addresses; it cannot change.", Text),
        (Table::Figures, "label") => ("Label", "What the figure counts, as people read it.", Text),
        (Table::Figures, "unit") => ("Unit", "persons, EUR, …", Text),
        (Table::Figures, "parent") => (
            "Part of",
            "The figure this one is a category of, if any.",
            choice(figures(ds), true),
        ),
        (Table::Figures, "breakdown") => (
            "Its categories",
            "How the figures that are part of this one relate to it: exhaustive (they add up to it), partial (at most it together), overlapping (each at most it).",
            choice(words(Breakdown::ALL, Breakdown::as_str), true),
        ),
        (Table::Figures, "position") => ("Position", "Where it is listed: smaller first.", Number),
        (_, "low") => ("Low", "The lowest value; empty when open.", Number),
        (_, "best") => ("Best", "The value; alone, it is exact.", Number),
        (_, "high") => ("High", "The highest value; empty when open.", Number),
        (Table::Figures, "status") => (
            "Status",
            "confirmed, estimate or disputed.",
            choice(words(Status::ALL, Status::as_str), false),
        ),
        (_, "notes" | "note") => ("Note", "", Long),
        (Table::Claims, "figure") => ("Figure", "The figure the source states.", choice(figures(ds), false)),
        (Table::Claims, "source") => ("Source", "Where the number is stated.", choice(sources(ds), false)),
        (Table::Claims, "qualifier") => (
            "As written",
            "approximate: “about 700”; more than / fewer than: an open end.",
            choice(words(Qualifier::ALL, Qualifier::as_str), true),
        ),
        (Table::Claims, "as_of") => (
            "As of",
            "The date the number is for: 2004, 2004-09 or 2004-09-03; empty when the source does not say.",
            Date,
        ),
        (Table::Claims, "rank") => (
            "Rank",
            "preferred: the figure's value rests on it; deprecated: kept, with a reason.",
            choice(words(Rank::ALL, Rank::as_str), false),
        ),
        (Table::Claims, "reason") => (
            "Why deprecated",
            "Only for a deprecated claim.",
            choice(words(Reason::ALL, Reason::as_str), true),
        ),
        (Table::Claims, "locator") => ("Where in the source", "Section or page.", Text),
        (Table::Claims, "quote") => ("Quote", "The source's words, short.", Long),
        (Table::Sources, "title") => ("Title", "", Text),
        (Table::Sources, "author") => ("Author", "", Text),
        (Table::Sources, "publisher") => ("Publisher", "", Text),
        (Table::Sources, "kind") => (
            "Kind",
            "",
            choice(words(SourceKind::ALL, SourceKind::as_str), false),
        ),
        (Table::Sources, "published_on") => ("Published", "2005, 2005-12 or 2005-12-22.", Date),
        (Table::Sources, "url") => ("Address (URL)", "http or https.", Text),
        (Table::Rules, "expression") => (
            "Rule",
            "Sums of figure keys compared: hostages.children <= hostages.total.",
            Long,
        ),
        (Table::Rules, "severity") => (
            "Severity",
            "error: blocks publishing; warning: shown.",
            choice(words(Severity::ALL, Severity::as_str), false),
        ),
        _ => ("", "", Text),
    };
    Look { label, help, input }
}

/// What is wrong with the values typed for choices and dates, by field, in
/// plain words: checked before the item is built, so that no error reaches
/// the person in a parser's words.
pub fn check(
    table: Table,
    form: &serde_json::Map<String, serde_json::Value>,
    ds: &Dataset,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in crate::files::columns(table) {
        let typed = form
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .trim();
        if typed.is_empty() {
            continue;
        }
        match look(table, name, ds).input {
            Input::Choice { options, .. } if !options.iter().any(|(v, _)| v == typed) => {
                let names: Vec<&str> = options.iter().map(|(v, _)| v.as_str()).take(12).collect();
                let more = if options.len() > 12 { ", …" } else { "" };
                out.push((
                    name.to_string(),
                    format!(
                        "“{typed}” is not one of the choices ({}{more})",
                        names.join(", ")
                    ),
                ));
            }
            Input::Date if typed.parse::<crate::model::PartialDate>().is_err() => out.push((
                name.to_string(),
                format!("“{typed}” is not a date: write 2004, 2004-09 or 2004-09-03"),
            )),
            _ => {}
        }
    }
    out
}
