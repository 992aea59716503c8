//! The PROXY protocol behind a real HAProxy (the Debian package, started
//! with a generated config): the example servers run with
//! `--proxy-protocol`, HAProxy sends `send-proxy` (v1) or `send-proxy-v2`
//! (its health checks too: v2 LOCAL, v1 with the check's own addresses),
//! and a client with a known source port sees that port come back from
//! `http_server`'s `/whoami` and `kv_server`'s `CLIENT INFO`, over TCP and
//! over a Unix-domain socket. Skipped where `haproxy` is absent, never
//! under `CI=true`.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use support::haproxy::{Backend, Haproxy, Options, ProxyHeader, TempDir};
use support::process::{Proc, assert_clean_exit};
use support::{WAIT, connect, have};

/// `curl --local-port P http://HAPROXY/whoami`: the body, and the port the
/// client used (curl picks one in the range given; the range is one port
/// wide, retried on another if it is taken).
fn whoami_from_a_known_port(haproxy: &Haproxy) -> (String, u16) {
    for attempt in 0..20u16 {
        let port = 42000 + (std::process::id() % 1000) as u16 * 20 + attempt;
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--local-port", &port.to_string()])
            .arg(format!("http://{}/whoami", haproxy.addr()))
            .output()
            .expect("curl runs");
        if out.status.success() {
            return (String::from_utf8_lossy(&out.stdout).into_owned(), port);
        }
        // 45: the local port was taken; try the next.
        assert_eq!(
            out.status.code(),
            Some(45),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    panic!("no free local port for curl");
}

fn tools() -> bool {
    have("haproxy", "-v") && have("curl", "--version")
}

fn check_whoami(proxy: ProxyHeader) {
    let mut server = Proc::spawn_args("http_server", &["127.0.0.1:0", "--proxy-protocol"], &[]);
    let addr = server.bound_addr("serving HTTP on ");
    // Haproxy::start waits until the server passed a health check, which
    // comes with a PROXY header of its own.
    let haproxy = Haproxy::start(
        &[Backend::tcp("s1", addr).proxy(proxy)],
        &Options::default(),
    );
    let (body, port) = whoami_from_a_known_port(&haproxy);
    assert_eq!(body, format!("127.0.0.1:{port}\n"));
    // Without the header (straight to the server), nothing is served.
    let mut direct = connect(addr);
    direct.write_all(b"GET /whoami HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = direct.read_to_end(&mut reply); // EOF or a reset
    assert!(reply.is_empty(), "{:?}", String::from_utf8_lossy(&reply));
    drop(haproxy);
    server.signal("TERM");
    let output = assert_clean_exit(server);
    // The refused connection is counted in the summary line.
    assert!(output.contains("proxy-header 1"), "{output}");
}

#[test]
fn http_server_behind_send_proxy_sees_the_clients_port() {
    if tools() {
        check_whoami(ProxyHeader::V1);
    }
}

#[test]
fn http_server_behind_send_proxy_v2_sees_the_clients_port() {
    if tools() {
        check_whoami(ProxyHeader::V2);
    }
}

#[test]
fn http_server_on_a_unix_socket_behind_send_proxy_v2_sees_the_clients_port() {
    if !tools() {
        return;
    }
    let dir = TempDir::new("proxy-unix");
    let path: PathBuf = dir.path().join("http.sock");
    let addr = format!("unix:{}", path.display());
    let mut server = Proc::spawn_args("http_server", &[&addr, "--proxy-protocol"], &[]);
    server.wait_for("serving HTTP on unix:");
    let backend = Backend::unix("s1", &path).proxy(ProxyHeader::V2);
    let haproxy = Haproxy::start(&[backend], &Options::default());
    let (body, port) = whoami_from_a_known_port(&haproxy);
    assert_eq!(body, format!("127.0.0.1:{port}\n"));
    drop(haproxy);
    server.signal("TERM");
    assert_clean_exit(server);
}

#[test]
fn kv_server_behind_send_proxy_v2_reports_the_client_in_client_info() {
    if !have("haproxy", "-v") {
        return;
    }
    let mut server = Proc::spawn_args("kv_server", &["127.0.0.1:0", "--proxy-protocol"], &[]);
    let addr = server.bound_addr("serving keys on ");
    let backend = Backend::tcp("kv", addr).proxy(ProxyHeader::V2);
    let haproxy = Haproxy::start(&[backend], &Options::default());
    let mut client = connect(haproxy.addr());
    let port = client.local_addr().unwrap().port();
    client
        .write_all(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n")
        .unwrap();
    // A bulk string: `$LEN\r\n` then the line.
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = std::time::Instant::now() + WAIT;
    while !reply.ends_with(b"\n\r\n") && std::time::Instant::now() < deadline {
        let n = client.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains(&format!("addr=127.0.0.1:{port} ")), "{text}");
    drop(client);
    drop(haproxy);
    server.signal("TERM");
    assert_clean_exit(server);
}
