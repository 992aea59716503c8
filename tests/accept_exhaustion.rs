//! Running out of file descriptors: `accept` fails with EMFILE, the loop
//! pauses accepting (no spinning), keeps serving the connections it has, and
//! resumes when a connection closes — `run()` never exits.
//!
//! This file holds one test on purpose: it lowers `RLIMIT_NOFILE` for the
//! whole test process. The clients live in a Python child process, spawned
//! before the limit is lowered, so only the server runs out.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use twig::Server;

/// Holds `n` connections to the server, reports, then closes some and checks
/// that every remaining one (including those that waited in the backlog)
/// gets its echo.
const CLIENTS: &str = r#"
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()                      # wait for "go": the server's limit is lowered
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("connected", flush=True)
sys.stdin.readline()                      # wait: the server has hit EMFILE
for s in socks[:n // 2]:
    s.close()                             # free descriptors on the server
ok = 0
for s in socks[n // 2:]:
    s.settimeout(10)
    s.sendall(b"ping")
    got = b""
    while len(got) < 4:
        chunk = s.recv(4)
        if not chunk:
            break
        got += chunk
    ok += got == b"ping"
    s.close()                             # frees the server's slot for the next one
print("echoed", ok, flush=True)
"#;

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

#[test]
fn accept_pauses_on_emfile_and_resumes_when_a_connection_closes() {
    let n = 40;
    let server = support::start_with(
        Server::builder().accept_backoff(std::time::Duration::from_millis(50)),
        (),
        || echo_server::Echo,
        |_| {},
    );
    let mut child = Command::new("python3")
        .args([
            "-c",
            CLIENTS,
            &server.addr.port().to_string(),
            &n.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap());

    // Leave the server room for about a quarter of the clients.
    let mut original = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let mut limit = original;
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut original) };
    limit.rlim_max = original.rlim_max;
    limit.rlim_cur = open_descriptors() + 10;
    // SAFETY: as above.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);

    writeln!(to_child, "go").unwrap();
    let mut line = String::new();
    from_child.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "connected",
        "all {n} connects completed (backlog)"
    );

    // The server must hit EMFILE and pause, yet keep its loop turning.
    assert!(
        support::eventually(|| support::stats_of(&server.handle).accept_errors > 0),
        "accept reported exhaustion"
    );
    let stats = support::stats_of(&server.handle);
    assert!(
        stats.accepted < n as u64,
        "some clients are still waiting in the backlog"
    );
    let wakeups_before = stats.turns;

    // Closing connections frees descriptors: accepting resumes and every
    // remaining client is served, including those still in the backlog.
    writeln!(to_child, "closing").unwrap();
    line.clear();
    from_child.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        format!("echoed {}", n - n / 2),
        "every remaining client got its echo"
    );
    assert!(child.wait().unwrap().success());

    // SAFETY: as above; restores the limit for the rest of the process.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &original) };
    let stats = support::stats_of(&server.handle);
    // Back-off, not a spin: a paused listener costs a wake-up per back-off
    // period (50 ms here), not one per loop turn.
    assert!(
        stats.turns - wakeups_before < 2_000,
        "the loop did not spin: {} turns",
        stats.turns - wakeups_before
    );
    assert!(stats.accepted >= (n - n / 2) as u64);
    server.stop();
}
