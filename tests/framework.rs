//! The framework API beyond request/reply, over real sockets on
//! `127.0.0.1:0`: broadcast, `try_send` and the slow-consumer rule, outbound
//! `connect`, passing backpressure between connections with
//! `pause_reading`/`resume_reading`/`on_drained`, half-closed peers
//! (`on_eof`), and half-closing from code (`shutdown_write`).
//!
//! Protocols report what happened on the loop through a channel in the
//! shared state, so tests block on events instead of polling.

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use support::{
    WAIT, ask, connect, eventually, is_closed_by_peer, read_exact, start_with, stats_of,
};
use twig::{
    After, CloseReason, ConnId, Core, Ctx, Frame, Handle, Protocol, SendError, Server, framing,
};

/// Reads exactly `want`'s length and compares, as text.
fn expect(stream: &mut TcpStream, want: &str) {
    let got = read_exact(stream, want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

/// Waits for the next event a protocol reported.
fn next(events: &mpsc::Receiver<String>) -> String {
    events.recv_timeout(WAIT).expect("an event from the loop")
}

/// A line without its line end.
fn text(request: &[u8]) -> String {
    String::from_utf8_lossy(request)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

// ---- broadcast ----

/// `all X`: acknowledges, broadcasts `X` to everyone (itself included, in
/// its reply), then says how many it reached. `others X`: broadcasts to
/// everyone else. Records each connection's id as it opens.
struct Shout;

impl Protocol<Vec<ConnId>> for Shout {
    fn on_open(&mut self, ctx: &mut Ctx<'_, Vec<ConnId>>) {
        let id = ctx.id();
        ctx.state().push(id);
        ctx.write(b"hi\n");
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Vec<ConnId>>) -> After {
        let line = text(request);
        let me = ctx.id();
        if let Some(what) = line.strip_prefix("all ") {
            ctx.write(b"ack\n");
            let n = ctx.broadcast(format!("{what}\n").as_bytes(), |_| true);
            writeln!(ctx, "n={n}").unwrap();
        } else if let Some(what) = line.strip_prefix("others ") {
            ctx.broadcast(format!("{what}\n").as_bytes(), |id| id != me);
        }
        After::KeepOpen
    }
}

fn three_shouters(addr: SocketAddr) -> [TcpStream; 3] {
    [0, 1, 2].map(|_| {
        let mut client = connect(addr);
        expect(&mut client, "hi\n"); // registered with the loop
        client
    })
}

#[test]
fn ctx_broadcast_reaches_the_others_and_the_sender_in_its_reply_in_order() {
    let server = start_with(Server::builder(), Vec::new(), || Shout, |_| {});
    let [mut a, mut b, mut c] = three_shouters(server.addr);

    a.write_all(b"all one\n").unwrap();
    // The sender's copy sits in its reply, between what it wrote before and after.
    expect(&mut a, "ack\none\nn=3\n");
    expect(&mut b, "one\n");
    expect(&mut c, "one\n");

    a.write_all(b"others two\n").unwrap();
    expect(&mut b, "two\n");
    expect(&mut c, "two\n");
    // Pipelined: order kept everywhere, and `a` never got "two".
    a.write_all(b"all three\nall four\nothers five\nall six\n")
        .unwrap();
    expect(&mut a, "ack\nthree\nn=3\nack\nfour\nn=3\nack\nsix\nn=3\n");
    expect(&mut b, "three\nfour\nfive\nsix\n");
    expect(&mut c, "three\nfour\nfive\nsix\n");

    // A broadcast from another client reaches `a` between its own replies.
    b.write_all(b"others seven\n").unwrap();
    expect(&mut c, "seven\n");
    a.write_all(b"all eight\n").unwrap();
    expect(&mut a, "seven\nack\neight\nn=3\n");
}

#[test]
fn core_broadcast_from_a_posted_closure_and_from_a_timer() {
    let server = start_with(Server::builder(), Vec::new(), || Shout, |_| {});
    let [mut a, mut b, mut c] = three_shouters(server.addr);

    let n = ask(&server.handle, |core| core.broadcast(b"posted\n", |_| true));
    assert_eq!(n, 3);
    for client in [&mut a, &mut b, &mut c] {
        expect(client, "posted\n");
    }

    // From a timer, to all but the first client to connect.
    let (tx, rx) = mpsc::channel();
    server.handle.post(move |core| {
        let first = core.state()[0];
        core.call_later(Duration::from_millis(1), move |core| {
            let n = core.broadcast(b"timer\n", |id| id != first);
            let _ = tx.send(n);
        });
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 2);
    expect(&mut b, "timer\n");
    expect(&mut c, "timer\n");
    let n = ask(&server.handle, |core| core.broadcast(b"end\n", |_| true));
    assert_eq!(n, 3);
    expect(&mut a, "end\n"); // not "timer"
    expect(&mut b, "end\n");
    expect(&mut c, "end\n");

    // Closed connections are not counted.
    drop(c);
    assert!(eventually(|| stats_of(&server.handle).closed_total() == 1));
    let n = ask(&server.handle, |core| {
        core.broadcast(b"two left\n", |_| true)
    });
    assert_eq!(n, 2);
    expect(&mut a, "two left\n");
    expect(&mut b, "two left\n");
}

// ---- try_send, send and max_output ----

/// Echoes lines; records each connection's id as it opens.
struct LineEcho;

impl Protocol<Vec<ConnId>> for LineEcho {
    fn on_open(&mut self, ctx: &mut Ctx<'_, Vec<ConnId>>) {
        let id = ctx.id();
        ctx.state().push(id);
        ctx.write(b"hi\n");
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Vec<ConnId>>) -> After {
        ctx.write(request);
        After::KeepOpen
    }
}

const CHUNK: usize = 16 * 1024;
const MAX_OUTPUT: usize = 4 * CHUNK;

/// Chunk `i` of a stream: `CHUNK` copies of one byte, different per chunk.
fn chunk(i: usize) -> [u8; CHUNK] {
    [(i % 251) as u8; CHUNK]
}

/// A client that does not read yet, with a small fixed receive buffer so the
/// kernel holds little for it: what the server sends soon stays owed.
fn small_window_client(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    expect(&mut stream, "hi\n");
    stream
}

/// Sends chunks to the first client with `send` until it refuses (at most
/// `limit`); returns each result. Whatever the socket takes at once is not
/// owed, so the count depends on kernel buffers; only the end is certain.
fn fill<T>(
    core: &mut Core<Vec<ConnId>>,
    mut send: impl FnMut(&mut Core<Vec<ConnId>>, ConnId, &[u8]) -> T,
    stop: impl Fn(&T) -> bool,
) -> Vec<T> {
    let id = core.state()[0];
    let mut results = Vec::new();
    for i in 0..1000 {
        let result = send(core, id, &chunk(i));
        let done = stop(&result);
        results.push(result);
        if done {
            break;
        }
    }
    results
}

#[test]
fn try_send_refuses_past_max_output_and_keeps_the_connection() {
    let server = start_with(
        Server::builder().max_output(MAX_OUTPUT),
        Vec::new(),
        || LineEcho,
        |_| {},
    );
    let mut client = small_window_client(server.addr);

    let (results, open, owed) = ask(&server.handle, |core| {
        let results = fill(core, Core::try_send, Result::is_err);
        let id = core.state()[0];
        (results, core.is_open(id), core.owed(id).unwrap_or(0))
    });
    let (last, queued) = results.split_last().unwrap();
    assert_eq!(*last, Err(SendError::Full), "refused within 1000 chunks");
    assert!(queued.iter().all(Result::is_ok));
    assert!(
        queued.len() >= MAX_OUTPUT / CHUNK,
        "{} queued",
        queued.len()
    );
    assert!(open, "try_send leaves the connection open");
    assert!(
        owed <= MAX_OUTPUT && owed + CHUNK > MAX_OUTPUT,
        "owes {owed}: full, and the refused chunk was not queued"
    );

    // Still usable: every accepted chunk arrives intact, then a round trip.
    let got = read_exact(&mut client, queued.len() * CHUNK);
    for (i, bytes) in got.chunks(CHUNK).enumerate() {
        assert!(bytes == chunk(i), "chunk {i}");
    }
    client.write_all(b"still there?\n").unwrap();
    expect(&mut client, "still there?\n");
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed_total(), 0, "{stats:?}");
}

#[test]
fn send_past_max_output_closes_the_consumer_and_then_it_is_gone() {
    let server = start_with(
        Server::builder().max_output(MAX_OUTPUT),
        Vec::new(),
        || LineEcho,
        |_| {},
    );
    let mut slow = small_window_client(server.addr);
    let mut other = connect(server.addr);
    expect(&mut other, "hi\n");

    let (sent, open, after) = ask(&server.handle, |core| {
        let sent = fill(core, Core::send, |sent| !sent);
        let id = core.state()[0];
        let open = core.is_open(id);
        (sent, open, (core.try_send(id, b"x"), core.send(id, b"x")))
    });
    let (last, queued) = sent.split_last().unwrap();
    assert!(!last && queued.iter().all(|&sent| sent), "{sent:?}");
    assert!(
        queued.len() >= MAX_OUTPUT / CHUNK,
        "{} queued",
        queued.len()
    );
    assert!(!open, "closed at once by the send that went over");
    assert_eq!(after, (Err(SendError::Gone), false));
    assert!(
        is_closed_by_peer(&mut slow),
        "the slow consumer sees its end"
    );

    // Later, from another turn: still gone, and counted as dropped.
    let before = stats_of(&server.handle).dropped_commands;
    let later = ask(&server.handle, |core| {
        let id = core.state()[0];
        core.try_send(id, b"late")
    });
    assert_eq!(later, Err(SendError::Gone));
    let stats = stats_of(&server.handle);
    assert_eq!(stats.dropped_commands, before + 1, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::OutputLimit), 1, "{stats:?}");
    assert_eq!(stats.closed_total(), 1, "{stats:?}");
    // The other client never noticed.
    other.write_all(b"fine\n").unwrap();
    expect(&mut other, "fine\n");
}

// ---- outbound connections ----

/// What outbound clients report: their events, in order.
type Events = mpsc::Sender<String>;

/// An echo server for lines.
struct Echo;

impl Protocol<Events> for Echo {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Events>) -> After {
        ctx.write(request);
        After::KeepOpen
    }
}

/// A client that speaks first, reports the echo, and hangs up.
struct Caller {
    tag: &'static str,
}

impl Caller {
    fn report(&self, ctx: &mut Ctx<'_, Events>, what: String) {
        let _ = ctx.state().send(format!("{}: {what}", self.tag));
    }
}

impl Protocol<Events> for Caller {
    fn on_open(&mut self, ctx: &mut Ctx<'_, Events>) {
        self.report(ctx, "open".into());
        writeln!(ctx, "hello from {}", self.tag).unwrap();
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Events>) -> After {
        self.report(ctx, format!("got {}", text(request)));
        After::Close
    }

    fn on_connect_failed(&mut self, error: &io::Error, ctx: &mut Ctx<'_, Events>) {
        self.report(ctx, format!("failed {:?}", error.kind()));
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Events>) {
        self.report(ctx, format!("closed {reason}"));
    }
}

#[test]
fn connect_reaches_our_own_listener_both_directions_in_one_loop() {
    let (tx, events) = mpsc::channel();
    let server = start_with(
        Server::builder(),
        tx,
        || Echo,
        |server| {
            // Before run: the connect proceeds once the loop turns.
            let addr = server.local_addrs()[0];
            server
                .core()
                .connect(addr, Caller { tag: "setup" })
                .expect("socket created");
        },
    );
    assert_eq!(next(&events), "setup: open");
    assert_eq!(next(&events), "setup: got hello from setup");
    assert_eq!(next(&events), "setup: closed done");

    let addr = server.addr;
    let id = ask(&server.handle, move |core| {
        core.connect(addr, Caller { tag: "posted" }).unwrap()
    });
    assert_eq!(next(&events), "posted: open");
    assert_eq!(next(&events), "posted: got hello from posted");
    assert_eq!(next(&events), "posted: closed done");
    assert!(!ask(&server.handle, move |core| core.is_open(id)));

    let stats = stats_of(&server.handle);
    assert_eq!((stats.connected, stats.accepted), (2, 2), "{stats:?}");
    assert!(
        eventually(|| stats_of(&server.handle).closed_total() == 4),
        "both ends of both connections closed: {:?}",
        stats_of(&server.handle)
    );
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::Done), 2, "the callers: {stats:?}");
    assert_eq!(stats.closed(CloseReason::Eof), 2, "the echoes: {stats:?}");
}

