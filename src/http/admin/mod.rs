//! The admin panel under `/admin`: server-rendered pages and plain HTML
//! forms, no scripts. Templates and the stylesheet live in `admin/` and are
//! embedded in the binary. Every page calls the same service functions as
//! the JSON API, through the same role-checking extractors.
//!
//! By what it serves: [`login`] (log-in, log-out, first admin),
//! [`changesets`] (dashboard, a changeset, its decisions), [`items`] (the
//! item browser, the editor, CSV import), [`review`] (the queue),
//! [`audit`] (the log), [`users`] (accounts and tokens). Every handler
//! answers `Result<HttpResponse, PanelError>`: an error is one HTML page,
//! rendered in one place. Every word the panel shows comes from [`text`].
//!
//! Error policy: what the person can act on (a field, a refused decision)
//! is answered on the page that was acted on; what they cannot (a missing
//! role, a missing changeset) is a [`PanelError`] page.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use super::auth::{Caller, Posted};
use super::problem::HttpError;
use crate::accounts::{format_roles, Permission, Role};
use crate::error::Error;

mod audit;
mod changesets;
mod fields;
mod items;
mod login;
mod review;
pub mod text;
mod users;

use text::EN as T;

const STYLESHEET: &str = include_str!("../../../admin/static/admin.css");

/// The panel's routes, declared once: `configure` registers them and
/// [`ROUTES`] lists them, so the role matrix in the tests covers every one.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path,)+) => {
        /// Every route of the panel, as (method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),+];

        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, routes!(@method $method).to($handler));)+
        }
    };
    (@method GET) => { super::get() };
    (@method POST) => { web::post() };
}

routes! {
    GET "/admin/static/admin.css" => stylesheet,
    GET "/admin/login" => login::login_page,
    POST "/admin/login" => login::login,
    POST "/admin/logout" => login::logout,
    GET "/admin/setup" => login::setup_page,
    POST "/admin/setup" => login::setup,
    GET "/admin" => changesets::dashboard,
    GET "/admin/review" => review::queue,
    GET "/admin/users" => users::users,
    POST "/admin/users" => users::add_user,
    POST "/admin/users/{name}" => users::change_user,
    POST "/admin/users/{name}/password" => users::reset_password,
    POST "/admin/tokens" => users::create_token,
    POST "/admin/tokens/{name}/revoke" => users::revoke_token,
    GET "/admin/audit" => audit::audit_log,
    POST "/admin/audit/verify" => audit::verify_everything,
    POST "/admin/changesets" => changesets::open,
    GET "/admin/changesets/{id}" => changesets::changeset,
    GET "/admin/changesets/{id}/items" => items::browser,
    GET "/admin/changesets/{id}/edit" => items::edit_redirect,
    POST "/admin/changesets/{id}/submit" => changesets::submit,
    POST "/admin/changesets/{id}/withdraw" => changesets::withdraw,
    POST "/admin/changesets/{id}/approve" => changesets::approve,
    POST "/admin/changesets/{id}/reject" => changesets::reject,
    GET "/admin/changesets/{id}/{table}/{key}" => items::item,
    POST "/admin/changesets/{id}/{table}/{key}" => items::save_item,
    POST "/admin/changesets/{id}/import" => items::import,
    POST "/admin/changesets/{id}/{table}/{key}/delete" => items::delete_item,
}

/// What every admin page shows around its content.
#[derive(Clone)]
pub struct Frame {
    pub me: Option<String>,
    pub is_admin: bool,
    pub is_auditor: bool,
    pub csrf: String,
    pub notice: String,
    pub error: String,
    /// The catalogue the page's words come from.
    pub t: &'static text::Text,
}

impl Frame {
    fn anonymous() -> Self {
        Self {
            me: None,
            is_admin: false,
            is_auditor: false,
            csrf: String::new(),
            notice: String::new(),
            error: String::new(),
            t: &T,
        }
    }

    fn of(c: &Caller) -> Self {
        Self {
            me: Some(format!(
                "{} ({})",
                c.principal.name,
                format_roles(&c.principal.roles)
            )),
            is_admin: c.principal.may(Permission::ManageAccounts),
            is_auditor: c.principal.may(Permission::ReadAudit),
            csrf: c.csrf().unwrap_or_default(),
            notice: String::new(),
            error: String::new(),
            t: &T,
        }
    }

    /// The notice a redirect's `done=` code names; unknown codes show none.
    fn notice(mut self, code: Option<&str>) -> Self {
        self.notice = code.and_then(text::notice).unwrap_or_default().to_string();
        self
    }
}

fn html(status: StatusCode, body: std::result::Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(b) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(b),
        Err(e) => {
            tracing::error!(error = %e, "rendering an admin page");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body(T.unrenderable)
        }
    }
}

/// A page, as the answer to a request that succeeded.
fn page(t: &impl Template) -> Result<HttpResponse, PanelError> {
    Ok(html(StatusCode::OK, t.render()))
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

#[derive(Template)]
#[template(path = "admin_error.html")]
struct ErrorPage {
    f: Frame,
    title: String,
    detail: String,
}

/// The panel's one error: an [`Error`] answered as an admin page, with the
/// page chrome of whoever asked. No session sends the browser to log in.
pub struct PanelError(Box<Failed>);

/// What a [`PanelError`] holds: boxed, as handlers pass it around.
struct Failed {
    error: HttpError,
    frame: Frame,
}

impl std::fmt::Debug for PanelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PanelError").field(&self.0.error).finish()
    }
}

