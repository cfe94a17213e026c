//! The yardstick of `benches/public_read.sh`: bare actix-web handlers on
//! one worker that answer what vigil answers, with nothing around them:
//! the latest document (with its ETag, and 304 for a matching
//! `If-None-Match`), the event list, and `/healthz`. Built only with the
//! `bench-tools` feature.
//!
//! Usage: vigil-bare DOCUMENT EVENTS ETAG ADDR

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(doc), Some(events), Some(etag), Some(addr)) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        eprintln!("usage: vigil-bare DOCUMENT EVENTS ETAG ADDR");
        std::process::exit(2);
    };
    let doc = web::Bytes::from(std::fs::read(&doc)?);
    let events = web::Bytes::from(std::fs::read(&events)?);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let (doc, events, etag) = (doc.clone(), events.clone(), etag.clone());
            App::new()
                .route(
                    "/api/v1/events/{slug}",
                    web::get().to(move |req: HttpRequest| {
                        let (doc, etag) = (doc.clone(), etag.clone());
                        async move {
                            let fresh = req
                                .headers()
                                .get(header::IF_NONE_MATCH)
                                .is_some_and(|v| v.as_bytes() == etag.as_bytes());
                            if fresh {
                                HttpResponse::NotModified()
                                    .insert_header((header::ETAG, etag))
                                    .finish()
                            } else {
                                HttpResponse::Ok()
                                    .insert_header((header::ETAG, etag))
                                    .content_type("application/json")
                                    .body(doc)
                            }
                        }
                    }),
                )
                .route(
                    "/api/v1/events",
                    web::get().to(move || {
                        let events = events.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(events)
                        }
                    }),
                )
                .route(
                    "/healthz",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/plain; charset=utf-8")
                            .body("ok\n")
                    }),
                )
        })
        .workers(1)
        .bind(addr)?
        .run()
        .await
    })
}
