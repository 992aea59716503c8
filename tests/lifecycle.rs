//! Lifecycle: work posted from other threads, commands to closed
//! connections, graceful stop (in-flight replies, idle clients, the drain
//! deadline, the port), and SIGTERM/SIGINT on the example binaries.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{OnceLock, mpsc};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use support::process::{Proc, assert_clean_exit};
use support::{WAIT, ask, connect, eventually, round_trip, start_with};
use twig::{After, CloseReason, ConnId, Ctx, Frame, Protocol, Server, framing};

// ---- commands from other threads ----

/// What the loop thread saw: each connection's id as it opened, and the
/// loop thread's id.
#[derive(Default)]
struct Seen {
    opened: Vec<ConnId>,
    loop_thread: Option<ThreadId>,
}

/// Echo that records each connection's id in the shared state.
struct TrackedEcho;

impl Protocol<Seen> for TrackedEcho {
    fn on_open(&mut self, ctx: &mut Ctx<'_, Seen>) {
        let id = ctx.id();
        ctx.state().opened.push(id);
        ctx.state().loop_thread = Some(std::thread::current().id());
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len())
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Seen>) -> After {
        ctx.write(request);
        After::KeepOpen
    }
}

#[test]
fn closure_posted_from_another_thread_writes_to_a_connection() {
    let running = start_with(Server::builder(), Seen::default(), || TrackedEcho, |_| {});
    let mut client = connect(running.addr);
    // The echo proves the connection is open (on_open ran before any read).
    assert_eq!(round_trip(&mut client, b"hi"), b"hi");
    let (id, loop_thread) = ask(&running.handle, |core| {
        let state = core.state();
        assert_eq!(state.opened.len(), 1);
        (state.opened[0], state.loop_thread.unwrap())
    });

    let handle = running.handle.clone();
    let poster = std::thread::spawn(move || {
        let (tx, rx) = mpsc::channel();
        handle.post(move |core| {
            let sent = core.send(id, b"pushed by a closure\n");
            let _ = tx.send((sent, std::thread::current().id()));
        });
        handle.send(id, b"pushed by Handle::send\n".to_vec());
        (std::thread::current().id(), rx.recv_timeout(WAIT).unwrap())
    });
    let (poster_thread, (sent, ran_on)) = poster.join().unwrap();
    assert!(sent, "the connection is open: send accepted");
    assert_eq!(ran_on, loop_thread, "the closure ran on the loop thread");
    assert_ne!(ran_on, poster_thread);

    let expected = b"pushed by a closure\npushed by Handle::send\n";
    assert_eq!(support::read_exact(&mut client, expected.len()), expected);
    // And the connection still works as before, with nothing extra queued.
    assert_eq!(round_trip(&mut client, b"echo"), b"echo");
    let stats = support::stats_of(&running.handle);
    assert_eq!(stats.dropped_commands, 0);
    drop(client);
    running.stop();
}

#[test]
fn commands_to_a_closed_connection_are_dropped_not_delivered_to_its_successor() {
    let running = start_with(Server::builder(), Seen::default(), || TrackedEcho, |_| {});
    let handle = &running.handle;

    let mut a = connect(running.addr);
    assert_eq!(round_trip(&mut a, b"a"), b"a");
    let a_id = ask(handle, |core| core.state().opened[0]);
    drop(a);
    // `active` drops when the connection leaves the slab (end of a turn), so
    // the next client accepted can reuse its slot.
    assert!(eventually(|| ask(handle, |core| core.stats().active) == 0));

    let mut b = connect(running.addr);
    assert_eq!(round_trip(&mut b, b"b"), b"b");
    let b_id = ask(handle, |core| core.state().opened[1]);
    assert_ne!(a_id, b_id);
    let key = |id: ConnId| id.to_string().split('.').next().unwrap().to_owned();
    assert_eq!(
        key(a_id),
        key(b_id),
        "B reuses A's slab slot ({a_id} vs {b_id})"
    );

    let (sent, closed, open) = ask(handle, move |core| {
        (
            core.send(a_id, b"for A only"),
            core.close(a_id),
            core.is_open(a_id),
        )
    });
    assert!(!sent, "send to a closed connection reports false");
    assert!(!closed, "close of a closed connection reports false");
    assert!(!open);
    handle.send(a_id, b"for A via the handle".to_vec());
    let stats = support::stats_of(handle);
    assert_eq!(stats.dropped_commands, 2, "{stats:?}");

    // Had any of that reached B, these reads would see it first.
    assert_eq!(round_trip(&mut b, b"ping"), b"ping");
    b.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    match b.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => panic!("B received something extra: {other:?}"),
    }
    drop(b);
    running.stop();
}

