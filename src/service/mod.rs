//! What vigil does, as functions over the database: import, publish, export,
//! check. The CLI and the HTTP handlers call these and nothing below them.
//!
//! # Glossary: one name per thing
//!
//! A published version:
//!
//! - [`db::VersionRow`] — a version as stored: its number, time, changeset,
//!   hash and whole document text. Only storage and the service see it.
//! - [`document::CanonicalDocument`] — a version's document as built, before
//!   it is stored: its canonical JSON text and SHA-256. [`document::build`]
//!   makes it from the data and a [`document::Header`] (number, time,
//!   changeset); [`document::PublishedDocument`] is the shape of that JSON.
//! - [`document::VersionSummary`] — the public summary of a version (number,
//!   time, changeset, hash; no document). Lists of versions are made of it:
//!   [`reads::VersionHistory`] is an event's history, and the HTTP layer's
//!   `VersionDetail` is one summary with its links. (The OpenAPI schemas keep
//!   the names clients know: `VersionInfo`, `VersionList`.) The HTTP
//!   layer's `EventSummary` is not a version: it is an event in the list
//!   of events, with its latest version's number, time and hash.
//! - [`reads::ServedVersion`] — the read model: one version held in memory,
//!   its bodies pre-encoded, ready to send.
//! - [`changesets::Publication`] — what an approval published: the event,
//!   the new version's number and hash (OpenAPI schema `Approved`).
//!
//! An item's ETag (the SHA-256 of its canonical JSON, or [`ABSENT_ETAG`]) is
//! its `etag` ([`item_etag`]); the ETag of an item *as someone saw it* — what
//! an edit was made against, what `If-Match` or the panel's form sends — is a
//! `seen_etag` (the stored column and the API's edit field keep the name
//! `seen`). Likewise a changeset's revision as a reviewer saw it is a
//! `seen_revision`, and a changeset's own ETag is [`changesets::revision_etag`].
//!
//! In code, "reason" is why a change was made: a changeset's stated reason
//! ([`changesets::Changeset::reason`]), and an audit entry's `reason`, why
//! its action was taken (that reason, a reviewer's comment, why a token was
//! revoked). A deprecated claim's is its [`crate::model::DeprecationReason`]
//! (`Claim::deprecation_reason`), and why an action is refused is a
//! [`crate::model::changeset::Refused`]'s `why` or an
//! [`changesets::Allowed`]'s `why_not`. In files, documents and the API all
//! keep the field name `reason`.
//!
//! The HTTP layer's shared state is `http::AppState`; `State` is a
//! changeset's state ([`changesets::State`]).

pub mod accounts;
pub mod audit;
pub mod backup;
mod built;
pub mod changesets;
pub mod reads;

/// The storage handle. HTTP and the CLI open it and hand it to the service;
/// only the service reads or writes through it (`tests/architecture.rs`).
pub use crate::db::Db;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;

use crate::audit::Entry;
use crate::checks::{self, Report};
use crate::db::{self, VersionRow};
use crate::document::{self, Header};
use crate::error::{Error, Result};
use crate::files::Folder;
use crate::model::{Change, Dataset};

/// Who acts, when and from where: what the audit log records of a request.
#[derive(Debug, Clone)]
pub struct Context {
    /// As the audit log names it: `user:<name>`, `token:<name>`,
    /// `cli:<os user>`, `anonymous`.
    pub actor: String,
    /// vigil's own id of the request: unique.
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, if any: not unique.
    pub client_request_id: Option<String>,
    pub client: Option<String>,
    pub now: DateTime<Utc>,
}

impl Context {
    /// An actor acting now, outside any HTTP request.
    pub fn actor(actor: &str) -> Self {
        Self {
            actor: actor.to_string(),
            request_id: None,
            client_request_id: None,
            client: None,
            now: Utc::now(),
        }
    }

    /// The operator at the command line: `cli:<os user>`.
    pub fn cli() -> Self {
        Self::actor(&format!("cli:{}", os_user()))
    }
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The operator at the command line, as the audit log and the
/// authorization policy see them: who holds the database holds every role.
pub fn operator() -> (Context, crate::accounts::Principal) {
    let user = os_user();
    (
        Context::actor(&format!("cli:{user}")),
        crate::accounts::Principal::operator(&user),
    )
}

impl Context {
    /// The same request, acting as someone else (a log-in names its user).
    pub fn as_actor(&self, actor: String) -> Self {
        Self {
            actor,
            ..self.clone()
        }
    }

    /// The time of this request as a stored stamp keeps it: whole seconds.
    pub fn at(&self) -> DateTime<Utc> {
        crate::time::to_secs(self.now)
    }
}

/// One audit entry about to be written: what happened to what.
pub(crate) struct Audit<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
    pub reason: Option<String>,
    pub summary: Option<String>,
}

