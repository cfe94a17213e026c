//! Importing and exporting event folders, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{beslan_copy, beslan_dir, edit, export_bytes};
use vigil::files::Folder;
use vigil::model::{DeprecationReason, Rank};
use vigil::service::{self, Imported};
use vigil::Error;

const SLUG: &str = "beslan-2004";

fn import_dir(db: &vigil::db::Db, dir: &std::path::Path) -> vigil::Result<Imported> {
    let folder = Folder::read_dir(dir).map_err(Error::Files)?;
    service::import(
        db,
        &vigil::service::Context::actor("cli:test"),
        &folder,
        false,
    )
}

common::backend_test!(beslan_imports_with_the_articles_figures);
fn beslan_imports_with_the_articles_figures(t: common::TestDb) {
    let db = t.open();
    match import_dir(&db, &beslan_dir()).unwrap() {
        Imported::Published {
            version, sha256, ..
        } => {
            assert_eq!(version, 1);
            assert_eq!(sha256.len(), 64);
        }
        other => panic!("{}: expected a publish, got {other:?}", t.name),
    }
    let ds = service::dataset(&db, SLUG).unwrap();
    let categories: Vec<_> = ds
        .figures
        .iter()
        .filter(|f| f.parent.as_deref() == Some("fatalities"))
        .collect();
    assert_eq!(categories.len(), 7, "{}", t.name);
    assert_eq!(categories.iter().map(|f| f.best.unwrap()).sum::<i64>(), 334);
    let toll = ds.figure("fatalities").unwrap();
    assert_eq!((toll.low, toll.high), (Some(334), Some(335)));
    assert_eq!(ds.figure("hostages.children").unwrap().best, Some(777));
    assert_eq!(ds.figure("hostages.total").unwrap().best, Some(1128));
    let c354 = ds
        .claims
        .iter()
        .find(|c| c.figure == "hostages.total" && c.best == Some(354))
        .expect("the 354 claim is kept");
    assert_eq!(
        (c354.rank, c354.deprecation_reason),
        (Rank::Deprecated, Some(DeprecationReason::Discredited))
    );
    // The published document is the data, and its hash holds.
    let v = service::version(&db, SLUG, None).unwrap();
    assert!(vigil::document::verify(&v.document).unwrap());
    assert_eq!(
        vigil::document::dataset(&v.document).unwrap(),
        ds,
        "{}",
        t.name
    );
}

common::backend_test!(import_export_import_is_the_identity);
fn import_export_import_is_the_identity(t: common::TestDb) {
    let db = t.open();
    import_dir(&db, &beslan_dir()).unwrap();
    let first = service::dataset(&db, SLUG).unwrap();
    let out = tempfile::tempdir().unwrap();
    vigil::files::write_dir(&first, out.path()).unwrap();
    // The repository's files are in canonical form: the export is byte-identical.
    for f in common::FILES {
        assert_eq!(
            std::fs::read(out.path().join(f)).unwrap(),
            std::fs::read(beslan_dir().join(f)).unwrap(),
            "{}: {f} differs from the repository's",
            t.name
        );
    }
    // Importing the export again changes nothing.
    assert!(matches!(
        import_dir(&db, out.path()).unwrap(),
        Imported::Unchanged { .. }
    ));
    // Into a second database, and out again: byte-identical.
    let t2 = common::sqlite();
    let db2 = t2.open();
    import_dir(&db2, out.path()).unwrap();
    assert_eq!(service::dataset(&db2, SLUG).unwrap(), first);
    assert_eq!(
        export_bytes(&db2, SLUG),
        export_bytes(&db, SLUG),
        "{}",
        t.name
    );
}

/// A way to damage an import folder.
type Damage = Box<dyn Fn(&std::path::Path)>;

