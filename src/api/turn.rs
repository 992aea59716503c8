//! [`Turn`]: what one turn of the loop did, for embedders stepping the loop
//! with [`Server::turn`](crate::Server::turn) and for tests.

use std::time::Duration;

use crate::api::stats::Stats;

/// Why `poll` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeReason {
    /// Sockets became ready.
    Io,
    /// Another thread woke the loop through a [`Handle`](crate::Handle)
    /// (possibly alongside socket events).
    Waker,
    /// The timeout ran out and a timer was due.
    Timer,
    /// The timeout ran out (a connection deadline, a back-off, or the
    /// caller's own `max_wait`).
    Timeout,
    /// A signal interrupted `poll` (`EINTR`).
    Interrupted,
}

/// What one loop turn did: differences of [`Stats`] over the turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Why `poll` returned.
    pub woke_by: WakeReason,
    /// Readiness events handled.
    pub events: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed (removed).
    pub closed: u64,
    /// Requests answered.
    pub requests: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Timer callbacks run.
    pub timers_fired: u64,
    /// Events dropped because their connection was gone.
    pub stale_events: u64,
    /// How long the turn worked: from `poll`'s return to the end of the
    /// turn (the loop's own work and every callback it ran).
    pub busy: Duration,
}

impl Turn {
    pub(crate) fn between(
        woke_by: WakeReason,
        before: &Stats,
        after: &Stats,
        busy: Duration,
    ) -> Turn {
        Turn {
            woke_by,
            events: after.events - before.events,
            accepted: after.accepted - before.accepted,
            closed: after.closed_total() - before.closed_total(),
            requests: after.requests - before.requests,
            bytes_in: after.bytes_in - before.bytes_in,
            bytes_out: after.bytes_out - before.bytes_out,
            timers_fired: after.timers_fired - before.timers_fired,
            stale_events: after.stale_events - before.stale_events,
            busy,
        }
    }
}
