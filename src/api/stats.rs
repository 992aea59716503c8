//! Counters the loop keeps anyway, readable from callbacks and returned by
//! [`Server::run`](crate::Server::run).

use std::fmt;

use crate::conn::close::CloseReason;

/// What the server has done since it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Outbound connections started with [`Core::connect`](crate::Core::connect).
    pub connected: u64,
    /// Connections open now.
    pub active: u64,
    /// Connections accepted and closed at once because the server was full
    /// ([`AtCapacity::Refuse`](crate::AtCapacity::Refuse)).
    pub refused: u64,
    /// Times accepting stopped at the connection limit
    /// ([`AtCapacity::Wait`](crate::AtCapacity::Wait)): from then until a
    /// connection closes, new clients wait in the backlog. Counted once per
    /// stretch of being full, whether or not a client was waiting.
    pub capacity_reached: u64,
    /// Accept errors: per-connection ones skipped, plus exhaustion ones
    /// (out of descriptors or memory) that paused accepting.
    pub accept_errors: u64,
    /// Connections closed, by reason, in the order of [`CloseReason::ALL`].
    pub closed_by: [u64; CloseReason::ALL.len()],
    /// Complete requests answered.
    pub requests: u64,
    /// Bytes read from peers.
    pub bytes_in: u64,
    /// Bytes written to peers.
    pub bytes_out: u64,
    /// Loop turns: times `poll` returned.
    pub turns: u64,
    /// Readiness events received from `poll`.
    pub events: u64,
    /// Events for a connection that had already closed (generation guard).
    pub stale_events: u64,
    /// Timer callbacks run.
    pub timers_fired: u64,
    /// Commands (posted closures, sends) aimed at a connection that had
    /// already closed, and dropped.
    pub dropped_commands: u64,
    /// Jobs handed to the offload pool.
    pub offloaded: u64,
    /// Offload calls refused because the pool and its queue were full (or
    /// no thread could start).
    pub offload_refused: u64,
    /// Offloaded results that came back for a connection that had closed
    /// (or stopped waiting), and were dropped.
    pub results_dropped: u64,
}

impl Stats {
    /// Connections closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed_by[reason.index()]
    }

    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closed_by.iter().sum()
    }
}

impl fmt::Display for Stats {
    /// One summary line, as logged at shutdown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted {} (refused {}), active {}, requests {}, in {} B, out {} B, \
             turns {}, events {}, closed {}",
            self.accepted,
            self.refused,
            self.active,
            self.requests,
            self.bytes_in,
            self.bytes_out,
            self.turns,
            self.events,
            self.closed_total(),
        )?;
        let mut sep = " (";
        for reason in CloseReason::ALL {
            let n = self.closed(reason);
            if n > 0 {
                write!(f, "{sep}{reason} {n}")?;
                sep = ", ";
            }
        }
        if sep == ", " {
            f.write_str(")")?;
        }
        if self.offloaded > 0 || self.offload_refused > 0 {
            write!(
                f,
                ", offloaded {} (refused {}, results dropped {})",
                self.offloaded, self.offload_refused, self.results_dropped
            )?;
        }
        Ok(())
    }
}
