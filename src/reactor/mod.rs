//! The loop: one thread owns the poll, the listeners, the connection slab
//! and the protocol table beside it, the timers and the user's state.
//!
//! - [`server`]: the [`Server`](crate::Server) and its public methods;
//! - [`turn`]: one turn as named phases (poll, dispatch, accept, drive,
//!   deadlines and timers, posted jobs, stop, reap);
//! - [`accept`]: listeners and the accept policy;
//! - [`drive`]: carries out a connection's machine actions;
//! - [`answer`]: the frame/reply loop over buffered input;
//! - [`hooks`]: calling user code safely, and writing its reply;
//! - [`timeouts`]: arming and firing connection deadlines;
//! - [`lifecycle`]: timers, posted jobs, signals, the graceful stop, reaping;
//! - [`core`] and [`commands`]: the [`Core`](crate::Core) callbacks see;
//! - [`protocols`]: the protocol table.
//!
//! Imports point down: reactor → conn, time; the only circle is the user
//! contract, `core.rs` ↔ `api/ctx.rs` ↔ `api/protocol.rs` (see
//! [`core`]).

pub(crate) mod accept;
pub(crate) mod answer;
pub(crate) mod commands;
pub(crate) mod core;
pub(crate) mod drive;
pub(crate) mod hooks;
pub(crate) mod lifecycle;
pub(crate) mod protocols;
pub(crate) mod server;
pub(crate) mod timeouts;
pub(crate) mod turn;
