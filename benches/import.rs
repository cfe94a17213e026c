//! `vigil import` of a generated event with 100,000 claims into a fresh
//! SQLite database: CSV parsing, validation, checks, storage and the
//! published version 1, in one transaction. Target: < 5 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vigil::files::Folder;

#[path = "../tests/common/generated.rs"]
mod generated;

const FIGURES: usize = 10_000;
const SOURCES: usize = 10;
const CLAIMS: usize = 100_000;

/// An event of `FIGURES` figures in groups of nine parts under a total,
/// each claimed by ten sources: exactly `CLAIMS` claims.
fn generated() -> Folder {
    Folder::from_bytes(
        generated::event("generated", FIGURES / 10, SOURCES, CLAIMS, "")
            .into_iter()
            .map(|(t, text)| (t, text.into_bytes())),
    )
}

fn import(c: &mut Criterion) {
    let folder = generated();
    let ds = folder.parse().unwrap();
    eprintln!(
        "generated: {} figures, {} claims",
        ds.figures.len(),
        ds.claims.len()
    );
    assert_eq!(ds.claims.len(), CLAIMS);
    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.bench_function("100k_claims_sqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let db =
                    vigil::db::Db::open(&format!("sqlite://{}", dir.path().join("b.db").display()))
                        .unwrap();
                db.migrate().unwrap();
                (dir, db)
            },
            |(dir, db)| {
                vigil::service::import(
                    &db,
                    &vigil::service::Context::actor("bench"),
                    &folder,
                    false,
                )
                .unwrap();
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
