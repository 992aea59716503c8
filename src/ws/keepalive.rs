//! The ping watch: after [`Settings::ping_after`](super::Settings) of
//! silence from the peer, send a ping; if nothing comes back within
//! [`Settings::pong_timeout`](super::Settings), close with 1001.
//!
//! The watch is one twig timer per connection, shared with the session
//! through an `Rc<Cell<_>>` (the loop is one thread, and the timer's
//! callback cannot reach the protocol value): a frame received only stores
//! the time in the cell, so the hot path costs no timer operation; the
//! timer, when it fires, looks at the cell and re-arms for the remainder.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::codec::{self, GOING_AWAY};
use crate::{ConnId, Core, TimerId};

/// Where the watch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// Waiting for `ping_after` of silence since `heard`.
    Quiet,
    /// A ping went out at this time; waiting for any frame back.
    Pinged(Instant),
}

/// What the session and the timer share.
#[derive(Debug, Clone, Copy)]
struct Shared {
    /// When the peer last sent a frame.
    heard: Instant,
    liveness: Liveness,
    /// The armed timer, to cancel when the connection closes.
    timer: Option<TimerId>,
}

/// The durations, copied into each timer callback.
#[derive(Debug, Clone, Copy)]
struct Periods {
    ping_after: Duration,
    pong_timeout: Duration,
}

/// One connection's ping watch.
#[derive(Debug)]
pub(crate) struct Watch(Rc<Cell<Shared>>);

impl Watch {
    /// Starts watching connection `id`.
    pub(crate) fn start<S: 'static>(
        core: &mut Core<S>,
        id: ConnId,
        ping_after: Duration,
        pong_timeout: Duration,
    ) -> Watch {
        let shared = Rc::new(Cell::new(Shared {
            heard: core.now(),
            liveness: Liveness::Quiet,
            timer: None,
        }));
        let periods = Periods {
            ping_after,
            pong_timeout,
        };
        arm(core, id, shared.clone(), periods, ping_after);
        Watch(shared)
    }

    /// The peer sent a frame at `now` (a pong, or anything: it is alive).
    pub(crate) fn heard(&self, now: Instant) {
        let mut shared = self.0.get();
        shared.heard = now;
        shared.liveness = Liveness::Quiet;
        self.0.set(shared);
    }

    /// Cancels the timer (the connection is gone).
    pub(crate) fn stop<S>(&self, core: &mut Core<S>) {
        if let Some(timer) = self.0.get().timer {
            core.cancel(timer);
        }
    }
}

fn arm<S: 'static>(
    core: &mut Core<S>,
    id: ConnId,
    shared: Rc<Cell<Shared>>,
    periods: Periods,
    delay: Duration,
) {
    let cell = shared.clone();
    let timer = core.call_later(delay, move |core| check(core, id, cell, periods));
    let mut now = shared.get();
    now.timer = Some(timer);
    shared.set(now);
}

fn check<S: 'static>(core: &mut Core<S>, id: ConnId, shared: Rc<Cell<Shared>>, periods: Periods) {
    let mut state = shared.get();
    state.timer = None;
    let now = core.now();
    match state.liveness {
        Liveness::Quiet => {
            let due = state.heard + periods.ping_after;
            if now < due {
                shared.set(state);
                return arm(core, id, shared, periods, due - now); // heard from since
            }
            let mut ping = Vec::with_capacity(2);
            codec::encode(codec::Opcode::Ping, true, &[], &mut ping);
            // The same send rule as any message: a peer that does not read
            // its pings is a slow consumer.
            if !core.send(id, &ping) {
                return;
            }
            state.liveness = Liveness::Pinged(now);
            shared.set(state);
            arm(core, id, shared, periods, periods.pong_timeout);
        }
        Liveness::Pinged(at) => {
            let due = at + periods.pong_timeout;
            if now < due {
                shared.set(state);
                return arm(core, id, shared, periods, due - now);
            }
            log::debug!("{id}: no pong within {:?}, closing", periods.pong_timeout);
            let mut close = Vec::with_capacity(16);
            codec::encode_close(GOING_AWAY, "ping timeout", &mut close);
            let _ = core.try_send(id, &close); // a full buffer: closed anyway
            core.close(id);
        }
    }
}
