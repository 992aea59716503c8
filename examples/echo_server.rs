//! An echo server: every byte comes back, in order, on a kept-alive
//! connection. A client that sends faster than it reads is slowed down
//! (the server stops reading), not buffered without bound.
//!
//! Run: `cargo run --example echo_server [ADDR]` (default `0.0.0.0:7000`),
//! then `nc 127.0.0.1 7000` and type. Over TLS: `cargo run --features tls
//! --example echo_server ADDR --tls-cert CERT --tls-key KEY`, then
//! `openssl s_client -connect ADDR`.

use log::info;
use twig::{After, Ctx, Frame, Protocol, Server};

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
    let addr = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "0.0.0.0:7000".into());
    if let Err(e) = serve(&addr) {
        eprintln!("echo_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let mut server = Server::builder().timeouts_from_env().build(())?;
    let bound = match tls_files() {
        Some(files) => listen_tls(&mut server, addr, files, || Echo)?,
        None => server.listen(addr, || Echo)?,
    };
    server.stop_on_signals()?;
    info!(
        "echoing on {bound}; try: nc {} {}",
        bound.ip(),
        bound.port()
    );
    server.run()?;
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
    server: &mut Server<S>,
    addr: &str,
    (cert, key): (String, String),
    factory: impl FnMut() -> P + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let tls = twig::tls::TlsConfig::builder()
        .cert_pem_files(cert, key)?
        .build()?;
    server.listen_tls(addr, tls, factory)
}

#[cfg(not(feature = "tls"))]
fn listen_tls<P: twig::Protocol<S> + 'static, S: 'static>(
    _: &mut Server<S>,
    _: &str,
    _: (String, String),
    _: impl FnMut() -> P + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let why = "built without TLS: run with --features tls";
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, why))
}
