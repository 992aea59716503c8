//! The PROXY header stage's rules: what [`Event::ProxyHeader`] does to a
//! [`Life::ProxyHeader`] connection, and what such a connection does next.
//! Kept beside `rules.rs` (which calls these from `apply` and `decide`), as
//! the TLS handshake's are in `handshake.rs`.
//!
//! The driver peeks at the socket (`recv(MSG_PEEK)`), so nothing past the
//! header is taken off it: a TLS ClientHello or the first request that
//! came in the same segment stays in the kernel for the next stage, which
//! is why the read edge is kept when the header is done.

use super::{Action, Event, HeaderRead, Life, ReadEdge, State};
use crate::conn::close::CloseReason;

/// An event while waiting for the header, if it is one this stage decides
/// (`None`: the general rules apply, e.g. to readiness, a reset or a
/// deadline).
#[inline(always)]
pub(super) fn event(mut s: State, event: Event) -> Option<State> {
    match event {
        Event::ProxyHeader(HeaderRead::Done { tls }) => {
            s.life = if tls {
                Life::Handshaking
            } else {
                Life::Opening
            };
            // What followed the header is still in the socket, and no new
            // edge will say so.
            s.ready.read = match s.ready.read {
                ReadEdge::Hup | ReadEdge::HupDrained => ReadEdge::Hup,
                _ => ReadEdge::Pending,
            };
        }
        Event::ProxyHeader(HeaderRead::Partial) => match s.ready.read {
            // The peer closed its side with the header unfinished: no more
            // of it can come.
            ReadEdge::Hup | ReadEdge::HupDrained => s.life = Life::Closed(CloseReason::ProxyHeader),
            _ => s.ready.read = ReadEdge::Drained,
        },
        Event::ProxyHeader(HeaderRead::Refused) => s.life = Life::Closed(CloseReason::ProxyHeader),
        // Closed before sending a byte: a load balancer's TCP health check.
        Event::ReadEof => s.life = Life::Closed(CloseReason::Eof),
        _ => return None,
    }
    Some(s)
}

/// What a connection waiting for its header does next: peek when the peer
/// may have sent something.
#[inline(always)]
pub(super) fn decide(s: &State) -> Action {
    if s.ready.is_readable() {
        Action::ReadProxyHeader
    } else {
        Action::Wait
    }
}
