//! One turn of the loop, as named phases:
//!
//! ```text
//!  poll ─▶ dispatch events ─▶ signals ─▶ accept ─▶ drive the dirty list
//!       ─▶ deadlines and timers (when one is due) ─▶ posted jobs ─▶ stop? ─▶ reap
//! ```
//!
//! The phases that are more than a few lines live in their own files:
//! [`accept`](super::accept), [`timeouts`](super::timeouts),
//! [`lifecycle`](super::lifecycle) (timers, posted jobs, stop, reap).

use std::io;
use std::time::{Duration, Instant};

use log::trace;

use crate::api::turn::WakeReason;
use crate::conn::id::{self as token, ConnId};
use crate::conn::machine::Event;
use crate::reactor::accept::{AcceptStop, accept_from};
use crate::reactor::cycle::on_event;
use crate::reactor::drive::drive;
use crate::reactor::poll::{self, Readiness};
use crate::reactor::server::Server;
use crate::reactor::timeouts;

impl<S: 'static> Server<S> {
    /// One turn; returns why `poll` woke. The body of
    /// [`turn`](Server::turn), which `run` calls directly: a report built
    /// every turn would cost more than some requests do.
    pub(super) fn turn_quietly(&mut self, max_wait: Option<Duration>) -> io::Result<WakeReason> {
        let mut reason = self.poll(max_wait)?;
        let (woken, signalled) = self.dispatch_events();
        #[cfg(debug_assertions)]
        crate::reactor::contracts::after_dispatch(&mut self.core, &self.events, reason);
        if woken {
            reason = WakeReason::Waker;
        }
        // Each phase's "anything to do?" is tested here; its work is out of
        // line, so most turns, which have none, keep the turn's frame small.
        if signalled {
            self.on_signals();
        }
        if self.listener_ready {
            self.accept();
        }
        if !self.core.dirty.is_empty() {
            self.drive_dirty();
        }
        if self.fire_due() && reason == WakeReason::Timeout {
            reason = WakeReason::Timer;
        }
        if woken {
            self.run_posted();
        }
        if self.core.stop_requested || self.core.stopping {
            self.stop_if_asked();
        }
        if !self.core.closed.is_empty() {
            self.reap();
        }
        // Once per turn, not per request: `None` unless observation is on.
        if let Some(observer) = self.core.observer.as_deref_mut() {
            observer.end_turn(reason, &self.core.stats, self.core.now);
        }
        #[cfg(debug_assertions)]
        crate::reactor::contracts::end_of_turn(&mut self.core);
        self.core.in_turn = false;
        Ok(reason)
    }

    /// Closes the connections whose timeout passed and runs the timers due.
    /// Returns whether a timer ran.
    fn fire_due(&mut self) -> bool {
        // Most turns have nothing due: one look at the top of each heap says
        // so (including what this turn scheduled, like `call_later(ZERO)`).
        let core = &self.core;
        if !(core.deadlines.is_due(core.now) || core.timers.is_due(core.now)) {
            return false;
        }
        self.fire_what_is_due()
    }

    /// [`fire_due`](Self::fire_due)'s work, when something is due.
    #[inline(never)]
    fn fire_what_is_due(&mut self) -> bool {
        while let Some((id, reason)) = timeouts::next_expired(&mut self.core) {
            self.drive_one(id, Event::Deadline(reason));
        }
        self.fire_timers()
    }

    /// The phases after `poll`, for `twig::testing`: the clock is the
    /// caller's (`core.now`), events come as calls to
    /// [`drive_one`](Server::drive_one).
    pub(crate) fn settle(&mut self) {
        self.core.stats.turns += 1;
        self.drive_dirty();
        self.fire_due();
        self.run_posted();
        self.stop_if_asked();
        self.reap();
    }

    /// Drives one connection from `event`, as an event from the poll would.
    pub(crate) fn drive_one(&mut self, id: ConnId, event: Event) {
        let (core, protocols) = (&mut self.core, &mut self.protocols);
        drive(core, protocols, &mut self.scratch, id, event);
    }

    /// Sleeps in `epoll_wait` until an event or the nearest deadline, then
    /// reads the clock once for the whole turn.
    fn poll(&mut self, max_wait: Option<Duration>) -> io::Result<WakeReason> {
        let (timeout, why) = if self.nothing_to_wait_for() {
            let why = if max_wait.is_some() {
                "max_wait"
            } else {
                "no deadline"
            };
            (max_wait, why)
        } else {
            self.poll_timeout(max_wait)
        };
        if log::max_level() >= log::LevelFilter::Trace {
            narrate_poll(timeout, why);
        }
        let interrupted = match poll::wait(self.poll.registry(), &mut self.events, timeout) {
            Ok(()) => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            Err(e) => return Err(e),
        };
        let core = &mut self.core;
        core.now = Instant::now();
        core.in_turn = true;
        // Callbacks are timed from here; `slow_after` is left as it is: an
        // earlier value only sends more callbacks down the exact path.
        core.clock = core.now;
        core.stats.turns += 1;
        let reason = if interrupted {
            WakeReason::Interrupted
        } else if self.events.is_empty() {
            WakeReason::Timeout
        } else {
            WakeReason::Io
        };
        if log::log_enabled!(log::Level::Trace) {
            let n = self.events.len();
            let s = if n == 1 { "" } else { "s" };
            trace!("poll woke: {reason:?}, {n} event{s}");
        }
        Ok(reason)
    }

    /// Hands each event to what its token names: a connection (driven at
    /// once), a listener (marked readable), the waker or the signals.
    /// Returns whether the waker and the signals fired.
    fn dispatch_events(&mut self) -> (bool, bool) {
        let (mut woken, mut signalled) = (false, false);
        for event in &self.events {
            self.core.stats.events += 1;
            match poll::token(event) {
                token::WAKER => woken = true,
                token::SIGNALS => signalled = true,
                token => match ConnId::from_token(token) {
                    Some(id) => on_event(
                        &mut self.core,
                        &mut self.protocols,
                        &mut self.scratch,
                        id,
                        Readiness::of(event),
                    ),
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
        #[cfg(feature = "fault-injection")]
        self.deliver_injected_readiness();
        (woken, signalled)
    }

    /// Injected readiness: a spurious wake-up, or the edge owed after an
    /// injected `WouldBlock` or short read.
    #[cfg(feature = "fault-injection")]
    fn deliver_injected_readiness(&mut self) {
        let mut ids = std::mem::take(&mut self.injected);
        crate::conn::fault::take_readiness(&mut ids);
        for id in ids.drain(..) {
            let ready = Event::Ready {
                read: true,
                write: true,
                hup: false,
            };
            if self.core.live(id).is_some() {
                drive(
                    &mut self.core,
                    &mut self.protocols,
                    &mut self.scratch,
                    id,
                    ready,
                );
            }
        }
        self.injected = ids;
    }

    /// Accepts from every readable listener, within the per-turn budget.
    #[inline(never)]
    fn accept(&mut self) {
        if !self.can_accept() {
            return;
        }
        self.accept_paused_until = None;
        for listener in self.listeners.iter_mut().filter(|l| l.readable) {
            let (core, protocols) = (&mut self.core, &mut self.protocols);
            match accept_from(
                listener,
                core,
                protocols,
                &mut self.scratch,
                &mut self.quiet,
                self.group.as_mut(),
            ) {
                // Still readable: the next turn (timeout 0) goes on accepting.
                AcceptStop::Idle | AcceptStop::Budget => {}
                AcceptStop::Exhausted => {
                    self.accept_paused_until = Some(core.now + core.config.accept_backoff);
                }
            }
        }
        self.listener_ready = self.listeners.iter().any(|l| l.readable);
    }

    /// Drives connections that have work outside an event: written to or
    /// closed by other code, or out of budget last turn.
    #[inline(never)]
    fn drive_dirty(&mut self) {
        if self.core.dirty.is_empty() {
            return;
        }
        let dirty = std::mem::take(&mut self.core.dirty);
        for &id in &dirty {
            if let Some(conn) = self.core.conns.get_mut(id.key()).filter(|c| c.id == id) {
                conn.queued = false;
                drive(
                    &mut self.core,
                    &mut self.protocols,
                    &mut self.scratch,
                    id,
                    Event::Poke,
                );
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
}

/// The trace line before `epoll_wait` (out of line: most turns have no
/// trace to write, and its arguments would otherwise be kept for it).
#[cold]
#[inline(never)]
fn narrate_poll(timeout: Option<Duration>, why: &str) {
    trace!("poll(timeout {timeout:?}: {why})");
}
