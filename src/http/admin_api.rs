//! The account and changeset API: the admin panel's operations as JSON,
//! over the same service functions. Every handler names the role it needs
//! in its extractor type.

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::auth::{self, Admin, Curator, Member, Reviewer, Who};
use super::params::Query;
use super::problem::HttpError;
use super::{blocking, AppState};
use crate::accounts::{Principal, Role};
use crate::error::{Error, Result};
use crate::model::{Item, ItemEdit};
use crate::service;
use crate::service::accounts::{TokenInfo, UserInfo};
use crate::service::changesets::{
    editable_table, revision_etag, Changeset, ChangesetView, ItemView, Precondition, Publication,
};

/// Request bodies over this many bytes are refused with 413.
pub const JSON_LIMIT: usize = 4 * 1024 * 1024;

/// JSON bodies: limited in size, and errors answered as problem+json naming
/// what is wrong and where.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as E;
            match &err {
                E::OverflowKnownLength { .. } | E::Overflow { .. } => {
                    HttpError::TooLarge(format!("the body may have at most {JSON_LIMIT} bytes"))
                }
                E::ContentType => HttpError::UnsupportedMediaType(
                    "send the body as JSON, with Content-Type: application/json".into(),
                ),
                other => Error::BadRequest(format!("the JSON body is not valid: {other}")).into(),
            }
            .into()
        })
}

route_table! {
    /// The account and changeset API.
    pub fn configure, const ROUTES, resource super::api_resource;
    "/api/v1/session" => { POST login, DELETE logout, GET whoami }
    "/api/v1/changesets" => { POST open, GET list }
    "/api/v1/changesets/{id}" => { GET view }
    "/api/v1/changesets/{id}/submit" => { POST submit }
    "/api/v1/changesets/{id}/withdraw" => { POST withdraw }
    "/api/v1/changesets/{id}/approve" => { POST approve }
    "/api/v1/changesets/{id}/reject" => { POST reject }
    "/api/v1/changesets/{id}/import" => { POST import }
    "/api/v1/changesets/{id}/{table}/{key}" => { GET get_item, PUT put_item, DELETE delete_item }
    "/api/v1/changesets/{id}/{table}/{key}/rebase" => { POST rebase_item }
    "/api/v1/users" => { GET users, POST add_user }
    "/api/v1/users/{name}" => { PATCH change_user }
    "/api/v1/tokens" => { GET tokens, POST create_token }
    "/api/v1/tokens/{name}" => { DELETE revoke_token }
}

/// Log-in credentials.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// At most 64 characters; a longer name is refused before any look-up.
    #[schema(max_length = 64)]
    pub username: String,
    #[schema(max_length = 128)]
    pub password: String,
}

/// An open session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Send it back as `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
    pub user: Principal,
}

/// Logs in: sets the session cookie and answers the CSRF token.
#[utoipa::path(post, path = "/api/v1/session", tag = "accounts",
    request_body = Credentials,
    responses(
        (status = 200, description = "logged in; the session cookie is set", body = SessionInfo),
        (status = 400, description = "malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "wrong user name or password (the same answer for both)", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "too many failed log-ins; see Retry-After", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<Credentials>,
) -> Result<HttpResponse> {
    // A log-in from another site's page is refused (log-in CSRF).
    auth::same_origin(&req)?;
    let ctx = auth::context(&req, &state);
    let st = state.clone();
    let Credentials { username, password } = body.into_inner();
    let opened =
        blocking(move || service::accounts::login(&st.db, &ctx, &st.limits, &username, &password))
            .await?;
    Ok(HttpResponse::Ok()
        .cookie(auth::session_cookie(&state, &opened.session_id))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionInfo {
            csrf_token: opened.csrf_token,
            user: opened.principal,
        }))
}

