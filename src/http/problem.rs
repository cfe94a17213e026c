//! Errors as `application/problem+json` (RFC 9457).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<serde_json::Value>,
}

fn respond(
    status: StatusCode,
    title: &str,
    detail: String,
    errors: Option<serde_json::Value>,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail,
            errors,
        })
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Files(_) | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Refused(_) | Error::Conflict(_) => StatusCode::CONFLICT,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let title = match self {
            Error::Files(_) => "The files have problems",
            Error::Refused(_) => "Publishing refused",
            Error::NotFound(_) => "Not found",
            Error::BadRequest(_) => "Bad request",
            Error::Conflict(_) => "Conflict",
            Error::Database(_) => "The database is unavailable",
            Error::Io(_) => "Internal error",
        };
        let errors = match self {
            Error::Files(list) => serde_json::to_value(list).ok(),
            Error::Refused(list) => serde_json::to_value(list).ok(),
            _ => None,
        };
        let detail = match self {
            // Do not leak database internals to the public.
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                "the database could not answer; try again later".to_string()
            }
            other => other.to_string(),
        };
        respond(status, title, detail, errors)
    }
}

/// Bad query strings answer 400 problem+json naming the parameter.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _req| Error::BadRequest(format!("bad query: {err}")).into())
}

/// Bad path parameters (a version that is not a number) answer 400.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|err, _req| Error::BadRequest(format!("bad path: {err}")).into())
}

/// Anything without a route.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    respond(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("nothing at {}", req.path()),
        None,
    )
}
