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

fn audit_size(db: &Db) -> i64 {
    db.read(vigil::db::audit_size).unwrap()
}

#[test]
fn a_publish_is_followed_by_one_hook_that_loads_it_and_signs_a_checkpoint() {
    for t in common::backends("a_publish_is_followed_by_one_hook") {
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
            .approve(&Context::actor("user:rafael"), &rafael, id, None)
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
        let err = publisher.approve(&Context::actor("user:rafael"), &rafael, id, None);
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
        .approve(&Context::actor("user:rafael"), &rafael, id, None)
        .unwrap();
        assert_eq!(audit::latest_checkpoint(&db).unwrap().size, audit_size(&db));
        assert_eq!(reads.latest(SLUG).unwrap().version, 2, "not loaded here");
        // … and another replica's read model picks it up on its poll.
        assert_eq!(publisher.poll().unwrap(), 1);
        assert_eq!(reads.latest(SLUG).unwrap().version, 3);
        // Old versions come from the database, built once.
        let old = reads.snapshot(SLUG, Some(1)).unwrap();
        assert_eq!(old.version, 1);
        assert_eq!(old.sha256, v1.sha256);
        assert!(std::sync::Arc::ptr_eq(
            &old,
            &reads.snapshot(SLUG, Some(1)).unwrap()
        ));
        assert!(matches!(
            reads.snapshot(SLUG, Some(9)),
            Err(vigil::error::Error::NotFound(_))
        ));
    }
}