#[test]
fn connect_to_a_closed_port_reports_refused_then_connect_failed() {
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let (tx, events) = mpsc::channel();
    let server = start_with(Server::builder(), tx, || Echo, |_| {});
    let id = ask(&server.handle, move |core| {
        core.connect(dead, Caller { tag: "refused" })
    })
    .expect("a refusal is reported to the protocol, not returned");
    assert_eq!(next(&events), "refused: failed ConnectionRefused");
    assert_eq!(next(&events), "refused: closed connect-failed");
    assert!(!ask(&server.handle, move |core| core.is_open(id)));
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::ConnectFailed), 1, "{stats:?}");
    assert_eq!(stats.connected, 1, "{stats:?}");
}

/// A listener whose accept queue is full and never drained: on Linux, SYNs
/// to it are dropped, so a connect to it neither succeeds nor fails.
#[cfg(target_os = "linux")]
fn black_hole() -> (socket2::Socket, Vec<TcpStream>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // With a backlog of 0 the queue holds one connection; fill it.
    let filler = TcpStream::connect_timeout(&addr, WAIT).expect("fills the queue");
    (listener, vec![filler], addr)
}

#[test]
#[cfg(target_os = "linux")]
fn connect_that_gets_no_answer_times_out() {
    let (_listener, _fillers, addr) = black_hole();
    let (tx, events) = mpsc::channel();
    let server = start_with(
        Server::builder().connect_timeout(Duration::from_millis(300)),
        tx,
        || Echo,
        |_| {},
    );
    let started = std::time::Instant::now();
    ask(&server.handle, move |core| {
        core.connect(addr, Caller { tag: "hole" }).unwrap()
    });
    assert_eq!(next(&events), "hole: failed TimedOut");
    assert_eq!(next(&events), "hole: closed connect-failed");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

// ---- backpressure between connections ----

/// A relay inside one server: what the source sends goes to the sink.
#[derive(Default)]
struct Relay {
    sink: Option<ConnId>,
    /// The source, while paused because the sink owes too much.
    paused: Option<ConnId>,
    pauses: usize,
    resumes: usize,
    /// Most bytes the server held at any relay step.
    max_buffered: usize,
}

/// Pause the source once the sink owes more than this.
const HIGH_WATER: usize = 64 * 1024;

struct Source;

impl Protocol<Relay> for Source {
    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len()) // whatever arrived
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Relay>) -> After {
        let sink = ctx.state().sink.expect("the sink connects first");
        ctx.send(sink, request);
        let buffered = ctx.buffered_bytes();
        let relay = ctx.state();
        relay.max_buffered = relay.max_buffered.max(buffered);
        if ctx.owed(sink).unwrap_or(0) > HIGH_WATER {
            let me = ctx.id();
            ctx.pause_reading(me);
            let relay = ctx.state();
            relay.paused = Some(me);
            relay.pauses += 1;
        }
        After::KeepOpen
    }
}