/// Logs out: the session ends on the server, and the cookie is removed.
#[utoipa::path(delete, path = "/api/v1/session", tag = "accounts",
    params(("X-CSRF-Token" = Option<String>, Header, description = "the session's CSRF token: needed with a session cookie, not with a Bearer token")),
    responses(
        (status = 204, description = "logged out"),
        (status = 401, description = "no session", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "missing or wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn logout(state: web::Data<AppState>, who: Who<Member>) -> Result<HttpResponse> {
    if let Some(id) = who.session.clone() {
        let st = state.clone();
        let ctx = who.ctx.clone();
        blocking(move || service::accounts::logout(&st.db, &ctx, &id)).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(auth::session_cookie(&state, ""))
        .finish())
}

/// Who the session or token belongs to.
#[utoipa::path(get, path = "/api/v1/session", tag = "accounts",
    responses(
        (status = 200, description = "the caller", body = Principal),
        (status = 401, description = "no session", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn whoami(who: Who<Member>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(&who.principal)
}

/// A draft to open.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenChangeset {
    /// The event's slug.
    #[schema(max_length = 100)]
    pub event: String,
    /// What the changeset changes and why: not blank, at most 2,000
    /// characters.
    #[schema(
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        max_length = 2000
    )]
    pub reason: String,
}

/// The id of a new changeset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Opened {
    pub id: i64,
}

/// Opens a draft against the latest published version of an event.
#[utoipa::path(post, path = "/api/v1/changesets", tag = "changesets",
    request_body = OpenChangeset,
    responses(
        (status = 201, description = "opened", body = Opened),
        (status = 400, description = "no reason given, or a malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a curator, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such event", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn open(
    state: web::Data<AppState>,
    who: Who<Curator>,
    body: Body<OpenChangeset>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let id = blocking(move || {
        service::changesets::open(
            &state.db,
            &who.ctx,
            &who.principal,
            &body.event,
            &body.reason,
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/changesets/{id}")))
        .json(Opened { id }))
}

/// Filters for the list of changesets.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this event's.
    pub event: Option<String>,
    /// Only those in this state (`submitted` is the review queue).
    pub state: Option<service::changesets::State>,
}

/// Changesets, newest first.
#[utoipa::path(get, path = "/api/v1/changesets", tag = "changesets",
    params(ListQuery),
    responses(
        (status = 200, description = "the changesets", body = [Changeset]),
        (status = 400, description = "bad query", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    who: Who<Member>,
    q: Query<ListQuery>,
) -> Result<HttpResponse> {
    let q = q.into_inner();
    let list = blocking(move || {
        service::changesets::list(&state.db, &who.principal, q.event.as_deref(), q.state)
    })
    .await?;
    Ok(private(HttpResponse::Ok()).json(list))
}

fn private(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header((header::CACHE_CONTROL, "private, no-store"));
    res
}

/// A changeset: its edits, the diff against its base version, conflicts
/// with later versions, and the checks on the result.
#[utoipa::path(get, path = "/api/v1/changesets/{id}", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1)),
    responses(
        (status = 200, description = "the changeset; its ETag is its revision, which `approve` and `reject` need in `If-Match`", body = ChangesetView,
            headers(("ETag" = String, description = "the changeset's revision"))),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn view(
    state: web::Data<AppState>,
    who: Who<Member>,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let v = blocking(move || service::changesets::view(&state.db, &who.principal, id)).await?;
    Ok(private(HttpResponse::Ok())
        .insert_header((header::ETAG, quoted(&revision_etag(v.changeset.revision))))
        .json(v))
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// The revision a reviewer saw, from `If-Match`: 428 without it, 400 when
/// it is not a revision.
fn if_match_revision(req: &HttpRequest) -> Result<i64, HttpError> {
    let Some(m) = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(HttpError::PreconditionRequired(
            "say which revision of the changeset you reviewed: send If-Match with the ETag \
             that GET /api/v1/changesets/{id} answered"
                .into(),
        ));
    };
    let etag = m.trim().trim_start_matches("W/").trim_matches('"');
    etag.parse().map_err(|_| {
        Error::BadRequest(format!(
            "If-Match '{etag}' is not a changeset revision: send the ETag that \
             GET /api/v1/changesets/{{id}} answered"
        ))
        .into()
    })
}

/// A comment on a transition.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    /// Optional; at most 2,000 characters.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// The body of a rejection: the comment saying why is required.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Rejection {
    /// Why: not blank, at most 2,000 characters.
    #[schema(
        pattern = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        max_length = 2000
    )]
    pub comment: String,
}

/// The new state of a changeset, and the version an approval published.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Transitioned {
    pub changeset: Changeset,
    pub published: Option<Publication>,
}

/// The path of a transition: the changeset.
type IdPath = web::Path<i64>;

async fn answer(
    state: &web::Data<AppState>,
    who: Principal,
    id: i64,
    published: Option<Publication>,
) -> Result<HttpResponse> {
    let st = state.clone();
    let changeset = blocking(move || service::changesets::get(&st.db, &who, id)).await?;
    Ok(private(HttpResponse::Ok()).json(Transitioned {
        changeset,
        published,
    }))
}

fn comment(body: OptionalJson<Comment>) -> Option<String> {
    body.0.unwrap_or_default().comment
}

/// A JSON body that may be left out: none at all (no body, an empty one,
/// or `null`) is `None`; one that is there must be valid, and is refused like any
/// JSON body (400, 413, 415) when it is not, never ignored.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let h = req.headers();
        let length = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let empty =
            length == Some("0") || (length.is_none() && !h.contains_key(header::TRANSFER_ENCODING));
        if empty {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        // `null` is no body too.
        let body = Body::<Option<T>>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJson(body.await?.0)) })
    }
}

