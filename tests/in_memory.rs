//! The example servers' protocols under `twig::testing`: no socket, no
//! thread, a manual clock. Each request is also fed in every chunk size
//! down to one byte (bytes arrive in arbitrary chunks).

#[path = "../examples/chat_server.rs"]
#[allow(dead_code)]
mod chat_server;
#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;
#[path = "../examples/kv_server/main.rs"]
#[allow(dead_code)]
mod kv_server;
#[path = "../examples/reply_server.rs"]
#[allow(dead_code)]
mod reply_server;

use std::time::Duration;

use twig::http::Http;
use twig::testing::Harness;
use twig::{After, CloseReason, Ctx, Frame, Protocol, Server, framing};

/// Feeds `input` to a fresh connection in chunks of `chunk` bytes and
/// returns everything written back (the connection is left as it is).
fn in_chunks<S: 'static>(t: &mut Harness<S>, input: &[u8], chunk: usize) -> Vec<u8> {
    let c = t.connect();
    let mut out = t.output(c);
    for piece in input.chunks(chunk) {
        t.send(c, piece);
        out.extend(t.output(c));
    }
    out
}

#[test]
fn the_lesson_is_answered_from_the_first_read_and_closed() {
    let mut t = Harness::new((), || reply_server::ReplyYes);
    for question in [&b"can you hear me?"[..], b"hello", b"a b\n"] {
        let c = t.connect();
        t.send(c, question);
        assert_eq!(t.output(c), b"Yes", "{question:?}");
        assert!(t.is_write_shut(c), "then the server closes its side");
        t.eof(c);
        assert_eq!(t.closed(c), Some(CloseReason::Done));
    }
}

#[test]
fn an_http_request_split_after_any_byte_gets_its_http_answer() {
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut t = Harness::new((), || reply_server::ReplyYes);
    for split in 1..request.len() {
        let c = t.connect();
        t.send(c, &request[..split]);
        t.send(c, &request[split..]);
        let out = String::from_utf8(t.output(c)).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\n"),
            "split at {split}: {out:?}"
        );
        assert!(out.ends_with("\r\n\r\nYes"), "split at {split}: {out:?}");
    }
}

#[test]
fn echo_returns_every_byte_in_every_chunk_size() {
    let input: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let mut t = Harness::new((), || echo_server::Echo);
    for chunk in [1, 2, 7, 64, 1000, 3000] {
        assert_eq!(in_chunks(&mut t, &input, chunk), input, "chunk {chunk}");
    }
}

#[test]
fn echo_under_a_slow_reader_holds_what_is_owed_and_the_write_timeout_ends_it() {
    let mut t = Harness::with_builder(
        Server::builder().write_timeout(Some(Duration::from_secs(5))),
        (),
        || echo_server::Echo,
    );
    let c = t.connect();
    t.set_window(c, Some(10));
    t.send(c, b"0123456789abcdefghij");
    assert_eq!(t.output(c), b"0123456789", "the peer took 10 bytes");
    // Taking them opened the window again: the next 10 went out.
    assert_eq!(t.output(c), b"abcdefghij");
    t.set_window(c, Some(0));
    t.send(c, b"stuck");
    assert_eq!(t.core().owed(c), Some(5));
    t.advance(Duration::from_secs(4));
    assert!(t.is_open(c), "the write timeout has not passed");
    t.advance(Duration::from_secs(2));
    assert_eq!(t.closed(c), Some(CloseReason::WriteTimeout));
}

#[test]
fn chat_broadcasts_in_order_to_the_others() {
    let mut t = Harness::with_builder(
        chat_server::builder(),
        Default::default(),
        chat_server::Chat::default,
    );
    let (ann, bob) = (t.connect(), t.connect());
    t.output(ann);
    t.output(bob);
    t.send(ann, b"ann\n");
    t.send(bob, b"b");
    t.send(bob, b"ob\n");
    assert_eq!(
        t.output(ann),
        b"* welcome, ann (/who lists who is here, /quit leaves)\n* bob joined\n"
    );
    t.output(bob);
    t.send(ann, b"hi\nthere\n");
    assert_eq!(t.output(bob), b"ann: hi\nann: there\n");
    t.send(bob, b"/who\n");
    assert_eq!(t.output(bob), b"* here: ann, bob\n");
    t.send(ann, b"/quit\n");
    assert_eq!(t.output(ann), b"* bye\n");
    assert_eq!(t.output(bob), b"* ann left\n");
}

