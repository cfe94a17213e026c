//! Accounts without HTTP or SQL: roles, the password policy and hashing,
//! random secrets and their stored hashes, the log-in limit and the clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::words::word_enum;

word_enum! {
    /// What a person may do. A user may hold several roles.
    Role {
        /// Manages accounts, roles and API tokens.
        Admin = "admin",
        /// Drafts changesets and submits them for review.
        Curator = "curator",
        /// Approves or rejects changesets written by others.
        Reviewer = "reviewer",
        /// Reads everything, drafts and the audit log included; changes nothing.
        Auditor = "auditor",
    }
}

word_enum! {
    /// What a use case needs: the one authorization policy. Every service
    /// use case asks it of the principal; the HTTP extractors and the panel
    /// ask the same table for their coarse checks.
    Permission {
        /// Open, edit, submit and withdraw changesets.
        EditChangesets = "edit_changesets",
        /// Approve and reject changesets written by others.
        Review = "review",
        /// Read the audit log and verify it.
        ReadAudit = "read_audit",
        /// Manage accounts and API tokens.
        ManageAccounts = "manage_accounts",
        /// Read changesets and drafts.
        ReadDrafts = "read_drafts",
    }
}

impl Permission {
    /// The roles that carry it: any one will do.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Permission::EditChangesets => &[Role::Curator],
            Permission::Review => &[Role::Reviewer],
            Permission::ReadAudit => &[Role::Auditor, Role::Admin],
            Permission::ManageAccounts => &[Role::Admin],
            Permission::ReadDrafts => Role::ALL,
        }
    }

    /// Who has it, in words.
    pub fn holders(self) -> &'static str {
        match self {
            Permission::EditChangesets => "a curator",
            Permission::Review => "a reviewer",
            Permission::ReadAudit => "an auditor or admin",
            Permission::ManageAccounts => "an admin",
            Permission::ReadDrafts => "someone with an account",
        }
    }
}

/// Parses a stored or typed list of roles, separated by spaces or commas.
pub fn parse_roles(s: &str) -> std::result::Result<Vec<Role>, String> {
    let mut roles = s
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(str::parse)
        .collect::<std::result::Result<Vec<Role>, String>>()?;
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Writes roles as stored: sorted, space-separated.
pub fn format_roles(roles: &[Role]) -> String {
    let mut r = roles.to_vec();
    r.sort();
    r.dedup();
    r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
}

/// Who is acting: a person logged in with a session, or an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub name: String,
    pub kind: PrincipalKind,
    pub roles: Vec<Role>,
    /// For a token, the person it acts for (who created it), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Token,
    /// The operator at the command line, who holds the database itself.
    Operator,
}

impl Principal {
    /// A person logged in with a session.
    pub fn user(name: &str, roles: &[Role]) -> Self {
        Self {
            name: name.to_string(),
            kind: PrincipalKind::User,
            roles: roles.to_vec(),
            owner: None,
        }
    }

    /// An API token, acting for its owner when it has one.
    pub fn token(name: &str, roles: &[Role], owner: Option<&str>) -> Self {
        Self {
            name: name.to_string(),
            kind: PrincipalKind::Token,
            roles: roles.to_vec(),
            owner: owner.map(str::to_string),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the policy grants `p`.
    pub fn may(&self, p: Permission) -> bool {
        p.roles().iter().any(|r| self.has(*r))
    }

    /// The policy's answer, as an error saying what was needed.
    pub fn require(&self, p: Permission) -> Result<()> {
        if self.may(p) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this needs {}; {} has the roles: {}",
                p.holders(),
                self.name,
                format_roles(&self.roles)
            )))
        }
    }

    /// The operator at the command line (`cli:<os user>`): every role.
    pub fn operator(os_user: &str) -> Self {
        Self {
            name: os_user.to_string(),
            kind: PrincipalKind::Operator,
            roles: Role::ALL.to_vec(),
            owner: None,
        }
    }

    /// The credential as the audit log names it: `user:<name>`,
    /// `token:<name>` or `cli:<os user>`.
    pub fn actor(&self) -> String {
        match self.kind {
            PrincipalKind::User => format!("user:{}", self.name),
            PrincipalKind::Token => format!("token:{}", self.name),
            PrincipalKind::Operator => format!("cli:{}", self.name),
        }
    }

    /// The person four-eyes review counts: `user:<name>` for a session and
    /// for a token its owner made; `token:<name>` only for a token made at
    /// the command line without an owner.
    pub fn person(&self) -> String {
        match (self.kind, &self.owner) {
            (PrincipalKind::Token, Some(owner)) => format!("user:{owner}"),
            _ => self.actor(),
        }
    }
}