// ---- graceful stop ----

/// Size of each large reply: more than loopback's kernel buffers hold (the
/// send buffer alone may grow to 4 MiB), so the server itself still holds
/// part of each reply while its client pauses.
const BLOB: usize = 8 << 20;

/// `BLOB + 251` bytes, byte `i` = `i % 251`: the reply to seed `s` is
/// `pattern()[s..s + BLOB]`, so every client's reply is distinct.
fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| (0..BLOB + 251).map(|i| (i % 251) as u8).collect())
}

/// Request: a line holding a seed (0..251). Reply: `BLOB` bytes of the
/// pattern from that seed on. (`ping` gets `pong`.) Reports each close to the test through the
/// state: (reason, connections still open at that moment, whether this one
/// had asked for a blob).
#[derive(Default)]
struct Blob {
    asked: bool,
}

type Closes = mpsc::Sender<(CloseReason, usize, bool)>;

impl Protocol<Closes> for Blob {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Closes>) -> After {
        if request == b"ping\n" {
            ctx.write(b"pong\n");
            return After::KeepOpen;
        }
        let seed: usize = std::str::from_utf8(request)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&s| s < 251)
            .unwrap_or(0);
        self.asked = true;
        ctx.write(&pattern()[seed..seed + BLOB]);
        After::KeepOpen
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Closes>) {
        let open = ctx.connections().count();
        let _ = ctx.state().send((reason, open, self.asked));
    }
}

/// Reads from `stream` until EOF, checking every byte against the pattern
/// from `seed + offset`. Returns the total offset reached.
fn read_blob_to_end(stream: &mut TcpStream, seed: usize, mut offset: usize) -> io::Result<usize> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(offset),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let why = format!("{e}, after {offset} of {BLOB} bytes (no EOF)");
                return Err(io::Error::new(e.kind(), why));
            }
        };
        if offset + n > BLOB {
            return Err(io::Error::other(format!(
                "{} bytes past the reply",
                offset + n - BLOB
            )));
        }
        let want = &pattern()[seed + offset..seed + offset + n];
        if &buf[..n] != want {
            return Err(io::Error::other(format!("wrong bytes at offset {offset}")));
        }
        offset += n;
    }
}

#[test]
fn stop_finishes_in_flight_replies_then_frees_the_port() {
    const CLIENTS: usize = 50;
    /// How much each client reads before the stop (then it waits).
    const BEFORE: usize = 64 * 1024;
    // A drain long enough that no reply is cut short by it in this test.
    let (closes_tx, closes) = mpsc::channel();
    let running = start_with(
        Server::builder().drain_timeout(Duration::from_secs(5)),
        closes_tx,
        Blob::default,
        |_| {},
    );
    let addr = running.addr;
    pattern(); // build it once, before the clients race for it

    let (mid_tx, mid_rx) = mpsc::channel();
    let mut gates = Vec::new();
    let mut clients = Vec::new();
    for seed in 0..CLIENTS {
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        gates.push(gate_tx);
        let mid_tx = mid_tx.clone();
        clients.push(std::thread::spawn(move || -> io::Result<usize> {
            let mut stream = connect(addr);
            stream.set_read_timeout(Some(Duration::from_secs(4)))?;
            stream.write_all(format!("{seed}\n").as_bytes())?;
            let mut first = vec![0u8; BEFORE];
            stream.read_exact(&mut first)?;
            assert_eq!(&first[..], &pattern()[seed..seed + BEFORE], "client {seed}");
            let _ = mid_tx.send(seed);
            // Reading resumes only once the server is stopping.
            gate_rx
                .recv_timeout(WAIT)
                .map_err(|e| io::Error::other(format!("gate: {e}")))?;
            read_blob_to_end(&mut stream, seed, BEFORE)
        }));
    }
    drop(mid_tx);
    for _ in 0..CLIENTS {
        mid_rx
            .recv_timeout(WAIT)
            .expect("every client got the start of its reply");
    }

    // Every client is mid-reply: the server still holds reply bytes.
    let owed = ask(&running.handle, |core| core.buffered_bytes());
    assert!(owed > 0, "the replies are still in flight in the server");
    running.handle.stop();
    // The closure below runs in the turn that sees the stop, or later; the
    // second one in a later turn, after the listener was closed.
    ask(&running.handle, |_| ());
    let open = ask(&running.handle, |core| {
        assert!(core.is_stopping());
        core.connections().count()
    });
    assert_eq!(open, CLIENTS, "nobody was cut off by the stop");
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("a new client was accepted after stop"),
    }

    let started = Instant::now();
    for gate in &gates {
        gate.send(()).unwrap(); // every client reads on
    }
    for (seed, client) in clients.into_iter().enumerate() {
        let got = client.join().expect("client thread");
        match got {
            Ok(n) => assert_eq!(n, BLOB, "client {seed} got a short reply"),
            Err(e) => panic!("client {seed}: {e}"),
        }
    }
    let mut running = running;
    let stats = running.join();
    let drained_in = started.elapsed();
    assert!(
        drained_in < Duration::from_secs(3),
        "drain took {drained_in:?}"
    );
    assert_eq!(stats.accepted, CLIENTS as u64);
    assert_eq!(stats.closed_total(), stats.accepted, "{stats}");
    assert_eq!(
        stats.closed(CloseReason::Shutdown),
        CLIENTS as u64,
        "{stats}"
    );
    assert_eq!(stats.requests, CLIENTS as u64);
    let closes: Vec<_> = closes.try_iter().collect();
    assert_eq!(closes.len(), CLIENTS);
    assert!(closes.iter().all(|c| c.0 == CloseReason::Shutdown && c.2));

    // run() returned: the port is free for a new listener.
    let again = TcpListener::bind(addr).expect("the port is free after run()");
    drop(again);
}

