//! The audit log as stored: appended in the writer's transaction, never
//! changed (the triggers refuse it).

use diesel::prelude::*;

use super::schema::{audit_checkpoints, audit_entries, audit_nodes, audit_verifications};
use super::Conn;
use crate::audit::AuditFilter;
use crate::audit::Entry;
use crate::error::{Error, Result};

/// An audit entry exactly as stored, `before` and `after` as text, with the
/// stored leaf hash (hex).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = audit_entries, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct EntryRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub summary: Option<String>,
    pub request_id: Option<String>,
    pub client: Option<String>,
    pub leaf: String,
    /// The client's own `X-Request-Id`, when it sent one.
    #[serde(default)]
    pub client_request_id: Option<String>,
}

/// A signed checkpoint as stored.
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
#[diesel(table_name = audit_checkpoints, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRow {
    pub size: i64,
    pub root: String,
    pub at: String,
    pub note: String,
}

fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(crate::document::canonical)
}

fn json_value(what: &str, seq: i64, v: Option<String>) -> Result<Option<serde_json::Value>> {
    v.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| Error::Internal(format!("audit entry {seq}: {what} does not parse: {e}")))
    })
    .transpose()
}

impl EntryRow {
    /// The stored fields, for recomputing the leaf without parsing.
    pub fn parts(&self) -> crate::audit::Parts<'_> {
        crate::audit::Parts {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            entity: &self.entity,
            entity_id: &self.entity_id,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
            reason: self.reason.as_deref(),
            summary: self.summary.as_deref(),
            request_id: self.request_id.as_deref(),
            client: self.client.as_deref(),
            client_request_id: self.client_request_id.as_deref(),
        }
    }

    pub fn entry(self) -> Result<(Entry, String)> {
        let seq = self.seq;
        Ok((
            Entry {
                seq,
                at: self.at,
                actor: self.actor,
                action: self.action,
                entity: self.entity,
                entity_id: self.entity_id,
                before: json_value("before", seq, self.before)?,
                after: json_value("after", seq, self.after)?,
                reason: self.reason,
                summary: self.summary,
                request_id: self.request_id,
                client: self.client,
                client_request_id: self.client_request_id,
            },
            self.leaf,
        ))
    }
}

/// The number of entries, which is also the last sequence number.
pub fn audit_size(c: &mut Conn) -> Result<i64> {
    Ok(audit_entries::table
        .select(diesel::dsl::max(audit_entries::seq))
        .first::<Option<i64>>(c)?
        .unwrap_or(0))
}

/// Appends an entry; `entry.seq` is replaced by the next number. Call it
/// inside [`super::Db::write`], whose lock keeps the numbers gapless.
pub fn append_audit(c: &mut Conn, mut entry: Entry) -> Result<Entry> {
    entry.seq = audit_size(c)? + 1;
    diesel::insert_into(audit_entries::table)
        .values(EntryRow::of(&entry))
        .execute(c)?;
    Ok(entry)
}

/// Entries matching `f`, in sequence order (or newest first), with their
/// stored leaf hashes.
pub fn audit_entries(c: &mut Conn, f: &AuditFilter) -> Result<Vec<(Entry, String)>> {
    let q = filtered(f);
    let q = if f.newest_first {
        q.order(audit_entries::seq.desc())
    } else {
        q.order(audit_entries::seq)
    };
    let rows: Vec<EntryRow> = q.limit(f.limit).select(EntryRow::as_select()).load(c)?;
    rows.into_iter().map(EntryRow::entry).collect()
}

/// How many entries match `f` (its limit and order aside).
pub fn audit_count(c: &mut Conn, f: &AuditFilter) -> Result<i64> {
    Ok(filtered(f).count().get_result(c)?)
}

/// The values the log holds for actor, action and entity: what a filter
/// can choose from.
pub fn audit_values(c: &mut Conn) -> Result<[Vec<String>; 3]> {
    let actors = audit_entries::table
        .select(audit_entries::actor)
        .distinct()
        .order(audit_entries::actor)
        .load(c)?;
    let actions = audit_entries::table
        .select(audit_entries::action)
        .distinct()
        .order(audit_entries::action)
        .load(c)?;
    let entities = audit_entries::table
        .select(audit_entries::entity)
        .distinct()
        .order(audit_entries::entity)
        .load(c)?;
    Ok([actors, actions, entities])
}

