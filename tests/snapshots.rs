//! Snapshots of what vigil hands to people and programs: the published
//! document, the problem bodies of refused requests, and `vigil check
//! --format json`. A change to any of them shows as a diff in review
//! (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`). Each
//! backend must give the same bytes, so both are held to one snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use common::app::*;

/// What changes from run to run (the time of publishing, and the hashes
/// that cover it), replaced by a placeholder naming it.
fn steady(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, field) in map.iter_mut() {
                    match k.as_str() {
                        "published_at" | "at" | "created_at" | "updated_at" => {
                            *field = json!("[time]")
                        }
                        "sha256" | "etag" => *field = json!("[hash]"),
                        _ => walk(field),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

common::backend_test!(async the_published_document_of_beslan);
async fn the_published_document_of_beslan(t: common::TestDb) {
    let app = start(&t).await;
    let (s, doc) = app.get(None, "/api/v1/events/beslan-2004").await;
    assert_eq!(s, StatusCode::OK, "{}: {doc}", t.name);
    insta::assert_json_snapshot!("published_document", steady(doc));
}

/// A refused request: its snapshot's name, method, path, who and body.
type Case<'a> = (&'a str, Method, String, Option<&'a Session>, Option<Value>);

common::backend_test!(async problem_bodies);
async fn problem_bodies(t: common::TestDb) {
    let app = start(&t).await;
    let curator = login(&app, "clara").await;
    let auditor = login(&app, "aude").await;
    let id = open_changeset(&app, &curator, "the injured, as the newer source states").await;
    let item = format!("/api/v1/changesets/{id}/figures/injured.total");
    let cases: Vec<Case> = vec![
        (
            "unknown_event",
            Method::GET,
            "/api/v1/events/no-such-event".into(),
            None,
            None,
        ),
        (
            "unknown_query_parameter",
            Method::GET,
            "/api/v1/events/beslan-2004/diff?from=1&to=1&colour=red".into(),
            None,
            None,
        ),
        (
            "unknown_version",
            Method::GET,
            "/api/v1/events/beslan-2004/versions/999".into(),
            None,
            None,
        ),
        (
            "method_not_allowed",
            Method::DELETE,
            "/api/v1/events".into(),
            None,
            None,
        ),
        (
            "diff_of_a_word",
            Method::GET,
            "/api/v1/events/beslan-2004/diff?from=first&to=2".into(),
            None,
            None,
        ),
        (
            "no_session",
            Method::POST,
            "/api/v1/changesets".into(),
            None,
            Some(json!({"event": "beslan-2004", "reason": "r"})),
        ),
        (
            "wrong_password",
            Method::POST,
            "/api/v1/session".into(),
            None,
            Some(json!({"username": "clara", "password": "not the password"})),
        ),
        (
            "auditor_opens_a_changeset",
            Method::POST,
            "/api/v1/changesets".into(),
            Some(&auditor),
            Some(json!({"event": "beslan-2004", "reason": "r"})),
        ),
        (
            "edit_without_if_match",
            Method::PUT,
            item.clone(),
            Some(&curator),
            Some(json!({"key": "injured.total"})),
        ),
        (
            "submit_with_no_edits",
            Method::POST,
            format!("/api/v1/changesets/{id}/submit"),
            Some(&curator),
            Some(json!({})),
        ),
    ];
    for (name, method, uri, who, body) in cases {
        let (s, v, h) = send(&app, method, &uri, who, body, &[]).await;
        assert!(s.is_client_error(), "{}: {name}: {s} {v}", t.name);
        assert_eq!(
            h.get("content-type").unwrap(),
            "application/problem+json",
            "{}: {name}",
            t.name
        );
        assert_eq!(v["status"], s.as_u16(), "{}: {name}", t.name);
        insta::assert_json_snapshot!(format!("problem_{name}"), steady(v));
    }
}

#[test]
fn vigil_check_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::vigil(dir.path())
        .args(["check", "--format", "json", "--dir"])
        .arg(common::beslan_dir())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    insta::assert_json_snapshot!("check_beslan", steady(report));
}
