//! Storage: the only code that speaks SQL. One build serves SQLite (bundled,
//! WAL, busy timeout) and PostgreSQL, chosen by the database URL's scheme.

/// Runs the same diesel statement on whichever backend `c` is; for the few
/// statements (batch inserts, RETURNING) the multi-backend type cannot express.
macro_rules! on_backend {
    ($c:expr, |$conn:ident| $body:expr) => {
        match $c {
            Conn::Sqlite($conn) => $body,
            Conn::Postgres($conn) => $body,
        }
    };
}

mod accounts;
mod audit;
mod backup;
pub mod schema;
mod store;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Fault, Result};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Which backend a URL names. Shown (`Debug`) without its passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file path.
    Sqlite(String),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Target::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

impl Target {
    /// `sqlite://PATH` (or `sqlite:PATH`) or `postgres://…` / `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(Error::BadRequest(format!(
                    "database URL '{url}' names no file; write sqlite://vigil.db"
                )));
            }
            Ok(Target::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_string()))
        } else {
            Err(Error::BadRequest(format!(
                "database URL '{}' is neither sqlite://PATH nor postgres://…",
                redact(url)
            )))
        }
    }
}

/// The secrets a database URL holds: the password of `user:password@`,
/// and the values of `password=` query parameters (libpq reads both), as
/// written and percent-decoded.
fn secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((creds, _)) = authority.rsplit_once('@') {
        if let Some((_, pw)) = creds.split_once(':') {
            out.push(pw.to_string());
        }
    }
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if k.eq_ignore_ascii_case("password") {
                    out.push(v.to_string());
                }
            }
        }
    }
    let decoded: Vec<String> = out.iter().filter_map(|s| percent_decode(s)).collect();
    out.extend(decoded);
    out.retain(|s| !s.is_empty());
    // Longest first, so that no part of a secret is left behind.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `text` with every secret of the database URL `url` replaced by `***`:
/// for any message that may quote the URL or parts of it.
pub fn mask(text: &str, url: &str) -> String {
    let mut out = text.to_string();
    for s in secrets(url) {
        out = out.replace(&s, "***");
    }
    out
}

/// The URL without its passwords, for messages.
pub fn redact(url: &str) -> String {
    mask(url, url)
}

/// Opens connections for the pool, setting SQLite up for concurrent use.
#[derive(Debug, Clone)]
pub struct Manager {
    target: Target,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = r2d2::Error;

    fn connect(&self) -> std::result::Result<Conn, r2d2::Error> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut c =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(Conn::Sqlite(c))
            }
            Target::Postgres(url) => {
                PgConnection::establish(url)
                    .map(Conn::Postgres)
                    .map_err(|e| {
                        // libpq may quote parts of the URL it could not use.
                        r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(mask(
                            &e.to_string(),
                            url,
                        )))
                    })
            }
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> std::result::Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// An existing SQLite file must open for writing; say why when it does not
/// (SQLite itself only says "unable to open database file").
fn writable(path: &str) -> Result<()> {
    let p = std::path::Path::new(path);
    if !p.exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new().read(true).write(true).open(p) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => Err(Error::database(
            Fault::ReadOnly,
            format!("cannot write {path}: it is on a read-only file system"),
        )),
        Err(e) => Err(Error::database(
            Fault::Unavailable,
            format!("cannot open {path} for writing: {e}"),
        )),
    }
}

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    target: Target,
    memo: Arc<Memo>,
}