#[test]
fn stop_closes_idle_clients_at_once_and_the_drain_deadline_the_rest() {
    let drain = Duration::from_millis(300);
    let (closes_tx, closes) = mpsc::channel();
    let mut running = start_with(
        Server::builder().drain_timeout(drain),
        closes_tx,
        Blob::default,
        |_| {},
    );
    let handle = running.handle.clone();

    // A client that asks for a large reply and never reads it.
    let mut stuck = connect(running.addr);
    stuck.write_all(b"7\n").unwrap();
    assert!(eventually(|| ask(&handle, |core| core.buffered_bytes()) > 0));
    // And an idle one. Its round trip proves it is accepted, and leaves it
    // with no readiness event pending: what happens to it at the stop is up
    // to the stop alone.
    let mut idle = connect(running.addr);
    assert_eq!(round_trip(&mut idle, b"ping\n"), b"pong\n");

    let stopped_at = Instant::now();
    handle.stop();
    // The idle client is closed at once: EOF; then it closes its side.
    assert!(
        support::is_closed_by_peer(&mut idle),
        "idle client not closed"
    );
    drop(idle);
    let first = closes.recv_timeout(WAIT).expect("a close");
    // Judged from the loop's side: when the idle connection closed, the
    // stuck one was still open (at the drain deadline both would close in
    // the same turn, and the idle one would see no other open connection).
    assert_eq!(first, (CloseReason::Shutdown, 1, false), "idle close");

    let stats = running.join();
    let ran_for = stopped_at.elapsed();
    assert!(ran_for >= drain, "drain cut short: {ran_for:?}");
    assert!(
        ran_for < Duration::from_secs(2),
        "drain overran: {ran_for:?}"
    );
    let second = closes.recv_timeout(WAIT).expect("a close");
    assert_eq!(second, (CloseReason::Shutdown, 0, true), "forced close");
    assert_eq!(stats.closed(CloseReason::Shutdown), 2, "{stats}");
    assert_eq!(stats.closed_total(), 2);

    // The stuck client gets whatever was in the kernel's buffers, then the
    // end (or a reset): not the whole reply.
    if let Ok(n) = read_blob_to_end(&mut stuck, 7, 0) {
        assert!(n < BLOB, "the whole reply arrived after a forced close?");
    }
}

// ---- signals, on the example binaries ----

#[test]
fn sigterm_stops_the_echo_example_gracefully() {
    let mut proc = Proc::spawn("echo_server", &[]);
    let addr = proc.bound_addr("echoing on ");
    let mut client = connect(addr);
    assert_eq!(round_trip(&mut client, b"ping"), b"ping");
    // The client stays connected, idle, through the stop. It must be closed
    // at once, not when the example's 10 s drain deadline passes.
    proc.signal("TERM");
    proc.wait_for("SIGTERM");
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert!(
        support::is_closed_by_peer(&mut client),
        "idle client not closed within 3 s of SIGTERM"
    );
    drop(client);
    let summary = assert_clean_exit(proc);
    assert!(summary.contains("accepted 1"), "{summary}");
    assert!(summary.contains("requests 1"), "{summary}");
}

