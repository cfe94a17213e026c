//! How the item editor presents a column to a person: a plain label, a
//! line of help, and the input it needs (a choice from the domain's words,
//! a picker of the event's figures or sources, a whole number, a date).
//! Labels, help and inputs are the field registry's
//! (`crate::model::item::fields`), and a form is read through it; this adds
//! what only the panel needs: pickers of the event's figures and sources,
//! and a check of dates and choices in plain words before anything is
//! stored.

use crate::model::{Dataset, Table};

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

fn words(all: &[&'static str]) -> Vec<(String, String)> {
    all.iter()
        .map(|w| (w.to_string(), w.replace('_', " ")))
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

/// How `name` of `table` is shown: the registry's label, help and input
/// ([`crate::model::Kind::FIELDS`]), with references as pickers of the
/// event's figures or sources taken from `ds`.
pub fn look(table: Table, name: &str, ds: &Dataset) -> Look {
    use crate::model::Input as Registry;
    let Some(field) = crate::model::item::fields(table)
        .iter()
        .find(|f| f.name == name)
    else {
        return Look {
            label: "",
            help: "",
            input: Input::Text,
        };
    };
    let optional = !field.required;
    let input = match field.input {
        Registry::Key | Registry::Text | Registry::Url => Input::Text,
        Registry::LongText => Input::Long,
        Registry::Number | Registry::Percent => Input::Number,
        Registry::Date => Input::Date,
        Registry::Choice(all) => Input::Choice {
            options: words(all),
            optional,
        },
        Registry::Reference(Table::Sources) => Input::Choice {
            options: sources(ds),
            optional,
        },
        Registry::Reference(_) => Input::Choice {
            options: figures(ds),
            optional,
        },
    };
    Look {
        label: field.label,
        help: field.help,
        input,
    }
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
                        "“{typed}” {} ({}{more})",
                        super::T.not_a_choice,
                        names.join(", ")
                    ),
                ));
            }
            Input::Date if typed.parse::<crate::model::PartialDate>().is_err() => out.push((
                name.to_string(),
                format!("“{typed}” {}", super::T.not_a_partial_date),
            )),
            _ => {}
        }
    }
    out
}
