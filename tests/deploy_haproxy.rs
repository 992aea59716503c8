//! Scale-out the way it is deployed: several `http_server` processes behind
//! a real HAProxy (tcp mode, round-robin, health checks every 100 ms), and
//! what HAProxy's stats socket says about them while one dies or is drained
//! for a deploy (docs/deploy.md walks through the same steps by hand).
//! Skipped, with a message, where `haproxy` is not installed; under
//! `CI=true` it must be there (.ci/run installs it).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Instant;

use support::haproxy::{
    Backend, Haproxy, Mode, Options, ProxyHeader, TempDir, config, parse_csv, servers_of,
};
use support::process::{Proc, assert_clean_exit};
use support::{WAIT, connect, have, is_closed_by_peer, read_to_close};

/// Starts `http_server` processes `s1`, `s2`, ... on 127.0.0.1:0, each with
/// the address it bound.
fn http_servers(n: usize) -> Vec<(String, Proc, SocketAddr)> {
    (1..=n)
        .map(|i| {
            let mut proc = Proc::spawn_args("http_server", &["127.0.0.1:0"], &[]);
            let addr = proc.bound_addr("serving HTTP on ");
            (format!("s{i}"), proc, addr)
        })
        .collect()
}

fn behind_haproxy(servers: &[(String, Proc, SocketAddr)]) -> Haproxy {
    let backends: Vec<Backend> = servers
        .iter()
        .map(|(name, _, addr)| Backend::tcp(name, *addr))
        .collect();
    Haproxy::start(&backends, &Options::default())
}

/// One `GET /` on a connection of its own, through the proxy; asserts 200.
fn get(addr: SocketAddr) {
    let mut client = connect(addr);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: twig\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = String::from_utf8(read_to_close(&mut client)).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply:?}");
    assert!(reply.ends_with("Hello from twig!\n"), "{reply:?}");
}

/// One keep-alive `GET /` on `client`: reads exactly one response (by its
/// Content-Length) and asserts 200.
fn get_keep_alive(client: &mut TcpStream) {
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: twig\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head:?}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    let mut body = vec![0; length];
    client.read_exact(&mut body).unwrap();
    assert_eq!(body, b"Hello from twig!\n");
}

/// `stot` of server `name`: client connections HAProxy ever sent it.
fn sessions(proxy: &Haproxy, name: &str) -> u64 {
    proxy.server(name).sessions_total
}

/// Two processes share the load round-robin, and when one is killed
/// (SIGKILL: no goodbye, its port just refuses) HAProxy's check marks it
/// DOWN within a check interval and every later request goes to the
/// survivor: all 20 get 200 and the survivor's `stot` grows by exactly 20.
#[test]
fn two_processes_share_the_load_and_a_killed_one_is_routed_around() {
    if !have("haproxy", "-v") {
        return;
    }
    let mut servers = http_servers(2);
    let proxy = behind_haproxy(&servers);

    for _ in 0..20 {
        get(proxy.addr());
    }
    let (s1, s2) = (sessions(&proxy, "s1"), sessions(&proxy, "s2"));
    assert!(s1 > 0 && s2 > 0, "both served: s1 {s1}, s2 {s2}");
    assert!(s1 + s2 >= 20, "s1 {s1} + s2 {s2}");

    let (_, victim, _) = servers.remove(0);
    victim.signal("KILL");
    let (status, _) = victim.wait_exit(WAIT);
    assert!(!status.success(), "killed: {status}");
    proxy.wait_status("s1", "DOWN");

    let before = sessions(&proxy, "s2");
    for _ in 0..20 {
        get(proxy.addr());
    }
    assert_eq!(
        sessions(&proxy, "s2"),
        before + 20,
        "{:#?}",
        proxy.servers()
    );
    assert_eq!(
        sessions(&proxy, "s1"),
        s1,
        "nothing more went to the dead one"
    );
}

