//! The audit log on real SQLite and PostgreSQL databases: one entry per
//! action in the same transaction, append-only triggers, tampering found by
//! `vigil audit verify`, proofs checked by an independent implementation,
//! and concurrent writers that never leave a gap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{audit_log, edit_notes, person};

use std::path::Path;
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vigil::accounts::Role;
use vigil::audit::AuditFilter;
use vigil::db::Db;
use vigil::files::Folder;
use vigil::service::{self, audit, Context};

const SLUG: &str = "beslan-2004";
const PASSWORD: &str = "a long quiet evening";

fn ctx(actor: &str) -> Context {
    Context::actor(actor)
}

/// An event imported, two accounts, a changeset approved: a log of a dozen
/// entries, and a checkpoint signed with a key in `dir`.
fn populated(t: &common::TestDb, dir: &Path) -> (Db, vigil::audit::checkpoint::SignerKey) {
    let db = t.open();
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(&db, &ctx("cli:test"), &folder, false).unwrap();
    service::accounts::add_user(
        &db,
        &ctx("cli:test"),
        &vigil::accounts::Principal::operator("test"),
        "clara",
        PASSWORD,
        &[Role::Curator],
    )
    .unwrap();
    service::accounts::add_user(
        &db,
        &ctx("cli:test"),
        &vigil::accounts::Principal::operator("test"),
        "rafael",
        PASSWORD,
        &[Role::Reviewer],
    )
    .unwrap();
    let clara = person("clara", &[Role::Curator]);
    let rafael = person("rafael", &[Role::Reviewer]);
    let id = service::changesets::open(&db, &ctx("user:clara"), &clara, SLUG, "a note").unwrap();
    edit_notes(&db, &clara, id, "injured.total", "a note");
    service::changesets::submit(&db, &ctx("user:clara"), &clara, id, None).unwrap();
    service::changesets::approve(
        &db,
        &ctx("user:rafael"),
        &rafael,
        id,
        vigil::service::changesets::get(&db, &vigil::service::operator().1, id)
            .unwrap()
            .revision,
        Some("checked"),
    )
    .unwrap();
    let key_path = dir.join("audit.key");
    audit::keygen(&key_path, "test/audit").unwrap();
    let key = audit::load_key(&key_path).unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    (db, key)
}

/// Runs `vigil audit verify` on the database; its exit code and output.
fn verify_cli(t: &common::TestDb, dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["--database-url", &t.url, "audit", "verify", "--audit-key"])
        .arg(dir.join("audit.key"))
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs SQL straight through the database driver, as an attacker with
/// database access would, after dropping the append-only triggers.
fn attack(t: &common::TestDb, sql: &str) {
    let drop = if t.name == "sqlite" {
        "DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete;"
    } else {
        "DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries;"
    };
    let script = format!("{drop} {sql}");
    if t.name == "sqlite" {
        let path = t.url.trim_start_matches("sqlite://");
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        c.batch_execute(&script).unwrap();
    } else {
        let mut c = diesel::PgConnection::establish(&t.url).unwrap();
        c.batch_execute(&script).unwrap();
    }
}

fn leaf_hex(e: &vigil::audit::Entry) -> String {
    hex::encode(e.leaf_hash())
}

