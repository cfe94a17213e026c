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
    if !wanted("audit/1m_entries_leaf_hash_and_tree_root audit/1m_leaf_hashes_tree_root") {
        return;
    }
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
    if !wanted("audit/verify_1m_entries_sqlite") {
        return;
    }
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
            let v = audit::verify(&db, &vigil::service::operator().1, &verifier, None).unwrap();
            assert!(v.holds() && v.entries == ENTRIES as i64);
        })
    });
    g.finish();
}

/// Whether a benchmark of this name was asked for: no filter on the
/// command line, or one it contains.
fn wanted(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// A SQLite log of `n` entries, stored in batches.
fn stored_log(dir: &std::path::Path, n: i64) -> vigil::db::Db {
    use vigil::db::{Db, EntryRow};
    let db = Db::open(&format!("sqlite://{}", dir.join("t.db").display())).unwrap();
    db.migrate().unwrap();
    let t = Instant::now();
    let mut start = 1;
    while start <= n {
        let end = (start + 50_000).min(n + 1);
        let rows: Vec<EntryRow> = (start..end).map(|s| EntryRow::of(&entry(s))).collect();
        db.write(|c| vigil::db::insert_audit_rows(c, &rows))
            .unwrap();
        start = end;
    }
    eprintln!("stored {n} entries in {:?}", t.elapsed());
    db
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(v[v.len() / 2]),
        ms(v[(v.len() * 99 / 100).min(v.len() - 1)]),
        ms(v[v.len() - 1])
    )
}

/// Checkpoints and proofs over a log of `AUDIT_TREE_ENTRIES` (default
/// 10,000,000) entries in SQLite, from the stored tree: the one-time fill
/// of the tree (what a server does at start after the migration), then a
/// checkpoint after each new entry, inclusion and consistency proofs at
/// random places. Targets: checkpoint < 10 ms, proof < 5 ms.
/// `cargo bench --bench audit -- tree`
fn tree_at_scale(_: &mut Criterion) {
    use vigil::service::audit;
    if !wanted("tree_at_scale") {
        return;
    }
    let n: i64 = std::env::var("AUDIT_TREE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir().unwrap();
    let db = stored_log(dir.path(), n);
    let t = Instant::now();
    let made = audit::complete_tree(&db).unwrap();
    eprintln!(
        "tree_at_scale: filled in the tree of {n} entries ({made} nodes) in {:?}",
        t.elapsed()
    );
    let key_path = dir.path().join("k");
    audit::keygen(&key_path, "bench/audit").unwrap();
    let key = audit::load_key(&key_path).unwrap();
    audit::checkpoint(&db, &key, chrono::Utc::now()).unwrap();
    let mut took = Vec::new();
    for i in 0..50 {
        db.write(|c| vigil::db::append_audit(c, entry(n + 1 + i)))
            .unwrap();
        let t = Instant::now();
        audit::checkpoint(&db, &key, chrono::Utc::now())
            .unwrap()
            .unwrap();
        took.push(t.elapsed());
    }
    eprintln!(
        "tree_at_scale: checkpoint after one new entry at {n} entries: {} (target < 10 ms)",
        percentiles(took)
    );
    let size = db.read(vigil::db::audit_size).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % size as u64) as i64 + 1
    };
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for _ in 0..200 {
        let seq = next();
        let t = Instant::now();
        let p = audit::inclusion(&db, seq, None).unwrap();
        inclusion.push(t.elapsed());
        assert!(!p.proof.is_empty());
        let from = next();
        let t = Instant::now();
        audit::consistency(&db, from, None).unwrap();
        consistency.push(t.elapsed());
    }
    eprintln!(
        "tree_at_scale: inclusion proof at {size} entries: {} (target < 5 ms)",
        percentiles(inclusion)
    );
    eprintln!(
        "tree_at_scale: consistency proof at {size} entries: {} (target < 5 ms)",
        percentiles(consistency)
    );
}

