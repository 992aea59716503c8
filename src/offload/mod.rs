//! Blocking work off the loop, the event-loop way (Twisted's
//! `deferToThread`, asyncio's `run_in_executor`, libuv's `uv_queue_work`):
//! a closure runs on a bounded pool of threads (`offload/pool.rs`), and its result
//! comes back to the loop thread through the [`Handle`]'s queue and waker,
//! where a callback gets it — as a callback of the connection that asked
//! ([`Ctx::offload`]) or with the whole [`Core`] ([`Core::offload_detached`]).
//!
//! - **In order.** While a connection waits for a result its machine is in
//!   [`Input::Awaiting`]: later pipelined requests wait behind it, and
//!   nothing more is read (backpressure). The result's callback answers;
//!   then what waited is answered.
//! - **Generation-checked.** A result for a connection that closed meanwhile
//!   is dropped and counted ([`Stats::results_dropped`](crate::Stats)).
//! - **Bounded.** [`Config::offload_threads`](crate::Config) threads,
//!   [`Config::offload_queue`](crate::Config) waiting jobs; past that the call
//!   says [`OffloadError::Full`] at once, and the protocol answers "busy"
//!   (a 503, a RESP error). No thread starts until the first job.
//! - **Isolated.** A job that panics closes only its connection
//!   ([`CloseReason::JobPanic`]); the pool thread survives.

pub(crate) mod pool;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use log::{debug, error};

use crate::api::ctx::Ctx;
use crate::api::handle::Handle;
use crate::conn::close::CloseReason;
use crate::conn::connection::Connection;
use crate::conn::id::ConnId;
use crate::conn::machine::{Command, Event, Input, Life};
use crate::reactor::core::Core;
use crate::reactor::hooks::{deliver, guarded, panic_message};
use pool::{Pool, Refused};

/// Why work could not be offloaded. Nothing was queued; the caller decides
/// what to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffloadError {
    /// Every pool thread is busy and the queue is full
    /// ([`Config::offload_queue`](crate::Config::offload_queue)).
    Full,
    /// The connection is not answering a request: it is closing, paused,
    /// half-closed, or already waiting for another result (one at a time
    /// keeps replies in order).
    NotAnswering,
    /// The OS would not start a pool thread.
    NoThread,
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffloadError::Full => "the offload pool and its queue are full",
            OffloadError::NotAnswering => "the connection is not answering a request",
            OffloadError::NoThread => "no offload thread could be started",
        })
    }
}

impl std::error::Error for OffloadError {}

impl<S: 'static> Core<S> {
    /// A handle to this loop, for other threads (and offloaded jobs): post
    /// closures to it, send to connections, stop it.
    pub fn handle(&self) -> Handle<S> {
        Handle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Runs `work` on the offload pool; `then` gets its result on the loop
    /// thread, with the whole [`Core`], at the end of a turn. Not tied to
    /// any connection (for a request's work, use [`Ctx::offload`]). A
    /// graceful stop waits for it (up to
    /// [`Config::drain_timeout`](crate::Config::drain_timeout)). If `work`
    /// panics, `then` is not called and the panic is logged.
    ///
    /// # Errors
    /// [`OffloadError::Full`] or [`OffloadError::NoThread`]; nothing was
    /// queued.
    pub fn offload_detached<T, W, D>(&mut self, work: W, then: D) -> Result<(), OffloadError>
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        D: FnOnce(T, &mut Core<S>) + Send + 'static,
    {
        self.submit(work, move |result, core| {
            core.detached_in_flight -= 1;
            match result {
                Ok(value) => then(value, core),
                Err(why) => error!("offloaded job panicked: {why}"),
            }
        })?;
        self.detached_in_flight += 1;
        Ok(())
    }

    /// Queues `work`; its outcome (`Err`: the panic's message) comes back to
    /// `then` on the loop thread.
    fn submit<T, W, D>(&mut self, work: W, then: D) -> Result<(), OffloadError>
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        D: FnOnce(Result<T, String>, &mut Core<S>) + Send + 'static,
    {
        let handle = self.handle();
        let config = &self.config;
        let pool = self
            .pool
            .get_or_insert_with(|| Pool::new(config.offload_threads, config.offload_queue));

        let task = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(work))
                .map_err(|payload| panic_message(&*payload).to_string());
            handle.post(move |core| then(result, core));
        });
        match pool.submit(task) {
            Ok(()) => {
                self.stats.offloaded += 1;
                Ok(())
            }
            Err(refused) => {
                self.stats.offload_refused += 1;
                Err(match refused {
                    Refused::Full => OffloadError::Full,
                    Refused::NoThread => OffloadError::NoThread,
                })
            }
        }
    }
}

