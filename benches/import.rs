//! `vigil import` of a generated event with 100,000 claims into a fresh
//! SQLite database: CSV parsing, validation, checks, storage and the
//! published version 1, in one transaction. Target: < 5 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vigil::files::Folder;
use vigil::model::Table;

const FIGURES: usize = 10_000;
const SOURCES: usize = 10;
const CLAIMS: usize = 100_000;

/// An event of `FIGURES` figures in groups of nine parts under a total,
/// each claimed by ten sources: exactly `CLAIMS` claims.
fn generated() -> Folder {
    let event = "slug,title,location,started_on,ended_on,timezone,summary\n\
                 generated,Generated event,Nowhere,2000-01-01,2000-01-02,UTC,For benchmarks.\n";
    let mut sources = String::from("key,title,author,publisher,kind,published_on,url,notes\n");
    for s in 0..SOURCES {
        writeln!(sources, "source-{s},Source {s},,,other,2000,,").unwrap();
    }
    let mut figures =
        String::from("key,label,unit,parent,breakdown,position,low,best,high,status,notes\n");
    let mut claims =
        String::from("id,figure,source,low,best,high,as_of,rank,reason,locator,quote,note\n");
    let groups = FIGURES / 10;
    let mut n = 0;
    let claim = |claims: &mut String, key: &str, best: usize, n: &mut usize| {
        for s in 0..SOURCES {
            if *n == CLAIMS {
                return;
            }
            let rank = if s == 0 { "preferred" } else { "normal" };
            writeln!(
                claims,
                "c{n},{key},source-{s},,{best},,2000-01-02,{rank},,p. {s},,"
            )
            .unwrap();
            *n += 1;
        }
    };
    for g in 0..groups {
        let total = format!("g{g}.total");
        writeln!(
            figures,
            "{total},Group {g},persons,,exhaustive,{},,45,,confirmed,",
            g * 20
        )
        .unwrap();
        claim(&mut claims, &total, 45, &mut n);
        for c in 1..=9 {
            writeln!(
                figures,
                "g{g}.total.c{c},Part {c},persons,{total},,{},,{c},,confirmed,",
                g * 20 + c
            )
            .unwrap();
            claim(&mut claims, &format!("g{g}.total.c{c}"), c, &mut n);
        }
    }
    let mut rules = String::from("id,expression,severity,note\n");
    for g in 0..100 {
        writeln!(rules, "r{g},g{g}.total.c1 <= g{g}.total,error,").unwrap();
    }
    Folder::from_bytes([
        (Table::Event, event.as_bytes().to_vec()),
        (Table::Sources, sources.into_bytes()),
        (Table::Figures, figures.into_bytes()),
        (Table::Claims, claims.into_bytes()),
        (Table::Rules, rules.into_bytes()),
    ])
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
