//! The echo server (`examples/echo_server.rs`) over real TCP on 127.0.0.1:
//! payloads up to 8 MiB, pipelining, hundreds of clients, half-close,
//! backpressure against a client that does not read, and a client reset.

mod support;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread;

use echo_server::Echo;
use support::{WAIT, connect, eventually, read_exact, read_to_close, round_trip, start, stats_of};
use twig::{CloseReason, Handle, Stats};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Length of the pattern table: odd and not a power of two, so data that
/// arrives shifted by any buffer-sized amount does not match.
const TABLE_LEN: usize = MIB + 7;

/// A fixed pseudo-random table; payloads are windows of it (repeating), so
/// any byte lost, duplicated or reordered shows.
fn table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut table = Vec::with_capacity(TABLE_LEN + 8);
        while table.len() < TABLE_LEN {
            // splitmix64
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            table.extend_from_slice(&z.to_le_bytes());
        }
        table.truncate(TABLE_LEN);
        table
    })
}

/// Fills `buf` with the pattern bytes at positions `start..start + buf.len()`.
fn fill(start: usize, buf: &mut [u8]) {
    let table = table();
    let mut at = start % TABLE_LEN;
    let mut done = 0;
    while done < buf.len() {
        let n = (TABLE_LEN - at).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&table[at..at + n]);
        done += n;
        at = 0;
    }
}

/// `len` pattern bytes starting at position `start`.
fn pattern(start: usize, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    fill(start, &mut buf);
    buf
}

/// Asserts `got == want` without printing megabytes when they differ.
fn check_same(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: got {} bytes, expected {}; first difference at byte {}",
        got.len(),
        want.len(),
        first.map_or("(none: one is a prefix of the other)".into(), |i| i
            .to_string()),
    );
}

/// Writes `payload` from a second thread while this one reads the echo, so
/// neither side can deadlock on full buffers; then half-closes and checks
/// nothing more comes back.
fn echo_payload(size: usize) {
    let server = start(|| Echo);
    let payload = Arc::new(pattern(size, size));
    let mut stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sent = Arc::clone(&payload);
    let writer = thread::spawn(move || writer.write_all(&sent));
    let mut got = vec![0; size];
    stream
        .read_exact(&mut got)
        .unwrap_or_else(|e| panic!("reading the {size}-byte echo: {e}"));
    writer
        .join()
        .expect("writer panicked")
        .expect("write the payload");
    check_same(&got, &payload, &format!("echo of {size} bytes"));

    // Nothing extra: after our FIN the server flushes and closes.
    stream.shutdown(Shutdown::Write).unwrap();
    let extra = read_to_close(&mut stream);
    assert!(
        extra.is_empty(),
        "{} extra bytes after the echo",
        extra.len()
    );
    let stats = stats_of(&server.handle);
    assert_eq!(stats.bytes_in, size as u64, "{stats}");
}

#[test]
fn echo_1_byte() {
    echo_payload(1);
}

#[test]
fn echo_1_kib() {
    echo_payload(KIB);
}

#[test]
fn echo_64_kib() {
    echo_payload(64 * KIB);
}

#[test]
fn echo_1_mib() {
    echo_payload(MIB);
}

#[test]
fn echo_8_mib() {
    echo_payload(8 * MIB);
}

#[test]
fn pipelined_messages_come_back_in_order() {
    let server = start(|| Echo);
    let mut stream = connect(server.addr);
    stream.set_nodelay(true).unwrap();
    // 32 messages (~30 KiB in all, well under the socket buffers), written
    // back to back before reading anything.
    let mut at = 0;
    let messages: Vec<Vec<u8>> = (0..32)
        .map(|i| {
            let mut message = format!("<message {i}>").into_bytes();
            let len = 1 + i * 61;
            message.extend_from_slice(&pattern(at, len));
            at += len;
            message
        })
        .collect();
    for message in &messages {
        stream.write_all(message).expect("write");
    }
    let want = messages.concat();
    let got = read_exact(&mut stream, want.len());
    check_same(&got, &want, "pipelined echo");

    // The connection stays usable.
    assert_eq!(round_trip(&mut stream, b"and one more"), b"and one more");
    stream.shutdown(Shutdown::Write).unwrap();
    assert!(read_to_close(&mut stream).is_empty());
}

