//! Counters the loop keeps anyway, readable from callbacks and returned by
//! [`Server::run`](crate::Server::run); they add up (`+=`, `+`, `sum()`), as
//! the loops of a [`Workers`](crate::Workers) group do in [`WorkerStats`].

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

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

/// What [`Workers::run`](crate::Workers::run) returns: each loop's
/// counters, and their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Each loop's counters, by loop index.
    pub per_loop: Vec<Stats>,
    /// Every loop's counters summed.
    pub total: Stats,
}

impl WorkerStats {
    /// The loops' counters and their sum.
    pub(crate) fn of(per_loop: Vec<Stats>) -> WorkerStats {
        let total = per_loop.iter().sum();
        WorkerStats { per_loop, total }
    }
}

impl AddAssign<&Stats> for Stats {
    /// Adds every counter of `other` (the stats of several servers, say).
    fn add_assign(&mut self, other: &Stats) {
        // Destructured, so a new counter cannot be forgotten here.
        let Stats {
            accepted,
            connected,
            active,
            refused,
            capacity_reached,
            accept_errors,
            closed_by,
            requests,
            bytes_in,
            bytes_out,
            turns,
            events,
            stale_events,
            timers_fired,
            dropped_commands,
            offloaded,
            offload_refused,
            results_dropped,
        } = other;
        self.accepted += accepted;
        self.connected += connected;
        self.active += active;
        self.refused += refused;
        self.capacity_reached += capacity_reached;
        self.accept_errors += accept_errors;
        for (sum, n) in self.closed_by.iter_mut().zip(closed_by) {
            *sum += n;
        }
        self.requests += requests;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.turns += turns;
        self.events += events;
        self.stale_events += stale_events;
        self.timers_fired += timers_fired;
        self.dropped_commands += dropped_commands;
        self.offloaded += offloaded;
        self.offload_refused += offload_refused;
        self.results_dropped += results_dropped;
    }
}

impl Add<&Stats> for Stats {
    type Output = Stats;

    /// Every counter of both.
    fn add(mut self, other: &Stats) -> Stats {
        self += other;
        self
    }
}

impl<'a> Sum<&'a Stats> for Stats {
    /// Every counter summed (`per_loop.iter().sum()`).
    fn sum<I: Iterator<Item = &'a Stats>>(iter: I) -> Stats {
        iter.fold(Stats::default(), Add::add)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_add_up_counter_by_counter() {
        let mut a = Stats {
            accepted: 3,
            requests: 10,
            bytes_in: 100,
            ..Stats::default()
        };
        a.closed_by[CloseReason::Eof.index()] = 2;
        let mut b = Stats {
            accepted: 4,
            active: 1,
            turns: 7,
            ..Stats::default()
        };
        b.closed_by[CloseReason::Eof.index()] = 1;
        b.closed_by[CloseReason::IdleTimeout.index()] = 5;
        let total: Stats = [a.clone(), b.clone()].iter().sum();
        assert_eq!(total.accepted, 7);
        assert_eq!(total.active, 1);
        assert_eq!(total.requests, 10);
        assert_eq!(total.bytes_in, 100);
        assert_eq!(total.turns, 7);
        assert_eq!(total.closed(CloseReason::Eof), 3);
        assert_eq!(total.closed(CloseReason::IdleTimeout), 5);
        assert_eq!(total, a.clone() + &b);
        a += &b;
        assert_eq!(total, a);
        assert_eq!([].iter().sum::<Stats>(), Stats::default());
    }
}
