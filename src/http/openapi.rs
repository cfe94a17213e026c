//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! annotations and the types they send.

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{admin_api, api, audit, metrics, site};
use crate::accounts::{Principal, PrincipalKind, Role};
use crate::checks::{CheckResult, Outcome, Report};
use crate::db::VersionInfo;
use crate::model::{
    Breakdown, Change, Claim, Event, Figure, Rank, Reason, Rule, Severity, Source, SourceKind,
    Status, Table,
};
use crate::service::Diff;
use crate::service::{
    Approved, ChangesetInfo, ChangesetView, EditInfo, ItemView, State as ChangesetState, TokenInfo,
    UserInfo,
};

/// An error, as RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What was wrong, and where.
    pub detail: String,
    /// The individual problems, for refused imports and publishes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<serde_json::Value>>,
    /// On a stale edit (409): the item as it is now (`null` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
    /// On a stale edit (409): the current item's ETag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// A figure as published: the figure's fields and the claims that state it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedFigure {
    pub key: String,
    pub label: String,
    pub unit: String,
    pub parent: Option<String>,
    pub breakdown: Option<Breakdown>,
    pub position: i64,
    pub low: Option<i64>,
    pub best: Option<i64>,
    pub high: Option<i64>,
    pub status: Status,
    pub notes: String,
    pub claims: Vec<Claim>,
}

/// The published document of one version of an event. `sha256` is the
/// SHA-256 of the canonical JSON (keys sorted, no whitespace) of the document
/// without `sha256`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedDocument {
    pub event: Event,
    pub version: i64,
    pub published_at: String,
    /// The changeset that made this version; none for an import.
    pub changeset: Option<i64>,
    pub sha256: String,
    pub figures: Vec<PublishedFigure>,
    pub sources: Vec<Source>,
    pub rules: Vec<Rule>,
    pub checks: Report,
}

/// The changes between two versions.
pub type DiffSchema = Diff;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vigil",
        description = "Casualty figures of mass-casualty events, each traced to the sources that state it, checked, reviewed and published as immutable versions.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        api::healthz,
        api::readyz,
        metrics::metrics,
        api::events,
        api::document,
        api::figures_csv,
        api::versions,
        api::version,
        api::diff,
        api::preflight,
        api::openapi,
        site::index,
        site::event,
        admin_api::login,
        admin_api::logout,
        admin_api::whoami,
        admin_api::open,
        admin_api::list,
        admin_api::view,
        admin_api::submit,
        admin_api::withdraw,
        admin_api::approve,
        admin_api::reject,
        admin_api::import,
        admin_api::get_item,
        admin_api::put_item,
        admin_api::delete_item,
        admin_api::users,
        admin_api::add_user,
        admin_api::change_user,
        admin_api::tokens,
        admin_api::create_token,
        admin_api::revoke_token,
        audit::checkpoint,
        audit::key,
        audit::proof,
        audit::entries,
        audit::verify,
        audit::export_jsonl,
        audit::export_csv
    ),
    components(schemas(
        ProblemDetails,
        PublishedDocument,
        PublishedFigure,
        Diff,
        Change,
        Table,
        VersionInfo,
        api::VersionList,
        api::VersionDetail,
        api::EventSummary,
        api::Readiness,
        Event,
        Source,
        Figure,
        Claim,
        Rule,
        Report,
        CheckResult,
        Outcome,
        Severity,
        SourceKind,
        Breakdown,
        Status,
        Rank,
        Reason,
        Principal,
        PrincipalKind,
        Role,
        UserInfo,
        TokenInfo,
        ChangesetInfo,
        ChangesetState,
        ChangesetView,
        EditInfo,
        ItemView,
        Approved,
        admin_api::Credentials,
        admin_api::SessionInfo,
        admin_api::OpenChangeset,
        admin_api::Opened,
        admin_api::Comment,
        admin_api::Transitioned,
        admin_api::NewUser,
        admin_api::UserChange,
        admin_api::NewToken,
        admin_api::CreatedToken,
        admin_api::ImportFiles,
        admin_api::ImportedChanges,
        crate::audit::Entry,
        crate::service::audit::InclusionProof,
        crate::service::audit::ConsistencyProof,
        audit::VerificationReport,
        audit::Proof
    )),
    tags(
        (name = "public", description = "Published figures; no account needed."),
        (name = "operations", description = "For operators and load balancers."),
        (name = "pages", description = "The memorial pages, server-rendered HTML."),
        (name = "accounts", description = "Log-in, log-out, users and API tokens. A session sends X-CSRF-Token on every state-changing request; a Bearer token needs none."),
        (name = "changesets", description = "Drafts of edits, reviewed by a second person; approval publishes."),
        (name = "audit", description = "The tamper-evident audit log: signed checkpoints and proofs for anyone; entries, verification and exports for auditors.")
    )
)]
struct ApiDoc;

/// The OpenAPI document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}
