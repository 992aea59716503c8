//! The timed workloads: each starts its servers once, then runs the client
//! against them in alternating order (A B C … then … C B A), so drift on the
//! machine falls on every server alike; rounds are paired by index.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::load::{Client, Fields};
use crate::procs::{Bins, Peer, Server, Service, cpu_ns, machine_busy_ns};
use crate::report::{Better, Report};

/// How long and how often.
pub struct Opts {
    pub rounds: usize,
    pub duration: f64,
    pub warmup: f64,
    pub idle_conns: usize,
    pub strace_requests: u64,
    /// Two request counts: the difference cancels start-up and shutdown.
    pub callgrind_requests: (u64, u64),
    pub callgrind_conns: Vec<usize>,
}

/// The servers for the echo workloads.
pub const ECHO_PEERS: [Peer; 4] = [Peer::Twig, Peer::C, Peer::Tokio, Peer::Asyncio];
/// The servers for the lesson's workload.
pub const REPLY_PEERS: [Peer; 3] = [Peer::Twig, Peer::Tokio, Peer::Python];

/// One client run against one server.
pub struct Sample {
    fields: Fields,
    /// Server CPU time during the measured window.
    cpu_ns: u64,
    /// The client's CPU time, and everything else's on the machine.
    client_ns: u64,
    others_ns: u64,
}

impl Sample {
    /// A run's sample, warning if the client counted errors.
    pub fn new(
        server: &Server,
        fields: Fields,
        cpu_ns: u64,
        client_ns: u64,
        others_ns: u64,
    ) -> Sample {
        if fields.get("errors").copied().unwrap_or(0.0) > 0.0 {
            eprintln!(
                "  warning: {} reported errors: {fields:?}",
                server.peer.name()
            );
        }
        Sample {
            fields,
            cpu_ns,
            client_ns,
            others_ns,
        }
    }

    fn disturbed(&self) -> bool {
        let elapsed = self.get("elapsed_s").max(0.1) * 1e9;
        self.others_ns as f64 > QUIET * elapsed
    }

    pub fn get(&self, key: &str) -> f64 {
        self.fields.get(key).copied().unwrap_or(f64::NAN)
    }
    /// Server CPU µs per unit of `key` done in the window.
    pub fn cpu_us_per(&self, units: f64) -> f64 {
        if units > 0.0 {
            self.cpu_ns as f64 / 1000.0 / units
        } else {
            f64::NAN
        }
    }
}

fn timed_run(bins: &Bins, server: &Server, args: &[String]) -> io::Result<Sample> {
    let mut client = Client::start(bins, server.addr, args)?;
    client.expect("start")?;
    let (before, client_before) = (server.cpu_ns(), cpu_ns(client.pid()));
    let machine_before = machine_busy_ns();
    let fields = client.summary()?;
    let cpu_ns_used = server.cpu_ns().saturating_sub(before);
    let client_ns = cpu_ns(client.pid()).saturating_sub(client_before);
    let others_ns = machine_busy_ns()
        .saturating_sub(machine_before)
        .saturating_sub(cpu_ns_used + client_ns);
    client.finish()?;
    Ok(Sample::new(
        server,
        fields,
        cpu_ns_used,
        client_ns,
        others_ns,
    ))
}

/// Runs `args` against every peer, `rounds` times, alternating the order.
fn alternate(
    bins: &Bins,
    opts: &Opts,
    label: &str,
    peers: &[Peer],
    service: Service,
    args: &[String],
) -> io::Result<BTreeMap<Peer, Vec<Sample>>> {
    alternate_with(bins, opts, label, peers, service, |server| {
        timed_run(bins, server, args)
    })
}

