//! Users, sessions, API tokens and log-in attempts as stored. Secrets are
//! stored hashed; the callers hash them before they get here.

use diesel::prelude::*;

use super::schema::{api_tokens, login_attempts, sessions, users};
use super::Conn;
use crate::error::Result;

/// A user as stored.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Queryable,
    Selectable,
    Insertable,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct UserRow {
    pub name: String,
    pub password_hash: String,
    pub roles: String,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_name: String,
    pub created_at: String,
    pub last_seen_at: String,
}

/// An API token as stored.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Queryable,
    Selectable,
    Insertable,
    serde::Serialize,
    serde::Deserialize,
)]
#[diesel(table_name = api_tokens, treat_none_as_default_value = false)]
#[serde(deny_unknown_fields)]
pub struct TokenRow {
    pub name: String,
    pub token_hash: String,
    pub roles: String,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    /// The person the token acts for.
    #[serde(default)]
    pub owner: Option<String>,
}

pub fn user_count(c: &mut Conn) -> Result<i64> {
    Ok(users::table.count().get_result(c)?)
}

diesel::define_sql_function! {
    /// SQL's `lower`, on both backends (user names are ASCII).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The user whose name is `name` without regard to case: names are unique
/// that way, so "Alice" and "alice" are one account.
pub fn user(c: &mut Conn, name: &str) -> Result<Option<UserRow>> {
    Ok(users::table
        .filter(lower(users::name).eq(name.to_ascii_lowercase()))
        .select(UserRow::as_select())
        .first(c)
        .optional()?)
}

/// The tokens a person owns that are not revoked.
pub fn live_tokens_of(c: &mut Conn, owner: &str) -> Result<Vec<TokenRow>> {
    Ok(api_tokens::table
        .filter(api_tokens::owner.eq(owner))
        .filter(api_tokens::revoked_at.is_null())
        .order(api_tokens::name)
        .select(TokenRow::as_select())
        .load(c)?)
}

/// User names that differ only in case, grouped: a database written before
/// names were unique that way may hold some.
pub fn case_collisions(c: &mut Conn) -> Result<Vec<Vec<String>>> {
    let mut names: Vec<String> = users::table.select(users::name).load(c)?;
    names.sort_by_key(|n| (n.to_ascii_lowercase(), n.clone()));
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in names {
        match out.last_mut() {
            Some(g) if g[0].eq_ignore_ascii_case(&n) => g.push(n),
            _ => out.push(vec![n]),
        }
    }
    out.retain(|g| g.len() > 1);
    Ok(out)
}

pub fn users_all(c: &mut Conn) -> Result<Vec<UserRow>> {
    Ok(users::table
        .order(users::name)
        .select(UserRow::as_select())
        .load(c)?)
}

pub fn insert_user(c: &mut Conn, u: &UserRow) -> Result<()> {
    diesel::insert_into(users::table).values(u).execute(c)?;
    Ok(())
}

pub fn set_user_password(c: &mut Conn, name: &str, hash: &str, at: &str) -> Result<()> {
    diesel::update(users::table.find(name))
        .set((users::password_hash.eq(hash), users::updated_at.eq(at)))
        .execute(c)?;
    Ok(())
}

pub fn set_user_roles(c: &mut Conn, name: &str, roles: &str, at: &str) -> Result<()> {
    diesel::update(users::table.find(name))
        .set((users::roles.eq(roles), users::updated_at.eq(at)))
        .execute(c)?;
    Ok(())
}

pub fn set_user_disabled(c: &mut Conn, name: &str, disabled: bool, at: &str) -> Result<()> {
    diesel::update(users::table.find(name))
        .set((users::disabled.eq(disabled), users::updated_at.eq(at)))
        .execute(c)?;
    Ok(())
}

pub fn insert_session(c: &mut Conn, s: &SessionRow) -> Result<()> {
    diesel::insert_into(sessions::table).values(s).execute(c)?;
    Ok(())
}

pub fn session(c: &mut Conn, id_hash: &str) -> Result<Option<SessionRow>> {
    Ok(sessions::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .first(c)
        .optional()?)
}

pub fn touch_session(c: &mut Conn, id_hash: &str, at: &str) -> Result<()> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(at))
        .execute(c)?;
    Ok(())
}