#[test]
fn kv_answers_resp_split_anywhere() {
    let commands = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    let mut t = Harness::with_builder(
        kv_server::builder(),
        Default::default(),
        kv_server::Kv::default,
    );
    for chunk in [1, 2, 5, commands.len()] {
        assert_eq!(
            in_chunks(&mut t, commands, chunk),
            b"+OK\r\n$5\r\nvalue\r\n",
            "chunk {chunk}"
        );
    }
}

#[test]
fn http_routes_keep_alive_and_pipelining() {
    let app = http_server::router();
    let mut t = Harness::new(0u64, move || Http::new(app.clone()));
    let two = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
    for chunk in [1, 10, two.len()] {
        let out = String::from_utf8(in_chunks(&mut t, two, chunk)).unwrap();
        assert_eq!(
            out.matches("HTTP/1.1 200 OK\r\n").count(),
            2,
            "chunk {chunk}: {out}"
        );
        assert!(out.contains("Hello from twig!\n"), "{out}");
    }
    assert_eq!(*t.state(), 3, "the visitor counter is the shared state");
}

/// `a`: writes `a`, sends `b` to itself through the Core, writes `c`; and
/// a timer sends `d` later.
struct Order;

impl Protocol for Order {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, _line: &[u8], ctx: &mut Ctx) -> After {
        let me = ctx.id();
        ctx.write(b"a");
        ctx.send(me, b"b"); // Ctx derefs to Core: one send rule
        twig::Core::send(ctx, me, b"c");
        ctx.write(b"d");
        ctx.call_later(Duration::from_millis(10), move |core| {
            core.send(me, b"e");
        });
        After::KeepOpen
    }
}

#[test]
fn bytes_for_one_connection_go_out_in_call_order_whatever_the_path() {
    let mut t = Harness::new((), || Order);
    let c = t.connect();
    t.send(c, b"go\n");
    assert_eq!(t.output(c), b"abcd");
    t.advance(Duration::from_millis(9));
    assert_eq!(t.output(c), b"", "the timer is not due yet");
    t.advance(Duration::from_millis(1));
    assert_eq!(t.output(c), b"e");
}

/// Echoes whole lines.
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

#[test]
fn idle_and_request_timeouts_run_on_the_manual_clock() {
    let mut t = Harness::with_builder(
        Server::builder()
            .idle_timeout(Some(Duration::from_secs(10)))
            .request_timeout(Some(Duration::from_secs(4))),
        (),
        || Lines,
    );
    // No byte for IDLE.
    let quiet = t.connect();
    t.advance(Duration::from_secs(9));
    assert!(t.is_open(quiet));
    t.advance(Duration::from_secs(1));
    assert_eq!(t.closed(quiet), Some(CloseReason::IdleTimeout));
    // A request dribbled one byte a second is cut at REQUEST from its start,
    // though no gap reaches IDLE.
    let slow = t.connect();
    for byte in b"slow" {
        t.send(slow, &[*byte]);
        t.advance(Duration::from_secs(1));
    }
    assert_eq!(t.closed(slow), Some(CloseReason::RequestTimeout));
    // A partial request then silence: closed at IDLE after its last byte
    // when that comes first (here REQUEST is the longer one).
    let mut t = Harness::with_builder(
        Server::builder()
            .idle_timeout(Some(Duration::from_secs(2)))
            .request_timeout(Some(Duration::from_secs(30))),
        (),
        || Lines,
    );
    let half = t.connect();
    t.send(half, b"half a line");
    t.advance(Duration::from_secs(2));
    assert_eq!(t.closed(half), Some(CloseReason::IdleTimeout));
}
