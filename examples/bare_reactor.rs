//! The teaching mirror: the same echo server as `echo_server.rs`, written
//! with only `mio` and `slab`. It is the event loop twig hides, in one file,
//! shaped to be read side by side with twig's reactor. What twig adds
//! (protocols, timeouts, limits, timers, stopping, handles) is left out; what
//! an echo server needs to be correct (backpressure, half-close, resets,
//! stale tokens, fairness, accept errors) is kept.
//!
//! Run: `cargo run --example bare_reactor [ADDR]` (default `127.0.0.1:7001`),
//! then `nc 127.0.0.1 7001` and type. `RUST_LOG=trace` narrates the loop.
//!
//! | section                                  | in twig                                            |
//! |------------------------------------------|----------------------------------------------------|
//! | 1. create the poll                       | `reactor/server.rs` `Server::with_config`          |
//! | 2. bind and register the listener        | `reactor/server.rs` `Server::listen`; `conn/id.rs` reserved tokens |
//! | 3. the loop: poll, dispatch by token     | `reactor/server.rs` `Server::run`; `reactor/turn.rs` the phases |
//! | 4. accept until `WouldBlock`             | `reactor/accept.rs` `accept_from`, `add`; `conn/id.rs` `ConnId` |
//! | 5. an event: guard the token, set flags  | `reactor/turn.rs` `on_connection_event`; the machine's `Ready` edges |
//! | 6. drive: flush, read, echo              | `reactor/drive.rs` `drive` (the actions); `conn/machine/rules.rs` `next`; `reactor/hooks.rs` `deliver`; `conn/socket.rs` `read`, `write` |
//! | 7. close: FIN after EOF, or at once      | `conn/machine/rules.rs` `Life::Closing`; `conn/socket.rs` `shutdown_write`; `reactor/lifecycle.rs` `reap` |

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use log::{debug, info, trace, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

/// The listener's reserved token. Connection tokens are
/// `generation << 32 | slab key` with generation >= 1, so never 0.
const LISTENER: Token = Token(0);
/// The one read buffer all connections share. Also the most a connection can
/// owe its peer: nothing more is read while anything is owed.
const SCRATCH_SIZE: usize = 64 * 1024;
/// Most bytes one connection may read per loop turn before the others get a
/// turn (twig: `Config::io_budget`).
const BUDGET: usize = 256 * 1024;
/// How soon to retry `accept` after an error that retrying at once would not fix.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One client.
struct Conn {
    socket: TcpStream,
    /// What this connection's events carry; compared on every event.
    token: Token,
    /// Edge-triggered readiness: set by an event, cleared only by `WouldBlock`.
    readable: bool,
    writable: bool,
    /// A read returned 0: the peer sent FIN and will send nothing more.
    read_closed: bool,
    /// An event reported the peer's FIN: its edge is spent, so reading goes
    /// on until the 0 even after a short read.
    hup_seen: bool,
    /// Echoed bytes the socket did not take yet (empty, unallocated, if none).
    owed: Vec<u8>,
}

/// Where driving a connection left it.
enum Fate {
    /// Waits for its next readiness edge.
    Open,
    /// Spent its budget with bytes still to read: drive it again next turn.
    Again,
    /// Finished cleanly: close it.
    Closed,
}

fn main() {
    let _ = simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init();
    let arg = std::env::args().nth(1);
    let arg = arg.as_deref().unwrap_or("127.0.0.1:7001");
    let result = arg
        .parse::<SocketAddr>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{arg}: {e}")))
        .and_then(|addr| {
            run(addr, |a| {
                info!("echoing on {a}; try: nc {} {}", a.ip(), a.port())
            })
        });
    if let Err(e) = result {
        eprintln!("bare_reactor: {e}");
        std::process::exit(1);
    }
}

/// Binds `addr` (port 0 picks one), calls `ready` with the bound address,
/// then serves echo forever. Errors only if binding or `poll` fails.
pub fn run(addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    // 1. Create the poll (one epoll instance) and the buffer it fills with events.
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);

    // 2. Bind the listener and register it, for reads, under its reserved token.
    let mut listener = TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    ready(listener.local_addr()?);

    let mut conns: Slab<Conn> = Slab::new();
    let mut scratch = vec![0; SCRATCH_SIZE];
    let mut next_generation: u32 = 1;
    // Clients may wait in the backlog: edge-triggered, no new event will say so.
    let mut listener_readable = false;
    // Connections that spent their budget with work left.
    let mut again: Vec<Token> = Vec::new();

    // 3. The loop: sleep until something is ready, then dispatch by token.
    loop {
        let timeout = if !again.is_empty() {
            Some(Duration::ZERO) // work is pending: just collect new events
        } else if listener_readable {
            Some(ACCEPT_BACKOFF)
        } else {
            None
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue, // a signal
            Err(e) => return Err(e),
        }
        trace!("poll woke: {} events", events.iter().count());
        let leftover = std::mem::take(&mut again);
        for event in events.iter() {
            let token = event.token();
            if token == LISTENER {
                listener_readable = true; // accept after this batch
                continue;
            }
            // 5. An event for a connection. The token must still name it: a
            // closed connection's key is reused by the next client accepted.
            // Here a socket is reported once per batch and only its own event
            // closes it, so this guard is defensive; it becomes essential as
            // soon as one connection can close another (chat, pub/sub).
            let Some(conn) = conns.get_mut(key_of(token)) else {
                continue;
            };
            if conn.token != token {
                trace!("{}: stale event dropped", id(token));
                continue;
            }
            // HUP and ERR only say "try the syscall": read/write tell what happened.
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                conn.readable = true;
            }
            if event.is_read_closed() {
                conn.hup_seen = true;
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                conn.writable = true;
            }
            step(&mut conns, token, &mut scratch, &mut again);
        }
        for token in leftover {
            step(&mut conns, token, &mut scratch, &mut again);
        }
        if listener_readable {
            listener_readable =
                accept(&listener, poll.registry(), &mut conns, &mut next_generation);
        }
    }
}

