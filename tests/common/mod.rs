//! Real databases for tests: a SQLite file in a temporary folder, and a fresh
//! PostgreSQL database per test (dropped afterwards).
//!
//! PostgreSQL comes from `VIGIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached
//! the PostgreSQL case of a test ([`backend_test!`]) is skipped with a printed
//! reason, unless `VIGIL_REQUIRE_POSTGRES=1` (as `.ci/run` sets), which makes
//! it fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod generated;
pub mod publish;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use vigil::db::Db;

pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A second, fresh database of the same backend, for a test that needs
    /// two (`test` names it, as for [`postgres`]).
    pub fn another(&self, test: &str) -> TestDb {
        if self.pg.is_some() {
            postgres(test).expect("PostgreSQL answered a moment ago")
        } else {
            sqlite()
        }
    }

    /// Opens and migrates.
    pub fn open(&self) -> Db {
        let db = Db::open(&self.url).unwrap();
        db.migrate().unwrap();
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut c) = PgConnection::establish(admin) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Writes straight to the terminal, past the test harness's capture.
pub fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("vigil.db").display());
    TestDb {
        name: "sqlite",
        url,
        dir: Some(dir),
        pg: None,
    }
}

fn required(var: &str) -> bool {
    matches!(std::env::var(var).as_deref(), Ok("1") | Ok("true"))
}

pub fn postgres_admin_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database, or `None` (with the reason printed) when
/// PostgreSQL is not there and not required.
pub fn postgres(test: &str) -> Option<TestDb> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let admin = postgres_admin_url();
    let mut c = match PgConnection::establish(&admin) {
        Ok(c) => c,
        Err(e) => {
            if required("VIGIL_REQUIRE_POSTGRES") {
                panic!(
                    "VIGIL_REQUIRE_POSTGRES is set but PostgreSQL at {admin} is unreachable: {e}"
                );
            }
            say(&format!(
                "SKIPPED (postgres) {test}: PostgreSQL at {admin} is unreachable ({e}); set VIGIL_TEST_POSTGRES_URL"
            ));
            return None;
        }
    };
    let name = format!(
        "vigil_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let url = match admin.rfind('/') {
        Some(i) if i > admin.find("://").map_or(0, |s| s + 2) => format!("{}/{name}", &admin[..i]),
        _ => format!("{admin}/{name}"),
    };
    Some(TestDb {
        name: "postgres",
        url,
        dir: None,
        pg: Some((admin, name)),
    })
}

