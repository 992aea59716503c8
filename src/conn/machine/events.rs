//! The machine's inputs: [`Event`] and what it carries.

use super::Relay;
use crate::conn::close::CloseReason;

/// What happened: a readiness edge, the outcome of an action, a command
/// from user code, or a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// "Look again": no news, just compute what to do now.
    Poke,
    /// The poll reported readiness (`hup`: the peer's FIN; `error`: try both
    /// directions and see).
    Ready {
        /// Readable (or read-closed, or error).
        read: bool,
        /// Writable (or write-closed, or error).
        write: bool,
        /// The peer hung up its write side.
        hup: bool,
    },
    /// `read` returned bytes; `short`: fewer than the buffer held.
    Read {
        /// The read was shorter than the buffer.
        short: bool,
    },
    /// [`Action::Read`](super::Action::Read) read bytes and the protocol
    /// answered them at once: the same as [`Event::Read`] followed by
    /// [`Event::Answered`] (a test checks it is), in one step.
    ReadAnswered {
        /// The read was shorter than the buffer.
        short: bool,
        /// Why answering stopped.
        ending: Ending,
        /// What became of the replies.
        wrote: Wrote,
    },
    /// `read` returned 0.
    ReadEof,
    /// `read` said `WouldBlock`.
    ReadBlocked,
    /// Flushing owed bytes wrote all of them.
    WroteAll,
    /// The I/O budget ran out with bytes still owed (the socket may take more).
    WrotePart,
    /// The socket is full; bytes remain owed.
    WriteBlocked,
    /// The connection must end now: a syscall failed for good, a timeout or
    /// a limit struck, protocol code panicked. (While lingering, the reply
    /// was already delivered: it keeps its own reason.)
    Abort(CloseReason),
    /// The protocol answered the buffered requests, and its replies were
    /// written as far as the socket took them.
    Answered {
        /// Why answering stopped.
        ending: Ending,
        /// What became of the replies.
        wrote: Wrote,
    },
    /// A hook (`on_open`, `on_drained`) returned, and what it wrote went out.
    HookDone(Wrote),
    /// An offloaded job's result is back, to be handed to its callback:
    /// what waited behind it may be answered.
    JobDone,
    /// A callback outside the frame/reply loop (an offloaded result's)
    /// returned, and what it wrote went out.
    Delivered(Wrote),
    /// `on_eof` returned, and what it wrote went out.
    EofHandled {
        /// It returned `After::KeepOpen`: stay half-closed.
        keep_open: bool,
        /// What became of its reply.
        wrote: Wrote,
    },
    /// An outbound connect: `Some(true)` established, `Some(false)` failed,
    /// `None` still in progress (a spurious edge).
    Connected(Option<bool>),
    /// The write side was shut down.
    ShutDone,
    /// Asked for `SO_ERROR` after an edge on a half-closed connection:
    /// `Some` if the peer failed.
    SocketError(Option<CloseReason>),
    /// A TLS handshake step ([`Action::Handshake`](super::Action::Handshake))
    /// ran: how far it got.
    Shook(Shake),
    /// The PROXY header stage
    /// ([`Action::ReadProxyHeader`](super::Action::ReadProxyHeader)) looked
    /// at what has arrived: how far it got.
    ProxyHeader(HeaderRead),
    /// A command from user code.
    Command(Command),
    /// The connection's deadline passed (or lingering read too much); the
    /// reason to close with, if the state has none of its own.
    Deadline(CloseReason),
}

/// How far a TLS handshake step got. The step reads the peer's bytes until
/// `WouldBlock` (or the handshake completes) and writes what the handshake
/// has to say until the socket is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shake {
    /// The handshake is complete (`owing`: some of the server's last flight
    /// waits for the writable edge). Plaintext may already be buffered, so
    /// the read edge is kept.
    Done {
        /// Ciphertext is still owed.
        owing: bool,
    },
    /// More is needed from the peer: the socket is drained (`owing`: our
    /// flight waits for the writable edge).
    Blocked {
        /// Ciphertext is still owed.
        owing: bool,
    },
    /// The peer's bytes are no handshake we accept (garbage, plain HTTP, no
    /// shared version or cipher): what answers it (a TLS alert, or a
    /// plaintext `400`) is owed; then the connection closes for this reason.
    Refused(CloseReason),
}

/// How far reading a PROXY header got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRead {
    /// The header is read off the socket and the client it named recorded;
    /// what follows it is left in the socket. `tls`: a TLS handshake comes
    /// next (a TLS listener), else `on_open`.
    Done {
        /// The listener serves TLS.
        tls: bool,
    },
    /// Only part of a header has come: wait for the rest (the socket is
    /// drained).
    Partial,
    /// Not a PROXY header (missing, malformed, too long): close.
    Refused,
}

/// What became of the bytes a callback wrote: the driver writes them at
/// once (optimistic write) unless [`State::may_reply`](super::State::may_reply) says no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    /// The callback wrote nothing.
    Nothing,
    /// All of it (and anything owed before it) is written.
    All,
    /// The socket did not take it all: the rest is owed.
    Blocked,
    /// Bytes were owed already: it was queued behind them.
    Queued,
    /// The write failed for good.
    Failed(CloseReason),
    /// The write side is shut: the bytes were dropped.
    Dropped,
}

/// Why answering stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every buffered byte was consumed, or the rest is a partial request.
    Waiting,
    /// Requests remain, but enough reply waits (or the protocol paused
    /// itself): write first, answer the rest later.
    Backpressure,
    /// The protocol said `After::Close`.
    Close,
    /// The input broke the protocol (`on_violation` has run).
    Violation,
}

/// What user code asked of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Close gracefully (flush first).
    Close,
    /// Stop reading.
    Pause,
    /// Read again.
    Resume,
    /// Shut the write side once flushed.
    ShutWrite,
    /// Read (or not) while owing.
    SetRelay(Relay),
    /// Bytes were queued for it by other code.
    Queued,
    /// The server is stopping.
    Stop,
    /// Work was offloaded for the request in progress: answer nothing more
    /// until its result is back.
    Await,
}
