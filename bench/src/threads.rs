//! Threads the event-loop way, measured: the same twig server with one loop
//! and with two (`--workers`), blocking work offloaded and done inline, and
//! two twig loops against two nginx workers. Every pair runs in alternating
//! rounds (A B, then B A), driven by `wrk`; nothing is pinned, since two
//! loops need both cores of the machine (wrk shares them: the ratios, not
//! the absolute figures, are the result).

use std::io;
use std::time::Duration;

use crate::pairs::{alternate, alternate_nginx, per_round, spawn_wrk, table, wrk};
use crate::procs::{Bins, end};
use crate::report::{Report, median};
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
