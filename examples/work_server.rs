//! Blocking work and CPU-bound work, the event-loop way: an HTTP server
//! whose `/block` requests sleep on the offload pool while the loop goes on
//! answering everyone else.
//!
//! - `/` answers `Yes` at once;
//! - `/cpu?us=N` computes for N µs on the loop thread (a CPU-bound handler:
//!   every other client of this loop waits meanwhile);
//! - `/block?ms=N` sleeps N ms on the pool (a blocking call: nobody waits
//!   but the client who asked); `503` when the pool and its queue are full.
//!
//! Run: `cargo run --example work_server [ADDR] [--workers N] [--pool N]
//! [--inline]` (default `0.0.0.0:8090`, one loop, pool of 8 per loop), then `curl
//! http://127.0.0.1:8090/block?ms=500`. `--inline` makes `/block` sleep on
//! the loop thread instead: the mistake the pool exists for, kept so the
//! bench can show what it costs everyone else.

use std::time::{Duration, Instant};

use log::info;
use twig::http::{Http, Request, Response, Router};
use twig::{Ctx, Server};

/// Longest `/block` sleep accepted, in ms.
pub const MAX_BLOCK_MS: u64 = 10_000;
/// Longest `/cpu` computation accepted, in µs.
pub const MAX_CPU_US: u64 = 1_000_000;

/// The app (no shared state).
pub fn router() -> Router {
    Router::new()
        .get("/", |_, res, _| res.text("Yes"))
        .get("/cpu", cpu)
        .get("/block", block)
}

/// The app with `/block` done inline: sleeping on the loop thread.
pub fn blocking_router() -> Router {
    Router::new()
        .get("/", |_, res, _| res.text("Yes"))
        .get("/cpu", cpu)
        .get(
            "/block",
            |req: &Request, res: &mut Response, _: &mut Ctx| {
                let Some(ms) = number(req, "ms", MAX_BLOCK_MS) else {
                    return bad_request(res, "ms", MAX_BLOCK_MS);
                };
                std::thread::sleep(Duration::from_millis(ms)); // every client waits
                res.text(&format!("slept {ms} ms\n"));
            },
        )
}

/// `/cpu?us=N`: spins on the loop thread for N µs.
fn cpu(req: &Request, res: &mut Response, _ctx: &mut Ctx) {
    let Some(us) = number(req, "us", MAX_CPU_US) else {
        return bad_request(res, "us", MAX_CPU_US);
    };
    let until = Instant::now() + Duration::from_micros(us);
    let mut spins: u64 = 0;
    while Instant::now() < until {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    res.text(&format!("computed for {us} us\n"));
}

/// `/block?ms=N`: sleeps N ms on a pool thread, then answers.
fn block(req: &Request, res: &mut Response, ctx: &mut Ctx) {
    let Some(ms) = number(req, "ms", MAX_BLOCK_MS) else {
        return bad_request(res, "ms", MAX_BLOCK_MS);
    };
    let sleep = move || std::thread::sleep(Duration::from_millis(ms));
    let answer = move |(), res: &mut Response, _: &mut Ctx| res.text(&format!("slept {ms} ms\n"));
    if let Err(busy) = res.offload(ctx, sleep, answer) {
        res.status(503).text(&format!("{busy}; try again\n"));
    }
}

/// The query parameter `name` as a whole number no larger than `max`.
fn number(req: &Request, name: &str, max: u64) -> Option<u64> {
    let query = req.query()?;
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    value.parse::<u64>().ok().filter(|&n| n <= max)
}

fn bad_request(res: &mut Response, name: &str, max: u64) {
    res.status(400)
        .text(&format!("{name} must be a whole number from 0 to {max}\n"));
}

#[allow(dead_code)] // tests include this file for `router` only
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let mut args = std::env::args().skip(1);
    let mut addr = "0.0.0.0:8090".to_string();
    let (mut pool, mut workers) = (8, 1);
    let mut inline = false;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--inline" => {
                inline = true;
                continue;
            }
            "--pool" | "--workers" => args.next().and_then(|v| v.parse().ok()).filter(|&n| n > 0),
            _ if !arg.starts_with("--") => {
                addr = arg;
                continue;
            }
            _ => None,
        };
        match (arg.as_str(), value) {
            ("--pool", Some(n)) => pool = n,
            ("--workers", Some(n)) => workers = n,
            _ => {
                eprintln!("usage: work_server [ADDR] [--workers N] [--pool N] [--inline]  (N ≥ 1)");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = serve(&addr, workers, pool, inline) {
        eprintln!("work_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str, workers: usize, pool: usize, inline: bool) -> std::io::Result<()> {
    let mut server = Server::builder()
        .offload_threads(pool) // each loop has its own pool
        .offload_queue(pool) // as many waiting as running, then 503
        .timeouts_from_env()
        .workers(workers)
        .build_workers(|_| ())?;
    let app = if inline { blocking_router() } else { router() };
    let bound = server.listen_at(twig::Listen::parse(addr)?, move || Http::new(app.clone()))?;
    server.stop_on_signals()?;
    info!(
        "serving work on {bound}; try: curl http://{bound}/block?ms=500 \
         ({workers} loop(s), pool of {pool} each)"
    );
    server.run()?;
    Ok(())
}
