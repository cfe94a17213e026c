//! Finding and editing a changeset's items: the item browser, the editor,
//! removing, and CSV import into a draft.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::changesets::ChangeRow;
use super::{html, is_curator, page, see_other, Asked, Frame, OnPage, PanelError, Posting, T};
use crate::error::Error;
use crate::files::columns;
use crate::http::auth::{self, Curator, Member, Posted, WhoPosted};
use crate::http::problem::HttpError;
use crate::http::{blocking, AppState};
use crate::model::{Dataset, ItemEdit, Table};
use crate::service;
use crate::service::changesets::{editable_table, Choices, Merge, Precondition};
use crate::service::ABSENT_ETAG;

/// One item in the browser: its key, what people call it, and more.
pub struct Found {
    pub key: String,
    pub label: String,
    pub detail: String,
}

/// The items of one kind in the browser.
pub struct Group {
    pub table: &'static str,
    pub title: &'static str,
    pub items: Vec<Found>,
}

/// A figure's or claim's value in words: "1128", "800–", "300–400".
fn range(low: Option<i64>, best: Option<i64>, high: Option<i64>) -> String {
    match (low, best, high) {
        (None, Some(b), None) => b.to_string(),
        (l, b, h) => {
            let end = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            match b {
                Some(b) => format!("{} ({}–{})", b, end(l), end(h)),
                None => format!("{}–{}", end(l), end(h)),
            }
        }
    }
}

/// The event's items grouped by kind, those matching `q` (part of a key
/// or a label, any case) only.
fn groups(ds: &Dataset, q: &str) -> Vec<Group> {
    let q = q.trim().to_lowercase();
    let hit = |key: &str, label: &str| {
        q.is_empty() || key.to_lowercase().contains(&q) || label.to_lowercase().contains(&q)
    };
    let mut figures: Vec<&crate::model::Figure> = ds.figures.iter().collect();
    figures.sort_by_key(|f| (f.position, f.key.clone()));
    vec![
        Group {
            table: "figures",
            title: T.figures,
            items: figures
                .into_iter()
                .filter(|f| hit(&f.key, &f.label))
                .map(|f| Found {
                    key: f.key.clone(),
                    label: f.label.clone(),
                    detail: format!("{} {}", range(f.low, f.best, f.high), f.unit),
                })
                .collect(),
        },
        Group {
            table: "claims",
            title: T.claims,
            items: ds
                .claims
                .iter()
                .filter(|c| hit(&c.id, &c.quote) || hit(&c.id, &c.figure) || hit(&c.id, &c.source))
                .map(|c| Found {
                    key: c.id.clone(),
                    label: format!("{} = {}", c.figure, range(c.low, c.best, c.high)),
                    detail: format!("{} {} · {}", T.per_source, c.source, c.rank.as_str()),
                })
                .collect(),
        },
        Group {
            table: "sources",
            title: T.sources,
            items: ds
                .sources
                .iter()
                .filter(|s| hit(&s.key, &s.title))
                .map(|s| Found {
                    key: s.key.clone(),
                    label: s.title.clone(),
                    detail: s.kind.as_str().to_string(),
                })
                .collect(),
        },
        Group {
            table: "rules",
            title: T.rules,
            items: ds
                .rules
                .iter()
                .filter(|r| hit(&r.id, &r.expression))
                .map(|r| Found {
                    key: r.id.clone(),
                    label: r.expression.clone(),
                    detail: r.severity.as_str().to_string(),
                })
                .collect(),
        },
    ]
}

#[derive(Template)]
#[template(path = "admin_items.html")]
struct BrowserPage {
    f: Frame,
    id: i64,
    q: String,
    groups: Vec<Group>,
    /// Edit links are offered: a curator, on an open changeset.
    editable: bool,
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

pub async fn browser(
    state: web::Data<AppState>,
    who: Asked<Member>,
    id: web::Path<i64>,
    q: web::Query<Search>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who);
    let id = id.into_inner();
    let (cs, ds) = blocking(move || service::changesets::result(&state.db, id))
        .await
        .on(&f)?;
    let q = q.into_inner().q;
    page(&BrowserPage {
        editable: cs.state.open() && is_curator(&who),
        groups: groups(&ds, &q),
        f,
        id,
        q,
    })
}

#[derive(Deserialize)]
pub struct EditQuery {
    table: String,
    key: String,
}

