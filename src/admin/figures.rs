//! [`LoopFigures`]: one loop's numbers at one moment — its counters, its
//! gauges, its histograms — taken on its own thread, and the board
//! ([`Board`]) where the loops of a [`Workers`](crate::Workers) group post
//! theirs for the admin loop to read.

use std::sync::{Arc, Mutex};

use crate::admin::observer::Histogram;
use crate::api::stats::Stats;
use crate::conn::machine::Life;
use crate::reactor::core::Core;

/// The live lives a connection can be in, by their label names, in the
/// order [`LoopFigures::by_life`] counts them.
pub const LIVES: [&str; 8] = [
    "connecting",
    "proxy_header",
    "handshaking",
    "opening",
    "open",
    "draining",
    "closing",
    "lingering",
];

/// The label name of a life (`closed` for a connection about to leave).
pub fn life_name(life: Life) -> &'static str {
    match life {
        Life::Connecting => LIVES[0],
        Life::ProxyHeader => LIVES[1],
        Life::Handshaking => LIVES[2],
        Life::Opening => LIVES[3],
        Life::Open => LIVES[4],
        Life::Draining => LIVES[5],
        Life::Closing(_) => LIVES[6],
        Life::Lingering(_) => LIVES[7],
        Life::Closed(_) => "closed",
    }
}

/// One loop's figures at one moment.
#[derive(Debug, Clone, Default)]
pub struct LoopFigures {
    /// Its counters.
    pub stats: Stats,
    /// Its live connections per life, in the order of [`LIVES`].
    pub by_life: [u64; LIVES.len()],
    /// Timers scheduled.
    pub timers: u64,
    /// Bytes of partial requests buffered.
    pub buffered_in: u64,
    /// Bytes owed to peers.
    pub owed_out: u64,
    /// Busy time per turn (empty if the loop is not observed).
    pub turn_time: Histogram,
    /// Time per callback (empty if the loop is not observed).
    pub callback_time: Histogram,
}

impl LoopFigures {
    /// Takes the figures of the loop `core` belongs to (on its thread): a
    /// walk of its connections.
    pub fn of<S>(core: &Core<S>) -> LoopFigures {
        let mut figures = LoopFigures {
            stats: core.stats().clone(),
            timers: core.timers_pending() as u64,
            ..LoopFigures::default()
        };
        for (state, buffered, owed) in core.connection_loads() {
            if let Some(i) = LIVES.iter().position(|&n| n == life_name(state.life)) {
                figures.by_life[i] += 1;
            }
            figures.buffered_in += buffered as u64;
            figures.owed_out += owed as u64;
        }
        if let Some(observer) = core.observer() {
            figures.turn_time = observer.turn_time().clone();
            figures.callback_time = observer.callback_time().clone();
        }
        figures
    }
}

/// Where each loop of a group posts its latest figures (by loop index),
/// for the admin loop to read: the only state the loops share for
/// observation, touched by each loop once per publishing period, never per
/// request.
pub type Board = Arc<Mutex<Vec<Option<LoopFigures>>>>;
