//! TLS listeners against bad input (the `tls` feature): plain HTTP gets a
//! plaintext 400, garbage and hellos nobody can agree on get an alert, a
//! silent client is closed at the handshake timeout, and a thousand
//! handshakes abandoned halfway leave no connection and no buffer behind.
//! Every ending is a clean close, counted in the stats.
#![cfg(feature = "tls")]

mod support;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use support::tls::{Cert, Echo, start_tls};
use support::{ask, connect, eventually, have, read_to_close, stats_of};
use twig::{CloseReason, Server};

/// A ClientHello record: `version` in the record and the hello, one
/// `cipher`, and `extensions` as given.
fn hello(version: [u8; 2], cipher: [u8; 2], extensions: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0, 2, cipher[0], cipher[1]]);
    body.extend_from_slice(&[1, 0]); // null compression
    if !extensions.is_empty() {
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
    }
    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, version[0], version[1]];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends `bytes`, then reads what comes back until the server closes.
fn answer_to(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(bytes).expect("send");
    read_to_close(&mut stream)
}

fn is_alert(reply: &[u8]) -> bool {
    reply.first() == Some(&0x15) // a TLS alert record
}

#[test]
fn plain_http_on_the_tls_port_gets_a_plaintext_400() {
    let cert = Cert::new("plain");
    let server = start_tls(Server::builder(), cert.config(), || Echo);
    let reply = answer_to(server.addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("TLS port"), "{text}");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Tls), 1, "{stats:?}");
}

#[test]
fn garbage_gets_an_alert_and_a_close() {
    let cert = Cert::new("garbage");
    let server = start_tls(Server::builder(), cert.config(), || Echo);
    let mut noise = vec![0u8; 300];
    let mut x = 0x9e37_79b9_u32;
    for byte in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
    noise[0] = 0x16; // looks like a handshake record, then nonsense
    assert!(is_alert(&answer_to(server.addr, &noise)));
    noise[0] = 0x42; // not even a record type
    let reply = answer_to(server.addr, &noise);
    assert!(reply.is_empty() || is_alert(&reply), "{reply:?}");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Tls), 2, "{stats:?}");
}

#[test]
fn old_and_unshared_hellos_get_an_alert() {
    let cert = Cert::new("hellos");
    let server = start_tls(Server::builder(), cert.config(), || Echo);
    // SSLv3 only (no supported_versions), with an SSLv3 cipher.
    let sslv3 = hello([3, 0], [0, 0x0a], &[]);
    assert!(is_alert(&answer_to(server.addr, &sslv3)), "SSLv3");
    // TLS 1.2, but only a cipher rustls does not implement (RSA key
    // exchange, AES-CBC): no shared cipher.
    let unshared = hello([3, 3], [0, 0x2f], &[]);
    assert!(
        is_alert(&answer_to(server.addr, &unshared)),
        "no shared cipher"
    );
    // An SSLv2-format hello.
    let sslv2 = [
        0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    let reply = answer_to(server.addr, &sslv2);
    assert!(reply.is_empty() || is_alert(&reply), "SSLv2: {reply:?}");
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Tls), 3, "{stats:?}");
}

#[test]
fn a_truncated_hello_then_eof_is_closed_and_counted() {
    let cert = Cert::new("truncated");
    let server = start_tls(Server::builder(), cert.config(), || Echo);
    let whole = hello([3, 3], [0x13, 0x01], &[]);
    let mut stream = connect(server.addr);
    stream.write_all(&whole[..whole.len() / 2]).expect("send");
    stream.shutdown(Shutdown::Write).expect("FIN");
    read_to_close(&mut stream);
    assert!(eventually(|| stats_of(&server.handle).active == 0));
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::Tls), 1, "{stats:?}");
}

#[test]
fn a_client_that_never_finishes_the_handshake_is_closed_at_its_timeout() {
    let cert = Cert::new("timeout");
    let builder = Server::builder()
        .tls_handshake_timeout(Duration::from_millis(200))
        .idle_timeout(None);
    let server = start_tls(builder, cert.config(), || Echo);
    let mut silent = connect(server.addr);
    let whole = hello([3, 3], [0x13, 0x01], &[]);
    let mut halfway = connect(server.addr);
    halfway.write_all(&whole[..10]).expect("send");
    let mut buf = [0u8; 64];
    assert_eq!(silent.read(&mut buf).expect("closed, not reset"), 0);
    assert!(read_to_close(&mut halfway).is_empty());
    let stats = server.stop();
    assert_eq!(stats.closed(CloseReason::HandshakeTimeout), 2, "{stats:?}");
}

/// A real ClientHello, made by Python's `ssl` module.
const PY_HELLO: &str = r#"
import ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
s = ctx.wrap_bio(i, o, server_hostname="localhost")
try:
    s.do_handshake()
except ssl.SSLWantReadError:
    pass
sys.stdout.buffer.write(o.read())
"#;

#[test]
fn a_thousand_handshakes_abandoned_halfway_leave_nothing_behind() {
    if !have("python3", "--version") {
        return;
    }
    let made = std::process::Command::new("python3")
        .args(["-c", PY_HELLO])
        .output()
        .expect("python3");
    let hello = made.stdout;
    assert_eq!(hello.first(), Some(&0x16), "a ClientHello record");
    let cert = Cert::new("abandoned");
    let server = start_tls(Server::builder(), cert.config(), || Echo);
    for round in 0..10 {
        let mut open = Vec::new();
        for i in 0..100 {
            let mut stream = connect(server.addr);
            // Half send half a hello; half a whole one and leave after the
            // server's first flight (its certificate) came back.
            if (round + i) % 2 == 0 {
                stream.write_all(&hello[..hello.len() / 2]).expect("send");
            } else {
                stream.write_all(&hello).expect("send");
                let mut buf = [0u8; 5];
                stream.read_exact(&mut buf).expect("the server's flight");
                assert_eq!(buf[0], 0x16, "a handshake record back");
            }
            open.push(stream);
        }
        drop(open); // gone mid-handshake: a FIN, or a reset for unread bytes
    }
    assert!(
        eventually(|| stats_of(&server.handle).active == 0),
        "{:?}",
        stats_of(&server.handle)
    );
    assert_eq!(ask(&server.handle, |core| core.buffered_bytes()), 0);
    let stats = server.stop();
    let gone = stats.closed(CloseReason::Tls) + stats.closed(CloseReason::Reset);
    assert_eq!(gone, 1000, "{stats:?}");
    assert_eq!(stats.accepted, 1000);
}

#[test]
fn the_handshake_timeout_is_in_the_config() {
    assert_eq!(
        twig::Config::default().tls_handshake_timeout,
        Duration::from_secs(10)
    );
}
