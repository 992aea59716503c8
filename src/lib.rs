//! twig: a small, fast, single-threaded event-loop TCP server framework,
//! hand-built on [`mio`].
//!
//! **The rule.** Every callback runs on the loop's one thread, so it must
//! never block (no blocking I/O, no long computation, no `sleep`): while it
//! runs, every other client waits. And bytes arrive in arbitrary chunks: one
//! read may hold half a request, or several requests at once. You say how to
//! cut one request off the front of the input ([`Protocol::frame`]); twig
//! buffers, calls you once per complete request ([`Protocol::reply`]), and
//! writes your reply.
//!
//! A complete server (the lesson's: answer `Yes`, then close), and a client
//! to try it. The lesson's client sends its question with no end marker and
//! the lesson's server takes whatever one `recv` returned; here the question
//! ends with a newline, so [`framing::line`] can tell a whole request from
//! the first piece of one, however TCP splits the bytes (the
//! [`guide`]'s chapter 1 shows what goes wrong without it):
//!
//! ```
//! use std::io::{Read, Write};
//! use twig::{After, Ctx, Frame, Protocol, Server, framing};
//!
//! struct ReplyYes;
//!
//! impl Protocol for ReplyYes {
//!     fn frame(&mut self, input: &[u8]) -> Frame {
//!         framing::line(input) // a request is one line, up to and including `\n`
//!     }
//!     fn reply(&mut self, request: &[u8], ctx: &mut Ctx) -> After {
//!         println!("request is: {}", String::from_utf8_lossy(request).trim_end());
//!         ctx.write(b"Yes");
//!         After::Close
//!     }
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let mut server = Server::new(())?;
//!     let addr = server.listen("127.0.0.1:0", || ReplyYes)?;
//!     let handle = server.handle();
//!     let client = std::thread::spawn(move || -> std::io::Result<String> {
//!         let mut socket = std::net::TcpStream::connect(addr)?;
//!         socket.write_all(b"can you hear me?\n")?;
//!         let mut reply = String::new();
//!         socket.read_to_string(&mut reply)?;
//!         handle.stop();
//!         Ok(reply)
//!     });
//!     server.run()?;
//!     assert_eq!(client.join().unwrap()?, "Yes");
//!     Ok(())
//! }
//! ```
//!
//! # How the loop works
//! New to event loops? The [`guide`] maps the lesson's blocking Python server
//! onto this loop, syscall by syscall, in seven short chapters. Writing a
//! protocol? The [`cookbook`] walks through framing, replies, shared state,
//! talking to other connections, timers, outbound connections and several
//! loops, using the examples.
//!
//! One thread owns a `mio::Poll` (`epoll` on Linux), the listening sockets,
//! every connection (in a [`slab`]), every timer, and your application state
//! `S`. Because nothing is shared between threads, callbacks get the state as
//! a plain `&mut S` ([`Core::state`]): no locks. Each turn of the loop
//! ([`Server::turn`]; [`Server::run`] repeats it):
//!
//! 1. computes how long it may sleep: until the nearest deadline (timer,
//!    timeout), or not at all if work is pending;
//! 2. `poll`s, then reads the monotonic clock once ([`Core::now`]);
//! 3. dispatches each event by token: a listener (marked readable), a
//!    connection (its state machine is driven), the waker (jobs posted from
//!    other threads), or a signal;
//! 4. accepts from readable listeners until `WouldBlock` (within a budget),
//!    and drives the connections that have work no event announces;
//! 5. fires due connection deadlines and timers, runs posted jobs;
//! 6. removes the connections that closed during the turn.
//!
//! Run any example with `RUST_LOG=trace` to watch the loop narrate each turn:
//! every wake-up, event, syscall result and state change (the [`guide`]'s
//! chapter 7 lists which syscalls, and shows one request).
//!
//! # Lifecycle of a connection
//! Each connection carries its state as data, and one pure function moves
//! it: [`conn::machine::next`]`(state, event) -> (state, action)`. The loop
//! carries out the action (a syscall, or a call into your protocol) and
//! feeds the outcome back as the next event. The state diagram is in
//! [`twig::conn::machine`](crate::conn::machine); in words, a connection's
//! [`Life`](crate::conn::machine::Life) goes:
//! - **Connecting** (outbound connections only, [`Core::connect`]) until the
//!   connect is decided, then **Opening**, as an accepted one starts:
//!   registered once with the poll for both directions, with `TCP_NODELAY`;
//!   [`Protocol::on_open`] runs (it may write a greeting).
//! - **Open**: bytes are read into one loop-wide buffer; complete requests
//!   are answered in order (pipelining); only a partial request is kept, in
//!   the connection's own buffer. An idle connection holds no buffer. A reply
//!   is written at once; if the socket does not take it all, the rest is
//!   owed and the connection reads nothing more until it is flushed. That is
//!   backpressure: a client that does not read stops being read, and the
//!   memory it can pin stays bounded.
//! - **Draining** while the server stops: what has arrived is answered, then
//!   it closes.
//! - **Closing** (the protocol said [`After::Close`], the peer sent EOF, the
//!   input broke the protocol, or a drained connection is done): what is
//!   owed is flushed and the write side is shut down; then **Lingering**:
//!   input is discarded until the peer closes too, so our close does not
//!   become a reset that destroys the last reply.
//! - **Closed**: after lingering, or at once on a reset, a socket error, a
//!   panic in protocol code, or a timeout. It leaves the slab at the end of
//!   the turn, and [`Protocol::on_close`] runs with the [`CloseReason`],
//!   counted in [`Stats`].
//!
//! Timeouts (all in [`Config`], on by default): *idle* (no byte received for
//! a while, even in the middle of a request; not while code paused reading),
//! *request* (a request started
//! long ago and still unfinished: a client dribbling one byte a second
//! cannot hold a slot), *write* (a client that stopped reading cannot hold a
//! slot), *linger*, *connect*.
//!
//! # Lifecycle of the server
//! 1. [`Server::builder`] sets limits; [`Builder::build`] creates the poll
//!    and owns your state.
//! 2. [`Server::listen`] binds (one server may listen on many ports);
//!    [`Server::handle`] gives other threads a [`Handle`]; timers can be set
//!    up through [`Server::core`]; [`Server::stop_on_signals`] makes SIGINT
//!    and SIGTERM stop it gracefully.
//! 3. [`Server::run`] loops until stopped. Stopping ([`Handle::stop`],
//!    [`Core::stop`], a signal) closes the listeners at once (the port is
//!    free for a new process), answers requests already received, flushes
//!    replies in flight, closes idle connections, and force-closes whatever
//!    is left after [`Config::drain_timeout`]. Then `run` returns the
//!    [`Stats`] and logs them as one line.
//! 4. To restart without dropping a client, [`Handle::upgrade`] (or
//!    SIGUSR2 after `stop_on_signals`) starts a new copy of the program and
//!    hands it the listening sockets as systemd would ([`Listen::from_systemd`]
//!    takes them there); once the new copy's `run` says it is ready, this
//!    one stops as in step 3. See `docs/operate.md`.
//!
//! # Where it listens
//! [`Server::listen`] binds a TCP address. [`Server::listen_at`] takes a
//! [`Listen`]: a TCP address or a Unix-domain socket (an [`Endpoint`],
//! parsed from `host:port` or `unix:/path`), or a socket systemd passed in
//! ([`Listen::from_systemd`]), with a PROXY protocol header expected first
//! ([`Listen::proxy_protocol`]: the client it names becomes
//! [`Ctx::peer`], a [`Peer`]) and, with the `tls` feature, TLS.
//! [`Core::connect_unix`] opens an outbound Unix-domain connection.
//! `docs/deploy.md` shows them behind HAProxy, nginx and systemd; guide
//! chapter 10 explains how each works.
//!
//! # More cores: N loops, state per loop
//! One loop uses one core. [`Builder::workers`]`(n)` with
//! [`Builder::build_workers`] runs n independent loops in one process
//! ([`Workers`]), shared-nothing like nginx's workers: each has its own
//! thread, poll, connections, timers and listening socket on the same port
//! (`SO_REUSEPORT`; the kernel spreads new clients over them). **Application
//! state is per loop**: each loop owns its own `S` and gets it as `&mut S`,
//! still without locks, so state that must span loops travels as messages —
//! post to another loop through its [`Handle`] ([`Workers::handles`]), as
//! `examples/counter_workers.rs` does to keep one count across loops. One
//! stop (any loop's handle, [`Core::stop`], a signal) stops every loop;
//! [`Config::max_connections`] bounds them all together; [`Workers::run`]
//! returns each loop's [`Stats`] and their sum. With one loop (the
//! default) it is exactly a [`Server`] on the calling thread.
//!
//! # Blocking work: the offload pool
//! Callbacks must not block: one loop serves every client. Blocking work (a
//! file, a DNS lookup, a database driver, a hash) goes to a bounded pool of
//! threads with [`Ctx::offload`] (or [`http::Response::offload`] in an HTTP
//! handler), and its result comes back to the loop thread as a callback of
//! the same connection, in order with its other requests; nothing more is
//! read from it meanwhile. A result for a connection that closed is dropped
//! and counted; a full pool says [`OffloadError::Full`] at once (answer
//! "busy"); a job that panics closes only its connection. No thread starts
//! until the first job; with N loops each loop has its own pool. Guide
//! chapter 9 and `examples/work_server.rs` show it.
//!
//! # Limits
//! Every limit has a safe default and a builder setter (the table of every
//! default is on [`Config`]): connections
//! ([`Config::max_connections`], with an explicit [`AtCapacity`] policy),
//! request size, output per connection, per-turn fairness budgets for
//! accepts and bytes, and accept back-off when the process runs out of file
//! descriptors. Nothing a peer does can stop the loop: errors close only that
//! connection, and a panic in protocol code closes only its connection.
#![deny(missing_docs)]
// The README's example is compiled as a doctest, so it cannot drift from the API.
#![cfg_attr(doctest, doc = include_str!("../README.md"))]
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod conn;
pub mod cookbook;
pub mod framing;
pub mod guide;
pub mod http;
pub mod offload;
pub(crate) mod proxy_header;
pub mod reactor;
pub mod testing;
pub(crate) mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod ws;

pub use crate::api::config::{AtCapacity, Builder, Config};
pub use crate::api::ctx::Ctx;
pub use crate::api::endpoint::Endpoint;
pub use crate::api::handle::Handle;
pub use crate::api::listen::Listen;
pub use crate::api::protocol::{After, Frame, Protocol, Violation};
pub use crate::api::stats::{Stats, WorkerStats};
pub use crate::api::turn::{Turn, WakeReason};
pub use crate::conn::close::CloseReason;
pub use crate::conn::id::ConnId;
pub use crate::conn::peer::{Credentials, Peer, Proxied};
pub use crate::offload::OffloadError;
pub use crate::reactor::commands::SendError;
pub use crate::reactor::core::Core;
pub use crate::reactor::server::Server;
pub use crate::reactor::workers::Workers;
pub use crate::time::timers::TimerId;
