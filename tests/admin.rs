//! The admin listener (`twig::admin`): `/metrics` parsed by Python's
//! `prometheus_client` after a known load, `/status.json` with three
//! clients open, the 403s (DNS rebinding), the loopback-only bind, N loops'
//! series, and the page in headless Chromium (a screenshot kept at
//! `target/status-page.png`). A test whose tool is absent skips with a
//! message, but fails under `CI=true`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::{WAIT, connect, eventually, have, stats_of};
use twig::http::{Http, Router};
use twig::{Handle, Server};

/// The app the load goes to: `GET /` answers `hi`.
fn app() -> Router<()> {
    Router::new().get("/", |_, res, _| res.text("hi\n"))
}

/// A server on its own thread: the app on one port, the admin on another.
struct Admin {
    app: SocketAddr,
    admin: SocketAddr,
    handle: Handle<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn start() -> Admin {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut server = Server::new(()).unwrap();
        let router = app();
        let app = server
            .listen("127.0.0.1:0", move || Http::new(router.clone()))
            .unwrap();
        let admin = server.listen_admin("127.0.0.1:0").unwrap();
        tx.send((app, admin, server.handle())).unwrap();
        server.run().unwrap();
    });
    let (app, admin, handle) = rx.recv_timeout(WAIT).unwrap();
    Admin {
        app,
        admin,
        handle,
        thread: Some(thread),
    }
}

/// `GET path` with `Host: host` on a connection of its own; the status
/// code and the body.
fn get(addr: SocketAddr, path: &str, host: &str) -> (u16, String) {
    let mut s = connect(addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let code = reply[9..12].parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_string();
    (code, body)
}

/// One keep-alive request on `s`, whose answer is `hi`.
fn hit(s: &mut TcpStream) {
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let mut buf = [0; 512];
    while !reply.ends_with(b"hi\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {reply:?}");
        reply.extend_from_slice(&buf[..n]);
    }
}

/// Each sample of a text exposition, as `prometheus_client`'s parser reads
/// it: `(name, sorted "k=v" labels joined by ",", value)`.
fn parse_metrics(text: &str) -> Option<Vec<(String, String, f64)>> {
    if !have("python3", "--version") {
        return None;
    }
    let script = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families as parse\n\
        for f in parse(sys.stdin.read()):\n\
        \x20   for s in f.samples:\n\
        \x20       labels = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))\n\
        \x20       print(s.name + '\\t' + labels + '\\t' + repr(float(s.value)))\n";
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !probe {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 prometheus_client is required under CI=true (.ci/run installs it)"
        );
        eprintln!("skipping: python3 prometheus_client is not installed");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed = String::from_utf8(out.stdout).unwrap();
    Some(
        parsed
            .lines()
            .map(|line| {
                let mut f = line.split('\t');
                let (name, labels, value) =
                    (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                (name.to_string(), labels.to_string(), value.parse().unwrap())
            })
            .collect(),
    )
}

fn value(samples: &[(String, String, f64)], name: &str, labels: &str) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l == labels)
        .unwrap_or_else(|| panic!("no sample {name}{{{labels}}}"))
        .2
}

