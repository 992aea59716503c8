//! The targets, checked against what a run measured. A verdict
//! whose threshold lies inside the range of the per-round ratios says so:
//! such a difference is within the machine's noise.

use crate::procs::Peer;
use crate::report::{self, Report};

/// The targets, checked against what was measured.
pub fn check_targets(report: &mut Report) {
    let get = |r: &Report, w: &str, m: &str, p: Peer| r.find(w, m).and_then(|x| x.median(p));
    let ratio = |r: &Report, w: &str, m: &str, p: Peer| r.find(w, m).and_then(|x| x.ratio(p));

    let w = "echo 64 B, 1 conn (callgrind)";
    let (twig, c) = (
        get(report, w, "instructions/request", Peer::Twig),
        get(report, w, "instructions/request", Peer::C),
    );
    let value = format!("twig {} vs C {}", show(twig), show(c));
    let ok = twig.zip(c).map(|(t, c)| t <= 2.0 * c);
    report.target("instructions per echo request ≤ 2× C (1 conn)", value, ok);

    // The machine issue's absolute thresholds (the hot-path guard; see
    // BENCHMARKS.md, "What keeps the hot path cheap").
    for (w, limit) in [
        ("echo 64 B, 1 conn (callgrind)", 650.0),
        ("echo 64 B, 50 conn (callgrind)", 500.0),
        (crate::callgrind::HTTP_LABEL, 3_000.0),
    ] {
        let twig = get(report, w, "instructions/request", Peer::Twig);
        let ok = twig.map(|t| t <= limit);
        report.target(
            &format!("{w}: ≤ {limit} instructions/request"),
            show(twig),
            ok,
        );
    }

    let w = "echo 64 B, 50 conn (perf)";
    let s = get(report, w, "syscalls/request", Peer::Twig);
    let ctl = get(report, w, "epoll_ctl calls (steady state)", Peer::Twig);
    report.target(
        "syscalls per ping-pong request ≤ 2.15 at 50 conn",
        show(s),
        s.map(|s| s <= 2.15),
    );
    report.target(
        "no epoll_ctl in steady state",
        show(ctl),
        ctl.map(|c| c == 0.0),
    );

    // Whether `threshold` lies inside the range of twig/peer per round.
    let noisy = |r: &Report, w: &str, m: &str, p: Peer, threshold: f64| {
        r.find(w, m)
            .and_then(|x| x.spread(p))
            .is_some_and(|(lo, hi)| lo <= threshold && threshold <= hi)
    };
    for conns in [1, 50, 500] {
        let w = format!("echo 64 B, {conns} conn");
        let m = "server CPU µs/request";
        let cpu_c = ratio(report, &w, m, Peer::C);
        let cpu_t = ratio(report, &w, m, Peer::Tokio);
        let n = noisy(report, &w, m, Peer::C, 1.0 / 0.95) || noisy(report, &w, m, Peer::Tokio, 1.0);
        report.target_noisy(
            &format!("{w}: server CPU/request ≤ C/0.95 and ≤ tokio"),
            format!("twig/C {}, twig/tokio {}", show(cpu_c), show(cpu_t)),
            cpu_c.zip(cpu_t).map(|(c, t)| c <= 1.0 / 0.95 && t <= 1.0),
            n,
        );
        let m = "requests/s";
        let rps_c = ratio(report, &w, m, Peer::C);
        let rps_t = ratio(report, &w, m, Peer::Tokio);
        let n = noisy(report, &w, m, Peer::C, 0.95) || noisy(report, &w, m, Peer::Tokio, 1.0);
        report.target_noisy(
            &format!("{w}: requests/s ≥ 0.95× C and ≥ tokio"),
            format!("twig/C {}, twig/tokio {}", show(rps_c), show(rps_t)),
            rps_c.zip(rps_t).map(|(c, t)| c >= 0.95 && t >= 1.0),
            n,
        );
    }
    let kib = report
        .metrics
        .iter()
        .find(|m| m.what == "RSS KiB/conn above baseline")
        .and_then(|m| m.median(Peer::Twig));
    report.target(
        "RSS per idle connection ≤ 0.5 KiB above baseline",
        show(kib),
        kib.map(|k| k <= 0.5),
    );
    for conns in [1, 10] {
        let w = format!("bulk echo, {conns} conn");
        let m = "MB/s echoed";
        let r = ratio(report, &w, m, Peer::C);
        let n = noisy(report, &w, m, Peer::C, 0.95);
        report.target_noisy(
            &format!("{w}: MB/s ≥ 0.95× C"),
            format!("twig/C {}", show(r)),
            r.map(|r| r >= 0.95),
            n,
        );
    }
    let (w, m) = (crate::http::LABEL, "requests/s");
    let r = ratio(report, w, m, Peer::Nginx);
    report.target_noisy(
        "HTTP hello keep-alive, wrk -t1 -c100: requests/s ≥ 1.3× nginx (one worker)",
        format!("twig/nginx {}", show(r)),
        r.map(|r| r >= 1.3),
        noisy(report, w, m, Peer::Nginx, 1.3),
    );
    let r = ratio(report, w, m, Peer::Tokio);
    report.target_noisy(
        "HTTP hello keep-alive, wrk -t1 -c100: requests/s ≥ tokio (hyper)",
        format!("twig/tokio {}", show(r)),
        r.map(|r| r >= 1.0),
        noisy(report, w, m, Peer::Tokio, 1.0),
    );
    let (w, m) = ("echo 64 B, 500 conn", "p99 latency µs");
    let r = ratio(report, w, m, Peer::Tokio);
    let n = noisy(report, w, m, Peer::Tokio, 1.0);
    report.target_noisy(
        "p99 at 500 conn ≤ tokio's",
        format!("twig/tokio {}", show(r)),
        r.map(|r| r <= 1.0),
        n,
    );
}

fn show(v: Option<f64>) -> String {
    v.map_or("–".into(), report::fmt_num)
}
