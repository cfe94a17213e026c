//! The audit log for auditors: newest first, page by page; filters as
//! choices of what the log holds; each entry's change as "field: old →
//! new"; an item's history with the changeset of each edit and its fate.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::changesets::person;
use super::{
    enc, field_changes, page, see_other, Asked, CsrfOnly, FieldChange, Frame, OnPage, PanelError,
    Posting, T,
};
use crate::error::Error;
use crate::http::auth::Auditor;
use crate::http::{blocking, AppState};
use crate::service;
use crate::service::changesets::State as CsState;

/// One audit entry as the log page shows it.
pub struct EntryRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub reason: String,
    pub summary: String,
    pub changes: Vec<FieldChange>,
    /// For an edit: its changeset, and what became of it.
    pub changeset: Option<(i64, String)>,
}

/// The filters as typed, to show them back.
#[derive(Default, Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
    /// `all` after "verify everything now".
    #[serde(default)]
    verified: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    f: Frame,
    q: AuditForm,
    verification: Option<service::audit::Verified>,
    checkpoint: Option<service::audit::SignedCheckpoint>,
    entries: Vec<EntryRow>,
    /// The values the filters offer: actors, actions, entities.
    actors: Vec<String>,
    actions: Vec<String>,
    entities: Vec<String>,
    since_error: Option<String>,
    until_error: Option<String>,
    total: i64,
    page_no: i64,
    pages: i64,
    /// The next (older) page, if any.
    next: Option<String>,
    /// The first page of the same filter, when this is not it.
    first: Option<String>,
    /// The log as files, with the active filter.
    downloads: Downloads,
}

/// The log's downloads: every entry the active filter selects (all of
/// them, without one), in sequence order.
pub struct Downloads {
    pub filtered: bool,
    pub csv: String,
    pub jsonl: String,
}

/// Entries per page of the log.
const PAGE: i64 = 50;

/// A bound of the form as the filter takes it: an RFC 3339 time as typed,
/// or a date alone, meaning its first (since) or last (until) second, UTC.
fn bound(typed: &str, end: bool) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    let t = typed.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let (h, m, s, ms) = if end { (23, 59, 59, 999) } else { (0, 0, 0, 0) };
        if let Some(at) = d.and_hms_milli_opt(h, m, s, ms) {
            return Ok(Some(at.and_utc()));
        }
    }
    crate::time::parse(t)
        .map(|d| Some(crate::time::to_millis(d)))
        .map_err(|_| format!("“{t}” {}", T.not_a_date))
}

