//! One client: its socket, buffers, readiness flags, deadline and state.
//!
//! This file knows nothing about the slab, the poll or other connections; the
//! state machine that moves a connection between its states is in
//! [`drive`](crate::drive), and the loop that calls it in
//! [`server`](crate::server).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use log::trace;
use mio::net::TcpStream;

use crate::protocol::{CloseReason, Protocol};
use crate::recorder::{Mark, Recorder};
use crate::token::ConnId;

/// Where a connection is in its life. See the picture in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// An outbound connection whose `connect` is in progress: waits for the
    /// writable edge, then asks the socket whether it succeeded. Left for
    /// `Reading` (and `on_open`) or `Closed(ConnectFailed)`.
    Connecting,
    /// Waiting for (more of) a request, or answering the requests buffered.
    /// Reads only while nothing is owed to the peer. Left for `Writing` when a
    /// reply cannot be written at once, for `Closing` when a reply (or EOF,
    /// or a violation) ends the conversation.
    Reading,
    /// Owes the peer bytes the socket would not take: waits for the writable
    /// edge and reads nothing meanwhile (backpressure). Back to `Reading` once
    /// flushed.
    Writing,
    /// Flushing what is owed before closing for `reason`. Once flushed, the
    /// write side is shut down and the connection lingers (or closes, if the
    /// peer already closed its side).
    Closing(CloseReason),
    /// Write side shut; discarding whatever the peer still sends until it
    /// closes too, or the linger deadline passes, so that unread input does
    /// not turn our close into a reset that destroys the last reply.
    Lingering(CloseReason),
    /// Finished. Removed from the slab at the end of the loop turn, so no
    /// later event of this turn can reach a connection reusing the key.
    Closed(CloseReason),
}

/// Which timeout applies: derived from the state and buffers after every
/// step, so a deadline changes only when the phase changes (or a write makes
/// progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No request in progress: idle timeout.
    Idle,
    /// A request has started but is not complete: request timeout.
    Request,
    /// Bytes owed to the peer: write timeout.
    Owing,
    /// Waiting for the peer's close: linger timeout.
    Lingering,
    /// Waiting for an outbound connect: connect timeout.
    Connecting,
    /// No deadline.
    Done,
}

/// One accepted client.
pub(crate) struct Connection<S> {
    /// The generation-tagged id; also its `mio::Token`.
    pub id: ConnId,
    pub socket: TcpStream,
    pub peer: SocketAddr,
    pub state: State,
    /// The user's protocol value; `None` while it is being called (it is
    /// moved out so the callback can borrow the rest of the core).
    pub protocol: Option<Box<dyn Protocol<S>>>,
    /// Bytes of requests not yet answered. Empty (and unallocated) while the
    /// connection is idle: reads go to the loop's scratch buffer and only a
    /// partial request is copied here.
    pub input: Vec<u8>,
    /// True when `input` may hold a complete request (answering stopped for
    /// backpressure, not for lack of bytes).
    pub input_ready: bool,
    /// Bytes owed to the peer that the socket would not take yet, written
    /// from `written` on. Empty and unallocated when nothing is owed.
    pub output: Vec<u8>,
    pub written: usize,
    /// Edge-triggered readiness: set by an event, cleared only when a read
    /// (or write) says the socket is drained (or full).
    pub readable: bool,
    pub writable: bool,
    /// The event said the peer hung up: a short read no longer proves the
    /// socket drained (the FIN's edge is already spent), so read until 0.
    pub hup_seen: bool,
    /// A read returned 0: the peer will send nothing more.
    pub read_closed: bool,
    /// `Protocol::on_eof` ran and kept the connection open (half-closed).
    pub eof_handled: bool,
    /// Code paused reading (`Core::pause_reading`): backpressure from
    /// another connection.
    pub paused: bool,
    /// Code asked to shut the write side once flushed (`Core::shutdown_write`).
    pub finish_writing: bool,
    /// The write side is shut: nothing more can be sent.
    pub write_shut: bool,
    /// Keeps reading while it owes bytes (`Core::read_while_owing`).
    pub relay: bool,
    /// The loop turn `budget_left` belongs to.
    pub budget_turn: u64,
    /// I/O budget left for this turn (see `Config::io_budget`).
    pub budget_left: usize,
    /// Bytes discarded while lingering (bounded).
    pub lingered: usize,
    /// Queued on the core's to-do list (dedupes `Core::dirty`).
    pub queued: bool,
    /// Code asked to close it gracefully (through `Core::close`).
    pub close_requested: bool,
    /// The current timeout phase, and since when.
    pub phase: Phase,
    pub phase_since: Instant,
    /// Earliest deadline this connection has in the core's deadline heap.
    pub armed: Option<Instant>,
    /// Its last events and transitions, dumped if it ends abnormally.
    pub recorder: Recorder,
}

