//! twig's benchmark driver: twig side by side with a hand-written C epoll
//! server, tokio (current-thread), asyncio and the lesson's blocking Python
//! server. Each server is its own process pinned to core 0; the load client
//! (`src/bin/client.rs`) is pinned to core 1. Results are ratios twig/peer,
//! the median over alternating rounds, never a single absolute number.
//!
//! ```text
//! cargo run --release -p twig-bench -- [all|echo|pipeline|bulk|connect|kv|
//!     http|memory|syscalls|instructions|http-instructions] [--quick] [--rounds N]
//!     [--duration SECS] [--out DIR] [--twig DIR]
//! ```
//! `http-instructions` is the HTTP part of `instructions` alone (twig's
//! HTTP hello under callgrind, 50 connections).
//! `all` (the default) writes `bench/results/` (results.md, raw.tsv,
//! chart.svg); anything else, or `--quick`, writes under the work directory
//! unless `--out` says where. `chart RAW.TSV` redraws the chart beside a
//! saved `raw.tsv` without running anything. `--twig DIR` builds twig's examples from
//! another checkout of the crate (say, `git archive` of a commit) instead
//! of this work tree. A workload whose tools are missing has them installed
//! from Debian's packages when the driver runs as root, else is skipped.

mod callgrind;
mod http;
mod kv;
mod load;
mod pairs;
mod procs;
mod report;
mod syscalls;
mod targets;
mod threads;
mod tls;
mod workloads;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use procs::Bins;
use report::Report;
use workloads::Opts;

const WORKLOADS: [&str; 11] = [
    "echo",
    "pipeline",
    "bulk",
    "connect",
    "kv",
    "http",
    "memory",
    "syscalls",
    "instructions",
    "threads",
    "tls",
];