pub async fn edit_redirect(
    id: web::Path<i64>,
    q: web::Query<EditQuery>,
) -> Result<HttpResponse, PanelError> {
    let key: String = q
        .key
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let t = editable_table(&q.table)?;
    Ok(see_other(&format!(
        "/admin/changesets/{}/{}/{}",
        id.into_inner(),
        t.as_str(),
        key
    )))
}

/// One field of the item editor.
pub struct Field {
    pub name: &'static str,
    /// Its plain label and a line of help (see [`super::fields`]).
    pub label: &'static str,
    pub help: &'static str,
    /// `text`, `long`, `number`, `date` or `choice`.
    pub input: &'static str,
    /// For a choice: (value, what people read); "none" first when optional.
    pub options: Vec<(String, String)>,
    pub value: String,
    pub readonly: bool,
    pub error: Option<String>,
    /// When a save was refused because the item changed meanwhile: the
    /// value it holds now, where it differs from the one typed.
    pub current: Option<String>,
}

/// A claim of the figure being edited.
pub struct ClaimLine {
    pub id: String,
    pub text: String,
}

/// A field of an item that a later published version changed too, as the
/// editor shows it: both values, and how "take the latest" treats it.
pub struct ConflictLine {
    pub name: String,
    pub label: String,
    pub published: String,
    pub draft: String,
    /// `published`, `draft` or `choose` (see [`Merge`]).
    pub merge: &'static str,
}

#[derive(Template)]
#[template(path = "admin_item.html")]
struct ItemPage {
    f: Frame,
    id: i64,
    table: &'static str,
    key: String,
    /// What people call the item: a figure's label, a source's title.
    title: String,
    /// After a save refused because the item changed meanwhile: the ETag of
    /// the item as it is now, which a save with a choice per field names.
    resolving: String,
    /// The fields a later published version changed too, when it did.
    conflict: Vec<ConflictLine>,
    exists: bool,
    etag: String,
    fields: Vec<Field>,
    /// The fields with an error, for the summary at the top.
    errors: Vec<(&'static str, String)>,
    /// The changeset is submitted: saving takes it back to draft.
    submitted: bool,
    /// The save was refused because someone changed the item meanwhile.
    stale: bool,
    /// For a figure: its claims, and the id a new claim would get.
    claims: Vec<ClaimLine>,
    new_claim: String,
    /// Checks of the changeset's result about this item that are violated;
    /// `true` when the check blocks publishing.
    violations: Vec<(bool, String)>,
}

impl ItemPage {
    /// A field's plain label, for the error summary.
    fn label_of(&self, name: &str) -> &'static str {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map_or("", |f| f.label)
    }
}

/// The violated checks of the draft's result that are about this item.
fn violations_at(ds: &Dataset, table: Table, key: &str) -> Vec<(bool, String)> {
    if !ds.validate().is_empty() {
        return Vec::new();
    }
    crate::checks::run(ds)
        .results
        .into_iter()
        .filter(|r| r.outcome == crate::checks::Outcome::Violated)
        .filter(|r| match table {
            Table::Figures => r.figures.iter().any(|f| f == key),
            Table::Claims => r.claim.as_deref() == Some(key),
            Table::Sources => r.sources.iter().any(|s| s == key),
            Table::Rules => r.check == format!("rule:{key}"),
            Table::Event => false,
        })
        .map(|r| {
            (
                r.blocks(),
                format!("{} {}: {}", r.check, r.subject, r.message),
            )
        })
        .collect()
}

/// What people call an item, for the editor's heading: a figure's label,
/// a claim's figure and source, a source's title, a rule's note; its key
/// when it has none yet.
fn title_of(table: Table, item: Option<&Json>, key: &str, ds: &Dataset) -> String {
    let get = |name: &str| text_of(item.and_then(|i| i.get(name)));
    let figure = |k: &str| {
        ds.figures
            .iter()
            .find(|f| f.key == k)
            .map_or_else(|| k.to_string(), |f| f.label.clone())
    };
    let source = |k: &str| {
        ds.sources
            .iter()
            .find(|s| s.key == k)
            .map_or_else(|| k.to_string(), |s| s.title.clone())
    };
    let title = match table {
        Table::Figures => get("label"),
        Table::Sources => get("title"),
        Table::Claims => match (get("figure"), get("source")) {
            (f, s) if f.is_empty() => s,
            (f, s) if s.is_empty() => figure(&f),
            (f, s) => format!("{}, {} {}", figure(&f), T.according_to, source(&s)),
        },
        Table::Rules => match get("note") {
            n if n.is_empty() => get("expression"),
            n => n,
        },
        Table::Event => get("title"),
    };
    if title.trim().is_empty() {
        key.to_string()
    } else {
        title
    }
}

