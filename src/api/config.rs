//! Limits and options, with defaults safe to expose to the internet.

use std::io;
use std::time::Duration;

/// What the server does with new clients while it is at
/// [`Config::max_connections`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtCapacity {
    /// Stop accepting: new clients wait in the kernel's listen backlog and are
    /// accepted as soon as a connection closes. The listener is not polled
    /// while full, so the loop does not spin. (Default.)
    Wait,
    /// Accept each new client and close it at once, so it fails fast instead
    /// of waiting. Counted in [`Stats::refused`](crate::Stats::refused).
    Refuse,
}

/// Every limit and timeout of a [`Server`](crate::Server), as
/// [`Core::config`](crate::Core::config) shows it. Set them with the
/// [`Builder`] ([`Server::builder`](crate::Server::builder)).
///
/// A `None` timeout disables it.
///
/// # Defaults
/// This is the one table of twig's figures; the guide, the cookbook and the
/// README quote it. `tests/docs.rs` reads the table from this file and
/// checks every value against [`Config::default`] (and the fixed figures
/// against the constants in the source), and checks every figure the other
/// docs quote against this table.
///
/// | setting | default | what it stops |
/// |---|---|---|
/// | [`max_connections`](Config::max_connections) | 10,000 | a connect flood taking every descriptor |
/// | [`at_capacity`](Config::at_capacity) | [`Wait`](AtCapacity::Wait) | (what happens at `max_connections`: clients wait in the backlog) |
/// | [`max_request_size`](Config::max_request_size) | 64 KiB | a request that never ends filling memory |
/// | [`max_output`](Config::max_output) | 4 MiB | a slow reader pinning the messages sent to it |
/// | [`read_buffer_size`](Config::read_buffer_size) | 64 KiB | (the loop's one read buffer; also the reply size at which answering pipelined requests pauses) |
/// | [`io_budget`](Config::io_budget) | 256 KiB | one greedy connection keeping the loop to itself |
/// | [`accept_budget`](Config::accept_budget) | 256 | a connect flood starving the clients being served |
/// | [`listen_backlog`](Config::listen_backlog) | 1024 | (clients queued by the kernel before `accept`; capped by `net.core.somaxconn`) |
/// | [`idle_timeout`](Config::idle_timeout) | 60 s | a client that connects and goes quiet |
/// | [`request_timeout`](Config::request_timeout) | 30 s | slowloris: a request dribbled a byte at a time |
/// | [`write_timeout`](Config::write_timeout) | 30 s | a peer that stops reading its replies |
/// | [`connect_timeout`](Config::connect_timeout) | 10 s | an outbound connect nobody answers |
/// | [`linger_timeout`](Config::linger_timeout) | 2 s | a peer that never sends its FIN after our close |
/// | [`tls_handshake_timeout`](Config::tls_handshake_timeout) | 10 s | a client that opens a TLS connection and never finishes the handshake |
/// | [`proxy_header_timeout`](Config::proxy_header_timeout) | 5 s | a client of a PROXY-protocol listener that never sends its header |
/// | [`drain_timeout`](Config::drain_timeout) | 10 s | a stop that never finishes |
/// | [`accept_backoff`](Config::accept_backoff) | 100 ms | a loop spinning on `EMFILE` |
/// | [`slow_callback`](Config::slow_callback) | 100 ms (10 ms in debug builds) | (only a warning: blocking callbacks cannot be preempted) |
/// | [`offload_threads`](Config::offload_threads) | 8 | (most threads running offloaded jobs; none start until the first job) |
/// | [`offload_queue`](Config::offload_queue) | 64 | offloaded jobs piling up without bound (past it, `offload` says `Full`) |
/// | [`workers`](Config::workers) | 1 | (event loops, each on its own thread, sharing the port: see [`Workers`](crate::Workers)) |
///
/// Fixed in the code, not configurable:
///
/// | figure | value | what it is |
/// |---|---|---|
/// | `LINGER_MAX_BYTES` in `src/reactor/drive.rs` | 256 KiB | most input a lingering connection discards before it closes anyway |
/// | `EVENTS_CAPACITY` in `src/reactor/poll.rs` | 1024 | most readiness events one `poll` returns (more wait for the next turn) |
/// | `SLEEP_REUSE` in `src/reactor/sleep.rs` | 1 ms | how long a computed `poll` timeout is reused (a deadline may be met that much late) |
/// | `CAPACITY` in `src/conn/recorder.rs` | 16 | marks kept by each connection's flight recorder |
/// | `HIGH_WATER` in `src/http/stream.rs` | 64 KiB | body bytes an HTTP pull stream puts in the reply before it waits for the socket to take them |
///
/// The fields are a read-only view: a `Config` cannot be written as a
/// struct literal outside twig (`#[non_exhaustive]`), so the builder's
/// setters are the one way to set them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Most connections open at once (default 10,000).
    pub max_connections: usize,
    /// What happens to new clients at the connection limit (default
    /// [`AtCapacity::Wait`]).
    pub at_capacity: AtCapacity,
    /// Largest request, in bytes (default 64 KiB): a request that grows past
    /// it before it is complete, or that [`Protocol::frame`](crate::Protocol::frame)
    /// measures longer, is a [`Violation::TooLarge`](crate::Violation).
    pub max_request_size: usize,
    /// Most bytes a connection may owe its peer (replies plus messages from
    /// other connections) before it is closed as a slow consumer (default
    /// 4 MiB).
    pub max_output: usize,
    /// Size of the loop-wide scratch buffer every read goes into (default
    /// 64 KiB). Also the most a single `read` can return.
    pub read_buffer_size: usize,
    /// Most bytes read from, and written to, one connection per loop turn
    /// before other connections get their turn (default 256 KiB).
    pub io_budget: usize,
    /// Most connections accepted per listener per loop turn (default 256).
    pub accept_budget: usize,
    /// Length of each listener's queue of clients that connected but were
    /// not accepted yet (`listen(2)`'s backlog; default 1024, capped by the
    /// kernel's `net.core.somaxconn`). While the server is full, new clients
    /// wait here.
    pub listen_backlog: u32,
    /// Close a connection that has received no byte for this long, whether
    /// or not a request is in progress (default 60 s). Not while code has
    /// paused its reading ([`Core::pause_reading`](crate::Core::pause_reading),
    /// as a streamed HTTP response does): nothing is awaited then.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose request has started but is not complete after
    /// this long (default 30 s): a client dribbling bytes cannot hold a slot.
    pub request_timeout: Option<Duration>,
    /// Close a connection that has owed bytes for this long without taking
    /// any (default 30 s): a peer that stops reading cannot hold a slot.
    pub write_timeout: Option<Duration>,
    /// Give up on an outbound connection not established within this long
    /// (default 10 s).
    pub connect_timeout: Duration,
    /// After the last reply of a closing connection, how long to keep
    /// draining the peer's input before closing (default 2 s), so unread
    /// input does not turn the close into a reset that destroys the reply.
    pub linger_timeout: Duration,
    /// On a TLS listener ([`Server::listen_tls`](crate::Server)), close a
    /// connection whose handshake has not finished within this long (default
    /// 10 s). The idle and request timeouts start once it has.
    pub tls_handshake_timeout: Duration,
    /// On a listener that expects a PROXY protocol header
    /// ([`Listen::proxy_protocol`](crate::Listen::proxy_protocol)), close a
    /// connection whose header has not arrived within this long (default
    /// 5 s), with [`CloseReason::ProxyHeader`](crate::CloseReason::ProxyHeader).
    pub proxy_header_timeout: Duration,
    /// On [`stop`](crate::Handle::stop), how long to let replies in flight
    /// finish before closing the rest (default 10 s).
    pub drain_timeout: Duration,
    /// Pause accepting for this long after the process runs out of file
    /// descriptors or memory (default 100 ms). Resumed early when a
    /// connection closes.
    pub accept_backoff: Duration,
    /// Log a warning when one user callback runs longer than this (default
    /// 100 ms; 10 ms in debug builds, where it is one of the contract
    /// checks and named once per connection): blocking the loop stalls
    /// every client. `None` skips the measurement (one clock read per
    /// callback).
    pub slow_callback: Option<Duration>,
    /// Most threads of the offload pool (default 8), which runs what
    /// [`Ctx::offload`](crate::Ctx::offload) hands it. None start until the
    /// first job.
    pub offload_threads: usize,
    /// Most offloaded jobs waiting for a pool thread (default 64); past it,
    /// [`Ctx::offload`](crate::Ctx::offload) returns
    /// [`OffloadError::Full`](crate::OffloadError::Full) at once.
    pub offload_queue: usize,
    /// Event loops the server runs (default 1), each on its own thread with
    /// its own poll, connections, state and listening socket on the shared
    /// port: see [`Workers`](crate::Workers). Only
    /// [`Builder::build_workers`] runs more than one;
    /// [`Builder::build`] refuses more. [`max_connections`](Config::max_connections)
    /// bounds all the loops together.
    pub workers: usize,
}

