//! Per-connection timeouts on a real loop: idle, request (slowloris) and
//! write (a peer that stops reading), plus `Builder::timeouts_from_env`
//! through the example binary.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::process::Proc;
use support::{connect, round_trip, start_with, stats_of};
use twig::{After, CloseReason, Ctx, Frame, Protocol, Server, framing};

use echo_server::Echo;

/// Waits until the server closes `stream`: EOF, or a reset. Panics on
/// anything else (such as the `WAIT` read timeout).
fn wait_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the server to close the connection: {e}"),
        }
    }
}

#[test]
fn idle_timeout_closes_a_silent_client_but_not_an_active_one() {
    let timeout = Duration::from_millis(300);
    let running = start_with(
        Server::builder().idle_timeout(Some(timeout)),
        (),
        || Echo,
        |_| {},
    );
    let addr = running.addr;
    let silent = std::thread::spawn(move || {
        let started = Instant::now();
        let mut stream = connect(addr);
        wait_closed(&mut stream);
        started.elapsed()
    });

    // The active client completes a request every ~1/3 of the timeout, for
    // more than three timeout periods. The sleeps are the workload (a client
    // that pauses between requests), not synchronization: each round trip
    // itself waits for its reply.
    let mut active = connect(addr);
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < timeout * 3 + timeout / 2 {
        let msg = format!("round {rounds}");
        assert_eq!(round_trip(&mut active, msg.as_bytes()), msg.as_bytes());
        rounds += 1;
        std::thread::sleep(timeout / 3);
    }
    assert!(rounds >= 10, "{rounds} rounds");

    let silent_lived = silent.join().expect("silent client closed");
    assert!(
        silent_lived >= timeout - Duration::from_millis(20),
        "closed before the idle timeout: {silent_lived:?}"
    );
    assert!(silent_lived < timeout * 4, "closed late: {silent_lived:?}");

    let stats = stats_of(&running.handle);
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 1);
    assert_eq!(stats.active, 1, "the active client is still connected");
    assert_eq!(round_trip(&mut active, b"last"), b"last");
    drop(active);
    running.stop();
}

/// One line in, the same line out.
struct Lines;

impl Protocol for Lines {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx) -> After {
        ctx.write(request);
        After::KeepOpen
    }
}

#[test]
fn request_timeout_closes_a_slowloris_while_others_are_served() {
    let timeout = Duration::from_millis(300);
    let running = start_with(
        Server::builder()
            .request_timeout(Some(timeout))
            .idle_timeout(Some(Duration::from_secs(5))),
        (),
        || Lines,
        |_| {},
    );

    // The slow client sends one byte every 50 ms and never a newline. The
    // pacing is the attack being tested, not synchronization; it is bounded
    // (at most 80 bytes) and stops as soon as the server closes.
    let mut slow = connect(running.addr);
    let mut slow_writer = slow.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer_done = done.clone();
    let first_byte = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < 80 && !writer_done.load(Ordering::Relaxed) {
            if slow_writer.write_all(b"x").is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        sent
    });

    // Meanwhile another client is served normally.
    let mut good = connect(running.addr);
    for i in 0..3 {
        let line = format!("line {i}\n");
        assert_eq!(round_trip(&mut good, line.as_bytes()), line.as_bytes());
    }

    wait_closed(&mut slow);
    let lived = first_byte.elapsed();
    done.store(true, Ordering::Relaxed);
    let sent = writer.join().unwrap();
    assert!(
        lived >= timeout - Duration::from_millis(20),
        "closed before the request timeout: {lived:?}"
    );
    assert!(
        lived < timeout * 4,
        "closed late: {lived:?} ({sent} bytes sent)"
    );
    assert!(sent >= 4, "it kept sending: {sent} bytes");

    assert_eq!(round_trip(&mut good, b"after\n"), b"after\n");
    let stats = stats_of(&running.handle);
    assert_eq!(stats.closed(CloseReason::RequestTimeout), 1);
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 0);
    assert_eq!(stats.active, 1, "the good client is still connected");
    drop(good);
    running.stop();
}

