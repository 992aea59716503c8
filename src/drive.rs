//! The connection state machine: moves one connection through
//! Reading → (Writing) → Reading … → Closing → Lingering → Closed, calling the
//! user's protocol for each complete request.
//!
//! ```text
//!  accept ─▶ Reading ──frame(): Complete──▶ reply() ──socket took it all──▶ Reading
//!              │  ▲                              │ socket full
//!              │  └────────── flushed ◀─ Writing ◀┘   (reads nothing: backpressure)
//!              ├── After::Close / violation / EOF / stop ─▶ Closing ─flushed─▶ Lingering ─peer EOF─▶ Closed
//!              └── reset, error, panic, timeout ──────────────────────────────────────────────────▶ Closed
//! ```
//!
//! [`drive`] runs until the connection has nothing to do without a new event
//! (it waits for an edge), or until its I/O budget for this turn is spent (it
//! is queued to continue before the next poll).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use log::{debug, error, warn};

use crate::connection::{Phase, ReadOutcome, State, WriteOutcome, classify};
use crate::core::Core;
use crate::ctx::Ctx;
use crate::protocol::{After, CloseReason, Frame, Protocol, Violation};
use crate::recorder::Mark;
use crate::token::ConnId;

/// Most bytes a lingering connection discards before closing anyway.
const LINGER_MAX_BYTES: usize = 256 * 1024;

