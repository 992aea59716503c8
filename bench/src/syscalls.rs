//! Syscalls per request: `perf stat` on syscall tracepoints (no slowdown),
//! and `strace -c -f` (names and failed calls), attached to the server for a
//! fixed number of requests once every connection is up, detached before
//! they close.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::load::Client;
use crate::procs::{Bins, Owned, Peer, Server, Service, die_with_parent};
use crate::report::{Better, Report};
use crate::workloads::{ECHO_PEERS, Opts};

/// Syscall name → (calls, failed calls). perf counts no failures.
type Counts = BTreeMap<String, (u64, u64)>;

/// How syscalls are counted.
#[derive(Clone, Copy, PartialEq)]
enum Tracer {
    /// `strace -c -f`: names and failures (EAGAIN), but each syscall stops
    /// the server twice, so it runs slower and batches more per wake-up.
    Strace,
    /// `perf stat` on syscall tracepoints: counted in the kernel, no
    /// slowdown, so wake-ups per request are as in a real run.
    Perf,
}

/// The syscalls perf counts by name; the rest are counted as `other`.
const PERF_SYSCALLS: [&str; 24] = [
    "read",
    "write",
    "recvfrom",
    "sendto",
    "readv",
    "writev",
    "recvmsg",
    "sendmsg",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
    "accept4",
    "accept",
    "close",
    "shutdown",
    "futex",
    "ioctl",
    "getsockopt",
    "setsockopt",
    "mmap",
    "munmap",
    "brk",
    "madvise",
];

/// Counts the server's syscalls while the client sends exactly `n` echo
/// requests over `conns` connections already established and warmed up;
/// the tracer detaches before they close, so only the steady state counts.
fn traced_run(bins: &Bins, peer: Peer, conns: usize, n: u64, tracer: Tracer) -> io::Result<Counts> {
    let server = Server::start(bins, peer, Service::Echo, &[])?;
    let a: Vec<String> = ["--mode", "echo", "--size", "64", "--wait-start"]
        .iter()
        .map(|s| s.to_string())
        .chain(["--conns".into(), conns.to_string()])
        .chain(["--requests".into(), n.to_string()])
        .collect();
    let mut client = Client::start(bins, server.addr, &a)?;
    client.expect("ready")?;
    let name = if tracer == Tracer::Strace {
        "strace"
    } else {
        "perf"
    };
    let out = bins.work.join(format!(
        "{name}-{}-{conns}.txt",
        peer.name().replace(' ', "_")
    ));
    let pid = server.pid().to_string();
    let traced = match tracer {
        Tracer::Strace => {
            let mut child = die_with_parent(&mut Command::new("strace"))
                .args(["-c", "-f", "-o"])
                .arg(&out)
                .args(["-p", &pid])
                .stderr(Stdio::piped())
                .spawn()?;
            let stderr = child.stderr.take().expect("piped stderr");
            let traced = Owned(child);
            // strace says "Process N attached" once it is tracing.
            let mut lines = BufReader::new(stderr).lines();
            loop {
                match lines.next() {
                    Some(Ok(line)) if line.contains("attached") => break,
                    Some(Ok(_)) => {}
                    _ => return Err(io::Error::other("strace did not attach")),
                }
            }
            traced
        }
        Tracer::Perf => {
            let events: Vec<String> = std::iter::once("raw_syscalls:sys_enter".to_string())
                .chain(
                    PERF_SYSCALLS
                        .iter()
                        .map(|s| format!("syscalls:sys_enter_{s}")),
                )
                .collect();
            let child = die_with_parent(&mut Command::new("perf"))
                .args(["stat", "-x,", "-o"])
                .arg(&out)
                .args(["-e", &events.join(","), "-p", &pid])
                .stderr(Stdio::null())
                .spawn()?;
            Owned(child)
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    client.go()?;
    let fields = client.summary()?;
    traced.stop(libc::SIGINT, Duration::from_secs(10)); // it writes its summary
    client.go()?;
    client.finish()?;
    let done = fields.get("requests").copied().unwrap_or(0.0) as u64;
    if done != n {
        return Err(io::Error::other(format!(
            "{} answered {done} of {n}",
            peer.name()
        )));
    }
    let text = std::fs::read_to_string(&out)?;
    match tracer {
        Tracer::Strace => parse_strace(&text),
        Tracer::Perf => parse_perf(&text),
    }
}

/// Parses `strace -c` output: `% time seconds usecs/call calls [errors] syscall`.
fn parse_strace(text: &str) -> io::Result<Counts> {
    let mut counts = Counts::new();
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 5 || t[0].parse::<f64>().is_err() || t.last() == Some(&"total") {
            continue;
        }
        let errors = if t.len() >= 6 {
            t[4].parse().unwrap_or(0)
        } else {
            0
        };
        if let Ok(calls) = t[3].parse::<u64>() {
            counts.insert(t[t.len() - 1].to_string(), (calls, errors));
        }
    }
    if counts.is_empty() {
        return Err(io::Error::other("no strace summary"));
    }
    Ok(counts)
}

/// Parses `perf stat -x,` output: `count,unit,event,...`.
fn parse_perf(text: &str) -> io::Result<Counts> {
    let mut counts = Counts::new();
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(count), Some(event)) = (f.first(), f.get(2)) else {
            continue;
        };
        let Ok(count) = count.trim().parse::<u64>() else {
            continue;
        };
        if *event == "raw_syscalls:sys_enter" {
            total = Some(count);
        } else if let Some(name) = event.strip_prefix("syscalls:sys_enter_")
            && count > 0
        {
            counts.insert(name.to_string(), (count, 0));
        }
    }
    let total = total.ok_or_else(|| io::Error::other("no perf summary"))?;
    let named: u64 = counts.values().map(|c| c.0).sum();
    if total > named {
        counts.insert("other".into(), (total - named, 0));
    }
    Ok(counts)
}

