//! The HTTP interface: thin handlers over [`crate::service`]. Published
//! versions are served from memory ([`ServedVersion`]): the latest of each
//! event is held pre-serialised and pre-compressed, so public reads touch
//! no database.

/// A table of routes, declared once: the function it names registers them
/// (each path one resource made by the given constructor, with its methods)
/// and the constant it names lists them as (method, path pattern), so that
/// [`routes`] and the tests read the router's own declaration.
macro_rules! route_table {
    (
        $(#[$meta:meta])*
        $vis:vis fn $configure:ident, const $list:ident, resource $at:path;
        $($path:literal => { $($method:ident $handler:path),+ $(,)? })+
    ) => {
        $(#[$meta])*
        $vis fn $configure(cfg: &mut actix_web::web::ServiceConfig) {
            $(cfg.service($at($path)$(.route(route_table!(@method $method).to($handler)))+);)+
        }

        /// The routes [`$configure`] registers, as (method, path pattern).
        $vis const $list: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),+];
    };
    (@method GET) => { $crate::http::get() };
    (@method POST) => { actix_web::web::post() };
    (@method PUT) => { actix_web::web::put() };
    (@method PATCH) => { actix_web::web::patch() };
    (@method DELETE) => { actix_web::web::delete() };
}

pub mod admin;
mod admin_api;
mod api;
mod audit;
pub mod auth;
pub mod catalogue;
pub mod form;
mod metrics;
pub mod openapi;
pub mod pages;
mod params;
mod problem;
pub mod proxy;
mod site;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::middleware::Compress;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::accounts::{self, Clock, SessionPolicy, SystemClock};
use crate::error::{Error, Result};
use crate::service::Db;
use crate::service::{self, accounts::LoginLimits};
use service::reads::{Encoded, Publisher, Reads, ServedVersion};

/// How the admin side behaves; see `vigil serve --help`.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Session cookie with `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    /// Reached over HTTPS: send Strict-Transport-Security.
    pub tls: bool,
    pub sessions: SessionPolicy,
    /// The budget of old versions held in memory, in bytes.
    pub version_cache_bytes: usize,
    /// `/metrics` is served on its own address (`--metrics-bind`), not on
    /// the public one.
    pub metrics_elsewhere: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            secure_cookies: true,
            tls: false,
            sessions: SessionPolicy::default(),
            version_cache_bytes: service::reads::DEFAULT_VERSION_CACHE_BYTES,
            metrics_elsewhere: false,
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub db: Db,
    /// The published versions, held by the service; handlers send them.
    pub reads: Reads,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub limits: LoginLimits,
    /// The hash of the one-time setup token, while there are no users.
    setup: Mutex<Option<String>>,
    /// The key that signs audit checkpoints; none, and none are signed.
    pub audit_key: Option<Arc<crate::audit::checkpoint::SignerKey>>,
    /// Requests counted for `/metrics`.
    metrics: metrics::Metrics,
    /// `/api/v1/events`, written once per change.
    event_list: api::EventList,
    /// Reverse proxies whose `X-Forwarded-For` is believed
    /// (`--trusted-proxy`); none, and the peer is the client.
    pub trusted_proxies: Vec<proxy::Cidr>,
}

impl AppState {
    /// Opens the state and loads the latest version of every event.
    pub fn load(db: Db) -> Result<Self> {
        Self::with_config(db, Config::default(), Arc::new(SystemClock))
    }

    /// The same, with the admin side configured and a clock to tell time.
    pub fn with_config(db: Db, config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        let state = Self {
            reads: Reads::with_budget(
                db.clone(),
                pages::render_event_page,
                config.version_cache_bytes,
            ),
            db,
            config,
            clock,
            limits: LoginLimits::default(),
            setup: Mutex::new(None),
            audit_key: None,
            metrics: metrics::Metrics::default(),
            event_list: api::EventList::default(),
            trusted_proxies: Vec::new(),
        };
        state.reads.load()?;
        Ok(state)
    }