/// The default [`Config::slow_callback`]: tighter in debug builds, where it
/// is a contract check (see `reactor/contracts.rs`) and a blocking callback
/// is a bug to find early; in production a warning every time a callback
/// passes 10 ms would be noise.
#[cfg(debug_assertions)]
const SLOW_CALLBACK: Duration = Duration::from_millis(10);
/// The default [`Config::slow_callback`] (10 ms in debug builds).
#[cfg(not(debug_assertions))]
const SLOW_CALLBACK: Duration = Duration::from_millis(100);

impl Default for Config {
    fn default() -> Config {
        Config {
            max_connections: 10_000,
            at_capacity: AtCapacity::Wait,
            max_request_size: 64 * 1024,
            max_output: 4 * 1024 * 1024,
            read_buffer_size: 64 * 1024,
            io_budget: 256 * 1024,
            accept_budget: 256,
            listen_backlog: 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            request_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
            linger_timeout: Duration::from_secs(2),
            tls_handshake_timeout: Duration::from_secs(10),
            proxy_header_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            accept_backoff: Duration::from_millis(100),
            slow_callback: Some(SLOW_CALLBACK),
            offload_threads: 8,
            offload_queue: 64,
            workers: 1,
        }
    }
}

/// Builds a [`Server`](crate::Server): set limits, then
/// [`build`](Builder::build) with the shared application state.
///
/// ```
/// use std::time::Duration;
/// let server = twig::Server::builder()
///     .max_connections(1_000)
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .build(())?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: Config,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Builder {
                self.config.$name = value;
                self
            }
        )*
    };
}