impl std::fmt::Display for PanelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.error.fmt(f)
    }
}

impl From<Error> for PanelError {
    fn from(error: Error) -> Self {
        HttpError::Core(error).into()
    }
}

impl From<HttpError> for PanelError {
    fn from(error: HttpError) -> Self {
        Self(Box::new(Failed {
            error,
            frame: Frame::anonymous(),
        }))
    }
}

/// An extractor's rejection (no session, a missing role, a stale form, a
/// body that cannot be read) as the panel's error.
impl From<actix_web::Error> for PanelError {
    fn from(e: actix_web::Error) -> Self {
        let error = match e.as_response_error().status_code() {
            StatusCode::UNAUTHORIZED => Error::Unauthorized(String::new()).into(),
            StatusCode::FORBIDDEN => Error::Forbidden(T.forbidden.into()).into(),
            StatusCode::BAD_REQUEST => Error::BadRequest(e.to_string()).into(),
            StatusCode::PAYLOAD_TOO_LARGE => HttpError::TooLarge(e.to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => HttpError::UnsupportedMediaType(e.to_string()),
            _ => Error::Internal(e.to_string()).into(),
        };
        error.into()
    }
}

impl ResponseError for PanelError {
    fn status_code(&self) -> StatusCode {
        self.0.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let e = match &self.0.error {
            HttpError::Core(e) => e,
            other => {
                return html(
                    self.status_code(),
                    ErrorPage {
                        f: self.0.frame.clone(),
                        title: T.error_not_accepted.into(),
                        detail: other.to_string(),
                    }
                    .render(),
                )
            }
        };
        if matches!(e, Error::Unauthorized(_)) {
            return see_other("/admin/login");
        }
        let title = match e {
            Error::Forbidden(_) => T.error_forbidden,
            Error::NotFound(_) => T.error_not_found,
            Error::Conflict(_) | Error::Stale { .. } | Error::Refused(_) => T.error_not_done,
            Error::BadRequest(_) => T.error_not_accepted,
            Error::LockedOut { .. } => T.error_too_many,
            Error::Database(_) => T.error_unavailable,
            _ => T.error_other,
        };
        let detail = match e {
            Error::Database(e) => super::problem::database_detail(e).to_string(),
            Error::Internal(_) | Error::Io(_) => T.error_internal.to_string(),
            other => other.to_string(),
        };
        html(
            self.status_code(),
            ErrorPage {
                f: self.0.frame.clone(),
                title: title.into(),
                detail,
            }
            .render(),
        )
    }
}

/// Attaches the asker's page chrome to a service error.
trait OnPage<T> {
    fn on(self, f: &Frame) -> Result<T, PanelError>;
}

impl<T, E: Into<HttpError>> OnPage<T> for Result<T, E> {
    fn on(self, f: &Frame) -> Result<T, PanelError> {
        self.map_err(|error| {
            PanelError(Box::new(Failed {
                error: error.into(),
                frame: f.clone(),
            }))
        })
    }
}

/// The extractors' answers as handlers take them: a rejection becomes a
/// [`PanelError`] with `?`.
type Asked<N> = std::result::Result<super::auth::Who<N>, actix_web::Error>;
type Posting<N, F> = std::result::Result<super::auth::WhoPosted<N, F>, actix_web::Error>;

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .body(STYLESHEET)
}

/// A page reached by a redirect that names what was done (`done=`), or
/// what was refused and how (`refused=`, `why=`).
#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
    refused: Option<String>,
    why: Option<String>,
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf_token: String,
}

impl Posted for CsrfOnly {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn is_curator(c: &Caller) -> bool {
    c.principal.has(Role::Curator)
}

/// One field that differs between two versions of an item: "field: old → new".
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// A JSON value as a person reads it: text without quotes, nothing as "—".
fn shown(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(serde_json::Value::String(s)) if s.is_empty() => "—".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The fields that differ between two versions of an item, in the order
/// the item has them; an item added or removed shows every field it holds.
/// Anything that is not an object is one change of the whole value.
fn field_changes(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Vec<FieldChange> {
    use serde_json::{Map, Value};
    fn object<'a>(
        v: Option<&'a Value>,
        empty: &'a Map<String, Value>,
    ) -> Option<&'a Map<String, Value>> {
        match v {
            None | Some(Value::Null) => Some(empty),
            Some(Value::Object(m)) => Some(m),
            Some(_) => None,
        }
    }
    let empty = Map::new();
    match (object(before, &empty), object(after, &empty)) {
        (Some(b), Some(a)) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            keys.into_iter()
                .filter(|k| {
                    let (old, new) = (b.get(*k), a.get(*k));
                    old != new && shown(old) != shown(new)
                })
                .map(|k| FieldChange {
                    field: k.clone(),
                    old: shown(b.get(k)),
                    new: shown(a.get(k)),
                })
                .collect()
        }
        _ => vec![FieldChange {
            field: String::new(),
            old: shown(before),
            new: shown(after),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_changes_name_only_what_changed() {
        let b = json!({"key": "a", "low": 1, "notes": "x", "parent": null});
        let a = json!({"key": "a", "low": 2, "notes": "x", "parent": ""});
        let c = field_changes(Some(&b), Some(&a));
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].field.as_str(), c[0].old.as_str(), c[0].new.as_str()),
            ("low", "1", "2")
        );
        let added = field_changes(None, Some(&a));
        assert!(added
            .iter()
            .any(|f| f.field == "low" && f.old == "—" && f.new == "2"));
        assert!(!added.iter().any(|f| f.field == "parent"));
    }
}
