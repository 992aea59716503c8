//! The annotated trace in `docs/lesson-trace.md` (chapter 7 of the guide) is
//! real: this test replays the lesson's exchange — connect, send
//! `can you hear me?`, read `Yes` until the server closes, close — against the
//! reply server, stepping the loop one `turn()` at a time in this thread, and
//! compares twig's trace narration with the file's, line by line.
//!
//! On a mismatch it prints the fresh trace and writes it to
//! `target/lesson-trace.fresh.txt`: update the file's lines (keeping or
//! fixing their `   ← ` annotations) and run it again.

#[path = "../examples/reply_server.rs"]
#[allow(dead_code)]
mod reply_server;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use log::{LevelFilter, Log, Metadata, Record};
use reply_server::ReplyYes;
use twig::{CloseReason, Server};

/// The annotated trace, compiled in so the test is rebuilt when it changes.
const ANNOTATED: &str = include_str!("../docs/lesson-trace.md");
/// Separates a trace line from its annotation in the file.
const ARROW: &str = "   ← ";
/// What the test itself writes between turns starts with this.
const MARK: &str = "──";
/// Longest one `turn()` may wait: the event it waits for is already on its way.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Every captured line, in order: twig's records, the example's own `info!`
/// lines (the lesson's `print`s), and the test's marks.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A logger keeping twig's records and the reply server's (not mio's, nor
/// anyone else's) as `LEVEL target: message`, without timestamps.
struct Capture;

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let target = metadata.target();
        target.starts_with("twig") || target.ends_with("reply_server")
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let target = record.target().trim_start_matches("lesson_trace::");
            let line = format!("{:<5} {target}: {}", record.level(), record.args());
            LINES.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// Appends a line of the test's own narration.
fn mark(text: &str) {
    LINES.lock().unwrap().push(format!("{MARK} {text}"));
}

/// One `turn()`, bracketed by marks, with the `Turn` it returned. (The
/// ticks are checked as part of the trace.)
fn turn(server: &mut Server<()>, why: &str) {
    mark(&format!("server.turn()  [{why}]"));
    let tick = server.turn(Some(MAX_WAIT)).expect("poll");
    mark(&format!(
        "Turn: woke_by {:?}, events {}, accepted {}, requests {}, bytes in {} out {}, closed {}",
        tick.woke_by,
        tick.events,
        tick.accepted,
        tick.requests,
        tick.bytes_in,
        tick.bytes_out,
        tick.closed
    ));
}

/// Prints what was captured if the exchange itself fails (a step timed out,
/// the reply was wrong), before the traces could be compared.
struct DumpOnPanic;

impl Drop for DumpOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let lines = LINES.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!("captured so far:\n{}", lines.join("\n"));
        }
    }
}

/// Makes a captured line independent of the run: the two ports become
/// `PORT` (the server's) and `CLIENT_PORT`, every duration becomes `…`.
fn normalize(line: &str, server: SocketAddr, client: SocketAddr) -> String {
    if line.starts_with(MARK) {
        return line.to_string();
    }
    let line = replace_port(line, server.port(), "PORT");
    let line = replace_port(&line, client.port(), "CLIENT_PORT");
    elide_durations(&line)
}

