//! A small web server on twig's HTTP layer: a plain-text hello, an echo of
//! the POST body, the request's headers, and an HTML page for a browser.
//! Keep-alive, pipelining, chunked uploads and `Expect: 100-continue` work.
//!
//! Run: `cargo run --example http_server [ADDR] [--workers N]
//! [--proxy-protocol] [--admin 127.0.0.1:PORT]` (default `0.0.0.0:8080`, one loop), then `curl
//! http://127.0.0.1:8080/`, `curl --data-binary hi
//! http://127.0.0.1:8080/echo`, `curl http://127.0.0.1:8080/whoami` (the
//! peer address the server sees), or open `http://127.0.0.1:8080/index.html`.
//! ADDR may be `unix:/path/to.sock` (then `curl --unix-socket
//! /path/to.sock http://localhost/`). `--proxy-protocol`: behind HAProxy's
//! `send-proxy` or `send-proxy-v2`, each connection starts with a PROXY
//! header, and `/whoami` shows the client's address. Under systemd socket
//! activation (or `systemd-socket-activate -l 8080 http_server`) it serves
//! the sockets it is given instead of binding ADDR. `kill -USR2 PID`
//! restarts it without dropping a client (the new copy gets the sockets;
//! `docs/operate.md`); its first line names its pid. With `--workers N`, N loops share the
//! port, and each counts its own visitors: state is per loop (see
//! `counter_workers.rs` for a count across loops).
//! `--admin 127.0.0.1:PORT` opens a loopback-only admin listener: `curl
//! http://127.0.0.1:PORT/metrics` (Prometheus), `/status` in a browser.
//! Over TLS (ALPN `http/1.1`): `cargo run --features tls --example
//! http_server ADDR --tls-cert CERT --tls-key KEY`, then `curl --cacert CERT
//! https://localhost:PORT/`.

use std::io::Write;
use std::time::Duration;

use log::info;
use twig::http::{Http, Limits, Router};
use twig::{Ctx, Endpoint, Listen, Server};

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
        // The peer the protocol sees: behind a proxy that sends a PROXY
        // header (`--proxy-protocol`), the client, not the proxy.
        .get("/whoami", |_, res, ctx| {
            let _ = writeln!(res, "{}", ctx.peer());
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
    let served = args("0.0.0.0:8080").and_then(|args| serve(&args));
    if let Err(e) = served {
        eprintln!("http_server: {e}");
        std::process::exit(1);
    }
}

/// The command line.
struct Args {
    /// `host:port` or `unix:/path` (ignored when systemd passes sockets).
    addr: String,
    /// `--workers N`: loops sharing the listener (default 1).
    workers: usize,
    /// `--proxy-protocol`: every connection starts with a PROXY v1/v2 header.
    proxy: bool,
    /// `--admin 127.0.0.1:PORT`: `/metrics`, `/status`, `/status.json` there.
    admin: Option<String>,
}

/// `[ADDR] [--workers N] [--proxy-protocol] [--admin ADDR]`; ADDR defaults
/// to `default`.
fn args(default: &str) -> std::io::Result<Args> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let (mut addr, mut workers, mut proxy, mut admin) = (None, 1, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--workers" {
            let n = args.next().and_then(|n| n.parse().ok());
            workers = n.ok_or_else(|| bad("--workers needs a number".into()))?;
        } else if arg == "--proxy-protocol" {
            proxy = true;
        } else if arg == "--admin" {
            admin = Some(
                args.next()
                    .ok_or_else(|| bad("--admin needs an address".into()))?,
            );
        } else if arg == "--tls-cert" || arg == "--tls-key" {
            args.next(); // read by `tls_files`
        } else if addr.is_none() {
            addr = Some(arg);
        } else {
            return Err(bad(format!("unexpected argument {arg:?}")));
        }
    }
    let addr = addr.unwrap_or_else(|| default.into());
    Ok(Args {
        addr,
        workers,
        proxy,
        admin,
    })
}

/// What to listen on: the sockets systemd passed in, else `args.addr`;
/// each with a PROXY header first if asked, and TLS if given a certificate.
fn listens(args: &Args) -> std::io::Result<Vec<Listen>> {
    let mut listens = Vec::new();
    for listen in Listen::from_systemd_or(&args.addr)? {
        let listen = listen.proxy_protocol(args.proxy);
        listens.push(match tls_files() {
            Some(files) => with_tls(listen, files)?,
            None => listen,
        });
    }
    Ok(listens)
}

fn serve(args: &Args) -> std::io::Result<()> {
    let workers = args.workers;
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
    let scheme = if tls_files().is_some() {
        "https"
    } else {
        "http"
    };
    // The admin listener first: after a restart it takes its inherited
    // socket by name, before the app's loop below takes the rest.
    if let Some(admin) = &args.admin {
        server.listen_admin(admin.as_str())?; // logs "admin on ADDR"
    }
    for listen in listens(args)? {
        let bound = server.listen_at(listen, factory.clone())?;
        let try_it = match &bound {
            Endpoint::Tcp(addr) => format!("curl {scheme}://{addr}/"),
            Endpoint::Unix(path) => {
                format!("curl --unix-socket {} http://localhost/", path.display())
            }
        };
        info!(
            "serving HTTP on {bound}; pid {}; try: {try_it}",
            std::process::id()
        );
    }
    server.stop_on_signals()?;
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

/// TLS with the certificate and key from PEM files (the `tls` feature:
/// `cargo run --features tls --example ...`).
#[cfg(feature = "tls")]
fn with_tls(listen: Listen, (cert, key): (String, String)) -> std::io::Result<Listen> {
    let tls = twig::tls::TlsConfig::builder()
        .cert_pem_files(cert, key)?
        .alpn(&[twig::tls::ALPN_HTTP1])
        .build()?;
    Ok(listen.tls(tls))
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: Listen, _: (String, String)) -> std::io::Result<Listen> {
    let why = "built without TLS: run with --features tls";
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, why))
}
