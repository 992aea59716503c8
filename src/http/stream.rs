//! Streamed responses: a body sent in parts, as it is made, with no
//! length known up front ([`Response::stream`](super::Response::stream),
//! [`Response::produce`](super::Response::produce)); `start.rs` writes
//! their head.
//!
//! The head goes out at once; the body follows as `Transfer-Encoding:
//! chunked` (HTTP/1.1), as the declared `Content-Length`, or, to an
//! HTTP/1.0 client with no length, as raw bytes ended by closing the
//! connection. While a stream is open the connection reads nothing more:
//! pipelined requests wait in order behind it, and are answered when it
//! ends.
//!
//! Two ways to feed it:
//! - **Push** ([`Response::stream`](super::Response::stream)): the handler gets a [`Stream`] handle,
//!   a `Copy` value that timers and other connections' callbacks use with
//!   the [`Core`] later ([`Stream::write`], [`Stream::end`]). Each write
//!   goes out by [`Core::send`], so a client that stops reading is closed
//!   as a slow consumer past [`Config::max_output`](crate::Config::max_output);
//!   check [`Stream::owed`] to hold back instead.
//! - **Pull** ([`Response::produce`](super::Response::produce)): a [`Producer`] is asked for more
//!   whenever there is room, as Twisted's `IPushProducer` is resumed. The
//!   layer fills the reply up to [`HIGH_WATER`] bytes, then waits until the
//!   socket has taken all of it ([`Core::notify_drained`], then
//!   [`Protocol::on_drained`](crate::Protocol::on_drained)): the low-water
//!   mark is an empty user-space buffer, while the kernel's send buffer
//!   keeps the pipe full. A 1 GiB download never holds more than about
//!   `2 × HIGH_WATER` bytes in the server.

use std::io;

use log::warn;

use crate::{ConnId, Core, Ctx};

/// How many body bytes a pull stream puts in the reply before it waits for
/// the socket to take them (see [`twig::http`](crate::http#streaming)).
pub const HIGH_WATER: usize = 64 * 1024;

/// What a [`Producer`] says after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produce {
    /// There is more: call again when there is room. A call that says
    /// `More` must have written something, else the stream would spin: the
    /// layer then gives up and closes the connection.
    More,
    /// The body is complete.
    Done,
}

/// Makes a streamed body in parts, on the loop thread, when there is room
/// for more ([`Response::produce`](super::Response::produce)). Closures `FnMut(&mut Body) -> Produce`
/// are producers.
///
/// A producer gets no [`Ctx`]: it lives in the connection's protocol value
/// and runs from its hooks. What needs the shared state or timers pushes
/// through a [`Stream`] instead.
pub trait Producer {
    /// Appends the next part of the body to `body` (about
    /// [`Body::room`] bytes is the right size) and says whether there is
    /// more. Must not block: a local file read is the usual exception,
    /// as in nginx without aio.
    fn more(&mut self, body: &mut Body<'_>) -> Produce;
}

impl<F: FnMut(&mut Body<'_>) -> Produce> Producer for F {
    fn more(&mut self, body: &mut Body<'_>) -> Produce {
        self(body)
    }
}

/// Where a [`Producer`] writes: the connection's reply, with a limit (the
/// room before the high-water mark, or what is left of a declared length).
/// Bytes past the limit are not taken.
#[derive(Debug)]
pub struct Body<'a> {
    out: &'a mut Vec<u8>,
    room: usize,
}

impl Body<'_> {
    /// How many more bytes this call may write.
    pub fn room(&self) -> usize {
        self.room
    }

    /// Appends what fits of `bytes`; returns how many were taken.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room);
        self.out.extend_from_slice(&bytes[..n]);
        self.room -= n;
        n
    }

    /// Lets `read` fill up to [`room`](Body::room) bytes in place (a file's
    /// `read`, say, with no copy through a buffer of its own) and keeps the
    /// `n` it says it wrote.
    ///
    /// # Errors
    /// What `read` returns; nothing is kept then.
    pub fn fill(&mut self, read: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> io::Result<usize> {
        let start = self.out.len();
        self.out.resize(start + self.room, 0);
        let result = read(&mut self.out[start..]);
        let n = match &result {
            Ok(n) => (*n).min(self.room),
            Err(_) => 0,
        };
        self.out.truncate(start + n);
        self.room -= n;
        result.map(|_| n)
    }
}

impl io::Write for Body<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.push(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a stream's body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The bytes as they are: a declared `Content-Length`, or until the
    /// connection closes (HTTP/1.0).
    Raw,
    /// No body at all: `HEAD`, 204, 304.
    Nothing,
}

/// A streamed response in progress, for [`Core`] methods called later
/// (from timers, other connections' callbacks): a `Copy` handle naming the
/// connection and how the body is framed.
///
/// While a stream is open the connection reads nothing (reading is
/// paused), so its [`idle_timeout`](crate::Config::idle_timeout) does not
/// run: an event stream may stay open for hours. A client that stops
/// reading is still cut off, by the write timeout once bytes are owed, or
/// by `max_output`.
///
/// ```
/// use std::time::Duration;
/// use twig::http::Router;
/// let app: Router = Router::new().get("/count", |_, res, ctx| {
///     let stream = res.stream(ctx, None); // chunked
///     for i in 1..=3u64 {
///         ctx.call_later(Duration::from_millis(10 * i), move |core| {
///             stream.write(core, format!("{i}\n").as_bytes());
///             if i == 3 {
///                 stream.end(core);
///             }
///         });
///     }
/// });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    id: ConnId,
    pub(crate) framing: Framing,
    /// The connection closes when the stream ends (asked for, HTTP/1.0, or
    /// a body without a length that only a close can end).
    close: bool,
}