/// The changeset an edit entry belongs to, from its summary
/// ("changeset 12: changed figure …").
fn changeset_of(action: &str, summary: &str) -> Option<i64> {
    if action != "changeset.edit" {
        return None;
    }
    summary
        .strip_prefix("changeset ")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

fn fate_words(state: CsState, version: Option<i64>) -> String {
    match (state, version) {
        (CsState::Approved, Some(v)) => format!("{} {v}", T.published_as_version),
        (CsState::Approved, None) => T.state_approved.into(),
        (CsState::Rejected, _) => T.state_rejected.into(),
        (CsState::Withdrawn, _) => T.state_withdrawn.into(),
        (CsState::Submitted, _) => T.state_submitted.into(),
        (CsState::Draft, _) => T.state_draft.into(),
    }
}

pub async fn audit_log(
    state: web::Data<AppState>,
    who: Asked<Auditor>,
    q: web::Query<AuditForm>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who);
    let q = q.into_inner();
    // A bound that does not read is said at its field; the form is kept,
    // and the log is shown without that bound.
    let (since, since_error) = match bound(&q.since, false) {
        Ok(b) => (b, None),
        Err(e) => (None, Some(e)),
    };
    let (until, until_error) = match bound(&q.until, true) {
        Ok(b) => (b, None),
        Err(e) => (None, Some(e)),
    };
    let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = crate::audit::AuditFilter {
        actor: some(&q.actor),
        action: some(&q.action),
        entity: some(&q.entity),
        entity_id_contains: some(&q.entity_id),
        since,
        until,
        before_seq: q.before.filter(|b| *b > 0),
        newest_first: true,
        limit: PAGE,
        ..Default::default()
    };
    // What is new since the last verification; everything on request.
    let verification = match state.audit_key.as_ref().map(|k| k.verifier()) {
        Some(key) => {
            let st = state.clone();
            let now = state.clock.now();
            let p = who.principal.clone();
            Some(
                blocking(move || service::audit::verify_new(&st.db, &p, &key, now))
                    .await
                    .on(&f)?,
            )
        }
        None => None,
    };
    let st = state.clone();
    let p = who.principal.clone();
    let (entries, checkpoint, total, newer, values, fates) = blocking(move || {
        let entries = service::audit::entries(&st.db, &p, &filter)?;
        let (_, cp) = service::audit::head(&st.db)?;
        let all = crate::audit::AuditFilter {
            before_seq: None,
            ..filter.clone()
        };
        let total = service::audit::count(&st.db, &all)?;
        // Entries newer than this page: which page it is.
        let newer = match filter.before_seq {
            Some(b) => service::audit::count(
                &st.db,
                &crate::audit::AuditFilter {
                    before_seq: None,
                    after_seq: Some(b - 1),
                    ..filter.clone()
                },
            )?,
            None => 0,
        };
        let values = service::audit::values(&st.db)?;
        let mut fates = std::collections::BTreeMap::new();
        for id in entries
            .iter()
            .filter_map(|e| changeset_of(&e.action, e.summary.as_deref().unwrap_or("")))
        {
            if let std::collections::btree_map::Entry::Vacant(slot) = fates.entry(id) {
                if let Ok((state, version)) = service::audit::fate(&st.db, id) {
                    slot.insert(fate_words(state, version));
                }
            }
        }
        Ok((entries, cp, total, newer, values, fates))
    })
    .await
    .on(&f)?;
    let more = entries.len() as i64 == PAGE && total > newer + PAGE;
    let last = entries.last().map_or(0, |e| e.seq);
    let query = format!(
        "actor={}&action={}&entity={}&entity_id={}&since={}&until={}",
        enc(&q.actor),
        enc(&q.action),
        enc(&q.entity),
        enc(&q.entity_id),
        enc(&q.since),
        enc(&q.until)
    );
    let next = more.then(|| format!("/admin/audit?{query}&before={last}"));
    let first = q.before.is_some().then(|| format!("/admin/audit?{query}"));
    // The downloads carry the active filter, as the API reads it: the
    // entity id as a part, the dates as the times they stand for.
    let mut api: Vec<String> = Vec::new();
    for (k, v) in [
        ("actor", some(&q.actor)),
        ("action", some(&q.action)),
        ("entity", some(&q.entity)),
        ("entity_id_contains", some(&q.entity_id)),
        ("since", since.map(crate::time::millis)),
        ("until", until.map(crate::time::millis)),
    ] {
        if let Some(v) = v {
            api.push(format!("{k}={}", enc(&v)));
        }
    }
    let filtered = !api.is_empty();
    let api = api.join("&");
    let download = |path: &str| {
        if api.is_empty() {
            format!("/api/v1/audit/{path}")
        } else {
            format!("/api/v1/audit/{path}?{api}")
        }
    };
    let entries = entries
        .into_iter()
        .map(|e| {
            let summary = e.summary.unwrap_or_default();
            let changeset = changeset_of(&e.action, &summary)
                .map(|id| (id, fates.get(&id).cloned().unwrap_or_default()));
            EntryRow {
                seq: e.seq,
                changes: field_changes(e.before.as_ref(), e.after.as_ref())
                    .into_iter()
                    .filter(|c| !(c.old == "—" && c.new == "—"))
                    .collect(),
                at: e.at,
                actor: person(&e.actor).to_string(),
                action: e.action,
                entity: e.entity,
                entity_id: e.entity_id,
                reason: e.reason.unwrap_or_default(),
                summary,
                changeset,
            }
        })
        .collect();
    let [actors, actions, entities] = values;
    page(&AuditPage {
        f,
        verification,
        checkpoint,
        entries,
        actors,
        actions,
        entities,
        since_error,
        until_error,
        page_no: newer / PAGE + 1,
        pages: ((total + PAGE - 1) / PAGE).max(1),
        total,
        next,
        first,
        downloads: Downloads {
            filtered,
            csv: download("export.csv"),
            jsonl: download("export.jsonl"),
        },
        q,
    })
}

/// "Verify everything now": every entry recomputed and every checkpoint
/// checked, recorded, then the log page again.
pub async fn verify_everything(
    state: web::Data<AppState>,
    who: Posting<Auditor, CsrfOnly>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let Some(key) = state.audit_key.as_ref().map(|k| k.verifier()) else {
        return Err(Error::NotFound(T.no_audit_key.into())).on(&f);
    };
    let st = state.clone();
    let now = state.clock.now();
    let p = who.caller.principal.clone();
    blocking(move || service::audit::verify_everything(&st.db, &p, &key, now))
        .await
        .on(&f)?;
    Ok(see_other("/admin/audit?verified=all"))
}
