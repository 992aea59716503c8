//! The PROXY header stage's rules: what [`Event::ProxyHeader`](super::Event::ProxyHeader)
//! does to a [`Life::ProxyHeader`] connection, and what such a connection
//! does next. Kept beside `rules.rs` (which calls these from `apply` and
//! `decide`; an EOF before any byte is there too), as the TLS handshake's
//! are in `handshake.rs`.
//!
//! The driver peeks at the socket (`recv(MSG_PEEK)`), so nothing past the
//! header is taken off it: a TLS ClientHello or the first request that
//! came in the same segment stays in the kernel for the next stage, which
//! is why the read edge is kept when the header is done.

use super::{Action, HeaderRead, Life, ReadEdge, State};
use crate::conn::close::CloseReason;

/// How far reading the header got. Only a connection waiting for its
/// header takes it: a stale one changes nothing.
#[inline(always)]
pub(super) fn read(mut s: State, read: HeaderRead) -> State {
    if s.life != Life::ProxyHeader {
        return s;
    }
    match read {
        HeaderRead::Done { tls } => {
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
        HeaderRead::Partial => match s.ready.read {
            // The peer closed its side with the header unfinished: no more
            // of it can come.
            ReadEdge::Hup | ReadEdge::HupDrained => s.life = Life::Closed(CloseReason::ProxyHeader),
            _ => s.ready.read = ReadEdge::Drained,
        },
        HeaderRead::Refused => s.life = Life::Closed(CloseReason::ProxyHeader),
    }
    s
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