/// Deletes one session; returns whether it existed.
pub fn delete_session(c: &mut Conn, id_hash: &str) -> Result<bool> {
    Ok(diesel::delete(sessions::table.find(id_hash)).execute(c)? > 0)
}

/// Deletes every session of a user; returns how many there were.
pub fn delete_sessions_of(c: &mut Conn, user: &str) -> Result<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_name.eq(user))).execute(c)?)
}

pub fn insert_token(c: &mut Conn, t: &TokenRow) -> Result<()> {
    diesel::insert_into(api_tokens::table)
        .values(t)
        .execute(c)?;
    Ok(())
}

pub fn token(c: &mut Conn, name: &str) -> Result<Option<TokenRow>> {
    Ok(api_tokens::table
        .find(name)
        .select(TokenRow::as_select())
        .first(c)
        .optional()?)
}

pub fn token_by_hash(c: &mut Conn, hash: &str) -> Result<Option<TokenRow>> {
    Ok(api_tokens::table
        .filter(api_tokens::token_hash.eq(hash))
        .select(TokenRow::as_select())
        .first(c)
        .optional()?)
}

pub fn tokens_all(c: &mut Conn) -> Result<Vec<TokenRow>> {
    Ok(api_tokens::table
        .order(api_tokens::name)
        .select(TokenRow::as_select())
        .load(c)?)
}

pub fn revoke_token(c: &mut Conn, name: &str, at: &str) -> Result<()> {
    diesel::update(api_tokens::table.find(name))
        .set(api_tokens::revoked_at.eq(at))
        .execute(c)?;
    Ok(())
}

pub fn touch_token(c: &mut Conn, name: &str, at: &str) -> Result<()> {
    diesel::update(api_tokens::table.find(name))
        .set(api_tokens::last_used_at.eq(at))
        .execute(c)?;
    Ok(())
}

/// The log-in attempts of one key (an account name, a client address) as
/// stored; what they allow is the service's rule.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(
    table_name = login_attempts,
    primary_key(scope, key),
    treat_none_as_default_value = false,
    treat_none_as_null = true
)]
pub struct LoginAttemptRow {
    pub scope: String,
    pub key: String,
    pub count: i64,
    pub window_start: String,
    pub locked_until: Option<String>,
    /// When the row says nothing any more and may be deleted.
    pub expires_at: String,
}

/// The attempts of `key` in `scope`, for a look without writing.
pub fn login_attempts(c: &mut Conn, scope: &str, key: &str) -> Result<Option<LoginAttemptRow>> {
    Ok(login_attempts::table
        .find((scope, key))
        .select(LoginAttemptRow::as_select())
        .first(c)
        .optional()?)
}

/// The attempts of `key` in `scope`, to be changed in the caller's write
/// transaction ([`super::Db::write`]). That transaction holds the writers'
/// lock from its first statement, so no other writer, in this process or
/// another, reads the row until it commits: the read, the decision and the
/// write that follows are one step. On PostgreSQL an existing row is locked
/// as well (`FOR UPDATE`) until then.
pub fn login_attempts_to_change(
    c: &mut Conn,
    scope: &str,
    key: &str,
) -> Result<Option<LoginAttemptRow>> {
    let q = login_attempts::table.find((scope, key));
    Ok(match &mut *c {
        Conn::Sqlite(c) => q.select(LoginAttemptRow::as_select()).first(c).optional()?,
        Conn::Postgres(c) => q
            .select(LoginAttemptRow::as_select())
            .for_update()
            .first(c)
            .optional()?,
    })
}

/// Stores the attempts of a key, in place of any stored before.
pub fn put_login_attempts(c: &mut Conn, row: &LoginAttemptRow) -> Result<()> {
    on_backend!(&mut *c, |c| diesel::insert_into(login_attempts::table)
        .values(row)
        .on_conflict((login_attempts::scope, login_attempts::key))
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// Forgets the attempts of a key; returns whether there were any.
pub fn delete_login_attempts(c: &mut Conn, scope: &str, key: &str) -> Result<bool> {
    Ok(diesel::delete(login_attempts::table.find((scope, key))).execute(c)? > 0)
}

/// Deletes the rows that expired by `now` (as stored); returns how many.
pub fn delete_expired_login_attempts(c: &mut Conn, now: &str) -> Result<usize> {
    Ok(
        diesel::delete(login_attempts::table.filter(login_attempts::expires_at.le(now)))
            .execute(c)?,
    )
}