#[test]
fn metrics_after_a_known_load_parse_and_add_up() {
    let server = start();
    // 5 keep-alive clients, 6 requests each; then 3 of them leave.
    let mut clients: Vec<TcpStream> = (0..5).map(|_| connect(server.app)).collect();
    for _ in 0..6 {
        for c in &mut clients {
            hit(c);
        }
    }
    clients.truncate(2);
    assert!(eventually(|| stats_of(&server.handle).closed_total() == 3));

    // The first admin request: the 30 requests are all the loop answered.
    let (code, text) = get(
        server.admin,
        "/metrics",
        &format!("127.0.0.1:{}", server.admin.port()),
    );
    assert_eq!(code, 200, "{text}");
    let Some(samples) = parse_metrics(&text) else {
        return;
    };
    assert_eq!(value(&samples, "twig_requests_total", "loop=0"), 30.0);
    assert_eq!(value(&samples, "twig_accepted_total", "loop=0"), 6.0); // 5 + this scrape
    assert_eq!(
        value(&samples, "twig_closed_total", "loop=0,reason=eof"),
        3.0
    );
    // Open: the 2 clients left, and the scrape's own connection.
    assert_eq!(
        value(&samples, "twig_connections", "loop=0,state=open"),
        3.0
    );
    assert_eq!(
        value(&samples, "twig_connections", "loop=0,state=lingering"),
        0.0
    );
    assert_eq!(value(&samples, "twig_buffered_out_bytes", "loop=0"), 0.0);
    for histogram in ["twig_turn_seconds", "twig_callback_seconds"] {
        let count = value(&samples, &format!("{histogram}_count"), "loop=0");
        assert!(count > 0.0, "{histogram} is empty");
        let buckets: Vec<f64> = samples
            .iter()
            .filter(|(n, _, _)| *n == format!("{histogram}_bucket"))
            .map(|s| s.2)
            .collect();
        assert!(buckets.len() > 10, "{buckets:?}");
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "not monotone: {buckets:?}"
        );
        assert_eq!(*buckets.last().unwrap(), count, "+Inf bucket is the count");
        assert!(value(&samples, &format!("{histogram}_sum"), "loop=0") > 0.0);
    }
    drop(clients);
}

#[test]
fn status_json_lists_three_clients_and_the_asker() {
    let server = start();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(server.app)).collect();
    for c in &mut clients {
        hit(c);
    }
    let (code, json) = get(server.admin, "/status.json", "localhost");
    assert_eq!(code, 200, "{json}");
    for c in &clients {
        let peer = format!("\"peer\":\"{}\"", c.local_addr().unwrap());
        assert!(json.contains(&peer), "{peer} missing from {json}");
    }
    // 3 clients + the admin connection asking, marked as itself.
    assert_eq!(json.matches("\"peer\":").count(), 4, "{json}");
    assert_eq!(json.matches("\"self\":true").count(), 1, "{json}");
    assert!(json.contains("\"life\":\"open\""), "{json}");
    assert!(json.contains("\"turns\":[{\"woke_by\":"), "{json}");
    if have("python3", "--version") {
        let check = "import json,sys; d=json.load(sys.stdin); \
                     assert len(d['connections'])==4, d; assert d['counters']['requests']==3, d; \
                     others=[c for c in d['connections'] if not c['self']]; \
                     assert all(c['bytes_in']==27 and c['bytes_out']>0 for c in others), others";
        let mut child = Command::new("python3")
            .args(["-c", check])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "not the JSON expected: {json}"
        );
    }
}

#[test]
fn a_foreign_host_header_gets_403() {
    let server = start();
    let port = server.admin.port();
    for host in [
        "evil.example",
        &format!("evil.example:{port}"),
        "127.0.0.1.nip.io",
    ] {
        for path in ["/status", "/status.json", "/metrics"] {
            let (code, body) = get(server.admin, path, host);
            assert_eq!(code, 403, "{path} with Host {host}: {body}");
            assert!(!body.contains("twig_requests_total"), "{body}");
        }
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "[::1]".into(),
    ] {
        assert_eq!(get(server.admin, "/status", &host).0, 200, "Host {host}");
    }
}

#[test]
fn the_admin_listener_refuses_a_non_loopback_address() {
    let mut server = Server::new(()).unwrap();
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let err = server.listen_admin(addr).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    assert!(server.local_addrs().is_empty());
    let mut workers = Server::builder().workers(2).build_workers(|_| ()).unwrap();
    assert!(workers.listen_admin("0.0.0.0:0").is_err());
}