/// A user name: 1–64 letters, digits, `.`, `_` or `-`, starting with a letter.
pub fn check_user_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "'{name}' is not a valid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter"
        )))
    }
}

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The password policy: 12 to 128 characters, not a common password, not
/// the user name.
pub fn check_password(name: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < 12 {
        return Err(Error::BadRequest(format!(
            "the password is {n} characters long; it must have at least 12"
        )));
    }
    if n > 128 {
        return Err(Error::BadRequest(format!(
            "the password is {n} characters long; it may have at most 128"
        )));
    }
    let lower = password.to_lowercase();
    if lower.contains(&name.to_lowercase()) {
        return Err(Error::BadRequest(
            "the password must not contain the user name".into(),
        ));
    }
    if COMMON_PASSWORDS
        .lines()
        .any(|l| !l.starts_with('#') && l.trim() == lower)
    {
        return Err(Error::BadRequest(
            "this password is on the list of common passwords; choose another".into(),
        ));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id parameters: 19 MiB, two passes, one lane.
    match Params::new(19_456, 2, 1, None) {
        Ok(p) => Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
        Err(_) => Argon2::default(),
    }
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::Io(format!("cannot encode the salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Io(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches the stored hash. With no usable hash (no
/// such user, or an account restored without its secrets) it verifies
/// against a fixed hash anyway, so every name takes as long.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let (hash, real) = hash_to_verify(stored);
    let ok = hash
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false);
    ok && real
}

/// The hash a log-in verifies against, and whether it is the account's
/// own: the stored one when it parses, else a fixed one of the same cost.
fn hash_to_verify(stored: Option<&str>) -> (Option<PasswordHash<'_>>, bool) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match stored.and_then(|h| PasswordHash::new(h).ok()) {
        Some(h) => (Some(h), true),
        None => {
            let dummy =
                DUMMY.get_or_init(|| hash_password("vigil-no-such-user").unwrap_or_default());
            (PasswordHash::new(dummy).ok(), false)
        }
    }
}

fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Io(format!("no randomness from the system: {e}")))
}

/// A new secret of 128 random bits, as 32 hex digits.
pub fn new_secret() -> Result<String> {
    let mut b = [0u8; 16];
    fill_random(&mut b)?;
    Ok(hex::encode(b))
}

/// How a secret (session id, API token, setup token) is stored: SHA-256, hex.
/// The secrets are random, so a fast hash is enough.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The CSRF token of a session, derived from its id: only someone who holds
/// the session cookie can compute it, and nothing more needs storing.
pub fn csrf_token(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"vigil csrf\0");
    h.update(session_id.as_bytes());
    hex::encode(h.finalize())
}

/// Compares two strings in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The time, from a source the tests can move.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|e| *e.into_inner())
    }
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after log-in, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

impl SessionPolicy {
    /// Why a session that started at `created` and was last used at
    /// `last_seen` has ended by `now`, if it has.
    pub fn ended(
        &self,
        created: DateTime<Utc>,
        last_seen: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<&'static str> {
        if now - created >= self.absolute {
            Some("the session reached its maximum age; log in again")
        } else if now - last_seen >= self.idle {
            Some("the session ended after a time without activity; log in again")
        } else {
            None
        }
    }
}

/// Tallies log-ins refused while locked out, so that an attack shows in the
/// audit log without flooding it: at most one entry per account name and
/// address per minute, carrying how many were refused since the previous
/// entry for that pair.
#[derive(Default)]
pub struct RefusalTally {
    state: Mutex<HashMap<(String, String), Tally>>,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    /// The minute of the last entry written, as minutes since the epoch.
    written: i64,
    /// Refusals since then.
    pending: u64,
}