/// A deploy's graceful drain. `set server app/sN state drain` stops new
/// sessions to one process while its established ones go on: new requests
/// all go to the other (its `stot` grows by exactly their count), and a
/// keep-alive connection already on the drained process still gets
/// answers. Then SIGTERM: twig closes its listener at once (HAProxy's check
/// turns it DOWN), closes the idle keep-alive connection (the client sees
/// EOF through the proxy) and exits cleanly with its summary line, while
/// requests through the proxy keep getting 200.
#[test]
fn a_drained_process_gets_no_new_sessions_and_stops_cleanly() {
    if !have("haproxy", "-v") {
        return;
    }
    let mut servers = http_servers(2);
    let proxy = behind_haproxy(&servers);

    // A keep-alive connection, established before the drain; the server it
    // landed on is the one drained.
    let before = (sessions(&proxy, "s1"), sessions(&proxy, "s2"));
    let mut kept = connect(proxy.addr());
    get_keep_alive(&mut kept);
    let after = (sessions(&proxy, "s1"), sessions(&proxy, "s2"));
    let (drained, other) = match (after.0 - before.0, after.1 - before.1) {
        (1, 0) => ("s1", "s2"),
        (0, 1) => ("s2", "s1"),
        delta => panic!("one session went to one server, not {delta:?}"),
    };
    proxy.set_state(drained, "drain");
    proxy.wait_status(drained, "DRAIN");

    let (drained_before, other_before) = (sessions(&proxy, drained), sessions(&proxy, other));
    for _ in 0..10 {
        get(proxy.addr());
    }
    assert_eq!(sessions(&proxy, other), other_before + 10);
    assert_eq!(sessions(&proxy, drained), drained_before, "no new sessions");
    get_keep_alive(&mut kept); // the established session goes on
    assert_eq!(
        proxy.server(drained).sessions_current,
        1,
        "{:#?}",
        proxy.servers()
    );

    let at = servers
        .iter()
        .position(|(name, ..)| name == drained)
        .unwrap();
    let (_, process, _) = servers.remove(at);
    process.signal("TERM");
    assert!(
        is_closed_by_peer(&mut kept),
        "the idle connection is closed"
    );
    // Our close reaches twig through the proxy and ends its linger (it
    // waits for the peer's FIN after its own, up to its linger timeout).
    drop(kept);
    for _ in 0..10 {
        get(proxy.addr());
    }
    let summary = assert_clean_exit(process);
    assert!(summary.contains("twig stopped"), "{summary}");
    proxy.wait_status(drained, "DOWN");
    for _ in 0..10 {
        get(proxy.addr());
    }
    assert_eq!(sessions(&proxy, other), other_before + 30);
    assert_eq!(sessions(&proxy, drained), drained_before);
}

/// `mode http` with `option httpchk GET /`: HAProxy parses the requests
/// and checks each server with an HTTP request of its own, which twig's
/// HTTP layer answers (a check counts only on a 2xx or 3xx).
#[test]
fn http_mode_with_http_checks_serves_through_the_proxy() {
    if !have("haproxy", "-v") {
        return;
    }
    let servers = http_servers(1);
    let options = Options {
        mode: Mode::Http,
        http_check: Some("/".into()),
    };
    let proxy = Haproxy::start(&[Backend::tcp("s1", servers[0].2)], &options);
    assert!(proxy.server("s1").check_status.starts_with("L7OK"));
    for _ in 0..5 {
        get(proxy.addr());
    }
    assert_eq!(sessions(&proxy, "s1"), 5);
}

/// The PROXY v2 header HAProxy writes ahead of a client's bytes, as
/// (command, source, destination): command 0x21 is PROXY, 0x20 is LOCAL
/// (its own health checks, no addresses).
fn read_v2_header(conn: &mut impl Read) -> (u8, Option<(SocketAddr, SocketAddr)>) {
    let mut fixed = [0u8; 16];
    conn.read_exact(&mut fixed).expect("a PROXY v2 header");
    assert_eq!(&fixed[..12], b"\r\n\r\n\0\r\nQUIT\n", "the v2 signature");
    let (command, family) = (fixed[12], fixed[13]);
    let mut rest = vec![0; usize::from(u16::from_be_bytes([fixed[14], fixed[15]]))];
    conn.read_exact(&mut rest).unwrap();
    if family != 0x11 {
        return (command, None); // not TCP over IPv4
    }
    let ip =
        |at: usize| std::net::Ipv4Addr::new(rest[at], rest[at + 1], rest[at + 2], rest[at + 3]);
    let port = |at: usize| u16::from_be_bytes([rest[at], rest[at + 1]]);
    let source = SocketAddr::from((ip(0), port(8)));
    let destination = SocketAddr::from((ip(4), port(10)));
    (command, Some((source, destination)))
}

