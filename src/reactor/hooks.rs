//! Calling user code safely: every protocol hook, timer and posted closure
//! runs through [`guarded`], so a panic closes only what it belongs to and a
//! callback that blocks the loop is named in a warning. A hook's reply is
//! then written at once ([`deliver`]).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use log::{debug, error};

use crate::api::ctx::Ctx;
use crate::api::protocol::Protocol;
use crate::conn::close::CloseReason;
use crate::conn::connection::Connection;
use crate::conn::machine::Wrote;
use crate::conn::socket::{self, WriteOutcome};
use crate::reactor::core::Core;
use crate::reactor::protocols::Protocols;

/// Calls one protocol hook for connection `key` with a context, then writes
/// what it wrote. Returns the hook's value and what became of its reply, or
/// `None` if it panicked (the connection is then closed, its protocol
/// dropped) or the connection has no protocol.
pub(crate) fn call<S, T>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    key: usize,
    what: &str,
    hook: impl FnOnce(&mut dyn Protocol<S>, &mut Ctx<'_, S>) -> T,
) -> Option<(T, Wrote, usize)> {
    let id = core.conns[key].id;
    let protocol = protocols.get(key)?;
    core.dispatching = Some(id);
    let result = guarded(
        core,
        |core| core.who(id),
        what,
        |core| hook(protocol, &mut Ctx::new(core, id)),
    );
    core.dispatching = None;
    match result {
        Some(value) => {
            let (wrote, n) = deliver(core, key);
            Some((value, wrote, n))
        }
        None => {
            protocols.remove(key); // its state may be half-updated: never call it again
            // Replies to requests answered before the panic still go out (as
            // far as the socket takes them at once).
            deliver(core, key);
            core.abort(key, CloseReason::Panic);
            None
        }
    }
}

/// Writes the reply a callback just produced (the core's reply buffer) at
/// once, the optimistic write; only what the socket does not take is copied
/// into the connection's own buffer, behind anything it already owes.
/// Returns what became of it, and how many bytes were written.
pub(crate) fn deliver<S>(core: &mut Core<S>, key: usize) -> (Wrote, usize) {
    if core.reply.is_empty() {
        return (Wrote::Nothing, 0);
    }
    let result = write_reply(&mut core.conns[key], &mut core.reply, core.now);
    core.stats.bytes_out += result.1 as u64;
    result
}

/// [`deliver`] once the connection is at hand: writes (or queues) `reply`,
/// which it leaves empty. Returns what became of it and how many bytes were
/// written (the caller counts them).
#[inline(always)]
pub(crate) fn write_reply(
    conn: &mut Connection,
    reply: &mut Vec<u8>,
    now: Instant,
) -> (Wrote, usize) {
    if !conn.state.may_reply() {
        debug!(
            "{} {}: write side shut, {} reply bytes dropped",
            conn.id,
            conn.peer,
            reply.len()
        );
        reply.clear();
        (Wrote::Dropped, 0)
    } else if conn.owed() > 0 || !conn.state.can_write_now() {
        // Behind what is owed (bytes go out in the order they were handed
        // over), or until the socket can take them.
        if conn.owed() == 0 {
            conn.since = now; // the write timeout starts
        }
        conn.queue(reply);
        reply.clear();
        (Wrote::Queued, 0)
    } else {
        write_now::<true>(conn, reply, now)
    }
}

/// The optimistic write itself, for a connection that may write now
/// (`state.can_write_now()`, nothing owed): what the socket does not take is
/// queued. Leaves `reply` empty; returns what became of it and how many
/// bytes were written. Narrated at trace level if `NARRATE`.
#[inline(always)]
pub(crate) fn write_now<const NARRATE: bool>(
    conn: &mut Connection,
    reply: &mut Vec<u8>,
    now: Instant,
) -> (Wrote, usize) {
    debug_assert!(conn.state.can_write_now() && conn.owed() == 0);
    let (socket, recorder) = (&mut conn.socket, &mut conn.recorder);
    let result = match socket::write_narrated::<NARRATE>(socket, conn.id, recorder, reply) {
        (n, WriteOutcome::Done) => (Wrote::All, n),
        (n, WriteOutcome::Blocked) => {
            conn.queue(&reply[n..]);
            conn.since = now;
            (Wrote::Blocked, n)
        }
        (n, WriteOutcome::Failed(reason)) => (Wrote::Failed(reason), n),
    };
    conn.bytes_out += result.1 as u64;
    reply.clear();
    result
}

/// Runs user code on behalf of `who`, turning a panic into `None` (logged
/// with the peer) and warning when the call blocked the loop too long.
/// `who` names it only when a line is logged: the common case builds no
/// name (and copies no peer address).
pub(crate) fn guarded<S, T, W: std::fmt::Display>(
    core: &mut Core<S>,
    who: impl Fn(&Core<S>) -> W,
    what: &str,
    f: impl FnOnce(&mut Core<S>) -> T,
) -> Option<T> {
    let result = catch_unwind(AssertUnwindSafe(|| f(&mut *core)));
    if core.config.slow_callback.is_some() {
        // One clock read per callback: it ends this measurement and starts
        // the next. What lies between two callbacks is the loop's own work
        // for one connection (a syscall or two), negligible next to the limit.
        let end = Instant::now();
        // `slow_after` is at most `clock + limit`, so a callback that took
        // less than the limit never gets past this comparison: the common
        // case costs no subtraction (std's `Instant - Instant` is dear).
        if end > core.slow_after {
            check_slow(core, end, &who(core), what);
        }
        core.clock = end;
    }
    match result {
        Ok(value) => Some(value),
        Err(payload) => {
            error!(
                "{}: {what} panicked: {}",
                who(core),
                panic_message(&*payload)
            );
            None
        }
    }
}

/// The rare path of the slow-callback check: the turn has run past the
/// limit, so measure this callback exactly and warn if it was the slow one.
#[cold]
fn check_slow<S>(core: &mut Core<S>, end: Instant, who: &dyn std::fmt::Display, what: &str) {
    let Some(limit) = core.config.slow_callback else {
        return;
    };
    let took = end.saturating_duration_since(core.clock);
    if took > limit {
        // Debug builds: the contract check's line, once per connection.
        #[cfg(debug_assertions)]
        crate::reactor::contracts::slow_callback(core, who, what, took, limit, end);
        #[cfg(not(debug_assertions))]
        log::warn!(
            "{who}: {what} blocked the loop for {took:?} (limit {limit:?}): every other client waited"
        );
    }
    // The next callback starts at `end`. An observed loop (`twig::admin`)
    // comes here after every callback, to time each one.
    core.slow_after = match core.observer.as_deref_mut() {
        Some(observer) => {
            observer.callback(took);
            end
        }
        None => end + limit,
    };
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
