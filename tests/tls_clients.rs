//! TLS with real clients (the `tls` feature): curl over HTTP/1.1 with
//! keep-alive, `openssl s_client` with TLS 1.2 and 1.3, Python's `ssl`
//! module, headless Chromium loading a page, and a 16 MiB echo to a slow
//! reader. Certificates are made in the test with rcgen. A test whose tool
//! is absent skips with a message, but fails under `CI=true`.
#![cfg(feature = "tls")]

mod support;

#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::io::Write;
use std::process::{Command, Stdio};

use support::tls::{Bulk, Cert, Echo, start_tls};
use support::{Running, ask, have, start_on, stats_of};
use twig::http::Http;
use twig::{CloseReason, Server};

fn https_app(cert: &Cert) -> Running<u64> {
    let app = http_server::router();
    let tls = cert.config();
    start_on(Server::builder(), 0u64, move |server| {
        server.listen_tls("127.0.0.1:0", tls, move || Http::new(app.clone()))
    })
}

#[test]
fn curl_gets_pages_over_https_with_keep_alive() {
    if !have("curl", "--version") {
        return;
    }
    let cert = Cert::new("curl");
    let server = https_app(&cert);
    let port = server.addr.port();
    let url = format!("https://localhost:{port}/");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--http1.1"])
        .args(["--cacert", cert.cert_str(), "--resolve", &resolve])
        .args(["--write-out", "[%{http_version} %{num_connects}]\n"])
        .args([&url, &url, &format!("https://localhost:{port}/headers")])
        .output()
        .expect("run curl");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // One connection for the three requests: the second and third reuse it.
    assert_eq!(out.matches("[1.1 1]").count(), 1, "{out}");
    assert_eq!(out.matches("[1.1 0]").count(), 2, "{out}");
    assert!(out.contains("Hello"), "{out}");
    let stats = server.stop();
    assert_eq!(stats.accepted, 1, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::Tls), 0);
}

/// `openssl s_client` speaking `version`: a line and its echo, then `quit`
/// (the server closes with close_notify; s_client then exits).
fn s_client_echo(version: &str, expect: &str) {
    if !have("openssl", "version") {
        return;
    }
    let cert = Cert::new(&format!("s_client{version}"));
    let server = start_tls(twig::Server::builder(), cert.config(), || Echo);
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &server.addr.to_string(), version])
        .args([
            "-servername",
            "localhost",
            "-CAfile",
            cert.cert_str(),
            "-ign_eof",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"hello over tls\nquit\n")
        .expect("write to s_client");
    drop(stdin);
    let output = child.wait_with_output().expect("s_client finished");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("hello over tls\nbye\n"), "{out}");
    assert!(out.contains(expect), "negotiated {expect}? {out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Done), 1, "{stats:?}");
}

#[test]
fn openssl_s_client_echoes_over_tls_1_2() {
    s_client_echo("-tls1_2", "TLSv1.2");
}

#[test]
fn openssl_s_client_echoes_over_tls_1_3() {
    s_client_echo("-tls1_3", "TLSv1.3");
}

/// Runs a Python script with `args`; its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const PY_ECHO: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        for word in ["one", "two", "three"]:
            s.sendall(word.encode() + b"\n")
            got = b""
            while not got.endswith(b"\n"):
                got += s.recv(100)
            print(got.decode().strip(), end=" ")
        print(s.version(), s.selected_alpn_protocol())
"#;

#[test]
fn python_ssl_talks_to_it() {
    if !have("python3", "--version") {
        return;
    }
    let cert = Cert::new("python");
    let server = start_tls(twig::Server::builder(), cert.config(), || Echo);
    let port = server.addr.port().to_string();
    let out = python(PY_ECHO, &[&port, cert.cert_str()]);
    assert_eq!(out.trim(), "one two three TLSv1.3 None", "{out}");
}