    /// The service's publishing operations, with the post-publish hook
    /// bound to this replica's read model and signing key.
    pub fn publisher(&self) -> Publisher<'_> {
        Publisher {
            db: &self.db,
            reads: Some(&self.reads),
            key: self.audit_key.as_deref(),
            now: self.clock.now(),
        }
    }

    /// When there are no users yet, makes a one-time setup token that lets
    /// the first admin be created at `/admin/setup`, and returns it.
    pub fn setup_token(&self) -> Result<Option<String>> {
        if service::accounts::has_users(&self.db)? {
            return Ok(None);
        }
        let token = accounts::new_secret()?;
        let mut setup = self.setup.lock().unwrap_or_else(|e| e.into_inner());
        *setup = Some(accounts::secret_hash(&token));
        Ok(Some(token))
    }

    /// Spends the setup token if `token` is it.
    fn take_setup(&self, token: &str) -> bool {
        let mut setup = self.setup.lock().unwrap_or_else(|e| e.into_inner());
        let ok = setup
            .as_deref()
            .is_some_and(|h| accounts::same_secret(h, &accounts::secret_hash(token)));
        if ok {
            *setup = None;
        }
        ok
    }

    /// Whether a setup token is waiting to be used.
    fn setup_pending(&self) -> bool {
        self.setup.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// A published version, from the read model (see [`Reads::version`]).
    pub fn version(&self, slug: &str, version: Option<i64>) -> Result<Arc<ServedVersion>> {
        self.reads.version(slug, version)
    }
}

/// A route for GET and HEAD (actix drops the body of HEAD responses).
fn get() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// A resource of the API: its routes, the CORS preflight (OPTIONS), for any
/// other method 405 with `Allow` (made problem+json by
/// [`problem::method_not_allowed`]). (Parameters holding NUL are refused
/// by [`edge`].)
fn api_resource(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).route(web::method(actix_web::http::Method::OPTIONS).to(api::preflight))
}

/// Runs blocking work (the database) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    // What the work logs carries the request's id.
    let id = crate::logging::current();
    web::block(move || crate::logging::within_sync(id, f))
        .await
        .map_err(|e| Error::Internal(format!("worker: {e}")))?
}

/// Whether an `If-None-Match` value names `etag` (the quoted tag), weakly
/// compared as RFC 9110 §13.1.2 says, or is `*`.
fn none_match(header: &[u8], etag: &[u8]) -> bool {
    header.split(|b| *b == b',').any(|t| {
        let t = t.trim_ascii();
        t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == etag
    })
}

/// The coding to send among those held: brotli (when made), gzip or none,
/// by the client's `Accept-Encoding` (RFC 9110 §12.5.3): the highest
/// quality wins, brotli before gzip before identity on a tie; a coding
/// not named takes `*`'s quality, or 0; identity is sent when nothing else
/// is acceptable.
fn coding(accept: Option<&[u8]>, brotli: bool) -> Option<&'static str> {
    let accept = accept?;
    let (mut br, mut gz, mut id, mut any) = (None, None, None, None);
    for item in accept.split(|b| *b == b',') {
        let mut parts = item.split(|b| *b == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p.trim_ascii().strip_prefix(b"q=") {
                q = std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0.0);
            }
        }
        if name.eq_ignore_ascii_case(b"br") {
            br = Some(q);
        } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            gz = Some(q);
        } else if name.eq_ignore_ascii_case(b"identity") {
            id = Some(q);
        } else if name == b"*" {
            any = Some(q);
        }
    }
    let br = if brotli {
        br.or(any).unwrap_or(0.0)
    } else {
        0.0
    };
    let gz = gz.or(any).unwrap_or(0.0);
    // Identity is the fallback: it beats a coding only when named with a
    // higher quality.
    let id = id.unwrap_or(0.0);
    if br > 0.0 && br >= gz && br >= id {
        Some("br")
    } else if gz > 0.0 && gz >= id {
        Some("gzip")
    } else {
        None
    }
}

/// Sends a pre-encoded body with its ETag; 304 when the client has it.
fn send(
    req: &HttpRequest,
    body: &Encoded,
    content_type: &str,
    etag: &str,
    immutable: bool,
) -> HttpResponse {
    let quoted = format!("\"{etag}\"");
    // The latest may change on publish: caches revalidate with the ETag.
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| none_match(v.as_bytes(), quoted.as_bytes()));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    if let Ok(v) = header::HeaderValue::from_str(&quoted) {
        res.insert_header((header::ETAG, v));
    }
    res.insert_header((
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    ))
    .insert_header((
        header::VARY,
        header::HeaderValue::from_static("Accept-Encoding"),
    ));
    if fresh {
        return res.finish();
    }
    // Brotli once the compressor has made it; gzip until then.
    let brotli = body.brotli();
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .map(|v| v.as_bytes());
    let (bytes, coding) = match (coding(accept, brotli.is_some()), brotli) {
        (Some("br"), Some(br)) => (br.clone(), Some("br")),
        (Some("gzip"), _) => (body.gzip.clone(), Some("gzip")),
        _ => (body.identity.clone(), None),
    };
    if let Some(c) = coding {
        res.insert_header((
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static(c),
        ));
    }
    res.content_type(content_type).body(bytes)
}

