//! A small web server on twig's HTTP layer: a plain-text hello, an echo of
//! the POST body, the request's headers, and an HTML page for a browser.
//! Keep-alive, pipelining, chunked uploads and `Expect: 100-continue` work.
//!
//! Run: `cargo run --example http_server [ADDR]` (default `0.0.0.0:8080`),
//! then `curl http://127.0.0.1:8080/`, `curl --data-binary hi
//! http://127.0.0.1:8080/echo`, or open `http://127.0.0.1:8080/index.html`.

use std::io::Write;
use std::time::Duration;

use log::info;
use twig::http::{Http, Limits, Router};
use twig::{Ctx, Server};

/// The app. The shared state is a `u64`: requests served to `/index.html`.
pub fn router() -> Router<u64> {
    Router::new()
        .get("/", |_, res, _| res.text("Hello from twig!\n"))
        .post("/echo", |req, res, _| {
            let kind = req.header_str("Content-Type");
            res.content_type(kind.unwrap_or("application/octet-stream"));
            res.send(req.body());
        })
        .get("/headers", |req, res, _| {
            res.content_type("text/plain; charset=utf-8");
            for (name, value) in req.headers() {
                let _ = writeln!(res, "{name}: {}", String::from_utf8_lossy(value));
            }
        })
        .get("/index.html", |_, res, ctx: &mut Ctx<u64>| {
            *ctx.state() += 1;
            let visitor = *ctx.state();
            res.content_type("text/html; charset=utf-8");
            let _ = write!(
                res,
                "<!doctype html>\n<title>twig</title>\n<h1>Hello from twig</h1>\n\
                 <p>You are visitor {} of this page, from <code>{}</code>.</p>\n\
                 <p><a href=\"/headers\">Your request's headers</a></p>\n",
                visitor,
                ctx.peer(),
            );
        })
}

#[allow(dead_code)] // tests include this file for `router` only
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    if let Err(e) = serve(&addr) {
        eprintln!("http_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let limits = Limits::default();
    let mut server = Server::builder()
        .request_timeout(Some(Duration::from_secs(10))) // a request must finish in 10 s
        .idle_timeout(Some(Duration::from_secs(60))) // keep-alive connections idle for 60 s
        .max_request_size(limits.max_head + limits.max_body + 64 * 1024) // + chunk framing
        .timeouts_from_env()
        .build(0u64)?;
    let app = router();
    let bound = server.listen(addr, move || Http::new(app.clone()).limits(limits))?;
    server.stop_on_signals()?;
    info!("serving HTTP on {bound}; try: curl http://{bound}/");
    server.run()?;
    Ok(())
}
