//! A read-only view of the loop for observers ([`twig::admin`](crate::admin)'s
//! status page and metrics): [`Core::connection_snapshots`], the timers'
//! next deadline, the [`Observer`]. Nothing here is on the request path:
//! each call walks the connections once, when someone asks.

use std::time::Duration;

use crate::admin::observer::Observer;
use crate::conn::id::ConnId;
use crate::conn::machine::State;
use crate::conn::peer::Peer;
use crate::reactor::core::Core;

/// One open connection as the loop sees it now, for a status page.
#[derive(Debug, Clone)]
pub struct ConnSnapshot {
    /// Its id.
    pub id: ConnId,
    /// Who is at the other end (a TCP address or a Unix-domain peer).
    pub peer: Peer,
    /// Its machine state (its `Display` is the compact form of the trace).
    pub state: State,
    /// Since it was accepted (or its connect started).
    pub age: Duration,
    /// Since its last byte arrived (or it opened): what the idle timeout
    /// counts.
    pub idle: Duration,
    /// Bytes of a partial request it buffers.
    pub buffered_in: usize,
    /// Bytes owed to it that the socket has not taken yet.
    pub owed_out: usize,
    /// Bytes read from it over its life.
    pub bytes_in: u64,
    /// Bytes written to it over its life (reply bytes the socket took).
    pub bytes_out: u64,
    /// Its flight recorder's marks, oldest first, as text.
    pub recent_events: Vec<String>,
}

impl<S> Core<S> {
    /// The first `limit` live connections of this loop, in slab order.
    /// Costs a few small strings per connection: for a status page, not
    /// for a hot path (a page of 50,000 rows every 2 s would stall the
    /// loop it describes, so pages take a bounded number).
    pub fn connection_snapshots(&self, limit: usize) -> Vec<ConnSnapshot> {
        let now = self.now();
        self.conns
            .iter()
            .filter(|(_, conn)| conn.state.is_live())
            .take(limit)
            .map(|(_, conn)| ConnSnapshot {
                id: conn.id,
                peer: conn.peer,
                state: conn.state,
                age: now.saturating_duration_since(conn.opened),
                idle: now.saturating_duration_since(conn.last_input),
                buffered_in: conn.input.len(),
                owed_out: conn.owed(),
                bytes_in: conn.bytes_in,
                bytes_out: conn.bytes_out,
                recent_events: conn.recorder.marks().map(|m| m.to_string()).collect(),
            })
            .collect()
    }

    /// Each live connection's machine state, bytes of a partial request
    /// buffered and bytes owed: the part of a snapshot that allocates
    /// nothing, for gauges a scrape reads.
    pub fn connection_loads(&self) -> impl Iterator<Item = (State, usize, usize)> + '_ {
        self.conns
            .iter()
            .filter(|(_, conn)| conn.state.is_live())
            .map(|(_, conn)| (conn.state, conn.input.len(), conn.owed()))
    }

    /// How long until the earliest timer is due (zero if overdue), or
    /// `None` with no timer. It may be a cancelled timer's deadline, which
    /// the loop skips when it comes.
    pub fn next_timer_in(&self) -> Option<Duration> {
        let at = self.timers.next_deadline()?;
        Some(at.saturating_duration_since(self.now()))
    }

    /// What this loop records about its turns and callbacks, if
    /// observation is on ([`Server::observe`](crate::Server::observe), or
    /// an admin listener).
    pub fn observer(&self) -> Option<&Observer> {
        self.observer.as_deref()
    }
}
