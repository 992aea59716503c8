//! HTTP keep-alive hello: twig's `http_server` against nginx (one process,
//! `return 200`) and hyper on tokio's current-thread runtime, each driven by
//! `wrk -t1 -c100` pinned to the client core, in alternating rounds.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::load::Fields;
use crate::procs::{
    Bins, CLIENT_CPU, Peer, Server, Service, die_with_parent, machine_busy_ns,
    reaped_children_cpu_ns,
};
use crate::report::{Better, Report};
use crate::workloads::{Opts, Sample, alternate_with, column};

/// The workload's name in the report (and in the targets).
pub const LABEL: &str = "HTTP hello keep-alive, 100 conn (wrk)";
/// The servers compared.
const PEERS: [Peer; 3] = [Peer::Twig, Peer::Nginx, Peer::Tokio];

/// `GET /` over 100 keep-alive connections, as fast as `wrk` can send.
pub fn http(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    eprintln!("{LABEL}");
    let s = alternate_with(bins, opts, LABEL, &PEERS, Service::Http, |server| {
        wrk(server, opts)
    })?;
    report.add(
        LABEL,
        "requests/s",
        Better::Higher,
        column(&s, |x| x.get("rps")),
    );
    report.add(
        LABEL,
        "p50 latency µs",
        Better::Lower,
        column(&s, |x| x.get("p50_us")),
    );
    report.add(
        LABEL,
        "p99 latency µs",
        Better::Lower,
        column(&s, |x| x.get("p99_us")),
    );
    report.add(
        LABEL,
        "server CPU µs/request",
        Better::Lower,
        column(&s, |x| x.cpu_us_per(x.get("requests"))),
    );
    Ok(())
}

