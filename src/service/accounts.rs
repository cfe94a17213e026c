//! Accounts, sessions and API tokens, with their audit entries.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Serialize;

use super::{Audit, Context};
use crate::accounts::{
    self, check_password, check_user_name, format_roles, hash_password, parse_roles, secret_hash,
    verify_password, Attempts, LoginLimit, Permission, Principal, PrincipalKind, RefusalTally,
    Reservation, Role, SessionPolicy,
};
use crate::db::{self, Db, LoginAttemptRow, SessionRow, TokenRow, UserRow};
use crate::error::{Error, Result};
use crate::time;

/// A user, as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub name: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

impl UserInfo {
    fn from_row(u: UserRow) -> Result<Self> {
        let what = |field| format!("user '{}': {field}", u.name);
        Ok(Self {
            roles: parse_roles(&u.roles).map_err(Error::Internal)?,
            created_at: time::stored(&what("created_at"), &u.created_at)?,
            updated_at: time::stored(&what("updated_at"), &u.updated_at)?,
            name: u.name,
            disabled: u.disabled,
        })
    }
}

/// An API token, as the API shows it (never the token).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub name: String,
    pub roles: Vec<Role>,
    pub created_by: String,
    #[serde(with = "crate::time::secs::serde")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::secs::opt")]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::secs::opt")]
    #[schema(value_type = Option<String>)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The person the token acts for, if any.
    pub owner: Option<String>,
}

fn roles_required(roles: &[Role]) -> Result<()> {
    if roles.is_empty() {
        return Err(Error::BadRequest(
            "give at least one role: admin, curator, reviewer or auditor".into(),
        ));
    }
    Ok(())
}

/// Account management is for admins (and the operator at the command line).
fn may_manage(who: &Principal) -> Result<()> {
    who.require(Permission::ManageAccounts)
}

/// Adds a user. The password must pass the policy; names are unique
/// without regard to case.
pub fn add_user(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    name: &str,
    password: &str,
    roles: &[Role],
) -> Result<UserInfo> {
    may_manage(who)?;
    check_user_name(name)?;
    roles_required(roles)?;
    check_password(name, password)?;
    let hash = hash_password(password)?;
    db.write(|c| {
        if let Some(u) = db::user(c, name)? {
            return Err(Error::Conflict(if u.name == name {
                format!("there is already a user '{name}'")
            } else {
                format!(
                    "there is already a user '{}'; names must differ in more than case",
                    u.name
                )
            }));
        }
        let at = ctx.at();
        let row = UserRow {
            name: name.to_string(),
            password_hash: hash,
            roles: format_roles(roles),
            disabled: false,
            created_at: time::secs(at),
            updated_at: time::secs(at),
        };
        db::insert_user(c, &row)?;
        let info = UserInfo::from_row(row)?;
        Audit::new("user.add", "user", name)
            .after(serde_json::json!({"name": name, "roles": info.roles, "disabled": false}))
            .write(c, ctx)?;
        Ok(info)
    })
}

/// Creates the first admin with a one-time setup token; refused once any
/// user exists.
pub fn setup_first_admin(db: &Db, ctx: &Context, name: &str, password: &str) -> Result<UserInfo> {
    check_user_name(name)?;
    check_password(name, password)?;
    let hash = hash_password(password)?;
    db.write(|c| {
        if db::user_count(c)? > 0 {
            return Err(Error::Conflict(
                "the first admin exists already; the setup token is spent".into(),
            ));
        }
        let at = ctx.at();
        let row = UserRow {
            name: name.to_string(),
            password_hash: hash,
            roles: format_roles(&[Role::Admin]),
            disabled: false,
            created_at: time::secs(at),
            updated_at: time::secs(at),
        };
        db::insert_user(c, &row)?;
        Audit::new("user.setup", "user", name)
            .after(serde_json::json!({"name": name, "roles": ["admin"], "disabled": false}))
            .summary("the first admin, created with the one-time setup token")
            .write(&mut *c, &ctx.as_actor(format!("user:{name}")))?;
        UserInfo::from_row(row)
    })
}

/// Whether any user exists.
pub fn has_users(db: &Db) -> Result<bool> {
    Ok(db.read(db::user_count)? > 0)
}