/// A JSON body as `T`, read under [`json_config`]'s limits; refused with
/// 400 naming the field when any of its text breaks the text policy
/// ([`crate::text`]): U+0000, which PostgreSQL cannot store, or more
/// characters than the field may hold — on every backend alike, before the
/// handler runs.
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        use futures_util::StreamExt;
        let json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(HttpError::UnsupportedMediaType(
                    "send the body as JSON, with Content-Type: application/json".into(),
                )
                .into());
            }
            let too_large =
                || HttpError::TooLarge(format!("the body may have at most {JSON_LIMIT} bytes"));
            if length.is_some_and(|n| n > JSON_LIMIT) {
                return Err(too_large().into());
            }
            // Read with the cap while streaming (request bodies come
            // uncompressed: see `edge` in `http/mod.rs`).
            let mut bytes = Vec::with_capacity(length.unwrap_or(0));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| Error::BadRequest(format!("the JSON body was not read: {e}")))?;
                if bytes.len() + chunk.len() > JSON_LIMIT {
                    return Err(too_large().into());
                }
                bytes.extend_from_slice(&chunk);
            }
            // The expected shape first: a body of another shape (megabytes
            // of `[0,0,…]` sent to log in) is refused at its first wrong
            // token, never built into a tree.
            let not_valid = |e: serde_json::Error| {
                Error::BadRequest(format!("the JSON body is not valid: {e}"))
            };
            let typed: T = serde_json::from_slice(&bytes).map_err(not_valid)?;
            let value: Json = serde_json::from_slice(&bytes).map_err(not_valid)?;
            if let Some((at, e)) = refused_text(&value, "", "") {
                return Err(
                    Error::BadRequest(format!("the JSON body at {at}: {}", e.violation)).into(),
                );
            }
            Ok(Body(typed))
        })
    }
}

/// Where in a JSON value text breaks the text policy, as a JSON pointer
/// (`/reason`, `/files/event.csv`, `/roles/1`), and how, if anywhere. Text is
/// checked under the name of the field that holds it (an array's items under
/// the array's); the files of an import are bounded by the body's size, and
/// their cells are checked when the import reads them.
fn refused_text(v: &Json, at: &str, field: &str) -> Option<(String, crate::text::TextError)> {
    match v {
        Json::String(s) => {
            let checked = if at.starts_with("/files/") {
                crate::text::check_within(field, s, JSON_LIMIT)
            } else {
                crate::text::check(field, s)
            };
            checked
                .err()
                .map(|e| (if at.is_empty() { "/" } else { at }.to_string(), e))
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| refused_text(item, &format!("{at}/{i}"), field)),
        Json::Object(map) => map.iter().find_map(|(k, item)| {
            let at = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            match crate::text::check("field name", k) {
                Err(e) => Some((at, e)),
                Ok(()) => refused_text(item, &at, k),
            }
        }),
        _ => None,
    }
}

