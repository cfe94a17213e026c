//! Faults, on real databases and a real `vigil` process: SIGKILL during an
//! import and during an approval (each with its publish) leaves the change
//! entirely there with its audit entries or entirely absent, and `vigil
//! audit verify` holds; SIGTERM lets an approval in flight finish; a full
//! disk and a read-only disk (SQLite on a tmpfs of its own) refuse writes
//! with a clear error and lose nothing; PostgreSQL going away gives 503 on
//! writes and readiness, public reads go on from memory, and the service
//! recovers without a restart.
//!
//! The disk tests mount a tmpfs, which needs root; without it they are
//! skipped with the reason printed (`.ci/run` runs as root and fails on a
//! skip).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{generated, http, Killed};
use vigil::db::{self, Db};
use vigil::service;

const GENERATED: &str = "generated";

fn vigil(url: &str, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.current_dir(dir)
        .env_remove("VIGIL_DATABASE_URL")
        .args(["--database-url", url]);
    c
}

fn run(url: &str, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = vigil(url, dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn key(dir: &Path) -> String {
    dir.join("audit.key").display().to_string()
}

fn verify(url: &str, dir: &Path) {
    let (code, out) = run(url, dir, &["audit", "verify", "--audit-key", &key(dir)]);
    assert_eq!(code, 0, "vigil audit verify: {out}");
}

fn import(url: &str, dir: &Path, folder: &Path) {
    let (code, out) = run(
        url,
        dir,
        &["import", folder.to_str().unwrap(), "--audit-key", &key(dir)],
    );
    assert_eq!(code, 0, "{out}");
}

fn token(url: &str, dir: &Path, name: &str, role: &str) -> String {
    let (code, out) = run(url, dir, &["token", "create", name, "--role", role]);
    assert_eq!(code, 0, "{out}");
    out.lines()
        .find(|l| l.starts_with("vigil_"))
        .unwrap()
        .trim()
        .to_string()
}

/// `vigil serve` on `url` with its log in `dir/server-N.log`.
fn serve(url: &str, dir: &Path, demo: bool) -> (Killed, u16) {
    let port = common::free_port();
    let log = std::fs::File::create(dir.join(format!("server-{port}.log"))).unwrap();
    let mut c = vigil(url, dir);
    c.args(["serve", "--workers", "2", "--audit-key", &key(dir)])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("VIGIL_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    if demo {
        c.arg("--demo");
    }
    let child = Killed(c.spawn().unwrap());
    common::wait_for_port(port);
    (child, port)
}

/// A generated event of `groups` × 10 figures with a claim from each of
/// `sources` sources, its figures' notes set to `notes`, in a new folder.
fn generated_folder(groups: usize, sources: usize, notes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    generated::write(
        dir.path(),
        &generated::event(GENERATED, groups, sources, usize::MAX, notes),
    );
    dir
}

/// After a kill during `vigil import` of the generated event: it is there
/// whole, published and logged, or not at all. True when it is there.
fn import_all_or_nothing(url: &str, dir: &Path, groups: usize) -> bool {
    let db = Db::open(url).unwrap();
    db.migrate().unwrap();
    let present = db.read(|c| db::event_exists(c, GENERATED)).unwrap();
    let imports: Vec<_> = common::audit_log(&db, Some("event.import"))
        .into_iter()
        .filter(|e| e.entity_id == GENERATED)
        .collect();
    let publishes: Vec<_> = common::audit_log(&db, Some("version.publish"))
        .into_iter()
        .filter(|e| e.entity_id.starts_with("generated/"))
        .collect();
    if present {
        let ds = service::dataset(&db, GENERATED).unwrap();
        assert_eq!(ds.figures.len(), groups * 10);
        assert_eq!(ds.claims.len(), groups * 10 * IMPORT_SOURCES);
        let versions = service::versions(&db, GENERATED).unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(imports.len(), 1);
        assert_eq!(publishes.len(), 1);
        assert_eq!(publishes[0].entity_id, "generated/1");
    } else {
        assert!(imports.is_empty() && publishes.is_empty());
        assert!(db
            .read(|c| db::latest_version(c, GENERATED))
            .unwrap()
            .is_none());
    }
    // What was there before is untouched.
    assert_eq!(service::versions(&db, "beslan-2004").unwrap().len(), 1);
    verify(url, dir);
    present
}

/// Kill delays that grow until the operation finishes on its own.
fn delays() -> impl Iterator<Item = Duration> {
    [
        0u64, 40, 100, 200, 350, 600, 1000, 1600, 2500, 4000, 6000, 9000, 14000,
    ]
    .into_iter()
    .map(Duration::from_millis)
}

/// Sources per figure of the imports that are killed: many claims make a
/// long transaction.
const IMPORT_SOURCES: usize = 10;

common::backend_test!(sigkill_during_an_import_and_its_publish_leaves_all_or_nothing);
fn sigkill_during_an_import_and_its_publish_leaves_all_or_nothing(t: common::TestDb) {
    const GROUPS: usize = 150;
    let folder = generated_folder(GROUPS, IMPORT_SOURCES, "");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import(&t.url, d, &common::beslan_dir());
    let mut absent = 0;
    let mut present = false;
    for delay in delays() {
        let mut child = vigil(&t.url, d)
            .args([
                "import",
                folder.path().to_str().unwrap(),
                "--audit-key",
                &key(d),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        present = import_all_or_nothing(&t.url, d, GROUPS);
        common::say(&format!(
            "{}: import killed after {delay:?}: {}",
            t.name,
            if finished {
                "it had finished"
            } else if present {
                "committed"
            } else {
                "absent"
            }
        ));
        if present {
            break;
        }
        absent += 1;
    }
    assert!(present, "{}: the import never completed", t.name);
    assert!(absent > 0, "{}: no kill landed before the commit", t.name);
}

/// The generated event published, and a submitted changeset (from a
/// re-import) that changes every figure's notes; a reviewer token.
fn pending_approval(url: &str, dir: &Path, groups: usize) -> (i64, String) {
    import(url, dir, &common::beslan_dir());
    // One claim per figure: many edits, a small document.
    import(url, dir, generated_folder(groups, 1, "").path());
    import(url, dir, generated_folder(groups, 1, "revised").path());
    let db = Db::open(url).unwrap();
    let cs = service::changesets::list(
        &db,
        &service::operator().1,
        Some(GENERATED),
        Some(service::changesets::State::Submitted),
    )
    .unwrap();
    assert_eq!(cs.len(), 1);
    (cs[0].id, token(url, dir, "reviewer", "reviewer"))
}

/// After a kill during an approval: approved, version 2 published with
/// every figure revised and both entries logged; or still submitted with
/// none of it. True when approved.
fn approval_all_or_nothing(url: &str, dir: &Path, id: i64, groups: usize) -> bool {
    let db = Db::open(url).unwrap();
    let cs = db.read(|c| db::changeset(c, id)).unwrap().unwrap();
    let versions = service::versions(&db, GENERATED).unwrap();
    let ds = service::dataset(&db, GENERATED).unwrap();
    let revised = ds.figures.iter().filter(|f| f.notes == "revised").count();
    let approvals = common::audit_log(&db, Some("changeset.approve"))
        .into_iter()
        .filter(|e| e.entity_id == id.to_string())
        .count();
    let publishes = common::audit_log(&db, Some("version.publish"))
        .into_iter()
        .filter(|e| e.entity_id == "generated/2")
        .count();
    let approved = cs.state == "approved";
    if approved {
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[1].changeset, Some(id));
        assert_eq!(revised, groups * 10);
        assert_eq!((approvals, publishes), (1, 1));
    } else {
        assert_eq!(cs.state, "submitted");
        assert_eq!(versions.len(), 1);
        assert_eq!(revised, 0);
        assert_eq!((approvals, publishes), (0, 0));
    }
    verify(url, dir);
    approved
}

fn approve_in_background(
    port: u16,
    id: i64,
    token: &str,
) -> std::thread::JoinHandle<Result<common::Answer, std::io::Error>> {
    let auth = format!("Bearer {token}");
    // The reviewer looks at the changeset first, then approves what it saw.
    let seen = http(
        port,
        "GET",
        &format!("/api/v1/changesets/{id}"),
        &[("Authorization", &auth)],
        None,
    )
    .unwrap();
    let revision = serde_json::from_str::<serde_json::Value>(&seen.body).unwrap()["changeset"]
        ["revision"]
        .as_i64()
        .unwrap();
    std::thread::spawn(move || {
        http(
            port,
            "POST",
            &format!("/api/v1/changesets/{id}/approve"),
            &[
                ("Authorization", &auth),
                ("If-Match", &revision.to_string()),
            ],
            Some("{}"),
        )
    })
}

common::backend_test!(sigkill_during_an_approval_and_its_publish_leaves_all_or_nothing);
fn sigkill_during_an_approval_and_its_publish_leaves_all_or_nothing(t: common::TestDb) {
    const GROUPS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (id, reviewer) = pending_approval(&t.url, d, GROUPS);
    let mut submitted = 0;
    let mut approved = false;
    for delay in delays() {
        let (server, port) = serve(&t.url, d, false);
        let request = approve_in_background(port, id, &reviewer);
        std::thread::sleep(delay);
        drop(server); // SIGKILL
        let answer = request.join().unwrap();
        approved = approval_all_or_nothing(&t.url, d, id, GROUPS);
        common::say(&format!(
            "{}: server killed {delay:?} into an approval: {} (the client got {})",
            t.name,
            if approved {
                "approved"
            } else {
                "still submitted"
            },
            match &answer {
                Ok(a) => a.status.to_string(),
                Err(e) => e.to_string(),
            }
        ));
        if approved {
            break;
        }
        submitted += 1;
    }
    assert!(approved, "{}: the approval never completed", t.name);
    assert!(
        submitted > 0,
        "{}: no kill landed before the commit",
        t.name
    );
}

#[test]
fn sigterm_lets_an_approval_in_flight_finish() {
    const GROUPS: usize = 300;
    let t = common::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (id, reviewer) = pending_approval(&t.url, d, GROUPS);
    let (mut server, port) = serve(&t.url, d, false);
    let request = approve_in_background(port, id, &reviewer);
    // Let the request reach the server; the approval takes seconds.
    let db = Db::open(&t.url).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = db.read(|c| db::changeset(c, id)).unwrap().unwrap().state;
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let answer = request.join().unwrap().unwrap();
    let exit = server.0.wait().unwrap();
    assert_eq!(
        before, "submitted",
        "the approval finished before SIGTERM; the test needs a larger changeset"
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["published"]["version"], 2, "{}", answer.body);
    assert!(
        exit.success(),
        "vigil serve exited with {exit:?} after SIGTERM"
    );
    let log = std::fs::read_to_string(d.join(format!("server-{port}.log"))).unwrap();
    assert!(log.contains("stopped"), "{log}");
    assert!(approval_all_or_nothing(&t.url, d, id, GROUPS));
    // A last checkpoint covers everything written before the stop.
    let size = db.read(db::audit_size).unwrap();
    let last = db.read(db::latest_checkpoint).unwrap().unwrap();
    assert_eq!(last.size, size);
    // And nothing listens any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// A tmpfs of `size` mounted on `dir/mnt`, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path, size: &str, test: &str) -> Option<Mount> {
        let at = dir.join("mnt");
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .stderr(Stdio::piped())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            common::say(&format!(
                "SKIPPED (mount) {test}: cannot mount a tmpfs here (needs root)"
            ));
            return None;
        }
        Some(Mount(at))
    }

    fn remount(&self, options: &str) {
        let s = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(s.success(), "remount {options}");
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.join("vigil.db").display())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_an_import_with_a_clear_error_and_keeps_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(mnt) = Mount::new(d, "1600k", "a full disk") else {
        return;
    };
    let url = mnt.url();
    import(&url, d, &common::beslan_dir());
    let db = Db::open(&url).unwrap();
    let before = common::export_bytes(&db, "beslan-2004");
    const GROUPS: usize = 400;
    let big = generated_folder(GROUPS, IMPORT_SOURCES, "");
    let (code, out) = run(
        &url,
        d,
        &[
            "import",
            big.path().to_str().unwrap(),
            "--audit-key",
            &key(d),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("disk is full"), "{out}");
    assert!(!import_all_or_nothing(&url, d, GROUPS));
    assert_eq!(common::export_bytes(&db, "beslan-2004"), before);
    // With room made, the same import goes through.
    mnt.remount("size=64m");
    import(&url, d, big.path());
    assert!(import_all_or_nothing(&url, d, GROUPS));
}

#[test]
fn a_read_only_disk_gives_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(mnt) = Mount::new(d, "64m", "a read-only disk") else {
        return;
    };
    let url = mnt.url();
    import(&url, d, &common::beslan_dir());
    let before = common::export_bytes(&Db::open(&url).unwrap(), "beslan-2004");
    mnt.remount("ro");
    let changed = common::beslan_copy();
    common::edit(
        changed.path(),
        "figures.csv",
        "People held hostage",
        "People taken hostage",
    );
    let (code, out) = run(
        &url,
        d,
        &[
            "import",
            changed.path().to_str().unwrap(),
            "--audit-key",
            &key(d),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("read-only"), "{out}");
    let port = common::free_port().to_string();
    let (code, out) = run(&url, d, &["serve", "--bind", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("read-only"), "{out}");
    // Writable again: everything as it was, and the import goes through.
    mnt.remount("rw");
    let db = Db::open(&url).unwrap();
    assert_eq!(common::export_bytes(&db, "beslan-2004"), before);
    verify(&url, d);
    import(&url, d, changed.path());
    assert_eq!(
        service::changesets::list(
            &db,
            &vigil::service::operator().1,
            None,
            Some(service::changesets::State::Submitted)
        )
        .unwrap()
        .len(),
        1
    );
}

#[test]
fn postgres_going_away_gives_503_on_writes_reads_go_on_and_it_recovers() {
    let Some(t) = common::postgres("PostgreSQL going away") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import(&t.url, d, &common::beslan_dir());
    let curator = format!("Bearer {}", token(&t.url, d, "curator", "curator"));
    let (_server, port) = serve(&t.url, d, false);
    let name = t.url.rsplit('/').next().unwrap().to_string();
    let admin = common::postgres_admin_url();
    let sql = |q: &str| {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(&admin).unwrap();
        c.batch_execute(q).unwrap();
    };
    let open = || {
        http(
            port,
            "POST",
            "/api/v1/changesets",
            &[("Authorization", &curator)],
            Some(r#"{"event": "beslan-2004", "reason": "a source note"}"#),
        )
        .unwrap()
    };
    let doc = http(port, "GET", "/api/v1/events/beslan-2004", &[], None).unwrap();
    assert_eq!(doc.status, 200);
    assert_eq!(http(port, "GET", "/readyz", &[], None).unwrap().status, 200);

    // The database refuses connections and drops those it has.
    sql(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ));
    let again = http(port, "GET", "/api/v1/events/beslan-2004", &[], None).unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(again.body, doc.body);
    let ready = http(port, "GET", "/readyz", &[], None).unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["ready"], false);
    assert_eq!(ready.json()["database"], false);
    let refused = open();
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.headers.contains("application/problem+json"));

    // Back: the same process recovers.
    sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true;"));
    let started = Instant::now();
    loop {
        let r = http(port, "GET", "/readyz", &[], None).unwrap();
        if r.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not ready again: {}",
            r.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let opened = open();
    assert_eq!(opened.status, 201, "{}", opened.body);
    let db = Db::open(&t.url).unwrap();
    assert_eq!(
        service::changesets::list(&db, &vigil::service::operator().1, None, None)
            .unwrap()
            .len(),
        1
    );
    verify(&t.url, d);
}
