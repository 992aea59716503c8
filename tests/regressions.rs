//! Regressions from a review of the loop: each test reproduces, with real
//! sockets on 127.0.0.1 (port 0), a bug that was found and fixed — unbounded
//! output growth, out-of-order replies after a pause or a self-send, a
//! stopping server reconnecting forever, the I/O budget, resets on
//! half-closed connections, replies and self-sends after `shutdown_write`, overflowing
//! timeouts — plus a guard that steady-state echo allocates nothing.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::time::Duration;

use support::{WAIT, ask, connect, read_exact, start_with};
use twig::{After, CloseReason, ConnId, Ctx, Frame, Handle, Protocol, Server, framing};

// ---------------------------------------------------------------------------
// Helpers

/// Tracks the largest single heap allocation made by each thread, so a test
/// can ask the loop thread how big its biggest buffer ever got.
struct PeakPerThread;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| {
        if size > p.get() {
            p.set(size)
        }
    });
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

unsafe impl GlobalAlloc for PeakPerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakPerThread = PeakPerThread;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

// ---------------------------------------------------------------------------
// 1. A connection that always owes a little keeps every byte ever sent to it.
//
// `Core::try_send` appends to `conn.output`; `flush_output` only advances
// `written` and frees the buffer when it is *entirely* written. A subscriber
// that reads steadily but never quite catches up therefore holds every byte
// it was ever sent, although `owed` (and the `max_output` check, which looks
// only at `output.len() - written`) stays small.

/// Remembers its connection's id in the shared state; ignores input.
struct Subscriber;

impl Protocol<Option<ConnId>> for Subscriber {
    fn on_open(&mut self, ctx: &mut Ctx<'_, Option<ConnId>>) {
        let id = ctx.id();
        *ctx.state() = Some(id);
    }
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, _: &[u8], _: &mut Ctx<'_, Option<ConnId>>) -> After {
        After::KeepOpen
    }
}

#[test]
fn output_of_a_connection_that_never_fully_drains_grows_without_bound() {
    const CHUNK: usize = 64 * KIB;
    const MAX_OUTPUT: usize = 8 * MIB;
    // Owed is kept at least this high: more than one writable edge can take
    // (the kernel's send buffer is at most 4 MiB, `tcp_wmem`), so the output
    // buffer is never entirely written.
    const CUSHION: usize = 5 * MIB;
    let server = start_with(
        Server::builder().max_output(MAX_OUTPUT),
        None,
        || Subscriber,
        |_| {},
    );
    let mut client = connect(server.addr);
    let id = {
        let mut id = None;
        for _ in 0..1000 {
            id = ask(&server.handle, |core| *core.state());
            if id.is_some() {
                break;
            }
        }
        id.expect("the subscriber opened")
    };
    let owed = |h: &Handle<Option<ConnId>>| ask(h, move |core| core.owed(id).expect("open"));
    let top_up = |h: &Handle<Option<ConnId>>| {
        // Send until at least CUSHION is owed (each send a separate turn, so
        // the loop writes what the socket takes in between).
        let mut sent = 0;
        while owed(h) < CUSHION {
            assert!(ask(h, move |core| core.send(id, &[7u8; CHUNK])), "send");
            sent += CHUNK;
        }
        sent
    };

    // Fill the kernel buffers, then owe CUSHION.
    let mut total = top_up(&server.handle);
    // Steady state: the client reads one chunk, the server is topped up again.
    // The client always has work, the server always owes something: the
    // buffer is never entirely written, so never freed.
    let mut received = 0;
    let mut buf = vec![0u8; CHUNK];
    while total < 40 * MIB {
        client.read_exact(&mut buf).expect("read");
        received += CHUNK;
        total += top_up(&server.handle);
    }
    let peak = ask(&server.handle, |_| PEAK.with(Cell::get));
    let owed_now = owed(&server.handle);
    assert!(owed_now <= MAX_OUTPUT);
    assert!(
        peak <= 2 * MAX_OUTPUT,
        "the loop thread allocated one buffer of {peak} bytes, while the connection \
         never owed more than max_output = {MAX_OUTPUT} (owes {owed_now} now; sent {total}, \
         client read {received})"
    );
}

// ---------------------------------------------------------------------------
// 2. A connection paused from its own `reply` keeps answering the rest of the
//    batch: pipelined replies come out of order.
//
// `answer` loops over every complete request in the buffer without looking at
// `conn.paused`; the pause only takes effect at the next `drive` iteration.

