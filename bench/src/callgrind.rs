//! User-space instructions per request: each server under
//! `valgrind --tool=callgrind` for two request counts, so start-up and
//! shutdown cancel out; per function and per source line of twig. Echo
//! (64 B ping-pong) for every echo peer, and HTTP keep-alive hello (`GET /`,
//! 50 connections) for twig's `http_server`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use crate::load::Client;
use crate::procs::{Bins, Peer, Server, Service};
use crate::report::{Better, Report};
use crate::workloads::Opts;

/// The connections of the HTTP hello measurement.
const HTTP_CONNS: usize = 50;
/// Its name in the report.
pub const HTTP_LABEL: &str = "HTTP hello keep-alive, 50 conn (callgrind)";

/// One server run under callgrind for `n` requests; returns the output file.
fn callgrind_run(
    bins: &Bins,
    peer: Peer,
    service: Service,
    conns: usize,
    n: u64,
) -> io::Result<String> {
    let out = bins.work.join(format!(
        "callgrind-{}-{service:?}-{conns}-{n}.out",
        peer.name().replace(' ', "_")
    ));
    let wrapper = vec![
        "valgrind".to_string(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", out.display()),
    ];
    let server = Server::start(bins, peer, service, &wrapper)?;
    let mode = if service == Service::Http {
        "http"
    } else {
        "echo"
    };
    let a: Vec<String> = ["--mode", mode, "--size", "64", "--warmup", "0"]
        .iter()
        .map(|s| s.to_string())
        .chain(["--conns".into(), conns.to_string()])
        .chain(["--requests".into(), n.to_string()])
        .collect();
    let mut client = Client::start(bins, server.addr, &a)?;
    let fields = client.summary()?;
    client.finish()?;
    server.stop(Duration::from_secs(60));
    let done = fields.get("requests").copied().unwrap_or(0.0) as u64;
    if done != n {
        return Err(io::Error::other(format!(
            "{} answered {done} of {n}",
            peer.name()
        )));
    }
    Ok(out.display().to_string())
}

/// Total instructions in a callgrind output file.
fn callgrind_total(file: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string(file)?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no totals in {file}")))
}

/// One function's instructions: its own, and with everything it called.
#[derive(Default, Clone)]
struct Cost {
    own: u64,
    inclusive: u64,
    object: String,
}

/// Per-function costs, and per source line (file, line) → (self, inclusive).
struct Profile {
    functions: BTreeMap<String, Cost>,
    lines: BTreeMap<(String, u32), (u64, u64)>,
}

/// Reads a callgrind output file into per-function and per-line costs.
/// Functions are keyed by name alone, so code inlined from other files
/// counts where it ran; inclusive = self + the cost of every call made
/// (calls to itself excluded, so recursion is not counted twice).
fn parse_callgrind(file: &str) -> io::Result<Profile> {
    let text = std::fs::read_to_string(file)?;
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut objects: BTreeMap<String, String> = BTreeMap::new();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    // "(id) name" defines an id, "(id)" refers to it.
    let resolve = |table: &mut BTreeMap<String, String>, v: &str| -> String {
        let v = v.trim();
        match v.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((id, rest)) if !rest.trim().is_empty() => {
                table.insert(id.to_string(), rest.trim().to_string());
                rest.trim().to_string()
            }
            Some((id, _)) => table.get(id).cloned().unwrap_or_default(),
            None => v.to_string(),
        }
    };
    let mut functions: BTreeMap<String, Cost> = BTreeMap::new();
    let mut lines: BTreeMap<(String, u32), (u64, u64)> = BTreeMap::new();
    let (mut current, mut object, mut callee) = (String::new(), String::new(), None);
    let (mut fn_file, mut src_file, mut last_line) = (String::new(), String::new(), 0i64);
    let mut call_pending = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("ob=") {
            object = resolve(&mut objects, v);
        } else if let Some(v) = line.strip_prefix("cob=") {
            resolve(&mut objects, v);
        } else if let Some(v) = line.strip_prefix("fl=") {
            fn_file = resolve(&mut files, v);
            src_file = fn_file.clone();
        } else if let Some(v) = line
            .strip_prefix("fi=")
            .or_else(|| line.strip_prefix("fe="))
        {
            src_file = resolve(&mut files, v);
        } else if let Some(v) = line
            .strip_prefix("cfi=")
            .or_else(|| line.strip_prefix("cfl="))
        {
            resolve(&mut files, v);
        } else if let Some(v) = line.strip_prefix("fn=") {
            current = resolve(&mut names, v);
            src_file = fn_file.clone();
            let entry = functions.entry(current.clone()).or_default();
            if entry.object.is_empty() {
                entry.object = object.clone();
            }
        } else if let Some(v) = line.strip_prefix("cfn=") {
            callee = Some(resolve(&mut names, v));
        } else if line.starts_with("calls=") {
            call_pending = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)) {
            let mut t = line.split_whitespace();
            let position = t.next().unwrap_or("*");
            last_line = match position.as_bytes()[0] {
                b'+' => last_line + position[1..].parse::<i64>().unwrap_or(0),
                b'-' => last_line - position[1..].parse::<i64>().unwrap_or(0),
                b'*' => last_line,
                _ => position.parse().unwrap_or(0),
            };
            let ir: u64 = t.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            let entry = functions.entry(current.clone()).or_default();
            let at = lines
                .entry((src_file.clone(), last_line.max(0) as u32))
                .or_default();
            if call_pending {
                call_pending = false;
                if callee.as_deref() != Some(current.as_str()) {
                    entry.inclusive += ir;
                    at.1 += ir;
                }
            } else {
                entry.own += ir;
                entry.inclusive += ir;
                at.0 += ir;
                at.1 += ir;
            }
        }
    }
    Ok(Profile { functions, lines })
}

