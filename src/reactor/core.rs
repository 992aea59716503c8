//! [`Core`]: everything a callback can reach on the loop thread — the shared
//! application state, the other connections, timers, stats, and `stop`.
//! Its connection commands (send, close, pause, connect...) are in
//! [`commands`](super::commands).
//!
//! `core.rs`, `api/ctx.rs` and `api/protocol.rs` import each other: the one
//! circle in the crate, and the user contract itself. A protocol's hooks get
//! a [`Ctx`](crate::Ctx), a `Ctx` is a window on the `Core`, and the `Core`
//! can open connections served by a protocol ([`Core::connect`]). The
//! loop's mailbox ([`Shared`], what a [`Handle`](crate::Handle) wraps) lives
//! here too, so `api/handle.rs` imports this file and not the other way.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::trace;
use mio::{Registry, Waker};
use slab::Slab;

use crate::api::config::{Config, clamp};
use crate::api::protocol::Protocol;
use crate::api::stats::Stats;
use crate::conn::close::CloseReason;
use crate::conn::connection::Connection;
use crate::conn::id::ConnId;
use crate::conn::machine::{Action, Event};
use crate::offload::pool::Pool;
use crate::reactor::handoff::Handoff;
use crate::time::deadlines::Deadlines;
use crate::time::timers::{TimerId, Timers};

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
    pub(crate) state: S,
    pub(crate) config: Config,
    /// Every open connection, by slab key (see [`id`](crate::conn::id) for the
    /// key ↔ token mapping). Their protocols live beside, in the reactor's
    /// table under the same key, so a hook gets both without moving either.
    pub(crate) conns: Slab<Connection>,
    pub(crate) timers: Timers<Callback<S>>,
    pub(crate) deadlines: Deadlines,
    pub(crate) stats: Stats,
    /// Monotonic time of the current turn.
    pub(crate) now: Instant,
    /// The latest clock reading of this turn: `now`, then the end of each
    /// timed callback (see `hooks.rs: guarded`).
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
    /// The connection whose protocol callback is running, if any: what is
    /// sent to it goes into `reply`, in the order of the calls.
    pub(crate) dispatching: Option<ConnId>,
    /// The machine of the connection whose callback is running was fed an
    /// event during the callback (paused or closed by its own code, say):
    /// the frame/reply loop looks at its state only then.
    pub(crate) dispatched_moved: bool,
    /// This loop's mailbox: offloaded jobs post their results through it
    /// (see [`Core::handle`]).
    pub(crate) shared: Arc<Shared<S>>,
    /// The offload pool, started by the first offloaded job.
    pub(crate) pool: Option<Pool>,
    /// Detached jobs ([`Core::offload_detached`]) whose result has not come
    /// back yet: a graceful stop waits for them (up to the drain deadline).
    /// A connection's jobs need no count: their connection keeps the loop
    /// running.
    pub(crate) detached_in_flight: usize,
    /// The running callback's reply: written to its socket when the
    /// callback returns; empty between callbacks.
    pub(crate) reply: Vec<u8>,
    /// Protocols of connections opened by [`Core::connect`], until the
    /// reactor moves them into its table (before it next drives any).
    pub(crate) new_protocols: Vec<(ConnId, Box<dyn Protocol<S>>)>,
    /// A turn is under way: `now` is its time. Outside turns (setting up
    /// timers before `run`), timers count from the clock instead.
    pub(crate) in_turn: bool,
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
    pub(crate) broadcast_ids: Vec<ConnId>,
    /// Where reaping reports each closed connection and why: only under
    /// `twig::testing` (`None` in a server).
    pub(crate) reaped: Option<Vec<(ConnId, CloseReason)>>,
    /// Turn and callback timing, only once observation is on (`twig::admin`).
    pub(crate) observer: Option<Box<crate::admin::observer::Observer>>,
    /// What the contract checks of debug builds remember (`contracts.rs`).
    #[cfg(debug_assertions)]
    pub(crate) contracts: crate::reactor::contracts::ledger::Ledger,
}

/// A one-shot timer's callback.
pub(crate) type OnceFn<S> = Box<dyn FnOnce(&mut Core<S>)>;
/// A repeating timer's callback.
pub(crate) type EveryFn<S> = Box<dyn FnMut(&mut Core<S>)>;