common::backend_test!(bad_files_are_refused_with_file_line_and_column);
/// Each refusal, with the place and the message it must name.
fn bad_files_are_refused_with_file_line_and_column(t: common::TestDb) {
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "unknown column",
            Box::new(|d| {
                edit(
                    d,
                    "rules.csv",
                    "id,expression,severity,note",
                    "id,expression,severity,note,extra",
                )
            }),
            "rules.csv:1:5: unknown column 'extra'",
        ),
        (
            "missing column",
            Box::new(|d| {
                edit(
                    d,
                    "sources.csv",
                    "key,title,author,publisher,kind,published_on,url,notes",
                    "key,title,author,publisher,kind,published_on,url",
                )
            }),
            "sources.csv:1: missing column(s): notes",
        ),
        (
            "duplicate key",
            Box::new(|d| {
                let p = d.join("figures.csv");
                let s = std::fs::read_to_string(&p).unwrap();
                let line = s
                    .lines()
                    .find(|l| l.starts_with("fatalities.staff,"))
                    .unwrap()
                    .to_string();
                std::fs::write(&p, format!("{s}{line}\n")).unwrap();
            }),
            "figures.csv:88:1: duplicate figure key 'fatalities.staff'",
        ),
        (
            "unknown figure",
            Box::new(|d| {
                edit(
                    d,
                    "claims.csv",
                    "hostages-official-354,hostages.total,",
                    "hostages-official-354,hostages.totl,",
                )
            }),
            ": unknown figure 'hostages.totl'",
        ),
        (
            "unknown source",
            Box::new(|d| {
                edit(
                    d,
                    "claims.csv",
                    "hostages-official-354,hostages.total,officials-2004,",
                    "hostages-official-354,hostages.total,officials-2044,",
                )
            }),
            ":3: unknown source 'officials-2044'",
        ),
        (
            "parent cycle",
            Box::new(|d| {
                edit(
                    d,
                    "figures.csv",
                    "fatalities,People killed,persons,,",
                    "fatalities,People killed,persons,fatalities.children,",
                )
            }),
            "figures.csv:2:4: parents form a cycle: fatalities → fatalities.children → fatalities",
        ),
        (
            "bad number",
            Box::new(|d| {
                edit(
                    d,
                    "figures.csv",
                    ",,1128,,confirmed",
                    ",,\"1,128\",,confirmed",
                )
            }),
            ":8: best: '1,128' is not a whole number: write digits only",
        ),
        (
            "bad date",
            Box::new(|d| {
                edit(
                    d,
                    "claims.csv",
                    ",354,,,,deprecated",
                    ",354,,,2004-09-31,deprecated",
                )
            }),
            ":8: as_of: '2004-09-31' is not a day of the calendar",
        ),
        (
            "reason without deprecation",
            Box::new(|d| {
                edit(
                    d,
                    "claims.csv",
                    ",354,,,,deprecated,discredited",
                    ",354,,,,normal,discredited",
                )
            }),
            ":10: reason 'discredited' is only for deprecated claims",
        ),
        (
            "bad rule",
            Box::new(|d| {
                edit(
                    d,
                    "rules.csv",
                    "hostages.children <= hostages.total",
                    "hostages.children <= <= hostages.total",
                )
            }),
            ":2: column 22: expected a number or a figure key",
        ),
        (
            "invalid UTF-8",
            Box::new(|d| {
                let p = d.join("sources.csv");
                let mut b = std::fs::read(&p).unwrap();
                b.extend_from_slice(b"x,Title \xff\xfe,,,news,,,\n");
                std::fs::write(&p, b).unwrap();
            }),
            "sources.csv:27:9: invalid UTF-8",
        ),
        (
            "file too large",
            Box::new(|d| {
                let f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(d.join("rules.csv"))
                    .unwrap();
                f.set_len(vigil::files::MAX_FILE_BYTES + 1).unwrap();
            }),
            "rules.csv: the file is larger than the limit of 64 MiB",
        ),
        (
            "missing file",
            Box::new(|d| std::fs::remove_file(d.join("event.csv")).unwrap()),
            "event.csv: missing file",
        ),
    ];
    let db = t.open();
    import_dir(&db, &beslan_dir()).unwrap();
    let before = export_bytes(&db, SLUG);
    for (name, damage, want) in &cases {
        let dir = beslan_copy();
        damage(dir.path());
        let err = match import_dir(&db, dir.path()) {
            Err(Error::Files(list)) => list,
            other => panic!("{}: {name}: expected file errors, got {other:?}", t.name),
        };
        let text: Vec<String> = err.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter().any(|e| e.contains(want)),
            "{}: {name}: no error contains {want:?}: {text:#?}",
            t.name
        );
        assert_eq!(
            export_bytes(&db, SLUG),
            before,
            "{}: {name} changed the database",
            t.name
        );
    }
    assert_eq!(service::version(&db, SLUG, None).unwrap().number, 1);
}

