//! How vigil's costs grow, measured in one run on SQLite: with an event's
//! figures (10 → 10,000, one claim each), with claims per figure (1 → 10,
//! at 1,000 figures), and with an event's versions (1 → 10,000, Beslan).
//! Each row: importing the event (validation, checks, the document, the
//! first version), checking it again, loading the read model (the page,
//! the document and the CSV, compressed), approving a one-edit changeset
//! (the post-publish hook included), the version list (made when the read
//! model loads) and the first read of the oldest version. The audit log's growth is `benches/audit.rs`'s
//! (`tree_at_scale`, `panel_at_scale`); concurrent readers are
//! `benches/public_read.sh`'s.
//!
//! `cargo bench --bench scaling` (`SCALING=figures` or `SCALING=versions`
//! for one half).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use vigil::accounts::{Principal, Role};
use vigil::db::Db;
use vigil::files::Folder;
use vigil::model::{ItemEdit, Table};
use vigil::service::changesets::Precondition;
use vigil::service::reads::{Publisher, Reads};
use vigil::service::{self, Context};

#[path = "../tests/common/generated.rs"]
mod generated;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn fresh(dir: &std::path::Path) -> Db {
    let db = Db::open(&format!("sqlite://{}", dir.join("s.db").display())).unwrap();
    db.migrate().unwrap();
    db
}

/// Opens, edits (the notes of the event's first figure), submits and
/// approves a changeset; the time of the approval, hook included.
fn approve_one_edit(db: &Db, reads: &Reads, slug: &str, n: usize) -> Duration {
    let curator = Principal::user("clara", &[Role::Curator]);
    let reviewer = Principal::user("rafael", &[Role::Reviewer]);
    let ctx = Context::actor("user:clara");
    let id = service::changesets::open(db, &ctx, &curator, slug, "a note").unwrap();
    let key = service::dataset(db, slug).unwrap().figures[0].key.clone();
    let v = service::changesets::item(db, &curator, id, Table::Figures, &key).unwrap();
    let mut item = v.item.unwrap();
    item["notes"] = serde_json::json!(format!("checked again ({n})"));
    service::changesets::put_item(
        db,
        &ctx,
        &curator,
        id,
        ItemEdit::put(Table::Figures, key, item).unwrap(),
        &Precondition::Matches(v.etag),
    )
    .unwrap();
    service::changesets::submit(db, &ctx, &curator, id, None).unwrap();
    let seen = service::changesets::get(db, &curator, id).unwrap().revision;
    let publisher = Publisher {
        db,
        reads: Some(reads),
        key: None,
        now: chrono::Utc::now(),
    };
    timed(|| {
        publisher
            .approve(&Context::actor("user:rafael"), &reviewer, id, seen, None)
            .unwrap()
    })
    .1
}

fn by_figures() {
    println!(
        "| figures | claims | import | check | document | load the read model | approve one edit |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let sizes: [(usize, usize); 6] = [
        (10, 1),
        (100, 1),
        (1_000, 1),
        (10_000, 1),
        (1_000, 5),
        (1_000, 10),
    ];
    for (figures, per_figure) in sizes {
        let dir = tempfile::tempdir().unwrap();
        let db = fresh(dir.path());
        let folder = Folder::from_bytes(
            generated::event("generated", figures / 10, per_figure, usize::MAX, "")
                .into_iter()
                .map(|(t, text)| (t, text.into_bytes())),
        );
        let ctx = Context::actor("bench");
        let (_, import) = timed(|| service::import(&db, &ctx, &folder, false).unwrap());
        let (report, check) = timed(|| service::check(&db, "generated").unwrap());
        assert!(report.blocking().is_empty());
        let ds = service::dataset(&db, "generated").unwrap();
        let bytes = db
            .read(|c| vigil::db::latest_version(c, "generated"))
            .unwrap()
            .unwrap()
            .document
            .len();
        let reads = Reads::new(db.clone(), vigil::http::pages::render_event_page);
        let (_, load) = timed(|| reads.load().unwrap());
        let approve = (0..3)
            .map(|n| approve_one_edit(&db, &reads, "generated", n))
            .min()
            .unwrap();
        println!(
            "| {} | {} | {} | {} | {} KB | {} | {} |",
            ds.figures.len(),
            ds.claims.len(),
            ms(import),
            ms(check),
            bytes / 1000,
            ms(load),
            ms(approve)
        );
    }
}

fn by_versions() {
    println!(
        "| versions | load the read model (with the version list) | version list | first read of version 1 | approve one edit |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let dir = tempfile::tempdir().unwrap();
    let db = fresh(dir.path());
    let folder = Folder::read_dir(std::path::Path::new("imports/beslan-2004")).unwrap();
    let ctx = Context::actor("bench");
    service::import(&db, &ctx, &folder, false).unwrap();
    let slug = "beslan-2004";
    let mut versions = 1;
    for target in [1, 100, 1_000, 10_000] {
        // Versions as publishing makes them (document, row, audit entry),
        // in batches: approving each would measure nothing new.
        // The event's current data, republished as it stands.
        let ds = service::dataset(&db, slug).unwrap();
        let report = service::check(&db, slug).unwrap();
        while versions < target {
            let batch = (target - versions).min(500);
            db.write(|c| {
                for _ in 0..batch {
                    service::publish(c, &ctx, &ds, &report, None)?;
                }
                Ok(())
            })
            .unwrap();
            versions += batch;
        }
        let reads = Reads::new(db.clone(), vigil::http::pages::render_event_page);
        let (_, load) = timed(|| reads.load().unwrap());
        let (_, list) = reads.history(slug).unwrap();
        let (old, first_old) = timed(|| reads.version(slug, Some(1)).unwrap());
        assert_eq!(old.version, 1);
        let approve = approve_one_edit(&db, &reads, slug, versions as usize);
        versions += 1;
        println!(
            "| {target} | {} | {} KB | {} | {} |",
            ms(load),
            list.size() / 1000,
            ms(first_old),
            ms(approve)
        );
    }
}

fn main() {
    let only = std::env::var("SCALING").unwrap_or_default();
    if only.is_empty() || only == "figures" {
        by_figures();
    }
    if only.is_empty() || only == "versions" {
        by_versions();
    }
}