/// What every request passes through, in one layer (each layer of
/// middleware costs a revalidation a measurable share of its time):
///
/// - vigil's own id of the request ([`auth::request_id`]), answered in
///   `X-Request-Id`, carried by everything logged while the request is
///   handled, and recorded by the audit log;
/// - a body sent compressed (`Content-Encoding` other than `identity`) is
///   refused with 415 before anything reads it: a small gzip body can
///   inflate to gigabytes, and no client of vigil needs to compress what it
///   sends (forms and JSON edits are small; an import is at most a few
///   megabytes);
/// - an API request whose path or query parameters hold NUL is refused
///   with 400 naming the parameter ([`params::nul_refused`]);
/// - the security headers on every answer ([`SECURITY_HEADERS`]; HSTS when
///   served over TLS);
/// - the request counted by route pattern and status, and logged.
async fn edge(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> std::result::Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let id = auth::request_id(req.request());
    let started = std::time::Instant::now();
    let encoded = req
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(str::trim)
        .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
    let mut res = if encoded {
        let e = problem::HttpError::UnsupportedMediaType(
            "request bodies are not accepted compressed: send them without Content-Encoding".into(),
        );
        req.error_response(e).map_into_right_body()
    } else if let Some(e) = params::nul_refused(req.request()) {
        req.error_response(e).map_into_right_body()
    } else {
        // Everything logged while the request is handled carries its id.
        crate::logging::within(Arc::clone(&id), next.call(req))
            .await?
            .map_into_left_body()
    };
    let took = started.elapsed();
    let status = res.status().as_u16();
    let request = res.request();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    if let Some(state) = &state {
        state.metrics.observe(request, status, took);
    }
    crate::logging::within_sync(Some(Arc::clone(&id)), || {
        if status >= 500 {
            tracing::warn!(
                method = %request.method(),
                path = %request.path(),
                status,
                micros = took.as_micros() as u64,
                "request failed"
            );
        } else {
            tracing::debug!(
                method = %request.method(),
                path = %request.path(),
                status,
                micros = took.as_micros() as u64,
                "request"
            );
        }
    });
    let headers = res.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), v);
    }
    let tls = state.is_some_and(|s| s.config.tls);
    let hsts = tls.then_some((header::STRICT_TRANSPORT_SECURITY, HSTS));
    for (name, value) in SECURITY_HEADERS.into_iter().chain(hsts) {
        if !headers.contains_key(&name) {
            headers.insert(name, header::HeaderValue::from_static(value));
        }
    }
    Ok(res)
}

/// The security headers every answer carries, unless it sets its own.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// HSTS, when served over TLS.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Where a route is described: in the OpenAPI document (under the path
/// given, when its pattern is written differently there), or outside it,
/// and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Described {
    OpenApi,
    OpenApiAs(&'static str),
    Outside(&'static str),
}

/// One route the router serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// GET routes answer HEAD too.
    pub method: &'static str,
    pub path: &'static str,
    pub described: Described,
}

/// Every route the router serves, read off the route tables that
/// [`configure`] registers, each with where it is described.
pub fn routes() -> Vec<Route> {
    use Described::{OpenApi, OpenApiAs, Outside};
    let tables: [(&[(&'static str, &'static str)], Described); 10] = [
        (api::SMALL, OpenApi),
        (api::EVENTS, OpenApi),
        (api::ENCODED, OpenApi),
        (api::OPERATIONS, OpenApi),
        (api::API, OpenApi),
        (openapi::ROUTES, OpenApi),
        (admin_api::ROUTES, OpenApi),
        (audit::ROUTES, OpenApi),
        (site::PAGES, OpenApi),
        (
            site::ASSETS,
            Outside("the pages' stylesheet and icon, not part of the API"),
        ),
    ];
    let mut all: Vec<Route> = tables
        .into_iter()
        .flat_map(|(list, described)| {
            list.iter().map(move |&(method, path)| Route {
                method,
                path,
                described,
            })
        })
        .collect();
    all.extend(admin::ROUTES.iter().map(|&(method, path)| Route {
        method,
        path,
        described: Outside(
            "the admin panel: HTML forms for people; the API under /api/v1 does the same",
        ),
    }));
    all.push(Route {
        method: "OPTIONS",
        path: api::PREFLIGHT,
        described: OpenApiAs("/api/v1/{path}"),
    });
    all
}

