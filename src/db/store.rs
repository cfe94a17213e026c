//! Reading and writing the model's tables. Rows are converted to and from
//! the domain types here, so nothing above this module sees a row.

use diesel::prelude::*;

use super::schema::{
    changeset_comments, changeset_edits, changesets, claims, events, figures, rules, sources,
    versions,
};
use super::Conn;
use crate::error::{Error, Result};
use crate::model::{Claim, Dataset, Event, Figure, Kind, Rule, Source};

/// Rows per INSERT statement, under SQLite's limit of bound parameters.
const CHUNK: usize = 1000;

#[derive(Debug, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub(super) struct EventRow {
    slug: String,
    title: String,
    location: String,
    started_on: String,
    ended_on: String,
    timezone: String,
    summary: String,
    /// Absent from backups made before the column existed.
    #[serde(default)]
    approximation: Option<i64>,
}

#[derive(Debug, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = sources, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceRow {
    event: String,
    key: String,
    title: String,
    author: String,
    publisher: String,
    kind: String,
    published_on: Option<String>,
    url: String,
    notes: String,
}

#[derive(Debug, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = figures, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub(super) struct FigureRow {
    event: String,
    key: String,
    label: String,
    unit: String,
    parent: Option<String>,
    breakdown: Option<String>,
    position: i64,
    low: Option<i64>,
    best: Option<i64>,
    high: Option<i64>,
    status: String,
    notes: String,
}

#[derive(Debug, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = claims, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub(super) struct ClaimRow {
    event: String,
    id: String,
    figure: String,
    source: String,
    low: Option<i64>,
    best: Option<i64>,
    high: Option<i64>,
    /// Absent from backups made before the column existed.
    #[serde(default)]
    qualifier: Option<String>,
    as_of: Option<String>,
    rank: String,
    reason: Option<String>,
    locator: String,
    quote: String,
    note: String,
}

#[derive(Debug, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = rules, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleRow {
    event: String,
    id: String,
    expression: String,
    severity: String,
    note: String,
}

/// A published version as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = versions, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct VersionRow {
    pub event: String,
    pub number: i64,
    pub published_at: String,
    pub changeset_id: Option<i64>,
    pub sha256: String,
    pub document: String,
}

/// A changeset as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = changesets, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct Changeset {
    pub id: i64,
    pub event: String,
    pub base_version: i64,
    pub author: String,
    pub reason: String,
    pub state: String,
    pub reviewer: Option<String>,
    pub comment: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Raised by every edit and transition.
    #[serde(default = "first_revision")]
    pub revision: i64,
    /// Everyone who ever wrote any part of it: a JSON array of people.
    #[serde(default = "no_writers")]
    pub writers: String,
}

fn first_revision() -> i64 {
    1
}

fn no_writers() -> String {
    "[]".into()
}

/// A changeset to open.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = changesets, treat_none_as_default_value = false)]
pub struct NewChangeset {
    pub event: String,
    pub base_version: i64,
    pub author: String,
    pub reason: String,
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
    pub revision: i64,
    pub writers: String,
}

/// One comment of a changeset's thread: who wrote it, when, with which
/// step (`submit`, `approve`, `reject`, `withdraw`, or a state of old).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Queryable,
    Selectable,
    Insertable,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[diesel(table_name = changeset_comments)]
#[serde(deny_unknown_fields)]
pub struct CommentRow {
    pub id: i64,
    pub changeset_id: i64,
    pub author: String,
    pub at: String,
    pub action: String,
    pub body: String,
}

/// Adds a comment to a changeset's thread.
pub fn add_comment(
    c: &mut Conn,
    changeset_id: i64,
    author: &str,
    at: &str,
    action: &str,
    body: &str,
) -> Result<()> {
    diesel::insert_into(changeset_comments::table)
        .values((
            changeset_comments::changeset_id.eq(changeset_id),
            changeset_comments::author.eq(author),
            changeset_comments::at.eq(at),
            changeset_comments::action.eq(action),
            changeset_comments::body.eq(body),
        ))
        .execute(c)?;
    Ok(())
}

/// A changeset's comments, oldest first.
pub fn comments(c: &mut Conn, changeset_id: i64) -> Result<Vec<CommentRow>> {
    Ok(changeset_comments::table
        .filter(changeset_comments::changeset_id.eq(changeset_id))
        .order(changeset_comments::id)
        .select(CommentRow::as_select())
        .load(c)?)
}

