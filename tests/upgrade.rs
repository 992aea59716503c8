//! Restarting without dropping clients (listener handoff): SIGUSR2 makes
//! `http_server` start a new copy of itself with its listening socket;
//! once the new copy is ready the old one drains and exits. A client
//! opening connections all along sees no refusal, reset or failure, through
//! three restarts. A restart that fails leaves the old server serving.
//!
//! Later copies are children of copies that exit, so the test cannot
//! `wait()` for them: it finds each by the pid in its startup line and
//! waits for its exit on a pidfd (readable once the process has exited).

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::WAIT;
use support::process::Proc;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: twig\r\n\r\n";
const BODY: &str = "Hello from twig!\n";

/// The pid in a "serving HTTP on ADDR; pid N; try: ..." line.
fn pid_in(line: &str) -> i32 {
    let rest = &line[line.find("; pid ").expect("a pid in the startup line") + 6..];
    rest.split(';').next().unwrap().trim().parse().unwrap()
}

/// `kill -SIGNAL pid`: only pids this test started (or its server did).
fn signal(pid: i32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A process to wait for, by pid: its pidfd, readable once it has exited
/// (zombie or reaped), whoever its parent is.
struct Watched(rustix::fd::OwnedFd);

impl Watched {
    fn new(pid: i32) -> Watched {
        let raw = rustix::process::Pid::from_raw(pid).unwrap();
        let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
            .unwrap_or_else(|e| panic!("pidfd_open({pid}): {e}"));
        Watched(fd)
    }

    /// Whether it exits within `limit`.
    fn exits_within(&self, limit: Duration) -> bool {
        let mut poll = mio::Poll::new().unwrap();
        let raw = self.0.as_raw_fd();
        poll.registry()
            .register(
                &mut mio::unix::SourceFd(&raw),
                mio::Token(0),
                mio::Interest::READABLE,
            )
            .unwrap();
        let mut events = mio::Events::with_capacity(1);
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match poll.poll(&mut events, Some(left)) {
                Ok(()) if !events.is_empty() => return true,
                Ok(()) if left.is_zero() => return false,
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("poll: {e}"),
            }
        }
    }
}

/// What the client loop saw.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    refused: u64,
    reset: u64,
    failed: Vec<String>,
}

/// New connections, one request each, until told to stop (or 30 s, or
/// a million requests).
fn client_loop(addr: SocketAddr, stop: Arc<AtomicBool>, ok: Arc<AtomicU64>) -> JoinHandle<Tally> {
    std::thread::spawn(move || {
        let mut tally = Tally::default();
        let end = Instant::now() + Duration::from_secs(30);
        for _ in 0..1_000_000 {
            if stop.load(Ordering::Acquire) || Instant::now() > end {
                break;
            }
            match one_request(addr) {
                Ok(()) => {
                    tally.ok += 1;
                    ok.fetch_add(1, Ordering::Release);
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => tally.refused += 1,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => tally.reset += 1,
                Err(e) => tally.failed.push(e.to_string()),
            }
        }
        tally
    })
}

/// Connect, `GET /` with `Connection: close`, read the whole reply: a 200.
fn one_request(addr: SocketAddr) -> io::Result<()> {
    let mut socket = TcpStream::connect_timeout(&addr, WAIT)?;
    socket.set_read_timeout(Some(WAIT))?;
    socket.write_all(b"GET / HTTP/1.1\r\nHost: twig\r\nConnection: close\r\n\r\n")?;
    let mut reply = Vec::new();
    socket.read_to_end(&mut reply)?;
    let reply = String::from_utf8_lossy(&reply);
    if reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with(BODY) {
        Ok(())
    } else {
        Err(io::Error::other(format!("unexpected reply {reply:?}")))
    }
}

/// Reads one reply of known body on a kept-alive connection.
fn read_reply(socket: &mut TcpStream) -> String {
    let mut reply = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&reply).ends_with(BODY) {
        let n = socket.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before the reply: {:?}",
            String::from_utf8_lossy(&reply)
        );
        reply.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(reply).unwrap()
}

#[test]
fn three_restarts_under_load_drop_no_client() {
    let mut proc = Proc::spawn("http_server", &[]);
    let first = proc.wait_for("serving HTTP on ");
    let addr: SocketAddr = first
        ["serving HTTP on ".len() + first.find("serving HTTP on ").unwrap()..]
        .split(';')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut pid = pid_in(&first);
    assert_eq!(pid as u32, proc.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let clients = client_loop(addr, Arc::clone(&stop), Arc::clone(&ok));
    let mut served_before = 0;
    let started = Instant::now();
    let mut pids = vec![pid];
    for round in 0..3 {
        // A keep-alive client of the old copy, known to be connected to it.
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.set_read_timeout(Some(WAIT)).unwrap();
        kept.write_all(REQUEST).unwrap();
        read_reply(&mut kept);
        let old = Watched::new(pid);
        signal(pid, "USR2");
        // In flight across the restart: the old copy answers it.
        kept.write_all(REQUEST).unwrap();
        let reply = read_reply(&mut kept);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply:?}");
        let line = proc.wait_for("serving HTTP on ");
        let new = pid_in(&line);
        assert!(
            !pids.contains(&new),
            "round {round}: pid {new} again: {pids:?}"
        );
        assert!(line.contains(&addr.to_string()), "the same address: {line}");
        // Then the old copy closes the kept connection, with a FIN (it
        // lingers for ours, sent by the drop), and exits.
        let mut rest = Vec::new();
        assert_eq!(kept.read_to_end(&mut rest).unwrap(), 0, "{rest:?}");
        drop(kept);
        assert!(
            old.exits_within(WAIT),
            "round {round}: old pid {pid} still running"
        );
        let served = ok.load(Ordering::Acquire);
        assert!(
            served > served_before,
            "round {round}: the client loop stalled"
        );
        served_before = served;
        if round == 0 {
            let status = proc
                .exit_status()
                .expect("the first copy, the test's child, exited");
            assert!(status.success(), "the old copy exits 0: {status}");
        }
        pids.push(new);
        pid = new;
    }
    stop.store(true, Ordering::Release);
    let tally = clients.join().unwrap();
    let took = started.elapsed();
    let last = Watched::new(pid);
    signal(pid, "TERM");
    assert!(
        last.exits_within(WAIT),
        "the last copy (pid {pid}) did not stop"
    );
    let (_, lines) = proc.wait_exit(WAIT);
    eprintln!("pids {pids:?}; {tally:?} in {took:?}");
    assert_eq!((tally.refused, tally.reset), (0, 0), "{tally:?}");
    assert!(tally.failed.is_empty(), "{tally:?}");
    assert!(tally.ok > 0, "{tally:?}");
    let ready = lines
        .iter()
        .filter(|l| l.contains("is ready and serves"))
        .count();
    let stopped = lines.iter().filter(|l| l.contains("twig stopped")).count();
    assert_eq!((ready, stopped), (3, 4), "{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.contains("upgrade failed")),
        "{lines:#?}"
    );
}

