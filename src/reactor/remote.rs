//! One loop of a [`Workers`](crate::Workers) group, on its own thread, as
//! the calling thread sees it. A [`Server`] is not `Send` (its protocols
//! and state need not be), so each is built on the thread that runs it.
//! Until `run`, that thread waits for orders: setup closures to run on its
//! server (take the socket bound for it, install the signal handlers, the
//! user's own setup), then the order to run, with the [`Group`] it joins.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use log::debug;

use crate::api::config::Config;
use crate::api::handle::Handle;
use crate::api::stats::Stats;
use crate::reactor::group::{Group, Member};
use crate::reactor::hooks::panic_message;
use crate::reactor::server::Server;

/// Work for a loop's server before it runs, on the loop's thread.
type Setup<S> = Box<dyn FnOnce(&mut Server<S>) + Send>;

/// Makes each loop's application state, from its index.
pub(crate) type MakeState<S> = Arc<dyn Fn(usize) -> S + Send + Sync>;

/// What the calling thread tells a waiting loop.
enum Order<S> {
    /// Run this on the server now.
    Setup(Setup<S>),
    /// Join the group and run until stopped.
    Run(Arc<Group<S>>),
}

/// What a loop reports once it has built its server (or failed to).
type Ready<S> = (usize, io::Result<Handle<S>>);

/// A loop's thread, and where its orders go.
type Started<S> = (Sender<Order<S>>, JoinHandle<io::Result<Stats>>);

/// A loop on its own thread.
pub(crate) struct Remote<S: 'static> {
    /// Its index in the group.
    index: usize,
    /// Its server's handle.
    pub(crate) handle: Handle<S>,
    /// Where its orders go; dropped (which ends a loop not yet running)
    /// before joining.
    orders: Option<Sender<Order<S>>>,
    /// Its thread, which returns what the loop's run returned.
    thread: Option<JoinHandle<io::Result<Stats>>>,
}

/// Starts `n` loops, each on its own thread, building its server from
/// `config` and `make_state(index)`.
///
/// # Errors
/// A thread cannot be spawned, or a loop cannot build its server (its poll
/// or waker, or `make_state` panicked); the loops already started end.
pub(crate) fn spawn<S: 'static>(
    n: usize,
    config: &Config,
    make_state: MakeState<S>,
) -> io::Result<Vec<Remote<S>>> {
    let (ready, reports) = mpsc::channel::<Ready<S>>();
    let mut started = Vec::with_capacity(n);
    for index in 0..n {
        let (orders, inbox) = mpsc::channel();
        let (config, make_state, ready) = (config.clone(), Arc::clone(&make_state), ready.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("twig-loop-{index}"))
            .spawn(move || serve(index, config, &*make_state, ready, inbox));
        match spawned {
            Ok(thread) => started.push((orders, thread)),
            Err(e) => {
                end(started);
                return Err(io::Error::new(
                    e.kind(),
                    format!("twig: cannot start loop {index}: {e}"),
                ));
            }
        }
    }
    drop(ready); // each loop drops its own once it has reported
    let mut handles: Vec<Option<Handle<S>>> = (0..n).map(|_| None).collect();
    let mut failed = None;
    for (index, report) in reports.iter() {
        match report {
            Ok(handle) => handles[index] = Some(handle),
            Err(e) => {
                let e = io::Error::new(e.kind(), format!("twig: loop {index} cannot start: {e}"));
                failed.get_or_insert(e);
            }
        }
    }
    let remotes = started.into_iter().zip(handles).enumerate();
    let mut loops = Vec::with_capacity(n);
    for (index, ((orders, thread), handle)) in remotes {
        match handle {
            Some(handle) => loops.push(Remote {
                index,
                handle,
                orders: Some(orders),
                thread: Some(thread),
            }),
            None => {
                drop(orders);
                let _ = thread.join();
            }
        }
    }
    match failed {
        Some(e) => Err(e), // dropping `loops` ends them
        None if loops.len() < n => Err(io::Error::other("twig: a loop died while starting")),
        None => Ok(loops),
    }
}

/// Ends loops that were never given their handles: closing their orders
/// makes them return.
fn end<S>(started: Vec<Started<S>>) {
    for (orders, thread) in started {
        drop(orders);
        let _ = thread.join();
    }
}

/// A loop's thread: build the server, report, follow orders, run.
fn serve<S: 'static>(
    index: usize,
    config: Config,
    make_state: &(dyn Fn(usize) -> S + Send + Sync),
    ready: Sender<Ready<S>>,
    inbox: Receiver<Order<S>>,
) -> io::Result<Stats> {
    let built = panic::catch_unwind(AssertUnwindSafe(|| {
        Server::with_config(config, make_state(index))
    }))
    .unwrap_or_else(|payload| {
        let why = panic_message(&*payload);
        Err(io::Error::other(format!(
            "the state factory panicked: {why}"
        )))
    });
    let mut server = match built {
        Ok(server) => server,
        Err(e) => {
            let _ = ready.send((index, Err(e)));
            return Ok(Stats::default());
        }
    };
    let _ = ready.send((index, Ok(server.handle())));
    drop(ready);
    let group = loop {
        match inbox.recv() {
            Ok(Order::Setup(setup)) => setup(&mut server),
            Ok(Order::Run(group)) => break group,
            // The group was dropped without running.
            Err(_) => return Ok(server.core.stats.clone()),
        }
    };
    // However this loop ends (stopped, `poll` failed, a panic), the others
    // stop too.
    let _stop_all = StopAllOnExit(Arc::clone(&group));
    server.group = Some(Member::new(group, index));
    crate::reactor::handoff::announce_ready()?; // once for the group, if this is a restart
    while !server.is_finished() {
        server.turn_quietly(None)?;
    }
    debug!("loop {index} stopped: {}", server.core.stats);
    Ok(server.core.stats.clone())
}

