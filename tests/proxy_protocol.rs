//! The PROXY protocol stage on a listener (`Listen::proxy_protocol`), with
//! hand-made headers on real sockets: v1 and v2, LOCAL, a header split
//! over many segments, and every way to get it wrong (missing, malformed,
//! too long, unfinished at EOF, never finished). The header's client
//! becomes `Ctx::peer`, the proxy stays in `Ctx::proxied`, and no byte of
//! a refused connection reaches the protocol. (Behind a real HAProxy:
//! `tests/deploy_haproxy.rs`.)

mod support;

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use support::{WAIT, connect, read_to_close, start_on, stats_of};
use twig::{After, Builder, CloseReason, Ctx, Frame, Listen, Protocol, Server, framing};

/// Answers each line with who the protocol thinks the peer is and what the
/// header said of the proxy; counts the lines it was given.
struct WhoAmI;

impl Protocol<u64> for WhoAmI {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, _line: &[u8], ctx: &mut Ctx<'_, u64>) -> After {
        *ctx.state() += 1;
        let proxy = match ctx.proxied() {
            Some(p) => format!("via {} to {}", p.proxy, p.destination),
            None => "direct".to_string(),
        };
        let _ = writeln!(ctx, "{} {proxy}", ctx.peer());
        After::Close
    }
}

fn start(builder: Builder) -> support::Running<u64> {
    start_on(builder, 0u64, |server: &mut Server<u64>| {
        let listen = Listen::parse("127.0.0.1:0")?.proxy_protocol(true);
        let bound = server.listen_at(listen, || WhoAmI)?;
        Ok(bound.socket_addr().expect("a TCP listener"))
    })
}

/// Sends `bytes` (each piece in a segment of its own) and reads until the
/// server closes.
fn exchange(addr: SocketAddr, pieces: &[&[u8]]) -> String {
    let mut stream = connect(addr);
    stream.set_nodelay(true).unwrap();
    for piece in pieces {
        stream.write_all(piece).unwrap();
    }
    String::from_utf8_lossy(&read_to_end_or_reset(&mut stream)).into_owned()
}

/// Reads until the server closes: EOF, or a reset (closing a socket with
/// unread input sends one, as for bytes that never made a header).
fn read_to_end_or_reset(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// A v2 header: PROXY (or LOCAL), TCP over IPv4 or IPv6, `tlvs` appended.
fn v2(local: bool, source: SocketAddr, destination: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(if local { 0x20 } else { 0x21 });
    let mut body = Vec::new();
    match (source, destination) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            h.push(0x11);
            body.extend(s.ip().octets());
            body.extend(d.ip().octets());
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            h.push(0x21);
            body.extend(s.ip().octets());
            body.extend(d.ip().octets());
        }
        _ => panic!("one family"),
    }
    body.extend(source.port().to_be_bytes());
    body.extend(destination.port().to_be_bytes());
    body.extend(tlvs);
    h.extend((body.len() as u16).to_be_bytes());
    h.extend(body);
    h
}

#[test]
fn a_v1_header_names_the_client_and_the_payload_in_the_same_segment_is_kept() {
    let server = start(Server::builder());
    let reply = exchange(
        server.addr,
        &[b"PROXY TCP4 203.0.113.7 192.0.2.1 40001 443\r\nhello\n"],
    );
    assert!(
        reply.starts_with("203.0.113.7:40001 via 127.0.0.1:"),
        "{reply:?}"
    );
    assert!(reply.trim_end().ends_with(" to 192.0.2.1:443"), "{reply:?}");
    assert_eq!(server.stop().closed(CloseReason::ProxyHeader), 0);
}

#[test]
fn a_v2_header_with_ipv6_and_tlvs_names_the_client() {
    let server = start(Server::builder());
    let source = SocketAddr::V6(SocketAddrV6::new(
        "2001:db8::5".parse::<Ipv6Addr>().unwrap(),
        50123,
        0,
        0,
    ));
    let destination: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
    let tlv = [0x04, 0x00, 0x02, 0xAB, 0xCD]; // PP2_TYPE_NOOP, 2 bytes
    let mut bytes = v2(false, source, destination, &tlv);
    bytes.extend(b"hi\n");
    let reply = exchange(server.addr, &[&bytes]);
    assert!(
        reply.starts_with("[2001:db8::5]:50123 via 127.0.0.1:"),
        "{reply:?}"
    );
    assert!(
        reply.trim_end().ends_with("to [2001:db8::1]:80"),
        "{reply:?}"
    );
    server.stop();
}

#[test]
fn a_v2_local_header_is_a_health_check_and_keeps_the_socket_peer() {
    let server = start(Server::builder());
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let mut bytes = v2(true, any, any, &[]);
    bytes.extend(b"ping\n");
    let reply = exchange(server.addr, &[&bytes]);
    assert!(reply.starts_with("127.0.0.1:"), "{reply:?}");
    assert!(reply.trim_end().ends_with(" direct"), "{reply:?}");
    server.stop();
}