/// A table of calls per request: one column per server.
fn counts_table(all: &BTreeMap<Peer, Counts>, n: u64, with_errors: bool) -> String {
    let mut s = String::from("| syscall |");
    for peer in all.keys() {
        let _ = write!(s, " {} |", peer.name());
    }
    s.push_str("\n|---|");
    for _ in all.keys() {
        s.push_str("---:|");
    }
    s.push('\n');
    let names: std::collections::BTreeSet<&String> = all.values().flat_map(|c| c.keys()).collect();
    for name in names {
        let _ = write!(s, "| {name} |");
        for counts in all.values() {
            let (calls, errors) = counts.get(name).copied().unwrap_or((0, 0));
            let _ = write!(s, " {:.3}", calls as f64 / n as f64);
            if with_errors && errors > 0 {
                let _ = write!(s, " ({:.3} failed)", errors as f64 / n as f64);
            }
            s.push_str(" |");
        }
        s.push('\n');
    }
    let _ = write!(s, "| **total** |");
    for counts in all.values() {
        let total: u64 = counts.values().map(|c| c.0).sum();
        let _ = write!(s, " **{:.3}** |", total as f64 / n as f64);
    }
    s.push('\n');
    s
}

/// Syscalls and wake-ups per request at 1 and 50 connections, counted by
/// perf (the metrics), and by strace at 50 (names and failures).
pub fn syscalls(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let mut section = String::from(
        "## Syscalls per echo request\n\n\
         Steady state only: the counter attaches once every connection is up and has \
         echoed one message, and detaches before they close. Wake-ups are `epoll_wait` \
         calls. `perf stat` counts syscall tracepoints in the kernel without slowing the \
         server; `strace -c -f` names failures too, but slows the server, which then finds \
         more events per wake-up. Fewer wake-ups per request is not by itself better: a \
         server that keeps up with its clients wakes for fewer events each time.\n",
    );
    for conns in [1usize, 50] {
        let n = opts.strace_requests * if conns == 1 { 1 } else { 5 };
        eprintln!("syscalls per request (perf), {conns} conn, {n} requests");
        let mut per_req: BTreeMap<Peer, Vec<f64>> = BTreeMap::new();
        let mut turns: BTreeMap<Peer, Vec<f64>> = BTreeMap::new();
        let mut ctl: BTreeMap<Peer, Vec<f64>> = BTreeMap::new();
        let mut all: BTreeMap<Peer, Counts> = BTreeMap::new();
        // Wake-ups depend on timing (a server that keeps up wakes for fewer
        // events each time), so a few alternating rounds.
        for round in 0..opts.rounds.clamp(1, 3) {
            let mut order = ECHO_PEERS.to_vec();
            if round % 2 == 1 {
                order.reverse();
            }
            for peer in order {
                let counts = traced_run(bins, peer, conns, n, Tracer::Perf)?;
                let total: u64 = counts.values().map(|c| c.0).sum();
                let waits: u64 = counts
                    .iter()
                    .filter(|(k, _)| k.starts_with("epoll_wait") || k.starts_with("epoll_pwait"))
                    .map(|(_, v)| v.0)
                    .sum();
                eprintln!(
                    "  round {round} {:<16} {:.3} syscalls/request, {:.3} wake-ups/request",
                    peer.name(),
                    total as f64 / n as f64,
                    waits as f64 / n as f64
                );
                let per = |v: u64| v as f64 / n as f64;
                per_req.entry(peer).or_default().push(per(total));
                turns.entry(peer).or_default().push(per(waits));
                let calls = counts.get("epoll_ctl").map_or(0, |c| c.0) as f64;
                ctl.entry(peer).or_default().push(calls);
                all.insert(peer, counts);
            }
        }
        let label = format!("echo 64 B, {conns} conn (perf)");
        report.add(&label, "syscalls/request", Better::Lower, per_req);
        report.add(&label, "wake-ups/request", Better::Neither, turns);
        report.add(&label, "epoll_ctl calls (steady state)", Better::Lower, ctl);
        let _ = writeln!(
            section,
            "\n### perf, {conns} connection(s), {n} requests (last round): calls per request\n\n{}",
            counts_table(&all, n, false)
        );
    }
    let (conns, n) = (50, opts.strace_requests);
    eprintln!("syscalls per request (strace), {conns} conn, {n} requests");
    let mut all: BTreeMap<Peer, Counts> = BTreeMap::new();
    for peer in ECHO_PEERS {
        all.insert(peer, traced_run(bins, peer, conns, n, Tracer::Strace)?);
    }
    let _ = writeln!(
        section,
        "\n### strace -c, {conns} connections, {n} requests: calls per request\n\n{}",
        counts_table(&all, n, true)
    );
    report.sections.push(section);
    Ok(())
}
