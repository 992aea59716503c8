//! The connection state machine: what a connection is doing, as data, and
//! the one pure function that moves it. No socket, slab, poll or clock here:
//! [`next`] maps `(state, event)` to `(state, action)`, the driver in
//! [`reactor::drive`](crate::reactor) carries the action out and feeds its
//! outcome back as the next event.
//!
//! ```text
//!            ┌──────────── Life ───────────────────────────────────────────────────┐
//!  connect ─▶│ Connecting ─connected─▶ Opening ─on_open─▶ Open ─stop─▶ Draining    │
//!  accept ──▶│                            ▲                  │             │        │
//!            │  TLS accept ─▶ Handshaking ┴─ Shook(Done)      ▼             ▼        │
//!            │   (Shook(Refused): Closing(Tls); handshake timeout ─▶ Closed)        │
//!            │  PROXY listener: ProxyHeader ─header read─▶ Handshaking or Opening   │
//!            │   (refused, unfinished at EOF, or its timeout ─▶ Closed(ProxyHeader)) │
//!            │        Close / violation / EOF / nothing left to drain ─▶ Closing(r) │
//!            │        Closing(r) ─flushed, write side shut─▶ Lingering(r) ─EOF─▶ Closed(r)
//!            │        reset, error, timeout, panic ─────────────────────────▶ Closed(r)
//!            └─────────────────────────────────────────────────────────────────────┘
//!  Input (read half):   Reading ⇄ Unanswered (bytes to answer)   Paused   Eof ─on_eof─▶ HalfClosed
//!                       offload: Awaiting ─result back─▶ Unanswered   (paused meanwhile: AwaitingPaused ─▶ Paused)
//!  Output (write half): Idle ─reply, socket full─▶ Owing ─flushed─▶ Drained ─on_drained─▶ Idle
//!                       shut_write: ShutAfterFlush ─flushed─▶ Shutting ─shutdown(2)─▶ Shut
//! ```
//!
//! The rules the table in `machine/tests.rs` checks for every pair, and the
//! property test drives through random sequences:
//! - nothing is written once the write side is [`Output::Shut`];
//! - nothing is read while bytes are owed, unless the connection relays
//!   ([`Relay::ReadWhileOwing`]): backpressure for free;
//! - every state that waits on the peer has a timeout ([`timeout`]);
//! - a connection whose peer sent EOF and whose bytes are flushed ends in
//!   [`Life::Closed`].
//!
//! Readiness is edge-triggered (see [`Ready`]): an edge is remembered until a
//! syscall says the socket is drained (or full), and acted on later if the
//! state did not allow acting at once, since no second edge will come.
//!
#![doc = include_str!("machine/table.md")]

use crate::conn::close::CloseReason;

/// Everything the machine knows about one connection. Small and `Copy`:
/// [`next`] takes it by value and returns the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// Where the connection is in its life.
    pub life: Life,
    /// The read half.
    pub input: Input,
    /// The write half.
    pub output: Output,
    /// Readiness edges not yet used up.
    pub ready: Ready,
    /// Whether it reads while it owes.
    pub relay: Relay,
}

/// A connection's life, from connect (or accept) to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// An outbound connect is in progress: waits for the writable edge, then
    /// asks the socket how it went.
    Connecting,
    /// Accepted on a listener that expects a PROXY protocol header
    /// ([`Listen::proxy_protocol`](crate::Listen::proxy_protocol)): the
    /// header is read ([`Action::ReadProxyHeader`]) before anything else,
    /// under its own timeout ([`Timeout::ProxyHeader`]); then the TLS
    /// handshake (on a TLS listener) or `on_open`.
    ProxyHeader,
    /// Accepted on a TLS listener: the handshake runs, driven by the read
    /// and write edges ([`Action::Handshake`]), under its own timeout
    /// ([`Timeout::Handshake`]). The protocol knows nothing of it yet:
    /// `on_open` runs once it is complete ([`Shake::Done`]), and the idle
    /// and request timeouts start then.
    Handshaking,
    /// Established; `on_open` has not run yet.
    Opening,
    /// Serving: reads, answers, writes.
    Open,
    /// Serving while the server stops: what has arrived is answered, then it
    /// closes with [`CloseReason::Shutdown`] instead of waiting for more.
    Draining,
    /// Flushing what is owed, then shutting the write side, for this reason.
    Closing(CloseReason),
    /// Write side shut: discards the peer's input until its EOF (or the
    /// linger deadline), so unread input does not turn our close into a
    /// reset that destroys the last reply.
    Lingering(CloseReason),
    /// Finished: leaves the slab at the end of the loop turn.
    Closed(CloseReason),
}