fn filtered(f: &AuditFilter) -> audit_entries::BoxedQuery<'static, super::MultiBackend> {
    let mut q = audit_entries::table.into_boxed();
    if let Some(a) = &f.actor {
        q = q.filter(audit_entries::actor.eq(a.clone()));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_entries::action.eq(a.clone()));
    }
    if let Some(e) = &f.entity {
        q = q.filter(audit_entries::entity.eq(e.clone()));
    }
    if let Some(e) = &f.entity_id {
        q = q.filter(audit_entries::entity_id.eq(e.clone()));
    }
    if let Some(e) = &f.entity_id_contains {
        let escaped: String = e
            .chars()
            .flat_map(|ch| match ch {
                '%' | '_' | '\\' => vec!['\\', ch],
                ch => vec![ch],
            })
            .collect();
        q = q.filter(
            audit_entries::entity_id
                .like(format!("%{escaped}%"))
                .escape('\\'),
        );
    }
    // The stored times are millisecond stamps: compared as text.
    if let Some(t) = f.since {
        q = q.filter(audit_entries::at.ge(crate::time::millis(t)));
    }
    if let Some(t) = f.until {
        q = q.filter(audit_entries::at.le(crate::time::millis(t)));
    }
    if let Some(s) = f.after_seq {
        q = q.filter(audit_entries::seq.gt(s));
    }
    if let Some(s) = f.before_seq {
        q = q.filter(audit_entries::seq.lt(s));
    }
    q
}

