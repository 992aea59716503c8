//! The contract checks of debug builds (`src/reactor/contracts.rs`): each
//! test provokes one broken rule and finds its one log line, naming the
//! connection (its id and peer), then runs the same kind of traffic well
//! behaved and finds nothing. Two rules cannot be broken through the public
//! API (they are twig's own): their tests use the hidden test hooks that
//! simulate the bug, `contract_test_skip_reads` and
//! `contract_test_lose_deadline`.
//!
//! This binary installs a capturing logger (`support::logs`, process-wide);
//! each test finds its own lines by its client's address. Release builds
//! have no checks, so there is nothing to test there.
#![cfg(debug_assertions)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::logs::{capture, matching};
use twig::{After, Core, Ctx, Frame, Protocol, Server, framing};

/// The server's state: the busy timer loop runs until `stop`; `pieces`
/// counts the pieces of a well-behaved chunked job.
#[derive(Default)]
struct Flags {
    stop: bool,
    pieces: u32,
}

/// A line echo with commands that break a contract, or behave.
struct Lines;

impl Protocol<Flags> for Lines {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, Flags>) -> After {
        let id = ctx.id();
        match line {
            b"id\n" => {
                ctx.write(format!("{id}\n").as_bytes());
                return After::KeepOpen;
            }
            b"sleep\n" => std::thread::sleep(Duration::from_millis(20)), // blocks the loop
            b"strand\n" => ctx.contract_test_skip_reads(id),
            b"lose\n" => ctx.contract_test_lose_deadline(id),
            b"spin\n" => {
                ctx.call_later(Duration::ZERO, spin);
            }
            b"chunks\n" => {
                ctx.call_later(Duration::ZERO, piece);
            }
            b"pause\n" => {
                // Public pause and resume, with input arriving meanwhile.
                ctx.pause_reading(id);
                ctx.call_later(Duration::from_millis(5), move |core| {
                    core.resume_reading(id);
                });
            }
            b"bye\n" => {
                ctx.write(line);
                return After::Close;
            }
            _ => {}
        }
        ctx.write(line);
        After::KeepOpen
    }
}

/// A timer that re-arms itself with zero delay until told to stop: a busy
/// loop.
fn spin(core: &mut Core<Flags>) {
    if !core.state().stop {
        core.call_later(Duration::ZERO, spin);
    }
}

/// One piece of a chunked job of 500: a zero-delay chain too short to name.
fn piece(core: &mut Core<Flags>) {
    core.state().pieces += 1;
    if core.state().pieces < 500 {
        core.call_later(Duration::ZERO, piece);
    }
}

/// A server with `builder`'s limits and a 1 ms repeating timer (a
/// well-behaved one, which must never be named).
fn serve(builder: twig::Builder) -> support::Running<Flags> {
    support::start_with(
        builder,
        Flags::default(),
        || Lines,
        |server| {
            server.core().every(Duration::from_millis(1), |_| {});
        },
    )
}

/// A client, the name the server's logs give it (`#key.generation peer`),
/// and its address.
fn client(server: &support::Running<Flags>) -> (TcpStream, String, SocketAddr) {
    let mut client = support::connect(server.addr);
    let me = client.local_addr().unwrap();
    let id = line(&mut client, b"id\n");
    (client, format!("{} {me}", id.trim_end()), me)
}

/// Like `round_trip`, for replies whose length the caller does not know.
fn line(client: &mut TcpStream, send: &[u8]) -> String {
    client.write_all(send).unwrap();
    let mut reply = String::new();
    BufReader::new(client).read_line(&mut reply).unwrap();
    reply
}

/// Contract lines naming `who`.
fn contract_lines(who: &str) -> Vec<String> {
    matching(who)
        .into_iter()
        .filter(|l| l.contains("[contract:"))
        .collect()
}

/// Runs a few turns of the loop: whatever a check would log about what came
/// before is logged by then.
fn settle(server: &support::Running<Flags>) {
    for _ in 0..3 {
        support::ask(&server.handle, |_| ());
    }
}

#[test]
fn a_blocking_callback_is_named_once_per_connection() {
    capture();
    let server = serve(Server::builder()); // the debug default: 10 ms
    let (mut client, who, _) = client(&server);
    for _ in 0..20 {
        assert_eq!(line(&mut client, b"fast\n"), "fast\n");
    }
    assert!(
        contract_lines(&who).is_empty(),
        "{:?}",
        contract_lines(&who)
    );

    assert_eq!(line(&mut client, b"sleep\n"), "sleep\n");
    assert_eq!(line(&mut client, b"sleep\n"), "sleep\n");
    // Logged before the reply was written: both are there now.
    let found = contract_lines(&who);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("WARN"), "{}", found[0]);
    assert!(
        found[0].contains(&format!("{who}: reply blocked the loop for")),
        "{}",
        found[0]
    );
    assert!(found[0].contains("(limit 10ms)"), "{}", found[0]);
    assert!(found[0].contains("[contract: callbacks must not block]"));
    assert!(
        found[1].starts_with("DEBUG"),
        "the second is quiet: {}",
        found[1]
    );
}

