//! The read model on real SQLite and PostgreSQL databases: published
//! versions held by the service, and the one post-publish hook that swaps a
//! new version into memory and signs a checkpoint over its audit entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{edit_notes, person};

use vigil::accounts::Role;
use vigil::db::Db;
use vigil::files::Folder;
use vigil::service::reads::{Publisher, Reads};
use vigil::service::{self, audit, Context};

const SLUG: &str = "beslan-2004";

fn reads(db: &Db) -> Reads {
    Reads::new(db.clone(), vigil::http::pages::render_event_page)
}

fn key(dir: &std::path::Path) -> vigil::audit::checkpoint::SignerKey {
    let path = dir.join("audit.key");
    audit::keygen(&path, "test/audit").unwrap();
    audit::load_key(&path).unwrap()
}

/// A submitted changeset editing one figure's notes.
fn submitted(db: &Db, notes: &str) -> i64 {
    let clara = person("clara", &[Role::Curator]);
    let ctx = Context::actor("user:clara");
    let id = service::changesets::open(db, &ctx, &clara, SLUG, "a note").unwrap();
    edit_notes(db, &clara, id, "injured.total", notes);
    service::changesets::submit(db, &ctx, &clara, id, None).unwrap();
    id
}

/// A submitted changeset with its reason, editing one figure's notes.
fn submitted_because(db: &Db, reason: &str, notes: &str) -> i64 {
    let clara = person("clara", &[Role::Curator]);
    let ctx = Context::actor("user:clara");
    let id = service::changesets::open(db, &ctx, &clara, SLUG, reason).unwrap();
    edit_notes(db, &clara, id, "injured.total", notes);
    service::changesets::submit(db, &ctx, &clara, id, None).unwrap();
    id
}

/// The revision of a changeset, as a reviewer sees it.
fn revision(db: &Db, id: i64) -> i64 {
    service::changesets::get(db, &vigil::service::operator().1, id)
        .unwrap()
        .revision
}

/// rafael, a reviewer, approves changeset `id` through the state's publisher.
fn approve_as_rafael(state: &vigil::http::AppState, db: &Db, id: i64) {
    let rafael = person("rafael", &[Role::Reviewer]);
    state
        .publisher()
        .approve(
            &Context::actor("user:rafael"),
            &rafael,
            id,
            revision(db, id),
            None,
        )
        .unwrap();
}

fn audit_size(db: &Db) -> i64 {
    db.read(vigil::db::audit_size).unwrap()
}

common::backend_test!(a_publish_is_followed_by_one_hook_that_loads_it_and_signs_a_checkpoint);
fn a_publish_is_followed_by_one_hook_that_loads_it_and_signs_a_checkpoint(t: common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = t.open();
    let key = key(dir.path());
    let reads = reads(&db);
    let publisher = Publisher {
        db: &db,
        reads: Some(&reads),
        key: Some(&key),
        now: chrono::Utc::now(),
    };

    // An import of a new event publishes version 1: held at once, and
    // the checkpoint covers the whole log, the publish included.
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    publisher
        .import(&Context::actor("cli:test"), &folder, false)
        .unwrap();
    let v1 = reads
        .latest(SLUG)
        .expect("version 1 is held after the import");
    assert_eq!(v1.version, 1);
    let cp = audit::latest_checkpoint(&db).unwrap();
    assert_eq!(
        cp.size,
        audit_size(&db),
        "the checkpoint covers the publish"
    );

    // An approval through the publisher: version 2 is held before the
    // call returns, and a new checkpoint covers its entries.
    let id = submitted(&db, "hook");
    let rafael = person("rafael", &[Role::Reviewer]);
    let approved = publisher
        .approve(
            &Context::actor("user:rafael"),
            &rafael,
            id,
            revision(&db, id),
            None,
        )
        .unwrap();
    assert_eq!(approved.version, 2);
    let v2 = reads.latest(SLUG).unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.sha256, approved.sha256);
    let doc: serde_json::Value = serde_json::from_slice(&v2.document.identity).unwrap();
    assert_eq!(doc["version"], 2);
    let cp2 = audit::latest_checkpoint(&db).unwrap();
    assert!(cp2.size > cp.size);
    assert_eq!(cp2.size, audit_size(&db));
    // The history held with it lists both versions.
    let (_, history) = reads.history(SLUG).unwrap();
    let list: serde_json::Value = serde_json::from_slice(&history.identity).unwrap();
    assert_eq!(list["versions"].as_array().unwrap().len(), 2);

    // A refused approval runs no hook: nothing new held or signed.
    let err = publisher.approve(
        &Context::actor("user:rafael"),
        &rafael,
        id,
        revision(&db, id),
        None,
    );
    assert!(
        err.is_err(),
        "an approved changeset cannot be approved again"
    );
    assert_eq!(reads.latest(SLUG).unwrap().version, 2);
    assert_eq!(audit::latest_checkpoint(&db).unwrap().size, cp2.size);

    // Without a read model (the CLI), the hook still signs.
    let id = submitted(&db, "cli");
    Publisher {
        db: &db,
        reads: None,
        key: Some(&key),
        now: chrono::Utc::now(),
    }
    .approve(
        &Context::actor("user:rafael"),
        &rafael,
        id,
        revision(&db, id),
        None,
    )
    .unwrap();
    assert_eq!(audit::latest_checkpoint(&db).unwrap().size, audit_size(&db));
    assert_eq!(reads.latest(SLUG).unwrap().version, 2, "not loaded here");
    // … and another replica's read model picks it up on its poll.
    assert_eq!(publisher.poll().unwrap(), 1);
    assert_eq!(reads.latest(SLUG).unwrap().version, 3);
    // Old versions come from the database, built once.
    let old = reads.version(SLUG, Some(1)).unwrap();
    assert_eq!(old.version, 1);
    assert_eq!(old.sha256, v1.sha256);
    assert!(std::sync::Arc::ptr_eq(
        &old,
        &reads.version(SLUG, Some(1)).unwrap()
    ));
    assert!(matches!(
        reads.version(SLUG, Some(9)),
        Err(vigil::error::Error::NotFound(_))
    ));
}

