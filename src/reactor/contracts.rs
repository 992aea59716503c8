//! Contract checks, in debug builds only (`debug_assertions`): the loop
//! watches for four ways a server goes wrong quietly, and names the
//! connection (`#key.generation peer`) and the rule in one log line, once
//! per connection per rule. A check only logs: it never changes what the
//! loop does, and in a release build none of this exists (the module, the
//! [`Ledger`](ledger::Ledger) the core keeps, and every call into it are
//! `#[cfg(debug_assertions)]`). Each line ends with `[contract: ...]`.
//!
//! 1. **A callback blocked the loop** (`warn`). This is the slow-callback
//!    warning of [`Config::slow_callback`](crate::Config::slow_callback),
//!    with a tighter default in debug builds (10 ms instead of 100 ms): one
//!    measurement, one line, never two. In debug builds the line is logged
//!    at `warn` once per connection (later ones at `debug`); slow timers and
//!    posted closures, which have no connection, at most once a second.
//! 2. **Bytes stranded in the socket** (`error`: a twig bug). A connection
//!    that may read (`Open`, `Input::Reading`, not owing unless relaying)
//!    and whose machine says the read edge is spent (`ReadEdge::Drained`),
//!    while the kernel holds bytes for it, waits for an edge that will not
//!    come. It cannot fire falsely on bytes that arrive after the drain: at
//!    the end of a turn, the connections driven in it that are in that
//!    state and hold bytes (`FIONREAD`) become suspects; one is named only
//!    if the *next* `poll` (not interrupted, with room left in its events
//!    buffer, so it harvested every ready socket) brought no event for it
//!    and nothing drove it since. Any byte that arrives after the drain
//!    puts the socket on epoll's ready list, so the next poll reports it;
//!    no event means the bytes were there before the drain. Under fault
//!    injection, the edge the seam owes after a short read is delivered in
//!    that same dispatch, so it clears the suspect too.
//! 3. **Closing or Lingering past its deadline** (`error`: a twig bug).
//!    A connection in `Closing` or `Lingering` whose timeout ([`timeouts`])
//!    had passed at the end of one turn, and is still there at the end of
//!    the next: that turn's deadline pass should have closed it, since its
//!    heap entry is no later than its deadline and the poll does not sleep
//!    past a due entry. One turn of grace, because a deadline can be armed
//!    already past late in a turn, after that turn's pass. Connections
//!    whose deadline is not armed yet (queued to be driven, or a state
//!    change `arm` has not followed) are skipped.
//! 4. **A timer busy loop** (`warn`): a chain of zero-delay timers, each
//!    scheduled by the callback of the one before (`call_later(ZERO, ...)`
//!    from a timer callback), [`CHAIN_LINKS`] links long and
//!    [`CHAIN_SPAN`] old: all that time the loop never slept. A short
//!    chain (work cut into pieces, letting I/O in between) is not named.
//!
//! Checks 2 and 3 guard rules no protocol can break through the public API,
//! so their tests provoke them with two hidden test hooks
//! ([`Core::contract_test_skip_reads`], [`Core::contract_test_lose_deadline`])
//! that simulate the twig bug each check exists to catch.

use std::fmt::Display;
use std::time::{Duration, Instant};

use log::{Level, error, log, warn};

use crate::api::turn::WakeReason;
use crate::conn::connection::Connection;
use crate::conn::id::ConnId;
use crate::conn::machine::{self, Event, Input, Life, ReadEdge, Relay, State};
use crate::reactor::core::Core;
use crate::reactor::timeouts;
use crate::time::timers::TimerId;

pub(crate) mod ledger;

use ledger::{Firing, Rule};

/// Zero-delay re-arms in a row, from timer callbacks, before a chain is
/// named: work cut into a few hundred pieces stays quiet.
pub const CHAIN_LINKS: u32 = 1000;
/// How long the chain must also have kept the loop from sleeping: a job of
/// a thousand quick pieces is over long before.
pub const CHAIN_SPAN: Duration = Duration::from_secs(1);
/// Slow callbacks that belong to no connection: one `warn` line per this.
const SLOW_QUIET: Duration = Duration::from_secs(1);

