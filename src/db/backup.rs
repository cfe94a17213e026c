//! Every stored row, for `vigil backup` and `vigil restore`: read in one
//! consistent transaction, written back into an empty database. Sessions are
//! never kept; passwords and token hashes only when asked.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::{
    api_tokens, audit_checkpoints, audit_entries, changeset_comments, changeset_edits, changesets,
    claims, events, figures, rules, sessions, sources, users, versions,
};
use super::store::{ClaimRow, EventRow, FigureRow, RuleRow, SourceRow};
use super::{
    audit_rows, Changeset, CheckpointRow, CommentRow, Conn, Edit, EntryRow, TokenRow, UserRow,
    VersionRow,
};
use crate::error::Result;

/// One row of one table, as an archive line holds it:
/// `{"table": "figures", "row": {…}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(Row);

#[derive(Debug, Serialize, Deserialize)]
#[serde(
    tag = "table",
    content = "row",
    rename_all = "snake_case",
    deny_unknown_fields
)]
enum Row {
    Users(UserRow),
    ApiTokens(TokenRow),
    Events(EventRow),
    Sources(SourceRow),
    Figures(FigureRow),
    Claims(ClaimRow),
    Rules(RuleRow),
    Changesets(Changeset),
    ChangesetEdits(Edit),
    ChangesetComments(CommentRow),
    Versions(VersionRow),
    AuditCheckpoints(CheckpointRow),
    AuditEntries(EntryRow),
}

/// The tables an archive holds, in the order they are written and restored:
/// every table after those it refers to, and the checkpoints before the
/// entries so that a restore can check each root as the tree grows.
pub const BACKUP_TABLES: [&str; 13] = [
    "users",
    "api_tokens",
    "events",
    "sources",
    "figures",
    "claims",
    "rules",
    "changesets",
    "changeset_edits",
    "changeset_comments",
    "versions",
    "audit_checkpoints",
    "audit_entries",
];

