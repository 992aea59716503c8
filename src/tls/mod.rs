//! TLS on rustls (the `tls` feature): a transport stage between the socket
//! and the protocol. A protocol written for TCP runs over TLS unchanged:
//! it sees plaintext, `on_open` runs once the handshake is complete.
//!
//! - [`TlsConfig`] / [`TlsBuilder`]: certificates from PEM (several, picked
//!   by SNI), ALPN, or a ready `rustls::ServerConfig`;
//!   [`Server::listen_tls`](crate::Server::listen_tls) serves it;
//! - `stream.rs`: the session on the socket, read and written until
//!   `WouldBlock`, with the ciphertext it could not send yet;
//! - `sniff.rs`: plain HTTP on the TLS port, answered with a plaintext 400.
//!
//! The handshake is a state of the connection machine,
//! [`Life::Handshaking`](crate::conn::machine::Life::Handshaking), with its
//! own timeout ([`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout));
//! failures close with [`CloseReason::Tls`](crate::CloseReason::Tls) (after
//! the alert rustls writes) and are logged at debug, as are peers that
//! close without `close_notify`. Our own close sends `close_notify`, then
//! lingers as a TCP close does.
//!
//! It is a feature because rustls and its `ring` provider are a heavy
//! dependency (a C and assembly build, about a megabyte of code) that a
//! plain-TCP server does not need; without it nothing of rustls is compiled.

mod config;
pub(crate) mod sniff;
pub(crate) mod stream;

pub use config::{ALPN_HTTP1, TlsBuilder, TlsConfig};
