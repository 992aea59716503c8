//! How long the loop may sleep in `poll`: zero while work is pending, else
//! until the nearest deadline (a timer, a connection timeout, the accept
//! back-off, the drain deadline), computed without a clock read and reused
//! for up to [`SLEEP_REUSE`].

use std::time::{Duration, Instant};

use crate::reactor::server::{Server, Sleep};

/// How long a computed sleep may be reused.
pub(crate) const SLEEP_REUSE: Duration = Duration::from_millis(1);

impl<S: 'static> Server<S> {
    /// How long `poll` may sleep, and why: zero when work is pending, else
    /// until the nearest deadline (timers, timeouts, accept back-off, drain),
    /// capped by `max_wait`; forever if there is none. Out of line: most
    /// turns of a busy server have nothing to wait for
    /// ([`nothing_to_wait_for`](Self::nothing_to_wait_for)).
    #[inline(never)]
    pub(super) fn poll_timeout(
        &mut self,
        max_wait: Option<Duration>,
    ) -> (Option<Duration>, &'static str) {
        let can_accept = self.can_accept();
        let core = &mut self.core;
        let stop_pending = core.stop_requested && !core.stopping;
        #[cfg(feature = "fault-injection")]
        let stop_pending = stop_pending || crate::conn::fault::readiness_pending();
        if !core.dirty.is_empty() || !core.closed.is_empty() || stop_pending || can_accept {
            return (Some(Duration::ZERO), "work pending");
        }
        // A back-off that has passed is no reason to wake: either accepting
        // can go on (work pending, below) or the server is full, and then a
        // close will clear the back-off. Counting it would spin the loop.
        let paused = self
            .accept_paused_until
            .filter(|&t| self.listener_ready && t > core.now);
        // Deadlines of connections that are gone are dropped here, so they
        // never wake the poll.
        let conns = &core.conns;
        let deadline = core.deadlines.next_live(|id, at| {
            conns
                .get(id.key())
                .is_some_and(|c| c.id == id && c.armed == Some(at) && c.state.is_live())
        });
        let nearest = earliest(
            earliest(deadline, core.timers.next_deadline()),
            earliest(paused, self.drain_deadline),
        );
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

    /// Nothing pending and no deadline at all, live or stale (a busy server
    /// without timeouts armed, most turns): `poll` waits for events only,
    /// up to the caller's `max_wait`, and [`poll_timeout`](Self::poll_timeout)
    /// need not look. Each test is one load.
    #[inline(always)]
    pub(super) fn nothing_to_wait_for(&self) -> bool {
        let core = &self.core;
        #[cfg(feature = "fault-injection")]
        if crate::conn::fault::readiness_pending() {
            return false;
        }
        !self.listener_ready
            && core.dirty.is_empty()
            && core.closed.is_empty()
            && !core.stop_requested
            && core.deadlines.is_empty()
            && core.timers.is_empty()
            && self.accept_paused_until.is_none()
            && self.drain_deadline.is_none()
    }

    /// Whether a listener holds clients that could be accepted right now.
    pub(super) fn can_accept(&self) -> bool {
        // Cheapest and most often false first: it runs twice every turn.
        if !self.listener_ready {
            return false;
        }
        let core = &self.core;
        let under_limit = match &self.group {
            None => core.conns.len() < core.config.max_connections,
            Some(member) => member.has_room(), // the limit is the group's
        };
        let room = under_limit || core.config.at_capacity == crate::AtCapacity::Refuse;
        let paused = self.accept_paused_until.is_some_and(|t| t > core.now);
        !core.stopping && room && !paused
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
