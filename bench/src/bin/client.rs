//! The load generator: one thread, one `epoll` (mio), N connections, each in
//! a closed loop; it prints one parseable line at the end.
//!
//! ```text
//! client ADDR --mode echo|http|bulk|connect|idle [--conns N] [--size BYTES]
//!        [--depth D] [--duration SECS] [--warmup SECS] [--requests N]
//!        [--window BYTES] [--wait-start]
//! ```
//! - `echo`: each connection keeps `depth` messages of `size` bytes in flight
//!   and sends one more per echo received (depth 1 is ping-pong).
//! - `http`: like `echo`, but each message is `GET / HTTP/1.1` (keep-alive)
//!   and its answer one response framed by its `Content-Length`.
//! - `bulk`: each connection streams `size`-byte writes, keeping at most
//!   `window` bytes unechoed; reports MB/s echoed.
//! - `connect`: the lesson: N slots, each connects, sends a request, reads
//!   until the server closes, checks the reply is `Yes`, closes, repeats.
//! - `idle`: opens N connections, echoes one message on each, then holds them.
//!
//! Every connection first echoes one message (warm-up). With `--wait-start`
//! (and always in `idle` mode) the client then prints `ready` and waits for a
//! line on stdin before the load (or, for `idle`, before exiting), so the
//! driver can attach `strace` or read the server's memory at that point.
//! With `--requests N` it sends exactly N messages and stops when all are
//! echoed (for syscall and instruction counts); otherwise it runs `warmup`
//! then `duration` seconds. Every run is bounded in time.
//!
//! A line `start` marks the beginning of the measured window. The last line: `requests=… elapsed_s=… rps=… p50_us=… p99_us=… p999_us=…
//! max_us=… mbps=… errors=… conns=…`.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

static PATTERN: [u8; 64 * 1024] = [b'x'; 64 * 1024];
/// Connects in progress at once: more would overflow a listen backlog.
const MAX_CONNECTING: usize = 128;
/// No run, whatever its arguments, lasts longer than this.
const HARD_LIMIT: Duration = Duration::from_secs(120);
/// The lesson's request.
const REQUEST: &[u8] = b"can you hear me?";
/// The request of the `http` mode.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
/// A response head longer than this is an error (`http` mode).
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

thread_local! {
    /// What the `http` mode writes from: `GET` over and over, a little more
    /// than the largest write.
    static GETS: Vec<u8> = GET.repeat(64 * 1024 / GET.len() + 2);
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Echo,
    Http,
    Bulk,
    Connect,
    Idle,
}

struct Args {
    addr: SocketAddr,
    mode: Mode,
    conns: usize,
    size: usize,
    depth: usize,
    window: usize,
    duration: Duration,
    warmup: Duration,
    requests: Option<u64>,
    wait_start: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut argv = std::env::args().skip(1);
    let addr = argv.next().ok_or("usage: client ADDR --mode MODE ...")?;
    let mut args = Args {
        addr: addr.parse().map_err(|e| format!("{addr}: {e}"))?,
        mode: Mode::Echo,
        conns: 1,
        size: 64,
        depth: 1,
        window: 1 << 20,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(300),
        requests: None,
        wait_start: false,
    };
    while let Some(flag) = argv.next() {
        if flag == "--wait-start" {
            args.wait_start = true;
            continue;
        }
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--mode" => {
                args.mode = match value.as_str() {
                    "echo" => Mode::Echo,
                    "http" => Mode::Http,
                    "bulk" => Mode::Bulk,
                    "connect" => Mode::Connect,
                    "idle" => Mode::Idle,
                    other => return Err(format!("unknown mode {other}")),
                }
            }
            "--conns" => args.conns = number()?.max(1.0) as usize,
            "--size" => args.size = (number()? as usize).clamp(1, PATTERN.len()),
            "--depth" => args.depth = number()?.max(1.0) as usize,
            "--window" => args.window = number()?.max(1.0) as usize,
            "--duration" => args.duration = Duration::from_secs_f64(number()?),
            "--warmup" => args.warmup = Duration::from_secs_f64(number()?),
            "--requests" => args.requests = Some(number()? as u64),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// Results of the measured window.
#[derive(Default)]
struct Tally {
    completed: u64,
    bytes: u64,
    errors: u64,
    latencies_ns: Vec<u64>,
}

impl Tally {
    fn print(mut self, elapsed: Duration, conns: usize) {
        self.latencies_ns.sort_unstable();
        let pct = |p: f64| -> f64 {
            let v = &self.latencies_ns;
            if v.is_empty() {
                return 0.0;
            }
            v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
        };
        let secs = elapsed.as_secs_f64().max(1e-9);
        println!(
            "requests={} elapsed_s={:.3} rps={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} \
             max_us={:.1} mbps={:.2} errors={} conns={}",
            self.completed,
            secs,
            self.completed as f64 / secs,
            pct(0.50),
            pct(0.99),
            pct(0.999),
            pct(1.0),
            self.bytes as f64 / secs / 1e6,
            self.errors,
            conns
        );
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("client: {e}");
            std::process::exit(2);
        }
    };
    raise_fd_limit();
    let result = match args.mode {
        Mode::Connect => run_connect(&args),
        _ => run_streams(&args),
    };
    if let Err(e) = result {
        eprintln!("client: {e}");
        std::process::exit(1);
    }
}

