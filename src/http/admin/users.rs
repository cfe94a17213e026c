//! Accounts and API tokens, for admins: roles as checkboxes; a refusal
//! answers on the accounts page, at the form that was sent, with what was
//! typed kept (never a password); a new token is shown once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;

use super::{html, see_other, Asked, Done, Frame, OnPage, PanelError, Posting, T};
use crate::accounts::{format_roles, parse_roles, Role};
use crate::error::Error;
use crate::http::auth::{Admin, Caller, Posted, WhoPosted};
use crate::http::{blocking, AppState};
use crate::service;
use crate::service::accounts::{TokenInfo, UserInfo};

/// The roles, in the order the checkboxes show them.
pub const ROLES: [Role; 4] = [Role::Admin, Role::Curator, Role::Reviewer, Role::Auditor];

/// One role checkbox.
pub struct RoleBox {
    pub role: &'static str,
    pub checked: bool,
}

fn boxes(roles: &[Role]) -> Vec<RoleBox> {
    ROLES
        .iter()
        .map(|r| RoleBox {
            role: r.as_str(),
            checked: roles.contains(r),
        })
        .collect()
}

/// A user as the accounts page shows them, with the form to change them.
pub struct UserRow {
    pub name: String,
    pub roles: String,
    pub boxes: Vec<RoleBox>,
    pub disabled: bool,
    /// Why the last change of this account was refused.
    pub error: Option<String>,
    /// Why the last password reset of this account was refused.
    pub password_error: Option<String>,
}

/// The add-account form as typed, and its errors by field.
#[derive(Default)]
pub struct NewUser {
    pub name: String,
    pub boxes: Vec<RoleBox>,
    pub name_error: Option<String>,
    pub roles_error: Option<String>,
    pub password_error: Option<String>,
}

/// The new-token form as typed, its errors, and a token just made.
#[derive(Default)]
pub struct NewToken {
    pub name: String,
    pub owner: String,
    pub boxes: Vec<RoleBox>,
    pub error: Option<String>,
    /// The secret of the token just made: shown this once.
    pub secret: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    f: Frame,
    users: Vec<UserRow>,
    new: NewUser,
    tokens: Vec<TokenInfo>,
    token: NewToken,
}

async fn load(
    state: &web::Data<AppState>,
    caller: &Caller,
) -> Result<(Vec<UserInfo>, Vec<TokenInfo>), Error> {
    let st = state.clone();
    let p = caller.principal.clone();
    blocking(move || {
        Ok((
            service::accounts::users(&st.db, &p)?,
            service::accounts::tokens(&st.db, &p)?,
        ))
    })
    .await
}

fn rows(users: Vec<UserInfo>) -> Vec<UserRow> {
    users
        .into_iter()
        .map(|u| UserRow {
            roles: format_roles(&u.roles),
            boxes: boxes(&u.roles),
            name: u.name,
            disabled: u.disabled,
            error: None,
            password_error: None,
        })
        .collect()
}

/// The accounts page, with `edit` applied to what it shows (a form kept
/// as typed, an error at its field), answered with `status`.
async fn answer(
    state: &web::Data<AppState>,
    caller: &Caller,
    f: Frame,
    status: StatusCode,
    edit: impl FnOnce(&mut Vec<UserRow>, &mut NewUser, &mut NewToken),
) -> Result<HttpResponse, PanelError> {
    let (users, tokens) = load(state, caller).await.on(&f)?;
    let mut users = rows(users);
    let mut new = NewUser {
        boxes: boxes(&[]),
        ..NewUser::default()
    };
    let mut token = NewToken {
        boxes: boxes(&[]),
        owner: caller.principal.name.clone(),
        ..NewToken::default()
    };
    edit(&mut users, &mut new, &mut token);
    Ok(html(
        status,
        UsersPage {
            f,
            users,
            new,
            tokens,
            token,
        }
        .render(),
    ))
}

pub async fn users(
    state: web::Data<AppState>,
    who: Asked<Admin>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who).notice(q.done.as_deref());
    answer(&state, &who, f, StatusCode::OK, |_, _, _| {}).await
}

/// The roles a form names: its checkboxes, and a `roles` field of words
/// (admin, curator, reviewer, auditor) for forms written by hand.
#[derive(Deserialize, Default)]
pub struct Roles {
    #[serde(default)]
    roles: String,
    role_admin: Option<String>,
    role_curator: Option<String>,
    role_reviewer: Option<String>,
    role_auditor: Option<String>,
}

impl Roles {
    fn read(&self) -> Result<Vec<Role>, Error> {
        let mut roles = parse_roles(&self.roles).map_err(Error::BadRequest)?;
        for (set, role) in [
            (&self.role_admin, Role::Admin),
            (&self.role_curator, Role::Curator),
            (&self.role_reviewer, Role::Reviewer),
            (&self.role_auditor, Role::Auditor),
        ] {
            if set.is_some() {
                roles.push(role);
            }
        }
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// The boxes as they were sent, whatever was refused.
    fn boxes(&self) -> Vec<RoleBox> {
        boxes(&self.read().unwrap_or_default())
    }
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf_token: String,
    name: String,
    password: String,
    #[serde(flatten)]
    roles: Roles,
}

impl Posted for NewUserForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Which field of the account forms an error is about.
fn field_of(e: &Error) -> &'static str {
    let m = e.to_string().to_lowercase();
    if m.contains("password") {
        "password"
    } else if m.contains("role") || m.contains("admin") {
        "roles"
    } else {
        "name"
    }
}

