//! The driver: carries out what a connection's machine asks for — a
//! syscall, or a call into its protocol — and feeds the outcome back as the
//! next event, until the machine says [`Action::Wait`] (it needs an edge, a
//! command or a deadline) or the connection's I/O budget for this turn is
//! spent (it is queued to go on before the next poll). It decides nothing:
//! every rule is in [`machine`](crate::conn::machine).

use log::debug;

use crate::conn::id::ConnId;
use crate::conn::machine::{self, Action, Event, Wrote};
use crate::conn::socket::{self, ReadOutcome, WriteOutcome};
use crate::reactor::answer::answer;
use crate::reactor::core::Core;
use crate::reactor::hooks::call;
use crate::reactor::protocols::Protocols;
use crate::reactor::timeouts;

/// Most bytes a lingering connection discards before closing anyway.
const LINGER_MAX_BYTES: usize = 256 * 1024;

/// Drives one connection as far as it can go now, starting from `event`.
pub(crate) fn drive<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    id: ConnId,
    mut event: Event,
) {
    if !core.new_protocols.is_empty() {
        protocols.adopt(&mut core.new_protocols);
    }
    let key = id.key();
    // The budget is per connection per turn, however often it is driven
    // within the turn (an event, then the dirty list).
    let turn = core.stats.turns;
    let mut budget = match core.conns.get_mut(key) {
        Some(c) if c.id == id && c.state.is_live() => {
            if c.budget_turn != turn {
                c.budget_turn = turn;
                c.budget_left = core.config.io_budget;
                #[cfg(debug_assertions)]
                core.contracts.driven(id, turn);
            }
            c.budget_left
        }
        _ => return,
    };
    #[cfg(debug_assertions)]
    crate::reactor::contracts::test_hooks(core, id, &mut event);
    let mut connect_error = None;
    loop {
        // Core::feed, with the connection looked up once per step.
        let conn = &mut core.conns[key];
        let was_live = conn.state.is_live();
        let action = conn.step(event);
        if was_live && !conn.state.is_live() {
            core.closed.push(key);
        }
        event = match action {
            Action::Wait => break,
            Action::Close(_) => return, // reaped at the end of the turn
            Action::Read | Action::Flush | Action::Discard if budget == 0 => {
                core.mark_dirty(id); // fairness: go on next turn (no edge will come)
                break;
            }
            // Requests left behind for backpressure wait too.
            Action::Answer if budget == 0 => {
                core.mark_dirty(id); // fairness: go on next turn (no edge will come)
                break;
            }
            Action::Read => read_and_answer(core, protocols, scratch, key, &mut budget),
            Action::Discard => {
                match socket::read(&mut conn.socket, id, &mut conn.recorder, scratch) {
                    ReadOutcome::Data(n) => {
                        core.stats.bytes_in += n as u64;
                        conn.bytes_in += n as u64;
                        budget = budget.saturating_sub(n);
                        conn.last_input = core.now;
                        conn.lingered += n;
                        if conn.lingered > LINGER_MAX_BYTES {
                            Event::Deadline(crate::CloseReason::Done)
                        } else {
                            Event::Read {
                                short: n < scratch.len(),
                            }
                        }
                    }
                    ReadOutcome::Eof => Event::ReadEof,
                    ReadOutcome::WouldBlock => Event::ReadBlocked,
                    ReadOutcome::Failed(reason) => Event::Abort(reason),
                }
            }
            Action::Answer => {
                let (ending, wrote, n) = answer(core, protocols, scratch, key, None);
                budget = budget.saturating_sub(n);
                Event::Answered { ending, wrote }
            }
            Action::Flush => {
                let (n, outcome) = conn.flush_output(budget);
                core.stats.bytes_out += n as u64;
                budget = budget.saturating_sub(n);
                if n > 0 {
                    conn.since = core.now; // progress resets the write timeout
                }
                match outcome {
                    WriteOutcome::Done if conn.owed() == 0 => Event::WroteAll,
                    WriteOutcome::Done => Event::WrotePart,
                    WriteOutcome::Blocked => Event::WriteBlocked,
                    WriteOutcome::Failed(reason) => Event::Abort(reason),
                }
            }
            Action::ShutWrite => match socket::shutdown_write(&mut conn.socket, id) {
                // TLS: close_notify waits for the writable edge.
                WriteOutcome::Blocked => Event::WriteBlocked,
                _ => {
                    conn.since = core.now; // the linger timeout starts
                    Event::ShutDone
                }
            },
            Action::Handshake => {
                let event = crate::conn::tls_step::handshake(&mut conn.socket, id);
                if let Event::Shook(machine::Shake::Done { .. }) = event {
                    // The idle and request timeouts start after the handshake.
                    conn.last_input = core.now;
                    conn.since = core.now;
                }
                event
            }
            Action::CheckConnect => match socket::connect_result(&conn.socket, id) {
                None => Event::Connected(None),
                Some(Ok(())) => {
                    debug!("{id} {}: connected", conn.peer);
                    conn.last_input = core.now;
                    Event::Connected(Some(true))
                }
                Some(Err(error)) => {
                    connect_error = Some(error);
                    Event::Connected(Some(false))
                }
            },
            Action::ReadProxyHeader => {
                let event = crate::conn::proxy_read::read_header(conn);
                if let Event::ProxyHeader(machine::HeaderRead::Done { .. }) = event {
                    // The idle and request timeouts start after the header
                    // (a handshake's own timeout counts from the accept).
                    conn.last_input = core.now;
                }
                event
            }
            Action::CheckError => Event::SocketError(socket::pending_error(&conn.socket, id)),
            Action::CallOnOpen => hook(core, protocols, key, "on_open", |p, ctx| p.on_open(ctx)),
            Action::CallOnDrained => hook(core, protocols, key, "on_drained", |p, ctx| {
                p.on_drained(ctx)
            }),
            Action::CallOnEof => {
                let rest = std::mem::take(&mut conn.input);
                let called = call(core, protocols, key, "on_eof", |p, ctx| {
                    p.on_eof(&rest, ctx)
                });
                let Some((after, wrote, _)) = called else {
                    return; // it panicked: closed
                };
                let keep_open = after == crate::After::KeepOpen;
                if !keep_open && !rest.is_empty() {
                    let peer = core.conns[key].peer;
                    debug!(
                        "{id} {peer}: peer closed mid-request, {} bytes unanswered",
                        rest.len()
                    );
                }
                Event::EofHandled { keep_open, wrote }
            }
            Action::ConnectFailed => {
                let error = connect_error.take().unwrap_or_else(|| {
                    let timeout = core.config.connect_timeout;
                    let why = format!("no answer within {timeout:?}");
                    std::io::Error::new(std::io::ErrorKind::TimedOut, why)
                });
                log::warn!("{id} connect to {} failed: {error}", conn.peer);
                call(core, protocols, key, "on_connect_failed", |p, ctx| {
                    p.on_connect_failed(&error, ctx)
                });
                return;
            }
        };
    }
    core.conns[key].budget_left = budget;
    timeouts::arm(core, key);
}