/// `slow`: answered later, by a timer (pause, then send + resume); anything
/// else is answered at once, upper-cased.
struct Deferred;

impl Protocol for Deferred {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        if line == b"slow\n" {
            let me = ctx.id();
            ctx.pause_reading(me);
            ctx.call_later(Duration::ZERO, move |core| {
                core.send(me, b"SLOW\n");
                core.resume_reading(me);
            });
        } else {
            ctx.write(&line.to_ascii_uppercase());
        }
        After::KeepOpen
    }
}

#[test]
fn pause_reading_from_reply_stops_answering_the_rest_of_the_batch() {
    let server = start_with(Server::builder(), (), || Deferred, |_| {});
    let mut client = connect(server.addr);
    client.write_all(b"slow\nfast\n").unwrap(); // one segment: one batch
    let got = read_exact(&mut client, 10);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "SLOW\nFAST\n",
        "the request after the pause was answered before it"
    );
}

// ---------------------------------------------------------------------------
// 3. After `Core::shutdown_write`, input "is still read and answered" — but
//    the first reply is written to a shut socket (EPIPE) and the connection
//    dies as a `Reset`, discarding unread input (the peer gets an RST).

/// `done`: reply `bye`, then half-close. Anything else: echoed.
struct HalfCloser;

impl Protocol<Vec<CloseReason>> for HalfCloser {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, Vec<CloseReason>>) -> After {
        if line == b"done\n" {
            ctx.write(b"bye\n");
            let me = ctx.id();
            ctx.shutdown_write(me);
        } else {
            ctx.write(line);
        }
        After::KeepOpen
    }
    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Vec<CloseReason>>) {
        ctx.state().push(reason);
    }
}

#[test]
fn a_request_after_shutdown_write_does_not_reset_the_connection() {
    let server = start_with(Server::builder(), Vec::new(), || HalfCloser, |_| {});
    let mut client = connect(server.addr);
    client.write_all(b"done\n").unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).expect("bye, then EOF");
    assert_eq!(got, b"bye\n");
    // Our side still sends; the server "still reads and answers".
    client.write_all(b"one more\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reasons = Vec::new();
    for _ in 0..1000 {
        reasons = ask(&server.handle, |core| core.state().clone());
        if !reasons.is_empty() {
            break;
        }
    }
    assert_eq!(
        reasons,
        [CloseReason::Eof],
        "a half-closed connection should end when the peer's EOF arrives"
    );
}

// ---------------------------------------------------------------------------
// 4. "Never" written as `Duration::MAX` (or a large `*_TIMEOUT_SECS` from the
//    environment) panics the loop thread on the first connection:
//    `phase_since + timeout` overflows `Instant`.

#[test]
fn a_very_long_idle_timeout_does_not_panic_the_loop() {
    let server = start_with(
        Server::builder().idle_timeout(Some(Duration::MAX)),
        (),
        || Lines,
        |_| {},
    );
    let mut client = connect(server.addr);
    client.write_all(b"ping\n").unwrap();
    let mut got = [0u8; 5];
    let answered = client.read_exact(&mut got).is_ok();
    assert!(answered, "the loop thread died on the first connection");
    assert_eq!(&got, b"ping\n");
}

/// Echoes lines.
struct Lines;

impl Protocol for Lines {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        ctx.write(line);
        After::KeepOpen
    }
}

// ---------------------------------------------------------------------------
// 5. `Core::connect` is accepted while the server is stopping. A client
//    protocol that reconnects from `on_close` (the usual "keep a link to the
//    upstream" pattern) keeps `run()` from ever returning: each drain closes
//    the link, `on_close` opens a new one, and the drain deadline, already
//    past, closes that one too, forever.

/// A link to an upstream that reconnects whenever it closes (at most
/// `MAX_RECONNECTS` times, so the demonstration does not hammer the kernel).
struct Link(std::net::SocketAddr);

const MAX_RECONNECTS: usize = 50;
static RECONNECTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Protocol for Link {
    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len())
    }
    fn reply(&mut self, _: &[u8], _: &mut Ctx) -> After {
        After::KeepOpen
    }
    fn on_close(&mut self, _: CloseReason, ctx: &mut Ctx) {
        use std::sync::atomic::Ordering;
        if RECONNECTS.fetch_add(1, Ordering::Relaxed) < MAX_RECONNECTS {
            let upstream = self.0;
            let _ = ctx.connect(upstream, Link(upstream));
        }
    }
}

