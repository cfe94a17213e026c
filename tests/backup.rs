//! `vigil backup` and `vigil restore` through the real binary, on real
//! databases: a SQLite deployment restored into a fresh SQLite file and into
//! a fresh PostgreSQL database gives identical versions, changesets, users
//! and an audit log that verifies against a checkpoint saved before the
//! backup; a damaged archive or a database that is not empty stores nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{edit_notes, person};

use std::path::Path;
use std::process::Command;

use serde_json::json;
use vigil::accounts::{Principal, Role};
use vigil::audit::AuditFilter;
use vigil::db::{self, Db};
use vigil::files::Folder;
use vigil::service::{self, audit, Context};

const SLUG: &str = "beslan-2004";
const PASSWORD: &str = "a long quiet evening";

fn ctx(who: &Principal) -> Context {
    Context::actor(&who.actor())
}

fn vigil(url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["--database-url", url])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A deployment with history: version 1 imported, version 2 approved, a
/// draft and a rejected changeset, two users, a token, and a checkpoint
/// saved to `saved.note` as an auditor would keep it.
fn deployment(t: &common::TestDb, dir: &Path) -> Db {
    let db = t.open();
    let cli = Context::actor("cli:test");
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(&db, &cli, &folder, false).unwrap();
    service::accounts::add_user(
        &db,
        &cli,
        &vigil::accounts::Principal::operator("test"),
        "clara",
        PASSWORD,
        &[Role::Curator],
    )
    .unwrap();
    service::accounts::add_user(
        &db,
        &cli,
        &vigil::accounts::Principal::operator("test"),
        "rafael",
        PASSWORD,
        &[Role::Reviewer],
    )
    .unwrap();
    service::accounts::create_token(
        &db,
        &cli,
        &vigil::accounts::Principal::operator("test"),
        "nightly",
        &[Role::Auditor],
        None,
    )
    .unwrap();
    let clara = person("clara", &[Role::Curator]);
    let rafael = person("rafael", &[Role::Reviewer]);
    let approved =
        service::changesets::open(&db, &ctx(&clara), &clara, SLUG, "a source note").unwrap();
    edit_notes(&db, &clara, approved, "injured.total", "restored with care");
    service::changesets::submit(&db, &ctx(&clara), &clara, approved, None).unwrap();
    service::changesets::approve(
        &db,
        &ctx(&rafael),
        &rafael,
        approved,
        vigil::service::changesets::get(&db, &vigil::service::operator().1, approved)
            .unwrap()
            .revision,
        Some("checked"),
    )
    .unwrap();
    let rejected = service::changesets::open(&db, &ctx(&clara), &clara, SLUG, "a wording").unwrap();
    edit_notes(&db, &clara, rejected, "hostages.total", "a draft wording");
    service::changesets::submit(&db, &ctx(&clara), &clara, rejected, None).unwrap();
    service::changesets::reject(
        &db,
        &ctx(&rafael),
        &rafael,
        rejected,
        vigil::service::changesets::get(&db, &vigil::service::operator().1, rejected)
            .unwrap()
            .revision,
        Some("needs a source"),
    )
    .unwrap();
    let draft =
        service::changesets::open(&db, &ctx(&clara), &clara, SLUG, "work in progress").unwrap();
    edit_notes(&db, &clara, draft, "fatalities", "still being checked");

    let key_path = dir.join("audit.key");
    audit::keygen(&key_path, "test/audit").unwrap();
    let key = audit::load_key(&key_path).unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    let saved = db.read(db::latest_checkpoint).unwrap().unwrap();
    std::fs::write(dir.join("saved.note"), saved.note).unwrap();
    db
}

/// Everything a restore must reproduce, in comparable form.
#[derive(Debug, PartialEq)]
struct Contents {
    versions: Vec<(i64, String, Option<i64>, String, String)>,
    changesets: Vec<String>,
    edits: Vec<db::Edit>,
    users: Vec<(String, String, bool)>,
    entries: Vec<vigil::audit::Entry>,
}

