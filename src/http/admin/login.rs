//! Log-in, log-out and the first admin.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use super::{html, page, see_other, CsrfOnly, Frame, OnPage, PanelError, Posting, T};
use crate::error::Error;
use crate::http::auth::{self, Member};
use crate::http::form::Form;
use crate::http::problem::HttpError;
use crate::http::{blocking, AppState};
use crate::service;

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage {
    f: Frame,
    /// The database holds no account (asked now, not at start).
    no_accounts: bool,
    setup_pending: bool,
    /// The pre-session token: in the form, and in a cookie.
    login_token: String,
    /// The name typed, kept when the log-in is refused.
    username: String,
}

/// The log-in page with its pre-session token: the cookie's when the
/// browser has one, else a new one, set in the cookie.
async fn login_answer(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    status: StatusCode,
    f: Frame,
    username: String,
) -> Result<HttpResponse, PanelError> {
    let held = req
        .cookie(auth::login_cookie_name(state.config.secure_cookies))
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let token = match held {
        Some(t) => t,
        None => crate::accounts::new_secret()?,
    };
    // Accounts made with the command line after the server started count:
    // the database is asked. When it cannot answer, the page says nothing.
    let st = state.clone();
    let no_accounts = blocking(move || service::accounts::has_users(&st.db))
        .await
        .is_ok_and(|has| !has);
    let mut res = html(
        status,
        LoginPage {
            f,
            no_accounts,
            setup_pending: no_accounts && state.setup_pending(),
            login_token: token.clone(),
            username,
        }
        .render(),
    );
    let _ = res.add_cookie(&auth::login_cookie(state, &token));
    Ok(res)
}

pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PanelError> {
    login_answer(
        &req,
        &state,
        StatusCode::OK,
        Frame::anonymous(),
        String::new(),
    )
    .await
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    login_token: String,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Result<Form<LoginForm>, HttpError>,
) -> Result<HttpResponse, PanelError> {
    let ctx = auth::context(&req, &state);
    let st = state.clone();
    let mut typed = String::new();
    let signed_in = match form.map(Form::into_inner) {
        // Text the policy refuses never reaches the accounts, nor the log;
        // a form too large or of another type is answered on the page too.
        Err(e) => Err(e),
        Ok(f) => match auth::same_origin(&req) {
            // A form from another site (log-in CSRF) is refused, and
            // nothing is written.
            Err(e) => Err(e.into()),
            Ok(()) if !auth::login_token_ok(&req, &state, &f.login_token) => {
                Err(Error::Forbidden(T.login_stale.into()).into())
            }
            Ok(()) => {
                let LoginForm {
                    username, password, ..
                } = f;
                typed.clone_from(&username);
                blocking(move || {
                    service::accounts::login(&st.db, &ctx, &st.limits, &username, &password)
                })
                .await
                .map_err(HttpError::from)
            }
        },
    };
    match signed_in {
        Ok(opened) => Ok(HttpResponse::SeeOther()
            .cookie(auth::session_cookie(&state, &opened.session_id))
            .cookie(auth::login_cookie(&state, ""))
            .insert_header((header::LOCATION, "/admin"))
            .finish()),
        Err(e) => {
            let mut f = Frame::anonymous();
            f.error = match &e {
                HttpError::Core(e) => crate::http::problem::public_detail(e),
                other => other.to_string(),
            };
            login_answer(&req, &state, e.status_code(), f, typed).await
        }
    }
}

pub async fn logout(
    state: web::Data<AppState>,
    who: Posting<Member, CsrfOnly>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    if let Some(id) = who.caller.session.clone() {
        let st = state.clone();
        let ctx = who.caller.ctx.clone();
        blocking(move || service::accounts::logout(&st.db, &ctx, &id)).await?;
    }
    Ok(HttpResponse::SeeOther()
        .cookie(auth::session_cookie(&state, ""))
        .insert_header((header::LOCATION, "/admin/login"))
        .finish())
}

#[derive(Template)]
#[template(path = "admin_setup.html")]
struct SetupPage {
    f: Frame,
}

pub async fn setup_page() -> Result<HttpResponse, PanelError> {
    page(&SetupPage {
        f: Frame::anonymous(),
    })
}

#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    name: String,
    password: String,
}

pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Result<Form<SetupForm>, HttpError>,
) -> Result<HttpResponse, PanelError> {
    let form = form?.into_inner();
    let f = Frame::anonymous();
    if !state.take_setup(form.token.trim()) {
        return Err(Error::Forbidden(T.setup_token_wrong.into())).on(&f);
    }
    let ctx = auth::context(&req, &state);
    let st = state.clone();
    let token = form.token.clone();
    match blocking(move || {
        service::accounts::setup_first_admin(&st.db, &ctx, &form.name, &form.password)
    })
    .await
    {
        Ok(_) => Ok(see_other("/admin/login")),
        Err(e) => {
            // The token stays usable when the password was refused.
            if !matches!(e, Error::Conflict(_)) {
                if let Ok(mut s) = state.setup.lock() {
                    *s = Some(crate::accounts::secret_hash(token.trim()));
                }
            }
            Err(e.into())
        }
    }
}
