//! The admin panel under `/admin`: server-rendered pages and plain HTML
//! forms, no scripts. Templates and the stylesheet live in `admin/` and are
//! embedded in the binary. Every page calls the same service functions as
//! the JSON API, through the same role-checking extractors.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::auth::{self, Admin, Caller, Curator, Member, Posted, Reviewer, Who, WhoPosted};
use super::form::Form;
use super::{blocking, State};
use crate::accounts::{format_roles, parse_roles, Permission, Role};
use crate::checks::Outcome;
use crate::error::Error;
use crate::model::{Item, ItemEdit, Table};
use crate::service;
use crate::service::changesets::{
    self as changesets, editable_table, Action, Changeset, ChangesetView, Precondition,
};

const STYLESHEET: &str = include_str!("../../admin/static/admin.css");

/// The panel's routes, declared once: `configure` registers them and
/// [`ROUTES`] lists them, so the role matrix in the tests covers every one.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:ident,)+) => {
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
    GET "/admin/login" => login_page,
    POST "/admin/login" => login,
    POST "/admin/logout" => logout,
    GET "/admin/setup" => setup_page,
    POST "/admin/setup" => setup,
    GET "/admin" => dashboard,
    GET "/admin/review" => review,
    GET "/admin/users" => users,
    POST "/admin/users" => add_user,
    POST "/admin/users/{name}" => change_user,
    GET "/admin/audit" => audit_log,
    POST "/admin/audit/verify" => verify_everything,
    POST "/admin/changesets" => open,
    GET "/admin/changesets/{id}" => changeset,
    GET "/admin/changesets/{id}/edit" => edit_redirect,
    POST "/admin/changesets/{id}/submit" => submit,
    POST "/admin/changesets/{id}/withdraw" => withdraw,
    POST "/admin/changesets/{id}/approve" => approve,
    POST "/admin/changesets/{id}/reject" => reject,
    GET "/admin/changesets/{id}/{table}/{key}" => item,
    POST "/admin/changesets/{id}/{table}/{key}" => save_item,
    POST "/admin/changesets/{id}/import" => import,
    POST "/admin/changesets/{id}/{table}/{key}/delete" => delete_item,
}

/// What every admin page shows around its content.
pub struct Frame {
    pub me: Option<String>,
    pub is_admin: bool,
    pub is_auditor: bool,
    pub csrf: String,
    pub notice: String,
    pub error: String,
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
        }
    }

    fn notice(mut self, code: Option<&str>) -> Self {
        self.notice = match code {
            Some("opened") => "The draft is open. Add or change items below.",
            Some("saved") => "Saved in the draft.",
            Some("removed") => "Removed in the draft.",
            Some("submitted") => "Submitted for review.",
            Some("approved") => "Approved: the next version is published.",
            Some("rejected") => "Rejected.",
            Some("withdrawn") => "Withdrawn.",
            Some("user") => "The account is saved.",
            _ => "",
        }
        .to_string();
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
                .body("the page could not be rendered")
        }
    }
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

/// An error as an admin page; no session sends the browser to log in.
fn error_page(e: &Error, f: Frame) -> HttpResponse {
    if matches!(e, Error::Unauthorized(_)) {
        return see_other("/admin/login");
    }
    let status = e.status_code();
    let title = match e {
        Error::Forbidden(_) => "Not allowed",
        Error::NotFound(_) => "Not found",
        Error::Conflict(_) | Error::Stale { .. } | Error::Refused(_) => "Not done",
        Error::BadRequest(_) => "Not accepted",
        Error::TooManyRequests { .. } => "Too many attempts",
        Error::Database(_) => "Temporarily unavailable",
        _ => "Error",
    };
    let detail = match e {
        Error::Database(e) => super::problem::database_detail(e).to_string(),
        other => other.to_string(),
    };
    html(
        status,
        ErrorPage {
            f,
            title: title.into(),
            detail,
        }
        .render(),
    )
}

