//! Unix-domain stream sockets beside TCP, through the same `Protocol` API:
//! the peer's credentials, the socket file's mode, a stale file replaced, a
//! live one or a plain file refused, the file removed on a clean stop, an
//! outbound `connect_unix`, N loops sharing one socket; and the real
//! clients people use on them (`curl --unix-socket`, `nc -U`,
//! `redis-cli -s`) against the example servers.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use support::process::Proc;
use support::{WAIT, ask};
use twig::{
    After, CloseReason, Ctx, Endpoint, Frame, Handle, Listen, Peer, Protocol, Server, framing,
};

/// A fresh folder for socket files (removed at the end).
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("twig-unix-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Answers each line with the peer as the protocol sees it.
struct Who;

impl Protocol<u64> for Who {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, u64>) -> After {
        *ctx.state() += 1;
        let text = String::from_utf8_lossy(line.trim_ascii_end()).into_owned();
        let _ = writeln!(ctx, "{} {text}", ctx.peer());
        After::KeepOpen
    }
}

/// A server on its own thread, listening where `listen` says.
struct Running {
    handle: Handle<u64>,
    bound: Endpoint,
    thread: Option<JoinHandle<std::io::Result<twig::Stats>>>,
}

impl Running {
    fn start(
        listen: impl FnOnce() -> std::io::Result<Listen> + Send + 'static,
    ) -> std::io::Result<Running> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut server = Server::builder().build(0u64)?;
            let bound = match listen().and_then(|l| server.listen_at(l, || Who)) {
                Ok(bound) => bound,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return Ok(twig::Stats::default());
                }
            };
            let _ = tx.send(Ok((bound, server.handle())));
            server.run()
        });
        let (bound, handle) = rx.recv_timeout(WAIT).expect("server started")?;
        Ok(Running {
            handle,
            bound,
            thread: Some(thread),
        })
    }

    fn stop(mut self) -> twig::Stats {
        self.handle.stop();
        let thread = self.thread.take().unwrap();
        thread.join().unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.stop();
            let _ = thread.join();
        }
    }
}

/// One line to the socket at `path`, and the line that comes back.
fn ask_line(path: &Path, line: &str) -> String {
    let mut stream = UnixStream::connect(path).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    writeln!(stream, "{line}").unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    reply
}

#[test]
fn a_unix_listener_serves_the_protocol_and_knows_the_peer_process() {
    let dir = Dir::new("serve");
    let path = dir.path("app.sock");
    let p = path.clone();
    let server = Running::start(move || Listen::parse(&format!("unix:{}", p.display()))).unwrap();
    assert_eq!(server.bound, Endpoint::Unix(path.clone()));
    let reply = ask_line(&path, "hello");
    let me = std::process::id();
    let uid = std::fs::metadata(&dir.0)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    assert_eq!(reply, format!("unix:pid={me},uid={uid} hello\n"));
    let peers = ask(&server.handle, |core| {
        core.connections()
            .filter_map(|id| core.peer(id))
            .collect::<Vec<_>>()
    });
    for peer in peers {
        let creds = peer.credentials().expect("SO_PEERCRED");
        assert_eq!(creds.pid, me);
        assert!(matches!(peer, Peer::Unix(_)) && peer.socket_addr().is_none());
    }
    let stats = server.stop();
    assert_eq!(stats.accepted, 1);
    assert!(!path.exists(), "the socket file is removed on a clean stop");
}

#[test]
fn the_socket_files_mode_is_a_setting() {
    let dir = Dir::new("mode");
    let path = dir.path("app.sock");
    let p = path.clone();
    let server =
        Running::start(move || Ok(Listen::new(Endpoint::Unix(p)).unix_mode(0o660))).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    assert!(ask_line(&path, "x").ends_with(" x\n"));
    server.stop();
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = Dir::new("stale");
    let path = dir.path("app.sock");
    drop(UnixListener::bind(&path).unwrap()); // a server that died: the file stays
    assert!(path.exists());
    let p = path.clone();
    let server = Running::start(move || Ok(Listen::new(Endpoint::Unix(p)))).unwrap();
    assert!(ask_line(&path, "again").ends_with(" again\n"));
    server.stop();
}