#[test]
fn hundreds_of_concurrent_clients_each_several_round_trips() {
    const CLIENTS: usize = 300;
    const ROUNDS: usize = 5;
    let server = start(|| Echo);
    let addr = server.addr;
    // Clients plus this thread, which checks that all are open at once.
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));

    fn message(client: usize, round: usize) -> Vec<u8> {
        let len = 1 + (client * 37 + round * 1013) % (8 * KIB);
        pattern(client * 7919 + round * 104_729, len)
    }
    fn one_round(stream: &mut TcpStream, client: usize, round: usize) -> io::Result<()> {
        let sent = message(client, round);
        stream.write_all(&sent)?;
        let mut got = vec![0; sent.len()];
        stream.read_exact(&mut got)?;
        if got != sent {
            return Err(io::Error::other(format!(
                "client {client} round {round}: echo differs"
            )));
        }
        Ok(())
    }
    fn open(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(WAIT))?;
        stream.set_write_timeout(Some(WAIT))?;
        Ok(stream)
    }

    // Clients start in batches: a batch starts once the previous one has
    // had its first echo (so the server has accepted it). That keeps the
    // connects not yet accepted under the listen backlog (128), whose
    // overflow would cost a 1 s SYN retransmission, while all 300 end up
    // connected at once.
    const BATCH: usize = 100;
    let (first_done, first_done_rx) = std::sync::mpsc::channel();
    let mut threads = Vec::with_capacity(CLIENTS);
    for client in 0..CLIENTS {
        let barrier = Arc::clone(&barrier);
        let first_done = first_done.clone();
        threads.push(thread::spawn(move || -> io::Result<()> {
            let first = open(addr).and_then(|mut stream| {
                one_round(&mut stream, client, 0)?;
                Ok(stream)
            });
            let _ = first_done.send(());
            // Both waits are reached whatever happened: no hang.
            barrier.wait();
            barrier.wait();
            let mut stream = first?;
            for round in 1..ROUNDS {
                one_round(&mut stream, client, round)?;
            }
            Ok(())
        }));
        if (client + 1) % BATCH == 0 {
            for _ in 0..BATCH {
                first_done_rx
                    .recv_timeout(WAIT)
                    .expect("a client finished its first round");
            }
        }
    }

    barrier.wait(); // every client has had its first echo, none has closed
    let during = stats_of(&server.handle);
    barrier.wait();
    for (i, thread) in threads.into_iter().enumerate() {
        thread
            .join()
            .expect("client thread panicked")
            .unwrap_or_else(|e| panic!("client {i}: {e}"));
    }
    assert_eq!(
        during.active, CLIENTS as u64,
        "all clients open at once: {during}"
    );
    let total: u64 = (0..CLIENTS)
        .flat_map(|c| (0..ROUNDS).map(move |r| message(c, r).len() as u64))
        .sum();
    assert!(
        eventually(|| stats_of(&server.handle).closed_total() == CLIENTS as u64),
        "not every connection closed: {}",
        stats_of(&server.handle)
    );
    let stats = stats_of(&server.handle);
    assert_eq!(stats.bytes_in, total, "{stats}");
    assert_eq!(stats.bytes_out, total, "{stats}");
    assert_eq!(stats.closed(CloseReason::Eof), CLIENTS as u64, "{stats}");
}

