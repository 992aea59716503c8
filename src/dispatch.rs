//! Answering requests: the frame/reply loop over a connection's buffered
//! input, and the optimistic write of the replies it produced. Called by the
//! state machine in [`drive`](crate::drive).

use log::debug;

use crate::callbacks::{Who, guarded};
use crate::connection::{State, WriteOutcome};
use crate::core::Core;
use crate::ctx::Ctx;
use crate::protocol::{After, CloseReason, Frame, Protocol, Violation};
use crate::recorder::Mark;

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

/// The loop's two buffers, lent to one connection at a time: reads land in
/// `input`, replies are produced into `output` and written from there. Only
/// what a connection keeps (a partial request, bytes the socket would not
/// take) is copied into its own buffers, so an idle connection owns none.
/// They live beside the [`Core`], not in it, so that user code can have the
/// whole core while reading from one and writing into the other.
pub(crate) struct Scratch {
    /// The read buffer: `Config::read_buffer_size` bytes.
    pub input: Vec<u8>,
    /// The reply buffer: empty between callbacks.
    pub output: Vec<u8>,
}

impl Scratch {
    pub(crate) fn new(read_buffer_size: usize) -> Scratch {
        Scratch {
            input: vec![0; read_buffer_size],
            output: Vec::new(),
        }
    }
}

/// Answers the complete requests in the connection's input (plus `fresh`
/// bytes just read into `scratch.input`), then writes the replies.
/// Returns how many bytes were written.
pub(crate) fn dispatch<S>(
    core: &mut Core<S>,
    scratch: &mut Scratch,
    key: usize,
    fresh: Option<usize>,
) -> usize {
    let conn = &mut core.conns[key];
    let (id, peer) = (conn.id, conn.peer);
    let Some(mut protocol) = conn.protocol.take() else {
        return 0;
    };
    // Frame straight from the scratch buffer when no partial request is
    // buffered (the common case: no copy); otherwise append to it.
    let from_scratch = conn.input.is_empty() && fresh.is_some();
    let mut input = Vec::new();
    if !from_scratch {
        input = std::mem::take(&mut conn.input);
        if let Some(n) = fresh {
            input.extend_from_slice(&scratch.input[..n]);
        }
    }
    let buf: &[u8] = match fresh {
        Some(n) if from_scratch => &scratch.input[..n],
        _ => &input,
    };
    let out = &mut scratch.output;

    let requests_before = core.stats.requests;
    core.dispatching = Some(id);
    let result = guarded(core, Who(id, peer), "reply", |core| {
        let mut ctx = Ctx {
            core,
            id,
            peer,
            out: &mut *out,
        };
        answer(&mut ctx, &mut *protocol, buf)
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
                    if !rest.is_empty() {
                        conn.input = if from_scratch {
                            rest.to_vec()
                        } else {
                            input.drain(..consumed);
                            input
                        };
                    }
                    // else: stays (or becomes) empty and unallocated, so an
                    // idle connection holds no buffer.
                }
                Ending::Close => conn.set_state(State::Closing(CloseReason::Done)),
                Ending::Violation(v) => {
                    debug!("{id} {peer}: {v}, closing");
                    conn.set_state(State::Closing(CloseReason::Violation));
                }
            }
            conn.protocol = Some(protocol);
            written = deliver(core, key, out);
        }
        None => {
            drop(protocol); // its state may be half-updated: never call it again
            // Replies to the requests answered before the panic still go out
            // (as far as the socket takes them at once).
            written = deliver(core, key, out);
            core.mark_closed(key, CloseReason::Panic);
        }
    }
    out.clear();
    written
}

/// The frame/reply loop over `buf`. Returns how many bytes were consumed and
/// why it stopped.
fn answer<S>(ctx: &mut Ctx<'_, S>, protocol: &mut dyn Protocol<S>, buf: &[u8]) -> (usize, Ending) {
    let max = ctx.core.config.max_request_size;
    // Stop answering pipelined requests once this much reply waits: it is
    // written first, which bounds the memory one connection can pin.
    let high_water = ctx.core.config.read_buffer_size;
    let mut consumed = 0;
    let violation = loop {
        let rest = &buf[consumed..];
        if rest.is_empty() {
            return (consumed, Ending::Drained);
        }
        if ctx.out.len() >= high_water {
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
                if ctx.core.conns[ctx.id.key()].paused {
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
    protocol.on_violation(&violation, ctx);
    (consumed, Ending::Violation(violation))
}

/// Writes freshly produced reply bytes at once (optimistic write); only what
/// the socket does not take is copied into the connection's own buffer.
pub(crate) fn deliver<S>(core: &mut Core<S>, key: usize, out: &mut Vec<u8>) -> usize {
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