/// Raises the soft open-file limit to the hard one (10,000 idle connections).
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// One long-lived connection of the echo, bulk and idle modes.
struct Stream {
    socket: TcpStream,
    connected: bool,
    open: bool,
    /// Bytes to write, taken from `PATTERN`.
    to_write: usize,
    /// Bytes sent and echoed so far.
    sent: u64,
    received: u64,
    /// Bytes of the oldest unanswered message received so far.
    partial: usize,
    /// Messages answered, the warm-up included.
    answered: u64,
    /// Response bytes not yet framed (`http` mode).
    pending: Vec<u8>,
    /// When each message in flight was sent (echo mode).
    sent_at: VecDeque<Instant>,
}

/// What a load phase may still send.
struct Load {
    running: bool,
    start: Instant,
    end: Instant,
    /// Messages that may still be issued (count mode).
    budget: Option<u64>,
}

impl Load {
    fn may_issue(&mut self) -> bool {
        match &mut self.budget {
            _ if !self.running => false,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    }
}

fn run_streams(args: &Args) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut streams: Vec<Stream> = Vec::with_capacity(args.conns);
    let mut rbuf = vec![0u8; 64 * 1024];
    let warm_size = match args.mode {
        Mode::Echo => args.size,
        Mode::Http => GET.len(),
        _ => 64,
    };
    let began = Instant::now();
    let mut tally = Tally::default();
    let mut load = Load {
        running: false,
        start: began,
        end: began + HARD_LIMIT,
        budget: args.requests,
    };
    let (mut connecting, mut warm) = (0usize, 0usize);
    let (mut started, mut announced) = (false, false);
    loop {
        let now = Instant::now();
        if now.duration_since(began) > HARD_LIMIT {
            return Err(io::Error::other("hard time limit reached"));
        }
        // Open connections, a bounded number at a time.
        while streams.len() < args.conns && connecting < MAX_CONNECTING {
            let mut socket = TcpStream::connect(args.addr)?;
            let token = Token(streams.len());
            poll.registry().register(
                &mut socket,
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            streams.push(Stream {
                socket,
                connected: false,
                open: true,
                to_write: 0,
                sent: 0,
                received: 0,
                partial: 0,
                answered: 0,
                pending: Vec::new(),
                sent_at: VecDeque::new(),
            });
            connecting += 1;
        }
        if !started && warm == args.conns {
            if args.wait_start || args.mode == Mode::Idle {
                println!("ready");
                io::stdout().flush()?;
                let mut line = String::new();
                io::stdin().lock().read_line(&mut line)?;
                if args.mode == Mode::Idle {
                    tally.print(Duration::ZERO, streams.len());
                    return Ok(());
                }
            }
            started = true;
            let now = Instant::now();
            load.running = true;
            load.start = if args.requests.is_some() {
                now
            } else {
                now + args.warmup
            };
            load.end = if args.requests.is_some() {
                now + HARD_LIMIT
            } else {
                load.start + args.duration
            };
            for (key, s) in streams.iter_mut().enumerate() {
                refill(args, s, &mut load, now);
                pump(key, s, args, &mut load, &mut tally, &mut rbuf, now, false)?;
            }
        }
        if started {
            let now = Instant::now();
            if !announced && now >= load.start {
                announced = true;
                println!("start");
                io::stdout().flush()?;
            }
            let done = match args.requests {
                Some(n) => tally.completed >= n,
                None => now >= load.end,
            };
            if done || streams.iter().all(|s| !s.open) {
                let elapsed = now.min(load.end).saturating_duration_since(load.start);
                tally.print(elapsed, streams.len());
                if args.wait_start {
                    // Hold the connections until told, so a tracer can detach
                    // before the server sees them close.
                    io::stdout().flush()?;
                    io::stdin().lock().read_line(&mut String::new())?;
                }
                return Ok(());
            }
        }
        match poll.poll(&mut events, Some(Duration::from_millis(20))) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        let now = Instant::now();
        for event in events.iter() {
            let key = event.token().0;
            let s = &mut streams[key];
            if !s.open {
                continue;
            }
            if !s.connected {
                if !event.is_writable() && !event.is_error() {
                    continue;
                }
                match s.socket.take_error() {
                    Ok(None) if s.socket.peer_addr().is_ok() => {}
                    Ok(None) => continue, // still connecting
                    Ok(Some(e)) | Err(e) => return Err(io::Error::other(format!("connect: {e}"))),
                }
                s.connected = true;
                s.socket.set_nodelay(true)?;
                connecting -= 1;
                s.to_write = warm_size;
                s.sent_at.push_back(now);
            }
            let before = s.answered;
            pump(key, s, args, &mut load, &mut tally, &mut rbuf, now, true)?;
            if !started && before == 0 && s.answered > 0 {
                warm += 1;
            }
        }
    }
}

/// Tops up what a connection may send: `depth` messages in flight (echo),
/// or `window` bytes unechoed (bulk).
fn refill(args: &Args, s: &mut Stream, load: &mut Load, now: Instant) {
    match args.mode {
        Mode::Echo | Mode::Http => {
            let size = if args.mode == Mode::Http {
                GET.len()
            } else {
                args.size
            };
            while s.sent_at.len() < args.depth && load.may_issue() {
                s.sent_at.push_back(now);
                s.to_write += size;
            }
        }
        Mode::Bulk if load.running && now < load.end => {
            let in_flight = (s.sent + s.to_write as u64 - s.received) as usize;
            if in_flight + args.size <= args.window {
                s.to_write += (args.window - in_flight) / args.size * args.size;
            }
        }
        _ => {}
    }
}

/// Reads what arrived (accounting completed messages), tops up and writes.
#[allow(clippy::too_many_arguments)]
fn pump(
    key: usize,
    s: &mut Stream,
    args: &Args,
    load: &mut Load,
    tally: &mut Tally,
    rbuf: &mut [u8],
    now: Instant,
    read: bool,
) -> io::Result<()> {
    let counting = load.running && now >= load.start && now < load.end;
    let mut eof = false;
    while read && !eof {
        match s.socket.read(rbuf) {
            Ok(0) => eof = true,
            Ok(n) => {
                s.received += n as u64;
                if counting && args.mode == Mode::Bulk {
                    tally.bytes += n as u64;
                }
                // Echo and http modes always count messages; bulk and idle
                // only their one 64-byte warm-up message.
                let answered = if args.mode == Mode::Http {
                    s.pending.extend_from_slice(&rbuf[..n]);
                    responses(&mut s.pending)?
                } else {
                    let size = if args.mode == Mode::Echo {
                        args.size
                    } else {
                        64
                    };
                    s.partial += n;
                    let whole = s.partial / size;
                    s.partial -= whole * size;
                    whole
                };
                for _ in 0..answered {
                    let Some(sent) = s.sent_at.pop_front() else {
                        if args.mode == Mode::Http {
                            return Err(io::Error::other("a response nobody asked for"));
                        }
                        break;
                    };
                    s.answered += 1;
                    if counting {
                        tally.completed += 1;
                        tally.latencies_ns.push((now - sent).as_nanos() as u64);
                    }
                }
                if s.sent_at.is_empty() && args.mode != Mode::Echo {
                    s.partial = 0;
                }
                if n < rbuf.len() {
                    break; // short read: the socket is drained (Linux TCP)
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => eof = true,
        }
    }
    if eof {
        if load.running {
            eprintln!("client: connection {key} closed by the server");
        }
        tally.errors += 1;
        s.open = false;
        return Ok(());
    }
    refill(args, s, load, now);
    while s.to_write > 0 {
        let written = if args.mode == Mode::Http {
            // Resume where the last write stopped, inside a request.
            let at = (s.sent % GET.len() as u64) as usize;
            GETS.with(|gets| {
                let chunk = s.to_write.min(gets.len() - at);
                s.socket.write(&gets[at..at + chunk])
            })
        } else {
            let chunk = s.to_write.min(PATTERN.len());
            s.socket.write(&PATTERN[..chunk])
        };
        match written {
            Ok(n) => {
                s.to_write -= n;
                s.sent += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                tally.errors += 1;
                s.open = false;
                break;
            }
        }
    }
    Ok(())
}

/// Frames complete responses at the front of `pending` by their
/// `Content-Length`, removes them, and returns how many there were.
fn responses(pending: &mut Vec<u8>) -> io::Result<usize> {
    let mut count = 0;
    let mut at = 0;
    while let Some(head) = pending[at..].windows(4).position(|w| w == b"\r\n\r\n") {
        let head_len = head + 4;
        let length = pending[at..at + head_len]
            .split(|&b| b == b'\n')
            .find_map(|line| {
                let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
                name.eq_ignore_ascii_case(b"content-length")
                    .then(|| {
                        std::str::from_utf8(&value[1..])
                            .ok()?
                            .trim()
                            .parse::<usize>()
                            .ok()
                    })
                    .flatten()
            })
            .ok_or_else(|| io::Error::other("a response without Content-Length"))?;
        if pending.len() - at < head_len + length {
            break;
        }
        at += head_len + length;
        count += 1;
    }
    if pending.len() - at > MAX_RESPONSE_HEAD {
        return Err(io::Error::other("a response head over 8 KiB"));
    }
    pending.drain(..at);
    Ok(count)
}

/// One slot of the lesson workload: a connection in progress.
struct Visit {
    socket: TcpStream,
    started: Instant,
    generation: usize,
    wrote: bool,
    reply: Vec<u8>,
}

fn run_connect(args: &Args) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Visit>> = (0..args.conns).map(|_| None).collect();
    let mut tally = Tally::default();
    let mut rbuf = [0u8; 1024];
    let began = Instant::now();
    let start = began + args.warmup;
    let end = start + args.duration;
    let mut generation = 0usize;
    let mut announced = false;
    let open = |slot: usize, poll: &Poll, generation: &mut usize| -> io::Result<Visit> {
        *generation += 1;
        let mut socket = TcpStream::connect(args.addr)?;
        let token = Token(slot | (*generation % (1 << 20)) << 20);
        poll.registry()
            .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Visit {
            socket,
            started: Instant::now(),
            generation: *generation % (1 << 20),
            wrote: false,
            reply: Vec::new(),
        })
    };
    for (key, slot) in slots.iter_mut().enumerate() {
        *slot = Some(open(key, &poll, &mut generation)?);
    }
    loop {
        let now = Instant::now();
        if !announced && now >= start {
            announced = true;
            println!("start");
            io::stdout().flush()?;
        }
        if now >= end || slots.iter().all(Option::is_none) {
            tally.print(now.min(end).saturating_duration_since(start), args.conns);
            return Ok(());
        }
        match poll.poll(&mut events, Some(Duration::from_millis(20))) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        let now = Instant::now();
        for event in events.iter() {
            let (slot, generation_of) = (event.token().0 & 0xF_FFFF, event.token().0 >> 20);
            let Some(visit) = slots[slot]
                .as_mut()
                .filter(|v| v.generation == generation_of)
            else {
                continue; // stale: that connection is gone
            };
            match visit_step(visit, &mut rbuf) {
                Ok(false) => continue,
                Ok(true) if visit.reply == b"Yes" => {
                    if now >= start && now < end {
                        tally.completed += 1;
                        tally
                            .latencies_ns
                            .push((now - visit.started).as_nanos() as u64);
                    }
                }
                _ => tally.errors += 1,
            }
            slots[slot] = None; // closes it
            if now < end {
                slots[slot] = Some(open(slot, &poll, &mut generation)?);
            }
        }
    }
}

/// Advances one visit; `Ok(true)` once the server has closed.
fn visit_step(visit: &mut Visit, rbuf: &mut [u8]) -> io::Result<bool> {
    if !visit.wrote {
        if let Some(e) = visit.socket.take_error()? {
            return Err(e);
        }
        if visit.socket.peer_addr().is_err() {
            return Ok(false); // still connecting
        }
        visit.socket.write_all(REQUEST)?;
        visit.wrote = true;
    }
    loop {
        match visit.socket.read(rbuf) {
            Ok(0) => return Ok(true),
            Ok(n) => visit.reply.extend_from_slice(&rbuf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
