//! Seeing inside a running server: Prometheus metrics, and a live status
//! page on a loopback-only admin listener, both served by the loop they
//! describe through twig's own HTTP layer.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let mut server = twig::Server::new(())?;
//! server.listen("0.0.0.0:8080", || twig::http::Http::new(twig::http::Router::new()))?;
//! server.listen_admin("127.0.0.1:9090")?; // then: curl http://127.0.0.1:9090/metrics
//! server.run()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Switching it on, and what it costs
//! Nothing here costs anything until a loop is *observed*:
//! [`Server::observe`](crate::Server::observe), or opening an admin
//! listener ([`Server::listen_admin`](crate::Server::listen_admin),
//! [`Workers::listen_admin`](crate::Workers::listen_admin)), which
//! observes. Off, the loop has one test of an `Option` per turn (not per
//! request). On:
//! - one clock read at the end of each turn (its busy time, from `poll`'s
//!   return, into [`Observer::turn_time`]) and a [`Turn`](crate::Turn) report
//!   into a ring of the last [`TURNS_KEPT`];
//! - each callback's time into [`Observer::callback_time`], on the clock read
//!   the slow-callback check makes anyway (it then takes its exact path
//!   every time: a subtraction and a bucket search per callback);
//! - with N loops ([`Workers`](crate::Workers)), a timer on each loop but
//!   the admin's posts its [`LoopFigures`] every [`PUBLISH_EVERY`] to a
//!   shared [`Board`] (one short lock per period, never per request);
//! - a scrape or a page walks the connections once.
//!
//! # `/metrics`
//! The text exposition format 0.0.4 (see [`metrics`](mod@metrics) for the
//! names): every [`Stats`](crate::Stats) counter as `twig_<name>_total`
//! (`closed_by` as `twig_closed_total{reason}`), gauges of open connections
//! by machine state (`twig_connections{state}`), timers
//! (`twig_timers`), bytes buffered in and owed out, and histograms
//! `twig_turn_seconds` and `twig_callback_seconds`. Every series carries
//! `loop="i"`; sum over loops in PromQL. [`metrics()`] is the route on its
//! own, for a router of yours.
//!
//! # `/status`, `/status.json`
//! Every open connection of the loop, up to `status::MAX_ROWS` (500) with
//! the count of all (id, peer, machine state, age, idle time, bytes in and
//! out over its life, bytes buffered and owed, the last flight-recorder
//! marks), the timers (count, next due), the counters and the last turns
//! (wake reason, events, busy time). The connection asking is one of them
//! (`"self": true`).
//!
//! # Safety
//! The admin listener binds loopback addresses only, and answers 403 to a
//! peer not on loopback or a `Host` that is not a loopback name (DNS
//! rebinding). Everything shown is escaped (HTML or JSON).
//!
//! Built on the public API and the read-only snapshot methods of
//! [`Core`](crate::Core): [`connection_snapshots`](crate::Core::connection_snapshots),
//! [`connection_loads`](crate::Core::connection_loads),
//! [`next_timer_in`](crate::Core::next_timer_in),
//! [`observer`](crate::Core::observer).

pub mod figures;
pub(crate) mod html;
pub(crate) mod listen;
pub mod metrics;
pub mod observer;
pub(crate) mod status;

pub use crate::reactor::snapshot::ConnSnapshot;
pub use figures::{Board, LoopFigures};
pub use html::{escape_html, escape_json};
pub use listen::PUBLISH_EVERY;
pub use metrics::metrics;
pub use observer::{Histogram, Observer, TURNS_KEPT};
