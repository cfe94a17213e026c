//! The `vigil` binary, run as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::vigil;

/// A plain HTTP/1.1 GET; returns status line, headers and body as text.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn serve_demo_answers_the_published_document_from_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = common::serve_demo(dir.path(), &[]);
    let start = Instant::now();
    let res = loop {
        match get(port, "/api/v1/events/beslan-2004") {
            Ok(r) => break r,
            Err(_) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("the server did not answer: {e}"),
        }
    };
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    let body = &res[res.find("\r\n\r\n").unwrap() + 4..];
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["event"]["slug"], "beslan-2004");
    assert_eq!(doc["version"], 1);
    assert!(vigil::document::verify(body).unwrap());
    let etag = format!("etag: \"{}\"", doc["sha256"].as_str().unwrap());
    assert!(res.to_ascii_lowercase().contains(&etag), "{res}");
    assert!(
        dir.path().join("vigil.db").exists(),
        "the default database is ./vigil.db"
    );
    let missing = get(port, "/api/v1/events/nowhere").unwrap();
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains("application/problem+json"), "{missing}");
}

#[test]
fn a_failed_import_exits_non_zero_and_names_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::beslan_copy();
    common::edit(
        data.path(),
        "figures.csv",
        ",,777,,confirmed",
        ",,seven hundred,,confirmed",
    );
    let out = vigil(dir.path())
        .arg("import")
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("figures.csv:23:8: best: 'seven hundred' is not a whole number"),
        "{err}"
    );
    // Nothing was stored.
    let out = vigil(dir.path())
        .args(["export", "beslan-2004", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event 'beslan-2004'"));
}

#[test]
fn import_then_export_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = vigil(dir.path())
        .arg("import")
        .arg(common::beslan_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("beslan-2004: published version 1"));
    let out = vigil(dir.path())
        .args(["export", "beslan-2004", "out"])
        .output()
        .unwrap();
    assert!(out.status.success());
    for f in common::FILES {
        assert_eq!(
            std::fs::read(dir.path().join("out").join(f)).unwrap(),
            std::fs::read(common::beslan_dir().join(f)).unwrap()
        );
    }
}

#[test]
fn every_command_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["serve", "migrate", "import", "export", "check"] {
        let out = vigil(dir.path()).args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--database-url"), "{cmd}: {text}");
    }
    let out = vigil(dir.path())
        .args(["check", "--format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "bad usage exits 2");
}

/// A server learns of a version published by someone else (another replica,
/// here the library on the same database) by polling, without a restart.
#[test]
fn a_running_server_picks_up_a_version_published_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = common::serve_demo(dir.path(), &["--refresh-seconds", "1"]);
    let version_of = |res: &str| -> Option<i64> {
        let body = &res[res.find("\r\n\r\n")? + 4..];
        serde_json::from_str::<serde_json::Value>(body).ok()?["version"].as_i64()
    };
    let start = Instant::now();
    loop {
        if let Ok(r) = get(port, "/api/v1/events/beslan-2004") {
            assert_eq!(version_of(&r), Some(1));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let db = vigil::db::Db::open(&format!(
        "sqlite://{}",
        dir.path().join("vigil.db").display()
    ))
    .unwrap();
    let mut ds = vigil::service::dataset(&db, "beslan-2004").unwrap();
    ds.figures
        .iter_mut()
        .find(|f| f.key == "missing.early")
        .unwrap()
        .low = Some(181);
    common::publish::publish_reviewed(&db, &ds, "the early missing, as a newer source states");
    let start = Instant::now();
    loop {
        let r = get(port, "/api/v1/events/beslan-2004").unwrap();
        if version_of(&r) == Some(2) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "version 2 never appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn json_logs_carry_the_request_id_the_response_returns() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let log = dir.path().join("server.log");
    let child = vigil(dir.path())
        .args(["--log-format", "json", "serve", "--demo", "--workers", "1"])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("VIGIL_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = common::Killed(child);
    common::wait_for_port(port);
    let ok = common::http(
        port,
        "GET",
        "/api/v1/events/beslan-2004",
        &[("X-Request-Id", "memorial-7")],
        None,
    )
    .unwrap();
    assert_eq!(ok.status, 200);
    // vigil's own id answers, never the client's.
    let ours = ok
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .to_string();
    assert_ne!(ours, "memorial-7");
    let missing = common::http(port, "GET", "/api/v1/events/nowhere", &[], None).unwrap();
    let id = missing
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .to_string();
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = |rid: &str| {
        lines
            .iter()
            .find(|l| l["span"]["request_id"] == rid && l["fields"]["message"] == "request")
            .unwrap_or_else(|| panic!("no request line for {rid} in:\n{text}"))
            .clone()
    };
    let first = request(&ours);
    assert_eq!(first["fields"]["status"], 200);
    assert_eq!(first["fields"]["path"], "/api/v1/events/beslan-2004");
    assert_eq!(request(&id)["fields"]["status"], 404);
    assert!(lines.iter().any(|l| l["fields"]["message"] == "serving"));
}
