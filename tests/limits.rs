//! Limits against a real server on 127.0.0.1: the connection limit (both
//! `AtCapacity` policies) and the request size limit / protocol violations.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use echo_server::Echo;
use support::{
    WAIT, connect, eventually, is_closed_by_peer, read_exact, read_to_close, round_trip,
    start_with, stats_of,
};
use twig::{
    After, AtCapacity, CloseReason, Ctx, Frame, Handle, Protocol, Server, Violation, framing,
};

/// How long a client listens before concluding that nothing is coming. Only
/// used to assert an absence, never to wait for something to happen.
const QUIET: Duration = Duration::from_millis(300);

/// Asserts that nothing (no data, no EOF, no reset) arrives on `stream`
/// within [`QUIET`].
fn assert_silent(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(QUIET)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        Ok(n) => panic!(
            "expected silence, got {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("expected silence, got an error: {e}"),
    }
    stream.set_read_timeout(Some(WAIT)).unwrap();
}

/// Closes our side and waits for the server's FIN: when this returns, the
/// server has closed the connection (and, since the FIN is sent in the same
/// loop turn that removes the connection from the slab, its slot is free
/// before any later client's connect can be seen by the loop).
fn leave_and_wait(mut stream: TcpStream) {
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut stream), b"", "nothing owed at close");
}

#[test]
fn at_capacity_wait_keeps_extra_clients_in_the_backlog_until_a_slot_frees() {
    let server = start_with(Server::builder().max_connections(2), (), || Echo, |_| {});
    let mut a = connect(server.addr);
    let mut b = connect(server.addr);
    assert_eq!(round_trip(&mut a, b"a1"), b"a1");
    assert_eq!(round_trip(&mut b, b"b1"), b"b1");

    // The kernel completes the handshake (the client waits in the listen
    // backlog), but the loop does not accept it while full: no echo.
    let mut c = connect(server.addr);
    c.write_all(b"c1").unwrap();
    assert_silent(&mut c);
    let stats = stats_of(&server.handle);
    assert_eq!(stats.accepted, 2, "{stats:?}");
    assert_eq!(stats.active, 2, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
    assert!(stats.capacity_reached >= 1, "{stats:?}");

    // The two admitted clients are still served while the third waits.
    assert_eq!(round_trip(&mut a, b"a2"), b"a2");
    assert_eq!(round_trip(&mut b, b"b2"), b"b2");

    // One leaves: the waiting client is accepted, and the bytes it sent
    // while waiting are answered.
    drop(a);
    assert_eq!(read_exact(&mut c, 2), b"c1");
    assert_eq!(round_trip(&mut c, b"c2"), b"c2");
    assert_eq!(round_trip(&mut b, b"b3"), b"b3");

    let stats = stats_of(&server.handle);
    assert_eq!(stats.accepted, 3, "{stats:?}");
    assert_eq!(stats.active, 2, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
    assert!(stats.capacity_reached >= 1, "{stats:?}");
    drop((b, c));
}

#[test]
fn at_capacity_refuse_closes_extra_clients_at_once() {
    let builder = Server::builder()
        .max_connections(2)
        .at_capacity(AtCapacity::Refuse);
    let server = start_with(builder, (), || Echo, |_| {});
    let mut a = connect(server.addr);
    let mut b = connect(server.addr);
    assert_eq!(round_trip(&mut a, b"a1"), b"a1");
    assert_eq!(round_trip(&mut b, b"b1"), b"b1");

    // Accepted and closed at once: EOF (or a reset), never an echo.
    let mut c = connect(server.addr);
    let _ = c.write_all(b"c1"); // may already fail: the server closed it
    assert!(is_closed_by_peer(&mut c), "the refused client was closed");
    let stats = stats_of(&server.handle);
    assert_eq!(stats.refused, 1, "{stats:?}");
    assert_eq!(stats.accepted, 2, "{stats:?}");
    assert_eq!(stats.active, 2, "{stats:?}");

    // The admitted ones are unaffected.
    assert_eq!(round_trip(&mut a, b"a2"), b"a2");
    assert_eq!(round_trip(&mut b, b"b2"), b"b2");

    // One leaves (and we see the server's FIN, so its slot is free): a new
    // client is admitted and served.
    leave_and_wait(a);
    let mut d = connect(server.addr);
    assert_eq!(round_trip(&mut d, b"d1"), b"d1");
    assert_eq!(round_trip(&mut b, b"b3"), b"b3");

    let stats = stats_of(&server.handle);
    assert_eq!(stats.refused, 1, "{stats:?}");
    assert_eq!(stats.accepted, 3, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::Eof), 1, "{stats:?}");
    drop((b, d));
}

/// A line protocol with an error reply: `OK <line>` for a good line, `ERR
/// ...` for a violation. Lines starting with `!` are invalid. Every
/// violation it is told about is recorded in the shared state.
struct Strict;

impl Protocol<Vec<Violation>> for Strict {
    fn frame(&mut self, input: &[u8]) -> Frame {
        if input.first() == Some(&b'!') {
            return Frame::Invalid("line starts with '!'");
        }
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Vec<Violation>>) -> After {
        ctx.write(b"OK ");
        ctx.write(request);
        After::KeepOpen
    }

    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, Vec<Violation>>) {
        ctx.state().push(*violation);
        match violation {
            Violation::TooLarge { .. } => ctx.write(b"ERR too large\n"),
            Violation::Invalid(why) => {
                ctx.write(b"ERR ");
                ctx.write(why.as_bytes());
                ctx.write(b"\n");
            }
        }
    }
}