/// Runs one connection's state machine as far as it can go now.
pub(crate) fn drive<S>(core: &mut Core<S>, id: ConnId) {
    let key = id.key();
    // The budget is per connection per turn, however often it is driven
    // within the turn (an event, then the dirty list).
    let turn = core.stats.wakeups;
    let mut budget = match core.conns.get_mut(key).filter(|c| c.id == id) {
        Some(conn) if conn.budget_turn == turn => conn.budget_left,
        Some(conn) => {
            conn.budget_turn = turn;
            core.config.io_budget
        }
        None => return,
    };
    loop {
        let Some(conn) = core.conns.get_mut(key).filter(|c| c.id == id) else {
            return;
        };
        let open = matches!(conn.state, State::Reading | State::Writing);
        if conn.close_requested && open {
            conn.close_requested = false;
            conn.set_state(State::Closing(CloseReason::Done));
            continue;
        }
        if open && conn.finish_writing && !conn.write_shut && !conn.is_owing() {
            // Half-close asked for by code (Core::shutdown_write), now flushed.
            conn.shutdown_write();
            conn.write_shut = true;
            if conn.eof_handled {
                conn.set_state(State::Closing(CloseReason::Done)); // both sides done
            }
            continue;
        }
        match conn.state {
            State::Connecting => {
                if !conn.writable {
                    break; // the writable (or error) edge says the connect ended
                }
                match conn.connect_result() {
                    None => {
                        conn.writable = false; // spurious: still in progress
                        break;
                    }
                    Some(Ok(())) => {
                        debug!("{id} {}: connected", conn.peer);
                        conn.set_state(State::Reading);
                        open_connection(core, key);
                    }
                    Some(Err(error)) => {
                        connect_failed(core, key, error);
                        return;
                    }
                }
            }
            State::Reading => {
                if conn.is_owing() {
                    if !conn.relay {
                        // Owing: write before reading (backpressure for free).
                        conn.set_state(State::Writing);
                        continue;
                    }
                    // A relay reads on while it owes (Core::read_while_owing),
                    // so two relays that both owe cannot deadlock; its code
                    // bounds memory with pause_reading instead.
                    if conn.writable {
                        if budget == 0 {
                            core.mark_dirty(id); // still writable: no edge will come
                            break;
                        }
                        let (n, outcome) = conn.flush_output(budget);
                        core.stats.bytes_out += n as u64;
                        budget = budget.saturating_sub(n);
                        if n > 0 {
                            conn.phase_since = core.now;
                        }
                        match outcome {
                            WriteOutcome::Done if !conn.is_owing() => {
                                call(core, key, "on_drained", |protocol, ctx| {
                                    protocol.on_drained(ctx)
                                });
                                continue;
                            }
                            WriteOutcome::Done => {
                                core.mark_dirty(id); // budget spent, bytes left: next turn
                                break;
                            }
                            WriteOutcome::Blocked => {} // wait for the edge; read meanwhile
                            WriteOutcome::Failed(reason) => {
                                core.mark_closed(key, reason);
                                return;
                            }
                        }
                    }
                }
                if conn.paused {
                    if core.stopping {
                        conn.set_state(State::Closing(CloseReason::Shutdown));
                        continue;
                    }
                    break; // Core::resume_reading marks it dirty
                }
                if conn.input_ready {
                    if budget == 0 {
                        core.mark_dirty(id); // fairness: continue next turn
                        break;
                    }
                    budget = budget.saturating_sub(dispatch(core, key, None));
                    continue;
                }
                if conn.read_closed {
                    if !conn.eof_handled {
                        conn.eof_handled = true;
                        end_of_input(core, key);
                        continue;
                    }
                    if core.stopping || conn.write_shut {
                        let reason = if conn.write_shut {
                            CloseReason::Done
                        } else {
                            CloseReason::Shutdown
                        };
                        conn.set_state(State::Closing(reason)); // both directions are done
                        continue;
                    }
                    if conn.readable {
                        // A new event after EOF: the peer may have reset. Ask
                        // SO_ERROR, since after a FIN Linux's read says 0
                        // even then.
                        conn.readable = false;
                        if let Ok(Some(error)) | Err(error) = conn.socket.take_error() {
                            debug!("{id} {}: half-closed peer failed: {error}", conn.peer);
                            core.mark_closed(key, classify(&error));
                            return;
                        }
                    }
                    break; // half-closed and kept open: wait for sends or a close
                }
                if core.stopping && !conn.readable {
                    // Shutting down: what had arrived is answered; nothing more is awaited.
                    conn.set_state(State::Closing(CloseReason::Shutdown));
                    continue;
                }
                if !conn.readable {
                    break; // wait for the readable edge
                }
                if budget == 0 {
                    core.mark_dirty(id); // fairness: continue next turn
                    break;
                }
                match conn.read(&mut core.scratch_in) {
                    ReadOutcome::Data(n) => {
                        core.stats.bytes_in += n as u64;
                        budget = budget.saturating_sub(n);
                        budget = budget.saturating_sub(dispatch(core, key, Some(n)));
                    }
                    ReadOutcome::Eof => {} // read_closed is set; handled above
                    // Drained: go round once more, so a stopping server closes
                    // the connection now rather than at the drain deadline.
                    ReadOutcome::WouldBlock => {}
                    ReadOutcome::Failed(reason) => {
                        core.mark_closed(key, reason);
                        return;
                    }
                }
            }
            State::Writing | State::Closing(_) => {
                if !conn.is_owing() {
                    match conn.state {
                        State::Closing(reason) => {
                            conn.shutdown_write();
                            if conn.read_closed {
                                core.mark_closed(key, reason);
                                return;
                            }
                            conn.set_state(State::Lingering(reason));
                        }
                        _ => {
                            conn.set_state(State::Reading);
                            call(core, key, "on_drained", |protocol, ctx| {
                                protocol.on_drained(ctx)
                            });
                        }
                    }
                    continue;
                }
                if !conn.writable {
                    break; // wait for the writable edge
                }
                if budget == 0 {
                    core.mark_dirty(id);
                    break;
                }
                let (n, outcome) = conn.flush_output(budget);
                core.stats.bytes_out += n as u64;
                budget = budget.saturating_sub(n);
                if n > 0 {
                    conn.phase_since = core.now; // progress resets the write timeout
                }
                match outcome {
                    WriteOutcome::Done => {}
                    WriteOutcome::Blocked => break,
                    WriteOutcome::Failed(reason) => {
                        core.mark_closed(key, reason);
                        return;
                    }
                }
            }
            State::Lingering(reason) => {
                if conn.read_closed || conn.lingered > LINGER_MAX_BYTES {
                    core.mark_closed(key, reason);
                    return;
                }
                if !conn.readable {
                    break;
                }
                match conn.read(&mut core.scratch_in) {
                    ReadOutcome::Data(n) => conn.lingered += n,
                    ReadOutcome::Eof => {}
                    ReadOutcome::WouldBlock => break,
                    ReadOutcome::Failed(_) => {
                        core.mark_closed(key, reason);
                        return;
                    }
                }
            }
            State::Closed(_) => return,
        }
    }
    core.conns[key].budget_left = budget;
    update_deadline(core, key);
}

