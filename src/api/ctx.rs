//! [`Ctx`]: what a protocol callback gets — its own connection, plus the whole
//! [`Core`] through `Deref`.

use std::io;
use std::ops::{Deref, DerefMut};

use crate::conn::id::ConnId;
use crate::conn::peer::{Peer, Proxied};
use crate::reactor::core::Core;

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
///
/// What a callback writes ([`write`](Ctx::write), `write!`, or
/// [`Core::send`] to its own id) is its reply, sent when it returns, in the
/// order written. In [`on_close`](crate::Protocol::on_close) it is discarded.
pub struct Ctx<'a, S = ()> {
    pub(crate) core: &'a mut Core<S>,
    pub(crate) id: ConnId,
    /// The peer, for a callback whose connection has left the slab
    /// (`on_close`); `None` while it is there, where [`peer`](Ctx::peer)
    /// looks it up: a request then copies no address.
    pub(crate) peer: Option<Peer>,
}

impl<'a, S> Ctx<'a, S> {
    /// The context of a callback for `id`, which is in the slab.
    #[inline(always)]
    pub(crate) fn new(core: &'a mut Core<S>, id: ConnId) -> Ctx<'a, S> {
        Ctx {
            core,
            id,
            peer: None,
        }
    }
}

impl<S> Ctx<'_, S> {
    /// This connection's id, for [`Core::send`] and [`Core::close`] from
    /// elsewhere (other connections, timers, other threads).
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Who is at the other end: a TCP address, or a process on a
    /// Unix-domain socket with its credentials. Behind a proxy that sent a
    /// PROXY header ([`Listen::proxy_protocol`](crate::Listen::proxy_protocol)),
    /// the client it named.
    pub fn peer(&self) -> Peer {
        match self.peer {
            Some(peer) => peer,
            None => self.core.peer_of(self.id),
        }
    }

    /// What this connection's PROXY header said beside the client: the
    /// proxy the bytes come from, and the address the client connected to
    /// (`None` without a header, or with a LOCAL one: a health check).
    pub fn proxied(&self) -> Option<Proxied> {
        self.core.proxied(self.id)
    }

    /// Appends `bytes` to this connection's reply. They are written to the
    /// socket as soon as the callback returns (with the replies to any other
    /// requests answered in the same batch).
    pub fn write(&mut self, bytes: &[u8]) {
        self.core.reply.extend_from_slice(bytes);
    }

    /// The reply buffer itself, to encode into without a temporary. It may
    /// already hold the replies to earlier requests of the same batch:
    /// append, never clear.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.core.reply
    }

    /// The shared state and this connection's reply buffer at once, to
    /// write a reply straight from the state without copying it first.
    pub fn state_and_output(&mut self) -> (&mut S, &mut Vec<u8>) {
        let core = &mut *self.core;
        (&mut core.state, &mut core.reply)
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
        self.core.reply.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
