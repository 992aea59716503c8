//! [`Core`]: everything a callback can reach on the loop thread — the shared
//! application state, the other connections, timers, stats, and `stop`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, trace};
use mio::net::TcpStream;
use mio::{Interest, Registry};
use slab::Slab;

use crate::config::Config;
use crate::connection::{Connection, State, WriteOutcome};
use crate::protocol::{CloseReason, Protocol};
use crate::recorder::Mark;
use crate::stats::Stats;
use crate::timer::{Callback, Deadlines, TimerId, Timers};
use crate::token::ConnId;

/// The part of the reactor that callbacks see: application state,
/// connections, timers and counters.
///
/// Timer callbacks and closures posted through a [`Handle`](crate::Handle)
/// get `&mut Core<S>`; protocol callbacks get a [`Ctx`](crate::Ctx), which
/// dereferences to it. Because only the loop thread ever touches it, the
/// state is a plain `&mut S`: no locks.
///
/// # What "now" means
/// [`now`](Core::now) is read once per loop turn, right after `poll` returns.
/// Inside a callback it is the time the current batch of events was
/// received, not the wall clock at the moment of the call; deadlines and
/// timers scheduled from a callback count from it. They fire at their
/// deadline or up to about a millisecond after it, never before (epoll
/// counts whole milliseconds, and a computed sleep is reused for up to 1 ms).
pub struct Core<S> {
    /// The user's application state.
    state: S,
    pub(crate) config: Config,
    /// Every open connection, by slab key (see [`token`](crate::token) for the
    /// key ↔ token mapping).
    pub(crate) conns: Slab<Connection<S>>,
    pub(crate) timers: Timers<S>,
    pub(crate) deadlines: Deadlines,
    pub(crate) stats: Stats,
    /// Monotonic time of the current turn.
    pub(crate) now: Instant,
    /// The latest clock reading of this turn: `now`, then the end of each
    /// timed callback (see `callbacks::guarded`).
    pub(crate) clock: Instant,
    /// A callback ending after this may have exceeded
    /// [`Config::slow_callback`]: always at most `clock + limit`. Moved only
    /// when a callback ends past it (at most once per `limit` of time).
    pub(crate) slow_after: Instant,
    /// Connections with work outside an event: written to or closed by other
    /// code, or out of I/O budget last turn. Driven before the next poll.
    pub(crate) dirty: Vec<ConnId>,
    /// Keys of connections in `State::Closed`, removed at the end of the turn.
    pub(crate) closed: Vec<usize>,
    /// The connection whose protocol callback is running, if any: sends to
    /// it must queue behind the replies it is producing.
    pub(crate) dispatching: Option<ConnId>,
    /// Stop was asked for (by a callback, a handle or a signal).
    pub(crate) stop_requested: bool,
    /// Shutdown has begun: listeners are gone, connections are draining.
    pub(crate) stopping: bool,
    /// Generation for the next connection (never 0: 0 marks reserved tokens).
    pub(crate) next_generation: u32,
    /// A handle on the poll's registry, to register connections (accepted
    /// or opened by callbacks).
    pub(crate) registry: Registry,
    /// Reused by [`broadcast`](Core::broadcast) for the ids it sends to.
    broadcast_ids: Vec<ConnId>,
}

/// Why [`Core::try_send`] did not queue the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection has closed (or its write side is shut).
    Gone,
    /// Queuing would take it past [`Config::max_output`]; nothing was
    /// queued and the connection is untouched.
    Full,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Gone => "connection gone",
            SendError::Full => "connection's output is full",
        })
    }
}

impl std::error::Error for SendError {}

impl<S> Core<S> {
    pub(crate) fn new(config: Config, state: S, registry: Registry) -> Core<S> {
        Core {
            state,
            conns: Slab::new(),
            timers: Timers::new(),
            deadlines: Deadlines::new(),
            stats: Stats::default(),
            now: Instant::now(),
            clock: Instant::now(),
            slow_after: Instant::now(),
            dirty: Vec::new(),
            closed: Vec::new(),
            dispatching: None,
            stop_requested: false,
            stopping: false,
            next_generation: 1,
            registry,
            config,
            broadcast_ids: Vec::new(),
        }
    }

