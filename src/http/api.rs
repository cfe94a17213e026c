//! The public JSON and CSV API.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::params::Query;
use super::{blocking, send, AppState};
use crate::document::VersionSummary;
use crate::error::{Error, Result};
use crate::service::{self, Diff};

route_table! {
    /// The hot small routes, first: the router tries resources in order, and
    /// these answer a few hundred bytes at most, too little to compress.
    pub fn configure_small, const SMALL, resource web::resource;
    "/healthz" => { GET healthz }
}

route_table! {
    /// The events' list, answered from memory, small too.
    pub fn configure_events, const EVENTS, resource super::api_resource;
    "/api/v1/events" => { GET events }
}

route_table! {
    /// Routes answered from pre-encoded served versions.
    pub fn configure_encoded, const ENCODED, resource super::api_resource;
    "/api/v1/events/{slug}" => { GET document }
    "/api/v1/events/{slug}/figures.csv" => { GET figures_csv }
    "/api/v1/events/{slug}/versions" => { GET versions }
}

route_table! {
    /// Operations, outside the API's CORS and parameter rules.
    pub fn configure_operations, const OPERATIONS, resource web::resource;
    "/readyz" => { GET readyz }
    "/metrics" => { GET super::metrics::metrics }
}

route_table! {
    /// Routes answered on the fly (compressed by the middleware).
    pub fn configure_api, const API, resource super::api_resource;
    "/api/v1/events/{slug}/versions/{n}" => { GET version }
    "/api/v1/events/{slug}/diff" => { GET diff }
}

/// The preflight of any other path under the API.
pub const PREFLIGHT: &str = "/api/v1/{tail:.*}";

/// Routes answered on the fly (compressed by the middleware).
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_operations(cfg);
    configure_api(cfg);
}

/// The preflight of any API path no route names, registered after every
/// route: a path is matched to its pattern in the order routes were
/// registered (for metrics, and to name a parameter holding NUL), and this
/// pattern matches every API path.
pub fn configure_preflight(cfg: &mut web::ServiceConfig) {
    cfg.route(
        PREFLIGHT,
        web::method(actix_web::http::Method::OPTIONS).to(preflight),
    );
}

/// Public GETs may come from any origin.
fn cors(res: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, "ETag"))
}

/// Answers CORS preflight requests for the public API.
#[utoipa::path(options, path = "/api/v1/{path}", tag = "public",
    params(("path" = String, Path, description = "any public API path")),
    responses((status = 204, description = "CORS preflight: GET from any origin")))]
pub async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "If-None-Match"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "the process is up", body = String, content_type = "text/plain")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// Whether this replica can serve: the database answers, its migrations
/// are current, and the published versions are loaded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub database: bool,
    pub migrations_current: bool,
    /// Events whose latest version is held in memory.
    pub events_loaded: usize,
    /// What is not ready, if anything.
    pub problems: Vec<String>,
}

/// Ready to serve: 200 when the database answers with current migrations
/// and the versions are loaded, else 503 with what is wrong. Public reads
/// go on from memory while the database is away.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = Readiness),
        (status = 503, description = "not ready, and why", body = Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let events_loaded = state.reads.all().len();
    let st = state.clone();
    let checked = blocking(move || Ok(st.db.migrations_current())).await;
    let mut problems = Vec::new();
    let (database, migrations_current) = match checked {
        Ok(Ok(true)) => (true, true),
        Ok(Ok(false)) => {
            problems.push("migrations are pending: run `vigil migrate`".to_string());
            (true, false)
        }
        Ok(Err(e)) | Err(e) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            problems.push("the database does not answer".to_string());
            (false, false)
        }
    };
    let ready = problems.is_empty();
    let mut res = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Readiness {
            ready,
            database,
            migrations_current,
            events_loaded,
            problems,
        })
}