/// The fields of an item in conflict with a later published version, as
/// the editor shows them (those both sides agree on left out).
fn conflict_lines(d: &service::changesets::ConflictDetail, fields: &[Field]) -> Vec<ConflictLine> {
    service::changesets::merge_fields(d)
        .into_iter()
        .filter(|m| m.merge != Merge::Same)
        .map(|m| ConflictLine {
            label: if m.field.is_empty() {
                T.whole_item.to_string()
            } else {
                fields
                    .iter()
                    .find(|f| f.name == m.field)
                    .map_or_else(|| m.field.clone(), |f| f.label.to_string())
            },
            published: shown_or_removed(m.published.as_ref(), m.field.is_empty()),
            draft: shown_or_removed(m.draft.as_ref(), m.field.is_empty()),
            merge: match m.merge {
                Merge::Published => "published",
                Merge::Draft => "draft",
                _ => "choose",
            },
            name: m.field,
        })
        .collect()
}

/// A value beside another: a whole item is "present" or "removed".
fn shown_or_removed(v: Option<&Json>, whole: bool) -> String {
    match (v, whole) {
        (None, true) => T.removed.to_string(),
        (Some(_), true) => T.present.to_string(),
        (v, false) => super::shown(v),
    }
}

/// The choices a form carries: `choose.FIELD` = `mine` or `theirs`.
fn choices_of(form: &Map<String, Json>) -> Choices {
    form.iter()
        .filter_map(|(k, v)| {
            let field = k.strip_prefix("choose.")?;
            let side = v.as_str()?.parse().ok()?;
            Some((field.to_string(), side))
        })
        .collect()
}

fn text_of(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn fields(
    table: Table,
    item: Option<&Json>,
    key: &str,
    problems: &[String],
    ds: &Dataset,
) -> Vec<Field> {
    columns(table)
        .into_iter()
        .map(|name| {
            let is_key = name == crate::model::key_field(table);
            let look = super::fields::look(table, name, ds);
            let (input, options) = match look.input {
                super::fields::Input::Text => ("text", Vec::new()),
                super::fields::Input::Long => ("long", Vec::new()),
                super::fields::Input::Number => ("number", Vec::new()),
                super::fields::Input::Date => ("date", Vec::new()),
                super::fields::Input::Choice {
                    mut options,
                    optional,
                } => {
                    if optional {
                        options.insert(0, (String::new(), T.choice_none.into()));
                    }
                    ("choice", options)
                }
            };
            let prefix = format!("{name}: ");
            let error = problems
                .iter()
                .filter_map(|p| p.strip_prefix(&prefix))
                .map(str::to_string)
                .reduce(|a, b| format!("{a}; {b}"));
            Field {
                name,
                label: if look.label.is_empty() {
                    name
                } else {
                    look.label
                },
                help: look.help,
                input: if is_key { "text" } else { input },
                options,
                value: if is_key {
                    key.to_string()
                } else {
                    text_of(item.and_then(|i| i.get(name)))
                },
                readonly: is_key,
                error,
                current: None,
            }
        })
        .collect()
}

/// Turns the editor's fields into an item of the table's kind, each field
/// read through the registry; errors are returned per field.
fn item_of(
    table: Table,
    key: &str,
    form: &Map<String, Json>,
) -> std::result::Result<crate::model::Item, Vec<(String, String)>> {
    let key_field = crate::model::key_field(table);
    let cell = |name: &str| -> &str {
        if name == key_field {
            return key;
        }
        form.get(name).and_then(Json::as_str).map_or("", str::trim)
    };
    let json = crate::model::item::from_cells(table, cell).map_err(|errors| {
        errors
            .into_iter()
            .map(|(field, message)| {
                let message = message
                    .strip_prefix(&format!("{field}: "))
                    .map_or(message.clone(), str::to_string);
                (field.to_string(), message)
            })
            .collect::<Vec<_>>()
    })?;
    crate::model::Item::parse(table, json).map_err(|e| vec![(key_field.to_string(), e.to_string())])
}

/// The errors of the fields, for the summary.
fn errors_of(fields: &[Field]) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .filter_map(|f| f.error.clone().map(|e| (f.name, e)))
        .collect()
}

