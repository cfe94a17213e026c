//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! annotations and the types they send.

use utoipa::OpenApi;

use super::problem::ProblemDetails;
use super::{admin_api, api, audit, metrics, site};
use crate::accounts::{Principal, PrincipalKind, Role};
use crate::checks::{CheckResult, Class, Implied, Outcome, Report};
use crate::document::{PublishedClaim, PublishedDocument, PublishedFigure, VersionSummary};
use crate::model::{
    Breakdown, Change, Claim, DeprecationReason, Event, Figure, Qualifier, Rank, Rule, Severity,
    Source, SourceKind, Status, Table,
};
use crate::service::accounts::{TokenInfo, UserInfo};
use crate::service::changesets::{
    Changeset, ChangesetView, EditInfo, ItemView, Publication, State as ChangesetState,
};
use crate::service::Diff;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vigil",
        description = "Casualty figures of mass-casualty events, each traced to the sources that state it, checked, reviewed and published as immutable versions. Errors are application/problem+json (RFC 9457). No text may hold the NUL character (U+0000): a parameter or body that holds it is refused with 400 naming where.",
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
        openapi,
        site::index,
        site::event,
        site::history,
        site::diff,
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
        admin_api::rebase_item,
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
        PublishedClaim,
        Implied,
        Class,
        Qualifier,
        Diff,
        Change,
        Table,
        VersionSummary,
        api::VersionHistory,
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
        DeprecationReason,
        Principal,
        PrincipalKind,
        Role,
        UserInfo,
        TokenInfo,
        Changeset,
        ChangesetState,
        ChangesetView,
        EditInfo,
        ItemView,
        Publication,
        admin_api::Credentials,
        admin_api::SessionInfo,
        admin_api::OpenChangeset,
        admin_api::Opened,
        admin_api::Comment,
        admin_api::Rejection,
        admin_api::Transitioned,
        admin_api::NewUser,
        admin_api::UserChange,
        admin_api::NewToken,
        admin_api::CreatedToken,
        admin_api::ImportFiles,
        admin_api::EventFiles,
        admin_api::ImportedChanges,
        admin_api::Rebase,
        crate::service::changesets::Side,
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

route_table! {
    /// This document, served.
    pub fn configure, const ROUTES, resource super::api_resource;
    "/api/v1/openapi.json" => { GET openapi }
}

/// This document: the API described in OpenAPI 3.1.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "public",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
pub async fn openapi() -> actix_web::HttpResponse {
    use actix_web::http::header;
    actix_web::HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, "ETag"))
        .json(document())
}

/// Operations that answer from memory and never ask the database.
const FROM_MEMORY: [&str; 7] = [
    "healthz",
    "readyz",
    "metrics",
    "openapi",
    "events",
    "preflight",
    "index",
];

/// The OpenAPI document as JSON.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    framework_answers(&mut doc);
    doc
}

/// Adds the answers that come from the framework rather than from one
/// handler, where the handler's annotation does not give them itself: 400
/// for a bad path or query parameter or a malformed body, 413 and 415 for a
/// body too large or not JSON, 503 when the database does not answer. The
/// pages answer them as HTML, the API as problem+json.
fn framework_answers(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let page = op
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|t| t.iter().any(|t| t == "pages"));
            let answer = |description: &str| {
                if page {
                    json!({"description": format!("{description}, as HTML"),
                           "content": {"text/html": {"schema": {"type": "string"}}}})
                } else {
                    json!({"description": description,
                           "content": {"application/problem+json":
                               {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}})
                }
            };
            let parameters = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" || p["in"] == "query"));
            let body = op.contains_key("requestBody");
            let memory = op
                .get("operationId")
                .and_then(Value::as_str)
                .is_some_and(|id| FROM_MEMORY.contains(&id));
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            if parameters || body {
                responses.entry("400").or_insert_with(|| {
                    answer("a bad parameter (named in the detail) or a malformed body")
                });
            }
            if body {
                responses
                    .entry("413")
                    .or_insert_with(|| answer("the body is larger than 4 MiB"));
                responses
                    .entry("415")
                    .or_insert_with(|| answer("the body is not sent as application/json"));
            }
            if !memory {
                responses
                    .entry("503")
                    .or_insert_with(|| answer("the database does not answer; try again later"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every text property of every schema states the limit the text policy
    /// enforces for its name (the import files, bounded by the body's
    /// size, excepted), so the document says what the service does.
    #[test]
    fn every_text_field_states_the_limit_it_is_held_to() {
        let doc = super::document();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut checked = 0;
        for (schema, s) in schemas {
            let Some(props) = s["properties"].as_object() else {
                continue;
            };
            for (name, p) in props {
                let is_text = match &p["type"] {
                    Value::String(t) => t == "string",
                    Value::Array(ts) => ts.iter().any(|t| t == "string"),
                    _ => false,
                } && p.get("enum").is_none();
                if !is_text {
                    continue;
                }
                let stated = p["maxLength"].as_u64();
                let request = [
                    "Credentials",
                    "OpenChangeset",
                    "Comment",
                    "Rejection",
                    "NewUser",
                    "UserChange",
                    "NewToken",
                    "Event",
                    "Source",
                    "Figure",
                    "Claim",
                    "Rule",
                ]
                .contains(&schema.as_str());
                if schema == "EventFiles" {
                    assert_eq!(
                        stated,
                        Some(crate::http::admin_api::JSON_LIMIT as u64),
                        "{schema}.{name}"
                    );
                } else if request || stated.is_some() {
                    assert_eq!(
                        stated,
                        Some(crate::text::limit(name) as u64),
                        "{schema}.{name}: the document and the text policy disagree"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 30, "only {checked} text fields checked");
    }
}
