//! A tiny in-memory Redis: enough of RESP2 and of Redis's commands for the
//! real `redis-cli` and for every test of a default `redis-benchmark` run,
//! pipelining included. The keyspace is the server's shared state, reached
//! as `ctx.state()` with no lock, because one thread owns it; expiry runs
//! on twig's timers.
//!
//! Run: `cargo run --release --example kv_server [ADDR] [--proxy-protocol]
//! [--admin 127.0.0.1:PORT]`
//! (default `127.0.0.1:6380`), then `redis-cli -p 6380 ping`, `redis-cli -p
//! 6380 set k v`, or `redis-benchmark -p 6380 -q`. ADDR may be
//! `unix:/path/to.sock` (then `redis-cli -s /path/to.sock`).
//! `--proxy-protocol`: behind HAProxy's `send-proxy`/`send-proxy-v2`, and
//! `CLIENT INFO` shows the client's own address. Under systemd socket
//! activation it serves the sockets it is given.
//!
//! Commands (names in any case): PING, ECHO, GET, SET (NX, XX, GET, EX, PX,
//! KEEPTTL), MGET, MSET, INCR, DECR, DEL, EXISTS, TYPE, KEYS (glob),
//! EXPIRE, PEXPIRE, TTL, PTTL, PERSIST, DBSIZE, FLUSHALL, FLUSHDB, SELECT 0;
//! LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN; SADD, SPOP, SCARD; HSET, HGET,
//! HLEN; ZADD, ZPOPMIN, ZCARD; XADD, XLEN; INFO, CONFIG GET, CLIENT
//! (SETNAME, GETNAME, ID, INFO, LIST), COMMAND (empty, for `redis-cli`),
//! QUIT. Errors carry Redis 7's texts.
//!
//! Files: `resp.rs` the wire format, `commands.rs` the command table and
//! the string and key commands, `types.rs` the aggregate types, `admin.rs`
//! INFO, CONFIG and CLIENT, `store.rs` the keyspace and its expiry.

mod admin;
mod commands;
pub mod resp;
pub mod store;
mod types;

use std::io::Write;
use std::time::Duration;

use log::{debug, info};
use twig::{After, Builder, CloseReason, Core, Ctx, Frame, Protocol, Server, Violation};

#[allow(unused_imports)] // each includer uses a different subset
pub use commands::execute;
#[allow(unused_imports)]
pub use resp::{MAX_ARGS, MAX_BULK, MAX_INLINE, frame_command, parse_args};
#[allow(unused_imports)]
pub use store::Store;

/// Largest request the server buffers (twig's `max_request_size`).
pub const MAX_REQUEST: usize = 1024 * 1024;

/// How often the sweep timer removes expired keys nobody looked at (Redis's
/// active expiry runs 10 times a second too).
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// The server's limits: twig's defaults, with room for [`MAX_BULK`] values.
pub fn builder() -> Builder {
    Server::builder().max_request_size(MAX_REQUEST)
}

/// Prepares a server built with a [`Store`]: notes its listening address
/// (for INFO and CLIENT) and starts the expiry sweep.
pub fn install(server: &mut Server<Store>) {
    let listening = server.local_addrs().first().copied();
    let core = server.core();
    core.state().listening = listening;
    start_sweeper(core);
}

/// Every [`SWEEP_EVERY`], removes the keys that have expired.
pub fn start_sweeper(core: &mut Core<Store>) {
    core.every(SWEEP_EVERY, |core| {
        let now = core.now();
        let removed = core.state().sweep(now);
        if removed > 0 {
            debug!("expired {removed} keys");
        }
    });
}

/// Arguments kept on the stack; a command with more (a long MSET) uses a
/// vector.
const INLINE_ARGS: usize = 24;

/// One value per connection: framing is [`frame_command`], answering is
/// [`execute`] on the shared [`Store`].
#[derive(Default)]
pub struct Kv;

impl Protocol<Store> for Kv {
    fn frame(&mut self, input: &[u8]) -> Frame {
        frame_command(input)
    }

    fn on_open(&mut self, ctx: &mut Ctx<'_, Store>) {
        let (id, addr, since) = (ctx.id(), ctx.peer(), ctx.now());
        let store = ctx.state();
        let client = store::Client {
            id: store.next_client,
            addr,
            name: Vec::new(),
            since,
        };
        store.next_client += 1;
        store.clients.insert(id, client);
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Store>) -> After {
        // The arguments borrow `request`, so they cannot live in `self`: a
        // small array on the stack serves all but the longest commands.
        let mut small: [&[u8]; INLINE_ARGS] = [b""; INLINE_ARGS];
        let mut more: Vec<&[u8]> = Vec::new();
        let mut count = 0;
        resp::for_each_arg(request, |arg| {
            if count < INLINE_ARGS {
                small[count] = arg;
            } else {
                if more.is_empty() {
                    more.extend_from_slice(&small);
                }
                more.push(arg);
            }
            count += 1;
        });
        let args = if count <= INLINE_ARGS {
            &small[..count]
        } else {
            &more[..]
        };
        execute(args, ctx)
    }

    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, Store>) {
        debug!("{}: protocol error: {violation}", ctx.peer());
        let _ = match violation {
            Violation::Invalid(why) => write!(ctx, "-ERR Protocol error: {why}\r\n"),
            too_large => write!(ctx, "-ERR Protocol error: {too_large}\r\n"),
        };
    }

    fn on_close(&mut self, _reason: CloseReason, ctx: &mut Ctx<'_, Store>) {
        let id = ctx.id();
        ctx.state().clients.remove(&id);
    }
}

#[allow(dead_code)] // tests include this file for `Kv` only
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let mut addr = "127.0.0.1:6380".to_string();
    let (mut proxy, mut admin) = (false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--proxy-protocol" => proxy = true,
            "--admin" => admin = args.next(), // 127.0.0.1:PORT: /metrics, /status
            _ => addr = arg,
        }
    }
    if let Err(e) = serve(&addr, proxy, admin.as_deref()) {
        eprintln!("kv_server: {e}");
        std::process::exit(1);
    }
}

#[allow(dead_code)]
fn serve(addr: &str, proxy: bool, admin: Option<&str>) -> std::io::Result<()> {
    let mut server = builder().timeouts_from_env().build(Store::new())?;
    // Before the first line is printed: whoever reads it may signal at once
    // (SIGUSR2's default action would end the process).
    server.stop_on_signals()?;
    // systemd's sockets if it passed any, else ADDR.
    // The admin listener first: after a restart it takes its inherited
    // socket by name, before the app's loop below takes the rest.
    if let Some(admin) = admin {
        server.listen_admin(admin)?; // logs "admin on ADDR"
    }
    for listen in twig::Listen::from_systemd_or(addr)? {
        let bound = server.listen_at(listen.proxy_protocol(proxy), || Kv)?;
        let try_it = match &bound {
            twig::Endpoint::Tcp(a) => format!("redis-cli -h {} -p {} ping", a.ip(), a.port()),
            twig::Endpoint::Unix(path) => format!("redis-cli -s {} ping", path.display()),
        };
        info!(
            "serving keys on {bound}; pid {}; try: {try_it}",
            std::process::id()
        );
    }
    install(&mut server);
    server.run()?;
    Ok(())
}
