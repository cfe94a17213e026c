//! The audit log over HTTP: the signed head, the public key and proofs for
//! anyone; the entries, verification and downloads for auditors.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::{Auditor, Who};
use super::params::Query;
use super::{blocking, AppState};
use crate::audit::AuditFilter;
use crate::audit::Entry;
use crate::error::{Error, Result};
use crate::service::audit::{self as log, ConsistencyProof, InclusionProof};

route_table! {
    /// The audit log's API: public checkpoints and proofs, and what
    /// auditors read.
    pub fn configure, const ROUTES, resource super::api_resource;
    "/api/v1/audit/checkpoint" => { GET checkpoint }
    "/api/v1/audit/key" => { GET key }
    "/api/v1/audit/proof" => { GET proof }
    "/api/v1/audit/entries" => { GET entries }
    "/api/v1/audit/verify" => { GET verify }
    "/api/v1/audit/export.jsonl" => { GET export_jsonl }
    "/api/v1/audit/export.csv" => { GET export_csv }
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The latest signed checkpoint of the audit log, as a C2SP signed note
/// (origin, tree size, base64 root, time; then the Ed25519 signature line).
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "the signed note", body = String, content_type = "text/plain"),
        (status = 404, description = "no checkpoint yet", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse> {
    let cp = blocking(move || log::latest_checkpoint(&state.db)).await?;
    Ok(text(cp.note))
}

/// The public key that verifies checkpoints, in the signed-note verifier
/// key format (`name+keyid+base64`).
#[utoipa::path(get, path = "/api/v1/audit/key", tag = "audit",
    responses(
        (status = 200, description = "the verifier key", body = String, content_type = "text/plain"),
        (status = 404, description = "this server signs no checkpoints", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn key(state: web::Data<AppState>) -> Result<HttpResponse> {
    let key = state
        .audit_key
        .as_ref()
        .ok_or_else(|| Error::NotFound("this server has no audit key".into()))?;
    Ok(text(format!("{}\n", key.verifier())))
}

/// An inclusion or a consistency proof.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Proof {
    Inclusion(InclusionProof),
    Consistency(ConsistencyProof),
}

/// Which proof: `seq` (and `size`) for inclusion, `from` (and `to`) for
/// consistency. Sizes default to the latest checkpoint's.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// The entry to prove included.
    #[param(minimum = 1, example = 1)]
    pub seq: Option<i64>,
    /// The tree size to prove it in.
    #[param(minimum = 1)]
    pub size: Option<i64>,
    /// The smaller tree size of a consistency proof.
    #[param(minimum = 1)]
    pub from: Option<i64>,
    /// The larger tree size of a consistency proof.
    #[param(minimum = 1)]
    pub to: Option<i64>,
}

/// An inclusion proof (`?seq=N[&size=M]`) or a consistency proof
/// (`?from=A[&to=B]`), RFC 9162, hashes in hex.
#[utoipa::path(get, path = "/api/v1/audit/proof", tag = "audit",
    params(ProofQuery),
    responses(
        (status = 200, description = "an inclusion or a consistency proof", body = Proof),
        (status = 400, description = "neither seq nor from, or both", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such entry or tree size", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn proof(state: web::Data<AppState>, q: Query<ProofQuery>) -> Result<HttpResponse> {
    let q = q.into_inner();
    let body = match (q.seq, q.from) {
        (Some(seq), None) if q.to.is_none() => {
            Proof::Inclusion(blocking(move || log::inclusion(&state.db, seq, q.size)).await?)
        }
        (None, Some(from)) if q.size.is_none() => {
            Proof::Consistency(blocking(move || log::consistency(&state.db, from, q.to)).await?)
        }
        _ => {
            return Err(Error::BadRequest(
                "ask for ?seq=N[&size=M] (inclusion) or ?from=A[&to=B] (consistency)".into(),
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(body))
}

/// Filters for the log.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// e.g. `user:clara`, `anonymous`, `cli:root`.
    pub actor: Option<String>,
    /// e.g. `changeset.approve`.
    pub action: Option<String>,
    /// e.g. `figure`, `changeset`, `user`.
    pub entity: Option<String>,
    /// e.g. `beslan-2004/fatalities.total`: one entity's history.
    pub entity_id: Option<String>,
    /// Part of an entity id, e.g. `fatalities`: the entities whose id holds
    /// it (with `entity_id` too, both must hold).
    pub entity_id_contains: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Up to this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Entries after this sequence number (for paging).
    pub after: Option<i64>,
    /// Entries before this sequence number (for paging newest first).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

fn time_bound(what: &str, s: &Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    s.as_ref()
        .map(|t| {
            crate::time::parse(t)
                .map(crate::time::to_millis)
                .map_err(|e| {
                    Error::BadRequest(format!("{what} '{t}' is not an RFC 3339 time: {e}"))
                })
        })
        .transpose()
}

impl EntriesQuery {
    pub fn filter(&self) -> Result<AuditFilter> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Error::BadRequest(format!(
                "limit must be between 1 and 1000, not {limit}"
            )));
        }
        if let Some(b) = self.before.filter(|b| *b < 1) {
            return Err(Error::BadRequest(format!(
                "before must be a sequence number, 1 or more, not {b}"
            )));
        }
        Ok(AuditFilter {
            after_seq: self.after,
            before_seq: self.before,
            newest_first: false,
            limit,
            ..ExportQuery {
                actor: self.actor.clone(),
                action: self.action.clone(),
                entity: self.entity.clone(),
                entity_id: self.entity_id.clone(),
                entity_id_contains: self.entity_id_contains.clone(),
                since: self.since.clone(),
                until: self.until.clone(),
            }
            .filter()?
        })
    }
}

/// Which entries a download holds: all of them, or those of a filter (the
/// same filters as the entries, without paging).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// e.g. `user:clara`, `anonymous`, `cli:root`.
    pub actor: Option<String>,
    /// e.g. `changeset.approve`.
    pub action: Option<String>,
    /// e.g. `figure`, `changeset`, `user`.
    pub entity: Option<String>,
    /// e.g. `beslan-2004/fatalities.total`: one entity's history.
    pub entity_id: Option<String>,
    /// Part of an entity id, e.g. `fatalities`: the entities whose id holds
    /// it (with `entity_id` too, both must hold).
    pub entity_id_contains: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Up to this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
}

impl ExportQuery {
    pub fn filter(&self) -> Result<AuditFilter> {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor: some(&self.actor),
            action: some(&self.action),
            entity: some(&self.entity),
            entity_id: some(&self.entity_id),
            entity_id_contains: some(&self.entity_id_contains),
            since: time_bound("since", &self.since)?,
            until: time_bound("until", &self.until)?,
            after_seq: None,
            before_seq: None,
            newest_first: false,
            limit: 0,
        })
    }
}

