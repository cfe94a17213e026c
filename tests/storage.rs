//! Migrations and storage guarantees, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use diesel::prelude::*;
use diesel::sql_types::Text;
use vigil::db::Conn;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn tables(db: &vigil::db::Db) -> Vec<String> {
    let mut c = db.conn().unwrap();
    let sql = match &*c {
        Conn::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') \
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name"
        }
        Conn::Postgres(_) => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
             UNION SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal \
             UNION SELECT proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'public' ORDER BY name"
        }
    };
    diesel::sql_query(sql)
        .load::<Name>(&mut *c)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

common::backend_test!(migrations_go_up_down_and_up_again);
fn migrations_go_up_down_and_up_again(t: common::TestDb) {
    let db = vigil::db::Db::open(&t.url).unwrap();
    let applied = db.migrate().unwrap();
    assert!(!applied.is_empty(), "{}: nothing applied", t.name);
    let after_up = tables(&db);
    for want in [
        "events",
        "figures",
        "claims",
        "sources",
        "rules",
        "versions",
        "changesets",
    ] {
        assert!(
            after_up.iter().any(|n| n == want),
            "{}: {want} missing in {after_up:?}",
            t.name
        );
    }
    assert_eq!(
        db.migrate().unwrap(),
        Vec::<String>::new(),
        "{}: second run applies nothing",
        t.name
    );
    let reverted = db.revert_all().unwrap();
    assert_eq!(reverted.len(), applied.len(), "{}", t.name);
    assert_eq!(
        tables(&db),
        Vec::<String>::new(),
        "{}: down left something",
        t.name
    );
    db.migrate().unwrap();
    assert_eq!(tables(&db), after_up, "{}: up again differs", t.name);
    // And the schema works after the round: import the dataset.
    let folder = vigil::files::Folder::read_dir(&common::beslan_dir()).unwrap();
    vigil::service::import(&db, &vigil::service::Context::actor("test"), &folder, false).unwrap();
}

common::backend_test!(published_versions_cannot_be_changed_or_deleted);
fn published_versions_cannot_be_changed_or_deleted(t: common::TestDb) {
    let db = t.open();
    let folder = vigil::files::Folder::read_dir(&common::beslan_dir()).unwrap();
    vigil::service::import(&db, &vigil::service::Context::actor("test"), &folder, false).unwrap();
    let mut c = db.conn().unwrap();
    let update = diesel::sql_query("UPDATE versions SET document = '{}'").execute(&mut *c);
    let err = update.expect_err("the update must be refused").to_string();
    assert!(err.contains("immutable"), "{}: {err}", t.name);
    let delete = diesel::sql_query("DELETE FROM versions").execute(&mut *c);
    assert!(delete
        .expect_err("the delete must be refused")
        .to_string()
        .contains("immutable"));
    let v = vigil::service::version(&db, "beslan-2004", Some(1)).unwrap();
    assert!(vigil::document::verify(&v.document).unwrap(), "{}", t.name);
}

#[test]
fn a_bad_database_url_says_what_is_wrong() {
    let err = vigil::db::Db::open("mysql://x@y/z")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("neither sqlite://PATH nor postgres://"),
        "{err}"
    );
    let err = vigil::db::Db::open("postgres://vigil:secret@127.0.0.1:1/none")
        .err()
        .unwrap()
        .to_string();
    assert!(!err.contains("secret"), "the password leaks: {err}");
}

common::backend_test!(the_claims_migration_keeps_existing_rows);
/// The claims migration keeps every stored claim and event as it was: the
/// date stays, the new qualifier and approximation are empty.
fn the_claims_migration_keeps_existing_rows(t: common::TestDb) {
    use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
    const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
    const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
    const CLAIMS: &str = "2026-12-01-000004_claims";
    let db = vigil::db::Db::open(&t.url).unwrap();
    {
        let mut c = db.conn().unwrap();
        // Every migration before the claims one.
        macro_rules! before {
            ($conn:expr, $m:expr) => {{
                use diesel::migration::{MigrationConnection, MigrationSource};
                $conn.setup().unwrap();
                let all = MigrationSource::<_>::migrations(&$m).unwrap();
                for m in all
                    .iter()
                    .filter(|m| m.name().to_string().as_str() < CLAIMS)
                {
                    $conn.run_migration(m.as_ref()).unwrap();
                }
            }};
        }
        match &mut *c {
            Conn::Sqlite(s) => before!(s, SQLITE),
            Conn::Postgres(p) => before!(p, POSTGRES),
        }
        for sql in [
                "INSERT INTO events (slug, title, location, started_on, ended_on, timezone, summary) \
                 VALUES ('old-event', 'Old', '', '2004-09-01', '2004-09-03', 'UTC', '')",
                "INSERT INTO sources (event, key, title, author, publisher, kind, published_on, url, notes) \
                 VALUES ('old-event', 's', 'S', '', '', 'official', NULL, '', '')",
                "INSERT INTO figures (event, key, label, unit, parent, breakdown, position, low, best, high, status, notes) \
                 VALUES ('old-event', 'f', 'F', 'persons', NULL, NULL, 1, NULL, 7, NULL, 'confirmed', '')",
                "INSERT INTO claims (event, id, figure, source, low, best, high, as_of, rank, reason, locator, quote, note) \
                 VALUES ('old-event', 'c', 'f', 's', NULL, 7, NULL, '2004-09-07', 'preferred', NULL, 'p. 3', 'seven', 'kept')",
            ] {
                diesel::sql_query(sql).execute(&mut *c).unwrap();
            }
    }
    db.migrate().unwrap();
    let ds = {
        let mut c = db.conn().unwrap();
        vigil::db::load_dataset(&mut c, "old-event")
            .unwrap()
            .unwrap()
    };
    assert_eq!(ds.event.approximation, None, "{}", t.name);
    let c = &ds.claims[0];
    assert_eq!(
        (
            c.best,
            c.qualifier,
            c.as_of.map(|d| d.to_string()),
            c.quote.as_str(),
            c.note.as_str()
        ),
        (
            Some(7),
            None,
            Some("2004-09-07".to_string()),
            "seven",
            "kept"
        ),
        "{}",
        t.name
    );
}

