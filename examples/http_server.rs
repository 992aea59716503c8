//! A small web server on twig's HTTP layer: a plain-text hello, an echo of
//! the POST body, the request's headers, and an HTML page for a browser.
//! Keep-alive, pipelining, chunked uploads and `Expect: 100-continue` work.
//!
//! Run: `cargo run --example http_server [ADDR] [--workers N]` (default
//! `0.0.0.0:8080`, one loop), then `curl http://127.0.0.1:8080/`, `curl
//! --data-binary hi http://127.0.0.1:8080/echo`, or open
//! `http://127.0.0.1:8080/index.html`. With `--workers N`, N loops share the
//! port, and each counts its own visitors: state is per loop (see
//! `counter_workers.rs` for a count across loops).
//! Over TLS (ALPN `http/1.1`): `cargo run --features tls --example
//! http_server ADDR --tls-cert CERT --tls-key KEY`, then `curl --cacert CERT
//! https://localhost:PORT/`.

use std::io::Write;
use std::time::Duration;

use log::info;
use twig::http::{Http, Limits, Router};
use twig::{Ctx, Server, Workers};

/// The app. The shared state is a `u64`: requests served to `/index.html`
/// (by this loop).
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
    let served = args("0.0.0.0:8080").and_then(|(addr, workers)| serve(&addr, workers));
    if let Err(e) = served {
        eprintln!("http_server: {e}");
        std::process::exit(1);
    }
}

/// `[ADDR] [--workers N]`: the address (else `default`) and the number of
/// loops (default 1).
fn args(default: &str) -> std::io::Result<(String, usize)> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let (mut addr, mut workers) = (None, 1);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--workers" {
            let n = args.next().and_then(|n| n.parse().ok());
            workers = n.ok_or_else(|| bad("--workers needs a number".into()))?;
        } else if arg == "--tls-cert" || arg == "--tls-key" {
            args.next(); // read by `tls_files`
        } else if addr.is_none() {
            addr = Some(arg);
        } else {
            return Err(bad(format!("unexpected argument {arg:?}")));
        }
    }
    Ok((addr.unwrap_or_else(|| default.into()), workers))
}

fn serve(addr: &str, workers: usize) -> std::io::Result<()> {
    let limits = Limits::default();
    let mut server = Server::builder()
        .request_timeout(Some(Duration::from_secs(10))) // a request must finish in 10 s
        .idle_timeout(Some(Duration::from_secs(60))) // keep-alive connections idle for 60 s
        .max_request_size(limits.max_head + limits.max_body + 64 * 1024) // + chunk framing
        .timeouts_from_env()
        .workers(workers)
        .build_workers(|_| 0u64)?; // each loop counts its own visitors
    let app = router();
    let factory = move || Http::new(app.clone()).limits(limits);
    let (bound, scheme) = match tls_files() {
        Some(files) => (listen_tls(&mut server, addr, files, factory)?, "https"),
        None => (server.listen(addr, factory)?, "http"),
    };
    server.stop_on_signals()?;
    info!("serving HTTP on {bound}; try: curl {scheme}://{bound}/");
    let stats = server.run()?;
    if workers > 1 {
        for (index, stats) in stats.per_loop.iter().enumerate() {
            info!("loop {index}: {stats}");
        }
    }
    Ok(())
}

/// `--tls-cert CERT --tls-key KEY` from the command line, if both are given.
fn tls_files() -> Option<(String, String)> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).cloned()
    };
    value("--tls-cert").zip(value("--tls-key"))
}

/// A TLS listener with the certificate and key from PEM files (the `tls`
/// feature: `cargo run --features tls --example ...`).
#[cfg(feature = "tls")]
fn listen_tls<P: twig::Protocol<S> + 'static, S: 'static>(
    server: &mut Workers<S>,
    addr: &str,
    (cert, key): (String, String),
    factory: impl FnMut() -> P + Clone + Send + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let tls = twig::tls::TlsConfig::builder()
        .cert_pem_files(cert, key)?
        .alpn(&[twig::tls::ALPN_HTTP1])
        .build()?;
    server.listen_tls(addr, tls, factory)
}

#[cfg(not(feature = "tls"))]
fn listen_tls<P: twig::Protocol<S> + 'static, S: 'static>(
    _: &mut Workers<S>,
    _: &str,
    _: (String, String),
    _: impl FnMut() -> P + Clone + Send + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let why = "built without TLS: run with --features tls";
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, why))
}