/// Registers every route. Pre-encoded resources come first, outside the
/// compression middleware; the rest is compressed on the fly.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(problem::query_config())
        .app_data(params::path_config());
    api::configure_small(cfg);
    api::configure_events(cfg);
    api::configure_encoded(cfg);
    site::configure(cfg);
    admin::configure(cfg);
    cfg.service(
        web::scope("")
            .wrap(Compress::default())
            .configure(api::configure)
            .configure(openapi::configure)
            .configure(admin_api::configure)
            .configure(audit::configure)
            .configure(api::configure_preflight)
            .default_service(web::to(problem::not_found)),
    );
}

/// The whole application, as served and as tested.
pub fn app(
    state: web::Data<AppState>,
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
        .app_data(admin_api::json_config())
        .wrap(actix_web::middleware::ErrorHandlers::new().handler(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            problem::method_not_allowed,
        ))
        .wrap(actix_web::middleware::from_fn(edge))
        .configure(configure)
}

/// Serves until stopped; polls the database for versions published by other
/// replicas every `refresh` interval.
pub async fn serve(
    state: AppState,
    bind: &str,
    workers: usize,
    refresh: Duration,
    metrics_bind: Option<&str>,
) -> std::io::Result<()> {
    let data = web::Data::new(state);
    let poller = data.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(refresh);
        loop {
            tick.tick().await;
            let st = poller.clone();
            match blocking(move || st.publisher().poll()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "loaded newly published versions"),
                Err(e) => tracing::warn!(error = %e, "could not poll for new versions"),
            }
        }
    });
    // Blocking work is nearly all database work, and a thread waiting for
    // a connection only costs memory (glibc gives each thread that
    // allocates an arena that keeps its peak): each worker gets as many
    // blocking threads as the pool has connections; more work waits in
    // the queue.
    let blocking_threads = data.db.max_size().max(2) as usize;
    tracing::info!(%bind, workers, blocking_threads, "serving");
    let last = data.clone();
    // On SIGTERM or SIGINT: stop accepting, let the requests in flight
    // finish (each write is one transaction, so none is left half-done),
    // then sign a last checkpoint over what they wrote.
    // `/metrics` on an address of its own (e.g. loopback), when asked.
    let private = match metrics_bind {
        Some(addr) => {
            let d = data.clone();
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(d.clone())
                    .route("/metrics", get().to(metrics::private))
                    .default_service(web::to(problem::not_found))
            })
            .workers(1)
            .shutdown_timeout(1)
            .bind(addr)?
            .run();
            tracing::info!(%addr, "serving /metrics");
            let handle = server.handle();
            actix_web::rt::spawn(server);
            Some(handle)
        }
        None => None,
    };
    let served = actix_web::HttpServer::new(move || app(data.clone()))
        .workers(workers.max(1))
        .worker_max_blocking_threads(blocking_threads)
        .shutdown_timeout(SHUTDOWN_SECONDS)
        .bind(bind)?
        .run()
        .await;
    if let Some(h) = private {
        h.stop(true).await;
    }
    served?;
    if let Err(e) = blocking(move || last.publisher().checkpoint(true)).await {
        tracing::warn!(error = %e, "could not sign a last audit checkpoint");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long a shutdown waits for requests in flight.
const SHUTDOWN_SECONDS: u64 = 30;

#[cfg(test)]
mod negotiation_tests {
    use super::{coding, none_match};

    #[test]
    fn accept_encoding_picks_the_best_coding_held() {
        let c = |h: &str, br| coding(Some(h.as_bytes()), br);
        assert_eq!(coding(None, true), None);
        assert_eq!(c("br", true), Some("br"));
        assert_eq!(c("br", false), None, "brotli not made yet: identity");
        assert_eq!(c("br, gzip", false), Some("gzip"));
        assert_eq!(c("gzip, deflate, br", true), Some("br"));
        assert_eq!(c("gzip;q=0.5, br;q=0.1", true), Some("gzip"));
        assert_eq!(c("identity", true), None);
        assert_eq!(c("*", true), Some("br"));
        assert_eq!(c("*;q=0, gzip", true), Some("gzip"));
        assert_eq!(c("br;q=0, gzip;q=0", true), None);
        assert_eq!(c("GZIP", true), Some("gzip"));
        assert_eq!(c("gzip;q=0.5, identity;q=0.9", true), None);
        assert_eq!(c("", true), None);
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_a_star() {
        let e = b"\"abc\"";
        assert!(none_match(b"\"abc\"", e));
        assert!(none_match(b"W/\"abc\"", e));
        assert!(none_match(b"\"x\", \"abc\"", e));
        assert!(none_match(b"*", e));
        assert!(!none_match(b"\"abcd\"", e));
        assert!(!none_match(b"abc", e));
        assert!(!none_match(b"", e));
    }
}
