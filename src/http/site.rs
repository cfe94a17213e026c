//! The memorial pages. They ignore query parameters they do not know
//! (`utm_source`, `fbclid` …): a link shared on social media shows the
//! memorial, not an error. The JSON API stays strict.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use super::api::VersionQuery;
use super::catalogue;
use super::pages::{self, ErrorPage, EventLink, IndexPage, FAVICON, STYLESHEET};
use super::params::parse_page_query;
use super::{blocking, send, AppState};
use crate::error::Error;
use crate::service;

route_table! {
    /// The memorial pages.
    pub fn configure_pages, const PAGES, resource web::resource;
    "/" => { GET index }
    "/events/{slug}" => { GET event }
    "/events/{slug}/history" => { GET history }
    "/events/{slug}/diff" => { GET diff }
}

route_table! {
    /// The pages' stylesheet and icon.
    pub fn configure_assets, const ASSETS, resource web::resource;
    "/static/vigil.css" => { GET stylesheet }
    "/favicon.svg" => { GET favicon }
    "/favicon.ico" => { GET favicon }
}

/// The memorial pages, their stylesheet and icon.
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_pages(cfg);
    configure_assets(cfg);
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(b) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(b),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("the page could not be rendered")
        }
    }
}

/// An error as a page, with the status the API would give.
fn error_page(e: &Error) -> HttpResponse {
    let t = catalogue::for_lang("en");
    let status = e.status_code();
    let (title, detail) = match e {
        Error::NotFound(d) => (t.get("error.not_found"), d.clone()),
        Error::BadRequest(d) => (t.get("error.bad_request"), d.clone()),
        Error::Database(e) => (
            t.get("error.unavailable"),
            super::problem::database_detail(e).to_string(),
        ),
        other => (t.get("error.other"), other.to_string()),
    };
    html(
        status,
        ErrorPage {
            t,
            status: status.as_u16(),
            title: title.to_string(),
            detail,
        }
        .render(),
    )
}

/// The memorial's front page: every event with its latest version.
#[utoipa::path(get, path = "/", tag = "pages",
    responses((status = 200, description = "the list of events, as HTML", body = String, content_type = "text/html")))]
pub async fn index(state: web::Data<AppState>) -> HttpResponse {
    let t = catalogue::for_lang("en");
    let events = state
        .reads
        .all()
        .iter()
        .map(|s| EventLink {
            slug: s.event.clone(),
            title: s.title.clone(),
            version: s.version.to_string(),
            published: t.fill(
                "index.version",
                &[
                    ("version", &s.version.to_string()),
                    ("published", &pages::time_in_words(t, s.published_at)),
                ],
            ),
        })
        .collect();
    html(StatusCode::OK, IndexPage { t, events }.render())
}

/// An event's memorial page: the toll first, figures in sections with
/// ranges, status, sources and disputes, a chart of the fatality
/// categories, the version and its hash last. Unknown query parameters are
/// ignored.
#[utoipa::path(get, path = "/events/{slug}", tag = "pages",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"), VersionQuery),
    responses(
        (status = 200, description = "the page, as HTML; query parameters other than version are ignored", body = String, content_type = "text/html"),
        (status = 304, description = "not modified since the ETag sent in If-None-Match"),
        (status = 400, description = "a bad version (the parameter is named), as HTML", body = String, content_type = "text/html"),
        (status = 404, description = "no such event or version, as HTML", body = String, content_type = "text/html"),
    ))]
pub async fn event(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> HttpResponse {
    // A bad query is a page too, not problem+json.
    let version = match parse_page_query::<VersionQuery>(req.query_string(), &["version"]) {
        Ok(q) => q.version,
        Err(e) => return error_page(&e),
    };
    let slug = slug.into_inner();
    let s = match version {
        None => state.version(&slug, None),
        Some(n) => blocking(move || state.version(&slug, Some(n))).await,
    };
    match s {
        // The page of an older version names the latest: it changes on
        // publish, so it is revalidated like the latest one.
        Ok(s) => send(
            &req,
            &s.page,
            "text/html; charset=utf-8",
            &format!("{}-page-{}", s.sha256, s.latest),
            false,
        ),
        Err(e) => error_page(&e),
    }
}

/// An event's versions, newest first, each with the reason of the change
/// that made it, its time and its hash, and links to its page and to what
/// changed.
#[utoipa::path(get, path = "/events/{slug}/history", tag = "pages",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004")),
    responses(
        (status = 200, description = "the history, as HTML; query parameters are ignored", body = String, content_type = "text/html"),
        (status = 404, description = "no such event, as HTML", body = String, content_type = "text/html"),
    ))]
pub async fn history(state: web::Data<AppState>, slug: web::Path<String>) -> HttpResponse {
    let slug = slug.into_inner();
    let Some(latest) = state.reads.latest(&slug) else {
        return error_page(&Error::NotFound(format!("no published event '{slug}'")));
    };
    let title = latest.title.clone();
    let s = slug.clone();
    let found = blocking(move || service::history(&state.db, &s)).await;
    match found {
        Ok((versions, reasons)) => html(
            StatusCode::OK,
            pages::history_page(&slug, &title, &versions, &reasons).render(),
        ),
        Err(e) => error_page(&e),
    }
}

/// `?from=a&to=b` of the diff page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffPageQuery {
    from: i64,
    to: i64,
}

/// What changed from one version to another, for people: each figure's
/// old and new value, claims added and removed, sources and rules.
#[utoipa::path(get, path = "/events/{slug}/diff", tag = "pages",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"),
           ("from" = i64, Query, description = "the older version", minimum = 1),
           ("to" = i64, Query, description = "the newer version", minimum = 1)),
    responses(
        (status = 200, description = "the changes, as HTML; other query parameters are ignored", body = String, content_type = "text/html"),
        (status = 400, description = "a bad or missing version, as HTML", body = String, content_type = "text/html"),
        (status = 404, description = "no such event or version, as HTML", body = String, content_type = "text/html"),
    ))]
pub async fn diff(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> HttpResponse {
    let q = match parse_page_query::<DiffPageQuery>(req.query_string(), &["from", "to"]) {
        Ok(q) => q,
        Err(e) => return error_page(&e),
    };
    if q.from < 1 || q.to < 1 {
        let t = catalogue::for_lang("en");
        return error_page(&Error::BadRequest(t.get("diff.bad_range").to_string()));
    }
    let slug = slug.into_inner();
    let (from, to) = (q.from, q.to);
    let s = slug.clone();
    let built = blocking(move || {
        let old = crate::document::dataset(&service::version(&state.db, &s, Some(from))?.document)?;
        let new = crate::document::dataset(&service::version(&state.db, &s, Some(to))?.document)?;
        let changes = old
            .changes(&new)
            .map_err(|e| Error::Internal(format!("comparing versions: {e}")))?;
        Ok(pages::diff_page(
            &new.event.title,
            &s,
            from,
            to,
            &old,
            &new,
            &changes,
        ))
    })
    .await;
    match built {
        Ok(page) => html(StatusCode::OK, page.render()),
        Err(e) => error_page(&e),
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(86_400),
        ]))
        .insert_header((header::VARY, "Accept-Encoding"))
        .body(STYLESHEET)
}

async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(86_400),
        ]))
        .body(FAVICON)
}
