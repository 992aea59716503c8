//! [`Ctx`]: what a protocol callback gets — its own connection, plus the whole
//! [`Core`] through `Deref`.

use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};

use crate::core::Core;
use crate::token::ConnId;

/// The context of a protocol callback: the connection being served, and
/// (through `Deref`) the [`Core`] with the shared state, other connections,
/// timers and `stop`.
///
/// ```
/// use twig::{After, Ctx, Frame, Protocol};
///
/// /// Counts requests across all connections: the shared state is `u64`.
/// struct Count;
///
/// impl Protocol<u64> for Count {
///     fn frame(&mut self, input: &[u8]) -> Frame {
///         Frame::Complete(input.len())
///     }
///     fn reply(&mut self, _request: &[u8], ctx: &mut Ctx<'_, u64>) -> After {
///         *ctx.state() += 1;
///         let n = *ctx.state();
///         ctx.write(format!("you are request {n}, from {}\n", ctx.peer()).as_bytes());
///         After::KeepOpen
///     }
/// }
/// ```
pub struct Ctx<'a, S = ()> {
    pub(crate) core: &'a mut Core<S>,
    pub(crate) id: ConnId,
    pub(crate) peer: SocketAddr,
    /// Where this connection's reply goes: the loop's scratch reply buffer
    /// (written to the socket right after the callback), or a sink that
    /// discards, in `on_close`.
    pub(crate) out: &'a mut Vec<u8>,
}

impl<S> Ctx<'_, S> {
    /// This connection's id, for [`Core::send`] and [`Core::close`] from
    /// elsewhere (other connections, timers, other threads).
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Appends `bytes` to this connection's reply. They are written to the
    /// socket as soon as the callback returns (with the replies to any other
    /// requests answered in the same batch).
    pub fn write(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// The reply buffer itself, to encode into without a temporary. It may
    /// already hold the replies to earlier requests of the same batch:
    /// append, never clear.
    pub fn output(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// The shared state and this connection's reply buffer at once, to
    /// write a reply straight from the state without copying it first.
    pub fn state_and_output(&mut self) -> (&mut S, &mut Vec<u8>) {
        (self.core.state(), self.out)
    }

    /// Like [`Core::try_send`], but sending to this connection itself
    /// appends to its reply, in order (and is never full). That fails with
    /// [`SendError::Gone`](crate::SendError::Gone) once the connection's
    /// write side is shut, as the bytes could not be sent.
    ///
    /// # Errors
    /// As [`Core::try_send`].
    pub fn try_send(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), crate::SendError> {
        if id == self.id {
            if !self.reply_reaches_peer() {
                self.core.stats.dropped_commands += 1;
                return Err(crate::SendError::Gone);
            }
            self.write(bytes);
            Ok(())
        } else {
            self.core.try_send(id, bytes)
        }
    }

    /// Like [`Core::send`], but sending to this connection itself appends to
    /// its reply, in order (false once its write side is shut).
    pub fn send(&mut self, id: ConnId, bytes: &[u8]) -> bool {
        if id == self.id {
            self.try_send(id, bytes).is_ok()
        } else {
            self.core.send(id, bytes)
        }
    }

    /// Whether what is written to this reply now can still reach the peer:
    /// not once the write side is shut (after [`Core::shutdown_write`] took
    /// effect), the connection closed, or in `on_close`.
    fn reply_reaches_peer(&self) -> bool {
        self.core.live(self.id).is_some_and(|c| !c.write_shut)
    }
}

impl<S> Ctx<'_, S> {
    /// Like [`Core::broadcast`], but the calling connection, if `filter`
    /// picks it, gets the bytes appended to its reply. Returns how many
    /// connections were sent to.
    pub fn broadcast(&mut self, bytes: &[u8], mut filter: impl FnMut(ConnId) -> bool) -> usize {
        let me = self.id;
        let mut sent = self.core.broadcast(bytes, |id| id != me && filter(id));
        if filter(me) && self.reply_reaches_peer() {
            self.write(bytes);
            sent += 1;
        }
        sent
    }
}

impl<S> Deref for Ctx<'_, S> {
    type Target = Core<S>;
    fn deref(&self) -> &Core<S> {
        self.core
    }
}

impl<S> DerefMut for Ctx<'_, S> {
    fn deref_mut(&mut self) -> &mut Core<S> {
        self.core
    }
}

/// `write!(ctx, ...)` appends formatted text to the reply.
impl<S> io::Write for Ctx<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
