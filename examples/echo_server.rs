//! An echo server: every byte comes back, in order, on a kept-alive
//! connection. A client that sends faster than it reads is slowed down
//! (the server stops reading), not buffered without bound.
//!
//! Run: `cargo run --example echo_server [ADDR]` (default `0.0.0.0:7000`),
//! then `nc 127.0.0.1 7000` and type.

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
        .unwrap_or_else(|| "0.0.0.0:7000".into());
    if let Err(e) = serve(&addr) {
        eprintln!("echo_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let mut server = Server::builder().timeouts_from_env().build(())?;
    let bound = server.listen(addr, || Echo)?;
    server.stop_on_signals()?;
    info!(
        "echoing on {bound}; try: nc {} {}",
        bound.ip(),
        bound.port()
    );
    server.run()?;
    Ok(())
}