/// The audit log, filtered, in order (auditors and admins).
#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit",
    params(EntriesQuery),
    responses(
        (status = 200, description = "the entries", body = [Entry]),
        (status = 400, description = "a bad filter", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an auditor or admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn entries(
    state: web::Data<AppState>,
    who: Who<Auditor>,
    q: Query<EntriesQuery>,
) -> Result<HttpResponse> {
    let filter = q.filter()?;
    let list = blocking(move || log::entries(&state.db, &who.principal, &filter)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(list))
}

/// The result of `vigil audit verify`, run now with this server's key.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct VerificationReport {
    pub holds: bool,
    pub entries: i64,
    pub checkpoints: usize,
    pub latest_checkpoint: Option<i64>,
    pub problems: Vec<String>,
}

/// Verifies the whole log now: every leaf, every checkpoint (auditors and admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "what verification found", body = VerificationReport),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an auditor or admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "this server has no audit key", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn verify(state: web::Data<AppState>, who: Who<Auditor>) -> Result<HttpResponse> {
    let v = verification(state, who.principal.clone()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(v))
}

/// Runs the verification with the server's key.
pub async fn verification(
    state: web::Data<AppState>,
    who: crate::accounts::Principal,
) -> Result<VerificationReport> {
    let key = state
        .audit_key
        .as_ref()
        .ok_or_else(|| Error::NotFound("this server has no audit key".into()))?
        .verifier();
    let v = blocking(move || log::verify(&state.db, &who, &key, None)).await?;
    Ok(VerificationReport {
        holds: v.holds(),
        entries: v.entries,
        checkpoints: v.checkpoints,
        latest_checkpoint: v.latest_checkpoint,
        problems: v.problems,
    })
}

async fn export(
    state: web::Data<AppState>,
    who: crate::accounts::Principal,
    csv: bool,
    q: &ExportQuery,
) -> Result<HttpResponse> {
    let filter = q.filter()?;
    let bytes = blocking(move || {
        let mut out = Vec::new();
        log::export_where(&state.db, &who, csv, &filter, &mut out)?;
        Ok(out)
    })
    .await?;
    let (ct, name) = if csv {
        ("text/csv; charset=utf-8", "vigil-audit.csv")
    } else {
        ("application/jsonl", "vigil-audit.jsonl")
    };
    Ok(HttpResponse::Ok()
        .content_type(ct)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes))
}

/// The whole log, or the entries of a filter, as JSON Lines, one canonical
/// entry per line, in sequence order (auditors and admins).
#[utoipa::path(get, path = "/api/v1/audit/export.jsonl", tag = "audit",
    params(ExportQuery),
    responses(
        (status = 200, description = "the log", body = String, content_type = "application/jsonl"),
        (status = 400, description = "a bad filter", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an auditor or admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn export_jsonl(
    state: web::Data<AppState>,
    who: Who<Auditor>,
    q: Query<ExportQuery>,
) -> Result<HttpResponse> {
    export(state, who.principal.clone(), false, &q).await
}

/// The whole log, or the entries of a filter, as CSV, in sequence order
/// (auditors and admins).
#[utoipa::path(get, path = "/api/v1/audit/export.csv", tag = "audit",
    params(ExportQuery),
    responses(
        (status = 200, description = "the log", body = String, content_type = "text/csv"),
        (status = 400, description = "a bad filter", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an auditor or admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn export_csv(
    state: web::Data<AppState>,
    who: Who<Auditor>,
    q: Query<ExportQuery>,
) -> Result<HttpResponse> {
    export(state, who.principal.clone(), true, &q).await
}
