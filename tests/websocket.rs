//! WebSocket (`twig::ws`) against real clients: Python `websockets` for the
//! well-formed exchanges, raw frames on a std socket for the malformed ones.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::WAIT;
use twig::http::{Request, Router};
use twig::ws::{self, Message, Settings, WebSocket, WsCtx};
use twig::{Ctx, Server};

/// Echoes every message back.
struct Echo;

impl WebSocket for Echo {
    fn on_message(&mut self, message: Message<'_>, ws: &mut WsCtx<'_, '_, ()>) {
        match message {
            Message::Text(text) => ws.send_text(text),
            Message::Binary(bytes) => ws.send_binary(bytes),
        }
    }
}

/// An echo server at `/ws` with `settings`.
fn echo_server(settings: Settings) -> support::Running<()> {
    let builder = Server::builder().max_request_size(1 << 20);
    support::start_with(
        builder,
        (),
        move || {
            let router = Router::new().get("/", |_, res, _| res.text("hello\n"));
            let accept =
                |req: &Request<'_>, _: &mut Ctx<'_, ()>| (req.path() == "/ws").then_some(Echo);
            ws::Upgrade::new(router, accept).settings(settings)
        },
        |_| {},
    )
}

/// Whether Python and its `websockets` package are here (skips otherwise,
/// never under CI=true).
fn have_websockets() -> bool {
    support::have("python3", "--version")
        && (Command::new("python3")
            .args(["-c", "import websockets.sync.client"])
            .status()
            .is_ok_and(|s| s.success())
            || {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "websockets is required under CI=true"
                );
                eprintln!("skipping: Python websockets is not installed");
                false
            })
}