#[test]
fn several_errors_are_reported_at_once() {
    let dir = beslan_copy();
    edit(
        dir.path(),
        "claims.csv",
        ",354,,,,deprecated,",
        ",35x,,,,deprecated,",
    );
    edit(
        dir.path(),
        "figures.csv",
        ",,1128,,confirmed",
        ",,1128,,certain",
    );
    edit(
        dir.path(),
        "rules.csv",
        "hostages.children <= hostages.total",
        "hostages.children <= hostages.total +",
    );
    let err = Folder::read_dir(dir.path()).unwrap().parse().unwrap_err();
    let files: Vec<&str> = err.iter().map(|e| e.file.as_str()).collect();
    assert!(
        files.contains(&"claims.csv") && files.contains(&"figures.csv"),
        "{err:?}"
    );
    let text = err
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("status: 'certain' is not one of: confirmed, estimate, disputed"),
        "{text}"
    );
    assert!(text.contains("best: '35x' is not a whole number"), "{text}");
}

#[test]
fn a_bom_and_crlf_are_accepted() {
    let dir = beslan_copy();
    for f in common::FILES {
        let p = dir.path().join(f);
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("\u{feff}{}", s.replace('\n', "\r\n"))).unwrap();
    }
    let plain = Folder::read_dir(&beslan_dir()).unwrap().parse().unwrap();
    let odd = Folder::read_dir(dir.path()).unwrap().parse().unwrap();
    // Quoted fields keep their own line breaks; none of Beslan's have any.
    assert_eq!(odd, plain);
}

common::backend_test!(importing_into_an_existing_event_submits_a_changeset);
fn importing_into_an_existing_event_submits_a_changeset(t: common::TestDb) {
    let db = t.open();
    import_dir(&db, &beslan_dir()).unwrap();
    let before = export_bytes(&db, SLUG);
    let dir = beslan_copy();
    edit(
        dir.path(),
        "figures.csv",
        ",,1128,,confirmed",
        ",,1129,,confirmed",
    );
    // A dry run says what would change and writes nothing.
    let folder = Folder::read_dir(dir.path()).unwrap();
    match service::import(
        &db,
        &vigil::service::Context::actor("cli:test"),
        &folder,
        true,
    )
    .unwrap()
    {
        Imported::Submitted {
            changeset, changes, ..
        } => {
            assert_eq!(changeset, None);
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].key, "hostages.total");
        }
        other => panic!("{other:?}"),
    }
    let mut c = db.conn().unwrap();
    assert!(vigil::db::changesets_of(&mut c, SLUG).unwrap().is_empty());
    drop(c);
    let id = match import_dir(&db, dir.path()).unwrap() {
        Imported::Submitted {
            changeset: Some(id),
            ..
        } => id,
        other => panic!("{other:?}"),
    };
    let mut c = db.conn().unwrap();
    let cs = vigil::db::changeset(&mut c, id).unwrap().unwrap();
    assert_eq!(
        (cs.state.as_str(), cs.author.as_str(), cs.base_version),
        ("submitted", "cli:test", 1)
    );
    let edits = vigil::db::edits(&mut c, id).unwrap();
    assert_eq!(edits.len(), 1);
    assert!(edits[0].item.as_deref().unwrap().contains("\"best\":1129"));
    drop(c);
    // The published data waits for review.
    assert_eq!(export_bytes(&db, SLUG), before, "{}", t.name);
}