#[test]
fn a_live_socket_or_a_plain_file_is_refused_and_left_alone() {
    let dir = Dir::new("live");
    let path = dir.path("app.sock");
    let other = UnixListener::bind(&path).unwrap(); // another server, alive
    let p = path.clone();
    let refused = Running::start(move || Ok(Listen::new(Endpoint::Unix(p))))
        .err()
        .expect("refused");
    let text = refused.to_string();
    assert!(text.contains("another server is listening"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    // The other server still has its socket.
    let _client = UnixStream::connect(&path).unwrap();
    assert!(other.accept().is_ok());

    let file = dir.path("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let f = file.clone();
    let refused = Running::start(move || Ok(Listen::new(Endpoint::Unix(f))))
        .err()
        .expect("refused");
    assert!(refused.to_string().contains("not a socket"), "{refused}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// Connects to `path` on open, sends a line, keeps the reply in the state.
struct Client;

impl Protocol<u64> for Client {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn on_open(&mut self, ctx: &mut Ctx<'_, u64>) {
        ctx.write(b"from a twig client\n");
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, u64>) -> After {
        // The server answers "PEER from a twig client": count it.
        if line.trim_ascii_end().ends_with(b"from a twig client") {
            *ctx.state() += 1000;
        }
        After::Close
    }
}

#[test]
fn connect_unix_opens_an_outbound_connection_through_the_same_api() {
    let dir = Dir::new("outbound");
    let path = dir.path("app.sock");
    let p = path.clone();
    let server = Running::start(move || Ok(Listen::new(Endpoint::Unix(p)))).unwrap();
    let target = path.clone();
    let id = ask(&server.handle, move |core| {
        core.connect_unix(&target, Client)
            .map_err(|e| e.to_string())
    });
    id.expect("connect_unix");
    // The server counts 1 for the line it answered, the client 1000 for the reply.
    assert!(support::eventually(|| ask(&server.handle, |core| *core
        .state())
        == 1001));
    let stats = server.stop();
    assert_eq!(stats.connected, 1);
    // The client closed (done); the server saw its EOF.
    assert_eq!(stats.closed(CloseReason::Done), 1, "{stats}");
    assert_eq!(stats.closed(CloseReason::Eof), 1, "{stats}");
    // Nobody listens on a missing path: refused at once.
    let missing = dir.path("nobody.sock");
    let mut server = Server::builder().build(0u64).unwrap();
    assert!(server.core().connect_unix(&missing, Client).is_err());
}

// The example servers, with the clients people use on Unix sockets.

/// The path in an example's "... on unix:PATH; try ..." line.
fn serving_on(proc: &mut Proc, needle: &str) -> PathBuf {
    let line = proc.wait_for(needle);
    let rest = &line[line.find(needle).unwrap() + needle.len()..];
    let endpoint = rest.split(';').next().unwrap().trim();
    PathBuf::from(endpoint.strip_prefix("unix:").expect("a unix endpoint"))
}

#[test]
fn curl_over_a_unix_socket_reaches_http_server_with_two_loops() {
    if !support::have("curl", "--version") {
        return;
    }
    let dir = Dir::new("curl");
    let addr = format!("unix:{}", dir.path("http.sock").display());
    let mut proc = Proc::spawn_args("http_server", &[&addr, "--workers", "2"], &[]);
    let path = serving_on(&mut proc, "serving HTTP on ");
    for _ in 0..4 {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "--unix-socket"])
            .arg(&path)
            .arg("http://localhost/whoami")
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(body.starts_with("unix:pid="), "{body:?}");
    }
    proc.signal("TERM");
    let output = support::process::assert_clean_exit(proc);
    assert!(!path.exists(), "removed on a clean stop; output: {output}");
}

#[test]
fn nc_over_a_unix_socket_talks_to_echo_server() {
    if !support::have("nc", "-h") {
        return;
    }
    let dir = Dir::new("nc");
    let addr = format!("unix:{}", dir.path("echo.sock").display());
    let mut proc = Proc::spawn_args("echo_server", &[&addr], &[]);
    let path = serving_on(&mut proc, "echoing on ");
    let mut nc = std::process::Command::new("nc")
        .arg("-U")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = nc.stdin.take().unwrap();
    stdin.write_all(b"over a unix socket\n").unwrap();
    let mut line = String::new();
    BufReader::new(nc.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "over a unix socket\n");
    drop(stdin);
    let _ = nc.wait();
    proc.signal("TERM");
    support::process::assert_clean_exit(proc);
}

#[test]
fn redis_cli_over_a_unix_socket_talks_to_kv_server() {
    if !support::have("redis-cli", "--version") {
        return;
    }
    let dir = Dir::new("redis");
    let addr = format!("unix:{}", dir.path("kv.sock").display());
    let mut proc = Proc::spawn_args("kv_server", &[&addr], &[]);
    let path = serving_on(&mut proc, "serving keys on ");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .arg("-s")
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["set", "greeting", "hello"]), "OK");
    assert_eq!(cli(&["get", "greeting"]), "hello");
    assert!(cli(&["client", "info"]).contains("addr=unix:pid="));
    proc.signal("TERM");
    support::process::assert_clean_exit(proc);
}

#[test]
fn the_proxy_example_forwards_tcp_clients_to_a_unix_socket() {
    let dir = Dir::new("proxy");
    let addr = format!("unix:{}", dir.path("echo.sock").display());
    let mut echo = Proc::spawn_args("echo_server", &[&addr], &[]);
    serving_on(&mut echo, "echoing on ");
    let mut proxy = Proc::spawn_args("proxy", &["127.0.0.1:0", &addr], &[]);
    let front = proxy.bound_addr("proxy on ");
    let mut client = support::connect(front);
    let echoed = support::round_trip(&mut client, b"through the proxy\n");
    assert_eq!(echoed, b"through the proxy\n");
    drop(client);
    proxy.signal("TERM");
    support::process::assert_clean_exit(proxy);
    echo.signal("TERM");
    support::process::assert_clean_exit(echo);
}