impl Builder {
    setters! {
        /// Sets [`Config::max_connections`].
        max_connections: usize;
        /// Sets [`Config::at_capacity`].
        at_capacity: AtCapacity;
        /// Sets [`Config::max_request_size`].
        max_request_size: usize;
        /// Sets [`Config::max_output`].
        max_output: usize;
        /// Sets [`Config::read_buffer_size`].
        read_buffer_size: usize;
        /// Sets [`Config::io_budget`].
        io_budget: usize;
        /// Sets [`Config::accept_budget`].
        accept_budget: usize;
        /// Sets [`Config::listen_backlog`].
        listen_backlog: u32;
        /// Sets [`Config::idle_timeout`].
        idle_timeout: Option<Duration>;
        /// Sets [`Config::request_timeout`].
        request_timeout: Option<Duration>;
        /// Sets [`Config::write_timeout`].
        write_timeout: Option<Duration>;
        /// Sets [`Config::connect_timeout`].
        connect_timeout: Duration;
        /// Sets [`Config::linger_timeout`].
        linger_timeout: Duration;
        /// Sets [`Config::tls_handshake_timeout`].
        tls_handshake_timeout: Duration;
        /// Sets [`Config::proxy_header_timeout`].
        proxy_header_timeout: Duration;
        /// Sets [`Config::drain_timeout`].
        drain_timeout: Duration;
        /// Sets [`Config::accept_backoff`].
        accept_backoff: Duration;
        /// Sets [`Config::slow_callback`].
        slow_callback: Option<Duration>;
        /// Sets [`Config::offload_threads`].
        offload_threads: usize;
        /// Sets [`Config::offload_queue`].
        offload_queue: usize;
        /// Sets [`Config::workers`]: how many loops
        /// [`build_workers`](Builder::build_workers) starts.
        workers: usize;
    }

    /// Reads the timeouts an operator may tune without recompiling, as whole
    /// seconds from the environment: `IDLE_TIMEOUT_SECS`,
    /// `REQUEST_TIMEOUT_SECS`, `WRITE_TIMEOUT_SECS` (`0` disables one). Unset
    /// variables keep the current value; an unparsable one is logged and
    /// ignored.
    pub fn timeouts_from_env(mut self) -> Builder {
        let read = |name: &str, current: Option<Duration>| match std::env::var(name) {
            Err(_) => current,
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(secs) => Some(Duration::from_secs(secs)),
                Err(_) => {
                    log::warn!("ignoring {name}={text:?}: expected whole seconds");
                    current
                }
            },
        };
        self.config.idle_timeout = read("IDLE_TIMEOUT_SECS", self.config.idle_timeout);
        self.config.request_timeout = read("REQUEST_TIMEOUT_SECS", self.config.request_timeout);
        self.config.write_timeout = read("WRITE_TIMEOUT_SECS", self.config.write_timeout);
        self
    }

    /// The configuration built so far.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The builder's configuration, checked (no size limit is zero) and with
/// every duration clamped so that adding it to an `Instant` cannot
/// overflow.
pub(crate) fn validated(builder: Builder) -> io::Result<Config> {
    let c = &builder.config;
    for (name, value) in [
        ("max_connections", c.max_connections),
        ("max_output", c.max_output),
        ("max_request_size", c.max_request_size),
        ("read_buffer_size", c.read_buffer_size),
        ("io_budget", c.io_budget),
        ("accept_budget", c.accept_budget),
        ("offload_threads", c.offload_threads),
        ("workers", c.workers),
    ] {
        if value == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("twig: {name} must be greater than zero"),
            ));
        }
    }
    let mut config = builder.config;
    for timeout in [
        &mut config.idle_timeout,
        &mut config.request_timeout,
        &mut config.write_timeout,
        &mut config.slow_callback,
    ] {
        *timeout = timeout.map(clamp);
    }
    for duration in [
        &mut config.connect_timeout,
        &mut config.linger_timeout,
        &mut config.tls_handshake_timeout,
        &mut config.proxy_header_timeout,
        &mut config.drain_timeout,
        &mut config.accept_backoff,
    ] {
        *duration = clamp(*duration);
    }
    Ok(config)
}

/// The longest delay twig schedules (ten years): longer ones, up to
/// `Duration::MAX`, mean "never" and are clamped so that adding them to an
/// `Instant` cannot overflow.
pub(crate) fn clamp(delay: Duration) -> Duration {
    delay.min(Duration::from_secs(10 * 365 * 24 * 3600))
}
