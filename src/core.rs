//! [`Core`]: everything a callback can reach on the loop thread — the shared
//! application state, the other connections, timers, stats, and `stop`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, trace};
use slab::Slab;

use crate::config::Config;
use crate::connection::{Connection, State};
use crate::protocol::CloseReason;
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
/// timers scheduled from a callback count from it.
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
    /// Connections with work outside an event: written to or closed by other
    /// code, or out of I/O budget last turn. Driven before the next poll.
    pub(crate) dirty: Vec<ConnId>,
    /// Keys of connections in `State::Closed`, removed at the end of the turn.
    pub(crate) closed: Vec<usize>,
    /// Stop was asked for (by a callback, a handle or a signal).
    pub(crate) stop_requested: bool,
    /// Shutdown has begun: listeners are gone, connections are draining.
    pub(crate) stopping: bool,
    /// Generation for the next connection (never 0: 0 marks reserved tokens).
    pub(crate) next_generation: u32,
    /// The loop-wide read buffer every connection reads into.
    pub(crate) scratch_in: Vec<u8>,
    /// The loop-wide reply buffer: replies are written from here, and only
    /// what the socket does not take is copied to the connection.
    pub(crate) scratch_out: Vec<u8>,
}

impl<S> Core<S> {
    pub(crate) fn new(config: Config, state: S) -> Core<S> {
        let scratch_in = vec![0; config.read_buffer_size];
        Core {
            state,
            conns: Slab::new(),
            timers: Timers::new(),
            deadlines: Deadlines::new(),
            stats: Stats::default(),
            now: Instant::now(),
            dirty: Vec::new(),
            closed: Vec::new(),
            stop_requested: false,
            stopping: false,
            next_generation: 1,
            scratch_in,
            scratch_out: Vec::new(),
            config,
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
        let id = self
            .timers
            .schedule(self.now + delay, Callback::Once(Box::new(callback)));
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
        let interval = interval.max(Duration::from_millis(1));
        let id = self.timers.schedule(
            self.now + interval,
            Callback::Every(Box::new(callback), interval),
        );
        trace!("scheduled {id} every {interval:?}");
        id
    }

    /// Cancels a timer. Returns false if it already fired or was cancelled.
    /// A repeating timer may cancel itself from its own callback.
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
    /// closed as a slow consumer instead.
    pub fn send(&mut self, id: ConnId, bytes: &[u8]) -> bool {
        let max_output = self.config.max_output;
        let Some(conn) = self.live_mut(id) else {
            self.stats.dropped_commands += 1;
            trace!("send to {id}: gone, dropped");
            return false;
        };
        if !matches!(conn.state, State::Reading | State::Writing) {
            self.stats.dropped_commands += 1;
            return false;
        }
        if conn.output.len() - conn.written + bytes.len() > max_output {
            debug!(
                "{id} {}: owes more than {max_output} bytes, closing",
                conn.peer
            );
            self.mark_closed(id.key(), CloseReason::OutputLimit);
            return false;
        }
        conn.output.extend_from_slice(bytes);
        self.mark_dirty(id);
        true
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