/// Starts every peer, then makes one timed `run` against each, `rounds`
/// times, alternating the order; a run that other processes disturbed is
/// run again. `run` is the load client: ours, or another tool (`wrk`).
pub fn alternate_with(
    bins: &Bins,
    opts: &Opts,
    label: &str,
    peers: &[Peer],
    service: Service,
    mut run: impl FnMut(&Server) -> io::Result<Sample>,
) -> io::Result<BTreeMap<Peer, Vec<Sample>>> {
    let servers = peers
        .iter()
        .map(|&p| Server::start(bins, p, service, &[]))
        .collect::<io::Result<Vec<_>>>()?;
    let mut samples: BTreeMap<Peer, Vec<Sample>> = BTreeMap::new();
    for round in 0..opts.rounds {
        let mut order: Vec<&Server> = servers.iter().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for server in order {
            let mut sample = run(server)?;
            // The machine may be shared: a run during which other processes
            // took more than a little CPU measured them too. Wait for quiet
            // and run again (a few times at most; then keep it, flagged).
            for _ in 0..MAX_RETRIES {
                if !sample.disturbed() {
                    break;
                }
                eprintln!(
                    "  disturbed: other processes used {:.0} ms of CPU; retrying",
                    sample.others_ns as f64 / 1e6
                );
                wait_for_quiet();
                sample = run(server)?;
            }
            if sample.disturbed() {
                DISTURBED.fetch_add(1, Ordering::Relaxed);
            }
            SAMPLES.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "  {label} round {round} {:<16} rps={:<9.0} p99_us={:<8.1} mbps={:<8.1} \
                 server_ms={:<4.0} client_ms={:<4.0} others_ms={:.0}",
                server.peer.name(),
                sample.get("rps"),
                sample.get("p99_us"),
                sample.get("mbps"),
                sample.cpu_ns as f64 / 1e6,
                sample.client_ns as f64 / 1e6,
                sample.others_ns as f64 / 1e6
            );
            samples.entry(server.peer).or_default().push(sample);
        }
    }
    Ok(samples)
}

/// Runs kept although other processes were busy during them.
pub static DISTURBED: AtomicUsize = AtomicUsize::new(0);
/// Timed runs kept, in all.
pub static SAMPLES: AtomicUsize = AtomicUsize::new(0);
const MAX_RETRIES: usize = 3;
/// CPU other processes may use during a run, as a share of one core.
const QUIET: f64 = 0.10;

/// Waits (at most 30 s) until other processes use less than `QUIET` of a
/// core over 300 ms.
pub fn wait_for_quiet() {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < until {
        let before = machine_busy_ns();
        std::thread::sleep(Duration::from_millis(300));
        let used = machine_busy_ns().saturating_sub(before) as f64 / 300e6;
        if used < QUIET {
            return;
        }
    }
    eprintln!("  the machine stayed busy for 30 s; going on");
}