/// The panel's audit page over a log of 1,000,000 entries in SQLite: a
/// page of 200 entries newest first (the first, one deep in the log, one
/// filtered by action), and the verification of what is new after 1,000
/// new entries and a checkpoint. Targets: page < 50 ms, incremental
/// verification < 100 ms. `cargo bench --bench audit -- panel`
fn panel_at_scale(_: &mut Criterion) {
    use vigil::audit::AuditFilter;
    use vigil::service::audit;
    if !wanted("panel_at_scale") {
        return;
    }
    let n = ENTRIES as i64;
    let dir = tempfile::tempdir().unwrap();
    let db = stored_log(dir.path(), n);
    audit::complete_tree(&db).unwrap();
    let key_path = dir.path().join("k");
    audit::keygen(&key_path, "bench/audit").unwrap();
    let key = audit::load_key(&key_path).unwrap();
    let verifier = key.verifier();
    audit::checkpoint(&db, &key, chrono::Utc::now()).unwrap();
    let t = Instant::now();
    let all = audit::verify_everything(
        &db,
        &vigil::service::operator().1,
        &verifier,
        chrono::Utc::now(),
    )
    .unwrap();
    assert!(all.holds());
    eprintln!(
        "panel_at_scale: verify everything at {n} entries: {:?}",
        t.elapsed()
    );
    for (what, filter) in [
        (
            "newest page",
            AuditFilter {
                newest_first: true,
                limit: 200,
                ..Default::default()
            },
        ),
        (
            "a page 500,000 deep",
            AuditFilter {
                newest_first: true,
                before_seq: Some(500_000),
                limit: 200,
                ..Default::default()
            },
        ),
        (
            "newest page of one action",
            AuditFilter {
                newest_first: true,
                action: Some("user.role_change".into()),
                limit: 200,
                ..Default::default()
            },
        ),
        (
            "newest page of one entity",
            AuditFilter {
                newest_first: true,
                entity: Some("claim".into()),
                entity_id: Some("beslan-2004/7".into()),
                limit: 200,
                ..Default::default()
            },
        ),
    ] {
        let took: Vec<Duration> = (0..50)
            .map(|_| {
                let t = Instant::now();
                let page = audit::entries(&db, &vigil::service::operator().1, &filter).unwrap();
                assert!(!page.is_empty());
                t.elapsed()
            })
            .collect();
        eprintln!(
            "panel_at_scale: {what} at {n} entries: {} (target < 50 ms)",
            percentiles(took)
        );
    }
    let mut took = Vec::new();
    for round in 0..10 {
        let base = db.read(vigil::db::audit_size).unwrap();
        for i in 0..1000 {
            db.write(|c| vigil::db::append_audit(c, entry(base + 1 + i)))
                .unwrap();
        }
        audit::checkpoint(&db, &key, chrono::Utc::now()).unwrap();
        let t = Instant::now();
        let v = audit::verify_new(
            &db,
            &vigil::service::operator().1,
            &verifier,
            chrono::Utc::now(),
        )
        .unwrap();
        took.push(t.elapsed());
        assert!(
            v.holds() && v.entries_read == 1000,
            "round {round}: {:?}",
            v.problems
        );
    }
    eprintln!(
        "panel_at_scale: verification of 1,000 new entries at {n}+ entries: {} (target < 100 ms)",
        percentiles(took)
    );
}

/// What an audit entry adds to an edit: one edit of a changeset (its
/// transaction, with its entry) against appending one entry alone.
fn entry_cost(c: &mut Criterion) {
    use vigil::accounts::{Principal, Role};
    use vigil::db::Db;
    use vigil::model::{ItemEdit, Table};
    use vigil::service::{self, changesets::Precondition, Context};
    if !wanted("audit/edit_with_its_entry_sqlite audit/entry_alone_sqlite") {
        return;
    }
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
            let v = service::changesets::item(
                &db,
                &vigil::service::operator().1,
                id,
                Table::Figures,
                "injured.total",
            )
            .unwrap();
            let mut item = v.item.unwrap();
            item["notes"] = json!(format!("note {n}"));
            service::changesets::put_item(
                &db,
                &ctx,
                &clara,
                id,
                ItemEdit::put(Table::Figures, "injured.total", item).unwrap(),
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

criterion_group!(
    benches,
    bench,
    verify_sqlite,
    entry_cost,
    tree_at_scale,
    panel_at_scale
);
criterion_main!(benches);
