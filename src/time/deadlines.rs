//! Per-connection deadlines: at most one live heap entry per connection,
//! re-armed lazily, so the per-request path (a deadline moving later) only
//! writes a field of the connection.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::conn::id::ConnId;
use crate::time::timers::COMPACT_SLACK;

/// The per-connection timeouts: at most one live heap entry per connection,
/// re-armed lazily.
///
/// A connection stores its own current deadline; moving it *later* (the
/// common case: a request completed) changes only that field. The heap entry
/// stays where it was, and when it comes due the connection's real deadline
/// is checked and re-pushed. Moving it *earlier* pushes a new entry.
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, ConnId)>>,
}

impl Deadlines {
    pub(crate) fn new() -> Deadlines {
        Deadlines {
            heap: BinaryHeap::new(),
        }
    }

    /// Makes sure a wake-up comes no later than `deadline` for `id`; `armed`
    /// is the connection's record of the earliest entry it has in the heap.
    pub(crate) fn arm(&mut self, id: ConnId, deadline: Instant, armed: &mut Option<Instant>) {
        if armed.is_none_or(|at| deadline < at) {
            self.heap.push(Reverse((deadline, id)));
            *armed = Some(deadline);
        }
    }

    /// No deadline at all, live or stale.
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The earliest deadline still counted on: entries of connections that
    /// are gone (or were re-armed earlier) are dropped from the top first,
    /// so a closed connection's deadline never wakes the poll.
    /// `is_live(id, at)` says whether an entry is still its connection's.
    pub(crate) fn next_live(
        &mut self,
        is_live: impl Fn(ConnId, Instant) -> bool,
    ) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if is_live(id, at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    #[cfg(test)]
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Drops the entries of connections that are gone (or re-armed earlier)
    /// once they outnumber the live connections: without it, a server
    /// churning through short connections would keep each one's idle
    /// deadline for the whole idle timeout. `is_live(id, at)` says whether an
    /// entry is still the one its connection counts on.
    pub(crate) fn compact_if_mostly_stale(
        &mut self,
        live: usize,
        is_live: impl Fn(ConnId, Instant) -> bool,
    ) {
        if self.heap.len() > 2 * live + COMPACT_SLACK {
            self.heap.retain(|Reverse((at, id))| is_live(*id, *at));
        }
    }

    /// Whether the earliest entry is due at `now` (possibly a stale one).
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.heap.peek().is_some_and(|Reverse((at, _))| *at <= now)
    }

    /// Pops one entry due at `now`: `(when it was armed for, connection)`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, ConnId)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadlines_only_push_when_moved_earlier() {
        let mut d = Deadlines::new();
        let id = ConnId {
            key: 1,
            generation: 1,
        };
        let t0 = Instant::now();
        let mut armed = None;
        d.arm(id, t0 + Duration::from_secs(5), &mut armed);
        d.arm(id, t0 + Duration::from_secs(9), &mut armed);
        assert_eq!(d.heap.len(), 1, "moving later writes no heap entry");
        d.arm(id, t0 + Duration::from_secs(1), &mut armed);
        assert_eq!(d.heap.len(), 2);
        assert_eq!(d.next_deadline(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn entries_of_gone_connections_are_not_the_next_deadline() {
        let mut d = Deadlines::new();
        let t0 = Instant::now();
        let (gone, live) = (
            ConnId {
                key: 1,
                generation: 1,
            },
            ConnId {
                key: 2,
                generation: 1,
            },
        );
        d.arm(gone, t0 + Duration::from_secs(1), &mut None);
        d.arm(live, t0 + Duration::from_secs(5), &mut None);
        let next = d.next_live(|id, _| id == live);
        assert_eq!(next, Some(t0 + Duration::from_secs(5)));
        assert_eq!(d.heap.len(), 1, "the stale entry was dropped");
        assert_eq!(d.next_live(|_, _| false), None);
    }
}
