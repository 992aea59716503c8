//! A connection in WebSocket mode: frames in, messages out, control frames
//! answered, the close handshake, and [`WsCtx`] for the user's callbacks.

use log::debug;

use super::codec::{self, Header, Opcode, Parsed, Refusal};
use super::ctx::{Phase, WsCtx};
use super::keepalive::Watch;
use super::utf8::Utf8Stream;
use super::{Message, Settings, WebSocket};
use crate::{After, Ctx, Frame};

/// A reassembly buffer larger than this is released after its message.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The message being reassembled from fragments.
#[derive(Debug, Clone, Copy)]
enum Assembly {
    /// Between messages.
    Idle,
    /// A text message, valid UTF-8 so far.
    Text(Utf8Stream),
    /// A binary message.
    Binary,
}

/// The WebSocket side of an upgraded connection, around the user's `W`.
#[derive(Debug)]
pub(crate) struct Session<W> {
    socket: W,
    settings: Settings,
    /// The header `frame` measured, for the `reply` that follows.
    pending: Option<Header>,
    /// Why `frame` refused the input, for `on_violation`.
    refused: Option<Refusal>,
    assembly: Assembly,
    /// The message's bytes so far, unmasked (reused).
    message: Vec<u8>,
    phase: Phase,
    /// The close code sent or received, for `on_close`.
    close_code: Option<u16>,
    watch: Option<Watch>,
}

