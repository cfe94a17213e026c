//! The dashboard, a changeset's page and the decisions taken on it.
//! A refused decision answers on the changeset's page: POST, redirect, GET.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    field_changes, is_curator, page, see_other, Asked, Done, FieldChange, Frame, OnPage,
    PanelError, Posting, T,
};
use crate::accounts::Role;
use crate::checks::{CheckResult, Outcome, Report};
use crate::error::Error;
use crate::http::auth::{Caller, Curator, Member, Posted, Reviewer};
use crate::http::{blocking, AppState};
use crate::service;
use crate::service::changesets::{self as changesets, Action, Changeset, ChangesetView};

/// One event on the dashboard.
pub struct EventRow {
    pub slug: String,
    pub title: String,
    pub version: i64,
    pub status: &'static str,
    pub open: usize,
}

/// A changeset in a list: what a person needs to pick it.
pub struct ListRow {
    pub c: Changeset,
    /// Its writers, as names.
    pub writers: String,
    /// How long ago it last moved, in words.
    pub age: String,
    /// The asker wrote part of it: they may not review it.
    pub own: bool,
    /// For the review queue: how many items it changes, its checks and
    /// its conflicts; `None` elsewhere.
    pub detail: Option<QueueDetail>,
}

pub struct QueueDetail {
    pub items: usize,
    pub checks: &'static str,
    pub conflicts: usize,
}

/// A person's name as the panel shows it: `user:ada` is ada.
pub fn person(actor: &str) -> &str {
    actor.strip_prefix("user:").unwrap_or(actor)
}

/// "3 minutes ago": how long before `now` `then` was.
pub fn age(then: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    let (n, unit) = match secs {
        s if s < 120 => return T.just_now.to_string(),
        s if s < 7200 => (s / 60, T.minutes),
        s if s < 2 * 86400 => (s / 3600, T.hours),
        s => (s / 86400, T.days),
    };
    format!("{n} {unit} {}", T.ago)
}

pub fn list_row(c: Changeset, me: &str, now: chrono::DateTime<chrono::Utc>) -> ListRow {
    ListRow {
        writers: c
            .writers
            .iter()
            .map(|w| person(w))
            .collect::<Vec<_>>()
            .join(", "),
        age: age(c.updated_at, now),
        own: c.writers.contains(me),
        detail: None,
        c,
    }
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct Dashboard {
    f: Frame,
    events: Vec<EventRow>,
    is_curator: bool,
    list_caption: String,
    rows: Vec<ListRow>,
}

pub async fn dashboard(
    state: web::Data<AppState>,
    who: Asked<Member>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who).notice(q.done.as_deref());
    let st = state.clone();
    let me_p = who.principal.clone();
    let (events, list) = blocking(move || {
        let changesets = service::changesets::list(&st.db, &me_p, None, None)?;
        let mut events = Vec::new();
        for slug in service::events(&st.db)? {
            let v = service::version(&st.db, &slug, None)?;
            let report = service::check(&st.db, &slug)?;
            let title = service::dataset(&st.db, &slug)?.event.title;
            events.push(EventRow {
                open: changesets
                    .iter()
                    .filter(|c| c.event == slug && c.state.open())
                    .count(),
                status: report.status.as_str(),
                version: v.number,
                slug,
                title,
            });
        }
        Ok((events, changesets))
    })
    .await
    .on(&f)?;
    let (me, now) = (who.principal.person(), state.clock.now());
    page(&Dashboard {
        is_curator: is_curator(&who),
        f,
        events,
        list_caption: T.every_changeset.into(),
        rows: list.into_iter().map(|c| list_row(c, &me, now)).collect(),
    })
}

#[derive(Deserialize)]
pub struct OpenForm {
    csrf_token: String,
    event: String,
    reason: String,
}

impl Posted for OpenForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

pub async fn open(
    state: web::Data<AppState>,
    who: Posting<Curator, OpenForm>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let crate::http::auth::WhoPosted { caller, form, .. } = who;
    let id = blocking(move || {
        service::changesets::open(
            &state.db,
            &caller.ctx,
            &caller.principal,
            &form.event,
            &form.reason,
        )
    })
    .await
    .on(&f)?;
    Ok(see_other(&format!("/admin/changesets/{id}?done=opened")))
}

/// A change as the changeset page shows it: the item and its fields that
/// differ, "field: old → new".
pub struct ChangeRow {
    pub table: &'static str,
    pub key: String,
    pub kind: &'static str,
    pub fields: Vec<FieldChange>,
}

impl ChangeRow {
    pub fn of(c: &crate::model::Change) -> Self {
        Self {
            table: c.table.as_str(),
            key: c.key.clone(),
            kind: c.kind(),
            fields: field_changes(c.before.as_ref(), c.after.as_ref()),
        }
    }
}

/// A check result as the changeset page shows it.
pub struct CheckRow {
    pub check: String,
    pub subject: String,
    pub outcome: &'static str,
    pub severity: String,
    pub message: String,
    /// An error check violated: it keeps the changeset from being published.
    pub blocks: bool,
}