common::backend_test!(a_dry_run_of_a_new_event_writes_nothing);
fn a_dry_run_of_a_new_event_writes_nothing(t: common::TestDb) {
    let db = t.open();
    let folder = Folder::read_dir(&beslan_dir()).unwrap();
    let r = service::import(
        &db,
        &vigil::service::Context::actor("cli:test"),
        &folder,
        true,
    )
    .unwrap();
    assert!(matches!(r, Imported::Published { version: 1, .. }));
    assert!(service::events(&db).unwrap().is_empty(), "{}", t.name);
}

/// Removes a column from a CSV file of a folder.
fn drop_column(dir: &std::path::Path, file: &str, column: &str) {
    let p = dir.join(file);
    let mut r = csv::Reader::from_path(&p).unwrap();
    let header = r.headers().unwrap().clone();
    let at = header.iter().position(|h| h == column).unwrap();
    let keep = |rec: &csv::StringRecord| -> Vec<String> {
        rec.iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, v)| v.to_string())
            .collect()
    };
    let rows: Vec<Vec<String>> = r.records().map(|x| keep(&x.unwrap())).collect();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_path(&p)
        .unwrap();
    w.write_record(keep(&header)).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

common::backend_test!(a_folder_without_the_new_columns_still_imports);
fn a_folder_without_the_new_columns_still_imports(t: common::TestDb) {
    let db = t.open();
    let old = beslan_copy();
    // As written before claims had a qualifier and events an
    // approximation, with every claim dated.
    drop_column(old.path(), "claims.csv", "qualifier");
    drop_column(old.path(), "event.csv", "approximation");
    let folder = Folder::read_dir(old.path()).unwrap();
    let ds = folder.parse().unwrap();
    assert!(ds.claims.iter().all(|c| c.qualifier.is_none()));
    assert_eq!(ds.event.approximation, None);
    assert_eq!(ds.event.approximation_percent(), 10);
    import_dir(&db, old.path()).unwrap();
    assert_eq!(
        service::dataset(&db, SLUG).unwrap().claims.len(),
        ds.claims.len(),
        "{}",
        t.name
    );
    // Exported, the columns are there, empty.
    let out = export_bytes(&db, SLUG);
    let claims = String::from_utf8(out[3].1.clone()).unwrap();
    assert!(claims.starts_with("id,figure,source,low,best,high,qualifier,as_of,"));
}

common::backend_test!(qualifiers_and_undated_claims_survive_import_and_export);
fn qualifiers_and_undated_claims_survive_import_and_export(t: common::TestDb) {
    let db = t.open();
    import_dir(&db, &beslan_dir()).unwrap();
    let ds = service::dataset(&db, SLUG).unwrap();
    let c = |id: &str| ds.claims.iter().find(|c| c.id == id).unwrap().clone();
    let fire = c("deaths-fire-wikipedia");
    assert_eq!(fire.qualifier, Some(vigil::model::Qualifier::Approximate));
    assert_eq!(fire.stated(), "about 160");
    assert_eq!(fire.as_of, None);
    assert_eq!(fire.dated(), "undated");
    let more = c("hostages-wikipedia-1100");
    assert_eq!(more.stated(), "more than 1,100");
    assert_eq!((more.low, more.best, more.high), (Some(1100), None, None));
    // The document says it as the source does.
    let v = service::version(&db, SLUG, None).unwrap();
    assert!(v.document.contains(r#""stated":"about 160""#), "{}", t.name);
    assert!(v.document.contains(r#""dated":"undated""#), "{}", t.name);
    // A bad qualifier is refused where it is.
    let bad = beslan_copy();
    let claims = std::fs::read_to_string(bad.path().join("claims.csv")).unwrap();
    std::fs::write(
        bad.path().join("claims.csv"),
        claims.replacen(",approximate,", ",roughly,", 1),
    )
    .unwrap();
    let errors = Folder::read_dir(bad.path()).unwrap().parse().unwrap_err();
    assert!(
        errors.iter().any(|e| e.to_string().contains(
            ":7: qualifier: 'roughly' is not one of: approximate, more_than, fewer_than"
        )),
        "{errors:#?}"
    );
}
