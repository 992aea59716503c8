//! `Workers`: N loops on one port (`SO_REUSEPORT`), over real sockets on
//! 127.0.0.1: every loop accepts, one stop (a handle, a callback, SIGTERM)
//! stops them all, `max_connections` bounds the whole group, a loop that
//! cannot start fails the build, and `workers(1)` is a plain server on the
//! calling thread. Also the examples that take `--workers N`.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use echo_server::Echo;
use support::process::Proc;
use support::{WAIT, ask, connect, eventually, read_exact, read_to_close, round_trip};
use twig::{Builder, Handle, Server, WorkerStats};

/// A group running on its own thread (a `Workers` is built, set up and run
/// on one thread).
struct Running {
    addr: SocketAddr,
    handles: Vec<Handle<()>>,
    thread: Option<JoinHandle<io::Result<WorkerStats>>>,
}

impl Running {
    /// Stops the group through its first handle; returns what `run` did.
    fn stop(mut self) -> WorkerStats {
        self.handles[0].stop();
        self.join()
    }

    fn join(&mut self) -> WorkerStats {
        let thread = self.thread.take().expect("joined once");
        thread.join().expect("no panic").expect("run() succeeded")
    }

    /// Connections open now on each loop.
    fn active(&self) -> Vec<u64> {
        self.handles
            .iter()
            .map(|h| ask(h, |core| core.stats().active))
            .collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handles[0].stop();
            let _ = thread.join();
        }
    }
}

/// Starts an echo group with `builder`'s settings on `127.0.0.1:0`.
fn start(builder: Builder) -> Running {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut workers = builder.build_workers(|_| ())?;
        let addr = workers.listen("127.0.0.1:0", || Echo)?;
        let _ = tx.send((addr, workers.handles()));
        workers.run()
    });
    let (addr, handles) = rx.recv_timeout(WAIT).expect("the group started");
    Running {
        addr,
        handles,
        thread: Some(thread),
    }
}

#[test]
fn port_zero_gives_every_loop_the_same_port() {
    let mut workers = Server::builder().workers(3).build_workers(|_| ()).unwrap();
    let bound = workers.listen("127.0.0.1:0", || Echo).unwrap();
    assert_ne!(bound.port(), 0);
    assert_eq!(workers.count(), 3);
    assert_eq!(workers.local_addrs(), vec![bound]);
    let per_loop = workers.each(|_, server| server.local_addrs()).unwrap();
    assert_eq!(per_loop, vec![vec![bound]; 3]);
    // Every loop runs on a thread of its own.
    let threads = workers.each(|_, _| std::thread::current().id()).unwrap();
    assert!(!threads.contains(&std::thread::current().id()));
    assert!(threads[0] != threads[1] && threads[1] != threads[2] && threads[0] != threads[2]);
    // Never run: dropping the group ends its threads and frees the port.
    drop(workers);
    TcpListener::bind(bound).expect("the port is free again");
}

#[test]
fn two_loops_under_100_clients_both_accept_and_one_stop_stops_both() {
    let group = start(Server::builder().workers(2));
    let mut clients: Vec<TcpStream> = (0..100).map(|_| connect(group.addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("client {i:03}\n").as_bytes())
            .unwrap();
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(
            read_exact(client, 11),
            format!("client {i:03}\n").as_bytes()
        );
    }
    assert_eq!(group.active().iter().sum::<u64>(), 100);
    group.handles[0].stop();
    // The stop closes every connection, on both loops.
    for client in &mut clients {
        assert_eq!(read_to_close(client), b"");
    }
    drop(clients);
    let mut group = group;
    let stats = group.join();
    assert_eq!(stats.per_loop.len(), 2);
    for (index, stats) in stats.per_loop.iter().enumerate() {
        assert!(
            stats.accepted > 0,
            "loop {index} accepted nothing: {stats:?}"
        );
        assert_eq!(stats.active, 0, "loop {index}: {stats:?}");
    }
    assert_eq!(stats.total.accepted, 100, "{stats:?}");
    assert_eq!(stats.total.bytes_in, 1100, "{stats:?}");
    assert_eq!(
        stats.total,
        stats.per_loop.iter().sum(),
        "the total is the sum"
    );
}

