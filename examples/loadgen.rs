//! twig's own load generator, on twig's outbound connections: N connections
//! on one thread, each in a closed loop (send a message, wait for its echo,
//! send the next) for a fixed time; then requests/s and latency percentiles.
//!
//! Run: `cargo run --release --example loadgen [ADDR] [--connections N]
//! [--size BYTES] [--duration SECS]` (defaults `127.0.0.1:7000`, 50, 64, 5)
//! against `cargo run --release --example echo_server`. The last line is
//! `requests=… rps=… p50_us=… p99_us=… p999_us=… max_us=… errors=…`; the
//! exit code is 1 if no request completed (e.g. every connection failed).
//!
//! Keep messages within what the kernel buffers (a few MiB): a twig
//! connection reads nothing while it owes bytes, so a message larger than
//! the socket buffers both ways stalls against a server that does the same.

use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use twig::{After, CloseReason, Ctx, Frame, Protocol, Server};

/// What to run.
pub struct Config {
    pub addr: SocketAddr,
    pub connections: usize,
    /// Bytes per message (at least 1).
    pub size: usize,
    pub duration: Duration,
    /// Print a line of progress every second, and stop early (with the
    /// summary so far) on Ctrl-C or SIGTERM: the command-line mode.
    pub progress: bool,
}

/// What happened. [`Summary::line`] is the stable, parseable form.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub requests: u64,
    /// From the start to the end of the measurement.
    pub elapsed: Duration,
    /// Per-request latency, in nanoseconds.
    pub latency: Histogram,
    /// Connections established.
    pub connected: u64,
    pub connect_failed: u64,
    /// Established connections that ended before the run did.
    pub closed: u64,
}

impl Summary {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn errors(&self) -> u64 {
        self.connect_failed + self.closed
    }

    pub fn line(&self) -> String {
        let us = |nanos: u64| nanos as f64 / 1000.0;
        let q = |q: f64| us(self.latency.quantile(q));
        format!(
            "requests={} rps={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} \
             errors={} connect_failed={} closed={} connections={}",
            self.requests,
            self.rps(),
            q(0.50),
            q(0.99),
            q(0.999),
            us(self.latency.max()),
            self.errors(),
            self.connect_failed,
            self.closed,
            self.connected
        )
    }
}

/// A log-linear latency histogram in nanoseconds (as HdrHistogram does):
/// each power of two is split into 32 buckets, so a reported value is within
/// about 3% of the real one, in 15 KiB whatever the number of samples.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

/// Values below `2^SUB_BITS` get a bucket each; above, 32 per power of two.
const SUB_BITS: u32 = 6;
const HALF: u64 = 1 << (SUB_BITS - 1);

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: vec![0; Histogram::index(u64::MAX) + 1],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn index(value: u64) -> usize {
        let shift = (64 - value.leading_zeros()).saturating_sub(SUB_BITS) as u64;
        (shift * HALF + (value >> shift)) as usize
    }

    /// The highest value that lands in bucket `index`.
    fn highest(index: usize) -> u64 {
        let index = index as u64;
        if index < 2 * HALF {
            return index;
        }
        let shift = index / HALF - 1;
        let mantissa = index - shift * HALF;
        (mantissa << shift) + ((1 << shift) - 1)
    }

    pub fn record(&mut self, nanos: u64) {
        self.counts[Histogram::index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0.0–1.0); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total.max(1));
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank && count > 0 {
                return Histogram::highest(index).min(self.max);
            }
        }
        0
    }
}

/// The shared state: every connection updates it, with no lock.
struct Load {
    summary: Summary,
    /// Connections started and not yet closed.
    open: usize,
    started: Instant,
    /// The measurement is over: closes are expected now.
    ended: bool,
    /// Progress lines printed, and the request count at the last one.
    ticks: u64,
    ticked: u64,
}

impl Load {
    fn tick(&mut self) {
        self.ticks += 1;
        let done =
            self.summary.requests - std::mem::replace(&mut self.ticked, self.summary.requests);
        println!("{:>4}s {done:>9} requests/s", self.ticks);
    }

    fn end(&mut self) {
        if !std::mem::replace(&mut self.ended, true) {
            self.summary.elapsed = self.started.elapsed();
        }
    }
}

/// One connection's closed loop.
struct Pinger {
    message: Rc<[u8]>,
    /// Bytes of the current echo received so far.
    received: usize,
    sent_at: Instant,
}

impl Pinger {
    fn send(&mut self, ctx: &mut Ctx<Load>) {
        self.received = 0;
        self.sent_at = Instant::now(); // not Core::now: that is per loop turn
        ctx.write(&self.message);
    }
}

