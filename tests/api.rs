//! The public API over the real application and real databases, checked
//! against the OpenAPI document it publishes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{call_service, read_body, TestRequest};
use serde_json::{json, Value};
use vigil::http::AppState;
use vigil::service;

use common::app::{public_state, serve, SLUG};

/// Publishes version 2 with the hostages' total changed, as an approval would.
fn publish_v2(state: &AppState) {
    let mut ds = service::dataset(&state.db, SLUG).unwrap();
    let f = ds
        .figures
        .iter_mut()
        .find(|f| f.key == "missing.early")
        .unwrap();
    f.low = Some(181);
    ds.rules.retain(|r| r.id != "burns-within-toll");
    common::publish::publish_reviewed(
        &state.db,
        &ds,
        "the early missing, as a newer source states",
    );
}

/// A GET with one header.
fn get_with(uri: &str, name: header::HeaderName, value: &str) -> actix_http::Request {
    TestRequest::get()
        .uri(uri)
        .insert_header((name, value))
        .to_request()
}

fn header_of<B>(res: &ServiceResponse<B>, name: header::HeaderName) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn body<B: MessageBody>(res: ServiceResponse<B>) -> Vec<u8> {
    read_body(res).await.to_vec()
}

/// Validates a GET response against the OpenAPI document.
fn conforms(openapi: &Value, path: &str, status: u16, content_type: &str, value: &Value) {
    common::conforms(openapi, "get", path, status, content_type, value);
}