/// The harness's `unix@PATH ... send-proxy-v2` server line works with a
/// real HAProxy: its health checks (connections carrying a LOCAL header)
/// pass, and a client's connection arrives on the Unix socket with a
/// PROXY header naming the client's own address and the frontend's, then
/// the client's bytes. (What a twig server behind `--proxy-protocol`
/// receives; docs/deploy.md.) The server is a plain std listener.
#[test]
fn a_unix_socket_server_gets_a_proxy_v2_header_with_the_clients_address() {
    if !have("haproxy", "-v") {
        return;
    }
    let dir = TempDir::new("deploy-unix");
    let path = dir.path().join("app.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let backend = Backend::unix("s1", &path).proxy(ProxyHeader::V2);
    let proxy = Haproxy::start(&[backend], &Options::default());

    let mut client = connect(proxy.addr());
    client.write_all(b"ping").unwrap();
    let deadline = Instant::now() + WAIT;
    let (mut checks, mut found) = (0, None);
    while found.is_none() {
        assert!(Instant::now() < deadline, "no client connection");
        let (mut conn, _) = listener.accept().unwrap(); // a check comes each 100 ms
        conn.set_read_timeout(Some(WAIT)).unwrap();
        match read_v2_header(&mut conn) {
            (0x20, None) => checks += 1,
            (0x21, Some(addrs)) => found = Some((addrs, conn)),
            other => panic!("unexpected header {other:?}"),
        }
    }
    let ((source, destination), mut conn) = found.unwrap();
    assert_eq!(source, client.local_addr().unwrap());
    assert_eq!(destination, proxy.addr());
    let mut ping = [0u8; 4];
    conn.read_exact(&mut ping).unwrap();
    assert_eq!(&ping, b"ping");
    conn.write_all(b"pong").unwrap();
    drop(conn);
    assert_eq!(read_to_close(&mut client), b"pong");
    assert!(checks >= 1, "the ready check went through this socket too");
}

/// `send-proxy` (v1) to a TCP server: one text line ahead of the client's
/// bytes, `PROXY TCP4 <client ip> <frontend ip> <client port> <frontend
/// port>`. HAProxy's checks send one too, with their own addresses.
#[test]
fn a_tcp_server_gets_a_proxy_v1_line_with_the_clients_address() {
    if !have("haproxy", "-v") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = Backend::tcp("s1", listener.local_addr().unwrap()).proxy(ProxyHeader::V1);
    let proxy = Haproxy::start(&[backend], &Options::default());

    let mut client = connect(proxy.addr());
    client.write_all(b"ping\n").unwrap();
    let me = client.local_addr().unwrap();
    let expected = format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        me.ip(),
        proxy.addr().ip(),
        me.port(),
        proxy.addr().port()
    );
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no client connection");
        let (conn, _) = listener.accept().unwrap(); // a check comes each 100 ms
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let mut reader = BufReader::new(conn);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 "),
            "{line:?}"
        );
        if line == expected {
            let mut ping = String::new();
            reader.read_line(&mut ping).unwrap();
            assert_eq!(ping, "ping\n");
            break;
        }
    }
}

/// The harness writes the server lines docs/deploy.md shows: TCP or Unix
/// socket addresses, each with the PROXY header version asked for.
#[test]
fn the_config_has_the_server_lines_asked_for() {
    let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
    let backends = [
        Backend::tcp("s1", "127.0.0.1:8001".parse().unwrap()).proxy(ProxyHeader::V2),
        Backend::unix("s2", "/run/twig/app.sock").proxy(ProxyHeader::V1),
        Backend::tcp("s3", "127.0.0.1:8003".parse().unwrap()),
    ];
    let socket = Path::new("/tmp/x/admin.sock");
    let cfg = config(addr, socket, &backends, &Options::default());
    assert!(cfg.contains("    bind 127.0.0.1:9000\n"), "{cfg}");
    assert!(cfg.contains("    mode tcp\n"), "{cfg}");
    assert!(cfg.contains("    balance roundrobin\n"), "{cfg}");
    assert!(
        cfg.contains("stats socket /tmp/x/admin.sock level admin"),
        "{cfg}"
    );
    let check = "check inter 100ms fall 1 rise 1";
    let lines = [
        format!("server s1 127.0.0.1:8001 {check} send-proxy-v2\n"),
        format!("server s2 unix@/run/twig/app.sock {check} send-proxy\n"),
        format!("server s3 127.0.0.1:8003 {check}\n"),
    ];
    for line in lines {
        assert!(cfg.contains(&line), "no {line:?} in {cfg}");
    }
}

/// `show stat` rows are read by column name; a server counts as up only
/// once a check has passed (`INI` is HAProxy's "not checked yet").
#[test]
fn show_stat_rows_parse_by_column_name() {
    let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,check_status\n\
               front,FRONTEND,,,0,1,,3,OPEN,\n\
               app,s1,0,0,1,1,,2,UP,* L4OK\n\
               app,s2,0,0,0,1,,1,DOWN,L4CON\n\
               app,s3,0,0,0,0,,0,UP,INI\n\
               app,BACKEND,0,0,1,1,,3,UP,\n\n";
    let servers = servers_of(&parse_csv(csv));
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s3"]);
    assert_eq!(servers[0].sessions_total, 2);
    assert_eq!(servers[0].sessions_current, 1);
    assert_eq!(servers[0].check_status, "L4OK");
    assert!(servers[0].is_checked_up());
    assert_eq!(servers[1].status, "DOWN");
    assert!(!servers[1].is_checked_up());
    assert!(!servers[2].is_checked_up(), "not checked yet");
}