    /// The shared application state.
    pub fn state(&mut self) -> &mut S {
        &mut self.state
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The monotonic time of the current loop turn (see "What now means").
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Asks the server to stop gracefully: accept no more, finish replies in
    /// flight, then return from [`run`](crate::Server::run).
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// True once a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        self.stop_requested || self.stopping
    }

    /// Runs `callback` once on the loop thread, `delay` after now.
    pub fn after(
        &mut self,
        delay: Duration,
        callback: impl FnOnce(&mut Core<S>) + 'static,
    ) -> TimerId {
        let id = self.timers.schedule(
            self.now + crate::config::clamp(delay),
            Callback::Once(Box::new(callback)),
        );
        trace!("scheduled {id} in {delay:?}");
        id
    }

    /// Runs `callback` every `interval` (the first time one interval from
    /// now) until cancelled. Missed ticks after a stall are skipped, not
    /// bunched. An interval of zero is treated as one millisecond.
    pub fn every(
        &mut self,
        interval: Duration,
        callback: impl FnMut(&mut Core<S>) + 'static,
    ) -> TimerId {
        let interval = crate::config::clamp(interval.max(Duration::from_millis(1)));
        let id = self.timers.schedule(
            self.now + interval,
            Callback::Every(Box::new(callback), interval),
        );
        trace!("scheduled {id} every {interval:?}");
        id
    }

    /// Cancels a timer. Returns false if it already fired or was cancelled.
    /// A repeating timer may cancel itself from its own callback (a one-shot
    /// timer cancelling itself from its callback is harmless and returns
    /// true).
    pub fn cancel(&mut self, timer: TimerId) -> bool {
        self.timers.cancel(timer)
    }