/// Recomputes which timeout applies and makes sure the deadline heap will
/// wake the loop for it.
fn update_deadline<S>(core: &mut Core<S>, key: usize) {
    let conn = &mut core.conns[key];
    let phase = match conn.state {
        State::Connecting => Phase::Connecting,
        State::Reading if conn.is_owing() => Phase::Owing,
        State::Reading if conn.input.is_empty() => Phase::Idle,
        State::Reading => Phase::Request,
        State::Writing | State::Closing(_) => Phase::Owing,
        State::Lingering(_) => Phase::Lingering,
        State::Closed(_) => Phase::Done,
    };
    if phase != conn.phase {
        conn.phase = phase;
        conn.phase_since = core.now;
    }
    if let Some(timeout) = timeout_of(&core.config, phase) {
        core.deadlines
            .arm(conn.id, conn.phase_since + timeout, &mut conn.armed);
    }
}

/// The timeout of a phase, if it has one.
pub(crate) fn timeout_of(config: &crate::Config, phase: Phase) -> Option<std::time::Duration> {
    match phase {
        Phase::Idle => config.idle_timeout,
        Phase::Request => config.request_timeout,
        Phase::Owing => config.write_timeout,
        Phase::Lingering => Some(config.linger_timeout),
        Phase::Connecting => Some(config.connect_timeout),
        Phase::Done => None,
    }
}

/// Why answering buffered requests stopped.
#[derive(Debug, PartialEq)]
enum Ending {
    /// Every buffered byte was consumed.
    Drained,
    /// The rest is an incomplete request: wait for more bytes.
    Partial,
    /// Enough reply is waiting: write it before answering more.
    Backpressure,
    /// The protocol said `After::Close`.
    Close,
    /// The input broke the protocol.
    Violation(Violation),
}

/// Answers the complete requests in the connection's input (plus `fresh`
/// bytes just read into the scratch buffer), then writes the replies.
/// Returns how many bytes were written.
fn dispatch<S>(core: &mut Core<S>, key: usize, fresh: Option<usize>) -> usize {
    let conn = &mut core.conns[key];
    let (id, peer) = (conn.id, conn.peer);
    let Some(mut protocol) = conn.protocol.take() else {
        return 0;
    };
    // Frame straight from the scratch buffer when no partial request is
    // buffered (the common case: no copy); otherwise append to it.
    let scratch = std::mem::take(&mut core.scratch_in);
    let mut input = std::mem::take(&mut conn.input);
    let from_scratch = input.is_empty() && fresh.is_some();
    if let (false, Some(n)) = (from_scratch, fresh) {
        input.extend_from_slice(&scratch[..n]);
    }
    let buf: &[u8] = match fresh {
        Some(n) if from_scratch => &scratch[..n],
        _ => &input,
    };
    let mut out = std::mem::take(&mut core.scratch_out);

    let requests_before = core.stats.requests;
    core.dispatching = Some(id);
    let result = guarded(core, Who(id, peer), "reply", |core| {
        answer(core, &mut *protocol, id, peer, buf, &mut out)
    });

    core.dispatching = None;
    let conn = &mut core.conns[key];
    let mut written = 0;
    match result {
        // Closed meanwhile by the callback itself (through `Core`): keep it
        // closed, and send nothing more.
        Some(_) if matches!(conn.state, State::Closed(_)) => conn.protocol = Some(protocol),
        Some((consumed, ending)) => {
            let answered = core.stats.requests - requests_before;
            if answered > 0 {
                conn.recorder.record(Mark::Answered(answered as u32));
                conn.phase_since = core.now; // a request completed: the idle clock restarts
            }
            conn.input_ready = ending == Ending::Backpressure;
            match ending {
                Ending::Drained | Ending::Partial | Ending::Backpressure => {
                    let rest = &buf[consumed..];
                    conn.input = if rest.is_empty() {
                        Vec::new() // release: idle connections hold no buffer
                    } else if from_scratch {
                        rest.to_vec()
                    } else {
                        input.drain(..consumed);
                        input
                    };
                }
                Ending::Close => conn.set_state(State::Closing(CloseReason::Done)),
                Ending::Violation(v) => {
                    debug!("{id} {peer}: {v}, closing");
                    conn.set_state(State::Closing(CloseReason::Violation));
                }
            }
            conn.protocol = Some(protocol);
            written = deliver(core, key, &mut out);
        }
        None => {
            drop(protocol); // its state may be half-updated: never call it again
            // Replies to the requests answered before the panic still go out
            // (as far as the socket takes them at once).
            written = deliver(core, key, &mut out);
            core.mark_closed(key, CloseReason::Panic);
        }
    }
    out.clear();
    core.scratch_out = out;
    core.scratch_in = scratch;
    written
}