fn main() {
    if let Err(e) = run() {
        eprintln!("twig-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut what = Vec::new();
    let (mut quick, mut rounds, mut duration, mut out) = (false, None, None, None);
    let mut twig = None;
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = || {
            argv.next()
                .ok_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--quick" => quick = true,
            "--rounds" => rounds = Some(value()?.parse().map_err(|_| usage("--rounds N"))?),
            "--duration" => {
                duration = Some(value()?.parse().map_err(|_| usage("--duration SECS"))?)
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "--twig" => twig = Some(PathBuf::from(value()?)),
            "all" => what.extend(WORKLOADS.iter().map(|s| s.to_string())),
            w if WORKLOADS.contains(&w) || w == "http-instructions" => what.push(w.to_string()),
            "chart" => {
                // Redraws chart.svg beside a saved raw.tsv: no new run.
                let raw = PathBuf::from(value()?);
                let report = report::from_raw(&std::fs::read_to_string(&raw)?);
                let svg = raw.with_file_name("chart.svg");
                std::fs::write(&svg, report.chart())?;
                eprintln!("wrote {}", svg.display());
                return Ok(());
            }
            "-h" | "--help" => return Err(usage("")),
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let full = what.is_empty() || what.len() == WORKLOADS.len();
    if what.is_empty() {
        what.extend(WORKLOADS.iter().map(|s| s.to_string()));
    }
    let opts = Opts {
        rounds: rounds.unwrap_or(if quick { 1 } else { 5 }),
        duration: duration.unwrap_or(if quick { 0.5 } else { 1.0 }),
        warmup: if quick { 0.1 } else { 0.3 },
        idle_conns: if quick { 2_000 } else { 10_000 },
        strace_requests: if quick { 5_000 } else { 20_000 },
        callgrind_requests: if quick {
            (1_000, 3_000)
        } else {
            (2_000, 12_000)
        },
        callgrind_conns: if quick { vec![1] } else { vec![1, 50] },
    };

    raise_fd_limit();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf();
    let release = std::env::current_exe()?
        .parent()
        .expect("the binary is in a directory")
        .to_path_buf();
    let target = release.parent().expect("target/release").to_path_buf();
    let work = std::env::temp_dir().join(format!("twig-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let out = out.unwrap_or_else(|| {
        if full && !quick {
            workspace.join("bench/results")
        } else {
            work.join("results")
        }
    });
    eprintln!(
        "work directory (server logs, tool output): {}",
        work.display()
    );
    let twig = twig.unwrap_or_else(|| workspace.clone());
    load::build_all(&workspace, &twig, &target, &release)?;
    let bins = Bins {
        release,
        bench_dir: workspace.join("bench"),
        work,
        twig: twig.clone(),
        target: target.clone(),
    };

    let started = Instant::now();
    let mut report = Report::default();
    let mut apt_updated = false;
    for w in &what {
        let needs: &[&str] = match w.as_str() {
            "syscalls" => &["perf", "strace"],
            "instructions" | "http-instructions" => &["valgrind"],
            "kv" => &["redis-server", "redis-benchmark"],
            "http" => &["taskset", "wrk", "nginx"],
            "threads" => &["wrk", "nginx"],
            "tls" => &["taskset", "wrk", "nginx", "openssl", "python3"],
            _ => &["taskset", "python3"],
        };
        let missing: Vec<&str> = needs.iter().copied().filter(|t| !on_path(t)).collect();
        install(&missing, &mut apt_updated);
        if let Some(missing) = missing.iter().find(|t| !on_path(t)) {
            eprintln!("skipping {w}: `{missing}` is not installed (see BENCHMARKS.md)");
            continue;
        }
        workloads::wait_for_quiet();
        match w.as_str() {
            "echo" => workloads::echo(&bins, &opts, &mut report, &[1, 50, 500])?,
            "pipeline" => workloads::pipeline(&bins, &opts, &mut report)?,
            "bulk" => workloads::bulk(&bins, &opts, &mut report)?,
            "connect" => workloads::connect(&bins, &opts, &mut report)?,
            "kv" => kv::kv(&bins, &opts, &mut report)?,
            "http" => http::http(&bins, &opts, &mut report)?,
            "memory" => workloads::memory(&bins, &opts, &mut report)?,
            "syscalls" => syscalls::syscalls(&bins, &opts, &mut report)?,
            "instructions" => callgrind::instructions(&bins, &opts, &mut report, true)?,
            "http-instructions" => callgrind::instructions(&bins, &opts, &mut report, false)?,
            "threads" => threads::threads(&bins, &opts, &mut report)?,
            "tls" => tls::tls(&bins, &opts, &mut report)?,
            _ => unreachable!("checked above"),
        }
    }
    targets::check_targets(&mut report);
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let header = format!(
        "# twig benchmark results\n\n\
         Command: `cargo run --release -p twig-bench -- {command}` ({} rounds of {} s per \
         server and workload; took {:.0} s).\n\n{}\n\ntwig measured: {}.\n\n\
         Timed runs during which other processes used over 10% of a core were run again \
         (up to 3 times); {} of {} kept runs were still disturbed.\n",
        opts.rounds,
        opts.duration,
        started.elapsed().as_secs_f64(),
        machine(),
        describe(&twig),
        workloads::DISTURBED.load(std::sync::atomic::Ordering::Relaxed),
        workloads::SAMPLES.load(std::sync::atomic::Ordering::Relaxed),
    );
    report.write(&out, &header)?;
    println!("{}", report.table());
    println!("{}", report.targets_table());
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn usage(why: &str) -> io::Error {
    io::Error::other(format!(
        "{why}\nusage: twig-bench [all|{}|http-instructions]... [--quick] [--rounds N] [--duration SECS] [--out DIR] [--twig DIR]",
        WORKLOADS.join("|")
    ))
}

/// Whether `tool` is an executable on `PATH`.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Installs the Debian packages of the missing `tools`, as the issue's
/// script does, when the driver runs as root (`apt-get update` once per
/// run). Not root, no apt, or a failed install: the caller skips the
/// workload. (Where policy allows it, Debian's nginx package starts its own
/// service on port 80; the bench never uses that one.)
fn install(tools: &[&str], apt_updated: &mut bool) {
    // SAFETY: geteuid has no preconditions.
    if tools.is_empty() || unsafe { libc::geteuid() } != 0 || !on_path("apt-get") {
        return;
    }
    let packages: Vec<&str> = tools
        .iter()
        .map(|&tool| match tool {
            "perf" => "linux-perf",
            "redis-benchmark" => "redis-tools",
            "taskset" => "util-linux",
            package => package, // nginx, wrk, strace, valgrind, redis-server, python3
        })
        .collect();
    eprintln!("installing {} (apt-get)", packages.join(" "));
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !*apt_updated {
        *apt_updated = apt(&["update", "-qq"]);
    }
    if !apt(&[&["install", "-y", "-qq"], &packages[..]].concat()) {
        eprintln!("apt-get install {} failed", packages.join(" "));
    }
}

/// Raises the soft open-file limit to the hard one; servers and clients
/// inherit it (10,000 idle connections need more than the usual 1,024).
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

/// The machine: cores, CPU model, kernel.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim())
        })
        .unwrap_or("unknown")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "Machine: {cores} cores ({model}), Linux {}; server pinned to core {}, client to core {}, \
         loopback.",
        kernel.trim(),
        procs::SERVER_CPU,
        procs::CLIENT_CPU
    )
}

/// Which twig was measured: its directory, commit, and whether its sources
/// differ from the commit.
fn describe(twig: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(twig)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--", "src", "examples"])
                .is_some_and(|s| !s.is_empty());
            let state = if dirty {
                " plus uncommitted changes"
            } else {
                ""
            };
            format!("the work tree at commit {commit}{state}")
        }
        None => format!("the crate in {}", twig.display()),
    }
}