pub async fn add_user(
    state: web::Data<AppState>,
    who: Posting<Admin, NewUserForm>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    let st = state.clone();
    let (ctx, p) = (caller.ctx.clone(), caller.principal.clone());
    let (name, password) = (form.name.clone(), form.password.clone());
    let roles = form.roles.read();
    let done =
        blocking(move || service::accounts::add_user(&st.db, &ctx, &p, &name, &password, &roles?))
            .await;
    match done {
        Ok(_) => Ok(see_other("/admin/users?done=user")),
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_))) => {
            let mut f = f;
            f.error = T.account_not_added.into();
            let status = e.status_code();
            answer(&state, &caller, f, status, |_, new, _| {
                new.name.clone_from(&form.name);
                new.boxes = form.roles.boxes();
                let why = Some(e.to_string());
                match field_of(&e) {
                    "password" => new.password_error = why,
                    "roles" => new.roles_error = why,
                    _ => new.name_error = why,
                }
            })
            .await
        }
        Err(e) => Err(e).on(&f),
    }
}

#[derive(Deserialize)]
pub struct ChangeUserForm {
    csrf_token: String,
    disabled: Option<String>,
    #[serde(flatten)]
    roles: Roles,
}

impl Posted for ChangeUserForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

pub async fn change_user(
    state: web::Data<AppState>,
    who: Posting<Admin, ChangeUserForm>,
    name: web::Path<String>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    let name = name.into_inner();
    let st = state.clone();
    let (ctx, p, n) = (caller.ctx.clone(), caller.principal.clone(), name.clone());
    let roles = form.roles.read();
    let disabled = form.disabled.is_some();
    let done = blocking(move || {
        service::accounts::change_user(
            &st.db,
            &ctx,
            &p,
            &n,
            &service::accounts::AccountChange {
                roles: Some(roles?),
                disabled: Some(disabled),
                password: None,
            },
        )
    })
    .await;
    match done {
        Ok(_) => Ok(see_other("/admin/users?done=user")),
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_))) => {
            let mut f = f;
            f.error = format!("{} {name}: {e}", T.account_not_changed);
            let status = e.status_code();
            answer(&state, &caller, f, status, |users, _, _| {
                if let Some(u) = users.iter_mut().find(|u| u.name == name) {
                    u.boxes = form.roles.boxes();
                    u.disabled = disabled;
                    u.error = Some(e.to_string());
                }
            })
            .await
        }
        Err(e) => Err(e).on(&f),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: String,
    password: String,
}

impl Posted for PasswordForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

pub async fn reset_password(
    state: web::Data<AppState>,
    who: Posting<Admin, PasswordForm>,
    name: web::Path<String>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    let name = name.into_inner();
    let st = state.clone();
    let (ctx, p, n) = (caller.ctx.clone(), caller.principal.clone(), name.clone());
    let done =
        blocking(move || service::accounts::reset_password(&st.db, &ctx, &p, &n, &form.password))
            .await;
    match done {
        Ok(()) => Ok(see_other("/admin/users?done=password")),
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_))) => {
            let mut f = f;
            f.error = format!("{} {name}: {e}", T.password_not_set);
            let status = e.status_code();
            answer(&state, &caller, f, status, |users, _, _| {
                if let Some(u) = users.iter_mut().find(|u| u.name == name) {
                    u.password_error = Some(e.to_string());
                }
            })
            .await
        }
        Err(e) => Err(e).on(&f),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf_token: String,
    name: String,
    #[serde(default)]
    owner: String,
    #[serde(flatten)]
    roles: Roles,
}

impl Posted for TokenForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Makes an API token and shows its secret on the answer, this once: it
/// is stored only as a hash.
pub async fn create_token(
    state: web::Data<AppState>,
    who: Posting<Admin, TokenForm>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let mut f = Frame::of(&who.caller);
    let WhoPosted { caller, form, .. } = who;
    let st = state.clone();
    let (ctx, p) = (caller.ctx.clone(), caller.principal.clone());
    let (name, owner) = (form.name.trim().to_string(), form.owner.trim().to_string());
    let roles = form.roles.read();
    let made = blocking(move || {
        let owner = Some(owner.as_str()).filter(|o| !o.is_empty());
        service::accounts::create_token(&st.db, &ctx, &p, &name, &roles?, owner)
    })
    .await;
    match made {
        Ok((info, secret)) => {
            f.notice = format!("{} {}", T.token_made, info.name);
            answer(&state, &caller, f, StatusCode::OK, |_, _, t| {
                t.secret = Some(secret);
            })
            .await
        }
        Err(e @ (Error::BadRequest(_) | Error::Conflict(_) | Error::NotFound(_))) => {
            f.error = T.token_not_made.into();
            let status = e.status_code();
            answer(&state, &caller, f, status, |_, _, t| {
                t.name.clone_from(&form.name);
                t.owner.clone_from(&form.owner);
                t.boxes = form.roles.boxes();
                t.error = Some(e.to_string());
            })
            .await
        }
        Err(e) => Err(e).on(&f),
    }
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    who: Posting<Admin, super::CsrfOnly>,
    name: web::Path<String>,
) -> Result<HttpResponse, PanelError> {
    let who = who?;
    let f = Frame::of(&who.caller);
    let WhoPosted { caller, .. } = who;
    let name = name.into_inner();
    blocking(move || {
        service::accounts::revoke_token(&state.db, &caller.ctx, &caller.principal, &name)
    })
    .await
    .on(&f)?;
    Ok(see_other("/admin/users?done=revoked"))
}
