//! [`WsCtx`]: what a [`WebSocket`](super::WebSocket) callback gets.

use std::ops::{Deref, DerefMut};

use super::Settings;
use super::codec::{self, Opcode};
use crate::{ConnId, Ctx, SendError};

/// Where the close handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame (the user's [`WsCtx::close`]) and wait for the
    /// peer's; what else it sends is discarded.
    Closing,
}

/// What a [`WebSocket`] callback gets: sending on this connection, closing
/// it, sending to others, and (through `Deref`) the whole [`Ctx`]: the id,
/// the peer, the shared state, timers.
pub struct WsCtx<'w, 'a, S> {
    ctx: &'w mut Ctx<'a, S>,
    phase: &'w mut Phase,
    settings: &'w Settings,
}

impl<'w, 'a, S> WsCtx<'w, 'a, S> {
    pub(super) fn new(
        ctx: &'w mut Ctx<'a, S>,
        phase: &'w mut Phase,
        settings: &'w Settings,
    ) -> Self {
        WsCtx {
            ctx,
            phase,
            settings,
        }
    }

    /// Sends a text message on this connection (nothing after a close).
    pub fn send_text(&mut self, text: &str) {
        self.send(Opcode::Text, text.as_bytes());
    }

    /// Sends a binary message on this connection (nothing after a close).
    pub fn send_binary(&mut self, bytes: &[u8]) {
        self.send(Opcode::Binary, bytes);
    }

    /// Starts the close handshake with `code` and `reason` (cut to 123
    /// bytes): nothing more is sent or delivered, and the connection closes
    /// when the peer answers, or after [`Settings::pong_timeout`].
    pub fn close(&mut self, code: u16, reason: &str) {
        if *self.phase != Phase::Open {
            return;
        }
        *self.phase = Phase::Closing;
        codec::encode_close(code, reason, self.ctx.output());
        let id = self.ctx.id();
        self.ctx
            .call_later(self.settings.pong_timeout, move |core| {
                core.close(id); // the peer never answered (false if it did)
            });
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        *self.phase == Phase::Closing
    }

    /// Sends a text message to another WebSocket connection with
    /// [`Core::try_send`](crate::Core::try_send): a peer that would owe more
    /// than [`Config::max_output`](crate::Config::max_output) misses this
    /// message and stays connected.
    ///
    /// # Errors
    /// [`SendError::Gone`] or [`SendError::Full`], as `try_send`.
    pub fn send_text_to(&mut self, id: ConnId, text: &str) -> Result<(), SendError> {
        let mut frame = Vec::with_capacity(text.len() + 10);
        codec::encode(Opcode::Text, true, text.as_bytes(), &mut frame);
        self.ctx.try_send(id, &frame)
    }

    /// Sends a text message to every connection for which `filter` says
    /// true, encoded once, with [`Core::broadcast`](crate::Core::broadcast)
    /// (the send rule: a slow consumer over `max_output` is closed). The
    /// filter must name WebSocket connections only (keep their ids in the
    /// shared state). Returns how many it was sent to.
    pub fn broadcast_text(&mut self, text: &str, filter: impl FnMut(ConnId) -> bool) -> usize {
        let mut frame = Vec::with_capacity(text.len() + 10);
        codec::encode(Opcode::Text, true, text.as_bytes(), &mut frame);
        self.ctx.broadcast(&frame, filter)
    }

    fn send(&mut self, opcode: Opcode, payload: &[u8]) {
        if *self.phase == Phase::Open {
            codec::encode(opcode, true, payload, self.ctx.output());
        }
    }
}

impl<'a, S> Deref for WsCtx<'_, 'a, S> {
    type Target = Ctx<'a, S>;
    fn deref(&self) -> &Ctx<'a, S> {
        self.ctx
    }
}

impl<S> DerefMut for WsCtx<'_, '_, S> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.ctx
    }
}
