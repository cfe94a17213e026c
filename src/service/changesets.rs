//! Changesets: drafts of edits against a published version, reviewed by a
//! second person and published on approval.
//!
//! A changeset's *view* is its base version with its edits applied. Each
//! edit remembers the ETag of the published item it was made against (its
//! `seen_etag`); approval rebases the edits onto the latest published
//! version and refuses, naming them, those whose item another changeset has
//! changed since.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;

use std::sync::Arc;

use super::built::{Built, Kept};
use super::{item_etag, publish, Audit, Context};
use crate::accounts::{Permission, Principal};
use crate::checks::{self, Report};
use crate::db::{self, Conn, Db, Edit, NewChangeset};
use crate::document;
use crate::error::{Error, Result};
pub use crate::model::changeset::{Action, Allowed, Changeset, Readiness, State};
use crate::model::changeset::{Refusal, Refused};
use crate::model::{Change, Dataset, Item, ItemEdit, Table};
use crate::time;

/// A changeset as stored, as the domain sees it.
fn from_row(r: db::Changeset) -> Result<Changeset> {
    let writers: BTreeSet<String> = serde_json::from_str(&r.writers).map_err(|e| {
        Error::Internal(format!(
            "changeset {}: stored writers do not parse: {e}",
            r.id
        ))
    })?;
    Ok(Changeset {
        state: r
            .state
            .parse()
            .map_err(|e| Error::Internal(format!("changeset {}: stored state: {e}", r.id)))?,
        id: r.id,
        event: r.event,
        base_version: r.base_version,
        author: r.author,
        reason: r.reason,
        revision: r.revision,
        writers,
        reviewer: r.reviewer,
        comment: r.comment,
        created_at: time::stored(&format!("changeset {}: created_at", r.id), &r.created_at)?,
        updated_at: time::stored(&format!("changeset {}: updated_at", r.id), &r.updated_at)?,
    })
}

fn to_row(cs: &Changeset) -> Result<db::Changeset> {
    Ok(db::Changeset {
        id: cs.id,
        event: cs.event.clone(),
        base_version: cs.base_version,
        author: cs.author.clone(),
        reason: cs.reason.clone(),
        state: cs.state.as_str().to_string(),
        reviewer: cs.reviewer.clone(),
        comment: cs.comment.clone(),
        created_at: time::secs(cs.created_at),
        updated_at: time::secs(cs.updated_at),
        revision: cs.revision,
        writers: serde_json::to_string(&cs.writers)
            .map_err(|e| Error::Internal(format!("writers do not encode: {e}")))?,
    })
}

/// Stores what `cs` became, if nobody moved it from revision `was` meanwhile.
fn store(c: &mut Conn, was: i64, cs: &Changeset) -> Result<()> {
    db::update_changeset(c, was, &to_row(cs)?)
}

/// The error a refused action answers: 403 when the caller may never do
/// it, 409 when not now, and 409 with the changeset as it is now (and its
/// ETag) when it moved since the caller saw it.
fn refused(r: Refused, cs: &Changeset) -> Error {
    match r.kind {
        Refusal::Forbidden => Error::Forbidden(r.why),
        Refusal::Conflict => Error::Conflict(r.why),
        Refusal::Moved => Error::Stale {
            message: r.why,
            current: serde_json::to_value(cs).ok(),
            etag: revision_etag(cs.revision),
        },
    }
}

/// A changeset's ETag: its revision.
pub fn revision_etag(revision: i64) -> String {
    revision.to_string()
}

/// One edit, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EditInfo {
    pub table: Table,
    pub key: String,
    /// The item as it should be; `null` removes it. Passed on as stored
    /// (canonical JSON), never decoded: a view of 50,000 edits would spend
    /// most of its time building values only to write them out again.
    #[schema(value_type = Option<Object>)]
    pub item: Option<Box<serde_json::value::RawValue>>,
    /// The ETag of the published item the edit was made against.
    #[serde(rename = "seen")]
    pub seen_etag: String,
    pub edited_by: String,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub edited_at: DateTime<Utc>,
}

/// One comment of a changeset's thread: who wrote it, when, with which
/// step (`submit`, `approve`, `reject`, `withdraw`, or a state of old).
// The OpenAPI schema keeps the name clients know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = CommentRow)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    pub id: i64,
    pub changeset_id: i64,
    pub author: String,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    pub action: String,
    pub body: String,
}

impl Comment {
    /// A comment as stored, as the service sees it.
    fn from_row(r: db::CommentRow) -> Result<Self> {
        Ok(Self {
            at: time::stored(
                &format!("changeset {}: comment {}: at", r.changeset_id, r.id),
                &r.at,
            )?,
            id: r.id,
            changeset_id: r.changeset_id,
            author: r.author,
            action: r.action,
            body: r.body,
        })
    }
}

/// A changeset with what it would do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangesetView {
    pub changeset: Changeset,
    pub edits: Vec<EditInfo>,
    /// The latest published version of the event.
    pub latest_version: i64,
    /// What the changeset changes against its base version (shared with
    /// the kept result, not copied).
    #[schema(value_type = Vec<Change>)]
    pub changes: Arc<Vec<Change>>,
    /// Edited items that a later published version changed too: approval
    /// refuses until they are resolved.
    pub conflicts: Vec<String>,
    /// Why the result does not hold together, if it does not.
    pub problems: Vec<String>,
    /// The checks on the result, when it validates (shared with the kept
    /// result, not copied).
    #[schema(value_type = Option<Report>)]
    pub checks: Option<Arc<Report>>,
    /// What the asking principal may do with it now, and why not.
    pub allowed_actions: Vec<Allowed>,
    /// Its comments, oldest first: every one kept, with author and time.
    pub comments: Vec<Comment>,
}

/// What an edit must match: the ETag of the item as the editor saw it, or
/// that there is no such item yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// The item's ETag as seen.
    Matches(String),
    Absent,
}

/// A changeset's item and its ETag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    #[schema(value_type = Option<Object>)]
    pub item: Option<Json>,
    pub etag: String,
    /// What is wrong with the changeset's result at this item, if anything.
    pub problems: Vec<String>,
}

/// After an item of the changeset was written: the changeset marked edited
/// (back to draft if it was submitted), stored, and the edit in the audit
/// log with its before and after.
#[allow(clippy::too_many_arguments)]
fn edited(
    c: &mut Conn,
    ctx: &Context,
    who: &Principal,
    cs: &mut Changeset,
    was: i64,
    (table, key): (Table, &str),
    (before, after): (&Option<Json>, &Option<Json>),
    mut summary: String,
    at: DateTime<Utc>,
) -> Result<()> {
    let reopened = cs.edit(who, at).map_err(|r| refused(r, cs))?;
    store(c, was, cs)?;
    if reopened {
        summary.push_str("; the changeset went back to draft");
    }
    Audit::new(
        "changeset.edit",
        table_entity(table),
        format!("{}/{key}", cs.event),
    )
    .before(before)
    .after(after)
    .summary(summary)
    .write(c, ctx)?;
    Ok(())
}

