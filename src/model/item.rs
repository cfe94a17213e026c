//! The five kinds of item a dataset holds, and one registry of their fields.
//!
//! Each kind ([`Event`], [`Source`], [`Figure`], [`Claim`], [`Rule`]) says
//! once, beside its type, what its fields are: name, label, help and what
//! input each takes ([`Field`]). Everything that lists fields reads it: the
//! CSV columns and their parsing ([`crate::files`]), the panel's editor, the
//! diffs, the text policy. [`Item`] is one item of any kind, and
//! [`with_kind!`] is the one place where code is chosen by kind.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{Claim, Dataset, Event, Figure, PartialDate, Rule, Source, Table};

/// What a field takes, as a form input and as a CSV cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The item's own key (or id, or slug): fixed once the item exists.
    Key,
    /// One line of text.
    Text,
    /// Paragraphs of text.
    LongText,
    /// A web address.
    Url,
    /// A whole number; empty is "not given".
    Number,
    /// A whole percentage, 0 or more; empty is "not given".
    Percent,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, kept at the precision given.
    Date,
    /// One of a closed set of words.
    Choice(&'static [&'static str]),
    /// The key of another item, of the given kind.
    Reference(Table),
}

/// One field of a kind of item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// As in CSV headers, JSON and forms.
    pub name: &'static str,
    /// As people read it.
    pub label: &'static str,
    /// One sentence on what to write.
    pub help: &'static str,
    pub input: Input,
    /// Whether an empty value is refused (choices and dates that must be
    /// given; text may always be empty here, the dataset's checks say more).
    pub required: bool,
}

impl Field {
    /// A field that may be left empty.
    pub const fn new(name: &'static str, label: &'static str, input: Input) -> Self {
        Self {
            name,
            label,
            help: "",
            input,
            required: false,
        }
    }

    /// The same field, with help text.
    pub const fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }

    /// The same field, refused when empty.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Whether the field holds free text (the text policy applies).
    pub fn is_text(&self) -> bool {
        matches!(self.input, Input::Text | Input::LongText | Input::Url)
    }

    /// A field's value as text, as CSV cells and forms hold it: empty for
    /// "not given".
    pub fn cell(value: Option<&Json>) -> String {
        match value {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }

    /// Reads a cell (or a form field) as this field's JSON value: `Ok(None)`
    /// leaves the field out, so that its default applies. The message says
    /// what is wrong in plain words.
    pub fn parse(&self, raw: &str) -> Result<Option<Json>, String> {
        let name = self.name;
        if raw.is_empty() {
            return match self.input {
                Input::Key | Input::Text | Input::LongText | Input::Url => {
                    Ok(Some(Json::String(String::new())))
                }
                Input::Reference(_) if self.required => Ok(Some(Json::String(String::new()))),
                _ if self.required => Err(format!("{name} is required")),
                _ => Ok(None),
            };
        }
        match self.input {
            Input::Key | Input::Text | Input::LongText | Input::Url | Input::Reference(_) => {
                Ok(Some(Json::String(raw.to_string())))
            }
            Input::Number => raw
                .parse::<i64>()
                .map(|n| Some(Json::from(n)))
                .map_err(|_| {
                    let hint = if raw.contains([',', ' ', '.']) {
                        ": write digits only, without separators or decimals (1128, not 1,128)"
                    } else if raw
                        .trim_start_matches('-')
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                    {
                        ": the number is too large"
                    } else {
                        ""
                    };
                    format!("{name}: '{raw}' is not a whole number{hint}")
                }),
            Input::Percent => raw
                .parse::<u32>()
                .map(|n| Some(Json::from(n)))
                .map_err(|e| format!("{name}: {e}")),
            Input::Date => raw
                .parse::<PartialDate>()
                .map(|_| Some(Json::String(raw.to_string())))
                .map_err(|e| format!("{name}: {e}")),
            Input::Choice(words) => {
                if words.contains(&raw) {
                    Ok(Some(Json::String(raw.to_string())))
                } else {
                    Err(format!(
                        "{name}: '{raw}' is not one of: {}",
                        words.join(", ")
                    ))
                }
            }
        }
    }
}

/// What every kind of item has: its table, its fields, its key, and where
/// it lives in a dataset.
pub trait Kind: Serialize + DeserializeOwned + Clone + PartialEq + Sized + 'static {
    /// The table (and import file) that holds items of this kind.
    const TABLE: Table;
    /// Every field, in the order of the CSV columns.
    const FIELDS: &'static [Field];
    /// The field that holds the key.
    const KEY: &'static str;
    /// Fields a CSV file may leave out (added after files were written).
    const OPTIONAL_COLUMNS: &'static [&'static str] = &[];
    /// The item's key.
    fn key(&self) -> &str;
    /// The items of this kind in `ds`.
    fn of(ds: &Dataset) -> &[Self];
    /// The list to edit, or `None` for the event, which is one and stays.
    fn list(ds: &mut Dataset) -> Option<&mut Vec<Self>>;
    /// The item as an [`Item`].
    fn into_item(self) -> Item;
    /// The item, if `item` is of this kind.
    fn from_item(item: Item) -> Option<Self>;
}

