//! Hardening (issue 16), against a real `vigil serve` on real SQLite files
//! and real PostgreSQL databases: one text policy at every entry point, and
//! what an anonymous request may store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use vigil::db::Db;
use vigil::service;

const SLUG: &str = "beslan-2004";
const PASSWORD: &str = "a long quiet evening";

/// The `vigil` binary on the database at `url`, in `dir` (where the audit
/// key file is).
fn vigil(url: &str, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.env_remove("VIGIL_DATABASE_URL")
        .env_remove("VIGIL_AUDIT_KEY")
        .current_dir(dir)
        .args(["--database-url", url]);
    c
}

fn run(url: &str, dir: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = vigil(url, dir)
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

/// A served deployment: the Beslan event, and a curator `clara`; commands
/// run in `dir`.
struct Served {
    _guard: common::Killed,
    port: u16,
    url: String,
    dir: tempfile::TempDir,
}

impl Served {
    fn run(&self, args: &[&str], stdin: &str) -> (i32, String) {
        run(&self.url, self.dir.path(), args, stdin)
    }
}

fn serve(url: &str, extra: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run(
        url,
        dir.path(),
        &["user", "add", "clara", "--role", "curator"],
        PASSWORD,
    );
    assert_eq!(code, 0, "{out}");
    serve_only(url, dir, extra)
}

/// Serves the database as it is.
fn serve_only(url: &str, dir: tempfile::TempDir, extra: &[&str]) -> Served {
    let port = common::free_port();
    let child = vigil(url, dir.path())
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
        dir,
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

/// The audit log of the database at `url`.
fn entries(url: &str) -> Vec<vigil::audit::Entry> {
    common::audit_log(&Db::open(url).unwrap(), None)
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs).unwrap().into_bytes()
}

const FORM: &str = "application/x-www-form-urlencoded";

common::backend_test!(
    a_nul_or_an_over_long_log_in_name_is_refused_naming_the_field_and_writes_nothing
);
fn a_nul_or_an_over_long_log_in_name_is_refused_naming_the_field_and_writes_nothing(
    t: common::TestDb,
) {
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
    let a = login_form(s.port, "nobody", "p", &[]);
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(entries(&s.url).len(), before + 1);
}

/// Opens a draft of the Beslan event as `clara`; answers its id.
fn open_draft(s: &Served, who: &Session) -> i64 {
    let a = request(
        s.port,
        "POST",
        "/api/v1/changesets",
        &who.headers(),
        Some((
            "application/json",
            &json_body(&json!({"event": SLUG, "reason": "hardening"})),
        )),
    );
    assert_eq!(a.status, 201, "{a:?}");
    a.json()["id"].as_i64().unwrap()
}

/// An item of a draft as the API shows it, and its ETag.
fn get_item(s: &Served, who: &Session, id: i64, table: &str, key: &str) -> (Value, String) {
    let a = request(
        s.port,
        "GET",
        &format!("/api/v1/changesets/{id}/{table}/{key}"),
        &who.headers(),
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let v = a.json();
    (v["item"].clone(), v["etag"].as_str().unwrap().to_string())
}

/// PUTs an item through the JSON API.
fn put_json(s: &Served, who: &Session, id: i64, table: &str, key: &str, item: &Value) -> Answer {
    let (_, etag) = get_item(s, who, id, table, key);
    let mut h = who.headers();
    let quoted = format!("\"{etag}\"");
    h.push(("If-Match", &quoted));
    request(
        s.port,
        "PUT",
        &format!("/api/v1/changesets/{id}/{table}/{key}"),
        &h,
        Some(("application/json", &json_body(item))),
    )
}

/// Saves an item through the panel's editor form.
fn put_form(s: &Served, who: &Session, id: i64, table: &str, key: &str, item: &Value) -> Answer {
    let (_, etag) = get_item(s, who, id, table, key);
    let mut pairs: Vec<(String, String)> = vec![
        ("csrf_token".into(), who.csrf.clone()),
        ("etag".into(), etag),
    ];
    for (k, v) in item.as_object().unwrap() {
        let text = match v {
            Value::Null => String::new(),
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        pairs.push((k.clone(), text));
    }
    let body = serde_urlencoded::to_string(&pairs).unwrap();
    request(
        s.port,
        "POST",
        &format!("/admin/changesets/{id}/{table}/{key}"),
        &[("Cookie", who.cookie.as_str())],
        Some((FORM, body.as_bytes())),
    )
}

/// The Beslan dataset with one figure's notes replaced.
fn beslan_with_notes(key: &str, notes: &str) -> Vec<(vigil::model::Table, Vec<u8>)> {
    let mut ds = vigil::files::Folder::read_dir(&common::beslan_dir())
        .unwrap()
        .parse()
        .unwrap();
    ds.figures.iter_mut().find(|f| f.key == key).unwrap().notes = notes.to_string();
    vigil::files::write(&ds).unwrap()
}

/// Whether each entry point accepts `text` as a figure's notes: the JSON
/// API, the panel's form, an import folder read by the library, and
/// `vigil import --dry-run`.
fn verdicts(s: &Served, who: &Session, id: i64, text: &str) -> [bool; 4] {
    let key = "injured.total";
    let (mut item, _) = get_item(s, who, id, "figures", key);
    item["notes"] = json!(text);
    let a = put_json(s, who, id, "figures", key, &item);
    assert!(matches!(a.status, 200 | 400), "JSON: {a:?}");
    let json = a.status == 200;
    let a = put_form(s, who, id, "figures", key, &item);
    assert!(matches!(a.status, 303 | 400 | 422), "form: {a:?}");
    let form = a.status == 303;
    let files = beslan_with_notes(key, text);
    let csv = vigil::files::Folder::from_bytes(files.clone())
        .parse()
        .is_ok();
    let dir = s.dir.path().join("folder");
    std::fs::create_dir_all(&dir).unwrap();
    for (t, bytes) in &files {
        std::fs::write(dir.join(t.file_name()), bytes).unwrap();
    }
    let (code, out) = s.run(&["import", dir.to_str().unwrap(), "--dry-run"], "");
    assert!(matches!(code, 0 | 1), "CLI: {out}");
    [json, form, csv, code == 0]
}

/// Text of every kind: any Unicode (NUL and controls included), formula
/// starts, and lengths at the limit of notes. The panel trims what is
/// typed, so the texts are trimmed.
fn texts() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<String>(),
        "[=+@\\-\t\r a-zé\\x00\\n\"',]{0,12}",
        ("[=+@a]", "[a-z\\x00]{0,5}").prop_map(|(a, b)| a + &b),
        (vigil::text::LONG - 3..vigil::text::LONG + 3).prop_map(|n| "n".repeat(n)),
    ]
    .prop_map(|s| s.trim().to_string())
}

#[test]
fn text_one_entry_point_accepts_every_other_accepts_and_it_survives_a_restore_into_postgres() {
    use proptest::test_runner::{Config, TestRunner};
    let source = common::sqlite();
    let s = serve(&source.url, &[]);
    let who = login(s.port);
    let id = open_draft(&s, &who);
    let accepted = std::cell::RefCell::new(Vec::new());
    let refused = std::cell::RefCell::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&texts(), |text| {
            let v = verdicts(&s, &who, id, &text);
            proptest::prop_assert!(
                v.iter().all(|x| *x == v[0]),
                "{text:?}: JSON, form, CSV, CLI said {v:?}"
            );
            if v[0] {
                accepted.borrow_mut().push(text);
            } else {
                *refused.borrow_mut() += 1;
            }
            Ok(())
        })
        .unwrap();
    // Both kinds were tried.
    let mut accepted = accepted.into_inner();
    assert!(!accepted.is_empty() && refused.into_inner() > 0);
    // Those known to be refused are, everywhere.
    for bad in ["x\0y", "=HYPERLINK(\"x\")", "+1", "@A1"] {
        assert_eq!(verdicts(&s, &who, id, bad), [false; 4], "{bad:?}");
    }
    for good in ["-", "a = b", "“quoted”\r\nnext line", "ends in a tab\tx"] {
        assert_eq!(verdicts(&s, &who, id, good), [true; 4], "{good:?}");
        accepted.push(good.to_string());
    }

    // Everything accepted is in the log; the log and the draft restore
    // from SQLite into PostgreSQL.
    let archive = s.dir.path().join("vigil.backup");
    let (code, out) = s.run(&["backup", archive.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    let before = entries(&s.url);
    for text in &accepted {
        let stored = before
            .iter()
            .any(|e| e.after.as_ref().is_some_and(|a| a["notes"] == json!(text)));
        assert!(stored, "{text:?} is not in the log");
    }
    let Some(target) = common::postgres("text restored into PostgreSQL") else {
        return;
    };
    let (code, out) = run(
        &target.url,
        s.dir.path(),
        &["restore", archive.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let after = entries(&target.url);
    // The restore adds its own entries after the copied ones.
    assert!(after.len() > before.len());
    assert_eq!(&after[..before.len()], &before[..]);
    let (code, out) = run(&target.url, s.dir.path(), &["audit", "verify"], "");
    assert_eq!(code, 0, "{out}");
}

fn login_as(port: u16, name: &str) -> Session {
    let a = request(
        port,
        "POST",
        "/api/v1/session",
        &[],
        Some((
            "application/json",
            &json_body(&json!({"username": name, "password": PASSWORD})),
        )),
    );
    assert_eq!(a.status, 200, "{a:?}");
    Session {
        cookie: a
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string(),
        csrf: a.json()["csrf_token"].as_str().unwrap().to_string(),
    }
}

common::backend_test!(
    formulas_are_neutralised_in_the_audit_csv_and_refused_by_imports_with_their_place
);
fn formulas_are_neutralised_in_the_audit_csv_and_refused_by_imports_with_their_place(
    t: common::TestDb,
) {
    let s = serve(&t.url, &[]);
    let (code, out) = s.run(&["user", "add", "aude", "--role", "auditor"], PASSWORD);
    assert_eq!(code, 0, "{out}");
    // An anonymous failed log-in named like a formula.
    let name = "=HYPERLINK(\"http://x\")";
    let a = login_form(s.port, name, "p", &[]);
    assert_eq!(a.status, 401, "{a:?}");
    let aude = login_as(s.port, "aude");
    let a = request(
        s.port,
        "GET",
        "/api/v1/audit/export.csv",
        &aude.headers(),
        None,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let mut rdr = csv::Reader::from_reader(a.body.as_bytes());
    let mut cells = 0;
    for row in rdr.records() {
        for cell in row.unwrap().iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{}: a cell starts a formula: {cell:?}",
                t.name
            );
        }
    }
    assert!(cells > 0);
    assert!(a.body.contains("'=HYPERLINK("), "{}", a.body);
    // The JSON Lines export keeps the entry exact.
    let a = request(
        s.port,
        "GET",
        "/api/v1/audit/export.jsonl",
        &aude.headers(),
        None,
    );
    assert!(a.body.contains("\"entity_id\":\"=HYPERLINK("), "{}", a.body);

    // An import with a formula in a text cell is refused at its place.
    let dir = common::beslan_copy();
    common::edit(
        dir.path(),
        "figures.csv",
        "\"Hostages, rescuers",
        "\"@SUM(1), rescuers",
    );
    let figures = std::fs::read_to_string(dir.path().join("figures.csv")).unwrap();
    let line = figures.lines().position(|l| l.contains("@SUM(1)")).unwrap() + 1;
    let (code, out) = s.run(&["import", dir.path().to_str().unwrap(), "--dry-run"], "");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("figures.csv:{line}:11")) && out.contains("formula"),
        "{}: {out}",
        t.name
    );
}

common::backend_test!(
    source_urls_must_be_http_and_keys_must_follow_their_rule_before_anything_is_stored
);
fn source_urls_must_be_http_and_keys_must_follow_their_rule_before_anything_is_stored(
    t: common::TestDb,
) {
    let s = serve(&t.url, &[]);
    let clara = login(s.port);
    let id = open_draft(&s, &clara);
    let (source, _) = get_item(&s, &clara, id, "sources", "beslan-town-website");
    let before = entries(&s.url).len();
    for url in [
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://example.org/",
    ] {
        let mut item = source.clone();
        item["url"] = json!(url);
        let a = put_json(&s, &clara, id, "sources", "beslan-town-website", &item);
        assert_eq!(a.status, 400, "{}: {url}: {a:?}", t.name);
        assert!(a.body.contains("http:// or https://"), "{}", a.body);
        let a = put_form(&s, &clara, id, "sources", "beslan-town-website", &item);
        assert_eq!(a.status, 422, "{}: {url}: {a:?}", t.name);
        assert!(a.body.contains("http:// or https://"), "{}", a.body);
    }
    let mut item = source.clone();
    item["url"] = json!("https://example.org/a");
    let a = put_json(&s, &clara, id, "sources", "beslan-town-website", &item);
    assert_eq!(a.status, 200, "{a:?}");

    // The import refuses the scheme too.
    let dir = common::beslan_copy();
    let sources = std::fs::read_to_string(dir.path().join("sources.csv")).unwrap();
    let http = sources
        .split([',', '"'])
        .find(|c| c.starts_with("http"))
        .unwrap()
        .to_string();
    common::edit(dir.path(), "sources.csv", &http, "javascript:alert(1)");
    let (code, out) = s.run(&["import", dir.path().to_str().unwrap(), "--dry-run"], "");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("sources.csv:") && out.contains("https://"),
        "{out}"
    );

    // Keys: a new item whose key breaks the key rule is refused, naming it.
    for (table, key, rule) in [
        ("sources", "bad%0Akey", "not a valid source key"),
        ("figures", "Fatalities", "not a figure key"),
        ("claims", "-x", "not a valid claim id"),
        ("rules", "a%20b", "not a valid rule id"),
    ] {
        let decoded = key.replace("%0A", "\n").replace("%20", " ");
        let body = match table {
            "sources" => json!({"key": decoded, "title": "T", "kind": "news"}),
            "figures" => {
                json!({"key": decoded, "label": "L", "unit": "persons", "status": "estimate"})
            }
            "claims" => {
                json!({"id": decoded, "figure": "fatalities", "source": "beslan-town-website", "best": 1, "as_of": "2004", "rank": "normal"})
            }
            _ => json!({"id": decoded, "expression": "fatalities >= 0", "severity": "error"}),
        };
        let mut h = clara.headers();
        h.push(("If-None-Match", "*"));
        let a = request(
            s.port,
            "PUT",
            &format!("/api/v1/changesets/{id}/{table}/{key}"),
            &h,
            Some(("application/json", &json_body(&body))),
        );
        assert_eq!(a.status, 400, "{}: {table}/{key}: {a:?}", t.name);
        assert!(a.body.contains(rule), "{table}/{key}: {}", a.body);
    }
    // Nothing refused was stored: one entry, the good URL.
    assert_eq!(entries(&s.url).len(), before + 1, "{}", t.name);
}