fn table_entity(table: Table) -> &'static str {
    match table {
        Table::Event => "event",
        Table::Sources => "source",
        Table::Figures => "figure",
        Table::Claims => "claim",
        Table::Rules => "rule",
    }
}

fn table_of(entity: &str) -> Result<Table> {
    entity
        .parse()
        .map_err(|e| Error::Internal(format!("a stored edit's table: {e}")))
}

/// Which tables the changeset API edits, by their name in URLs.
pub fn editable_table(name: &str) -> Result<Table> {
    match name {
        "figures" => Ok(Table::Figures),
        "claims" => Ok(Table::Claims),
        "sources" => Ok(Table::Sources),
        "rules" => Ok(Table::Rules),
        other => Err(Error::NotFound(format!(
            "'{other}' is not something a changeset edits: use figures, claims, sources or rules"
        ))),
    }
}

fn changeset(c: &mut Conn, id: i64) -> Result<Changeset> {
    let row = db::changeset(c, id)?.ok_or_else(|| Error::NotFound(format!("no changeset {id}")))?;
    from_row(row)
}

fn load(c: &mut Conn, id: i64) -> Result<(Changeset, Vec<Edit>)> {
    Ok((changeset(c, id)?, db::edits(c, id)?))
}

fn item_edits(edits: &[Edit]) -> Result<Vec<ItemEdit>> {
    edits
        .iter()
        .map(|e| {
            let table = table_of(&e.entity)?;
            let item = match e.item.as_deref() {
                None => None,
                Some(text) => Some(Item::from_text(table, text).map_err(|err| {
                    Error::Internal(format!(
                        "changeset {}: the stored edit of {}/{} does not read: {err}",
                        e.changeset_id, e.entity, e.key
                    ))
                })?),
            };
            Ok(ItemEdit {
                table,
                key: e.key.clone(),
                item,
            })
        })
        .collect()
}

/// The dataset with the edits applied, in order, sorted once.
fn apply(mut ds: Dataset, edits: &[ItemEdit]) -> Result<Dataset> {
    ds.apply(edits).map_err(|(i, err)| {
        let e = &edits[i];
        Error::Conflict(format!("{}/{}: {err}", e.table.as_str(), e.key))
    })?;
    Ok(ds)
}

/// The changeset's result at its stored revision: kept, or built from its
/// base version and its edits (and then kept).
fn built(db: &Db, c: &mut Conn, cs: &Changeset) -> Result<Arc<Built>> {
    if let Some(b) = Kept::of(db).result(cs.id, cs.revision) {
        return Ok(b);
    }
    let edits = db::edits(c, cs.id)?;
    built_with(db, c, cs, &edits)
}

/// The same, with its `edits` read already: a rebuild does not read
/// them again (70 ms at 50,000 edits).
fn built_with(db: &Db, c: &mut Conn, cs: &Changeset, edits: &[Edit]) -> Result<Arc<Built>> {
    let kept = Kept::of(db);
    if let Some(b) = kept.result(cs.id, cs.revision) {
        return Ok(b);
    }
    Ok(kept.keep(Arc::new(build(db, c, cs, edits)?)))
}

/// The changeset's result at its stored revision, to be changed: taken
/// from what is kept, or built.
fn built_to_change(db: &Db, c: &mut Conn, cs: &Changeset) -> Result<Built> {
    match Kept::of(db).take(cs.id, cs.revision) {
        Some(b) => Ok(b),
        None => {
            let edits = db::edits(c, cs.id)?;
            build(db, c, cs, &edits)
        }
    }
}

/// Replays the changeset's edits onto its base version.
fn build(db: &Db, c: &mut Conn, cs: &Changeset, edits: &[Edit]) -> Result<Built> {
    let base = Kept::of(db).version(c, &cs.event, cs.base_version)?;
    let result = apply((*base).clone(), &item_edits(edits)?)?;
    Ok(Built::new(cs.id, cs.revision, base, result))
}

/// The number of the event's latest published version (0: none).
fn latest_number(c: &mut Conn, event: &str) -> Result<i64> {
    Ok(db::latest_version(c, event)?.map_or(0, |v| v.number))
}

fn latest(c: &mut Conn, event: &str) -> Result<(i64, Dataset)> {
    let n = latest_number(c, event)?;
    let ds = db::load_dataset(c, event)?
        .ok_or_else(|| Error::NotFound(format!("no event '{event}'")))?;
    Ok((n, ds))
}

/// The edits whose item the latest published data no longer holds as the
/// edit saw it, as `table/key`.
fn conflicts(edits: &[Edit], latest: &Dataset) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in edits {
        let table = table_of(&e.entity)?;
        let now = latest.item(table, &e.key)?;
        if item_etag(now.as_ref()) != e.seen_etag {
            out.push(format!("{}/{}", e.entity, e.key));
        }
    }
    Ok(out)
}

/// A hash of what a changeset's edits are, in their stored order: the
/// approval's audit entry names the content the reviewer approved.
fn content_hash(edits: &[Edit]) -> String {
    let items: Vec<Json> = edits
        .iter()
        .map(|e| {
            serde_json::json!({
                "table": e.entity,
                "key": e.key,
                "item": e.item,
                "seen": e.seen_etag,
            })
        })
        .collect();
    document::hash(&Json::Array(items))
}

/// Opens a draft against the latest published version of `event`.
pub fn open(db: &Db, ctx: &Context, who: &Principal, event: &str, reason: &str) -> Result<i64> {
    who.require(Permission::EditChangesets)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::BadRequest(
            "a changeset needs a reason: say what it changes and why".into(),
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(Error::BadRequest(
            "the reason is longer than 2,000 characters".into(),
        ));
    }
    db.write(|c| {
        let base = db::latest_version(c, event)?
            .ok_or_else(|| Error::NotFound(format!("no published event '{event}'")))?;
        let at = ctx.at();
        let cs = Changeset::open(event, base.number, &who.person(), reason, at);
        let id = insert(c, &cs)?;
        Audit::new("changeset.open", "changeset", id.to_string())
            .after(
                serde_json::json!({"event": event, "base_version": base.number, "state": "draft"}),
            )
            .reason(reason)
            .write(c, ctx)?;
        Ok(id)
    })
}