/// The frame/reply loop over `buf`. Returns how many bytes were consumed and
/// why it stopped.
fn answer<S>(
    core: &mut Core<S>,
    protocol: &mut dyn Protocol<S>,
    id: ConnId,
    peer: std::net::SocketAddr,
    buf: &[u8],
    out: &mut Vec<u8>,
) -> (usize, Ending) {
    let max = core.config.max_request_size;
    // Stop answering pipelined requests once this much reply waits: it is
    // written first, which bounds the memory one connection can pin.
    let high_water = core.config.read_buffer_size;
    let mut consumed = 0;
    let violation = loop {
        let rest = &buf[consumed..];
        if rest.is_empty() {
            return (consumed, Ending::Drained);
        }
        if out.len() >= high_water {
            return (consumed, Ending::Backpressure);
        }
        match protocol.frame(rest) {
            // A complete request over the limit is refused too, so the
            // limit does not depend on how TCP happened to split the bytes.
            Frame::Complete(n) if n > max => break Violation::TooLarge { limit: max },
            Frame::Complete(n) if n > 0 && n <= rest.len() => {
                let mut ctx = Ctx {
                    core: &mut *core,
                    id,
                    peer,
                    out: &mut *out,
                };
                let after = protocol.reply(&rest[..n], &mut ctx);
                core.stats.requests += 1;
                consumed += n;
                if after == After::Close {
                    return (consumed, Ending::Close);
                }
                if core.conns[id.key()].paused {
                    // Paused by its own reply: the rest waits, in order.
                    return (consumed, Ending::Backpressure);
                }
            }
            Frame::Complete(_) => {
                break Violation::Invalid("frame() returned a length outside the input");
            }
            Frame::Partial if rest.len() >= max => break Violation::TooLarge { limit: max },
            Frame::Partial => return (consumed, Ending::Partial),
            Frame::Invalid(why) => break Violation::Invalid(why),
        }
    };
    let mut ctx = Ctx {
        core,
        id,
        peer,
        out,
    };
    protocol.on_violation(&violation, &mut ctx);
    (consumed, Ending::Violation(violation))
}