/// Every account (admins only).
pub fn users(db: &Db, who: &Principal) -> Result<Vec<UserInfo>> {
    who.require(Permission::ManageAccounts)?;
    db.read(db::users_all)?
        .into_iter()
        .map(UserInfo::from_row)
        .collect()
}

/// One account (admins only).
pub fn user(db: &Db, who: &Principal, name: &str) -> Result<UserInfo> {
    who.require(Permission::ManageAccounts)?;
    db.read(|c| db::user(c, name))?
        .ok_or_else(|| Error::NotFound(format!("no user '{name}'")))
        .and_then(UserInfo::from_row)
}

fn existing(c: &mut db::Conn, name: &str) -> Result<UserRow> {
    db::user(c, name)?.ok_or_else(|| Error::NotFound(format!("no user '{name}'")))
}

/// What to change about an account; what is `None` stays.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub password: Option<String>,
    pub roles: Option<Vec<Role>>,
    pub disabled: Option<bool>,
}

/// Changes an account in one transaction: every part is checked before
/// anything is written, and either all of it is stored, with its audit
/// entries, or none. Refused when it would leave no enabled admin.
pub fn change_user(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    name: &str,
    change: &AccountChange,
) -> Result<UserInfo> {
    may_manage(who)?;
    if let Some(roles) = &change.roles {
        roles_required(roles)?;
    }
    let hash = match &change.password {
        Some(p) => {
            check_password(name, p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    db.write(|c| change_user_in(c, ctx, name, change, hash.as_deref()))
}

/// [`change_user`] inside the caller's transaction, the password hashed.
fn change_user_in(
    c: &mut db::Conn,
    ctx: &Context,
    name: &str,
    change: &AccountChange,
    hash: Option<&str>,
) -> Result<UserInfo> {
    let mut u = existing(c, name)?;
    let name = u.name.clone();
    let at = time::secs(ctx.at());
    let before_roles = parse_roles(&u.roles).map_err(Error::Internal)?;
    let roles = change.roles.clone().unwrap_or_else(|| before_roles.clone());
    let disabled = change.disabled.unwrap_or(u.disabled);
    let removes_admin = before_roles.contains(&Role::Admin)
        && !u.disabled
        && (!roles.contains(&Role::Admin) || disabled);
    if removes_admin && enabled_admins(c)?.iter().all(|a| *a == name) {
        return Err(Error::Conflict(format!(
            "'{name}' is the last enabled admin: the change would leave no one to manage \
             accounts. Make another admin first (an operator can with \
             `vigil user add NAME --role admin`)"
        )));
    }
    if let Some(hash) = hash {
        db::set_user_password(c, &name, hash, &at)?;
        let ended = db::delete_sessions_of(c, &name)?;
        Audit::new("user.password_reset", "user", &name)
            .summary(format!("password changed; {ended} session(s) ended"))
            .write(c, ctx)?;
    }
    if change.roles.is_some() && roles != before_roles {
        let stored = format_roles(&roles);
        db::set_user_roles(c, &name, &stored, &at)?;
        Audit::new("user.roles", "user", &name)
            .before(serde_json::json!({"roles": before_roles}))
            .after(serde_json::json!({"roles": parse_roles(&stored).map_err(Error::Internal)?}))
            .write(c, ctx)?;
        u.roles = stored;
    }
    if disabled != u.disabled {
        db::set_user_disabled(c, &name, disabled, &at)?;
        let (action, summary) = if disabled {
            let ended = db::delete_sessions_of(c, &name)?;
            let revoked = revoke_tokens_of(c, ctx, &name)?;
            (
                "user.disable",
                format!("{ended} session(s) ended, {revoked} token(s) revoked"),
            )
        } else {
            ("user.enable", "the account may log in again".to_string())
        };
        Audit::new(action, "user", &name)
            .before(serde_json::json!({"disabled": u.disabled}))
            .after(serde_json::json!({"disabled": disabled}))
            .summary(summary)
            .write(c, ctx)?;
        u.disabled = disabled;
    }
    u.updated_at = at;
    UserInfo::from_row(u)
}

/// The names of the enabled admins.
fn enabled_admins(c: &mut db::Conn) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for u in db::users_all(c)? {
        if !u.disabled
            && parse_roles(&u.roles)
                .map_err(Error::Internal)?
                .contains(&Role::Admin)
        {
            out.push(u.name);
        }
    }
    Ok(out)
}

/// Revokes every live token `owner` owns, each with its audit entry.
fn revoke_tokens_of(c: &mut db::Conn, ctx: &Context, owner: &str) -> Result<usize> {
    let tokens = db::live_tokens_of(c, owner)?;
    for t in &tokens {
        db::revoke_token(c, &t.name, &time::secs(ctx.at()))?;
        Audit::new("token.revoke", "token", &t.name)
            .reason(&format!("its owner '{owner}' was disabled"))
            .write(c, ctx)?;
    }
    Ok(tokens.len())
}

/// Disables or re-enables a user; disabling ends all their sessions and
/// revokes the tokens they own.
pub fn set_disabled(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    name: &str,
    disabled: bool,
) -> Result<UserInfo> {
    change_user(
        db,
        ctx,
        who,
        name,
        &AccountChange {
            disabled: Some(disabled),
            ..AccountChange::default()
        },
    )
}

/// Sets a user's roles.
pub fn set_roles(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    name: &str,
    roles: &[Role],
) -> Result<UserInfo> {
    change_user(
        db,
        ctx,
        who,
        name,
        &AccountChange {
            roles: Some(roles.to_vec()),
            ..AccountChange::default()
        },
    )
}

/// Sets a new password and ends the user's sessions.
pub fn reset_password(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    name: &str,
    password: &str,
) -> Result<()> {
    change_user(
        db,
        ctx,
        who,
        name,
        &AccountChange {
            password: Some(password.to_string()),
            ..AccountChange::default()
        },
    )
    .map(|_| ())
}

/// The two limits a log-in goes through. The attempts are counted in the
/// database, so every replica on it (and every request in one) counts
/// against the same numbers.
pub struct LoginLimits {
    /// Per account name, without regard to case.
    pub per_account: LoginLimit,
    /// Per client address.
    pub per_address: LoginLimit,
    /// Log-ins refused while locked out, tallied for the audit log (per
    /// replica: it only thins out the entries).
    pub refused: RefusalTally,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: LoginLimit::new(5, Duration::minutes(15), Duration::minutes(15)),
            per_address: LoginLimit::new(20, Duration::minutes(15), Duration::minutes(15)),
            refused: RefusalTally::default(),
        }
    }
}

