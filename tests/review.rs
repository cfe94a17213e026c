//! Review you can trust: each hole found in the four-eyes promise, tried as
//! an attacker would, through the HTTP API (and the panel and the CLI where
//! they are doors too), on real SQLite and PostgreSQL databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{call_service, read_body, TestRequest};
use chrono::Duration;
use serde_json::{json, Value};
use vigil::accounts::{Principal, Role};
use vigil::service::{self, Context};

use common::app::*;

async fn latest_version<S: TestApp<B>, B: actix_web::body::MessageBody>(app: &S) -> i64 {
    public_version(app).await["version"].as_i64().unwrap()
}

common::backend_test!(async a_writer_never_approves_even_after_another_writes_over_them);
/// Finding 1: a writer's later-overwritten edit still makes them a writer.
async fn a_writer_never_approves_even_after_another_writes_over_them(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let cora = login(&app, "cora").await; // curator and reviewer
    let rafael = login(&app, "rafael").await;
    let id = open_changeset(&app, &clara, "Clarify the injured figure").await;
    // cora changes the label of clara's figure …
    let (s, v) = edit_figure(
        &app,
        &cora,
        id,
        "injured.total",
        "label",
        json!("Injured (cora)"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t:?} {v}", t = t.name);
    // … clara then changes only its notes, and submits.
    let (s, v) = edit_figure(
        &app,
        &clara,
        id,
        "injured.total",
        "notes",
        json!("Counts differ."),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(act(&app, &clara, id, "submit", "").await.0, StatusCode::OK);
    let (s, v) = app
        .get(Some(&cora), &format!("/api/v1/changesets/{id}"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["changeset"]["writers"],
        json!(["user:clara", "user:cora"]),
        "{}",
        t.name
    );
    let approve = v["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "approve")
        .unwrap()
        .clone();
    assert_eq!(approve["allowed"], false, "{approve}");
    assert!(approve["reason"]
        .as_str()
        .unwrap()
        .contains("you wrote part of"));
    // cora may neither approve nor reject it, by the API …
    let before = latest_version(&app).await;
    let (s, v) = act(&app, &cora, id, "approve", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}: {v}", t.name);
    let (s, _) = act(&app, &cora, id, "reject", "no").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(latest_version(&app).await, before);
    // … and the panel shows Approve disabled, with the reason.
    let req = TestRequest::get()
        .uri(&format!("/admin/changesets/{id}"))
        .insert_header((header::COOKIE, cora.cookie.clone()))
        .to_request();
    let res = call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    assert!(
        page.contains(r#"id="approve" class="primary" disabled aria-describedby="approve-why""#),
        "{page}"
    );
    assert!(page.contains("you wrote part of changeset"));
    // A writer whose only edit went back to the published value stays a writer.
    let id2 = open_changeset(&app, &clara, "A note").await;
    let (_, original) = etag_of(&app, &clara, id2, "figures/hostages.total").await;
    let original_notes = original["notes"].clone();
    edit_figure(&app, &cora, id2, "hostages.total", "notes", json!("cora's")).await;
    edit_figure(&app, &cora, id2, "hostages.total", "notes", original_notes).await;
    edit_figure(
        &app,
        &clara,
        id2,
        "injured.total",
        "notes",
        json!("clara's"),
    )
    .await;
    assert_eq!(act(&app, &clara, id2, "submit", "").await.0, StatusCode::OK);
    assert_eq!(
        act(&app, &cora, id2, "approve", "").await.0,
        StatusCode::FORBIDDEN
    );
    // Someone who wrote none of it approves.
    let (s, v) = act(&app, &rafael, id, "approve", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["changeset"]["reviewer"], "user:rafael");
}

common::backend_test!(async an_approval_is_tied_to_the_revision_the_reviewer_saw);
/// Finding 2: an approval publishes exactly the revision the reviewer saw.
async fn an_approval_is_tied_to_the_revision_the_reviewer_saw(t: common::TestDb) {
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let rafael = login(&app, "rafael").await;
    let id = open_changeset(&app, &clara, "A note on the injured").await;
    edit_figure(&app, &clara, id, "injured.total", "notes", json!("first")).await;
    act(&app, &clara, id, "submit", "").await;
    // The reviewer opens it …
    let seen = revision_of(&app, &rafael, id).await;
    // … the author swaps the content and submits again.
    edit_figure(&app, &clara, id, "injured.total", "notes", json!("swapped")).await;
    act(&app, &clara, id, "submit", "").await;
    let before = latest_version(&app).await;
    let size = app.audit(None).len();
    // Without If-Match: 428. With the old revision: 409, the changeset
    // as it is now in the answer, nothing changed.
    let path = format!("/api/v1/changesets/{id}/approve");
    let (s, v) = app.post(Some(&rafael), &path, json!({})).await;
    assert_eq!(s, StatusCode::PRECONDITION_REQUIRED, "{}: {v}", t.name);
    let (s, v, _) = send(
        &app,
        Method::POST,
        &path,
        Some(&rafael),
        Some(json!({})),
        &[("If-Match", &seen)],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("changed since you saw it"),
        "{v}"
    );
    assert_eq!(v["current"]["state"], "submitted");
    let now = v["current"]["revision"].as_i64().unwrap();
    assert_eq!(v["etag"], json!(now.to_string()));
    assert_ne!(format!("\"{now}\""), seen);
    let reject = format!("/api/v1/changesets/{id}/reject");
    let (s, _, _) = send(
        &app,
        Method::POST,
        &reject,
        Some(&rafael),
        Some(json!({"comment": "no"})),
        &[("If-Match", &seen)],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(latest_version(&app).await, before);
    assert_eq!(
        app.audit(None).len(),
        size,
        "a refused review writes nothing"
    );
    // With the revision as it is now it is approved, and the audit entry
    // names the revision and the content approved.
    let current = revision_of(&app, &rafael, id).await;
    let (s, v, _) = send(
        &app,
        Method::POST,
        &path,
        Some(&rafael),
        Some(json!({})),
        &[("If-Match", &current)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let doc = public_version(&app).await;
    assert_eq!(figure(&doc, "injured.total")["notes"], "swapped");
    let approval = app.audit(Some("changeset.approve")).pop().unwrap();
    let after = approval.after.unwrap();
    assert_eq!(
        after["approved_revision"].to_string(),
        current.trim_matches('"')
    );
    assert_eq!(after["content_sha256"].as_str().unwrap().len(), 64);
}

common::backend_test!(async tokens_act_for_their_owner_and_die_with_them);
/// Findings 3 and 4: a token counts as its owner, and dies with them.
async fn tokens_act_for_their_owner_and_die_with_them(t: common::TestDb) {
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    // One admin mints a curator token and a reviewer token.
    let mut secrets = Vec::new();
    for (name, role) in [
        ("ada-curates", "curator"),
        ("ada-reviews", "reviewer"),
        ("ada-admin", "admin"),
    ] {
        let (s, v) = app
            .post(
                Some(&ada),
                "/api/v1/tokens",
                json!({"name": name, "roles": [role]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["token"]["owner"], "ada");
        secrets.push(format!("Bearer {}", v["secret"].as_str().unwrap()));
    }
    let bearer = |i: usize| vec![("Authorization", secrets[i].as_str())];
    // With the curator token: open, edit, submit.
    let (s, v, _) = send(
        &app,
        Method::POST,
        "/api/v1/changesets",
        None,
        Some(json!({"event": SLUG, "reason": "alone"})),
        &bearer(0),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (s, item, h) = send(
        &app,
        Method::GET,
        &format!("/api/v1/changesets/{id}/figures/injured.total"),
        None,
        None,
        &bearer(0),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut item = item["item"].clone();
    item["notes"] = json!("published by one person");
    let etag = h.get(header::ETAG).unwrap().to_str().unwrap().to_string();
    let mut put = bearer(0);
    put.push(("If-Match", &etag));
    let (s, v, _) = send(
        &app,
        Method::PUT,
        &format!("/api/v1/changesets/{id}/figures/injured.total"),
        None,
        Some(item),
        &put,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, _) = send(
        &app,
        Method::POST,
        &format!("/api/v1/changesets/{id}/submit"),
        None,
        Some(json!({})),
        &bearer(0),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The reviewer token counts as ada, who wrote it: refused.
    let (_, v, h) = send(
        &app,
        Method::GET,
        &format!("/api/v1/changesets/{id}"),
        None,
        None,
        &bearer(1),
    )
    .await;
    assert_eq!(v["changeset"]["writers"], json!(["user:ada"]), "{}", t.name);
    let tag = h.get(header::ETAG).unwrap().to_str().unwrap().to_string();
    let mut approve = bearer(1);
    approve.push(("If-Match", &tag));
    let (s, v, _) = send(
        &app,
        Method::POST,
        &format!("/api/v1/changesets/{id}/approve"),
        None,
        Some(json!({})),
        &approve,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}: {v}", t.name);
    // Another admin disables ada: her sessions end and her tokens are
    // revoked, each with an audit entry saying why.
    let (s, v) = app
        .post(
            Some(&ada),
            "/api/v1/users",
            json!({"name": "ben", "password": PASSWORD, "roles": ["admin"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ben = login(&app, "ben").await;
    let (s, v) = app
        .patch(Some(&ben), "/api/v1/users/ada", json!({"disabled": true}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let revoked = app.audit(Some("token.revoke"));
    assert_eq!(revoked.len(), 3, "{revoked:?}");
    assert!(revoked
        .iter()
        .all(|e| e.reason.as_deref() == Some("its owner 'ada' was disabled")));
    // Her admin token can no longer enable her again.
    let (s, _, _) = send(
        &app,
        Method::PATCH,
        "/api/v1/users/ada",
        None,
        Some(json!({"disabled": false})),
        &bearer(2),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        service::accounts::user(&app.state.db, &vigil::service::operator().1, "ada")
            .unwrap()
            .disabled
    );
}

common::backend_test!(async the_last_admin_cannot_remove_themselves);
/// Finding 5: no change leaves the service without an enabled admin.
async fn the_last_admin_cannot_remove_themselves(t: common::TestDb) {
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    let size = app.audit(None).len();
    let openapi = vigil::http::openapi::document();
    for change in [json!({"roles": ["auditor"]}), json!({"disabled": true})] {
        let (s, v) = app.patch(Some(&ada), "/api/v1/users/ada", change).await;
        assert_eq!(s, StatusCode::CONFLICT, "{}: {v}", t.name);
        assert!(
            v["detail"].as_str().unwrap().contains("last enabled admin"),
            "{v}"
        );
        // The refusal is one the API document promises.
        common::conforms(
            &openapi,
            "patch",
            "/api/v1/users/{name}",
            409,
            "application/problem+json",
            &v,
        );
    }
    // The panel's form is refused the same way.
    let req = TestRequest::post()
        .uri("/admin/users/ada")
        .insert_header((header::COOKIE, ada.cookie.clone()))
        .set_form([("csrf_token", ada.csrf.as_str()), ("roles", "auditor")])
        .to_request();
    let res = call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // So is the command line's door, the same service call.
    let err = service::accounts::set_roles(
        &app.state.db,
        &Context::cli(),
        &Principal::operator("root"),
        "ada",
        &[Role::Auditor],
    )
    .unwrap_err();
    assert!(err.to_string().contains("last enabled admin"), "{err}");
    let u = service::accounts::user(&app.state.db, &vigil::service::operator().1, "ada").unwrap();
    assert_eq!(u.roles, vec![Role::Admin]);
    assert!(!u.disabled);
    assert_eq!(app.audit(None).len(), size, "nothing written");
    // With a second admin, the first may step down.
    service::accounts::add_user(
        &app.state.db,
        &Context::cli(),
        &Principal::operator("root"),
        "ben",
        PASSWORD,
        &[Role::Admin],
    )
    .unwrap();
    let (s, v) = app
        .patch(
            Some(&ada),
            "/api/v1/users/ada",
            json!({"roles": ["auditor"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

common::backend_test!(async an_account_change_is_all_or_nothing);
/// Finding 6: an account change is stored whole or not at all.
async fn an_account_change_is_all_or_nothing(t: common::TestDb) {
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    let clara = login(&app, "clara").await;
    let size = app.audit(None).len();
    // A valid new password with an invalid (empty) role list: 400, and
    // the password, the sessions and the log are as they were.
    let (s, v) = app
        .patch(
            Some(&ada),
            "/api/v1/users/clara",
            json!({"password": "an entirely new passphrase", "roles": []}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", t.name);
    assert_eq!(app.audit(None).len(), size);
    let (s, _) = app.get(Some(&clara), "/api/v1/changesets").await;
    assert_eq!(s, StatusCode::OK, "clara's session lives on");
    login(&app, "clara").await; // the old password still works
                                // A valid whole change is stored whole.
    let (s, v) = app
        .patch(
            Some(&ada),
            "/api/v1/users/clara",
            json!({"roles": ["curator", "reviewer"], "disabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["roles"], json!(["curator", "reviewer"]));
    assert_eq!(v["disabled"], true);
    assert_eq!(app.audit(Some("user.roles")).len(), 1);
    assert_eq!(app.audit(Some("user.disable")).len(), 1);
}

common::backend_test!(async refused_log_ins_leave_a_counted_trace);
/// Finding 7: log-ins refused during a lockout leave one entry per name and
/// address per minute, with the count.
async fn refused_log_ins_leave_a_counted_trace(t: common::TestDb) {
    let clock = clock();
    let app = serve(state(&t, clock.clone())).await;
    let attempt = |password: &'static str| {
        TestRequest::post()
            .uri("/api/v1/session")
            .peer_addr("192.0.2.77:5000".parse().unwrap())
            .set_json(json!({"username": "clara", "password": password}))
            .to_request()
    };
    for _ in 0..5 {
        let res = call_service(&app, attempt("wrong wrong wrong")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    for _ in 0..20 {
        let res = call_service(&app, attempt("wrong wrong wrong")).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let refused = app.audit(Some("session.login_refused"));
    assert_eq!(refused.len(), 1, "{}: {refused:?}", t.name);
    assert_eq!(refused[0].entity_id, "clara");
    assert_eq!(refused[0].after.as_ref().unwrap()["count"], 1);
    assert_eq!(refused[0].after.as_ref().unwrap()["address"], "192.0.2.77");
    // A minute on, the next refusal carries the 19 held back and itself.
    clock.advance(Duration::seconds(61));
    let res = call_service(&app, attempt("wrong wrong wrong")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let refused = app.audit(Some("session.login_refused"));
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[1].after.as_ref().unwrap()["count"], 20);
}

common::backend_test!(async user_names_are_one_account_whatever_their_case);
/// Finding 9: "Alice" and "alice" are one account.
async fn user_names_are_one_account_whatever_their_case(t: common::TestDb) {
    let app = start(&t).await;
    let ada = login(&app, "ada").await;
    let (s, v) = app
        .post(
            Some(&ada),
            "/api/v1/users",
            json!({"name": "Clara", "password": PASSWORD, "roles": ["curator"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{}: {v}", t.name);
    assert!(v["detail"].as_str().unwrap().contains("'clara'"), "{v}");
    // Logging in as "CLARA" is clara, under her stored name.
    let res = call_service(
        &app,
        TestRequest::post()
            .uri("/api/v1/session")
            .peer_addr("192.0.2.10:4000".parse().unwrap())
            .set_json(json!({"username": "CLARA", "password": PASSWORD}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&read_body(res).await).unwrap();
    assert!(body["csrf_token"].is_string());
    assert_eq!(
        app.audit(Some("session.login")).last().unwrap().actor,
        "user:clara"
    );
}

common::backend_test!(colliding_names_are_refused_at_start_with_what_to_do);
/// A database holding names that differ only in case is refused at start,
/// with the names and what to do.
fn colliding_names_are_refused_at_start_with_what_to_do(t: common::TestDb) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let db = t.open();
    drop(db);
    let sql = "DROP INDEX users_name_nocase; \
         INSERT INTO users (name, password_hash, roles, disabled, created_at, updated_at) VALUES \
         ('alice', 'x', 'curator', FALSE, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
         ('Alice', 'x', 'curator', FALSE, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');";
    if t.name == "sqlite" {
        let path = t.url.trim_start_matches("sqlite://");
        diesel::SqliteConnection::establish(path)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    } else {
        diesel::PgConnection::establish(&t.url)
            .unwrap()
            .batch_execute(sql)
            .unwrap();
    }
    let db = vigil::db::Db::open(&t.url).unwrap();
    let err = db.migrate().unwrap_err().to_string();
    assert!(err.contains("Alice and alice"), "{}: {err}", t.name);
    assert!(err.contains("Nothing was changed"), "{err}");
}

common::backend_test!(async panel_role_matrix_covers_every_route);
/// Every panel route (GET and POST), from the router's own list, against no
/// session, each role and a wrong CSRF token: a route added without a row
/// here fails this test.
async fn panel_role_matrix_covers_every_route(t: common::TestDb) {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Asker {
        Nobody,
        Admin,
        Curator,
        Reviewer,
        Auditor,
        WrongCsrf,
    }
    use Asker::*;
    /// Method, route as declared, path asked, form fields, and the answers
    /// for [Nobody, Admin, Curator, Reviewer, Auditor, WrongCsrf].
    type Row<'a> = (&'a str, &'a str, String, Vec<(&'a str, &'a str)>, [u16; 6]);
    let app = start(&t).await;
    let clara = login(&app, "clara").await;
    let cora = login(&app, "cora").await;
    // clara's draft with one edit; cora's submitted changeset.
    let draft = draft_with_notes(&app, &clara, "draft", "injured.total", "x").await;
    let submitted = submitted_with_notes(&app, &cora, "submitted", "hostages.total", "y").await;
    let item = "figures/injured.total";
    // (method, route as the router declares it, the path asked, form fields,
    //  the answers for [Nobody, Admin, Curator, Reviewer, Auditor, WrongCsrf]).
    // 303 for no session is the redirect to the log-in page.
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("GET", "/admin/static/admin.css", "/admin/static/admin.css".into(), vec![], [200; 6]),
        ("GET", "/admin/login", "/admin/login".into(), vec![], [200; 6]),
        // The setup form is a page for anyone; only the one-time token opens it.
        ("GET", "/admin/setup", "/admin/setup".into(), vec![], [200; 6]),
        ("POST", "/admin/setup", "/admin/setup".into(), vec![("token", "x"), ("name", "eve"), ("password", PASSWORD)], [403; 6]),
        ("GET", "/admin", "/admin".into(), vec![], [303, 200, 200, 200, 200, 200]),
        ("GET", "/admin/review", "/admin/review".into(), vec![], [303, 200, 200, 200, 200, 200]),
        ("GET", "/admin/users", "/admin/users".into(), vec![], [303, 200, 403, 403, 403, 403]),
        // A password too short: the admin passes the role check and is refused on it.
        ("POST", "/admin/users", "/admin/users".into(), vec![("name", "eve"), ("password", "short"), ("roles", "curator")], [303, 400, 403, 403, 403, 403]),
        ("POST", "/admin/users/{name}", "/admin/users/nobody".into(), vec![("roles", "curator")], [303, 404, 403, 403, 403, 403]),
        ("POST", "/admin/users/{name}/password", "/admin/users/nobody/password".into(), vec![("password", PASSWORD)], [303, 404, 403, 403, 403, 403]),
        // A token without a role: the admin passes the role check and is
        // refused on the form (400), on the accounts page.
        ("POST", "/admin/tokens", "/admin/tokens".into(), vec![("name", "robot")], [303, 400, 403, 403, 403, 403]),
        ("POST", "/admin/tokens/{name}/revoke", "/admin/tokens/nothing/revoke".into(), vec![], [303, 404, 403, 403, 403, 403]),
        ("GET", "/admin/audit", "/admin/audit".into(), vec![], [303, 200, 403, 403, 200, 403]),
        // This server has no signing key: auditors and admins pass the role
        // check and are told so.
        ("POST", "/admin/audit/verify", "/admin/audit/verify".into(), vec![], [303, 404, 403, 403, 404, 403]),
        // An event that does not exist: the curator passes the role check.
        ("POST", "/admin/changesets", "/admin/changesets".into(), vec![("event", "nowhere"), ("reason", "r")], [303, 403, 404, 403, 403, 403]),
        ("GET", "/admin/changesets/{id}", format!("/admin/changesets/{draft}"), vec![], [303, 200, 200, 200, 200, 200]),
        ("GET", "/admin/changesets/{id}/items", format!("/admin/changesets/{draft}/items?q=injured"), vec![], [303, 200, 200, 200, 200, 200]),
        // Only a redirect to the item's editor, which checks for itself.
        ("GET", "/admin/changesets/{id}/edit", format!("/admin/changesets/{draft}/edit?table=figures&key=injured.total"), vec![], [303; 6]),
        // A decision refused by the changeset (not by the role) answers on
        // the changeset's page: 303 to it, where the reason is shown.
        // Submitting what is already submitted: the curator is sent back.
        ("POST", "/admin/changesets/{id}/submit", format!("/admin/changesets/{submitted}/submit"), vec![], [303, 403, 303, 403, 403, 403]),
        // Only its author (cora) may withdraw it: clara is sent back.
        ("POST", "/admin/changesets/{id}/withdraw", format!("/admin/changesets/{submitted}/withdraw"), vec![], [303, 403, 303, 403, 403, 403]),
        // A draft is not reviewable: the reviewer is sent back.
        ("POST", "/admin/changesets/{id}/approve", format!("/admin/changesets/{draft}/approve"), vec![("revision", "2")], [303, 403, 403, 303, 403, 403]),
        ("POST", "/admin/changesets/{id}/reject", format!("/admin/changesets/{draft}/reject"), vec![("revision", "2"), ("comment", "no")], [303, 403, 403, 303, 403, 403]),
        // The item editor is the curators'.
        ("GET", "/admin/changesets/{id}/{table}/{key}", format!("/admin/changesets/{draft}/{item}"), vec![], [303, 403, 200, 403, 403, 200]),
        // A figure with only its notes: the curator's edit is refused on its
        // fields (422), after the role check.
        ("POST", "/admin/changesets/{id}/{table}/{key}", format!("/admin/changesets/{draft}/{item}"), vec![("etag", "stale"), ("notes", "z")], [303, 403, 422, 403, 403, 403]),
        ("POST", "/admin/changesets/{id}/{table}/{key}/delete", format!("/admin/changesets/{draft}/{item}/delete"), vec![("etag", "stale")], [303, 403, 409, 403, 403, 403]),
        // Not a multipart upload: only a curator's body is read, and refused
        // (400) before its CSRF token can be checked.
        ("POST", "/admin/changesets/{id}/import", format!("/admin/changesets/{draft}/import"), vec![], [303, 403, 400, 403, 403, 400]),
        // A log-in form without the pre-session token of the log-in page
        // (log-in CSRF) is refused for everyone before the credentials are
        // looked at; tests/hardening.rs logs in with it.
        ("POST", "/admin/login", "/admin/login".into(), vec![("username", "nobody"), ("password", "not the password")], [403; 6]),
        // Last: logging out ends the sessions used above.
        ("POST", "/admin/logout", "/admin/logout".into(), vec![], [303, 303, 303, 303, 303, 403]),
    ];
    let mut failures = Vec::new();
    for (method, path) in vigil::http::admin::ROUTES {
        if !rows.iter().any(|r| r.0 == *method && r.1 == *path) {
            failures.push(format!("{method} {path} has no row in the matrix"));
        }
    }
    let sessions: Vec<(Asker, Option<Session>)> = vec![
        (Nobody, None),
        (Admin, Some(login(&app, "ada").await)),
        (Curator, Some(login(&app, "clara").await)),
        (Reviewer, Some(login(&app, "rafael").await)),
        (Auditor, Some(login(&app, "aude").await)),
        (WrongCsrf, {
            let s = login(&app, "clara").await;
            Some(Session {
                cookie: s.cookie,
                csrf: "0".repeat(64),
            })
        }),
    ];
    for (method, route, path, fields, want) in &rows {
        for ((asker, session), want) in sessions.iter().zip(want) {
            let mut req = if *method == "GET" {
                TestRequest::get()
            } else {
                TestRequest::post()
            }
            .uri(path)
            .peer_addr("192.0.2.10:4000".parse().unwrap());
            if let Some(s) = session {
                req = req.insert_header((header::COOKIE, s.cookie.clone()));
            }
            if *method == "POST" {
                // Without a session the form still carries a token, so that
                // what is refused is the missing session, not the form.
                let token = session.as_ref().map_or("0".repeat(64), |s| s.csrf.clone());
                let mut form: Vec<(&str, &str)> = fields.clone();
                form.push(("csrf_token", &token));
                req = req.set_form(form);
            }
            let res = call_service(&app, req.to_request()).await;
            if res.status().as_u16() != *want {
                failures.push(format!(
                    "{method} {route} ({path}) as {asker:?}: {} (wanted {want})",
                    res.status().as_u16()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

common::backend_test!(async request_ids_are_vigils_own_and_unique);
/// Finding 8: a client's X-Request-Id never stands for vigil's own id.
async fn request_ids_are_vigils_own_and_unique(t: common::TestDb) {
    let app = start(&t).await;
    // Two people's log-ins send the same id.
    let mut answered = Vec::new();
    for (name, address) in [("clara", "192.0.2.44:1234"), ("rafael", "192.0.2.45:1234")] {
        answered.push(login_sending_request_id(&app, name, address, "lb-7f3a-0001").await);
    }
    assert_ne!(answered[0], answered[1], "{}", t.name);
    let logins = app.audit(Some("session.login"));
    assert_eq!(logins.len(), 2);
    for (entry, id) in logins.iter().zip(&answered) {
        assert_eq!(entry.request_id.as_deref(), Some(id.as_str()));
        assert_eq!(entry.client_request_id.as_deref(), Some("lb-7f3a-0001"));
    }
    // The whole log, these entries included, recomputes to its leaves.
    let key = vigil::audit::checkpoint::SignerKey::generate("vigil.test").unwrap();
    let v = service::audit::verify(
        &app.state.db,
        &vigil::service::operator().1,
        &key.verifier(),
        None,
    )
    .unwrap();
    assert!(v.holds(), "{}: {:?}", t.name, v.problems);
}

common::backend_test!(every_read_use_case_asks_the_policy);
/// Every read use case asks the one policy: changesets need an account with
/// a role, accounts an admin, the audit log an auditor or admin — at the
/// service, whatever door the caller came through.
fn every_read_use_case_asks_the_policy(t: common::TestDb) {
    use vigil::accounts::Role;
    use vigil::model::Table;
    use vigil::service::{self, Context};
    let db = t.open();
    let (ctx, _) = service::operator();
    let folder = vigil::files::Folder::read_dir(&common::beslan_dir()).unwrap();
    service::import(&db, &ctx, &folder, false).unwrap();
    let curator = common::person("clara", &[Role::Curator]);
    let reviewer = common::person("rita", &[Role::Reviewer]);
    let auditor = common::person("aude", &[Role::Auditor]);
    let admin = common::person("ada", &[Role::Admin]);
    let nobody = common::person("nobody", &[]);
    let id = service::changesets::open(
        &db,
        &Context::actor("user:clara"),
        &curator,
        "beslan-2004",
        "a note",
    )
    .unwrap();
    let forbidden = |r: vigil::Result<()>, what: &str| match r {
        Err(vigil::Error::Forbidden(m)) => assert!(m.contains("this needs"), "{what}: {m}"),
        other => panic!("{}: {what} answered {other:?}", t.name),
    };
    let ok = |r: vigil::Result<()>, what: &str| {
        r.unwrap_or_else(|e| panic!("{}: {what}: {e}", t.name));
    };
    let filter = vigil::audit::AuditFilter::default();
    let list = |who: &vigil::accounts::Principal| {
        service::changesets::list(&db, who, None, None).map(|_| ())
    };
    let get = |who: &vigil::accounts::Principal| service::changesets::get(&db, who, id).map(|_| ());
    let view =
        |who: &vigil::accounts::Principal| service::changesets::view(&db, who, id).map(|_| ());
    let item = |who: &vigil::accounts::Principal| {
        service::changesets::item(&db, who, id, Table::Figures, "fatalities").map(|_| ())
    };
    let users = |who: &vigil::accounts::Principal| service::accounts::users(&db, who).map(|_| ());
    let entries =
        |who: &vigil::accounts::Principal| service::audit::entries(&db, who, &filter).map(|_| ());
    let export = |who: &vigil::accounts::Principal| {
        service::audit::export(&db, who, true, &mut Vec::new()).map(|_| ())
    };
    for (what, f) in [
        (
            "list",
            &list as &dyn Fn(&vigil::accounts::Principal) -> vigil::Result<()>,
        ),
        ("get", &get),
        ("view", &view),
        ("item", &item),
    ] {
        forbidden(f(&nobody), what);
        for who in [&curator, &reviewer, &auditor, &admin] {
            ok(f(who), what);
        }
    }
    for who in [&curator, &reviewer, &auditor, &nobody] {
        forbidden(users(who), "users");
        forbidden(service::accounts::user(&db, who, "ada").map(|_| ()), "user");
    }
    ok(users(&admin), "users");
    for who in [&curator, &reviewer, &nobody] {
        forbidden(entries(who), "entries");
        forbidden(export(who), "export");
    }
    for who in [&auditor, &admin] {
        ok(entries(who), "entries");
        ok(export(who), "export");
    }
}
