//! `http_server`'s streamed routes: `/stream?bytes=N` (a generated body,
//! pulled as the socket takes it) and `/events?n=N` (Server-Sent Events
//! pushed from a timer).

use std::time::Duration;

use twig::http::{Body, Events, Produce, Request, Response};
use twig::{Core, Ctx};

/// The body of `/stream`: this repeated, from offset 0.
pub const PATTERN: &[u8; 16] = b"0123456789abcdef";

/// The pattern repeated to 64 KiB plus one period, so any offset has a
/// full slice after it.
static BLOCK: [u8; 65536 + 16] = {
    let mut block = [0u8; 65536 + 16];
    let mut i = 0;
    while i < block.len() {
        block[i] = PATTERN[i % 16];
        i += 1;
    }
    block
};

/// The most `/stream` sends: 1 TiB.
const MAX_BYTES: u64 = 1 << 40;

/// `name=value` from the query string, parsed as a number.
fn number(req: &Request<'_>, name: &str) -> Option<u64> {
    let query = req.query()?;
    let (_, value) = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)?;
    value.parse().ok()
}

/// `GET /stream?bytes=N`: N bytes of [`PATTERN`], chunked, made only as
/// fast as the client reads them.
pub fn bytes(req: &Request<'_>, res: &mut Response<'_>, ctx: &mut Ctx<'_, u64>) {
    let Some(total) = number(req, "bytes").filter(|&n| n <= MAX_BYTES) else {
        res.status(400).text("want /stream?bytes=N, N up to 2^40\n");
        return;
    };
    res.content_type("application/octet-stream");
    let mut sent = 0u64;
    res.produce(ctx, None, move |body: &mut Body<'_>| {
        while sent < total && body.room() > 0 {
            let at = (sent % 16) as usize;
            let want = (total - sent).min(65536) as usize;
            sent += body.push(&BLOCK[at..at + want]) as u64;
        }
        if sent == total {
            Produce::Done
        } else {
            Produce::More
        }
    });
}

/// `GET /events?n=N`: N events, one every 100 ms, from a chain of timers.
/// (The idle timeout does not run while a stream is open: reading is
/// paused; `tests/http_stream.rs` checks a stream that outlives it.)
pub fn events(req: &Request<'_>, res: &mut Response<'_>, ctx: &mut Ctx<'_, u64>) {
    let n = number(req, "n").unwrap_or(10).min(100_000);
    let events = res.events(ctx);
    tick(ctx, events, 1, n);
}

/// Schedules event `i` of `n`, 100 ms from now.
fn tick(core: &mut Core<u64>, events: Events, i: u64, n: u64) {
    if i > n {
        events.end(core);
        return;
    }
    core.call_later(Duration::from_millis(100), move |core| {
        let data = format!("event {i} of {n}");
        if events.send(core, Some(&i.to_string()), None, &data) {
            tick(core, events, i + 1, n); // the client is still there
        }
    });
}
