//! Key-value: twig's `kv_server` against `redis-server`, both driven by
//! `redis-benchmark` pinned to the client core, in alternating rounds.

use std::collections::BTreeMap;
use std::io;

use crate::procs::{Bins, Peer, Server, Service};
use crate::report::{Better, Report};
use crate::workloads::Opts;

/// Key-value: twig's `kv_server` against `redis-server`, both driven by
/// `redis-benchmark` (SET and GET, 50 connections), without pipelining and
/// with 16 commands in flight per connection.
pub fn kv(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let peers = [Peer::Twig, Peer::Redis];
    for pipeline in [1usize, 16] {
        let label = format!("kv SET+GET, 50 conn, pipeline {pipeline}");
        eprintln!("{label}");
        // About a second per test at the rates seen here.
        let n = ((if pipeline == 1 { 100_000.0 } else { 800_000.0 }) * opts.duration) as u64;
        let servers = peers
            .iter()
            .map(|&p| Server::start(bins, p, Service::Kv, &[]))
            .collect::<io::Result<Vec<_>>>()?;
        let (mut set, mut get, mut cpu) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for round in 0..opts.rounds {
            let mut order: Vec<&Server> = servers.iter().collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for server in order {
                let before = server.cpu_ns();
                let out = std::process::Command::new("taskset")
                    .args([
                        "-c",
                        crate::procs::CLIENT_CPU,
                        "redis-benchmark",
                        "-h",
                        "127.0.0.1",
                    ])
                    .args(["-p", &server.addr.port().to_string(), "-c", "50"])
                    .args(["-n", &n.to_string(), "-P", &pipeline.to_string()])
                    .args(["-t", "set,get", "--csv", "-q"])
                    .output()?;
                let used = server.cpu_ns().saturating_sub(before);
                let text = String::from_utf8_lossy(&out.stdout);
                let rps = |test: &str| {
                    text.lines()
                        .find(|l| l.starts_with(&format!("\"{test}\"")))
                        .and_then(|l| l.split(',').nth(1)?.trim_matches('"').parse::<f64>().ok())
                        .unwrap_or(f64::NAN)
                };
                let (s, g) = (rps("SET"), rps("GET"));
                let per_req = used as f64 / 1000.0 / (2 * n) as f64;
                eprintln!(
                    "  {label} round {round} {:<16} SET rps={s:<9.0} GET rps={g:<9.0} cpu µs/req={per_req:.2}",
                    server.peer.name()
                );
                set.entry(server.peer).or_insert_with(Vec::new).push(s);
                get.entry(server.peer).or_insert_with(Vec::new).push(g);
                cpu.entry(server.peer)
                    .or_insert_with(Vec::new)
                    .push(per_req);
            }
        }
        report.add(&label, "SET requests/s", Better::Higher, set);
        report.add(&label, "GET requests/s", Better::Higher, get);
        report.add(&label, "server CPU µs/request", Better::Lower, cpu);
    }
    Ok(())
}
