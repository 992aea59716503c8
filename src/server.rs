//! The event loop: [`Server`] owns the poll, the listeners and the [`Core`];
//! [`Server::turn`] is one iteration, [`Server::run`] repeats it.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, error, info, trace, warn};
use mio::event::Event;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::accept::{AcceptStop, Listener, Quiet, accept_from};
use crate::callbacks;
use crate::config::{Builder, Config};
use crate::connection::{Phase, State};
use crate::core::Core;
use crate::ctx::Ctx;
use crate::dispatch::Scratch;
use crate::drive::{drive, timeout_of};
use crate::handle::{Handle, Shared};
use crate::protocol::{CloseReason, Protocol};
use crate::recorder::{EventFlags, Mark};
use crate::stats::Stats;
use crate::tick::{Tick, WakeReason};
use crate::timer::Callback;
use crate::token::{self, ConnId};

/// A single-threaded TCP server: one `epoll` instance, its listeners, and
/// every connection, driven by one thread.
///
/// # Things that will bite you (and how this loop handles them)
/// - **Readiness is edge-triggered.** An event says readiness *changed*; no
///   second event comes for bytes you did not read. Each connection keeps
///   `readable`/`writable` flags, cleared only when a syscall says
///   `WouldBlock` (or a short read proves the socket drained).
/// - **Drain until `WouldBlock`.** Accept and read in a loop; stopping early
///   strands clients in the backlog or bytes in the socket.
/// - **A 0-byte read is EOF**, never "nothing yet"; so a read is never given
///   an empty buffer.
/// - **`Interrupted` means retry**, for every syscall including `poll`.
/// - **Wake-ups can be spurious**, and HUP/ERR flags only say "try the
///   syscall": a connection's fate is decided by what `read`/`write` return.
/// - **Stale events after a slab key is reused.** A connection closed while
///   handling one event may still have events later in the same batch, and
///   its key may go to a new client. Tokens carry a generation (see
///   [`ConnId`]) and closed connections leave the slab only at the end of the
///   turn.
pub struct Server<S> {
    /// The `epoll` instance every socket is registered with.
    poll: Poll,
    /// Reused buffer `poll` fills with readiness events.
    events: Events,
    /// Listening sockets, by reserved token (index). Emptied on stop, which
    /// releases the ports.
    listeners: Vec<Listener<S>>,
    /// Everything callbacks can reach.
    core: Core<S>,
    /// The loop's read and reply buffers, lent to each connection in turn.
    scratch: Scratch,
    /// What handles share with the loop: waker, posted jobs, stop flag.
    shared: Arc<Shared<S>>,
    /// The posted jobs being run; swapped with the shared queue.
    jobs: Vec<crate::handle::Job<S>>,
    /// SIGINT/SIGTERM, when [`Server::stop_on_signals`] was called.
    #[cfg(feature = "signals")]
    signals: Option<signal_hook_mio::v1_0::Signals>,
    /// Accepting is paused until then (out of file descriptors or memory).
    accept_paused_until: Option<Instant>,
    /// Accept conditions logged once per stretch (full, out of descriptors).
    quiet: Quiet,
    /// When shutdown force-closes what is left.
    drain_deadline: Option<Instant>,
    /// Some listener is marked readable: clients may wait in its backlog.
    /// Kept beside the listeners so the per-turn checks need not scan them.
    listener_ready: bool,
    /// The last sleep computed for `poll`, reused while fresh.
    sleep: Sleep,
}

/// `poll`'s timeout until the nearest deadline, remembered: std's
/// `Instant - Instant` costs about as much as answering a small request, and
/// the nearest deadline rarely moves (connection deadlines are re-armed
/// lazily). Reused for up to [`SLEEP_REUSE`], so `poll` may wake that much
/// late; epoll counts in whole milliseconds anyway.
#[derive(Clone, Copy)]
struct Sleep {
    /// The deadline the sleep ends at.
    nearest: Instant,
    /// `nearest - now`, computed at `fresh_until - SLEEP_REUSE`.
    until: Duration,
    /// Reuse `until` while `now` is at most this.
    fresh_until: Instant,
}

