//! Errors as `application/problem+json` (RFC 9457).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{DatabaseError, Error, Fault};

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<serde_json::Value>,
    /// For 409 on a stale edit: the item as it is now, and its ETag.
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
}

/// An error, as RFC 9457 problem details: how the OpenAPI document
/// describes what [`Problem`] sends.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// A stable URI naming the kind of problem, e.g.
    /// `urn:vigil:problem:not-found` or `urn:vigil:problem:stale`.
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

fn respond(
    kind: &str,
    status: StatusCode,
    title: &str,
    detail: String,
    errors: Option<serde_json::Value>,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
            errors,
            current: None,
            etag: None,
        })
}

/// What the public may know of a database failure: the kind, not the
/// internals. Either way nothing was written: every write is one
/// transaction.
pub(super) fn database_detail(e: &DatabaseError) -> &'static str {
    match e.fault {
        Fault::DiskFull => "the database's disk is full, so nothing was changed; try again when an operator has made room",
        Fault::ReadOnly => "the database is read-only at the moment, so nothing was changed; try again later",
        Fault::Constraint => "the change collided with another made at the same moment, so nothing was changed; try again",
        Fault::Corrupt | Fault::Unavailable => "the database could not answer; try again later",
    }
}

/// What a person may read of an error: its message for the caller's own
/// errors; for the database, vigil itself or the disk, only what it means
/// for them (the details go to the log where the error is answered).
pub(super) fn public_detail(e: &Error) -> String {
    match e {
        Error::Database(d) => database_detail(d).to_string(),
        Error::Internal(_) | Error::Io(_) => {
            "vigil could not complete the request; the operator has the details in the log".into()
        }
        other => other.to_string(),
    }
}

/// What HTTP alone refuses, before any use case runs: a body too large, a
/// body of a type the operation does not take, an edit that does not say
/// which state it was made against. Every other error is the core's
/// [`Error`], carried as it is.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Core(#[from] Error),
    /// The request body is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The request body is not in a format the operation takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An edit did not say which state it was made against.
    #[error("{0}")]
    PreconditionRequired(String),
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            HttpError::Core(e) => e.status_code(),
            HttpError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (kind, title) = match self {
            HttpError::Core(e) => return e.error_response(),
            HttpError::TooLarge(_) => ("urn:vigil:problem:too-large", "Request body too large"),
            HttpError::UnsupportedMediaType(_) => (
                "urn:vigil:problem:unsupported-media-type",
                "Unsupported media type",
            ),
            HttpError::PreconditionRequired(_) => (
                "urn:vigil:problem:precondition-required",
                "Precondition required",
            ),
        };
        respond(kind, self.status_code(), title, self.to_string(), None)
    }
}

/// The stable `type` URI of each kind of problem.
pub(super) fn problem_type(e: &Error) -> &'static str {
    match e {
        Error::Files(_) => "urn:vigil:problem:files",
        Error::Refused(_) => "urn:vigil:problem:checks-violated",
        Error::NotFound(_) => "urn:vigil:problem:not-found",
        Error::BadRequest(_) => "urn:vigil:problem:bad-request",
        Error::Conflict(_) => "urn:vigil:problem:conflict",
        Error::Stale { .. } => "urn:vigil:problem:stale",
        Error::Unauthorized(_) => "urn:vigil:problem:unauthorized",
        Error::Forbidden(_) => "urn:vigil:problem:forbidden",
        Error::LockedOut { .. } => "urn:vigil:problem:too-many-requests",
        Error::Database(_) => "urn:vigil:problem:database-unavailable",
        Error::Internal(_) | Error::Io(_) => "urn:vigil:problem:internal",
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Files(_) | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Refused(_) | Error::Conflict(_) | Error::Stale { .. } => StatusCode::CONFLICT,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) | Error::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Error::Stale { .. } => "The item has changed since you saw it",
            Error::Unauthorized(_) => "Not logged in",
            Error::Forbidden(_) => "Not allowed",
            Error::LockedOut { .. } => "Too many attempts",
            Error::Database(_) => "The database is unavailable",
            Error::Internal(_) | Error::Io(_) => "Internal error",
        };
        let errors = match self {
            Error::Files(list) => serde_json::to_value(list).ok(),
            Error::Refused(list) => serde_json::to_value(list).ok(),
            _ => None,
        };
        let detail = match self {
            // Do not leak database internals to the public.
            Error::Database(e) => {
                tracing::error!(error = %crate::error::chain(e), "database error");
                database_detail(e).to_string()
            }
            Error::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "vigil could not complete the request; the operator has the details in the log"
                    .to_string()
            }
            Error::Io(e) => {
                tracing::error!(error = %e, "i/o error");
                "vigil could not complete the request; the operator has the details in the log"
                    .to_string()
            }
            other => other.to_string(),
        };
        let mut res = match self {
            Error::Stale { current, etag, .. } => HttpResponse::build(status)
                .content_type("application/problem+json")
                .json(Problem {
                    kind: problem_type(self),
                    title,
                    status: status.as_u16(),
                    detail,
                    errors,
                    current: Some(current.clone().unwrap_or(serde_json::Value::Null)),
                    etag: Some(etag.clone()),
                }),
            _ => respond(problem_type(self), status, title, detail, errors),
        };
        let headers = res.headers_mut();
        match self {
            Error::LockedOut { retry_after } => {
                if let Ok(v) = retry_after.to_string().parse() {
                    headers.insert(actix_web::http::header::RETRY_AFTER, v);
                }
            }
            Error::Unauthorized(_) => {
                headers.insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static("Bearer realm=\"vigil\""),
                );
            }
            _ => {}
        }
        res
    }
}

/// Bad query strings of the admin panel's pages answer 400 problem+json
/// (the API names the parameter: [`super::params::Query`]).
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _req| Error::BadRequest(format!("bad query: {err}")).into())
}

/// A method the resource has no route for: the router's empty 405, with
/// the `Allow` it computed, made problem+json.
pub fn method_not_allowed<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::http::header::ALLOW;
    let allow = res.headers().get(ALLOW).cloned();
    let (req, _) = res.into_parts();
    let methods = allow
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut out = respond(
        "urn:vigil:problem:method-not-allowed",
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        format!(
            "{} is not allowed on {}; it allows {methods}",
            req.method(),
            req.path()
        ),
        None,
    );
    if let Some(v) = allow {
        out.headers_mut().insert(ALLOW, v);
    }
    Ok(actix_web::middleware::ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, out).map_into_right_body(),
    ))
}

/// Anything without a route.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    respond(
        "urn:vigil:problem:not-found",
        StatusCode::NOT_FOUND,
        "Not found",
        format!("nothing at {}", req.path()),
        None,
    )
}
