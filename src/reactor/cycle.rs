//! An event for a connection, and the request cycle: the path one ordinary
//! request takes through the loop.
//!
//! A readable edge for a connection that only reads requests and answers
//! them in full (the machine's [`in_request_cycle`](machine::in_request_cycle))
//! means "read, answer, read again until a short read". [`on_event`] carries
//! that out here, as one loop with the connection looked up once per
//! callback, instead of handing the edge to the [driver](super::drive) for a
//! general step per read. It applies exactly what [`machine::next`] would:
//! [`machine::cycle_edge`], [`machine::cycle_answered`] and
//! [`machine::cycle_read`] are the machine's own functions, tested equal to
//! it for every state and event. Whatever leaves the cycle (a blocked write,
//! a close, EOF, an error, backpressure, a buffered partial request) goes on
//! as an event for the driver.

use log::trace;

use crate::api::ctx::Ctx;
use crate::conn::id::ConnId;
use crate::conn::machine::{self, Cycle, Ending, Event, Timeout, WriteEdge, Wrote};
use crate::conn::recorder::{EventFlags, Mark};
use crate::conn::socket::{self, ReadOutcome};
use crate::reactor::answer::frame_and_reply;
use crate::reactor::core::Core;
use crate::reactor::drive::drive;
use crate::reactor::hooks::{deliver, guarded, write_now, write_reply};
use crate::reactor::poll::Readiness;
use crate::reactor::protocols::Protocols;
use crate::reactor::timeouts;