/// Stores a new changeset; returns its id.
fn insert(c: &mut Conn, cs: &Changeset) -> Result<i64> {
    let row = to_row(cs)?;
    db::insert_changeset(
        c,
        &NewChangeset {
            event: row.event,
            base_version: row.base_version,
            author: row.author,
            reason: row.reason,
            state: row.state,
            created_at: row.created_at,
            updated_at: row.updated_at,
            revision: row.revision,
            writers: row.writers,
        },
    )
}

/// Changesets, newest first, optionally of one event or in one state.
pub fn list(
    db: &Db,
    who: &Principal,
    event: Option<&str>,
    state: Option<State>,
) -> Result<Vec<Changeset>> {
    who.require(Permission::ReadDrafts)?;
    db.read(|c| db::changesets_where(c, event, state.map(State::as_str)))?
        .into_iter()
        .map(from_row)
        .collect()
}

/// One changeset, without its edits.
pub fn get(db: &Db, who: &Principal, id: i64) -> Result<Changeset> {
    who.require(Permission::ReadDrafts)?;
    let row = db
        .read(|c| db::changeset(c, id))?
        .ok_or_else(|| Error::NotFound(format!("no changeset {id}")))?;
    from_row(row)
}

/// A changeset with its edits, what they change, their conflicts with
/// later versions, the checks on the result, and what `who` may do with it.
pub fn view(db: &Db, who: &Principal, id: i64) -> Result<ChangesetView> {
    who.require(Permission::ReadDrafts)?;
    db.read(|c| {
        let (cs, edits) = load(c, id)?;
        let built = built_with(db, c, &cs, &edits)?;
        let latest_version = latest_number(c, &cs.event)?;
        let conflicts = if latest_version != cs.base_version && cs.state.open() {
            conflicts(&edits, &latest(c, &cs.event)?.1)?
        } else {
            Vec::new()
        };
        let problems: Vec<String> = built.problems().iter().map(|p| p.to_string()).collect();
        let checks = problems.is_empty().then(|| built.report().clone());
        let ready = Readiness {
            edits: edits.len(),
            problems: problems.len(),
            conflicts: conflicts.len(),
            blocking: checks.as_ref().map_or(0, |r| r.blocking().len()),
        };
        let allowed_actions = cs.allowed_actions(who, &ready);
        let edits = edits
            .into_iter()
            .map(|e| {
                Ok(EditInfo {
                    edited_at: time::stored(
                        &format!(
                            "changeset {id}: the edit of {}/{}: edited_at",
                            e.entity, e.key
                        ),
                        &e.edited_at,
                    )?,
                    table: table_of(&e.entity)?,
                    item: e
                        .item
                        .map(serde_json::value::RawValue::from_string)
                        .transpose()?,
                    key: e.key,
                    seen_etag: e.seen_etag,
                    edited_by: e.edited_by,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ChangesetView {
            comments: db::comments(c, id)?
                .into_iter()
                .map(Comment::from_row)
                .collect::<Result<_>>()?,
            changes: Arc::clone(built.changes()?),
            changeset: cs,
            edits,
            latest_version,
            conflicts,
            problems,
            checks,
            allowed_actions,
        })
    })
}

/// An item of a changeset that a later published version changed too:
/// what it was in the changeset's base, what is published now, and what
/// the changeset makes it.
#[derive(Debug, Clone)]
pub struct ConflictDetail {
    pub table: Table,
    pub key: String,
    pub base: Option<Json>,
    pub published: Option<Json>,
    pub draft: Option<Json>,
}

/// The changeset's conflicts, item by item, with the three versions of each.
pub fn conflict_details(db: &Db, id: i64) -> Result<Vec<ConflictDetail>> {
    conflicts_where(db, id, None)
}

/// The conflicts of a changeset, of one item only when `only` names it.
/// Nothing is rebuilt when no version was published since its base.
fn conflicts_where(db: &Db, id: i64, only: Option<(Table, &str)>) -> Result<Vec<ConflictDetail>> {
    db.read(|c| {
        let (cs, edits) = load(c, id)?;
        if latest_number(c, &cs.event)? == cs.base_version || !cs.state.open() {
            return Ok(Vec::new());
        }
        let edits: Vec<&Edit> = edits
            .iter()
            .filter(|e| only.is_none_or(|(t, k)| e.entity == t.as_str() && e.key == k))
            .collect();
        if edits.is_empty() {
            return Ok(Vec::new());
        }
        let (_, latest) = latest(c, &cs.event)?;
        let base = Kept::of(db).version(c, &cs.event, cs.base_version)?;
        let mut out = Vec::new();
        for e in edits {
            let table = table_of(&e.entity)?;
            let published = latest.item(table, &e.key)?;
            if item_etag(published.as_ref()) == e.seen_etag {
                continue;
            }
            out.push(ConflictDetail {
                table,
                base: base.item(table, &e.key)?,
                draft: e.item.as_deref().map(serde_json::from_str).transpose()?,
                key: e.key.clone(),
                published,
            });
        }
        Ok(out)
    })
}

/// "Take the latest" worked out, ready to be stored: the changeset's
/// revision, the published version it was worked out against and its
/// item, the draft's item before and the item to store, and its problems.
struct PreparedRebase {
    was: i64,
    version: i64,
    published: Option<Json>,
    draft: Option<Json>,
    stored: Option<Json>,
    problems: Vec<String>,
}

/// One conflicting item of a changeset, with its three versions; `None`
/// when the item is not in conflict.
pub fn conflict_at(db: &Db, id: i64, table: Table, key: &str) -> Result<Option<ConflictDetail>> {
    Ok(conflicts_where(db, id, Some((table, key)))?.pop())
}

/// "Take the latest and apply my change again": the changeset's edit of
/// `table/key`, which a later published version changed too, becomes the
/// published item with the draft's own changes; where both changed a
/// field, `choices` says which value to keep. Refused, naming them, when a
/// field both changed is not chosen. The edit is then made against the
/// published item, and no longer conflicts.
pub fn rebase_item(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    table: Table,
    key: &str,
    choices: &Choices,
) -> Result<ItemView> {
    who.require(Permission::EditChangesets)?;
    let prepare = |c: &mut Conn| -> Result<PreparedRebase> {
        let cs = changeset(c, id)?;
        cs.may(Action::Edit, who, &Readiness::default(), None)
            .map_err(|r| refused(r, &cs))?;
        let (latest_version, latest) = latest(c, &cs.event)?;
        let published = latest.item(table, key)?;
        let Some(edit) = db::edit(c, id, table.as_str(), key)? else {
            return Err(Error::NotFound(format!(
                "changeset {id} does not edit {}/{key}",
                table.as_str()
            )));
        };
        if item_etag(published.as_ref()) == edit.seen_etag {
            return Err(Error::Conflict(format!(
                "{}/{key} is not in conflict: nothing was published over it",
                table.as_str()
            )));
        }
        let built = built(db, c, &cs)?;
        let detail = ConflictDetail {
            table,
            key: key.to_string(),
            base: built.base.item(table, key)?,
            draft: edit.item.as_deref().map(serde_json::from_str).transpose()?,
            published: published.clone(),
        };
        let item = merged(&merge_fields(&detail), choices).map_err(|fields| {
            Error::Conflict(format!(
                "both version {latest_version} and this changeset changed {} of {}/{key}: \
                 choose which value to keep",
                fields.join(", "),
                table.as_str()
            ))
        })?;
        // The item as stored: normalised through the model's types.
        let edit = ItemEdit {
            table,
            key: key.to_string(),
            item: item
                .map(|j| Item::parse(table, j))
                .transpose()
                .map_err(|e| Error::BadRequest(e.to_string()))?,
        };
        let mut view = built.result.clone();
        view.set_item(&edit)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        let stored = view.item(table, key)?;
        let problems = problems_at(&view, table, key);
        Ok(PreparedRebase {
            was: cs.revision,
            version: latest_version,
            published: detail.published,
            draft: detail.draft,
            stored,
            problems,
        })
    };
    let commit = |c: &mut Conn, p: PreparedRebase| -> Result<Option<ItemView>> {
        let PreparedRebase {
            was,
            version,
            published,
            draft,
            stored,
            problems,
        } = p;
        let Some(mut cs) = unmoved(c, id, was)? else {
            return Ok(None);
        };
        // Another version published meanwhile: work it out again.
        if db::latest_version(c, &cs.event)?.map_or(0, |v| v.number) != version {
            return Ok(None);
        }
        let at = ctx.at();
        let mut row = edit_row(id, table, key, &stored, &published, &who.actor(), at);
        row.seen_etag = item_etag(published.as_ref());
        db::upsert_edit(c, &row)?;
        let summary = format!(
            "changeset {id}: took {}/{key} as version {version} publishes it and applied \
             the change again",
            table.as_str()
        );
        edited(
            c,
            ctx,
            who,
            &mut cs,
            was,
            (table, key),
            (&draft, &stored),
            summary,
            at,
        )?;
        Ok(Some(ItemView {
            etag: item_etag(stored.as_ref()),
            problems,
            item: stored,
        }))
    };
    prepared_write(db, id, prepare, commit)
}

/// Every item of the event as the changeset would make it, with the
/// changeset: what the panel's item browser lists.
pub fn result(db: &Db, id: i64) -> Result<(Changeset, Dataset)> {
    db.read(|c| {
        let cs = changeset(c, id)?;
        let result = built(db, c, &cs)?.result.clone();
        Ok((cs, result))
    })
}

/// The problems of `ds` at one item (none when it has no such item), as
/// an editor shows them: field, then what is wrong.
fn problems_at(ds: &Dataset, table: Table, key: &str) -> Vec<String> {
    ds.validate_item(table, key)
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect()
}

/// One item as the changeset has it, with its ETag.
pub fn item(db: &Db, who: &Principal, id: i64, table: Table, key: &str) -> Result<ItemView> {
    who.require(Permission::ReadDrafts)?;
    db.read(|c| {
        let cs = changeset(c, id)?;
        let built = built(db, c, &cs)?;
        let item = built.result.item(table, key)?;
        Ok(ItemView {
            etag: item_etag(item.as_ref()),
            problems: problems_at(&built.result, table, key),
            item,
        })
    })
}

/// How many times a write that found its changeset moved meanwhile
/// rebuilds and tries again before it gives up.
const ATTEMPTS: usize = 3;

/// Runs `prepare` in a read (the expensive part: rebuilding the changeset's
/// result, validating, checking), then `commit` in the write transaction,
/// which holds the global write lock only for as long as the writes take.
/// `commit` answers `None` when the changeset moved since `prepare` read it;
/// then the whole is done again, a few times at most.
fn prepared_write<P, T>(
    db: &Db,
    id: i64,
    prepare: impl Fn(&mut Conn) -> Result<P>,
    commit: impl Fn(&mut Conn, P) -> Result<Option<T>>,
) -> Result<T> {
    for _ in 0..ATTEMPTS {
        let p = db.read(&prepare)?;
        if let Some(done) = db.write(|c| commit(c, p))? {
            return Ok(done);
        }
    }
    Err(Error::Conflict(format!(
        "changeset {id} kept changing while this request was handled; try again"
    )))
}

/// The changeset as stored now, if it is still at revision `was`.
fn unmoved(c: &mut Conn, id: i64, was: i64) -> Result<Option<Changeset>> {
    let row = db::changeset(c, id)?.ok_or_else(|| Error::NotFound(format!("no changeset {id}")))?;
    let cs = from_row(row)?;
    Ok((cs.revision == was).then_some(cs))
}

/// An edit rebuilt and checked, ready to be stored.
struct PreparedEdit {
    was: i64,
    seen_etag: String,
    current: Option<Json>,
    stored: Option<Json>,
    before: Option<Json>,
    problems: Vec<String>,
    /// The changeset's result with the edit made, to keep once stored.
    next: Built,
}

/// Puts an item into a changeset (`None` removes it), if `pre` matches the
/// item as the changeset has it; otherwise 409 with the current item, and
/// nothing changes. A submitted changeset goes back to draft. The changeset
/// is rebuilt outside the write lock; the write only checks that it did not
/// move meanwhile.
pub fn put_item(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    edit: ItemEdit,
    pre: &Precondition,
) -> Result<ItemView> {
    put(db, ctx, who, id, edit, pre, None)
}

/// Puts an item into a changeset after a save was refused because the
/// item changed meanwhile: `seen_etag` is the ETag of the item as the
/// refusal showed it, and `choices` says, for every field where the item
/// typed differs from it, which value to keep. A field left unchosen
/// refuses the save (409 with the current item, as a stale save), so
/// nothing is ever saved over another person's edit without a choice.
pub fn put_item_choosing(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    edit: ItemEdit,
    seen_etag: &str,
    choices: &Choices,
) -> Result<ItemView> {
    let pre = Precondition::Matches(seen_etag.to_string());
    put(db, ctx, who, id, edit, &pre, Some(choices))
}

/// Which of two values a person chose for a field: theirs is the value
/// saved or published meanwhile, mine the one typed or drafted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Mine,
    Theirs,
}

impl std::str::FromStr for Side {
    type Err = ();
    fn from_str(s: &str) -> std::result::Result<Self, ()> {
        match s {
            "mine" => Ok(Side::Mine),
            "theirs" => Ok(Side::Theirs),
            _ => Err(()),
        }
    }
}

/// A person's choices, field by field; `""` names the whole item (one side
/// removed it).
pub type Choices = std::collections::BTreeMap<String, Side>;

/// Nothing, however written: absent, `null` and `""` are one.
fn blank(v: Option<&Json>) -> Option<&Json> {
    match v {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.is_empty() => None,
        v => v,
    }
}

fn same(a: Option<&Json>, b: Option<&Json>) -> bool {
    blank(a) == blank(b)
}

/// How one field of a conflicting item comes out of "take the latest and
/// apply my change again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Both sides hold the same value.
    Same,
    /// Only the published version changed it: its value is taken.
    Published,
    /// Only the draft changed it: the draft's value is kept.
    Draft,
    /// Both changed it, differently: the person chooses.
    Choose,
}

/// One field of an item that a later published version changed too: its
/// value in the changeset's base, published now, and in the draft.
#[derive(Debug, Clone)]
pub struct FieldMerge {
    /// The field's name; `""` for the whole item, when one side removed it.
    pub field: String,
    pub base: Option<Json>,
    pub published: Option<Json>,
    pub draft: Option<Json>,
    pub merge: Merge,
}

fn merge_of(b: Option<&Json>, p: Option<&Json>, d: Option<&Json>) -> Merge {
    if same(p, d) {
        Merge::Same
    } else if same(d, b) {
        Merge::Published
    } else if same(p, b) {
        Merge::Draft
    } else {
        Merge::Choose
    }
}

/// The three-way comparison of a conflicting item, field by field (in the
/// order the published item, then the draft, have them); an item that one
/// side removed is compared whole.
pub fn merge_fields(d: &ConflictDetail) -> Vec<FieldMerge> {
    let objects = (
        d.base.as_ref().and_then(Json::as_object),
        d.published.as_ref().and_then(Json::as_object),
        d.draft.as_ref().and_then(Json::as_object),
    );
    let (Some(b), Some(p), Some(dr)) = objects else {
        let merge = merge_of(d.base.as_ref(), d.published.as_ref(), d.draft.as_ref());
        return vec![FieldMerge {
            field: String::new(),
            base: d.base.clone(),
            published: d.published.clone(),
            draft: d.draft.clone(),
            merge,
        }];
    };
    let mut names: Vec<&String> = p.keys().collect();
    names.extend(dr.keys().filter(|k| !p.contains_key(*k)));
    names.extend(
        b.keys()
            .filter(|k| !p.contains_key(*k) && !dr.contains_key(*k)),
    );
    names
        .into_iter()
        .map(|k| FieldMerge {
            field: k.clone(),
            merge: merge_of(b.get(k), p.get(k), dr.get(k)),
            base: b.get(k).cloned(),
            published: p.get(k).cloned(),
            draft: dr.get(k).cloned(),
        })
        .collect()
}

/// The item "take the latest and apply my change again" makes: the
/// published item with the draft's own changes, and the person's choice
/// where both changed a field. `Err` names the fields still to choose.
fn merged(
    fields: &[FieldMerge],
    choices: &Choices,
) -> std::result::Result<Option<Json>, Vec<String>> {
    let unchosen: Vec<String> = fields
        .iter()
        .filter(|f| f.merge == Merge::Choose && !choices.contains_key(&f.field))
        .map(|f| f.field.clone())
        .collect();
    if !unchosen.is_empty() {
        return Err(unchosen);
    }
    let pick = |f: &FieldMerge| match f.merge {
        Merge::Same | Merge::Published => f.published.clone(),
        Merge::Draft => f.draft.clone(),
        Merge::Choose => match choices.get(&f.field) {
            Some(Side::Mine) => f.draft.clone(),
            _ => f.published.clone(),
        },
    };
    if let [whole] = fields {
        if whole.field.is_empty() {
            return Ok(pick(whole));
        }
    }
    let mut out = serde_json::Map::new();
    for f in fields {
        if let Some(v) = pick(f) {
            out.insert(f.field.clone(), v);
        }
    }
    Ok(Some(Json::Object(out)))
}

/// What is typed, with the value held now wherever the person chose it;
/// `Err` names the fields that differ and were not chosen.
fn chosen(
    mine: &Json,
    now: Option<&Json>,
    choices: &Choices,
) -> std::result::Result<Json, Vec<String>> {
    // An item removed meanwhile differs in every field it had.
    let nothing = serde_json::Map::new();
    let Some(m) = mine.as_object() else {
        return Ok(mine.clone());
    };
    let n = now.and_then(Json::as_object).unwrap_or(&nothing);
    let mut out = m.clone();
    let mut unchosen = Vec::new();
    let mut names: Vec<&String> = m.keys().collect();
    names.extend(n.keys().filter(|k| !m.contains_key(*k)));
    for k in names {
        if same(m.get(k), n.get(k)) {
            continue;
        }
        match choices.get(k) {
            Some(Side::Mine) => {}
            Some(Side::Theirs) => {
                match n.get(k) {
                    Some(v) => out.insert(k.clone(), v.clone()),
                    None => out.remove(k),
                };
            }
            None => unchosen.push(k.clone()),
        }
    }
    if unchosen.is_empty() {
        Ok(Json::Object(out))
    } else {
        Err(unchosen)
    }
}

#[allow(clippy::too_many_arguments)]
fn put(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    edit: ItemEdit,
    pre: &Precondition,
    choices: Option<&Choices>,
) -> Result<ItemView> {
    who.require(Permission::EditChangesets)?;
    let (table, key) = (edit.table, edit.key.clone());
    let key = key.as_str();
    let prepare = |c: &mut Conn| -> Result<PreparedEdit> {
        let cs = changeset(c, id)?;
        cs.may(Action::Edit, who, &Readiness::default(), None)
            .map_err(|r| refused(r, &cs))?;
        let mut built = built_to_change(db, c, &cs)?;
        let current = built.result.item(table, key)?;
        let put = checked_edit(id, &edit, pre, choices, &current).and_then(|edit| {
            built
                .result
                .set_item(&edit)
                .map_err(|e| Error::BadRequest(e.to_string()))
        });
        if let Err(err) = put {
            // Refused before anything changed: the result is kept as it was.
            Kept::of(db).keep(Arc::new(built));
            return Err(err);
        }
        // The item as stored: normalised through the model's types.
        let stored = built.result.item(table, key)?;
        // The edited item's problems only: the whole result's are worked
        // out when a view or a submit asks for them.
        let problems = problems_at(&built.result, table, key);
        let before = built.base.item(table, key)?;
        let seen_etag = seen_etag_of(
            db::edit(c, id, table.as_str(), key)?.as_ref(),
            before.as_ref(),
        );
        Ok(PreparedEdit {
            was: cs.revision,
            seen_etag,
            before,
            current,
            stored,
            problems,
            next: built.changed(),
        })
    };
    let commit = |c: &mut Conn, p: PreparedEdit| -> Result<Option<(ItemView, Built)>> {
        let Some(mut cs) = unmoved(c, id, p.was)? else {
            return Ok(None);
        };
        let at = ctx.at();
        record(
            c,
            id,
            table,
            key,
            &p.stored,
            (&p.before, &p.seen_etag),
            &who.actor(),
            at,
        )?;
        let summary = format!(
            "changeset {id}: {} {}/{key}",
            match (&p.current, &p.stored) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            },
            table.as_str()
        );
        edited(
            c,
            ctx,
            who,
            &mut cs,
            p.was,
            (table, key),
            (&p.current, &p.stored),
            summary,
            at,
        )?;
        let mut next = p.next;
        next.revision = cs.revision;
        let view = ItemView {
            etag: item_etag(p.stored.as_ref()),
            problems: p.problems,
            item: p.stored,
        };
        Ok(Some((view, next)))
    };
    let (view, next) = prepared_write(db, id, prepare, commit)?;
    // Kept only now that the edit is committed.
    Kept::of(db).keep(Arc::new(next));
    Ok(view)
}