/// Submits a draft for review (a curator).
#[utoipa::path(post, path = "/api/v1/changesets/{id}/submit", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1)),
    request_body(content = Option<Comment>, description = "optional"),
    responses(
        (status = 200, description = "submitted", body = Transitioned),
        (status = 400, description = "a malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a curator, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "not a draft, no edits, or the result does not validate", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn submit(
    state: web::Data<AppState>,
    who: Who<Curator>,
    id: IdPath,
    body: OptionalJson<Comment>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let c = comment(body);
    let st = state.clone();
    let principal = who.principal.clone();
    blocking(move || {
        service::changesets::submit(&st.db, &who.ctx, &who.principal, id, c.as_deref())
    })
    .await?;
    answer(&state, principal, id, None).await
}

/// Withdraws a changeset (its author).
#[utoipa::path(post, path = "/api/v1/changesets/{id}/withdraw", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1)),
    request_body(content = Option<Comment>, description = "optional"),
    responses(
        (status = 200, description = "withdrawn", body = Transitioned),
        (status = 400, description = "a malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not its author, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "already closed", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn withdraw(
    state: web::Data<AppState>,
    who: Who<Curator>,
    id: IdPath,
    body: OptionalJson<Comment>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let c = comment(body);
    let st = state.clone();
    let principal = who.principal.clone();
    blocking(move || {
        service::changesets::withdraw(&st.db, &who.ctx, &who.principal, id, c.as_deref())
    })
    .await?;
    answer(&state, principal, id, None).await
}

/// Approves a submitted changeset (a reviewer who wrote none of it): rebases
/// it on the latest version, re-runs the checks and publishes the next
/// version, atomically.
#[utoipa::path(post, path = "/api/v1/changesets/{id}/approve", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1),
           ("If-Match" = String, Header, description = "the changeset's ETag (its revision) as reviewed; without it the answer is 428", pattern = r#"^(W/)?"?[0-9]{1,18}"?$"#)),
    request_body(content = Option<Comment>, description = "optional"),
    responses(
        (status = 200, description = "approved and published", body = Transitioned),
        (status = 400, description = "a malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a reviewer, wrote part of it, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "not submitted, moved since the If-Match revision (the changeset as it is now comes with the answer), conflicting edits (named), or an error check violated (listed)", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 428, description = "no If-Match", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Who<Reviewer>,
    id: IdPath,
    body: OptionalJson<Comment>,
) -> Result<HttpResponse, HttpError> {
    let id = id.into_inner();
    let seen_revision = if_match_revision(&req)?;
    let c = comment(body);
    let st = state.clone();
    let principal = who.principal.clone();
    let published = blocking(move || {
        st.publisher()
            .approve(&who.ctx, &who.principal, id, seen_revision, c.as_deref())
    })
    .await?;
    Ok(answer(&state, principal, id, Some(published)).await?)
}

/// Rejects a submitted changeset, with a comment (a reviewer who wrote none of it).
#[utoipa::path(post, path = "/api/v1/changesets/{id}/reject", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1),
           ("If-Match" = String, Header, description = "the changeset's ETag (its revision) as reviewed; without it the answer is 428", pattern = r#"^(W/)?"?[0-9]{1,18}"?$"#)),
    request_body = Rejection,
    responses(
        (status = 200, description = "rejected", body = Transitioned),
        (status = 400, description = "no comment, or a malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a reviewer, wrote part of it, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "not submitted, or moved since the If-Match revision (the changeset as it is now comes with the answer)", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 428, description = "no If-Match", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Who<Reviewer>,
    id: IdPath,
    body: OptionalJson<Comment>,
) -> Result<HttpResponse, HttpError> {
    let id = id.into_inner();
    let seen_revision = if_match_revision(&req)?;
    let c = comment(body);
    let st = state.clone();
    let principal = who.principal.clone();
    blocking(move || {
        service::changesets::reject(
            &st.db,
            &who.ctx,
            &who.principal,
            id,
            seen_revision,
            c.as_deref(),
        )
    })
    .await?;
    Ok(answer(&state, principal, id, None).await?)
}

/// CSV files to import into a draft.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportFiles {
    /// The five files of an event folder by name, as text.
    #[schema(value_type = EventFiles)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Only say what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// The five CSV files of an event folder, as text (the schema of
/// [`ImportFiles::files`]; every one is needed).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EventFiles {
    #[serde(rename = "event.csv")]
    #[schema(max_length = 4194304)]
    pub event: String,
    #[serde(rename = "sources.csv")]
    #[schema(max_length = 4194304)]
    pub sources: String,
    #[serde(rename = "figures.csv")]
    #[schema(max_length = 4194304)]
    pub figures: String,
    #[serde(rename = "claims.csv")]
    #[schema(max_length = 4194304)]
    pub claims: String,
    #[serde(rename = "rules.csv")]
    #[schema(max_length = 4194304)]
    pub rules: String,
}

/// What an import into a draft changed, or would change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportedChanges {
    pub dry_run: bool,
    pub changes: Vec<crate::model::Change>,
}

/// Builds an import folder from named files; unknown names are refused.
pub fn folder_of(files: Vec<(String, Vec<u8>)>) -> Result<crate::files::Folder> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        let table = crate::model::Table::ALL
            .iter()
            .copied()
            .find(|t| t.file_name() == name)
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "'{name}' is not a file of an event folder: send event.csv, sources.csv, \
                     figures.csv, claims.csv and rules.csv"
                ))
            })?;
        out.push((table, bytes));
    }
    Ok(crate::files::Folder::from_bytes(out))
}