/// One edit of a changeset: the item as JSON, or `None` to delete it.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Queryable,
    Selectable,
    Insertable,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(table_name = changeset_edits, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub changeset_id: i64,
    pub entity: String,
    pub key: String,
    pub item: Option<String>,
    /// The ETag of the published item the edit was made against (the
    /// column and the backup's field keep the name `seen`).
    #[diesel(column_name = seen)]
    #[serde(rename = "seen")]
    pub seen_etag: String,
    pub edited_by: String,
    pub edited_at: String,
}

/// Whether an event with this slug exists.
pub fn event_exists(c: &mut Conn, slug: &str) -> Result<bool> {
    let n: i64 = events::table
        .filter(events::slug.eq(slug))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// The slugs of every event, in order.
pub fn event_slugs(c: &mut Conn) -> Result<Vec<String>> {
    Ok(events::table
        .select(events::slug)
        .order(events::slug)
        .load(c)?)
}

/// Stores a whole dataset for an event that does not exist yet.
pub fn insert_dataset(c: &mut Conn, ds: &Dataset) -> Result<()> {
    let slug = ds.event.slug.clone();
    diesel::insert_into(events::table)
        .values(row_of::<_, EventRow>(None, &ds.event)?)
        .execute(c)?;
    insert_items(c, &slug, &ds.sources, &ds.figures, &ds.claims, &ds.rules)
}

/// Replaces an existing event's data with `ds` (same slug).
pub fn replace_dataset(c: &mut Conn, ds: &Dataset) -> Result<()> {
    let slug = ds.event.slug.as_str();
    diesel::delete(claims::table.filter(claims::event.eq(slug))).execute(c)?;
    diesel::delete(rules::table.filter(rules::event.eq(slug))).execute(c)?;
    diesel::delete(figures::table.filter(figures::event.eq(slug))).execute(c)?;
    diesel::delete(sources::table.filter(sources::event.eq(slug))).execute(c)?;
    let e = &ds.event;
    diesel::update(events::table.filter(events::slug.eq(slug)))
        .set((
            events::title.eq(&e.title),
            events::location.eq(&e.location),
            events::started_on.eq(e.started_on.to_string()),
            events::ended_on.eq(e.ended_on.to_string()),
            events::timezone.eq(&e.timezone),
            events::summary.eq(&e.summary),
            events::approximation.eq(e.approximation.map(i64::from)),
        ))
        .execute(c)?;
    insert_items(c, slug, &ds.sources, &ds.figures, &ds.claims, &ds.rules)
}

fn insert_items(
    c: &mut Conn,
    slug: &str,
    s: &[Source],
    f: &[Figure],
    cl: &[Claim],
    r: &[Rule],
) -> Result<()> {
    let rows: Vec<SourceRow> = s
        .iter()
        .map(|x| row_of(Some(slug), x))
        .collect::<Result<_>>()?;
    for chunk in rows.chunks(CHUNK) {
        on_backend!(&mut *c, |c| diesel::insert_into(sources::table)
            .values(chunk)
            .execute(c))?;
    }
    let rows: Vec<FigureRow> = f
        .iter()
        .map(|x| row_of(Some(slug), x))
        .collect::<Result<_>>()?;
    for chunk in rows.chunks(CHUNK) {
        on_backend!(&mut *c, |c| diesel::insert_into(figures::table)
            .values(chunk)
            .execute(c))?;
    }
    let rows: Vec<ClaimRow> = cl
        .iter()
        .map(|x| row_of(Some(slug), x))
        .collect::<Result<_>>()?;
    for chunk in rows.chunks(CHUNK) {
        on_backend!(&mut *c, |c| diesel::insert_into(claims::table)
            .values(chunk)
            .execute(c))?;
    }
    let rows: Vec<RuleRow> = r
        .iter()
        .map(|x| row_of(Some(slug), x))
        .collect::<Result<_>>()?;
    for chunk in rows.chunks(CHUNK) {
        on_backend!(&mut *c, |c| diesel::insert_into(rules::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// An item as its table's row: the row has the item's fields, by the same
/// names, and the event's slug. Words and dates are stored as the text the
/// item is written in, so one serde pass converts both ways and a new field
/// needs only its column and its line in the row.
fn row_of<K: Kind, R: serde::de::DeserializeOwned>(event: Option<&str>, item: &K) -> Result<R> {
    let mut json = serde_json::to_value(item)?;
    if let (serde_json::Value::Object(m), Some(event)) = (&mut json, event) {
        m.insert("event".into(), serde_json::Value::String(event.into()));
    }
    serde_json::from_value(json).map_err(|e| {
        Error::Internal(format!(
            "{} '{}' does not fit its row: {e}",
            K::TABLE,
            item.key()
        ))
    })
}

/// A stored row as the item it holds; the error names the row.
fn item_of<R: serde::Serialize, K: Kind>(row: R) -> Result<K> {
    let mut json = serde_json::to_value(row)?;
    let mut key = String::new();
    if let serde_json::Value::Object(m) = &mut json {
        m.remove("event");
        key = m
            .get(K::KEY)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    serde_json::from_value(json).map_err(|e| {
        Error::Internal(format!(
            "the stored {} '{key}' does not read: {e}",
            K::TABLE
        ))
    })
}

/// The current data of an event, in canonical order; `None` if there is no
/// such event.
pub fn load_dataset(c: &mut Conn, slug: &str) -> Result<Option<Dataset>> {
    let Some(e) = events::table
        .filter(events::slug.eq(slug))
        .select(EventRow::as_select())
        .first(c)
        .optional()?
    else {
        return Ok(None);
    };
    let event: Event = item_of(e)?;
    let sources = sources::table
        .filter(sources::event.eq(slug))
        .select(SourceRow::as_select())
        .load(c)?
        .into_iter()
        .map(item_of)
        .collect::<Result<Vec<Source>>>()?;
    let figures = figures::table
        .filter(figures::event.eq(slug))
        .select(FigureRow::as_select())
        .load(c)?
        .into_iter()
        .map(item_of)
        .collect::<Result<Vec<Figure>>>()?;
    let claims = claims::table
        .filter(claims::event.eq(slug))
        .select(ClaimRow::as_select())
        .load(c)?
        .into_iter()
        .map(item_of)
        .collect::<Result<Vec<Claim>>>()?;
    let rules = rules::table
        .filter(rules::event.eq(slug))
        .select(RuleRow::as_select())
        .load(c)?
        .into_iter()
        .map(item_of)
        .collect::<Result<Vec<Rule>>>()?;
    let mut ds = Dataset {
        event,
        sources,
        figures,
        claims,
        rules,
    };
    ds.sort();
    Ok(Some(ds))
}

/// Stores a published version. Versions are never updated or deleted.
pub fn insert_version(c: &mut Conn, v: &VersionRow) -> Result<()> {
    diesel::insert_into(versions::table).values(v).execute(c)?;
    Ok(())
}

/// The newest version of an event.
pub fn latest_version(c: &mut Conn, slug: &str) -> Result<Option<VersionRow>> {
    Ok(versions::table
        .filter(versions::event.eq(slug))
        .order(versions::number.desc())
        .select(VersionRow::as_select())
        .first(c)
        .optional()?)
}

/// A published version as stored, without its document.
#[derive(Debug, Clone, Queryable)]
pub struct VersionSummaryRow {
    pub number: i64,
    pub published_at: String,
    pub changeset_id: Option<i64>,
    pub sha256: String,
}

/// Every version of an event, oldest first, without documents.
pub fn versions_of(c: &mut Conn, slug: &str) -> Result<Vec<VersionSummaryRow>> {
    Ok(versions::table
        .filter(versions::event.eq(slug))
        .order(versions::number.asc())
        .select((
            versions::number,
            versions::published_at,
            versions::changeset_id,
            versions::sha256,
        ))
        .load::<VersionSummaryRow>(c)?)
}

/// The latest version number of every event that has one.
pub fn latest_numbers(c: &mut Conn) -> Result<Vec<(String, i64)>> {
    use diesel::dsl::max;
    let rows: Vec<(String, Option<i64>)> = versions::table
        .group_by(versions::event)
        .select((versions::event, max(versions::number)))
        .load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|(e, n)| n.map(|n| (e, n)))
        .collect())
}

/// One version of an event.
pub fn version(c: &mut Conn, slug: &str, number: i64) -> Result<Option<VersionRow>> {
    Ok(versions::table
        .filter(versions::event.eq(slug))
        .filter(versions::number.eq(number))
        .select(VersionRow::as_select())
        .first(c)
        .optional()?)
}

/// Opens a changeset and returns its id.
pub fn insert_changeset(c: &mut Conn, new: &NewChangeset) -> Result<i64> {
    Ok(on_backend!(c, |c| diesel::insert_into(changesets::table)
        .values(new)
        .returning(changesets::id)
        .get_result(c))?)
}

/// Stores a changeset's edits.
pub fn insert_edits(c: &mut Conn, edits: &[Edit]) -> Result<()> {
    for chunk in edits.chunks(CHUNK) {
        on_backend!(&mut *c, |c| diesel::insert_into(changeset_edits::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// A changeset by id.
pub fn changeset(c: &mut Conn, id: i64) -> Result<Option<Changeset>> {
    Ok(changesets::table
        .find(id)
        .select(Changeset::as_select())
        .first(c)
        .optional()?)
}

/// The changesets of an event, newest first.
pub fn changesets_of(c: &mut Conn, slug: &str) -> Result<Vec<Changeset>> {
    Ok(changesets::table
        .filter(changesets::event.eq(slug))
        .order(changesets::id.desc())
        .select(Changeset::as_select())
        .load(c)?)
}

/// A changeset's edits, by entity and key.
pub fn edits(c: &mut Conn, changeset_id: i64) -> Result<Vec<Edit>> {
    Ok(changeset_edits::table
        .filter(changeset_edits::changeset_id.eq(changeset_id))
        .order((changeset_edits::entity, changeset_edits::key))
        .select(Edit::as_select())
        .load(c)?)
}

/// The changeset's edit of one item, if it has one.
pub fn edit(c: &mut Conn, changeset_id: i64, entity: &str, key: &str) -> Result<Option<Edit>> {
    Ok(changeset_edits::table
        .filter(changeset_edits::changeset_id.eq(changeset_id))
        .filter(changeset_edits::entity.eq(entity))
        .filter(changeset_edits::key.eq(key))
        .select(Edit::as_select())
        .first(c)
        .optional()?)
}

/// Stores an edit, replacing the changeset's earlier edit of the same item.
pub fn upsert_edit(c: &mut Conn, e: &Edit) -> Result<()> {
    delete_edit(c, e.changeset_id, &e.entity, &e.key)?;
    diesel::insert_into(changeset_edits::table)
        .values(e)
        .execute(c)?;
    Ok(())
}

/// Removes a changeset's edit of one item, if it has one.
pub fn delete_edit(c: &mut Conn, changeset_id: i64, entity: &str, key: &str) -> Result<()> {
    diesel::delete(
        changeset_edits::table
            .filter(changeset_edits::changeset_id.eq(changeset_id))
            .filter(changeset_edits::entity.eq(entity))
            .filter(changeset_edits::key.eq(key)),
    )
    .execute(c)?;
    Ok(())
}

/// Stores what a changeset became: its state, reviewer, comment, revision
/// and writers, if it is still at revision `was` (otherwise someone else
/// moved it meanwhile, and nothing is written).
pub fn update_changeset(c: &mut Conn, was: i64, cs: &Changeset) -> Result<()> {
    let n = diesel::update(
        changesets::table
            .find(cs.id)
            .filter(changesets::revision.eq(was)),
    )
    .set((
        changesets::state.eq(&cs.state),
        changesets::reviewer.eq(&cs.reviewer),
        changesets::comment.eq(&cs.comment),
        changesets::updated_at.eq(&cs.updated_at),
        changesets::revision.eq(cs.revision),
        changesets::writers.eq(&cs.writers),
    ))
    .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "changeset {} changed while this request was handled; try again",
            cs.id
        )))
    }
}

/// Changesets, newest first, optionally only those of one event or in one state.
pub fn changesets_where(
    c: &mut Conn,
    event: Option<&str>,
    state: Option<&str>,
) -> Result<Vec<Changeset>> {
    let mut q = changesets::table.into_boxed();
    if let Some(e) = event {
        q = q.filter(changesets::event.eq(e.to_string()));
    }
    if let Some(s) = state {
        q = q.filter(changesets::state.eq(s.to_string()));
    }
    Ok(q.order(changesets::id.desc())
        .select(Changeset::as_select())
        .load(c)?)
}