common::backend_test!(the_database_refuses_changes_to_the_log);
fn the_database_refuses_changes_to_the_log(t: common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = populated(&t, dir.path());
    let mut c = db.conn().unwrap();
    for sql in [
        "UPDATE audit_entries SET actor = 'someone' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "UPDATE audit_checkpoints SET root = 'x'",
        "DELETE FROM audit_checkpoints",
    ] {
        let e = diesel::sql_query(sql).execute_on(&mut c);
        assert!(e.is_err(), "{}: {sql} was allowed", t.name);
    }
    if t.name == "postgres" {
        let e = diesel::sql_query("TRUNCATE audit_entries").execute_on(&mut c);
        assert!(e.is_err(), "TRUNCATE was allowed");
    }
    let (code, out) = verify_cli(&t, dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
}

trait ExecuteOn {
    fn execute_on(self, c: &mut vigil::db::Conn) -> diesel::QueryResult<usize>;
}

impl ExecuteOn for diesel::query_builder::SqlQuery {
    fn execute_on(self, c: &mut vigil::db::Conn) -> diesel::QueryResult<usize> {
        use diesel::RunQueryDsl;
        self.execute(c)
    }
}

common::backend_test!(verify_names_each_kind_of_tampering);
fn verify_names_each_kind_of_tampering(backend: common::TestDb) {
    // Each attack on a fresh, identical log, in a database of its own.
    type Attack = fn(&common::TestDb, &Db) -> &'static str;
    let attacks: Vec<(&str, Attack)> = vec![
        ("change one value", |t, _| {
            attack(
                t,
                "UPDATE audit_entries SET actor = 'user:someone-else' WHERE seq = 3",
            );
            "entry 3: its content does not match its stored leaf hash"
        }),
        ("delete the last entry", |t, db| {
            let n = audit_log(db, None).len();
            attack(t, &format!("DELETE FROM audit_entries WHERE seq = {n}"));
            "entries"
        }),
        ("delete a middle entry", |t, _| {
            attack(t, "DELETE FROM audit_entries WHERE seq = 5");
            "entries 5 to 5 are missing"
        }),
        ("swap two entries", |t, db| {
            let e = audit_log(db, None);
            let (a, b) = (&e[3], &e[4]);
            let set = |x: &vigil::audit::Entry, y: &vigil::audit::Entry| {
                format!(
                        "UPDATE audit_entries SET action = '{}', actor = '{}', entity = '{}', entity_id = '{}', leaf = '{}' WHERE seq = {};",
                        y.action, y.actor, y.entity, y.entity_id, leaf_hex(y), x.seq
                    )
            };
            attack(t, &format!("{}{}", set(a, b), set(b, a)));
            "entry 4: its content does not match its stored leaf hash"
        }),
        ("insert an entry outside the sequence", |t, _| {
            attack(t, "INSERT INTO audit_entries (seq, at, actor, action, entity, entity_id, leaf) VALUES (0, '2004-09-01T00:00:00.000Z', 'cli:x', 'version.publish', 'version', 'beslan-2004/0', 'x')");
            "a sequence number below 1"
        }),
        ("change a value and recompute its hash", |t, db| {
            let mut e = audit_log(db, None)[1].clone();
            e.summary = Some("nothing happened here".into());
            attack(
                    t,
                    &format!(
                        "UPDATE audit_entries SET summary = 'nothing happened here', leaf = '{}' WHERE seq = 2",
                        leaf_hex(&e)
                    ),
                );
            "no longer have the signed root"
        }),
    ];
    for (what, attack_fn) in attacks {
        let t = backend.another("verify_names_each_kind_of_tampering");
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = populated(&t, dir.path());
        let (code, out) = verify_cli(&t, dir.path(), &[]);
        assert_eq!(code, 0, "{}: before the attack: {out}", t.name);
        let says = attack_fn(&t, &db);
        let (code, out) = verify_cli(&t, dir.path(), &[]);
        assert_eq!(code, 1, "{} {what}: not detected: {out}", t.name);
        assert!(out.contains(says), "{} {what}: {out}", t.name);
    }
}

common::backend_test!(a_saved_checkpoint_proves_the_log_only_grew);
fn a_saved_checkpoint_proves_the_log_only_grew(t: common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = populated(&t, dir.path());
    let saved = audit::latest_checkpoint(&db).unwrap().note;
    let file = dir.path().join("saved.checkpoint");
    std::fs::write(&file, &saved).unwrap();
    // The log grows and is checkpointed again: it extends the saved one.
    service::accounts::add_user(
        &db,
        &ctx("cli:test"),
        &vigil::accounts::Principal::operator("test"),
        "aude",
        PASSWORD,
        &[Role::Auditor],
    )
    .unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    let (code, out) = verify_cli(&t, dir.path(), &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("extends the saved checkpoint"), "{out}");
    // An operator rewrites history and re-signs every checkpoint with the
    // key: the stored checkpoints agree, the saved one does not.
    let mut e = audit_log(&db, None)[0].clone();
    e.actor = "cli:nobody".into();
    attack(
            &t,
            &format!(
                "UPDATE audit_entries SET actor = 'cli:nobody', leaf = '{}' WHERE seq = 1; DELETE FROM audit_checkpoints;",
                leaf_hex(&e)
            )
            .replace(
                "DELETE FROM audit_checkpoints;",
                // … and the stored tree nodes, which the new checkpoint
                // then computes again from the rewritten leaves.
                if t.name == "sqlite" {
                    "DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_checkpoints; \
                     DROP TRIGGER audit_nodes_no_delete; DELETE FROM audit_nodes;"
                } else {
                    "DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints; DELETE FROM audit_checkpoints; \
                     DROP TRIGGER audit_nodes_append_only ON audit_nodes; DELETE FROM audit_nodes;"
                },
            ),
        );
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    let (code, out) = verify_cli(&t, dir.path(), &[]);
    assert_eq!(
        code, 0,
        "the rewritten log agrees with its re-signed checkpoint: {out}"
    );
    let (code, out) = verify_cli(&t, dir.path(), &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the saved checkpoint"), "{out}");
}

/// RFC 6962 written out recursively, independent of vigil's iterative code.
mod reference {
    use sha2::{Digest, Sha256};

    pub type H = [u8; 32];

    pub fn node(l: &H, r: &H) -> H {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    }

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    pub fn mth(d: &[H]) -> H {
        match d.len() {
            0 => Sha256::digest([]).into(),
            1 => d[0],
            n => {
                let k = split(n);
                node(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    pub fn path(m: usize, d: &[H]) -> Vec<H> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn subproof(m: usize, d: &[H], b: bool) -> Vec<H> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    pub fn proof(m: usize, d: &[H]) -> Vec<H> {
        if m == 0 || m == d.len() {
            vec![]
        } else {
            subproof(m, d, true)
        }
    }
}

fn hexes(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

common::backend_test!(async proofs_verify_with_an_independent_implementation);
async fn proofs_verify_with_an_independent_implementation(t: common::TestDb) {
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = populated(&t, dir.path());
    let first = audit::latest_checkpoint(&db).unwrap();
    service::accounts::add_user(
        &db,
        &ctx("cli:test"),
        &vigil::accounts::Principal::operator("test"),
        "aude",
        PASSWORD,
        &[Role::Auditor],
    )
    .unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    let mut state = vigil::http::AppState::load(db.clone()).unwrap();
    state.audit_key = Some(std::sync::Arc::new(key));
    let app = init_service(vigil::http::app(actix_web::web::Data::new(state))).await;
    let get = |uri: String| TestRequest::get().uri(&uri).to_request();

    // The leaves, computed here from the JSON Lines export.
    let mut out = Vec::new();
    audit::export(&db, &vigil::service::operator().1, false, &mut out).unwrap();
    let leaves: Vec<reference::H> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(l.as_bytes());
            h.finalize().into()
        })
        .collect();
    let n = leaves.len();

    // The signed checkpoint's root is the tree head of all the leaves.
    let note = String::from_utf8(
        read_body(call_service(&app, get("/api/v1/audit/checkpoint".into())).await)
            .await
            .to_vec(),
    )
    .unwrap();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[0], "test/audit");
    assert_eq!(lines[1], n.to_string());
    use base64::Engine;
    let root = base64::engine::general_purpose::STANDARD
        .decode(lines[2])
        .unwrap();
    assert_eq!(root, reference::mth(&leaves).to_vec(), "{}", t.name);
    let key_text = String::from_utf8(
        read_body(call_service(&app, get("/api/v1/audit/key".into())).await)
            .await
            .to_vec(),
    )
    .unwrap();
    let verifier = vigil::audit::checkpoint::VerifierKey::parse(key_text.trim()).unwrap();
    vigil::audit::checkpoint::open(&note, &verifier).unwrap();

    // Every inclusion proof is the RFC's PATH.
    for seq in 1..=n {
        let res = call_service(&app, get(format!("/api/v1/audit/proof?seq={seq}"))).await;
        assert_eq!(res.status(), 200);
        let v: Value = serde_json::from_slice(&read_body(res).await).unwrap();
        let want: Vec<String> = reference::path(seq - 1, &leaves)
            .iter()
            .map(hex::encode)
            .collect();
        assert_eq!(hexes(&v["proof"]), want, "seq {seq}");
        assert_eq!(v["leaf"], hex::encode(leaves[seq - 1]));
    }
    // The consistency proof from the first checkpoint is the RFC's PROOF.
    let m = first.size as usize;
    let res = call_service(&app, get(format!("/api/v1/audit/proof?from={m}"))).await;
    let v: Value = serde_json::from_slice(&read_body(res).await).unwrap();
    let want: Vec<String> = reference::proof(m, &leaves)
        .iter()
        .map(hex::encode)
        .collect();
    assert_eq!(hexes(&v["proof"]), want);
    assert_eq!(v["from_root"], first.root);
    // vigil's verifiers accept it, and refuse it changed.
    let unhex = |s: &str| -> [u8; 32] { hex::decode(s).unwrap().try_into().unwrap() };
    let proof: Vec<[u8; 32]> = hexes(&v["proof"]).iter().map(|h| unhex(h)).collect();
    let new_root = reference::mth(&leaves);
    assert!(vigil::audit::merkle::verify_consistency(
        m as u64,
        n as u64,
        &unhex(&first.root),
        &new_root,
        &proof
    ));
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(!vigil::audit::merkle::verify_consistency(
        m as u64,
        n as u64,
        &unhex(&first.root),
        &new_root,
        &bad
    ));
    // Bad requests are named.
    let res = call_service(&app, get(format!("/api/v1/audit/proof?seq={}", n + 1))).await;
    assert_eq!(res.status(), 404);
    let res = call_service(&app, get("/api/v1/audit/proof".into())).await;
    assert_eq!(res.status(), 400);
}

common::backend_test!(each_action_writes_exactly_one_entry_and_a_failure_none);
fn each_action_writes_exactly_one_entry_and_a_failure_none(t: common::TestDb) {
    let db = t.open();
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    let clara = person("clara", &[Role::Curator]);
    let rafael = person("rafael", &[Role::Reviewer]);
    let step = |what: &str, action: &str, f: &dyn Fn() -> bool| {
        let before = audit_log(&db, None).len();
        let ok = f();
        let after = audit_log(&db, None);
        let new: Vec<_> = after[before..].iter().map(|e| e.action.clone()).collect();
        if ok {
            assert!(new.contains(&action.to_string()), "{what}: {new:?}");
        } else {
            assert!(new.is_empty(), "{what} failed but wrote {new:?}");
        }
        new.len()
    };
    // An import writes the import and the publish (of version 1).
    assert_eq!(
        step("import", "event.import", &|| service::import(
            &db,
            &ctx("cli:test"),
            &folder,
            false
        )
        .is_ok()),
        2
    );
    assert_eq!(
        step("user add", "user.add", &|| service::accounts::add_user(
            &db,
            &ctx("cli:test"),
            &vigil::accounts::Principal::operator("test"),
            "clara",
            PASSWORD,
            &[Role::Curator]
        )
        .is_ok()),
        1
    );
    assert_eq!(
        step("user add again", "", &|| service::accounts::add_user(
            &db,
            &ctx("cli:test"),
            &vigil::accounts::Principal::operator("test"),
            "clara",
            PASSWORD,
            &[Role::Curator]
        )
        .is_ok()),
        0
    );
    assert_eq!(
        step("weak password", "", &|| service::accounts::add_user(
            &db,
            &ctx("cli:test"),
            &vigil::accounts::Principal::operator("test"),
            "weak",
            "password1234",
            &[Role::Curator]
        )
        .is_ok()),
        0
    );
    assert_eq!(
        step("roles", "user.roles", &|| service::accounts::set_roles(
            &db,
            &ctx("cli:test"),
            &vigil::accounts::Principal::operator("test"),
            "clara",
            &[Role::Curator, Role::Auditor]
        )
        .is_ok()),
        1
    );
    assert_eq!(
        step("token", "token.create", &|| {
            service::accounts::create_token(
                &db,
                &ctx("cli:test"),
                &vigil::accounts::Principal::operator("test"),
                "ci",
                &[Role::Auditor],
                None,
            )
            .is_ok()
        }),
        1
    );
    assert_eq!(
        step("revoke", "token.revoke", &|| {
            service::accounts::revoke_token(
                &db,
                &ctx("cli:test"),
                &vigil::accounts::Principal::operator("test"),
                "ci",
            )
            .is_ok()
        }),
        1
    );
    let limits = service::accounts::LoginLimits::default();
    assert_eq!(
        step("log-in", "session.login", &|| service::accounts::login(
            &db,
            &ctx("anonymous"),
            &limits,
            "clara",
            PASSWORD
        )
        .is_ok()),
        1
    );
    assert_eq!(
        // A security event: written though the log-in fails.
        step("failed log-in", "session.login_failed", &|| matches!(
            service::accounts::login(&db, &ctx("anonymous"), &limits, "clara", "wrong password!"),
            Err(vigil::Error::Unauthorized(_))
        )),
        1
    );
    let id = service::changesets::open(&db, &ctx("user:clara"), &clara, SLUG, "r").unwrap();
    assert_eq!(
        step("edit", "changeset.edit", &|| {
            edit_notes(&db, &clara, id, "injured.total", "n");
            true
        }),
        1
    );
    assert_eq!(
        step("approve a draft", "", &|| service::changesets::approve(
            &db,
            &ctx("user:rafael"),
            &rafael,
            id,
            vigil::service::changesets::get(&db, &vigil::service::operator().1, id)
                .unwrap()
                .revision,
            None
        )
        .is_ok()),
        0
    );
    assert_eq!(
        step("submit", "changeset.submit", &|| {
            service::changesets::submit(&db, &ctx("user:clara"), &clara, id, None).is_ok()
        }),
        1
    );
    assert_eq!(
        step("approve", "changeset.approve", &|| {
            service::changesets::approve(
                &db,
                &ctx("user:rafael"),
                &rafael,
                id,
                vigil::service::changesets::get(&db, &vigil::service::operator().1, id)
                    .unwrap()
                    .revision,
                None,
            )
            .is_ok()
        }),
        2
    );
    assert_eq!(
        step("disable", "user.disable", &|| {
            service::accounts::set_disabled(
                &db,
                &ctx("cli:test"),
                &vigil::accounts::Principal::operator("test"),
                "clara",
                true,
            )
            .is_ok()
        }),
        1
    );
    // The fields of one entry.
    let e = audit_log(&db, None)
        .into_iter()
        .rfind(|e| e.action == "changeset.approve")
        .unwrap();
    assert_eq!(e.actor, "user:rafael");
    assert_eq!(e.entity, "changeset");
    assert_eq!(e.entity_id, id.to_string());
    assert_eq!(e.before.unwrap()["state"], "submitted");
    assert_eq!(e.after.unwrap()["state"], "approved");
    assert!(chrono::DateTime::parse_from_rfc3339(&e.at).is_ok());
    // Secrets never appear.
    for e in audit_log(&db, None) {
        let text = e.canonical();
        assert!(
            !text.contains(PASSWORD) && !text.contains("$argon2"),
            "{text}"
        );
    }
}

common::backend_test!(concurrent_writers_never_leave_a_gap);
fn concurrent_writers_never_leave_a_gap(t: common::TestDb) {
    let db = t.open();
    // Threads of this process.
    std::thread::scope(|s| {
        for i in 0..4 {
            let db = db.clone();
            s.spawn(move || {
                for j in 0..10 {
                    service::accounts::create_token(
                        &db,
                        &ctx("cli:test"),
                        &vigil::accounts::Principal::operator("test"),
                        &format!("t{i}-{j}"),
                        &[Role::Auditor],
                        None,
                    )
                    .unwrap();
                }
            });
        }
    });
    // And two processes at once.
    let dir = tempfile::tempdir().unwrap();
    let spawn = |p: &str| {
        Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "for i in 1 2 3 4 5 6 7 8; do \"$VIGIL\" --database-url \"$URL\" token create {p}$i --role auditor >/dev/null || exit 1; done"
                ))
                .env("VIGIL", env!("CARGO_BIN_EXE_vigil"))
                .env("URL", &t.url)
                .current_dir(dir.path())
                .spawn()
                .unwrap()
    };
    let (mut a, mut b) = (spawn("a"), spawn("b"));
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let entries = audit_log(&db, None);
    assert_eq!(entries.len(), 40 + 16, "{}", t.name);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1, "{}: a gap", t.name);
    }
    let key_path = dir.path().join("audit.key");
    audit::keygen(&key_path, "test/audit").unwrap();
    let key = audit::load_key(&key_path).unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now()).unwrap();
    let v = audit::verify(&db, &vigil::service::operator().1, &key.verifier(), None).unwrap();
    assert!(v.holds(), "{:?}", v.problems);
    assert_eq!(v.entries, 56);
}