/// The violations recorded so far, read on the loop thread.
fn violations(handle: &Handle<Vec<Violation>>) -> Vec<Violation> {
    let (tx, rx) = mpsc::channel();
    handle.post(move |core| {
        let _ = tx.send(core.state().clone());
    });
    rx.recv_timeout(WAIT).expect("the loop answered")
}

/// Sends one line and reads back `OK <line>`.
fn ok_round_trip(stream: &mut TcpStream, line: &[u8]) {
    stream.write_all(line).unwrap();
    let reply = read_exact(stream, 3 + line.len());
    assert_eq!(reply, [b"OK ", line].concat());
}

#[test]
fn request_over_max_request_size_gets_the_error_reply_then_close() {
    let builder = Server::builder().max_request_size(64);
    let server = start_with(builder, Vec::new(), || Strict, |_| {});
    let mut good = connect(server.addr);
    ok_round_trip(&mut good, b"before\n");

    // 100 bytes and no newline: the request can only grow past 64 bytes.
    let mut big = connect(server.addr);
    big.write_all(&[b'x'; 100]).unwrap();
    assert_eq!(read_to_close(&mut big), b"ERR too large\n");

    // The well-behaved connection is untouched, and new ones are served.
    ok_round_trip(&mut good, b"after\n");
    let mut fresh = connect(server.addr);
    // A line of exactly the limit (63 bytes and its newline) is fine.
    ok_round_trip(&mut fresh, &[&[b'y'; 63][..], b"\n"].concat());
    assert_eq!(
        violations(&server.handle),
        [Violation::TooLarge { limit: 64 }]
    );
    drop(big);
    assert!(eventually(|| stats_of(&server.handle)
        .closed(CloseReason::Violation)
        == 1));
    drop((good, fresh));
}

#[test]
fn frame_invalid_gets_the_error_reply_then_close() {
    let server = start_with(Server::builder(), Vec::new(), || Strict, |_| {});
    let mut other = connect(server.addr);
    ok_round_trip(&mut other, b"hello\n");

    // Pipelined: the good line is answered first, then the violation's
    // reply; the line after it is never answered.
    let mut bad = connect(server.addr);
    bad.write_all(b"fine\n!boom\nnever\n").unwrap();
    assert_eq!(
        read_to_close(&mut bad),
        b"OK fine\nERR line starts with '!'\n"
    );

    ok_round_trip(&mut other, b"still here\n");
    assert_eq!(
        violations(&server.handle),
        [Violation::Invalid("line starts with '!'")]
    );

    drop((bad, other));
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Violation), 1, "{stats:?}");
    assert_eq!(stats.accepted, 2, "{stats:?}");
    assert_eq!(stats.requests, 3, "{stats:?}");
}

/// The limit is on the request, not on how TCP happened to cut it up: a
/// 100-byte line must be refused with `max_request_size(64)` even when the
/// whole line arrives in one read (one 100-byte write on loopback).
#[test]
fn complete_request_over_max_request_size_is_rejected_even_in_one_read() {
    let builder = Server::builder().max_request_size(64);
    let server = start_with(builder, Vec::new(), || Strict, |_| {});
    let mut big = connect(server.addr);
    let line = [&[b'x'; 99][..], b"\n"].concat();
    big.write_all(&line).unwrap();
    let reply = read_exact(&mut big, b"ERR too large\n".len());
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "ERR too large\n",
        "a 100-byte request was answered despite max_request_size(64)"
    );
    assert_eq!(
        violations(&server.handle),
        [Violation::TooLarge { limit: 64 }]
    );
}