/// Imports CSV files into a draft: every item that differs becomes an edit.
/// With `dry_run`, only says what would change.
#[utoipa::path(post, path = "/api/v1/changesets/{id}/import", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1)),
    request_body = ImportFiles,
    responses(
        (status = 200, description = "imported, or what would be", body = ImportedChanges),
        (status = 400, description = "problems in the files (each as file:line:column) or a malformed body", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a curator, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "the changeset is closed", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn import(
    state: web::Data<AppState>,
    who: Who<Curator>,
    id: IdPath,
    body: Body<ImportFiles>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let b = body.into_inner();
    let dry_run = b.dry_run;
    let folder = folder_of(
        b.files
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
    )?;
    let changes = blocking(move || {
        service::changesets::import_into(&state.db, &who.ctx, &who.principal, id, &folder, dry_run)
    })
    .await?;
    Ok(private(HttpResponse::Ok()).json(ImportedChanges { dry_run, changes }))
}

/// What the item routes name: changeset, table, key.
type ItemPath = web::Path<(i64, String, String)>;

fn item_response(res: actix_web::HttpResponseBuilder, v: ItemView) -> HttpResponse {
    let mut res = private(res);
    res.insert_header(header::ETag(header::EntityTag::new_strong(v.etag.clone())));
    res.json(v)
}

/// One item of a changeset as it would be published, with its ETag.
#[utoipa::path(get, path = "/api/v1/changesets/{id}/{table}/{key}", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1),
           ("table" = String, Path, description = "figures, claims, sources or rules", pattern = "^(figures|claims|sources|rules)$", example = "figures"),
           ("key" = String, Path, description = "the item's key or id", example = "fatalities")),
    responses(
        (status = 200, description = "the item (`item` is null when absent), with its ETag", body = ItemView),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset or table", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn get_item(
    state: web::Data<AppState>,
    who: Who<Member>,
    path: ItemPath,
) -> Result<HttpResponse> {
    let (id, table, key) = path.into_inner();
    let table = editable_table(&table)?;
    let v = blocking(move || service::changesets::item(&state.db, &who.principal, id, table, &key))
        .await?;
    Ok(item_response(HttpResponse::Ok(), v))
}

/// The precondition an edit states: `If-Match` with the ETag it saw, or
/// `If-None-Match: *` to create.
fn precondition(req: &HttpRequest) -> Result<Precondition, HttpError> {
    let text = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(m) = text(header::IF_MATCH) {
        let seen_etag = m.trim_start_matches("W/").trim_matches('"');
        return Ok(Precondition::Matches(seen_etag.to_string()));
    }
    if text(header::IF_NONE_MATCH) == Some("*") {
        return Ok(Precondition::Absent);
    }
    Err(HttpError::PreconditionRequired(
        "say which state the edit was made against: If-Match with the item's ETag, \
         or If-None-Match: * to create it"
            .into(),
    ))
}

/// Puts an item into a draft (the shape the published document uses; a
/// figure without its claims). A submitted changeset goes back to draft.
#[utoipa::path(put, path = "/api/v1/changesets/{id}/{table}/{key}", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1),
           ("table" = String, Path, description = "figures, claims, sources or rules", pattern = "^(figures|claims|sources|rules)$", example = "figures"),
           ("key" = String, Path, description = "the item's key or id", example = "fatalities"),
           ("If-Match" = Option<String>, Header, description = "the ETag of the item as seen"),
           ("If-None-Match" = Option<String>, Header, description = "`*` to create an item")),
    request_body(content = Object, description = "the item"),
    responses(
        (status = 200, description = "stored; the item with its new ETag and any problems at it", body = ItemView),
        (status = 400, description = "the item is not of the table's shape", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a curator, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset or table", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "stale: the item changed since it was seen (the answer carries it), or the changeset is closed", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 428, description = "neither If-Match nor If-None-Match: *", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn put_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Who<Curator>,
    path: ItemPath,
    body: Body<Json>,
) -> Result<HttpResponse, HttpError> {
    let (id, table, key) = path.into_inner();
    let table = editable_table(&table)?;
    let pre = precondition(&req)?;
    let item =
        Item::parse(table, body.into_inner()).map_err(|e| Error::BadRequest(e.to_string()))?;
    let v = blocking(move || {
        service::changesets::put_item(
            &state.db,
            &who.ctx,
            &who.principal,
            id,
            ItemEdit {
                table,
                key,
                item: Some(item),
            },
            &pre,
        )
    })
    .await?;
    Ok(item_response(HttpResponse::Ok(), v))
}

/// Removes an item in a draft.
#[utoipa::path(delete, path = "/api/v1/changesets/{id}/{table}/{key}", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1),
           ("table" = String, Path, description = "figures, claims, sources or rules", pattern = "^(figures|claims|sources|rules)$", example = "figures"),
           ("key" = String, Path, description = "the item's key or id", example = "fatalities"),
           ("If-Match" = String, Header, description = "the ETag of the item as seen")),
    responses(
        (status = 200, description = "removed", body = ItemView),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a curator, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset, table or item", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "stale, or the changeset is closed", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 428, description = "no If-Match", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn delete_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Who<Curator>,
    path: ItemPath,
) -> Result<HttpResponse, HttpError> {
    let (id, table, key) = path.into_inner();
    let table = editable_table(&table)?;
    let pre = precondition(&req)?;
    let v = blocking(move || {
        service::changesets::put_item(
            &state.db,
            &who.ctx,
            &who.principal,
            id,
            ItemEdit {
                table,
                key,
                item: None,
            },
            &pre,
        )
    })
    .await?;
    Ok(item_response(HttpResponse::Ok(), v))
}