#[test]
fn write_timeout_closes_a_client_that_never_reads() {
    let timeout = Duration::from_millis(200);
    let running = start_with(
        Server::builder().write_timeout(Some(timeout)),
        (),
        || Echo,
        |_| {},
    );

    // Sends up to 256 MiB and never reads the echo: the server's replies
    // back up, it stops reading (backpressure), and the client's writes block
    // until the server gives up on it.
    let hog = connect(running.addr);
    let mut hog_writer = hog.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'h'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 256 << 20 {
            if let Err(e) = hog_writer.write_all(&chunk) {
                return Err((e.kind(), sent));
            }
            sent += chunk.len();
        }
        Ok(sent)
    });

    // Another client is served meanwhile.
    let mut good = connect(running.addr);
    assert_eq!(round_trip(&mut good, b"hello"), b"hello");

    let result = writer.join().unwrap();
    match result {
        Err((kind, sent)) => assert!(
            matches!(
                kind,
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "writer failed with {kind:?} after {sent} bytes, expected a reset"
        ),
        Ok(sent) => panic!("the server took all {sent} bytes and never closed"),
    }
    drop(hog);

    assert_eq!(round_trip(&mut good, b"still served"), b"still served");
    let stats = stats_of(&running.handle);
    assert_eq!(stats.closed(CloseReason::WriteTimeout), 1, "{stats}");
    assert_eq!(stats.active, 1);
    drop(good);
    running.stop();
}

// ---- timeouts_from_env, through the example binary ----
//
// Setting environment variables in this (multi-threaded) test process is
// `unsafe` in edition 2024 and racy with other tests, so the variables are
// given to a child process instead: the echo example, which builds its server
// with `timeouts_from_env`.

#[test]
fn timeouts_from_env_are_read_by_the_example() {
    // " 1 " checks the value is trimmed; "soon" must be ignored with a warning.
    let mut proc = Proc::spawn(
        "echo_server",
        &[("IDLE_TIMEOUT_SECS", " 1 "), ("WRITE_TIMEOUT_SECS", "soon")],
    );
    let addr = proc.bound_addr("echoing on ");
    let warned = proc
        .seen
        .iter()
        .any(|l| l.contains("ignoring WRITE_TIMEOUT_SECS"));
    assert!(warned, "no warning for the bad value: {:#?}", proc.seen);

    let started = Instant::now();
    let mut silent = connect(addr);
    wait_closed(&mut silent);
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_millis(950),
        "closed before the 1 s idle timeout: {lived:?}"
    );
    assert!(lived < Duration::from_secs(3), "closed late: {lived:?}");

    proc.signal("TERM");
    let (status, lines) = proc.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}; output: {lines:#?}");
    let summary = lines
        .iter()
        .find(|l| l.contains("twig stopped"))
        .unwrap_or_else(|| panic!("no summary line: {lines:#?}"));
    assert!(
        summary.contains("idle-timeout 1"),
        "summary does not count the idle timeout: {summary}"
    );
}

#[test]
fn a_partial_request_then_silence_is_closed_at_the_idle_timeout() {
    // The request timeout is far away: only the idle rule ("no byte for
    // IDLE, whether or not a request is in progress") can close it in time.
    let idle = Duration::from_millis(300);
    let running = start_with(
        Server::builder()
            .idle_timeout(Some(idle))
            .request_timeout(Some(Duration::from_secs(30))),
        (),
        || Lines,
        |_| {},
    );
    let started = Instant::now();
    let mut stream = connect(running.addr);
    assert_eq!(round_trip(&mut stream, b"whole\n"), b"whole\n");
    stream.write_all(b"half a line").unwrap(); // a request begun, never ended
    wait_closed(&mut stream);
    let lived = started.elapsed();
    assert!(
        lived >= idle - Duration::from_millis(20),
        "closed early: {lived:?}"
    );
    assert!(
        lived < Duration::from_secs(5),
        "closed by the request timeout? {lived:?}"
    );
    let stats = running.stop();
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 1, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::RequestTimeout), 0, "{stats:?}");
}

#[test]
fn a_request_started_late_in_the_idle_period_is_not_cut_off_while_bytes_keep_coming() {
    let idle = Duration::from_millis(400);
    let running = start_with(
        Server::builder()
            .idle_timeout(Some(idle))
            .request_timeout(Some(Duration::from_secs(30))),
        (),
        || Lines,
        |_| {},
    );
    let mut stream = connect(running.addr);
    assert_eq!(round_trip(&mut stream, b"first\n"), b"first\n");
    // Quiet for most of the idle period (the workload, not synchronization),
    // then a request dribbled over more than two idle periods: every byte
    // arrives well within IDLE of the previous one.
    std::thread::sleep(idle * 3 / 4);
    let started = Instant::now();
    for byte in b"dribbled" {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(idle / 8);
    }
    assert!(started.elapsed() > idle, "the request spans more than IDLE");
    stream.write_all(b"\n").unwrap();
    assert_eq!(support::read_exact(&mut stream, 9), b"dribbled\n");
    let stats = running.stop();
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 0, "{stats:?}");
}