pub fn column(
    samples: &BTreeMap<Peer, Vec<Sample>>,
    f: impl Fn(&Sample) -> f64,
) -> BTreeMap<Peer, Vec<f64>> {
    samples
        .iter()
        .map(|(p, v)| (*p, v.iter().map(&f).collect()))
        .collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn timing(opts: &Opts) -> Vec<String> {
    args(&[
        "--duration",
        &opts.duration.to_string(),
        "--warmup",
        &opts.warmup.to_string(),
    ])
}

/// Echo ping-pong, 64-byte messages, at each connection count.
pub fn echo(bins: &Bins, opts: &Opts, report: &mut Report, conns: &[usize]) -> io::Result<()> {
    for &c in conns {
        let label = format!("echo 64 B, {c} conn");
        eprintln!("{label}");
        let mut a = args(&["--mode", "echo", "--size", "64", "--conns", &c.to_string()]);
        a.extend(timing(opts));
        let s = alternate(bins, opts, &label, &ECHO_PEERS, Service::Echo, &a)?;
        report.add(
            &label,
            "requests/s",
            Better::Higher,
            column(&s, |x| x.get("rps")),
        );
        report.add(
            &label,
            "p99 latency µs",
            Better::Lower,
            column(&s, |x| x.get("p99_us")),
        );
        report.add(
            &label,
            "server CPU µs/request",
            Better::Lower,
            column(&s, |x| x.cpu_us_per(x.get("requests"))),
        );
    }
    Ok(())
}

/// Pipelined echo: 16 messages in flight per connection, 10 connections.
pub fn pipeline(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let label = "echo pipelined ×16, 10 conn";
    eprintln!("{label}");
    let mut a = args(&[
        "--mode", "echo", "--size", "64", "--conns", "10", "--depth", "16",
    ]);
    a.extend(timing(opts));
    let s = alternate(bins, opts, label, &ECHO_PEERS, Service::Echo, &a)?;
    report.add(
        label,
        "requests/s",
        Better::Higher,
        column(&s, |x| x.get("rps")),
    );
    report.add(
        label,
        "server CPU µs/request",
        Better::Lower,
        column(&s, |x| x.cpu_us_per(x.get("requests"))),
    );
    Ok(())
}

/// Bulk echo: 64 KiB writes, 1 MiB in flight per connection.
pub fn bulk(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    for c in [1usize, 10] {
        let label = format!("bulk echo, {c} conn");
        eprintln!("{label}");
        let mut a = args(&["--mode", "bulk", "--size", "65536", "--window", "1048576"]);
        a.extend(args(&["--conns", &c.to_string()]));
        a.extend(timing(opts));
        let s = alternate(bins, opts, &label, &ECHO_PEERS, Service::Echo, &a)?;
        report.add(
            &label,
            "MB/s echoed",
            Better::Higher,
            column(&s, |x| x.get("mbps")),
        );
        report.add(
            &label,
            "server CPU µs/MB",
            Better::Lower,
            column(&s, |x| x.cpu_us_per(x.get("mbps") * x.get("elapsed_s"))),
        );
    }
    Ok(())
}

/// The lesson: connect, send, read `Yes`, close; 50 at a time.
pub fn connect(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let label = "lesson, 50 concurrent clients";
    eprintln!("{label}");
    let mut a = args(&["--mode", "connect", "--conns", "50"]);
    a.extend(timing(opts));
    let s = alternate(bins, opts, label, &REPLY_PEERS, Service::Reply, &a)?;
    report.add(
        label,
        "connections/s",
        Better::Higher,
        column(&s, |x| x.get("rps")),
    );
    report.add(
        label,
        "p99 latency µs",
        Better::Lower,
        column(&s, |x| x.get("p99_us")),
    );
    report.add(
        label,
        "server CPU µs/connection",
        Better::Lower,
        column(&s, |x| x.cpu_us_per(x.get("requests"))),
    );
    Ok(())
}

/// Server RSS with many idle connections, per connection above the
/// baseline (the server after one connection came and went).
pub fn memory(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let n = opts.idle_conns;
    let label = format!("{n} idle connections");
    eprintln!("{label}");
    let mut per_conn = BTreeMap::new();
    let mut totals = BTreeMap::new();
    for peer in ECHO_PEERS {
        let server = Server::start(bins, peer, Service::Echo, &[])?;
        let idle = |conns: usize| args(&["--mode", "idle", "--conns", &conns.to_string()]);
        let mut warm = Client::start(bins, server.addr, &idle(1))?;
        warm.expect("ready")?;
        warm.go()?;
        warm.summary()?;
        warm.finish()?;
        std::thread::sleep(Duration::from_millis(300));
        let base = server.rss_kib();
        let mut client = Client::start(bins, server.addr, &idle(n))?;
        client.expect("ready")?;
        std::thread::sleep(Duration::from_millis(300));
        let rss = server.rss_kib();
        client.go()?;
        client.summary()?;
        client.finish()?;
        let kib = (rss as f64 - base as f64) / n as f64;
        eprintln!(
            "  {:<16} baseline {base} KiB, with {n} idle: {rss} KiB: {kib:.2} KiB/conn",
            peer.name()
        );
        per_conn.insert(peer, vec![kib]);
        totals.insert(peer, vec![rss as f64 / 1024.0]);
    }
    report.add(
        &label,
        "RSS KiB/conn above baseline",
        Better::Lower,
        per_conn,
    );
    report.add(&label, "RSS MiB total", Better::Lower, totals);
    Ok(())
}
