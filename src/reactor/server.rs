//! The event loop: [`Server`] owns the poll, the listeners, the protocol
//! table and the [`Core`]. [`Server::turn`] is one iteration (its phases are
//! in [`turn`](super::turn)), [`Server::run`] repeats it.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::info;
use mio::{Poll, Waker};

use crate::api::config::{Builder, Config, validated};
use crate::api::handle::Handle;
use crate::api::stats::Stats;
use crate::api::turn::Turn;
use crate::conn::id as token;
use crate::reactor::accept::{Listener, Quiet};
use crate::reactor::core::{Core, Job, Shared};
use crate::reactor::group::Member;
use crate::reactor::protocols::Protocols;

/// A single-threaded TCP server: one `epoll` instance, its listeners, and
/// every connection, driven by one thread.
///
/// # Things that will bite you (and how this loop handles them)
/// - **Readiness is edge-triggered.** An event says readiness *changed*; no
///   second event comes for bytes you did not read. Each connection's
///   machine remembers its edges ([`Ready`](crate::conn::machine::Ready)),
///   used up only when a syscall says `WouldBlock` (or a short read proves
///   the socket drained).
/// - **Drain until `WouldBlock`.** Accept and read in a loop; stopping early
///   strands clients in the backlog or bytes in the socket.
/// - **A 0-byte read is EOF**, never "nothing yet"; so a read is never given
///   an empty buffer.
/// - **`Interrupted` means retry**, for every syscall including `poll`.
/// - **Wake-ups can be spurious**, and HUP/ERR flags only say "try the
///   syscall": a connection's fate is decided by what `read`/`write` return.
/// - **Stale events after a slab key is reused.** A connection closed while
///   handling one event may still have events later in the same batch, and
///   its key may go to a new client. Tokens carry a generation (see
///   [`ConnId`](crate::ConnId)) and closed connections leave the slab only at the end of the
///   turn.
pub struct Server<S> {
    /// The `epoll` instance every socket is registered with.
    pub(super) poll: Poll,
    /// Reused buffer `poll` fills with readiness events (`reactor/poll.rs`).
    pub(super) events: crate::reactor::poll::Events,
    /// Listening sockets, by reserved token (index). Emptied on stop, which
    /// releases the ports.
    pub(super) listeners: Vec<Listener<S>>,
    /// Everything callbacks can reach.
    pub(super) core: Core<S>,
    /// Each connection's protocol, under its slab key.
    pub(super) protocols: Protocols<S>,
    /// The loop's one read buffer (`Config::read_buffer_size`), lent to each
    /// connection in turn: only a partial request is copied out of it, so an
    /// idle connection owns no buffer.
    pub(super) scratch: Vec<u8>,
    /// What handles share with the loop: waker, posted jobs, stop flag.
    pub(super) shared: Arc<Shared<S>>,
    /// The posted jobs being run; swapped with the shared queue.
    pub(super) jobs: Vec<Job<S>>,
    /// SIGINT/SIGTERM, when [`Server::stop_on_signals`] was called.
    #[cfg(feature = "signals")]
    pub(super) signals: Option<signal_hook_mio::v1_0::Signals>,
    /// Accepting is paused until then (out of file descriptors or memory).
    pub(super) accept_paused_until: Option<Instant>,
    /// Accept conditions logged once per stretch (full, out of descriptors).
    pub(super) quiet: Quiet,
    /// When shutdown force-closes what is left.
    pub(super) drain_deadline: Option<Instant>,
    /// Some listener is marked readable: clients may wait in its backlog.
    /// Kept beside the listeners so the per-turn checks need not scan them.
    pub(super) listener_ready: bool,
    /// Connections owed an injected readiness edge (fault injection only).
    #[cfg(feature = "fault-injection")]
    pub(super) injected: Vec<crate::ConnId>,
    /// The last sleep computed for `poll`, reused while fresh.
    pub(super) sleep: Sleep,
    /// This loop's place in a [`Workers`](crate::Workers) group; `None`
    /// for a server of its own, which then shares nothing with any thread.
    pub(super) group: Option<Member<S>>,
}

/// `poll`'s timeout until the nearest deadline, remembered: std's
/// `Instant - Instant` costs about as much as answering a small request, and
/// the nearest deadline rarely moves (connection deadlines are re-armed
/// lazily). Reused for up to [`SLEEP_REUSE`], so `poll` may wake that much
/// late; epoll counts in whole milliseconds anyway.
#[derive(Clone, Copy)]
pub(super) struct Sleep {
    /// The deadline the sleep ends at.
    pub nearest: Instant,
    /// `nearest - now`, computed at `fresh_until - SLEEP_REUSE`.
    pub until: Duration,
    /// Reuse `until` while `now` is at most this.
    pub fresh_until: Instant,
}

impl Server<()> {
    /// A builder to set limits before creating the server.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl<S: 'static> Server<S> {
    /// Creates a server with default limits, owning the application state
    /// `state`.
    ///
    /// # Errors
    /// Fails if the OS cannot create the poll instance or its waker.
    pub fn new(state: S) -> io::Result<Server<S>> {
        Builder::default().build(state)
    }