/// The scopes the attempts are counted in, as stored.
const ACCOUNT: &str = "account";
const ADDRESS: &str = "address";

fn attempts_from(row: Option<LoginAttemptRow>) -> Result<Option<Attempts>> {
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Attempts {
        count: u32::try_from(r.count.max(0)).unwrap_or(u32::MAX),
        window_start: time::stored(
            &format!("log-in attempts ({} {}): window_start", r.scope, r.key),
            &r.window_start,
        )?,
        locked_until: r
            .locked_until
            .as_deref()
            .map(|s| {
                time::stored(
                    &format!("log-in attempts ({} {}): locked_until", r.scope, r.key),
                    s,
                )
            })
            .transpose()?,
    }))
}

fn attempts_row(limit: &LoginLimit, scope: &str, key: &str, a: &Attempts) -> LoginAttemptRow {
    LoginAttemptRow {
        scope: scope.to_string(),
        key: key.to_string(),
        count: i64::from(a.count),
        window_start: time::secs(a.window_start),
        locked_until: a.locked_until.map(time::secs),
        expires_at: time::secs(limit.expires(a)),
    }
}

/// An attempt that may check its password: whether it was the last the
/// account name and the address allow, and what the address counted.
struct Granted {
    account_last: bool,
    address: Attempts,
    address_last: bool,
}

