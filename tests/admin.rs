//! Accounts, sessions, roles and the four-eyes flow, through the HTTP API
//! in process, on real SQLite and PostgreSQL databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{call_service, read_body, TestRequest};
use actix_web::web;
use chrono::Duration;
use serde_json::{json, Value};
use vigil::accounts::Role;
use vigil::http::{AppState, Config};
use vigil::service::{self, Context};

use common::app::*;

common::backend_test!(async four_eyes_flow_end_to_end);
async fn four_eyes_flow_end_to_end(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let cora = login(&app, "cora").await;
    let rafael = login(&app, "rafael").await;

    // A curator edits and submits.
    let id = open_changeset(
        &app,
        &cora,
        "Note the count of hostages released on day two",
    )
    .await;
    let note = "26 women and children were released on day two.";
    let (s, v) = edit_figure(&app, &cora, id, "hostages.total", "notes", json!(note)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = act(&app, &cora, id, "submit", "ready").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["changeset"]["state"], "submitted");

    // The author cannot approve, though a reviewer too.
    let (s, v) = act(&app, &cora, id, "approve", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("you wrote part of"),
        "{v}"
    );

    // A reviewer who did not write it approves; the public sees version 2 at once.
    let (s, v) = act(&app, &rafael, id, "approve", "checked against the article").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["published"]["version"], 2);
    assert_eq!(v["changeset"]["state"], "approved");
    assert_eq!(v["changeset"]["reviewer"], "user:rafael");
    let doc = public_version(&app).await;
    assert_eq!(doc["version"], 2, "{}", t.name);
    assert_eq!(figure(&doc, "hostages.total")["notes"], note);
    assert_eq!(doc["sha256"], v["published"]["sha256"]);

    // An edit after submission sends it back to draft; approval is refused until re-submitted.
    let id = open_changeset(&app, &clara, "Record the estimate of militants").await;
    let (s, _) = edit_figure(
        &app,
        &clara,
        id,
        "militants.entered",
        "notes",
        json!("Counts differ between reports."),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(act(&app, &clara, id, "submit", "").await.0, StatusCode::OK);
    let (s, _) = edit_figure(
        &app,
        &clara,
        id,
        "militants.entered",
        "notes",
        json!("Counts differ: 32, about 50, 58–76."),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = act(&app, &rafael, id, "approve", "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("is draft"), "{v}");
    assert_eq!(public_version(&app).await["version"], 2);
    assert_eq!(act(&app, &clara, id, "submit", "").await.0, StatusCode::OK);
    let (s, v) = act(&app, &rafael, id, "approve", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let doc = public_version(&app).await;
    assert_eq!(doc["version"], 3);
    assert_eq!(
        figure(&doc, "militants.entered")["notes"],
        "Counts differ: 32, about 50, 58–76."
    );

    // A change that violates an error check cannot be approved.
    let id = open_changeset(&app, &clara, "Lower one category by one").await;
    let doc = public_version(&app).await;
    let children = figure(&doc, "fatalities.children")["best"]
        .as_i64()
        .unwrap();
    let (s, _) = edit_figure(
        &app,
        &clara,
        id,
        "fatalities.children",
        "best",
        json!(children - 1),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .get(Some(&rafael), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["checks"]["status"], "violated",
        "the changeset page shows it live"
    );
    // Submitting it is refused at once, with the reason, as approving
    // it would be; it is not offered either.
    let (_, v) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    let submit = v["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "submit")
        .unwrap()
        .clone();
    let (s, v) = act(&app, &clara, id, "submit", "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains("violates 1 error check") && detail.contains("fatalities"),
        "{v}"
    );
    assert_eq!(submit["allowed"], false, "{submit}");
    assert!(
        submit["reason"]
            .as_str()
            .unwrap()
            .contains("violates 1 error check"),
        "{submit}"
    );
    assert_eq!(public_version(&app).await["version"], 3);
    // Put right, it is submitted, and the reviewer rejects it anyway.
    let (s, _) = edit_figure(
        &app,
        &clara,
        id,
        "fatalities.children",
        "best",
        json!(children),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = edit_figure(
        &app,
        &clara,
        id,
        "fatalities.children",
        "notes",
        json!("Recounted."),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(act(&app, &clara, id, "submit", "").await.0, StatusCode::OK);
    let (s, _) = act(
        &app,
        &rafael,
        id,
        "reject",
        "the categories must add up to the toll",
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Two curators editing the same figure of one draft: the second gets
    // 409 with the current item, and the first's edit is kept.
    let id = open_changeset(&app, &clara, "Injured: wording").await;
    let (etag, item) = etag_of(&app, &clara, id, "figures/injured.total").await;
    let mut first = item.clone();
    first["notes"] = json!("first curator's wording");
    let (s, _, _) = send(
        &app,
        Method::PUT,
        &format!("/api/v1/changesets/{id}/figures/injured.total"),
        Some(&clara),
        Some(first),
        &[("If-Match", &etag)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut second = item.clone();
    second["notes"] = json!("second curator's wording");
    let (s, v, _) = send(
        &app,
        Method::PUT,
        &format!("/api/v1/changesets/{id}/figures/injured.total"),
        Some(&cora),
        Some(second),
        &[("If-Match", &etag)],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["current"]["notes"], "first curator's wording");
    assert!(v["etag"].is_string());
    let (_, now) = etag_of(&app, &clara, id, "figures/injured.total").await;
    assert_eq!(now["notes"], "first curator's wording");
    // No precondition at all: 428, nothing stored.
    let (s, _, _) = send(
        &app,
        Method::PUT,
        &format!("/api/v1/changesets/{id}/figures/injured.total"),
        Some(&cora),
        Some(item.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_REQUIRED);

    // Two changesets editing the same figure: the second to be approved
    // is refused, naming the item, after the first is published.
    let a = open_changeset(&app, &clara, "Injured: note A").await;
    let b = open_changeset(&app, &cora, "Injured: note B").await;
    assert_eq!(
        edit_figure(&app, &clara, a, "injured.total", "notes", json!("note A"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        edit_figure(&app, &cora, b, "injured.total", "notes", json!("note B"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(act(&app, &clara, a, "submit", "").await.0, StatusCode::OK);
    assert_eq!(act(&app, &cora, b, "submit", "").await.0, StatusCode::OK);
    assert_eq!(act(&app, &rafael, a, "approve", "").await.0, StatusCode::OK);
    let (s, v) = act(&app, &rafael, b, "approve", "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("figures/injured.total"),
        "{v}"
    );
    let doc = public_version(&app).await;
    assert_eq!(doc["version"], 4);
    assert_eq!(figure(&doc, "injured.total")["notes"], "note A");

    // Every step is in the audit log, in one gapless sequence.
    let entries = app.audit(None);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
    }
    let count = |action: &str| entries.iter().filter(|e| e.action == action).count();
    assert_eq!(count("version.publish"), 4, "{}", t.name);
    assert_eq!(count("changeset.approve"), 3);
    assert_eq!(count("changeset.reject"), 1);
    let publish = entries
        .iter()
        .rfind(|e| e.action == "version.publish")
        .unwrap();
    assert_eq!(publish.after.as_ref().unwrap()["sha256"], doc["sha256"]);
}

/// Who asks, in the matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Asker {
    Nobody,
    Admin,
    Curator,
    Reviewer,
    Auditor,
    /// A curator whose request carries a wrong CSRF token.
    WrongCsrf,
    /// An API token with the curator role (no CSRF needed).
    Token,
}

common::backend_test!(async role_endpoint_matrix);
async fn role_endpoint_matrix(t: common::TestDb) {
    use Asker::*;
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    let clara = login(&app, "clara").await;
    let rafael = login(&app, "rafael").await;
    let aude = login(&app, "aude").await;
    let bad = Session {
        cookie: clara.cookie.clone(),
        csrf: "0".repeat(64),
    };
    let (_, secret) = service::accounts::create_token(
        &app.state.db,
        &Context::actor("cli:test"),
        &vigil::accounts::Principal::operator("test"),
        "robot",
        &[Role::Curator],
        None,
    )
    .unwrap();
    // A draft by clara with one edit, and a submitted one by cora.
    let draft = draft_with_notes(&app, &clara, "matrix draft", "injured.total", "x").await;
    let cora = login(&app, "cora").await;
    let submitted =
        submitted_with_notes(&app, &cora, "matrix submitted", "injured.total", "y").await;

    let item = format!("/api/v1/changesets/{draft}/figures/injured.total");
    // (method, path, body, expected for Nobody, Admin, Curator, Reviewer, Auditor, WrongCsrf, Token)
    let rows: Vec<(Method, String, Option<Value>, [u16; 7])> = vec![
        (
            Method::GET,
            "/api/v1/session".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/v1/changesets".into(),
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("/api/v1/changesets/{draft}"),
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            item.clone(),
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/v1/changesets".into(),
            Some(json!({"event": SLUG, "reason": "r"})),
            [401, 403, 201, 403, 403, 403, 201],
        ),
        // Without If-Match: the curator gets past the role check to 428.
        (
            Method::PUT,
            item.clone(),
            Some(json!({})),
            [401, 403, 428, 403, 403, 403, 428],
        ),
        (
            Method::DELETE,
            item.clone(),
            None,
            [401, 403, 428, 403, 403, 403, 428],
        ),
        // clara's draft: submitting needs a curator; the token is one.
        (
            Method::POST,
            format!("/api/v1/changesets/{submitted}/submit"),
            Some(json!({})),
            [401, 403, 409, 403, 403, 403, 409],
        ),
        // Only its author may withdraw.
        (
            Method::POST,
            format!("/api/v1/changesets/{submitted}/withdraw"),
            Some(json!({})),
            [401, 403, 403, 403, 403, 403, 403],
        ),
        // A reviewer may approve or reject; a draft is not yet reviewable.
        (
            Method::POST,
            format!("/api/v1/changesets/{draft}/approve"),
            Some(json!({})),
            [401, 403, 403, 409, 403, 403, 403],
        ),
        (
            Method::POST,
            format!("/api/v1/changesets/{draft}/reject"),
            Some(json!({"comment": "no"})),
            [401, 403, 403, 409, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/users".into(),
            None,
            [401, 200, 403, 403, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": "n", "password": "short", "roles": ["curator"]})),
            [401, 400, 403, 403, 403, 403, 403],
        ),
        (
            Method::PATCH,
            "/api/v1/users/nobody".into(),
            Some(json!({"disabled": true})),
            [401, 404, 403, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/v1/tokens".into(),
            None,
            [401, 200, 403, 403, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": "robot", "roles": ["curator"]})),
            [401, 409, 403, 403, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/v1/tokens/none".into(),
            None,
            [401, 404, 403, 403, 403, 403, 403],
        ),
    ];
    let askers = [Nobody, Admin, Curator, Reviewer, Auditor, WrongCsrf, Token];
    let bearer = format!("Bearer {secret}");
    let mut failures = Vec::new();
    for (method, path, body, expected) in &rows {
        for (asker, want) in askers.iter().zip(expected) {
            let session = match asker {
                Nobody | Token => None,
                Admin => Some(&ada),
                Curator => Some(&clara),
                Reviewer => Some(&rafael),
                Auditor => Some(&aude),
                WrongCsrf => Some(&bad),
            };
            // Reviews name a revision (any: the role decides first).
            let mut auth: Vec<(&str, &str)> =
                if path.ends_with("/approve") || path.ends_with("/reject") {
                    vec![("If-Match", "\"1\"")]
                } else {
                    vec![]
                };
            if *asker == Token {
                auth.push(("Authorization", bearer.as_str()));
            }
            let (s, v, _) = send(&app, method.clone(), path, session, body.clone(), &auth).await;
            if s.as_u16() != *want {
                failures.push(format!(
                    "{method} {path} as {asker:?}: {} (wanted {want}) {v}",
                    s.as_u16()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Log-out with a wrong CSRF token is refused too; with the right one it ends the session.
    let (s, _) = app.delete(Some(&bad), "/api/v1/session").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.delete(Some(&clara), "/api/v1/session").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(Some(&clara), "/api/v1/session").await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "log-out ends the session on the server"
    );
}

common::backend_test!(async login_lockout_expiry_fixation_and_disable);
async fn login_lockout_expiry_fixation_and_disable(t: common::TestDb) {
    let clock = clock();
    let app = serve(state(&t, clock.clone())).await;
    let try_login = |name: &'static str, password: &'static str| {
        TestRequest::post()
            .uri("/api/v1/session")
            .peer_addr("198.51.100.7:5000".parse().unwrap())
            .set_json(json!({"username": name, "password": password}))
            .to_request()
    };
    // The same answer for an unknown user and a wrong password.
    let wrong = call_service(&app, try_login("clara", "not the password at all")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong: Value = serde_json::from_slice(&read_body(wrong).await).unwrap();
    let unknown = call_service(&app, try_login("nobody", "not the password at all")).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = serde_json::from_slice(&read_body(unknown).await).unwrap();
    assert_eq!(wrong, unknown);

    // Five failures lock the account out, even for the right password.
    for _ in 0..4 {
        let r = call_service(&app, try_login("clara", "still not the password")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = call_service(&app, try_login("clara", PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{}", t.name);
    let retry: i64 = r
        .headers()
        .get(header::RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    // The lockout ends by itself.
    clock.advance(Duration::minutes(15));
    let r = call_service(&app, try_login("clara", PASSWORD)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let entries = app.audit(Some("session.login_failed"));
    assert_eq!(entries.len(), 6);
    assert!(entries
        .iter()
        .all(|e| e.actor == "anonymous" && e.client.as_deref() == Some("198.51.100.7")));
    let lockouts = app.audit(Some("session.lockout"));
    assert_eq!(lockouts.len(), 1);
    let all = app.audit(None);
    for e in &all {
        let text = e.canonical();
        assert!(
            !text.contains(PASSWORD) && !text.contains("not the password"),
            "a secret in the log: {text}"
        );
    }

    // Fixation: a cookie planted before log-in is not adopted; each log-in gets a new id.
    let planted = TestRequest::post()
        .uri("/api/v1/session")
        .insert_header((
            header::COOKIE,
            "__Host-vigil-session=00000000000000000000000000000000",
        ))
        .set_json(json!({"username": "rafael", "password": PASSWORD}))
        .to_request();
    let set = set_cookie(&call_service(&app, planted).await);
    assert!(!set.contains("00000000000000000000000000000000"));
    let a = login(&app, "rafael").await;
    let b = login(&app, "rafael").await;
    assert_ne!(a.cookie, b.cookie);
    assert_ne!(a.csrf, b.csrf);

    // Idle timeout: 29 minutes is fine, 30 without a request ends it.
    clock.advance(Duration::minutes(29));
    assert_eq!(app.get(Some(&a), "/api/v1/session").await.0, StatusCode::OK);
    clock.advance(Duration::minutes(30));
    assert_eq!(
        app.get(Some(&b), "/api/v1/session").await.0,
        StatusCode::UNAUTHORIZED
    );
    // Absolute timeout: active every 20 minutes, still ended at 12 hours.
    let s = login(&app, "aude").await;
    for _ in 0..35 {
        clock.advance(Duration::minutes(20));
        assert_eq!(app.get(Some(&s), "/api/v1/session").await.0, StatusCode::OK);
    }
    clock.advance(Duration::minutes(20));
    let (code, v) = app.get(Some(&s), "/api/v1/session").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(v["detail"].as_str().unwrap().contains("maximum age"), "{v}");

    // Disabling a user ends all their sessions.
    let c1 = login(&app, "clara").await;
    let c2 = login(&app, "clara").await;
    let ada = login(&app, "ada").await;
    let (code, v) = app
        .patch(Some(&ada), "/api/v1/users/clara", json!({"disabled": true}))
        .await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["disabled"], true);
    for c in [&c1, &c2] {
        assert_eq!(
            app.get(Some(c), "/api/v1/session").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = call_service(&app, try_login("clara", PASSWORD)).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a disabled account cannot log in"
    );
}

common::backend_test!(async password_policy_and_tokens);
async fn password_policy_and_tokens(t: common::TestDb) {
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    for (password, says) in [
        ("short", "at least 12"),
        ("passwordpassword", "common passwords"),
        ("evelyn-is-my-name", "user name"),
    ] {
        let (s, v) = app
            .post(
                Some(&ada),
                "/api/v1/users",
                json!({"name": "evelyn", "password": password, "roles": ["curator"]}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["detail"].as_str().unwrap().contains(says), "{v}");
    }
    let (s, v) = app
        .post(
            Some(&ada),
            "/api/v1/users",
            json!({"name": "evelyn", "password": PASSWORD, "roles": ["curator"], "admin": true}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("admin"), "{v}");
    // The stored hash is argon2id with at least OWASP's parameters.
    let row = app
        .state
        .db
        .read(|c| vigil::db::user(c, "ada"))
        .unwrap()
        .unwrap();
    assert!(row
        .password_hash
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    // Tokens: created once, work as Bearer without CSRF, stop when revoked.
    let (s, v) = app
        .post(
            Some(&ada),
            "/api/v1/tokens",
            json!({"name": "importer", "roles": ["curator"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let secret = v["secret"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {secret}");
    let (s, v, _) = send(
        &app,
        Method::GET,
        "/api/v1/session",
        None,
        None,
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["kind"], "token");
    let (s, v) = app.get(Some(&ada), "/api/v1/tokens").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !v.to_string().contains(&secret),
        "the list never shows a secret"
    );
    let (s, _) = app.delete(Some(&ada), "/api/v1/tokens/importer").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = send(
        &app,
        Method::GET,
        "/api/v1/session",
        None,
        None,
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// The five files of the Beslan folder, with `figures.csv` edited.
fn files_with(from: &str, to: &str) -> Value {
    let dir = common::beslan_copy();
    common::edit(dir.path(), "figures.csv", from, to);
    let mut files = serde_json::Map::new();
    for f in common::FILES {
        files.insert(
            f.into(),
            json!(std::fs::read_to_string(dir.path().join(f)).unwrap()),
        );
    }
    Value::Object(files)
}

common::backend_test!(async csv_import_into_a_draft_with_a_dry_run);
async fn csv_import_into_a_draft_with_a_dry_run(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let id = open_changeset(&app, &clara, "Import a corrected figures file").await;
    let files = files_with(
        ",Injured,persons,",
        ",Injured (treated in hospital or not),persons,",
    );
    let uri = format!("/api/v1/changesets/{id}/import");

    // A dry run says what would change and stores nothing.
    let (s, v) = app
        .post(Some(&clara), &uri, json!({"files": files, "dry_run": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["changes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["changes"][0]["key"], "injured.total");
    let (_, view) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(view["edits"].as_array().unwrap().len(), 0, "{}", t.name);

    // Applied, it lands in the draft as one edit.
    let (s, v) = app.post(Some(&clara), &uri, json!({"files": files})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, view) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(view["edits"].as_array().unwrap().len(), 1);
    assert_eq!(
        view["changes"][0]["after"]["label"],
        "Injured (treated in hospital or not)"
    );

    // Files with problems are refused, naming file, line and column; nothing changes.
    let bad = files_with(
        ",Injured,persons,,overlapping,500,1137,",
        ",Injured,persons,,overlapping,500,eight hundred,",
    );
    let (s, v) = app.post(Some(&clara), &uri, json!({"files": bad})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("figures.csv:"),
        "{v}"
    );
    assert!(
        v["detail"].as_str().unwrap().contains("eight hundred"),
        "{v}"
    );
    let (_, after) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(after["edits"], view["edits"]);
    // An unknown file name is refused.
    let (s, v) = app
        .post(Some(&clara), &uri, json!({"files": {"victims.csv": "x"}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["detail"].as_str().unwrap().contains("victims.csv"), "{v}");
}

common::backend_test!(async account_and_changeset_responses_match_the_openapi_document);
async fn account_and_changeset_responses_match_the_openapi_document(t: common::TestDb) {
    let app = start(&t).await;
    let (_, openapi) = app.get(None, "/api/v1/openapi.json").await;
    let ok = |method: &str, path: &str, status: StatusCode, v: &Value| {
        let ct = if status.is_success() {
            "application/json"
        } else {
            "application/problem+json"
        };
        common::conforms(&openapi, method, path, status.as_u16(), ct, v);
    };
    let req = TestRequest::post()
        .uri("/api/v1/session")
        .set_json(json!({"username": "clara", "password": PASSWORD}))
        .to_request();
    let res = call_service(&app, req).await;
    let status = res.status();
    let v: Value = serde_json::from_slice(&read_body(res).await).unwrap();
    ok("post", "/api/v1/session", status, &v);
    let (s, v) = app
        .post(
            None,
            "/api/v1/session",
            json!({"username": "clara", "password": "wrong password here"}),
        )
        .await;
    ok("post", "/api/v1/session", s, &v);
    let clara = login(&app, "clara").await;
    let rafael = login(&app, "rafael").await;
    let ada = login(&app, "ada").await;
    let (s, v) = app.get(Some(&clara), "/api/v1/session").await;
    ok("get", "/api/v1/session", s, &v);
    let (s, v) = app.get(None, "/api/v1/session").await;
    ok("get", "/api/v1/session", s, &v);
    let (s, v) = app
        .post(
            Some(&clara),
            "/api/v1/changesets",
            json!({"event": SLUG, "reason": "schema"}),
        )
        .await;
    ok("post", "/api/v1/changesets", s, &v);
    let id = v["id"].as_i64().unwrap();
    let (s, v) = app
        .post(
            Some(&rafael),
            "/api/v1/changesets",
            json!({"event": SLUG, "reason": "schema"}),
        )
        .await;
    ok("post", "/api/v1/changesets", s, &v);
    let item = "/api/v1/changesets/{id}/{table}/{key}";
    let uri = format!("/api/v1/changesets/{id}/figures/injured.total");
    let (s, v) = app.get(Some(&clara), &uri).await;
    ok("get", item, s, &v);
    let mut fig = v["item"].clone();
    fig["notes"] = json!("schema check");
    let (s, v, _) = send(
        &app,
        Method::PUT,
        &uri,
        Some(&clara),
        Some(fig.clone()),
        &[],
    )
    .await;
    ok("put", item, s, &v);
    let (s, v, _) = send(
        &app,
        Method::PUT,
        &uri,
        Some(&clara),
        Some(fig.clone()),
        &[("If-Match", "\"stale\"")],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    ok("put", item, s, &v);
    let (s, v, _) = send(
        &app,
        Method::PUT,
        &uri,
        Some(&clara),
        Some(json!({"key": "injured.total"})),
        &[("If-None-Match", "*")],
    )
    .await;
    ok("put", item, s, &v);
    let (_, cur, h) = send(&app, Method::GET, &uri, Some(&clara), None, &[]).await;
    let etag = h.get(header::ETAG).unwrap().to_str().unwrap().to_string();
    let (s, v, _) = send(
        &app,
        Method::PUT,
        &uri,
        Some(&clara),
        Some(fig.clone()),
        &[("If-Match", &etag)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{cur}");
    ok("put", item, s, &v);
    let (s, v) = app.get(Some(&clara), "/api/v1/changesets").await;
    ok("get", "/api/v1/changesets", s, &v);
    let (s, v) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    ok("get", "/api/v1/changesets/{id}", s, &v);
    let (s, v) = act(&app, &clara, id, "submit", "").await;
    ok("post", "/api/v1/changesets/{id}/submit", s, &v);
    let (s, v) = act(&app, &clara, id, "approve", "").await;
    ok("post", "/api/v1/changesets/{id}/approve", s, &v);
    let (s, v) = act(&app, &rafael, id, "approve", "").await;
    assert_eq!(s, StatusCode::OK);
    ok("post", "/api/v1/changesets/{id}/approve", s, &v);
    let (s, v) = act(&app, &rafael, id, "reject", "").await;
    ok("post", "/api/v1/changesets/{id}/reject", s, &v);
    let (s, v) = app.get(Some(&ada), "/api/v1/users").await;
    ok("get", "/api/v1/users", s, &v);
    let (s, v) = app
        .post(
            Some(&ada),
            "/api/v1/tokens",
            json!({"name": "ci", "roles": ["auditor"]}),
        )
        .await;
    ok("post", "/api/v1/tokens", s, &v);
    let (s, v) = app.get(Some(&ada), "/api/v1/tokens").await;
    ok("get", "/api/v1/tokens", s, &v);
    let (s, v) = app
        .patch(
            Some(&ada),
            "/api/v1/users/clara",
            json!({"roles": ["curator", "auditor"]}),
        )
        .await;
    ok("patch", "/api/v1/users/{name}", s, &v);
}

common::backend_test!(async malformed_requests_are_refused_as_the_document_says);
/// Found by schemathesis: a transition's malformed body was ignored (and
/// the transition made), a body not sent as JSON answered 400 rather than
/// 415, bad parameters answered without naming themselves, and text holding
/// U+0000 made PostgreSQL fail (503).
async fn malformed_requests_are_refused_as_the_document_says(t: common::TestDb) {
    let app = start(&t).await;
    let openapi = vigil::http::openapi::document();
    let problem = |method: &str, path: &str, status: StatusCode, v: &Value| {
        common::conforms(
            &openapi,
            method,
            path,
            status.as_u16(),
            "application/problem+json",
            v,
        );
    };
    let clara = login(&app, "clara").await;
    let ada = login(&app, "ada").await;
    let id = open_changeset(&app, &clara, "malformed").await;

    // A malformed comment is refused, and the changeset stays a draft.
    let uri = format!("/api/v1/changesets/{id}/withdraw");
    let (s, v) = app.post(Some(&clara), &uri, json!({"comment": {}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", t.name);
    problem("post", "/api/v1/changesets/{id}/withdraw", s, &v);
    let (_, v) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(v["changeset"]["state"], "draft", "{v}");

    // A body not sent as JSON: 415.
    let (s, v) = app
        .post_raw(
            &clara,
            "/api/v1/changesets",
            "text/plain",
            r#"{"event": "beslan-2004", "reason": "plain"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(v.is_object(), "a problem body");
    problem(
        "post",
        "/api/v1/changesets",
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &v,
    );

    // Bad parameters are named.
    for (uri, path, named) in [
        (
            "/api/v1/changesets/99999999999999999999",
            "/api/v1/changesets/{id}",
            "path parameter 'id'",
        ),
        (
            "/api/v1/changesets?state=open",
            "/api/v1/changesets",
            "query parameter 'state'",
        ),
        (
            "/api/v1/changesets?event=be%00slan",
            "/api/v1/changesets",
            "query parameter 'event'",
        ),
        (
            "/api/v1/changesets/1/figures/fatal%00ities",
            "/api/v1/changesets/{id}/{table}/{key}",
            "path parameter 'key'",
        ),
        (
            "/api/v1/audit/entries?until=",
            "/api/v1/audit/entries",
            "until",
        ),
    ] {
        let (s, v) = app.get(Some(&ada), uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {uri}: {v}", t.name);
        assert!(v["detail"].as_str().unwrap().contains(named), "{uri}: {v}");
        problem("get", path, s, &v);
    }

    // Text with U+0000 in a body is refused, naming where, on every
    // backend (PostgreSQL answered 503).
    let (s, v) = app
        .post(
            Some(&clara),
            "/api/v1/changesets",
            json!({"event": "beslan\u{0}2004", "reason": "nul"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", t.name);
    assert!(v["detail"].as_str().unwrap().contains("at /event"), "{v}");
    problem("post", "/api/v1/changesets", s, &v);
    let (s, v) = app
        .post(
            Some(&clara),
            &format!("/api/v1/changesets/{id}/submit"),
            json!({"comment": "a\u{0}b"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", t.name);
    assert!(v["detail"].as_str().unwrap().contains("at /comment"), "{v}");
    let (s, v) = app
        .post(
            None,
            "/api/v1/session",
            json!({"username": "cl\u{0}ara", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", t.name);
    assert!(
        v["detail"].as_str().unwrap().contains("at /username"),
        "{v}"
    );
    problem("post", "/api/v1/session", s, &v);

    // `null` is no comment; a withdrawal needs none.
    let (s, v) = app.post(Some(&clara), &uri, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["changeset"]["state"], "withdrawn");
}

common::backend_test!(async the_first_admin_comes_from_a_one_time_setup_token);
async fn the_first_admin_comes_from_a_one_time_setup_token(t: common::TestDb) {
    let db = t.open();
    let st = web::Data::new(
        AppState::with_config(
            db,
            Config {
                tls: true,
                ..Config::default()
            },
            Arc::new(clock()),
        )
        .unwrap(),
    );
    let token = st.setup_token().unwrap().expect("no users: a token");
    let app = serve(st.clone()).await;
    let setup = |token: &str, name: &str| {
        TestRequest::post()
            .uri("/admin/setup")
            .set_form([("token", token), ("name", name), ("password", PASSWORD)])
            .to_request()
    };
    // A wrong token creates nobody.
    let res = call_service(&app, setup("0123456789abcdef0123456789abcdef", "mallory")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Served over TLS: HSTS, and the other security headers, on every answer.
    let h = res.headers();
    assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_some());
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    // The right one creates the first admin, once.
    let res = call_service(&app, setup(&token, "ada")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let users = service::accounts::users(&st.db, &vigil::service::operator().1).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "ada");
    assert_eq!(users[0].roles, vec![Role::Admin]);
    let res = call_service(&app, setup(&token, "eve")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the token is spent");
    assert_eq!(
        service::accounts::users(&st.db, &vigil::service::operator().1)
            .unwrap()
            .len(),
        1
    );
    assert!(
        st.setup_token().unwrap().is_none(),
        "users exist: no new token"
    );
    login(&app, "ada").await;
}

common::backend_test!(async readiness_and_request_ids);
async fn readiness_and_request_ids(t: common::TestDb) {
    let app = start(&t).await;
    let (s, v, h) = send(&app, Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ready"], true);
    assert_eq!(v["events_loaded"], 1);
    // A new id for every request, answered in X-Request-Id.
    let id = h.get("x-request-id").unwrap().to_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let (_, _, h2) = send(&app, Method::GET, "/readyz", None, None, &[]).await;
    assert_ne!(h2.get("x-request-id").unwrap().to_str().unwrap(), id);
    // A client's own id never replaces vigil's: two log-ins (of two
    // people) sending the same X-Request-Id get two request ids, and the
    // client's id is kept beside them as client_request_id.
    let mut answered = Vec::new();
    for (name, address) in [("clara", "192.0.2.44:1234"), ("rafael", "192.0.2.45:1234")] {
        let id = login_sending_request_id(&app, name, address, "lb-7f3a-0001").await;
        assert_ne!(id, "lb-7f3a-0001");
        answered.push(id);
    }
    assert_ne!(answered[0], answered[1]);
    let e = app.audit(Some("session.login"));
    assert_eq!(e.len(), 2);
    for (entry, id) in e.iter().zip(&answered) {
        assert_eq!(entry.request_id.as_deref(), Some(id.as_str()));
        assert_eq!(entry.client_request_id.as_deref(), Some("lb-7f3a-0001"));
    }
    assert_eq!(e[0].actor, "user:clara");
    assert_eq!(e[0].client.as_deref(), Some("192.0.2.44"));
    assert_eq!(e[1].actor, "user:rafael");
    // A body over the limit is refused with 413; malformed JSON with 400.
    let clara = login(&app, "clara").await;
    let big = json!({"event": SLUG, "reason": "x".repeat(5 * 1024 * 1024)});
    let (s, v) = app.post(Some(&clara), "/api/v1/changesets", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    let (s, _) = app
        .post_raw(
            &clara,
            "/api/v1/changesets",
            "application/json",
            "{\"event\": \"beslan-2004\", \"reason\": ",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // One that is not plain is replaced.
    let (_, _, h) = send(
        &app,
        Method::GET,
        "/healthz",
        None,
        None,
        &[("X-Request-Id", "<script>")],
    )
    .await;
    assert_ne!(h.get("x-request-id").unwrap(), "<script>");
}

common::backend_test!(async metrics_count_requests_by_route_and_report_the_log);
async fn metrics_count_requests_by_route_and_report_the_log(t: common::TestDb) {
    let app = start(&t).await;
    for _ in 0..3 {
        let (s, _) = app.get(None, "/api/v1/events/beslan-2004").await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _) = app.get(None, "/api/v1/events/no-such-event").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let res = call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    let line = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // By route pattern, not by path: the 404 and the 200s share a route.
    assert_eq!(
        line(
            r#"vigil_http_requests_total{method="GET",route="/api/v1/events/{slug}",status="200"}"#
        ),
        3.0
    );
    assert_eq!(
        line(
            r#"vigil_http_requests_total{method="GET",route="/api/v1/events/{slug}",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        line(r#"vigil_http_request_duration_seconds_count{route="/api/v1/events/{slug}"}"#),
        4.0
    );
    assert_eq!(
        line(
            r#"vigil_http_request_duration_seconds_bucket{route="/api/v1/events/{slug}",le="+Inf"}"#
        ),
        4.0
    );
    let entries = app.audit(None);
    assert_eq!(line("vigil_audit_entries "), entries.len() as f64);
    assert_eq!(line("vigil_database_up "), 1.0);
    assert_eq!(line("vigil_events_loaded "), 1.0);
    assert!(line("vigil_db_pool_connections ") >= 1.0);
}

common::backend_test!(async the_audit_page_verifies_what_is_new_and_everything_on_request);
async fn the_audit_page_verifies_what_is_new_and_everything_on_request(t: common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("audit.key");
    service::audit::keygen(&key_path, "test/audit").unwrap();
    let st = state(&t, clock());
    // A server with a key.
    let mut inner =
        AppState::with_config(st.db.clone(), Config::default(), Arc::new(clock())).unwrap();
    inner.audit_key = Some(Arc::new(service::audit::load_key(&key_path).unwrap()));
    inner.publisher().checkpoint(true).unwrap();
    let st = web::Data::new(inner);
    let app = serve(st.clone()).await;
    let aude = login(&app, "aude").await;
    // The first visit verifies everything, and records it.
    let (_, html, _) = panel_get(&app, &aude, "/admin/audit").await;
    assert!(html.contains("The log holds"), "{html}");
    assert!(
        html.contains("every entry and every checkpoint recomputed"),
        "{html}"
    );
    assert!(html.contains("Verify everything now"));
    assert!(html.contains("newest first"));
    // The next visit reads only what is new: a log-in since.
    let clara = login(&app, "clara").await;
    let (_, html, _) = panel_get(&app, &aude, "/admin/audit").await;
    assert!(html.contains("The log holds"), "{html}");
    assert!(
        html.contains("checked against the previous verification"),
        "{html}"
    );
    // "Verify everything now": a form with the CSRF token.
    let res = call_service(
        &app,
        TestRequest::post()
            .uri("/admin/audit/verify")
            .insert_header((header::COOKIE, aude.cookie.clone()))
            .set_form([("csrf_token", "wrong")])
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (s, body, to) = panel_post(&app, &aude, "/admin/audit/verify", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body:?}");
    assert_eq!(to, "/admin/audit?verified=all");
    let last = service::audit::last_verification(&st.db).unwrap().unwrap();
    assert!(last.full && last.holds());
    // A curator may not.
    let (s, _, _) = panel_post(&app, &clara, "/admin/audit/verify", &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------
// The panel as a tool (issue 20): plain HTTP, both backends.

common::backend_test!(async panel_review_queue_refusals_on_the_page_and_a_comment_thread);
/// Items 9–11: the queue shows what a reviewer needs and marks one's own;
/// Approve is disabled with the reason; a refused decision answers on the
/// changeset's page (POST, redirect, GET); comments are a thread.
async fn panel_review_queue_refusals_on_the_page_and_a_comment_thread(t: common::TestDb) {
    let app = start(&t).await;
    let cora = login(&app, "cora").await;
    let rafael = login(&app, "rafael").await;
    let id = draft_with_notes(
        &app,
        &cora,
        "Note who counted the hostages",
        "hostages.total",
        "n",
    )
    .await;
    assert_eq!(
        act(&app, &cora, id, "submit", "ready for review").await.0,
        StatusCode::OK
    );

    // The queue: the row links the changeset and says what it holds.
    let (s, q, _) = panel_get(&app, &rafael, "/admin/review").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        q.contains(&format!(
            "href=\"/admin/changesets/{id}\">#{id} Note who counted"
        )),
        "{q}"
    );
    assert!(
        q.contains("1 item(s)") && q.contains("checks:") && q.contains("by cora"),
        "{q}"
    );
    assert!(!q.contains("yours"), "{}: not rafael's", t.name);
    // Its writer sees it marked as theirs, apart from what they may review.
    let (_, q, _) = panel_get(&app, &cora, "/admin/review").await;
    assert!(q.contains("yours: you cannot approve or reject it"), "{q}");

    // Approve is shown disabled to its writer, with the reason.
    let (_, p, _) = panel_get(&app, &cora, &format!("/admin/changesets/{id}")).await;
    assert!(
        p.contains("id=\"approve\" class=\"primary\" disabled"),
        "{p}"
    );
    assert!(p.contains("id=\"approve-why\""), "{p}");
    // Approve and Reject look different; the reason is a text area.
    let (_, p, _) = panel_get(&app, &rafael, &format!("/admin/changesets/{id}")).await;
    assert!(p.contains("id=\"approve\" class=\"primary\""), "{p}");
    assert!(p.contains("id=\"reject\" class=\"danger\""), "{p}");
    assert!(p.contains("<textarea id=\"reject-comment\""), "{p}");
    let revision = revision_of(&app, &rafael, id)
        .await
        .trim_matches('"')
        .to_string();

    // Refused: the writer's approval answers on the changeset's page.
    let (s, _, to) = panel_post(
        &app,
        &cora,
        &format!("/admin/changesets/{id}/approve"),
        &[("revision", &revision), ("comment", "mine")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{}", t.name);
    assert!(
        to.starts_with(&format!("/admin/changesets/{id}?refused=approve")),
        "{to}"
    );
    let (s, p, _) = panel_get(&app, &cora, &to).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        p.contains("id=\"error\"") && p.contains("you wrote part of"),
        "{p}"
    );
    // A stale revision: sent back to look again.
    let (s, _, to) = panel_post(
        &app,
        &rafael,
        &format!("/admin/changesets/{id}/reject"),
        &[("revision", "1"), ("comment", "no")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, p, _) = panel_get(&app, &rafael, &to).await;
    assert!(p.contains("changed since you saw it"), "{p}");
    assert_eq!(
        public_version(&app).await["version"],
        1,
        "nothing published"
    );

    // Meanwhile another draft changes the same figure.
    let clara = login(&app, "clara").await;
    let other = open_changeset(&app, &clara, "Another note").await;
    let (s, _) = edit_figure(
        &app,
        &clara,
        other,
        "hostages.total",
        "notes",
        json!("clara's"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // Approved with a comment: the thread keeps both comments.
    let (s, _, to) = panel_post(
        &app,
        &rafael,
        &format!("/admin/changesets/{id}/approve"),
        &[
            ("revision", &revision),
            ("comment", "checked against the article"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/admin/changesets/{id}?done=approved"));
    let (_, p, _) = panel_get(&app, &rafael, &to).await;
    let thread = &p[p.find("id=\"thread\"").unwrap()..];
    let first = thread
        .find("ready for review")
        .expect("the author's comment");
    let second = thread
        .find("checked against the article")
        .expect("the reviewer's");
    assert!(first < second, "oldest first");
    assert!(
        thread.contains("user:cora") && thread.contains("user:rafael"),
        "{thread}"
    );
    let (_, v) = app
        .get(Some(&rafael), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(v["comments"].as_array().unwrap().len(), 2, "{v}");
    // The other draft now conflicts: published value beside its own.
    let (_, p, _) = panel_get(&app, &clara, &format!("/admin/changesets/{other}")).await;
    let c = &p[p.find("id=\"conflicts\"").expect("conflicts shown")..];
    assert!(
        c.contains("<dt>notes <strong class=\"bad\">(both changed it)</strong>"),
        "{c}"
    );
    assert!(c.contains("published: n · this draft: clara"), "{c}");
}

common::backend_test!(async panel_audit_newest_first_dates_fields_and_history);
/// Items 12–15: newest first with page counts; field diffs; filters as
/// choices; a date alone; a bad date said at its field with the form kept;
/// an entity's history with its changeset's fate; the download follows.
async fn panel_audit_newest_first_dates_fields_and_history(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let rafael = login(&app, "rafael").await;
    let aude = login(&app, "aude").await;
    let id = open_changeset(&app, &clara, "A note").await;
    edit_figure(
        &app,
        &clara,
        id,
        "hostages.total",
        "notes",
        json!("counted twice"),
    )
    .await;
    act(&app, &clara, id, "submit", "").await;
    assert_eq!(
        act(&app, &rafael, id, "approve", "").await.0,
        StatusCode::OK
    );

    let (s, p, _) = panel_get(&app, &aude, "/admin/audit").await;
    assert_eq!(s, StatusCode::OK, "{}", t.name);
    assert!(p.contains("Page 1 of 1"), "{p}");
    let seqs: Vec<i64> = p
        .match_indices("<li class=\"entry\" id=\"entry-")
        .map(|(i, m)| {
            let rest = &p[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert!(
        seqs.len() > 5 && seqs.windows(2).all(|w| w[0] > w[1]),
        "{seqs:?}"
    );
    // Filters offer the values the log holds.
    assert!(p.contains("<option value=\"changeset.edit\""), "{p}");
    assert!(p.contains("<option value=\"user:clara\""), "{p}");

    // An entity's history: field by field, with its changeset and fate.
    let (_, p, _) = panel_get(
        &app,
        &aude,
        "/admin/audit?entity=figure&entity_id=hostages.total",
    )
    .await;
    assert!(
        p.contains("<dt>notes</dt>") && p.contains("<ins>counted twice</ins>"),
        "{p}"
    );
    assert!(
        p.contains(&format!("changeset {id}</a>: published as version 2")),
        "{p}"
    );
    // Part of an id finds it too.
    let (_, p, _) = panel_get(&app, &aude, "/admin/audit?entity_id=hostages.tot").await;
    assert!(p.contains("<ins>counted twice</ins>"), "{p}");
    // Item 15: the downloads follow the active filter, and the export
    // holds only what it selects.
    let href = |p: &str, id: &str| {
        let end = p.find(&format!("\" id=\"{id}\"")).unwrap();
        let start = p[..end].rfind("href=\"").unwrap() + 6;
        p[start..end].replace("&amp;", "&").replace("&#38;", "&")
    };
    let csv = href(&p, "download-csv");
    assert_eq!(
        csv, "/api/v1/audit/export.csv?entity_id_contains=hostages.tot",
        "{p}"
    );
    let (s, body, _) = panel_get(&app, &aude, &csv).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rows: Vec<&str> = body.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{body}");
    assert!(
        rows.iter().all(|r| r.contains("hostages.tot")),
        "only the filter's entries: {body}"
    );
    let (_, whole, _) = panel_get(&app, &aude, "/api/v1/audit/export.csv").await;
    assert!(whole.lines().count() > rows.len() + 1, "{whole}");
    // A date alone is passed on as the time it stands for.
    let (_, p, _) = panel_get(
        &app,
        &aude,
        "/admin/audit?since=2000-01-01&action=changeset.submit",
    )
    .await;
    let jsonl = href(&p, "download-jsonl");
    assert_eq!(
        jsonl,
        "/api/v1/audit/export.jsonl?action=changeset.submit&since=2000-01-01T00%3A00%3A00.000Z",
        "{p}"
    );
    let (s, body, _) = panel_get(&app, &aude, &jsonl).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("\"changeset.submit\""), "{body}");
    // Without a filter, the downloads are the whole log.
    let (_, p, _) = panel_get(&app, &aude, "/admin/audit").await;
    assert_eq!(href(&p, "download-csv"), "/api/v1/audit/export.csv");
    // The whole id and a part of it both hold: the submitted
    // changeset's id with a part it holds finds its entries, with a
    // part it does not hold finds none.
    let (_, one, _) = panel_get(&app, &aude, &jsonl).await;
    let entry: Value = serde_json::from_str(one.lines().next().unwrap()).unwrap();
    let id = entry["entity_id"].as_str().unwrap().to_string();
    for (part, found) in [(id.clone(), true), (format!("{id}-nowhere"), false)] {
        let (s, body, _) = panel_get(
            &app,
            &aude,
            &format!("/api/v1/audit/export.jsonl?entity_id={id}&entity_id_contains={part}"),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body.lines().count() > 0, found, "{part}: {body}");
    }
    // A bad filter is refused as the document says.
    let (s, _, _) = panel_get(&app, &aude, "/api/v1/audit/export.csv?since=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The document says so: the filters are query parameters (absent,
    // never null), and a bad one is a documented 400.
    let doc = vigil::http::openapi::document();
    for path in ["/api/v1/audit/export.csv", "/api/v1/audit/export.jsonl"] {
        let op = &doc["paths"][path]["get"];
        let params = op["parameters"].as_array().unwrap();
        let names: Vec<&str> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in [
            "actor",
            "action",
            "entity",
            "entity_id",
            "entity_id_contains",
            "since",
            "until",
        ] {
            assert!(names.contains(&name), "{path}: ?{name} in {names:?}");
        }
        assert!(
            params.iter().all(|p| !p["schema"]["type"].is_array()),
            "{path}: {params:?}"
        );
        assert!(op["responses"]["400"].is_object(), "{path}");
    }

    // A date alone is a bound.
    let (_, p, _) = panel_get(&app, &aude, "/admin/audit?since=2999-01-01").await;
    assert!(
        p.contains("No entries match") && p.contains("Page 1 of 1 · 0 entries"),
        "{p}"
    );
    let (_, p, _) = panel_get(&app, &aude, "/admin/audit?until=2000-01-01").await;
    assert!(p.contains("No entries match"), "{p}");
    let (_, p, _) = panel_get(
        &app,
        &aude,
        "/admin/audit?since=2000-01-01&action=changeset.submit",
    )
    .await;
    assert!(p.contains("· 1 entry,"), "{p}");
    // A bound that is not a date: said at its field, the form kept.
    let (s, p, _) = panel_get(
        &app,
        &aude,
        "/admin/audit?since=yesterday&actor=user%3Aclara",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        p.contains("id=\"since-error\"") && p.contains("value=\"yesterday\""),
        "{p}"
    );
    assert!(p.contains("<option value=\"user:clara\" selected>"), "{p}");
}

common::backend_test!(async panel_accounts_checkboxes_inline_errors_tokens_and_log_in);
/// Items 16–18: role checkboxes; errors inline keeping what was typed; the
/// last admin refused at their row; password reset; a token shown once
/// (the log-in page: the next test).
async fn panel_accounts_checkboxes_inline_errors_tokens_and_log_in(t: common::TestDb) {
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    let (s, body, to) = panel_post(
        &app,
        &ada,
        "/admin/users",
        &[
            ("name", "erin"),
            ("role_curator", "1"),
            ("role_reviewer", "1"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/users?done=user"),
        "{}: {body}",
        t.name
    );
    let erin =
        service::accounts::user(&app.state.db, &vigil::service::operator().1, "erin").unwrap();
    assert_eq!(erin.roles, vec![Role::Curator, Role::Reviewer]);

    // A refused account keeps the name and roles typed, the error at its field.
    let (s, p, _) = panel_post(
        &app,
        &ada,
        "/admin/users",
        &[
            ("name", "frank"),
            ("role_auditor", "1"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        p.contains("id=\"new-password-error\"") && p.contains("value=\"frank\""),
        "{p}"
    );
    assert!(p.contains("id=\"new-role-auditor\" checked"), "{p}");
    assert!(
        service::accounts::user(&app.state.db, &vigil::service::operator().1, "frank").is_err()
    );

    // The last admin cannot stop being one: said at the row, as typed.
    let (s, p, _) = panel_post(&app, &ada, "/admin/users/ada", &[("role_curator", "1")]).await;
    assert_eq!(s, StatusCode::CONFLICT, "{p}");
    assert!(p.contains("id=\"user-ada-error\""), "{p}");
    assert_eq!(
        service::accounts::user(&app.state.db, &vigil::service::operator().1, "ada")
            .unwrap()
            .roles,
        vec![Role::Admin]
    );

    // A new password from the panel.
    let fresh = "another long quiet evening";
    let (s, _, to) = panel_post(
        &app,
        &ada,
        "/admin/users/erin/password",
        &[("password", fresh)],
    )
    .await;
    assert_eq!(
        (s, to.as_str()),
        (StatusCode::SEE_OTHER, "/admin/users?done=password")
    );
    let (s, _) = app
        .post(
            None,
            "/api/v1/session",
            json!({"username": "erin", "password": fresh}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // A token, shown once, that works.
    let (s, p, _) = panel_post(
        &app,
        &ada,
        "/admin/tokens",
        &[("name", "robot"), ("owner", "ada"), ("role_auditor", "1")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let at =
        p.find("<code class=\"secret\">").expect("the secret") + "<code class=\"secret\">".len();
    let secret = p[at..at + p[at..].find('<').unwrap()].to_string();
    assert!(secret.starts_with("vigil_"), "{secret}");
    let (_, again, _) = panel_get(&app, &ada, "/admin/users").await;
    assert!(
        again.contains("robot") && !again.contains(&secret),
        "shown once"
    );
    let bearer = format!("Bearer {secret}");
    let (s, _, _) = send(
        &app,
        Method::GET,
        "/api/v1/audit/entries",
        None,
        None,
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = panel_post(&app, &ada, "/admin/tokens/robot/revoke", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = send(
        &app,
        Method::GET,
        "/api/v1/audit/entries",
        None,
        None,
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

common::backend_test!(async panel_log_in_page_asks_the_database_whether_accounts_exist);
/// Item 18: the log-in page asks the database whether accounts exist,
/// not what was true at start.
async fn panel_log_in_page_asks_the_database_whether_accounts_exist(t: common::TestDb) {
    let st = web::Data::new(
        AppState::with_config(t.open(), Config::default(), Arc::new(clock())).unwrap(),
    );
    let app = serve(st.clone()).await;
    let page = |app| async move {
        let req = TestRequest::get().uri("/admin/login").to_request();
        String::from_utf8(read_body(call_service(app, req).await).await.to_vec()).unwrap()
    };
    assert!(page(&app).await.contains("No accounts exist yet"));
    service::accounts::add_user(
        &st.db,
        &Context::actor("cli:test"),
        &vigil::accounts::Principal::operator("test"),
        "ada",
        PASSWORD,
        &[Role::Admin],
    )
    .unwrap();
    assert!(!page(&app).await.contains("No accounts exist yet"));
}

common::backend_test!(async panel_curator_finds_edits_and_sees_what_blocks);
/// Items 1, 3–6, 8: find items; errors on their fields, never "Saved" with
/// problems; what blocks publishing, introduced or inherited; Submit
/// refused with the reason at the button; field diffs; confirm before
/// removing; the warning before an edit reopens a submitted changeset.
async fn panel_curator_finds_edits_and_sees_what_blocks(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let id = open_changeset(&app, &clara, "Correct the injured").await;

    // Found by label, with an edit link; other items are not listed.
    let (s, p, _) = panel_get(
        &app,
        &clara,
        &format!("/admin/changesets/{id}/items?q=hospital"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", t.name);
    assert!(
        p.contains(&format!(
            "/admin/changesets/{id}/figures/injured.hospitalised\""
        )),
        "{p}"
    );
    assert!(!p.contains("/figures/hostages.total\""), "{p}");
    // A figure's editor lists its claims and offers to add one.
    let (_, p, _) = panel_get(
        &app,
        &clara,
        &format!("/admin/changesets/{id}/figures/hostages.total"),
    )
    .await;
    assert!(p.contains("/claims/hostages-government-2005-1128\""), "{p}");
    assert!(
        p.contains("id=\"add-claim\"") && p.contains("?figure=hostages.total"),
        "{p}"
    );
    assert!(
        p.contains("<details class=\"remove\">"),
        "removing asks first: {p}"
    );
    let etag = etag_of(&app, &clara, id, "figures/injured.total")
        .await
        .0
        .trim_matches('"')
        .to_string();

    // Plain labels with help, choices as selects, figures and sources
    // as pickers, numbers for numbers.
    assert!(p.contains("<label for=\"f-status\">Status</label>"), "{p}");
    assert!(p.contains("<select id=\"f-status\""), "{p}");
    assert!(
        p.contains("<select id=\"f-parent\"") && p.contains("<option value=\"\">none</option>"),
        "{p}"
    );
    assert!(
        p.contains("id=\"f-low\" name=\"low\" value=\"\" inputmode=\"numeric\"")
            || p.contains("inputmode=\"numeric\""),
        "{p}"
    );
    let (_, p, _) = panel_get(
        &app,
        &clara,
        &format!("/admin/changesets/{id}/claims/hostages-government-2005-1128"),
    )
    .await;
    assert!(
        p.contains("<select id=\"f-source\"")
            && p.contains("<option value=\"government-2005\" selected>"),
        "{p}"
    );
    // Item 1: a claim is headed by its figure and its source, the key
    // secondary.
    assert!(
        p.contains("<h1 class=\"item-title\">People held hostage, according to ")
            && p.contains("<span class=\"item-key\" id=\"item-key\">claims/hostages-government-2005-1128</span>"),
        "{p}"
    );
    // A choice that is not one: said at its field in plain words.
    let src = format!("/admin/changesets/{id}/sources/government-2005");
    let etag_src = etag_of(&app, &clara, id, "sources/government-2005")
        .await
        .0
        .trim_matches('"')
        .to_string();
    let (s, p, _) = panel_post(
        &app,
        &clara,
        &src,
        &[("etag", &etag_src), ("title", "t"), ("kind", "government")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.contains("id=\"e-kind\">&#39;government&#39; is not one of: official,")
            && !p.contains("“government”"),
        "{p}"
    );
    assert!(p.contains("href=\"#f-kind\">Kind of source</a>"), "{p}");
    // A bad number: not saved, the error at its field and in the summary.
    let item = format!("/admin/changesets/{id}/figures/injured.total");
    let form = |low: &'static str, high: &'static str| {
        vec![
            ("etag", etag.clone()),
            ("label", "Injured".to_string()),
            ("unit", "persons".to_string()),
            ("breakdown", "overlapping".to_string()),
            ("position", "500".to_string()),
            ("low", low.to_string()),
            ("high", high.to_string()),
            ("status", "estimate".to_string()),
        ]
    };
    let f = form("1,137", "");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, p, _) = panel_post(&app, &clara, &item, &f).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.contains("id=\"error-summary\"") && p.contains("href=\"#f-low\""),
        "{p}"
    );
    assert!(
        p.contains("id=\"e-low\"") && !p.contains("Saved in the draft."),
        "{p}"
    );

    // 300–400, below the 437 hospitalised: kept in the draft, never "Saved".
    let f = form("300", "400");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, _, to) = panel_post(&app, &clara, &item, &f).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, p, _) = panel_get(&app, &clara, &to).await;
    assert!(
        !p.contains("Saved in the draft.") && p.contains("Kept in the draft"),
        "{p}"
    );
    assert!(
        p.contains("id=\"violations\"") && p.contains("Blocks publishing"),
        "{p}"
    );

    // The changeset page: the field diff, and what blocks publishing.
    let (_, p, _) = panel_get(&app, &clara, &format!("/admin/changesets/{id}")).await;
    assert!(
        p.contains("<dt>low</dt><dd><del>1137</del> → <ins>300</ins>"),
        "{p}"
    );
    let blocked = &p[p.find("id=\"publishing\"").unwrap()..p.find("id=\"changes\"").unwrap()];
    assert!(
        blocked.contains("Publishing is blocked by")
            && blocked.contains("introduced by this changeset"),
        "{blocked}"
    );
    assert!(
        !blocked.contains("already in the published version"),
        "{blocked}"
    );
    // Submit is refused at the button, with the reason, and by the
    // server: the changeset could never be approved as it stands.
    assert!(
        p.contains("id=\"submit\" class=\"primary\" disabled"),
        "{p}"
    );
    let why = &p[p
        .find("id=\"submit-why\"")
        .expect("the reason at the button")..];
    assert!(why.contains("error check"), "{why}");
    let (s, _, to) = panel_post(&app, &clara, &format!("/admin/changesets/{id}/submit"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.contains("refused=submit"), "{to}");
    let (_, p, _) = panel_get(&app, &clara, &to).await;
    let refused = &p[p
        .find("id=\"submit-refused\"")
        .expect("refused at the button")..];
    assert!(refused.contains("error check"), "{refused}");
    let (_, v) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(v["changeset"]["state"], "draft", "not submitted: {v}");
    // Withdraw is a secondary button.
    assert!(p.contains("id=\"withdraw\" class=\"secondary\""), "{p}");
    // A draft that does not hold together cannot be submitted: the
    // button says why, and a submission is refused on the page.
    let (s, _) = edit_figure(&app, &clara, id, "injured.total", "low", json!(500)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, p, _) = panel_get(&app, &clara, &format!("/admin/changesets/{id}")).await;
    assert!(
        p.contains("id=\"submit\" class=\"primary\" disabled"),
        "{p}"
    );
    assert!(p.contains("id=\"submit-why\""), "{p}");
    let (s, _, to) = panel_post(&app, &clara, &format!("/admin/changesets/{id}/submit"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.contains("refused=submit"), "{to}");
    let (_, p, _) = panel_get(&app, &clara, &to).await;
    assert!(p.contains("id=\"submit-refused\""), "{p}");
    let (s, _) = edit_figure(&app, &clara, id, "injured.total", "low", json!(1137)).await;
    assert_eq!(s, StatusCode::OK);

    // A submitted changeset: the editor warns that saving reopens it.
    let (s, _) = edit_figure(&app, &clara, id, "injured.total", "high", json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = act(&app, &clara, id, "submit", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, p, _) = panel_get(&app, &clara, &item).await;
    assert!(p.contains("id=\"back-to-draft\""), "{p}");
}

common::backend_test!(async panel_a_stale_save_shows_both_values_and_asks);
/// Item 7, two tabs: a save refused because the item changed meanwhile
/// keeps the values typed, shows the value held now beside each, and asks
/// for a choice before saving over it.
async fn panel_a_stale_save_shows_both_values_and_asks(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let id = open_changeset(&app, &clara, "Two tabs").await;
    let seen = etag_of(&app, &clara, id, "figures/hostages.total")
        .await
        .0
        .trim_matches('"')
        .to_string();
    // The other tab saves first.
    let (s, _) = edit_figure(
        &app,
        &clara,
        id,
        "hostages.total",
        "notes",
        json!("first tab"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, p, _) = panel_post(
        &app,
        &clara,
        &format!("/admin/changesets/{id}/figures/hostages.total"),
        &[
            ("etag", &seen),
            ("label", "People held hostage"),
            ("unit", "persons"),
            ("breakdown", "overlapping"),
            ("position", "400"),
            ("best", "1128"),
            ("status", "confirmed"),
            ("notes", "second tab"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.name);
    assert!(
        p.contains(">second tab</textarea>"),
        "your values kept: {p}"
    );
    assert!(
        p.contains("Saved meanwhile: <strong>first tab</strong>"),
        "{p}"
    );
    assert!(
        p.contains("name=\"choose.notes\" value=\"mine\" required")
            && p.contains("name=\"choose.notes\" value=\"theirs\" required"),
        "a choice per field that differs: {p}"
    );
    assert!(
        !p.contains("name=\"choose.label\""),
        "no choice where both agree: {p}"
    );
    // The form keeps the ETag it was made from; the item as it is now is
    // named apart, for a save that says what it chose.
    assert!(
        p.contains(&format!("name=\"etag\" value=\"{seen}\"")),
        "{p}"
    );
    let resolving = {
        let needle = "name=\"resolving\" value=\"";
        let at = p.find(needle).unwrap() + needle.len();
        p[at..at + p[at..].find('"').unwrap()].to_string()
    };
    let (_, v) = etag_of(&app, &clara, id, "figures/hostages.total").await;
    assert_eq!(v["notes"], "first tab", "nothing overwritten");

    let item = format!("/admin/changesets/{id}/figures/hostages.total");
    let mine: Vec<(&str, &str)> = vec![
        ("etag", &seen),
        ("label", "People held hostage"),
        ("unit", "persons"),
        ("breakdown", "overlapping"),
        ("position", "400"),
        ("best", "1128"),
        ("status", "confirmed"),
        ("notes", "second tab"),
    ];
    // Saving the same form again, without a choice, is refused again …
    let (s, p, _) = panel_post(&app, &clara, &item, &mine).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // … and so is naming the item as it is now without choosing.
    let mut unchosen = mine.clone();
    unchosen.push(("resolving", &resolving));
    let (s, p, _) = panel_post(&app, &clara, &item, &unchosen).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p.contains("name=\"choose.notes\""), "{p}");
    let (_, v) = etag_of(&app, &clara, id, "figures/hostages.total").await;
    assert_eq!(v["notes"], "first tab", "still nothing overwritten");
    // Keeping the value saved meanwhile keeps it; choosing one's own
    // saves it.
    let mut theirs = unchosen.clone();
    theirs.push(("choose.notes", "theirs"));
    let (s, p, to) = panel_post(&app, &clara, &item, &theirs).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{p}");
    assert!(to.contains("done=saved"), "{to}");
    let (now, v) = etag_of(&app, &clara, id, "figures/hostages.total").await;
    assert_eq!(v["notes"], "first tab");
    let now = now.trim_matches('"').to_string();
    let chosen: Vec<(&str, &str)> = vec![
        ("etag", &seen),
        ("resolving", &now),
        ("label", "People held hostage"),
        ("unit", "persons"),
        ("breakdown", "overlapping"),
        ("position", "400"),
        ("best", "1128"),
        ("status", "confirmed"),
        ("notes", "second tab"),
        ("choose.notes", "mine"),
    ];
    let (s, p, _) = panel_post(&app, &clara, &item, &chosen).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{p}");
    let (_, v) = etag_of(&app, &clara, id, "figures/hostages.total").await;
    assert_eq!(v["notes"], "second tab", "saved over it, by choice");
}

/// Two drafts of one figure, hostages.killed: cora's (`other`) changes its
/// notes and label, clara's (`mine`) its notes and position.
async fn two_drafts_of_hostages_killed<S: TestApp<B>, B: actix_web::body::MessageBody>(
    app: &S,
    clara: &Session,
    cora: &Session,
) -> (i64, i64) {
    let mine = open_changeset(app, clara, "Note on the hostages killed").await;
    let other = open_changeset(app, cora, "Hostages killed: wording").await;
    for (field, value) in [("notes", "cora's note"), ("label", "Hostages who died")] {
        let (s, v) = edit_figure(app, cora, other, "hostages.killed", field, json!(value)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    for (field, value) in [("notes", json!("clara's note")), ("position", json!(439))] {
        let (s, v) = edit_figure(app, clara, mine, "hostages.killed", field, value).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    (mine, other)
}

common::backend_test!(async panel_a_conflict_with_a_published_version_is_taken_field_by_field);
/// Item 7, a later published version: the editor shows the published
/// value beside the draft's; "take the latest" merges a field changed on
/// one side and needs a choice, enforced by the server, for a field both
/// changed. Until then the changeset cannot be submitted.
async fn panel_a_conflict_with_a_published_version_is_taken_field_by_field(t: common::TestDb) {
    let app = start(&t).await;
    let (clara, cora, rafael) = (
        login(&app, "clara").await,
        login(&app, "cora").await,
        login(&app, "rafael").await,
    );
    let (mine, other) = two_drafts_of_hostages_killed(&app, &clara, &cora).await;
    assert_eq!(
        act(&app, &cora, other, "submit", "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        act(&app, &rafael, other, "approve", "").await.0,
        StatusCode::OK
    );

    // Submitting is refused, with the reason, at the button and by the API.
    let (_, p, _) = panel_get(&app, &clara, &format!("/admin/changesets/{mine}")).await;
    assert!(
        p.contains("id=\"submit\" class=\"primary\" disabled"),
        "{}: {p}",
        t.name
    );
    assert!(p.contains("changed in a later published version"), "{p}");
    let (s, v) = act(&app, &clara, mine, "submit", "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("figures/hostages.killed"),
        "{v}"
    );

    // The editor: both values, field by field, and how each merges.
    let item = format!("/admin/changesets/{mine}/figures/hostages.killed");
    let (s, p, _) = panel_get(&app, &clara, &item).await;
    assert_eq!(s, StatusCode::OK);
    let conflict = &p[p.find("id=\"conflict\"").expect("the conflict is shown")..];
    assert!(
        conflict.contains("cora&#39;s note") && conflict.contains("clara&#39;s note"),
        "{conflict}"
    );
    assert!(
        conflict.contains("name=\"choose.notes\" value=\"theirs\" required"),
        "{conflict}"
    );
    assert!(!conflict.contains("name=\"choose.label\""), "{conflict}");
    assert!(!conflict.contains("name=\"choose.position\""), "{conflict}");
    assert!(
        conflict.contains("Only the published version changed it")
            && conflict.contains("Only this draft changed it"),
        "{conflict}"
    );
    // The heading is the item's label; its key is secondary.
    assert!(
        p.contains("<h1 class=\"item-title\">Hostages killed <span class=\"item-key\" id=\"item-key\">figures/hostages.killed</span></h1>"),
        "{p}"
    );
    let etag = etag_of(&app, &clara, mine, "figures/hostages.killed")
        .await
        .0
        .trim_matches('"')
        .to_string();

    // Without a choice for the field both changed: refused by the server.
    let (s, _, to) = panel_post(&app, &clara, &item, &[("etag", &etag), ("rebase", "1")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.contains("refused=rebase"), "{to}");
    let (_, p, _) = panel_get(&app, &clara, &to).await;
    assert!(
        p.contains("needs a choice") && p.contains("id=\"conflict\""),
        "{p}"
    );
    let (_, v) = etag_of(&app, &clara, mine, "figures/hostages.killed").await;
    assert_eq!(v["label"], "Hostages killed", "nothing taken yet");

    // With it: the published label, the draft's position, the chosen notes.
    let (s, _, to) = panel_post(
        &app,
        &clara,
        &item,
        &[("etag", &etag), ("rebase", "1"), ("choose.notes", "mine")],
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.contains("done=rebased"), "{to}");
    let (_, p, _) = panel_get(&app, &clara, &to).await;
    assert!(!p.contains("id=\"conflict\""), "{p}");
    let (_, v) = etag_of(&app, &clara, mine, "figures/hostages.killed").await;
    assert_eq!(v["label"], "Hostages who died");
    assert_eq!(v["notes"], "clara's note");
    assert_eq!(v["position"], 439);
    // A later save keeps the edit on top of the latest version.
    let (s, _) = edit_figure(
        &app,
        &clara,
        mine,
        "hostages.killed",
        "notes",
        json!("clara's note, again"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = act(&app, &clara, mine, "submit", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = act(&app, &rafael, mine, "approve", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let doc = public_version(&app).await;
    let f = figure(&doc, "hostages.killed");
    assert_eq!(f["label"], "Hostages who died");
    assert_eq!(f["notes"], "clara's note, again");
}

common::backend_test!(async api_a_conflict_with_a_published_version_is_taken_field_by_field);
/// The same door in the API: `POST …/{table}/{key}/rebase` takes the
/// published item, keeps what only the changeset changed, and refuses
/// (409, naming the field) a field both changed until `choices` says whose
/// value to keep. The answers are the ones the API document promises.
async fn api_a_conflict_with_a_published_version_is_taken_field_by_field(t: common::TestDb) {
    let app = start(&t).await;
    let openapi = vigil::http::openapi::document();
    let path = "/api/v1/changesets/{id}/{table}/{key}/rebase";
    let (clara, cora, rafael) = (
        login(&app, "clara").await,
        login(&app, "cora").await,
        login(&app, "rafael").await,
    );
    let (mine, other) = two_drafts_of_hostages_killed(&app, &clara, &cora).await;
    let uri = format!("/api/v1/changesets/{mine}/figures/hostages.killed/rebase");
    // Nothing published over it yet: nothing to take.
    let (s, v) = app.post(Some(&clara), &uri, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{}: {v}", t.name);
    assert!(
        v["detail"].as_str().unwrap().contains("not in conflict"),
        "{v}"
    );
    for action in ["submit", "approve"] {
        let who = if action == "submit" { &cora } else { &rafael };
        assert_eq!(act(&app, who, other, action, "").await.0, StatusCode::OK);
    }
    let (_, view) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{mine}"))
        .await;
    assert_eq!(
        view["conflicts"],
        json!(["figures/hostages.killed"]),
        "{view}"
    );

    // Without a choice for the field both changed: refused, nothing taken.
    let size = app.audit(None).len();
    let (s, v) = app.post(Some(&clara), &uri, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("notes"), "{v}");
    common::conforms(&openapi, "post", path, 409, "application/problem+json", &v);
    let (s, v) = app
        .post(Some(&clara), &uri, json!({"choices": {"notes": "both"}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    common::conforms(&openapi, "post", path, 400, "application/problem+json", &v);
    // Only curators take it.
    let (s, v) = app
        .post(Some(&rafael), &uri, json!({"choices": {"notes": "mine"}}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (_, v) = etag_of(&app, &clara, mine, "figures/hostages.killed").await;
    assert_eq!(v["label"], "Hostages killed", "nothing taken yet");
    assert_eq!(app.audit(None).len(), size, "nothing written");

    // With it: the published label, the draft's position, the chosen notes.
    let (s, v) = app
        .post(Some(&clara), &uri, json!({"choices": {"notes": "mine"}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    common::conforms(&openapi, "post", path, 200, "application/json", &v);
    assert_eq!(v["item"]["label"], "Hostages who died");
    assert_eq!(v["item"]["notes"], "clara's note");
    assert_eq!(v["item"]["position"], 439);
    assert_eq!(
        app.audit(Some("changeset.edit")).last().unwrap().actor,
        "user:clara"
    );
    let (_, view) = app
        .get(Some(&clara), &format!("/api/v1/changesets/{mine}"))
        .await;
    assert_eq!(view["conflicts"], json!([]), "{view}");
    let (s, v) = act(&app, &clara, mine, "submit", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = act(&app, &rafael, mine, "approve", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let doc = public_version(&app).await;
    let f = figure(&doc, "hostages.killed");
    assert_eq!(
        (&f["label"], &f["notes"], &f["position"]),
        (
            &json!("Hostages who died"),
            &json!("clara's note"),
            &json!(439)
        )
    );
}