/// What to keep where a later published version and the changeset both
/// changed a field of an item.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rebase {
    /// Field by field, whose value to keep: `mine` (the changeset's) or
    /// `theirs` (the published one); `""` names the whole item, when one
    /// side removed it. Fields changed on one side only need no choice.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, service::changesets::Side>)]
    pub choices: service::changesets::Choices,
}

/// "Take the latest and apply my change again": an item that a version
/// published after the changeset's base changed too becomes the item as
/// that version publishes it with the changeset's own changes on top.
/// Where both changed a field, `choices` says which value to keep; the
/// changeset's view lists the items in conflict (`conflicts`).
#[utoipa::path(post, path = "/api/v1/changesets/{id}/{table}/{key}/rebase", tag = "changesets",
    params(("id" = i64, Path, description = "the changeset", minimum = 1, example = 1),
           ("table" = String, Path, description = "figures, claims, sources or rules", pattern = "^(figures|claims|sources|rules)$", example = "figures"),
           ("key" = String, Path, description = "the item's key or id", example = "fatalities")),
    request_body = Rebase,
    responses(
        (status = 200, description = "taken: the item as now stored, with its ETag and any problems at it", body = ItemView),
        (status = 400, description = "a malformed body, or an item that is not of the table's shape", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not a curator, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such changeset or table, or the changeset does not edit the item", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "the item is not in conflict, a field both sides changed has no choice (the answer names it), or the changeset is closed", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn rebase_item(
    state: web::Data<AppState>,
    who: Who<Curator>,
    path: ItemPath,
    body: Body<Rebase>,
) -> Result<HttpResponse, HttpError> {
    let (id, table, key) = path.into_inner();
    let table = editable_table(&table)?;
    let choices = body.into_inner().choices;
    let v = blocking(move || {
        service::changesets::rebase_item(
            &state.db,
            &who.ctx,
            &who.principal,
            id,
            table,
            &key,
            &choices,
        )
    })
    .await?;
    Ok(item_response(HttpResponse::Ok(), v))
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts",
    responses(
        (status = 200, description = "the users", body = [UserInfo]),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn users(state: web::Data<AppState>, who: Who<Admin>) -> Result<HttpResponse> {
    let list = blocking(move || service::accounts::users(&state.db, &who.principal)).await?;
    Ok(private(HttpResponse::Ok()).json(list))
}

/// A new account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$", max_length = 64)]
    pub name: String,
    /// 12 to 128 characters, not a common password, not containing the
    /// user name.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    #[schema(min_items = 1)]
    pub roles: Vec<Role>,
}

/// Adds an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts",
    request_body = NewUser,
    responses(
        (status = 201, description = "added", body = UserInfo),
        (status = 400, description = "a bad name, no role, or a password the policy refuses", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an admin, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "the name is taken", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn add_user(
    state: web::Data<AppState>,
    who: Who<Admin>,
    body: Body<NewUser>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    let u = blocking(move || {
        service::accounts::add_user(
            &state.db,
            &who.ctx,
            &who.principal,
            &b.name,
            &b.password,
            &b.roles,
        )
    })
    .await?;
    Ok(private(HttpResponse::Created()).json(u))
}

/// Changes to an account; each field is optional.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// The roles, replacing the ones the user has.
    #[schema(min_items = 1)]
    pub roles: Option<Vec<Role>>,
    /// Disabling ends every session of the user.
    pub disabled: Option<bool>,
    /// A new password (12 to 128 characters, not a common password, not
    /// containing the user name); ends every session of the user.
    #[schema(min_length = 12, max_length = 128)]
    pub password: Option<String>,
}

/// Changes an account's roles, password, or whether it is disabled.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "accounts",
    params(("name" = String, Path, description = "the user")),
    request_body = UserChange,
    responses(
        (status = 200, description = "changed", body = UserInfo),
        (status = 400, description = "no role, or a password the policy refuses", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an admin, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such user", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "the change would leave no enabled admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn change_user(
    state: web::Data<AppState>,
    who: Who<Admin>,
    name: web::Path<String>,
    body: Body<UserChange>,
) -> Result<HttpResponse> {
    let name = name.into_inner();
    let b = body.into_inner();
    let u = blocking(move || {
        service::accounts::change_user(
            &state.db,
            &who.ctx,
            &who.principal,
            &name,
            &service::accounts::AccountChange {
                password: b.password,
                roles: b.roles,
                disabled: b.disabled,
            },
        )
    })
    .await?;
    Ok(private(HttpResponse::Ok()).json(u))
}

/// Every API token (never the secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts",
    responses(
        (status = 200, description = "the tokens", body = [TokenInfo]),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an admin", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn tokens(state: web::Data<AppState>, who: Who<Admin>) -> Result<HttpResponse> {
    let list = blocking(move || service::accounts::tokens(&state.db, &who.principal)).await?;
    Ok(private(HttpResponse::Ok()).json(list))
}

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter.
    #[schema(pattern = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$", max_length = 64)]
    pub name: String,
    #[schema(min_items = 1)]
    pub roles: Vec<Role>,
    /// The person the token acts for; by default the admin creating it.
    /// Its edits count as theirs, and disabling them revokes it.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")]
    pub owner: Option<String>,
}

/// A token just created: the secret is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: TokenInfo,
    /// Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Creates an API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts",
    request_body = NewToken,
    responses(
        (status = 201, description = "created; the secret is in the answer, once", body = CreatedToken),
        (status = 400, description = "a bad name or no role", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an admin, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such owner", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "the name is taken, or the owner is disabled", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn create_token(
    state: web::Data<AppState>,
    who: Who<Admin>,
    body: Body<NewToken>,
) -> Result<HttpResponse> {
    let b = body.into_inner();
    let (token, secret) = blocking(move || {
        service::accounts::create_token(
            &state.db,
            &who.ctx,
            &who.principal,
            &b.name,
            &b.roles,
            b.owner.as_deref(),
        )
    })
    .await?;
    Ok(private(HttpResponse::Created()).json(CreatedToken { token, secret }))
}

/// Revokes an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "accounts",
    params(("name" = String, Path, description = "the token")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, description = "not logged in", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "not an admin, or a wrong CSRF token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "no such token", body = super::problem::ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn revoke_token(
    state: web::Data<AppState>,
    who: Who<Admin>,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    let name = name.into_inner();
    blocking(move || service::accounts::revoke_token(&state.db, &who.ctx, &who.principal, &name))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