struct Sink;

impl Protocol<Relay> for Sink {
    fn on_open(&mut self, ctx: &mut Ctx<'_, Relay>) {
        let id = ctx.id();
        ctx.state().sink = Some(id);
        ctx.write(b"ready\n");
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len())
    }

    fn reply(&mut self, _request: &[u8], _ctx: &mut Ctx<'_, Relay>) -> After {
        After::KeepOpen
    }

    fn on_drained(&mut self, ctx: &mut Ctx<'_, Relay>) {
        if let Some(source) = ctx.state().paused.take() {
            ctx.resume_reading(source);
            ctx.state().resumes += 1;
        }
    }
}

/// A reproducible byte stream (xorshift), so any lost, doubled or
/// reordered chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn a_paused_source_is_resumed_when_the_sink_drains_and_memory_stays_bounded() {
    // Several times what the kernel buffers on the way (about 8 MiB here).
    const TOTAL: usize = 32 * 1024 * 1024;
    let data = Arc::new(pattern(TOTAL));
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = start_with(
        Server::builder(),
        Relay::default(),
        || Source,
        move |server| {
            let sink_addr = server.listen("127.0.0.1:0", || Sink).unwrap();
            addr_tx.send(sink_addr).unwrap();
        },
    );
    let mut sink = connect(addr_rx.recv_timeout(WAIT).unwrap());
    expect(&mut sink, "ready\n");

    let mut source = connect(server.addr);
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (written, data) = (Arc::clone(&written), Arc::clone(&data));
        std::thread::spawn(move || {
            for chunk in data.chunks(64 * 1024) {
                source.write_all(chunk).unwrap(); // blocks: that is the backpressure
                written.fetch_add(chunk.len(), Ordering::Relaxed);
            }
        })
    };

    // The sink reads nothing: the source gets paused, and stays blocked.
    let probe = |handle: &Handle<Relay>| {
        ask(handle, |core| {
            (core.state().paused.is_some(), core.buffered_bytes())
        })
    };
    assert!(
        eventually(|| probe(&server.handle).0),
        "the source was paused"
    );
    let mut most = 0;
    for _ in 0..50 {
        let (_, buffered) = probe(&server.handle);
        most = most.max(buffered);
    }
    assert!(
        written.load(Ordering::Relaxed) < TOTAL && !writer.is_finished(),
        "the source's writer is held back"
    );

    // Now the sink reads it all, byte for byte.
    let got = read_exact(&mut sink, TOTAL);
    writer.join().unwrap();
    assert!(got == *data, "the relayed stream is intact");
    let (pauses, resumes, max_buffered) = ask(&server.handle, |core| {
        let relay = core.state();
        (relay.pauses, relay.resumes, relay.max_buffered)
    });
    assert!(
        pauses >= 1 && resumes >= 1,
        "{pauses} pauses, {resumes} resumes"
    );
    let bound = 256 * 1024;
    assert!(
        most < bound,
        "held {most} bytes while the sink did not read"
    );
    assert!(max_buffered < bound, "held {max_buffered} bytes at worst");
}