/// Runs `script` with the server's `ws://` URL as `URL`; returns its stdout.
fn python(script: &str, addr: SocketAddr) -> String {
    let prelude = "import sys\nfrom websockets.sync.client import connect\n\
                   from websockets.exceptions import ConnectionClosed\nURL = sys.argv[1]\n";
    let out = Command::new("timeout")
        .arg("20")
        .args([
            "python3",
            "-c",
            &format!("{prelude}{script}"),
            &format!("ws://{addr}/ws"),
        ])
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn python_websockets_echoes_text_binary_fragments_and_pings() {
    if !have_websockets() {
        return;
    }
    let server = echo_server(Settings::default());
    let script = r#"
with connect(URL, compression=None, open_timeout=10) as ws:
    ws.send("héllo"); assert ws.recv(timeout=10) == "héllo"
    ws.send(b"\x00\x01\xff"); assert ws.recv(timeout=10) == b"\x00\x01\xff"
    ws.send(["frag", "ment", "é", "😀"]); assert ws.recv(timeout=10) == "fragmenté😀"
    ws.send([b"ab", b"", b"cd"]); assert ws.recv(timeout=10) == b"abcd"
    big = "x" * 200_000
    ws.send(big); assert ws.recv(timeout=10) == big
    assert ws.ping(b"are you there").wait(10), "no pong"
    ws.close(1000, "bye")
    print(ws.close_code)
"#;
    assert_eq!(python(script, server.addr), "1000");
    server.stop();
}

#[test]
fn oversize_frames_and_messages_get_1009() {
    if !have_websockets() {
        return;
    }
    let settings = Settings {
        max_message: 4096,
        max_frame: 4096,
        ..Settings::default()
    };
    let server = echo_server(settings);
    let script = r#"
for message in ["x" * 5000, ["x" * 3000, "x" * 3000]]:
    with connect(URL, compression=None, open_timeout=10) as ws:
        ws.send("small"); assert ws.recv(timeout=10) == "small"
        try:
            ws.send(message)
            ws.recv(timeout=10)
        except ConnectionClosed as e:
            print(e.rcvd.code)
"#;
    assert_eq!(python(script, server.addr), "1009\n1009");
    server.stop();
}

/// Opens a WebSocket on a plain socket, with the RFC's example key.
fn handshake(addr: SocketAddr) -> TcpStream {
    let mut socket = support::connect(addr);
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend(support::read_exact(&mut socket, 1));
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    assert!(!head.contains("Content-Length"), "{head}");
    socket
}

/// A masked client frame.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [9, 8, 7, 6];
    assert!(payload.len() < 126);
    let mut out = vec![b0, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// Reads one server frame: its first byte and payload.
fn read_frame(socket: &mut TcpStream) -> (u8, Vec<u8>) {
    let head = support::read_exact(socket, 2);
    assert_eq!(head[1] & 0x80, 0, "server frames are unmasked");
    assert!(head[1] < 126);
    (head[0], support::read_exact(socket, usize::from(head[1])))
}

/// Sends `bytes` after the handshake; the server's answer must be a close
/// frame with `code`, then the end of the connection.
fn refused_with(bytes: &[u8], code: u16) {
    let server = echo_server(Settings::default());
    let mut socket = handshake(server.addr);
    socket.write_all(bytes).unwrap();
    let (b0, payload) = read_frame(&mut socket);
    assert_eq!(b0, 0x88, "a close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code);
    assert!(support::is_closed_by_peer(&mut socket));
    server.stop();
}

#[test]
fn invalid_utf8_gets_1007_even_across_fragments() {
    refused_with(&frame(0x81, b"ok \xff"), 1007);
    let mut split = frame(0x01, "é".as_bytes().get(..1).unwrap());
    split.extend(frame(0x80, b"("));
    refused_with(&split, 1007);
}

#[test]
fn protocol_violations_get_1002() {
    refused_with(&[0x81, 0x02, b'h', b'i'], 1002); // unmasked
    refused_with(&frame(0xC1, b"x"), 1002); // RSV1 with no extension
    refused_with(&frame(0x83, b"x"), 1002); // reserved opcode
    refused_with(&frame(0x09, b"x"), 1002); // fragmented ping
    refused_with(&frame(0x80, b"x"), 1002); // continuation without a start
}

#[test]
fn raw_ping_gets_pong_and_close_is_echoed() {
    let server = echo_server(Settings::default());
    let mut socket = handshake(server.addr);
    socket.write_all(&frame(0x89, b"hey")).unwrap();
    assert_eq!(read_frame(&mut socket), (0x8A, b"hey".to_vec()));
    socket
        .write_all(&frame(0x88, &[0x0F, 0xA0, b'o', b'k']))
        .unwrap(); // 4000
    assert_eq!(read_frame(&mut socket), (0x88, vec![0x0F, 0xA0]));
    assert!(support::is_closed_by_peer(&mut socket));
    server.stop();
}

#[test]
fn a_quiet_peer_is_pinged_then_closed_with_1001() {
    let settings = Settings {
        ping_after: Some(Duration::from_millis(100)),
        pong_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let server = echo_server(settings);
    let mut socket = handshake(server.addr);
    assert_eq!(
        read_frame(&mut socket),
        (0x89, Vec::new()),
        "a ping after the idle time"
    );
    let (b0, payload) = read_frame(&mut socket); // no pong from us
    assert_eq!(b0, 0x88);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
    assert!(support::is_closed_by_peer(&mut socket));
    server.stop();
}

#[test]
fn bad_upgrades_are_refused_and_plain_http_still_works() {
    let server = echo_server(Settings::default());
    let ask = |request: &str| {
        let mut socket = support::connect(server.addr);
        socket.set_read_timeout(Some(WAIT)).unwrap();
        socket.write_all(request.as_bytes()).unwrap();
        // One whole response: its head, then Content-Length bytes (a
        // response may arrive in more than one segment).
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            let text = String::from_utf8_lossy(&reply).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return text;
                }
            }
            let n = socket.read(&mut buf).unwrap();
            if n == 0 {
                return text;
            }
            reply.extend_from_slice(&buf[..n]);
        }
    };
    let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let reply = ask(&format!(
        "{upgrade}Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    ));
    assert!(reply.starts_with("HTTP/1.1 426 "), "{reply}");
    assert!(reply.contains("Sec-WebSocket-Version: 13\r\n"), "{reply}");
    let reply = ask(&format!(
        "{upgrade}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n"
    ));
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    let reply = ask("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("hello\n"),
        "{reply}"
    );
    server.stop();
}