#[test]
fn a_stop_in_a_callback_on_one_loop_stops_every_loop() {
    let group = start(Server::builder().workers(3));
    group.handles[2].post(|core| core.stop());
    let mut group = group;
    let stats = group.join();
    assert_eq!(stats.per_loop.len(), 3);
}

/// Whether `client` has its echo of `want`, without waiting.
fn echoed(client: &mut TcpStream, want: &[u8]) -> bool {
    client.set_nonblocking(true).unwrap();
    let mut buf = vec![0; want.len()];
    let got = client.peek(&mut buf).is_ok_and(|n| n == want.len());
    client.set_nonblocking(false).unwrap();
    if got {
        client.read_exact(&mut buf).unwrap();
        assert_eq!(buf, want);
    }
    got
}

#[test]
fn max_connections_bounds_the_whole_group() {
    const LIMIT: usize = 3;
    let group = start(Server::builder().workers(2).max_connections(LIMIT));
    let mut served: Vec<TcpStream> = (0..LIMIT).map(|_| connect(group.addr)).collect();
    for client in &mut served {
        assert_eq!(round_trip(client, b"in"), b"in");
    }
    // These wait in the loops' backlogs (the kernel completes the
    // handshake): spread over both loops, so a slot freed on one loop must
    // wake the other.
    let mut waiting: Vec<TcpStream> = (0..6).map(|_| connect(group.addr)).collect();
    for client in &mut waiting {
        client.write_all(b"w").unwrap();
    }
    assert_eq!(group.active().iter().sum::<u64>(), LIMIT as u64);
    // Each client that leaves lets exactly one waiting client in.
    while !waiting.is_empty() {
        drop(served.remove(0));
        let mut admitted = None;
        assert!(
            eventually(|| {
                admitted = waiting.iter_mut().position(|c| echoed(c, b"w"));
                admitted.is_some()
            }),
            "a slot freed, but no waiting client was accepted"
        );
        served.push(waiting.remove(admitted.unwrap()));
        let active: u64 = group.active().iter().sum();
        assert!(
            active <= LIMIT as u64,
            "{active} connections over a limit of {LIMIT}"
        );
    }
    for client in &mut served {
        assert_eq!(round_trip(client, b"ok"), b"ok");
    }
    drop(served);
    let stats = group.stop();
    assert_eq!(stats.total.accepted, 9, "{stats:?}");
    assert!(stats.total.capacity_reached >= 1, "{stats:?}");
}

#[test]
fn a_loop_that_cannot_start_fails_the_build() {
    let built = Server::builder().workers(3).build_workers(|index| {
        assert!(index != 1, "no state for loop 1");
    });
    let e = built.err().expect("the build failed");
    assert!(e.to_string().contains("loop 1"), "{e}");
    assert!(e.to_string().contains("no state for loop 1"), "{e}");
}

#[test]
fn a_port_that_cannot_be_bound_fails_listen_with_its_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut workers = Server::builder().workers(2).build_workers(|_| ()).unwrap();
    let e = workers.listen(addr, || Echo).unwrap_err();
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
}

#[test]
fn workers_must_be_at_least_one_and_build_makes_only_one() {
    let zero = Server::builder().workers(0).build_workers(|_| ());
    assert!(zero.err().unwrap().to_string().contains("workers"));
    let two = Server::builder().workers(2).build(());
    assert!(two.err().unwrap().to_string().contains("build_workers"));
}

