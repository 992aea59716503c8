//! [`Workers`]: N independent loops serving the same port, one per thread,
//! shared-nothing like nginx's workers. The loop threads are in
//! [`remote`](super::remote); what the loops share is in
//! [`group`](super::group).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use log::info;

use crate::api::config::{Builder, validated};
use crate::api::handle::Handle;
use crate::api::stats::WorkerStats;
use crate::reactor::remote::{self, Remote, each_with};
use crate::reactor::server::Server;

/// N event loops serving the same ports, each on its own thread with its
/// own poll, connections, timers, application state and listening socket
/// (bound with `SO_REUSEPORT`: the kernel spreads new clients over the
/// loops). Built by [`Builder::build_workers`] with
/// [`workers(n)`](Builder::workers).
///
/// **State is per loop.** Each loop owns its own `S`, made by
/// `make_state(index)`, and reaches it as a plain `&mut S`, as a single
/// [`Server`] does: nothing is shared between the loops, so nothing needs a
/// lock. Loops talk through messages: a [`Handle`] of each loop
/// ([`handles`](Workers::handles)) posts closures to it from any thread, or
/// the state holds a channel to a thread of your own.
/// `examples/counter_workers.rs` keeps a counter across loops that way.
///
/// What the loops do share:
/// - [`Config::max_connections`](crate::Config::max_connections) bounds the
///   connections of all the loops together (an atomic counter, touched only
///   when a connection is accepted or closed);
/// - stopping: one loop stopping ([`Handle::stop`] on any loop's handle,
///   [`Core::stop`](crate::Core::stop) in any callback, SIGINT or SIGTERM
///   after [`stop_on_signals`](Workers::stop_on_signals)) stops them all,
///   gracefully, and a loop that fails stops the others;
/// - the counters, summed by [`run`](Workers::run).
///
/// With `workers(1)` (the default) this is exactly one [`Server`] on the
/// calling thread: no thread is started, and nothing is shared.
///
/// ```
/// use std::io::{Read, Write};
/// use twig::{After, Ctx, Frame, Protocol, Server};
///
/// struct Hello;
///
/// impl Protocol<usize> for Hello {
///     fn frame(&mut self, input: &[u8]) -> Frame {
///         Frame::Complete(input.len())
///     }
///     fn reply(&mut self, _: &[u8], ctx: &mut Ctx<usize>) -> After {
///         let index = *ctx.state(); // this loop's own state: its index
///         ctx.write(format!("hello from loop {index}").as_bytes());
///         After::Close
///     }
/// }
///
/// fn main() -> std::io::Result<()> {
///     let mut workers = Server::builder().workers(2).build_workers(|index| index)?;
///     let addr = workers.listen("127.0.0.1:0", || Hello)?;
///     let handle = workers.handle();
///     let client = std::thread::spawn(move || -> std::io::Result<String> {
///         let mut socket = std::net::TcpStream::connect(addr)?;
///         socket.write_all(b"hi")?;
///         let mut reply = String::new();
///         socket.read_to_string(&mut reply)?;
///         handle.stop(); // stops both loops
///         Ok(reply)
///     });
///     let stats = workers.run()?;
///     assert!(client.join().unwrap()?.starts_with("hello from loop "));
///     assert_eq!(stats.per_loop.len(), 2);
///     assert_eq!(stats.total.accepted, 1);
///     Ok(())
/// }
/// ```
pub struct Workers<S: 'static> {
    /// The loops themselves.
    pub(super) loops: Loops<S>,
    /// `Config::listen_backlog`, for the sockets `listen` binds.
    pub(super) backlog: u32,
    /// `Config::max_connections`: the limit for the whole group.
    max_connections: usize,
    /// Addresses listened on, the same on every loop.
    pub(super) addrs: Vec<SocketAddr>,
}

/// One loop on the calling thread, or several on their own.
pub(crate) enum Loops<S: 'static> {
    /// `workers(1)`: today's server, nothing more.
    One(Box<Server<S>>),
    /// Each loop's server lives on its thread, waiting for orders until run.
    Many(Vec<Remote<S>>),
}

