//! The TLS handshake's rules: what [`Event::Shook`] does to a
//! [`Life::Handshaking`] connection, and what such a connection does next.
//! Kept beside `rules.rs` (which calls these two functions from `apply` and
//! `decide`) so that file stays one screenful per concern; the handshake
//! has no other rules.

use super::{Action, Input, Life, Output, ReadEdge, Shake, State, WriteEdge};
use crate::conn::close::CloseReason;

/// A handshake step's outcome. Only a handshaking connection takes it: a
/// stale one changes nothing.
#[inline(always)]
pub(super) fn shook(mut s: State, shake: Shake) -> State {
    if s.life != Life::Handshaking {
        return s;
    }
    let owes = |s: &mut State, owing: bool| {
        if owing {
            s.output = Output::Owing;
            s.ready.write = WriteEdge::Full;
        } else {
            s.output = Output::Idle;
        }
    };
    match shake {
        Shake::Done { owing } => {
            s.life = Life::Opening;
            // The client's first request may have come with its Finished:
            // rustls holds it as plaintext, and no new edge will say so.
            s.ready.read = match s.ready.read {
                ReadEdge::Hup | ReadEdge::HupDrained => ReadEdge::Hup,
                _ => ReadEdge::Pending,
            };
            owes(&mut s, owing);
        }
        Shake::Blocked { owing } => {
            s.ready.read = match s.ready.read {
                ReadEdge::Hup | ReadEdge::HupDrained => ReadEdge::HupDrained,
                _ => ReadEdge::Drained,
            };
            owes(&mut s, owing);
        }
        Shake::Refused(reason) => {
            // The alert (or plaintext 400) is owed: flush it, shut the write
            // side, linger, close.
            s.life = Life::Closing(reason);
            s.input = Input::Reading;
            s.output = Output::Owing;
        }
    }
    s
}

/// A command while handshaking: the protocol has not met the connection
/// yet, so only a close or a stop means anything (there is nothing to flush).
#[inline(always)]
pub(super) fn command(s: State, close: Option<CloseReason>) -> State {
    match close {
        Some(reason) => State {
            life: Life::Closed(reason),
            ..s
        },
        None => s,
    }
}

/// What a handshaking connection does next: a handshake step when the peer
/// may have sent something, or the socket may take what is owed.
#[inline(always)]
pub(super) fn decide(s: &State) -> Action {
    let flush = s.is_owing() && s.ready.write == WriteEdge::Pending;
    if s.ready.is_readable() || flush {
        Action::Handshake
    } else {
        Action::Wait
    }
}