// ---- half-closed peers ----

/// Answers each line; on EOF answers the unterminated rest, then finishes:
/// `close` rest: later, from a timer, then `Core::close`; `shut` rest: at
/// once, with `shutdown_write`.
struct AfterEof;

impl Protocol<Events> for AfterEof {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Events>) -> After {
        writeln!(ctx, "got {}", text(request)).unwrap();
        After::KeepOpen
    }

    fn on_eof(&mut self, rest: &[u8], ctx: &mut Ctx<'_, Events>) -> After {
        let rest = text(rest);
        writeln!(ctx, "rest {rest}").unwrap();
        let id = ctx.id();
        if rest == "close" {
            ctx.call_later(Duration::from_millis(10), move |core| {
                core.send(id, b"late\n");
                core.close(id);
            });
        } else {
            ctx.shutdown_write(id);
        }
        After::KeepOpen
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Events>) {
        let _ = ctx.state().send(format!("closed {reason}"));
    }
}

#[test]
fn on_eof_keep_open_answers_a_half_closed_peer_then_closes() {
    let (tx, events) = mpsc::channel();
    let server = start_with(Server::builder(), tx, || AfterEof, |_| {});
    for (rest, want) in [
        ("close", "got one\nrest close\nlate\n"),
        ("shut", "got one\nrest shut\n"),
    ] {
        let mut client = connect(server.addr);
        client.write_all(format!("one\n{rest}").as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut all = String::new();
        client.read_to_string(&mut all).unwrap(); // up to the server's EOF
        assert_eq!(all, want);
        assert_eq!(next(&events), "closed done");
    }
}

/// Answers a line with a megabyte; the default `on_eof`.
struct Big;

const BIG: usize = 1024 * 1024;

impl Protocol for Big {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, _request: &[u8], ctx: &mut Ctx) -> After {
        ctx.write(&pattern(BIG));
        After::KeepOpen
    }
}

