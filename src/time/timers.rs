//! Deadlines: user timers (`after`, `every`, `cancel`) and per-connection
//! timeouts, both on the monotonic clock.
//!
//! Both are binary heaps keyed by `(deadline, scheduling order)`, so timers fire
//! in deadline order and, for equal deadlines, in the order they were
//! scheduled. Nothing is removed from a heap early: a cancelled timer or a
//! moved connection deadline leaves a stale entry that is recognised and
//! skipped when it reaches the top. That keeps every operation O(log n), and
//! the per-request path (moving a connection's deadline later) O(1): it only
//! writes a field.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Instant;

use slab::Slab;

/// Stale heap entries tolerated before a compaction is worth its O(n).
pub(crate) const COMPACT_SLACK: usize = 1024;

/// Names a scheduled timer, for [`Core::cancel`](crate::Core::cancel). Never names a later timer,
/// even after this one fired and its slot was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    key: u32,
    generation: u32,
}

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timer#{}.{}", self.key, self.generation)
    }
}

struct Entry<C> {
    generation: u32,
    /// `None` while the callback runs (it is moved out to be called with the
    /// core that owns this table).
    callback: Option<C>,
}

/// The user timers of one reactor: a heap of deadlines over a slab of
/// callbacks of type `C` (what a callback is, and what it is called with,
/// is the reactor's business, not this table's).
pub(crate) struct Timers<C> {
    /// `(deadline, seq, key, generation)`, earliest first.
    heap: BinaryHeap<Reverse<(Instant, u64, u32, u32)>>,
    entries: Slab<Entry<C>>,
    /// Scheduling order, so equal deadlines fire first-scheduled first.
    seq: u64,
    next_generation: u32,
}

impl<C> Timers<C> {
    pub(crate) fn new() -> Timers<C> {
        Timers {
            heap: BinaryHeap::new(),
            entries: Slab::new(),
            seq: 0,
            next_generation: 0,
        }
    }

    pub(crate) fn schedule(&mut self, deadline: Instant, callback: C) -> TimerId {
        self.next_generation = self.next_generation.wrapping_add(1);
        let generation = self.next_generation;
        let key = self.entries.insert(Entry {
            generation,
            callback: Some(callback),
        }) as u32;
        self.push(deadline, key, generation);
        TimerId { key, generation }
    }

    fn push(&mut self, deadline: Instant, key: u32, generation: u32) {
        self.seq += 1;
        self.heap
            .push(Reverse((deadline, self.seq, key, generation)));
    }

    /// Cancels a timer; false if it already fired (one-shot) or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> bool {
        match self.entries.get(id.key as usize) {
            Some(entry) if entry.generation == id.generation => {
                self.entries.remove(id.key as usize);
                self.compact_if_mostly_stale();
                true
            }
            _ => false,
        }
    }

    /// Drops the heap entries of cancelled timers once they outnumber the
    /// live ones: O(n) now and then, so amortized O(1) per cancel, and the
    /// heap stays within twice the live timers.
    fn compact_if_mostly_stale(&mut self) {
        if self.heap.len() > 2 * self.entries.len() + COMPACT_SLACK {
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, _, key, generation))| {
                entries
                    .get(*key as usize)
                    .is_some_and(|e| e.generation == *generation)
            });
        }
    }

    /// Timers scheduled and not yet fired or cancelled.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// No timer in the heap, not even a cancelled one.
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The earliest deadline in the heap (possibly of a cancelled timer: at
    /// worst one early wake-up).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Whether the earliest timer is due at `now` (possibly a cancelled
    /// one, which firing then skips).
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.heap.peek().is_some_and(|Reverse((at, ..))| *at <= now)
    }

    /// The scheduling order the next timer will get: timers scheduled from
    /// now on are not due in the current pass, whatever their deadline.
    pub(crate) fn watermark(&self) -> u64 {
        self.seq
    }

    /// Pops the next timer due at `now` scheduled before `watermark`, taking
    /// its callback out. Stale entries are dropped on the way.
    pub(crate) fn pop_due(
        &mut self,
        now: Instant,
        watermark: u64,
    ) -> Option<(TimerId, Instant, C)> {
        while let Some(&Reverse((at, seq, key, generation))) = self.heap.peek() {
            if at > now || seq > watermark {
                return None;
            }
            self.heap.pop();
            if let Some(entry) = self.entries.get_mut(key as usize)
                && entry.generation == generation
                && let Some(callback) = entry.callback.take()
            {
                return Some((TimerId { key, generation }, at, callback));
            }
        }
        None
    }

    /// After a callback ran: re-arm it at `again` (a repeating timer), or
    /// forget it. A timer that cancelled itself meanwhile stays cancelled.
    pub(crate) fn finish(&mut self, id: TimerId, again: Option<(Instant, C)>) {
        let alive =
            matches!(self.entries.get(id.key as usize), Some(e) if e.generation == id.generation);
        if !alive {
            return;
        }
        match again {
            Some((next, callback)) => {
                self.entries[id.key as usize].callback = Some(callback);
                self.push(next, id.key, id.generation);
            }
            None => {
                self.entries.remove(id.key as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn equal_deadlines_fire_in_scheduling_order_and_cancel_skips() {
        let mut timers: Timers<u32> = Timers::new();
        let t0 = Instant::now();
        let a = timers.schedule(t0, 0);
        let b = timers.schedule(t0, 0);
        let c = timers.schedule(t0, 0);
        assert!(timers.cancel(b));
        assert!(!timers.cancel(b), "second cancel finds nothing");
        let mark = timers.watermark();
        let (first, _, cb) = timers.pop_due(t0, mark).unwrap();
        assert_eq!(first, a);
        let _ = cb;
        timers.finish(first, None);
        let (second, ..) = timers.pop_due(t0, mark).unwrap();
        assert_eq!(second, c);
        assert!(timers.pop_due(t0, mark).is_none());
    }

    #[test]
    fn timers_scheduled_during_a_pass_wait_for_the_next_one() {
        let mut timers: Timers<u32> = Timers::new();
        let t0 = Instant::now();
        let mark = timers.watermark();
        timers.schedule(t0, 0);
        assert!(timers.pop_due(t0, mark).is_none());
        assert!(timers.pop_due(t0, timers.watermark()).is_some());
    }

    #[test]
    fn cancelled_timers_do_not_pile_up_in_the_heap() {
        let mut timers: Timers<u32> = Timers::new();
        let later = Instant::now() + Duration::from_secs(60);
        for _ in 0..10_000 {
            let id = timers.schedule(later, 0);
            assert!(timers.cancel(id));
        }
        assert_eq!(timers.len(), 0);
        assert!(
            timers.heap.len() <= COMPACT_SLACK + 1,
            "heap holds {}",
            timers.heap.len()
        );
    }
}
