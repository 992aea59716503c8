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
//! to try it:
//!
//! ```
//! use std::io::{Read, Write};
//! use twig::{After, Ctx, Frame, Protocol, Server};
//!
//! struct ReplyYes;
//!
//! impl Protocol for ReplyYes {
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
//!     let addr = server.listen("127.0.0.1:0", || ReplyYes)?;
//!     let handle = server.handle();
//!     let client = std::thread::spawn(move || -> std::io::Result<String> {
//!         let mut socket = std::net::TcpStream::connect(addr)?;
//!         socket.write_all(b"can you hear me?")?;
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
//! talking to other connections, timers and outbound connections, using the
//! examples.
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
//! 3. dispatches each event by token: a listener (accept until `WouldBlock`),
//!    a connection (run its state machine), the waker (jobs posted from
//!    other threads), or a signal;
//! 4. fires due connection deadlines and timers, runs posted jobs;
//! 5. removes the connections that closed during the turn.
//!
//! Run any example with `RUST_LOG=trace` to watch the loop narrate each turn:
//! every wake-up, event, syscall result and state change.
//!
//! # Lifecycle of a connection
//! ```text
//!  accept ─▶ Reading ──frame(): Complete──▶ reply() ──socket took it all──▶ Reading
//!              │  ▲                              │ socket full
//!              │  └────────── flushed ◀─ Writing ◀┘   (reads nothing: backpressure)
//!              ├── After::Close / violation / EOF / stop ─▶ Closing ─flushed─▶ Lingering ─peer EOF─▶ Closed
//!              └── reset, error, panic, timeout ──────────────────────────────────────────────────▶ Closed
//! ```
//! - **Accepted**: registered once with the poll for both directions, with
//!   `TCP_NODELAY`; [`Protocol::on_open`] runs (it may write a greeting).
//! - **Reading**: bytes are read into one loop-wide buffer; complete requests
//!   are answered in order (pipelining); only a partial request is kept, in
//!   the connection's own buffer. An idle connection holds no buffer.
//! - **Writing**: a reply is written at once; if the socket does not take it
//!   all, the rest is kept and the connection reads nothing more until it is
//!   flushed. That is backpressure: a client that does not read stops being
//!   read, and the memory it can pin stays bounded.
//! - **Closing** (the protocol said [`After::Close`], the peer sent EOF, the
//!   input broke the protocol, or the server is stopping): what is owed is
//!   flushed, the write side is shut down, and the connection **lingers** —
//!   discarding input until the peer closes too — so our close does not
//!   become a reset that destroys the last reply.
//! - **Closed**: at once on a reset, a socket error, a panic in protocol
//!   code, or a timeout; [`Protocol::on_close`] runs with the
//!   [`CloseReason`], counted in [`Stats`].
//!
//! Timeouts (all in [`Config`], on by default): *idle* (no request for a
//! while), *request* (a request started but never finished: a client
//! dribbling one byte a second cannot hold a slot), *write* (a client that
//! stopped reading cannot hold a slot), *linger*.
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
//!
//! # Limits
//! Every limit has a safe default and a builder setter: connections
//! ([`Config::max_connections`], with an explicit [`AtCapacity`] policy),
//! request size, output per connection, per-turn fairness budgets for
//! accepts and bytes, and accept back-off when the process runs out of file
//! descriptors. Nothing a peer does can stop the loop: errors close only that
//! connection, and a panic in protocol code closes only its connection.
#![deny(missing_docs)]
// The README's example is compiled as a doctest, so it cannot drift from the API.
#![cfg_attr(doctest, doc = include_str!("../README.md"))]
#![forbid(unsafe_code)]

pub mod api;
pub mod conn;
pub mod cookbook;
pub mod framing;
pub mod guide;
pub mod http;
pub mod reactor;
pub(crate) mod time;

pub use crate::api::config::{AtCapacity, Builder, Config};
pub use crate::api::ctx::Ctx;
pub use crate::api::handle::Handle;
pub use crate::api::protocol::{After, Frame, Protocol, Violation};
pub use crate::api::stats::Stats;
pub use crate::api::turn::{Turn, WakeReason};
pub use crate::conn::close::CloseReason;
pub use crate::conn::id::ConnId;
pub use crate::reactor::core::{Core, SendError};
pub use crate::reactor::server::Server;
pub use crate::time::timers::TimerId;