#[test]
fn half_close_gets_everything_back_then_eof() {
    let server = start(|| Echo);
    let payload = Arc::new(pattern(12_345, 2 * MIB));
    let mut stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sent = Arc::clone(&payload);
    let writer = thread::spawn(move || -> io::Result<()> {
        writer.write_all(&sent)?;
        writer.shutdown(Shutdown::Write)
    });
    // read_to_close only returns at EOF: the server closes after flushing.
    let got = read_to_close(&mut stream);
    writer
        .join()
        .expect("writer panicked")
        .expect("write, then shutdown(Write)");
    check_same(&got, &payload, "echo before EOF");
    assert!(
        eventually(|| stats_of(&server.handle).closed(CloseReason::Eof) == 1),
        "the server did not close for EOF: {}",
        stats_of(&server.handle)
    );
}

/// The server's counters and buffered bytes, read together on its loop.
fn probe<S: 'static>(handle: &Handle<S>) -> (Stats, usize) {
    let (tx, rx) = std::sync::mpsc::channel();
    handle.post(move |core| {
        let _ = tx.send((core.stats().clone(), core.buffered_bytes()));
    });
    rx.recv_timeout(WAIT).expect("the loop answered")
}

/// An upper bound on the bytes the kernel can hold between a client and the
/// server, both ways: two send buffers and two receive buffers, each at most
/// the autotuning maximum (the third field of `tcp_wmem` / `tcp_rmem`).
fn kernel_buffering_bound() -> usize {
    let max_of = |path: &str, default: usize| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.split_whitespace().nth(2)?.parse().ok())
            .unwrap_or(default)
    };
    let rmem = max_of("/proc/sys/net/ipv4/tcp_rmem", 32 * MIB);
    let wmem = max_of("/proc/sys/net/ipv4/tcp_wmem", 32 * MIB);
    2 * (rmem + wmem)
}

#[test]
fn slow_reader_is_backpressured_with_bounded_server_memory() {
    /// What the server may hold for one connection.
    const BOUND: usize = MIB;
    const CHUNK: usize = 64 * KIB;
    let server = start(|| Echo);
    // More than the kernel could ever absorb, so the writer must block.
    let total = (32 * MIB).max(kernel_buffering_bound() + 8 * MIB);
    let mut stream = connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let sent = Arc::clone(&sent);
        thread::spawn(move || -> io::Result<()> {
            let mut chunk = vec![0; CHUNK];
            let mut at = 0;
            while at < total {
                let len = CHUNK.min(total - at);
                fill(at, &mut chunk[..len]);
                let mut done = 0;
                while done < len {
                    let n = writer.write(&chunk[done..len])?;
                    done += n;
                    sent.fetch_add(n, Ordering::Release);
                }
                at += len;
            }
            Ok(())
        })
    };

    // The client reads nothing. Wait for the steady state: the server owes
    // bytes it cannot write (so it reads nothing), and neither the writer
    // nor the server's input advance over several consecutive checks.
    const STEADY: usize = 5;
    let mut samples: Vec<(usize, u64, usize)> = Vec::new();
    let mut most_buffered = 0;
    let steady = eventually(|| {
        let (stats, buffered) = probe(&server.handle);
        most_buffered = most_buffered.max(buffered);
        samples.push((sent.load(Ordering::Acquire), stats.bytes_in, buffered));
        let last = &samples[samples.len().saturating_sub(STEADY)..];
        last.len() == STEADY
            && last.iter().all(|s| *s == last[0])
            && last[0].2 > 0
            && last[0].0 < total
    });
    let &(sent_then, bytes_in_then, _) = samples.last().unwrap();
    assert!(
        steady,
        "the writer never settled blocked: last samples (sent, bytes_in, buffered) {:?} of {total}",
        &samples[samples.len().saturating_sub(STEADY)..]
    );
    assert!(
        most_buffered < BOUND,
        "the server buffered {most_buffered} bytes for a client that does not read"
    );
    assert!(
        (bytes_in_then as usize) < total && sent_then < total,
        "backpressure did not reach the writer: server read {bytes_in_then}, client sent {sent_then} of {total}"
    );
    assert!(
        !writer.is_finished(),
        "the writer finished without a reader"
    );

    // Now read everything back, checking each chunk as it comes.
    let mut buf = vec![0; CHUNK];
    let mut want = vec![0; CHUNK];
    let mut at = 0;
    while at < total {
        let len = CHUNK.min(total - at);
        stream
            .read_exact(&mut buf[..len])
            .unwrap_or_else(|e| panic!("reading the echo at byte {at} of {total}: {e}"));
        fill(at, &mut want[..len]);
        check_same(&buf[..len], &want[..len], &format!("echo at byte {at}"));
        at += len;
    }
    writer
        .join()
        .expect("writer panicked")
        .expect("the writer resumed and finished");
    assert_eq!(sent.load(Ordering::Acquire), total);
    stream.shutdown(Shutdown::Write).unwrap();
    assert!(
        read_to_close(&mut stream).is_empty(),
        "extra bytes at the end"
    );
    let (stats, buffered) = probe(&server.handle);
    assert_eq!(stats.bytes_in, total as u64, "{stats}");
    assert_eq!(stats.bytes_out, total as u64, "{stats}");
    assert_eq!(buffered, 0);
}

