//! Changesets: drafts of edits against a published version, reviewed by a
//! second person and published on approval.
//!
//! A changeset's *view* is its base version with its edits applied. Each
//! edit remembers the ETag of the published item it was made against
//! (`seen`); approval rebases the edits onto the latest published version
//! and refuses, naming them, those whose item another changeset has changed
//! since.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{item_tag, publish, Audit, Context};
use crate::accounts::{Principal, Role};
use crate::checks::{self, Report};
use crate::db::{self, Conn, Db, Edit, NewChangeset};
use crate::document;
use crate::error::{Error, Result};
use crate::model::{Change, Dataset, ItemEdit, Table};

/// Where a changeset stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Draft,
    Submitted,
    Approved,
    Rejected,
    Withdrawn,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        [
            State::Draft,
            State::Submitted,
            State::Approved,
            State::Rejected,
            State::Withdrawn,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| Error::Database(format!("stored changeset state '{s}' is unknown")))
    }

    /// Whether edits are still accepted.
    pub fn open(self) -> bool {
        matches!(self, State::Draft | State::Submitted)
    }
}

/// A changeset, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangesetInfo {
    pub id: i64,
    pub event: String,
    pub base_version: i64,
    pub author: String,
    pub reason: String,
    pub state: State,
    pub reviewer: Option<String>,
    pub comment: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl ChangesetInfo {
    fn from_row(r: db::Changeset) -> Result<Self> {
        Ok(Self {
            state: State::parse(&r.state)?,
            id: r.id,
            event: r.event,
            base_version: r.base_version,
            author: r.author,
            reason: r.reason,
            reviewer: r.reviewer,
            comment: r.comment,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// One edit, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EditInfo {
    pub table: Table,
    pub key: String,
    /// The item as it should be; `null` removes it.
    #[schema(value_type = Option<Object>)]
    pub item: Option<Json>,
    /// The ETag of the published item the edit was made against.
    pub seen: String,
    pub edited_by: String,
    pub edited_at: String,
}

/// A changeset with what it would do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangesetView {
    pub changeset: ChangesetInfo,
    pub edits: Vec<EditInfo>,
    /// The latest published version of the event.
    pub latest_version: i64,
    /// What the changeset changes against its base version.
    pub changes: Vec<Change>,
    /// Edited items that a later published version changed too: approval
    /// refuses until they are resolved.
    pub conflicts: Vec<String>,
    /// Why the result does not hold together, if it does not.
    pub problems: Vec<String>,
    /// The checks on the result, when it validates.
    pub checks: Option<Report>,
}

/// What an edit must match: the ETag of the item it was made against, or
/// that there is no such item yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
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
    Table::ALL
        .into_iter()
        .find(|t| t.as_str() == entity)
        .ok_or_else(|| Error::Database(format!("stored edit of unknown table '{entity}'")))
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

fn load(c: &mut Conn, id: i64) -> Result<(ChangesetInfo, Vec<Edit>)> {
    let row = db::changeset(c, id)?.ok_or_else(|| Error::NotFound(format!("no changeset {id}")))?;
    Ok((ChangesetInfo::from_row(row)?, db::edits(c, id)?))
}

fn item_edits(edits: &[Edit]) -> Result<Vec<ItemEdit>> {
    edits
        .iter()
        .map(|e| {
            Ok(ItemEdit {
                table: table_of(&e.entity)?,
                key: e.key.clone(),
                item: e.item.as_deref().map(serde_json::from_str).transpose()?,
            })
        })
        .collect()
}

fn apply(mut ds: Dataset, edits: &[ItemEdit]) -> Result<Dataset> {
    for e in edits {
        ds.set_item(e)
            .map_err(|err| Error::Conflict(format!("{}/{}: {err}", e.table.as_str(), e.key)))?;
    }
    Ok(ds)
}

fn base_dataset(c: &mut Conn, cs: &ChangesetInfo) -> Result<Dataset> {
    let v = db::version(c, &cs.event, cs.base_version)?.ok_or_else(|| {
        Error::Database(format!(
            "changeset {} is based on version {} of {}, which is missing",
            cs.id, cs.base_version, cs.event
        ))
    })?;
    document::dataset(&v.document)
}

fn latest(c: &mut Conn, event: &str) -> Result<(i64, Dataset)> {
    let n = db::latest_version(c, event)?.map_or(0, |v| v.number);
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
        if item_tag(now.as_ref()) != e.seen {
            out.push(format!("{}/{}", e.entity, e.key));
        }
    }
    Ok(out)
}

/// Opens a draft against the latest published version of `event`.
pub fn open(db: &Db, ctx: &Context, who: &Principal, event: &str, reason: &str) -> Result<i64> {
    require(who, Role::Curator, "open a changeset")?;
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
        let id = db::insert_changeset(
            c,
            &NewChangeset {
                event: event.to_string(),
                base_version: base.number,
                author: who.actor(),
                reason: reason.to_string(),
                state: State::Draft.as_str().into(),
                created_at: at.clone(),
                updated_at: at,
            },
        )?;
        Audit::new("changeset.open", "changeset", id.to_string())
            .after(
                serde_json::json!({"event": event, "base_version": base.number, "state": "draft"}),
            )
            .reason(reason)
            .write(c, ctx)?;
        Ok(id)
    })
}