/// A timer callback: runs on the loop thread with the whole core.
pub(crate) enum Callback<S> {
    /// [`Core::call_later`].
    Once(OnceFn<S>),
    /// [`Core::every`], with its interval.
    Every(EveryFn<S>, Duration),
}

impl<S> Core<S> {
    pub(crate) fn new(
        config: Config,
        state: S,
        registry: Registry,
        shared: Arc<Shared<S>>,
    ) -> Core<S> {
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
            dispatched_moved: false,
            shared,
            pool: None,
            detached_in_flight: 0,
            reply: Vec::new(),
            new_protocols: Vec::new(),
            in_turn: false,
            reaped: None,
            observer: None,
            stop_requested: false,
            stopping: false,
            next_generation: 1,
            registry,
            config,
            broadcast_ids: Vec::new(),
            #[cfg(debug_assertions)]
            contracts: Default::default(),
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

    /// The monotonic time of the current loop turn (see "What now means");
    /// outside a turn (before [`run`](crate::Server::run)), the clock's.
    pub fn now(&self) -> Instant {
        if self.in_turn {
            self.now
        } else {
            Instant::now()
        }
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

    /// Runs `callback` once on the loop thread, `delay` after
    /// [`now`](Core::now) (Twisted's `callLater`).
    pub fn call_later(
        &mut self,
        delay: Duration,
        callback: impl FnOnce(&mut Core<S>) + 'static,
    ) -> TimerId {
        let id = self.timers.schedule(
            self.now() + clamp(delay),
            Callback::Once(Box::new(callback)),
        );
        #[cfg(debug_assertions)]
        self.contracts
            .scheduled(id, delay, self.now(), self.dispatching);
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
        let interval = clamp(interval.max(Duration::from_millis(1)));
        let id = self.timers.schedule(
            self.now() + interval,
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

    pub(crate) fn live(&self, id: ConnId) -> Option<&Connection> {
        self.conns
            .get(id.key())
            .filter(|c| c.id == id && c.state.is_live())
    }

    /// Feeds one event to a connection's machine. The one place a
    /// connection enters the closed list: when this event closed it. It
    /// leaves the slab at the end of the turn.
    #[inline(always)]
    pub(crate) fn feed(&mut self, key: usize, event: Event) -> Action {
        let conn = &mut self.conns[key];
        if self.dispatching == Some(conn.id) {
            self.dispatched_moved = true;
        }
        let was_live = conn.state.is_live();
        let action = conn.step(event);
        if was_live && !conn.state.is_live() {
            self.closed.push(key);
        }
        action
    }

    /// Feeds a command from user code, then puts the connection on the list
    /// driven before the next poll (the driver carries out what follows).
    pub(crate) fn command(&mut self, id: ConnId, event: Event) -> bool {
        if self.live(id).is_none() {
            return false;
        }
        self.feed(id.key(), event);
        self.mark_dirty(id);
        true
    }

    /// Ends a connection now, for `reason`.
    pub(crate) fn abort(&mut self, key: usize, reason: CloseReason) {
        self.feed(key, Event::Abort(reason));
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

/// A closure posted from another thread, run on the loop thread.
pub(crate) type Job<S> = Box<dyn FnOnce(&mut Core<S>) + Send>;

/// The loop's mailbox: what a [`Handle`](crate::Handle) shares with its
/// server. Here, not in `api/handle.rs`, because the `Core` holds it (an
/// offloaded job posts its result through it) and a handle only wraps it.
pub(crate) struct Shared<S> {
    /// Wakes `poll` from another thread (an `eventfd` registered with the
    /// poll under the reserved `WAKER` token).
    pub(crate) waker: Waker,
    /// Closures waiting to run; drained whole on each wake, so many posts
    /// cost one wake-up.
    pub(crate) queue: Mutex<Vec<Job<S>>>,
    /// Set by [`Handle::stop`](crate::Handle::stop).
    pub(crate) stop: AtomicBool,
    /// A restart by listener handoff ([`Handle::upgrade`](crate::Handle::upgrade)).
    pub(crate) handoff: Handoff,
}

impl<S> Shared<S> {
    /// Moves every queued closure into `jobs` (which must be empty) and
    /// hands its capacity to the queue, so neither side reallocates once
    /// both have grown.
    pub(crate) fn swap_jobs(&self, jobs: &mut Vec<Job<S>>) {
        // A poisoned lock only means a poster panicked while pushing: the
        // vector itself is still sound.
        std::mem::swap(
            &mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()),
            jobs,
        );
    }
}
