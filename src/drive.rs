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

use log::debug;

use crate::callbacks::{call, connect_failed, end_of_input, open_connection};
use crate::connection::{Phase, ReadOutcome, State, WriteOutcome, classify};
use crate::core::Core;
use crate::dispatch::{Scratch, dispatch};
use crate::protocol::CloseReason;
use crate::token::ConnId;

/// Most bytes a lingering connection discards before closing anyway.
const LINGER_MAX_BYTES: usize = 256 * 1024;

/// Runs one connection's state machine as far as it can go now.
pub(crate) fn drive<S>(core: &mut Core<S>, scratch: &mut Scratch, id: ConnId) {
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
                        open_connection(core, scratch, key);
                    }
                    Some(Err(error)) => {
                        connect_failed(core, scratch, key, error);
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
                                call(core, scratch, key, "on_drained", |protocol, ctx| {
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
                    budget = budget.saturating_sub(dispatch(core, scratch, key, None));
                    continue;
                }
                if conn.read_closed {
                    if !conn.eof_handled {
                        conn.eof_handled = true;
                        end_of_input(core, scratch, key);
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
                match conn.read(&mut scratch.input) {
                    ReadOutcome::Data(n) => {
                        core.stats.bytes_in += n as u64;
                        budget = budget.saturating_sub(n);
                        budget = budget.saturating_sub(dispatch(core, scratch, key, Some(n)));
                        // The common case (a request read and answered, the
                        // socket drained) ends here, not after another pass.
                        if core.conns[key].is_settled() && !core.stopping {
                            break;
                        }
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
                            call(core, scratch, key, "on_drained", |protocol, ctx| {
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
                match conn.read(&mut scratch.input) {
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
    } else if conn.armed.is_some() {
        // Same phase, deadline armed: the armed one is no later than the
        // current one (`phase_since` only moves forward), and when it fires
        // `fire_deadlines` re-arms for the rest. The common case, per request.
        return;
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