/// Changesets, newest first, optionally of one event or in one state.
pub fn list(db: &Db, event: Option<&str>, state: Option<State>) -> Result<Vec<ChangesetInfo>> {
    db.read(|c| db::changesets_where(c, event, state.map(State::as_str)))?
        .into_iter()
        .map(ChangesetInfo::from_row)
        .collect()
}

/// A changeset with its edits, what they change, their conflicts with
/// later versions, and the checks on the result.
pub fn view(db: &Db, id: i64) -> Result<ChangesetView> {
    db.read(|c| {
        let (cs, edits) = load(c, id)?;
        let base = base_dataset(c, &cs)?;
        let (latest_version, latest) = latest(c, &cs.event)?;
        let conflicts = if latest_version != cs.base_version && cs.state.open() {
            conflicts(&edits, &latest)?
        } else {
            Vec::new()
        };
        let result = apply(base.clone(), &item_edits(&edits)?)?;
        let problems: Vec<String> = result.validate().iter().map(|p| p.to_string()).collect();
        let checks = problems.is_empty().then(|| checks::run(&result));
        let edits = edits
            .into_iter()
            .map(|e| {
                Ok(EditInfo {
                    table: table_of(&e.entity)?,
                    item: e.item.as_deref().map(serde_json::from_str).transpose()?,
                    key: e.key,
                    seen: e.seen,
                    edited_by: e.edited_by,
                    edited_at: e.edited_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ChangesetView {
            changes: base.changes(&result)?,
            changeset: cs,
            edits,
            latest_version,
            conflicts,
            problems,
            checks,
        })
    })
}

fn problems_at(ds: &Dataset, table: Table, key: &str) -> Vec<String> {
    let row = match table {
        Table::Event => Some(0),
        Table::Sources => ds.sources.iter().position(|x| x.key == key),
        Table::Figures => ds.figures.iter().position(|x| x.key == key),
        Table::Claims => ds.claims.iter().position(|x| x.id == key),
        Table::Rules => ds.rules.iter().position(|x| x.id == key),
    };
    ds.validate()
        .into_iter()
        .filter(|p| p.table == table && Some(p.row) == row)
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect()
}

/// One item as the changeset has it, with its ETag.
pub fn item(db: &Db, id: i64, table: Table, key: &str) -> Result<ItemView> {
    db.read(|c| {
        let (cs, edits) = load(c, id)?;
        let view = apply(base_dataset(c, &cs)?, &item_edits(&edits)?)?;
        let item = view.item(table, key)?;
        Ok(ItemView {
            etag: item_tag(item.as_ref()),
            problems: if item.is_some() {
                problems_at(&view, table, key)
            } else {
                Vec::new()
            },
            item,
        })
    })
}

fn require(who: &Principal, role: Role, what: &str) -> Result<()> {
    if who.has(role) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "only a {} may {what}",
            role.as_str()
        )))
    }
}

