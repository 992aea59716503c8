//! [`Handle`]: how other threads reach the loop — stop it, or post work to it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use log::warn;

use crate::conn::id::ConnId;
use crate::reactor::core::{Core, Shared};

/// A `Send + Clone` handle to a [`Server`](crate::Server), for other threads:
/// stop it, or run a closure on its loop thread (like Twisted's
/// `callFromThread`).
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let mut server = twig::Server::new(Vec::<String>::new())?;
/// let handle = server.handle();
/// std::thread::spawn(move || {
///     let result = String::from("computed elsewhere"); // blocking work here
///     handle.post(move |core| core.state().push(result));
///     handle.stop();
/// });
/// server.run()?;
/// # Ok(()) }
/// ```
pub struct Handle<S> {
    pub(crate) shared: Arc<Shared<S>>,
}

impl<S> Handle<S> {
    /// Asks the server to stop gracefully (see
    /// [`Server::run`](crate::Server::run)). Safe to call many times, from
    /// any thread.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.wake();
    }

    /// Restarts the server without dropping a client (like nginx's binary
    /// upgrade on SIGUSR2, which [`Server::stop_on_signals`](crate::Server::stop_on_signals)
    /// maps to this): starts a new copy of this program (the same binary
    /// and arguments) and hands it every listening socket, as systemd
    /// would (`LISTEN_FDS`, `LISTEN_FDNAMES`; the new copy takes them with
    /// [`Listen::from_systemd`](crate::Listen::from_systemd)). Once the new
    /// copy's `run` says it is ready, this server stops gracefully (its
    /// listeners close, its connections drain) and its `run` returns.
    ///
    /// If the new copy cannot start, exits, or is not ready within 10 s,
    /// this server keeps serving and logs why (one `warn` line). A request
    /// while one is under way is refused (logged); so is one after a stop.
    /// Safe to call from any thread; the wait runs on a helper thread, never
    /// on the loop. See `docs/operate.md`.
    pub fn upgrade(&self) {
        self.shared.handoff.request(None);
        self.wake();
    }

    /// [`upgrade`](Handle::upgrade) into the program at `exe` (with this
    /// process's arguments) instead of the running binary: a new build
    /// installed elsewhere, or, in a test, a program that fails.
    pub fn upgrade_with(&self, exe: impl Into<std::path::PathBuf>) {
        self.shared.handoff.request(Some(exe.into()));
        self.wake();
    }

    /// Runs `job` on the loop thread, with the whole [`Core`], at the end of
    /// the loop's next turn. Jobs run in the order posted. Jobs posted after
    /// the server stopped never run.
    pub fn post(&self, job: impl FnOnce(&mut Core<S>) + Send + 'static) {
        let was_empty = {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push(Box::new(job));
            queue.len() == 1
        };
        // Wakes coalesce: if the queue was not empty, a wake is on its way.
        if was_empty {
            self.wake();
        }
    }

    /// Sends `bytes` to connection `id` from another thread: shorthand for
    /// posting [`Core::send`]. If the connection has closed by then, the bytes
    /// are dropped and counted in [`Stats::dropped_commands`](crate::Stats).
    pub fn send(&self, id: ConnId, bytes: Vec<u8>) {
        self.post(move |core| {
            core.send(id, &bytes);
        });
    }

    fn wake(&self) {
        if let Err(e) = self.shared.waker.wake() {
            warn!("twig: could not wake the loop: {e}");
        }
    }
}

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Handle<S> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for Handle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}