common::backend_test!(async every_public_endpoint_answers_as_documented);
async fn every_public_endpoint_answers_as_documented(t: common::TestDb) {
    let app = serve(public_state(&t)).await;
    let state = &app.state;
    let get = |uri: &str| TestRequest::get().uri(uri).to_request();

    let res = call_service(&app, get("/api/v1/openapi.json")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let openapi: Value = serde_json::from_slice(&body(res).await).unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");

    // The events.
    let res = call_service(&app, get("/api/v1/events")).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", t.name);
    assert_eq!(header_of(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    let events: Value = serde_json::from_slice(&body(res).await).unwrap();
    conforms(&openapi, "/api/v1/events", 200, "application/json", &events);
    assert_eq!(events[0]["slug"], SLUG);

    // The latest document, its ETag, and 304.
    let res = call_service(&app, get("/api/v1/events/beslan-2004")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = header_of(&res, header::ETAG);
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "public, no-cache");
    assert_eq!(header_of(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    let raw = body(res).await;
    let doc: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(etag, format!("\"{}\"", doc["sha256"].as_str().unwrap()));
    assert!(vigil::document::verify(std::str::from_utf8(&raw).unwrap()).unwrap());
    conforms(
        &openapi,
        "/api/v1/events/{slug}",
        200,
        "application/json",
        &doc,
    );
    let res = call_service(
        &app,
        get_with("/api/v1/events/beslan-2004", header::IF_NONE_MATCH, &etag),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{}", t.name);
    assert!(body(res).await.is_empty());
    let res = call_service(
        &app,
        get_with(
            "/api/v1/events/beslan-2004",
            header::IF_NONE_MATCH,
            "\"other\"",
        ),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Compressed as the client asks, the same bytes once decoded.
    for (accept, coding) in [
        ("br", "br"),
        ("gzip", "gzip"),
        ("gzip;q=0.5, br;q=0.1", "gzip"),
        ("identity", ""),
    ] {
        let res = call_service(
            &app,
            get_with(
                "/api/v1/events/beslan-2004",
                header::ACCEPT_ENCODING,
                accept,
            ),
        )
        .await;
        assert_eq!(
            header_of(&res, header::CONTENT_ENCODING),
            coding,
            "{accept}"
        );
        let got = body(res).await;
        let mut plain = Vec::new();
        match coding {
            "br" => brotli::Decompressor::new(&got[..], 4096)
                .read_to_end(&mut plain)
                .unwrap(),
            "gzip" => flate2::read::GzDecoder::new(&got[..])
                .read_to_end(&mut plain)
                .unwrap(),
            _ => {
                plain = got.clone();
                0
            }
        };
        assert_eq!(plain, raw, "{accept}");
        if !coding.is_empty() {
            assert!(
                got.len() * 4 < raw.len(),
                "{accept}: {} of {} bytes",
                got.len(),
                raw.len()
            );
        }
    }

    // HEAD and CORS preflight.
    let res = call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/api/v1/events/beslan-2004")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/v1/events/beslan-2004")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(header_of(&res, header::ACCESS_CONTROL_ALLOW_HEADERS).contains("If-None-Match"));

    // Errors: problem+json with a title and a detail.
    for (uri, status, path, detail) in [
        (
            "/api/v1/events/nowhere",
            404,
            "/api/v1/events/{slug}",
            "no published event 'nowhere'",
        ),
        (
            "/api/v1/events/beslan-2004?version=9",
            404,
            "/api/v1/events/{slug}",
            "has no version 9",
        ),
        (
            "/api/v1/events/beslan-2004?version=0",
            404,
            "/api/v1/events/{slug}",
            "has no version 0",
        ),
        (
            "/api/v1/events/beslan-2004?version=abc",
            400,
            "/api/v1/events/{slug}",
            "query parameter 'version'",
        ),
        (
            "/api/v1/events/beslan-2004?versoin=1",
            400,
            "/api/v1/events/{slug}",
            "'versoin' is not a parameter here; it takes version",
        ),
        (
            "/api/v1/events/beslan-2004/versions/x",
            400,
            "/api/v1/events/{slug}/versions/{n}",
            "path parameter 'n'",
        ),
        (
            "/api/v1/events/beslan-2004/versions/7",
            404,
            "/api/v1/events/{slug}/versions/{n}",
            "has no version 7",
        ),
        (
            "/api/v1/events/nowhere/versions",
            404,
            "/api/v1/events/{slug}/versions",
            "no event 'nowhere'",
        ),
        (
            "/api/v1/events/beslan-2004/diff?from=1",
            400,
            "/api/v1/events/{slug}/diff",
            "the parameter 'to' is missing",
        ),
        (
            "/api/v1/events/beslan-2004/diff?from=1&to=5",
            404,
            "/api/v1/events/{slug}/diff",
            "has no version 5",
        ),
        (
            "/api/v1/events/beslan-2004/figures.csv?version=3",
            404,
            "/api/v1/events/{slug}/figures.csv",
            "has no version 3",
        ),
    ] {
        let res = call_service(&app, get(uri)).await;
        assert_eq!(res.status().as_u16(), status, "{}: {uri}", t.name);
        assert_eq!(
            header_of(&res, header::CONTENT_TYPE),
            "application/problem+json",
            "{uri}"
        );
        let p: Value = serde_json::from_slice(&body(res).await).unwrap();
        assert!(p["detail"].as_str().unwrap().contains(detail), "{uri}: {p}");
        assert!(!p["title"].as_str().unwrap().is_empty());
        conforms(&openapi, path, status, "application/problem+json", &p);
    }
    let res = call_service(&app, get("/no/such/page")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The history is held with the latest version: with an ETag, and
    // compressed once, not per request.
    let history = "/api/v1/events/beslan-2004/versions";
    let res = call_service(&app, get(history)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let history_tag = header_of(&res, header::ETAG);
    assert!(!history_tag.is_empty(), "the history has an ETag");
    let list: Value = serde_json::from_slice(&body(res).await).unwrap();
    assert_eq!(list["versions"].as_array().unwrap().len(), 1, "{list}");
    let res = call_service(&app, get_with(history, header::IF_NONE_MATCH, &history_tag)).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = call_service(&app, get_with(history, header::ACCEPT_ENCODING, "br")).await;
    assert_eq!(header_of(&res, header::CONTENT_ENCODING), "br");
    let mut plain = Vec::new();
    brotli::Decompressor::new(&body(res).await[..], 4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&plain).unwrap(), list);

    // Versions; publish another; the history, the diff, old versions immutable.
    publish_v2(state);
    assert_eq!(
        state.reads.refresh().unwrap(),
        1,
        "the poll picks up the new version"
    );
    let res = call_service(&app, get_with(history, header::IF_NONE_MATCH, &history_tag)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a publish changes the history"
    );
    assert_ne!(header_of(&res, header::ETAG), history_tag);
    let list: Value = serde_json::from_slice(&body(res).await).unwrap();
    conforms(
        &openapi,
        "/api/v1/events/{slug}/versions",
        200,
        "application/json",
        &list,
    );
    assert_eq!(list["versions"].as_array().unwrap().len(), 2, "{list}");
    let res = call_service(&app, get("/api/v1/events/beslan-2004/versions/1")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v1: Value = serde_json::from_slice(&body(res).await).unwrap();
    conforms(
        &openapi,
        "/api/v1/events/{slug}/versions/{n}",
        200,
        "application/json",
        &v1,
    );
    assert_eq!(v1["sha256"], doc["sha256"]);
    let res = call_service(&app, get("/api/v1/events/beslan-2004")).await;
    let latest: Value = serde_json::from_slice(&body(res).await).unwrap();
    assert_eq!(latest["version"], 2);
    let res = call_service(&app, get("/api/v1/events/beslan-2004?version=1")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, header::CACHE_CONTROL).contains("immutable"));
    assert_eq!(
        header_of(&res, header::ETAG),
        etag,
        "version 1 is the same document"
    );
    assert_eq!(body(res).await, raw);

    let res = call_service(&app, get("/api/v1/events/beslan-2004/diff?from=1&to=2")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let diff: Value = serde_json::from_slice(&body(res).await).unwrap();
    conforms(
        &openapi,
        "/api/v1/events/{slug}/diff",
        200,
        "application/json",
        &diff,
    );
    let changes = diff["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{diff}");
    let fig = changes.iter().find(|c| c["table"] == "figures").unwrap();
    assert_eq!(
        (
            fig["key"].as_str(),
            fig["before"]["low"].as_i64(),
            fig["after"]["low"].as_i64()
        ),
        (Some("missing.early"), Some(180), Some(181))
    );
    let rule = changes.iter().find(|c| c["table"] == "rules").unwrap();
    assert_eq!(
        (rule["key"].as_str(), rule["after"].is_null()),
        (Some("burns-within-toll"), true)
    );

    // The figures as CSV: the import format.
    let res = call_service(
        &app,
        get("/api/v1/events/beslan-2004/figures.csv?version=1"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header_of(&res, header::CONTENT_TYPE),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        body(res).await,
        std::fs::read(common::beslan_dir().join("figures.csv")).unwrap()
    );
}

common::backend_test!(async the_openapi_document_describes_every_route_the_router_serves);
/// The router is built from route tables; `vigil::http::routes()` reads
/// them. Every route is in the OpenAPI document or says why it is not, the
/// document describes nothing the router does not serve, and every listed
/// route is really served (the router's own "nothing at" 404 never answers).
async fn the_openapi_document_describes_every_route_the_router_serves(t: common::TestDb) {
    use vigil::http::Described;
    let doc = vigil::http::openapi::document();
    let routes = vigil::http::routes();
    let documented_as = |r: &vigil::http::Route| match r.described {
        Described::OpenApi => Some(r.path),
        Described::OpenApiAs(p) => Some(p),
        Described::Outside(_) => None,
    };
    let mut undocumented = Vec::new();
    for r in &routes {
        let method = r.method.to_lowercase();
        match (documented_as(r), r.described) {
            (Some(path), _) => {
                if !doc["paths"][path][&method].is_object() {
                    undocumented.push(format!("{} {}", r.method, r.path));
                }
            }
            (None, Described::Outside(why)) => {
                assert!(why.len() > 10, "{} {}: say why", r.method, r.path);
                assert!(
                    doc["paths"][r.path][&method].is_null(),
                    "{} {} is said to be outside the document, yet it is in it",
                    r.method,
                    r.path
                );
            }
            (None, _) => unreachable!(),
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes the OpenAPI document does not describe:\n{}",
        undocumented.join("\n")
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                routes
                    .iter()
                    .any(|r| documented_as(r) == Some(path.as_str())
                        && r.method.eq_ignore_ascii_case(method)),
                "the document describes {method} {path}, which the router does not serve"
            );
        }
    }
    // Every listed route is served: fill its parameters and ask.
    let app = serve(public_state(&t)).await;
    for r in &routes {
        let uri = r
            .path
            .replace("{slug}", SLUG)
            .replace("{n}", "1")
            .replace("{id}", "1")
            .replace("{table}", "figures")
            .replace("{key}", "injured.total")
            .replace("{name}", "nobody")
            .replace("{tail:.*}", "events");
        let method = Method::from_bytes(r.method.as_bytes()).unwrap();
        let res = call_service(
            &app,
            TestRequest::default().method(method).uri(&uri).to_request(),
        )
        .await;
        let status = res.status();
        let text = String::from_utf8_lossy(&body(res).await).to_string();
        assert_ne!(status, 405, "{} {uri}: {text}", r.method);
        assert!(
            !(status == 404 && text.contains(&format!("nothing at {uri}"))),
            "{} {uri} is listed but the router does not serve it",
            r.method
        );
    }
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

/// Found by schemathesis: the query parameters were documented as path
/// parameters, so clients (and the fuzzer) could not send them.
#[actix_web::test]
async fn every_parameter_is_where_the_document_says() {
    let doc = vigil::http::openapi::document();
    let mut query = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let template: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_path: Vec<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(in_path, template, "{method} {path}: path parameters");
            for p in params.iter().filter(|p| p["in"] == "query") {
                query += 1;
                let name = p["name"].as_str().unwrap();
                let nullable = p["schema"]["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "null"));
                assert!(
                    !nullable,
                    "{method} {path}: ?{name} is not null, only absent"
                );
            }
            // Operations with parameters or a body document the 400 they give.
            let parsed = params
                .iter()
                .any(|p| p["in"] == "path" || p["in"] == "query");
            if parsed || op.get("requestBody").is_some() {
                assert!(
                    op["responses"]["400"].is_object(),
                    "{method} {path}: no 400"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["413", "415"] {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path}: no {status}"
                    );
                }
            }
        }
    }
    assert!(query >= 17, "the query parameters are documented: {query}");
    let diff = &doc["paths"]["/api/v1/events/{slug}/diff"]["get"]["parameters"];
    let from = diff
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "from")
        .unwrap();
    assert_eq!(
        (&from["in"], &from["required"]),
        (&json!("query"), &json!(true))
    );
}

common::backend_test!(async bad_parameters_and_methods_answer_as_documented);
/// Found by schemathesis: a bad path or query parameter answered a 400 the
/// document did not list, without naming the parameter; on the memorial page
/// a bad query answered problem+json instead of a page; a method a path does
/// not take answered 404 instead of 405.
async fn bad_parameters_and_methods_answer_as_documented(t: common::TestDb) {
    let app = serve(public_state(&t)).await;
    let openapi = vigil::http::openapi::document();
    for (uri, path, name) in [
        (
            "/api/v1/events/beslan-2004?version=abc",
            "/api/v1/events/{slug}",
            "query parameter 'version'",
        ),
        (
            "/api/v1/events/beslan-2004/figures.csv?version=99999999999999999999",
            "/api/v1/events/{slug}/figures.csv",
            "query parameter 'version'",
        ),
        (
            "/api/v1/events/beslan-2004/versions/99999999999999999999",
            "/api/v1/events/{slug}/versions/{n}",
            "path parameter 'n'",
        ),
        (
            "/api/v1/events/beslan-2004/diff?from=1&to=x",
            "/api/v1/events/{slug}/diff",
            "query parameter 'to'",
        ),
        (
            "/api/v1/events/beslan-2004/diff?from=1",
            "/api/v1/events/{slug}/diff",
            "the parameter 'to' is missing",
        ),
        (
            "/api/v1/audit/proof?seq=1&size=%C3%A9",
            "/api/v1/audit/proof",
            "query parameter 'size'",
        ),
    ] {
        let res = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            header_of(&res, header::CONTENT_TYPE),
            "application/problem+json"
        );
        let p: Value = serde_json::from_slice(&body(res).await).unwrap();
        assert!(p["detail"].as_str().unwrap().contains(name), "{uri}: {p}");
        conforms(&openapi, path, 400, "application/problem+json", &p);
    }

    // The memorial page answers a bad query as a page.
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/events/beslan-2004?version=abc")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        header_of(&res, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let page = String::from_utf8(body(res).await).unwrap();
    assert!(
        page.contains("query parameter") && page.contains("version"),
        "{page}"
    );
    assert!(
        openapi["paths"]["/events/{slug}"]["get"]["responses"]["400"]["content"]["text/html"]
            .is_object()
    );

    // A method the path does not take: 405 with Allow, as problem+json.
    for (method, uri, allowed) in [
        (Method::TRACE, "/api/v1/events", "GET"),
        (Method::POST, "/api/v1/events/beslan-2004", "GET"),
        (Method::DELETE, "/healthz", "HEAD"),
        (Method::PUT, "/", "GET"),
    ] {
        let res = call_service(
            &app,
            TestRequest::default()
                .method(method.clone())
                .uri(uri)
                .to_request(),
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert!(
            header_of(&res, header::ALLOW).contains(allowed),
            "{method} {uri}"
        );
        assert_eq!(
            header_of(&res, header::CONTENT_TYPE),
            "application/problem+json"
        );
        assert!(!header_of(&res, header::X_CONTENT_TYPE_OPTIONS).is_empty());
        let p: Value = serde_json::from_slice(&body(res).await).unwrap();
        assert_eq!(p["status"], 405, "{p}");
    }
    // The CORS preflight still answers on every API path.
    for uri in [
        "/api/v1/events",
        "/api/v1/events/beslan-2004",
        "/api/v1/anything",
    ] {
        let res = call_service(
            &app,
            TestRequest::default()
                .method(Method::OPTIONS)
                .uri(uri)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{uri}");
        assert_eq!(header_of(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    }
}

common::backend_test!(async the_memorial_page_is_accessible_html);
async fn the_memorial_page_is_accessible_html(t: common::TestDb) {
    let app = serve(public_state(&t)).await;
    let res = call_service(
        &app,
        TestRequest::get().uri("/events/beslan-2004").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, header::CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
    let html = String::from_utf8(body(res).await).unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains(
        "<caption class=\"visually-hidden\">People killed: figures of version 1</caption>"
    ));
    // The toll first, the version and its hash last.
    let toll = html.find("id=\"toll-fatalities\"").unwrap();
    let about = html.find("id=\"about\"").unwrap();
    let figures = html.find("id=\"figure-fatalities\"").unwrap();
    assert!(toll < figures && figures < about);
    assert!(html.contains("<th scope=\"col\">Value</th>"));
    assert!(html.contains("<svg"), "the chart is inline SVG");
    assert!(!html.contains("<script"), "no script on the public pages");
    // Claims as their sources state them, and undated where they are.
    assert!(
        html.contains("<span class=\"value\">about 160</span>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"value\">more than 1,100</span>"));
    // The implied range beside the curated one, where it is narrower.
    assert!(
        html.contains("334 (334–335) <span class=\"implied\">(sources and rules allow 334)</span>")
    );
    assert!(
        html.contains("Website of the town of Beslan</a>, undated")
            || html.contains("Website of the town of Beslan, undated")
    );
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    let index = String::from_utf8(body(res).await).unwrap();
    assert!(
        index.contains("<a href=\"/events/beslan-2004\">Beslan school siege</a>"),
        "{index}"
    );
    let res = call_service(&app, TestRequest::get().uri("/events/nowhere").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(String::from_utf8(body(res).await)
        .unwrap()
        .contains("no published event"));
}

/// The latest versions are served from memory: with every connection to the
/// database cut and new ones refused, public reads of the latest go on, and
/// what needs the database answers 503.
#[actix_web::test]
async fn latest_reads_survive_the_database_going_away() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let Some(t) = common::postgres("latest_reads_survive_the_database_going_away") else {
        return;
    };
    let app = serve(public_state(&t)).await;
    let name = t.url.rsplit('/').next().unwrap().to_string();
    let mut admin = diesel::PgConnection::establish(&common::postgres_admin_url()).unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ))
        .unwrap();
    for uri in [
        "/",
        "/events/beslan-2004",
        "/api/v1/events",
        "/api/v1/events/beslan-2004",
        "/api/v1/events/beslan-2004/figures.csv",
        "/api/v1/events/beslan-2004/versions",
    ] {
        let res = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
    }
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/api/v1/events/beslan-2004/diff?from=1&to=1")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let p: Value = serde_json::from_slice(&body(res).await).unwrap();
    assert_eq!(p["title"], "The database is unavailable");
    // Not ready, and it says why; still alive.
    let res = call_service(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r: Value = serde_json::from_slice(&body(res).await).unwrap();
    assert_eq!(r["database"], false);
    assert_eq!(r["events_loaded"], 1);
    let res = call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .unwrap();
    // And it recovers without a restart.
    let mut ok = false;
    for _ in 0..50 {
        let res = call_service(
            &app,
            TestRequest::get()
                .uri("/api/v1/events/beslan-2004/diff?from=1&to=1")
                .to_request(),
        )
        .await;
        let ready = call_service(&app, TestRequest::get().uri("/readyz").to_request()).await;
        if res.status() == StatusCode::OK && ready.status() == StatusCode::OK {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(ok, "the database came back but reads did not");
}