impl CheckRow {
    fn of(c: &CheckResult) -> Self {
        Self {
            check: c.check.clone(),
            subject: c.subject.clone(),
            outcome: c.outcome.as_str(),
            severity: c.severity.to_string(),
            message: c.message.clone(),
            blocks: c.blocks(),
        }
    }

    fn same(&self, c: &CheckResult) -> bool {
        self.check == c.check
            && self.subject == c.subject
            && self.outcome == c.outcome.as_str()
            && self.message == c.message
    }
}

/// The checks of the changeset's result that do not hold, split by
/// whether the published version already has them: (what this changeset
/// introduces, what was there before).
fn split_checks(mine: &Report, published: Option<&Report>) -> (Vec<CheckRow>, Vec<CheckRow>) {
    mine.results
        .iter()
        .filter(|c| c.outcome != Outcome::Holds)
        .map(CheckRow::of)
        .partition(|row| !published.is_some_and(|p| p.results.iter().any(|c| row.same(c))))
}

/// One field of a conflicting item: published now beside the draft's,
/// and whether the two sides changed it both (a choice to make).
pub struct ConflictField {
    pub field: String,
    pub published: String,
    pub draft: String,
    pub both: bool,
}

/// An item a later published version changed too.
pub struct ConflictRow {
    pub table: &'static str,
    pub key: String,
    pub fields: Vec<ConflictField>,
}

fn conflict_row(d: &service::changesets::ConflictDetail) -> ConflictRow {
    let get = |v: &Option<serde_json::Value>, k: &str| v.as_ref().and_then(|v| v.get(k)).cloned();
    let mut names: Vec<String> = Vec::new();
    for v in [&d.published, &d.draft].into_iter().flatten() {
        if let Some(m) = v.as_object() {
            names.extend(
                m.keys()
                    .filter(|k| !names.contains(k))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
    }
    let fields = names
        .into_iter()
        .filter_map(|k| {
            let (b, p, dr) = (get(&d.base, &k), get(&d.published, &k), get(&d.draft, &k));
            (p != dr).then(|| ConflictField {
                published: super::shown(p.as_ref()),
                draft: super::shown(dr.as_ref()),
                both: p != b && dr != b,
                field: k,
            })
        })
        .collect();
    ConflictRow {
        table: d.table.as_str(),
        key: d.key.clone(),
        fields,
    }
}

#[derive(Template)]
#[template(path = "admin_changeset.html")]
struct ChangesetPage {
    /// Items a later published version changed too, field by field.
    conflicts: Vec<ConflictRow>,
    f: Frame,
    v: ChangesetView,
    changes: Vec<ChangeRow>,
    /// Checks that do not hold and that this changeset introduces.
    introduced: Vec<CheckRow>,
    /// Checks that do not hold in the published version already.
    inherited: Vec<CheckRow>,
    /// How many checks keep it from being published.
    blocking: usize,
    open: bool,
    is_curator: bool,
    decisions: Vec<Decision>,
}

/// A decision the changeset page offers.
pub struct Decision {
    pub action: &'static str,
    pub label: &'static str,
    pub allowed: bool,
    /// Why it cannot be taken now, when it cannot.
    pub why_not: Option<String>,
    /// Taking it now was refused; this says why.
    pub refused: Option<String>,
}

fn label(a: Action) -> &'static str {
    match a {
        Action::Submit => T.submit,
        Action::Withdraw => T.withdraw,
        Action::Approve => T.approve,
        Action::Reject => T.reject,
        Action::Edit => T.edit,
    }
}

pub async fn changeset(
    state: web::Data<AppState>,
    who: Asked<Member>,
    id: web::Path<i64>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let mut f = Frame::of(&who).notice(q.done.as_deref());
    let id = id.into_inner();
    let p = who.principal.clone();
    let st = state.clone();
    let (v, published, conflicts) = blocking(move || {
        let v = service::changesets::view(&st.db, &p, id)?;
        let published = service::check(&st.db, &v.changeset.event).ok();
        let conflicts = if v.conflicts.is_empty() {
            Vec::new()
        } else {
            service::changesets::conflict_details(&st.db, id)?
        };
        Ok((v, published, conflicts))
    })
    .await
    .on(&f)?;
    let conflicts = conflicts.iter().map(conflict_row).collect();
    let changes = v.changes.iter().map(ChangeRow::of).collect();
    let (introduced, inherited) = v
        .checks
        .as_ref()
        .map(|r| split_checks(r, published.as_ref()))
        .unwrap_or_default();
    let blocking = introduced
        .iter()
        .chain(&inherited)
        .filter(|c| c.blocks)
        .count();
    let p = &who.principal;
    let cs_state = v.changeset.state;
    let refused = q.refused.as_deref().and_then(|a| a.parse::<Action>().ok());
    // The decisions this page offers: those the principal's roles and the
    // changeset's state make relevant; each disabled, with the reason,
    // when it cannot succeed now.
    let decisions: Vec<Decision> = v
        .allowed_actions
        .iter()
        .filter(|a| match a.action {
            Action::Edit => false,
            Action::Submit => p.has(Role::Curator) && cs_state == changesets::State::Draft,
            Action::Withdraw => v.changeset.author == p.person() && cs_state.open(),
            Action::Approve | Action::Reject => {
                p.has(Role::Reviewer) && cs_state == changesets::State::Submitted
            }
        })
        .map(|a| Decision {
            action: a.action.as_str(),
            label: label(a.action),
            allowed: a.allowed,
            why_not: a.why_not.clone(),
            refused: (refused == Some(a.action))
                .then(|| refusal(q.why.as_deref(), a.why_not.as_deref())),
        })
        .collect();
    if let Some(action) = refused {
        let why = decisions
            .iter()
            .find(|d| d.action == action.as_str())
            .and_then(|d| d.refused.clone())
            .unwrap_or_else(|| {
                let why_not = v
                    .allowed_actions
                    .iter()
                    .find(|a| a.action == action)
                    .and_then(|a| a.why_not.as_deref());
                refusal(q.why.as_deref(), why_not)
            });
        f.error = format!("{} {}: {why}", T.refused, label(action));
    }
    page(&ChangesetPage {
        conflicts,
        open: cs_state.open(),
        is_curator: p.has(Role::Curator),
        decisions,
        blocking,
        f,
        changes,
        introduced,
        inherited,
        v,
    })
}

/// Why a decision was refused, from the redirect's code and what the
/// changeset says now. The reason is never taken from the address.
fn refusal(why: Option<&str>, now: Option<&str>) -> String {
    match (why, now) {
        (Some("moved"), _) => T.refused_moved.to_string(),
        (_, Some(why_not)) => why_not.to_string(),
        (Some("invalid"), None) => T.refused_invalid.to_string(),
        _ => T.refused_other.to_string(),
    }
}

/// A changeset transition posted from its page.
#[derive(Deserialize)]
pub struct CommentForm {
    csrf_token: String,
    comment: Option<String>,
    /// The changeset's revision the page showed: approval and rejection act
    /// on exactly that revision.
    revision: Option<i64>,
}

impl Posted for CommentForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// What kind of refusal a redirect names; errors that are not refusals of
/// the decision (a missing changeset, a database down) are error pages.
fn refusal_code(e: &Error) -> Option<&'static str> {
    match e {
        Error::Forbidden(_) => Some("forbidden"),
        Error::Conflict(_) | Error::Refused(_) => Some("conflict"),
        Error::Stale { .. } => Some("moved"),
        Error::BadRequest(_) => Some("invalid"),
        _ => None,
    }
}