/// An event whose seven categories are each a seventh of `i64::MAX` (which
/// 7 divides), adding up to exactly `i64::MAX`, the published total; a
/// claim at `i64::MAX` and one ranging from 0 to it.
fn limits_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let seventh = i64::MAX / 7;
    assert_eq!(seventh * 7, i64::MAX);
    let max = i64::MAX;
    let write = |f: &str, s: String| std::fs::write(dir.path().join(f), s).unwrap();
    write(
        "event.csv",
        "slug,title,location,started_on,ended_on,timezone,summary\n\
         limits,At the limits,Nowhere,2000,2000,UTC,A test event.\n"
            .into(),
    );
    write(
        "sources.csv",
        "key,title,author,publisher,kind,published_on,url,notes\n\
         counted,A count,,,other,,,\n"
            .into(),
    );
    let mut figures = format!(
        "key,label,unit,parent,breakdown,position,low,best,high,status,notes\n\
         total,Total,persons,,exhaustive,1,,{max},,confirmed,\n"
    );
    let mut claims = format!(
        "id,figure,source,low,best,high,as_of,rank,reason,locator,quote,note\n\
         total-count,total,counted,,{max},,2000,preferred,,,,\n\
         total-wide,total,counted,0,,{max},2000,normal,,,,\n"
    );
    for i in 1..=7 {
        figures.push_str(&format!(
            "total.part{i},Part {i},persons,total,,{},,{seventh},,confirmed,\n",
            i + 1
        ));
        claims.push_str(&format!(
            "part{i}-count,total.part{i},counted,,{seventh},,2000,preferred,,,,\n"
        ));
    }
    write("figures.csv", figures);
    write("claims.csv", claims);
    write(
        "rules.csv",
        format!(
            "id,expression,severity,note\n\
             sum,total.part1 + total.part2 + total.part3 + total.part4 + total.part5 + total.part6 + total.part7 = total,error,\n\
             scaled,{max} * total.part1 <= {max} * total,warning,\n"
        ),
    );
    dir
}