#[test]
fn one_worker_is_a_plain_server_on_the_calling_thread() {
    let here = std::thread::current().id();
    let mut workers = Server::builder().build_workers(|_| ()).unwrap();
    let addr = workers.listen("127.0.0.1:0", || Echo).unwrap();
    assert_eq!(workers.count(), 1);
    assert_eq!(
        workers.each(|_, _| std::thread::current().id()).unwrap(),
        vec![here]
    );
    let client = std::thread::spawn(move || {
        let mut client = connect(addr);
        let echoed = round_trip(&mut client, b"one");
        (echoed, client)
    });
    // A timer on the loop checks its thread, once the client is served.
    let (tx, rx) = std::sync::mpsc::channel();
    workers
        .each(move |_, server| {
            let tx = tx.clone();
            server.core().every(Duration::from_millis(1), move |core| {
                if core.stats().requests > 0 {
                    let _ = tx.send(std::thread::current().id());
                    core.stop();
                }
            });
        })
        .unwrap();
    let stats = workers.run().unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), here, "the loop ran here");
    assert_eq!(stats.per_loop.len(), 1);
    assert_eq!(stats.total, stats.per_loop[0]);
    assert_eq!(stats.total.accepted, 1);
    let (echoed, _client) = client.join().unwrap();
    assert_eq!(echoed, b"one");
}

// ---- the examples, as processes ----

#[test]
fn echo_example_with_two_workers_serves_both_loops_and_stops_on_sigterm() {
    let mut proc = Proc::spawn_args("echo_server", &["127.0.0.1:0", "--workers", "2"], &[]);
    let addr = proc.bound_addr("echoing on ");
    let mut clients: Vec<TcpStream> = (0..100).map(|_| connect(addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.write_all(format!("{i:03}").as_bytes()).unwrap();
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_exact(client, 3), format!("{i:03}").as_bytes());
    }
    proc.signal("TERM");
    for client in &mut clients {
        assert_eq!(read_to_close(client), b"", "closed by the graceful stop");
    }
    drop(clients);
    let (status, lines) = proc.wait_exit(WAIT);
    assert!(status.success(), "{status}; output: {lines:#?}");
    let summary = lines.iter().find(|l| l.contains("twig stopped (2 loops)"));
    let summary = summary.unwrap_or_else(|| panic!("no summary: {lines:#?}"));
    assert!(summary.contains("accepted 100 "), "{summary}");
    for index in 0..2 {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("loop {index}: accepted ")));
        let line = line.unwrap_or_else(|| panic!("no stats for loop {index}: {lines:#?}"));
        let accepted = line
            .split("accepted ")
            .nth(1)
            .and_then(|r| r.split(' ').next());
        let accepted: u64 = accepted.and_then(|n| n.parse().ok()).unwrap();
        assert!(accepted > 0, "loop {index} accepted nothing: {line}");
    }
    let signalled = lines.iter().filter(|l| l.contains("SIGTERM")).count();
    assert_eq!(signalled, 2, "each loop saw the signal: {lines:#?}");
}

#[test]
fn http_example_takes_workers_too() {
    let mut proc = Proc::spawn_args("http_server", &["127.0.0.1:0", "--workers", "2"], &[]);
    let addr = proc.bound_addr("serving HTTP on ");
    for _ in 0..20 {
        let mut client = connect(addr);
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let reply = String::from_utf8(read_to_close(&mut client)).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("Hello from twig!\n"), "{reply}");
    }
    proc.signal("TERM");
    let summary = support::process::assert_clean_exit(proc);
    assert!(summary.contains("(2 loops)"), "{summary}");
    assert!(summary.contains("accepted 20 "), "{summary}");
}

#[test]
fn counter_example_counts_across_loops_with_messages() {
    let mut proc = Proc::spawn_args("counter_workers", &["127.0.0.1:0", "--workers", "2"], &[]);
    let addr = proc.bound_addr("counting on ");
    let mut totals = Vec::new();
    let mut loops_seen = [false; 2];
    for _ in 0..20 {
        let client = connect(addr);
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut client = client;
        for _ in 0..3 {
            client.write_all(b"\n").unwrap();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            // "hit 7 (served by loop 1)"
            let mut words = line.split_whitespace();
            assert_eq!(words.next(), Some("hit"), "{line}");
            totals.push(words.next().unwrap().parse::<u64>().unwrap());
            let index: usize = line
                .trim_end()
                .trim_end_matches(')')
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            loops_seen[index] = true;
        }
    }
    // One count over both loops: every hit got the next number.
    assert_eq!(totals, (1..=60).collect::<Vec<u64>>());
    assert_eq!(loops_seen, [true, true], "both loops served clients");
    proc.signal("TERM");
    support::process::assert_clean_exit(proc);
}