/// Decodes a body by its Content-Encoding.
fn decoded(coding: &str, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut plain = Vec::new();
    match coding {
        "br" => brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut plain)
            .unwrap(),
        "gzip" => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .unwrap(),
        _ => {
            plain = body.to_vec();
            0
        }
    };
    plain
}

common::backend_test!(async an_approval_answers_before_brotli_and_readers_get_the_new_version_at_once);
async fn an_approval_answers_before_brotli_and_readers_get_the_new_version_at_once(
    t: common::TestDb,
) {
    use actix_web::http::header;
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    let db = t.open();
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(&db, &Context::actor("cli:test"), &folder, false).unwrap();
    let state = actix_web::web::Data::new(vigil::http::AppState::load(db.clone()).unwrap());
    // Loaded before serving: fully compressed, brotli included.
    let v1 = state.reads.latest(SLUG).unwrap();
    assert!(v1.document.brotli().is_some() && v1.page.brotli().is_some());
    let app = init_service(vigil::http::app(state.clone())).await;

    let id = submitted(&db, "background");
    approve_as_rafael(&state, &db, id);
    let asked = std::time::Instant::now();
    // At once: version 2, in gzip until brotli is made.
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/api/v1/events/beslan-2004")
            .insert_header((header::ACCEPT_ENCODING, "br, gzip"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let coding = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(coding == "gzip" || coding == "br", "{coding}");
    let doc: serde_json::Value =
        serde_json::from_slice(&decoded(&coding, &read_body(res).await)).unwrap();
    assert_eq!(doc["version"], 2, "the new version, at once");

    // Brotli follows from the compressor thread.
    let v2 = state.reads.latest(SLUG).unwrap();
    while v2.document.brotli().is_none() || v2.page.brotli().is_none() {
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(10),
            "brotli never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/api/v1/events/beslan-2004")
            .insert_header((header::ACCEPT_ENCODING, "br, gzip"))
            .to_request(),
    )
    .await;
    assert_eq!(res.headers().get(header::CONTENT_ENCODING).unwrap(), "br");
    let body = read_body(res).await;
    assert_eq!(decoded("br", &body), &v2.document.identity[..]);
}

/// An event with versions 1 to `n`: the Beslan import, then `n - 1`
/// publishes with one note changed each (the test fixture publish).
fn with_versions(db: &Db, n: usize) {
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(db, &Context::actor("cli:test"), &folder, false).unwrap();
    let mut ds = service::dataset(db, SLUG).unwrap();
    for v in 2..=n {
        ds.figures[0].notes = format!("note {v}");
        common::publish::publish_reviewed(db, &ds, "a note changed, to make another version");
    }
}

common::backend_test!(old_versions_are_built_once_however_many_ask_and_kept_within_a_byte_budget);
fn old_versions_are_built_once_however_many_ask_and_kept_within_a_byte_budget(t: common::TestDb) {
    use std::sync::Arc;
    let db = t.open();
    with_versions(&db, 6);
    // The size of one old version, to set a budget of about two.
    let probe = reads(&db);
    probe.load().unwrap();
    let one = probe.version(SLUG, Some(1)).unwrap().size();
    let budget = one * 5 / 2;
    let reads = Reads::with_budget(db.clone(), vigil::http::pages::render_event_page, budget);
    reads.load().unwrap();
    assert_eq!(reads.latest(SLUG).unwrap().version, 6);

    // Sixteen readers of an uncached version at once: one build, the
    // same snapshot for all of them.
    let got: Vec<Arc<vigil::service::reads::ServedVersion>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|_| s.spawn(|| reads.version(SLUG, Some(2)).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(got.iter().all(|s| Arc::ptr_eq(s, &got[0])), "built once");
    assert_eq!(got[0].version, 2);
    assert_eq!(reads.old_versions_held(), (got[0].size(), 1));

    // Readers of a version that does not exist all get 404.
    let missing: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    matches!(
                        reads.version(SLUG, Some(60)),
                        Err(vigil::error::Error::NotFound(_))
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(missing.iter().all(|m| *m));

    // Within the budget: reading 3, 4 and 5 keeps at most two, the
    // least recently read dropped first.
    let v3 = reads.version(SLUG, Some(3)).unwrap();
    let _ = reads.version(SLUG, Some(2)).unwrap();
    let _ = reads.version(SLUG, Some(4)).unwrap();
    let (bytes, count) = reads.old_versions_held();
    assert!(bytes <= budget, "{bytes} > {budget}");
    assert_eq!(count, 2);
    // 3 was read before 2: it went, 2 stayed.
    assert!(Arc::ptr_eq(&reads.version(SLUG, Some(2)).unwrap(), &got[0]));
    assert!(!Arc::ptr_eq(&reads.version(SLUG, Some(3)).unwrap(), &v3));
    let _ = reads.version(SLUG, Some(5)).unwrap();
    assert!(reads.old_versions_held().0 <= budget);

    // The cached snapshot holds the bodies only, the same bytes as the
    // database's document.
    let row = service::version(&db, SLUG, Some(4)).unwrap();
    let s = reads.version(SLUG, Some(4)).unwrap();
    assert_eq!(&s.document.identity[..], row.document.as_bytes());

    // A budget smaller than one version keeps none, and still serves.
    let none = Reads::with_budget(db.clone(), vigil::http::pages::render_event_page, 1000);
    assert_eq!(none.version(SLUG, Some(1)).unwrap().version, 1);
    assert_eq!(none.old_versions_held(), (0, 0));
}

common::backend_test!(async pages_ignore_unknown_parameters_and_old_versions_name_the_latest);
/// The memorial pages on both backends: shared links with parameters the
/// pages do not know show the page (the JSON API still refuses them); an
/// older version's page names the latest, and is made again when a newer
/// one is published; the history and the diff are pages with the reason
/// of each change; the favicon is there.
async fn pages_ignore_unknown_parameters_and_old_versions_name_the_latest(t: common::TestDb) {
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    let db = t.open();
    let folder = Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(&db, &Context::actor("cli:test"), &folder, false).unwrap();
    let state = actix_web::web::Data::new(vigil::http::AppState::load(db.clone()).unwrap());
    let app = init_service(vigil::http::app(state.clone())).await;
    let get = |uri: &str| TestRequest::get().uri(uri).to_request();
    macro_rules! page {
        ($uri:expr) => {{
            let res = call_service(&app, get($uri)).await;
            let status = res.status().as_u16();
            let body = String::from_utf8(read_body(res).await.to_vec()).unwrap();
            (status, body)
        }};
    }
    let (s, plain) = page!("/events/beslan-2004");
    assert_eq!(s, 200);
    let (s, shared) = page!("/events/beslan-2004?utm_source=x&fbclid=y");
    assert_eq!(s, 200, "{}: {shared}", t.name);
    assert_eq!(shared, plain);
    let (s, api) = page!("/api/v1/events/beslan-2004?utm_source=x");
    assert_eq!(s, 400, "the API stays strict: {api}");
    assert!(api.contains("utm_source"), "{api}");
    let (s, bad) = page!("/events/beslan-2004?version=two&utm_source=x");
    assert_eq!(s, 400);
    assert!(
        bad.contains("&#39;version&#39;") && bad.contains("is not valid"),
        "{bad}"
    );
    assert!(!plain.contains("id=\"old-version\""));

    // Version 2, published through the service.
    let id = submitted_because(&db, "a second version", "second");
    approve_as_rafael(&state, &db, id);
    let (s, v1) = page!("/events/beslan-2004?version=1&utm_medium=social");
    assert_eq!(s, 200);
    assert!(v1.contains("Version 1 of 2, published "), "{v1}");
    assert!(v1.contains("the latest is version 2"));
    let (_, latest) = page!("/events/beslan-2004");
    assert!(!latest.contains("id=\"old-version\""));
    assert!(latest.contains("This is version 2 of the figures, published "));

    // A third: the cached page of version 1 is made again.
    let id = submitted_because(&db, "a third version", "third");
    approve_as_rafael(&state, &db, id);
    let (_, v1) = page!("/events/beslan-2004?version=1");
    assert!(v1.contains("Version 1 of 3, published "), "stale banner");
    let (_, v2) = page!("/events/beslan-2004?version=2");
    assert!(v2.contains("Version 2 of 3"));

    let (s, history) = page!("/events/beslan-2004/history?fbclid=y");
    assert_eq!(s, 200);
    assert!(history.contains("a third version") && history.contains("a second version"));
    assert!(history.contains("First publication of the figures."));
    let (s, diff) = page!("/events/beslan-2004/diff?from=1&to=2&utm_source=x");
    assert_eq!(s, 200, "{diff}");
    assert!(diff.contains("Injured"), "{diff}");
    let (s, _) = page!("/events/beslan-2004/diff?from=0&to=2");
    assert_eq!(s, 400);
    let (s, _) = page!("/events/beslan-2004/diff?from=1&to=9");
    assert_eq!(s, 404);
    let (s, icon) = page!("/favicon.ico");
    assert_eq!(s, 200);
    assert!(icon.starts_with("<svg"));
}
