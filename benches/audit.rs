//! The core of `vigil audit verify` over 1,000,000 entries: each entry's
//! canonical form and leaf hash, and the tree root built incrementally, as
//! the verifier streams them. Target (whole verify): < 3 s.
//!
//! Run with `cargo bench --bench audit -- --sample-size 10`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use vigil::audit::merkle::{Hash, Tree};
use vigil::audit::{leaf_hash, Entry};

const ENTRIES: usize = 1_000_000;

const ACTIONS: [(&str, &str); 6] = [
    ("changeset.approve", "changeset"),
    ("claim.edit", "claim"),
    ("session.login", "session"),
    ("session.login_failed", "session"),
    ("version.publish", "version"),
    ("user.role_change", "user"),
];

/// Entry `seq` of a plausible log: an edit of a claim's figures with a
/// reason, a request id and an address; about 300 bytes in canonical form.
fn entry(seq: i64) -> Entry {
    let (action, entity) = ACTIONS[(seq % 6) as usize];
    let ms = seq * 137;
    Entry {
        seq,
        at: format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + seq % 12,
            1 + seq % 28,
            seq % 24,
            seq % 60,
            (seq / 60) % 60,
            ms % 1000
        ),
        actor: format!("user:reviewer{}", seq % 97),
        action: action.into(),
        entity: entity.into(),
        entity_id: format!("beslan-2004/{}", seq % 5000),
        before: Some(json!({"best": seq % 400, "rank": "normal", "source": "s3"})),
        after: Some(json!({"best": seq % 400 + 1, "rank": "preferred", "source": "s3"})),
        reason: Some("Corrected against the 2005 parliamentary commission report.".into()),
        summary: None,
        request_id: Some(format!(
            "{:016x}",
            (seq as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )),
        client: Some(format!("192.0.2.{}", seq % 255)),
        client_request_id: None,
    }
}

fn bench(c: &mut Criterion) {
    let entries: Vec<Entry> = (1..=ENTRIES as i64).map(entry).collect();
    eprintln!("entry 1: {}", entries[0].canonical());
    // Where the time goes, measured once: the canonical form, then hashing it.
    let t = Instant::now();
    let canonical: Vec<String> = entries.iter().map(Entry::canonical).collect();
    let t_canonical = t.elapsed();
    let t = Instant::now();
    let leaves: Vec<Hash> = canonical.iter().map(|c| leaf_hash(c.as_bytes())).collect();
    let t_hash = t.elapsed();
    let bytes: usize = canonical.iter().map(String::len).sum();
    eprintln!(
        "{ENTRIES} entries, {} bytes canonical on average; once: canonical {t_canonical:?}, leaf hashes {t_hash:?}",
        bytes / ENTRIES,
    );
    drop(canonical);

    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("1m_entries_leaf_hash_and_tree_root", |b| {
        b.iter(|| {
            let mut tree = Tree::new();
            for e in black_box(&entries) {
                tree.push(e.leaf_hash());
            }
            tree.root()
        })
    });
    g.bench_function("1m_leaf_hashes_tree_root", |b| {
        b.iter(|| {
            let mut tree = Tree::new();
            for leaf in black_box(&leaves) {
                tree.push(*leaf);
            }
            tree.root()
        })
    });
    g.finish();
}

/// `vigil audit verify` over 1,000,000 entries stored in SQLite, with a
/// signed checkpoint at the end: read, recompute every leaf, rebuild the
/// tree, check the signature and the root. Target: < 3 s.
fn verify_sqlite(c: &mut Criterion) {
    use vigil::db::{Db, EntryRow};
    use vigil::service::audit;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&format!("sqlite://{}", dir.path().join("a.db").display())).unwrap();
    db.migrate().unwrap();
    let t = Instant::now();
    for start in (1..=ENTRIES as i64).step_by(50_000) {
        let rows: Vec<EntryRow> = (start..start + 50_000)
            .map(|s| EntryRow::of(&entry(s)))
            .collect();
        db.write(|c| vigil::db::insert_audit_rows(c, &rows))
            .unwrap();
    }
    let key_path = dir.path().join("k");
    audit::keygen(&key_path, "bench/audit").unwrap();
    let key = audit::load_key(&key_path).unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now())
        .unwrap()
        .unwrap();
    eprintln!(
        "stored {ENTRIES} entries and a checkpoint in {:?}",
        t.elapsed()
    );
    let verifier = key.verifier();
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(40));
    g.bench_function("verify_1m_entries_sqlite", |b| {
        b.iter(|| {
            let v = audit::verify(&db, &verifier, None).unwrap();
            assert!(v.holds() && v.entries == ENTRIES as i64);
        })
    });
    g.finish();
}

/// What an audit entry adds to an edit: one edit of a changeset (its
/// transaction, with its entry) against appending one entry alone.
fn entry_cost(c: &mut Criterion) {
    use vigil::accounts::{Principal, Role};
    use vigil::db::Db;
    use vigil::model::{ItemEdit, Table};
    use vigil::service::{self, changesets::Precondition, Context};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&format!("sqlite://{}", dir.path().join("e.db").display())).unwrap();
    db.migrate().unwrap();
    let folder =
        vigil::files::Folder::read_dir(std::path::Path::new("imports/beslan-2004")).unwrap();
    service::import(&db, &Context::actor("bench"), &folder, false).unwrap();
    let clara = Principal::user("clara", &[Role::Curator]);
    let ctx = Context::actor("user:clara");
    let id = service::changesets::open(&db, &ctx, &clara, "beslan-2004", "bench").unwrap();
    let mut n = 0u64;
    let mut g = c.benchmark_group("audit");
    g.bench_function("edit_with_its_entry_sqlite", |b| {
        b.iter(|| {
            n += 1;
            let v = service::changesets::item(&db, id, Table::Figures, "injured.total").unwrap();
            let mut item = v.item.unwrap();
            item["notes"] = json!(format!("note {n}"));
            service::changesets::put_item(
                &db,
                &ctx,
                &clara,
                id,
                ItemEdit {
                    table: Table::Figures,
                    key: "injured.total".into(),
                    item: Some(item),
                },
                &Precondition::Matches(v.etag),
            )
            .unwrap();
        })
    });
    g.bench_function("entry_alone_sqlite", |b| {
        b.iter(|| {
            db.write(|c| vigil::db::append_audit(c, entry(0))).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench, verify_sqlite, entry_cost);
criterion_main!(benches);
