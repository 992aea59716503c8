//! Streamed responses (`twig::http::Stream`, `Producer`, `Events`) through
//! `examples/http_server.rs` and real clients: a 1 GiB generated download
//! through `curl | sha256sum` in bounded memory, an SSE stream read with
//! `curl -N`, an HTTP/1.0 stream ended by a close, and a pipelined request
//! answered after the stream before it. Skipped, with a message, where curl
//! is not installed (never under CI=true).

mod support;

#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::process::Proc;
use support::{Running, connect, have, read_to_close, start_with};
use twig::Server;
use twig::http::{Http, Limits};

fn serve() -> Running<u64> {
    let app = http_server::router();
    let limits = Limits::default();
    let builder = Server::builder().max_request_size(limits.max_head + limits.max_body + 65536);
    start_with(
        builder,
        0u64,
        move || Http::new(app.clone()).limits(limits),
        |_| {},
    )
}

/// The server's resident memory, from `/proc/PID/status`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The SHA-256 of `n` bytes of the example's pattern, from `sha256sum`
/// fed by a thread (run beside the download: the two hash in parallel).
fn expected_sha256(n: u64) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut hasher = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run sha256sum");
        let mut input = hasher.stdin.take().expect("a pipe");
        let block: Vec<u8> = http_server::stream::PATTERN.repeat(65536 / 16);
        let mut left = n;
        while left > 0 {
            let part = left.min(block.len() as u64) as usize;
            input.write_all(&block[..part]).expect("sha256sum reads");
            left -= part as u64;
        }
        drop(input);
        let out = hasher.wait_with_output().expect("sha256sum finishes");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

/// 1 GiB of `/stream` through curl and sha256sum: every byte arrives, in
/// order (the checksum matches), and the server's RSS, sampled during the
/// transfer, stays under 16 MiB: the body is made as the socket takes it,
/// never buffered whole. About 6 s in a debug build on one core.
#[test]
fn a_gibibyte_streams_in_bounded_memory() {
    if !have("curl", "--version") || !have("sha256sum", "--version") {
        return;
    }
    const BYTES: u64 = 1 << 30;
    let mut server = Proc::spawn("http_server", &[]);
    let addr = server.bound_addr("serving HTTP on ");
    let expected = expected_sha256(BYTES);
    let started = Instant::now();
    let url = format!("http://{addr}/stream?bytes={BYTES}");
    let mut download = Command::new("sh")
        .args(["-c", "curl -sS --max-time 60 \"$0\" | sha256sum", &url])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sh");
    let mut peak = 0;
    // Sampled every 20 ms until the download ends (a sampling rate, not a
    // wait for an event), bounded by a minute.
    while download.try_wait().expect("wait for sh").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "download too slow"
        );
        peak = peak.max(rss_kib(server.pid()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    let mut got = String::new();
    download
        .stdout
        .take()
        .expect("a pipe")
        .read_to_string(&mut got)
        .expect("sh output");
    let got = got.split_whitespace().next().unwrap_or("").to_string();
    let expected = expected.join().expect("the hasher thread");
    eprintln!("1 GiB streamed in {took:?}, server peak RSS {peak} KiB, sha256 {got}");
    assert_eq!(got, expected, "the body's checksum");
    assert!(peak > 0 && peak < 16 * 1024, "peak RSS {peak} KiB");
    server.signal("TERM");
    let (status, _) = server.wait_exit(Duration::from_secs(10));
    assert!(status.success());
}

/// `curl -N /events?n=5`: five events, each from a 100 ms timer, then the
/// end of the stream.
#[test]
fn server_sent_events_come_from_timers() {
    if !have("curl", "--version") {
        return;
    }
    let server = serve();
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-sSN", "--max-time", "10", "-i"])
        .arg(format!("http://{}/events?n=5", server.addr))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Content-Type: text/event-stream\r\n"),
        "{text}"
    );
    let (_, body) = text.split_once("\r\n\r\n").expect("a head");
    let want: String = (1..=5)
        .map(|i| format!("id: {i}\ndata: event {i} of 5\n\n"))
        .collect();
    assert_eq!(body, want);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "timer-driven"
    );
    server.stop();
}

