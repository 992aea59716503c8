//! The transitions: [`by_the_rules`] applies one event, settles the transitions
//! that need no event, then says what to do in the state reached. Every
//! rule of the connection's life is in this file, but the TLS handshake's
//! three, which are in `handshake.rs`.

use super::commands::{self, closing};
use super::{
    Action, Ending, Event, Input, Life, Output, ReadEdge, Ready, Relay, State, Timeout, WriteEdge,
    Wrote,
};
use super::{handshake, proxy_header};
use crate::conn::close::CloseReason;

/// The machine by its rules, for any state and event: the state after
/// `event`, and the one action the driver carries out next (whose outcome
/// is the next event). [`next`](super::next) is this, with a shortcut for
/// the common case.
#[inline(never)]
pub(super) fn by_the_rules(state: State, event: Event) -> (State, Action) {
    if let Some(failed) = connect_failure(state, event) {
        return failed;
    }
    let state = settle(apply(state, event));
    (state, decide(&state))
}

/// Which timeout applies in `state`.
pub fn timeout(state: &State) -> Timeout {
    match state.life {
        Life::Connecting => Timeout::Connect,
        Life::Handshaking => Timeout::Handshake,
        Life::ProxyHeader => Timeout::ProxyHeader,
        // Code paused reading: nothing is awaited from the peer (a response
        // the server streams, a relay holding one side back), so no input
        // timeout runs; the write timeout does as soon as bytes are owed.
        Life::Opening | Life::Open | Life::Draining
            if !state.is_owing() && state.input == Input::Paused =>
        {
            Timeout::None
        }
        Life::Opening | Life::Open | Life::Draining if !state.is_owing() => Timeout::Input,
        Life::Opening | Life::Open | Life::Draining | Life::Closing(_) => Timeout::Write,
        Life::Lingering(_) => Timeout::Linger,
        Life::Closed(_) => Timeout::None,
    }
}

/// An outbound connect that failed, or timed out: the protocol hears of it
/// (`on_connect_failed`), then the connection closes.
#[inline(always)]
fn connect_failure(state: State, event: Event) -> Option<(State, Action)> {
    let failed = matches!(
        (state.life, event),
        (
            Life::Connecting,
            Event::Connected(Some(false)) | Event::Deadline(_)
        )
    );
    failed.then_some((
        State {
            life: Life::Closed(CloseReason::ConnectFailed),
            ..state
        },
        Action::ConnectFailed,
    ))
}