#[test]
fn a_failed_restart_leaves_the_old_server_serving() {
    support::logs::capture();
    let running = support::start(|| twig::http::Http::new(router()));
    running.handle.upgrade_with("/nonexistent/twig-new-build");
    // Serve requests until the warning is logged: each one also shows the
    // old server serving while and after the new copy fails.
    let deadline = Instant::now() + WAIT;
    let mut served = 0;
    while support::logs::matching("upgrade failed").is_empty() {
        assert!(Instant::now() < deadline, "no warning; served {served}");
        one_request(running.addr).unwrap();
        served += 1;
    }
    let warned = support::logs::matching("upgrade failed");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].starts_with("WARN "), "{warned:?}");
    assert!(
        warned[0].contains("exited before it was ready"),
        "{warned:?}"
    );
    assert!(warned[0].contains("still serving"), "{warned:?}");
    one_request(running.addr).unwrap();
    // And a restart may be tried again (the failed one is over).
    running.handle.upgrade_with("/nonexistent/twig-new-build");
    let deadline = Instant::now() + WAIT;
    while support::logs::matching("upgrade failed").len() < 2 {
        assert!(Instant::now() < deadline, "no second warning");
        one_request(running.addr).unwrap();
    }
    let stats = running.stop();
    assert!(stats.accepted > served, "{stats}");
}

fn router() -> twig::http::Router<()> {
    twig::http::Router::new().get("/", |_, res, _| res.text(BODY))
}

/// With `--admin`, both listeners are handed over, each under its name: the
/// new copy serves the app on the app's socket and the admin on the admin
/// socket (same ports), instead of serving the app on both.
#[test]
fn a_restart_hands_over_the_admin_listener_under_its_name() {
    let mut proc = Proc::spawn_args(
        "http_server",
        &["127.0.0.1:0", "--admin", "127.0.0.1:0"],
        &[],
    );
    let admin = proc.bound_addr("admin on ");
    let addr = proc.bound_addr("serving HTTP on ");
    let old = Watched::new(proc.pid() as i32);
    signal(proc.pid() as i32, "USR2");
    let line = proc.wait_for("serving HTTP on ");
    let new = pid_in(&line);
    assert_ne!(new as u32, proc.pid());
    assert!(line.contains(&addr.to_string()), "{line}");
    assert!(old.exits_within(WAIT), "the old copy did not exit");
    let get = |at: SocketAddr, path: &str| {
        let mut s = TcpStream::connect(at).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    };
    let metrics = get(admin, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics:?}");
    assert!(metrics.contains("twig_requests_total"), "{metrics:?}");
    assert!(get(addr, "/").ends_with(BODY));
    // The new copy opened its admin (from the inherited socket) before its
    // app listener, so its line was read already: it names the new pid.
    let pid = format!("; pid {new};");
    assert!(
        proc.seen
            .iter()
            .any(|l| l.contains("admin on ") && l.contains(&pid)),
        "{:#?}",
        proc.seen
    );
    let last = Watched::new(new);
    signal(new, "TERM");
    assert!(last.exits_within(WAIT));
}

/// A program that binds its own address instead of serving the sockets it
/// is handed (`reply_server` uses `Listen::parse`, not `from_systemd_or`)
/// must not report ready: the sockets it ignored would keep clients in a
/// queue nobody accepts from. The new copy refuses to start, and the old
/// one keeps serving.
#[test]
fn a_new_copy_that_ignores_the_handed_sockets_refuses_to_start() {
    let mut proc = Proc::spawn_args("reply_server", &["127.0.0.1:0"], &[]);
    let addr = proc.bound_addr("listening on ");
    signal(proc.pid() as i32, "USR2");
    // The log line (stdout) and the program's own exit message (stderr)
    // both say it, in either order: wait for the logged one.
    let refused = loop {
        let line = proc.wait_for("not taken by this program");
        if line.contains("ERROR") {
            break line;
        }
    };
    assert!(refused.contains("upgrade: 1 handed-over"), "{refused}");
    let failed = proc.wait_for("upgrade failed");
    assert!(failed.contains("still serving"), "{failed}");
    // The old copy (the test's own child) still answers.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"can you hear me?").unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "Yes");
    proc.signal("TERM");
    support::process::assert_clean_exit(proc);
}