/// Appends `n` plain entries to the log, each in its own transaction.
fn append(db: &Db, n: usize, what: &str) {
    for i in 0..n {
        db.write(|c| {
            vigil::db::append_audit(
                c,
                vigil::audit::Entry {
                    seq: 0,
                    at: "2026-12-01T00:00:00.000Z".into(),
                    actor: "cli:test".into(),
                    action: "test.append".into(),
                    entity: "test".into(),
                    entity_id: format!("{what}/{i}"),
                    before: None,
                    after: Some(serde_json::json!({"i": i})),
                    reason: None,
                    summary: None,
                    request_id: None,
                    client_request_id: None,
                    client: None,
                },
            )
        })
        .unwrap();
    }
}

fn all_leaves(db: &Db) -> Vec<vigil::audit::merkle::Hash> {
    audit_log(db, None)
        .iter()
        .map(vigil::audit::Entry::leaf_hash)
        .collect()
}

common::backend_test!(checkpoints_and_proofs_from_the_stored_tree_match_the_tree_of_every_leaf);
fn checkpoints_and_proofs_from_the_stored_tree_match_the_tree_of_every_leaf(t: common::TestDb) {
    use vigil::audit::merkle;
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = populated(&t, dir.path());
    // Sizes that are not powers of two, a checkpoint in between, and a
    // tail of entries written after the last checkpoint (not stored as
    // nodes yet).
    append(&db, 300, "a");
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    let stored = db.read(vigil::db::audit_tree_covered).unwrap();
    append(&db, 37, "b");
    let leaves = all_leaves(&db);
    let n = leaves.len() as i64;
    assert!(stored > 256 && stored < n, "{stored} of {n} covered");
    for size in [
        1,
        2,
        3,
        7,
        8,
        9,
        64,
        100,
        255,
        256,
        257,
        stored - 1,
        stored,
        stored + 1,
        n - 1,
        n,
    ] {
        let p = audit::consistency(&db, 1, Some(size)).unwrap();
        assert_eq!(
            p.to_root,
            hex::encode(merkle::root(&leaves[..size as usize])),
            "{}: root at {size}",
            t.name
        );
        for seq in [1, size / 2 + 1, size] {
            let p = audit::inclusion(&db, seq, Some(size)).unwrap();
            let want = merkle::inclusion_proof(&leaves, (seq - 1) as u64, size as u64).unwrap();
            assert_eq!(
                p.proof,
                want.iter().map(hex::encode).collect::<Vec<_>>(),
                "{}: inclusion of {seq} in {size}",
                t.name
            );
            assert_eq!(p.leaf, hex::encode(leaves[(seq - 1) as usize]));
            // The root is worked out from the path: it must be the tree's.
            assert_eq!(
                p.root,
                hex::encode(merkle::root(&leaves[..size as usize])),
                "{}: the root of the inclusion of {seq} in {size}",
                t.name
            );
        }
        for from in [1, size / 3 + 1, size] {
            let p = audit::consistency(&db, from, Some(size)).unwrap();
            let want = merkle::consistency_proof(&leaves, from as u64, size as u64).unwrap();
            assert_eq!(
                p.proof,
                want.iter().map(hex::encode).collect::<Vec<_>>(),
                "{}: consistency {from} → {size}",
                t.name
            );
            // Both roots are worked out from the proof: they must be the
            // trees' own.
            assert_eq!(
                p.from_root,
                hex::encode(merkle::root(&leaves[..from as usize]))
            );
            assert_eq!(
                p.to_root,
                hex::encode(merkle::root(&leaves[..size as usize])),
                "{}: the new root of {from} → {size}",
                t.name
            );
        }
    }
    // The next checkpoint stores the tail's nodes and signs the root of
    // every leaf.
    let cp = audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    assert_eq!(cp.size, n);
    assert_eq!(cp.root, hex::encode(merkle::root(&leaves)));
    assert_eq!(db.read(vigil::db::audit_tree_covered).unwrap(), n & !1);
    // The tree nodes are append-only too.
    let mut c = db.conn().unwrap();
    for sql in [
        "UPDATE audit_nodes SET idx = idx + 1000000",
        "DELETE FROM audit_nodes",
    ] {
        assert!(diesel::sql_query(sql).execute_on(&mut c).is_err(), "{sql}");
    }
}

