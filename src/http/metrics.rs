//! `/metrics` in the Prometheus text format: requests by route and status,
//! latency histograms by route, the database pool, the audit log's size and
//! the age of its last checkpoint.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, HttpResponse};

use super::{blocking, AppState};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What the server counts of one route.
#[derive(Default)]
struct Route {
    /// Requests by method and status; a route sees few of each.
    counts: Vec<(&'static str, u16, u64)>,
    latency: Histogram,
}

/// What the server counts about requests, by route pattern, behind one
/// lock taken once per request.
#[derive(Default)]
pub struct Metrics {
    counted: Mutex<Counted>,
}

#[derive(Default)]
struct Counted {
    routes: BTreeMap<std::sync::Arc<str>, Route>,
    /// The route pattern of each path seen lately: matching a path against
    /// the router again costs more than answering a revalidation. Bounded:
    /// emptied when it holds [`PATTERNS_HELD`] paths.
    patterns: std::collections::HashMap<String, std::sync::Arc<str>>,
}

/// How many paths' patterns are remembered at most, and the longest path
/// remembered: at most about 1 MB in all.
const PATTERNS_HELD: usize = 4096;
const PATH_HELD_MAX: usize = 256;

/// The route pattern a request matched (`unmatched` for none).
fn pattern(req: &actix_web::HttpRequest) -> std::sync::Arc<str> {
    req.match_pattern()
        .unwrap_or_else(|| "unmatched".into())
        .into()
}

impl Metrics {
    /// Counts one request: its method, route pattern (not the path, so that
    /// the series stay few; remembered by path), status and duration.
    /// Allocates only the first time a path, or a route, method and status,
    /// are seen.
    pub fn observe(&self, req: &actix_web::HttpRequest, status: u16, took: Duration) {
        let method = known_method(req.method().as_str());
        let Ok(mut counted) = self.counted.lock() else {
            return;
        };
        let Counted { routes, patterns } = &mut *counted;
        let route = match patterns.get(req.path()) {
            Some(p) => p.clone(),
            None => {
                let p = pattern(req);
                // Only paths a route answers, and only short ones, are
                // kept: what a stranger invents costs a match each time,
                // never memory.
                if &*p != "unmatched" && req.path().len() <= PATH_HELD_MAX {
                    if patterns.len() >= PATTERNS_HELD {
                        patterns.clear();
                    }
                    patterns.insert(req.path().to_string(), p.clone());
                }
                p
            }
        };
        let r = routes.entry(route).or_default();
        match r
            .counts
            .iter_mut()
            .find(|(m, s, _)| *s == status && *m == method)
        {
            Some((_, _, n)) => *n += 1,
            None => r.counts.push((method, status, 1)),
        }
        let h = &mut r.latency;
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    fn render(&self, out: &mut String) {
        let Ok(counted) = self.counted.lock() else {
            return;
        };
        let routes = &counted.routes;
        out.push_str(
            "# HELP vigil_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE vigil_http_requests_total counter\n");
        for (route, r) in routes.iter() {
            for (method, status, n) in &r.counts {
                let _ = writeln!(
                    out,
                    "vigil_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    label(method),
                    label(route)
                );
            }
        }
        out.push_str("# HELP vigil_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE vigil_http_request_duration_seconds histogram\n");
        for (route, r) in routes.iter() {
            let (route, h) = (label(route), &r.latency);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "vigil_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "vigil_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
    }
}

/// The methods counted by name; any other (a client may send any token)
/// counts as `other`, so that no request adds a series.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fn known_method(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// A label value, escaped as the text format asks.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// The metrics, in the Prometheus text format (0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "the metrics", body = String, content_type = "text/plain")))]
pub async fn metrics(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.config.metrics_elsewhere {
        return super::problem::not_found(req).await;
    }
    private(state).await
}

/// The metrics, on the address `--metrics-bind` names.
pub async fn private(state: web::Data<AppState>) -> HttpResponse {
    let mut out = String::new();
    state.metrics.render(&mut out);
    let pool = state.db.pool_state();
    gauge(
        &mut out,
        "vigil_db_pool_connections",
        "Connections the pool holds.",
        pool.0,
    );
    gauge(
        &mut out,
        "vigil_db_pool_idle_connections",
        "Idle connections in the pool.",
        pool.1,
    );
    gauge(
        &mut out,
        "vigil_events_loaded",
        "Events whose latest version is held in memory.",
        state.reads.all().len(),
    );
    let st = state.clone();
    let log = blocking(move || crate::service::audit::head(&st.db)).await;
    match log {
        Ok((size, checkpoint)) => {
            gauge(
                &mut out,
                "vigil_database_up",
                "Whether the database answers.",
                1,
            );
            gauge(
                &mut out,
                "vigil_audit_entries",
                "Entries in the audit log.",
                size,
            );
            if let Some(cp) = checkpoint {
                gauge(
                    &mut out,
                    "vigil_audit_checkpoint_size",
                    "Entries covered by the latest signed checkpoint.",
                    cp.size,
                );
                let age = (state.clock.now() - cp.at).num_seconds();
                gauge(
                    &mut out,
                    "vigil_audit_checkpoint_age_seconds",
                    "Seconds since the latest checkpoint was signed.",
                    age.max(0),
                );
            }
        }
        Err(_) => gauge(
            &mut out,
            "vigil_database_up",
            "Whether the database answers.",
            0,
        ),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(out)
}