#[test]
fn sigint_stops_the_echo_example_gracefully() {
    let mut proc = Proc::spawn("echo_server", &[]);
    let addr = proc.bound_addr("echoing on ");
    let mut client = connect(addr);
    assert_eq!(round_trip(&mut client, b"ping"), b"ping");
    drop(client);
    proc.signal("INT");
    proc.wait_for("SIGINT");
    let summary = assert_clean_exit(proc);
    assert!(summary.contains("accepted 1"), "{summary}");
    // The port was released: nobody listens there any more.
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
        Ok(_) => panic!("still accepting after exit"),
    }
}

#[test]
fn sigterm_stops_the_reply_example_gracefully() {
    let mut proc = Proc::spawn("reply_server", &[]);
    let addr = proc.bound_addr("listening on ");
    let mut client = connect(addr);
    // The lesson's message. (A single word such as `hello` would wait for
    // more bytes: it could still be the start of an HTTP request line.)
    client.write_all(b"can you hear me?").unwrap();
    assert_eq!(support::read_to_close(&mut client), b"Yes");
    drop(client);
    proc.wait_for("request is: can you hear me?");
    proc.signal("TERM");
    let summary = assert_clean_exit(proc);
    assert!(summary.contains("requests 1"), "{summary}");
}

#[test]
fn second_sigterm_closes_what_the_first_was_draining() {
    let mut proc = Proc::spawn("echo_server", &[]);
    let addr = proc.bound_addr("echoing on ");
    let mut hog = connect(addr);
    assert_eq!(round_trip(&mut hog, b"x"), b"x");
    // The hog sends without ever reading: its echo backs up and the server
    // owes it bytes it cannot deliver, which keeps a graceful stop waiting
    // (for the example's default 10 s drain).
    let mut writer_stream = hog.try_clone().unwrap();
    // A write that makes no progress for 200 ms means every buffer on the way
    // is full and the server has stopped reading: it owes the hog bytes. (The
    // short timeout only detects that absence of progress.)
    writer_stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (stuck_tx, stuck_rx) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'h'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 1 << 30 {
            match writer_stream.write(&chunk) {
                Ok(n) => sent += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let _ = stuck_tx.send(sent);
                    return;
                }
                Err(e) => panic!("hog write failed after {sent} bytes: {e}"),
            }
        }
    });
    let sent = stuck_rx.recv_timeout(WAIT).expect("the hog's writes block");
    assert!(sent > 0);

    proc.signal("TERM");
    proc.wait_for("stopping: draining 1 connections");
    proc.assert_running_for(Duration::from_millis(300));
    proc.signal("TERM");
    proc.wait_for("closing every connection now");
    let summary = assert_clean_exit(proc);
    assert!(summary.contains("shutdown 1"), "{summary}");
    drop(hog);
    writer.join().unwrap();
    // The hog's connection was cut: after what the kernel held, it ends.
}

#[test]
fn deadlines_of_closed_connections_never_wake_an_idle_server() {
    // Short timeouts, so the 100 connections' idle deadlines fall inside
    // the quiet stretch measured below: if a dead connection's deadline set
    // the poll timeout, the loop would wake for it.
    let mut server = Server::builder()
        .idle_timeout(Some(Duration::from_secs(1)))
        .request_timeout(Some(Duration::from_secs(1)))
        .build(())
        .unwrap();
    let addr = server.listen("127.0.0.1:0", || echo_server::Echo).unwrap();
    let clients = std::thread::spawn(move || {
        for i in 0..100u32 {
            let mut stream = connect(addr);
            let msg = i.to_string();
            assert_eq!(round_trip(&mut stream, msg.as_bytes()), msg.as_bytes());
        } // each closes as it is dropped
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stats().accepted < 100 || server.stats().active > 0 {
        assert!(Instant::now() < deadline, "{:?}", server.stats());
        server.turn(Some(Duration::from_millis(50))).unwrap();
    }
    clients.join().unwrap();
    // Let what is legitimately pending pass first: under fault injection an
    // injected EMFILE pauses accepting for `accept_backoff`, a real
    // deadline. The dead connections' idle deadlines (1 s after each one's
    // last byte) still lie ahead, inside the quiet stretch.
    let settle = 2 * server.core().config().accept_backoff;
    let settled = Instant::now();
    while settled.elapsed() < settle {
        server.turn(Some(settle - settled.elapsed())).unwrap();
    }

    let quiet = Duration::from_secs(3);
    let (start, before) = (Instant::now(), server.stats().turns);
    while start.elapsed() < quiet {
        let turn = server.turn(Some(quiet - start.elapsed())).unwrap();
        assert_eq!(turn.events, 0, "nothing happens: {turn:?}");
    }
    assert_eq!(
        server.stats().turns - before,
        1,
        "the idle server woke before its 3 s max_wait"
    );
}