common::backend_test!(a_log_without_stored_nodes_is_filled_in_at_start);
fn a_log_without_stored_nodes_is_filled_in_at_start(t: common::TestDb) {
    use vigil::audit::merkle;
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = populated(&t, dir.path());
    append(&source, 1000, "x");
    let rows: Vec<vigil::db::EntryRow> = audit_log(&source, None)
        .iter()
        .map(vigil::db::EntryRow::of)
        .collect();
    // A log as it stands after the migration (or a restore): entries,
    // no nodes.
    let t2 = t.another("a_log_without_stored_nodes_2");
    let db = t2.open();
    db.write(|c| vigil::db::insert_audit_rows(c, &rows))
        .unwrap();
    assert_eq!(db.read(vigil::db::audit_tree_covered).unwrap(), 0);
    let made = audit::complete_tree(&db).unwrap();
    let n = rows.len() as u64;
    assert!(made >= n - 64 && made < n, "{made} nodes for {n} leaves");
    assert_eq!(
        db.read(vigil::db::audit_tree_covered).unwrap(),
        (n & !1) as i64
    );
    assert_eq!(audit::complete_tree(&db).unwrap(), 0, "nothing left to do");
    let leaves = all_leaves(&db);
    let p = audit::consistency(&db, 1, Some(n as i64)).unwrap();
    assert_eq!(p.to_root, hex::encode(merkle::root(&leaves)));
    // The serving binary fills it in at start too.
    assert!(dir.path().exists());
}