/// The edit to make, once `pre` was checked against the item as the
/// changeset has it now (`current`), and, after a refused save, the
/// person's choices applied.
fn checked_edit(
    id: i64,
    edit: &ItemEdit,
    pre: &Precondition,
    choices: Option<&Choices>,
    current: &Option<Json>,
) -> Result<ItemEdit> {
    let (table, key) = (edit.table, edit.key.as_str());
    let tag = item_etag(current.as_ref());
    let stale = match pre {
        Precondition::Matches(t) => *t != tag,
        Precondition::Absent => current.is_some(),
    };
    if stale {
        return Err(Error::Stale {
            message: format!(
                "{}/{key} has changed in changeset {id} since you saw it; \
                 your edit was not stored. The item as it is now comes with this answer",
                table.as_str()
            ),
            current: current.clone(),
            etag: tag,
        });
    }
    if edit.item.is_none() && current.is_none() {
        return Err(Error::NotFound(format!(
            "changeset {id} has no {}/{key} to remove",
            table.as_str()
        )));
    }
    match (choices, &edit.item) {
        (Some(choices), Some(item)) => {
            let mine = item.to_json()?;
            let json = chosen(&mine, current.as_ref(), choices).map_err(|fields| Error::Stale {
                message: format!(
                    "{}/{key} was saved meanwhile with other values; \
                         nothing was saved: choose which value to keep for {}",
                    table.as_str(),
                    fields.join(", ")
                ),
                current: current.clone(),
                etag: tag.clone(),
            })?;
            ItemEdit::put(table, key, json).map_err(|e| Error::BadRequest(e.to_string()))
        }
        _ => Ok(edit.clone()),
    }
}