/// Puts an item into a changeset (`None` removes it), if `pre` matches the
/// item as the changeset has it; otherwise 409 with the current item, and
/// nothing changes. A submitted changeset goes back to draft.
pub fn put_item(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    edit: ItemEdit,
    pre: &Precondition,
) -> Result<ItemView> {
    require(who, Role::Curator, "edit a changeset")?;
    let (table, key) = (edit.table, edit.key.clone());
    let key = key.as_str();
    db.write(|c| {
        let (cs, edits) = load(c, id)?;
        if !cs.state.open() {
            return Err(Error::Conflict(format!(
                "changeset {id} is {}: it takes no more edits; open a new one",
                cs.state.as_str()
            )));
        }
        let base = base_dataset(c, &cs)?;
        let mut view = apply(base.clone(), &item_edits(&edits)?)?;
        let current = view.item(table, key)?;
        let tag = item_tag(current.as_ref());
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
                current,
                etag: tag,
            });
        }
        if edit.item.is_none() && current.is_none() {
            return Err(Error::NotFound(format!(
                "changeset {id} has no {}/{key} to remove",
                table.as_str()
            )));
        }
        view.set_item(&edit)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        // The item as stored: normalised through the model's types.
        let stored = view.item(table, key)?;
        let before = base.item(table, key)?;
        let at = ctx.at();
        record(c, id, table, key, &stored, &before, who, &at)?;
        let reopened = reopen(c, &cs, &at)?;
        let mut summary = format!(
            "changeset {id}: {} {}/{key}",
            match (&current, &stored) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            },
            table.as_str()
        );
        if reopened {
            summary.push_str("; the changeset went back to draft");
        }
        Audit::new(
            "changeset.edit",
            table_entity(table),
            format!("{}/{key}", cs.event),
        )
        .before(&current)
        .after(&stored)
        .summary(summary)
        .write(c, ctx)?;
        Ok(ItemView {
            etag: item_tag(stored.as_ref()),
            problems: if stored.is_some() {
                problems_at(&view, table, key)
            } else {
                Vec::new()
            },
            item: stored,
        })
    })
}

/// Stores that a changeset has `item` at `table/key`, made against the base
/// version's `before`; an item back to its base state drops the edit.
#[allow(clippy::too_many_arguments)]
fn record(
    c: &mut Conn,
    id: i64,
    table: Table,
    key: &str,
    item: &Option<Json>,
    before: &Option<Json>,
    who: &Principal,
    at: &str,
) -> Result<()> {
    if item == before {
        return db::delete_edit(c, id, table.as_str(), key);
    }
    db::upsert_edit(
        c,
        &Edit {
            changeset_id: id,
            entity: table.as_str().to_string(),
            key: key.to_string(),
            item: item.as_ref().map(document::canonical),
            seen: item_tag(before.as_ref()),
            edited_by: who.actor(),
            edited_at: at.to_string(),
        },
    )
}

/// An edit to a submitted changeset sends it back to draft, so that no
/// approval covers content the reviewer did not see; true when it did.
/// Either way the changeset's time of change moves on.
fn reopen(c: &mut Conn, cs: &ChangesetInfo, at: &str) -> Result<bool> {
    let reopened = cs.state == State::Submitted;
    let state = if reopened { State::Draft } else { cs.state };
    db::set_changeset_state(
        c,
        cs.id,
        state.as_str(),
        cs.reviewer.as_deref(),
        cs.comment.as_deref(),
        at,
    )?;
    Ok(reopened)
}

/// The people who wrote a changeset: its author and everyone who edited it.
fn writers(cs: &ChangesetInfo, edits: &[Edit]) -> BTreeSet<String> {
    let mut w: BTreeSet<String> = edits.iter().map(|e| e.edited_by.clone()).collect();
    w.insert(cs.author.clone());
    w
}