/// What one `read` said.
pub(crate) enum ReadOutcome {
    /// `n` bytes (the `readable` flag is cleared if this proved the socket
    /// drained).
    Data(usize),
    /// The peer closed its write side (a 0-byte read).
    Eof,
    /// Nothing to read now (edge consumed).
    WouldBlock,
    /// A fatal error: the reason to close with.
    Failed(CloseReason),
}

/// What writing owed bytes said.
pub(crate) enum WriteOutcome {
    /// Everything was written.
    Done,
    /// The socket is full; the rest waits for the writable edge.
    Blocked,
    /// A fatal error: the reason to close with.
    Failed(CloseReason),
}

impl<S> Connection<S> {
    pub(crate) fn new(
        id: ConnId,
        socket: TcpStream,
        peer: SocketAddr,
        protocol: Box<dyn Protocol<S>>,
        now: Instant,
    ) -> Connection<S> {
        Connection {
            id,
            socket,
            peer,
            state: State::Reading,
            protocol: Some(protocol),
            input: Vec::new(),
            input_ready: false,
            output: Vec::new(),
            written: 0,
            readable: false,
            // Optimistic: a fresh socket has an empty send buffer. A write that
            // would block clears it like any other.
            writable: true,
            hup_seen: false,
            read_closed: false,
            eof_handled: false,
            paused: false,
            finish_writing: false,
            write_shut: false,
            relay: false,
            budget_turn: u64::MAX,
            budget_left: 0,
            lingered: 0,
            queued: false,
            close_requested: false,
            phase: Phase::Idle,
            phase_since: now,
            armed: None,
            recorder: Recorder::new(),
        }
    }

    /// Moves to `next`, narrating at trace level and in the flight recorder.
    pub(crate) fn set_state(&mut self, next: State) {
        trace!("{} {:?} -> {next:?}", self.id, self.state);
        self.recorder.record(Mark::To(next));
        self.state = next;
    }

    /// True when a `Reading` connection has nothing to do until its next
    /// readable edge: what one more pass of the state machine in
    /// [`drive`](crate::drive) would conclude (while the server is not
    /// stopping), found with fewer checks. Keep the two in step.
    pub(crate) fn is_settled(&self) -> bool {
        self.state == State::Reading
            && !self.readable
            && !self.input_ready
            && !self.is_owing()
            && !self.close_requested
            && !self.finish_writing
    }

    /// True when the connection owes its peer bytes.
    pub(crate) fn is_owing(&self) -> bool {
        self.written < self.output.len()
    }