/// Turns an extractor's rejection into a page.
fn rejected(e: actix_web::Error) -> HttpResponse {
    let status = e.as_response_error().status_code();
    let err = match status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized(String::new()),
        StatusCode::FORBIDDEN => Error::Forbidden(
            "your account lacks the role this page needs, or the form is stale (reload it)".into(),
        ),
        StatusCode::BAD_REQUEST => Error::BadRequest(e.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge(e.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType(e.to_string()),
        _ => Error::Internal(e.to_string()),
    };
    error_page(&err, Frame::anonymous())
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .body(STYLESHEET)
}

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage {
    f: Frame,
    setup_pending: bool,
    /// The pre-session token: in the form, and in a cookie.
    login_token: String,
}

/// The log-in page with its pre-session token: the cookie's when the
/// browser has one, else a new one, set in the cookie.
fn login_answer(req: &HttpRequest, state: &State, status: StatusCode, f: Frame) -> HttpResponse {
    let held = req
        .cookie(auth::login_cookie_name(state.config.secure_cookies))
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let token = match held {
        Some(t) => t,
        None => match crate::accounts::new_secret() {
            Ok(t) => t,
            Err(e) => return error_page(&e, Frame::anonymous()),
        },
    };
    let mut res = html(
        status,
        LoginPage {
            f,
            setup_pending: state.setup_pending(),
            login_token: token.clone(),
        }
        .render(),
    );
    let _ = res.add_cookie(&auth::login_cookie(state, &token));
    res
}

async fn login_page(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    login_answer(&req, &state, StatusCode::OK, Frame::anonymous())
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    login_token: String,
}

async fn login(
    req: HttpRequest,
    state: web::Data<State>,
    form: Result<Form<LoginForm>, Error>,
) -> HttpResponse {
    let ctx = auth::context(&req, &state);
    let st = state.clone();
    let signed_in = match form.map(Form::into_inner) {
        // Text the policy refuses never reaches the accounts, nor the log.
        Err(e) => Err(e),
        Ok(f) => match auth::same_origin(&req) {
            // A form from another site (log-in CSRF) is refused, and
            // nothing is written.
            Err(e) => Err(e),
            Ok(()) if !auth::login_token_ok(&req, &state, &f.login_token) => {
                Err(Error::Forbidden(
                    "the log-in form is stale or came from another site: reload the page and log in again"
                        .into(),
                ))
            }
            Ok(()) => {
                let LoginForm {
                    username, password, ..
                } = f;
                blocking(move || {
                    service::accounts::login(&st.db, &ctx, &st.limits, &username, &password)
                })
                .await
            }
        },
    };
    match signed_in {
        Ok(opened) => HttpResponse::SeeOther()
            .cookie(auth::session_cookie(&state, &opened.session_id))
            .cookie(auth::login_cookie(&state, ""))
            .insert_header((header::LOCATION, "/admin"))
            .finish(),
        Err(e) => {
            let mut f = Frame::anonymous();
            f.error = super::problem::public_detail(&e);
            login_answer(&req, &state, e.status_code(), f)
        }
    }
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

async fn logout(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<Member, CsrfOnly>, actix_web::Error>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    if let Some(id) = who.caller.session.clone() {
        let st = state.clone();
        let ctx = who.caller.ctx.clone();
        if let Err(e) = blocking(move || service::accounts::logout(&st.db, &ctx, &id)).await {
            return error_page(&e, Frame::anonymous());
        }
    }
    HttpResponse::SeeOther()
        .cookie(auth::session_cookie(&state, ""))
        .insert_header((header::LOCATION, "/admin/login"))
        .finish()
}

#[derive(Template)]
#[template(path = "admin_setup.html")]
struct SetupPage {
    f: Frame,
}

async fn setup_page() -> HttpResponse {
    html(
        StatusCode::OK,
        SetupPage {
            f: Frame::anonymous(),
        }
        .render(),
    )
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    name: String,
    password: String,
}

async fn setup(
    req: HttpRequest,
    state: web::Data<State>,
    form: Result<Form<SetupForm>, Error>,
) -> HttpResponse {
    let form = match form {
        Ok(f) => f.into_inner(),
        Err(e) => return error_page(&e, Frame::anonymous()),
    };
    if !state.take_setup(form.token.trim()) {
        return error_page(
            &Error::Forbidden("the setup token is wrong or already spent".into()),
            Frame::anonymous(),
        );
    }
    let ctx = auth::context(&req, &state);
    let st = state.clone();
    let token = form.token.clone();
    match blocking(move || {
        service::accounts::setup_first_admin(&st.db, &ctx, &form.name, &form.password)
    })
    .await
    {
        Ok(_) => see_other("/admin/login"),
        Err(e) => {
            // The token stays usable when the password was refused.
            if !matches!(e, Error::Conflict(_)) {
                if let Ok(mut s) = state.setup.lock() {
                    *s = Some(crate::accounts::secret_hash(token.trim()));
                }
            }
            error_page(&e, Frame::anonymous())
        }
    }
}

/// One event on the dashboard.
struct EventRow {
    slug: String,
    title: String,
    version: i64,
    status: &'static str,
    open: usize,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct Dashboard {
    f: Frame,
    events: Vec<EventRow>,
    is_curator: bool,
    list_caption: String,
    changesets: Vec<Changeset>,
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

async fn dashboard(
    state: web::Data<State>,
    who: std::result::Result<Who<Member>, actix_web::Error>,
    q: web::Query<Done>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who).notice(q.done.as_deref());
    let st = state.clone();
    let principal = who.principal.clone();
    let loaded = blocking(move || {
        let changesets = service::changesets::list(&st.db, &principal, None, None)?;
        let mut events = Vec::new();
        for slug in service::events(&st.db)? {
            let v = service::version(&st.db, &slug, None)?;
            let report = service::check(&st.db, &slug)?;
            let title = service::dataset(&st.db, &slug)?.event.title;
            events.push(EventRow {
                open: changesets
                    .iter()
                    .filter(|c| c.event == slug && c.state.open())
                    .count(),
                status: report.status.as_str(),
                version: v.number,
                slug,
                title,
            });
        }
        Ok((events, changesets))
    })
    .await;
    match loaded {
        Ok((events, changesets)) => html(
            StatusCode::OK,
            Dashboard {
                is_curator: who.principal.has(Role::Curator),
                f,
                events,
                list_caption: "Every changeset, newest first".into(),
                changesets,
            }
            .render(),
        ),
        Err(e) => error_page(&e, f),
    }
}

#[derive(Template)]
#[template(path = "admin_review.html")]
struct Review {
    f: Frame,
    list_caption: String,
    changesets: Vec<Changeset>,
}

async fn review(
    state: web::Data<State>,
    who: std::result::Result<Who<Member>, actix_web::Error>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who);
    let principal = who.principal.clone();
    match blocking(move || {
        service::changesets::list(
            &state.db,
            &principal,
            None,
            Some(service::changesets::State::Submitted),
        )
    })
    .await
    {
        Ok(changesets) => html(
            StatusCode::OK,
            Review {
                f,
                list_caption: "Submitted changesets".into(),
                changesets,
            }
            .render(),
        ),
        Err(e) => error_page(&e, f),
    }
}

#[derive(Deserialize)]
struct OpenForm {
    csrf_token: String,
    event: String,
    reason: String,
}

impl Posted for OpenForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn open(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<Curator, OpenForm>, actix_web::Error>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    match blocking(move || {
        service::changesets::open(
            &state.db,
            &caller.ctx,
            &caller.principal,
            &form.event,
            &form.reason,
        )
    })
    .await
    {
        Ok(id) => see_other(&format!("/admin/changesets/{id}?done=opened")),
        Err(e) => error_page(&e, f),
    }
}

/// A change as the changeset page shows it.
struct ChangeRow {
    table: &'static str,
    key: String,
    kind: &'static str,
    before: String,
    after: String,
}

/// A check result as the changeset page shows it.
struct CheckRow {
    check: String,
    subject: String,
    outcome: &'static str,
    severity: String,
    message: String,
}

#[derive(Template)]
#[template(path = "admin_changeset.html")]
struct ChangesetPage {
    f: Frame,
    v: ChangesetView,
    changes: Vec<ChangeRow>,
    checks: Vec<CheckRow>,
    open: bool,
    is_curator: bool,
    decisions: Vec<Decision>,
}

/// A decision the changeset page offers.
struct Decision {
    action: &'static str,
    label: &'static str,
    allowed: bool,
    reason: Option<String>,
}

fn pretty(v: &Option<Json>) -> String {
    v.as_ref()
        .and_then(|v| serde_json::to_string_pretty(v).ok())
        .unwrap_or_default()
}

async fn changeset(
    state: web::Data<State>,
    who: std::result::Result<Who<Member>, actix_web::Error>,
    id: web::Path<i64>,
    q: web::Query<Done>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who).notice(q.done.as_deref());
    let id = id.into_inner();
    let p = who.principal.clone();
    let v = match blocking(move || service::changesets::view(&state.db, &p, id)).await {
        Ok(v) => v,
        Err(e) => return error_page(&e, f),
    };
    let changes = v
        .changes
        .iter()
        .map(|c| ChangeRow {
            table: c.table.as_str(),
            key: c.key.clone(),
            kind: c.kind(),
            before: pretty(&c.before),
            after: pretty(&c.after),
        })
        .collect();
    let checks = v
        .checks
        .as_ref()
        .map(|r| {
            r.results
                .iter()
                .filter(|c| c.outcome != Outcome::Holds)
                .map(|c| CheckRow {
                    check: c.check.clone(),
                    subject: c.subject.clone(),
                    outcome: c.outcome.as_str(),
                    severity: c.severity.to_string(),
                    message: c.message.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let p = &who.principal;
    let state = v.changeset.state;
    // The decisions this page offers: those the principal's roles and the
    // changeset's state make relevant; each disabled, with the reason,
    // when it cannot succeed now.
    let decisions = v
        .allowed_actions
        .iter()
        .filter(|a| match a.action {
            Action::Edit => false,
            Action::Submit => p.has(Role::Curator) && state == changesets::State::Draft,
            Action::Withdraw => v.changeset.author == p.person() && state.open(),
            Action::Approve | Action::Reject => {
                p.has(Role::Reviewer) && state == changesets::State::Submitted
            }
        })
        .map(|a| Decision {
            action: a.action.as_str(),
            label: match a.action {
                Action::Submit => "Submit for review",
                Action::Withdraw => "Withdraw",
                Action::Approve => "Approve and publish",
                _ => "Reject",
            },
            allowed: a.allowed,
            reason: a.reason.clone(),
        })
        .collect();
    html(
        StatusCode::OK,
        ChangesetPage {
            open: state.open(),
            is_curator: p.has(Role::Curator),
            decisions,
            f,
            changes,
            checks,
            v,
        }
        .render(),
    )
}

#[derive(Deserialize)]
struct EditQuery {
    table: String,
    key: String,
}

async fn edit_redirect(id: web::Path<i64>, q: web::Query<EditQuery>) -> HttpResponse {
    let key: String = q
        .key
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    match editable_table(&q.table) {
        Ok(t) => see_other(&format!(
            "/admin/changesets/{}/{}/{}",
            id.into_inner(),
            t.as_str(),
            key
        )),
        Err(e) => error_page(&e, Frame::anonymous()),
    }
}

/// A changeset transition posted from its page.
#[derive(Deserialize)]
struct CommentForm {
    csrf_token: String,
    comment: Option<String>,
    /// The changeset's revision the page showed: approval and rejection act
    /// on exactly that revision.
    revision: Option<i64>,
}

impl Posted for CommentForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn transition(
    state: web::Data<State>,
    caller: Caller,
    id: i64,
    form: CommentForm,
    action: Action,
) -> HttpResponse {
    let f = Frame::of(&caller);
    let st = state.clone();
    let done = blocking(move || {
        let (db, ctx, p) = (&st.db, &caller.ctx, &caller.principal);
        let c = form.comment.as_deref();
        let seen = || {
            form.revision.ok_or_else(|| {
                Error::PreconditionRequired(
                    "the form did not say which revision of the changeset you saw; \
                     reload the changeset and decide again"
                        .into(),
                )
            })
        };
        match action {
            Action::Submit => service::changesets::submit(db, ctx, p, id, c).map(|()| "submitted"),
            Action::Withdraw => {
                service::changesets::withdraw(db, ctx, p, id, c).map(|()| "withdrawn")
            }
            Action::Reject => {
                service::changesets::reject(db, ctx, p, id, seen()?, c).map(|()| "rejected")
            }
            _ => st
                .publisher()
                .approve(ctx, p, id, seen()?, c)
                .map(|_| "approved"),
        }
    })
    .await;
    match done {
        Ok(code) => see_other(&format!("/admin/changesets/{id}?done={code}")),
        Err(e) => error_page(&e, f),
    }
}

type Posting<N> = std::result::Result<WhoPosted<N, CommentForm>, actix_web::Error>;

async fn submit(
    state: web::Data<State>,
    who: Posting<Curator>,
    id: web::Path<i64>,
) -> HttpResponse {
    match who {
        Ok(w) => transition(state, w.caller, id.into_inner(), w.form, Action::Submit).await,
        Err(e) => rejected(e),
    }
}

async fn withdraw(
    state: web::Data<State>,
    who: Posting<Curator>,
    id: web::Path<i64>,
) -> HttpResponse {
    match who {
        Ok(w) => transition(state, w.caller, id.into_inner(), w.form, Action::Withdraw).await,
        Err(e) => rejected(e),
    }
}

async fn approve(
    state: web::Data<State>,
    who: Posting<Reviewer>,
    id: web::Path<i64>,
) -> HttpResponse {
    match who {
        Ok(w) => transition(state, w.caller, id.into_inner(), w.form, Action::Approve).await,
        Err(e) => rejected(e),
    }
}

async fn reject(
    state: web::Data<State>,
    who: Posting<Reviewer>,
    id: web::Path<i64>,
) -> HttpResponse {
    match who {
        Ok(w) => transition(state, w.caller, id.into_inner(), w.form, Action::Reject).await,
        Err(e) => rejected(e),
    }
}

/// One field of the item editor.
/// One field of the editor, as the registry describes it
/// ([`crate::model::Kind::FIELDS`]).
struct Field {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    value: String,
    long: bool,
    numeric: bool,
    /// The words of a closed set, for a select; empty for free input.
    choices: &'static [&'static str],
    required: bool,
    readonly: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_item.html")]
struct ItemPage {
    f: Frame,
    id: i64,
    table: &'static str,
    key: String,
    exists: bool,
    etag: String,
    fields: Vec<Field>,
}

fn fields(table: Table, item: Option<&Json>, key: &str, problems: &[String]) -> Vec<Field> {
    use crate::model::Input;
    crate::model::item::fields(table)
        .iter()
        .map(|field| {
            let name = field.name;
            let is_key = field.input == Input::Key;
            let prefix = format!("{name}: ");
            let error = problems
                .iter()
                .filter_map(|p| p.strip_prefix(&prefix))
                .map(str::to_string)
                .reduce(|a, b| format!("{a}; {b}"));
            Field {
                name,
                label: field.label,
                help: field.help,
                value: if is_key {
                    key.to_string()
                } else {
                    crate::model::Field::cell(item.and_then(|i| i.get(name)))
                },
                long: field.input == Input::LongText,
                numeric: matches!(field.input, Input::Number | Input::Percent),
                choices: match field.input {
                    Input::Choice(words) => words,
                    _ => &[],
                },
                required: field.required,
                readonly: is_key,
                error,
            }
        })
        .collect()
}

/// Turns the editor's fields into an item of the table's kind, each field
/// read through the registry; errors are returned per field.
fn item_of(
    table: Table,
    key: &str,
    form: &Map<String, Json>,
) -> std::result::Result<Item, Vec<(String, String)>> {
    let key_field = crate::model::key_field(table);
    let cell = |name: &str| -> &str {
        if name == key_field {
            return key;
        }
        form.get(name).and_then(Json::as_str).map_or("", str::trim)
    };
    let json = crate::model::item::from_cells(table, cell).map_err(|errors| {
        errors
            .into_iter()
            .map(|(field, message)| {
                let message = message
                    .strip_prefix(&format!("{field}: "))
                    .map_or(message.clone(), str::to_string);
                (field.to_string(), message)
            })
            .collect::<Vec<_>>()
    })?;
    Item::parse(table, json).map_err(|e| vec![(key_field.to_string(), e.to_string())])
}

type ItemPath = web::Path<(i64, String, String)>;

async fn item(
    state: web::Data<State>,
    who: std::result::Result<Who<Curator>, actix_web::Error>,
    path: ItemPath,
    q: web::Query<Done>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who).notice(q.done.as_deref());
    let (id, table, key) = path.into_inner();
    let table = match editable_table(&table) {
        Ok(t) => t,
        Err(e) => return error_page(&e, f),
    };
    let k = key.clone();
    let principal = who.principal.clone();
    match blocking(move || service::changesets::item(&state.db, &principal, id, table, &k)).await {
        Ok(v) => html(
            StatusCode::OK,
            ItemPage {
                f,
                id,
                table: table.as_str(),
                exists: v.item.is_some(),
                fields: fields(table, v.item.as_ref(), &key, &v.problems),
                key,
                etag: v.etag,
            }
            .render(),
        ),
        Err(e) => error_page(&e, f),
    }
}

/// The editor's form: the CSRF token, the ETag seen, and the item's fields.
#[derive(Deserialize)]
struct ItemForm {
    csrf_token: String,
    etag: String,
    #[serde(flatten)]
    fields: Map<String, Json>,
}

impl Posted for ItemForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

fn precondition(etag: &str) -> Precondition {
    if etag == "absent" {
        Precondition::Absent
    } else {
        Precondition::Matches(etag.to_string())
    }
}

async fn save_item(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<Curator, ItemForm>, actix_web::Error>,
    path: ItemPath,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let mut f = Frame::of(&who.caller);
    let (id, table_name, key) = path.into_inner();
    let table = match editable_table(&table_name) {
        Ok(t) => t,
        Err(e) => return error_page(&e, f),
    };
    let WhoPosted { caller, form, .. } = who;
    let page = |f: Frame, etag: String, problems: Vec<String>, exists: bool| {
        let item = Json::Object(form.fields.clone());
        html(
            StatusCode::UNPROCESSABLE_ENTITY,
            ItemPage {
                f,
                id,
                table: table.as_str(),
                exists,
                fields: fields(table, Some(&item), &key, &problems),
                key: key.clone(),
                etag,
            }
            .render(),
        )
    };
    let item = match item_of(table, &key, &form.fields) {
        Ok(i) => i,
        Err(errors) => {
            f.error = "Some fields need correcting; nothing was saved.".into();
            let problems = errors.iter().map(|(k, m)| format!("{k}: {m}")).collect();
            return page(f, form.etag.clone(), problems, form.etag != "absent");
        }
    };
    let pre = precondition(&form.etag);
    let st = state.clone();
    let k = key.clone();
    let saved = blocking(move || {
        service::changesets::put_item(
            &st.db,
            &caller.ctx,
            &caller.principal,
            id,
            ItemEdit {
                table,
                key: k,
                item: Some(item),
            },
            &pre,
        )
    })
    .await;
    match saved {
        Ok(_) => see_other(&format!(
            "/admin/changesets/{id}/{}/{key}?done=saved",
            table.as_str()
        )),
        Err(Error::Stale { message, etag, .. }) => {
            f.error = format!(
                "{message}. Your values are kept below; reload the page to see the current item."
            );
            page(f, etag, Vec::new(), true)
        }
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_))) => {
            f.error = format!("Not saved: {e}");
            page(f, form.etag.clone(), Vec::new(), form.etag != "absent")
        }
        Err(e) => error_page(&e, f),
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf_token: String,
    etag: String,
}

impl Posted for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn delete_item(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<Curator, DeleteForm>, actix_web::Error>,
    path: ItemPath,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who.caller);
    let (id, table, key) = path.into_inner();
    let table = match editable_table(&table) {
        Ok(t) => t,
        Err(e) => return error_page(&e, f),
    };
    let WhoPosted { caller, form, .. } = who;
    let pre = precondition(&form.etag);
    match blocking(move || {
        service::changesets::put_item(
            &state.db,
            &caller.ctx,
            &caller.principal,
            id,
            ItemEdit {
                table,
                key,
                item: None,
            },
            &pre,
        )
    })
    .await
    {
        Ok(_) => see_other(&format!("/admin/changesets/{id}?done=removed")),
        Err(e) => error_page(&e, f),
    }
}

/// A user as the accounts page shows them.
struct UserRow {
    name: String,
    roles: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    f: Frame,
    users: Vec<UserRow>,
}

async fn users(
    state: web::Data<State>,
    who: std::result::Result<Who<Admin>, actix_web::Error>,
    q: web::Query<Done>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who).notice(q.done.as_deref());
    let principal = who.principal.clone();
    match blocking(move || service::accounts::users(&state.db, &principal)).await {
        Ok(list) => html(
            StatusCode::OK,
            UsersPage {
                f,
                users: list
                    .into_iter()
                    .map(|u| UserRow {
                        roles: format_roles(&u.roles),
                        name: u.name,
                        disabled: u.disabled,
                    })
                    .collect(),
            }
            .render(),
        ),
        Err(e) => error_page(&e, f),
    }
}