/// What a restore needs to look at in a record before storing it.
pub enum Peek<'a> {
    Version(&'a VersionRow),
    Checkpoint(&'a CheckpointRow),
    Entry(&'a EntryRow),
    User(&'a UserRow),
    Other,
}

impl Record {
    /// The table the row belongs to.
    pub fn table(&self) -> &'static str {
        BACKUP_TABLES[self.rank()]
    }

    /// The table's place in [`BACKUP_TABLES`].
    pub fn rank(&self) -> usize {
        match &self.0 {
            Row::Users(_) => 0,
            Row::ApiTokens(_) => 1,
            Row::Events(_) => 2,
            Row::Sources(_) => 3,
            Row::Figures(_) => 4,
            Row::Claims(_) => 5,
            Row::Rules(_) => 6,
            Row::Changesets(_) => 7,
            Row::ChangesetEdits(_) => 8,
            Row::ChangesetComments(_) => 9,
            Row::Versions(_) => 10,
            Row::AuditCheckpoints(_) => 11,
            Row::AuditEntries(_) => 12,
        }
    }

    pub fn peek(&self) -> Peek<'_> {
        match &self.0 {
            Row::Versions(v) => Peek::Version(v),
            Row::AuditCheckpoints(c) => Peek::Checkpoint(c),
            Row::AuditEntries(e) => Peek::Entry(e),
            Row::Users(u) => Peek::User(u),
            _ => Peek::Other,
        }
    }
}

/// Audit entries read per query while dumping.
const PAGE: i64 = 5000;

/// Hands every row of every table to `emit`, table by table in the order of
/// [`BACKUP_TABLES`]. Run it inside one read transaction for a consistent
/// archive. Without `with_secrets`, password hashes are left empty and API
/// tokens out.
pub fn dump(
    c: &mut Conn,
    with_secrets: bool,
    emit: &mut dyn FnMut(Record) -> Result<()>,
) -> Result<()> {
    macro_rules! all {
        ($table:ident, $row:ty, $order:expr, $variant:ident) => {
            for r in $table::table
                .order($order)
                .select(<$row>::as_select())
                .load::<$row>(c)?
            {
                emit(Record(Row::$variant(r)))?;
            }
        };
    }
    for mut u in users::table
        .order(users::name)
        .select(UserRow::as_select())
        .load::<UserRow>(c)?
    {
        if !with_secrets {
            u.password_hash = String::new();
        }
        emit(Record(Row::Users(u)))?;
    }
    if with_secrets {
        all!(api_tokens, TokenRow, api_tokens::name, ApiTokens);
    }
    all!(events, EventRow, events::slug, Events);
    all!(sources, SourceRow, (sources::event, sources::key), Sources);
    all!(figures, FigureRow, (figures::event, figures::key), Figures);
    all!(claims, ClaimRow, (claims::event, claims::id), Claims);
    all!(rules, RuleRow, (rules::event, rules::id), Rules);
    all!(changesets, Changeset, changesets::id, Changesets);
    all!(
        changeset_edits,
        Edit,
        (
            changeset_edits::changeset_id,
            changeset_edits::entity,
            changeset_edits::key
        ),
        ChangesetEdits
    );
    all!(
        changeset_comments,
        CommentRow,
        changeset_comments::id,
        ChangesetComments
    );
    all!(
        versions,
        VersionRow,
        (versions::event, versions::number),
        Versions
    );
    all!(
        audit_checkpoints,
        CheckpointRow,
        audit_checkpoints::size,
        AuditCheckpoints
    );
    let mut after = i64::MIN;
    loop {
        let page = audit_rows(c, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in page {
            emit(Record(Row::AuditEntries(r)))?;
        }
    }
    Ok(())
}

/// How many rows each table that a restore must find empty holds, for the
/// tables that hold any.
pub fn nonempty_tables(c: &mut Conn) -> Result<Vec<(&'static str, i64)>> {
    let counts = [
        ("users", users::table.count().get_result::<i64>(c)?),
        ("sessions", sessions::table.count().get_result(c)?),
        ("api_tokens", api_tokens::table.count().get_result(c)?),
        ("events", events::table.count().get_result(c)?),
        ("sources", sources::table.count().get_result(c)?),
        ("figures", figures::table.count().get_result(c)?),
        ("claims", claims::table.count().get_result(c)?),
        ("rules", rules::table.count().get_result(c)?),
        ("changesets", changesets::table.count().get_result(c)?),
        (
            "changeset_edits",
            changeset_edits::table.count().get_result(c)?,
        ),
        (
            "changeset_comments",
            changeset_comments::table.count().get_result(c)?,
        ),
        ("versions", versions::table.count().get_result(c)?),
        (
            "audit_checkpoints",
            audit_checkpoints::table.count().get_result(c)?,
        ),
        ("audit_entries", audit_entries::table.count().get_result(c)?),
    ];
    Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// Stores records exactly as given, in batches; all of one table.
pub fn insert_records(c: &mut Conn, batch: Vec<Record>) -> Result<()> {
    macro_rules! insert {
        ($table:ident, $variant:ident) => {{
            let rows: Vec<_> = batch
                .into_iter()
                .filter_map(|r| match r.0 {
                    Row::$variant(x) => Some(x),
                    _ => None,
                })
                .collect();
            for chunk in rows.chunks(500) {
                on_backend!(&mut *c, |c| diesel::insert_into($table::table)
                    .values(chunk)
                    .execute(c))?;
            }
        }};
    }
    let Some(first) = batch.first() else {
        return Ok(());
    };
    match first.0 {
        Row::Users(_) => insert!(users, Users),
        Row::ApiTokens(_) => insert!(api_tokens, ApiTokens),
        Row::Events(_) => insert!(events, Events),
        Row::Sources(_) => insert!(sources, Sources),
        Row::Figures(_) => insert!(figures, Figures),
        Row::Claims(_) => insert!(claims, Claims),
        Row::Rules(_) => insert!(rules, Rules),
        Row::Changesets(_) => insert!(changesets, Changesets),
        Row::ChangesetEdits(_) => insert!(changeset_edits, ChangesetEdits),
        Row::ChangesetComments(_) => insert!(changeset_comments, ChangesetComments),
        Row::Versions(_) => insert!(versions, Versions),
        Row::AuditCheckpoints(_) => insert!(audit_checkpoints, AuditCheckpoints),
        Row::AuditEntries(_) => insert!(audit_entries, AuditEntries),
    }
    Ok(())
}

/// After rows were stored with their own ids: the next changeset id must
/// follow the largest restored one (PostgreSQL's sequence does not see
/// explicit ids; SQLite's AUTOINCREMENT does).
pub fn reset_sequences(c: &mut Conn) -> Result<()> {
    if let Conn::Postgres(_) = c {
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('changesets', 'id'), \
             COALESCE((SELECT MAX(id) FROM changesets), 0) + 1, false)",
        )
        .execute(c)?;
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('changeset_comments', 'id'), \
             COALESCE((SELECT MAX(id) FROM changeset_comments), 0) + 1, false)",
        )
        .execute(c)?;
    }
    Ok(())
}