/// A stream lasts longer than the idle timeout: while the response is
/// streamed the HTTP layer has paused reading, and no input timeout runs on
/// a paused connection (the client owes nothing). 12 events, 100 ms apart,
/// under an idle timeout of 300 ms; and the keep-alive connection is still
/// open, for a second request, once the stream has ended.
#[test]
fn a_stream_outlives_the_idle_timeout() {
    let app = http_server::router();
    let limits = Limits::default();
    let builder = Server::builder()
        .max_request_size(limits.max_head + limits.max_body + 65536)
        .idle_timeout(Some(Duration::from_millis(300)));
    let server = start_with(
        builder,
        0u64,
        move || Http::new(app.clone()).limits(limits),
        |_| {},
    );
    let mut client = connect(server.addr);
    client
        .write_all(b"GET /events?n=12 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let end = b"id: 12\ndata: event 12 of 12\n\n";
    while !seen.windows(end.len()).any(|w| w == end) {
        let n = client.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed mid-stream: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    // The chunked body's last chunk, then the next request on the same
    // connection (within the idle timeout, which starts again now).
    while !seen.ends_with(b"0\r\n\r\n") {
        let n = client.read(&mut buf).unwrap();
        assert!(n > 0, "closed at the end of the stream");
        seen.extend_from_slice(&buf[..n]);
    }
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = String::from_utf8(read_to_close(&mut client)).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply:?}");
    let stats = server.stop();
    assert_eq!(stats.closed(twig::CloseReason::IdleTimeout), 0, "{stats}");
}

/// HTTP/1.0 knows no chunks: the body is the bytes themselves, ended by
/// the server's close.
#[test]
fn an_http_1_0_stream_ends_with_a_close() {
    let server = serve();
    let mut socket = connect(server.addr);
    socket
        .write_all(b"GET /stream?bytes=100000 HTTP/1.0\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut socket);
    let at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8_lossy(&reply[..at]);
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(
        !head.contains("chunked") && !head.contains("Content-Length"),
        "{head}"
    );
    let want: Vec<u8> = http_server::stream::PATTERN
        .iter()
        .copied()
        .cycle()
        .take(100_000)
        .collect();
    assert!(
        reply[at..] == want[..],
        "the body, {} bytes",
        reply.len() - at
    );
    server.stop();
}

/// A request pipelined behind a stream is answered after the stream's
/// last chunk, on the same connection.
#[test]
fn a_pipelined_request_waits_for_the_stream() {
    let server = serve();
    let mut socket = connect(server.addr);
    socket
        .write_all(
            b"GET /events?n=2 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /stream?bytes=300000 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let reply = read_to_close(&mut socket);
    let text = String::from_utf8_lossy(&reply);
    let events = text
        .find("data: event 2 of 2\n\n\r\n0\r\n\r\n")
        .expect("the events, ended");
    let stream = text
        .find("\r\n0\r\n\r\nHTTP/1.1 200 OK")
        .expect("the stream, ended");
    let hello = text.find("Hello from twig!\n").expect("the hello");
    assert!(events < stream && stream < hello, "in order");
    // The generated body, with its chunk framing taken off.
    let start = text[events..].find("HTTP/1.1 200").unwrap() + events;
    let body = &reply[start..];
    let at = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut decoded = Vec::new();
    let mut rest = &body[at..];
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16).unwrap();
        rest = &rest[line + 2..];
        if size == 0 {
            break;
        }
        decoded.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    let want: Vec<u8> = http_server::stream::PATTERN
        .iter()
        .copied()
        .cycle()
        .take(300_000)
        .collect();
    assert!(decoded == want, "{} bytes decoded", decoded.len());
    server.stop();
}

/// `HEAD` of a stream: the head the `GET` would get, and no body; the
/// connection goes on.
#[test]
fn head_of_a_stream_has_no_body() {
    let server = serve();
    let mut socket = connect(server.addr);
    socket
        .write_all(
            b"HEAD /stream?bytes=10 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let text = String::from_utf8(read_to_close(&mut socket)).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    server.stop();
}

/// A producer that stops short of its declared length, or says `More`
/// and writes nothing, gets its connection closed: the client sees a
/// truncated body, never a wrong one presented as whole.
#[test]
fn a_producer_that_breaks_its_word_closes_the_connection() {
    use twig::http::{Body, Produce, Router};
    let app: Router = Router::new()
        .get("/short", |_, res, ctx| {
            res.produce(ctx, Some(100), |body: &mut Body<'_>| {
                body.push(b"only ten..");
                Produce::Done
            });
        })
        .get("/stuck", |_, res, ctx| {
            res.produce(ctx, None, |_: &mut Body<'_>| Produce::More);
        });
    let server = start_with(
        Server::builder(),
        (),
        move || Http::new(app.clone()),
        |_| {},
    );
    for (path, tail) in [
        ("/short", &b"only ten.."[..]),
        ("/stuck", &b"chunked\r\n\r\n"[..]),
    ] {
        let mut socket = connect(server.addr);
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        socket.write_all(request.as_bytes()).unwrap();
        let reply = read_to_close(&mut socket); // closed, not kept alive
        assert!(
            reply.ends_with(tail),
            "{path}: {}",
            String::from_utf8_lossy(&reply)
        );
    }
    server.stop();
}
