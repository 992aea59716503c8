//! Threads the event-loop way, measured: the same twig server with one loop
//! and with two (`--workers`), blocking work offloaded and done inline, and
//! two twig loops against two nginx workers. Every pair runs in alternating
//! rounds (A B, then B A), driven by `wrk`; nothing is pinned, since two
//! loops need both cores of the machine (wrk shares them: the ratios, not
//! the absolute figures, are the result).

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{nginx_command_with, parse_wrk};
use crate::load::Fields;
use crate::procs::{Bins, die_with_parent, end};
use crate::report::{Report, fmt_num, median};
use crate::workloads::Opts;

/// The figure the issue expects from a second loop on a CPU-bound route.
const CPU_SCALING_TARGET: f64 = 1.7;

/// Runs the three comparisons and adds their section and targets.
pub fn threads(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let secs = opts.duration.round().max(1.0) as u64;
    let mut md = String::from(
        "## Threads: N loops and the offload pool\n\n\
         `cargo run --release -p twig-bench -- threads`. Each pair of servers runs in \
         alternating rounds; nothing is pinned (two loops need both cores, and wrk shares \
         them). The ratio is the median of the per-round ratios.\n\n",
    );

    eprintln!("threads: /cpu?us=1000, 1 loop vs 2");
    let work = |extra: &[&str]| -> Vec<String> {
        let mut argv = vec![
            bins.release
                .join("examples/work_server")
                .display()
                .to_string(),
        ];
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv
    };
    let cpu = alternate(
        opts,
        [&work(&["--workers", "1"]), &work(&["--workers", "2"])],
        bins,
        |addr| wrk(addr, &["-t1", "-c32"], "/cpu?us=1000", secs),
    )?;
    let ratio = per_round(&cpu, "rps", |a, b| b / a);
    table(
        &mut md,
        "`/cpu?us=1000` (1 ms of CPU on the loop thread per request), `wrk -t1 -c32`: requests/s",
        ["1 loop", "2 loops"],
        &cpu,
        "rps",
        ("2 loops / 1 loop", &ratio),
    );
    let scaling = median(&ratio);
    report.target(
        &format!("`/cpu?us=1000` requests/s, 2 loops ≥ {CPU_SCALING_TARGET}× 1 loop"),
        scaling.map_or("–".into(), |r| format!("{r:.2}×")),
        scaling.map(|r| r >= CPU_SCALING_TARGET),
    );

    eprintln!("threads: latency of / while 8 clients hammer /block?ms=100");
    let latency = alternate(
        opts,
        [&work(&["--pool", "8"]), &work(&["--inline"])],
        bins,
        |addr| {
            let mut hammer = spawn_wrk(addr, &["-t1", "-c8"], "/block?ms=100", secs + 3)?;
            std::thread::sleep(Duration::from_millis(300)); // the 8 are in flight
            // Inline, a `/` waits behind up to eight 100 ms sleeps: give
            // wrk time to see answers at all.
            let probe = wrk(
                addr,
                &["-t1", "-c1", "--latency", "--timeout", "10s"],
                "/",
                secs + 2,
            );
            end(&mut hammer, Duration::from_secs(secs + 8));
            probe
        },
    )?;
    for (what, key) in [("p50", "p50_us"), ("p99", "p99_us")] {
        let ratio = per_round(&latency, key, |offloaded, inline| inline / offloaded);
        table(
            &mut md,
            &format!(
                "`/` {what} latency (µs, `wrk -t1 -c1`) while 8 clients hammer `/block?ms=100`"
            ),
            ["offloaded (`--pool 8`)", "inline (`--inline`)"],
            &latency,
            key,
            ("inline / offloaded", &ratio),
        );
    }

    eprintln!("threads: HTTP hello, 2 twig loops vs 2 nginx workers");
    let conf_dir = bins.work.join("nginx-2");
    let http = vec![
        bins.release
            .join("examples/http_server")
            .display()
            .to_string(),
        "--workers".into(),
        "2".into(),
    ];
    let hello = alternate_nginx(opts, &http, bins, &conf_dir, |addr| {
        wrk(addr, &["-t2", "-c100"], "/", secs)
    })?;
    let ratio = per_round(&hello, "rps", |twig, nginx| twig / nginx);
    table(
        &mut md,
        "HTTP hello keep-alive, `wrk -t2 -c100`: requests/s",
        ["twig, 2 loops", "nginx, 2 workers"],
        &hello,
        "rps",
        ("twig / nginx", &ratio),
    );
    report.sections.push(md);
    Ok(())
}

/// Samples of two servers, round by round: `[a, b]` per round.
type Rounds = Vec<[Fields; 2]>;

/// Starts both servers (each on a free port, given as its first argument),
/// then runs `client` against each in alternating order, `opts.rounds`
/// rounds.
fn alternate(
    opts: &Opts,
    argvs: [&Vec<String>; 2],
    bins: &Bins,
    mut client: impl FnMut(SocketAddr) -> io::Result<Fields>,
) -> io::Result<Rounds> {
    let a = Spawned::start(argvs[0], bins, "a")?;
    let b = Spawned::start(argvs[1], bins, "b")?;
    let mut rounds = Vec::new();
    for round in 0..opts.rounds {
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let x = client(first.addr)?;
        let y = client(second.addr)?;
        rounds.push(if round % 2 == 0 { [x, y] } else { [y, x] });
    }
    Ok(rounds)
}