/// One test, one test case per backend. A function takes the database (a
/// [`TestDb`]), and
///
/// ```ignore
/// common::backend_test!(async the_name);
/// /// What it shows.
/// async fn the_name(t: common::TestDb) { /* uses t */ }
/// ```
///
/// adds `mod the_name { async fn sqlite() … async fn postgres() … }` beside
/// it, so `cargo test the_name::postgres` runs one and a failure names its
/// backend. `async` runs it under `#[actix_web::test]`; without it, plain
/// `fn`s run under `#[test]`. A function that no macro names is dead code,
/// which the lints refuse. The PostgreSQL case gets a fresh database of its
/// own ([`postgres`]): when PostgreSQL is not there it prints
/// `SKIPPED (postgres) <file>::<test>` and passes, unless
/// `VIGIL_REQUIRE_POSTGRES=1`, which makes it fail.
#[allow(unused_macros)]
macro_rules! backend_test {
    (async $name:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::common::sqlite()).await
            }

            #[actix_web::test]
            async fn postgres() {
                if let Some(t) = $crate::common::postgres(module_path!()) {
                    super::$name(t).await
                }
            }
        }
    };
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::sqlite())
            }

            #[test]
            fn postgres() {
                if let Some(t) = $crate::common::postgres(module_path!()) {
                    super::$name(t)
                }
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use backend_test;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn beslan_dir() -> PathBuf {
    repo().join("imports/beslan-2004")
}

/// The five files of an event folder.
pub const FILES: [&str; 5] = [
    "event.csv",
    "sources.csv",
    "figures.csv",
    "claims.csv",
    "rules.csv",
];

/// Copies the Beslan folder into a temporary folder to be edited.
pub fn beslan_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in FILES {
        std::fs::copy(beslan_dir().join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// Replaces text in a file of a folder; the text must be there.
pub fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

/// The five exported files of an event, as bytes (empty when no event).
pub fn export_bytes(db: &Db, slug: &str) -> Vec<(String, Vec<u8>)> {
    match vigil::service::dataset(db, slug) {
        Ok(ds) => vigil::files::write(&ds)
            .unwrap()
            .into_iter()
            .map(|(t, b)| (t.file_name().to_string(), b))
            .collect(),
        Err(_) => vec![],
    }
}

/// A child process killed when dropped: a server, a WebDriver.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `vigil` binary, run in `dir` with the default database.
pub fn vigil(dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.current_dir(dir).env_remove("VIGIL_DATABASE_URL");
    c
}

/// A port nothing listens on, for now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port` (at most a minute).
pub fn wait_for_port(port: u16) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Starts `vigil serve --demo` with one worker in `dir` on a free port, with
/// `extra` arguments; returns the guard and the port, once it listens.
pub fn serve_demo(dir: &Path, extra: &[&str]) -> (Killed, u16) {
    let port = free_port();
    let child = vigil(dir)
        .args(["serve", "--demo", "--workers", "1"])
        .args(extra)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = Killed(child);
    wait_for_port(port);
    (guard, port)
}

/// Validates `value` against the schema the OpenAPI document gives for this
/// path, method, status and content type.
pub fn conforms(
    openapi: &serde_json::Value,
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    value: &serde_json::Value,
) {
    use serde_json::Value;
    let op = &openapi["paths"][path][method];
    assert!(op.is_object(), "{path} is not in the OpenAPI document");
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{path}: status {status} is not documented"
    );
    let schema = &response["content"][content_type]["schema"];
    assert!(
        schema.is_object(),
        "{path} {status}: no schema for {content_type}: {response}"
    );
    let mut root = schema.as_object().unwrap().clone();
    root.insert("components".into(), openapi["components"].clone());
    let validator = jsonschema::draft202012::new(&Value::Object(root)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{path} {status}: the response does not match the OpenAPI schema: {errors:#?}"
    );
}

/// An HTTP answer: status, the header block as text, the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One plain HTTP/1.1 request over loopback (`Connection: close`), so that
/// tests talk to a real `vigil serve` as any client does.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Answer> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no complete answer")
    })?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, head.to_string()))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        unchunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Answer {
        status,
        headers: head.to_string(),
        body,
    })
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The audit log as the operator reads it, oldest first; `action` keeps one
/// kind of entry.
pub fn audit_log(db: &Db, action: Option<&str>) -> Vec<vigil::audit::Entry> {
    vigil::service::audit::entries(
        db,
        &vigil::service::operator().1,
        &vigil::audit::AuditFilter {
            action: action.map(Into::into),
            limit: 1_000_000,
            ..Default::default()
        },
    )
    .unwrap()
}

/// A user with these roles, as the service sees them.
pub fn person(name: &str, roles: &[vigil::accounts::Role]) -> vigil::accounts::Principal {
    vigil::accounts::Principal::user(name, roles)
}

/// Edits a figure's notes in a changeset, against the ETag it has there.
pub fn edit_notes(db: &Db, who: &vigil::accounts::Principal, id: i64, key: &str, notes: &str) {
    use vigil::model::{ItemEdit, Table};
    use vigil::service::{self, changesets::Precondition, Context};
    let v = service::changesets::item(db, &vigil::service::operator().1, id, Table::Figures, key)
        .unwrap();
    let mut item = v.item.unwrap();
    item["notes"] = serde_json::json!(notes);
    service::changesets::put_item(
        db,
        &Context::actor(&who.actor()),
        who,
        id,
        ItemEdit::put(Table::Figures, key, item).unwrap(),
        &Precondition::Matches(v.etag),
    )
    .unwrap();
}