/// Stops every loop of the group when dropped.
struct StopAllOnExit<S>(Arc<Group<S>>);

impl<S> Drop for StopAllOnExit<S> {
    fn drop(&mut self) {
        self.0.stop_all();
    }
}

impl<S: 'static> Remote<S> {
    /// Runs `setup` on this loop's server, on its thread (in order with
    /// the other orders).
    ///
    /// # Errors
    /// The loop's thread is gone.
    fn order(&self, setup: Setup<S>) -> io::Result<()> {
        self.orders
            .as_ref()
            .and_then(|orders| orders.send(Order::Setup(setup)).ok())
            .ok_or_else(|| self.gone())
    }

    /// Tells the loop to join `group` and run.
    ///
    /// # Errors
    /// The loop's thread is gone.
    pub(crate) fn start(&self, group: Arc<Group<S>>) -> io::Result<()> {
        self.orders
            .as_ref()
            .and_then(|orders| orders.send(Order::Run(group)).ok())
            .ok_or_else(|| self.gone())
    }

    /// Waits for the loop's thread to end (a loop that was not told to run
    /// ends at once) and returns what its run returned.
    ///
    /// # Errors
    /// The loop's `poll` failed, or its thread panicked.
    pub(crate) fn join(&mut self) -> io::Result<Stats> {
        self.orders = None;
        let thread = self.thread.take().ok_or_else(|| self.gone())?;
        thread.join().unwrap_or_else(|payload| {
            let why = panic_message(&*payload);
            Err(io::Error::other(format!("panicked: {why}")))
        })
    }

    fn gone(&self) -> io::Error {
        io::Error::other(format!("twig: loop {} is gone", self.index))
    }
}

impl<S: 'static> Drop for Remote<S> {
    /// Stops the loop (whether or not it runs) and waits for its thread.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.stop();
            let _ = self.join();
        }
    }
}

/// Runs every loop as one group of at most `max_connections` connections,
/// until all have stopped; returns each loop's counters, in loop order.
///
/// # Errors
/// A loop could not be started, its `poll` failed or its thread panicked
/// (the others were stopped); the error names the loop.
pub(crate) fn run_all<S: 'static>(
    mut remotes: Vec<Remote<S>>,
    max_connections: usize,
) -> io::Result<Vec<Stats>> {
    let handles = remotes.iter().map(|r| r.handle.clone()).collect();
    let group = Arc::new(Group::new(handles, max_connections));
    let mut started = Ok(());
    for remote in &remotes {
        if let Err(e) = remote.start(Arc::clone(&group)) {
            group.stop_all();
            started = Err(e);
            break;
        }
    }
    let joined: Vec<io::Result<Stats>> = remotes.iter_mut().map(Remote::join).collect();
    started?;
    joined
        .into_iter()
        .enumerate()
        .map(|(index, result)| {
            result.map_err(|e| io::Error::new(e.kind(), format!("twig: loop {index}: {e}")))
        })
        .collect()
}

/// Runs `f(server, value)` on each loop's thread, with the loop's own
/// value (in loop order), and returns the results in loop order. A panic in
/// `f` is carried to the caller, as if `f` had run on its thread.
///
/// # Errors
/// A loop's thread is gone.
pub(crate) fn each_with<S, T, R, F>(
    remotes: &[Remote<S>],
    values: Vec<T>,
    f: F,
) -> io::Result<Vec<R>>
where
    S: 'static,
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(&mut Server<S>, T) -> R + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let (tx, rx) = mpsc::channel();
    for (slot, (remote, value)) in remotes.iter().zip(values).enumerate() {
        let (f, tx) = (Arc::clone(&f), tx.clone());
        remote.order(Box::new(move |server| {
            let result = panic::catch_unwind(AssertUnwindSafe(|| f(server, value)));
            let _ = tx.send((slot, result));
        }))?;
    }
    drop(tx);
    let mut results: Vec<Option<R>> = remotes.iter().map(|_| None).collect();
    for (slot, result) in rx.iter() {
        match result {
            Ok(r) => results[slot] = Some(r),
            Err(payload) => panic::resume_unwind(payload),
        }
    }
    results
        .into_iter()
        .zip(remotes)
        .map(|(r, remote)| r.ok_or_else(|| remote.gone()))
        .collect()
}