#[test]
fn a_client_reset_does_not_disturb_another_client() {
    let server = start(|| Echo);
    let addr = server.addr;

    // Client B echoes continuously on its own thread until told to stop.
    let rounds = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let b = {
        let (rounds, stop) = (Arc::clone(&rounds), Arc::clone(&stop));
        thread::spawn(move || -> io::Result<(usize, TcpStream)> {
            let mut stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(WAIT))?;
            stream.set_write_timeout(Some(WAIT))?;
            let mut round = 0;
            while !stop.load(Ordering::Acquire) {
                let sent = pattern(round * 977, 1 + round % 3000);
                stream.write_all(&sent)?;
                let mut got = vec![0; sent.len()];
                stream.read_exact(&mut got)?;
                if got != sent {
                    return Err(io::Error::other(format!("B round {round}: echo differs")));
                }
                round += 1;
                rounds.store(round, Ordering::Release);
            }
            // A final exchange split across writes, then a clean close.
            stream.write_all(b"still ")?;
            stream.write_all(b"here")?;
            let mut got = [0; 10];
            stream.read_exact(&mut got)?;
            if &got != b"still here" {
                return Err(io::Error::other("B: last echo differs"));
            }
            Ok((round, stream)) // still open
        })
    };
    assert!(
        eventually(|| rounds.load(Ordering::Acquire) >= 10 || b.is_finished()),
        "B never got going"
    );

    // Client A sends, lets the echo arrive unread, sends more, and is
    // dropped with unread data: Linux answers with a reset.
    let mut a = connect(addr);
    a.write_all(&pattern(0, 16 * KIB)).unwrap();
    let mut peek = [0u8; 1];
    assert_eq!(a.peek(&mut peek).expect("A's echo arrives"), 1);
    a.write_all(&pattern(16 * KIB, 16 * KIB)).unwrap();
    drop(a);

    assert!(
        eventually(|| stats_of(&server.handle).closed_total() >= 1),
        "the server never closed A: {}",
        stats_of(&server.handle)
    );
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::Reset), 1, "A was reset: {stats}");
    assert_eq!(stats.active, 1, "only B is left: {stats}");

    // B goes on being served after the reset.
    let at_reset = rounds.load(Ordering::Acquire);
    assert!(
        eventually(|| rounds.load(Ordering::Acquire) >= at_reset + 10 || b.is_finished()),
        "B stalled after A's reset"
    );
    stop.store(true, Ordering::Release);
    let (done, b_stream) = b
        .join()
        .expect("B panicked")
        .unwrap_or_else(|e| panic!("B: {e}"));
    assert!(done >= at_reset + 10);
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed_total(), 1, "B is still open: {stats}");
    assert_eq!(stats.active, 1, "B is still open: {stats}");
    drop(b_stream);
}