impl<'a> Audit<'a> {
    pub fn new(action: &'a str, entity: &'a str, entity_id: impl Into<String>) -> Self {
        Self {
            action,
            entity,
            entity_id: entity_id.into(),
            before: None,
            after: None,
            reason: None,
            summary: None,
        }
    }

    pub fn before(mut self, v: impl Serialize) -> Self {
        self.before = serde_json::to_value(v).ok().filter(|v| !v.is_null());
        self
    }

    pub fn after(mut self, v: impl Serialize) -> Self {
        self.after = serde_json::to_value(v).ok().filter(|v| !v.is_null());
        self
    }

    pub fn reason(mut self, r: &str) -> Self {
        self.reason = Some(r.to_string());
        self
    }

    pub fn summary(mut self, s: impl Into<String>) -> Self {
        self.summary = Some(s.into());
        self
    }

    /// Appends the entry, inside the caller's write transaction.
    pub fn write(self, c: &mut db::Conn, ctx: &Context) -> Result<Entry> {
        db::append_audit(
            c,
            Entry {
                seq: 0,
                at: crate::time::millis(ctx.now),
                actor: ctx.actor.clone(),
                action: self.action.to_string(),
                entity: self.entity.to_string(),
                entity_id: self.entity_id,
                before: self.before,
                after: self.after,
                reason: self.reason,
                summary: self.summary,
                request_id: ctx.request_id.clone(),
                client: ctx.client.clone(),
                client_request_id: ctx.client_request_id.clone(),
            },
        )
    }
}

/// What an import did, or would do on a dry run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Imported {
    /// A new event, published as its version 1.
    Published {
        event: String,
        version: i64,
        sha256: String,
        report: Report,
    },
    /// Changes to an existing event, stored as a submitted changeset that a
    /// reviewer must approve (`changeset` is `None` on a dry run).
    Submitted {
        event: String,
        changeset: Option<i64>,
        changes: Vec<Change>,
        report: Report,
    },
    /// The folder holds exactly what is already there.
    Unchanged { event: String },
}

/// Imports a folder. A new event is checked and, when no error check is
/// violated, published as version 1; an existing event gets a submitted
/// changeset with the differences. All or nothing; a dry run writes nothing.
pub fn import(db: &Db, ctx: &Context, folder: &Folder, dry_run: bool) -> Result<Imported> {
    let ds = folder.parse().map_err(Error::Files)?;
    let report = checks::run(&ds);
    let slug = ds.event.slug.clone();
    db.write(|c| {
        let Some(current) = db::load_dataset(c, &slug)? else {
            let blocking: Vec<_> = report.blocking().into_iter().cloned().collect();
            if !blocking.is_empty() {
                return Err(Error::Refused(blocking));
            }
            if dry_run {
                return Ok(Imported::Published {
                    event: slug,
                    version: 1,
                    sha256: String::new(),
                    report,
                });
            }
            db::insert_dataset(c, &ds)?;
            Audit::new("event.import", "event", &slug)
                .summary(format!(
                    "new event: {} figures, {} claims, {} sources, {} rules",
                    ds.figures.len(),
                    ds.claims.len(),
                    ds.sources.len(),
                    ds.rules.len()
                ))
                .write(c, ctx)?;
            let v = publish(c, ctx, &ds, &report, None)?;
            return Ok(Imported::Published {
                event: slug,
                version: v.number,
                sha256: v.sha256,
                report,
            });
        };
        let changes = current.changes(&ds)?;
        if changes.is_empty() {
            return Ok(Imported::Unchanged { event: slug });
        }
        if dry_run {
            return Ok(Imported::Submitted {
                event: slug,
                changeset: None,
                changes,
                report,
            });
        }
        let base = db::latest_version(c, &slug)?.map_or(0, |v| v.number);
        let reason = format!("CSV import of {} change(s)", changes.len());
        let (id, edits) = changesets::open_submitted(c, ctx, &slug, base, &reason, &changes)?;
        Audit::new("event.import", "changeset", id.to_string())
            .after(serde_json::json!({"event": slug, "state": "submitted", "edits": edits}))
            .summary(reason)
            .write(c, ctx)?;
        Ok(Imported::Submitted {
            event: slug,
            changeset: Some(id),
            changes,
            report,
        })
    })
}

