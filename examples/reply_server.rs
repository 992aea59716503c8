//! The lesson's server on twig: log each request and its peer, answer `Yes`,
//! close. A browser (or curl) gets the same `Yes` as a valid HTTP response.
//!
//! Run: `cargo run --example reply_server [ADDR]` (default `0.0.0.0:8000`),
//! then `cargo run --example reply_client` or `curl http://127.0.0.1:8000/`.
//! `RUST_LOG=trace` narrates every turn of the event loop.

use log::info;
use twig::framing::{HttpStart, http_head, http_start};
use twig::{After, Ctx, Frame, Protocol, Server, http};

/// One value per connection; the lesson needs no state.
pub struct ReplyYes;

impl Protocol for ReplyYes {
    fn on_open(&mut self, ctx: &mut Ctx) {
        info!("Connected by {}", ctx.peer());
    }

    /// A request is whatever arrived, unless it looks like HTTP: then it is
    /// the whole header block.
    fn frame(&mut self, input: &[u8]) -> Frame {
        match http_start(input) {
            HttpStart::NotHttp => Frame::Complete(input.len()),
            HttpStart::Maybe => Frame::Partial,
            HttpStart::Http => http_head(input),
        }
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx) -> After {
        let shown = String::from_utf8_lossy(&request[..request.len().min(200)]);
        info!("request is: {}", shown.trim_end());
        if http_start(request) == HttpStart::Http {
            // twig's HTTP layer writes the status line and the length.
            let text = [("Content-Type", "text/plain")];
            http::write_response(ctx.output(), 200, &text, b"Yes", true);
        } else {
            ctx.write(b"Yes");
        }
        After::Close
    }
}

#[allow(dead_code)] // tests include this file for `ReplyYes` only
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:8000".into());
    if let Err(e) = serve(&addr) {
        eprintln!("reply_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let mut server = Server::builder().timeouts_from_env().build(())?;
    // `host:port`, or `unix:/path` (then: curl --unix-socket /path http://localhost/).
    let bound = server.listen_at(twig::Listen::parse(addr)?, || ReplyYes)?;
    server.stop_on_signals()?;
    info!("listening on {bound}; try: cargo run --example reply_client, or curl http://{bound}/");
    server.run()?;
    Ok(())
}