#[test]
fn headless_chromium_loads_the_page() {
    if !have("chromium", "--version") {
        return;
    }
    let cert = Cert::new("chromium");
    let server = https_app(&cert);
    let profile = cert.dir.join("profile");
    let url = format!("https://localhost:{}/index.html", server.addr.port());
    let output = Command::new("timeout")
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
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--ignore-certificate-errors", "--dump-dom", &url])
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("<html") && dom.contains("twig"),
        "dom: {dom}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats = stats_of(&server.handle);
    assert!(stats.accepted >= 1, "{stats:?}");
}

const PY_BULK: &str = r#"
import hashlib, os, selectors, socket, ssl, sys, time
# One thread: an SSL object must not be read and written from two threads
# at once (OpenSSL's rule), so the client interleaves its sends and reads.
ctx = ssl.create_default_context(cafile=sys.argv[2])
size = 16 * 1024 * 1024
data = os.urandom(size)
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
h, sent, got, reads = hashlib.sha256(), 0, 0, 0
deadline = time.monotonic() + 30
want = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)
while got < size and time.monotonic() < deadline:
    sel.select(timeout=0 if s.pending() else 1)
    if sent < size:
        try:
            sent += s.send(data[sent:sent + 65536])
        except want:
            pass
        if sent == size:
            sel.modify(s, selectors.EVENT_READ)
    try:
        while True:
            chunk = s.recv(8192)
            if not chunk:
                raise EOFError
            h.update(chunk)
            got += len(chunk)
            reads += 1
            if reads % 16 == 0:
                time.sleep(0.001)  # a slow reader: the server must hold back, not pile up
                break
    except want:
        pass
    except EOFError:
        break
print(got, h.hexdigest() == hashlib.sha256(data).hexdigest())
"#;

#[test]
fn sixteen_mib_echo_to_a_slow_reader_arrives_intact_under_the_output_cap() {
    if !have("python3", "--version") {
        return;
    }
    let cert = Cert::new("bulk");
    let builder = twig::Server::builder().max_output(256 * 1024);
    let server = start_tls(builder, cert.config(), || Bulk);
    let port = server.addr.port().to_string();
    let path = cert.cert_str().to_string();
    let client = std::thread::spawn(move || python(PY_BULK, &[&port, &path]));
    // While it runs, what the server holds stays bounded (backpressure:
    // it reads nothing while it owes).
    let mut peak = 0;
    while !client.is_finished() {
        peak = peak.max(ask(&server.handle, |core| core.buffered_bytes()));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = client.join().expect("client thread");
    assert_eq!(out.trim(), format!("{} True", 16 * 1024 * 1024), "{out}");
    assert!(peak <= 512 * 1024, "held {peak} bytes at once");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::OutputLimit), 0, "{stats:?}");
}

#[test]
fn sni_picks_the_certificate_for_the_name_asked_for() {
    if !have("openssl", "version") {
        return;
    }
    let (main, other) = (Cert::new("sni-main"), Cert::new("sni-other"));
    let pem = |c: &Cert| std::fs::read(&c.cert).expect("read cert");
    let (main_pem, other_pem) = (pem(&main), pem(&other));
    let key = |c: &Cert| std::fs::read(&c.key).expect("read key");
    let tls = twig::tls::TlsConfig::builder()
        .cert_pem(&main_pem, &key(&main))
        .and_then(|b| b.sni_pem("other.test", &other_pem, &key(&other)))
        .and_then(|b| b.build())
        .expect("config");
    let server = start_tls(twig::Server::builder(), tls, || Echo);
    let served = |name: &str| {
        let output = Command::new("openssl")
            .args(["s_client", "-connect", &server.addr.to_string()])
            .args(["-servername", name])
            .stdin(Stdio::null())
            .output()
            .expect("run openssl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let body = |pem: &[u8]| {
        let text = String::from_utf8_lossy(pem).into_owned();
        text.lines().nth(1).unwrap_or_default().to_string() // first base64 line
    };
    assert_ne!(
        body(&main_pem),
        body(&other_pem),
        "two different certificates"
    );
    let (other_seen, main_seen) = (served("other.test"), served("localhost"));
    assert!(other_seen.contains(&body(&other_pem)), "{other_seen}");
    assert!(!other_seen.contains(&body(&main_pem)), "{other_seen}");
    assert!(main_seen.contains(&body(&main_pem)), "{main_seen}");
}