impl Stream {
    pub(crate) fn new(id: ConnId, framing: Framing, close: bool) -> Stream {
        Stream { id, framing, close }
    }

    /// The connection the stream goes to.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Sends the next part of the body (a chunk, when chunked). Returns
    /// false if the connection is gone. An empty part sends nothing (an
    /// empty chunk would end the body).
    pub fn write<S>(&self, core: &mut Core<S>, bytes: &[u8]) -> bool {
        match self.framing {
            _ if bytes.is_empty() => core.is_open(self.id),
            Framing::Chunked => {
                let mut chunk = Vec::with_capacity(bytes.len() + 20);
                chunk_header(&mut chunk, bytes.len());
                chunk.extend_from_slice(bytes);
                chunk.extend_from_slice(b"\r\n");
                core.send(self.id, &chunk)
            }
            Framing::Raw => core.send(self.id, bytes),
            Framing::Nothing => core.is_open(self.id),
        }
    }

    /// Ends the body: the last chunk, then the next pipelined request is
    /// answered (or the connection closes, if it must). Returns false if
    /// the connection is gone.
    pub fn end<S>(&self, core: &mut Core<S>) -> bool {
        if self.framing == Framing::Chunked && !core.send(self.id, b"0\r\n\r\n") {
            return false;
        }
        if self.close {
            core.close(self.id)
        } else {
            core.resume_reading(self.id)
        }
    }

    /// Whether the connection is still open.
    pub fn is_open<S>(&self, core: &Core<S>) -> bool {
        core.is_open(self.id)
    }

    /// Bytes written to the stream that the socket has not taken yet
    /// (`None` once the connection is gone): hold back while this is high.
    pub fn owed<S>(&self, core: &Core<S>) -> Option<usize> {
        core.owed(self.id)
    }
}

/// A pull stream: its producer, its handle, and what is left of a
/// declared length.
pub(crate) struct Pump {
    producer: Box<dyn Producer>,
    stream: Stream,
    left: Option<u64>,
}

impl Pump {
    pub(crate) fn new(producer: Box<dyn Producer>, stream: Stream, left: Option<u64>) -> Pump {
        Pump {
            producer,
            stream,
            left,
        }
    }
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("stream", &self.stream)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// `{len:x}\r\n`.
fn chunk_header(out: &mut Vec<u8>, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    let mut n = len;
    loop {
        start -= 1;
        digits[start] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
    out.extend_from_slice(b"\r\n");
}

/// Width of the chunk-size placeholder a pump writes before it knows the
/// size (leading zeros are allowed: `chunk-size = 1*HEXDIG`).
const SIZE_WIDTH: usize = 8;

/// Runs a pull stream until the reply holds [`HIGH_WATER`] bytes (then
/// asks to be called when they are written) or the body is done. Returns
/// false once the stream has ended (or was given up).
pub(crate) fn pump<S>(pump: &mut Pump, ctx: &mut Ctx<'_, S>) -> bool {
    let id = ctx.id();
    let chunked = pump.stream.framing == Framing::Chunked;
    loop {
        let out = ctx.output();
        if out.len() >= HIGH_WATER {
            ctx.notify_drained(id);
            return true;
        }
        let room = HIGH_WATER - out.len();
        let room = pump.left.map_or(room, |left| room.min(clamp(left)));
        let header = out.len();
        if chunked {
            out.extend_from_slice(&[b'0'; SIZE_WIDTH]);
            out.extend_from_slice(b"\r\n");
        }
        let start = out.len();
        let said = pump.producer.more(&mut Body { out, room });
        let n = out.len() - start;
        if chunked && n == 0 {
            out.truncate(header);
        } else if chunked {
            let mut digits = [0u8; 20];
            let mut at = SIZE_WIDTH;
            let mut m = n;
            while m > 0 {
                at -= 1;
                digits[at] = b"0123456789abcdef"[m & 15];
                m >>= 4;
            }
            out[header + at..header + SIZE_WIDTH].copy_from_slice(&digits[at..SIZE_WIDTH]);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(left) = &mut pump.left {
            *left -= n as u64;
        }
        let done = said == Produce::Done || pump.left == Some(0);
        match (done, pump.left) {
            (true, None | Some(0)) => {
                pump.stream.end(ctx);
                return false;
            }
            (true, Some(left)) => {
                warn!("{id}: streamed body ended {left} bytes short of its length; closing");
                ctx.close(id);
                return false;
            }
            (false, _) if n == 0 => {
                warn!("{id}: a producer said More and wrote nothing; closing");
                ctx.close(id);
                return false;
            }
            (false, _) => {}
        }
    }
}

/// `n`, or `usize::MAX` if it does not fit.
fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