/// [`alternate`] with nginx (two workers, its config under `conf_dir`) as
/// the second server.
fn alternate_nginx(
    opts: &Opts,
    twig: &[String],
    bins: &Bins,
    conf_dir: &std::path::Path,
    mut client: impl FnMut(SocketAddr) -> io::Result<Fields>,
) -> io::Result<Rounds> {
    let a = Spawned::start(twig, bins, "twig")?;
    let addr = free_port()?;
    let argv = nginx_command_with(conf_dir, addr, 2)?;
    let b = Spawned::start_at(&argv, addr, bins, "nginx")?;
    let mut rounds = Vec::new();
    for round in 0..opts.rounds {
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let x = client(first.addr)?;
        let y = client(second.addr)?;
        rounds.push(if round % 2 == 0 { [x, y] } else { [y, x] });
    }
    Ok(rounds)
}

/// A server process of this workload, ended (SIGTERM) when dropped.
struct Spawned {
    child: Child,
    addr: SocketAddr,
}

impl Spawned {
    /// Starts `argv` with a free loopback address as its first argument.
    fn start(argv: &[String], bins: &Bins, tag: &str) -> io::Result<Spawned> {
        let addr = free_port()?;
        let mut with_addr = vec![argv[0].clone(), addr.to_string()];
        with_addr.extend(argv[1..].iter().cloned());
        Spawned::start_at(&with_addr, addr, bins, tag)
    }

    /// Starts `argv` as is; it listens on `addr`.
    fn start_at(argv: &[String], addr: SocketAddr, bins: &Bins, tag: &str) -> io::Result<Spawned> {
        let log = File::create(bins.work.join(format!("threads-{tag}-{}.log", addr.port())))?;
        let child = die_with_parent(&mut Command::new(&argv[0]))
            .args(&argv[1..])
            .env("RUST_LOG", "warn")
            .env("IDLE_TIMEOUT_SECS", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::other(format!("cannot start {}: {e}", argv[0])))?;
        let spawned = Spawned { child, addr };
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > until {
                return Err(io::Error::other(format!("{} did not accept", argv[0])));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(spawned)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        end(&mut self.child, Duration::from_secs(5));
    }
}

/// One `wrk` run of `secs` seconds against `path`.
fn wrk(addr: SocketAddr, args: &[&str], path: &str, secs: u64) -> io::Result<Fields> {
    let out = die_with_parent(&mut Command::new("wrk"))
        .args(args)
        .arg(format!("-d{secs}s"))
        .arg(format!("http://{addr}{path}"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = parse_wrk(&text);
    if fields.get("requests").copied().unwrap_or(0.0) == 0.0 {
        // No answer in the window: no latency to report (wrk prints 0).
        fields.remove("p50_us");
        fields.remove("p99_us");
    }
    if !out.status.success() || !fields.contains_key("rps") {
        return Err(io::Error::other(format!("wrk {path} failed: {text}")));
    }
    if fields.get("errors").copied().unwrap_or(0.0) > 0.0 {
        eprintln!("  warning: wrk {path} counted errors: {fields:?}");
    }
    Ok(fields)
}

/// `wrk` in the background (its report is not read).
fn spawn_wrk(addr: SocketAddr, args: &[&str], path: &str, secs: u64) -> io::Result<Child> {
    die_with_parent(&mut Command::new("wrk"))
        .args(args)
        .arg(format!("-d{secs}s"))
        .arg(format!("http://{addr}{path}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// `f(a, b)` of field `key`, round by round.
fn per_round(rounds: &Rounds, key: &str, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|[a, b]| Some(f(*a.get(key)?, *b.get(key)?)))
        .collect()
}

/// A table: each round's values of `key` for both servers, their ratio, and
/// the medians.
fn table(
    md: &mut String,
    title: &str,
    names: [&str; 2],
    rounds: &Rounds,
    key: &str,
    (ratio_name, ratios): (&str, &[f64]),
) {
    let _ = writeln!(
        md,
        "{title}:\n\n| round | {} | {} | {ratio_name} |\n|---:|---:|---:|---:|",
        names[0], names[1]
    );
    let value = |f: &Fields| f.get(key).map_or("–".into(), |v| fmt_num(*v));
    for (i, [a, b]) in rounds.iter().enumerate() {
        let r = ratios.get(i).map_or("–".into(), |r| format!("{r:.2}"));
        let _ = writeln!(md, "| {} | {} | {} | {r} |", i + 1, value(a), value(b));
    }
    let med = |i: usize| {
        median(
            &rounds
                .iter()
                .filter_map(|r| r[i].get(key).copied())
                .collect::<Vec<_>>(),
        )
    };
    let show = |m: Option<f64>| m.map_or("–".into(), fmt_num);
    let _ = writeln!(
        md,
        "| median | {} | {} | **{}** |\n",
        show(med(0)),
        show(med(1)),
        median(ratios).map_or("–".into(), |r| format!("{r:.2}"))
    );
}

/// A loopback address with a port free right now.
fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}