    pub(super) fn with_config(config: Config, state: S) -> io::Result<Server<S>> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), token::WAKER)?;
        let registry = poll.registry().try_clone()?;
        let now = Instant::now();
        let shared = Arc::new(Shared {
            waker,
            queue: Mutex::new(Vec::new()),
            stop: Default::default(),
            handoff: Default::default(),
        });
        Ok(Server {
            poll,
            events: crate::reactor::poll::events(),
            listeners: Vec::new(),
            scratch: vec![0; config.read_buffer_size],
            core: Core::new(config, state, registry, Arc::clone(&shared)),
            protocols: Protocols::new(),
            shared,
            jobs: Vec::new(),
            #[cfg(feature = "signals")]
            signals: None,
            accept_paused_until: None,
            quiet: Quiet::default(),
            drain_deadline: None,
            listener_ready: false,
            #[cfg(feature = "fault-injection")]
            injected: Vec::with_capacity(64),
            sleep: Sleep {
                nearest: now,
                until: Duration::ZERO,
                fresh_until: now,
            },
            group: None,
        })
    }

    /// A `Send + Clone` handle for other threads: stop the server, or post
    /// closures to its loop.
    pub fn handle(&self) -> Handle<S> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The core: shared state, timers, stats. Use it before [`run`](Server::run)
    /// to schedule timers or set up state (timers set up outside a turn
    /// count from the moment they are scheduled).
    pub fn core(&mut self) -> &mut Core<S> {
        &mut self.core
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// Stops gracefully on the first SIGINT or SIGTERM, and closes every
    /// connection at once on the second. SIGUSR2 restarts without dropping
    /// clients: [`Handle::upgrade`].
    ///
    /// # Errors
    /// Fails if the signal handlers cannot be installed.
    #[cfg(feature = "signals")]
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR2};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGUSR2])?;
        self.poll
            .registry()
            .register(&mut signals, token::SIGNALS, mio::Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Runs the loop until the server has stopped and every connection is
    /// closed, then returns the counters (also logged as one line at `info`).
    ///
    /// Stopping (through [`Handle::stop`], [`Core::stop`] or a signal) is
    /// graceful: the listeners close at once (the ports are free for a new
    /// process), requests already received are answered and their replies
    /// flushed, idle connections close, and whatever is left when
    /// [`Config::drain_timeout`] passes is closed.
    ///
    /// When this process is the new copy of a restart
    /// ([`Handle::upgrade`]), `run` tells the old copy it is ready before
    /// its first turn: listen on everything first.
    ///
    /// # Errors
    /// Only if `poll` itself fails; nothing a peer does ends `run`.
    pub fn run(&mut self) -> io::Result<Stats> {
        crate::reactor::handoff::announce_ready()?; // to the old copy, if this is a restart
        while !self.is_finished() {
            self.turn_quietly(None)?; // what turn() does, without its report
        }
        info!("twig stopped: {}", self.core.stats);
        Ok(self.core.stats.clone())
    }

    /// True once the server has stopped and every connection is gone.
    pub fn is_finished(&self) -> bool {
        let core = &self.core;
        // Detached offloaded jobs are waited for too, until the drain deadline.
        let jobs_done =
            core.detached_in_flight == 0 || self.drain_deadline.is_some_and(|t| t <= core.now);
        core.stopping && core.conns.is_empty() && jobs_done
    }

    /// One turn of the loop: wait for events (at most `max_wait`, or until
    /// the next deadline), dispatch them, fire due timers, run posted jobs,
    /// and remove closed connections. Returns what happened.
    ///
    /// # Errors
    /// Only if `poll` fails (not `EINTR`, which ends the turn early).
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<Turn> {
        let before = self.core.stats.clone();
        let reason = self.turn_quietly(max_wait)?;
        let busy = Instant::now().saturating_duration_since(self.core.now);
        Ok(Turn::between(reason, &before, &self.core.stats, busy))
    }
}

impl Builder {
    /// Creates the server (its `epoll` instance and waker) owning `state`,
    /// the application state every callback reaches as `&mut S`.
    ///
    /// # Errors
    /// Fails if the OS cannot create the poll instance or waker, if a size
    /// limit is zero, or if [`workers`](Builder::workers) asks for more than
    /// one loop (that is [`build_workers`](Builder::build_workers)).
    pub fn build<S: 'static>(self, state: S) -> io::Result<Server<S>> {
        let config = validated(self)?;
        if config.workers > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "twig: workers({}) needs Builder::build_workers; build makes one loop",
                    config.workers
                ),
            ));
        }
        Server::with_config(config, state)
    }
}

/// The first address `addr` resolves to.
///
/// # Errors
/// A one-line error naming `addr` if it does not resolve.
pub(crate) fn resolve(addr: &(impl ToSocketAddrs + std::fmt::Display)) -> io::Result<SocketAddr> {
    let context = |e: io::Error| listen_error(addr, e);
    addr.to_socket_addrs()
        .map_err(context)?
        .next()
        .ok_or_else(|| context(io::Error::new(io::ErrorKind::InvalidInput, "no address")))
}

/// `e`, as a one-line error naming the address that cannot be listened on.
pub(crate) fn listen_error(addr: &impl std::fmt::Display, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
}
