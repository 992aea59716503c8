//! What the contract checks remember between the places they look (debug
//! builds only): which rule each connection was already named for, the
//! connections driven this turn, the suspects of a stranded read edge, the
//! connections closing, the zero-delay timer chains, and the test hooks.
//!
//! Kept apart from [`contracts`](super) so the [`Core`](crate::Core) can own
//! it, and the loop's files can note what they do with one method call,
//! without importing the checks (which import them).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::conn::id::ConnId;
use crate::time::timers::TimerId;

/// One contract rule, as a bit of [`Ledger::reported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// A callback blocked the loop past `Config::slow_callback`.
    SlowCallback = 1,
    /// Bytes left in the socket while the machine thought the read edge spent.
    StrandedRead = 2,
    /// Closing or Lingering past its deadline.
    PastDeadline = 4,
}

/// A lineage of zero-delay timers, each scheduled by the callback of the
/// one before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chain {
    /// The connection whose callback scheduled the first link, if one did.
    pub origin: Option<ConnId>,
    /// The timer whose callback scheduled the first link, if one did.
    pub root: Option<TimerId>,
    /// Zero-delay re-arms from timer callbacks so far.
    pub links: u32,
    /// When the first link was scheduled (loop time).
    pub since: Instant,
    /// Already named: its descendants stay quiet.
    pub reported: bool,
}

/// The debug-only bookkeeping of the contract checks, one per loop.
#[derive(Default)]
pub(crate) struct Ledger {
    /// Rules each connection was already named for (bits of [`Rule`]): a
    /// rule is logged once per connection.
    pub reported: HashMap<ConnId, u8>,
    /// Slow callbacks outside any connection (timers, posted closures,
    /// `on_close`) are logged at `warn` at most once a second, from here on.
    pub slow_quiet_until: Option<Instant>,
    /// The turn [`driven`](Self::driven) belongs to.
    pub turn: u64,
    /// Connections driven this turn, each once.
    pub driven: Vec<ConnId>,
    /// Connections that ended the last turn with bytes in the socket and a
    /// spent read edge: stranded, unless the next poll reports them.
    pub suspects: Vec<ConnId>,
    /// Connections seen in Closing or Lingering, checked against their
    /// deadline after each turn; `true` once it had passed at the end of
    /// the last turn.
    pub closing: HashMap<ConnId, bool>,
    /// Whether a timer's callback is running, and its chain if it is a
    /// zero-delay link.
    pub firing: Firing,
    /// The turn of the last timer pass.
    pub pass_turn: Option<u64>,
    /// Zero-delay timers due in the current pass, and their chains.
    pub links: HashMap<TimerId, Chain>,
    /// Zero-delay timers scheduled since the current pass began: the next
    /// pass's links.
    pub next_links: HashMap<TimerId, Chain>,
    /// Test hook: connections whose read edges are dropped before the
    /// machine sees them (`Core::contract_test_skip_reads`).
    pub skip_reads: HashSet<ConnId>,
    /// Test hook: connections whose Closing/Lingering deadline is lost
    /// (`Core::contract_test_lose_deadline`).
    pub lose_deadline: HashSet<ConnId>,
}

/// What kind of callback is running, for the timer chains.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Firing {
    /// No timer callback (a protocol hook, a posted closure, or none).
    #[default]
    NoTimer,
    /// A timer's callback; its chain if the timer is a zero-delay link.
    Timer(TimerId, Option<Chain>),
}

impl Ledger {
    /// Notes that `id` is driven in `turn` (called once per connection per
    /// turn, when its I/O budget is renewed).
    pub(crate) fn driven(&mut self, id: ConnId, turn: u64) {
        if self.turn != turn {
            self.turn = turn;
            self.driven.clear();
        }
        self.driven.push(id);
    }

    /// Notes a timer just scheduled with `delay` at loop time `now`, by
    /// the connection `origin`'s callback if one runs. Only zero-delay
    /// timers can be links of a chain.
    pub(crate) fn scheduled(
        &mut self,
        id: TimerId,
        delay: Duration,
        now: Instant,
        origin: Option<ConnId>,
    ) {
        if !delay.is_zero() {
            return;
        }
        let chain = match self.firing {
            Firing::Timer(_, Some(chain)) => Chain {
                links: chain.links + 1,
                ..chain
            },
            Firing::Timer(root, None) => Chain {
                origin: None,
                root: Some(root),
                links: 1,
                since: now,
                reported: false,
            },
            // Not yet a re-arm from a timer: the chain's first timer.
            Firing::NoTimer => Chain {
                origin,
                root: None,
                links: 0,
                since: now,
                reported: false,
            },
        };
        self.next_links.insert(id, chain);
    }

    /// Whether `rule` is new for `id` (and notes it).
    pub(crate) fn first(&mut self, id: ConnId, rule: Rule) -> bool {
        let bits = self.reported.entry(id).or_insert(0);
        let new = *bits & rule as u8 == 0;
        *bits |= rule as u8;
        new
    }

    /// Test hook: whether the readable edge of this event must be dropped.
    pub(crate) fn skips_reads(&self, id: ConnId) -> bool {
        !self.skip_reads.is_empty() && self.skip_reads.contains(&id)
    }
}