common::backend_test!(
    figures_at_the_i64_limits_add_up_on_the_page_the_chart_the_checks_and_the_csv
);
fn figures_at_the_i64_limits_add_up_on_the_page_the_chart_the_checks_and_the_csv(
    t: common::TestDb,
) {
    let folder = limits_folder();
    let f = folder.path().to_str().unwrap();
    let s = serve(&t.url, &[]);
    let (code, out) = s.run(&["import", f], "");
    assert_eq!(code, 0, "{}: {out}", t.name);
    let (code, out) = s.run(&["check", "limits", "--format", "json"], "");
    assert!(matches!(code, 0 | 1), "{}: {out}", t.name);
    let report: Value = serde_json::from_str(&out).unwrap();
    let breakdown = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "breakdown")
        .unwrap();
    assert_eq!(breakdown["outcome"], "holds", "{}: {breakdown}", t.name);
    assert_eq!(
        breakdown["message"],
        "7 categories add up to 9,223,372,036,854,775,807 = total 9,223,372,036,854,775,807"
    );
    let rule = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "rule:sum")
        .unwrap();
    assert_eq!(rule["outcome"], "holds", "{rule}");
    // The published figures survive storage exactly, on both backends.
    // The server finds the new version when it next polls.
    let mut tries = 0;
    let a = loop {
        let a = request(
            s.port,
            "GET",
            "/api/v1/events/limits/figures.csv",
            &[],
            None,
        );
        tries += 1;
        if a.status != 404 || tries > 100 {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains(",9223372036854775807,"), "{}", a.body);
    assert!(a.body.contains(",1317624576693539401,"), "{}", a.body);
    let a = request(s.port, "GET", "/events/limits", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.body.contains(
            "the 7 categories add up to 9,223,372,036,854,775,807; the published total is 9,223,372,036,854,775,807"
        ),
        "{}: the chart's caption is wrong",
        t.name
    );
}

