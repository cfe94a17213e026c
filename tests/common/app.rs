//! The application in process, for HTTP tests (crates.io's `TestApp`): a
//! state with the Beslan event and one person per role, log-ins, requests,
//! the changeset steps a client takes, and the audit log. A test takes the
//! backend as a parameter ([`super::backend_test!`]) and starts the app on it:
//!
//! ```ignore
//! common::backend_test!(async the_name);
//! async fn the_name(t: common::TestDb) {
//!     let app = start(&t).await;
//!     let clara = app.login("clara").await;
//!     let (status, json) = app.get(Some(&clara), "/api/v1/changesets").await;
//!     assert_eq!(app.audit(Some("session.login")).len(), 1);
//! }
//! ```
//!
//! `App` is itself the service, so the free functions here take it as they
//! take any service (`send(&app, …)`, `act(&app, …)`).

use std::sync::Arc;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::web;
use chrono::Utc;
use serde_json::{json, Value};
use vigil::accounts::{ManualClock, Role};
use vigil::files::Folder;
use vigil::http::{AppState, Config};
use vigil::service::{self, Context};

pub const SLUG: &str = "beslan-2004";
pub const PASSWORD: &str = "a long quiet evening";

/// A migrated database of the backend with the Beslan event published.
pub fn beslan(t: &super::TestDb) -> vigil::db::Db {
    let db = t.open();
    service::import(
        &db,
        &Context::actor("cli:test"),
        &Folder::read_dir(&super::beslan_dir()).unwrap(),
        false,
    )
    .unwrap();
    db
}

/// The public side's state: the Beslan event, no accounts, the system clock.
pub fn public_state(t: &super::TestDb) -> web::Data<AppState> {
    web::Data::new(AppState::load(beslan(t)).unwrap())
}

/// The Beslan event and one person per role, on `clock`.
pub fn state(t: &super::TestDb, clock: ManualClock) -> web::Data<AppState> {
    let db = beslan(t);
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

/// The application under test: its state, and the service `init_service`
/// makes of it. It is a service itself, so the functions below take it
/// (`send(&app, …)`) as they take any.
pub struct App<S> {
    pub state: web::Data<AppState>,
    service: S,
}

impl<S: Service<Request>> Service<Request> for App<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: Request) -> Self::Future {
        self.service.call(req)
    }
}

/// Serves `state` in process.
pub async fn serve(
    state: web::Data<AppState>,
) -> App<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    let service = init_service(vigil::http::app(state.clone())).await;
    App { state, service }
}

/// The Beslan event and one person per role ([`state`]) on the backend,
/// served, on a clock that stands still.
pub async fn start(
    t: &super::TestDb,
) -> App<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    serve(state(t, clock())).await
}

impl<S, B> App<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Logs `name` in (the password every test person has).
    pub async fn login(&self, name: &str) -> Session {
        login(self, name).await
    }

    /// A request: status, JSON body (`Null` when not JSON), headers.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        who: Option<&Session>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value, header::HeaderMap) {
        send(self, method, uri, who, body, headers).await
    }

    /// A GET: status and JSON body.
    pub async fn get(&self, who: Option<&Session>, uri: &str) -> (StatusCode, Value) {
        let (s, v, _) = send(self, Method::GET, uri, who, None, &[]).await;
        (s, v)
    }

    /// A POST of a JSON body: status and JSON body.
    pub async fn post(&self, who: Option<&Session>, uri: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = send(self, Method::POST, uri, who, Some(body), &[]).await;
        (s, v)
    }

    /// A PATCH of a JSON body: status and JSON body.
    pub async fn patch(
        &self,
        who: Option<&Session>,
        uri: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (s, v, _) = send(self, Method::PATCH, uri, who, Some(body), &[]).await;
        (s, v)
    }

    /// A DELETE: status and JSON body.
    pub async fn delete(&self, who: Option<&Session>, uri: &str) -> (StatusCode, Value) {
        let (s, v, _) = send(self, Method::DELETE, uri, who, None, &[]).await;
        (s, v)
    }

    /// A POST of `payload` as `content_type`, as it is: status and JSON body.
    pub async fn post_raw(
        &self,
        who: &Session,
        uri: &str,
        content_type: &str,
        payload: &'static str,
    ) -> (StatusCode, Value) {
        let req = TestRequest::post()
            .uri(uri)
            .peer_addr(PEER.parse().unwrap())
            .insert_header((header::COOKIE, who.cookie.clone()))
            .insert_header(("X-CSRF-Token", who.csrf.clone()))
            .insert_header((header::CONTENT_TYPE, content_type.to_string()))
            .set_payload(payload)
            .to_request();
        let res = call_service(self, req).await;
        let status = res.status();
        let bytes = read_body(res).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A panel page as `who` sees it: status, HTML, headers.
    pub async fn page(&self, who: &Session, uri: &str) -> (StatusCode, String, header::HeaderMap) {
        panel_get(self, who, uri).await
    }

    /// A panel form posted by `who`: status, HTML, where it redirects.
    pub async fn form(
        &self,
        who: &Session,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        panel_post(self, who, uri, fields).await
    }

    /// The audit log, oldest first; `action` keeps one kind of entry.
    pub fn audit(&self, action: Option<&str>) -> Vec<vigil::audit::Entry> {
        super::audit_log(&self.state.db, action)
    }
}

