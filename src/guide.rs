//! The study guide: the lesson's blocking server mapped onto twig's event
//! loop, chapter by chapter.
//!
//! # How to use this guide
//! You know the lesson's Python server: `socket`, `bind`, `listen`, `accept`,
//! `recv`, `sendall`, `close`. Each chapter takes it one step closer to
//! twig's loop and names the file and function that does each step, so keep
//! `src/` open beside the guide. Private functions appear as
//! `file.rs: function`. `cargo test --doc` compiles and runs every snippet;
//! the ones marked `no_run` would serve forever, so they are only compiled.
//! `examples/bare_reactor.rs` is the same loop with only `mio` and `slab`, in
//! numbered sections (§1–§7) that chapters 2 and 3 point to. To watch the
//! real thing, run `RUST_LOG=trace cargo run --example reply_server 127.0.0.1:8000`
//! and then `cargo run --example reply_client`. Chapter 7 is that trace,
//! annotated.
//!
//! 1. [The lesson's server](#1-the-lessons-server-and-why-it-serves-one-client-at-a-time)
//! 2. [Readiness](#2-readiness-ask-the-kernel-before-you-call)
//! 3. [One turn of the reactor](#3-one-turn-of-the-reactor)
//! 4. [The connection state machine](#4-the-connection-state-machine)
//! 5. [Limits and timeouts](#5-backpressure-limits-and-timeouts-what-each-one-stops)
//! 6. [From Twisted](#6-from-twisted-the-same-ideas-other-names)
//! 7. [Watching one request](#7-watching-one-request)
//!
//! # 1. The lesson's server, and why it serves one client at a time
//! In substance, the lesson's server and client look like this:
//!
//! ```python
//! s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
//! s.bind(('', 8000))
//! s.listen(3)
//! while True:
//!     conn, addr = s.accept()
//!     print('Connected by', addr)
//!     data = conn.recv(1024)
//!     print('request is:', data)
//!     conn.sendall(b'Yes')
//!     conn.close()
//!
//! # the client
//! c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
//! c.connect(('127.0.0.1', 8000))
//! c.sendall(b'can you hear me?')
//! print('reply is:', c.recv(1024))
//! ```
//!
//! The same server in Rust's blocking `std::net` has the same shape. Note the
//! three calls that can wait:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//!
//! fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("0.0.0.0:8000")?; // socket + bind + listen
//!     loop {
//!         let (mut conn, addr) = listener.accept()?; // waits for a client
//!         println!("Connected by {addr}");
//!         let mut buf = [0; 1024];
//!         let n = conn.read(&mut buf)?; // waits for bytes
//!         println!("request is: {}", String::from_utf8_lossy(&buf[..n]));
//!         conn.write_all(b"Yes")?; // waits until the kernel took them
//!     } // dropping `conn` is close()
//! }
//! ```
//!
//! **Why one client at a time.** While the server waits in `recv` for client
//! A, client B's connection is complete: the kernel does the handshake on
//! its own and queues B in the listen backlog, which is what `listen(3)`
//! sizes. But no code runs for B until A has been answered and closed. A
//! client that connects and sends nothing stalls every other client forever.
//! There are two ways out. Give each client a thread, which costs a stack
//! each and brings locks around shared state. Or ask the kernel which
//! sockets are ready, and make only calls that cannot wait. twig does the
//! second: one thread, one `epoll`, every socket non-blocking.
//!
//! The lesson also has two quiet bugs that twig handles. First, `recv(1024)`
//! may return part of the message, because TCP is a byte stream (chapter 6,
//! framing). Second, `close()` with unread input sends a reset that can
//! destroy the reply in flight (chapter 4, lingering).
//!
//! | the lesson | syscall | where twig does it |
//! |---|---|---|
//! | *(nothing)* | `epoll_create1`, `eventfd` | `server.rs: Server::with_config` (`Poll::new`, the `Waker`) |
//! | `socket(AF_INET, SOCK_STREAM)` | `socket` (non-blocking) | `server.rs: Server::listen`, through `mio::net::TcpListener::bind` |
//! | `bind(('', 8000))` | `bind` (after `SO_REUSEADDR`) | the same |
//! | `listen(3)` | `listen` (backlog 128), then `epoll_ctl(ADD)` | the same; the listener gets a reserved token (`token.rs`) |
//! | `while True:` | `epoll_wait` | `server.rs: Server::run`, which repeats `Server::turn` |
//! | `accept()` | `accept4` until `EAGAIN` | `accept.rs: accept_from`; `add` registers, sets `TCP_NODELAY`, fills a slab slot |
//! | `print('Connected by', addr)` | | your [`Protocol::on_open`](crate::Protocol::on_open), called by `callbacks.rs: open_connection` |
//! | `recv(1024)` | `read` into a 64 KiB buffer | `connection.rs: Connection::read`, called by `drive.rs: drive` |
//! | *(missing: is it a whole request?)* | | your [`Protocol::frame`](crate::Protocol::frame), called by `dispatch.rs: answer` |
//! | `print('request is:', data)` | | your [`Protocol::reply`](crate::Protocol::reply), called by `dispatch.rs: answer` |
//! | `sendall(b'Yes')` | `write` until done or `EAGAIN` | [`Ctx::write`](crate::Ctx::write) buffers; `dispatch.rs: deliver` calls `Connection::write`; the rest goes through `Connection::flush_output` |
//! | `close()` | `shutdown(SHUT_WR)`, read to EOF, `close` | `drive.rs: drive` (`Closing`, then `Lingering`); `connection.rs: Connection::shutdown_write`; `server.rs: reap` drops the socket |
//!
//! The lesson's server on twig (the full example is
//! `examples/reply_server.rs`):
//!
//! ```no_run
//! use twig::{After, Ctx, Frame, Protocol, Server};
//!
//! struct ReplyYes; // one value per connection
//!
//! impl Protocol for ReplyYes {
//!     fn on_open(&mut self, ctx: &mut Ctx) {
//!         println!("Connected by {}", ctx.peer());
//!     }
//!     fn frame(&mut self, input: &[u8]) -> Frame {
//!         Frame::Complete(input.len()) // whatever arrived is the request
//!     }
//!     fn reply(&mut self, request: &[u8], ctx: &mut Ctx) -> After {
//!         println!("request is: {}", String::from_utf8_lossy(request));
//!         ctx.write(b"Yes");
//!         After::Close
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let mut server = Server::new(())?;
//!     server.listen("0.0.0.0:8000", || ReplyYes)?;
//!     server.run()?;
//!     Ok(())
//! }
//! ```
//!
//! # 2. Readiness: ask the kernel before you call
//! Every socket has a receive queue and a send buffer in the kernel. "Ready"
//! means a call will not wait: there are bytes, or clients in the backlog,
//! to take (readable), or there is room to put bytes (writable). `epoll` is
//! Linux's interface for asking about many sockets at once, and
//! [`mio`] wraps it:
//!
//! | epoll | mio | in twig |
//! |---|---|---|
//! | `epoll_create1` | [`mio::Poll::new`] | one per [`Server`](crate::Server) |
//! | `epoll_ctl(ADD, fd, events, data)` | [`mio::Registry::register`] with a [`mio::Token`] | listener in `Server::listen`, each client in `core.rs: Core::insert` (from `accept.rs: add`) |
//! | `epoll_wait` | [`mio::Poll::poll`], filling [`mio::Events`] | `Server::turn` |
//! | `data` in each event | `event.token()` | `token.rs`: listener index, waker, or [`ConnId`](crate::ConnId) |
//!
//! Here is the lesson's exchange with bare mio, in one thread. The client is
//! blocking `std`, and the server never waits except in `poll`. The step
//! numbers match the sections of `examples/bare_reactor.rs`.
//!
//! ```
//! use std::io::{self, Read, Write};
//! use std::time::Duration;
//!
//! use mio::net::{TcpListener, TcpStream};
//! use mio::{Events, Interest, Poll, Token};
//!
//! const LISTENER: Token = Token(0);
//! const CLIENT: Token = Token(1);
//!
//! fn main() -> io::Result<()> {
//!     // 1. The poll (epoll_create1), and the buffer it fills with events.
//!     let mut poll = Poll::new()?;
//!     let mut events = Events::with_capacity(128);
//!     // 2. socket + bind + listen, then epoll_ctl(ADD) under our own label.
//!     let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//!     poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
//!
//!     // The lesson's client. The kernel completes its handshake and queues
//!     // its bytes, while no server code runs.
//!     let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
//! #   client.set_read_timeout(Some(Duration::from_secs(5)))?;
//!     client.write_all(b"can you hear me?")?;
//!
//!     let mut conn: Option<TcpStream> = None;
//!     let mut request = Vec::new();
//!     let mut buf = [0; 1024];
//!     // 3. The loop: sleep in poll, then dispatch each event by its token.
//!     'serve: for _turn in 0..10 {
//!         poll.poll(&mut events, Some(Duration::from_secs(5)))?;
//!         for event in events.iter() {
//!             match event.token() {
//!                 // 4. Accept until WouldBlock: no second event comes for
//!                 // clients left in the backlog.
//!                 LISTENER => loop {
//!                     match listener.accept() {
//!                         Ok((mut stream, addr)) => {
//!                             println!("Connected by {addr}");
//!                             let interest = Interest::READABLE;
//!                             poll.registry().register(&mut stream, CLIENT, interest)?;
//!                             conn = Some(stream);
//!                         }
//!                         Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
//!                         Err(e) => return Err(e),
//!                     }
//!                 },
//!                 // 5 and 6. Read until WouldBlock. Ok(0) would be EOF.
//!                 CLIENT => {
//!                     let stream = conn.as_mut().expect("registered after accept");
//!                     loop {
//!                         match stream.read(&mut buf) {
//!                             Ok(0) => break 'serve, // the peer closed
//!                             Ok(n) => request.extend_from_slice(&buf[..n]),
//!                             Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
//!                             Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
//!                             Err(e) => return Err(e),
//!                         }
//!                     }
//!                     println!("request is: {}", String::from_utf8_lossy(&request));
//!                     // Three bytes into an empty send buffer cannot block.
//!                     // A longer reply must keep what write() did not take.
//!                     stream.write_all(b"Yes")?;
//!                     break 'serve;
//!                 }
//!                 _ => unreachable!(),
//!             }
//!         }
//!     }
//!     drop(conn); // 7. close(2), which also removes the socket from epoll
//!     let mut reply = String::new();
//!     client.read_to_string(&mut reply)?;
//!     assert_eq!(reply, "Yes");
//!     Ok(())
//! }
//! ```
//!
//! Every line of that loop has a rule behind it. These are the rules (also
//! listed under "Things that will bite you" on [`Server`](crate::Server)):
//!
//! - **Edge-triggered.** mio registers with `EPOLLET`, so an event reports
//!   that readiness *changed*. Read half the bytes and wait for another event,
//!   and none comes: the rest sits in the queue. So after an event, twig
//!   calls `read` (or `accept`, or `write`) until it says `WouldBlock`. Each
//!   connection keeps `readable`/`writable` flags (`connection.rs:
//!   Connection`), set by events in `server.rs: on_connection_event` and
//!   cleared by a `WouldBlock` (or by the short-read rule below).
//!   Level-triggered epoll would instead
//!   re-report every unread byte and every idle writable socket on every
//!   poll.
//! - **Registered once.** Each client is registered for both directions at
//!   accept (`accept.rs: add` → `core.rs: Core::insert`) and never re-registered. A connection starts
//!   `writable` (an empty send buffer), so a reply is written at once. Only
//!   a `WouldBlock` makes it wait for the writable edge.
//! - **The short-read rule.** On Linux, a TCP `read` that returns fewer bytes
//!   than the buffer holds has emptied the receive queue. The next read could
//!   only say `WouldBlock`, so `Connection::read` clears `readable` and saves
//!   that syscall. **The HUP exception:** if the event already said the peer
//!   hung up (`read_closed`, from `EPOLLRDHUP`), the FIN's edge is spent. The
//!   short read may be the last data before the FIN, and no new event will
//!   come to report the 0. So after HUP (`hup_seen`), twig reads on until it
//!   sees the 0.
//! - **A 0-byte read is EOF:** the peer sent FIN. "Nothing yet" is
//!   `WouldBlock`, never `Ok(0)`, so twig never reads into an empty buffer.
//!   Python's `recv` returning `b''` means the same thing.
//! - **`EINTR` means retry.** A signal can interrupt any syscall.
//!   `Connection::read` and `Connection::write` loop on `Interrupted`. An
//!   interrupted `poll` ends the turn early with
//!   [`WakeReason::Interrupted`](crate::WakeReason::Interrupted).
//! - **Readiness is a hint.** Wake-ups can be spurious, and HUP/ERR flags
//!   only mean "try the syscall". The fate of a connection is decided by what
//!   `read`/`write` return (`connection.rs: classify`).
//!
//! # 3. One turn of the reactor
//! The lesson's `while True:` sleeps inside `accept` and `recv`. twig's loop
//! sleeps in exactly one place, `poll`. One pass is
//! [`Server::turn`](crate::Server::turn), and [`Server::run`](crate::Server::run)
//! repeats it until the server has stopped (as Redis splits
//! `aeProcessEvents` from `aeMain`). In `server.rs`, in order:
//!
//! 1. **Timeout** (`poll_timeout`). The sleep is zero if work is pending:
//!    connections to drive, closed ones to reap, clients to accept, or a stop
//!    to begin. Otherwise it lasts until the nearest deadline: a connection
//!    timeout, a timer, the accept back-off, or the drain at shutdown. It is
//!    capped by the caller's `max_wait`, and lasts forever if there is
//!    nothing to wait for. While the nearest deadline stays the same, the
//!    computed sleep is reused for up to 1 ms (`Sleep`): subtracting two
//!    `Instant`s costs about as much as answering a small request. So a
//!    deadline may be met up to about 1 ms late, never early.
//! 2. **Poll** (`epoll_wait`). Then the clock is read once
//!    ([`Core::now`](crate::Core::now)) and the wake reason is decided.
//! 3. **Dispatch by token** (bare_reactor §3 and §5). The waker token means
//!    a thread posted work. The signal token means SIGINT or SIGTERM. A
//!    token with a generation means a connection (`on_connection_event`
//!    checks that the generation still matches, sets the flags and drives
//!    it). Any other token is a listener, which is only marked readable.
//! 4. **Accept** (`Server::accept` then `accept.rs: accept_from`, bare_reactor
//!    §4). Accepting happens after the batch, within the per-turn budget,
//!    and not while paused or full. Each new connection is opened and driven
//!    at once.
//! 5. **Dirty connections** (`drive_dirty`). These have work that no event
//!    will announce: bytes queued by [`Core::send`](crate::Core::send), a
//!    [`Core::close`](crate::Core::close), or an I/O budget spent last turn.
//! 6. **Deadlines** (`fire_deadlines`). Connection timeouts that have passed
//!    close their connections.
//! 7. **Timers** (`fire_timers`). [`Core::after`](crate::Core::after) and
//!    [`Core::every`](crate::Core::every) callbacks that are due run in
//!    deadline order. In most turns nothing is due, and a look at the top of
//!    each heap says so.
//! 8. **Posted work** (`run_posted`). Closures from
//!    [`Handle::post`](crate::Handle::post) run, and a
//!    [`Handle::stop`](crate::Handle::stop) is noticed. Then `stop_if_asked`
//!    begins a graceful shutdown if one was asked for.
//! 9. **Reap** (`reap`, bare_reactor §7). Connections closed during the turn
//!    leave the slab, [`Protocol::on_close`](crate::Protocol::on_close) runs,
//!    and dropping the socket closes it. This is the only place connections
//!    are removed, so no event in the batch can reach a newcomer that reused
//!    the key.
//!
//! `turn` returns a [`Turn`](crate::Turn): why `poll` woke and what the turn
//! did. Stepping the loop by hand is how the tests (and chapter 7) watch it:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use twig::{After, Ctx, Frame, Protocol, Server, WakeReason};
//! # struct ReplyYes;
//! # impl Protocol for ReplyYes {
//! #     fn frame(&mut self, input: &[u8]) -> Frame {
//! #         Frame::Complete(input.len())
//! #     }
//! #     fn reply(&mut self, _request: &[u8], ctx: &mut Ctx) -> After {
//! #         ctx.write(b"Yes");
//! #         After::Close
//! #     }
//! # }
//!
//! # fn main() -> std::io::Result<()> {
//! let wait = Some(Duration::from_secs(5));
//! let mut server = Server::new(())?;
//! let addr = server.listen("127.0.0.1:0", || ReplyYes)?;
//!
//! // The handshake completes in the kernel; one turn accepts the client.
//! let mut client = std::net::TcpStream::connect(addr)?;
//! # client.set_read_timeout(wait)?;
//! let tick = server.turn(wait)?;
//! assert_eq!((tick.woke_by, tick.events, tick.accepted), (WakeReason::Io, 1, 1));
//!
//! // Step until the question is answered. The first turn may only see the
//! // writable event that follows registration (chapter 7, turn b).
//! client.write_all(b"can you hear me?")?;
//! let mut answered = 0;
//! for _ in 0..10 {
//!     let tick = server.turn(wait)?;
//!     answered += tick.requests;
//!     if answered == 1 {
//!         assert_eq!((tick.bytes_in, tick.bytes_out), (16, 3));
//!         break;
//!     }
//! }
//! let mut reply = String::new();
//! client.read_to_string(&mut reply)?; // `Yes`, then the server's FIN
//! assert_eq!(reply, "Yes");
//!
//! // The client closes; the lingering connection reads its EOF and is reaped.
//! drop(client);
//! for _ in 0..10 {
//!     if server.turn(wait)?.closed == 1 {
//!         break;
//!     }
//! }
//! assert_eq!(server.stats().active, 0);
//! # Ok(())
//! # }
//! ```
//!
//! # 4. The connection state machine
//! The blocking server needs no state field: where a client stands is where
//! the code stands, inside `recv` or inside `sendall`. An event loop leaves
//! its functions between events, so every connection has to carry its place
//! with it. That place is `connection.rs: State`, and `drive.rs: drive`
//! moves a connection forward until it must wait for an edge:
//!
//! ```text
//!  accept ─▶ Reading ──frame(): Complete──▶ reply() ──socket took it all──▶ Reading
//!              │  ▲                              │ socket full
//!              │  └────────── flushed ◀─ Writing ◀┘   (reads nothing: backpressure)
//!              ├── After::Close / violation / EOF / stop ─▶ Closing ─flushed─▶ Lingering ─peer EOF─▶ Closed
//!              └── reset, error, panic, timeout ──────────────────────────────────────────────────▶ Closed
//! ```
//!
//! | state | waits for | leaves it |
//! |---|---|---|
//! | `Reading` | the readable edge, or nothing when complete requests are already buffered (pipelining) | `Writing` when a reply does not fit in the socket or [`Core::send`](crate::Core::send) queued bytes; `Closing` on [`After::Close`](crate::After::Close), a [`Violation`](crate::Violation), EOF, or a stop; `Closed` on a reset, an error, a panic, or the idle/request timeout |
//! | `Writing` | the writable edge. It reads nothing meanwhile, but keeps its `readable` flag for later | `Reading` once flushed; `Closed` on the write timeout, the output limit, or an error |
//! | `Closing(reason)` | the writable edge, while anything is still owed | when flushed: `shutdown(Write)` sends our FIN, then `Lingering`, or `Closed` if the peer already sent its FIN; `Closed` on the write timeout or an error |
//! | `Lingering(reason)` | the readable edge. It discards input until the peer's EOF | `Closed` on EOF, the linger timeout, 256 KiB discarded, or an error |
//! | `Closed(reason)` | the end of the turn | `server.rs: reap` removes it and calls [`Protocol::on_close`](crate::Protocol::on_close) with the [`CloseReason`](crate::CloseReason) |
//!
//! Why linger? If a socket is closed while unread input sits in its receive
//! queue, the kernel sends a reset instead of a FIN, and the reset can
//! discard the reply the client has not read yet. So twig shuts down its
//! sending side and waits for the client's FIN. That is the lesson's one
//! `close()` done safely, in three steps. Each transition is logged at trace
//! level by `Connection::set_state` as `#key.gen A -> B`. After every step,
//! `drive.rs: update_deadline` derives which timeout applies (the phases
//! idle, request, owing and lingering), so the deadline changes only when
//! the phase does.
//!
//! # 5. Backpressure, limits and timeouts: what each one stops
//! Every limit below has a default safe for the internet and a setter on
//! [`Builder`](crate::Builder) (fields of [`Config`](crate::Config)). Each
//! exists because of something a peer can do, or a failure that happens on
//! its own:
//!
//! | failure or attack | without the limit | twig's answer | where |
//! |---|---|---|---|
//! | **slow reader**: sends requests but never reads replies | replies pile up in server memory without bound | backpressure: while a connection owes bytes it reads nothing, and answering pipelined requests pauses at `read_buffer_size` of reply; `write_timeout` (30 s without progress); `max_output` (4 MiB) for [`Core::send`](crate::Core::send) | `dispatch.rs: answer`, `deliver`; `core.rs: Core::send` |
//! | **slowloris**: connects and sends nothing, or one byte a second | each such client holds a descriptor and a buffer forever (in the lesson, it stalls everyone) | `idle_timeout` (60 s with no request), `request_timeout` (30 s to finish a started request) | `drive.rs: update_deadline`; `server.rs: fire_deadlines` |
//! | **oversized request**: `frame()` never says complete | the input buffer grows until memory runs out | `max_request_size` (64 KiB): [`Violation::TooLarge`](crate::Violation::TooLarge), then [`Protocol::on_violation`](crate::Protocol::on_violation) may write an error reply before closing | `dispatch.rs: answer` |
//! | **connect flood**, or running out of descriptors (`EMFILE`) | the listener stays readable and `accept` keeps failing: an edge-triggered loop strands the backlog, a level-triggered one spins at 100% CPU | `max_connections` with [`AtCapacity`](crate::AtCapacity) `Wait` (clients wait in the backlog) or `Refuse`; on `EMFILE`/`ENFILE`/`ENOMEM`, pause for `accept_backoff` and resume when a connection closes, logged once; `accept_budget` per turn so a flood cannot starve served clients | `accept.rs: accept_from`, `is_exhaustion`; `server.rs: can_accept` |
//! | **one greedy client** streaming at full speed | it keeps the loop to itself while everyone else waits | `io_budget` (256 KiB per turn), after which it is queued to continue next turn | `drive.rs: drive` (`mark_dirty`) |
//! | **panicking user code** | an exception in the lesson kills the server for everyone | `catch_unwind` around every callback: that connection closes ([`CloseReason::Panic`](crate::CloseReason::Panic)), the loop goes on. A panicking repeating timer is cancelled | `callbacks.rs: guarded` |
//! | **blocking user code** | every client waits | nothing can preempt it on one thread, but `slow_callback` (100 ms) logs a warning naming the callback | `callbacks.rs: guarded` |
//! | **stale tokens**: a connection closes mid-batch, its slab key goes to a new client, and a later event in the batch still carries the old token | the event reaches the wrong client | tokens are `generation << 32 \| key` ([`ConnId`](crate::ConnId)); a mismatched event is dropped and counted in [`Stats::stale_events`](crate::Stats::stale_events); keys are freed only in `reap` | `token.rs`; `server.rs: on_connection_event`, `reap` |
//! | **reset on close** | the last reply is lost | lingering (chapter 4), bounded by `linger_timeout` and 256 KiB | `drive.rs: drive` |
//!
//! Idle connections are cheap because of one more rule: all reads go into
//! one loop-wide scratch buffer. A connection keeps its own input buffer only
//! for a partial request, and its output buffer only while a reply is owed.
//! Both are freed when empty.
//!
//! # 6. From Twisted: the same ideas, other names
//! If you have met Twisted, twig will look familiar. Both are one reactor
//! thread calling your protocol objects.
//!
//! | Twisted | twig |
//! |---|---|
//! | `reactor` | [`Server`](crate::Server): `reactor.run()` is [`Server::run`](crate::Server::run), `reactor.iterate()` is [`Server::turn`](crate::Server::turn) |
//! | `Protocol` (one instance per connection) | [`Protocol`](crate::Protocol): one value per connection, so `self` is per-connection state |
//! | `Factory.buildProtocol` | the closure passed to [`Server::listen`](crate::Server::listen) |
//! | `reactor.listenTCP(8000, factory)` | `server.listen("0.0.0.0:8000", \|\| MyProtocol)` |
//! | `connectionMade` | [`Protocol::on_open`](crate::Protocol::on_open) |
//! | `dataReceived(data)` | [`Protocol::frame`](crate::Protocol::frame), then [`Protocol::reply`](crate::Protocol::reply) once per complete request |
//! | `connectionLost(reason)` | [`Protocol::on_close`](crate::Protocol::on_close) with a [`CloseReason`](crate::CloseReason) |
//! | `self.transport.write(data)` | [`Ctx::write`](crate::Ctx::write); to another connection, [`Core::send`](crate::Core::send) with its [`ConnId`](crate::ConnId) |
//! | `self.transport.loseConnection()` | return [`After::Close`](crate::After::Close); for another connection, [`Core::close`](crate::Core::close) |
//! | `self.transport.getPeer()` | [`Ctx::peer`](crate::Ctx::peer) |
//! | state kept on the factory | the server's state `S`, as `&mut S` from [`Core::state`](crate::Core::state) |
//! | `reactor.callLater(delay, f)`, `.cancel()` | [`Core::after`](crate::Core::after), which returns a [`TimerId`](crate::TimerId) for [`Core::cancel`](crate::Core::cancel) |
//! | `LoopingCall(f).start(interval)` | [`Core::every`](crate::Core::every) |
//! | `reactor.callFromThread(f)` | [`Handle::post`](crate::Handle::post) |
//! | `reactor.stop()` | [`Handle::stop`](crate::Handle::stop) from any thread, [`Core::stop`](crate::Core::stop) on the loop |
//! | the reactor's SIGINT handler | [`Server::stop_on_signals`](crate::Server::stop_on_signals) |
//!
//! What differs:
//! - **Framing is asked for, not left to you.** `dataReceived` gets arbitrary
//!   chunks, and every protocol reassembles them itself (hence
//!   `LineReceiver`). twig asks `frame()` where the first request ends and
//!   keeps a partial one for you. `reply()` sees exactly one request, and
//!   `max_request_size` bounds the buffering for every protocol. Ready-made
//!   framers are in [`framing`](crate::framing).
//! - **Replies are buffered, then flushed by the loop.** `Ctx::write` only
//!   appends. When the callback returns, twig writes at once and keeps only
//!   what the socket refused. Backpressure is built in: a connection that
//!   owes bytes is not read. Twisted needs producers and consumers
//!   (`registerProducer`, `pauseProducing`) to get the same effect.
//! - **One thread, no Deferreds.** A callback returns an
//!   [`After`](crate::After) value and nothing is asynchronous. Slow work
//!   goes to your own thread, which hands its result back with
//!   [`Handle::post`](crate::Handle::post) (Twisted's `deferToThread`, by
//!   hand).
//! - **Limits and timeouts are on by default** (chapter 5), where Twisted's
//!   `TimeoutMixin` is opt-in. As in Twisted, an error in a handler closes
//!   only its connection.
//! - **Testing.** Twisted tests protocols against an in-memory
//!   `StringTransport`. twig tests step the real loop over loopback with
//!   `turn()` (chapter 3).
//!
//! # 7. Watching one request
#![doc = include_str!("../docs/lesson-trace.md")]