/// Beyond what can be published: categories each at i64::MAX add up to
/// seven times it, not to a wrapped number; the CSV reads back the same.
#[test]
fn figures_beyond_the_i64_limits_add_up_without_wrapping_in_the_chart_the_checks_and_the_csv() {
    let folder = limits_folder();
    let mut ds = vigil::files::Folder::read_dir(folder.path())
        .unwrap()
        .parse()
        .unwrap();
    for p in ds.figures.iter_mut().filter(|f| f.parent.is_some()) {
        p.best = Some(i64::MAX);
    }
    let chart = vigil::http::pages::chart(vigil::http::catalogue::for_lang("en"), &ds).unwrap();
    assert!(
        chart.contains("add up to 64,563,604,257,983,430,649;"),
        "{chart}"
    );
    let report = vigil::checks::run(&ds);
    let b = report
        .results
        .iter()
        .find(|r| r.check == "breakdown")
        .unwrap();
    assert_eq!(b.outcome, vigil::checks::Outcome::Violated, "{b:?}");
    assert!(b.message.contains("64,563,604,257,983,430,649"), "{b:?}");
    // A figure's CSV at the limits reads back the same.
    ds.sort();
    let files = vigil::files::write(&ds).unwrap();
    let back = vigil::files::Folder::from_bytes(files).parse().unwrap();
    assert_eq!(back, ds);
}

common::backend_test!(an_event_time_zone_must_be_an_iana_name);
fn an_event_time_zone_must_be_an_iana_name(t: common::TestDb) {
    let work = tempfile::tempdir().unwrap();
    for (zone, ok) in [
        ("Europe/Moscow", true),
        ("UTC", true),
        ("Mars/Olympus_Mons", false),
        ("+03:00", false),
        ("Moscow time", false),
    ] {
        let dir = common::beslan_copy();
        common::edit(dir.path(), "event.csv", "Europe/Moscow", zone);
        let (code, out) = run(
            &t.url,
            work.path(),
            &["import", dir.path().to_str().unwrap(), "--dry-run"],
            "",
        );
        if ok {
            assert_eq!(code, 0, "{}: {zone}: {out}", t.name);
        } else {
            assert_eq!(code, 1, "{}: {zone}: {out}", t.name);
            assert!(
                out.contains("event.csv:2:6") && out.contains("IANA time zone"),
                "{zone}: {out}"
            );
        }
    }
}

common::backend_test!(compressed_bodies_are_refused_and_anonymous_uploads_are_refused_unread);
fn compressed_bodies_are_refused_and_anonymous_uploads_are_refused_unread(t: common::TestDb) {
    use flate2::write::GzEncoder;
    let s = serve(&t.url, &[]);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json_body(
        &json!({"username": "clara", "password": PASSWORD}),
    ))
    .unwrap();
    let gz = gz.finish().unwrap();
    for (path, ct) in [
        ("/api/v1/session", "application/json"),
        ("/admin/login", FORM),
    ] {
        for coding in ["gzip", "br", "deflate", "identity, gzip"] {
            let a = request(
                s.port,
                "POST",
                path,
                &[("Content-Encoding", coding)],
                Some((ct, &gz)),
            );
            assert_eq!(a.status, 415, "{}: {path} {coding}: {a:?}", t.name);
        }
    }
    let a = request(
        s.port,
        "POST",
        "/api/v1/session",
        &[("Content-Encoding", "identity")],
        Some((
            "application/json",
            &json_body(&json!({"username": "clara", "password": PASSWORD})),
        )),
    );
    assert_eq!(a.status, 200, "{a:?}");

    // An anonymous upload is answered before its body is read: the
    // answer comes while most of a 48 MiB body is still unsent.
    let boundary = "vigilbound";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"figures.csv\"\r\n\r\n"
    )
    .into_bytes();
    body.resize(body.len() + (48 << 20), b'a');
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /admin/changesets/1/import HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).unwrap();
    sock.write_all(&body[..64 * 1024]).unwrap();
    let mut answer = [0u8; 512];
    let n = sock.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(
        answer.starts_with("HTTP/1.1 303") && answer.contains("/admin/login"),
        "{}: {answer}",
        t.name
    );
    // The same upload by a curator without the form's CSRF token is
    // refused once read; nothing is imported.
    let clara = login(s.port);
    let id = open_draft(&s, &clara);
    let before = entries(&s.url).len();
    let small = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nwrong\r\n--{boundary}--\r\n"
    );
    let a = request(
        s.port,
        "POST",
        &format!("/admin/changesets/{id}/import"),
        &[("Cookie", clara.cookie.as_str())],
        Some((
            &format!("multipart/form-data; boundary={boundary}"),
            small.as_bytes(),
        )),
    );
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(entries(&s.url).len(), before);
}