async fn transition(
    state: web::Data<AppState>,
    caller: Caller,
    id: i64,
    form: CommentForm,
    action: Action,
) -> Result<HttpResponse, PanelError> {
    let f = Frame::of(&caller);
    let st = state.clone();
    let done = blocking(move || {
        let (db, ctx, p) = (&st.db, &caller.ctx, &caller.principal);
        let c = form.comment.as_deref();
        let seen_revision = || {
            form.revision
                .ok_or_else(|| Error::BadRequest(T.no_revision.into()))
        };
        match action {
            Action::Submit => service::changesets::submit(db, ctx, p, id, c).map(|()| "submitted"),
            Action::Withdraw => {
                service::changesets::withdraw(db, ctx, p, id, c).map(|()| "withdrawn")
            }
            Action::Reject => service::changesets::reject(db, ctx, p, id, seen_revision()?, c)
                .map(|()| "rejected"),
            Action::Approve | Action::Edit => st
                .publisher()
                .approve(ctx, p, id, seen_revision()?, c)
                .map(|_| "approved"),
        }
    })
    .await;
    match done {
        Ok(code) => Ok(see_other(&format!("/admin/changesets/{id}?done={code}"))),
        Err(e) => match refusal_code(&e) {
            Some(why) => Ok(see_other(&format!(
                "/admin/changesets/{id}?refused={}&why={why}#decide",
                action.as_str()
            ))),
            None => Err(e).on(&f),
        },
    }
}

type Deciding<N> = Posting<N, CommentForm>;

pub async fn submit(
    state: web::Data<AppState>,
    who: Deciding<Curator>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PanelError> {
    let w = who?;
    transition(state, w.caller, id.into_inner(), w.form, Action::Submit).await
}

pub async fn withdraw(
    state: web::Data<AppState>,
    who: Deciding<Curator>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PanelError> {
    let w = who?;
    transition(state, w.caller, id.into_inner(), w.form, Action::Withdraw).await
}

pub async fn approve(
    state: web::Data<AppState>,
    who: Deciding<Reviewer>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PanelError> {
    let w = who?;
    transition(state, w.caller, id.into_inner(), w.form, Action::Approve).await
}

pub async fn reject(
    state: web::Data<AppState>,
    who: Deciding<Reviewer>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PanelError> {
    let w = who?;
    transition(state, w.caller, id.into_inner(), w.form, Action::Reject).await
}