/// Replaces `:port` with `:name` where no digit follows (so port 4000 leaves
/// `:40001` alone).
fn replace_port(line: &str, port: u16, name: &str) -> String {
    let needle = format!(":{port}");
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&needle);
        } else {
            out.push(':');
            out.push_str(name);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Replaces durations as `Debug` prints them (`5s`, `1.99s`, `250ms`,
/// `17µs`, `0ns`) with `…`.
fn elide_durations(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word =
            i == 0 || !(chars[i - 1].is_alphanumeric() || "._#".contains(chars[i - 1]));
        if starts_word && chars[i].is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let unit = ["ns", "µs", "us", "ms", "s"].into_iter().find(|unit| {
                let end = j + unit.chars().count();
                end <= chars.len()
                    && chars[j..end].iter().copied().eq(unit.chars())
                    && chars.get(end).is_none_or(|c| !c.is_alphanumeric())
            });
            if let Some(unit) = unit {
                out.push('…');
                i = j + unit.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The trace lines of the file: the first ```` ```text ```` block, without
/// annotations, continuation lines (starting with `←`) or blank lines.
fn documented() -> Vec<String> {
    ANNOTATED
        .lines()
        .skip_while(|l| !l.starts_with("```text"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('←'))
        .map(|l| l.split(ARROW).next().unwrap_or(l).trim_end().to_string())
        .collect()
}

#[test]
fn the_lesson_exchange_matches_the_annotated_trace() {
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(LevelFilter::Trace);
    let _dump = DumpOnPanic;

    // Timing must not add lines: no slow-callback warning under a loaded
    // machine, and a linger timeout far beyond the exchange.
    let mut server = Server::builder()
        .slow_callback(None)
        .linger_timeout(Duration::from_secs(30))
        .build(())
        .expect("build");
    let addr = server.listen("127.0.0.1:0", || ReplyYes).expect("listen");

    // (a) The client connects; the kernel completes the handshake on its
    // own and queues the connection on the listener: one turn accepts it.
    mark("client: connect()");
    let mut client = TcpStream::connect(addr).expect("connect");
    client.set_read_timeout(Some(MAX_WAIT)).unwrap();
    let client_addr = client.local_addr().unwrap();
    turn(&mut server, "a: accept");

    // (b) Registering a connected socket reports its current readiness: its
    // send buffer is empty, so a writable event is always waiting.
    turn(&mut server, "b: the registration's writable event");

    // (c) The question arrives: read, reply, shut down, linger.
    mark("client: sendall(b'can you hear me?')");
    client.write_all(b"can you hear me?").expect("send");
    turn(&mut server, "c: read, reply, close");

    // (d) The client reads to the server's EOF and closes: the last turn
    // reads that EOF and removes the connection.
    mark("client: recv() until EOF, close()");
    let mut reply = String::new();
    client.read_to_string(&mut reply).expect("read to EOF");
    assert_eq!(reply, "Yes");
    drop(client);
    turn(&mut server, "d: EOF, closed");

    let fresh: Vec<String> = LINES
        .lock()
        .unwrap()
        .iter()
        .map(|l| normalize(l, addr, client_addr))
        .collect();
    let expected = documented();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let path = target.join("lesson-trace.fresh.txt");
    if fresh == expected {
        let _ = std::fs::remove_file(&path); // no stale copy to mislead anyone
    } else {
        let text = fresh.join("\n") + "\n";
        let written = std::fs::write(&path, &text).is_ok();
        let at = fresh
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(fresh.len().min(expected.len()));
        panic!(
            "docs/lesson-trace.md no longer matches twig's trace, from its trace line {} \
             (annotations not counted):\n  documented: {:?}\n  fresh:      {:?}\n\nThe fresh trace{}:\n{text}",
            at + 1,
            expected.get(at),
            fresh.get(at),
            if written {
                format!(" (also in {})", path.display())
            } else {
                String::new()
            },
        );
    }
    assert_eq!(server.stats().closed(CloseReason::Done), 1);
}

#[test]
fn normalizing_keeps_everything_but_ports_and_durations() {
    let server: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let client: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let cases = [
        ("poll(timeout Some(5s))", "poll(timeout Some(…))"),
        ("poll(timeout Some(1.999837s))", "poll(timeout Some(…))"),
        (
            "poll(timeout Some(0ns)) 17µs 250ms",
            "poll(timeout Some(…)) … …",
        ),
        ("poll woke: Io, 1 events", "poll woke: Io, 1 events"),
        ("#0.1 read(65536) -> 16", "#0.1 read(65536) -> 16"),
        (
            "127.0.0.1:4000 accept() -> 127.0.0.1:40001",
            "127.0.0.1:PORT accept() -> 127.0.0.1:CLIENT_PORT",
        ),
        ("── server.turn()  [a: 5s]", "── server.turn()  [a: 5s]"),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize(raw, server, client), want, "{raw:?}");
    }
}