/// An event with its latest published version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventSummary {
    pub slug: String,
    pub title: String,
    pub version: i64,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub sha256: String,
    /// Where the latest document is.
    pub href: String,
}

/// The events with their latest version.
#[utoipa::path(get, path = "/api/v1/events", tag = "public",
    responses((status = 200, description = "every published event", body = Vec<EventSummary>)))]
pub async fn events(state: web::Data<AppState>) -> Result<HttpResponse> {
    let body = state.event_list.get(&state.reads)?;
    let mut res = HttpResponse::Ok();
    Ok(cors(&mut res)
        .insert_header((
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, no-cache"),
        ))
        .content_type("application/json")
        .body(body))
}

/// The event list as JSON, written once per change of the latest versions
/// rather than on every request.
#[derive(Default)]
pub struct EventList {
    written: std::sync::RwLock<Option<(u64, web::Bytes)>>,
}

impl EventList {
    fn get(&self, reads: &crate::service::reads::Reads) -> Result<web::Bytes> {
        // The number is read before the list is made: a list made from a
        // later state may be kept under an earlier number (and is made
        // again on the next request), never an older list under a later one.
        let generation = reads.generation();
        if let Ok(held) = self.written.read() {
            if let Some((g, body)) = held.as_ref() {
                if *g == generation {
                    return Ok(body.clone());
                }
            }
        }
        let list: Vec<EventSummary> = reads
            .all()
            .iter()
            .map(|s| EventSummary {
                slug: s.event.clone(),
                title: s.title.clone(),
                version: s.version,
                published_at: s.published_at,
                sha256: s.sha256.clone(),
                href: format!("/api/v1/events/{}", s.event),
            })
            .collect();
        let body = web::Bytes::from(serde_json::to_vec(&list)?);
        if let Ok(mut held) = self.written.write() {
            *held = Some((generation, body.clone()));
        }
        Ok(body)
    }
}

/// `?version=N`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A published version number; the latest when absent.
    #[param(minimum = 1, example = 1)]
    pub version: Option<i64>,
}

async fn served(
    state: web::Data<AppState>,
    slug: String,
    version: Option<i64>,
) -> Result<std::sync::Arc<crate::service::reads::ServedVersion>> {
    match version {
        None => state.version(&slug, None),
        Some(n) => blocking(move || state.version(&slug, Some(n))).await,
    }
}

/// The published document of an event.
#[utoipa::path(get, path = "/api/v1/events/{slug}", tag = "public",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"), VersionQuery),
    responses(
        (status = 200, description = "the published document; ETag is its sha256", body = crate::document::PublishedDocument),
        (status = 304, description = "the client's copy (If-None-Match) is current"),
        (status = 400, description = "bad query", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such event or version", body = super::problem::ProblemDetails, content_type = "application/problem+json")))]
pub async fn document(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    q: Query<VersionQuery>,
) -> Result<HttpResponse> {
    let s = served(state, slug.into_inner(), q.version).await?;
    let mut res = send(
        &req,
        &s.document,
        "application/json",
        &s.sha256,
        q.version.is_some(),
    );
    allow_any_origin(&mut res);
    Ok(res)
}

/// The figures of a version as CSV, in the import format.
#[utoipa::path(get, path = "/api/v1/events/{slug}/figures.csv", tag = "public",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"), VersionQuery),
    responses(
        (status = 200, description = "figures.csv of the version", body = String, content_type = "text/csv"),
        (status = 304, description = "the client's copy is current"),
        (status = 400, description = "bad query", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such event or version", body = super::problem::ProblemDetails, content_type = "application/problem+json")))]
pub async fn figures_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    q: Query<VersionQuery>,
) -> Result<HttpResponse> {
    let s = served(state, slug.into_inner(), q.version).await?;
    let mut res = send(
        &req,
        &s.figures_csv,
        "text/csv; charset=utf-8",
        &format!("{}-figures", s.sha256),
        q.version.is_some(),
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_str(&format!(
            "attachment; filename=\"{}-v{}-figures.csv\"",
            s.event, s.version
        ))
        .unwrap_or_else(|_| header::HeaderValue::from_static("attachment")),
    );
    allow_any_origin(&mut res);
    Ok(res)
}

fn allow_any_origin(res: &mut HttpResponse) {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("ETag"),
    );
}

pub use crate::service::reads::VersionHistory;

/// Every published version of an event, oldest first.
#[utoipa::path(get, path = "/api/v1/events/{slug}/versions", tag = "public",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004")),
    responses(
        (status = 200, description = "the version history", body = VersionHistory),
        (status = 304, description = "the client's copy is current"),
        (status = 404, description = "no such event", body = super::problem::ProblemDetails, content_type = "application/problem+json")))]