    /// Timers scheduled and not yet fired or cancelled (a repeating timer
    /// counts while its callback runs).
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// The ids of all open connections, in slab order.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns
            .iter()
            .filter(|(_, c)| !matches!(c.state, State::Closed(_)))
            .map(|(_, c)| c.id)
    }

    /// Bytes the server holds for all connections: partial requests waiting
    /// for their end, plus replies waiting for the socket. (Scratch buffers
    /// are shared and not counted.) Walks every connection: for diagnostics
    /// and tests, not for the hot path.
    pub fn buffered_bytes(&self) -> usize {
        self.conns
            .iter()
            .map(|(_, c)| c.input.len() + c.output.len() - c.written)
            .sum()
    }

    /// The peer address of an open connection.
    pub fn peer(&self, id: ConnId) -> Option<SocketAddr> {
        self.live(id).map(|c| c.peer)
    }

    /// Whether `id` names a connection that is still open.
    pub fn is_open(&self, id: ConnId) -> bool {
        self.live(id).is_some()
    }

    /// Queues `bytes` to be written to another connection, after whatever it
    /// already owes. Returns false (and counts a dropped command) if that
    /// connection has closed, or is closing and takes no more output. A
    /// connection that would then owe more than [`Config::max_output`] is
    /// closed as a slow consumer instead: use [`try_send`](Core::try_send) to
    /// drop the message and keep the consumer.
    pub fn send(&mut self, id: ConnId, bytes: &[u8]) -> bool {
        match self.try_send(id, bytes) {
            Ok(()) => true,
            Err(SendError::Gone) => false,
            Err(SendError::Full) => {
                if let Some(conn) = self.live(id) {
                    debug!(
                        "{id} {}: owes more than {} bytes, closing",
                        conn.peer, self.config.max_output
                    );
                }
                self.mark_closed(id.key(), CloseReason::OutputLimit);
                false
            }
        }
    }

    /// Queues `bytes` for another connection unless it is gone or would owe
    /// more than [`Config::max_output`]; in both cases nothing is queued
    /// and the connection is left as it was.
    ///
    /// # Errors
    /// [`SendError::Gone`] (also counted in
    /// [`Stats::dropped_commands`](crate::Stats)) or [`SendError::Full`].
    pub fn try_send(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), SendError> {
        let max_output = self.config.max_output;
        let accepts = |c: &Connection<S>| {
            matches!(c.state, State::Reading | State::Writing | State::Connecting)
                && !c.write_shut
                && !c.finish_writing
        };
        let in_own_callback = self.dispatching == Some(id); // its replies go first
        let Some(conn) = self.live_mut(id).filter(|c| accepts(c)) else {
            self.stats.dropped_commands += 1;
            trace!("send to {id}: gone, dropped");
            return Err(SendError::Gone);
        };
        if conn.output.len() - conn.written + bytes.len() > max_output {
            return Err(SendError::Full);
        }
        if conn.written > 0 && conn.written >= conn.output.len() / 2 {
            // Forget what is already written, so a peer that reads steadily
            // but never quite catches up does not keep every byte ever sent.
            conn.output.drain(..conn.written);
            conn.written = 0;
        }
        let mut bytes = bytes;
        if !conn.is_owing() && conn.writable && !in_own_callback && conn.state == State::Reading {
            // Write optimistically, as replies are: a burst fanned out to many
            // readers must not count against max_output before any write.
            let (n, outcome) = conn.write(bytes);
            self.stats.bytes_out += n as u64;
            match outcome {
                WriteOutcome::Done => return Ok(()),
                WriteOutcome::Blocked => bytes = &bytes[n..],
                WriteOutcome::Failed(reason) => {
                    self.mark_closed(id.key(), reason);
                    return Ok(()); // the bytes were accepted; the peer is gone
                }
            }
        }
        let conn = &mut self.conns[id.key()];
        conn.output.extend_from_slice(bytes);
        self.mark_dirty(id);
        Ok(())
    }

    /// Sends `bytes` to every open connection for which `filter` says true
    /// (see [`send`](Core::send) for slow consumers). Returns how many were
    /// sent to. From a protocol callback, use [`Ctx::broadcast`](crate::Ctx::broadcast),
    /// which also reaches the calling connection.
    pub fn broadcast(&mut self, bytes: &[u8], mut filter: impl FnMut(ConnId) -> bool) -> usize {
        // The ids are collected first (sending needs `&mut self`), into a
        // buffer kept for the next broadcast.
        let mut targets = std::mem::take(&mut self.broadcast_ids);
        targets.extend(self.connections().filter(|&id| filter(id)));
        let sent = targets.iter().filter(|&&id| self.send(id, bytes)).count();
        targets.clear();
        self.broadcast_ids = targets;
        sent
    }

    /// Bytes a connection owes its peer and has not written yet (`None` if
    /// it is gone). With [`pause_reading`](Core::pause_reading) and
    /// [`Protocol::on_drained`], the way to pass backpressure from one
    /// connection to another.
    pub fn owed(&self, id: ConnId) -> Option<usize> {
        self.live(id).map(|c| c.output.len() - c.written)
    }

    /// Stops reading from a connection (and answering its buffered
    /// requests) until [`resume_reading`](Core::resume_reading): what its
    /// peer sends waits in the kernel, and TCP slows the peer down. Returns
    /// false if it is gone.
    pub fn pause_reading(&mut self, id: ConnId) -> bool {
        match self.live_mut(id) {
            Some(conn) => {
                conn.paused = true;
                true
            }
            None => false,
        }
    }

    /// Undoes [`pause_reading`](Core::pause_reading). Returns false if the
    /// connection is gone.
    pub fn resume_reading(&mut self, id: ConnId) -> bool {
        match self.live_mut(id) {
            Some(conn) => {
                conn.paused = false;
                self.mark_dirty(id);
                true
            }
            None => false,
        }
    }

    /// Lets a connection keep reading (and answering) while it owes its
    /// peer bytes the socket has not taken yet. By default a connection
    /// that owes reads nothing more — backpressure for free — but two relays
    /// (a proxy's two sides) that both owe would then wait on each other
    /// forever. A relay bounds its memory itself, with
    /// [`pause_reading`](Core::pause_reading) and
    /// [`Protocol::on_drained`]. Returns false if the connection is gone.
    pub fn read_while_owing(&mut self, id: ConnId, on: bool) -> bool {
        match self.live_mut(id) {
            Some(conn) => {
                conn.relay = on;
                self.mark_dirty(id);
                true
            }
            None => false,
        }
    }

    /// Half-closes a connection: once what it owes is written, its write
    /// side is shut down (the peer reads EOF) while its input is still read
    /// and answered. Returns false if it is gone.
    pub fn shutdown_write(&mut self, id: ConnId) -> bool {
        match self.live_mut(id) {
            Some(conn) => {
                conn.finish_writing = true;
                self.mark_dirty(id);
                true
            }
            None => false,
        }
    }

    /// Opens an outbound connection to `addr`, served by `protocol` (Twisted's
    /// `connectTCP`). Returns at once: the connect proceeds in the loop, then
    /// [`Protocol::on_open`] runs (the place for a client to speak first), or
    /// [`Protocol::on_connect_failed`] if it fails or takes longer than
    /// [`Config::connect_timeout`]. Bytes sent to it before it is
    /// established are queued.
    ///
    /// # Errors
    /// Only if the socket cannot even be created (e.g. out of descriptors);
    /// a refused connection is reported to the protocol instead.
    pub fn connect(
        &mut self,
        addr: SocketAddr,
        protocol: impl Protocol<S> + 'static,
    ) -> io::Result<ConnId> {
        if self.is_stopping() {
            // Otherwise an on_close that reconnects would keep a stopping
            // server alive forever.
            return Err(io::Error::other("the server is stopping"));
        }
        let stream = TcpStream::connect(addr)?;
        trace!("connect({addr}) -> in progress");
        let id = self.insert(stream, addr, Box::new(protocol), true)?;
        let conn = &mut self.conns[id.key()];
        conn.state = State::Connecting;
        conn.writable = false; // the writable edge is what says "connected"
        self.stats.connected += 1;
        debug!("{id} {addr}: connecting");
        // Driven from the loop, not from inside the calling callback.
        self.mark_dirty(id);
        Ok(id)
    }

    /// Registers a socket with the poll and puts its connection in the slab,
    /// under a fresh generation. Shared by accept and connect.
    pub(crate) fn insert(
        &mut self,
        mut stream: TcpStream,
        peer: SocketAddr,
        protocol: Box<dyn Protocol<S>>,
        outbound: bool,
    ) -> io::Result<ConnId> {
        // Request/reply traffic must not wait on Nagle's algorithm.
        if let Err(e) = stream.set_nodelay(true) {
            trace!("{peer}: set_nodelay failed: {e}");
        }
        let generation = self.next_generation;
        // Generation 0 marks reserved tokens: skip it when the counter wraps.
        self.next_generation = self.next_generation.checked_add(1).unwrap_or(1);
        let entry = self.conns.vacant_entry();
        let key =
            u32::try_from(entry.key()).map_err(|_| io::Error::other("no connection key left"))?;
        let id = ConnId { key, generation };
        // Registered once, for both directions, for the connection's whole
        // life: no epoll_ctl per state change.
        let registered = self.registry.register(
            &mut stream,
            id.token(),
            Interest::READABLE | Interest::WRITABLE,
        );
        trace!("{id} epoll_ctl(ADD, READABLE|WRITABLE) -> {registered:?}");
        registered?;
        let conn = entry.insert(Connection::new(id, stream, peer, protocol, self.now));
        conn.recorder.record(Mark::Opened {
            turn: self.stats.wakeups as u32,
            outbound,
        });
        self.stats.active += 1;
        Ok(id)
    }

    /// Closes another connection gracefully: what it owes is flushed first.
    /// Returns false if it had closed already.
    pub fn close(&mut self, id: ConnId) -> bool {
        match self.live_mut(id) {
            Some(conn) => {
                conn.close_requested = true;
                self.mark_dirty(id);
                true
            }
            None => false,
        }
    }

    pub(crate) fn live(&self, id: ConnId) -> Option<&Connection<S>> {
        self.conns
            .get(id.key())
            .filter(|c| c.id == id && !matches!(c.state, State::Closed(_)))
    }

    pub(crate) fn live_mut(&mut self, id: ConnId) -> Option<&mut Connection<S>> {
        self.conns
            .get_mut(id.key())
            .filter(|c| c.id == id && !matches!(c.state, State::Closed(_)))
    }

    /// Ends a connection now: the one place a connection enters
    /// `State::Closed`. It leaves the slab at the end of the turn.
    pub(crate) fn mark_closed(&mut self, key: usize, reason: CloseReason) {
        let conn = &mut self.conns[key];
        if !matches!(conn.state, State::Closed(_)) {
            conn.set_state(State::Closed(reason));
            self.closed.push(key);
        }
    }

    /// Puts a connection on the to-do list driven before the next poll.
    pub(crate) fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id.key())
            && conn.id == id
            && !conn.queued
        {
            conn.queued = true;
            self.dirty.push(id);
        }
    }
}