/// Check 1: logs a slow callback (called by `hooks.rs: check_slow` once it
/// measured one over the limit), at `warn` the first time per connection.
pub(crate) fn slow_callback<S>(
    core: &mut Core<S>,
    who: &dyn Display,
    what: &str,
    took: Duration,
    limit: Duration,
    end: Instant,
) {
    let ledger = &mut core.contracts;
    let first = match core.dispatching {
        Some(id) => ledger.first(id, Rule::SlowCallback),
        None => {
            let quiet = ledger.slow_quiet_until.is_some_and(|t| end < t);
            if !quiet {
                ledger.slow_quiet_until = Some(end + SLOW_QUIET);
            }
            !quiet
        }
    };
    let (level, again) = match first {
        true => (Level::Warn, ""),
        false => (Level::Debug, "; named before"),
    };
    log!(
        level,
        "{who}: {what} blocked the loop for {took:?} (limit {limit:?}): every other client waited [contract: callbacks must not block{again}]"
    );
}

/// The connection as the loop's log lines name it.
fn who<S>(core: &Core<S>, id: ConnId) -> String {
    match core.conns.get(id.key()).filter(|c| c.id == id) {
        Some(conn) => format!("{id} {}", conn.peer),
        None => format!("{id} (closed)"),
    }
}

/// The machine lets the connection read and waits for a readable edge to
/// do so: what a stranded connection looks like from inside.
fn waits_for_read_edge(s: &State) -> bool {
    matches!(s.life, Life::Open | Life::Draining)
        && s.input == Input::Reading
        && (!s.is_owing() || s.relay == Relay::ReadWhileOwing)
        && s.ready.read == ReadEdge::Drained
}

/// Bytes the kernel holds for the connection (`FIONREAD`; below any TLS
/// layer); 0 for the in-memory transport.
fn unread(conn: &Connection) -> u64 {
    let fd = conn.socket.fd();
    fd.and_then(|fd| rustix::io::ioctl_fionread(fd).ok())
        .unwrap_or(0)
}

/// Check 2, second half: right after the poll's events were dispatched,
/// names the suspects of the last turn that no event reached.
pub(crate) fn after_dispatch<S>(
    core: &mut Core<S>,
    events: &crate::reactor::poll::Events,
    reason: WakeReason,
) {
    if core.contracts.suspects.is_empty() {
        return;
    }
    let mut suspects = std::mem::take(&mut core.contracts.suspects);
    // An interrupted poll harvested nothing; a full events buffer leaves
    // ready sockets for the next poll. Either way "no event" proves nothing.
    let full = events.len() >= crate::reactor::poll::EVENTS_CAPACITY;
    let harvested = reason != WakeReason::Interrupted && !full;
    for &id in suspects.iter().filter(|_| harvested) {
        let Some(conn) = core.conns.get(id.key()).filter(|c| c.id == id) else {
            continue;
        };
        // Driven this turn (an event, or an edge the fault seam owed), or
        // about to be: not stranded.
        let driven = conn.budget_turn == core.stats.turns || conn.queued;
        if driven || !waits_for_read_edge(&conn.state) {
            continue;
        }
        let n = unread(conn);
        if n > 0 && core.contracts.first(id, Rule::StrandedRead) {
            error!(
                "{id} {}: {n} bytes wait in the socket but the machine spent its read edge ({}) and no new edge came: stranded until the peer sends more [contract: read until WouldBlock; a twig bug]",
                conn.peer, conn.state
            );
        }
    }
    suspects.clear();
    core.contracts.suspects = suspects; // keeps its capacity
}

/// After the turn: collects check 2's suspects among the connections driven
/// in it, and runs check 3 over the connections closing.
pub(crate) fn end_of_turn<S>(core: &mut Core<S>) {
    let ledger = &mut core.contracts;
    if ledger.turn == core.stats.turns {
        for &id in &ledger.driven {
            let Some(conn) = core.conns.get(id.key()).filter(|c| c.id == id) else {
                continue;
            };
            match conn.state.life {
                Life::Closing(_) | Life::Lingering(_) => {
                    ledger.closing.entry(id).or_insert(false);
                }
                _ if !conn.queued && waits_for_read_edge(&conn.state) && unread(conn) > 0 => {
                    ledger.suspects.push(id);
                }
                _ => {}
            }
        }
        ledger.driven.clear();
    }
    past_deadline(core);
    let conns = &core.conns;
    let reported = &mut core.contracts.reported;
    if reported.len() > 1024 + 2 * conns.len() {
        reported.retain(|id, _| conns.get(id.key()).is_some_and(|c| c.id == *id));
    }
}