/// Stores the next version of `ds`'s event, inside the caller's transaction,
/// with its audit entry (which carries the document's hash).
pub fn publish(
    c: &mut db::Conn,
    ctx: &Context,
    ds: &Dataset,
    report: &Report,
    changeset: Option<i64>,
) -> Result<VersionRow> {
    let slug = &ds.event.slug;
    let number = db::latest_version(c, slug)?.map_or(1, |v| v.number + 1);
    let published_at = ctx.at();
    let doc = document::build(
        ds,
        &Header {
            version: number,
            published_at,
            changeset,
        },
        report,
    )?;
    let row = VersionRow {
        event: slug.clone(),
        number,
        published_at: crate::time::secs(published_at),
        changeset_id: changeset,
        sha256: doc.sha256,
        document: doc.json,
    };
    db::insert_version(c, &row)?;
    Audit::new("version.publish", "version", format!("{slug}/{number}"))
        .after(serde_json::json!({
            "event": slug,
            "version": number,
            "sha256": row.sha256,
            "changeset": changeset,
        }))
        .summary(format!("published version {number} of {slug}"))
        .write(c, ctx)?;
    Ok(row)
}

/// The current data of an event.
pub fn dataset(db: &Db, slug: &str) -> Result<Dataset> {
    db.read(|c| db::load_dataset(c, slug))?
        .ok_or_else(|| Error::NotFound(format!("no event '{slug}'")))
}

/// Every event's slug.
pub fn events(db: &Db) -> Result<Vec<String>> {
    db.read(db::event_slugs)
}

/// Runs the checks on an event's current data.
pub fn check(db: &Db, slug: &str) -> Result<Report> {
    Ok(checks::run(&dataset(db, slug)?))
}

/// A published version; the latest when `number` is `None`.
pub fn version(db: &Db, slug: &str, number: Option<i64>) -> Result<VersionRow> {
    db.read(|c| {
        if !db::event_exists(c, slug)? {
            return Err(Error::NotFound(format!("no event '{slug}'")));
        }
        match number {
            Some(n) => db::version(c, slug, n)?
                .ok_or_else(|| Error::NotFound(format!("event '{slug}' has no version {n}"))),
            None => db::latest_version(c, slug)?
                .ok_or_else(|| Error::NotFound(format!("event '{slug}' has no published version"))),
        }
    })
}

/// Every version of an event, oldest first.
pub fn versions(db: &Db, slug: &str) -> Result<Vec<document::VersionSummary>> {
    db.read(|c| {
        if !db::event_exists(c, slug)? {
            return Err(Error::NotFound(format!("no event '{slug}'")));
        }
        summaries(c, slug)
    })
}

/// Every version of an event as stored, oldest first, as summaries.
fn summaries(c: &mut db::Conn, slug: &str) -> Result<Vec<document::VersionSummary>> {
    db::versions_of(c, slug)?
        .into_iter()
        .map(|r| {
            Ok(document::VersionSummary {
                published_at: crate::time::stored(
                    &format!("version {slug}/{}: published_at", r.number),
                    &r.published_at,
                )?,
                number: r.number,
                changeset: r.changeset_id,
                sha256: r.sha256,
            })
        })
        .collect()
}

/// Every version of an event, oldest first, with the reason of the
/// changeset that published each (by changeset id). Public: a published
/// change's stated reason is part of what was published; the reasons of
/// changesets that were never published are not read here.
pub fn history(
    db: &Db,
    slug: &str,
) -> Result<(
    Vec<document::VersionSummary>,
    std::collections::HashMap<i64, String>,
)> {
    db.read(|c| {
        if !db::event_exists(c, slug)? {
            return Err(Error::NotFound(format!("no event '{slug}'")));
        }
        let versions = summaries(c, slug)?;
        let mut reasons = std::collections::HashMap::new();
        for id in versions.iter().filter_map(|v| v.changeset) {
            if let Some(cs) = db::changeset(c, id)? {
                reasons.insert(id, cs.reason);
            }
        }
        Ok((versions, reasons))
    })
}

/// What changed from one version of an event to another.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Diff {
    pub event: String,
    pub from: i64,
    pub to: i64,
    pub changes: Vec<Change>,
}

/// The changes between two published versions.
pub fn diff(db: &Db, slug: &str, from: i64, to: i64) -> Result<Diff> {
    let a = document::dataset(&version(db, slug, Some(from))?.document)?;
    let b = document::dataset(&version(db, slug, Some(to))?.document)?;
    Ok(Diff {
        event: slug.to_string(),
        from,
        to,
        changes: a.changes(&b)?,
    })
}

/// The latest version number of every event.
pub fn latest_numbers(db: &Db) -> Result<Vec<(String, i64)>> {
    db.read(db::latest_numbers)
}

/// The ETag of an item that does not exist.
pub const ABSENT_ETAG: &str = "absent";

/// The ETag of one item: the SHA-256 of its canonical JSON, or
/// [`ABSENT_ETAG`] when there is no such item. What an edit remembers of
/// the item it was made against is this ETag as the editor saw it, its
/// `seen_etag`.
pub fn item_etag(item: Option<&Json>) -> String {
    match item {
        Some(v) => document::hash(v),
        None => ABSENT_ETAG.to_string(),
    }
}