impl Builder {
    /// Creates [`workers`](Builder::workers) loops; loop `index` owns
    /// `make_state(index)` as its application state (see "State is per
    /// loop" on [`Workers`]). With more than one loop, each loop's thread
    /// starts now, builds its server there (so neither `S` nor the
    /// protocols need be `Send`) and waits for [`run`](Workers::run).
    ///
    /// # Errors
    /// A size limit or `workers` is zero, or a loop cannot start (a thread
    /// cannot be spawned, the OS cannot create a poll instance or waker,
    /// or `make_state` panicked): the error names the loop, and the loops
    /// already started end.
    pub fn build_workers<S: 'static>(
        self,
        make_state: impl Fn(usize) -> S + Send + Sync + 'static,
    ) -> io::Result<Workers<S>> {
        let config = validated(self)?;
        let (backlog, max_connections) = (config.listen_backlog, config.max_connections);
        let loops = if config.workers == 1 {
            Loops::One(Box::new(Server::with_config(config, make_state(0))?))
        } else {
            // systemd's (or a restart's) sockets are read out of the
            // environment before any loop thread exists (see `prefetch`).
            crate::api::activation::prefetch()?;
            Loops::Many(remote::spawn(
                config.workers,
                &config,
                Arc::new(make_state),
            )?)
        };
        Ok(Workers {
            loops,
            backlog,
            max_connections,
            addrs: Vec::new(),
        })
    }
}

impl<S: 'static> Workers<S> {
    /// How many loops there are.
    pub fn count(&self) -> usize {
        match &self.loops {
            Loops::One(_) => 1,
            Loops::Many(remotes) => remotes.len(),
        }
    }

    /// The addresses being listened on (the same on every loop).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        match &self.loops {
            Loops::One(server) => server.local_addrs(),
            Loops::Many(_) => self.addrs.clone(),
        }
    }

    /// Runs `f` on each loop, on that loop's thread, before
    /// [`run`](Workers::run): with the loop's index and its [`Server`], to
    /// schedule timers ([`Server::core`]), set up its state, or read what it
    /// holds. Returns what `f` returned on each loop, in loop order. A panic
    /// in `f` reaches the caller, as if `f` had run on the calling thread.
    ///
    /// # Errors
    /// A loop's thread is gone.
    pub fn each<R, F>(&mut self, f: F) -> io::Result<Vec<R>>
    where
        R: Send + 'static,
        F: Fn(usize, &mut Server<S>) -> R + Send + Sync + 'static,
    {
        match &mut self.loops {
            Loops::One(server) => Ok(vec![f(0, server)]),
            Loops::Many(remotes) => {
                let indices = (0..remotes.len()).collect();
                each_with(remotes, indices, move |server, index| f(index, server))
            }
        }
    }

    /// Stops every loop gracefully on the first SIGINT or SIGTERM, and
    /// closes every connection at once on the second, as
    /// [`Server::stop_on_signals`] does for one (each loop installs its own
    /// handlers, and each sees every signal).
    ///
    /// # Errors
    /// Fails if the signal handlers cannot be installed.
    #[cfg(feature = "signals")]
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        self.each(|_, server| server.stop_on_signals())?
            .into_iter()
            .collect()
    }

    /// A handle to the group: its [`stop`](Handle::stop) stops every loop
    /// (it is loop 0's handle, and one loop stopping stops all); its
    /// [`upgrade`](Handle::upgrade) restarts the process, handing over loop
    /// 0's listeners (the new copy shares each among its own loops); what
    /// it posts runs on loop 0. Use [`handles`](Workers::handles) to reach a
    /// given loop.
    pub fn handle(&self) -> Handle<S> {
        match &self.loops {
            Loops::One(server) => server.handle(),
            Loops::Many(remotes) => remotes[0].handle.clone(),
        }
    }

    /// Each loop's handle, by loop index: post to loop `i` with
    /// `handles[i].post(..)` (its stats, say: `core.stats()`).
    pub fn handles(&self) -> Vec<Handle<S>> {
        match &self.loops {
            Loops::One(server) => vec![server.handle()],
            Loops::Many(remotes) => remotes.iter().map(|r| r.handle.clone()).collect(),
        }
    }

    /// Runs every loop until the group has stopped and every connection is
    /// closed (see [`Server::run`] for a graceful stop), then returns each
    /// loop's counters and their sum, and logs the sum as one line at
    /// `info`. With one loop, this is [`Server::run`] on the calling
    /// thread; with more, the calling thread waits for the loops.
    ///
    /// # Errors
    /// A loop's `poll` failed or its thread panicked (the others were
    /// stopped first); the error names the loop.
    pub fn run(self) -> io::Result<WorkerStats> {
        let remotes = match self.loops {
            Loops::One(mut server) => {
                return server.run().map(|stats| WorkerStats::of(vec![stats]));
            }
            Loops::Many(remotes) => remotes,
        };
        let n = remotes.len();
        let stats = WorkerStats::of(remote::run_all(remotes, self.max_connections)?);
        info!("twig stopped ({n} loops): {}", stats.total);
        Ok(stats)
    }
}