/// Calls one protocol hook for connection `key` with a context, then sends
/// what it wrote. A panic closes the connection. Returns the hook's value,
/// or `None` if it panicked (or the connection had no protocol).
fn call<S, T>(
    core: &mut Core<S>,
    key: usize,
    what: &str,
    hook: impl FnOnce(&mut dyn Protocol<S>, &mut Ctx<'_, S>) -> T,
) -> Option<T> {
    let conn = &mut core.conns[key];
    let (id, peer) = (conn.id, conn.peer);
    let mut protocol = conn.protocol.take()?;
    let mut out = std::mem::take(&mut core.scratch_out);
    core.dispatching = Some(id);
    let result = guarded(core, Who(id, peer), what, |core| {
        hook(
            &mut *protocol,
            &mut Ctx {
                core,
                id,
                peer,
                out: &mut out,
            },
        )
    });
    core.dispatching = None;
    let conn = &mut core.conns[key];
    if result.is_some() {
        conn.protocol = Some(protocol);
        if !matches!(conn.state, State::Closed(_)) {
            deliver(core, key, &mut out);
        }
    } else {
        core.mark_closed(key, CloseReason::Panic);
    }
    out.clear();
    core.scratch_out = out;
    result
}

/// Calls `on_open` for a connection just accepted (or connected), and sends
/// what it wrote.
pub(crate) fn open_connection<S>(core: &mut Core<S>, key: usize) {
    call(core, key, "on_open", |protocol, ctx| protocol.on_open(ctx));
}

/// The peer sent EOF: hand the protocol what is left of the input, and close
/// unless it keeps the half-closed connection open.
fn end_of_input<S>(core: &mut Core<S>, key: usize) {
    let rest = std::mem::take(&mut core.conns[key].input);
    let after = call(core, key, "on_eof", |protocol, ctx| {
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
pub(crate) fn connect_failed<S>(core: &mut Core<S>, key: usize, error: std::io::Error) {
    let conn = &core.conns[key];
    log::warn!("{} connect to {} failed: {error}", conn.id, conn.peer);
    call(core, key, "on_connect_failed", |protocol, ctx| {
        protocol.on_connect_failed(&error, ctx)
    });
    core.mark_closed(key, CloseReason::ConnectFailed);
}

/// Writes freshly produced reply bytes at once (optimistic write); only what
/// the socket does not take is copied into the connection's own buffer.
fn deliver<S>(core: &mut Core<S>, key: usize, out: &mut Vec<u8>) -> usize {
    if out.is_empty() {
        return 0;
    }
    let conn = &mut core.conns[key];
    if conn.write_shut {
        // Code half-closed this connection: nothing more may be sent.
        debug!(
            "{} {}: write side shut, {} reply bytes dropped",
            conn.id,
            conn.peer,
            out.len()
        );
        return 0;
    }
    if conn.is_owing() && conn.relay {
        // A relay owes older bytes: the new replies queue behind them, and the
        // drive loop writes them in order.
        conn.output.extend_from_slice(out);
        return 0;
    }
    if conn.is_owing() {
        // Bytes sent by other code while this reply was produced go after it.
        out.extend_from_slice(&conn.output[conn.written..]);
        conn.output = Vec::new();
        conn.written = 0;
    }
    let (n, outcome) = if conn.writable {
        conn.write(out)
    } else {
        (0, WriteOutcome::Blocked)
    };
    core.stats.bytes_out += n as u64;
    match outcome {
        WriteOutcome::Done => {}
        WriteOutcome::Blocked => {
            conn.output = out[n..].to_vec();
            conn.phase_since = core.now;
            if conn.state == State::Reading && !conn.relay {
                conn.set_state(State::Writing);
            }
        }
        WriteOutcome::Failed(reason) => core.mark_closed(key, reason),
    }
    n
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
    let started = core.config.slow_callback.map(|_| Instant::now());
    let result = catch_unwind(AssertUnwindSafe(|| f(&mut *core)));
    if let (Some(started), Some(limit)) = (started, core.config.slow_callback) {
        let took = started.elapsed();
        core.stats.callback_time += took;
        if took > limit {
            warn!(
                "{who}: {what} blocked the loop for {took:?} (limit {limit:?}): every other client waited"
            );
        }
    }
    match result {
        Ok(value) => Some(value),
        Err(payload) => {
            error!("{who}: {what} panicked: {}", panic_message(&*payload));
            None
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}