/// The ETag an edit of an item is made against: that of the edit of it the
/// changeset already holds (made against the base version, or taken onto a
/// later published one), else that of the base version's item.
fn seen_etag_of(held: Option<&Edit>, before: Option<&Json>) -> String {
    held.map_or_else(|| item_etag(before), |e| e.seen_etag.clone())
}

/// Stores that a changeset has `item` at `table/key`, made against the
/// item whose ETag is `seen_etag` (`before` is the base version's); an item
/// back to its base state, made against it, drops the edit (its writer
/// stays among the changeset's writers).
#[allow(clippy::too_many_arguments)]
fn record(
    c: &mut Conn,
    id: i64,
    table: Table,
    key: &str,
    item: &Option<Json>,
    (before, seen_etag): (&Option<Json>, &str),
    by: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    if item == before && seen_etag == item_etag(before.as_ref()) {
        return db::delete_edit(c, id, table.as_str(), key);
    }
    let mut row = edit_row(id, table, key, item, before, by, at);
    row.seen_etag = seen_etag.to_string();
    db::upsert_edit(c, &row)
}

/// An edit as stored: one encoding for the editor and for imports.
fn edit_row(
    id: i64,
    table: Table,
    key: &str,
    item: &Option<Json>,
    before: &Option<Json>,
    by: &str,
    at: DateTime<Utc>,
) -> Edit {
    Edit {
        changeset_id: id,
        entity: table.as_str().to_string(),
        key: key.to_string(),
        item: item.as_ref().map(document::canonical),
        seen_etag: item_etag(before.as_ref()),
        edited_by: by.to_string(),
        edited_at: time::secs(at),
    }
}