/// A panel page as `who` sees it: status, HTML, headers.
pub async fn panel_get<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    uri: &str,
) -> (StatusCode, String, header::HeaderMap) {
    let req = TestRequest::get()
        .uri(uri)
        .peer_addr(PEER.parse().unwrap())
        .insert_header((header::COOKIE, who.cookie.clone()))
        .to_request();
    let res = call_service(app, req).await;
    let (status, headers) = (res.status(), res.headers().clone());
    let body = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    (status, body, headers)
}

/// A panel form posted by `who`, with the session's CSRF token: status,
/// HTML, where it redirects.
pub async fn panel_post<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    uri: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &who.csrf));
    let req = TestRequest::post()
        .uri(uri)
        .peer_addr(PEER.parse().unwrap())
        .insert_header((header::COOKIE, who.cookie.clone()))
        .set_form(form)
        .to_request();
    let res = call_service(app, req).await;
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = String::from_utf8(read_body(res).await.to_vec()).unwrap();
    (status, body, location)
}

/// The client address of in-process requests.
pub const PEER: &str = "192.0.2.10:4000";

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
        .peer_addr(PEER.parse().unwrap());
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
        .peer_addr(PEER.parse().unwrap())
        .set_json(json!({"username": name, "password": PASSWORD}))
        .to_request();
    let res = call_service(app, req).await;
    assert_eq!(res.status(), StatusCode::OK, "log-in of {name}");
    let set = set_cookie(&res);
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

/// The `Set-Cookie` header of an answer.
pub fn set_cookie<B>(res: &ServiceResponse<B>) -> String {
    res.headers()
        .get(header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string()
}

/// Logs `name` in from `address`, the client sending its own
/// `X-Request-Id: client_id`; the request id vigil answers with.
pub async fn login_sending_request_id<S: TestApp<B>, B: MessageBody>(
    app: &S,
    name: &str,
    address: &str,
    client_id: &str,
) -> String {
    let req = TestRequest::post()
        .uri("/api/v1/session")
        .insert_header(("X-Request-Id", client_id))
        .peer_addr(address.parse().unwrap())
        .set_json(json!({"username": name, "password": PASSWORD}))
        .to_request();
    let res = call_service(app, req).await;
    assert_eq!(res.status(), StatusCode::OK, "log-in of {name}");
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap();
    id.to_string()
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

/// A changeset `who` opens for `reason`, with the notes of the figure `key`
/// edited: its id.
pub async fn draft_with_notes<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    reason: &str,
    key: &str,
    notes: &str,
) -> i64 {
    let id = open_changeset(app, who, reason).await;
    let (s, v) = edit_figure(app, who, id, key, "notes", json!(notes)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    id
}

/// The same, submitted by `who`.
pub async fn submitted_with_notes<S: TestApp<B>, B: MessageBody>(
    app: &S,
    who: &Session,
    reason: &str,
    key: &str,
    notes: &str,
) -> i64 {
    let id = draft_with_notes(app, who, reason, key, notes).await;
    let (s, v) = act(app, who, id, "submit", "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    id
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
