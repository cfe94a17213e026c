//! The yardstick of `benches/public_read.sh`: a bare actix-web handler that
//! returns the bytes of a file, on one worker. Built only with the
//! `bench-tools` feature.
//!
//! Usage: vigil-bare FILE ADDR

use actix_web::{web, App, HttpResponse, HttpServer};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: vigil-bare FILE ADDR");
        std::process::exit(2);
    };
    let body = web::Bytes::from(std::fs::read(&file)?);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let body = body.clone();
            App::new().route(
                "/api/v1/events/{slug}",
                web::get().to(move || {
                    let body = body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            )
        })
        .workers(1)
        .bind(addr)?
        .run()
        .await
    })
}