#[test]
fn stop_does_not_let_on_close_open_new_connections() {
    // The upstream: a listener nobody accepts from (the kernel completes the
    // handshakes into its backlog).
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = upstream.local_addr().unwrap();
    let mut server = Server::builder()
        .drain_timeout(Duration::from_millis(50))
        .linger_timeout(Duration::from_millis(20))
        .build(())
        .unwrap();
    server.core().connect(addr, Link(addr)).expect("connect");
    // Let the link come up, then stop.
    for _ in 0..10 {
        server.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(server.stats().active, 1, "the link is up");
    let before = server.stats().connected;
    server.core().stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.is_finished() && std::time::Instant::now() < deadline {
        server.turn(Some(Duration::from_millis(10))).unwrap();
    }
    let opened_while_stopping = server.stats().connected - before;
    assert_eq!(
        opened_while_stopping, 0,
        "a stopping server opened {opened_while_stopping} new connections (capped by the \
         test; uncapped, run() never returns: 150,000 in 3 s were seen)"
    );
}

// ---------------------------------------------------------------------------
// 6. A half-closed connection kept open by `on_eof` never reads again, so a
//    reset from the peer (HUP|ERR event) is recorded in the flags and then
//    ignored: the dead connection holds its slot until the idle timeout (or
//    forever, with `idle_timeout(None)`).

/// Keeps half-closed connections open (a relay still writing the other way).
struct KeepHalfOpen;

impl Protocol<Vec<CloseReason>> for KeepHalfOpen {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, Vec<CloseReason>>) -> After {
        ctx.write(line);
        After::KeepOpen
    }
    fn on_eof(&mut self, _: &[u8], ctx: &mut Ctx<'_, Vec<CloseReason>>) -> After {
        ctx.write(b"half-closed\n");
        After::KeepOpen
    }
    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Vec<CloseReason>>) {
        ctx.state().push(reason);
    }
}

#[test]
fn a_reset_on_a_half_closed_connection_closes_it() {
    let server = start_with(Server::builder(), Vec::new(), || KeepHalfOpen, |_| {});
    let mut client = connect(server.addr);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_exact(&mut client, 12), b"half-closed\n");
    // Now reset: SO_LINGER 0, then close.
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut reasons = Vec::new();
    while reasons.is_empty() && std::time::Instant::now() < deadline {
        reasons = ask(&server.handle, |core| core.state().clone());
        std::thread::yield_now();
    }
    assert_eq!(
        reasons,
        [CloseReason::Reset],
        "2 s after the peer's reset the connection is still open (it waits for the 60 s \
         idle timeout)"
    );
}

// ---------------------------------------------------------------------------
// 7. From `reply`, `try_send` to the calling connection itself (e.g. a
//    broadcast loop over `connections()` that includes the sender) lands in
//    `conn.output`, which `deliver` appends *after* the whole batch's
//    replies: pipelined replies overtake it. (`Ctx::send` and
//    `Ctx::broadcast` special-case the caller; `Ctx::try_send` is Core's.)

/// `shout X`: broadcast `X` to every connection (the caller included) with
/// `try_send`, so a slow consumer is skipped rather than closed. Anything
/// else: echoed.
struct Chat;

impl Protocol for Chat {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        if let Some(message) = line.strip_prefix(b"shout ") {
            let everyone: Vec<ConnId> = ctx.connections().collect();
            for id in everyone {
                let _ = ctx.try_send(id, message);
            }
        } else {
            ctx.write(line);
        }
        After::KeepOpen
    }
}

#[test]
fn try_send_to_oneself_keeps_the_order_of_pipelined_replies() {
    let server = start_with(Server::builder(), (), || Chat, |_| {});
    let mut client = connect(server.addr);
    client.write_all(b"shout A\nB\n").unwrap(); // one segment: one batch
    let got = read_exact(&mut client, 4);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "A\nB\n",
        "the reply to the second request overtook the first's"
    );
}

// ---------------------------------------------------------------------------
// 8. `io_budget` ("most bytes read from, and written to, one connection per
//    loop turn") does not count what `deliver` writes, nor the requests
//    answered from the buffer (`input_ready`): one 64 KiB read of small
//    requests with larger replies keeps the loop on one connection for as
//    long as the socket takes the replies.

/// Every byte is a request; each is answered with 1 KiB.
struct Amplify;