/// Stores entries exactly as given (sequence numbers and leaves included),
/// in batches: for restoring a log, and for benchmarks.
pub fn insert_audit_rows(c: &mut Conn, rows: &[EntryRow]) -> Result<()> {
    for chunk in rows.chunks(1000) {
        // Batch inserts need the concrete backend.
        let insert = diesel::insert_into(audit_entries::table).values(chunk);
        match &mut *c {
            Conn::Sqlite(c) => insert.execute(c)?,
            Conn::Postgres(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

impl EntryRow {
    /// The row that stores `e`, with its leaf hash.
    pub fn of(e: &Entry) -> Self {
        EntryRow {
            seq: e.seq,
            at: e.at.clone(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            entity: e.entity.clone(),
            entity_id: e.entity_id.clone(),
            before: json_text(&e.before),
            after: json_text(&e.after),
            reason: e.reason.clone(),
            summary: e.summary.clone(),
            request_id: e.request_id.clone(),
            client: e.client.clone(),
            leaf: hex::encode(e.leaf_hash()),
            client_request_id: e.client_request_id.clone(),
        }
    }
}

/// Stored entries with sequence numbers after `after_seq`, in order, at
/// most `limit`: what verification reads, in batches.
pub fn audit_rows(c: &mut Conn, after_seq: i64, limit: i64) -> Result<Vec<EntryRow>> {
    Ok(audit_entries::table
        .filter(audit_entries::seq.gt(after_seq))
        .order(audit_entries::seq)
        .limit(limit)
        .select(EntryRow::as_select())
        .load(c)?)
}

/// Stored entries that match `f`, in sequence order, at most `f.limit`
/// (its order aside): what a filtered export reads, in batches.
pub fn audit_rows_where(c: &mut Conn, f: &AuditFilter) -> Result<Vec<EntryRow>> {
    Ok(filtered(f)
        .order(audit_entries::seq)
        .limit(f.limit)
        .select(EntryRow::as_select())
        .load(c)?)
}

/// How many stored entries have a sequence number below 1: none should.
pub fn audit_misnumbered(c: &mut Conn) -> Result<i64> {
    Ok(audit_entries::table
        .filter(audit_entries::seq.lt(1))
        .count()
        .get_result(c)?)
}

/// Stored entries with `after < seq <= upto`, in order.
pub fn audit_range(c: &mut Conn, after: i64, upto: i64) -> Result<Vec<EntryRow>> {
    Ok(audit_entries::table
        .filter(audit_entries::seq.gt(after))
        .filter(audit_entries::seq.le(upto))
        .order(audit_entries::seq)
        .select(EntryRow::as_select())
        .load(c)?)
}

/// The stored leaf hashes (hex) of entries 1 to `upto`, in order.
pub fn audit_leaves(c: &mut Conn, upto: i64) -> Result<Vec<String>> {
    Ok(audit_entries::table
        .filter(audit_entries::seq.le(upto))
        .order(audit_entries::seq)
        .select(audit_entries::leaf)
        .load(c)?)
}

/// One stored checkpoint by tree size.
pub fn checkpoint_at(c: &mut Conn, size: i64) -> Result<Option<CheckpointRow>> {
    Ok(audit_checkpoints::table
        .find(size)
        .select(CheckpointRow::as_select())
        .first(c)
        .optional()?)
}

pub fn insert_checkpoint(c: &mut Conn, row: &CheckpointRow) -> Result<()> {
    diesel::insert_into(audit_checkpoints::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

pub fn latest_checkpoint(c: &mut Conn) -> Result<Option<CheckpointRow>> {
    Ok(audit_checkpoints::table
        .order(audit_checkpoints::size.desc())
        .select(CheckpointRow::as_select())
        .first(c)
        .optional()?)
}

pub fn checkpoints(c: &mut Conn) -> Result<Vec<CheckpointRow>> {
    Ok(audit_checkpoints::table
        .order(audit_checkpoints::size)
        .select(CheckpointRow::as_select())
        .load(c)?)
}

/// The stored leaf hashes (hex) of entries `after < seq <= upto`, in order.
pub fn audit_leaf_range(c: &mut Conn, after: i64, upto: i64) -> Result<Vec<(i64, String)>> {
    Ok(audit_entries::table
        .filter(audit_entries::seq.gt(after))
        .filter(audit_entries::seq.le(upto))
        .order(audit_entries::seq)
        .select((audit_entries::seq, audit_entries::leaf))
        .load(c)?)
}

/// How many leaves the stored tree nodes cover: twice one more than the
/// last node of level 1 (a leaf left over is not a node yet).
pub fn audit_tree_covered(c: &mut Conn) -> Result<i64> {
    let last: Option<i64> = audit_nodes::table
        .filter(audit_nodes::level.eq(1))
        .select(diesel::dsl::max(audit_nodes::idx))
        .first(c)?;
    Ok(last.map_or(0, |i| 2 * (i + 1)))
}

/// One stored tree node.
pub fn audit_node(c: &mut Conn, level: i32, idx: i64) -> Result<Option<Vec<u8>>> {
    Ok(audit_nodes::table
        .find((level, idx))
        .select(audit_nodes::hash)
        .first(c)
        .optional()?)
}

/// Stored tree nodes of one level, by index.
pub fn audit_nodes_at(c: &mut Conn, level: i32, idx: &[i64]) -> Result<Vec<(i64, Vec<u8>)>> {
    Ok(audit_nodes::table
        .filter(audit_nodes::level.eq(level))
        .filter(audit_nodes::idx.eq_any(idx))
        .select((audit_nodes::idx, audit_nodes::hash))
        .load(c)?)
}

/// A tree node to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_nodes, treat_none_as_default_value = false)]
pub struct NodeRow {
    pub level: i32,
    pub idx: i64,
    pub hash: Vec<u8>,
}

/// Stores tree nodes; one already there is left as it is.
pub fn insert_audit_nodes(c: &mut Conn, rows: &[NodeRow]) -> Result<()> {
    for chunk in rows.chunks(1000) {
        match &mut *c {
            Conn::Sqlite(c) => diesel::insert_into(audit_nodes::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(c)?,
            Conn::Postgres(c) => diesel::insert_into(audit_nodes::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
    }
    Ok(())
}

/// A verification of the log as recorded.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_verifications)]
pub struct VerificationRow {
    /// Numbered in order; 0 to take the next number.
    pub id: i64,
    pub size: i64,
    pub root: String,
    pub verified_at: String,
    pub full_check: bool,
    /// A JSON array of strings.
    pub problems: String,
}

/// Records a verification under the next number; call it inside
/// [`super::Db::write`].
pub fn insert_verification(c: &mut Conn, row: &VerificationRow) -> Result<()> {
    let last: Option<i64> = audit_verifications::table
        .select(diesel::dsl::max(audit_verifications::id))
        .first(c)?;
    let row = VerificationRow {
        id: last.unwrap_or(0) + 1,
        ..row.clone()
    };
    diesel::insert_into(audit_verifications::table)
        .values(&row)
        .execute(c)?;
    Ok(())
}

/// The latest recorded verification; with `held`, the latest that found
/// no problem.
pub fn latest_verification(c: &mut Conn, held: bool) -> Result<Option<VerificationRow>> {
    let mut q = audit_verifications::table.into_boxed();
    if held {
        q = q.filter(audit_verifications::problems.eq("[]"));
    }
    Ok(q.order(audit_verifications::id.desc())
        .select(VerificationRow::as_select())
        .first(c)
        .optional()?)
}