#[test]
fn default_on_eof_flushes_what_is_owed_then_closes() {
    let server = start_with(Server::builder(), (), || Big, |_| {});
    let mut client = connect(server.addr);
    client.write_all(b"go\nunfinished").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut all = Vec::new();
    client.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), BIG, "the whole reply, then EOF");
    assert!(all == pattern(BIG));
    assert!(eventually(|| stats_of(&server.handle)
        .closed(CloseReason::Eof)
        == 1));
}

// ---- shutdown_write from code ----

/// `half`: answers `ok`, then shuts its write side. Later lines are still
/// read; each reports what sending to a write-shut connection says, and
/// also writes a reply (which has nowhere to go).
struct Half;

impl Protocol<Events> for Half {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Events>) -> After {
        let line = text(request);
        let me = ctx.id();
        if line == "half" {
            ctx.write(b"ok\n"); // written before the shutdown: still owed
            assert!(ctx.shutdown_write(me));
        } else {
            // The Core's own send (Ctx's would append to this reply).
            let try_sent = Core::try_send(ctx, me, b"no\n");
            let sent = Core::send(ctx, me, b"no\n");
            ctx.write(b"dropped\n");
            let report = format!("{line}: try_send {try_sent:?}, send {sent}");
            let _ = ctx.state().send(report);
        }
        After::KeepOpen
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Events>) {
        let _ = ctx.state().send(format!("closed {reason}"));
    }
}

#[test]
fn shutdown_write_sends_eof_while_input_is_still_read() {
    let (tx, events) = mpsc::channel();
    let server = start_with(Server::builder(), tx, || Half, |_| {});
    let mut client = connect(server.addr);
    client.write_all(b"half\n").unwrap();
    let mut all = String::new();
    client.read_to_string(&mut all).unwrap(); // EOF: the server's write side is shut
    assert_eq!(all, "ok\n");

    // Still read and answered; nothing can be sent back, and the
    // connection does not die of it.
    client.write_all(b"later 1\nlater 2\n").unwrap();
    assert_eq!(next(&events), "later 1: try_send Err(Gone), send false");
    assert_eq!(next(&events), "later 2: try_send Err(Gone), send false");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(next(&events), "closed eof");
    let stats = stats_of(&server.handle);
    assert_eq!(stats.dropped_commands, 4, "{stats:?}");
    assert_eq!(stats.requests, 3, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::Eof), 1, "{stats:?}");
}