fn contents(db: &Db) -> Contents {
    let versions = service::versions(db, SLUG)
        .unwrap()
        .into_iter()
        .map(|v| {
            let doc = service::version(db, SLUG, Some(v.number)).unwrap().document;
            (
                v.number,
                vigil::time::secs(v.published_at),
                v.changeset,
                v.sha256,
                doc,
            )
        })
        .collect();
    let changesets = db.read(|c| db::changesets_of(c, SLUG)).unwrap();
    let mut edits = Vec::new();
    for cs in &changesets {
        edits.extend(db.read(|c| db::edits(c, cs.id)).unwrap());
    }
    Contents {
        versions,
        changesets: changesets.iter().map(|c| format!("{c:?}")).collect(),
        edits,
        users: db
            .read(db::users_all)
            .unwrap()
            .into_iter()
            .map(|u| (u.name, u.roles, u.disabled))
            .collect(),
        entries: audit::entries(
            db,
            &vigil::service::operator().1,
            &AuditFilter {
                limit: 1_000_000,
                ..Default::default()
            },
        )
        .unwrap(),
    }
}

#[test]
fn a_backup_restores_to_identical_hashes_and_a_verifying_log_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::sqlite();
    let db = deployment(&source, dir.path());
    let key = dir.path().join("audit.key");
    let key = key.to_str().unwrap();
    let saved = dir.path().join("saved.note");
    let archive = dir.path().join("vigil.backup");
    let secret_archive = dir.path().join("secrets.backup");
    let (code, out) = vigil(
        &source.url,
        &["backup", archive.to_str().unwrap(), "--audit-key", key],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = vigil(
        &source.url,
        &[
            "backup",
            secret_archive.to_str().unwrap(),
            "--with-secrets",
            "--audit-key",
            key,
        ],
    );
    assert_eq!(code, 0, "{out}");
    // The backups are in the log they copy.
    let before = contents(&db);
    assert_eq!(before.versions.len(), 2);
    assert_eq!(
        before
            .entries
            .iter()
            .filter(|e| e.action == "backup.create")
            .count(),
        2
    );
    // A backup never overwrites.
    let (code, out) = vigil(&source.url, &["backup", archive.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("never overwrites"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&archive).unwrap();
    assert!(
        !text.contains("$argon2id$"),
        "no password hash without --with-secrets"
    );
    assert!(!text.contains("\"table\":\"api_tokens\""));
    assert!(!text.contains("\"table\":\"sessions\""));

    // Each archive into its own empty database of each backend.
    let mut runs = vec![
        (common::sqlite(), &archive),
        (common::sqlite(), &secret_archive),
    ];
    for file in [&archive, &secret_archive] {
        runs.extend(common::postgres("backup restored into PostgreSQL").map(|p| (p, file)));
    }
    for (target, file) in &runs {
        let (code, out) = vigil(
            &target.url,
            &["restore", file.to_str().unwrap(), "--audit-key", key],
        );
        assert_eq!(code, 0, "{}: {out}", target.name);
        assert!(out.contains("signatures verified"), "{out}");
        let restored = target.open();
        let after = contents(&restored);
        // Everything as it was at the backup; the log then has one more
        // entry, the restore itself.
        let n = if *file == &archive {
            before.entries.len() - 1
        } else {
            before.entries.len()
        };
        assert_eq!(after.versions, before.versions, "{}", target.name);
        assert_eq!(after.changesets, before.changesets, "{}", target.name);
        assert_eq!(after.edits, before.edits, "{}", target.name);
        assert_eq!(after.users, before.users, "{}", target.name);
        assert_eq!(after.entries.len(), n + 1, "{}", target.name);
        assert_eq!(after.entries[..n], before.entries[..n], "{}", target.name);
        assert_eq!(after.entries[n].action, "backup.restore");
        // The published documents still carry their own hashes.
        for v in &after.versions {
            assert!(vigil::document::verify(&v.4).unwrap());
        }
        // The log verifies, and extends the checkpoint saved before.
        let (code, out) = vigil(
            &target.url,
            &[
                "audit",
                "verify",
                "--audit-key",
                key,
                "--checkpoint",
                saved.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{}: {out}", target.name);
        // Passwords and tokens come only with --with-secrets.
        let clara = restored.read(|c| db::user(c, "clara")).unwrap().unwrap();
        let tokens =
            service::accounts::tokens(&restored, &vigil::accounts::Principal::operator("test"))
                .unwrap();
        if *file == &archive {
            assert_eq!(clara.password_hash, "");
            assert!(!vigil::accounts::verify_password(
                Some(&clara.password_hash),
                PASSWORD
            ));
            assert!(tokens.is_empty());
        } else {
            assert!(vigil::accounts::verify_password(
                Some(&clara.password_hash),
                PASSWORD
            ));
            assert_eq!(tokens.len(), 1);
        }
        // The restored deployment works on: new changesets get new ids and
        // an approval publishes version 3.
        let curator = person("clara", &[Role::Curator]);
        let reviewer = person("rafael", &[Role::Reviewer]);
        let id =
            service::changesets::open(&restored, &ctx(&curator), &curator, SLUG, "after restore")
                .unwrap();
        let old_max = before.changesets.len().try_into().unwrap_or(i64::MAX);
        assert!(id > old_max, "{}: new changeset id {id}", target.name);
        edit_notes(&restored, &curator, id, "injured.total", "after the move");
        service::changesets::submit(&restored, &ctx(&curator), &curator, id, None).unwrap();
        let v = service::changesets::approve(
            &restored,
            &ctx(&reviewer),
            &reviewer,
            id,
            vigil::service::changesets::get(&restored, &vigil::service::operator().1, id)
                .unwrap()
                .revision,
            None,
        )
        .unwrap();
        assert_eq!(v.version, 3);
    }
}

fn is_empty(t: &common::TestDb) -> bool {
    t.open().read(db::nonempty_tables).unwrap().is_empty()
}

#[test]
fn a_damaged_archive_or_a_used_database_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::sqlite();
    let _db = deployment(&source, dir.path());
    let key = dir.path().join("audit.key");
    let key = key.to_str().unwrap();
    let archive = dir.path().join("vigil.backup");
    let (code, out) = vigil(
        &source.url,
        &["backup", archive.to_str().unwrap(), "--audit-key", key],
    );
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&archive).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line_of = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}"))
    };

    let damaged = |name: &str, body: String, expect: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let t = common::sqlite();
        let (code, out) = vigil(
            &t.url,
            &["restore", file.to_str().unwrap(), "--audit-key", key],
        );
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains(expect),
            "{name}: expected '{expect}' in: {out}"
        );
        assert!(is_empty(&t), "{name}: a failed restore left rows behind");
    };
    let with = |i: usize, new: String| {
        let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        v[i] = new;
        v.join("\n") + "\n"
    };

    // Cut short: the closing line is gone.
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    damaged("cut.backup", cut, "without its closing line");
    // Cut in the middle of a line.
    damaged(
        "half.backup",
        text[..text.len() / 2].to_string(),
        "cut short",
    );
    // A published document changed: its hash no longer matches.
    let v = line_of("\"table\":\"versions\"");
    damaged(
        "version.backup",
        with(v, lines[v].replacen("Beslan school siege", "Beslan", 1)),
        &format!("line {}: version 1 of {SLUG}", v + 1),
    );
    // An audit entry rewritten in the archive.
    let e = line_of("\"action\":\"changeset.reject\"");
    damaged(
        "entry.backup",
        with(e, lines[e].replacen("user:rafael", "user:clara", 1)),
        &format!("line {}: audit entry", e + 1),
    );
    // A figure changed: only the archive's own hash catches it.
    let f = line_of("\"key\":\"hostages.total\"");
    let figure: serde_json::Value = serde_json::from_str(lines[f]).unwrap();
    let mut changed = figure.clone();
    changed["row"]["best"] = json!(354);
    assert_ne!(figure, changed);
    damaged(
        "figure.backup",
        with(f, changed.to_string()),
        "was changed or damaged",
    );
    // A row of a table that does not exist.
    damaged(
        "unknown.backup",
        with(f, r#"{"table":"victims","row":{}}"#.into()),
        &format!("line {}: not a row of a known table", f + 1),
    );
    // Not an archive at all.
    damaged(
        "csv.backup",
        "key,label\nkilled.total,Killed\n".into(),
        "line 1: not a vigil backup header",
    );

    // Into a database that already holds data: refused, nothing changed.
    let (code, out) = vigil(
        &source.url,
        &["restore", archive.to_str().unwrap(), "--audit-key", key],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("a restore needs an empty database"), "{out}");
    let (code, out) = vigil(&source.url, &["audit", "verify", "--audit-key", key]);
    assert_eq!(code, 0, "{out}");
}
