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
