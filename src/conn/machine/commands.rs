//! What a command from user code (close, pause, resume, shut-write, relay,
//! queued output, stop, await an offloaded result) does to a connection's
//! state. Called from `rules.rs`'s `apply`; kept apart so each file stays
//! one concern.

use super::{Command, Input, Life, Output, ReadEdge, State, handshake};
use crate::conn::close::CloseReason;

/// A command from user code.
#[inline(always)]
pub(super) fn command(mut s: State, command: Command) -> State {
    if matches!(s.life, Life::Handshaking | Life::ProxyHeader) {
        let close = match command {
            Command::Close => Some(CloseReason::Done),
            Command::Stop => Some(CloseReason::Shutdown),
            _ => None,
        };
        return handshake::command(s, close);
    }
    match command {
        Command::Close => {
            s.life = match s.life {
                // Nothing was sent yet: there is nothing to flush.
                Life::Connecting => Life::Closed(CloseReason::Done),
                life => closing(life, CloseReason::Done),
            }
        }
        Command::Pause => {
            s.input = match s.input {
                Input::Reading | Input::Unanswered => Input::Paused,
                Input::Awaiting => Input::AwaitingPaused,
                other => other,
            }
        }
        Command::Await => {
            if matches!(s.input, Input::Reading | Input::Unanswered) {
                s.input = Input::Awaiting;
            }
        }
        Command::Resume => {
            s.input = match s.input {
                Input::Paused => Input::Unanswered, // answer what waits first
                Input::AwaitingPaused => Input::Awaiting,
                other => other,
            }
        }
        Command::ShutWrite => {
            s.output = match s.output {
                Output::Idle | Output::Drained => Output::Shutting,
                Output::Owing => Output::ShutAfterFlush,
                other => other,
            }
        }
        Command::SetRelay(relay) => s.relay = relay,
        Command::Queued => {
            if matches!(s.output, Output::Idle | Output::Drained) {
                s.output = Output::Owing;
            }
        }
        Command::Stop => match s.life {
            Life::Connecting => s.life = Life::Closed(CloseReason::Shutdown),
            Life::Opening | Life::Open => {
                s.life = Life::Draining;
                // Look once more for requests that already arrived: they are
                // answered; then the connection closes.
                s.ready.read = match s.ready.read {
                    ReadEdge::Drained => ReadEdge::Pending,
                    ReadEdge::HupDrained => ReadEdge::Hup,
                    edge => edge,
                };
            }
            _ => {}
        },
    }
    s
}

/// Starts closing for `reason`, unless already closing (the first reason wins).
#[inline(always)]
pub(super) fn closing(life: Life, reason: CloseReason) -> Life {
    match life {
        Life::Opening | Life::Open | Life::Draining => Life::Closing(reason),
        other => other,
    }
}
