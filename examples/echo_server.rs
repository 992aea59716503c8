//! An echo server: every byte comes back, in order, on a kept-alive
//! connection. A client that sends faster than it reads is slowed down
//! (the server stops reading), not buffered without bound.
//!
//! Run: `cargo run --example echo_server [ADDR] [--workers N]` (default
//! `0.0.0.0:7000`, one loop), then `nc 127.0.0.1 7000` and type. With
//! `--workers N`, N loops on N threads share the port (`SO_REUSEPORT`).
//! Over TLS: `cargo run --features tls --example echo_server ADDR --tls-cert
//! CERT --tls-key KEY`, then `openssl s_client -connect ADDR`.

use log::info;
use twig::{After, Ctx, Frame, Protocol, Server, Workers};

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
    let served = args("0.0.0.0:7000").and_then(|(addr, workers)| serve(&addr, workers));
    if let Err(e) = served {
        eprintln!("echo_server: {e}");
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

/// With `workers` 1, exactly a single `Server` on this thread; with more,
/// that many loops on their own threads, sharing the port.
fn serve(addr: &str, workers: usize) -> std::io::Result<()> {
    let mut server = Server::builder()
        .timeouts_from_env()
        .workers(workers)
        .build_workers(|_| ())?;
    let bound = match tls_files() {
        Some(files) => listen_tls(&mut server, addr, files, || Echo)?,
        None => server.listen(addr, || Echo)?,
    };
    server.stop_on_signals()?;
    let loops = if workers > 1 {
        format!(" ({workers} loops)")
    } else {
        String::new()
    };
    info!(
        "echoing on {bound}; try: nc {} {}{loops}",
        bound.ip(),
        bound.port()
    );
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
