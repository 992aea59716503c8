//! HTTPS against nginx: the same ECDSA P-256 certificate (made here with
//! `openssl req`), one worker each, each server pinned to the server core
//! and the clients to the client core, in alternating rounds. TLS 1.3 is
//! what both negotiate with wrk's OpenSSL (both offer 1.2 and 1.3).
//! - keep-alive hello: `wrk -t1 -c100`, requests/s and server CPU per request;
//! - full handshakes: `wrk -t1 -c50 -H 'Connection: close'`, a new
//!   connection (and handshake, wrk resumes no session) per request;
//! - memory: 1,000 idle TLS connections (Python's `ssl`, one request each),
//!   the server's RSS above its baseline, per connection.

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::http::NGINX_CONF;
use crate::load::Fields;
use crate::pairs::{Spawned, per_round, table};
use crate::procs::{Bins, CLIENT_CPU, SERVER_CPU, cpu_ns, die_with_parent, end};
use crate::report::{Report, median};
use crate::workloads::Opts;

/// Idle connections for the memory figure.
const IDLE: usize = 1_000;

/// Runs the three comparisons and adds their section and targets.
pub fn tls(bins: &Bins, opts: &Opts, report: &mut Report) -> io::Result<()> {
    let secs = opts.duration.round().max(1.0) as u64;
    let http_server = build_tls_example(bins)?;
    let dir = bins.work.join("tls");
    std::fs::create_dir_all(&dir)?;
    let (cert, key) = certificate(&dir)?;
    let twig_argv = |addr: SocketAddr| -> Vec<String> {
        let bin = http_server.display().to_string();
        let (c, k) = (cert.display().to_string(), key.display().to_string());
        pinned([
            bin,
            addr.to_string(),
            "--tls-cert".into(),
            c,
            "--tls-key".into(),
            k,
        ])
    };
    let nginx_argv = |addr: SocketAddr| nginx_tls_command(&dir, addr, &cert, &key);
    let start = || -> io::Result<[Spawned; 2]> {
        let (a, b) = (free_port()?, free_port()?);
        let twig = Spawned::start_at(&twig_argv(a), a, bins, "tls-twig")?;
        let nginx = Spawned::start_at(&nginx_argv(b)?, b, bins, "tls-nginx")?;
        Ok([twig, nginx])
    };
    let mut md = String::from(
        "## HTTPS: twig (rustls, ring) against nginx (OpenSSL)\n\n\
         `cargo run --release -p twig-bench -- tls`. One ECDSA P-256 certificate for both, \
         one worker each, servers pinned to core 0 and clients to core 1, alternating rounds; \
         both negotiate TLS 1.3 with wrk. The ratio is the median of the per-round ratios.\n\n",
    );

    eprintln!("tls: HTTPS hello keep-alive, wrk -t1 -c100");
    let servers = start()?;
    let mut rounds = Vec::new();
    for round in 0..opts.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut pair: [Fields; 2] = [Fields::new(), Fields::new()];
        for i in order {
            pair[i] = timed(&servers[i], &["-t1", "-c100", "--latency"], secs)?;
        }
        rounds.push(pair);
    }
    let names = ["twig", "nginx"];
    let rps = per_round(&rounds, "rps", |twig, nginx| twig / nginx);
    table(
        &mut md,
        "HTTPS hello keep-alive, `wrk -t1 -c100`: requests/s",
        names,
        &rounds,
        "rps",
        ("twig / nginx", &rps),
    );
    let cpu = per_round(&rounds, "cpu_us", |twig, nginx| nginx / twig);
    table(
        &mut md,
        "server CPU µs per request (same runs)",
        names,
        &rounds,
        "cpu_us",
        ("nginx / twig", &cpu),
    );
    for (what, ratios) in [("requests/s", &rps), ("server CPU per request", &cpu)] {
        let r = median(ratios);
        report.target(
            &format!("HTTPS hello keep-alive: {what} ≥ nginx (one worker)"),
            r.map_or("–".into(), |r| format!("{r:.2}× nginx")),
            r.map(|r| r >= 1.0),
        );
    }

    eprintln!("tls: full handshakes, a new connection per request");
    let mut rounds = Vec::new();
    for round in 0..opts.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut pair: [Fields; 2] = [Fields::new(), Fields::new()];
        for i in order {
            let args = ["-t1", "-c50", "-H", "Connection: close"];
            pair[i] = timed(&servers[i], &args, secs)?;
        }
        rounds.push(pair);
    }
    let ratio = per_round(&rounds, "rps", |twig, nginx| twig / nginx);
    table(
        &mut md,
        "full TLS handshakes per second (`wrk -t1 -c50 -H 'Connection: close'`)",
        names,
        &rounds,
        "rps",
        ("twig / nginx", &ratio),
    );
    drop(servers);

    eprintln!("tls: RSS of {IDLE} idle TLS connections");
    let mut rounds = Vec::new();
    for round in 0..opts.rounds.min(3) {
        let servers = start()?;
        let mut pair: [Fields; 2] = [Fields::new(), Fields::new()];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let per_conn = idle_kib(&servers[i], &cert)?;
            pair[i].insert("kib".into(), per_conn);
        }
        rounds.push(pair);
    }
    let ratio = per_round(&rounds, "kib", |twig, nginx| nginx / twig);
    table(
        &mut md,
        &format!("RSS per idle TLS connection, KiB above the baseline ({IDLE} connections)"),
        names,
        &rounds,
        "kib",
        ("nginx / twig", &ratio),
    );
    let r = median(&ratio);
    report.target(
        "RSS per idle TLS connection ≤ nginx's",
        r.map_or("–".into(), |r| format!("nginx/twig {r:.2}")),
        r.map(|r| r >= 1.0),
    );
    report.sections.push(md);
    Ok(())
}