// 4. Accept until `WouldBlock`: each client gets a slab slot, a token with a
// generation, one registration for both directions, and TCP_NODELAY.
/// Accepts until `WouldBlock`. Returns true if clients may still wait in the
/// backlog because accepting stopped on an error.
fn accept(
    listener: &TcpListener,
    registry: &Registry,
    conns: &mut Slab<Conn>,
    next_generation: &mut u32,
) -> bool {
    loop {
        let (mut socket, peer) = match listener.accept() {
            Ok(client) => client,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false, // backlog empty
            Err(e) if is_per_client(&e) => {
                debug!("accept: {e} (skipped)");
                continue;
            }
            Err(e) => {
                // EMFILE/ENFILE (out of descriptors), ENOMEM, or unknown:
                // retrying at once would spin, and exiting would drop every
                // client. Stop; the listener stays marked readable and poll
                // gets a short timeout, so accepting is retried after the next
                // event or ACCEPT_BACKOFF (twig also retries when one closes).
                warn!("accept: {e}; retrying within {ACCEPT_BACKOFF:?}");
                return true;
            }
        };
        // Request/reply traffic must not wait on Nagle's algorithm.
        if let Err(e) = socket.set_nodelay(true) {
            debug!("{peer}: set_nodelay: {e}");
        }
        let entry = conns.vacant_entry();
        // The token <-> slab key mapping (64-bit): generation << 32 | key.
        let token = Token(((*next_generation as usize) << 32) | entry.key());
        *next_generation = next_generation.checked_add(1).unwrap_or(1); // 0: reserved
        // Registered once, for both directions, for the connection's whole
        // life: no epoll_ctl per state change.
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut socket, token, interest) {
            warn!("{peer}: cannot register: {e}; dropped");
            continue;
        }
        debug!("{} {peer}: connected", id(token));
        entry.insert(Conn {
            socket,
            token,
            readable: false, // the first event will say
            writable: true,  // a fresh socket's send buffer is empty
            read_closed: false,
            hup_seen: false,
            owed: Vec::new(),
        });
    }
}