/// A figure's claims in the changeset's result, and an id free for a new one.
fn claims_of(ds: &Dataset, figure: &str) -> (Vec<ClaimLine>, String) {
    let claims = ds
        .claims
        .iter()
        .filter(|c| c.figure == figure)
        .map(|c| ClaimLine {
            id: c.id.clone(),
            text: format!(
                "{} {} {}: {} ({})",
                T.per_source,
                c.source,
                T.states,
                range(c.low, c.best, c.high),
                c.rank.as_str()
            ),
        })
        .collect();
    let stem = figure.replace('.', "-");
    let new = (1..)
        .map(|n| format!("{stem}-{n}"))
        .find(|id| !ds.claims.iter().any(|c| &c.id == id))
        .unwrap_or(stem);
    (claims, new)
}

type ItemPath = web::Path<(i64, String, String)>;

/// A new claim's figure, when "add a claim" opened the editor.
#[derive(Deserialize)]
pub struct ItemQuery {
    done: Option<String>,
    figure: Option<String>,
    /// `rebase` when "take the latest" was refused.
    refused: Option<String>,
}

pub async fn item(
    state: web::Data<AppState>,
    who: Asked<Curator>,
    path: ItemPath,
    q: web::Query<ItemQuery>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let mut f = Frame::of(&who);
    let (id, table, key) = path.into_inner();
    let table = editable_table(&table).on(&f)?;
    let k = key.clone();
    let p = who.principal.clone();
    let (v, cs, ds, conflict) = blocking(move || {
        let v = service::changesets::item(&state.db, &p, id, table, &k)?;
        let (cs, ds) = service::changesets::result(&state.db, id)?;
        let conflict = service::changesets::conflict_at(&state.db, id, table, &k)?;
        Ok((v, cs, ds, conflict))
    })
    .await
    .on(&f)?;
    // A new claim opened from its figure starts with the figure filled in.
    let prefill = match (&v.item, table, &q.figure) {
        (None, Table::Claims, Some(fig)) => Some(serde_json::json!({ "figure": fig })),
        _ => None,
    };
    let fields = fields(
        table,
        v.item.as_ref().or(prefill.as_ref()),
        &key,
        &v.problems,
        &ds,
    );
    let errors = errors_of(&fields);
    let violations = violations_at(&ds, table, &key);
    // "Saved" only when what was saved holds together and breaks no error
    // check; otherwise the summary says what is wrong, and nothing is green.
    if !(errors.is_empty() && v.problems.is_empty()) {
        if q.done.as_deref() == Some("saved") {
            f.error = T.kept_with_problems.into();
        }
    } else if violations.iter().any(|(blocks, _)| *blocks) {
        if q.done.as_deref() == Some("saved") {
            f.error = T.kept_with_violations.into();
        }
    } else {
        f = f.notice(q.done.as_deref());
    }
    if q.refused.as_deref() == Some("rebase") {
        f.error = T.rebase_refused.into();
    }
    let (claims, new_claim) = match table {
        Table::Figures => claims_of(&ds, &key),
        _ => (Vec::new(), String::new()),
    };
    let mut errors = errors;
    // Problems not tied to one of the editor's fields are listed too.
    for p in &v.problems {
        if !fields
            .iter()
            .any(|fl| p.starts_with(&format!("{}: ", fl.name)))
        {
            errors.push(("", p.clone()));
        }
    }
    page(&ItemPage {
        f,
        id,
        table: table.as_str(),
        exists: v.item.is_some(),
        title: title_of(table, v.item.as_ref().or(prefill.as_ref()), &key, &ds),
        resolving: String::new(),
        conflict: conflict
            .as_ref()
            .map(|d| conflict_lines(d, &fields))
            .unwrap_or_default(),
        fields,
        errors,
        submitted: cs.state == service::changesets::State::Submitted,
        stale: false,
        claims,
        new_claim,
        violations,
        key,
        etag: v.etag,
    })
}

/// The editor's form: the CSRF token, the ETag seen, and the item's fields;
/// after a save refused because the item changed meanwhile, the ETag of the
/// item as the refusal showed it (`resolving`) and a choice per field that
/// differs (`choose.FIELD`); for "take the latest", `rebase`.
#[derive(Deserialize)]
pub struct ItemForm {
    csrf_token: String,
    /// The item's ETag as the editor saw it.
    #[serde(rename = "etag")]
    seen_etag: String,
    resolving: Option<String>,
    rebase: Option<String>,
    #[serde(flatten)]
    fields: Map<String, Json>,
}

impl Posted for ItemForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

fn precondition(seen_etag: &str) -> Precondition {
    if seen_etag == ABSENT_ETAG {
        Precondition::Absent
    } else {
        Precondition::Matches(seen_etag.to_string())
    }
}