#[test]
fn bytes_stranded_in_the_socket_are_named() {
    capture();
    let server = serve(Server::builder().linger_timeout(Duration::from_millis(50)));
    // Well behaved: bursts, pipelining, a pause and a resume with input
    // arriving meanwhile.
    let (mut good, good_who, _) = client(&server);
    for _ in 0..50 {
        good.write_all(b"a\nb\nc\n").unwrap();
        assert_eq!(support::read_exact(&mut good, 6), b"a\nb\nc\n");
    }
    assert_eq!(line(&mut good, b"pause\n"), "pause\n");
    assert_eq!(line(&mut good, b"after pause\n"), "after pause\n");
    settle(&server);
    assert!(
        contract_lines(&good_who).is_empty(),
        "{:?}",
        contract_lines(&good_who)
    );

    let (mut bad, who, _) = client(&server);
    assert_eq!(line(&mut bad, b"strand\n"), "strand\n");
    bad.write_all(b"more\n").unwrap(); // its readable edge is dropped: stranded
    let needle = format!("{who}: 5 bytes wait in the socket");
    let found = support::eventually(|| {
        server.handle.post(|_| {}); // a turn: the suspect's next poll
        !matching(&needle).is_empty()
    });
    assert!(found, "no stranded-read line for {who}");
    settle(&server);
    let found = contract_lines(&who);
    assert_eq!(found.len(), 1, "once per connection: {found:?}");
    assert!(found[0].starts_with("ERROR"), "{}", found[0]);
    assert!(found[0].contains("[contract: read until WouldBlock"));
}

#[test]
fn a_lingering_connection_past_its_deadline_is_named() {
    capture();
    let server = serve(Server::builder().linger_timeout(Duration::from_millis(50)));
    // Well behaved: the client keeps its side open after our close, and
    // the linger deadline closes the connection.
    let (mut good, good_who, _) = client(&server);
    good.write_all(b"bye\n").unwrap();
    assert_eq!(support::read_to_close(&mut good), b"bye\n");
    assert!(support::eventually(|| support::stats_of(&server.handle)
        .active
        == 0));
    settle(&server);
    assert!(
        contract_lines(&good_who).is_empty(),
        "{:?}",
        contract_lines(&good_who)
    );

    let (mut bad, who, _) = client(&server);
    assert_eq!(line(&mut bad, b"lose\n"), "lose\n");
    bad.write_all(b"bye\n").unwrap();
    assert_eq!(support::read_to_close(&mut bad), b"bye\n"); // now Lingering
    let needle = format!("{who}: still Lingering");
    let found = support::eventually(|| {
        server.handle.post(|_| {}); // a turn, to look again
        !matching(&needle).is_empty()
    });
    assert!(found, "no past-deadline line for {who}");
    settle(&server);
    let found = contract_lines(&who);
    assert_eq!(found.len(), 1, "once per connection: {found:?}");
    assert!(found[0].starts_with("ERROR"), "{}", found[0]);
    assert!(found[0].contains("past its deadline"), "{}", found[0]);
    assert!(found[0].contains("[contract: Closing and Lingering end at their deadline"));
    drop(bad); // its FIN ends the linger
}

#[test]
fn a_timer_that_re_arms_itself_with_zero_delay_is_named() {
    capture();
    let server = serve(Server::builder());
    // Well behaved: a job cut into 500 zero-delay pieces, and the 1 ms timer.
    let (mut good, good_who, _) = client(&server);
    assert_eq!(line(&mut good, b"chunks\n"), "chunks\n");
    assert!(support::eventually(|| support::ask(
        &server.handle,
        |core| core.state().pieces == 500
    )));
    settle(&server);
    assert!(
        contract_lines(&good_who).is_empty(),
        "{:?}",
        contract_lines(&good_who)
    );

    let (mut bad, who, _) = client(&server);
    assert_eq!(line(&mut bad, b"spin\n"), "spin\n");
    let needle = format!("{who}: timer#");
    assert!(
        support::eventually(|| !matching(&needle).is_empty()),
        "no busy-loop line for {who}"
    );
    support::ask(&server.handle, |core| core.state().stop = true);
    settle(&server);
    let found = contract_lines(&who);
    assert_eq!(found.len(), 1, "once per chain: {found:?}");
    assert!(found[0].starts_with("WARN"), "{}", found[0]);
    assert!(
        found[0].contains("zero-delay timer in a row"),
        "{}",
        found[0]
    );
    assert!(found[0].contains("[contract: no busy loop on timers"));
}
