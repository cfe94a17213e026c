//! The memorial pages.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::api::VersionQuery;
use super::pages::{ErrorPage, EventLink, IndexPage, STYLESHEET};
use super::params::Query;
use super::{blocking, send, State};
use crate::error::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(super::get().to(index)))
        .service(web::resource("/events/{slug}").route(super::get().to(event)))
        .service(web::resource("/static/vigil.css").route(super::get().to(stylesheet)));
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
    let status = e.status_code();
    let (title, detail) = match e {
        Error::NotFound(d) => ("Not found".to_string(), d.clone()),
        Error::BadRequest(d) => ("Bad request".to_string(), d.clone()),
        Error::Database(e) => (
            "Temporarily unavailable".to_string(),
            super::problem::database_detail(e).to_string(),
        ),
        other => ("Error".to_string(), other.to_string()),
    };
    html(
        status,
        ErrorPage {
            status: status.as_u16(),
            title,
            detail,
        }
        .render(),
    )
}

/// The memorial's front page: every event with its latest version.
#[utoipa::path(get, path = "/", tag = "pages",
    responses((status = 200, description = "the list of events, as HTML", body = String, content_type = "text/html")))]
pub async fn index(state: web::Data<State>) -> HttpResponse {
    let events = state
        .reads
        .all()
        .iter()
        .map(|s| EventLink {
            slug: s.event.clone(),
            title: s.title.clone(),
            version: s.version,
            published_at: s.published_at.clone(),
        })
        .collect();
    html(StatusCode::OK, IndexPage { events }.render())
}

/// An event's memorial page: figures with ranges, status, sources and
/// disputes, a chart of the fatality categories, the version and its hash.
#[utoipa::path(get, path = "/events/{slug}", tag = "pages",
    params(("slug" = String, Path, description = "the event", example = "beslan-2004"), VersionQuery),
    responses(
        (status = 200, description = "the page, as HTML", body = String, content_type = "text/html"),
        (status = 304, description = "not modified since the ETag sent in If-None-Match"),
        (status = 400, description = "a bad query (the parameter is named), as HTML", body = String, content_type = "text/html"),
        (status = 404, description = "no such event or version, as HTML", body = String, content_type = "text/html"),
    ))]
pub async fn event(
    req: HttpRequest,
    state: web::Data<State>,
    slug: web::Path<String>,
    q: Result<Query<VersionQuery>, Error>,
) -> HttpResponse {
    // A bad query is a page too, not problem+json.
    let version = match q {
        Ok(q) => q.version,
        Err(e) => return error_page(&e),
    };
    let slug = slug.into_inner();
    let s = match version {
        None => state.snapshot(&slug, None),
        Some(n) => blocking(move || state.snapshot(&slug, Some(n))).await,
    };
    match s {
        Ok(s) => send(
            &req,
            &s.page,
            "text/html; charset=utf-8",
            &format!("{}-page", s.sha256),
            version.is_some(),
        ),
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