#[test]
fn with_two_loops_every_series_has_its_loop() {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut workers = Server::builder().workers(2).build_workers(|_| ()).unwrap();
        let router = app();
        let app = workers
            .listen("127.0.0.1:0", move || Http::new(router.clone()))
            .unwrap();
        let admin = workers.listen_admin("127.0.0.1:0").unwrap();
        tx.send((app, admin, workers.handle())).unwrap();
        workers.run().unwrap()
    });
    let (app, admin, handle) = rx.recv_timeout(WAIT).unwrap();
    let mut c = connect(app);
    hit(&mut c);
    let (mut text, mut scrapes) = (String::new(), 0);
    let requests = |text: &str, i: usize| -> Option<u64> {
        let line = format!("twig_requests_total{{loop=\"{i}\"}} ");
        let at = text.find(&line)? + line.len();
        text[at..].lines().next()?.parse().ok()
    };
    // Loop 1 posts its figures every 100 ms: wait until the app's request
    // shows on one loop or the other (each earlier scrape counts on loop 0).
    let served = eventually(|| {
        text = get(admin, "/metrics", "localhost").1;
        scrapes += 1;
        let served = requests(&text, 0).zip(requests(&text, 1));
        served.is_some_and(|(a, b)| a + b >= scrapes)
    });
    assert!(served, "{text}");
    if let Some(samples) = parse_metrics(&text) {
        assert!(
            samples
                .iter()
                .all(|(_, labels, _)| labels.contains("loop="))
        );
    }
    drop(c);
    handle.stop();
    let stats = thread.join().unwrap();
    assert_eq!(stats.per_loop.len(), 2);
}

/// Where test artefacts go: the target directory.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Headless Chromium on `url` with `what` (`--dump-dom`, `--screenshot=..`).
fn chromium(profile: &std::path::Path, what: &[String], url: &str) -> std::process::Output {
    Command::new("timeout")
        .args([
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(what)
        .arg(url)
        .output()
        .expect("run chromium")
}

#[test]
fn headless_chromium_renders_the_status_page() {
    if !have("chromium", "--version") {
        return;
    }
    let server = start();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(server.app)).collect();
    for c in &mut clients {
        hit(c);
    }
    let dir = target_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("status-page-chromium-profile");
    let url = format!("http://127.0.0.1:{}/status", server.admin.port());

    let out = chromium(&profile, &["--dump-dom".into()], &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(dom.contains("twig status"), "dom: {dom}\nstderr: {stderr}");
    for c in &clients {
        let peer = c.local_addr().unwrap().to_string();
        assert!(dom.contains(&peer), "{peer} not in the DOM: {dom}");
    }

    let png = dir.join("status-page.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let out = chromium(&profile, &[shot, "--window-size=1200,900".into()], &url);
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes; stderr: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&profile);
}

#[test]
fn the_examples_take_admin() {
    use support::process::{Proc, assert_clean_exit};
    let mut proc = Proc::spawn_args(
        "http_server",
        &["127.0.0.1:0", "--admin", "127.0.0.1:0"],
        &[],
    );
    // The admin line comes first (it takes its socket before the app's).
    let admin = proc.bound_addr("admin on ");
    let app = proc.bound_addr("serving HTTP on ");
    assert_eq!(get(app, "/", "x").0, 200);
    let host = format!("127.0.0.1:{}", admin.port());
    let (code, text) = get(admin, "/metrics", &host);
    assert_eq!(code, 200, "{text}");
    assert!(
        text.contains("twig_requests_total{loop=\"0\"} 1\n"),
        "{text}"
    );
    let (code, json) = get(admin, "/status.json", &host);
    assert_eq!(code, 200, "{json}");
    assert_eq!(get(admin, "/status", "evil.example").0, 403);
    proc.signal("TERM");
    assert_clean_exit(proc);

    // The other two examples: the same flag, the same pages.
    for (name, needle) in [
        ("echo_server", "echoing on "),
        ("kv_server", "serving keys on "),
    ] {
        let mut proc = Proc::spawn_args(name, &["127.0.0.1:0", "--admin", "127.0.0.1:0"], &[]);
        let admin = proc.bound_addr("admin on ");
        proc.wait_for(needle);
        let (code, json) = get(admin, "/status.json", "localhost");
        assert_eq!(code, 200, "{name}: {json}");
        assert!(json.contains("\"self\":true"), "{name}: {json}");
        proc.signal("TERM");
        assert_clean_exit(proc);
    }
    // A non-loopback admin address is refused at start, with a clear error.
    let refused = Proc::spawn_args("http_server", &["127.0.0.1:0", "--admin", "0.0.0.0:0"], &[]);
    let (status, lines) = refused.wait_exit(WAIT);
    assert!(!status.success(), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("loopback")), "{lines:#?}");
}
