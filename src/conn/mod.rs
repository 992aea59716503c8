//! The connection layer: what one connection is and how it moves.
//!
//! - [`machine`]: its states as data and the pure transition function; no
//!   I/O (the heart of the lesson, tested as a table);
//! - `connection.rs`: its socket, buffers and clocks;
//! - `socket.rs`: the syscalls it makes, narrated; `transport.rs`: what
//!   they are made on (TCP, Unix-domain, TLS, in memory); `stream.rs`: the
//!   socket accept or connect gave, TCP or Unix-domain;
//! - [`id`]: the generation-tagged ids and their `mio::Token`s;
//! - [`close`]: why a connection ended;
//! - [`peer`]: who is at the other end (TCP, Unix with credentials, or the
//!   client a PROXY header named);
//! - `proxy_read.rs`: the PROXY header stage's syscalls (peek, then read
//!   exactly the header); `tls_step.rs`: the TLS stage's (one handshake step);
//! - `recorder.rs`: its flight recorder; `readiness.rs`: what an epoll
//!   event says of its socket.
//!
//! Nothing here knows the protocol, the slab or the poll: the reactor above
//! drives a connection by feeding its machine events and carrying out the
//! actions it returns.

pub mod close;
pub(crate) mod connection;
#[cfg(feature = "fault-injection")]
pub(crate) mod fault;
pub mod id;
pub mod machine;
pub(crate) mod memory;
pub mod peer;
pub(crate) mod proxy_read;
pub(crate) mod readiness;
pub(crate) mod recorder;
pub(crate) mod socket;
pub(crate) mod stream;
pub(crate) mod tls_step;
pub(crate) mod transport;