impl<S: 'static> Ctx<'_, S> {
    /// Runs `work` on the offload pool for the request being answered;
    /// `then` gets its result on the loop thread as a callback of this
    /// connection: what it writes is the reply, in order. Until then the
    /// connection answers nothing more and reads nothing more (later
    /// pipelined requests wait). If the connection closes meanwhile, the
    /// result is dropped and counted. If `work` panics, the connection is
    /// closed with [`CloseReason::JobPanic`].
    ///
    /// ```
    /// use twig::{After, Ctx, Frame, Protocol, framing};
    /// struct Lookup;
    /// impl Protocol for Lookup {
    ///     fn frame(&mut self, input: &[u8]) -> Frame { framing::line(input) }
    ///     fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
    ///         let name = String::from_utf8_lossy(line).trim().to_string();
    ///         let slow = move || format!("{name}: found\n"); // a blocking call
    ///         if ctx.offload(slow, |found, ctx| ctx.write(found.as_bytes())).is_err() {
    ///             ctx.write(b"busy, try again\n");
    ///         }
    ///         After::KeepOpen
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`OffloadError::NotAnswering`] if this connection is not answering
    /// (closing, paused, or waiting for another result); else as
    /// [`Core::offload_detached`]. Nothing was queued.
    pub fn offload<T, W, D>(&mut self, work: W, then: D) -> Result<(), OffloadError>
    where
        T: Send + 'static,
        W: FnOnce() -> T + Send + 'static,
        D: FnOnce(T, &mut Ctx<'_, S>) + Send + 'static,
    {
        let id = self.id;
        let answering = self.core.live(id).is_some_and(|c| {
            c.state.accepts_output() && matches!(c.state.input, Input::Reading | Input::Unanswered)
        });
        if !answering {
            return Err(OffloadError::NotAnswering);
        }
        self.core
            .submit(work, move |result, core| hand_back(core, id, result, then))?;
        self.core.feed(id.key(), Event::Command(Command::Await));
        Ok(())
    }
}

/// On the loop thread: hands a connection's result to its callback, writes
/// what the callback wrote, and lets the machine go on. The machine hears
/// first that the result is back, so the callback runs on a connection that
/// answers again: it may pause it, close it or offload anew.
fn hand_back<S, T>(
    core: &mut Core<S>,
    id: ConnId,
    result: Result<T, String>,
    then: impl FnOnce(T, &mut Ctx<'_, S>),
) {
    let waiting = |c: &Connection| {
        matches!(c.state.life, Life::Open | Life::Draining)
            && matches!(c.state.input, Input::Awaiting | Input::AwaitingPaused)
    };
    let Some(conn) = core.live(id).filter(|c| waiting(c)) else {
        core.stats.results_dropped += 1;
        debug!("{id}: offloaded result dropped (the connection closed or is closing)");
        return;
    };
    let (key, peer) = (id.key(), conn.peer);
    let value = match result {
        Ok(value) => value,
        Err(why) => {
            error!("{id} {peer}: offloaded job panicked: {why}");
            core.abort(key, CloseReason::JobPanic);
            return;
        }
    };
    core.feed(key, Event::JobDone);
    core.dispatching = Some(id);
    core.dispatched_moved = false;
    let called = guarded(
        core,
        |core| core.who(id),
        "offload result",
        |core| then(value, &mut Ctx::new(core, id)),
    );
    core.dispatching = None;
    let (wrote, _) = deliver(core, key);
    if called.is_none() {
        core.abort(key, CloseReason::Panic);
        return;
    }
    core.command(id, Event::Delivered(wrote));
}
