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

criterion_group!(benches, bench);
criterion_main!(benches);