/// Writes a transition's audit entry.
fn audit_transition(
    c: &mut Conn,
    ctx: &Context,
    before: &Changeset,
    after: &Changeset,
    action: &str,
    extra: Option<Json>,
) -> Result<()> {
    let mut to = serde_json::json!({"state": after.state, "revision": after.revision});
    if let (Some(Json::Object(extra)), Json::Object(to)) = (extra, &mut to) {
        to.extend(extra);
    }
    let mut a = Audit::new(action, "changeset", after.id.to_string())
        .before(serde_json::json!({"state": before.state, "revision": before.revision}))
        .after(to);
    if let Some(comment) = after.comment.as_deref().filter(|c| !c.is_empty()) {
        a = a.reason(comment);
        // The thread keeps every comment; the audit entry says the same.
        let step = action.strip_prefix("changeset.").unwrap_or(action);
        db::add_comment(
            c,
            after.id,
            &ctx.actor,
            &time::secs(ctx.at()),
            step,
            comment,
        )?;
    }
    a.write(c, ctx)?;
    Ok(())
}

fn comment_of(comment: Option<&str>) -> Result<Option<&str>> {
    let c = comment.map(str::trim).filter(|c| !c.is_empty());
    if c.is_some_and(|c| c.chars().count() > 2000) {
        return Err(Error::BadRequest(
            "the comment is longer than 2,000 characters".into(),
        ));
    }
    Ok(c)
}