/// The hottest lines of twig's own source (and the example's), per request:
/// the difference between the two runs, by self cost.
fn hot_lines(p1: &Profile, p2: &Profile, dn: f64) -> String {
    let ours = |file: &str| {
        file.ends_with(".rs")
            && !file.starts_with("/rustc/")
            && !file.contains("/.cargo/")
            && (file.contains("/src/") || file.contains("/examples/"))
    };
    let mut rows: Vec<(&(String, u32), f64, f64)> = p2
        .lines
        .iter()
        .filter(|((f, _), _)| ours(f))
        .map(|(k, (own, inc))| {
            let (own1, inc1) = p1.lines.get(k).copied().unwrap_or((0, 0));
            (
                k,
                (*own as f64 - own1 as f64) / dn,
                (*inc as f64 - inc1 as f64) / dn,
            )
        })
        .filter(|(_, own, inc)| *own >= 2.0 || *inc >= 20.0)
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut s = String::from(
        "\ntwig's hottest source lines (self = instructions on the line itself, inlined \
         code included; with calls = plus the functions it calls):\n\n\
         | line | self/req | with calls/req | code |\n|---|---:|---:|---|\n",
    );
    for ((file, line), own, inc) in rows.iter().take(40) {
        let short = file
            .rfind("/src/")
            .or_else(|| file.rfind("/examples/"))
            .map_or(file.as_str(), |i| &file[i + 1..]);
        let code = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| {
                t.lines()
                    .nth((*line as usize).saturating_sub(1))
                    .map(str::trim)
                    .map(String::from)
            })
            .unwrap_or_default();
        let code: String = if *line == 0 {
            "(no line: code the compiler generated or moved)".into()
        } else {
            code.chars().take(90).collect()
        };
        let _ = writeln!(
            s,
            "| {short}:{line} | {own:.1} | {inc:.1} | `{}` |",
            code.replace('|', "\\|").replace('`', "'")
        );
    }
    s
}