/// Runs `$body` with `$k` standing for the kind of `$table`: the one place
/// code is chosen by kind.
macro_rules! with_kind {
    ($table:expr, $k:ident => $body:expr) => {
        match $table {
            $crate::model::Table::Event => {
                type $k = $crate::model::Event;
                $body
            }
            $crate::model::Table::Sources => {
                type $k = $crate::model::Source;
                $body
            }
            $crate::model::Table::Figures => {
                type $k = $crate::model::Figure;
                $body
            }
            $crate::model::Table::Claims => {
                type $k = $crate::model::Claim;
                $body
            }
            $crate::model::Table::Rules => {
                type $k = $crate::model::Rule;
                $body
            }
        }
    };
}
pub(crate) use with_kind;

/// One item of any kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Item {
    Event(Event),
    Source(Source),
    Figure(Figure),
    Claim(Claim),
    Rule(Rule),
}

/// Why an item cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError(pub String);

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Item {
    /// Reads stored JSON text as an item of `table`, straight into its type.
    pub fn from_text(table: Table, text: &str) -> Result<Item, ItemError> {
        with_kind!(table, K => serde_json::from_str::<K>(text)
        .map(K::into_item)
        .map_err(|e| ItemError(format!(
            "the {} item is not valid: {e}",
            table.as_str().trim_end_matches('s')
        ))))
    }

    /// Calls `f` with the name and value of every string field of the
    /// item, in the order it is written.
    pub fn each_string(&self, f: &mut dyn FnMut(&'static str, &str)) {
        match self {
            Item::Event(x) => super::texts::each_string(x, f),
            Item::Source(x) => super::texts::each_string(x, f),
            Item::Figure(x) => super::texts::each_string(x, f),
            Item::Claim(x) => super::texts::each_string(x, f),
            Item::Rule(x) => super::texts::each_string(x, f),
        }
    }

    /// The table the item belongs to.
    pub fn table(&self) -> Table {
        match self {
            Item::Event(_) => Table::Event,
            Item::Source(_) => Table::Sources,
            Item::Figure(_) => Table::Figures,
            Item::Claim(_) => Table::Claims,
            Item::Rule(_) => Table::Rules,
        }
    }

    /// The item's key.
    pub fn key(&self) -> &str {
        match self {
            Item::Event(x) => x.key(),
            Item::Source(x) => x.key(),
            Item::Figure(x) => x.key(),
            Item::Claim(x) => x.key(),
            Item::Rule(x) => x.key(),
        }
    }

    /// An item of `table` from its JSON, as the API and stored edits carry
    /// it; the error says what is wrong with it.
    pub fn parse(table: Table, json: Json) -> Result<Item, ItemError> {
        with_kind!(table, K => serde_json::from_value::<K>(json)
        .map(K::into_item)
        .map_err(|e| ItemError(format!(
            "the {} item is not valid: {e}",
            table.as_str().trim_end_matches('s')
        ))))
    }

    /// The item as the published document shows it.
    pub fn to_json(&self) -> Result<Json, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// The fields of `table`'s kind.
pub fn fields(table: Table) -> &'static [Field] {
    with_kind!(table, K => K::FIELDS)
}

/// The field that holds the key of `table`'s items.
pub fn key_field(table: Table) -> &'static str {
    with_kind!(table, K => K::KEY)
}

/// Reads an item's fields from text cells (a CSV row or a form), each
/// through its [`Field`]: the item's JSON, or every field's problem.
pub fn from_cells<'a>(
    table: Table,
    cell: impl Fn(&'static str) -> &'a str,
) -> Result<Json, Vec<(&'static str, String)>> {
    let mut out = Map::new();
    let mut errors = Vec::new();
    for f in fields(table) {
        match f.parse(cell(f.name)) {
            Ok(Some(v)) => {
                out.insert(f.name.to_string(), v);
            }
            Ok(None) => {}
            Err(e) => errors.push((f.name, e)),
        }
    }
    if errors.is_empty() {
        Ok(Json::Object(out))
    } else {
        Err(errors)
    }
}

/// An item's fields as text cells, in column order.
pub fn to_cells<K: Kind>(item: &K) -> Result<Vec<String>, serde_json::Error> {
    let json = serde_json::to_value(item)?;
    Ok(K::FIELDS
        .iter()
        .map(|f| Field::cell(json.get(f.name)))
        .collect())
}