pub async fn save_item(
    state: web::Data<AppState>,
    who: Posting<Curator, ItemForm>,
    path: ItemPath,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let mut f = Frame::of(&who.caller);
    let (id, table_name, key) = path.into_inner();
    let table = editable_table(&table_name).on(&f)?;
    let WhoPosted { caller, form, .. } = who;
    if form.rebase.is_some() {
        return rebase(state, caller, id, table, key, choices_of(&form.fields)).await;
    }
    // The event as the changeset has it: the editor's pickers.
    let st = state.clone();
    let (_, ds) = blocking(move || service::changesets::result(&st.db, id))
        .await
        .on(&f)?;
    // The editor again, with what was typed, and why it was not saved.
    // `resolving` is the ETag of the item as it is now, when the save was
    // refused because it changed meanwhile; the form keeps the ETag it was
    // made from, so saving again without a choice is refused again.
    let again = |f: Frame,
                 resolving: String,
                 problems: Vec<String>,
                 exists: bool,
                 current: Option<&Json>| {
        let item = Json::Object(form.fields.clone());
        let title = title_of(table, Some(&item), &key, &ds);
        let mut fields = fields(table, Some(&item), &key, &problems, &ds);
        if let Some(now) = current {
            for fl in fields.iter_mut().filter(|fl| !fl.readonly) {
                let held = text_of(now.get(fl.name));
                if held != fl.value {
                    fl.current = Some(held);
                }
            }
        }
        let mut errors = errors_of(&fields);
        // A field saved meanwhile with another value waits for a choice:
        // the summary links to each, and takes the focus.
        errors.extend(
            fields
                .iter()
                .filter(|fl| fl.current.is_some())
                .map(|fl| (fl.name, T.choose_which.to_string())),
        );
        for p in &problems {
            if !fields
                .iter()
                .any(|fl| p.starts_with(&format!("{}: ", fl.name)))
            {
                errors.push(("", p.clone()));
            }
        }
        html(
            StatusCode::UNPROCESSABLE_ENTITY,
            ItemPage {
                f,
                id,
                table: table.as_str(),
                exists,
                title,
                resolving,
                conflict: Vec::new(),
                fields,
                errors,
                submitted: false,
                stale: current.is_some(),
                claims: Vec::new(),
                new_claim: String::new(),
                violations: Vec::new(),
                key: key.clone(),
                etag: form.seen_etag.clone(),
            }
            .render(),
        )
    };
    let unreadable = super::fields::check(table, &form.fields, &ds);
    let item = match item_of(table, &key, &form.fields) {
        Ok(i) if unreadable.is_empty() => i,
        Ok(_) => {
            f.error = T.not_saved_fields.into();
            let problems = unreadable
                .iter()
                .map(|(k, m)| format!("{k}: {m}"))
                .collect();
            return Ok(again(
                f,
                String::new(),
                problems,
                form.seen_etag != ABSENT_ETAG,
                None,
            ));
        }
        Err(mut errors) => {
            // What the registry already said of a field is not said twice.
            let more: Vec<(String, String)> = unreadable
                .into_iter()
                .filter(|(k, _)| !errors.iter().any(|(e, _)| e == k))
                .collect();
            errors.extend(more);
            f.error = T.not_saved_fields.into();
            let problems = errors.iter().map(|(k, m)| format!("{k}: {m}")).collect();
            return Ok(again(
                f,
                String::new(),
                problems,
                form.seen_etag != ABSENT_ETAG,
                None,
            ));
        }
    };
    let pre = precondition(&form.seen_etag);
    let resolving = form.resolving.clone().filter(|r| !r.is_empty());
    let choices = choices_of(&form.fields);
    let st = state.clone();
    let k = key.clone();
    let saved = blocking(move || {
        let edit = ItemEdit {
            table,
            key: k,
            item: Some(item),
        };
        let (db, ctx, p) = (&st.db, &caller.ctx, &caller.principal);
        match resolving {
            Some(seen_etag) => {
                service::changesets::put_item_choosing(db, ctx, p, id, edit, &seen_etag, &choices)
            }
            None => service::changesets::put_item(db, ctx, p, id, edit, &pre),
        }
    })
    .await;
    match saved {
        Ok(_) => Ok(see_other(&format!(
            "/admin/changesets/{id}/{}/{key}?done=saved",
            table.as_str()
        ))),
        Err(Error::Stale {
            message,
            etag,
            current,
        }) => {
            tracing::debug!(%message, "a stale save, shown with both values");
            f.error = T.stale_choose.into();
            let now = current.unwrap_or(Json::Null);
            Ok(again(f, etag, Vec::new(), true, Some(&now)))
        }
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_))) => {
            f.error = format!("{} {e}", T.not_saved);
            Ok(again(
                f,
                String::new(),
                Vec::new(),
                form.seen_etag != ABSENT_ETAG,
                None,
            ))
        }
        Err(e) => Err(e).on(&f),
    }
}