/// Submits a draft for review. Refused, with the reason, when it cannot be
/// approved as it stands: no edits, a result that does not validate, an
/// edited item that a later published version changed too, or a violated
/// error check. The result is validated and checked outside the write lock.
pub fn submit(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    comment: Option<&str>,
) -> Result<()> {
    let comment = comment_of(comment)?;
    let prepare = |c: &mut Conn| -> Result<(i64, usize)> {
        let (cs, edits) = load(c, id)?;
        // Role and state first: they need no rebuild of the result.
        cs.may(
            Action::Submit,
            who,
            &Readiness {
                edits: edits.len().max(1),
                ..Readiness::default()
            },
            None,
        )
        .map_err(|r| refused(r, &cs))?;
        if edits.is_empty() {
            return Err(Error::Conflict(format!(
                "changeset {id} has no edits to submit"
            )));
        }
        let built = built_with(db, c, &cs, &edits)?;
        let problems: Vec<String> = built.problems().iter().map(|p| p.to_string()).collect();
        if !problems.is_empty() {
            return Err(Error::Conflict(format!(
                "changeset {id} does not hold together yet: {}",
                problems.join("; ")
            )));
        }
        // What approval would refuse, refused now, with its reason: a
        // conflict with a later published version, a violated error check.
        let latest_version = latest_number(c, &cs.event)?;
        let clashes = if latest_version != cs.base_version {
            conflicts(&edits, &latest(c, &cs.event)?.1)?
        } else {
            Vec::new()
        };
        if !clashes.is_empty() {
            return Err(Error::Conflict(format!(
                "changeset {id} cannot be submitted: version {latest_version} changed items \
                 it also edits: {}; take the latest version of each and apply the change again",
                clashes.join(", ")
            )));
        }
        let blocking: Vec<String> = built
            .report()
            .blocking()
            .iter()
            .map(|r| format!("{} {}: {}", r.check, r.subject, r.message))
            .collect();
        if !blocking.is_empty() {
            return Err(Error::Conflict(format!(
                "changeset {id} cannot be submitted: its result violates {} error check(s), \
                 which would keep it from being published: {}",
                blocking.len(),
                blocking.join("; ")
            )));
        }
        Ok((cs.revision, edits.len()))
    };
    let commit = |c: &mut Conn, (was, edits): (i64, usize)| -> Result<Option<()>> {
        let Some(mut cs) = unmoved(c, id, was)? else {
            return Ok(None);
        };
        let before = cs.clone();
        let ready = Readiness {
            edits,
            ..Readiness::default()
        };
        cs.submit(who, &ready, comment, ctx.at())
            .map_err(|r| refused(r, &before))?;
        store(c, was, &cs)?;
        audit_transition(c, ctx, &before, &cs, "changeset.submit", None)?;
        Ok(Some(()))
    };
    prepared_write(db, id, prepare, commit)
}

/// Withdraws a changeset; only its author may.
pub fn withdraw(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    comment: Option<&str>,
) -> Result<()> {
    let comment = comment_of(comment)?;
    db.write(|c| {
        let mut cs = changeset(c, id)?;
        let before = cs.clone();
        cs.withdraw(who, comment, ctx.at())
            .map_err(|r| refused(r, &before))?;
        store(c, before.revision, &cs)?;
        audit_transition(c, ctx, &before, &cs, "changeset.withdraw", None)
    })
}

/// Rejects a submitted changeset at revision `seen_revision`, with a
/// comment saying why. Refused when it moved since the reviewer saw it.
pub fn reject(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    seen_revision: i64,
    comment: Option<&str>,
) -> Result<()> {
    let comment = comment_of(comment)?
        .ok_or_else(|| Error::BadRequest("a rejection needs a comment saying why".into()))?;
    db.write(|c| {
        let mut cs = changeset(c, id)?;
        let before = cs.clone();
        cs.reject(who, seen_revision, comment, ctx.at())
            .map_err(|r| refused(r, &before))?;
        store(c, before.revision, &cs)?;
        audit_transition(c, ctx, &before, &cs, "changeset.reject", None)
    })
}

/// What an approval published: the event, the new version's number and
/// its document's hash.
// The OpenAPI schema keeps the name clients know.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Approved)]
pub struct Publication {
    pub event: String,
    pub version: i64,
    pub sha256: String,
}

/// An approval's result, rebuilt and checked, ready to be published.
struct PreparedApproval {
    latest_version: i64,
    edits: usize,
    content: String,
    result: Dataset,
    report: Report,
}

/// Approves a submitted changeset at revision `seen_revision`: rebases its
/// edits onto the latest published version, re-runs the checks, and
/// publishes the next version. Refused when it moved since the reviewer saw
/// it, an edited item changed meanwhile, the result does not validate, or
/// an error check is violated. The rebase and the checks run outside the
/// write lock; the write checks that neither the changeset nor the latest
/// version moved, then publishes, in one transaction.
pub fn approve(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    seen_revision: i64,
    comment: Option<&str>,
) -> Result<Publication> {
    let comment = comment_of(comment)?;
    let prepare = |c: &mut Conn| -> Result<PreparedApproval> {
        let (cs, edits) = load(c, id)?;
        // Who, which state and which revision, before any rebuild.
        let nothing_yet = Readiness {
            edits: edits.len().max(1),
            ..Readiness::default()
        };
        cs.may(Action::Approve, who, &nothing_yet, Some(seen_revision))
            .map_err(|r| refused(r, &cs))?;
        let (latest_version, latest) = latest(c, &cs.event)?;
        let clashes = conflicts(&edits, &latest)?;
        if !clashes.is_empty() {
            return Err(Error::Conflict(format!(
                "version {latest_version} changed items this changeset also edits: {}; \
                 edit them again on top of the latest version",
                clashes.join(", ")
            )));
        }
        let result = apply(latest, &item_edits(&edits)?)?;
        let problems: Vec<String> = result.validate().iter().map(|p| p.to_string()).collect();
        if !problems.is_empty() {
            return Err(Error::Conflict(format!(
                "on top of version {latest_version} the changeset does not hold together: {}",
                problems.join("; ")
            )));
        }
        let report = checks::run(&result);
        let blocking: Vec<_> = report.blocking().into_iter().cloned().collect();
        if !blocking.is_empty() {
            return Err(Error::Refused(blocking));
        }
        Ok(PreparedApproval {
            latest_version,
            edits: edits.len(),
            content: content_hash(&edits),
            result,
            report,
        })
    };
    let commit = |c: &mut Conn, p: PreparedApproval| -> Result<Option<Publication>> {
        let Some(mut cs) = unmoved(c, id, seen_revision)? else {
            // It moved: refused with the changeset as it is now.
            let cs = changeset(c, id)?;
            return Err(cs
                .may(
                    Action::Approve,
                    who,
                    &Readiness::default(),
                    Some(seen_revision),
                )
                .err()
                .map_or_else(
                    || Error::Conflict(format!("changeset {id} moved; look at it again")),
                    |r| refused(r, &cs),
                ));
        };
        if db::latest_version(c, &cs.event)?.map_or(0, |v| v.number) != p.latest_version {
            // Another version was published meanwhile: rebase again.
            return Ok(None);
        }
        let before = cs.clone();
        let ready = Readiness {
            edits: p.edits,
            ..Readiness::default()
        };
        cs.approve(who, &ready, seen_revision, comment, ctx.at())
            .map_err(|r| refused(r, &before))?;
        store(c, seen_revision, &cs)?;
        audit_transition(
            c,
            ctx,
            &before,
            &cs,
            "changeset.approve",
            Some(serde_json::json!({
                "approved_revision": seen_revision,
                "content_sha256": p.content,
            })),
        )?;
        db::replace_dataset(c, &p.result)?;
        let v = publish(c, ctx, &p.result, &p.report, Some(id))?;
        Ok(Some(Publication {
            event: v.event,
            version: v.number,
            sha256: v.sha256,
        }))
    };
    prepared_write(db, id, prepare, commit)
}