#[derive(Deserialize)]
struct NewUserForm {
    csrf_token: String,
    name: String,
    roles: String,
    password: String,
}

impl Posted for NewUserForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn add_user(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<Admin, NewUserForm>, actix_web::Error>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    let done = blocking(move || {
        let roles = parse_roles(&form.roles).map_err(Error::BadRequest)?;
        service::accounts::add_user(
            &state.db,
            &caller.ctx,
            &caller.principal,
            &form.name,
            &form.password,
            &roles,
        )
    })
    .await;
    match done {
        Ok(_) => see_other("/admin/users?done=user"),
        Err(e) => error_page(&e, f),
    }
}

#[derive(Deserialize)]
struct ChangeUserForm {
    csrf_token: String,
    roles: String,
    disabled: Option<String>,
}

impl Posted for ChangeUserForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn change_user(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<Admin, ChangeUserForm>, actix_web::Error>,
    name: web::Path<String>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    let name = name.into_inner();
    let done = blocking(move || {
        let roles = parse_roles(&form.roles).map_err(Error::BadRequest)?;
        service::accounts::change_user(
            &state.db,
            &caller.ctx,
            &caller.principal,
            &name,
            &service::accounts::AccountChange {
                roles: Some(roles),
                disabled: Some(form.disabled.is_some()),
                password: None,
            },
        )
    })
    .await;
    match done {
        Ok(_) => see_other("/admin/users?done=user"),
        Err(e) => error_page(&e, f),
    }
}