/// `function` plus the object's file name, shortened for a table.
fn short_name(func: &str, object: &str) -> String {
    let obj = Path::new(object)
        .file_name()
        .map(|o| o.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = format!("{func} [{obj}]");
    if s.len() > 120 {
        let cut = (0..=117)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
        s.push('…');
    }
    s.replace('|', "\\|")
}

/// User-space instructions per request, from the difference of two
/// callgrind runs; with the per-function breakdown. Echo at each of
/// `opts.callgrind_conns` (if `echo`), then HTTP hello at 50 connections.
pub fn instructions(bins: &Bins, opts: &Opts, report: &mut Report, echo: bool) -> io::Result<()> {
    let (n1, n2) = opts.callgrind_requests;
    let mut section = format!(
        "## User-space instructions per request (callgrind)\n\n\
         Each server runs under `valgrind --tool=callgrind` twice, for {n1} and {n2} \
         requests; per request = (Ir({n2}) − Ir({n1})) / {}. Functions: the same \
         difference per function (inclusive, self), read from the call graph in callgrind's output \
         (functions merged by name, so code inlined from other files counts where it ran). \
         Echo is 64 B ping-pong; HTTP is `GET /` on keep-alive connections, one request in \
         flight each, against `examples/http_server.rs`.\n",
        n2 - n1
    );
    let echo_peers = [Peer::Twig, Peer::C, Peer::Mio, Peer::Tokio];
    let echo_conns = if echo { &opts.callgrind_conns[..] } else { &[] };
    let mut runs: Vec<(Service, usize, &[Peer], String)> = echo_conns
        .iter()
        .map(|&conns| {
            let label = format!("echo 64 B, {conns} conn (callgrind)");
            (Service::Echo, conns, &echo_peers[..], label)
        })
        .collect();
    runs.push((Service::Http, HTTP_CONNS, &[Peer::Twig], HTTP_LABEL.into()));
    for (service, conns, peers, label) in runs {
        eprintln!("instructions per request (callgrind), {label}");
        let mut per_req = BTreeMap::new();
        for &peer in peers {
            let (ir, c1, c2) = measure(bins, peer, service, conns, (n1, n2))?;
            eprintln!("  {:<16} {ir:.0} instructions/request", peer.name());
            per_req.insert(peer, vec![ir]);
            let dn = (n2 - n1) as f64;
            let per = |f: fn(&Cost) -> u64, k: &str| {
                let before = c1.functions.get(k).map_or(0, f) as f64;
                (c2.functions.get(k).map_or(0, f) as f64 - before) / dn
            };
            // Leave out the chain of callers above the loop (main,
            // lang_start, ...): they only repeat the total.
            let mut rows: Vec<(String, f64, f64)> = c2
                .functions
                .iter()
                .map(|(k, c)| {
                    let name = short_name(k, &c.object);
                    (name, per(|c| c.inclusive, k), per(|c| c.own, k))
                })
                .filter(|(_, inc, own)| *inc >= 0.5 && !(*own < 0.5 && *inc >= 0.98 * ir))
                .collect();
            rows.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top = if peer == Peer::Twig { 40 } else { 12 };
            let _ = writeln!(
                section,
                "\n### {} — {label}: {ir:.0} instructions/request\n\n\
                 | function [object] | inclusive/req | self/req |\n|---|---:|---:|",
                peer.name()
            );
            for (name, inc, own) in rows.iter().take(top) {
                let _ = writeln!(section, "| `{name}` | {inc:.1} | {own:.1} |");
            }
            if peer == Peer::Twig {
                let mut by_self = rows.clone();
                by_self.sort_by(|a, b| b.2.total_cmp(&a.2));
                let _ = writeln!(
                    section,
                    "\ntwig by self cost:\n\n| function [object] | self/req |\n|---|---:|"
                );
                for (name, _, own) in by_self.iter().filter(|r| r.2 >= 0.5).take(25) {
                    let _ = writeln!(section, "| `{name}` | {own:.1} |");
                }
                section.push_str(&hot_lines(&c1, &c2, dn));
            }
        }
        report.add(&label, "instructions/request", Better::Lower, per_req);
    }
    report.sections.push(section);
    Ok(())
}

/// Instructions per request of `peer` serving `service` over `conns`
/// connections, and the profiles of its two runs.
fn measure(
    bins: &Bins,
    peer: Peer,
    service: Service,
    conns: usize,
    (n1, n2): (u64, u64),
) -> io::Result<(f64, Profile, Profile)> {
    let f1 = callgrind_run(bins, peer, service, conns, n1)?;
    let f2 = callgrind_run(bins, peer, service, conns, n2)?;
    let ir = (callgrind_total(&f2)? as f64 - callgrind_total(&f1)? as f64) / (n2 - n1) as f64;
    Ok((ir, parse_callgrind(&f1)?, parse_callgrind(&f2)?))
}
