//! What the loops of a [`Workers`](crate::Workers) group share, and nothing
//! more: the count of connections open across all of them (so
//! [`Config::max_connections`](crate::Config::max_connections) bounds the
//! whole server), and each loop's [`Handle`] (so one loop stopping stops
//! them all, and a loop that frees a slot wakes the others waiting at the
//! limit).
//!
//! A server outside a group has no [`Member`] (`Server::group` is `None`):
//! with one loop nothing here runs, so its accept path touches no atomic and
//! no lock. The calls into this file from the turn are `#[inline(never)]`:
//! inlined, they grew the single loop's turn by a few instructions per
//! request (measured with the callgrind bench), for code it never runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use log::{trace, warn};

use crate::api::handle::Handle;

/// The group, shared by its loops.
pub(crate) struct Group<S> {
    /// Each loop's handle, by loop index.
    handles: Vec<Handle<S>>,
    /// Connections open across the loops, plus the slots accepts in
    /// progress have reserved.
    live: AtomicUsize,
    /// The limit for the whole group (`Config::max_connections`).
    max: usize,
}

impl<S> Group<S> {
    /// A group of the loops behind `handles`, at most `max` connections in
    /// all.
    pub(crate) fn new(handles: Vec<Handle<S>>, max: usize) -> Group<S> {
        Group {
            handles,
            live: AtomicUsize::new(0),
            max,
        }
    }

    /// Asks every loop to stop gracefully.
    pub(crate) fn stop_all(&self) {
        for handle in &self.handles {
            handle.stop();
        }
    }
}

/// One loop's place in its group (kept in its `Server`).
pub(crate) struct Member<S> {
    group: Arc<Group<S>>,
    /// This loop's index in the group.
    index: usize,
    /// How many of this loop's connections `live` counts; [`sync`](Member::sync)
    /// makes it the slab's length again.
    counted: usize,
}

impl<S> Member<S> {
    /// This loop's index in the group (loop 0 acts on SIGUSR2).
    #[cfg_attr(not(feature = "signals"), allow(dead_code))]
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Loop `index` of `group`.
    pub(crate) fn new(group: Arc<Group<S>>, index: usize) -> Member<S> {
        Member {
            group,
            index,
            counted: 0,
        }
    }

    /// Whether the group is under its connection limit.
    #[inline(never)]
    pub(crate) fn has_room(&self) -> bool {
        self.group.live.load(Ordering::Relaxed) < self.group.max
    }

    /// Takes one slot for an accept about to happen; false (and nothing
    /// taken) at the limit. Reserving before `accept` is what keeps two
    /// loops from both taking the last slot.
    pub(crate) fn reserve(&self) -> bool {
        let group = &self.group;
        if group.live.fetch_add(1, Ordering::AcqRel) < group.max {
            return true;
        }
        group.live.fetch_sub(1, Ordering::AcqRel);
        false
    }

    /// Settles a [`reserve`](Member::reserve)d slot: it now holds an
    /// accepted connection, or it is given back. (If the connection then
    /// fails to register, the next [`sync`](Member::sync) gives it back.)
    pub(crate) fn settle(&mut self, accepted: bool) {
        if accepted {
            self.counted += 1;
        } else {
            self.give_back(1);
        }
    }

    /// Makes the group count exactly this loop's `conns` connections: adds
    /// the outbound ones opened since the last sync, gives back the slots of
    /// the ones reaped. Called before accepting and after reaping.
    #[inline(never)]
    pub(crate) fn sync(&mut self, conns: usize) {
        if conns > self.counted {
            let more = conns - self.counted;
            self.group.live.fetch_add(more, Ordering::AcqRel);
        } else if conns < self.counted {
            self.give_back(self.counted - conns);
        }
        self.counted = conns;
    }

    /// Asks the other loops to stop too: this one is stopping.
    #[inline(never)]
    pub(crate) fn stop_others(&self) {
        for (index, handle) in self.group.handles.iter().enumerate() {
            if index != self.index {
                handle.stop();
            }
        }
    }

    /// Gives `n` slots back. If the group was full, another loop may be
    /// holding clients in its backlog with nothing to wake it (its listener
    /// edge is used up): wake the others, so they try to accept again.
    #[inline(never)]
    fn give_back(&self, n: usize) {
        let before = self.group.live.fetch_sub(n, Ordering::AcqRel);
        if before < self.group.max {
            return;
        }
        trace!(
            "loop {}: a slot is free: waking the other loops",
            self.index
        );
        for (index, handle) in self.group.handles.iter().enumerate() {
            if index != self.index
                && let Err(e) = handle.shared.waker.wake()
            {
                warn!("twig: could not wake loop {index}: {e}");
            }
        }
    }
}