pub async fn versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse> {
    let slug = slug.into_inner();
    // A published event's history is held with its latest version.
    if let Some((latest, history)) = state.reads.history(&slug) {
        let mut res = send(
            &req,
            &history,
            "application/json",
            &format!("{}-versions", latest.sha256),
            false,
        );
        allow_any_origin(&mut res);
        return Ok(res);
    }
    let s = slug.clone();
    let versions = blocking(move || service::versions(&state.db, &s)).await?;
    let mut res = HttpResponse::Ok();
    Ok(cors(&mut res)
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::NoCache,
        ]))
        .json(VersionHistory {
            event: slug,
            versions,
        }))
}

/// One version of an event, without its document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionDetail {
    pub event: String,
    #[serde(flatten)]
    pub version: VersionSummary,
    /// Where the version's document is.
    pub document: String,
    /// Where its figures are as CSV.
    pub figures_csv: String,
}

/// One published version: number, time, changeset and hash.
#[utoipa::path(get, path = "/api/v1/events/{slug}/versions/{n}", tag = "public",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"),
           ("n" = i64, Path, description = "the version number", minimum = 1, example = 1)),
    responses(
        (status = 200, description = "the version", body = VersionDetail),
        (status = 400, description = "the version is not a number", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such event or version", body = super::problem::ProblemDetails, content_type = "application/problem+json")))]
pub async fn version(
    state: web::Data<AppState>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse> {
    let (slug, n) = path.into_inner();
    let s = blocking(move || state.version(&slug, Some(n))).await?;
    let mut res = HttpResponse::Ok();
    Ok(cors(&mut res)
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .json(VersionDetail {
            event: s.event.clone(),
            version: s.summary(),
            document: format!("/api/v1/events/{}?version={}", s.event, s.version),
            figures_csv: format!(
                "/api/v1/events/{}/figures.csv?version={}",
                s.event, s.version
            ),
        }))
}

/// `?from=a&to=b`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The older version.
    #[param(minimum = 1, example = 1)]
    pub from: i64,
    /// The newer version.
    #[param(minimum = 1, example = 1)]
    pub to: i64,
}

/// What changed between two versions: figures, claims, sources, rules and
/// the event added, removed or changed, with old and new values.
#[utoipa::path(get, path = "/api/v1/events/{slug}/diff", tag = "public",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"), DiffQuery),
    responses(
        (status = 200, description = "the changes", body = crate::service::Diff),
        (status = 400, description = "bad query", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such event or version", body = super::problem::ProblemDetails, content_type = "application/problem+json")))]
pub async fn diff(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    q: Query<DiffQuery>,
) -> Result<HttpResponse> {
    if q.from < 1 || q.to < 1 {
        return Err(Error::BadRequest(format!(
            "from and to are version numbers, 1 or more; got from={} to={}",
            q.from, q.to
        )));
    }
    let (slug, from, to) = (slug.into_inner(), q.from, q.to);
    let d: Diff = blocking(move || service::diff(&state.db, &slug, from, to)).await?;
    let mut res = HttpResponse::Ok();
    Ok(cors(&mut res)
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .json(d))
}