impl Protocol for Amplify {
    fn frame(&mut self, _: &[u8]) -> Frame {
        Frame::Complete(1)
    }
    fn reply(&mut self, _: &[u8], ctx: &mut Ctx) -> After {
        ctx.write(&[b'r'; KIB]);
        After::KeepOpen
    }
}

#[test]
fn one_connection_gets_at_most_about_io_budget_bytes_per_turn() {
    const BUDGET: usize = 256 * KIB;
    const REQUESTS: usize = 16 * KIB; // 16 MiB of replies
    let mut server = Server::builder().io_budget(BUDGET).build(()).unwrap();
    let addr = server.listen("127.0.0.1:0", || Amplify).unwrap();
    let client = std::thread::spawn(move || {
        let mut stream = connect(addr);
        stream.write_all(&[b'x'; REQUESTS]).unwrap();
        let mut left = REQUESTS * KIB;
        let mut buf = vec![0u8; 256 * KIB];
        while left > 0 {
            let n = stream.read(&mut buf[..left.min(256 * KIB)]).expect("read");
            assert!(n > 0, "early EOF");
            left -= n;
        }
    });
    let deadline = std::time::Instant::now() + WAIT;
    let (mut total, mut most) = (0u64, 0u64);
    while total < (REQUESTS * KIB) as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "replies not all written"
        );
        let tick = server.turn(Some(Duration::from_millis(10))).unwrap();
        total += tick.bytes_out;
        most = most.max(tick.bytes_out);
    }
    client.join().unwrap();
    assert!(
        most <= 2 * BUDGET as u64,
        "one turn wrote {most} bytes to a single connection (io_budget {BUDGET})"
    );
}

// ---------------------------------------------------------------------------
// Guard (passes today; no other test covers it): the echo hot path makes no
// heap allocation on the loop thread in steady state.

#[test]
fn steady_state_echo_allocates_nothing_on_the_loop_thread() {
    let server = start_with(Server::builder(), (), || Lines, |_| {});
    let mut client = connect(server.addr);
    let mut buf = [0u8; 8];
    for _ in 0..100 {
        client.write_all(b"warm-up\n").unwrap();
        client.read_exact(&mut buf).unwrap();
    }
    let before = ask(&server.handle, |_| ALLOCATIONS.with(Cell::get));
    for _ in 0..1000 {
        client.write_all(b"steady\n").unwrap();
        client.read_exact(&mut buf[..7]).unwrap();
    }
    let after = ask(&server.handle, |_| ALLOCATIONS.with(Cell::get));
    // The two `ask`s allocate a little themselves (a boxed job each, a
    // fresh job queue): allow for that, not for one allocation per request.
    assert!(
        after - before < 20,
        "{} allocations on the loop thread for 1000 requests",
        after - before
    );
}

// ---------------------------------------------------------------------------
// 9. A connection sending to itself (`Ctx::send`) after its write side was
//    shut was told `true`, though the bytes were dropped.

/// `done`: reply `bye`, then half-close. Anything else: `Ctx::send` it back to
/// itself, recording whether the send said it was taken.
struct SelfSender;

impl Protocol<Vec<bool>> for SelfSender {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, Vec<bool>>) -> After {
        let me = ctx.id();
        if line == b"done\n" {
            ctx.write(b"bye\n");
            ctx.shutdown_write(me);
        } else {
            let taken = ctx.send(me, line);
            ctx.state().push(taken);
        }
        After::KeepOpen
    }
}

#[test]
fn a_send_to_itself_after_shutdown_write_says_it_was_dropped() {
    let server = start_with(Server::builder(), Vec::new(), || SelfSender, |_| {});
    let mut client = connect(server.addr);
    client.write_all(b"before\n").unwrap();
    read_exact(&mut client, b"before\n".len());
    client.write_all(b"done\n").unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).expect("bye, then EOF");
    assert_eq!(got, b"bye\n", "nothing after bye: the write side is shut");
    client.write_all(b"late\n").unwrap();
    let mut answers = Vec::new();
    for _ in 0..1000 {
        answers = ask(&server.handle, |core| core.state().clone());
        if answers.len() == 2 {
            break;
        }
    }
    assert_eq!(
        answers,
        [true, false],
        "the send before the half-close was taken; the one after it was not"
    );
    let dropped = ask(&server.handle, |core| core.stats().dropped_commands);
    assert_eq!(dropped, 1, "the dropped send is counted");
}