/// One field that differs between two versions of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub label: &'static str,
    /// Empty when the field was not given.
    pub before: String,
    pub after: String,
}

/// The fields that differ between two versions of an item of `table`
/// (either may be absent: added or removed), in field order.
pub fn field_changes(
    table: Table,
    before: Option<&Json>,
    after: Option<&Json>,
) -> Vec<FieldChange> {
    fields(table)
        .iter()
        .filter_map(|f| {
            let b = Field::cell(before.and_then(|j| j.get(f.name)));
            let a = Field::cell(after.and_then(|j| j.get(f.name)));
            (b != a).then_some(FieldChange {
                field: f.name,
                label: f.label,
                before: b,
                after: a,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry lists exactly the fields serde writes, in order: a
    /// field added to a type without its [`Field`] fails here.
    #[test]
    fn every_field_of_every_kind_is_registered() {
        let least = |t: Table| match t {
            Table::Event => serde_json::json!({"slug": "e", "title": "E", "location": "L",
                "started_on": "2004", "ended_on": "2004", "timezone": "UTC", "summary": ""}),
            Table::Sources => serde_json::json!({"key": "s", "title": "S", "kind": "news"}),
            Table::Figures => {
                serde_json::json!({"key": "f", "label": "F", "unit": "persons", "status": "estimate"})
            }
            Table::Claims => {
                serde_json::json!({"id": "c", "figure": "f", "source": "s", "rank": "normal"})
            }
            Table::Rules => {
                serde_json::json!({"id": "r", "expression": "f >= 0", "severity": "error"})
            }
        };
        for &table in Table::ALL {
            let json = Item::parse(table, least(table))
                .and_then(|i| i.to_json().map_err(|e| ItemError(e.to_string())))
                .unwrap_or_else(|e| panic!("{table}: {e}"));
            let names: Vec<&str> = json
                .as_object()
                .unwrap_or_else(|| panic!("{table} is not an object"))
                .keys()
                .map(String::as_str)
                .collect();
            let mut registered: Vec<&str> = fields(table).iter().map(|f| f.name).collect();
            let mut serialised = names.clone();
            registered.sort_unstable();
            serialised.sort_unstable();
            assert_eq!(registered, serialised, "{table}: registry vs type");
            assert!(fields(table).iter().all(|f| !f.label.is_empty()));
            assert_eq!(
                fields(table)
                    .iter()
                    .filter(|f| f.input == Input::Key)
                    .count(),
                1,
                "{table} has one key field"
            );
            assert_eq!(
                fields(table)
                    .iter()
                    .find(|f| f.input == Input::Key)
                    .map(|f| f.name),
                Some(key_field(table))
            );
        }
    }

    #[test]
    fn cells_say_what_is_wrong_in_plain_words() {
        let row = |pairs: &[(&'static str, &'static str)]| {
            let pairs = pairs.to_vec();
            from_cells(Table::Figures, move |n| {
                pairs.iter().find(|(k, _)| *k == n).map_or("", |(_, v)| v)
            })
        };
        let ok = row(&[
            ("key", "a"),
            ("label", "A"),
            ("status", "confirmed"),
            ("best", "3"),
        ])
        .unwrap_or_else(|e| panic!("{e:?}"));
        let f: Figure = serde_json::from_value(ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (f.best, f.low, f.position, f.parent),
            (Some(3), None, 0, None)
        );
        let bad = row(&[("key", "a"), ("status", "sure"), ("best", "1,128")])
            .err()
            .unwrap_or_default();
        assert_eq!(
            bad,
            vec![
                ("best", "best: '1,128' is not a whole number: write digits only, without separators or decimals (1128, not 1,128)".to_string()),
                ("status", "status: 'sure' is not one of: confirmed, estimate, disputed".to_string()),
            ]
        );
        let missing = row(&[("key", "a")]).err().unwrap_or_default();
        assert_eq!(missing, vec![("status", "status is required".to_string())]);
    }

    #[test]
    fn field_changes_name_only_what_changed() {
        let a = serde_json::json!({"key": "k", "label": "A", "best": 3, "notes": ""});
        let b = serde_json::json!({"key": "k", "label": "A", "best": 4, "notes": "n"});
        let got = field_changes(Table::Figures, Some(&a), Some(&b));
        let summary: Vec<_> = got
            .iter()
            .map(|c| format!("{}: {} → {}", c.label, c.before, c.after))
            .collect();
        assert_eq!(summary, ["Best estimate: 3 → 4", "Notes:  → n"]);
        assert_eq!(field_changes(Table::Figures, None, Some(&a)).len(), 3);
    }
}