#[test]
fn a_header_split_over_many_segments_is_waited_for() {
    let server = start(Server::builder());
    let header = b"PROXY TCP4 198.51.100.9 192.0.2.1 61000 80\r\n";
    let mut pieces: Vec<&[u8]> = header.chunks(3).collect();
    pieces.push(b"line\n");
    let reply = exchange(server.addr, &pieces);
    assert!(reply.starts_with("198.51.100.9:61000 "), "{reply:?}");
    // v2 too, a byte at a time.
    let source: SocketAddr = "198.51.100.10:61001".parse().unwrap();
    let bytes = v2(false, source, "192.0.2.1:80".parse().unwrap(), &[]);
    let mut pieces: Vec<&[u8]> = bytes.chunks(1).collect();
    pieces.push(b"line\n");
    let reply = exchange(server.addr, &pieces);
    assert!(reply.starts_with("198.51.100.10:61001 "), "{reply:?}");
    server.stop();
}

/// Every bad start gets a close, with no reply, is counted, and the protocol
/// never sees a byte.
#[test]
fn missing_malformed_and_oversized_headers_are_closed_and_counted() {
    let server = start(Server::builder());
    let mut too_long = b"\r\n\r\n\0\r\nQUIT\n\x21\x11".to_vec();
    too_long.extend(5000u16.to_be_bytes());
    let cases: [&[u8]; 5] = [
        b"hello\n",                                      // no header at all
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",            // plain HTTP
        b"PROXY TCP4 not-an-address 1.2.3.4 1 2\r\nx\n", // malformed v1
        &[b'P'; 200],                                    // a v1 line that never ends
        &too_long,                                       // v2 declaring 5000 bytes
    ];
    for case in cases {
        let reply = exchange(server.addr, &[case]);
        assert_eq!(reply, "", "for {:?}", String::from_utf8_lossy(case));
    }
    let handle = server.handle.clone();
    let served = support::ask(&handle, |core| *core.state());
    assert_eq!(served, 0, "no bad connection's bytes reached the protocol");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::ProxyHeader), 5);
}

#[test]
fn a_header_unfinished_when_the_peer_closes_is_refused() {
    let server = start(Server::builder());
    let mut stream = connect(server.addr);
    stream
        .write_all(b"PROXY TCP4 192.0.2.3 192.0.2.1 ")
        .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end_or_reset(&mut stream), b"");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::ProxyHeader), 1);
}

#[test]
fn a_header_never_finished_is_closed_at_the_header_timeout() {
    let builder = Server::builder().proxy_header_timeout(Duration::from_millis(200));
    let server = start(builder);
    let mut stream = connect(server.addr);
    stream.write_all(b"PROXY TCP4 192.0.2.3").unwrap();
    // The close is the event waited for; WAIT (10 s) bounds it.
    let started = std::time::Instant::now();
    assert_eq!(read_to_end_or_reset(&mut stream), b"");
    assert!(started.elapsed() < WAIT);
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::ProxyHeader), 1);
}

#[test]
fn a_connect_and_close_without_a_byte_is_a_health_check_not_an_error() {
    let server = start(Server::builder());
    let mut stream = connect(server.addr);
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut stream), b"");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::ProxyHeader), 0);
    assert_eq!(stats.closed(CloseReason::Eof), 1);
}

#[test]
fn the_header_timeout_is_in_the_config() {
    assert_eq!(
        twig::Config::default().proxy_header_timeout,
        Duration::from_secs(5)
    );
}

#[test]
fn listeners_without_the_option_see_the_header_as_payload() {
    let server = start_on(Server::builder(), 0u64, |server: &mut Server<u64>| {
        server.listen("127.0.0.1:0", || WhoAmI)
    });
    let reply = exchange(server.addr, &[b"PROXY TCP4 192.0.2.3 192.0.2.1 1 2\r\n"]);
    assert!(reply.starts_with("127.0.0.1:"), "{reply:?}");
    let _ = stats_of(&server.handle);
    server.stop();
}

/// A TLS listener behind a proxy: the header comes first, then the
/// handshake. Python's ssl module makes the ClientHello in memory, so that
/// the header and the hello go out in one segment: the header stage must
/// leave the hello in the socket for rustls.
#[cfg(feature = "tls")]
#[test]
fn a_tls_listener_reads_the_header_then_the_handshake_from_the_same_segment() {
    let cert = support::tls::Cert::new("proxy-tls");
    let config = cert.config();
    let server = start_on(Server::builder(), 0u64, move |server: &mut Server<u64>| {
        let listen = Listen::parse("127.0.0.1:0")?
            .proxy_protocol(true)
            .tls(config);
        let bound = server.listen_at(listen, || WhoAmI)?;
        Ok(bound.socket_addr().expect("a TCP listener"))
    });
    let script = r#"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
header = b"PROXY TCP4 203.0.113.8 192.0.2.1 40002 443\r\n"
first = True
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        pending = outgoing.read()
        s.sendall(header + pending if first else pending)
        first = False
        data = s.recv(65536)
        if not data:
            sys.exit("closed during the handshake")
        incoming.write(data)
tls.write(b"hello\n")
s.sendall(outgoing.read())
reply = b""
while not reply.endswith(b"\n"):
    try:
        reply += tls.read(4096)
    except ssl.SSLWantReadError:
        data = s.recv(65536)
        if not data:
            break
        incoming.write(data)
print(reply.decode(), end="")
"#;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            &server.addr.port().to_string(),
            cert.cert_str(),
        ])
        .output()
        .expect("python3 runs");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        reply.starts_with("203.0.113.8:40002 via 127.0.0.1:"),
        "{reply:?}"
    );
    server.stop();
}
