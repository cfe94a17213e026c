//! Old versions under a burst of first reads: an event with 101 versions
//! (Beslan, then 100 publishes changing one note each) in SQLite, served
//! by the release `vigil serve` with one worker; 200 concurrent
//! `GET /api/v1/events/beslan-2004?version=N` across versions 1 to 100
//! (two readers per version), none cached before. Prints the time for all
//! of them, each read's p50 and p99, and the server's resident memory
//! before and at its peak. Target: all finish; memory grows by less than
//! the cache budget plus 64 MB. Run for the default budget (64 MB) and for
//! `OLD_VERSIONS_MB` (default 8), where most versions are evicted again.
//!
//! `cargo bench --bench old_versions`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use vigil::files::Folder;
use vigil::service::Db;
use vigil::service::{self, Context};

#[path = "../tests/common/publish.rs"]
mod publish;

const VERSIONS: i64 = 100;
const READERS: i64 = 200;

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One GET on a new connection: the status code and the body's length.
fn get(port: u16, path: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let head = String::from_utf8_lossy(&out[..out.len().min(64)]).to_string();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out.len())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(url: &str, budget_mb: usize) {
    let port = free_port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "serve",
            "--database-url",
            url,
            "--workers",
            "1",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--version-cache-mb",
            &budget_mb.to_string(),
            "--audit-key",
        ])
        .arg(std::env::temp_dir().join(format!("vigil-bench-{}.key", std::process::id())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = server.id();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "no server");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Warm: the latest version, a few times.
    for _ in 0..20 {
        assert_eq!(get(port, "/api/v1/events/beslan-2004").0, 200);
    }
    let before = status_kb(pid, "VmRSS:");
    let t = Instant::now();
    let took: Vec<(u16, Duration)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..READERS)
            .map(|i| {
                s.spawn(move || {
                    let n = 1 + i % VERSIONS;
                    let t = Instant::now();
                    let (code, _) = get(port, &format!("/api/v1/events/beslan-2004?version={n}"));
                    (code, t.elapsed())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all = t.elapsed();
    let peak = status_kb(pid, "VmHWM:");
    let after = status_kb(pid, "VmRSS:");
    let failed = took.iter().filter(|(c, _)| *c != 200).count();
    let mut times: Vec<Duration> = took.iter().map(|(_, d)| *d).collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "old_versions/{READERS}_first_reads_of_{VERSIONS}_versions budget {budget_mb} MB: \
         all done in {:.2} s, {failed} failed; each p50 {:.0} ms, p99 {:.0} ms; \
         RSS {:.1} MB before, {:.1} MB after, peak {:.1} MB: grew {:.1} MB \
         (target: growth < {} MB, the budget plus 64 MB)",
        all.as_secs_f64(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 99 / 100]),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(before)) as f64 / 1024.0,
        budget_mb + 64
    );
    assert_eq!(failed, 0);
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let db = Db::open(&url).unwrap();
    db.migrate().unwrap();
    let t = Instant::now();
    let folder = Folder::read_dir(std::path::Path::new("imports/beslan-2004")).unwrap();
    service::import(&db, &Context::actor("bench"), &folder, false).unwrap();
    let mut ds = service::dataset(&db, "beslan-2004").unwrap();
    for v in 2..=VERSIONS + 1 {
        ds.figures[0].notes = format!("note {v}");
        publish::publish_reviewed(&db, &ds, "a note changed, to make another version");
    }
    drop(db);
    eprintln!("published {} versions in {:?}", VERSIONS + 1, t.elapsed());
    let small: usize = std::env::var("OLD_VERSIONS_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    run(&url, 64);
    run(&url, small);
}
