//! Hardening (issue 16), against a real `vigil serve` on real SQLite files
//! and real PostgreSQL databases: one text policy at every entry point, and
//! what an anonymous request may store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use vigil::db::{AuditFilter, Db};
use vigil::service;

const SLUG: &str = "beslan-2004";
const PASSWORD: &str = "a long quiet evening";

/// The `vigil` binary on the database at `url`.
fn vigil(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.env_remove("VIGIL_DATABASE_URL")
        .args(["--database-url", url]);
    c
}

fn run(url: &str, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = vigil(url)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A served deployment: the Beslan event, and a curator `clara`.
struct Served {
    _guard: common::Killed,
    port: u16,
    url: String,
}

fn serve(url: &str, extra: &[&str]) -> Served {
    let (code, out) = run(
        url,
        &["user", "add", "clara", "--role", "curator"],
        PASSWORD,
    );
    assert_eq!(code, 0, "{out}");
    let port = common::free_port();
    let child = vigil(url)
        .args(["serve", "--demo", "--workers", "1"])
        .args(extra)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = common::Killed(child);
    common::wait_for_port(port);
    Served {
        _guard: guard,
        port,
        url: url.to_string(),
    }
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request with any body and content type.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Answer {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some((ct, b)) = body {
        req.push_str(&format!(
            "Content-Type: {ct}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some((_, b)) = body {
        bytes.extend_from_slice(b);
    }
    // The server may answer (413) before reading it all.
    let _ = s.write_all(&bytes);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        headers: head.to_string(),
        body: rest.to_string(),
    }
}

fn json_body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A logged-in session: the cookie header and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Session {
    fn headers(&self) -> Vec<(&str, &str)> {
        vec![
            ("Cookie", self.cookie.as_str()),
            ("X-CSRF-Token", self.csrf.as_str()),
        ]
    }
}

fn login(port: u16) -> Session {
    let a = request(
        port,
        "POST",
        "/api/v1/session",
        &[],
        Some((
            "application/json",
            &json_body(&json!({"username": "clara", "password": PASSWORD})),
        )),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let cookie = a
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    Session {
        cookie,
        csrf: a.json()["csrf_token"].as_str().unwrap().to_string(),
    }
}

fn entries(url: &str) -> Vec<vigil::audit::Entry> {
    let db = Db::open(url).unwrap();
    service::audit::entries(
        &db,
        &AuditFilter {
            limit: 1_000_000,
            ..Default::default()
        },
    )
    .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs).unwrap().into_bytes()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[test]
fn a_nul_or_an_over_long_log_in_name_is_refused_naming_the_field_and_writes_nothing() {
    for t in common::backends("text policy at log-in") {
        let s = serve(&t.url, &[]);
        let before = entries(&s.url).len();
        let long = "a".repeat(100_000);
        for (name, body) in [
            (
                "NUL in the form",
                form(&[("username", "x\0y"), ("password", "p")]),
            ),
            (
                "long in the form",
                form(&[("username", &long), ("password", "p")]),
            ),
        ] {
            let a = request(s.port, "POST", "/admin/login", &[], Some((FORM, &body)));
            assert_eq!(a.status, 400, "{}: {name}: {a:?}", t.name);
            assert!(a.body.contains("username"), "{name}: {}", a.body);
        }
        for (name, user) in [("NUL in JSON", "x\0y"), ("long in JSON", long.as_str())] {
            let body = json_body(&json!({"username": user, "password": "p"}));
            let a = request(
                s.port,
                "POST",
                "/api/v1/session",
                &[],
                Some(("application/json", &body)),
            );
            assert_eq!(a.status, 400, "{}: {name}: {a:?}", t.name);
            assert!(
                a.json()["detail"].as_str().unwrap().contains("/username"),
                "{name}: {}",
                a.body
            );
        }
        // A form larger than any field may be is refused unread.
        let huge = form(&[("username", &"a".repeat(3_000_000)), ("password", "p")]);
        let a = request(s.port, "POST", "/admin/login", &[], Some((FORM, &huge)));
        assert_eq!(a.status, 413, "{}: {a:?}", t.name);
        assert_eq!(
            entries(&s.url).len(),
            before,
            "{}: a refused log-in wrote to the log",
            t.name
        );
        // A name within the limit is an ordinary failed log-in.
        let a = request(
            s.port,
            "POST",
            "/admin/login",
            &[],
            Some((FORM, &form(&[("username", "nobody"), ("password", "p")]))),
        );
        assert_eq!(a.status, 401, "{a:?}");
        assert_eq!(entries(&s.url).len(), before + 1);
    }
}