/// An import worked out: the changeset's revision, its base version's
/// data, what changes and the ETag each change is made against.
type Imported = (i64, Arc<Dataset>, Vec<Change>, Vec<String>);

/// Imports an event folder into an open changeset: every item that differs
/// from the changeset as it stands becomes an edit. A dry run only answers
/// what would change. All or nothing; the files' problems are all named.
/// The differences are found outside the write lock.
pub fn import_into(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    folder: &crate::files::Folder,
    dry_run: bool,
) -> Result<Vec<Change>> {
    who.require(Permission::EditChangesets)?;
    let ds = folder.parse().map_err(Error::Files)?;
    let prepare = |c: &mut Conn| -> Result<Imported> {
        let (cs, edits) = load(c, id)?;
        cs.may(Action::Edit, who, &Readiness::default(), None)
            .map_err(|r| refused(r, &cs))?;
        if ds.event.slug != cs.event {
            return Err(Error::BadRequest(format!(
                "the files are for event '{}', but changeset {id} is for '{}'",
                ds.event.slug, cs.event
            )));
        }
        let built = built_with(db, c, &cs, &edits)?;
        let changes = built.result.changes(&ds)?;
        let held: std::collections::HashMap<(&str, &str), &Edit> = edits
            .iter()
            .map(|e| ((e.entity.as_str(), e.key.as_str()), e))
            .collect();
        let seen = changes
            .iter()
            .map(|ch| {
                let before = built.base.item(ch.table, &ch.key)?;
                let edit = held.get(&(ch.table.as_str(), ch.key.as_str())).copied();
                Ok(seen_etag_of(edit, before.as_ref()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((cs.revision, Arc::clone(&built.base), changes, seen))
    };
    if dry_run {
        return Ok(db.read(prepare)?.2);
    }
    let commit =
        |c: &mut Conn, (was, base, changes, seen_etags): Imported| -> Result<Option<Vec<Change>>> {
            if changes.is_empty() {
                return Ok(Some(changes));
            }
            let Some(mut cs) = unmoved(c, id, was)? else {
                return Ok(None);
            };
            let at = ctx.at();
            for (ch, seen_etag) in changes.iter().zip(&seen_etags) {
                let before = base.item(ch.table, &ch.key)?;
                record(
                    c,
                    id,
                    ch.table,
                    &ch.key,
                    &ch.after,
                    (&before, seen_etag),
                    &who.actor(),
                    at,
                )?;
            }
            let reopened = cs.edit(who, at).map_err(|r| refused(r, &cs))?;
            store(c, was, &cs)?;
            Audit::new("changeset.import", "changeset", id.to_string())
                .after(serde_json::json!({"event": cs.event, "items": changes.len()}))
                .summary(format!(
                    "{} item(s) imported from CSV files{}",
                    changes.len(),
                    if reopened {
                        "; the changeset went back to draft"
                    } else {
                        ""
                    }
                ))
                .write(c, ctx)?;
            Ok(Some(changes))
        };
    prepared_write(db, id, prepare, commit)
}

/// Opens a submitted changeset of `changes` in the caller's transaction: an
/// import into an existing event at the command line, by the operator
/// `ctx.actor`. Returns its id and how many edits it holds.
pub(crate) fn open_submitted(
    c: &mut Conn,
    ctx: &Context,
    event: &str,
    base_version: i64,
    reason: &str,
    changes: &[Change],
) -> Result<(i64, usize)> {
    let at = ctx.at();
    let cs = Changeset::imported(event, base_version, &ctx.actor, reason, at);
    let id = insert(c, &cs)?;
    let edits: Vec<Edit> = changes
        .iter()
        .map(|ch| edit_row(id, ch.table, &ch.key, &ch.after, &ch.before, &ctx.actor, at))
        .collect();
    db::insert_edits(c, &edits)?;
    Ok((id, edits.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(b: Json, p: Json, d: Json) -> ConflictDetail {
        ConflictDetail {
            table: Table::Figures,
            key: "k".into(),
            base: Some(b),
            published: Some(p),
            draft: Some(d),
        }
    }

    #[test]
    fn a_field_changed_on_one_side_merges_and_one_changed_on_both_is_chosen() {
        let d = detail(
            json!({"label": "A", "notes": "", "low": 1}),
            json!({"label": "A (published)", "notes": "", "low": 2}),
            json!({"label": "A", "notes": "mine", "low": 3}),
        );
        let fields = merge_fields(&d);
        let merge = |name: &str| fields.iter().find(|f| f.field == name).unwrap().merge;
        assert_eq!(merge("label"), Merge::Published);
        assert_eq!(merge("notes"), Merge::Draft);
        assert_eq!(merge("low"), Merge::Choose);
        assert_eq!(
            merged(&fields, &Choices::new()),
            Err(vec!["low".to_string()])
        );
        let mine = Choices::from([("low".to_string(), Side::Mine)]);
        assert_eq!(
            merged(&fields, &mine),
            Ok(Some(
                json!({"label": "A (published)", "notes": "mine", "low": 3})
            ))
        );
        let theirs = Choices::from([("low".to_string(), Side::Theirs)]);
        assert_eq!(merged(&fields, &theirs).unwrap().unwrap()["low"], json!(2));
    }

    #[test]
    fn a_stale_save_keeps_only_what_was_chosen() {
        let now = json!({"label": "L", "notes": "first tab", "low": null});
        let mine = json!({"label": "L", "notes": "second tab", "low": ""});
        assert_eq!(
            chosen(&mine, Some(&now), &Choices::new()),
            Err(vec!["notes".to_string()]),
            "null and an empty value are the same"
        );
        let keep = Choices::from([("notes".to_string(), Side::Theirs)]);
        assert_eq!(
            chosen(&mine, Some(&now), &keep).unwrap()["notes"],
            "first tab"
        );
        let overwrite = Choices::from([("notes".to_string(), Side::Mine)]);
        assert_eq!(
            chosen(&mine, Some(&now), &overwrite).unwrap()["notes"],
            "second tab"
        );
        // Removed meanwhile: nothing is put back without a choice.
        assert_eq!(
            chosen(&mine, None, &Choices::new()),
            Err(vec!["label".to_string(), "notes".to_string()])
        );
    }
}
