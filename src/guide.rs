//! The study guide: the lesson's blocking server mapped onto twig's event
//! loop, chapter by chapter.
//!
//! # How to use this guide
//! You know the lesson's Python server: `socket`, `bind`, `listen`, `accept`,
//! `recv`, `sendall`, `close`. Each chapter takes it one step closer to
//! twig's loop and names the file and function that does each step, so keep
//! `src/` open beside the guide. Private functions appear as
//! `src/file.rs: function`. `cargo test --doc` compiles and runs every
//! snippet; the ones marked `no_run` would serve forever, so they are only
//! compiled. `examples/bare_reactor.rs` is the same loop with only `mio` and
//! `slab`, in numbered sections (§1–§7) that chapters 2 and 3 point to. To
//! watch the real thing, run
//! `RUST_LOG=trace cargo run --example reply_server 127.0.0.1:8000` and then
//! `cargo run --example reply_client`. Chapter 7 is that trace, annotated.
//! Every default and fixed figure quoted here comes from the one table in
//! [`Config`](crate::Config)'s documentation, which `tests/docs.rs` checks
//! against the code.
//!
//! 1. [The lesson's server](#1-the-lessons-server-and-why-it-serves-one-client-at-a-time)
//! 2. [Readiness](#2-readiness-ask-the-kernel-before-you-call)
//! 3. [One turn of the reactor](#3-one-turn-of-the-reactor)
//! 4. [The connection state machine](#4-the-connection-state-machine)
//! 5. [Limits and timeouts](#5-backpressure-limits-and-timeouts-what-each-one-stops)
//! 6. [From Twisted](#6-from-twisted-the-same-ideas-other-names)
//! 7. [Watching one request](#7-watching-one-request)
//! 8. [Testing a protocol without sockets](#8-testing-a-protocol-without-sockets)
//! 9. [Threads the event-loop way](#9-threads-the-event-loop-way)
//! 10. [Where connections come from](#10-where-connections-come-from-unix-sockets-proxies-systemd)
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
//! may return part of the message, because TCP is a byte stream (see below,
//! and chapter 6, framing). Second, `close()` with unread input sends a reset
//! that can destroy the reply in flight (chapter 4, lingering).
//!
//! | the lesson | syscall | where twig does it |
//! |---|---|---|
//! | *(nothing)* | `epoll_create1`, `eventfd` | `src/reactor/server.rs: Server::with_config` (`Poll::new`, the `Waker`) |
//! | `socket(AF_INET, SOCK_STREAM)` | `socket` (non-blocking) | `src/reactor/accept.rs: bind` (through `socket2`), called by [`Server::listen`](crate::Server::listen) in `src/reactor/server.rs` |
//! | `bind(('', 8000))` | `bind` (after `SO_REUSEADDR`) | the same |
//! | `listen(3)` | `listen` with a backlog of [`listen_backlog`](crate::Config::listen_backlog) (1024), then `epoll_ctl(ADD)` | the same; the listener gets a reserved token (`src/conn/id.rs`) |
//! | `while True:` | `epoll_wait` | [`Server::run`](crate::Server::run) (`src/reactor/server.rs`), which repeats one turn; the turn's phases are in `src/reactor/turn.rs` |
//! | `accept()` | `accept4` until `EAGAIN` | `src/reactor/accept.rs: accept_from`; its `add` makes the protocol value and calls `src/reactor/commands.rs: Core::insert`, which sets `TCP_NODELAY`, registers the socket and fills a slab slot |
//! | `print('Connected by', addr)` | | your [`Protocol::on_open`](crate::Protocol::on_open), called when the machine asks for `Action::CallOnOpen` (`src/reactor/drive.rs: drive`) |
//! | `recv(1024)` | `read` into the loop's scratch buffer of [`read_buffer_size`](crate::Config::read_buffer_size) (64 KiB) | `src/conn/socket.rs: read`, called by `drive` for `Action::Read` |
//! | *(missing: is it a whole request?)* | | your [`Protocol::frame`](crate::Protocol::frame), called by `src/reactor/answer.rs: answer` for `Action::Answer` |
//! | `print('request is:', data)` | | your [`Protocol::reply`](crate::Protocol::reply), called by the same |
//! | `sendall(b'Yes')` | `write` until done or `EAGAIN` | [`Ctx::write`](crate::Ctx::write) appends to the reply; when `reply` returns, `src/reactor/hooks.rs: deliver` writes it at once (`src/conn/socket.rs: write`); what the socket refuses is owed, and `Connection::flush_output` (`src/conn/connection.rs`) writes it on the writable edge (`Action::Flush`) |
//! | `close()` | `shutdown(SHUT_WR)`, read to EOF, `close` | the machine's `Life::Closing` (`Action::ShutWrite`: `src/conn/socket.rs: shutdown_write`), then `Life::Lingering` (`Action::Discard`); `src/reactor/lifecycle.rs: reap` drops the socket |
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
//!         // The lesson's framing, kept on purpose: whatever arrived is the
//!         // request. Wrong for real protocols: see below.
//!         Frame::Complete(input.len())
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
//! **The deliberate simplification.** `Frame::Complete(input.len())` says
//! "whatever arrived is one request", which is exactly what the lesson's
//! `data = conn.recv(1024)` assumes. It is kept so that this server behaves
//! like the lesson's, and on loopback the client's 16 bytes arrive in one
//! segment, so it works. It is still the partial-read bug: when the request
//! is split, by a slow link, a request larger than one segment, or a client
//! that writes it in two calls, `reply` sees only the first piece. This
//! server then answers `Yes` to half a question and closes, and the rest is
//! discarded while the connection lingers. A keep-alive protocol would take
//! the second piece for a second request. And since every frame is complete,
//! [`max_request_size`](crate::Config::max_request_size) never applies. A real
//! protocol says where a request ends: a newline
//! ([`framing::line`](crate::framing::line)), a length prefix
//! ([`framing::length_prefixed`](crate::framing::length_prefixed)), HTTP's
//! blank line ([`framing::http_head`](crate::framing::http_head)). twig then
//! keeps the partial request and calls `frame` again when more arrives
//! (chapter 6, and the [`cookbook`](crate::cookbook)). The client's message
//! has no end marker, so the lesson has nothing to frame by. A message
//! boundary is part of the protocol and has to be designed into it.
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
//! | `epoll_ctl(ADD, fd, events, data)` | [`mio::Registry::register`] with a [`mio::Token`] | each listener in `Server::listen`, each connection in `src/reactor/commands.rs: Core::insert` (from `src/reactor/accept.rs: add`, or [`Core::connect`](crate::Core::connect)) |
//! | `epoll_wait` | [`mio::Poll::poll`], filling [`mio::Events`] | `src/reactor/turn.rs: Server::poll` calls `epoll_wait` on the instance mio built (`src/reactor/poll.rs: wait`, through rustix), and reads each event's bits itself (`src/conn/readiness.rs`, mio's meanings as plain bit tests): mio's own decoding costs about as much again as a request's machine step |
//! | `data` in each event | `event.token()` | `src/conn/id.rs`: a listener's index, the waker, the signals, or a [`ConnId`](crate::ConnId) |
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
//!   connection's machine remembers the edges it has not used up, in
//!   [`State::ready`](crate::conn::machine::State::ready): the read edge is
//!   [`ReadEdge`](crate::conn::machine::ReadEdge) `Drained`, `Pending` or
//!   `Hup`, the write edge [`WriteEdge`](crate::conn::machine::WriteEdge)
//!   `Full` or `Pending`. An event sets them (`Event::Ready`, from
//!   `src/reactor/cycle.rs: on_event`); a `WouldBlock`
//!   (`Event::ReadBlocked`, `Event::WriteBlocked`) or the short-read rule
//!   below uses them up. An edge that arrives while the state cannot act on
//!   it (a connection that owes bytes does not read) stays remembered and is
//!   acted on later, because no second edge will come. Level-triggered epoll
//!   would instead re-report every unread byte and every idle writable
//!   socket on every poll.
//! - **Registered once.** Each connection is registered for both directions
//!   when it joins the slab (`src/reactor/accept.rs: add` →
//!   `src/reactor/commands.rs: Core::insert`) and never re-registered. A
//!   connection starts with its write edge `Pending`
//!   ([`State::ACCEPTED`](crate::conn::machine::State::ACCEPTED): a fresh
//!   socket's send buffer is empty), so a reply is written at once. Only a
//!   `WouldBlock` makes it wait for the writable edge.
//! - **The short-read rule.** On Linux, a TCP `read` that returns fewer bytes
//!   than the buffer holds has emptied the receive queue. The next read could
//!   only say `WouldBlock`, so the machine (`Event::Read { short: true }` in
//!   `src/conn/machine/rules.rs: apply`) sets the read edge back to
//!   `Drained` and saves that syscall. **The HUP exception:** if an event
//!   already said the peer hung up (`read_closed`, from `EPOLLRDHUP`), the
//!   read edge is `Hup`: the FIN's edge is spent, the short read may be the
//!   last data before the FIN, and no new event will come to report the 0.
//!   So after HUP, twig reads on until it sees the 0.
//! - **A 0-byte read is EOF:** the peer sent FIN. "Nothing yet" is
//!   `WouldBlock`, never `Ok(0)`, so twig never reads into an empty buffer
//!   (a debug assertion in `src/conn/socket.rs: read`). Python's `recv` returning
//!   `b''` means the same thing.
//! - **`EINTR` means retry.** A signal can interrupt any syscall.
//!   `src/conn/socket.rs: read` and `write` loop on `Interrupted`. An
//!   interrupted `poll` ends the turn early with
//!   [`WakeReason::Interrupted`](crate::WakeReason::Interrupted).
//! - **Readiness is a hint.** Wake-ups can be spurious, and HUP/ERR flags
//!   only mean "try the syscall": `on_event` turns them into
//!   edges to try, nothing more. The fate of a connection is decided by what
//!   `read`/`write` return (`src/conn/socket.rs: classify`).
//!
//! # 3. One turn of the reactor
//! The lesson's `while True:` sleeps inside `accept` and `recv`. twig's loop
//! sleeps in exactly one place, `poll`. One pass is
//! [`Server::turn`](crate::Server::turn), and [`Server::run`](crate::Server::run)
//! repeats it until the server has stopped (as Redis splits
//! `aeProcessEvents` from `aeMain`). The phases are the steps of
//! `turn_quietly` in `src/reactor/turn.rs`, in order:
//!
//! 1. **Timeout** (`poll_timeout`). The sleep is zero if work is pending:
//!    connections to drive, closed ones to reap, clients to accept, or a stop
//!    to begin. Otherwise it lasts until the nearest deadline: a timeout of a
//!    connection that is still open (the deadlines of closed connections are
//!    skipped, so they never wake the poll), a timer, the accept back-off, or
//!    the drain at shutdown. It is capped by the caller's `max_wait`, and
//!    lasts forever if there is nothing to wait for. While the nearest
//!    deadline stays the same, the computed sleep is reused for up to
//!    `SLEEP_REUSE` (1 ms) (`Sleep` in `src/reactor/server.rs`):
//!    subtracting two `Instant`s costs about as much as answering a small
//!    request. So a deadline may be met up to about that late, never early.
//!    Most turns of a busy server have nothing pending and no deadline at
//!    all: `nothing_to_wait_for` (`src/reactor/sleep.rs`) says so in a few
//!    loads, and the search is skipped.
//! 2. **Poll** (`poll`: `epoll_wait` on mio's epoll instance,
//!    `src/reactor/poll.rs`). Then the clock is read once
//!    ([`Core::now`](crate::Core::now)), the turn is counted in
//!    [`Stats::turns`](crate::Stats::turns), and the wake reason is decided.
//! 3. **Dispatch by token** (`dispatch_events`, bare_reactor §3 and §5). The
//!    waker token means a thread posted work. The signal token means SIGINT
//!    or SIGTERM. Any other token with generation 0 is a listener, which is
//!    only marked readable. A token with a generation names a connection:
//!    `on_event` (`src/reactor/cycle.rs`) checks it, notes the event in
//!    the connection's flight recorder, and drives the connection's machine
//!    with `Event::Ready` (chapter 4), or, for a plain readable edge on a
//!    connection that is only reading requests, reads and answers at once
//!    (the request cycle, end of chapter 4).
//!
//!    The phases below test whether they have anything to do in the turn
//!    itself; their work is out of line (`#[inline(never)]`), which keeps
//!    the turn's frame small for the turns, most of them, that have none.
//! 4. **Signals** (`on_signals`): the first SIGINT or SIGTERM asks for a
//!    graceful stop, the second closes everything at once.
//! 5. **Accept** (`accept`, then `src/reactor/accept.rs: accept_from`,
//!    bare_reactor §4). Accepting happens after the batch, within the
//!    per-turn budget, and not while stopping, paused or full (`can_accept`).
//!    Each new connection is inserted and driven at once (`Event::Poke`:
//!    its `on_open` runs).
//! 6. **Dirty connections** (`drive_dirty`). These have work that no event
//!    will announce: bytes queued by [`Core::send`](crate::Core::send), a
//!    command such as [`Core::close`](crate::Core::close), an outbound
//!    connect just begun, or an I/O budget spent earlier. Each is driven with
//!    `Event::Poke` ("look again").
//! 7. **Deadlines and timers**, only when one is due (a look at the top of
//!    each heap says so, and in most turns nothing is). Connection timeouts
//!    that have passed close their connections
//!    (`src/reactor/timeouts.rs: fire`, `Event::Deadline`); then the
//!    [`Core::call_later`](crate::Core::call_later) and
//!    [`Core::every`](crate::Core::every) callbacks that are due run in
//!    deadline order (`src/reactor/lifecycle.rs: fire_timers`).
//! 8. **Posted work** (`src/reactor/lifecycle.rs: run_posted`, only when the
//!    waker fired). Closures from [`Handle::post`](crate::Handle::post) run,
//!    and a [`Handle::stop`](crate::Handle::stop) is noticed.
//! 9. **Stop** (`stop_if_asked`): if a stop was asked for, the listeners
//!    close and every connection gets `Command::Stop` (it drains); at the
//!    drain deadline what is left is closed.
//! 10. **Reap** (`src/reactor/lifecycle.rs: reap`, bare_reactor §7).
//!     Connections that reached `Life::Closed` during the turn leave the
//!     slab, [`Protocol::on_close`](crate::Protocol::on_close) runs, and
//!     dropping the socket closes it (which also takes it out of the epoll
//!     set).
//!
//! **Generations: why an old id never reaches a new connection.** A slab
//! reuses the key of a closed connection for the next one. So every
//! connection also gets a *generation*, a counter that starts at 1 and never
//! gives 0 (0 marks the reserved tokens of the listeners, the waker and the
//! signals). Its [`ConnId`](crate::ConnId) is the pair, and its `mio::Token`
//! is `generation << 32 | key` (`src/conn/id.rs`). Two rules use it:
//! - **Keys are freed only in `reap`**, at the end of the turn. A connection
//!   that closes while the turn handles an event stays in the slab, marked
//!   `Closed`, until every event of the batch has been handled, so no
//!   connection accepted in the same turn can take its key.
//! - **Every lookup checks the generation.** An event whose generation is
//!   not the one now under its key, or whose connection is already `Closed`
//!   (a later event of the same batch), is dropped and counted in
//!   [`Stats::stale_events`](crate::Stats::stale_events). The same check
//!   makes a [`ConnId`](crate::ConnId) kept by your code, or a deadline left
//!   in the heap, harmless once its connection is gone: `Core::send` to it
//!   returns false.
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
//! #         Frame::Complete(input.len()) // the lesson's framing (chapter 1)
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
//! let turn = server.turn(wait)?;
//! assert_eq!((turn.woke_by, turn.events, turn.accepted), (WakeReason::Io, 1, 1));
//!
//! // Step until the question is answered. The first turn may only see the
//! // writable event that follows registration (chapter 7, turn b).
//! client.write_all(b"can you hear me?")?;
//! let mut answered = 0;
//! for _ in 0..10 {
//!     let turn = server.turn(wait)?;
//!     answered += turn.requests;
//!     if answered == 1 {
//!         assert_eq!((turn.bytes_in, turn.bytes_out), (16, 3));
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
//! with it. twig writes that place down as data, and the rules that move it
//! as one pure function. Both are public, in
//! [`twig::conn::machine`](crate::conn::machine), whose documentation has
//! the state diagram (it is drawn there only, beside the code it describes).
//!
//! **The state** ([`State`](crate::conn::machine::State)) is small and
//! `Copy`, five fields:
//! - [`Life`](crate::conn::machine::Life), where the connection is in its
//!   life: `Connecting` (an outbound connect in progress), `Handshaking`
//!   (accepted on a TLS listener: the TLS handshake runs, driven by the same
//!   read and write edges, before the protocol hears of the connection),
//!   `Opening`
//!   (established, `on_open` not run yet), `Open` (serving), `Draining`
//!   (serving while the server stops: what has arrived is answered, then it
//!   closes), `Closing(reason)` (flushing what is owed, then shutting the
//!   write side), `Lingering(reason)` (write side shut, discarding input
//!   until the peer's EOF), `Closed(reason)` (leaves the slab at the end of
//!   the turn).
//! - [`Input`](crate::conn::machine::Input), the read half: `Reading`,
//!   `Unanswered` (bytes to offer the protocol before reading more),
//!   `Paused`, `Eof` (`on_eof` due), `HalfClosed`.
//! - [`Output`](crate::conn::machine::Output), the write half: `Idle`,
//!   `Owing` (the socket would not take everything), `Drained`
//!   (`on_drained` due), and for a half-close `ShutAfterFlush`, `Shutting`,
//!   `Shut`.
//! - [`Ready`](crate::conn::machine::Ready), the readiness edges not used
//!   up yet (chapter 2).
//! - [`Relay`](crate::conn::machine::Relay): whether it reads while it owes
//!   (a proxy's two sides do; everything else does not).
//!
//! **What happens** is an [`Event`](crate::conn::machine::Event): a
//! readiness edge (`Ready`), the outcome of the last action (`Read`,
//! `ReadEof`, `ReadBlocked`, `WroteAll`, `WriteBlocked`, `Answered`,
//! `HookDone`, `ShutDone`, ...), a command from user code (`Command`: close,
//! pause, queued bytes, stop...), a deadline, or `Poke` ("look again").
//! **What to do** is an [`Action`](crate::conn::machine::Action): a syscall
//! (`Read`, `Flush`, `ShutWrite`, `Discard`, `CheckConnect`, `CheckError`),
//! a call into the protocol (`Answer`, `CallOnOpen`, `CallOnEof`,
//! `CallOnDrained`, `ConnectFailed`), `Wait`, or `Close(reason)`.
//!
//! **[`next`](crate::conn::machine::next)`(state, event) -> (state, action)`**
//! (`src/conn/machine/rules.rs: by_the_rules`; `next` adds a shortcut for
//! the two events of an ordinary request, `src/conn/machine/shortcut.rs`,
//! checked equal to the rules) does three things in order:
//! 1. **Apply the event** (`apply`): its direct effect. `Ready` marks edges;
//!    `Read { short }` makes the input `Unanswered` and, if short, sets the
//!    read edge back to `Drained`; `ReadAnswered { .. }`, what the driver
//!    reports for `Action::Read`, is that read and then its `Answered`;
//!    `Answered { ending: Close, .. }` starts
//!    `Closing(Done)`; `Abort(reason)` closes at once. `Closed` is final:
//!    nothing changes it. (One event is handled before this: a failed or
//!    timed-out outbound connect goes straight to
//!    `Closed(ConnectFailed)` with `Action::ConnectFailed`.)
//! 2. **Settle** (`settle`): the transitions that need no event, because
//!    they follow from the state alone. A `Closing` connection whose write
//!    side is shut goes to `Lingering`, or to `Closed` if the peer's EOF
//!    came already; an `Open` one whose both halves are done, or a
//!    `Draining` one with nothing left to answer, starts `Closing`.
//! 3. **Decide** (`decide`): the one action for the state reached. Writing
//!    comes first: a connection that owes bytes and may write flushes, and
//!    one that owes and may not reads nothing either, unless it relays. That
//!    rule is backpressure: a client that does not read stops being read.
//!    Then `Unanswered` input is answered, a pending read edge is read, an
//!    EOF is reported with `on_eof`; with nothing to do, `Wait`.
//!
//! The lesson's exchange, as the machine sees it. This runs `next` itself;
//! chapter 7 shows the same steps in the real trace:
//!
//! ```
//! use twig::CloseReason::Done;
//! use twig::conn::machine::{Action, Ending, Event, Input, Life, Output, State, Wrote, next};
//!
//! // Accepted: `on_open` is due; the fresh socket counts as writable.
//! let (s, a) = next(State::ACCEPTED, Event::Poke);
//! assert_eq!(a, Action::CallOnOpen);
//! let (s, a) = next(s, Event::HookDone(Wrote::Nothing));
//! assert_eq!((s.life, a), (Life::Open, Action::Wait)); // no readable edge yet
//! // The client's bytes arrive: an edge, then `Action::Read`: a read
//! // shorter than the buffer, answered at once. The two steps it stands for:
//! let (s, a) = next(s, Event::Ready { read: true, write: true, hup: false });
//! assert_eq!(a, Action::Read);
//! let (read, then) = next(s, Event::Read { short: true });
//! assert_eq!((read.input, then), (Input::Unanswered, Action::Answer));
//! // frame() said Complete, reply() wrote `Yes` (the socket took it all)
//! // and returned After::Close. The driver reports both in one event:
//! let answered = Event::Answered { ending: Ending::Close, wrote: Wrote::All };
//! let done = Event::ReadAnswered { short: true, ending: Ending::Close, wrote: Wrote::All };
//! assert_eq!(next(s, done), next(read, answered));
//! let (s, a) = next(s, done);
//! assert_eq!((s.life, a), (Life::Closing(Done), Action::ShutWrite));
//! // Our FIN is sent: nothing more can be written; linger for the peer's.
//! let (s, a) = next(s, Event::ShutDone);
//! assert_eq!((s.life, s.output, a), (Life::Lingering(Done), Output::Shut, Action::Wait));
//! let (s, a) = next(s, Event::Ready { read: true, write: true, hup: true });
//! assert_eq!(a, Action::Discard);
//! let (s, a) = next(s, Event::ReadEof);
//! assert_eq!((s.life, a), (Life::Closed(Done), Action::Close(Done)));
//! ```
//!
//! **The driver** (`src/reactor/drive.rs: drive`) is the loop that turns
//! actions into syscalls and calls, and outcomes back into events. It starts
//! from the event that woke the connection and repeats: feed the event to
//! the machine (`Core::feed` → `src/conn/connection.rs: Connection::step`,
//! the one place the state changes, where each change is logged at trace
//! level as `#key.gen A -> B` and the life's changes go into the flight
//! recorder), then carry out the action:
//!
//! | action | what the driver does | the event it feeds back |
//! |---|---|---|
//! | `Read` | `src/conn/socket.rs: read` into the scratch buffer, then `src/reactor/answer.rs: answer` on what came | `ReadAnswered { short, ending, wrote }`, `ReadEof`, `ReadBlocked`, or `Abort(reason)` |
//! | `Discard` (lingering) | `src/conn/socket.rs: read`, the bytes thrown away | `Read { short }`, `ReadEof`, `ReadBlocked`, `Abort`; `Deadline` once more than `LINGER_MAX_BYTES` were discarded |
//! | `Answer` (requests left for backpressure, or after `resume_reading`) | `src/reactor/answer.rs: answer`: `frame`/`reply` over the buffered input, then `deliver` writes the replies | `Answered { ending, wrote }` |
//! | `Flush` | `Connection::flush_output` (`src/conn/socket.rs: write`) | `WroteAll`, `WrotePart` (budget spent), `WriteBlocked`, or `Abort` |
//! | `ShutWrite` | `src/conn/socket.rs: shutdown_write` | `ShutDone` |
//! | `CheckConnect`, `CheckError` | `src/conn/socket.rs: connect_result`, `pending_error` | `Connected(..)`, `SocketError(..)` |
//! | `CallOnOpen`, `CallOnDrained`, `CallOnEof` | the hook, through `src/reactor/hooks.rs: call` (guarded, then `deliver`) | `HookDone(wrote)`, `EofHandled { .. }` |
//! | `ConnectFailed` | `on_connect_failed`, then stops | |
//! | `Wait` | stops: an edge, a command or a deadline will come | |
//! | `Close(reason)` | stops: the connection is reaped at the end of the turn | |
//!
//! The driver decides nothing. It also keeps the per-turn I/O budget: when
//! [`io_budget`](crate::Config::io_budget) (256 KiB) is spent and the next
//! action is a read, a write, or answering requests left behind earlier, it
//! puts the connection on the dirty list and stops, so the connection goes
//! on next turn, since no edge will come to say so. When it stops, `src/reactor/timeouts.rs: arm` makes sure the
//! deadline heap will wake the loop for the timeout the new state calls for
//! ([`machine::timeout`](crate::conn::machine::timeout): input, write,
//! linger or connect).
//!
//! **The request cycle** (`src/reactor/cycle.rs: on_event`) is the path of
//! an ordinary request, and the one exception to "every event goes to the
//! driver". When a plain readable edge (no HUP) comes for a connection the
//! machine calls in the request cycle
//! ([`in_request_cycle`](crate::conn::machine::in_request_cycle): open,
//! nothing owed, not relaying, waiting for a request), the machine's answer
//! is known: read, answer, and read again until a short read. `on_event`
//! carries that out as one loop: `read`, `frame`/`reply` on the bytes, the
//! optimistic write, and the machine's own
//! [`cycle_edge`](crate::conn::machine::cycle_edge) and
//! [`cycle_answered`](crate::conn::machine::cycle_answered) for the state,
//! with the connection looked up once per callback. Those functions are the
//! rules (`src/conn/machine/equivalence.rs` checks them against `next` for
//! every state and event). Anything else (a blocked write, EOF, an error,
//! backpressure, a callback that closed or paused its connection) leaves the
//! cycle as the event it is, and the driver goes on from there. At trace
//! level there is no cycle: every step goes through the driver, so the
//! narration shows each one.
//!
//! Why linger? If a socket is closed while unread input sits in its receive
//! queue, the kernel sends a reset instead of a FIN, and the reset can
//! discard the reply the client has not read yet. So twig shuts down its
//! sending side (`Closing`), then waits for the client's FIN while
//! discarding what it sends (`Lingering`), then drops the socket (`Closed`,
//! reaped). That is the lesson's one `close()` done safely, in three steps.
//!
//! # 5. Backpressure, limits and timeouts: what each one stops
//! Every limit below has a default safe for the internet and a setter on
//! [`Builder`](crate::Builder) (fields of [`Config`](crate::Config), whose
//! documentation has the table of every default). Each exists because of
//! something a peer can do, or a failure that happens on its own:
//!
//! | failure or attack | without the limit | twig's answer | where |
//! |---|---|---|---|
//! | **slow reader**: sends requests but never reads replies | replies pile up in server memory without bound | backpressure: while a connection owes bytes its machine reads nothing, and answering pipelined requests pauses once `read_buffer_size` (64 KiB) of reply waits (`Ending::Backpressure`); `write_timeout` (30 s) without write progress; `max_output` (4 MiB) for what [`Core::send`](crate::Core::send) queues | `src/conn/machine/rules.rs: decide`; `src/reactor/answer.rs: frame_and_reply`; `src/reactor/commands.rs: Core::try_send` |
//! | **slowloris**: connects and sends nothing, or one byte a second | each such client holds a descriptor and a buffer forever (in the lesson, it stalls everyone) | `idle_timeout` (60 s): no byte received for that long, whether or not a request is in progress; `request_timeout` (30 s): a request in progress that started that long ago; whichever comes first | `src/reactor/timeouts.rs: due`, `arm`, `fire` |
//! | **oversized request**: `frame()` never says complete | the input buffer grows until memory runs out | `max_request_size` (64 KiB): [`Violation::TooLarge`](crate::Violation::TooLarge), then [`Protocol::on_violation`](crate::Protocol::on_violation) may write an error reply before closing | `src/reactor/answer.rs: frame_and_reply` |
//! | **connect flood**, or running out of descriptors (`EMFILE`) | the listener stays readable and `accept` keeps failing: an edge-triggered loop strands the backlog, a level-triggered one spins at 100% CPU | `max_connections` (10,000) with [`AtCapacity`](crate::AtCapacity) `Wait` (clients wait in the backlog) or `Refuse`; on `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM`, pause for `accept_backoff` (100 ms) and resume early when a connection closes, logged once; `accept_budget` (256) per turn so a flood cannot starve served clients | `src/reactor/accept.rs: accept_from`, `is_exhaustion`; `src/reactor/turn.rs: can_accept` |
//! | **one greedy client** streaming at full speed | it keeps the loop to itself while everyone else waits | `io_budget` (256 KiB) per turn, after which it is queued to continue next turn | `src/reactor/drive.rs: drive` (`mark_dirty`) |
//! | **panicking user code** | an exception in the lesson kills the server for everyone | `catch_unwind` around every callback: that connection closes ([`CloseReason::Panic`](crate::CloseReason::Panic)) and its protocol value is dropped, the loop goes on. A panicking repeating timer is cancelled | `src/reactor/hooks.rs: guarded`, `call` |
//! | **blocking user code** | every client waits | nothing can preempt it on one thread, but `slow_callback` (100 ms; tighter in debug builds, where it is one of the contract checks) logs a warning naming the callback | `src/reactor/hooks.rs: guarded`, `check_slow`; `src/reactor/contracts.rs` |
//! | **stale ids and events**: an id kept after its connection closed, or an event for a connection closed earlier in the same batch | bytes or readiness reach the wrong client, once its key is reused | generations (chapter 3): the token is `generation << 32 \| key`, a mismatched or closed one is dropped and counted in [`Stats::stale_events`](crate::Stats::stale_events), keys are freed only in `reap` | `src/conn/id.rs`; `src/reactor/cycle.rs: on_event`; `src/reactor/lifecycle.rs: reap` |
//! | **reset on close** | the last reply is lost | lingering (chapter 4), bounded by `linger_timeout` (2 s) and by `LINGER_MAX_BYTES` (256 KiB) of discarded input | `src/reactor/drive.rs: drive` (`Action::Discard`) |
//! | **a stop that never ends**: a client that keeps a reply unread | the process cannot exit | `drain_timeout` (10 s), then what is left is closed | `src/reactor/lifecycle.rs: stop_if_asked` |
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
//! | `reactor.callLater(delay, f)`, `.cancel()` | [`Core::call_later`](crate::Core::call_later), which returns a [`TimerId`](crate::TimerId) for [`Core::cancel`](crate::Core::cancel) |
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
//!   goes to the offload pool with [`Ctx::offload`](crate::Ctx::offload)
//!   (Twisted's `deferToThread`), whose result comes back as a callback on
//!   the loop thread (chapter 9).
//! - **Limits and timeouts are on by default** (chapter 5), where Twisted's
//!   `TimeoutMixin` is opt-in. As in Twisted, an error in a handler closes
//!   only its connection.
//! - **Testing.** Twisted tests protocols against an in-memory
//!   `StringTransport`. twig tests step the real loop over loopback with
//!   `turn()` (chapter 3).
//!
//! # 7. Watching one request
//! At `trace` level twig narrates each syscall it makes, with its result,
//! so a trace reads like `strace` with the reasons attached. Narrated:
//! - `epoll_ctl(ADD, READABLE)` for a listener (`src/reactor/server.rs:
//!   Server::listen`), `epoll_ctl(ADD, READABLE|WRITABLE)` for a connection
//!   (`src/reactor/commands.rs: Core::insert`), and `epoll_ctl(DEL)` when a
//!   stop closes a listener (`src/reactor/lifecycle.rs: stop_if_asked`);
//! - `accept()` (the `accept4` call), every one including the last
//!   `WouldBlock` (`src/reactor/accept.rs: accept_from`);
//! - `setsockopt(TCP_NODELAY)` on each new connection (`Core::insert`);
//! - `connect(ADDR) -> in progress` for an outbound connection
//!   (`Core::connect`), then `getsockopt(SO_ERROR), getpeername` when its
//!   writable edge says the connect is decided
//!   (`src/conn/socket.rs: connect_result`);
//! - `read(n)`, `write(n)` and `shutdown(Write)` (`src/conn/socket.rs`);
//! - `getsockopt(SO_ERROR)` on a new edge after EOF, in case the peer reset
//!   (`src/conn/socket.rs: pending_error`);
//! - `close() -> dropped` when `reap` drops the socket
//!   (`src/reactor/lifecycle.rs: reap`);
//! - `epoll_wait`, as two lines: `poll(timeout …: why)` before it and
//!   `poll woke: reason, n events` after (`src/reactor/turn.rs: poll`).
//!
//! Not narrated: `socket`, `setsockopt(SO_REUSEADDR)`, `bind` and `listen`
//! (one `epoll_ctl(ADD)` line follows them, and a failure is the error
//! [`Server::listen`](crate::Server::listen) returns); `epoll_create1` and
//! the waker's `eventfd` ([`Server::new`](crate::Server::new)); the waker's
//! writes and reads ([`Handle::post`](crate::Handle::post),
//! [`Handle::stop`](crate::Handle::stop)); the signal source; reading the
//! clock. A connection needs no `epoll_ctl(DEL)`: closing its socket takes
//! it out of the epoll set. Besides syscalls the trace shows each event's
//! flags (`#key.gen event: readable=…`), a listener marked readable, stale
//! events dropped, every state change of a connection's machine
//! (`#key.gen A -> B`, from `Connection::step`), and timers scheduled and
//! fired.
//!
#![doc = include_str!("../docs/lesson-trace.md")]
//!
//! # 8. Testing a protocol without sockets
//! Twisted tests a protocol with `StringTransport`: bytes in, bytes out, no
//! network. twig's [`testing::Harness`](crate::testing::Harness) does the
//! same over the real machine and driver of chapter 4, with an in-memory
//! pipe where the socket would be (`conn/memory.rs`) and a manual clock, so
//! timers and timeouts fire when the test says, not when the wall clock
//! does. Feed a request in every chunk size, down to one byte: that is the
//! partial-read bug of chapter 1, caught without a socket.
//!
//! ```
//! use std::time::Duration;
//! use twig::testing::Harness;
//! use twig::{After, CloseReason, Ctx, Frame, Protocol, Server, framing};
//!
//! struct Lines;
//! impl Protocol for Lines {
//!     fn frame(&mut self, input: &[u8]) -> Frame {
//!         framing::line(input)
//!     }
//!     fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
//!         ctx.write(line);
//!         After::KeepOpen
//!     }
//! }
//!
//! let idle = Server::builder().idle_timeout(Some(Duration::from_secs(5)));
//! let mut t = Harness::with_builder(idle, (), || Lines);
//! let c = t.connect();
//! for byte in b"one\ntwo\n" {
//!     t.send(c, &[*byte]); // one byte at a time
//! }
//! assert_eq!(t.output(c), b"one\ntwo\n");
//! t.advance(Duration::from_secs(5)); // no byte for the whole idle timeout
//! assert_eq!(t.closed(c), Some(CloseReason::IdleTimeout));
//! ```
//!
//! `tests/in_memory.rs` runs the example servers' protocols this way: the
//! lesson's `ReplyYes` with an HTTP request split after every byte, the
//! echo under a slow reader until the write timeout, the chat's broadcast
//! order, RESP commands split anywhere, HTTP pipelining, and the one send
//! rule (bytes for a connection leave in the order the calls were made).
//!
//!
//! # 9. Threads the event-loop way
//! The lesson's last step says "handle threading". The blocking server's
//! answer is a thread per client: each `recv` may block, so each client
//! needs a thread to block in. twig's answer is the other one, Twisted's and
//! nginx's: **one loop thread that never blocks**, and threads that serve it
//! without sharing it.
//!
//! **Why the loop never blocks.** One thread runs every callback of every
//! client. A handler that sleeps a tenth of a second (a disk read, a DNS
//! lookup, a database driver, a password hash) makes every other client of
//! the loop wait as long; twig names such a callback in a warning
//! ([`Config::slow_callback`](crate::Config::slow_callback), with a
//! tighter default in debug builds, where it is one of the contract checks
//! of `docs/operate.md`, section 4) but cannot preempt it. So blocking work goes
//! elsewhere.
//!
//! **What belongs on the pool.** Blocking calls and CPU work longer than a
//! syscall or two: file I/O on a slow disk, `getaddrinfo`, a blocking client
//! library, hashing, compression. Not small work: the round trip (a queue
//! push, a pool thread's wake-up, a post back through the waker, the next
//! turn) costs tens of microseconds, far more than answering a small request
//! on the loop. And not the loop's state: a job runs on another thread, so
//! it gets only what it was given (`Send` values), never `&mut S`.
//!
//! **How a result comes home safely.**
//! [`Ctx::offload(work, then)`](crate::Ctx::offload) (in
//! `src/offload/mod.rs`) queues `work` on a bounded pool
//! (`src/offload/pool.rs`: at most
//! [`offload_threads`](crate::Config::offload_threads) threads, started on
//! demand, and [`offload_queue`](crate::Config::offload_queue) waiting jobs;
//! past that the call says [`OffloadError::Full`](crate::OffloadError) at
//! once, and the protocol answers "busy": `work_server` sends a 503). The
//! connection's machine moves to `Input::Awaiting` (chapter 4): it answers
//! nothing more and reads nothing more, so later pipelined requests wait
//! behind the one in progress and the socket's window pushes back on the
//! client. When `work` returns, its pool thread posts the result to the
//! loop's queue ([`Handle::post`](crate::Handle::post)), whose waker wakes
//! `poll` (many posts, one wake-up). At the end of that turn
//! `hand_back` checks the [`ConnId`](crate::ConnId)'s generation and the
//! machine: a result for a connection that closed meanwhile (a reset, a
//! timeout, a close) is dropped and counted in
//! [`Stats::results_dropped`](crate::Stats::results_dropped). Otherwise the
//! machine hears `Event::JobDone` (what waited may be answered again), and
//! `then` runs as a callback of the connection, with its
//! [`Ctx`](crate::Ctx): what it writes is the reply, written at once; it may
//! also pause, close, or offload the next step. One job per
//! connection at a time keeps replies in order (a second `offload` while one
//! is awaited says `NotAnswering`). A job that panics closes only its
//! connection ([`CloseReason::JobPanic`](crate::CloseReason::JobPanic)); the
//! pool thread lives on. The idle and request timeouts keep counting while
//! a job runs (a job longer than them loses its client: raise them for
//! long jobs). A graceful stop waits for jobs in flight (up to
//! [`drain_timeout`](crate::Config::drain_timeout)) and sends their replies.
//! For HTTP handlers, [`Response::offload`](crate::http::Response) does the
//! same and writes the response when `then` has filled it in; for work that
//! belongs to no connection, [`Core::offload_detached`](crate::Core::offload_detached)
//! hands the result to a closure given the [`Core`](crate::Core).
//!
//! ```
//! use twig::http::{Request, Response, Router};
//! use twig::Ctx;
//!
//! let app: Router = Router::new().get("/report", |_: &Request, res: &mut Response, ctx: &mut Ctx| {
//!     let build = || "a report that took a while to compute\n".to_string(); // on a pool thread
//!     let answer = |text: String, res: &mut Response, _: &mut Ctx| res.text(&text); // on the loop
//!     if res.offload(ctx, build, answer).is_err() {
//!         res.status(503).text("busy, try again\n"); // the pool and its queue are full
//!     }
//! });
//! ```
//!
//! **Many cores: N loops, not one loop with locks.** A loop is one thread,
//! so it uses one core. To use more,
//! [`Builder::workers(n)`](crate::Builder::workers) and
//! [`build_workers`](crate::Builder::build_workers) run n independent loops
//! ([`Workers`](crate::Workers), `src/reactor/workers.rs`), each with its own
//! thread, `epoll`, slab, offload pool and listening socket, all bound to
//! the same port with `SO_REUSEPORT`: the kernel spreads new connections
//! across the listeners, and a connection stays on the loop that accepted it
//! for its whole life. Nothing on the request path is shared, so nothing is
//! locked: each loop's state `S` is its own (per loop, not per server), and
//! loops talk through messages (a [`Handle`](crate::Handle) per loop,
//! [`Workers::handles`](crate::Workers::handles)), never through a mutex;
//! `examples/counter_workers.rs` keeps a count across loops that way. What
//! the loops do share is small and off the request path: one stop (a
//! signal or a handle stops them all), the connection count that makes
//! [`max_connections`](crate::Config::max_connections) a limit for the
//! whole server (one atomic step per accept and per close), and the summed
//! [`Stats`](crate::Stats) at the end. `workers(1)`, the default, is the
//! plain single-threaded server: no thread, no atomic. That is nginx's, sozu's and may_minihttp's design; one
//! loop behind a lock would serialize every request on the lock and bounce
//! its cache line between cores.
//!
//! | | Twisted | asyncio | libuv | twig |
//! |---|---|---|---|---|
//! | run blocking work on a pool | `deferToThread(f)` | `loop.run_in_executor(None, f)` | `uv_queue_work(loop, req, work_cb, after_work_cb)` | [`Ctx::offload(work, then)`](crate::Ctx::offload) |
//! | get back on the loop thread | `reactor.callFromThread(f)` | `loop.call_soon_threadsafe(f)` | `uv_async_send(handle)` | [`Handle::post(f)`](crate::Handle::post) |
//! | the result arrives as | the Deferred's callback | the awaited future's value | `after_work_cb(req, status)` | `then(result, ctx)` on the loop thread |
//! | pool size | `reactor.suggestThreadPoolSize(n)` (default 10) | `ThreadPoolExecutor(max_workers=n)` | `UV_THREADPOOL_SIZE` (default 4) | [`offload_threads`](crate::Config::offload_threads) (default 8) |
//! | queue bound | none | none | none | [`offload_queue`](crate::Config::offload_queue) (default 64), then `Full` |
//! | result for a closed connection | the callback runs anyway (check `transport.connected`) | the coroutine resumes anyway | `after_work_cb` runs anyway | dropped and counted |
//! | a job that panics / raises | the Deferred's errback | the future's exception | (C: the process) | the connection closes (`JobPanic`); the thread lives |
//! | many cores | processes sharing a port by hand | processes | one loop per thread, by hand | N loops sharing the port (`SO_REUSEPORT`) |
//!
//! # 10. Where connections come from: Unix sockets, proxies, systemd
//! The lesson's server binds a TCP port and believes `accept`: the address
//! it returns is the client. Deployed, neither holds. A server behind
//! HAProxy accepts from HAProxy; a server on the same machine as its proxy
//! may listen on a file instead of a port; and under systemd the socket
//! exists before the process does. Each is a small change at the edge of
//! the loop, and none touches a protocol.
//!
//! **A file instead of a port.** `Listen::parse("unix:/run/app.sock")`
//! (`src/api/endpoint.rs`, `src/api/listen.rs`) names a Unix-domain
//! socket; [`Server::listen_at`](crate::Server::listen_at) binds it
//! (`src/reactor/listen.rs: bind_unix`). The same `accept` and `epoll`
//! serve it: only the address family differs, so the connection's
//! transport gains one variant (`Transport::Unix`, `src/conn/socket.rs`)
//! and nothing above it changes. Such a client has no address worth the
//! name (it did not bind its end); the kernel says who it is instead:
//! [`Peer::Unix`](crate::Peer) carries its pid, uid and gid (`SO_PEERCRED`),
//! which a peer cannot forge. The file is the part that bites: a server
//! that died leaves it behind, and `bind` then fails. So `bind_unix`
//! first connects to it: refused means stale (replace it), answered means
//! another server is alive (refuse, never steal its socket), and anything
//! that is not a socket is left alone. The file is removed on a clean stop,
//! and its mode ([`Listen::unix_mode`](crate::Listen::unix_mode)) is set
//! before `listen`, so no client can connect before the permissions hold.
//!
//! **The client behind the proxy.** A TCP proxy relays bytes, so `accept`
//! names the proxy. The PROXY protocol (HAProxy's `send-proxy`) fixes that
//! with a header the proxy sends first: `PROXY TCP4 203.0.113.7 192.0.2.1
//! 40001 443\r\n`, or its binary v2 form. In twig it is a state of the
//! machine (chapter 4): a connection accepted on a listener with
//! [`Listen::proxy_protocol`](crate::Listen::proxy_protocol) starts in
//! `Life::ProxyHeader`, whose one action, `ReadProxyHeader`
//! (`src/conn/proxy_read.rs`), **peeks** at the socket (`recv` with
//! `MSG_PEEK`) and hands the bytes to the parser (`src/proxy_header.rs`,
//! on the `ppp` crate). Not enough yet: wait for the next edge. A whole
//! header: read exactly its length, no more, so the first request (or a
//! TLS ClientHello) that came in the same segment stays in the kernel for
//! the next state, and the machine keeps the read edge, since no new edge
//! will announce bytes that are already there. The named client becomes
//! [`Ctx::peer`](crate::Ctx::peer); the proxy stays in
//! [`Ctx::proxied`](crate::Ctx::proxied). Not a header, too long, or
//! unfinished at EOF or at
//! [`proxy_header_timeout`](crate::Config::proxy_header_timeout): closed,
//! with [`CloseReason::ProxyHeader`](crate::CloseReason::ProxyHeader),
//! before the protocol has seen a byte. A proxy's health check that
//! connects and closes is an ordinary EOF; one that sends a v2 `LOCAL`
//! header is served as the proxy itself.
//!
//! ```no_run
//! # use twig::{After, Ctx, Frame, Protocol, framing};
//! use twig::{Listen, Server};
//!
//! struct WhoAmI;
//! impl Protocol for WhoAmI {
//!     fn frame(&mut self, input: &[u8]) -> Frame { framing::line(input) }
//!     fn reply(&mut self, _line: &[u8], ctx: &mut Ctx) -> After {
//!         // Behind HAProxy: the client's address, not HAProxy's.
//!         let text = format!("you are {}\n", ctx.peer());
//!         ctx.write(text.as_bytes());
//!         After::Close
//!     }
//! }
//!
//! let mut server = Server::new(())?;
//! // systemd's sockets if it passed any (LISTEN_FDS), else bind the address.
//! for listen in Listen::from_systemd_or("127.0.0.1:7000")? {
//!     server.listen_at(listen.proxy_protocol(true), || WhoAmI)?;
//! }
//! server.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! **A socket older than the process.** Under systemd socket activation
//! the service manager binds the socket and starts the server with it open
//! as fd 3 (and says so in `LISTEN_FDS` and `LISTEN_PID`).
//! [`Listen::from_systemd`](crate::Listen::from_systemd)
//! (`src/api/activation.rs`) takes those descriptors (through the
//! `listenfd` crate, which holds the one `unsafe` step of turning a number
//! into a socket) and `listen_at` registers them like any other. Clients
//! that connect while the process restarts wait in the socket's backlog
//! instead of being refused. `docs/deploy.md` puts the three together:
//! processes behind HAProxy with PROXY v2 health checks, draining one for a
//! deploy, nginx `stream`, and systemd units.