impl<W> Session<W> {
    /// Wraps the user's socket for connection `ctx.id()`, and starts its
    /// ping watch if the settings ask for one.
    pub(crate) fn open<S: 'static>(socket: W, settings: Settings, ctx: &mut Ctx<'_, S>) -> Self
    where
        W: WebSocket<S>,
    {
        let id = ctx.id();
        let watch = settings
            .ping_after
            .map(|after| Watch::start(ctx, id, after, settings.pong_timeout));
        let mut session = Session {
            socket,
            settings,
            pending: None,
            refused: None,
            assembly: Assembly::Idle,
            message: Vec::new(),
            phase: Phase::Open,
            close_code: None,
            watch,
        };
        let mut ws = WsCtx::new(ctx, &mut session.phase, &session.settings);
        session.socket.on_open(&mut ws);
        session
    }

    /// Measures the frame at the front of `input`.
    pub(crate) fn frame(&mut self, input: &[u8]) -> Frame {
        match codec::parse(input, self.settings.max_frame) {
            Parsed::Partial => Frame::Partial,
            Parsed::Refused(refusal) => {
                self.refused = Some(refusal);
                Frame::Invalid(refusal.reason)
            }
            Parsed::Header(header) if input.len() < header.frame_len() => Frame::Partial,
            Parsed::Header(header) => {
                self.pending = Some(header);
                Frame::Complete(header.frame_len())
            }
        }
    }

    /// Handles one whole frame.
    pub(crate) fn reply<S: 'static>(&mut self, frame: &[u8], ctx: &mut Ctx<'_, S>) -> After
    where
        W: WebSocket<S>,
    {
        let Some(header) = self.pending.take() else {
            return After::Close; // unreachable: twig replies after Complete
        };
        if let Some(watch) = &self.watch {
            watch.heard(ctx.now());
        }
        let payload = frame.get(header.header_len..).unwrap_or_default();
        match self.handle(header, payload, ctx) {
            Ok(after) => after,
            Err(refusal) => {
                self.refuse(refusal, ctx);
                After::Close
            }
        }
    }

    /// Writes the close frame for a refused frame (from `frame`, or twig's
    /// own size limit: both mean "too big" or "broken").
    pub(crate) fn on_violation<S>(&mut self, too_large: bool, ctx: &mut Ctx<'_, S>) {
        let refusal = match self.refused.take() {
            Some(refusal) => refusal,
            None if too_large => Refusal {
                code: codec::TOO_BIG,
                reason: "frame over the size limit",
            },
            None => Refusal {
                code: codec::PROTOCOL_ERROR,
                reason: "invalid frame",
            },
        };
        self.refuse(refusal, ctx);
    }

    /// The connection is gone: tells the user, stops the watch.
    pub(crate) fn on_close<S>(&mut self, ctx: &mut Ctx<'_, S>)
    where
        W: WebSocket<S>,
    {
        if let Some(watch) = &self.watch {
            watch.stop(ctx);
        }
        self.socket.on_close(self.close_code, ctx);
    }

    fn refuse<S>(&mut self, refusal: Refusal, ctx: &mut Ctx<'_, S>) {
        debug!("{} {}: websocket: {}", ctx.id(), ctx.peer(), refusal.reason);
        self.close_code = Some(refusal.code);
        if self.phase == Phase::Open {
            codec::encode_close(refusal.code, refusal.reason, ctx.output());
        }
    }

    fn handle<S>(
        &mut self,
        header: Header,
        payload: &[u8],
        ctx: &mut Ctx<'_, S>,
    ) -> Result<After, Refusal>
    where
        W: WebSocket<S>,
    {
        let protocol = |reason| Refusal {
            code: codec::PROTOCOL_ERROR,
            reason,
        };
        match (header.opcode, self.assembly) {
            (Opcode::Ping, _) => {
                let mut body = Vec::with_capacity(payload.len());
                codec::unmask_into(payload, header.mask, &mut body);
                if self.phase == Phase::Open {
                    codec::encode(Opcode::Pong, true, &body, ctx.output());
                }
                Ok(After::KeepOpen)
            }
            (Opcode::Pong, _) => Ok(After::KeepOpen), // the watch has heard it
            (Opcode::Close, _) => self.closed(header, payload, ctx),
            (Opcode::Text | Opcode::Binary, Assembly::Idle) => {
                self.message.clear();
                self.assembly = match header.opcode {
                    Opcode::Text => Assembly::Text(Utf8Stream::new()),
                    _ => Assembly::Binary,
                };
                self.append(header, payload, ctx)
            }
            (Opcode::Text | Opcode::Binary, _) => {
                Err(protocol("a new message inside a fragmented one"))
            }
            (Opcode::Continuation, Assembly::Idle) => Err(protocol("continuation without a start")),
            (Opcode::Continuation, _) => self.append(header, payload, ctx),
        }
    }

    /// Adds a data frame to the message; delivers it on the last fragment.
    fn append<S>(
        &mut self,
        header: Header,
        payload: &[u8],
        ctx: &mut Ctx<'_, S>,
    ) -> Result<After, Refusal>
    where
        W: WebSocket<S>,
    {
        if self.message.len() + payload.len() > self.settings.max_message {
            return Err(Refusal {
                code: codec::TOO_BIG,
                reason: "message over the size limit",
            });
        }
        codec::unmask_into(payload, header.mask, &mut self.message);
        let invalid = Refusal {
            code: codec::INVALID_DATA,
            reason: "text is not UTF-8",
        };
        if let Assembly::Text(utf8) = &mut self.assembly {
            utf8.advance(&self.message).map_err(|_| invalid)?;
        }
        if !header.fin {
            return Ok(After::KeepOpen);
        }
        let assembly = std::mem::replace(&mut self.assembly, Assembly::Idle);
        if self.phase == Phase::Open {
            let message = match assembly {
                Assembly::Text(utf8) => {
                    utf8.finish(&self.message).map_err(|_| invalid)?;
                    // Checked above; from_utf8 again because twig has no unsafe.
                    Message::Text(std::str::from_utf8(&self.message).map_err(|_| invalid)?)
                }
                _ => Message::Binary(&self.message),
            };
            let mut ws = WsCtx::new(ctx, &mut self.phase, &self.settings);
            self.socket.on_message(message, &mut ws);
        }
        if self.message.capacity() > KEEP_CAPACITY {
            self.message = Vec::new();
        }
        Ok(After::KeepOpen)
    }

    /// The peer's close frame: answers it (unless it answers ours), then
    /// closes the connection, as the server should (RFC 6455 §7.1.1).
    fn closed<S>(
        &mut self,
        header: Header,
        payload: &[u8],
        ctx: &mut Ctx<'_, S>,
    ) -> Result<After, Refusal> {
        let mut body = Vec::with_capacity(payload.len());
        codec::unmask_into(payload, header.mask, &mut body);
        let code = match *body.as_slice() {
            [] => None,
            [_] => return Err(protocol_error("a close frame of one byte")),
            [hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
        };
        if code.is_some_and(|code| !codec::is_valid_close_code(code)) {
            return Err(protocol_error("an invalid close code"));
        }
        if std::str::from_utf8(body.get(2..).unwrap_or_default()).is_err() {
            return Err(Refusal {
                code: codec::INVALID_DATA,
                reason: "close reason is not UTF-8",
            });
        }
        if self.phase == Phase::Open {
            match code {
                Some(code) => codec::encode_close(code, "", ctx.output()),
                None => codec::encode(Opcode::Close, true, &[], ctx.output()),
            }
            self.close_code = code;
        }
        Ok(After::Close)
    }
}

fn protocol_error(reason: &'static str) -> Refusal {
    Refusal {
        code: codec::PROTOCOL_ERROR,
        reason,
    }
}