/// The state after one event, before settling.
#[inline(always)]
fn apply(mut s: State, event: Event) -> State {
    if !s.is_live() {
        return s; // closed is final: stale outcomes change nothing
    }
    match event {
        Event::Poke => {}
        Event::Ready { read, write, hup } => {
            if hup || (read && s.ready.read == ReadEdge::HupDrained) {
                s.ready.read = ReadEdge::Hup;
            } else if read && s.ready.read == ReadEdge::Drained {
                s.ready.read = ReadEdge::Pending;
            }
            if write {
                s.ready.write = WriteEdge::Pending;
            }
        }
        Event::Read { short } => s = read(s, short),
        // Defined as the two events it stands for (the read settles
        // before the answer, as it would between two steps).
        Event::ReadAnswered {
            short,
            ending,
            wrote: w,
        } => s = answered(settle(read(s, short)), ending, w),
        Event::ReadEof => {
            s.ready.read = ReadEdge::Drained;
            match s.life {
                Life::Lingering(reason) => s.life = Life::Closed(reason),
                // Closed before sending a byte: a load balancer's TCP check.
                Life::ProxyHeader => s.life = Life::Closed(CloseReason::Eof),
                _ => s.input = Input::Eof,
            }
        }
        Event::ReadBlocked => {
            s.ready.read = match s.ready.read {
                ReadEdge::Hup | ReadEdge::HupDrained => ReadEdge::HupDrained,
                _ => ReadEdge::Drained,
            }
        }
        Event::WroteAll => s = wrote(s, Wrote::All),
        Event::WrotePart => {} // still owing; the driver continues next turn
        Event::WriteBlocked => s = wrote(s, Wrote::Blocked),
        Event::Abort(reason) | Event::Deadline(reason) => {
            s.life = match s.life {
                Life::Lingering(own) => Life::Closed(own),
                _ => Life::Closed(reason),
            }
        }
        Event::Answered { ending, wrote: w } => s = answered(s, ending, w),
        Event::HookDone(w) => {
            // The hook that was due has run: on_open, or on_drained.
            if s.life == Life::Opening {
                s.life = Life::Open;
            } else if s.output == Output::Drained {
                s.output = Output::Idle;
            }
            s = wrote(s, w);
        }
        Event::JobDone => {
            let back = match s.input {
                Input::Awaiting => Some(Input::Unanswered), // answer what waited
                Input::AwaitingPaused => Some(Input::Paused),
                _ => None,
            };
            if let Some(input) = back {
                s.input = input;
                if s.ready.read == ReadEdge::HupDrained {
                    // The FIN came while it waited: no new edge will say so.
                    s.ready.read = ReadEdge::Hup;
                }
            }
        }
        Event::Delivered(w) => s = wrote(s, w),
        Event::EofHandled {
            keep_open,
            wrote: w,
        } => {
            s = wrote(s, w);
            if keep_open {
                s.input = Input::HalfClosed;
            } else {
                s.life = closing(s.life, CloseReason::Eof);
            }
        }
        Event::Connected(None) => s.ready.write = WriteEdge::Full, // spurious edge
        Event::Connected(Some(_)) => s.life = Life::Opening,
        Event::ShutDone => s.output = Output::Shut,
        Event::SocketError(Some(reason)) => s.life = Life::Closed(reason),
        Event::SocketError(None) => {
            s.ready.read = match s.input {
                // Waiting for a result, the peer only half-closed: the EOF is
                // read (and answered) once the result is back.
                Input::Awaiting | Input::AwaitingPaused => ReadEdge::HupDrained,
                _ => ReadEdge::Drained,
            }
        }
        Event::Shook(shake) => s = handshake::shook(s, shake),
        Event::ProxyHeader(read) => s = proxy_header::read(s, read),
        Event::Command(command) => s = commands::command(s, command),
    }
    s
}

/// Bytes were read: they wait to be answered.
#[inline(always)]
fn read(mut s: State, short: bool) -> State {
    // On Linux a TCP read shorter than the buffer means the receive queue
    // is empty now, so the next read would only say WouldBlock: skip that
    // syscall. Not once the FIN was reported: its edge is spent, so read on
    // to see the 0.
    if short && s.ready.read == ReadEdge::Pending {
        s.ready.read = ReadEdge::Drained;
    }
    if s.input == Input::Reading && !matches!(s.life, Life::Lingering(_)) {
        s.input = Input::Unanswered;
    }
    s
}

/// The protocol answered the buffered requests; its replies went out as
/// far as `w` says.
#[inline(always)]
fn answered(mut s: State, ending: Ending, w: Wrote) -> State {
    s = wrote(s, w);
    match ending {
        Ending::Waiting if s.input == Input::Unanswered => s.input = Input::Reading,
        Ending::Waiting | Ending::Backpressure => {}
        // What is left of the input will never be answered.
        Ending::Close => {
            s.life = closing(s.life, CloseReason::Done);
            s.input = Input::Reading;
        }
        Ending::Violation => {
            s.life = closing(s.life, CloseReason::Violation);
            s.input = Input::Reading;
        }
    }
    s
}

/// The write half after a write of owed bytes or of a fresh reply.
#[inline(always)]
fn wrote(mut s: State, wrote: Wrote) -> State {
    match wrote {
        Wrote::Nothing | Wrote::Dropped => {}
        Wrote::All => {
            s.output = match s.output {
                Output::Owing => Output::Drained,
                Output::ShutAfterFlush => Output::Shutting,
                other => other,
            }
        }
        Wrote::Blocked => {
            s.ready.write = WriteEdge::Full;
            s.output = owing(s.output);
        }
        Wrote::Queued => s.output = owing(s.output),
        Wrote::Failed(reason) => s.life = Life::Closed(reason),
    }
    s
}

