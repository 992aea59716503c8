//! The bare-mio echo server (`examples/bare_reactor.rs`) passes the same echo
//! checks as twig's: byte-exact payloads, pipelining, many clients at once,
//! half-close, and a client's reset that disturbs nobody else.
//!
//! Each test starts its own reactor on `127.0.0.1:0` in a thread that is
//! leaked when the test ends (the example has no stop switch, to stay short).

#[path = "../examples/bare_reactor.rs"]
#[allow(dead_code)] // `main` is not used here
mod bare_reactor;
mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use support::{WAIT, connect, read_exact, read_to_close, round_trip};

/// Starts the reactor in a background thread and returns its address.
fn start() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let result = bare_reactor::run(addr, move |bound| {
            let _ = tx.send(bound);
        });
        if let Err(e) = result {
            panic!("bare_reactor::run: {e}");
        }
    });
    rx.recv_timeout(WAIT).expect("the reactor started")
}

/// `len` pseudo-random bytes (xorshift), so a reordered or dropped chunk shows.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Asserts two byte strings are equal without printing megabytes.
fn assert_same(got: &[u8], want: &[u8]) {
    let first_diff = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        got.len() == want.len() && first_diff.is_none(),
        "got {} bytes, want {}; first difference at {first_diff:?}",
        got.len(),
        want.len()
    );
}

/// Sends `bytes` from a writer thread while this thread reads the echo, so
/// payloads larger than the socket buffers cannot deadlock; checks it.
fn echo_through(stream: &mut TcpStream, bytes: Vec<u8>) {
    let mut writer = stream.try_clone().expect("clone the socket");
    let len = bytes.len();
    let sender = thread::spawn(move || {
        writer.write_all(&bytes).expect("write");
        bytes
    });
    let got = read_exact(stream, len);
    let sent = sender.join().expect("writer thread");
    assert_same(&got, &sent);
}

#[test]
fn payloads_of_1_byte_64_kib_and_4_mib_come_back_byte_exact() {
    let addr = start();
    let mut stream = connect(addr);
    for (len, seed) in [(1, 1), (64 * 1024, 2), (4 * 1024 * 1024, 3)] {
        echo_through(&mut stream, payload(len, seed));
    }
    // Then a clean end: our FIN, the server's FIN, nothing extra.
    stream.shutdown(Shutdown::Write).expect("shutdown");
    assert!(read_to_close(&mut stream).is_empty());

    // Each size on a connection of its own, too.
    for (len, seed) in [(1, 4), (64 * 1024, 5), (4 * 1024 * 1024, 6)] {
        echo_through(&mut connect(addr), payload(len, seed));
    }
}

#[test]
fn pipelined_messages_come_back_in_order() {
    let addr = start();
    let mut stream = connect(addr);
    for round in 0..3 {
        let mut sent = Vec::new();
        // ~15 KB in 1000 writes before reading anything: fits in the socket
        // buffers, so writing it all first cannot deadlock.
        for i in 0..1000 {
            let message = format!("round {round} request {i}\n");
            stream.write_all(message.as_bytes()).expect("write");
            sent.extend_from_slice(message.as_bytes());
        }
        assert_same(&read_exact(&mut stream, sent.len()), &sent);
    }
}

#[test]
fn two_hundred_concurrent_clients_each_get_their_own_bytes() {
    const CLIENTS: usize = 200;
    let addr = start();
    // Everyone connects before anyone talks: all 200 are open at once.
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(addr)).collect();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for round in 0..5 {
                    let bytes = payload(1000 + i, (i * 10 + round) as u64);
                    assert_same(&round_trip(&mut stream, &bytes), &bytes);
                }
                stream.shutdown(Shutdown::Write).expect("shutdown");
                assert!(read_to_close(&mut stream).is_empty());
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }
}

#[test]
fn half_close_gets_everything_echoed_then_eof() {
    let addr = start();
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().expect("clone the socket");
    let bytes = payload(2 * 1024 * 1024, 7);
    let sender = thread::spawn(move || {
        writer.write_all(&bytes).expect("write");
        // Half-close: no more requests, but the replies are still wanted.
        writer.shutdown(Shutdown::Write).expect("shutdown");
        bytes
    });
    let got = read_to_close(&mut stream); // all of it, then the server's FIN
    let sent = sender.join().expect("writer thread");
    assert_same(&got, &sent);
}

/// Fills both directions without reading, then closes with echoed bytes
/// unread: the kernel answers that close with a reset (RST), not a FIN.
fn reset_mid_stream(addr: SocketAddr) {
    let mut rude = connect(addr);
    rude.set_nonblocking(true).expect("nonblocking");
    let chunk = [0x5a; 64 * 1024];
    loop {
        match rude.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    rude.set_nonblocking(false).expect("blocking");
    // Wait (bounded by the read timeout) until echoed bytes sit unread.
    let mut byte = [0; 1];
    assert_eq!(rude.peek(&mut byte).expect("echo arrives"), 1);
    drop(rude);
}

#[test]
fn a_client_resetting_mid_stream_does_not_disturb_another() {
    let addr = start();
    let mut steady = connect(addr);
    let steady_thread = thread::spawn(move || {
        for seed in 10..14 {
            echo_through(&mut steady, payload(1024 * 1024, seed));
        }
        steady
    });
    for _ in 0..10 {
        reset_mid_stream(addr);
    }
    let mut steady = steady_thread.join().expect("steady client");
    // The steady client still works, and so does the listener.
    echo_through(&mut steady, payload(64 * 1024, 20));
    let mut late = connect(addr);
    let bytes = payload(4096, 21);
    assert_same(&round_trip(&mut late, &bytes), &bytes);
    late.shutdown(Shutdown::Write).expect("shutdown");
    let mut rest = Vec::new();
    late.read_to_end(&mut rest).expect("read until EOF");
    assert!(rest.is_empty());
}

#[test]
fn a_client_that_stops_reading_is_held_back_then_gets_everything() {
    // The client writes until its socket is full, reading nothing. The
    // server's writes then block: it must stop reading, keep what it owes,
    // and once the client reads, flush and resume reading bytes that arrived
    // long ago, without a new readable edge.
    let addr = start();
    let mut stream = connect(addr);
    let pattern = payload(1_000_003, 9); // a prime period: chunks never align
    stream.set_nonblocking(true).expect("nonblocking");
    let mut sent = 0;
    // The bound only keeps a server without backpressure from eating memory.
    while sent < 256 * 1024 * 1024 {
        match stream.write(&pattern[sent % pattern.len()..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    stream.set_nonblocking(false).expect("blocking");
    let got = read_exact(&mut stream, sent);
    let want: Vec<u8> = pattern.iter().cycle().take(sent).copied().collect();
    assert_same(&got, &want);
}