/// What the service keeps in memory about one database, one value per
/// type, shared by every clone of the handle: state that only makes
/// answers quicker and is checked against the database before it is used.
#[derive(Default)]
struct Memo(Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Db {
    /// Opens a pool on the database the URL names. Does not migrate.
    pub fn open(url: &str) -> Result<Self> {
        let target = Target::parse(url)?;
        if let Target::Sqlite(path) = &target {
            writable(path)?;
        }
        let size = match target {
            Target::Sqlite(_) => 4,
            Target::Postgres(_) => 8,
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            // How long a request waits for a connection, also when the
            // database is down: then it gets 503 after this.
            .connection_timeout(Duration::from_secs(5))
            .build(Manager {
                target: target.clone(),
            })
            .map_err(|e| {
                Error::database(
                    Fault::Unavailable,
                    mask(&format!("cannot connect to {}: {e}", redact(url)), url),
                )
            })?;
        Ok(Self {
            pool,
            target,
            memo: Arc::default(),
        })
    }

    /// The service's in-memory state of type `T` for this database,
    /// made empty the first time it is asked for.
    pub fn memo<T: Any + Send + Sync + Default>(&self) -> Arc<T> {
        let mut m = self.memo.0.lock().unwrap_or_else(|e| e.into_inner());
        let v = m
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match Arc::clone(v).downcast::<T>() {
            Ok(t) => t,
            // The map is keyed by the type: the value is always a `T`.
            Err(_) => Arc::new(T::default()),
        }
    }

    /// Which backend this is.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The pool's connections and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// The most connections the pool opens.
    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// A connection from the pool.
    pub fn conn(&self) -> Result<PooledConnection<Manager>> {
        Ok(self.pool.get()?)
    }

    /// Applies every pending migration; returns the names of those applied.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut c = self.conn()?;
        // User names became unique without regard to case: a database that
        // holds two names differing only in case cannot take that rule, and
        // the operator must choose what becomes of them. (A database without
        // the users table yet has nothing to check.)
        if let Ok(groups) = accounts::case_collisions(&mut c) {
            if !groups.is_empty() {
                let list: Vec<String> = groups.iter().map(|g| g.join(" and ")).collect();
                return Err(Error::Conflict(format!(
                    "user names must be unique without regard to case, but this database has {}. \
                     Nothing was changed. Rename one name of each pair in SQL (DELETE FROM \
                     sessions WHERE user_name = 'OLD'; UPDATE users SET name = 'NEW' WHERE \
                     name = 'OLD'), then start again",
                    list.join("; ")
                )));
            }
        }
        let applied = match &mut *c {
            Conn::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            Conn::Postgres(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        applied.map_err(|e| Error::database(Fault::Unavailable, format!("migration failed: {e}")))
    }

    /// Whether every embedded migration has been applied.
    pub fn migrations_current(&self) -> Result<bool> {
        let mut c = self.conn()?;
        let pending = match &mut *c {
            Conn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            Conn::Postgres(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        };
        pending.map(|p| !p).map_err(|e| {
            Error::database(
                Fault::Unavailable,
                format!("cannot read the applied migrations: {e}"),
            )
        })
    }

    /// The newest migration this build has: an archive must come from a
    /// database at the same one.
    pub fn schema_version() -> String {
        use diesel::migration::MigrationSource;
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .ok()
            .and_then(|m| m.last().map(|m| m.name().to_string()))
            .unwrap_or_default()
    }

    /// Reverts every applied migration, newest first; returns their names.
    pub fn revert_all(&self) -> Result<Vec<String>> {
        let mut c = self.conn()?;
        let reverted = match &mut *c {
            Conn::Sqlite(c) => c
                .revert_all_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
            Conn::Postgres(c) => c
                .revert_all_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect()),
        };
        reverted.map_err(|e| {
            Error::database(
                Fault::Unavailable,
                format!("reverting migrations failed: {e}"),
            )
        })
    }

    /// Runs `f` in a write transaction. Writers are serialised: the first
    /// statement takes the one-row lock, so on SQLite the transaction holds
    /// the write lock from its start and on PostgreSQL writers queue on the
    /// row. All or nothing: an error rolls everything back.
    pub fn write<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut c = self.conn()?;
        // The operation's own error is the one to report, whatever the
        // rollback then says: SQLite ends a transaction by itself on a full
        // disk, and the rollback after it fails as "not in a transaction".
        let mut failed = None;
        let done = c.transaction(|c| {
            diesel::sql_query("UPDATE vigil_lock SET generation = generation + 1 WHERE id = 1")
                .execute(c)?;
            f(c).map_err(|e| {
                failed = Some(e);
                diesel::result::Error::RollbackTransaction
            })
        });
        match (done, failed) {
            (Ok(v), _) => Ok(v),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }

    /// Runs `f` in a read transaction, so that it sees one consistent state.
    pub fn read<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut c = self.conn()?;
        match &mut *c {
            Conn::Postgres(_) => c.transaction(|c| {
                diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(c)?;
                f(c)
            }),
            Conn::Sqlite(_) => c.transaction(|c| f(c)),
        }
    }
}

pub use accounts::*;
pub use audit::*;
pub use backup::*;
pub use store::*;

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_urls_and_messages() {
        assert_eq!(
            redact("postgres://vigil:s3cr%40t@db:5432/vigil?sslmode=require&password=two%21"),
            "postgres://vigil:***@db:5432/vigil?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgres://vigil@db/vigil"),
            "postgres://vigil@db/vigil"
        );
        assert_eq!(redact("sqlite://vigil.db"), "sqlite://vigil.db");
        let url = "postgres://u:p%40ss@h/d?PASSWORD=q+1";
        let m = mask("failed for \"p@ss\" and p%40ss and q 1 and q+1", url);
        assert_eq!(m, "failed for \"***\" and *** and *** and ***");
        assert!(!format!("{:?}", Target::parse(url).unwrap()).contains("p%40ss"));
    }
}