#[test]
fn made_up_methods_count_as_other_and_metrics_can_live_on_their_own_address() {
    let t = common::sqlite();
    let metrics_port = common::free_port();
    let addr = format!("127.0.0.1:{metrics_port}");
    let s = serve(&t.url, &["--metrics-bind", &addr]);
    for i in 0..300 {
        let a = request(s.port, &format!("BREW{i}"), "/healthz", &[], None);
        assert!(a.status >= 400, "{a:?}");
    }
    // Not on the public address.
    let a = request(s.port, "GET", "/metrics", &[], None);
    assert_eq!(a.status, 404, "{a:?}");
    common::wait_for_port(metrics_port);
    let a = request(metrics_port, "GET", "/metrics", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    let lines: Vec<&str> = a
        .body
        .lines()
        .filter(|l| l.starts_with("vigil_http_requests_total{"))
        .collect();
    assert!(
        lines.iter().all(|l| !l.contains("BREW")),
        "{}",
        lines.join("\n")
    );
    let other: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("method=\"other\""))
        .collect();
    assert_eq!(other.len(), 1, "{}", lines.join("\n"));
    assert!(other[0].ends_with(" 300"), "{}", other[0]);
    assert!(lines.len() < 10, "{}", lines.join("\n"));
    // Only /metrics there.
    let a = request(metrics_port, "GET", "/healthz", &[], None);
    assert_eq!(a.status, 404);
}

/// The client address of the last failed log-in, as the log keeps it.
fn last_client(url: &str) -> Option<String> {
    entries(url)
        .into_iter()
        .rev()
        .find(|e| e.action == "session.login_failed")
        .and_then(|e| e.client)
}

fn failed_login(port: u16, forwarded: Option<&str>) {
    let h: Vec<(&str, &str)> = forwarded
        .map(|f| ("X-Forwarded-For", f))
        .into_iter()
        .collect();
    let a = request(
        port,
        "POST",
        "/api/v1/session",
        &h,
        Some((
            "application/json",
            &json_body(&json!({"username": "nobody", "password": "p"})),
        )),
    );
    assert_eq!(a.status, 401, "{a:?}");
}

common::backend_test!(x_forwarded_for_is_believed_only_from_trusted_proxies);
fn x_forwarded_for_is_believed_only_from_trusted_proxies(t: common::TestDb) {
    // No proxy trusted: the header is the client's to make up.
    let s = serve(&t.url, &[]);
    failed_login(s.port, Some("203.0.113.7"));
    assert_eq!(
        last_client(&s.url).as_deref(),
        Some("127.0.0.1"),
        "{}",
        t.name
    );
    drop(s);
    let t2 = t.another("trusted proxies");
    let s = serve(&t2.url, &["--trusted-proxy", "127.0.0.0/8", "10.0.0.0/8"]);
    failed_login(s.port, None);
    assert_eq!(last_client(&s.url).as_deref(), Some("127.0.0.1"));
    failed_login(s.port, Some("203.0.113.7"));
    assert_eq!(last_client(&s.url).as_deref(), Some("203.0.113.7"));
    // Hops a client made up stand left of the one the proxies saw.
    failed_login(s.port, Some("198.51.100.1, 203.0.113.8, 10.0.0.5"));
    assert_eq!(
        last_client(&s.url).as_deref(),
        Some("203.0.113.8"),
        "{}",
        t.name
    );
    // The lock-out is per client, not per proxy: one client locked
    // out leaves another able to try.
    for i in 0..25 {
        failed_login_status(s.port, "203.0.113.66", &format!("u{i}"));
    }
    assert_eq!(failed_login_status(s.port, "203.0.113.66", "fresh"), 429);
    assert_eq!(failed_login_status(s.port, "203.0.113.67", "fresh"), 401);
}

fn failed_login_status(port: u16, forwarded: &str, name: &str) -> u16 {
    request(
        port,
        "POST",
        "/api/v1/session",
        &[("X-Forwarded-For", forwarded)],
        Some((
            "application/json",
            &json_body(&json!({"username": name, "password": "p"})),
        )),
    )
    .status
}