/// The read half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Waiting for (more of) a request.
    Reading,
    /// Bytes arrived (or were left unanswered for backpressure) and must be
    /// offered to the protocol before anything more is read.
    Unanswered,
    /// Code paused reading (`Core::pause_reading`); resuming answers what
    /// is buffered first.
    Paused,
    /// The peer sent EOF; `on_eof` has not run yet.
    Eof,
    /// `on_eof` kept the connection open: nothing more will be read.
    HalfClosed,
    /// A callback offloaded work to the pool (`Ctx::offload`): its result
    /// answers the request in progress, so later requests wait behind it
    /// and nothing more is read until it is back (backpressure, as for
    /// writes). The idle and request timeouts still apply.
    Awaiting,
    /// Awaiting, and code paused reading meanwhile: once the result is
    /// back it is [`Input::Paused`].
    AwaitingPaused,
}

/// The write half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Nothing owed.
    Idle,
    /// Owes bytes the socket would not take yet: waits for the writable
    /// edge (and, unless relaying, reads nothing meanwhile).
    Owing,
    /// What was owed is written: `on_drained` is due.
    Drained,
    /// Code asked to shut the write side; bytes are still owed.
    ShutAfterFlush,
    /// Nothing owed and the write side is to be shut now.
    Shutting,
    /// The write side is shut: nothing more can be sent.
    Shut,
}

/// Readiness edges the loop has seen and not yet used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The read direction.
    pub read: ReadEdge,
    /// The write direction.
    pub write: WriteEdge,
}

/// What the loop knows of the read direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEdge {
    /// A read said the socket is drained: wait for the next edge.
    Drained,
    /// An edge came: there may be bytes (or an EOF, or an error) to read.
    Pending,
    /// The peer's FIN was reported: its edge is spent, so a short read no
    /// longer proves the socket drained; read on until the 0.
    Hup,
    /// The FIN was reported, yet a read said `WouldBlock` (a spurious one):
    /// wait for the next edge, then read on until the 0 as for `Hup`.
    HupDrained,
}

/// What the loop knows of the write direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEdge {
    /// A write said the socket is full: wait for the writable edge.
    Full,
    /// The socket may take bytes.
    Pending,
}

/// Whether a connection reads while it owes (`Core::read_while_owing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Reads nothing while it owes: backpressure for free (the default).
    Off,
    /// Reads on while it owes, so two relays that both owe cannot deadlock;
    /// its code bounds memory with `pause_reading`.
    ReadWhileOwing,
}

/// What the driver does next. Exactly one per step; [`Action::Wait`] ends
/// the step until the next event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do until an edge, a command or a deadline.
    Wait,
    /// `read` into the loop's buffer, and offer what came to the protocol
    /// at once (bytes read are always answered next, so the driver does
    /// both and reports [`Event::ReadAnswered`]).
    Read,
    /// `read` and throw it away (lingering).
    Discard,
    /// Offer the buffered input to the protocol (`frame`/`reply`).
    Answer,
    /// Write owed bytes.
    Flush,
    /// `shutdown(Write)`.
    ShutWrite,
    /// Ask the socket whether the connect succeeded.
    CheckConnect,
    /// Ask the socket for `SO_ERROR` (edge after EOF).
    CheckError,
    /// One TLS handshake step: read until `WouldBlock`, write what the
    /// handshake owes; its outcome is [`Event::Shook`].
    Handshake,
    /// Peek at the socket for the PROXY header, and read exactly the header
    /// once it is whole; its outcome is [`Event::ProxyHeader`].
    ReadProxyHeader,
    /// Call `on_open`.
    CallOnOpen,
    /// Call `on_eof` with what is left of the input.
    CallOnEof,
    /// Call `on_drained`.
    CallOnDrained,
    /// Call `on_connect_failed`, then close with `ConnectFailed`.
    ConnectFailed,
    /// The connection has just closed, for this reason: stop driving it.
    Close(CloseReason),
}

