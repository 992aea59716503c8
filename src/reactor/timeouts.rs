//! Connection timeouts: which deadline a connection's state calls for
//! ([`machine::timeout`]), arming it lazily after each drive, and closing
//! the connections whose deadline passed.
//!
//! - **Input** (not while code has paused reading: nothing is awaited
//!   then): no byte for [`idle_timeout`](crate::Config::idle_timeout),
//!   whether or not a request is in progress, or a request in progress that
//!   started [`request_timeout`](crate::Config::request_timeout) ago,
//!   whichever comes first. A read only stores the time (O(1)); the rule is
//!   checked when the deadline fires, and re-armed if it moved later.
//! - **Write**: owing bytes with no write progress for `write_timeout`.
//! - **Linger**, **Connect**, **Handshake**, **ProxyHeader**: since the write side was shut,
//!   the connect began, or the TLS connection was accepted.

use std::time::Instant;

use log::debug;

use crate::CloseReason;
use crate::api::config::Config;
use crate::conn::connection::Connection;
use crate::conn::id::ConnId;
use crate::conn::machine::{self, Timeout};
use crate::reactor::core::Core;

/// When `conn` times out in its current state, and why.
pub(crate) fn due(config: &Config, conn: &Connection) -> Option<(Instant, CloseReason)> {
    match conn.timing {
        Timeout::Input => {
            let idle = config
                .idle_timeout
                .map(|t| (conn.last_input + t, CloseReason::IdleTimeout));
            let request = conn
                .request_since
                .zip(config.request_timeout)
                .map(|(since, t)| (since + t, CloseReason::RequestTimeout));
            match (idle, request) {
                (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
                (a, b) => a.or(b),
            }
        }
        Timeout::Write => config
            .write_timeout
            .map(|t| (conn.since + t, CloseReason::WriteTimeout)),
        Timeout::Linger => Some((conn.since + config.linger_timeout, CloseReason::Done)),
        Timeout::Connect => Some((
            conn.since + config.connect_timeout,
            CloseReason::ConnectFailed,
        )),
        Timeout::Handshake => Some((
            conn.since + config.tls_handshake_timeout,
            CloseReason::HandshakeTimeout,
        )),
        Timeout::ProxyHeader => Some((
            conn.since + config.proxy_header_timeout,
            CloseReason::ProxyHeader,
        )),
        Timeout::None => None,
    }
}

/// Makes sure the deadline heap will wake the loop for the timeout the
/// connection's state calls for. Per request this is one comparison: while
/// the kind of timeout stays the same, the armed deadline is no later than
/// the real one (its clocks only move forward), and when it fires the real
/// one is checked and re-armed.
#[inline(always)]
pub(crate) fn arm<S>(core: &mut Core<S>, key: usize) {
    let conn = &mut core.conns[key];
    let timing = machine::timeout(&conn.state);
    let starts_request = timing == Timeout::Input && conn.request_since.is_some();
    // Same kind of timeout: the deadline armed (if any: a disabled timeout
    // has none) is no later than the real one, which is checked when it
    // fires. A request that has begun may bring the deadline earlier.
    if timing == conn.timing && !starts_request {
        return;
    }
    conn.timing = timing;
    if let Some((at, _)) = due(&core.config, conn) {
        core.deadlines.arm(conn.id, at, &mut conn.armed);
    }
}

/// The next connection whose timeout has passed, and why; connections
/// whose deadline moved later since it was armed are re-armed on the way.
/// The caller closes it (through its machine: a connect that timed out
/// still hears `on_connect_failed`).
pub(crate) fn next_expired<S>(core: &mut Core<S>) -> Option<(ConnId, CloseReason)> {
    let now = core.now;
    while let Some((at, id)) = core.deadlines.pop_due(now) {
        let Some(conn) = core
            .conns
            .get_mut(id.key())
            .filter(|c| c.id == id && c.state.is_live())
        else {
            continue;
        };
        if conn.armed != Some(at) {
            continue; // superseded by an earlier entry
        }
        conn.armed = None;
        let Some((due, reason)) = due(&core.config, conn) else {
            continue;
        };
        if due > now {
            core.deadlines.arm(id, due, &mut conn.armed);
            continue;
        }
        debug!("{id} {}: {reason} ({:?})", conn.peer, conn.timing);
        return Some((id, reason));
    }
    None
}