fn transition(
    c: &mut Conn,
    ctx: &Context,
    cs: &ChangesetInfo,
    to: State,
    reviewer: Option<&str>,
    comment: Option<&str>,
    action: &str,
) -> Result<()> {
    db::set_changeset_state(c, cs.id, to.as_str(), reviewer, comment, &ctx.at())?;
    let mut a = Audit::new(action, "changeset", cs.id.to_string())
        .before(serde_json::json!({"state": cs.state}))
        .after(serde_json::json!({"state": to}));
    if let Some(comment) = comment.filter(|c| !c.is_empty()) {
        a = a.reason(comment);
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

/// Submits a draft for review. Refused when it has no edits or its result
/// does not validate; check violations are shown, and block approval.
pub fn submit(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    comment: Option<&str>,
) -> Result<()> {
    require(who, Role::Curator, "submit a changeset")?;
    let comment = comment_of(comment)?;
    db.write(|c| {
        let (cs, edits) = load(c, id)?;
        if cs.state != State::Draft {
            return Err(Error::Conflict(format!(
                "changeset {id} is {}; only a draft can be submitted",
                cs.state.as_str()
            )));
        }
        if edits.is_empty() {
            return Err(Error::Conflict(format!(
                "changeset {id} has no edits to submit"
            )));
        }
        let result = apply(base_dataset(c, &cs)?, &item_edits(&edits)?)?;
        let problems: Vec<String> = result.validate().iter().map(|p| p.to_string()).collect();
        if !problems.is_empty() {
            return Err(Error::Conflict(format!(
                "changeset {id} does not hold together yet: {}",
                problems.join("; ")
            )));
        }
        transition(
            c,
            ctx,
            &cs,
            State::Submitted,
            None,
            comment,
            "changeset.submit",
        )
    })
}

/// Withdraws a changeset; only its author may.
pub fn withdraw(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    comment: Option<&str>,
) -> Result<()> {
    require(who, Role::Curator, "withdraw a changeset")?;
    let comment = comment_of(comment)?;
    db.write(|c| {
        let (cs, _) = load(c, id)?;
        if cs.author != who.actor() {
            return Err(Error::Forbidden(format!(
                "only the author of changeset {id} ({}) may withdraw it",
                cs.author
            )));
        }
        if !cs.state.open() {
            return Err(Error::Conflict(format!(
                "changeset {id} is already {}",
                cs.state.as_str()
            )));
        }
        transition(
            c,
            ctx,
            &cs,
            State::Withdrawn,
            None,
            comment,
            "changeset.withdraw",
        )
    })
}

fn reviewable(cs: &ChangesetInfo, edits: &[Edit], who: &Principal, what: &str) -> Result<()> {
    require(who, Role::Reviewer, what)?;
    if writers(cs, edits).contains(&who.actor()) {
        return Err(Error::Forbidden(format!(
            "you wrote part of changeset {}; another reviewer must {what}",
            cs.id
        )));
    }
    if cs.state != State::Submitted {
        return Err(Error::Conflict(format!(
            "changeset {} is {}; only a submitted changeset can be reviewed{}",
            cs.id,
            cs.state.as_str(),
            if cs.state == State::Draft {
                " (it was edited after submission, or never submitted)"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// Rejects a submitted changeset, with a comment saying why.
pub fn reject(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    comment: Option<&str>,
) -> Result<()> {
    let comment = comment_of(comment)?
        .ok_or_else(|| Error::BadRequest("a rejection needs a comment saying why".into()))?;
    db.write(|c| {
        let (cs, edits) = load(c, id)?;
        reviewable(&cs, &edits, who, "reject it")?;
        transition(
            c,
            ctx,
            &cs,
            State::Rejected,
            Some(&who.actor()),
            Some(comment),
            "changeset.reject",
        )
    })
}

/// What an approval published.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Approved {
    pub event: String,
    pub version: i64,
    pub sha256: String,
}

/// Approves a submitted changeset: rebases its edits onto the latest
/// published version, re-runs the checks, and publishes the next version,
/// all in one transaction. Refused when an edited item changed meanwhile,
/// the result does not validate, or an error check is violated.
pub fn approve(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    comment: Option<&str>,
) -> Result<Approved> {
    let comment = comment_of(comment)?;
    db.write(|c| {
        let (cs, edits) = load(c, id)?;
        reviewable(&cs, &edits, who, "approve it")?;
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
        transition(
            c,
            ctx,
            &cs,
            State::Approved,
            Some(&who.actor()),
            comment,
            "changeset.approve",
        )?;
        db::replace_dataset(c, &result)?;
        let v = publish(c, ctx, &result, &report, Some(id))?;
        Ok(Approved {
            event: v.event,
            version: v.number,
            sha256: v.sha256,
        })
    })
}

/// Imports an event folder into an open changeset: every item that differs
/// from the changeset as it stands becomes an edit. A dry run only answers
/// what would change. All or nothing; the files' problems are all named.
pub fn import_into(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    id: i64,
    folder: &crate::files::Folder,
    dry_run: bool,
) -> Result<Vec<Change>> {
    require(who, Role::Curator, "import into a changeset")?;
    let ds = folder.parse().map_err(Error::Files)?;
    db.write(|c| {
        let (cs, edits) = load(c, id)?;
        if !cs.state.open() {
            return Err(Error::Conflict(format!(
                "changeset {id} is {}: it takes no more edits; open a new one",
                cs.state.as_str()
            )));
        }
        if ds.event.slug != cs.event {
            return Err(Error::BadRequest(format!(
                "the files are for event '{}', but changeset {id} is for '{}'",
                ds.event.slug, cs.event
            )));
        }
        let base = base_dataset(c, &cs)?;
        let view = apply(base.clone(), &item_edits(&edits)?)?;
        let changes = view.changes(&ds)?;
        if dry_run || changes.is_empty() {
            return Ok(changes);
        }
        let at = ctx.at();
        for ch in &changes {
            let before = base.item(ch.table, &ch.key)?;
            record(c, id, ch.table, &ch.key, &ch.after, &before, who, &at)?;
        }
        let reopened = reopen(c, &cs, &at)?;
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
        Ok(changes)
    })
}