common::backend_test!(the_panel_verifies_only_what_is_new_and_everything_on_request);
fn the_panel_verifies_only_what_is_new_and_everything_on_request(t: common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = populated(&t, dir.path());
    let verifier = key.verifier();
    let now = chrono::Utc::now;
    // The first verification reads everything.
    let first = audit::verify_new(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert!(first.holds() && first.full, "{:?}", first.problems);
    let n = first.size;
    assert_eq!(first.entries_read, n);
    // Nothing new: nothing read again.
    let same = audit::verify_new(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert_eq!((same.size, same.entries_read), (n, 0));
    // 25 new entries and a checkpoint: only they are read.
    append(&db, 25, "new");
    audit::checkpoint(&db, &key, now()).unwrap().unwrap();
    let next = audit::verify_new(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert!(next.holds(), "{:?}", next.problems);
    assert!(!next.full);
    assert_eq!(
        (next.size, next.entries_read, next.checkpoints_checked),
        (n + 25, 25, 1)
    );
    assert_eq!(
        next.root,
        audit::latest_checkpoint(&db).unwrap().root,
        "the grown tree has the signed root"
    );

    // An old entry changed: the incremental check does not read it
    // again; "verify everything" finds it, and the page says so.
    attack(
        &t,
        "UPDATE audit_entries SET reason = 'rewritten' WHERE seq = 2",
    );
    append(&db, 3, "more");
    let inc = audit::verify_new(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert!(inc.holds() && inc.entries_read == 3, "{:?}", inc.problems);
    let all =
        audit::verify_everything(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert!(!all.holds() && all.full);
    assert!(all.problems[0].contains("entry 2:"), "{:?}", all.problems);
    let last = audit::last_verification(&db).unwrap().unwrap();
    assert!(!last.holds() && last.full);
    // Nothing new since: the page shows that full verification's result.
    let shown = audit::verify_new(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert!(!shown.holds(), "the problem stays shown");

    // A new entry changed after it was written: found incrementally.
    append(&db, 2, "last");
    let size = db.read(vigil::db::audit_size).unwrap();
    attack(
        &t,
        &format!("UPDATE audit_entries SET actor = 'someone' WHERE seq = {size}"),
    );
    let found = audit::verify_new(&db, &vigil::service::operator().1, &verifier, now()).unwrap();
    assert!(
        found
            .problems
            .iter()
            .any(|p| p.contains(&format!("entry {size}:"))),
        "{:?}",
        found.problems
    );
}

common::backend_test!(log_pages_newest_first_by_sequence_number);
fn log_pages_newest_first_by_sequence_number(t: common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = populated(&t, dir.path());
    append(&db, 30, "page");
    let n = db.read(vigil::db::audit_size).unwrap();
    let page = |before: Option<i64>| {
        audit::entries(
            &db,
            &vigil::service::operator().1,
            &AuditFilter {
                action: Some("test.append".into()),
                before_seq: before,
                newest_first: true,
                limit: 20,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let first = page(None);
    assert_eq!(first.len(), 20);
    assert_eq!(first[0].seq, n);
    assert!(first.windows(2).all(|w| w[0].seq == w[1].seq + 1));
    let second = page(Some(first[19].seq));
    assert_eq!(second.len(), 10);
    assert_eq!(second[0].seq, first[19].seq - 1);
}
