//! [`Observer`]: what a loop records about itself only while observation is
//! on — a histogram of its busy time per turn, one of callback time, and
//! the last turns' reports. Plain data: it imports only the API's value
//! types, so the core can hold one without an import circle.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::api::stats::Stats;
use crate::api::turn::{Turn, WakeReason};

/// Upper bounds of the histogram buckets, in nanoseconds: 10 µs to 1 s,
/// roughly 1-2.5-5 per decade. A turn of a healthy loop lands in the first
/// few; the last ones are the stalls an operator must see.
const BOUNDS_NS: [u64; 15] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
];

/// How many turn reports the ring keeps.
pub const TURNS_KEPT: usize = 32;

/// A histogram of durations with fixed buckets (10 µs .. 1 s, and `+Inf`),
/// in the shape Prometheus wants: cumulative counts per upper bound, a sum
/// and a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    counts: [u64; BOUNDS_NS.len() + 1],
    /// Sum of every observation, in nanoseconds.
    sum_ns: u64,
}

impl Histogram {
    /// Records one duration.
    pub fn record(&mut self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(BOUNDS_NS.len());
        self.counts[bucket] += 1;
        self.sum_ns = self.sum_ns.saturating_add(ns);
    }

    /// `(upper bound in seconds, observations at or under it)`, cumulative,
    /// ending with `(f64::INFINITY, count)`.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = BOUNDS_NS
            .iter()
            .map(|&ns| ns as f64 / 1e9)
            .chain([f64::INFINITY]);
        bounds.zip(self.counts.iter().scan(0, |total, n| {
            *total += n;
            Some(*total)
        }))
    }

    /// Every observation added up.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_ns)
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s observations (several loops' histograms, say).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
    }
}

/// What an observed loop records (see [`admin`](crate::admin) for how it is
/// switched on and what it costs). Read it with
/// [`Core::observer`](crate::Core::observer).
#[derive(Debug, Clone)]
pub struct Observer {
    /// Busy time per turn: from `poll`'s return to the end of the turn.
    turn_time: Histogram,
    /// Time per protocol, timer or posted callback (see
    /// [`callback_time`](Observer::callback_time) for what it includes).
    callback_time: Histogram,
    /// The last [`TURNS_KEPT`] turns' reports, oldest first.
    turns: VecDeque<Turn>,
    /// The counters at the end of the previous turn: a turn's report is the
    /// difference (nothing counts between turns, the loop is in `poll`).
    last: Stats,
}

impl Observer {
    pub(crate) fn new(stats: &Stats) -> Observer {
        Observer {
            turn_time: Histogram::default(),
            callback_time: Histogram::default(),
            turns: VecDeque::with_capacity(TURNS_KEPT),
            last: stats.clone(),
        }
    }

    /// Ends a turn that started (`poll` returned) at `started`: one clock
    /// read, one histogram entry, one report in the ring.
    pub(crate) fn end_turn(&mut self, woke_by: WakeReason, stats: &Stats, started: Instant) {
        let busy = Instant::now().saturating_duration_since(started);
        self.turn_time.record(busy);
        if self.turns.len() == TURNS_KEPT {
            self.turns.pop_front();
        }
        self.turns
            .push_back(Turn::between(woke_by, &self.last, stats, busy));
        self.last.clone_from(stats);
    }

    /// Records one callback's duration.
    pub(crate) fn callback(&mut self, took: Duration) {
        self.callback_time.record(took);
    }

    /// Busy time per loop turn: from `poll`'s return to the end of the turn
    /// (the loop's own work and every callback it ran).
    pub fn turn_time(&self) -> &Histogram {
        &self.turn_time
    }

    /// Time per callback (protocol hook, timer, posted closure). Each is
    /// measured from the loop's previous clock reading (the turn's start or
    /// the previous callback's end) to its own end, so it includes the
    /// loop's few syscalls for that connection just before it: one clock
    /// read per callback, not two.
    pub fn callback_time(&self) -> &Histogram {
        &self.callback_time
    }

    /// The last turns' reports (up to [`TURNS_KEPT`]), oldest first.
    pub fn turns(&self) -> impl DoubleEndedIterator<Item = &Turn> + '_ {
        self.turns.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_the_count() {
        let mut h = Histogram::default();
        h.record(Duration::from_micros(5));
        h.record(Duration::from_micros(30));
        h.record(Duration::from_secs(5));
        let buckets: Vec<(f64, u64)> = h.buckets().collect();
        assert_eq!(buckets[0], (10e-6, 1));
        assert_eq!(buckets[2], (50e-6, 2));
        assert_eq!(*buckets.last().unwrap(), (f64::INFINITY, 3));
        assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(h.count(), 3);
        assert_eq!(h.sum(), Duration::from_micros(5_000_035));
    }
}