/// Which timeout applies in a state (the driver turns it into a deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Waiting for the peer's bytes: idle (no byte for a while) or request
    /// (a request started long ago), whichever comes first.
    Input,
    /// Owes bytes: write timeout.
    Write,
    /// Lingering: linger timeout.
    Linger,
    /// Connecting: connect timeout.
    Connect,
    /// Handshaking: TLS handshake timeout.
    Handshake,
    /// Waiting for the PROXY header: its timeout.
    ProxyHeader,
    /// Closed, or paused by code with nothing owed (nothing awaited): none.
    None,
}

impl State {
    /// A connection just accepted: `on_open` is due; readiness arrives with
    /// the first event, but a fresh socket's send buffer is empty, so writes
    /// are tried at once.
    pub const ACCEPTED: State = State {
        life: Life::Opening,
        input: Input::Reading,
        output: Output::Idle,
        ready: Ready {
            read: ReadEdge::Drained,
            write: WriteEdge::Pending,
        },
        relay: Relay::Off,
    };

    /// An outbound connection whose connect is in progress: the writable
    /// edge says it ended.
    pub const CONNECTING: State = State {
        life: Life::Connecting,
        ready: Ready {
            read: ReadEdge::Drained,
            write: WriteEdge::Full,
        },
        ..State::ACCEPTED
    };

    /// A connection just accepted on a TLS listener: the handshake is due,
    /// and starts with the client's first bytes (the readable edge).
    pub const HANDSHAKING: State = State {
        life: Life::Handshaking,
        ..State::ACCEPTED
    };

    /// A connection just accepted on a listener that expects a PROXY
    /// header: the header is due, and starts with the readable edge.
    pub const PROXY_HEADER: State = State {
        life: Life::ProxyHeader,
        ..State::ACCEPTED
    };

    /// Not closed yet.
    pub fn is_live(&self) -> bool {
        !matches!(self.life, Life::Closed(_))
    }

    /// Whether bytes queued for it now can still reach the peer.
    pub fn accepts_output(&self) -> bool {
        matches!(
            self.life,
            Life::Connecting | Life::Opening | Life::Open | Life::Draining
        ) && matches!(self.output, Output::Idle | Output::Owing | Output::Drained)
    }

    /// Whether bytes may be written to the socket right now, without
    /// jumping the queue: established, nothing owed, the socket not full.
    pub fn can_write_now(&self) -> bool {
        let established = matches!(
            self.life,
            Life::Opening | Life::Open | Life::Draining | Life::Closing(_)
        );
        established
            && !self.is_owing()
            && self.may_reply()
            && self.ready.write == WriteEdge::Pending
    }

    /// Bytes are owed to the peer.
    pub fn is_owing(&self) -> bool {
        matches!(self.output, Output::Owing | Output::ShutAfterFlush)
    }

    /// Whether what a callback writes may go to the peer: not once the
    /// write side is shut, nor after the connection closed. (A reply
    /// written before `shutdown_write` in the same callback is still owed.)
    pub fn may_reply(&self) -> bool {
        self.is_live() && self.output != Output::Shut
    }
}

/// Compact, for the trace narration: `Open (Reading, Idle; read Pending,
/// write Pending)`.
impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (life, input, output) = (self.life, self.input, self.output);
        let (read, write) = (self.ready.read, self.ready.write);
        write!(
            f,
            "{life:?} ({input:?}, {output:?}; read {read:?}, write {write:?}"
        )?;
        if self.relay == Relay::ReadWhileOwing {
            f.write_str("; relay")?;
        }
        f.write_str(")")
    }
}

mod commands;
#[cfg(test)]
mod equivalence;
mod events;
mod handshake;
mod proxy_header;
mod rules;
mod shortcut;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use events::{Command, Ending, Event, HeaderRead, Shake, Wrote};
pub use rules::timeout;
pub use shortcut::{Cycle, cycle_answered, cycle_edge, cycle_read, in_request_cycle, next};