    /// One `read(2)` into `buf` (never empty). Retries `EINTR`.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> ReadOutcome {
        debug_assert!(!buf.is_empty(), "a 0-byte read would look like EOF");
        loop {
            let result = self.socket.read(buf);
            trace!("{} read({}) -> {:?}", self.id, buf.len(), Brief(&result));
            return match result {
                Ok(0) => {
                    self.recorder.record(Mark::Eof);
                    self.read_closed = true;
                    self.readable = false;
                    ReadOutcome::Eof
                }
                Ok(n) => {
                    self.recorder.record(Mark::Read(n as u32));
                    // On Linux a TCP read shorter than the buffer means the
                    // receive queue is empty now, so the next read would only
                    // say WouldBlock: skip that syscall. Not when the peer's
                    // FIN was reported already: its edge is spent, so we must
                    // read on to see the 0.
                    if n < buf.len() && !self.hup_seen {
                        self.readable = false;
                    }
                    ReadOutcome::Data(n)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.recorder.record(Mark::ReadBlocked);
                    self.readable = false;
                    ReadOutcome::WouldBlock
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.recorder.record(Mark::Failed);
                    ReadOutcome::Failed(classify(&e))
                }
            };
        }
    }

    /// Writes `bytes` (owed bytes not yet in `output`) until done or the socket
    /// is full. Returns how many were written, and what stopped it.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> (usize, WriteOutcome) {
        let mut done = 0;
        while done < bytes.len() {
            let result = self.socket.write(&bytes[done..]);
            trace!(
                "{} write({}) -> {:?}",
                self.id,
                bytes.len() - done,
                Brief(&result)
            );
            match result {
                // A 0-byte write of a non-empty buffer cannot make progress.
                Ok(0) => {
                    self.recorder.record(Mark::Failed);
                    return (done, WriteOutcome::Failed(CloseReason::Error));
                }
                Ok(n) => {
                    self.recorder.record(Mark::Wrote(n as u32));
                    done += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.recorder.record(Mark::WriteBlocked);
                    self.writable = false;
                    return (done, WriteOutcome::Blocked);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.recorder.record(Mark::Failed);
                    return (done, WriteOutcome::Failed(classify(&e)));
                }
            }
        }
        (done, WriteOutcome::Done)
    }

    /// Writes as much of `output` as the socket takes (at most `budget`
    /// bytes); frees the buffer once it is all written.
    pub(crate) fn flush_output(&mut self, budget: usize) -> (usize, WriteOutcome) {
        let end = self.output.len().min(self.written.saturating_add(budget));
        let (n, outcome) = {
            let pending = std::mem::take(&mut self.output);
            let result = self.write(&pending[self.written..end]);
            self.output = pending;
            result
        };
        self.written += n;
        if self.written == self.output.len() {
            // Release, don't just clear: an idle connection holds no buffer.
            self.output = Vec::new();
            self.written = 0;
        }
        (n, outcome)
    }

    /// For a connect in progress: `None` while it still is, else whether it
    /// succeeded. Asks the socket (`SO_ERROR`, then `getpeername`), as the
    /// writable edge only says "decided", not how.
    pub(crate) fn connect_result(&mut self) -> Option<io::Result<()>> {
        let result = match self.socket.take_error() {
            Ok(Some(error)) | Err(error) => Some(Err(error)),
            Ok(None) => match self.socket.peer_addr() {
                Ok(_) => Some(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
                Err(e) => Some(Err(e)),
            },
        };
        trace!("{} connect result: {result:?}", self.id);
        result
    }

    /// Shuts down the write side (sends FIN). Errors mean the peer is gone
    /// already, which is what we wanted.
    pub(crate) fn shutdown_write(&mut self) {
        let result = self.socket.shutdown(Shutdown::Write);
        trace!("{} shutdown(Write) -> {:?}", self.id, result);
    }
}

/// Maps a socket error to a close reason: resets are a peer's right and are
/// logged quietly; anything else is an error worth a warning.
pub(crate) fn classify(error: &io::Error) -> CloseReason {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::NotConnected => CloseReason::Reset,
        _ => CloseReason::Error,
    }
}

/// Formats a syscall result tersely for trace narration.
struct Brief<'a>(&'a io::Result<usize>);

impl std::fmt::Debug for Brief<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(0) => f.write_str("0 (EOF)"),
            Ok(n) => write!(f, "{n}"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => f.write_str("WouldBlock"),
            Err(e) => write!(f, "error: {e}"),
        }
    }
}
