//! A changeset of 50,000 edits (new notes on 50,000 figures of a generated
//! event), on SQLite: how long viewing it, one more edit and submitting it
//! take, and how long a log-in made while that edit runs waits — the write
//! lock is held only for the writes, not for rebuilding the changeset.
//! Targets: view < 1 s, one edit < 50 ms, submit < 2 s, and the log-in
//! beside an edit as quick as one alone. One edit re-checks only the edited
//! item (`Dataset::validate_item`); the whole result's problems, checks and
//! changes are worked out once, when a view or a submit asks.
//!
//! `cargo bench --bench large_changeset` (`EDITS=5000` for a quicker run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Measured with the allocator the server runs with (src/main.rs).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::time::{Duration, Instant};

use vigil::accounts::{Principal, Role};
use vigil::db::{Db, Edit};
use vigil::files::Folder;
use vigil::model::{ItemEdit, Table};
use vigil::service::accounts::LoginLimits;
use vigil::service::changesets::Precondition;
use vigil::service::{self, Context};

#[path = "../tests/common/generated.rs"]
mod generated;

const PASSWORD: &str = "a long quiet evening";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let edits: usize = std::env::var("EDITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let groups = edits.div_ceil(10) + 1;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&format!("sqlite://{}", dir.path().join("b.db").display())).unwrap();
    db.migrate().unwrap();
    let t = Instant::now();
    let folder = Folder::from_bytes(
        generated::event("generated", groups, 1, usize::MAX, "")
            .into_iter()
            .map(|(t, text)| (t, text.into_bytes())),
    );
    service::import(&db, &Context::actor("bench"), &folder, false).unwrap();
    let operator = Principal::operator("bench");
    service::accounts::add_user(
        &db,
        &Context::actor("bench"),
        &operator,
        "clara",
        PASSWORD,
        &[Role::Curator],
    )
    .unwrap();
    let clara = Principal::user("clara", &[Role::Curator]);
    let ctx = Context::actor("user:clara");
    let id = service::changesets::open(&db, &ctx, &clara, "generated", "notes").unwrap();
    let ds = service::dataset(&db, "generated").unwrap();
    let rows: Vec<Edit> = ds
        .figures
        .iter()
        .take(edits)
        .map(|f| {
            let before = serde_json::to_value(f).unwrap();
            let mut after = before.clone();
            after["notes"] = serde_json::json!(format!("checked ({})", f.key));
            Edit {
                changeset_id: id,
                entity: "figures".into(),
                key: f.key.clone(),
                item: Some(vigil::document::canonical(&after)),
                seen_etag: service::item_etag(Some(&before)),
                edited_by: clara.actor(),
                edited_at: vigil::time::secs(ctx.at()),
            }
        })
        .collect();
    db.write(|c| vigil::db::insert_edits(c, &rows)).unwrap();
    println!(
        "{} figures, a changeset of {} edits, made in {:.1?}",
        ds.figures.len(),
        rows.len(),
        t.elapsed()
    );
    let last = ds.figures.last().unwrap().key.clone();

    // A view as the API answers it: worked out, then written as JSON.
    let view = || {
        let t = Instant::now();
        let v = service::changesets::view(&db, &clara, id).unwrap();
        assert_eq!(v.edits.len(), edits);
        let worked_out = t.elapsed();
        let json = serde_json::to_vec(&v).unwrap();
        (worked_out, t.elapsed(), json.len())
    };
    // The first view replays the edits and works out problems, checks and
    // changes; later views find them kept.
    let (first, first_json, bytes) = view();
    let views: Vec<_> = (0..3).map(|_| view()).collect();
    println!(
        "view:           first {first:.1?} ({first_json:.1?} written as JSON, {} KB); \
         then median {:.1?} ({:.1?} as JSON)",
        bytes / 1024,
        median(views.iter().map(|v| v.0).collect()),
        median(views.iter().map(|v| v.1).collect()),
    );

    let edit_once = |n: usize| {
        let v = service::changesets::item(
            &db,
            &vigil::service::operator().1,
            id,
            Table::Figures,
            &last,
        )
        .unwrap();
        let mut item = v.item.unwrap();
        item["notes"] = serde_json::json!(format!("edit {n}"));
        let t = Instant::now();
        service::changesets::put_item(
            &db,
            &ctx,
            &clara,
            id,
            ItemEdit::put(Table::Figures, last.clone(), item).unwrap(),
            &Precondition::Matches(v.etag),
        )
        .unwrap();
        t.elapsed()
    };
    let one: Vec<Duration> = (0..3).map(edit_once).collect();
    println!("one edit:       median {:.1?}", median(one));

    // A log-in alone, then while an edit runs beside it.
    let limits = LoginLimits::default();
    let login = || {
        let t = Instant::now();
        service::accounts::login(
            &db,
            &Context::actor("anonymous"),
            &limits,
            "clara",
            PASSWORD,
        )
        .unwrap();
        t.elapsed()
    };
    let alone = median((0..5).map(|_| login()).collect());
    let beside = std::thread::scope(|s| {
        let editing = s.spawn(|| edit_once(99));
        std::thread::sleep(Duration::from_millis(5));
        let mut waits = Vec::new();
        while !editing.is_finished() {
            waits.push(login());
        }
        editing.join().unwrap();
        waits.into_iter().max().unwrap_or_default()
    });
    println!("log-in alone:   median {alone:.1?}; slowest while an edit runs {beside:.1?}");

    let t = Instant::now();
    service::changesets::submit(&db, &ctx, &clara, id, None).unwrap();
    println!("submit:         {:.1?}", t.elapsed());
}
