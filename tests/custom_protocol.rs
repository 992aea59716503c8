//! A user-defined line protocol with per-connection state (`self`) and
//! shared state (`S`), over real TCP.
//!
//! ```text
//!   HELLO name  ->  HI name
//!   COUNT       ->  COUNT <lines on this connection> <lines on all connections>
//!   QUIT        ->  BYE, then close
//! ```
//! Every line counts, the `COUNT` itself included.

mod support;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;

use support::{WAIT, connect, eventually, read_exact, read_to_close, start_with};
use twig::{After, CloseReason, Ctx, Frame, Handle, Protocol, Server, framing};

/// Shared by every connection, on the loop thread.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Lines received on all connections.
    lines: u64,
    /// Why each connection closed, in order.
    closes: Vec<CloseReason>,
}

/// One per connection.
#[derive(Default)]
struct Greeter {
    /// Lines received on this connection.
    lines: u64,
}

impl Protocol<Tally> for Greeter {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Tally>) -> After {
        self.lines += 1;
        ctx.state().lines += 1;
        let line = String::from_utf8_lossy(request);
        let line = line.trim_end_matches(['\r', '\n']);
        match line.split_once(' ') {
            Some(("HELLO", name)) => writeln!(ctx, "HI {name}").unwrap(),
            None if line == "COUNT" => {
                let all = ctx.state().lines;
                writeln!(ctx, "COUNT {} {all}", self.lines).unwrap();
            }
            None if line == "QUIT" => {
                ctx.write(b"BYE\n");
                return After::Close;
            }
            _ => ctx.write(b"ERR unknown command\n"),
        }
        After::KeepOpen
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Tally>) {
        ctx.state().closes.push(reason);
    }
}

fn start() -> support::Running<Tally> {
    start_with(
        Server::builder(),
        Tally::default(),
        Greeter::default,
        |_| {},
    )
}

/// The shared state, read on the loop thread.
fn tally(handle: &Handle<Tally>) -> Tally {
    let (tx, rx) = mpsc::channel();
    handle.post(move |core| {
        let _ = tx.send(core.state().clone());
    });
    rx.recv_timeout(WAIT).expect("the loop answered")
}

/// Sends `line` and reads the reply, which must be `want`.
fn ask(stream: &mut TcpStream, line: &str, want: &str) {
    stream.write_all(line.as_bytes()).unwrap();
    let got = read_exact(stream, want.len());
    assert_eq!(String::from_utf8_lossy(&got), want, "reply to {line:?}");
}

#[test]
fn counts_are_per_connection_and_the_total_is_shared() {
    let server = start();
    let mut alice = connect(server.addr);
    let mut bob = connect(server.addr);
    ask(&mut alice, "HELLO alice\n", "HI alice\n");
    ask(&mut bob, "HELLO bob\r\n", "HI bob\n");
    ask(&mut alice, "COUNT\n", "COUNT 2 3\n");
    ask(&mut bob, "COUNT\n", "COUNT 2 4\n");
    ask(&mut bob, "DANCE\n", "ERR unknown command\n");
    ask(&mut alice, "COUNT\n", "COUNT 3 6\n");
    ask(&mut bob, "QUIT\n", "BYE\n");
    assert_eq!(read_to_close(&mut bob), b"", "closed after BYE");
    ask(&mut alice, "COUNT\n", "COUNT 4 8\n");
    assert_eq!(tally(&server.handle).lines, 8);
}

#[test]
fn pipelined_commands_are_answered_in_order_and_nothing_after_quit() {
    let server = start();
    let mut client = connect(server.addr);
    client
        .write_all(b"HELLO pipe\nCOUNT\nHELLO again\nCOUNT\nQUIT\nCOUNT\nHELLO ignored\n")
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut client)),
        "HI pipe\nCOUNT 2 2\nHI again\nCOUNT 4 4\nBYE\n"
    );
    // The two lines after QUIT were never answered, nor counted.
    assert_eq!(tally(&server.handle).lines, 5);
}

#[test]
fn a_command_split_byte_by_byte_is_answered_once_whole() {
    let server = start();
    let mut client = connect(server.addr);
    client.set_nodelay(true).unwrap();
    let line = b"HELLO splitter\n";
    for (i, byte) in line.iter().enumerate() {
        client.write_all(&[*byte]).unwrap();
        if i + 1 < line.len() {
            // Wait until the server has read (and holds) exactly the bytes
            // sent so far, so every byte is a separate read and frame().
            let buffered = || {
                let (tx, rx) = mpsc::channel();
                server.handle.post(move |core| {
                    let _ = tx.send(core.buffered_bytes());
                });
                rx.recv_timeout(WAIT).expect("the loop answered")
            };
            assert!(eventually(|| buffered() == i + 1), "byte {i} buffered");
        }
    }
    assert_eq!(read_exact(&mut client, 12), b"HI splitter\n");
    ask(&mut client, "COUNT\n", "COUNT 2 2\n");
}

#[test]
fn on_close_says_done_after_quit_and_eof_when_the_client_just_leaves() {
    let server = start();
    let mut quitter = connect(server.addr);
    ask(&mut quitter, "HELLO q\n", "HI q\n");
    ask(&mut quitter, "QUIT\n", "BYE\n");
    assert_eq!(read_to_close(&mut quitter), b"");
    drop(quitter); // the server lingers until our FIN, then closes
    assert!(
        eventually(|| tally(&server.handle).closes == [CloseReason::Done]),
        "{:?}",
        tally(&server.handle)
    );

    let mut leaver = connect(server.addr);
    ask(&mut leaver, "HELLO l\n", "HI l\n");
    leaver.shutdown(Shutdown::Both).unwrap();
    drop(leaver);
    assert!(
        eventually(|| tally(&server.handle).closes == [CloseReason::Done, CloseReason::Eof]),
        "{:?}",
        tally(&server.handle)
    );
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Done), 1, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::Eof), 1, "{stats:?}");
    assert_eq!(stats.closed_total(), 2, "{stats:?}");
}
