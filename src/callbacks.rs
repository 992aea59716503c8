//! Calling user code safely: every protocol hook, timer and posted closure
//! runs through [`guarded`], so a panic closes only what it belongs to and a
//! callback that blocks the loop is named in a warning.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use log::{debug, error, warn};

use crate::connection::State;
use crate::core::Core;
use crate::ctx::Ctx;
use crate::dispatch::{Scratch, deliver};
use crate::protocol::{After, CloseReason, Protocol};
use crate::token::ConnId;

/// Calls one protocol hook for connection `key` with a context, then sends
/// what it wrote. A panic closes the connection. Returns the hook's value,
/// or `None` if it panicked (or the connection had no protocol).
pub(crate) fn call<S, T>(
    core: &mut Core<S>,
    scratch: &mut Scratch,
    key: usize,
    what: &str,
    hook: impl FnOnce(&mut dyn Protocol<S>, &mut Ctx<'_, S>) -> T,
) -> Option<T> {
    let conn = &mut core.conns[key];
    let (id, peer) = (conn.id, conn.peer);
    let mut protocol = conn.protocol.take()?;
    let out = &mut scratch.output;
    core.dispatching = Some(id);
    let result = guarded(core, Who(id, peer), what, |core| {
        hook(
            &mut *protocol,
            &mut Ctx {
                core,
                id,
                peer,
                out: &mut *out,
            },
        )
    });
    core.dispatching = None;
    let conn = &mut core.conns[key];
    if result.is_some() {
        conn.protocol = Some(protocol);
        if !matches!(conn.state, State::Closed(_)) {
            deliver(core, key, out);
        }
    } else {
        core.mark_closed(key, CloseReason::Panic);
    }
    out.clear();
    result
}

/// Calls `on_open` for a connection just accepted (or connected), and sends
/// what it wrote.
pub(crate) fn open_connection<S>(core: &mut Core<S>, scratch: &mut Scratch, key: usize) {
    call(core, scratch, key, "on_open", |protocol, ctx| {
        protocol.on_open(ctx)
    });
}

/// The peer sent EOF: hand the protocol what is left of the input, and close
/// unless it keeps the half-closed connection open.
pub(crate) fn end_of_input<S>(core: &mut Core<S>, scratch: &mut Scratch, key: usize) {
    let rest = std::mem::take(&mut core.conns[key].input);
    let after = call(core, scratch, key, "on_eof", |protocol, ctx| {
        protocol.on_eof(&rest, ctx)
    });
    let conn = &mut core.conns[key];
    if after == Some(After::Close) && !matches!(conn.state, State::Closed(_) | State::Closing(_)) {
        if !rest.is_empty() {
            debug!(
                "{} {}: peer closed mid-request, {} bytes unanswered",
                conn.id,
                conn.peer,
                rest.len()
            );
        }
        conn.set_state(State::Closing(CloseReason::Eof));
    }
}

/// An outbound connect failed: tell the protocol, then close.
pub(crate) fn connect_failed<S>(
    core: &mut Core<S>,
    scratch: &mut Scratch,
    key: usize,
    error: std::io::Error,
) {
    let conn = &core.conns[key];
    log::warn!("{} connect to {} failed: {error}", conn.id, conn.peer);
    call(core, scratch, key, "on_connect_failed", |protocol, ctx| {
        protocol.on_connect_failed(&error, ctx)
    });
    core.mark_closed(key, CloseReason::ConnectFailed);
}

/// Names a connection in log lines: `#key.generation peer`.
pub(crate) struct Who(pub ConnId, pub std::net::SocketAddr);

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

/// Runs user code on behalf of `who`, turning a panic into `None` (logged
/// with the peer) and warning when the call blocked the loop too long.
pub(crate) fn guarded<S, T>(
    core: &mut Core<S>,
    who: impl std::fmt::Display,
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
            check_slow(core, end, &who, what);
        }
        core.clock = end;
    }
    match result {
        Ok(value) => Some(value),
        Err(payload) => {
            error!("{who}: {what} panicked: {}", panic_message(&*payload));
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
        warn!(
            "{who}: {what} blocked the loop for {took:?} (limit {limit:?}): every other client waited"
        );
    }
    // The next callback starts at `end`.
    core.slow_after = end + limit;
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