/// How long a computed sleep may be reused.
const SLEEP_REUSE: Duration = Duration::from_millis(1);

impl Server<()> {
    /// A builder to set limits before creating the server.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<S: 'static> Server<S> {
    /// Creates a server with default limits, owning the application state
    /// `state`.
    ///
    /// # Errors
    /// Fails if the OS cannot create the poll instance or its waker.
    pub fn new(state: S) -> io::Result<Server<S>> {
        Builder::default().build(state)
    }

    pub(crate) fn with_config(config: Config, state: S) -> io::Result<Server<S>> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), token::WAKER)?;
        let registry = poll.registry().try_clone()?;
        let now = Instant::now();
        Ok(Server {
            poll,
            events: Events::with_capacity(1024),
            listeners: Vec::new(),
            scratch: Scratch::new(config.read_buffer_size),
            core: Core::new(config, state, registry),
            shared: Arc::new(Shared {
                waker,
                queue: Mutex::new(Vec::new()),
                stop: Default::default(),
            }),
            jobs: Vec::new(),
            #[cfg(feature = "signals")]
            signals: None,
            accept_paused_until: None,
            quiet: Quiet::default(),
            drain_deadline: None,
            listener_ready: false,
            sleep: Sleep {
                nearest: now,
                until: Duration::ZERO,
                fresh_until: now,
            },
        })
    }

    /// Binds `addr` and serves each client accepted there with a fresh
    /// protocol value from `factory`. Returns the bound address (useful with
    /// port 0). Call it as often as needed: one server, many ports.
    ///
    /// # Errors
    /// A one-line error naming the address if it does not resolve or cannot
    /// be bound (in use, no permission).
    pub fn listen<P, F>(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
        mut factory: F,
    ) -> io::Result<SocketAddr>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        let context =
            |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
        let resolved = addr
            .to_socket_addrs()
            .map_err(context)?
            .next()
            .ok_or_else(|| context(io::Error::new(io::ErrorKind::InvalidInput, "no address")))?;
        if self.listeners.len() >= token::MAX_LISTENERS {
            return Err(context(io::Error::other("too many listeners")));
        }
        let mut socket =
            crate::accept::bind(resolved, self.core.config.listen_backlog).map_err(context)?;
        let bound = socket.local_addr()?;
        let index = self.listeners.len();
        let registered =
            self.poll
                .registry()
                .register(&mut socket, Token(index), Interest::READABLE);
        trace!("{bound} epoll_ctl(ADD, READABLE) -> {registered:?}");
        registered?;
        debug!("listening on {bound}");
        self.listeners.push(Listener {
            socket,
            addr: bound,
            factory: Box::new(move || Box::new(factory()) as Box<dyn Protocol<S>>),
            readable: false,
        });
        Ok(bound)
    }

    /// The addresses being listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|l| l.addr).collect()
    }

    /// A `Send + Clone` handle for other threads: stop the server, or post
    /// closures to its loop.
    pub fn handle(&self) -> Handle<S> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The core: shared state, timers, stats. Use it before [`run`](Server::run)
    /// to schedule timers or set up state.
    pub fn core(&mut self) -> &mut Core<S> {
        // Timers scheduled before the first turn count from now, not from
        // when the server was built.
        self.core.now = Instant::now();
        self.core.clock = self.core.now;
        self.core.slow_after = self.core.now;
        &mut self.core
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// Stops gracefully on the first SIGINT or SIGTERM, and closes every
    /// connection at once on the second.
    ///
    /// # Errors
    /// Fails if the signal handlers cannot be installed.
    #[cfg(feature = "signals")]
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM])?;
        self.poll
            .registry()
            .register(&mut signals, token::SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Runs the loop until the server has stopped and every connection is
    /// closed, then returns the counters (also logged as one line at `info`).
    ///
    /// Stopping (through [`Handle::stop`], [`Core::stop`] or a signal) is
    /// graceful: the listeners close at once (the ports are free for a new
    /// process), requests already received are answered and their replies
    /// flushed, idle connections close, and whatever is left when
    /// [`Config::drain_timeout`] passes is closed.
    ///
    /// # Errors
    /// Only if `poll` itself fails; nothing a peer does ends `run`.
    pub fn run(&mut self) -> io::Result<Stats> {
        while !self.is_finished() {
            self.step(None)?; // what turn() does, without building its report
        }
        info!("twig stopped: {}", self.core.stats);
        Ok(self.core.stats.clone())
    }

    /// True once the server has stopped and every connection is gone.
    pub fn is_finished(&self) -> bool {
        self.core.stopping && self.core.conns.is_empty()
    }

    /// One turn of the loop: wait for events (at most `max_wait`, or until
    /// the next deadline), dispatch them, fire due timers, run posted jobs,
    /// and remove closed connections. Returns what happened.
    ///
    /// # Errors
    /// Only if `poll` fails (not `EINTR`, which ends the turn early).
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<Tick> {
        let before = self.core.stats.clone();
        let reason = self.step(max_wait)?;
        let busy = Instant::now().saturating_duration_since(self.core.now);
        Ok(Tick::between(reason, &before, &self.core.stats, busy))
    }

    /// One turn of the loop; returns why `poll` woke. The body of
    /// [`turn`](Server::turn), which `run` calls directly: a report built
    /// every turn would cost more than some requests do.
    fn step(&mut self, max_wait: Option<Duration>) -> io::Result<WakeReason> {
        let (timeout, why) = self.poll_timeout(max_wait);
        trace!("poll(timeout {timeout:?}: {why})");
        let interrupted = match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            Err(e) => return Err(e),
        };
        self.core.now = Instant::now();
        // Callbacks are timed from here; `slow_after` is left as it is: an
        // earlier value only sends more callbacks down the exact path.
        self.core.clock = self.core.now;
        self.core.stats.wakeups += 1;
        let mut reason = if interrupted {
            WakeReason::Interrupted
        } else if self.events.is_empty() {
            WakeReason::Timeout
        } else {
            WakeReason::Io
        };
        if log::log_enabled!(log::Level::Trace) {
            let n = self.events.iter().count();
            trace!(
                "poll woke: {reason:?}, {n} event{}",
                if n == 1 { "" } else { "s" }
            );
        }

        let (mut woken, mut signalled) = (false, false);
        for event in self.events.iter() {
            self.core.stats.events += 1;
            match event.token() {
                token::WAKER => woken = true,
                token::SIGNALS => signalled = true,
                token => match ConnId::from_token(token) {
                    Some(id) => on_connection_event(&mut self.core, &mut self.scratch, id, event),
                    None => {
                        if let Some(listener) = self.listeners.get_mut(token.0) {
                            trace!("{} listener readable", listener.addr);
                            listener.readable = true;
                            self.listener_ready = true;
                        }
                    }
                },
            }
        }
        if woken {
            reason = WakeReason::Waker;
        }
        if signalled {
            self.on_signals();
        }
        self.accept();
        self.drive_dirty();
        // Most turns have nothing due: one look at the top of each heap says
        // so (including what this turn scheduled, like `after(ZERO)`).
        let core = &self.core;
        if core.deadlines.is_due(core.now) || core.timers.is_due(core.now) {
            self.fire_deadlines();
            let timers_before = self.core.stats.timers_fired;
            self.fire_timers();
            if reason == WakeReason::Timeout && self.core.stats.timers_fired > timers_before {
                reason = WakeReason::Timer;
            }
        }
        if woken {
            self.run_posted();
        }
        self.stop_if_asked();
        self.reap();
        Ok(reason)
    }

    /// How long `poll` may sleep, and why: zero when work is pending, else
    /// until the nearest deadline (timers, timeouts, accept back-off, drain),
    /// capped by `max_wait`; forever if there is none.
    fn poll_timeout(&mut self, max_wait: Option<Duration>) -> (Option<Duration>, &'static str) {
        let core = &self.core;
        // A back-off that has passed is no reason to wake: either accepting
        // can go on (work pending, below) or the server is full, and then a
        // close will clear the back-off. Counting it would spin the loop.
        let paused = self
            .accept_paused_until
            .filter(|&t| self.listener_ready && t > core.now);
        let nearest = earliest(
            earliest(core.deadlines.next_deadline(), core.timers.next_deadline()),
            earliest(paused, self.drain_deadline),
        );
        let stop_pending = core.stop_requested && !core.stopping;
        if !core.dirty.is_empty() || !core.closed.is_empty() || stop_pending || self.can_accept() {
            return (Some(Duration::ZERO), "work pending");
        }
        let until_nearest = nearest.map(|at| {
            let sleep = &mut self.sleep;
            if at != sleep.nearest || core.now > sleep.fresh_until {
                *sleep = Sleep {
                    nearest: at,
                    until: at.saturating_duration_since(core.now),
                    fresh_until: core.now + SLEEP_REUSE,
                };
            }
            sleep.until
        });
        match (until_nearest, max_wait) {
            (Some(a), Some(b)) if b < a => (Some(b), "max_wait"),
            (Some(a), _) => (Some(a), "nearest deadline"),
            (None, Some(b)) => (Some(b), "max_wait"),
            (None, None) => (None, "no deadline"),
        }
    }

    /// Whether a listener holds clients that could be accepted right now.
    fn can_accept(&self) -> bool {
        // Cheapest and most often false first: it runs twice every turn.
        if !self.listener_ready {
            return false;
        }
        let core = &self.core;
        let room = core.conns.len() < core.config.max_connections
            || core.config.at_capacity == crate::AtCapacity::Refuse;
        let paused = self.accept_paused_until.is_some_and(|t| t > core.now);
        !core.stopping && room && !paused
    }

    /// Accepts from every readable listener, within the per-turn budget.
    fn accept(&mut self) {
        if !self.can_accept() {
            return;
        }
        self.accept_paused_until = None;
        for listener in self.listeners.iter_mut().filter(|l| l.readable) {
            match accept_from(listener, &mut self.core, &mut self.scratch, &mut self.quiet) {
                // Still readable: the next turn (timeout 0) goes on accepting.
                AcceptStop::Idle | AcceptStop::Budget => {}
                AcceptStop::Exhausted => {
                    self.accept_paused_until =
                        Some(self.core.now + self.core.config.accept_backoff);
                }
            }
        }
        self.listener_ready = self.listeners.iter().any(|l| l.readable);
    }

    /// Drives connections that have work outside an event: written to or
    /// closed by other code, or out of budget last turn.
    fn drive_dirty(&mut self) {
        if self.core.dirty.is_empty() {
            return;
        }
        let dirty = std::mem::take(&mut self.core.dirty);
        for &id in &dirty {
            if let Some(conn) = self.core.conns.get_mut(id.key()).filter(|c| c.id == id) {
                conn.queued = false;
                drive(&mut self.core, &mut self.scratch, id);
            }
        }
        // Hand the (empty) vector back to avoid reallocating it every turn,
        // unless callbacks queued more meanwhile.
        if self.core.dirty.is_empty() {
            let mut dirty = dirty;
            dirty.clear();
            self.core.dirty = dirty;
        }
    }

    /// Closes connections whose timeout passed; re-arms those whose deadline
    /// moved later since they were armed.
    fn fire_deadlines(&mut self) {
        let core = &mut self.core;
        let now = core.now;
        while let Some((at, id)) = core.deadlines.pop_due(now) {
            let live = |c: &&mut crate::connection::Connection<S>| {
                c.id == id && !matches!(c.state, State::Closed(_))
            };
            let Some(conn) = core.conns.get_mut(id.key()).filter(live) else {
                continue;
            };
            if conn.armed != Some(at) {
                continue; // superseded by an earlier entry
            }
            conn.armed = None;
            let Some(timeout) = timeout_of(&core.config, conn.phase) else {
                continue;
            };
            let due = conn.phase_since + timeout;
            if due > now {
                core.deadlines.arm(id, due, &mut conn.armed);
                continue;
            }
            let reason = match (conn.phase, conn.state) {
                (_, State::Lingering(reason)) => reason,
                (Phase::Idle, _) => CloseReason::IdleTimeout,
                (Phase::Request, _) => CloseReason::RequestTimeout,
                (Phase::Connecting, _) => {
                    let error = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer within {timeout:?}"),
                    );
                    callbacks::connect_failed(core, &mut self.scratch, id.key(), error);
                    continue;
                }
                _ => CloseReason::WriteTimeout,
            };
            debug!("{id} {}: {reason} after {timeout:?}", conn.peer);
            core.mark_closed(id.key(), reason);
        }
    }

    /// Runs the timers due now, in (deadline, scheduling order). Timers
    /// scheduled by these callbacks wait for the next turn.
    fn fire_timers(&mut self) {
        let core = &mut self.core;
        let watermark = core.timers.watermark();
        while let Some((id, at, callback)) = core.timers.pop_due(core.now, watermark) {
            core.stats.timers_fired += 1;
            trace!("firing {id}");
            let rest = match callback {
                Callback::Once(f) => {
                    callbacks::guarded(core, id, "timer", f);
                    None
                }
                Callback::Every(mut f, interval) => {
                    // A repeating timer that panicked is cancelled.
                    callbacks::guarded(core, id, "timer", |core| f(core))
                        .map(|()| Callback::Every(f, interval))
                }
            };
            let now = core.now;
            core.timers.finish(id, at, now, rest);
        }
    }

    /// Runs the closures posted through handles, and notices a handle's stop.
    fn run_posted(&mut self) {
        let mut jobs = std::mem::take(&mut self.jobs);
        self.shared.swap_jobs(&mut jobs);
        for job in jobs.drain(..) {
            callbacks::guarded(&mut self.core, "handle", "posted closure", job);
        }
        self.jobs = jobs; // empty, keeping its capacity for the next swap
        if self.shared.stop.load(Ordering::Acquire) {
            self.core.stop_requested = true;
        }
    }

    /// Begins shutdown when asked; force-closes what is left at the drain
    /// deadline.
    fn stop_if_asked(&mut self) {
        let core = &mut self.core;
        if core.stop_requested && !core.stopping {
            core.stopping = true;
            self.drain_deadline = Some(core.now + core.config.drain_timeout);
            self.listener_ready = false;
            for mut listener in self.listeners.drain(..) {
                let _ = self.poll.registry().deregister(&mut listener.socket);
                debug!("stopped listening on {}", listener.addr);
            }
            info!("stopping: draining {} connections", core.conns.len());
            let ids: Vec<ConnId> = core.connections().collect();
            for id in ids {
                // Look once more for requests that already arrived: they are
                // answered; then the connection closes.
                core.conns[id.key()].readable = true;
                core.mark_dirty(id);
            }
        }
        if core.stopping && self.drain_deadline.is_some_and(|t| t <= core.now) {
            let ids: Vec<ConnId> = core.connections().collect();
            if !ids.is_empty() {
                warn!("drain deadline passed: closing {} connections", ids.len());
            }
            for id in ids {
                core.mark_closed(id.key(), CloseReason::Shutdown);
            }
        }
    }

    /// Turns pending SIGINT/SIGTERM into a graceful stop (or, the second
    /// time, an immediate one).
    fn on_signals(&mut self) {
        #[cfg(feature = "signals")]
        if let Some(signals) = &mut self.signals {
            let core = &mut self.core;
            for signal in signals.pending() {
                let name = if signal == signal_hook::consts::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                if core.stop_requested || core.stopping {
                    info!("{name} again: closing every connection now");
                    self.drain_deadline = Some(core.now);
                } else {
                    info!("{name}: stopping gracefully");
                    core.stop_requested = true;
                }
            }
        }
    }

    /// Removes the connections closed this turn from the slab: the one place
    /// this happens, after every event of the batch was handled, so no event
    /// can reach a new connection that reused a key.
    fn reap(&mut self) {
        let core = &mut self.core;
        while let Some(key) = core.closed.pop() {
            let mut conn = core.conns.remove(key);
            let State::Closed(reason) = conn.state else {
                error!("twig bug: {} reaped while {:?}", conn.id, conn.state);
                continue;
            };
            core.stats.closed_by[reason.index()] += 1;
            core.stats.active -= 1;
            match reason {
                CloseReason::Error | CloseReason::OutputLimit => {
                    warn!(
                        "{} {}: closed ({reason}); last events: {}",
                        conn.id, conn.peer, conn.recorder
                    )
                }
                _ if !reason.is_normal() => {
                    debug!(
                        "{} {}: closed ({reason}); last events: {}",
                        conn.id, conn.peer, conn.recorder
                    )
                }
                _ => debug!("{} {}: closed ({reason})", conn.id, conn.peer),
            }
            if let Some(mut protocol) = conn.protocol.take() {
                let (id, peer) = (conn.id, conn.peer);
                let mut sink = Vec::new();
                callbacks::guarded(core, callbacks::Who(id, peer), "on_close", |core| {
                    protocol.on_close(
                        reason,
                        &mut Ctx {
                            core,
                            id,
                            peer,
                            out: &mut sink,
                        },
                    )
                });
            }
            // Dropping the socket closes it, which also removes it from the
            // epoll set: no deregister syscall needed.
            drop(conn);
            self.quiet.full = false;
            self.accept_paused_until = None; // a descriptor is free again
        }
        let conns = &core.conns;
        core.deadlines
            .compact_if_mostly_stale(conns.len(), |id, at| {
                conns
                    .get(id.key())
                    .is_some_and(|c| c.id == id && c.armed == Some(at))
            });
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Records an event's readiness on its connection and drives it. Events for
/// a connection that is gone (or whose key now belongs to another) are
/// counted and dropped.
fn on_connection_event<S>(core: &mut Core<S>, scratch: &mut Scratch, id: ConnId, event: &Event) {
    let Some(conn) = core.conns.get_mut(id.key()).filter(|c| c.id == id) else {
        core.stats.stale_events += 1;
        trace!("{id} stale event dropped (connection gone)");
        return;
    };
    trace!(
        "{id} event: readable={} writable={} read_closed={} write_closed={} error={}",
        event.is_readable(),
        event.is_writable(),
        event.is_read_closed(),
        event.is_write_closed(),
        event.is_error()
    );
    if let State::Closed(_) = conn.state {
        core.stats.stale_events += 1;
        trace!("{id} event after close dropped");
        return;
    }
    let bit = |set: bool, bit: u8| if set { bit } else { 0 };
    let flags = bit(event.is_readable(), EventFlags::READABLE)
        | bit(event.is_writable(), EventFlags::WRITABLE)
        | bit(event.is_read_closed(), EventFlags::HUP)
        | bit(event.is_error(), EventFlags::ERROR);
    let turn = core.stats.wakeups as u32;
    conn.recorder.record(Mark::Event {
        turn,
        flags: EventFlags::new(flags),
    });
    // HUP and ERR only say "try the syscall": they set the flags, and read or
    // write will report what happened.
    if event.is_readable() || event.is_read_closed() || event.is_error() {
        conn.readable = true;
    }
    if event.is_read_closed() {
        conn.hup_seen = true;
    }
    if event.is_writable() || event.is_write_closed() || event.is_error() {
        conn.writable = true;
    }
    drive(core, scratch, id);
}