/// "Take the latest and apply my change again", posted from the editor of
/// an item a later published version changed too.
async fn rebase(
    state: web::Data<AppState>,
    caller: auth::Caller,
    id: i64,
    table: Table,
    key: String,
    choices: Choices,
) -> Result<HttpResponse, PanelError> {
    let f = Frame::of(&caller);
    let k = key.clone();
    let done = blocking(move || {
        service::changesets::rebase_item(
            &state.db,
            &caller.ctx,
            &caller.principal,
            id,
            table,
            &k,
            &choices,
        )
    })
    .await;
    let to = format!("/admin/changesets/{id}/{}/{key}", table.as_str());
    match done {
        Ok(_) => Ok(see_other(&format!("{to}?done=rebased"))),
        Err(Error::Conflict(_)) => Ok(see_other(&format!("{to}?refused=rebase#conflict"))),
        Err(e) => Err(e).on(&f),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    csrf_token: String,
    /// The item's ETag as the editor saw it.
    #[serde(rename = "etag")]
    seen_etag: String,
}

impl Posted for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

pub async fn delete_item(
    state: web::Data<AppState>,
    who: Posting<Curator, DeleteForm>,
    path: ItemPath,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let (id, table, key) = path.into_inner();
    let table = editable_table(&table).on(&f)?;
    let WhoPosted { caller, form, .. } = who;
    let pre = precondition(&form.seen_etag);
    blocking(move || {
        service::changesets::put_item(
            &state.db,
            &caller.ctx,
            &caller.principal,
            id,
            ItemEdit {
                table,
                key,
                item: None,
            },
            &pre,
        )
    })
    .await
    .on(&f)?;
    Ok(see_other(&format!("/admin/changesets/{id}?done=removed")))
}

#[derive(Template)]
#[template(path = "admin_import.html")]
struct ImportPage {
    f: Frame,
    id: i64,
    dry_run: bool,
    changes: Vec<ChangeRow>,
}

/// The most a panel upload may hold, all files together.
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// Reads the upload form: the CSRF token, whether to preview, the files.
async fn read_upload(
    mut form: actix_multipart::Multipart,
) -> Result<(String, bool, Vec<(String, Vec<u8>)>), HttpError> {
    use futures_util::StreamExt;
    let (mut csrf, mut preview, mut files) = (String::new(), false, Vec::new());
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| Error::BadRequest(format!("{} {e}", T.upload_invalid)))?;
        let name = field.name().unwrap_or_default().to_string();
        let file = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| Error::BadRequest(format!("{} {e}", T.upload_invalid)))?;
            total += chunk.len();
            if total > UPLOAD_LIMIT {
                return Err(HttpError::TooLarge(format!(
                    "{} {} MiB",
                    T.upload_too_large,
                    UPLOAD_LIMIT / 1024 / 1024
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        match (name.as_str(), file) {
            ("csrf_token", _) => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            ("preview", _) => preview = !bytes.is_empty(),
            ("files", Some(f)) if !f.is_empty() => files.push((f, bytes)),
            _ => {}
        }
    }
    Ok((csrf, preview, files))
}

pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: actix_multipart::Multipart,
) -> Result<HttpResponse, PanelError> {
    let id = id.into_inner();
    // Who and which role first: nobody else's upload is read at all.
    let caller = auth::authenticate_before_body(&req).await?;
    let f = Frame::of(&caller);
    auth::allowed::<Curator>(&caller.principal).on(&f)?;
    let (csrf, dry_run, files) = read_upload(form).await.on(&f)?;
    auth::check_csrf(&caller, &csrf).on(&f)?;
    let folder = crate::http::admin_api::folder_of(files).on(&f)?;
    let changes = blocking(move || {
        service::changesets::import_into(
            &state.db,
            &caller.ctx,
            &caller.principal,
            id,
            &folder,
            dry_run,
        )
    })
    .await
    .on(&f)?;
    page(&ImportPage {
        f,
        id,
        dry_run,
        changes: changes.iter().map(ChangeRow::of).collect(),
    })
}