/// One `wrk` run against `server`. wrk takes whole seconds and has no
/// warm-up, so a run lasts the duration rounded, at least 1 s, and opens its
/// 100 connections anew (a few ms of the server's CPU in the window).
fn wrk(server: &Server, opts: &Opts) -> io::Result<Sample> {
    let secs = opts.duration.round().max(1.0);
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", CLIENT_CPU, "wrk", "-t1", "-c100", "--latency"])
        .arg(format!("-d{secs}s"))
        .arg(format!("http://{}/", server.addr));
    let (before, machine_before) = (server.cpu_ns(), machine_busy_ns());
    // wrk has exited (and left /proc) when we can look: its CPU time is
    // what the reaped children's total grew by.
    let client_before = reaped_children_cpu_ns();
    let started = Instant::now();
    let out = die_with_parent(&mut cmd).output()?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_ns = server.cpu_ns().saturating_sub(before);
    let client_ns = reaped_children_cpu_ns().saturating_sub(client_before);
    let others_ns = machine_busy_ns()
        .saturating_sub(machine_before)
        .saturating_sub(cpu_ns + client_ns);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = parse_wrk(&text);
    if !out.status.success() || !fields.contains_key("rps") {
        return Err(io::Error::other(format!(
            "wrk against {} failed ({}): {text}{}",
            server.peer.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    fields.insert("elapsed_s".into(), elapsed);
    Ok(Sample::new(server, fields, cpu_ns, client_ns, others_ns))
}

/// The numbers of wrk's report: `rps`, `requests`, `p50_us` and `p99_us`
/// (from `--latency`), `mbps` (10^6 bytes/s read), and `errors` (socket
/// errors and non-2xx/3xx responses).
pub(crate) fn parse_wrk(text: &str) -> Fields {
    let mut fields = Fields::new();
    let mut errors = 0.0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["Requests/sec:", n] => put(&mut fields, "rps", n.parse().ok()),
            ["Transfer/sec:", size] => put(&mut fields, "mbps", bytes(size).map(|b| b / 1e6)),
            [n, "requests", "in", ..] => put(&mut fields, "requests", n.parse().ok()),
            ["50%", t] => put(&mut fields, "p50_us", micros(t)),
            ["99%", t] => put(&mut fields, "p99_us", micros(t)),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse().unwrap_or(0.0),
            // "Socket errors: connect 0, read 0, write 0, timeout 0"
            ["Socket", "errors:", ref counts @ ..] => {
                errors += counts
                    .iter()
                    .filter_map(|c| c.trim_end_matches(',').parse::<f64>().ok())
                    .sum::<f64>();
            }
            _ => {}
        }
    }
    fields.insert("errors".into(), errors);
    fields
}

fn put(fields: &mut Fields, key: &str, value: Option<f64>) {
    if let Some(v) = value {
        fields.insert(key.into(), v);
    }
}

/// A wrk duration (`512.00us`, `1.03ms`, `2.00s`) in µs.
fn micros(t: &str) -> Option<f64> {
    scaled(t, &[("us", 1.0), ("ms", 1e3), ("s", 1e6), ("m", 60e6)])
}

/// A wrk size (`21.95MB`; wrk's units are powers of 1024) in bytes.
fn bytes(size: &str) -> Option<f64> {
    let k = 1024.0;
    scaled(
        size,
        &[("KB", k), ("MB", k * k), ("GB", k * k * k), ("B", 1.0)],
    )
}

/// `text` as a number followed by one of `units`, times the unit's scale;
/// longer units come first in `units` where one ends another (`ms`, `s`).
fn scaled(text: &str, units: &[(&str, f64)]) -> Option<f64> {
    units.iter().find_map(|(unit, scale)| {
        let n: f64 = text.strip_suffix(unit)?.parse().ok()?;
        Some(n * scale)
    })
}

/// nginx's config: one process (no master, so the guard's PID is the
/// server), no access log, errors to stderr (the server's log), PID and temp
/// files under its prefix in the work directory, keep-alive never cut by a
/// request count, and a 17-byte body, as twig's is. `ADDR` is replaced.
pub(crate) const NGINX_CONF: &str = r#"daemon off;
master_process off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    keepalive_requests 1000000;
    client_body_temp_path body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    server {
        listen ADDR;
        location / {
            default_type text/plain;
            charset utf-8;
            return 200 "Hello from nginx\n";
        }
    }
}
"#;

/// nginx's command line for a server on `addr`, after writing its config
/// into a directory of its own under `work`.
pub fn nginx_command(work: &Path, addr: SocketAddr) -> io::Result<Vec<String>> {
    nginx_command_with(work, addr, 1)
}

/// [`nginx_command`] with `workers` worker processes: for more than one, a
/// master process forks them (its PID is then the master's).
pub fn nginx_command_with(
    work: &Path,
    addr: SocketAddr,
    workers: usize,
) -> io::Result<Vec<String>> {
    let prefix = work.join(format!("nginx-{}", addr.port()));
    std::fs::create_dir_all(&prefix)?;
    let conf = prefix.join("nginx.conf");
    let mut text = NGINX_CONF.replace("ADDR", &addr.to_string());
    if workers > 1 {
        text = text
            .replace("master_process off;", "master_process on;")
            .replace(
                "worker_processes 1;",
                &format!("worker_processes {workers};"),
            );
    }
    std::fs::write(&conf, text)?;
    // -p: relative paths in the config are under `prefix`; -e: errors from
    // before the config is read go to stderr too, not to /var/log.
    Ok(vec![
        "nginx".into(),
        "-p".into(),
        format!("{}/", prefix.display()),
        "-e".into(),
        "stderr".into(),
        "-c".into(),
        conf.display().to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::parse_wrk;

    #[test]
    fn reads_wrk_report() {
        let report = "Running 1s test @ http://127.0.0.1:18080/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   593.12us  237.23us   3.46ms   86.41%
    Req/Sec   111.53k     7.46k  123.29k    60.00%
  Latency Distribution
     50%  486.00us
     75%  770.00us
     90%  835.00us
     99%    1.39ms
  110624 requests in 1.00s, 15.61MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec: 110227.95
Transfer/sec:     15.56MB
";
        let f = parse_wrk(report);
        assert_eq!(f["rps"], 110227.95);
        assert_eq!(f["requests"], 110624.0);
        assert_eq!(f["p50_us"], 486.0);
        assert!((f["p99_us"] - 1390.0).abs() < 1e-9);
        assert!((f["mbps"] - 15.56 * 1024.0 * 1024.0 / 1e6).abs() < 1e-9);
        assert_eq!(f["errors"], 7.0);
    }
}
