//! Logging: every line written while a request is handled carries the
//! request's id (`request_id`), in text and in JSON, whether it was written
//! by the handler, by the service on a blocking thread, or by the layer that
//! logs the request itself.
//!
//! The id is held in a task-local value for as long as the request is
//! handled ([`within`], [`within_sync`]), and the log formatter
//! ([`WithRequestId`]) adds it to the lines written meanwhile. A tracing
//! span per request did the same, but formatting and registering one cost
//! about a tenth of the time a revalidation (304) takes, on every request,
//! though almost none of them logs anything.

use std::future::Future;
use std::sync::Arc;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// Runs `f` (a request's handling) with `id` as the current request id.
pub fn within<F: Future>(id: Arc<str>, f: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, f)
}

/// The current request's id, if a request is being handled here.
pub fn current() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

/// Runs synchronous work on behalf of the request `id` (if any) — its
/// database work on a blocking thread, or the lines that log the request
/// itself: what it logs carries the id too.
pub fn within_sync<T>(id: Option<Arc<str>>, f: impl FnOnce() -> T) -> T {
    match id {
        Some(id) => REQUEST_ID.sync_scope(id, f),
        None => f(),
    }
}

/// How a line is written: as text, or as one JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    Json,
}

/// A log formatter that adds the current request's id to what `inner`
/// writes: ` request_id=…` at the end of a text line, and
/// `"span": {"request_id": …}` in a JSON object (where a request's span
/// put it before, so log collectors keep their queries).
pub struct WithRequestId<F> {
    inner: F,
    shape: Shape,
}

impl<F> WithRequestId<F> {
    pub fn new(inner: F, shape: Shape) -> Self {
        Self { inner, shape }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let Some(id) = current() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.trim_end_matches('\n');
        let newline = &line[body.len()..];
        match self.shape {
            Shape::Text => write!(writer, "{body} request_id={id}{newline}"),
            Shape::Json => {
                let Some(open) = body.strip_suffix('}') else {
                    return writer.write_str(&line);
                };
                let id = serde_json::to_string(&*id).map_err(|_| std::fmt::Error)?;
                let comma = if open.trim_end().ends_with('{') {
                    ""
                } else {
                    ","
                };
                write!(
                    writer,
                    "{open}{comma}\"span\":{{\"name\":\"request\",\"request_id\":{id}}}}}{newline}"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer that keeps what is logged.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Kept {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Kept {
        type Writer = Kept;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Runs `request` as the request `id` is handled.
    fn handle(id: &str, request: impl Future<Output = ()>) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
            .block_on(within(Arc::from(id), request));
    }

    fn text(kept: &Kept) -> String {
        String::from_utf8(kept.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    #[test]
    fn json_lines_carry_the_id_inside_a_request_and_on_its_blocking_work() {
        let kept = Kept::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(kept.clone())
            .event_format(WithRequestId::new(
                tracing_subscriber::fmt::format()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false),
                Shape::Json,
            ))
            .finish();
        // The server's subscriber is global; this one is set on each
        // thread that logs.
        let dispatch = tracing::Dispatch::new(subscriber);
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!("outside");
            handle("abc123", async {
                tracing::warn!(n = 1, "inside");
                let id = current();
                std::thread::scope(|s| {
                    s.spawn(|| {
                        tracing::dispatcher::with_default(&dispatch, || {
                            within_sync(id, || tracing::error!("on a blocking thread"))
                        })
                    })
                    .join()
                    .unwrap_or_else(|_| panic!("the thread panicked"));
                });
            });
        });
        let lines: Vec<serde_json::Value> = text(&kept)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["fields"]["message"], "outside");
        assert!(lines[0].get("span").is_none(), "{}", lines[0]);
        for l in &lines[1..] {
            assert_eq!(l["span"]["request_id"], "abc123", "{l}");
        }
        assert_eq!(lines[1]["fields"]["n"], 1);
        assert_eq!(lines[2]["fields"]["message"], "on a blocking thread");
    }

    #[test]
    fn text_lines_end_with_the_id() {
        let kept = Kept::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(kept.clone())
            .event_format(WithRequestId::new(
                tracing_subscriber::fmt::format().with_ansi(false),
                Shape::Text,
            ))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside");
            handle("f00d", async {
                tracing::warn!(status = 503, "request failed");
            });
        });
        let out = text(&kept);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(!lines[0].contains("request_id"), "{out}");
        assert!(
            lines[1].ends_with("request failed status=503 request_id=f00d"),
            "{out}"
        );
    }
}
