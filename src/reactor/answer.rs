//! Answering requests: the frame/reply loop over a connection's buffered
//! input, then the optimistic write of the replies it produced. The driver
//! calls it for [`Action::Answer`](crate::conn::machine::Action::Answer).

use log::debug;

use crate::api::ctx::Ctx;
use crate::api::protocol::{After, Frame, Protocol, Violation};
use crate::conn::machine::{Ending, Input, Life, Wrote};
use crate::conn::recorder::Mark;
use crate::reactor::core::Core;
use crate::reactor::hooks::{deliver, guarded, write_reply};
use crate::reactor::protocols::Protocols;

/// What answering did: why it stopped, what became of the replies, and how
/// many bytes were written.
pub(crate) type Answered = (Ending, Wrote, usize);

/// Answers the complete requests in the connection's input, plus `fresh`
/// bytes just read into `scratch` (framed straight from there when nothing
/// is buffered: no copy in the common case). Keeps only what is left: a
/// partial request, or requests waiting behind backpressure.
pub(crate) fn answer<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &[u8],
    key: usize,
    fresh: Option<usize>,
) -> Answered {
    let Some(protocol) = protocols.get(key) else {
        return (Ending::Waiting, Wrote::Nothing, 0);
    };
    let conn = &mut core.conns[key];
    let id = conn.id;
    let mut input = std::mem::take(&mut conn.input); // empty: no allocation
    let buf: &[u8] = match fresh {
        Some(n) if input.is_empty() => &scratch[..n],
        Some(n) => {
            input.extend_from_slice(&scratch[..n]);
            &input
        }
        None => &input,
    };

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
        let (_, n) = deliver(core, key);
        core.abort(key, crate::CloseReason::Panic);
        return (Ending::Waiting, Wrote::Nothing, n);
    };
    let conn = &mut core.conns[key];
    if answered > 0 {
        conn.recorder.record(Mark::Answered(answered));
    }
    if consumed == buf.len() {
        conn.request_since = None; // stays (or becomes) empty and unallocated
    } else {
        if answered > 0 || conn.request_since.is_none() {
            conn.request_since = Some(core.now); // a new request has begun
        }
        conn.input = if input.is_empty() {
            buf[consumed..].to_vec() // framed from scratch: keep the partial request
        } else {
            input.drain(..consumed);
            input
        };
    }
    if core.reply.is_empty() {
        return (ending, Wrote::Nothing, 0);
    }
    let (wrote, n) = write_reply(conn, &mut core.reply, core.now);
    core.stats.bytes_out += n as u64;
    (ending, wrote, n)
}

/// The frame/reply loop over `buf`. Returns how many bytes were consumed,
/// how many requests were answered, and why it stopped. Shared with the
/// request cycle ([`cycle`](super::cycle)).
#[inline(always)]
pub(crate) fn frame_and_reply<S>(
    ctx: &mut Ctx<'_, S>,
    protocol: &mut dyn Protocol<S>,
    buf: &[u8],
) -> (usize, u32, Ending) {
    let max = ctx.core.config.max_request_size;
    // Stop answering pipelined requests once this much reply waits: it is
    // written first, which bounds the memory one connection can pin.
    let high_water = ctx.core.config.read_buffer_size;
    let key = ctx.id.key();
    let (mut consumed, mut answered) = (0, 0);
    let violation = loop {
        let rest = &buf[consumed..];
        if rest.is_empty() {
            return (consumed, answered, Ending::Waiting);
        }
        if ctx.core.reply.len() >= high_water {
            return (consumed, answered, Ending::Backpressure);
        }
        match protocol.frame(rest) {
            // A complete request over the limit is refused too, so the
            // limit does not depend on how TCP happened to split the bytes.
            Frame::Complete(n) if n > max => break Violation::TooLarge { limit: max },
            Frame::Complete(n) if n > 0 && n <= rest.len() => {
                let after = protocol.reply(&rest[..n], ctx);
                ctx.core.stats.requests += 1;
                consumed += n;
                answered += 1;
                if after == After::Close {
                    return (consumed, answered, Ending::Close);
                }
                if ctx.core.dispatched_moved {
                    // Its own code fed its machine (the common case skips
                    // the look).
                    let state = &ctx.core.conns[key].state;
                    if matches!(
                        state.input,
                        Input::Paused | Input::Awaiting | Input::AwaitingPaused
                    ) {
                        // Paused by its own reply, or waiting for the work
                        // it offloaded: the rest waits, in order.
                        return (consumed, answered, Ending::Backpressure);
                    }
                    if !matches!(state.life, Life::Open | Life::Draining) {
                        return (consumed, answered, Ending::Waiting); // closed by its own reply
                    }
                }
            }
            Frame::Complete(_) => {
                break Violation::Invalid("frame() returned a length outside the input");
            }
            Frame::Partial if rest.len() >= max => break Violation::TooLarge { limit: max },
            Frame::Partial => return (consumed, answered, Ending::Waiting),
            Frame::Invalid(why) => break Violation::Invalid(why),
        }
    };
    debug!("{} {}: {violation}", ctx.id, ctx.peer());
    protocol.on_violation(&violation, ctx);
    (consumed, answered, Ending::Violation)
}