impl RefusalTally {
    /// Counts one refusal of `name` from `address` at `now`; answers the
    /// count to write when an entry is due (the first refusal of the pair
    /// in a new minute), including this one.
    pub fn refuse(&self, name: &str, address: &str, now: DateTime<Utc>) -> Option<u64> {
        let minute = now.timestamp().div_euclid(60);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.len() > 100_000 {
            state.retain(|_, t| minute - t.written < 15);
        }
        let t = state
            .entry((name.to_string(), address.to_string()))
            .or_insert(Tally {
                written: minute - 1,
                pending: 0,
            });
        t.pending += 1;
        if t.written == minute {
            return None;
        }
        let count = t.pending;
        *t = Tally {
            written: minute,
            pending: 0,
        };
        Some(count)
    }
}

/// How many log-in attempts one key (an account name, a client address) may
/// make within a window, and how long it is locked out once it has made
/// them; the lockout ends by itself. An attempt counts from before its
/// password is checked, so that attempts made at the same time cannot pass
/// together; a successful one is taken back. The counts themselves are kept
/// in the database (see `service::accounts::login`), shared by every replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimit {
    /// Attempts allowed per window; the one that reaches it starts the lockout.
    pub max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
}

/// The attempts a key has made in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts counted: failures, and those whose password is being checked.
    pub count: u32,
    pub window_start: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// The answer to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may check its password; the attempts with it counted,
    /// and whether it is the last the window allows: it locked the key out,
    /// and a failure is a lockout.
    Granted { attempts: Attempts, last: bool },
    /// Refused: the key is locked out, or has used its attempts, for this
    /// many seconds more.
    Refused { retry_after: i64 },
}