/// Calls a hook that returns nothing, as an event for the machine.
fn hook<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    key: usize,
    what: &str,
    f: impl FnOnce(&mut dyn crate::Protocol<S>, &mut crate::Ctx<'_, S>),
) -> Event {
    match call(core, protocols, key, what, f) {
        Some(((), wrote, _)) => Event::HookDone(wrote),
        None => Event::HookDone(Wrote::Nothing), // it panicked: closed already
    }
}

/// [`Action::Read`]: one `read`, and what came answered at once, straight
/// from the scratch buffer (no copy in the common case). Returns the outcome
/// as the machine's next event. (An ordinary request takes the request
/// cycle instead, [`cycle`](super::cycle).)
#[inline(never)]
fn read_and_answer<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    key: usize,
    budget: &mut usize,
) -> Event {
    let conn = &mut core.conns[key];
    match socket::read(&mut conn.socket, conn.id, &mut conn.recorder, scratch) {
        ReadOutcome::Data(n) => {
            core.stats.bytes_in += n as u64;
            conn.bytes_in += n as u64;
            *budget = budget.saturating_sub(n);
            conn.last_input = core.now;
            let (ending, wrote, out) = answer(core, protocols, scratch, key, Some(n));
            *budget = budget.saturating_sub(out);
            Event::ReadAnswered {
                short: n < scratch.len(),
                ending,
                wrote,
            }
        }
        ReadOutcome::Eof => Event::ReadEof,
        ReadOutcome::WouldBlock => Event::ReadBlocked,
        ReadOutcome::Failed(reason) => Event::Abort(reason),
    }
}
