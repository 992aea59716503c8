//! One client: its socket, its machine state, its buffers and its clocks.
//!
//! This file knows nothing about the slab, the poll, the protocol or other
//! connections. The rules that move [`Connection::state`] are in
//! [`machine`](crate::conn::machine); the syscalls, with their trace
//! narration, in [`socket`](crate::conn::socket).

use std::time::Instant;

use log::trace;

use crate::conn::id::ConnId;
use crate::conn::machine::{self, Action, Event, State};
use crate::conn::peer::{Peer, Proxied};
use crate::conn::recorder::{Mark, Recorder};
use crate::conn::socket::{self, WriteOutcome};
use crate::conn::transport::Transport;

/// One connection, accepted or outbound.
pub(crate) struct Connection {
    /// The generation-tagged id; also its `mio::Token`.
    pub id: ConnId,
    pub socket: Transport,
    /// Who is at the other end: behind a PROXY header, the client it named.
    pub peer: Peer,
    /// What the PROXY header said beside the client (the proxy itself);
    /// boxed, as most connections have none.
    pub proxied: Option<Box<Proxied>>,
    /// Where it is in its life: the machine's state (see
    /// [`machine`](crate::conn::machine)); changed only through
    /// [`Connection::step`].
    pub state: State,
    /// Bytes of requests not yet answered. Empty (and unallocated) while no
    /// request is in progress: reads go to the loop's scratch buffer and
    /// only a partial request is copied here.
    pub input: Vec<u8>,
    /// Bytes owed to the peer that the socket would not take yet, written
    /// from `written` on. Empty and unallocated when nothing is owed.
    pub output: Vec<u8>,
    pub written: usize,
    /// The loop turn `budget_left` belongs to.
    pub budget_turn: u64,
    /// I/O budget left for this turn (see `Config::io_budget`).
    pub budget_left: usize,
    /// Bytes read from and written to it over its life (for the status
    /// page; one addition beside the loop's own counters).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Bytes discarded while lingering (bounded).
    pub lingered: usize,
    /// On the core's list of connections to drive before the next poll
    /// (list membership, so the list holds each connection once).
    pub queued: bool,
    /// When it was accepted (or its connect started): its age.
    pub opened: Instant,
    /// When the last byte arrived (or the connection opened): the idle
    /// timeout counts from here.
    pub last_input: Instant,
    /// When the request in progress (bytes buffered, not yet complete)
    /// started: the request timeout counts from here.
    pub request_since: Option<Instant>,
    /// Since when the current write, linger or connect wait has lasted
    /// (moved by every write that makes progress).
    pub since: Instant,
    /// The timeout armed for, and the earliest deadline this connection
    /// has in the core's deadline heap.
    pub timing: machine::Timeout,
    pub armed: Option<Instant>,
    /// Its last events and transitions, dumped if it ends abnormally.
    pub recorder: Recorder,
}

impl Connection {
    pub(crate) fn new(
        id: ConnId,
        socket: Transport,
        peer: Peer,
        state: State,
        now: Instant,
    ) -> Connection {
        Connection {
            id,
            socket,
            peer,
            proxied: None,
            state,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            budget_turn: u64::MAX,
            budget_left: 0,
            lingered: 0,
            bytes_in: 0,
            bytes_out: 0,
            queued: false,
            opened: now,
            last_input: now,
            request_since: None,
            since: now,
            timing: machine::Timeout::None,
            armed: None,
            recorder: Recorder::new(),
        }
    }

    /// Feeds one event to the machine: the one place the state changes,
    /// narrated at trace level and in the flight recorder.
    #[inline(always)]
    pub(crate) fn step(&mut self, event: Event) -> Action {
        let (next, action) = machine::next(self.state, event);
        if std::mem::discriminant(&next.life) != std::mem::discriminant(&self.state.life) {
            // The ring keeps the life's changes; the halves' are in the trace.
            self.recorder.record(Mark::To(next.life));
        }
        if log::log_enabled!(log::Level::Trace) && next != self.state {
            trace!("{} {} -> {next}", self.id, self.state);
        }
        self.state = next;
        action
    }

    /// Bytes owed to the peer and not written yet.
    pub(crate) fn owed(&self) -> usize {
        self.output.len() - self.written
    }

    /// Writes as much of `output` as the socket takes (at most `budget`
    /// bytes); frees the buffer once it is all written.
    pub(crate) fn flush_output(&mut self, budget: usize) -> (usize, WriteOutcome) {
        let end = self.output.len().min(self.written.saturating_add(budget));
        let (n, outcome) = socket::write(
            &mut self.socket,
            self.id,
            &mut self.recorder,
            &self.output[self.written..end],
        );
        self.written += n;
        self.bytes_out += n as u64;
        if self.written == self.output.len() {
            // Release, don't just clear: an idle connection holds no buffer.
            self.output = Vec::new();
            self.written = 0;
        }
        (n, outcome)
    }

    /// Appends bytes to what is owed, first forgetting what is already
    /// written once that is half the buffer, so a peer that reads steadily
    /// but never quite catches up does not keep every byte ever sent.
    pub(crate) fn queue(&mut self, bytes: &[u8]) {
        if self.written > 0 && self.written >= self.output.len() / 2 {
            self.output.drain(..self.written);
            self.written = 0;
        }
        self.output.extend_from_slice(bytes);
    }
}
