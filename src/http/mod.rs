//! The HTTP interface: thin handlers over [`crate::service`]. Published
//! versions are served from memory ([`snapshot`]): the latest of each event is
//! held pre-serialised and pre-compressed, so public reads touch no database.

mod api;
pub mod openapi;
pub mod pages;
mod problem;
mod site;
pub mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header::{
    self, AcceptEncoding, CacheControl, CacheDirective, Encoding, EntityTag, Header, IfNoneMatch,
};
use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::service;
use snapshot::{Encoded, Latest, Snapshot};

/// Older versions kept in memory after a first read; they never change.
const OLD_VERSIONS_KEPT: usize = 64;

/// What every handler shares.
pub struct State {
    pub db: Db,
    latest: Latest,
    old: Mutex<HashMap<(String, i64), Arc<Snapshot>>>,
}

impl State {
    /// Opens the state and loads the latest version of every event.
    pub fn load(db: Db) -> Result<Self> {
        let state = Self {
            db,
            latest: Latest::default(),
            old: Mutex::new(HashMap::new()),
        };
        state.refresh()?;
        Ok(state)
    }

    /// Loads every event whose latest version is newer than the one held.
    /// Returns how many were swapped in.
    pub fn refresh(&self) -> Result<usize> {
        let held = self.latest.versions();
        let mut swapped = 0;
        for (slug, number) in service::latest_numbers(&self.db)? {
            if held.get(&slug).is_some_and(|n| *n >= number) {
                continue;
            }
            let row = service::version(&self.db, &slug, Some(number))?;
            self.latest.put(Snapshot::build(row)?);
            swapped += 1;
        }
        Ok(swapped)
    }

    /// A published version: the latest from memory, an older one from the
    /// cache or the database.
    pub fn snapshot(&self, slug: &str, version: Option<i64>) -> Result<Arc<Snapshot>> {
        let latest = self.latest.get(slug);
        match (version, latest) {
            (None, Some(s)) => return Ok(s),
            (Some(n), Some(s)) if s.version == n => return Ok(s),
            (None, None) => return Err(Error::NotFound(format!("no published event '{slug}'"))),
            _ => {}
        }
        let n = version.unwrap_or(0);
        if n < 1 {
            return Err(Error::NotFound(format!(
                "event '{slug}' has no version {n}"
            )));
        }
        let key = (slug.to_string(), n);
        if let Some(s) = self.old.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(s);
        }
        let s = Arc::new(Snapshot::build(service::version(&self.db, slug, Some(n))?)?);
        if let Ok(mut m) = self.old.lock() {
            if m.len() >= OLD_VERSIONS_KEPT {
                m.clear();
            }
            m.insert(key, s.clone());
        }
        Ok(s)
    }
}

/// A route for GET and HEAD (actix drops the body of HEAD responses).
fn get() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// Runs blocking work (the database) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    web::block(f)
        .await
        .map_err(|e| Error::Database(format!("worker: {e}")))?
}

/// Sends a pre-encoded body with its ETag; 304 when the client has it.
fn send(
    req: &HttpRequest,
    body: &Encoded,
    content_type: &str,
    etag: &str,
    immutable: bool,
) -> HttpResponse {
    let tag = EntityTag::new_strong(etag.to_string());
    let cache = if immutable {
        CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ])
    } else {
        // The latest may change on publish: caches revalidate with the ETag.
        CacheControl(vec![CacheDirective::Public, CacheDirective::NoCache])
    };
    let fresh = req.headers().contains_key(header::IF_NONE_MATCH)
        && match IfNoneMatch::parse(req) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(&tag)),
            Err(_) => false,
        };
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header(header::ETag(tag))
        .insert_header(cache)
        .insert_header((header::VARY, "Accept-Encoding"));
    if fresh {
        return res.finish();
    }
    let encoding = AcceptEncoding::parse(req).ok().and_then(|a| {
        a.negotiate([Encoding::brotli(), Encoding::gzip(), Encoding::identity()].iter())
    });
    let (bytes, coding) = match encoding {
        Some(e) if e == Encoding::brotli() => (body.brotli.clone(), Some("br")),
        Some(e) if e == Encoding::gzip() => (body.gzip.clone(), Some("gzip")),
        _ => (body.identity.clone(), None),
    };
    if let Some(c) = coding {
        res.insert_header((header::CONTENT_ENCODING, c));
    }
    res.content_type(content_type).body(bytes)
}

/// Security headers on every response.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
}

/// Registers every route. Pre-encoded resources come first, outside the
/// compression middleware; the rest is compressed on the fly.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(problem::query_config())
        .app_data(problem::path_config());
    api::configure_encoded(cfg);
    site::configure(cfg);
    cfg.service(
        web::scope("")
            .wrap(Compress::default())
            .configure(api::configure)
            .default_service(web::to(problem::not_found)),
    );
}

/// The whole application, as served and as tested.
pub fn app(
    state: web::Data<State>,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(state)
        .wrap(security_headers())
        .configure(configure)
}

/// Serves until stopped; polls the database for versions published by other
/// replicas every `refresh` interval.
pub async fn serve(
    state: State,
    bind: &str,
    workers: usize,
    refresh: Duration,
) -> std::io::Result<()> {
    let data = web::Data::new(state);
    let poller = data.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(refresh);
        loop {
            tick.tick().await;
            let st = poller.clone();
            match blocking(move || st.refresh()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "loaded newly published versions"),
                Err(e) => tracing::warn!(error = %e, "could not poll for new versions"),
            }
        }
    });
    tracing::info!(%bind, workers, "serving");
    actix_web::HttpServer::new(move || app(data.clone()))
        .workers(workers.max(1))
        .bind(bind)?
        .run()
        .await
}
