//! An echo server: every byte comes back, in order, on a kept-alive
//! connection. A client that sends faster than it reads is slowed down
//! (the server stops reading), not buffered without bound.
//!
//! Run: `cargo run --example echo_server [ADDR] [--workers N]
//! [--proxy-protocol] [--admin 127.0.0.1:PORT]` (default `0.0.0.0:7000`, one loop), then `nc
//! 127.0.0.1 7000` and type. ADDR may be `unix:/path/to.sock` (then `nc -U
//! /path/to.sock`). With `--workers N`, N loops on N threads share the
//! port (`SO_REUSEPORT`). `--proxy-protocol`: each connection must start
//! with a PROXY v1/v2 header (behind HAProxy's `send-proxy`). Under systemd
//! socket activation it serves the sockets it is given.
//! `--admin 127.0.0.1:PORT` opens a loopback-only admin listener: `curl
//! http://127.0.0.1:PORT/metrics` (Prometheus), `/status` in a browser.
//! Over TLS: `cargo run --features tls --example echo_server ADDR --tls-cert
//! CERT --tls-key KEY`, then `openssl s_client -connect ADDR`.

use log::info;
use twig::{After, Ctx, Endpoint, Frame, Listen, Protocol, Server};

/// Echo needs no framing: whatever arrived is a request. It works with any
/// shared state `S`, since it uses none.
pub struct Echo;

impl<S> Protocol<S> for Echo {
    fn frame(&mut self, input: &[u8]) -> Frame {
        // Answer in pieces of at most 16 KiB, so no "request" can exceed the
        // server's request size limit, whatever it is set to.
        Frame::Complete(input.len().min(16 * 1024))
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<S>) -> After {
        ctx.write(request);
        After::KeepOpen
    }
}

#[allow(dead_code)] // tests include this file for `Echo` only
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let served = args("0.0.0.0:7000").and_then(|args| serve(&args));
    if let Err(e) = served {
        eprintln!("echo_server: {e}");
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

/// With `workers` 1, exactly a single `Server` on this thread; with more,
/// that many loops on their own threads, sharing the port.
fn serve(args: &Args) -> std::io::Result<()> {
    let workers = args.workers;
    let mut server = Server::builder()
        .timeouts_from_env()
        .workers(workers)
        .build_workers(|_| ())?;
    // Before the first line is printed: whoever reads it may signal at once
    // (SIGUSR2's default action would end the process).
    server.stop_on_signals()?;
    let loops = if workers > 1 {
        format!(" ({workers} loops)")
    } else {
        String::new()
    };
    // The admin listener first: after a restart it takes its inherited
    // socket by name, before the app's loop below takes the rest.
    if let Some(admin) = &args.admin {
        server.listen_admin(admin.as_str())?; // logs "admin on ADDR"
    }
    for listen in listens(args)? {
        let bound = server.listen_at(listen, || Echo)?;
        let try_it = match &bound {
            Endpoint::Tcp(addr) => format!("nc {} {}", addr.ip(), addr.port()),
            Endpoint::Unix(path) => format!("nc -U {}", path.display()),
        };
        info!(
            "echoing on {bound}; pid {}; try: {try_it}{loops}",
            std::process::id()
        );
    }
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
        .build()?;
    Ok(listen.tls(tls))
}

#[cfg(not(feature = "tls"))]
fn with_tls(_: Listen, _: (String, String)) -> std::io::Result<Listen> {
    let why = "built without TLS: run with --features tls";
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, why))
}