common::backend_test!(a_kept_changeset_result_is_what_a_rebuild_gives_across_replicas);
/// A changeset's result is kept in memory by each database handle, so that
/// one more edit of a large changeset does not replay all of them. Two
/// handles on one database (two replicas) edit the same changeset in turn,
/// one save is refused as stale, an item is removed and files are imported:
/// after each step, what each handle answers is what a handle that keeps
/// nothing rebuilds from the stored edits.
fn a_kept_changeset_result_is_what_a_rebuild_gives_across_replicas(t: common::TestDb) {
    use vigil::accounts::Role;
    use vigil::model::{ItemEdit, Table};
    use vigil::service::{self, changesets::Precondition, Context};
    let one = t.open();
    let two = vigil::db::Db::open(&t.url).unwrap();
    let folder = vigil::files::Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(&one, &Context::actor("cli:test"), &folder, false).unwrap();
    let clara = common::person("clara", &[Role::Curator]);
    let ctx = Context::actor("user:clara");
    let id = service::changesets::open(&one, &ctx, &clara, "beslan-2004", "notes").unwrap();
    let operator = service::operator().1;
    let same_as_rebuilt = |step: &str| {
        let fresh = vigil::db::Db::open(&t.url).unwrap();
        let (_, want) = service::changesets::result(&fresh, id).unwrap();
        let want_view = service::changesets::view(&fresh, &operator, id).unwrap();
        for (name, db) in [("one", &one), ("two", &two)] {
            let (_, got) = service::changesets::result(db, id).unwrap();
            assert!(got == want, "{}: {step}: {name}'s result differs", t.name);
            let view = service::changesets::view(db, &operator, id).unwrap();
            assert_eq!(
                serde_json::to_value(&view.changes).unwrap(),
                serde_json::to_value(&want_view.changes).unwrap(),
                "{}: {step}: {name}'s changes differ",
                t.name
            );
            assert_eq!(view.problems, want_view.problems, "{step}: {name}");
        }
    };
    common::edit_notes(&one, &clara, id, "injured.total", "first");
    same_as_rebuilt("an edit through one");
    // two keeps the result now; one edits again, then two does.
    common::edit_notes(&one, &clara, id, "injured.total", "second");
    common::edit_notes(&two, &clara, id, "fatalities.children", "by two");
    same_as_rebuilt("edits through both");
    let notes = |db: &vigil::db::Db, key: &str| {
        service::changesets::item(db, &operator, id, Table::Figures, key)
            .unwrap()
            .item
            .unwrap()["notes"]
            .clone()
    };
    assert_eq!(notes(&one, "injured.total"), "second", "{}", t.name);
    assert_eq!(notes(&one, "fatalities.children"), "by two", "{}", t.name);

    // A save against an ETag the item no longer has is refused, and
    // what is kept is as it was.
    let mut item = service::changesets::item(&one, &operator, id, Table::Figures, "injured.total")
        .unwrap()
        .item
        .unwrap();
    item["notes"] = serde_json::json!("stale");
    let err = service::changesets::put_item(
        &one,
        &ctx,
        &clara,
        id,
        ItemEdit::put(Table::Figures, "injured.total", item).unwrap(),
        &Precondition::Matches("an old tag".into()),
    )
    .unwrap_err();
    assert!(matches!(err, vigil::error::Error::Stale { .. }), "{err}");
    same_as_rebuilt("a refused save");
    assert_eq!(notes(&one, "injured.total"), "second", "{}", t.name);

    // A claim removed through two, then the published files imported
    // through one: the import puts the claim back and drops the notes.
    let claim = service::changesets::result(&two, id).unwrap().1.claims[0]
        .id
        .clone();
    let v = service::changesets::item(&two, &operator, id, Table::Claims, &claim).unwrap();
    service::changesets::put_item(
        &two,
        &ctx,
        &clara,
        id,
        ItemEdit {
            table: Table::Claims,
            key: claim.clone(),
            item: None,
        },
        &Precondition::Matches(v.etag),
    )
    .unwrap();
    same_as_rebuilt("a claim removed");
    service::changesets::import_into(&one, &ctx, &clara, id, &folder, false).unwrap();
    same_as_rebuilt("files imported");
    let (_, back) = service::changesets::result(&two, id).unwrap();
    assert!(back.claims.iter().any(|c| c.id == claim), "{}", t.name);
    let files = folder.parse().unwrap();
    let published = files
        .figures
        .iter()
        .find(|f| f.key == "fatalities.children");
    assert_eq!(
        notes(&two, "fatalities.children"),
        serde_json::json!(published.unwrap().notes),
        "{}",
        t.name
    );
}