/// The log-in page's pre-session cookie and token.
fn login_page(port: u16) -> (String, String) {
    let a = request(port, "GET", "/admin/login", &[], None);
    assert_eq!(a.status, 200, "{a:?}");
    let cookie = a
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-vigil-login="), "{cookie}");
    let token = a
        .body
        .split("name=\"login_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (cookie, token)
}

/// Logs in through the panel's form, as a browser does: the page first.
fn login_form(port: u16, name: &str, password: &str, extra: &[(&str, &str)]) -> Answer {
    let (cookie, token) = login_page(port);
    let mut h = vec![("Cookie", cookie.as_str())];
    h.extend_from_slice(extra);
    request(
        port,
        "POST",
        "/admin/login",
        &h,
        Some((
            FORM,
            &form(&[
                ("username", name),
                ("password", password),
                ("login_token", &token),
            ]),
        )),
    )
}

common::backend_test!(
    log_in_forms_need_their_pre_session_token_and_changes_come_from_vigils_own_pages
);
fn log_in_forms_need_their_pre_session_token_and_changes_come_from_vigils_own_pages(
    t: common::TestDb,
) {
    let s = serve(&t.url, &[]);
    let before = entries(&s.url).len();
    let creds = [("username", "clara"), ("password", PASSWORD)];
    // No token, a token without its cookie, a cookie of another page
    // load: refused, no session, nothing written.
    let (cookie, token) = login_page(s.port);
    let (other_cookie, _) = login_page(s.port);
    let mut with_token = creds.to_vec();
    with_token.push(("login_token", &token));
    for (what, headers, body) in [
        ("no token", vec![("Cookie", cookie.as_str())], form(&creds)),
        ("no cookie", vec![], form(&with_token)),
        (
            "another cookie",
            vec![("Cookie", other_cookie.as_str())],
            form(&with_token),
        ),
    ] {
        let a = request(
            s.port,
            "POST",
            "/admin/login",
            &headers,
            Some((FORM, &body)),
        );
        assert_eq!(a.status, 403, "{}: {what}: {a:?}", t.name);
        assert!(a
            .header("set-cookie")
            .is_none_or(|c| !c.contains("vigil-session")));
    }
    // From another site, even with the token.
    for h in [
        ("Origin", "https://elsewhere.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let a = login_form(s.port, "clara", PASSWORD, &[h]);
        assert_eq!(a.status, 403, "{}: {h:?}: {a:?}", t.name);
    }
    assert_eq!(entries(&s.url).len(), before, "{}", t.name);
    // From the page itself.
    let a = login_form(
        s.port,
        "clara",
        PASSWORD,
        &[
            ("Origin", "http://localhost"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    assert_eq!(a.status, 303, "{}: {a:?}", t.name);
    assert!(a.headers.contains("__Host-vigil-session="), "{a:?}");

    // Every change made with the session cookie: refused from another
    // site even with the right CSRF token.
    let clara = login(s.port);
    let body = json_body(&json!({"event": SLUG, "reason": "cross-site"}));
    for h in [
        ("Origin", "https://elsewhere.example"),
        ("Origin", "http://localhost.elsewhere.example"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
    ] {
        let mut headers = clara.headers();
        headers.push(h);
        let a = request(
            s.port,
            "POST",
            "/api/v1/changesets",
            &headers,
            Some(("application/json", &body)),
        );
        assert_eq!(a.status, 403, "{}: {h:?}: {a:?}", t.name);
        assert!(a.body.contains("its own pages"), "{}", a.body);
    }
    // What a browser sends with the panel's own forms under
    // `Referrer-Policy: no-referrer`: `Origin: null`, same-origin.
    let mut headers = clara.headers();
    headers.push(("Origin", "null"));
    headers.push(("Sec-Fetch-Site", "same-origin"));
    let a = request(
        s.port,
        "POST",
        "/api/v1/changesets",
        &headers,
        Some(("application/json", &body)),
    );
    assert_eq!(a.status, 201, "{a:?}");
}

common::backend_test!(async an_active_session_outlives_its_idle_time_and_an_idle_one_ends);
async fn an_active_session_outlives_its_idle_time_and_an_idle_one_ends(t: common::TestDb) {
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    use std::sync::Arc;
    use vigil::accounts::{ManualClock, Role, SessionPolicy};
    use vigil::http::{app, AppState, Config};
    let db = t.open();
    let ctx = vigil::service::Context::actor("cli:test");
    service::accounts::add_user(
        &db,
        &ctx,
        &vigil::accounts::Principal::operator("test"),
        "clara",
        PASSWORD,
        &[Role::Curator],
    )
    .unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let config = Config {
        sessions: SessionPolicy {
            idle: chrono::Duration::minutes(1),
            absolute: chrono::Duration::hours(12),
        },
        ..Config::default()
    };
    let state = actix_web::web::Data::new(
        AppState::with_config(db, config, Arc::new(clock.clone())).unwrap(),
    );
    let svc = init_service(app(state.clone())).await;
    let res = call_service(
        &svc,
        TestRequest::post()
            .uri("/api/v1/session")
            .peer_addr("192.0.2.10:4000".parse().unwrap())
            .set_json(json!({"username": "clara", "password": PASSWORD}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let _ = read_body(res).await;
    let whoami = |cookie: &str| {
        TestRequest::get()
            .uri("/api/v1/session")
            .insert_header(("Cookie", cookie.to_string()))
            .to_request()
    };
    // A request every 10 s for three minutes: the session lives on.
    for step in 1..=18 {
        clock.advance(chrono::Duration::seconds(10));
        let res = call_service(&svc, whoami(&cookie)).await;
        assert_eq!(res.status(), 200, "{}: after {} s", t.name, step * 10);
    }
    // A minute without requests ends it.
    clock.advance(chrono::Duration::seconds(61));
    let res = call_service(&svc, whoami(&cookie)).await;
    assert_eq!(res.status(), 401, "{}", t.name);
}

common::backend_test!(restore_refuses_to_sign_with_a_key_other_than_the_public_key_it_was_given);
fn restore_refuses_to_sign_with_a_key_other_than_the_public_key_it_was_given(t: common::TestDb) {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let source = common::sqlite();
    let beslan = common::beslan_dir();
    let (code, out) = run(&source.url, w, &["import", beslan.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    let signer = w.join("vigil-audit.key");
    let public = service::audit::load_key(&signer)
        .unwrap()
        .verifier()
        .to_string();
    let archive = w.join("vigil.backup");
    let (code, out) = run(&source.url, w, &["backup", archive.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(
        &source.url,
        w,
        &["audit", "keygen", "--audit-key", "other.key"],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(
        &t.url,
        w,
        &[
            "restore",
            archive.to_str().unwrap(),
            "--public-key",
            &public,
            "--audit-key",
            "other.key",
        ],
        "",
    );
    assert_eq!(code, 1, "{}: {out}", t.name);
    assert!(
        out.contains("other.key") && out.contains(&public) && out.contains("--audit-key FILE"),
        "{}: {out}",
        t.name
    );
    // Nothing was restored: the same restore with the right key works.
    let (code, out) = run(
        &t.url,
        w,
        &[
            "restore",
            archive.to_str().unwrap(),
            "--public-key",
            &public,
            "--audit-key",
            signer.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{}: {out}", t.name);
    let (code, out) = run(&t.url, w, &["audit", "verify", "--public-key", &public], "");
    assert_eq!(code, 0, "{}: {out}", t.name);
}

#[test]
fn passwords_in_database_urls_never_appear_in_messages() {
    let work = tempfile::tempdir().unwrap();
    let admin = common::postgres_admin_url();
    let host = admin
        .split_once("://")
        .map(|(_, r)| r.rsplit_once('@').map_or(r, |(_, h)| h))
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    for url in [
        // No server there.
        "postgres://vigil:Sup3rSecretPw@127.0.0.1:1/vigil".to_string(),
        "postgres://vigil@127.0.0.1:1/vigil?password=Sup3rSecretPw&connect_timeout=2".to_string(),
        // A server, a database that is not there.
        format!("postgres://postgres:Sup3rSecretPw@{host}/vigil_no_such_database"),
        // A password libpq cannot decode, which it quotes.
        format!("postgres://postgres@{host}/postgres?password=Sup3rSecretPw%zz"),
        format!("postgresql://postgres:Sup3r%53ecretPw@{host}/vigil_no_such_database"),
    ] {
        for args in [&["migrate"][..], &["serve", "--bind", "127.0.0.1:0"][..]] {
            let (code, out) = run(&url, work.path(), args, "");
            assert_ne!(code, 0, "{url} {args:?}: {out}");
            assert!(
                !out.contains("Sup3rSecretPw") && !out.contains("Sup3r%53ecretPw"),
                "{url} {args:?}: the password is in the message: {out}"
            );
            assert!(out.contains("***") || !out.contains("Sup3r"), "{out}");
        }
    }
}

common::backend_test!(after_a_restore_without_secrets_a_log_in_answers_alike_for_every_name);
fn after_a_restore_without_secrets_a_log_in_answers_alike_for_every_name(t: common::TestDb) {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let source = common::sqlite();
    let beslan = common::beslan_dir();
    let (code, out) = run(&source.url, w, &["import", beslan.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(
        &source.url,
        w,
        &["user", "add", "clara", "--role", "curator"],
        PASSWORD,
    );
    assert_eq!(code, 0, "{out}");
    let archive = w.join("vigil.backup");
    let (code, out) = run(&source.url, w, &["backup", archive.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&t.url, w, &["restore", archive.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("have no password"), "{out}");
    let s = serve_only(&t.url, tempfile::tempdir().unwrap(), &[]);
    let answers: Vec<(u16, Value)> = ["clara", "nobody"]
        .iter()
        .map(|name| {
            let a = request(
                s.port,
                "POST",
                "/api/v1/session",
                &[],
                Some((
                    "application/json",
                    &json_body(&json!({"username": name, "password": PASSWORD})),
                )),
            );
            (a.status, a.json()["detail"].clone())
        })
        .collect();
    assert_eq!(answers[0].0, 401, "{}: {answers:?}", t.name);
    assert_eq!(answers[0], answers[1], "{}", t.name);
}

// The log-in limit across replicas (issue 17, item 8): the attempts are
// counted in the database, before the password is checked.

/// A log-in for `name` with `password` over the JSON API: the status and
/// the `Retry-After` it gave.
fn attempt_login(port: u16, name: &str, password: &str) -> (u16, Option<i64>) {
    let a = request(
        port,
        "POST",
        "/api/v1/session",
        &[],
        Some((
            "application/json",
            &json_body(&json!({"username": name, "password": password})),
        )),
    );
    let retry = a.header("retry-after").and_then(|r| r.parse().ok());
    (a.status, retry)
}

/// The audit entries of one action (and entity), as the log keeps them.
fn actions(url: &str, action: &str, entity_id: &str) -> usize {
    entries(url)
        .iter()
        .filter(|e| e.action == action && e.entity_id == entity_id)
        .count()
}

common::backend_test!(two_replicas_on_one_database_allow_five_password_checks_per_account_together);
fn two_replicas_on_one_database_allow_five_password_checks_per_account_together(t: common::TestDb) {
    let a = serve(&t.url, &[]);
    // The second replica signs with the same audit key.
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(a.dir.path()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let b = serve_only(&t.url, dir, &[]);
    // Five wrong passwords, taking turns between the replicas: each is
    // checked and answered 401.
    for i in 0..5 {
        let port = if i % 2 == 0 { a.port } else { b.port };
        let (status, _) = attempt_login(port, "clara", "not the password at all");
        assert_eq!(status, 401, "{}: attempt {}", t.name, i + 1);
    }
    // Then both refuse, the right password too, for the lockout's time.
    for port in [a.port, b.port, a.port, b.port] {
        let (status, retry) = attempt_login(port, "clara", PASSWORD);
        assert_eq!(status, 429, "{}", t.name);
        assert!(
            retry.is_some_and(|r| (1..=900).contains(&r)),
            "{}: Retry-After {retry:?}",
            t.name
        );
    }
    // Names differing in case are one account, and one count.
    assert_eq!(attempt_login(b.port, "CLARA", PASSWORD).0, 429);
    assert_eq!(actions(&t.url, "session.login_failed", "clara"), 5);
    assert_eq!(actions(&t.url, "session.lockout", "clara"), 1);
    assert_eq!(actions(&t.url, "session.login", "clara"), 0);
    // Another account name is not locked out by clara's attempts.
    assert_eq!(attempt_login(b.port, "nobody", "p").0, 401);
}

common::backend_test!(twelve_log_ins_at_once_get_at_most_five_password_checks);
fn twelve_log_ins_at_once_get_at_most_five_password_checks(t: common::TestDb) {
    let s = serve(&t.url, &[]);
    let start = std::sync::Arc::new(std::sync::Barrier::new(12));
    let answers: Vec<u16> = (0..12)
        .map(|_| {
            let start = start.clone();
            let port = s.port;
            std::thread::spawn(move || {
                start.wait();
                attempt_login(port, "clara", "not the password at all").0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let checked = answers.iter().filter(|s| **s == 401).count();
    let refused = answers.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, refused),
        (5, 7),
        "{}: answers {answers:?}",
        t.name
    );
    // The log says the same: five checks failed, one lockout, and the
    // refusals left their trace.
    assert_eq!(actions(&t.url, "session.login_failed", "clara"), 5);
    assert_eq!(actions(&t.url, "session.lockout", "clara"), 1);
    assert!(actions(&t.url, "session.login_refused", "clara") >= 1);
    assert_eq!(attempt_login(s.port, "clara", PASSWORD).0, 429);
}

/// One log-in through the application in process, from `peer`: the status
/// and the `Retry-After` it gave.
async fn login_in_process<S, B>(
    app: &S,
    peer: &str,
    name: &str,
    password: &str,
) -> (u16, Option<i64>)
where
    S: common::app::TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let res = actix_web::test::call_service(
        app,
        actix_web::test::TestRequest::post()
            .uri("/api/v1/session")
            .peer_addr(peer.parse().unwrap())
            .set_json(json!({"username": name, "password": password}))
            .to_request(),
    )
    .await;
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (res.status().as_u16(), retry)
}

/// A second replica of `first`: its own state and pool on the same
/// database, telling time by the same clock.
fn replica(
    t: &common::TestDb,
    clock: &vigil::accounts::ManualClock,
) -> actix_web::web::Data<vigil::http::AppState> {
    actix_web::web::Data::new(
        vigil::http::AppState::with_config(
            Db::open(&t.url).unwrap(),
            vigil::http::Config::default(),
            std::sync::Arc::new(clock.clone()),
        )
        .unwrap(),
    )
}

/// How many rows of log-in attempts the database holds.
fn attempt_rows(db: &Db) -> i64 {
    use diesel::prelude::*;
    use vigil::db::schema::login_attempts;
    db.read(|c| Ok(login_attempts::table.count().get_result::<i64>(c)?))
        .unwrap()
}

common::backend_test!(async a_lockout_shared_by_replicas_ends_by_itself_and_old_counts_are_deleted);
async fn a_lockout_shared_by_replicas_ends_by_itself_and_old_counts_are_deleted(t: common::TestDb) {
    use vigil::accounts::ManualClock;
    let clock = ManualClock::new(chrono::Utc::now());
    let a = common::app::serve(common::app::state(&t, clock.clone())).await;
    let b = common::app::serve(replica(&t, &clock)).await;
    const PEER: &str = "198.51.100.20:5000";
    for i in 0..5 {
        let (status, _) = if i % 2 == 0 {
            login_in_process(&a, PEER, "clara", "not the password at all").await
        } else {
            login_in_process(&b, PEER, "clara", "not the password at all").await
        };
        assert_eq!(status, 401, "{}: attempt {}", t.name, i + 1);
    }
    // A name that does not exist is counted alike.
    for _ in 0..5 {
        let (status, _) = login_in_process(&b, PEER, "ghost", "whatever it is").await;
        assert_eq!(status, 401, "{}", t.name);
    }
    assert_eq!(login_in_process(&b, PEER, "ghost", "again").await.0, 429);
    let (status, retry) = login_in_process(&b, PEER, "clara", PASSWORD).await;
    assert_eq!((status, retry), (429, Some(900)), "{}", t.name);
    clock.advance(chrono::Duration::minutes(10));
    let (status, retry) = login_in_process(&a, PEER, "clara", PASSWORD).await;
    assert_eq!((status, retry), (429, Some(300)), "{}", t.name);
    assert_eq!(
        attempt_rows(&a.state.db),
        3,
        "{}: clara, ghost, the address",
        t.name
    );
    // Fifteen minutes on, the lockout is over on both replicas, without
    // anyone lifting it; the rows that said nothing more are gone.
    clock.advance(chrono::Duration::minutes(5));
    let (status, _) = login_in_process(&b, PEER, "clara", PASSWORD).await;
    assert_eq!(status, 200, "{}", t.name);
    assert_eq!(
        attempt_rows(&a.state.db),
        1,
        "{}: only the address's fresh count is left",
        t.name
    );
    let lockouts = entries(&t.url)
        .into_iter()
        .filter(|e| e.action == "session.lockout")
        .map(|e| e.entity_id)
        .collect::<Vec<_>>();
    assert_eq!(lockouts, ["clara", "ghost"], "{}", t.name);
}

common::backend_test!(async a_successful_log_in_clears_the_count_on_every_replica);
async fn a_successful_log_in_clears_the_count_on_every_replica(t: common::TestDb) {
    use vigil::accounts::ManualClock;
    let clock = ManualClock::new(chrono::Utc::now());
    let a = common::app::serve(common::app::state(&t, clock.clone())).await;
    let b = common::app::serve(replica(&t, &clock)).await;
    const PEER: &str = "198.51.100.30:5000";
    for _ in 0..4 {
        let (status, _) = login_in_process(&a, PEER, "clara", "not the password at all").await;
        assert_eq!(status, 401, "{}", t.name);
    }
    // The fifth attempt, on the other replica, is the right one.
    assert_eq!(login_in_process(&b, PEER, "clara", PASSWORD).await.0, 200);
    // The count starts again: five more attempts are checked.
    for i in 0..5 {
        let (status, _) = login_in_process(&b, PEER, "clara", "still not the password").await;
        assert_eq!(
            status,
            401,
            "{}: attempt {} after the success",
            t.name,
            i + 1
        );
    }
    assert_eq!(login_in_process(&a, PEER, "clara", PASSWORD).await.0, 429);
    // Successes take nothing from the address: twenty-five log-ins
    // from it (by others) all go through.
    for _ in 0..25 {
        assert_eq!(login_in_process(&a, PEER, "cora", PASSWORD).await.0, 200);
    }
    assert_eq!(actions(&t.url, "session.login_failed", "clara"), 9);
    assert_eq!(actions(&t.url, "session.lockout", "clara"), 1);
}
