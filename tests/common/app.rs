//! The application in process, for HTTP tests: a state with the Beslan
//! event and one person per role, log-ins, requests and the changeset
//! steps a client takes. Each test runs it once per backend.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{call_service, read_body, TestRequest};
use actix_web::web;
use chrono::Utc;
use serde_json::{json, Value};
use vigil::accounts::{ManualClock, Role};
use vigil::files::Folder;
use vigil::http::{AppState, Config};
use vigil::service::{self, Context};

pub const SLUG: &str = "beslan-2004";
pub const PASSWORD: &str = "a long quiet evening";

pub fn state(t: &super::TestDb, clock: ManualClock) -> web::Data<AppState> {
    let db = t.open();
    service::import(
        &db,
        &Context::actor("cli:test"),
        &Folder::read_dir(&super::beslan_dir()).unwrap(),
        false,
    )
    .unwrap();
    for (name, roles) in [
        ("ada", vec![Role::Admin]),
        ("clara", vec![Role::Curator]),
        ("cora", vec![Role::Curator, Role::Reviewer]),
        ("rafael", vec![Role::Reviewer]),
        ("aude", vec![Role::Auditor]),
    ] {
        service::accounts::add_user(
            &db,
            &Context::actor("cli:test"),
            &vigil::accounts::Principal::operator("test"),
            name,
            PASSWORD,
            &roles,
        )
        .unwrap();
    }
    web::Data::new(AppState::with_config(db, Config::default(), Arc::new(clock)).unwrap())
}

/// The application under test, as `init_service` makes it.
pub trait TestApp<B>:
    actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<B>,
    Error = actix_web::Error,
>
{
}

impl<S, B> TestApp<B> for S where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >
{
}

/// A logged-in client: the session cookie and the CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

#[allow(unused_macros)]
macro_rules! svc {
    ($state:expr) => {
        actix_web::test::init_service(vigil::http::app($state.clone())).await
    };
}

pub async fn send<S: TestApp<B>, B: MessageBody>(
    app: &S,
    method: Method,
    uri: &str,
    who: Option<&Session>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, actix_web::http::header::HeaderMap) {
    let mut req = TestRequest::default()
        .method(method)
        .uri(uri)
        .peer_addr("192.0.2.10:4000".parse().unwrap());
    if let Some(s) = who {
        req = req
            .insert_header((header::COOKIE, s.cookie.clone()))
            .insert_header(("X-CSRF-Token", s.csrf.clone()));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let res = call_service(app, req.to_request()).await;
    let status = res.status();
    let h = res.headers().clone();
    let bytes = read_body(res).await;
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, h)
}

pub async fn login<S: TestApp<B>, B: MessageBody>(app: &S, name: &str) -> Session {
    let req = TestRequest::post()
        .uri("/api/v1/session")
        .peer_addr("192.0.2.10:4000".parse().unwrap())
        .set_json(json!({"username": name, "password": PASSWORD}))
        .to_request();
    let res = call_service(app, req).await;
    assert_eq!(res.status(), StatusCode::OK, "log-in of {name}");
    let set = res
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    for attr in [
        "__Host-vigil-session=",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/",
    ] {
        assert!(set.contains(attr), "{attr} missing from {set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let body: Value = serde_json::from_slice(&read_body(res).await).unwrap();
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
    }
}

pub fn clock() -> ManualClock {
    ManualClock::new(Utc::now())
}

pub async fn etag_of<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    id: i64,
    path: &str,
) -> (String, Value) {
    let (s, v, h) = send(
        app,
        Method::GET,
        &format!("/api/v1/changesets/{id}/{path}"),
        Some(who),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let etag = h.get(header::ETAG).unwrap().to_str().unwrap().to_string();
    assert_eq!(etag.trim_matches('"'), v["etag"].as_str().unwrap());
    (etag, v["item"].clone())
}

pub async fn open_changeset<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    reason: &str,
) -> i64 {
    let (s, v, _) = send(
        app,
        Method::POST,
        "/api/v1/changesets",
        Some(who),
        Some(json!({"event": SLUG, "reason": reason})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

/// Edits one field of a figure in a changeset, with the ETag just read.
pub async fn edit_figure<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    id: i64,
    key: &str,
    field: &str,
    value: Value,
) -> (StatusCode, Value) {
    let (etag, mut item) = etag_of(app, who, id, &format!("figures/{key}")).await;
    item[field] = value;
    let (s, v, _) = send(
        app,
        Method::PUT,
        &format!("/api/v1/changesets/{id}/figures/{key}"),
        Some(who),
        Some(item),
        &[("If-Match", &etag)],
    )
    .await;
    (s, v)
}

pub async fn act<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    id: i64,
    action: &str,
    comment: &str,
) -> (StatusCode, Value) {
    // A review names the revision it saw, as a reviewer's client would.
    let seen = if matches!(action, "approve" | "reject") {
        revision_of(app, who, id).await
    } else {
        String::new()
    };
    let headers: &[(&str, &str)] = if seen.is_empty() {
        &[]
    } else {
        &[("If-Match", &seen)]
    };
    let (s, v, _) = send(
        app,
        Method::POST,
        &format!("/api/v1/changesets/{id}/{action}"),
        Some(who),
        Some(json!({"comment": comment})),
        headers,
    )
    .await;
    (s, v)
}

/// The ETag (revision) of a changeset as `who` sees it now.
pub async fn revision_of<S: TestApp<B>, B: MessageBody>(app: &S, who: &Session, id: i64) -> String {
    let (s, v, h) = send(
        app,
        Method::GET,
        &format!("/api/v1/changesets/{id}"),
        Some(who),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let tag = h
        .get(header::ETAG)
        .expect("a changeset answers its revision as its ETag")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(tag, format!("\"{}\"", v["changeset"]["revision"]));
    tag
}

pub async fn public_version<S: TestApp<B>, B: MessageBody>(app: &S) -> Value {
    let (s, v, _) = send(
        app,
        Method::GET,
        "/api/v1/events/beslan-2004",
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    v
}

pub fn figure<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap()
}

#[allow(unused_imports)]
pub(crate) use svc;
