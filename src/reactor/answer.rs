//! Answering requests: the frame/reply loop over a connection's buffered
//! input, then the optimistic write of the replies it produced. The driver
//! calls it for [`Action::Answer`](crate::conn::machine::Action::Answer).

use log::debug;

use crate::api::ctx::Ctx;
use crate::api::protocol::{After, Frame, Protocol, Violation};
use crate::conn::machine::{Ending, Input, Life, Wrote};
use crate::conn::recorder::Mark;
use crate::reactor::core::Core;
use crate::reactor::hooks::{Who, deliver, guarded};
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
    let conn = &mut core.conns[key];
    let (id, peer) = (conn.id, conn.peer);
    let Some(protocol) = protocols.get(key) else {
        return (Ending::Waiting, Wrote::Nothing, 0);
    };
    let from_scratch = conn.input.is_empty() && fresh.is_some();
    let mut input = Vec::new();
    if !from_scratch {
        input = std::mem::take(&mut conn.input);
        if let Some(n) = fresh {
            input.extend_from_slice(&scratch[..n]);
        }
    }
    let buf: &[u8] = match fresh {
        Some(n) if from_scratch => &scratch[..n],
        _ => &input,
    };

    let requests_before = core.stats.requests;
    core.dispatching = Some(id);
    let result = guarded(core, Who(id, peer), "reply", |core| {
        frame_and_reply(&mut Ctx { core, id, peer }, protocol, buf)
    });
    core.dispatching = None;

    let Some((consumed, ending)) = result else {
        protocols.remove(key); // its state may be half-updated: never call it again
        // Replies to the requests answered before the panic still go out.
        let (_, n) = deliver(core, key);
        core.abort(key, crate::CloseReason::Panic);
        return (Ending::Waiting, Wrote::Nothing, n);
    };
    let answered = core.stats.requests - requests_before;
    let conn = &mut core.conns[key];
    if answered > 0 {
        conn.recorder.record(Mark::Answered(answered as u32));
    }
    let rest = &buf[consumed..];
    if rest.is_empty() {
        conn.request_since = None; // stays (or becomes) empty and unallocated
    } else {
        if answered > 0 || conn.request_since.is_none() {
            conn.request_since = Some(core.now); // a new request has begun
        }
        conn.input = if from_scratch {
            rest.to_vec()
        } else {
            input.drain(..consumed);
            input
        };
    }
    let (wrote, n) = deliver(core, key);
    (ending, wrote, n)
}

/// The frame/reply loop over `buf`. Returns how many bytes were consumed and
/// why it stopped.
fn frame_and_reply<S>(
    ctx: &mut Ctx<'_, S>,
    protocol: &mut dyn Protocol<S>,
    buf: &[u8],
) -> (usize, Ending) {
    let max = ctx.core.config.max_request_size;
    // Stop answering pipelined requests once this much reply waits: it is
    // written first, which bounds the memory one connection can pin.
    let high_water = ctx.core.config.read_buffer_size;
    let key = ctx.id.key();
    let mut consumed = 0;
    let violation = loop {
        let rest = &buf[consumed..];
        if rest.is_empty() {
            return (consumed, Ending::Waiting);
        }
        if ctx.core.reply.len() >= high_water {
            return (consumed, Ending::Backpressure);
        }
        match protocol.frame(rest) {
            // A complete request over the limit is refused too, so the
            // limit does not depend on how TCP happened to split the bytes.
            Frame::Complete(n) if n > max => break Violation::TooLarge { limit: max },
            Frame::Complete(n) if n > 0 && n <= rest.len() => {
                let after = protocol.reply(&rest[..n], ctx);
                ctx.core.stats.requests += 1;
                consumed += n;
                if after == After::Close {
                    return (consumed, Ending::Close);
                }
                let state = &ctx.core.conns[key].state;
                if state.input == Input::Paused {
                    // Paused by its own reply: the rest waits, in order.
                    return (consumed, Ending::Backpressure);
                }
                if !matches!(state.life, Life::Open | Life::Draining) {
                    return (consumed, Ending::Waiting); // closed by its own reply
                }
            }
            Frame::Complete(_) => {
                break Violation::Invalid("frame() returned a length outside the input");
            }
            Frame::Partial if rest.len() >= max => break Violation::TooLarge { limit: max },
            Frame::Partial => return (consumed, Ending::Waiting),
            Frame::Invalid(why) => break Violation::Invalid(why),
        }
    };
    debug!("{} {}: {violation}", ctx.id, ctx.peer);
    protocol.on_violation(&violation, ctx);
    (consumed, Ending::Violation)
}
