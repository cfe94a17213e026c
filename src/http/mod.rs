//! The HTTP interface: thin handlers over [`crate::service`]. The latest
//! published document of each event is held in memory, pre-serialised, so
//! public reads touch no database.

mod problem;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use actix_web::http::header::{self, CacheControl, CacheDirective, EntityTag, IfNoneMatch};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::db::{Db, VersionRow};
use crate::error::{Error, Result};
use crate::service;

/// One published document, ready to send.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub event: String,
    pub title: String,
    pub version: i64,
    pub published_at: String,
    pub sha256: String,
    pub body: Bytes,
}

impl Snapshot {
    fn from_row(row: VersionRow) -> Self {
        let title = serde_json::from_str::<serde_json::Value>(&row.document)
            .ok()
            .and_then(|v| v["event"]["title"].as_str().map(str::to_string))
            .unwrap_or_default();
        Self {
            event: row.event,
            title,
            version: row.number,
            published_at: row.published_at,
            sha256: row.sha256,
            body: Bytes::from(row.document),
        }
    }
}

/// What every handler shares.
pub struct State {
    pub db: Db,
    latest: RwLock<HashMap<String, Arc<Snapshot>>>,
}

impl State {
    /// Opens the state and loads the latest version of every event.
    pub fn load(db: Db) -> Result<Self> {
        let state = Self {
            db,
            latest: RwLock::new(HashMap::new()),
        };
        state.refresh()?;
        Ok(state)
    }

    /// Reloads the latest version of every event from the database.
    pub fn refresh(&self) -> Result<()> {
        let mut fresh = HashMap::new();
        for slug in service::events(&self.db)? {
            if let Ok(row) = service::version(&self.db, &slug, None) {
                fresh.insert(slug, Arc::new(Snapshot::from_row(row)));
            }
        }
        match self.latest.write() {
            Ok(mut m) => *m = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    fn latest(&self, slug: &str) -> Option<Arc<Snapshot>> {
        match self.latest.read() {
            Ok(m) => m.get(slug).cloned(),
            Err(poisoned) => poisoned.into_inner().get(slug).cloned(),
        }
    }

    fn all_latest(&self) -> Vec<Arc<Snapshot>> {
        let mut v: Vec<_> = match self.latest.read() {
            Ok(m) => m.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        v.sort_by(|a, b| a.event.cmp(&b.event));
        v
    }
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(problem::query_config())
        .route("/healthz", web::get().to(healthz))
        .route("/api/v1/events", web::get().to(events))
        .route("/api/v1/events/{slug}", web::get().to(event_document));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

#[derive(Serialize)]
struct EventEntry {
    slug: String,
    title: String,
    version: i64,
    published_at: String,
    sha256: String,
}

async fn events(state: web::Data<State>) -> HttpResponse {
    let list: Vec<EventEntry> = state
        .all_latest()
        .iter()
        .map(|s| EventEntry {
            slug: s.event.clone(),
            title: s.title.clone(),
            version: s.version,
            published_at: s.published_at.clone(),
            sha256: s.sha256.clone(),
        })
        .collect();
    HttpResponse::Ok().json(list)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionQuery {
    version: Option<i64>,
}

async fn event_document(
    req: HttpRequest,
    state: web::Data<State>,
    slug: web::Path<String>,
    q: web::Query<VersionQuery>,
) -> Result<HttpResponse> {
    let slug = slug.into_inner();
    let (snapshot, immutable) = match q.version {
        None => (
            state
                .latest(&slug)
                .ok_or_else(|| Error::NotFound(format!("no published event '{slug}'")))?,
            false,
        ),
        Some(n) => {
            let st = state.clone();
            let row = web::block(move || service::version(&st.db, &slug, Some(n)))
                .await
                .map_err(|e| Error::Database(e.to_string()))??;
            (Arc::new(Snapshot::from_row(row)), true)
        }
    };
    Ok(document_response(&req, &snapshot, immutable))
}

/// The document with its ETag; 304 when the client has it already.
fn document_response(req: &HttpRequest, s: &Snapshot, immutable: bool) -> HttpResponse {
    let etag = EntityTag::new_strong(s.sha256.clone());
    let cache = if immutable {
        CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ])
    } else {
        CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(60)])
    };
    let fresh = match req.headers().get(header::IF_NONE_MATCH) {
        Some(_) => match header::Header::parse(req) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&etag)),
            Err(_) => false,
        },
        None => false,
    };
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header(header::ETag(etag)).insert_header(cache);
    if fresh {
        res.finish()
    } else {
        res.content_type("application/json").body(s.body.clone())
    }
}

/// Serves until stopped.
pub async fn serve(state: State, bind: &str, workers: usize) -> std::io::Result<()> {
    let data = web::Data::new(state);
    tracing::info!(%bind, workers, "serving");
    actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::Compress::default())
            .configure(configure)
            .default_service(web::to(problem::not_found))
    })
    .workers(workers.max(1))
    .bind(bind)?
    .run()
    .await
}