impl Protocol<Load> for Pinger {
    fn on_open(&mut self, ctx: &mut Ctx<Load>) {
        ctx.state().summary.connected += 1;
        self.send(ctx);
    }

    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len().min(64 * 1024))
    }

    fn reply(&mut self, echo: &[u8], ctx: &mut Ctx<Load>) -> After {
        self.received += echo.len();
        if self.received < self.message.len() {
            return After::KeepOpen;
        }
        if self.received > self.message.len() {
            eprintln!("loadgen: {}: more bytes came back than sent", ctx.peer());
            return After::Close; // counted as a close
        }
        let took = self.sent_at.elapsed();
        let load = ctx.state();
        if load.ended {
            return After::Close;
        }
        load.summary.latency.record(took.as_nanos() as u64);
        load.summary.requests += 1;
        self.send(ctx);
        After::KeepOpen
    }

    fn on_connect_failed(&mut self, _error: &std::io::Error, ctx: &mut Ctx<Load>) {
        ctx.state().summary.connect_failed += 1; // twig logs the error
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<Load>) {
        let load = ctx.state();
        load.open -= 1;
        // Closed by our own stop (the end, or Ctrl-C) is not an error.
        let ours = load.ended || reason == CloseReason::Shutdown;
        if reason != CloseReason::ConnectFailed && (!ours || !reason.is_normal()) {
            load.summary.closed += 1;
        }
        if load.open == 0 && !load.ended {
            load.end(); // nothing left to measure
            ctx.stop();
        }
    }
}

/// Runs the load to completion (`duration`, or until every connection is gone).
///
/// # Errors
/// Only if the loop cannot be created or run.
pub fn run(config: &Config) -> std::io::Result<Summary> {
    let load = Load {
        summary: Summary::default(),
        open: 0,
        started: Instant::now(),
        ended: false,
        ticks: 0,
        ticked: 0,
    };
    let mut server = Server::builder().slow_callback(None).build(load)?;
    let core = server.core();
    let message: Rc<[u8]> = (0..config.size).map(|i| b'a' + (i % 26) as u8).collect();
    for _ in 0..config.connections {
        let pinger = Pinger {
            message: Rc::clone(&message),
            received: 0,
            sent_at: Instant::now(),
        };
        match core.connect(config.addr, pinger) {
            Ok(_) => core.state().open += 1,
            Err(e) => {
                eprintln!("loadgen: cannot open a socket: {e}");
                core.state().summary.connect_failed += 1;
            }
        }
    }
    let second = Duration::from_secs(1);
    let progress = config
        .progress
        .then(|| core.every(second, |core| core.state().tick()));
    let whole_seconds = config.duration.as_secs();
    core.call_later(config.duration, move |core| {
        let load = core.state();
        if let Some(timer) = progress {
            // A tick due with this timer would come after it: print it here.
            if load.ticks < whole_seconds {
                load.tick();
            }
            core.cancel(timer);
        }
        core.state().end();
        core.stop(); // closes every connection; then run() returns
    });
    if config.progress {
        server.stop_on_signals()?;
    }
    server.run()?;
    let load = server.core().state();
    load.end(); // if no connection could even be started
    Ok(std::mem::take(&mut load.summary))
}

#[allow(dead_code)] // tests include this file for `run`
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Warn)
        .env()
        .init()
        .expect("the first logger");
    let config = parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!(
            "loadgen: {e}\nusage: loadgen [ADDR] [--connections N] [--size BYTES] [--duration SECS]"
        );
        std::process::exit(2);
    });
    println!(
        "loadgen: {} connections to {}, {}-byte messages, {:?}",
        config.connections, config.addr, config.size, config.duration
    );
    let summary = run(&config).unwrap_or_else(|e| {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    });
    println!("{}", summary.line());
    if summary.requests == 0 {
        std::process::exit(1); // every connection failed, or none got an answer
    }
}

#[allow(dead_code)]
fn parse(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
        let value = value.ok_or(format!("{flag} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{flag}: bad value {value:?}"))
    }
    let mut addr = "127.0.0.1:7000".to_string();
    let (mut connections, mut size, mut secs) = (50, 64, 5.0_f64);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--connections" => connections = number(&arg, args.next())?,
            "--size" => size = number(&arg, args.next())?,
            "--duration" => secs = number(&arg, args.next())?,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => addr = arg,
        }
    }
    if connections == 0 || size == 0 || !secs.is_finite() || secs <= 0.0 {
        return Err("connections, size and duration must be positive".into());
    }
    let addr = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next();
    Ok(Config {
        addr: addr.ok_or("no address")?,
        connections,
        size,
        duration: Duration::from_secs_f64(secs),
        progress: true,
    })
}
