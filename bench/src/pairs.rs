//! Two servers side by side, for the workloads that compare whole
//! processes (`threads`, `tls`): start both, run a client against each in
//! alternating rounds, and tabulate the per-round ratios. `wrk` drives them.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{nginx_command_with, parse_wrk};
use crate::load::Fields;
use crate::procs::{Bins, die_with_parent, end};
use crate::report::{fmt_num, median};
use crate::workloads::Opts;

/// Samples of two servers, round by round: `[a, b]` per round.
pub(crate) type Rounds = Vec<[Fields; 2]>;

/// Starts both servers (each on a free port, given as its first argument),
/// then runs `client` against each in alternating order, `opts.rounds`
/// rounds.
pub(crate) fn alternate(
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
pub(crate) fn alternate_nginx(
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
pub(crate) struct Spawned {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Spawned {
    /// The process's PID (for its CPU time and memory).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `argv` with a free loopback address as its first argument.
    pub(crate) fn start(argv: &[String], bins: &Bins, tag: &str) -> io::Result<Spawned> {
        let addr = free_port()?;
        let mut with_addr = vec![argv[0].clone(), addr.to_string()];
        with_addr.extend(argv[1..].iter().cloned());
        Spawned::start_at(&with_addr, addr, bins, tag)
    }

    /// Starts `argv` as is; it listens on `addr`.
    pub(crate) fn start_at(
        argv: &[String],
        addr: SocketAddr,
        bins: &Bins,
        tag: &str,
    ) -> io::Result<Spawned> {
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
pub(crate) fn wrk(addr: SocketAddr, args: &[&str], path: &str, secs: u64) -> io::Result<Fields> {
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
pub(crate) fn spawn_wrk(
    addr: SocketAddr,
    args: &[&str],
    path: &str,
    secs: u64,
) -> io::Result<Child> {
    die_with_parent(&mut Command::new("wrk"))
        .args(args)
        .arg(format!("-d{secs}s"))
        .arg(format!("http://{addr}{path}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// `f(a, b)` of field `key`, round by round.
pub(crate) fn per_round(rounds: &Rounds, key: &str, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|[a, b]| Some(f(*a.get(key)?, *b.get(key)?)))
        .collect()
}

/// A table: each round's values of `key` for both servers, their ratio, and
/// the medians.
pub(crate) fn table(
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
pub(crate) fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}
