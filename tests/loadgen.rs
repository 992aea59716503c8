//! The load generator (`examples/loadgen.rs`) against the echo server: as
//! two example binaries, and in-process through its `run`; its summary
//! line, its exit code when nothing answers, and its latency histogram.

mod support;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
#[path = "../examples/loadgen.rs"]
#[allow(dead_code)]
mod loadgen;

use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use echo_server::Echo;
use loadgen::{Config, Histogram, Summary};
use support::process::{Proc, assert_clean_exit, example};
use support::{WAIT, start, stats_of};

/// An address nothing listens on.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap() // closed again when dropped here
}

/// Runs the loadgen binary with `args` to completion, within [`WAIT`];
/// kills it by its PID if it overstays. Returns its status and stdout.
fn run_loadgen(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(example("loadgen"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loadgen");
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut out, mut err) = (String::new(), String::new());
        let errors = std::thread::spawn(move || stderr.read_to_string(&mut err).map(|_| err));
        let _ = stdout.read_to_string(&mut out);
        let status = child.wait();
        let err = errors.join().ok().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send((status, out, err));
    });
    match rx.recv_timeout(WAIT) {
        Ok((status, out, err)) => (status.expect("wait for loadgen"), out, err),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("loadgen {args:?} still running after {WAIT:?}");
        }
    }
}

/// The `key=value` fields of the summary line (the last line of stdout).
fn summary_fields(stdout: &str) -> HashMap<String, f64> {
    let line = stdout.lines().last().unwrap_or_default();
    assert!(line.starts_with("requests="), "no summary line: {stdout}");
    line.split_whitespace()
        .map(|field| {
            let (key, value) = field.split_once('=').expect("key=value");
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("{key}={value}: {e}"));
            (key.to_string(), value)
        })
        .collect()
}

/// Checks what every successful run must show.
fn assert_sane(summary: &Summary, connections: u64) {
    let line = summary.line();
    assert!(summary.requests > 0, "{line}");
    assert_eq!(summary.errors(), 0, "{line}");
    assert_eq!(summary.connected, connections, "{line}");
    assert_eq!(summary.latency.count(), summary.requests, "{line}");
    let q = |q| summary.latency.quantile(q);
    assert!(
        0 < q(0.5) && q(0.5) <= q(0.99) && q(0.99) <= q(0.999),
        "{line}"
    );
    assert!(q(0.999) <= summary.latency.max(), "{line}");
}

#[test]
fn loadgen_binary_against_the_echo_server_binary() {
    let mut echo = Proc::spawn("echo_server", &[]);
    let addr = echo.bound_addr("echoing on ").to_string();
    let args = [&addr, "--duration", "1", "--connections", "20"];
    let (status, out, err) = run_loadgen(&args);
    assert!(status.success(), "{status}\n{out}\n{err}");
    let fields = summary_fields(&out);
    assert!(fields["requests"] > 0.0, "{out}");
    assert!(fields["rps"] > 0.0, "{out}");
    assert_eq!(fields["errors"], 0.0, "{out}\n{err}");
    assert_eq!(fields["connections"], 20.0, "{out}");
    assert!(fields["p50_us"] > 0.0, "{out}");
    assert!(fields["p50_us"] <= fields["p99_us"], "{out}");
    assert!(fields["p99_us"] <= fields["p999_us"], "{out}");
    assert!(fields["p999_us"] <= fields["max_us"], "{out}");
    assert!(out.contains("requests/s"), "no progress line: {out}");

    echo.signal("TERM");
    let echo_summary = assert_clean_exit(echo);
    assert!(echo_summary.contains("accepted 20 "), "{echo_summary}");
}

#[test]
fn loadgen_binary_fails_when_nothing_listens() {
    let addr = closed_port().to_string();
    example("loadgen"); // built before the clock starts
    let started = Instant::now();
    let (status, out, err) = run_loadgen(&[&addr, "--connections", "3", "--duration", "30"]);
    assert_eq!(status.code(), Some(1), "{out}\n{err}");
    let fields = summary_fields(&out);
    assert_eq!(fields["requests"], 0.0, "{out}");
    assert_eq!(fields["connect_failed"], 3.0, "{out}");
    assert_eq!(fields["errors"], 3.0, "{out}");
    // It ends when the last connection is gone, not after the 30 s.
    assert!(started.elapsed() < Duration::from_secs(5), "{out}");
}

#[test]
fn loadgen_binary_rejects_bad_arguments() {
    let (status, _, err) = run_loadgen(&["--connections", "0"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("usage:"), "{err}");
    let (status, _, err) = run_loadgen(&["--frobnicate"]);
    assert_eq!(status.code(), Some(2), "{err}");
}

#[test]
fn run_in_process_against_an_echo_server() {
    let echo = start(|| Echo);
    let config = Config {
        addr: echo.addr,
        connections: 5,
        size: 100,
        duration: Duration::from_millis(300),
        progress: false,
    };
    let summary = loadgen::run(&config).expect("run");
    assert_sane(&summary, 5);
    assert!(summary.elapsed >= config.duration, "{:?}", summary.elapsed);
    let stats = stats_of(&echo.handle);
    assert_eq!(stats.accepted, 5, "{stats}");
    // Every completed request was a full 100-byte round trip.
    assert!(stats.bytes_in >= summary.requests * 100, "{stats}");
}

#[test]
fn run_in_process_with_messages_larger_than_one_read() {
    let echo = start(|| Echo);
    let config = Config {
        addr: echo.addr,
        connections: 2,
        size: 300 * 1024, // arrives in several reads, and echoes in pieces
        duration: Duration::from_millis(300),
        progress: false,
    };
    let summary = loadgen::run(&config).expect("run");
    assert_sane(&summary, 2);
}

#[test]
fn run_in_process_counts_connect_failures_and_ends_early() {
    let config = Config {
        addr: closed_port(),
        connections: 4,
        size: 64,
        duration: Duration::from_secs(30),
        progress: false,
    };
    let started = Instant::now();
    let summary = loadgen::run(&config).expect("run");
    assert!(started.elapsed() < Duration::from_secs(5), "{summary:?}");
    assert_eq!(summary.connect_failed, 4, "{}", summary.line());
    assert_eq!((summary.connected, summary.requests), (0, 0));
    assert_eq!(summary.errors(), 4);
    assert!(
        summary.line().contains(" p50_us=0.0 "),
        "{}",
        summary.line()
    );
}

#[test]
fn histogram_quantiles_are_within_a_few_percent() {
    let mut histogram = Histogram::default();
    assert_eq!(histogram.quantile(0.5), 0, "empty");
    for nanos in 1..=100_000 {
        histogram.record(nanos);
    }
    assert_eq!(histogram.count(), 100_000);
    assert_eq!(histogram.max(), 100_000);
    for (q, exact) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
        let got = histogram.quantile(q) as f64;
        let error = (got - exact).abs() / exact;
        assert!(error < 0.035, "q{q}: {got} vs {exact}");
    }
    assert_eq!(histogram.quantile(1.0), 100_000);
    // Small values are exact.
    let mut small = Histogram::default();
    for nanos in [3, 3, 7, 40] {
        small.record(nanos);
    }
    assert_eq!(
        [
            small.quantile(0.5),
            small.quantile(0.75),
            small.quantile(1.0)
        ],
        [3, 7, 40]
    );
    // Huge values do not overflow.
    small.record(u64::MAX);
    assert_eq!(small.quantile(1.0), u64::MAX);
}