/// Hands an event's readiness to its connection: the request cycle when
/// the edge is a plain readable one and the connection is in it, else the
/// driver. Events for a connection that is gone (or whose key now belongs
/// to another) are counted and dropped.
///
/// Not inlined: in its own frame the per-event path keeps its registers
/// (inlined into the turn, or into a dispatch loop of its own, it measured
/// 5 to 16 instructions a request dearer).
#[inline(never)]
pub(crate) fn on_event<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    id: ConnId,
    event: Readiness,
) {
    let key = id.key();
    // Any trace at all (whatever its module) turns the cycle off, so that
    // every step and syscall is narrated by the general path.
    let tracing = log::max_level() >= log::LevelFilter::Trace;
    let Some(conn) = core.conns.get_mut(key).filter(|c| c.id == id) else {
        core.stats.stale_events += 1;
        trace!("{id} stale event dropped (connection gone)");
        return;
    };
    if tracing {
        trace!(
            "{id} event: readable={} writable={} read_closed={} write_closed={} error={}",
            event.is_readable(),
            event.is_writable(),
            event.is_read_closed(),
            event.is_write_closed(),
            event.is_error()
        );
    }
    if !conn.state.is_live() {
        core.stats.stale_events += 1;
        trace!("{id} event after close dropped");
        return;
    }
    let (readable, writable) = (event.is_readable(), event.is_writable());
    let (hup, error) = (event.is_read_closed(), event.is_error());
    conn.recorder.record(Mark::Event {
        turn: core.stats.turns as u32,
        flags: EventFlags::new(event),
    });
    // HUP and ERR only say "try the syscall": they mark the edges, and read
    // or write will report what happened.
    let read = readable || hup || error;
    let write = writable || event.is_write_closed() || error;
    let cycle = read && !hup && machine::in_request_cycle(&conn.state) && !tracing;
    #[cfg(debug_assertions)]
    let cycle = cycle && !core.contracts.skips_reads(id);
    let ready = Event::Ready { read, write, hup };
    if !cycle {
        return drive(core, protocols, scratch, id, ready);
    }
    // The budget is per connection per turn, however often it is driven
    // within the turn (as in `drive`).
    let turn = core.stats.turns;
    if conn.budget_turn != turn {
        conn.budget_turn = turn;
        conn.budget_left = core.config.io_budget;
        #[cfg(debug_assertions)]
        core.contracts.driven(id, turn);
    }
    machine::cycle_edge(&mut conn.state, write);

    // The request cycle, with the connection at hand (looked up again only
    // after its callback, which may move the slab).
    let mut conn = conn;
    let mut budget = conn.budget_left;
    let left = loop {
        if budget == 0 {
            // Fairness: go on next turn (no edge will come). This is
            // `Core::mark_dirty`, with the connection already at hand.
            if !conn.queued {
                conn.queued = true;
                core.dirty.push(id);
            }
            break None;
        }
        if !conn.input.is_empty() {
            // A partial request is buffered: the driver's general steps read
            // and append (the machine says `Read` for this state).
            break Some(Event::Poke);
        }
        // Trace is off in the cycle: no narration to check for.
        let n =
            match socket::read_narrated::<false>(&mut conn.socket, id, &mut conn.recorder, scratch)
            {
                ReadOutcome::Data(n) => n,
                ReadOutcome::Eof => break Some(Event::ReadEof),
                ReadOutcome::WouldBlock => break Some(Event::ReadBlocked),
                ReadOutcome::Failed(reason) => break Some(Event::Abort(reason)),
            };
        core.stats.bytes_in += n as u64;
        conn.bytes_in += n as u64;
        budget = budget.saturating_sub(n);
        conn.last_input = core.now;
        let short = n < scratch.len();

        // Answer, framing straight from the scratch buffer: nothing is
        // buffered here (no copy).
        let buf: &[u8] = &scratch[..n];
        let Some(protocol) = protocols.get(key) else {
            break Some(Event::ReadAnswered {
                short,
                ending: Ending::Waiting,
                wrote: Wrote::Nothing,
            });
        };
        // The same call as `answer`'s (answer.rs), written out: through a
        // shared helper it measured 39 instructions a request dearer (LLVM
        // then inlines `guarded` into neither).
        core.dispatching = Some(id);
        core.dispatched_moved = false;
        let result = guarded(
            core,
            |core| core.who(id),
            "reply",
            |core| frame_and_reply(&mut Ctx::new(core, id), protocol, buf),
        );
        core.dispatching = None;
        let Some((consumed, answered, ending)) = result else {
            protocols.remove(key); // its state may be half-updated: never call it again
            // Replies to the requests answered before the panic still go out.
            deliver(core, key);
            core.abort(key, crate::CloseReason::Panic);
            return;
        };

        conn = &mut core.conns[key]; // the callback may have moved the slab
        if answered > 0 {
            conn.recorder.record(Mark::Answered(answered));
        }
        if consumed == buf.len() {
            conn.request_since = None; // stays (or becomes) empty and unallocated
        } else {
            if answered > 0 || conn.request_since.is_none() {
                conn.request_since = Some(core.now); // a new request has begun
            }
            conn.input = buf[consumed..].to_vec(); // keep the partial request
        }
        let wrote = if core.reply.is_empty() {
            Wrote::Nothing
        } else {
            // Untouched by its callback, the state is still the cycle's
            // (open, nothing owed): only the write edge decides.
            let may_write_now =
                !core.dispatched_moved && conn.state.ready.write == WriteEdge::Pending;
            let (wrote, out) = if may_write_now {
                write_now::<false>(conn, &mut core.reply, core.now) // trace is off here
            } else {
                write_reply(conn, &mut core.reply, core.now)
            };
            core.stats.bytes_out += out as u64;
            budget = budget.saturating_sub(out);
            wrote
        };
        let step = if core.dispatched_moved {
            // Its own code fed its machine: look at the whole state.
            match machine::cycle_read(conn.state, short, ending, wrote) {
                Some((next, true)) => {
                    conn.state = next;
                    Cycle::Again
                }
                Some((next, false)) => {
                    conn.state = next;
                    Cycle::Drained
                }
                None => Cycle::Leave,
            }
        } else {
            machine::cycle_answered(&mut conn.state, short, ending, wrote)
        };
        match step {
            Cycle::Again => {}
            Cycle::Drained => break None,
            Cycle::Leave => {
                break Some(Event::ReadAnswered {
                    short,
                    ending,
                    wrote,
                });
            }
        }
    };
    conn.budget_left = budget;
    if left.is_none() {
        // Still in the cycle, where the input timeout applies: as in
        // `timeouts::arm`, nothing to do unless a request has begun.
        if conn.timing != Timeout::Input || conn.request_since.is_some() {
            timeouts::arm(core, key);
        }
    }
    if let Some(next) = left {
        drive(core, protocols, scratch, id, next); // left the cycle
    }
}