/// Check 3: a connection in Closing or Lingering still there a turn after
/// its deadline passed. A deadline can be armed already past, late in a
/// turn (a close whose write timeout counts from long ago), and then the
/// next turn's pass closes it: so a connection is named only when it was
/// late at the end of one turn and is still there at the end of the next.
fn past_deadline<S>(core: &mut Core<S>) {
    let ledger = &mut core.contracts;
    if ledger.closing.is_empty() {
        return;
    }
    let (now, config, conns) = (core.now, &core.config, &mut core.conns);
    let (closing, lose) = (&mut ledger.closing, &ledger.lose_deadline);
    let mut late = Vec::new();
    closing.retain(|&id, was_late| {
        let Some(conn) = conns.get_mut(id.key()).filter(|c| c.id == id) else {
            return false;
        };
        if !matches!(conn.state.life, Life::Closing(_) | Life::Lingering(_)) {
            return false; // closed (or gone): nothing to watch
        }
        if lose.contains(&id) {
            conn.armed = None; // the test hook: its heap entry no longer counts
        }
        if conn.queued || conn.timing != machine::timeout(&conn.state) {
            *was_late = false;
            return true; // its deadline is not armed yet: look next turn
        }
        match timeouts::due(config, conn) {
            Some((at, reason)) if at <= now && *was_late => {
                let by = now.saturating_duration_since(at);
                late.push((id, conn.peer, conn.state, by, reason));
                false
            }
            Some((at, _)) => {
                *was_late = at <= now;
                true
            }
            None => true,
        }
    });
    for (id, peer, state, by, reason) in late {
        if ledger.first(id, Rule::PastDeadline) {
            error!(
                "{id} {peer}: still {state} {by:?} past its deadline, which should have closed it ({reason}) [contract: Closing and Lingering end at their deadline; a twig bug]"
            );
        }
    }
}

/// Check 4: a timer is about to run; notes whether it is a link of a
/// zero-delay chain, and names the chain once it is long and old enough.
pub(crate) fn timer_fires<S>(core: &mut Core<S>, id: TimerId) {
    let turn = core.stats.turns;
    let ledger = &mut core.contracts;
    if ledger.pass_turn != Some(turn) {
        // A new pass: what was scheduled since the last one is due now.
        ledger.pass_turn = Some(turn);
        std::mem::swap(&mut ledger.links, &mut ledger.next_links);
        ledger.next_links.clear();
    }
    let mut chain = ledger.links.remove(&id);
    if let Some(c) = &mut chain {
        let span = core.now.saturating_duration_since(c.since);
        if !c.reported && c.links >= CHAIN_LINKS && span >= CHAIN_SPAN {
            c.reported = true; // its descendants inherit it: one line per chain
            let from = match (c.origin, c.root) {
                (Some(conn), _) => who(core, conn),
                (None, Some(root)) => root.to_string(),
                (None, None) => "a callback".to_string(),
            };
            warn!(
                "{from}: {id} is the {}th zero-delay timer in a row, each scheduled by the callback of the one before, for {span:?}: the loop has not slept since [contract: no busy loop on timers; re-arm with a delay, or use Core::every]",
                c.links
            );
        }
    }
    core.contracts.firing = Firing::Timer(id, chain);
}

/// Check 4: the timer pass is over; what is scheduled now is no re-arm.
pub(crate) fn timers_done<S>(core: &mut Core<S>) {
    core.contracts.firing = Firing::NoTimer;
}

/// The drop-read-edges test hook, applied to the event a connection is
/// driven with.
pub(crate) fn test_hooks<S>(core: &Core<S>, id: ConnId, event: &mut Event) {
    if let Event::Ready {
        read: true, write, ..
    } = *event
        && core.contracts.skips_reads(id)
        && core.live(id).is_some_and(|c| c.state.life == Life::Open)
    {
        *event = Event::Ready {
            read: false,
            write,
            hup: false,
        };
    }
}

/// The contract checks' test hooks (debug builds only; hidden: not part of
/// the API, and absent from release builds).
impl<S> Core<S> {
    /// Test hook for the stranded-read check: from now on, while `id` is
    /// Open, its readable edges are dropped before its machine sees them,
    /// as if the loop had lost them. No protocol can strand bytes through
    /// the public API; this simulates the twig bug the check exists for.
    #[doc(hidden)]
    pub fn contract_test_skip_reads(&mut self, id: ConnId) {
        self.contracts.skip_reads.insert(id);
    }

    /// Test hook for the past-deadline check: once `id` is Closing or
    /// Lingering, its armed deadline is forgotten at the end of each turn,
    /// as if the heap had lost it, so nothing closes it in time. Simulates
    /// the twig bug the check exists for.
    #[doc(hidden)]
    pub fn contract_test_lose_deadline(&mut self, id: ConnId) {
        self.contracts.lose_deadline.insert(id);
    }
}