#[derive(Template)]
#[template(path = "admin_import.html")]
struct ImportPage {
    f: Frame,
    id: i64,
    dry_run: bool,
    changes: Vec<ChangeRow>,
}

/// The most a panel upload may hold, all files together.
const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// Reads the upload form: the CSRF token, whether to preview, the files.
async fn read_upload(
    mut form: actix_multipart::Multipart,
) -> Result<(String, bool, Vec<(String, Vec<u8>)>), Error> {
    use futures_util::StreamExt;
    let (mut csrf, mut preview, mut files) = (String::new(), false, Vec::new());
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| Error::BadRequest(format!("the upload is not valid: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        let file = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| Error::BadRequest(format!("the upload is not valid: {e}")))?;
            total += chunk.len();
            if total > UPLOAD_LIMIT {
                return Err(Error::TooLarge(format!(
                    "the upload is larger than {} MiB",
                    UPLOAD_LIMIT / 1024 / 1024
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        match (name.as_str(), file) {
            ("csrf_token", _) => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            ("preview", _) => preview = !bytes.is_empty(),
            ("files", Some(f)) if !f.is_empty() => files.push((f, bytes)),
            _ => {}
        }
    }
    Ok((csrf, preview, files))
}

async fn import(
    req: HttpRequest,
    state: web::Data<State>,
    id: web::Path<i64>,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    let id = id.into_inner();
    // Who and which role first: nobody else's upload is read at all.
    let caller = match auth::authenticate_before_body(&req).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, Frame::anonymous()),
    };
    let f = Frame::of(&caller);
    if let Err(e) = auth::allowed::<Curator>(&caller.principal) {
        return error_page(&e, f);
    }
    let (csrf, dry_run, files) = match read_upload(form).await {
        Ok(x) => x,
        Err(e) => return error_page(&e, f),
    };
    if let Err(e) = auth::check_csrf(&caller, &csrf) {
        return error_page(&e, f);
    }
    let folder = match super::admin_api::folder_of(files) {
        Ok(x) => x,
        Err(e) => return error_page(&e, f),
    };
    let changes = blocking(move || {
        service::changesets::import_into(
            &state.db,
            &caller.ctx,
            &caller.principal,
            id,
            &folder,
            dry_run,
        )
    })
    .await;
    match changes {
        Ok(changes) => html(
            StatusCode::OK,
            ImportPage {
                f,
                id,
                dry_run,
                changes: changes
                    .iter()
                    .map(|c| ChangeRow {
                        table: c.table.as_str(),
                        key: c.key.clone(),
                        kind: c.kind(),
                        before: pretty(&c.before),
                        after: pretty(&c.after),
                    })
                    .collect(),
            }
            .render(),
        ),
        Err(e) => error_page(&e, f),
    }
}

/// One audit entry as the log page shows it.
struct EntryRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    reason: String,
    summary: String,
    before: String,
    after: String,
}

/// The filters as typed, to show them back.
#[derive(Default, Deserialize)]
struct AuditForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    after: Option<i64>,
    before: Option<i64>,
    /// `all` after "verify everything now".
    #[serde(default)]
    verified: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    f: Frame,
    q: AuditForm,
    verification: Option<service::audit::Verified>,
    checkpoint: Option<crate::db::CheckpointRow>,
    entries: Vec<EntryRow>,
    more: bool,
    next: String,
}

/// The fields that differ between two objects, so an entry shows its
/// change, not the whole item; anything else is shown whole.
fn changed_fields(before: &Option<Json>, after: &Option<Json>) -> (Option<Json>, Option<Json>) {
    match (before, after) {
        (Some(Json::Object(b)), Some(Json::Object(a))) => {
            let keys: Vec<&String> = b
                .keys()
                .chain(a.keys())
                .filter(|k| b.get(*k) != a.get(*k))
                .collect();
            let pick = |m: &Map<String, Json>| {
                Json::Object(
                    keys.iter()
                        .map(|k| ((*k).clone(), m.get(*k).cloned().unwrap_or(Json::Null)))
                        .collect(),
                )
            };
            (Some(pick(b)), Some(pick(a)))
        }
        _ => (before.clone(), after.clone()),
    }
}

/// Entries per page of the log.
const PAGE: i64 = 200;

async fn audit_log(
    state: web::Data<State>,
    who: std::result::Result<Who<super::auth::Auditor>, actix_web::Error>,
    q: web::Query<AuditForm>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who);
    let q = q.into_inner();
    let query = super::audit::EntriesQuery {
        actor: Some(q.actor.clone()),
        action: Some(q.action.clone()),
        entity: Some(q.entity.clone()),
        entity_id: Some(q.entity_id.clone()),
        // An empty field of the form is no bound.
        since: Some(q.since.clone()).filter(|s| !s.is_empty()),
        until: Some(q.until.clone()).filter(|s| !s.is_empty()),
        after: q.after,
        before: q.before,
        limit: Some(PAGE),
    };
    let filter = match query.filter() {
        Ok(x) => crate::db::AuditFilter {
            newest_first: true,
            ..x
        },
        Err(e) => return error_page(&e, f),
    };
    // What is new since the last verification; everything on request.
    let verification = match state.audit_key.as_ref().map(|k| k.verifier()) {
        Some(key) => {
            let st = state.clone();
            let now = state.clock.now();
            let principal = who.principal.clone();
            match blocking(move || service::audit::verify_new(&st.db, &principal, &key, now)).await
            {
                Ok(v) => Some(v),
                Err(e) => return error_page(&e, f),
            }
        }
        None => None,
    };
    let st = state.clone();
    let principal = who.principal.clone();
    let loaded = blocking(move || {
        let entries = service::audit::entries(&st.db, &principal, &filter)?;
        let cp = st.db.read(crate::db::latest_checkpoint)?;
        Ok((entries, cp))
    })
    .await;
    let (entries, checkpoint) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&e, f),
    };
    let more = entries.len() as i64 == PAGE;
    // Newest first: the next page is of the entries before the last shown.
    let last = entries.last().map_or(0, |e| e.seq);
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let next = format!(
        "/admin/audit?actor={}&action={}&entity={}&entity_id={}&since={}&until={}&before={last}",
        enc(&q.actor),
        enc(&q.action),
        enc(&q.entity),
        enc(&q.entity_id),
        enc(&q.since),
        enc(&q.until)
    );
    let entries = entries
        .into_iter()
        .map(|e| {
            let (before, after) = changed_fields(&e.before, &e.after);
            (e, before, after)
        })
        .map(|(e, before, after)| EntryRow {
            seq: e.seq,
            before: pretty(&before),
            after: pretty(&after),
            at: e.at,
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            reason: e.reason.unwrap_or_default(),
            summary: e.summary.unwrap_or_default(),
        })
        .collect();
    html(
        StatusCode::OK,
        AuditPage {
            f,
            q,
            verification,
            checkpoint,
            entries,
            more,
            next,
        }
        .render(),
    )
}

/// "Verify everything now": every entry recomputed and every checkpoint
/// checked, recorded, then the log page again.
async fn verify_everything(
    state: web::Data<State>,
    who: std::result::Result<WhoPosted<super::auth::Auditor, CsrfOnly>, actix_web::Error>,
) -> HttpResponse {
    let who = match who {
        Ok(w) => w,
        Err(e) => return rejected(e),
    };
    let f = Frame::of(&who.caller);
    let Some(key) = state.audit_key.as_ref().map(|k| k.verifier()) else {
        return error_page(&Error::NotFound("this server has no audit key".into()), f);
    };
    let st = state.clone();
    let now = state.clock.now();
    let principal = who.caller.principal.clone();
    match blocking(move || service::audit::verify_everything(&st.db, &principal, &key, now)).await {
        Ok(_) => see_other("/admin/audit?verified=all"),
        Err(e) => error_page(&e, f),
    }
}
