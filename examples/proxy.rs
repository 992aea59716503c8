//! A TCP port forwarder on twig's outbound connections: each client gets its
//! own connection to the target, bytes flow both ways, and backpressure and
//! half-close are carried across, so a slow reader at one end slows the
//! writer at the other instead of filling the proxy's memory.
//!
//! Run: `cargo run --example proxy [LISTEN_ADDR] [TARGET_ADDR]` (either may be
//! `unix:/path`; default
//! `127.0.0.1:7003` → `127.0.0.1:7000`, where `cargo run --example
//! echo_server` listens), then `nc 127.0.0.1 7003` and type.
//!
//! Both sides are relays (`Core::read_while_owing`): a twig connection
//! normally reads nothing while its socket will not take what it owes, but
//! two sides that both owe would then wait on each other forever when both
//! peers talk at once. Memory stays bounded by pausing the side that feeds a
//! peer owing more than `HIGH_WATER`.

use log::{debug, info, warn};
use twig::{
    After, Builder, CloseReason, ConnId, Core, Ctx, Endpoint, Frame, Listen, Protocol, Server,
};

/// Stop reading one side while the other side owes its peer more than this.
pub const HIGH_WATER: usize = 256 * 1024;

/// Most bytes relayed per `reply` call (twig's default request size limit).
const CHUNK: usize = 64 * 1024;

/// The shared state: where every client is forwarded to.
pub struct Proxy {
    /// Where each client's outbound connection goes: `host:port` or a
    /// Unix-domain socket.
    pub target: Endpoint,
}

/// The server's limits: room for [`HIGH_WATER`] plus the read that crossed it.
/// (The sending side pauses at the mark, so `max_output` is never reached.)
pub fn builder() -> Builder {
    Server::builder().max_output(4 * HIGH_WATER)
}

/// The accepted side: a client of the proxy.
#[derive(Default)]
pub struct Client {
    /// Its outbound connection; `None` if it could not even be started.
    upstream: Option<ConnId>,
}

/// The outbound side: the proxy's connection to the target for one client.
pub struct Upstream {
    client: ConnId,
}

/// Queues what arrived on this side for `peer`. While `peer` owes more than
/// [`HIGH_WATER`], this side is not read: what its sender writes waits in
/// the kernel, and TCP slows it down. `peer`'s `on_drained` resumes it.
fn relay(peer: ConnId, bytes: &[u8], ctx: &mut Ctx<Proxy>) -> After {
    if !ctx.send(peer, bytes) {
        return After::Close; // the other side is closing: so do we
    }
    if ctx.owed(peer).is_some_and(|owed| owed > HIGH_WATER) {
        let me = ctx.id();
        ctx.pause_reading(me);
    }
    After::KeepOpen
}

/// This side's sender finished: pass the EOF on (after the bytes queued
/// before it), and keep relaying the other direction. A connection that has
/// read EOF and had its write side shut is done both ways: twig closes it.
fn end_of_input(peer: ConnId, rest: &[u8], ctx: &mut Ctx<Proxy>) -> After {
    if !rest.is_empty() {
        ctx.send(peer, rest);
    }
    ctx.shutdown_write(peer);
    After::KeepOpen
}

impl Protocol<Proxy> for Client {
    fn on_open(&mut self, ctx: &mut Ctx<Proxy>) {
        let (me, target) = (ctx.id(), ctx.state().target.clone());
        // Bytes the client sends before the connect completes are queued.
        let upstream = Upstream { client: me };
        let connected = match &target {
            Endpoint::Tcp(addr) => ctx.connect(*addr, upstream),
            Endpoint::Unix(path) => ctx.connect_unix(path, upstream),
        };
        match connected {
            Ok(upstream) => {
                info!("{}: forwarding to {target}", ctx.peer());
                ctx.read_while_owing(me, true);
                ctx.read_while_owing(upstream, true);
                self.upstream = Some(upstream);
            }
            Err(e) => {
                warn!("{}: cannot open a socket to {target}: {e}", ctx.peer());
                ctx.close(me);
            }
        }
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len().min(CHUNK))
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<Proxy>) -> After {
        match self.upstream {
            Some(upstream) => relay(upstream, request, ctx),
            None => After::Close,
        }
    }

    fn on_eof(&mut self, rest: &[u8], ctx: &mut Ctx<Proxy>) -> After {
        debug!("{}: client finished sending", ctx.peer());
        match self.upstream {
            Some(upstream) => end_of_input(upstream, rest, ctx),
            None => After::Close,
        }
    }

    fn on_drained(&mut self, ctx: &mut Ctx<Proxy>) {
        if let Some(upstream) = self.upstream {
            ctx.resume_reading(upstream);
        }
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<Proxy>) {
        info!("{}: closed ({reason})", ctx.peer());
        if let Some(upstream) = self.upstream {
            ctx.close(upstream); // graceful: what it owes is flushed first
        }
    }
}

impl Protocol<Proxy> for Upstream {
    fn on_open(&mut self, ctx: &mut Ctx<Proxy>) {
        debug!("{}: connected for client {}", ctx.peer(), self.client);
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len().min(CHUNK))
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<Proxy>) -> After {
        relay(self.client, request, ctx)
    }

    fn on_eof(&mut self, rest: &[u8], ctx: &mut Ctx<Proxy>) -> After {
        debug!("{}: target finished sending", ctx.peer());
        end_of_input(self.client, rest, ctx)
    }

    fn on_drained(&mut self, ctx: &mut Ctx<Proxy>) {
        ctx.resume_reading(self.client);
    }

    fn on_connect_failed(&mut self, error: &std::io::Error, ctx: &mut Ctx<Proxy>) {
        let client = Core::peer(ctx, self.client).map(|a| a.to_string());
        warn!(
            "cannot reach {} for client {}: {error}; closing the client",
            ctx.peer(),
            client.as_deref().unwrap_or("(gone)")
        );
        ctx.close(self.client);
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<Proxy>) {
        debug!("{}: upstream closed ({reason})", ctx.peer());
        ctx.close(self.client);
    }
}

#[allow(dead_code)] // tests include this file for its types
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:7003".into());
    let target = args.next().unwrap_or_else(|| "127.0.0.1:7000".into());
    if let Err(e) = serve(&listen, &target) {
        eprintln!("proxy: {e}");
        std::process::exit(1);
    }
}

#[allow(dead_code)]
fn serve(listen: &str, target: &str) -> std::io::Result<()> {
    let target: Endpoint = target.parse()?;
    let mut server = builder().timeouts_from_env().build(Proxy {
        target: target.clone(),
    })?;
    let bound = server.listen_at(Listen::parse(listen)?, Client::default)?;
    server.stop_on_signals()?;
    info!(
        "proxy on {bound}; forwarding to {target}; try: {}",
        try_nc(&bound)
    );
    server.run()?;
    Ok(())
}

/// How to talk to `endpoint` with netcat.
fn try_nc(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Tcp(addr) => format!("nc {} {}", addr.ip(), addr.port()),
        Endpoint::Unix(path) => format!("nc -U {}", path.display()),
    }
}
