//! Shared helpers for the integration tests: start a real server on
//! `127.0.0.1:0` in a thread, talk to it with blocking std sockets, and wait
//! on events with bounded timeouts — never sleeps.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use twig::{Builder, Handle, Protocol, Server, Stats};

pub mod haproxy;
pub mod logs;
pub mod process;
#[cfg(feature = "tls")]
pub mod tls;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server running on its own thread.
pub struct Running<S: 'static> {
    pub addr: SocketAddr,
    pub handle: Handle<S>,
    thread: Option<JoinHandle<io::Result<Stats>>>,
}

impl<S: 'static> Running<S> {
    /// Stops the server gracefully and returns what `run()` returned.
    pub fn stop(mut self) -> Stats {
        self.handle.stop();
        self.join()
    }

    /// Waits for `run()` to return (after a stop from elsewhere).
    pub fn join(&mut self) -> Stats {
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .expect("server thread panicked")
            .expect("run() failed")
    }
}

impl<S: 'static> Drop for Running<S> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.stop();
            let _ = thread.join();
        }
    }
}

/// Starts a server with `builder`'s limits, state `state`, serving
/// `factory()` on `127.0.0.1:0`. `setup` runs on the server before `run()`.
pub fn start_with<S, P, F>(
    builder: Builder,
    state: S,
    factory: F,
    setup: impl FnOnce(&mut Server<S>) + Send + 'static,
) -> Running<S>
where
    S: Send + 'static,
    P: Protocol<S> + 'static,
    F: FnMut() -> P + Send + 'static,
{
    start_on(builder, state, move |server| {
        let addr = server.listen("127.0.0.1:0", factory)?;
        setup(server);
        Ok(addr)
    })
}

/// Starts a server with `builder`'s limits and state `state`; `listen`
/// makes its listener (on `127.0.0.1:0`, e.g. with `listen_tls`) and says
/// where, before `run()`.
pub fn start_on<S>(
    builder: Builder,
    state: S,
    listen: impl FnOnce(&mut Server<S>) -> io::Result<SocketAddr> + Send + 'static,
) -> Running<S>
where
    S: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut server = builder.build(state)?;
        let addr = listen(&mut server)?;
        tx.send((addr, server.handle()))
            .expect("test waits for the address");
        server.run()
    });
    let (addr, handle) = rx.recv_timeout(WAIT).expect("server started");
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

/// Starts a server with default limits and `()` state.
pub fn start<P, F>(factory: F) -> Running<()>
where
    P: Protocol<()> + 'static,
    F: FnMut() -> P + Send + 'static,
{
    start_with(Server::builder(), (), factory, |_| {})
}

/// Connects with read/write timeouts of [`WAIT`], so a test never hangs.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Reads until the server closes the connection (EOF).
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read until EOF");
    all
}

/// Reads exactly `n` bytes.
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).expect("read_exact");
    buf
}

/// Sends `bytes` and reads back exactly as many.
pub fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    stream.write_all(bytes).expect("write");
    read_exact(stream, bytes.len())
}

/// Whether the peer has closed: a read returns EOF (or a reset) within `WAIT`.
pub fn is_closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Polls `condition` until it holds or [`WAIT`] passes; true if it held.
/// For state observed from outside (e.g. a counter behind a handle), where
/// there is no event to block on. Yields between checks, never sleeps long.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    condition()
}

/// Runs `f` on the loop thread of the server behind `handle` (a posted
/// closure) and returns its result.
pub fn ask<S: 'static, T: Send + 'static>(
    handle: &Handle<S>,
    f: impl FnOnce(&mut twig::Core<S>) -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    handle.post(move |core| {
        let _ = tx.send(f(core));
    });
    rx.recv_timeout(WAIT).expect("the loop answered")
}

/// Reads the server's stats from its loop thread.
pub fn stats_of<S: 'static>(handle: &Handle<S>) -> Stats {
    ask(handle, |core| core.stats().clone())
}

/// Whether `tool` runs (`tool ARG`); if not, a test skips with a message,
/// except under `CI=true`, where it must fail.
pub fn have(tool: &str, arg: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required under CI=true (.ci/run installs it)"
        );
        eprintln!("skipping: {tool} is not installed");
    }
    ok
}