impl LoginLimit {
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_failures,
            window,
            lockout,
        }
    }

    /// Counts an attempt at `now` against the key's attempts so far: an
    /// ended window or lockout starts the count again; a locked-out key, or
    /// one that used its attempts, is refused.
    pub fn reserve(&self, before: Option<Attempts>, now: DateTime<Utc>) -> Reservation {
        let seconds = |until: DateTime<Utc>| (until - now).num_seconds().max(1);
        let mut a = match before {
            Some(Attempts {
                locked_until: Some(until),
                ..
            }) if until > now => {
                return Reservation::Refused {
                    retry_after: seconds(until),
                }
            }
            Some(a) if a.locked_until.is_none() && now - a.window_start < self.window => a,
            _ => Attempts {
                count: 0,
                window_start: now,
                locked_until: None,
            },
        };
        if a.count >= self.max_failures {
            return Reservation::Refused {
                retry_after: seconds(a.window_start + self.window),
            };
        }
        a.count += 1;
        let last = a.count >= self.max_failures;
        if last {
            a.locked_until = Some(now + self.lockout);
        }
        Reservation::Granted { attempts: a, last }
    }

    /// The attempts after a granted one (`granted`, as it was counted)
    /// succeeded: it counts no more, and a lockout it started ends. In a
    /// window begun since, it was never counted.
    pub fn refund(&self, granted: &Attempts, now: Attempts) -> Attempts {
        if now.window_start != granted.window_start {
            return now;
        }
        let count = now.count.saturating_sub(1);
        Attempts {
            count,
            window_start: now.window_start,
            locked_until: now.locked_until.filter(|_| count >= self.max_failures),
        }
    }

    /// When the attempts say nothing any more: their window and their
    /// lockout are over, and they may be forgotten.
    pub fn expires(&self, a: &Attempts) -> DateTime<Utc> {
        let end = a.window_start + self.window;
        a.locked_until.map_or(end, |u| u.max(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_format() {
        assert_eq!(
            parse_roles("reviewer, curator curator").unwrap(),
            vec![Role::Curator, Role::Reviewer]
        );
        assert!(parse_roles("root")
            .unwrap_err()
            .contains("'root' is not one of: admin, curator, reviewer, auditor"));
        assert_eq!(
            format_roles(&[Role::Reviewer, Role::Admin]),
            "admin reviewer"
        );
    }

    #[test]
    fn password_policy() {
        assert!(check_password("ana", "short").is_err());
        assert!(check_password("ana", &"x".repeat(129)).is_err());
        assert!(check_password("ana", "passwordpassword").is_err());
        assert!(check_password("anastasia", "my-anastasia-pass").is_err());
        assert!(check_password("ana", "quiet river under stone").is_ok());
    }

    #[test]
    fn every_name_costs_one_argon2id_verification_of_the_same_parameters() {
        let real = hash_password("a long quiet evening").unwrap();
        let params = |h: &PasswordHash<'_>| (h.algorithm.to_string(), h.params.to_string());
        let want = params(&PasswordHash::new(&real).unwrap());
        // An account restored without secrets has an empty hash; no
        // account at all, none; a damaged one, garbage.
        for stored in [None, Some(""), Some("not a hash"), Some(real.as_str())] {
            let (hash, own) = hash_to_verify(stored);
            let hash = hash.expect("a hash is always verified");
            assert_eq!(params(&hash), want, "{stored:?}");
            assert_eq!(own, stored == Some(real.as_str()), "{stored:?}");
        }
        assert!(!verify_password(Some(""), ""));
        assert!(!verify_password(None, "vigil-no-such-user"));
    }

    #[test]
    fn hashing_is_argon2id_and_verifies() {
        let h = hash_password("quiet river under stone").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(Some(&h), "quiet river under stone"));
        assert!(!verify_password(Some(&h), "quiet river under stones"));
        assert!(!verify_password(None, "vigil-no-such-user"));
    }

    #[test]
    fn a_limit_counts_before_the_check_locks_and_unlocks_by_itself() {
        let t0 = Utc::now();
        let l = LoginLimit::new(3, Duration::minutes(15), Duration::minutes(15));
        let granted = |r: Reservation| match r {
            Reservation::Granted { attempts, last } => (attempts, last),
            Reservation::Refused { retry_after } => panic!("refused for {retry_after} s"),
        };
        let (a1, last) = granted(l.reserve(None, t0));
        assert_eq!((a1.count, a1.window_start, last), (1, t0, false));
        let (a2, last) = granted(l.reserve(Some(a1), t0));
        assert!(!last);
        let (a3, last) = granted(l.reserve(Some(a2), t0));
        assert!(last, "the third attempt is the last: it locks the key");
        assert_eq!(a3.locked_until, Some(t0 + Duration::minutes(15)));
        assert_eq!(
            l.reserve(Some(a3), t0),
            Reservation::Refused { retry_after: 900 }
        );
        assert_eq!(l.expires(&a3), t0 + Duration::minutes(15));
        // The lockout ends by itself, and the count starts again.
        let later = t0 + Duration::minutes(15);
        let (again, last) = granted(l.reserve(Some(a3), later));
        assert_eq!((again.count, again.window_start, last), (1, later, false));
        // A window that ended starts again too.
        let (fresh, _) = granted(l.reserve(Some(a2), t0 + Duration::minutes(16)));
        assert_eq!(fresh.count, 1);
        // A success takes its attempt back, and the lockout it started.
        let back = l.refund(&a3, a3);
        assert_eq!((back.count, back.locked_until), (2, None));
        assert_eq!(l.refund(&a3, fresh), fresh, "a new window owes nothing");
        // Attempts used up without a lockout (a limit made smaller) wait
        // for the window's end.
        let tight = LoginLimit::new(2, Duration::minutes(15), Duration::minutes(15));
        assert_eq!(
            tight.reserve(Some(back), t0 + Duration::minutes(5)),
            Reservation::Refused { retry_after: 600 }
        );
    }

    #[test]
    fn session_policy() {
        let p = SessionPolicy::default();
        let t0 = Utc::now();
        assert_eq!(p.ended(t0, t0, t0 + Duration::minutes(29)), None);
        assert!(p.ended(t0, t0, t0 + Duration::minutes(30)).is_some());
        let late = t0 + Duration::hours(12);
        assert!(p.ended(t0, late, late).is_some());
    }

    #[test]
    fn secrets_are_128_bit_and_distinct() {
        let a = new_secret().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_secret().unwrap());
        assert!(same_secret(&csrf_token(&a), &csrf_token(&a)));
        assert!(!same_secret(&csrf_token(&a), &csrf_token("x")));
    }
}
