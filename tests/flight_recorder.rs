//! The flight recorder: when a connection ends abnormally, one `debug` line
//! tells its last events, syscall results and state changes — "why was this
//! client dropped?" answered without running at trace level.
//!
//! This binary installs a capturing logger (`support::logs`, a process-wide
//! setting), so the recorder's tests live here alone. Each test finds its own
//! lines by the client's address.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::Write;
use std::net::{Shutdown, SocketAddr};

use support::logs::{capture, matching};
use twig::{After, Ctx, Frame, Protocol, Server, Violation, framing};

/// Waits (bounded) for the dump of the connection from (or to) `client`.
fn dump_for(client: SocketAddr) -> String {
    let needle = format!("{client}: closed");
    let mut found = None;
    support::eventually(|| {
        found = matching(&needle)
            .into_iter()
            .find(|l| l.contains("last events"));
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no flight-recorder dump for {client}"))
}

#[test]
fn a_reset_connection_dumps_its_last_events() {
    capture();
    let server = support::start(|| echo_server::Echo);
    let mut client = support::connect(server.addr);
    let me = client.local_addr().unwrap();
    assert_eq!(support::round_trip(&mut client, b"hello"), b"hello");
    // Leave an echo unread, then close: Linux answers a close with unread
    // data by a reset (RST) instead of a FIN.
    client.write_all(b"unread").unwrap();
    let mut peeked = [0u8; 6];
    while client.peek(&mut peeked).unwrap() < peeked.len() {}
    drop(client);

    let dump = dump_for(me);
    assert!(dump.contains("closed (reset)"), "{dump}");
    // Under fault injection (CI's second run) reads and writes may be cut
    // short: the byte counts differ, and the extra short reads and writes can
    // push the first marks ("accepted") out of the 16-mark ring — the ring
    // keeps the *last* events, which is the point. The end is always there.
    let exact = std::env::var_os("TWIG_FAULTS").is_none();
    let marks: &[&str] = if exact {
        &["accepted", "read 5", "wrote 5", "-> Closed(Reset)"]
    } else {
        &["read ", "wrote ", "-> Closed(Reset)"]
    };
    for mark in marks {
        assert!(dump.contains(mark), "missing {mark:?} in: {dump}");
    }
}

/// Lines, with a short error reply for requests over the limit.
struct Lines;

impl Protocol for Lines {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        ctx.write(line);
        After::KeepOpen
    }
    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx) {
        ctx.write(format!("ERR {violation}\n").as_bytes());
    }
}

#[test]
fn an_oversize_request_dumps_its_last_events() {
    capture();
    let server = support::start_with(Server::builder().max_request_size(64), (), || Lines, |_| {});
    let mut client = support::connect(server.addr);
    let me = client.local_addr().unwrap();
    assert_eq!(support::round_trip(&mut client, b"short\n"), b"short\n");
    client.write_all(&[b'x'; 100]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let reply = support::read_to_close(&mut client);
    assert_eq!(reply, b"ERR request larger than 64 bytes\n");

    let dump = dump_for(me);
    assert!(dump.contains("closed (violation)"), "{dump}");
    // Under fault injection the 100 bytes may arrive in several short reads.
    let read = if std::env::var_os("TWIG_FAULTS").is_none() {
        "read 100"
    } else {
        "read "
    };
    for mark in [
        "answered 1",
        read,
        "-> Closing(Violation)",
        "-> Lingering(Violation)",
    ] {
        assert!(dump.contains(mark), "missing {mark:?} in: {dump}");
    }
}

#[test]
fn a_normal_close_dumps_nothing() {
    capture();
    let server = support::start(|| echo_server::Echo);
    let mut client = support::connect(server.addr);
    let me = client.local_addr().unwrap();
    assert_eq!(support::round_trip(&mut client, b"bye"), b"bye");
    client.shutdown(Shutdown::Write).unwrap();
    assert!(support::is_closed_by_peer(&mut client));
    let needle = format!("{me}: closed (eof)");
    assert!(support::eventually(|| !matching(&needle).is_empty()));
    let lines = matching(&needle);
    let closing = &lines[0];
    assert!(
        !closing.contains("last events"),
        "a normal close is one short line: {closing}"
    );
}

/// Never called: the connection below never opens.
struct Unused;

impl Protocol for Unused {
    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len())
    }
    fn reply(&mut self, _request: &[u8], _ctx: &mut Ctx) -> After {
        After::Close
    }
}

#[test]
fn a_failed_outbound_connect_dumps_as_a_connect_not_an_accept() {
    capture();
    let server = support::start(|| Lines);
    // A port nobody listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let started = support::ask(&server.handle, move |core| {
        core.connect(closed, Unused).is_ok()
    });
    assert!(started, "connect() starts the connect without blocking");

    let dump = dump_for(closed);
    assert!(dump.contains("connect started"), "{dump}");
    assert!(!dump.contains("accepted"), "{dump}");
}