/// Counts a log-in attempt for the account name and the address, before
/// its password is checked: in one write transaction (writers are
/// serialised, see [`Db::write`]), so that attempts made at once, in this
/// replica or another, are counted one after another. Both are counted or
/// neither; `Err(retry_after)` when either refuses. Rows past their time are
/// deleted on the way.
fn reserve(
    db: &Db,
    limits: &LoginLimits,
    account_key: &str,
    address_key: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Granted, i64>> {
    // A look first, without the writers' lock: a key that is locked out
    // (an attack, most likely) is refused without queueing for it.
    let seen = db.read(|c| {
        Ok((
            db::login_attempts(c, ACCOUNT, account_key)?,
            db::login_attempts(c, ADDRESS, address_key)?,
        ))
    })?;
    for (limit, row) in [(&limits.per_account, seen.0), (&limits.per_address, seen.1)] {
        if let Reservation::Refused { retry_after } = limit.reserve(attempts_from(row)?, now) {
            return Ok(Err(retry_after));
        }
    }
    db.write(|c| {
        db::delete_expired_login_attempts(c, &time::secs(now))?;
        let account = attempts_from(db::login_attempts_to_change(c, ACCOUNT, account_key)?)?;
        let address = attempts_from(db::login_attempts_to_change(c, ADDRESS, address_key)?)?;
        let (account, account_last) = match limits.per_account.reserve(account, now) {
            Reservation::Granted { attempts, last } => (attempts, last),
            Reservation::Refused { retry_after } => return Ok(Err(retry_after)),
        };
        let (address, address_last) = match limits.per_address.reserve(address, now) {
            Reservation::Granted { attempts, last } => (attempts, last),
            Reservation::Refused { retry_after } => return Ok(Err(retry_after)),
        };
        db::put_login_attempts(
            c,
            &attempts_row(&limits.per_account, ACCOUNT, account_key, &account),
        )?;
        db::put_login_attempts(
            c,
            &attempts_row(&limits.per_address, ADDRESS, address_key, &address),
        )?;
        Ok(Ok(Granted {
            account_last,
            address,
            address_last,
        }))
    })
}

/// A session just opened: the id for the cookie (shown once, stored
/// hashed), the CSRF token, and who it is.
#[derive(Debug, Clone)]
pub struct Opened {
    pub session_id: String,
    pub csrf_token: String,
    pub principal: Principal,
}

/// Logs in. Unknown users and wrong passwords get the same answer after the
/// same work; too many attempts lock the account name and the address out
/// for a while. Each attempt is counted before its password is checked, in
/// the database that every replica shares; a success clears the account's
/// count and takes its attempt back from the address's. Failures and
/// lockouts go into the audit log.
pub fn login(
    db: &Db,
    ctx: &Context,
    limits: &LoginLimits,
    name: &str,
    password: &str,
) -> Result<Opened> {
    // Stored times are whole seconds; the rule reckons in them too.
    let now = ctx.now.trunc_subsecs(0);
    let account_key = name.to_lowercase();
    let address_key = ctx.client.clone().unwrap_or_default();
    let granted = match reserve(db, limits, &account_key, &address_key, now)? {
        Ok(g) => g,
        Err(retry_after) => {
            if let Some(count) = limits.refused.refuse(&account_key, &address_key, now) {
                let anonymous = ctx.as_actor("anonymous".into());
                db.write(|c| {
                    Audit::new("session.login_refused", "user", account_key.clone())
                        .after(serde_json::json!({"address": address_key, "count": count}))
                        .summary(format!(
                            "{count} log-in(s) refused during a lockout since the last such entry"
                        ))
                        .write(c, &anonymous)?;
                    Ok(())
                })?;
            }
            return Err(Error::LockedOut { retry_after });
        }
    };
    let user = db.read(|c| db::user(c, name))?;
    let ok = verify_password(user.as_ref().map(|u| u.password_hash.as_str()), password);
    let user = user.filter(|u| ok && !u.disabled);
    let anonymous = ctx.as_actor("anonymous".into());
    let Some(user) = user else {
        db.write(|c| {
            Audit::new("session.login_failed", "user", name)
                .summary("wrong user name or password, or the account is disabled")
                .write(c, &anonymous)?;
            if granted.account_last {
                Audit::new("session.lockout", "user", name)
                    .summary("too many failed log-ins for this account name")
                    .write(c, &anonymous)?;
            }
            if granted.address_last {
                Audit::new("session.lockout", "address", address_key.clone())
                    .summary("too many failed log-ins from this address")
                    .write(c, &anonymous)?;
            }
            Ok(())
        })?;
        return Err(Error::Unauthorized("wrong user name or password".into()));
    };
    let principal = Principal::user(
        &user.name,
        &parse_roles(&user.roles).map_err(Error::Internal)?,
    );
    let session_id = accounts::new_secret()?;
    let at = ctx.at();
    let as_user = ctx.as_actor(principal.actor());
    db.write(|c| {
        db::delete_login_attempts(c, ACCOUNT, &account_key)?;
        if let Some(current) =
            attempts_from(db::login_attempts_to_change(c, ADDRESS, &address_key)?)?
        {
            let after = limits.per_address.refund(&granted.address, current);
            db::put_login_attempts(
                c,
                &attempts_row(&limits.per_address, ADDRESS, &address_key, &after),
            )?;
        }
        db::insert_session(
            c,
            &SessionRow {
                id_hash: secret_hash(&session_id),
                user_name: user.name.clone(),
                created_at: time::secs(at),
                last_seen_at: time::secs(at),
            },
        )?;
        Audit::new("session.login", "user", &user.name).write(c, &as_user)?;
        Ok(())
    })?;
    Ok(Opened {
        csrf_token: accounts::csrf_token(&session_id),
        session_id,
        principal,
    })
}

/// The person a session id belongs to, if the session is alive; touches it.
/// A session past its idle or absolute limit is deleted.
pub fn session_principal(
    db: &Db,
    policy: &SessionPolicy,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Principal> {
    let hash = secret_hash(session_id);
    let found = db.read(|c| {
        let Some(s) = db::session(c, &hash)? else {
            return Ok(None);
        };
        let u = db::user(c, &s.user_name)?;
        Ok(Some((s, u)))
    })?;
    let Some((s, user)) = found else {
        return Err(Error::Unauthorized(
            "the session has ended or never existed; log in".into(),
        ));
    };
    let what = |field| format!("a session of '{}': {field}", s.user_name);
    let created = time::stored(&what("created_at"), &s.created_at)?;
    let last = time::stored(&what("last_seen_at"), &s.last_seen_at)?;
    let ended = policy.ended(created, last, now);
    let user = user.filter(|u| !u.disabled);
    if ended.is_some() || user.is_none() {
        let mut c = db.conn()?;
        db::delete_session(&mut c, &hash)?;
        return Err(Error::Unauthorized(
            ended.unwrap_or("the account is disabled").to_string(),
        ));
    }
    let Some(user) = user else {
        return Err(Error::Unauthorized("the account is disabled".into()));
    };
    // Touched at most every tenth of the idle time (and every minute), so
    // an active session never ends early by more than that.
    if now - last >= (policy.idle / 10).min(Duration::seconds(60)) {
        let mut c = db.conn()?;
        db::touch_session(&mut c, &hash, &time::secs(now))?;
    }
    Ok(Principal::user(
        &user.name,
        &parse_roles(&user.roles).map_err(Error::Internal)?,
    ))
}

/// Logs out: the session is deleted on the server.
pub fn logout(db: &Db, ctx: &Context, session_id: &str) -> Result<()> {
    let hash = secret_hash(session_id);
    db.write(|c| {
        let Some(s) = db::session(c, &hash)? else {
            return Ok(());
        };
        db::delete_session(c, &hash)?;
        Audit::new("session.logout", "user", &s.user_name).write(c, ctx)?;
        Ok(())
    })
}

/// Creates an API token; the token is returned once and stored hashed.
/// It acts for `owner` — by default the person creating it — whose edits
/// and approvals its use counts as, and is revoked when they are disabled.
/// At the command line a token may have no owner; it then counts as a
/// person of its own.
pub fn create_token(
    db: &Db,
    ctx: &Context,
    who: &Principal,
    name: &str,
    roles: &[Role],
    owner: Option<&str>,
) -> Result<(TokenInfo, String)> {
    may_manage(who)?;
    check_user_name(name)?;
    roles_required(roles)?;
    let secret = format!("vigil_{}", accounts::new_secret()?);
    db.write(|c| {
        if db::token(c, name)?.is_some() {
            return Err(Error::Conflict(format!(
                "there is already a token '{name}'"
            )));
        }
        let owner = match (owner, who.kind, &who.owner) {
            (Some(o), _, _) => {
                check_user_name(o)?;
                Some(existing(c, o)?.name)
            }
            (None, PrincipalKind::User, _) => Some(who.name.clone()),
            (None, PrincipalKind::Token, owner) => owner.clone(),
            (None, PrincipalKind::Operator, _) => None,
        };
        if let Some(o) = &owner {
            if existing(c, o)?.disabled {
                return Err(Error::Conflict(format!(
                    "'{o}' is disabled: a token cannot act for them"
                )));
            }
        }
        let row = TokenRow {
            name: name.to_string(),
            token_hash: secret_hash(&secret),
            roles: format_roles(roles),
            created_by: ctx.actor.clone(),
            created_at: time::secs(ctx.at()),
            revoked_at: None,
            last_used_at: None,
            owner: owner.clone(),
        };
        db::insert_token(c, &row)?;
        Audit::new("token.create", "token", name)
            .after(serde_json::json!({"name": name, "roles": roles, "owner": owner}))
            .write(c, ctx)?;
        Ok((token_info(row)?, secret.clone()))
    })
}

fn token_info(t: TokenRow) -> Result<TokenInfo> {
    let what = |field| format!("token '{}': {field}", t.name);
    Ok(TokenInfo {
        roles: parse_roles(&t.roles).map_err(Error::Internal)?,
        created_at: time::stored(&what("created_at"), &t.created_at)?,
        revoked_at: time::stored_opt(&what("revoked_at"), t.revoked_at.as_deref())?,
        last_used_at: time::stored_opt(&what("last_used_at"), t.last_used_at.as_deref())?,
        name: t.name,
        created_by: t.created_by,
        owner: t.owner,
    })
}

pub fn tokens(db: &Db, who: &Principal) -> Result<Vec<TokenInfo>> {
    may_manage(who)?;
    db.read(db::tokens_all)?
        .into_iter()
        .map(token_info)
        .collect()
}

/// Revokes a token; it stops working at once.
pub fn revoke_token(db: &Db, ctx: &Context, who: &Principal, name: &str) -> Result<()> {
    may_manage(who)?;
    db.write(|c| {
        let t = db::token(c, name)?.ok_or_else(|| Error::NotFound(format!("no token '{name}'")))?;
        if t.revoked_at.is_some() {
            return Ok(());
        }
        db::revoke_token(c, name, &time::secs(ctx.at()))?;
        Audit::new("token.revoke", "token", name).write(c, ctx)?;
        Ok(())
    })
}

/// Who a bearer token acts as. Its use is written to the audit log the
/// first time and then at most once an hour.
pub fn token_principal(db: &Db, ctx: &Context, secret: &str) -> Result<Principal> {
    let hash = secret_hash(secret);
    let t = db
        .read(|c| db::token_by_hash(c, &hash))?
        .filter(|t| t.revoked_at.is_none())
        .ok_or_else(|| Error::Unauthorized("the token is unknown or revoked".into()))?;
    let due = match &t.last_used_at {
        None => true,
        Some(s) => {
            ctx.now - time::stored(&format!("token '{}': last_used_at", t.name), s)?
                >= Duration::hours(1)
        }
    };
    // A token acts for its owner: never once they are disabled (disabling
    // revokes it; this holds even for a token restored from an archive).
    if let Some(owner) = &t.owner {
        let alive = db
            .read(|c| db::user(c, owner))?
            .is_some_and(|u| !u.disabled);
        if !alive {
            return Err(Error::Unauthorized(
                "the token's owner is disabled or gone; the token no longer works".into(),
            ));
        }
    }
    let principal = Principal::token(
        &t.name,
        &parse_roles(&t.roles).map_err(Error::Internal)?,
        t.owner.as_deref(),
    );
    if due {
        let as_token = ctx.as_actor(principal.actor());
        db.write(|c| {
            db::touch_token(c, &t.name, &time::secs(ctx.at()))?;
            Audit::new("token.use", "token", &t.name).write(c, &as_token)?;
            Ok(())
        })?;
    }
    Ok(principal)
}