/// The write half once bytes are owed.
#[inline(always)]
fn owing(output: Output) -> Output {
    match output {
        Output::Idle | Output::Drained | Output::Owing => Output::Owing,
        Output::Shutting | Output::ShutAfterFlush => Output::ShutAfterFlush,
        Output::Shut => Output::Shut,
    }
}

/// The transitions that need no event: they follow from the state alone.
#[inline(always)]
fn settle(mut s: State) -> State {
    if let Life::Open | Life::Draining = s.life {
        let stopping = s.life == Life::Draining;
        let done = match s.input {
            // Both directions are done.
            Input::HalfClosed if s.output == Output::Shut => Some(CloseReason::Done),
            // Stopping: nothing more is awaited from these.
            Input::HalfClosed | Input::Paused if stopping => Some(CloseReason::Shutdown),
            Input::Reading if stopping && !s.ready.is_readable() => Some(CloseReason::Shutdown),
            _ => None,
        };
        if let Some(reason) = done {
            s.life = Life::Closing(reason);
        }
    }
    if let Life::Closing(reason) = s.life
        && s.output == Output::Shut
    {
        s.life = if matches!(s.input, Input::Eof | Input::HalfClosed) {
            Life::Closed(reason) // the peer has closed its side already
        } else {
            Life::Lingering(reason)
        };
    }
    s
}

/// What to do in a settled state.
#[inline(always)]
fn decide(s: &State) -> Action {
    let writable = s.ready.write == WriteEdge::Pending;
    let readable = s.ready.is_readable();
    match s.life {
        Life::Closed(reason) => Action::Close(reason),
        Life::Connecting if writable => Action::CheckConnect,
        Life::Connecting => Action::Wait,
        Life::Handshaking => handshake::decide(s),
        Life::ProxyHeader => proxy_header::decide(s),
        Life::Opening => Action::CallOnOpen,
        Life::Lingering(_) if readable => Action::Discard,
        Life::Lingering(_) => Action::Wait,
        Life::Closing(_) => match s.output {
            Output::Owing | Output::ShutAfterFlush if writable => Action::Flush,
            Output::Owing | Output::ShutAfterFlush => Action::Wait,
            Output::Idle | Output::Drained | Output::Shutting => Action::ShutWrite,
            Output::Shut => Action::Wait, // settled into Lingering or Closed
        },
        Life::Open | Life::Draining => {
            match s.output {
                Output::Owing | Output::ShutAfterFlush if writable => return Action::Flush,
                Output::Drained => return Action::CallOnDrained,
                Output::Shutting => return Action::ShutWrite,
                _ => {}
            }
            // Owing: write before reading (backpressure for free), unless
            // relaying.
            let may_read = !s.is_owing() || s.relay == Relay::ReadWhileOwing;
            match s.input {
                _ if !may_read => Action::Wait,
                Input::Unanswered => Action::Answer,
                Input::Reading if readable => Action::Read,
                Input::Eof => Action::CallOnEof,
                // A new edge after EOF: the peer may have reset.
                Input::HalfClosed if readable => Action::CheckError,
                // The peer hung up while its result is awaited: a reset ends
                // the connection now (the result is then dropped); a
                // half-close waits for the result.
                Input::Awaiting | Input::AwaitingPaused if s.ready.read == ReadEdge::Hup => {
                    Action::CheckError
                }
                Input::Reading
                | Input::HalfClosed
                | Input::Paused
                | Input::Awaiting
                | Input::AwaitingPaused => Action::Wait,
            }
        }
    }
}

impl Ready {
    /// Whether the read direction may have something to read.
    pub fn is_readable(&self) -> bool {
        matches!(self.read, ReadEdge::Pending | ReadEdge::Hup)
    }

    /// Both edges used up.
    pub const NONE: Ready = Ready {
        read: ReadEdge::Drained,
        write: WriteEdge::Full,
    };
}