/// A self-signed ECDSA P-256 certificate for `localhost` and its key.
fn certificate(dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok((cert, key))
}

/// nginx serving the bench's hello over TLS on `addr`, its config under `dir`.
fn nginx_tls_command(
    dir: &Path,
    addr: SocketAddr,
    cert: &Path,
    key: &Path,
) -> io::Result<Vec<String>> {
    let prefix = dir.join(format!("nginx-{}", addr.port()));
    std::fs::create_dir_all(&prefix)?;
    let conf = prefix.join("nginx.conf");
    let ssl = format!(
        "listen {addr} ssl;\n        ssl_certificate {};\n        ssl_certificate_key {};\n        \
         ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_session_tickets off;",
        cert.display(),
        key.display()
    );
    let text = NGINX_CONF
        .replace("listen ADDR;", &ssl)
        .replace("worker_connections 1024;", "worker_connections 4096;");
    std::fs::write(&conf, text)?;
    Ok(pinned([
        "nginx".into(),
        "-p".into(),
        format!("{}/", prefix.display()),
        "-e".into(),
        "stderr".into(),
        "-c".into(),
        conf.display().to_string(),
    ]))
}

/// `argv` run pinned to the server core.
fn pinned<const N: usize>(argv: [String; N]) -> Vec<String> {
    let mut v = vec!["taskset".to_string(), "-c".into(), SERVER_CPU.into()];
    v.extend(argv);
    v
}

/// One wrk run (pinned to the client core) against `server`, with the
/// server's CPU time per request added as `cpu_us`.
fn timed(server: &Spawned, args: &[&str], secs: u64) -> io::Result<Fields> {
    let before = cpu_ns(server.pid());
    let mut pinned_args = vec!["-c", CLIENT_CPU, "wrk"];
    pinned_args.extend_from_slice(args);
    let mut fields = wrk_via_taskset(server.addr, &pinned_args, secs)?;
    let used = cpu_ns(server.pid()).saturating_sub(before) as f64;
    if let Some(&n) = fields.get("requests").filter(|&&n| n > 0.0) {
        fields.insert("cpu_us".into(), used / 1e3 / n);
    }
    Ok(fields)
}

/// `taskset ARGS -dSECS https://addr/` parsed as wrk's report.
fn wrk_via_taskset(addr: SocketAddr, args: &[&str], secs: u64) -> io::Result<Fields> {
    let out = die_with_parent(&mut Command::new("taskset"))
        .args(args)
        .arg(format!("-d{secs}s"))
        .arg(format!("https://localhost:{}/", addr.port()))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields = crate::http::parse_wrk(&text);
    if !out.status.success() || !fields.contains_key("rps") {
        return Err(io::Error::other(format!("wrk https failed: {text}")));
    }
    if fields.get("errors").copied().unwrap_or(0.0) > 0.0 {
        eprintln!("  warning: wrk counted errors: {fields:?}");
    }
    Ok(fields)
}

/// Opens [`IDLE`] TLS connections (one request each) and holds them;
/// returns the server's RSS growth per connection, in KiB.
fn idle_kib(server: &Spawned, cert: &Path) -> io::Result<f64> {
    let baseline = rss_kib(server.pid());
    let script = format!(
        r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile={cert:?})
conns = []
for _ in range({IDLE}):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {port})), server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or not got.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("closed")
        got += chunk
    conns.append(s)
print("ready", flush=True)
sys.stdin.readline()
"#,
        cert = cert.display().to_string(),
        port = server.addr.port(),
    );
    let started = Instant::now();
    let mut child = die_with_parent(&mut Command::new("taskset"))
        .args(["-c", CLIENT_CPU, "python3", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let held = rss_kib(server.pid());
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(b"\n");
    }
    end(&mut child, std::time::Duration::from_secs(10));
    if line.trim() != "ready" {
        return Err(io::Error::other(format!(
            "the idle clients did not get ready ({:?} after {:?})",
            line.trim(),
            started.elapsed()
        )));
    }
    Ok(held.saturating_sub(baseline) as f64 / IDLE as f64)
}

/// Resident memory of `pid` (KiB), from `/proc/PID/status`; for nginx
/// (one process, no master) that is the server.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// `http_server` with the `tls` feature, built into a target directory of
/// its own (the other workloads measure the build without it).
fn build_tls_example(bins: &Bins) -> io::Result<PathBuf> {
    let target = bins.target.join("tls");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building: http_server with --features tls");
    crate::load::run(
        Command::new(cargo)
            .current_dir(&bins.twig)
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(bins.twig.join("Cargo.toml"))
            .args([
                "-p",
                "twig",
                "--features",
                "tls",
                "--example",
                "http_server",
            ])
            .arg("--target-dir")
            .arg(&target),
        "cargo build (http_server, tls)",
    )?;
    Ok(target.join("release/examples/http_server"))
}

/// A loopback address with a port free right now.
fn free_port() -> io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}
