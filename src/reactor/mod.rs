//! The loop: one thread owns the poll, the listeners, the connection slab
//! and the protocol table beside it, the timers and the user's state.
//!
//! - `server.rs`: the [`Server`](crate::Server) and its public methods;
//! - `turn.rs`: one turn as named phases (poll, dispatch, accept, drive,
//!   deadlines and timers, posted jobs, stop, reap);
//! - `sleep.rs`: how long `poll` may sleep (the nearest deadline);
//!   `poll.rs`: the sleep itself, `epoll_wait` on the instance mio built;
//! - `listen.rs`: listening sockets, TCP and Unix (binding, a stale socket
//!   file, systemd's), and accepting from either;
//! - `listeners.rs`: the server's `listen` and `listen_at`;
//! - `accept.rs`: the accept policy (budgets, limits, exhaustion);
//! - `cycle.rs`: an event for a connection, and the request cycle (the
//!   path of an ordinary request: read, answer, read again);
//! - `drive.rs`: carries out a connection's machine actions;
//! - `answer.rs`: the frame/reply loop over buffered input;
//! - `hooks.rs`: calling user code safely, and writing its reply;
//! - `timeouts.rs`: arming and firing connection deadlines;
//! - `contracts.rs`: the contract checks of debug builds (`contracts/ledger.rs`
//!   what they remember); absent from release builds;
//! - `lifecycle.rs`: timers, posted jobs, signals, the graceful stop, reaping;
//! - `core.rs` and `commands.rs`: the [`Core`](crate::Core) callbacks see;
//!   `open.rs`: opening connections (connect, and the slab entry);
//! - `protocols.rs`: the protocol table;
//! - `snapshot.rs`: the read-only view observers take of the `Core`
//!   (`twig::admin`);
//! - `workers.rs`: [`Workers`](crate::Workers), N loops on one port
//!   (`workers_listen.rs`: their listeners);
//!   `remote.rs`: each loop's thread; `group.rs`: the little the loops
//!   share (the connection count, each other's handles).
//! - `upgrade.rs`: restarting without dropping clients (listener handoff
//!   to a new copy of the program; `handoff.rs`: what a handle shares
//!   with the loop about it);
//! - `tls_listen.rs`, `tls_accept.rs`: TLS listeners (`Server::listen_tls`)
//!   and the accept of a client on one (the `tls` feature).
//!
//! Imports point down: reactor → conn, time; the only circle is the user
//! contract, `core.rs` ↔ `api/ctx.rs` ↔ `api/protocol.rs` (see
//! `core.rs`).

pub(crate) mod accept;
pub(crate) mod answer;
pub(crate) mod commands;
#[cfg(debug_assertions)]
pub(crate) mod contracts;
pub(crate) mod core;
pub(crate) mod cycle;
pub(crate) mod drive;
pub(crate) mod group;
pub(crate) mod handoff;
pub(crate) mod hooks;
pub(crate) mod lifecycle;
pub(crate) mod listen;
pub(crate) mod listeners;
pub(crate) mod open;
pub(crate) mod poll;
pub(crate) mod protocols;
pub(crate) mod remote;
pub(crate) mod server;
pub(crate) mod sleep;
pub(crate) mod snapshot;
pub(crate) mod timeouts;
#[cfg(feature = "tls")]
pub(crate) mod tls_accept;
#[cfg(feature = "tls")]
pub(crate) mod tls_listen;
pub(crate) mod turn;
pub(crate) mod upgrade;
pub(crate) mod workers;
pub(crate) mod workers_listen;