/// The slab key a connection token carries in its low 32 bits.
fn key_of(token: Token) -> usize {
    token.0 & 0xFFFF_FFFF
}

/// Names a connection in log lines as twig does: `#key.generation`.
fn id(token: Token) -> String {
    format!("#{}.{}", key_of(token), token.0 >> 32)
}

/// accept(2) errors that concern one client only (it gave up in the backlog,
/// a firewall vetoed it) or none (a signal): skip and accept the next.
fn is_per_client(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted
            | ConnectionReset
            | Interrupted
            | PermissionDenied
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
    )
}

/// Drives the connection `token` names and closes it when it is done.
fn step(conns: &mut Slab<Conn>, token: Token, scratch: &mut [u8], again: &mut Vec<Token>) {
    let key = key_of(token);
    let Some(conn) = conns.get_mut(key).filter(|c| c.token == token) else {
        return; // closed earlier in this turn
    };
    match drive(conn, scratch) {
        Ok(Fate::Open) => {}
        Ok(Fate::Again) => again.push(token),
        // 7. Dropping the socket closes it, which also removes it from epoll.
        Ok(Fate::Closed) => {
            debug!("{}: closed", id(token));
            conns.remove(key);
        }
        Err(e) => {
            debug!("{}: {e}; closed at once", id(token)); // a reset is a peer's right
            conns.remove(key);
        }
    }
}

// 6. Drive a connection: flush what is owed, read, echo optimistically.
/// Runs one connection as far as it can go now. `Err` is a reset or other
/// socket error: close at once.
fn drive(conn: &mut Conn, scratch: &mut [u8]) -> io::Result<Fate> {
    let mut budget = BUDGET;
    loop {
        if !conn.owed.is_empty() {
            // Owing: nothing is read until it is written (backpressure). The
            // readable flag is kept, so reading resumes without a new event.
            if !conn.writable {
                return Ok(Fate::Open); // wait for the writable edge
            }
            let n = write_some(&mut conn.socket, &mut conn.writable, &conn.owed)?;
            if n == conn.owed.len() {
                conn.owed = Vec::new(); // release: idle connections hold no buffer
            } else {
                conn.owed.drain(..n);
            }
            continue;
        }
        if conn.read_closed {
            // 7. EOF and everything echoed: send our FIN, then close. The
            // peer's FIN arrived, so no unread input can turn this into a reset.
            let _ = conn.socket.shutdown(Shutdown::Write); // fails only if the peer is gone
            return Ok(Fate::Closed);
        }
        if !conn.readable {
            return Ok(Fate::Open); // wait for the readable edge
        }
        if budget == 0 {
            return Ok(Fate::Again); // fairness: let the others have a turn
        }
        match conn.socket.read(scratch) {
            Ok(0) => conn.read_closed = true, // EOF, never "nothing yet"
            Ok(n) => {
                budget = budget.saturating_sub(n);
                // On Linux a TCP read shorter than the buffer means the
                // receive queue is empty now: the next read would only say
                // WouldBlock, so skip that syscall (twig and the C server do
                // the same). Not after the FIN was reported: read on to the 0.
                if n < scratch.len() && !conn.hup_seen {
                    conn.readable = false;
                }
                // Echo at once (optimistic write); keep only what the socket did not take.
                let sent = if conn.writable {
                    write_some(&mut conn.socket, &mut conn.writable, &scratch[..n])?
                } else {
                    0
                };
                conn.owed.extend_from_slice(&scratch[sent..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {} // retry
            Err(e) => return Err(e),
        }
    }
}

/// Writes as much of `bytes` as the socket takes, clearing `writable` if it
/// fills up. Returns how many bytes were written.
fn write_some(socket: &mut TcpStream, writable: &mut bool, bytes: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        match socket.write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *writable = false; // the rest waits for the writable edge
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
