//! TLS listeners (the `tls` feature): [`Server::listen_tls`], and the
//! accept of a client on one, which starts its connection in
//! [`Life::Handshaking`](crate::conn::machine::Life::Handshaking) with a
//! rustls session on the socket.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use log::{debug, warn};
use mio::net::TcpStream;

use crate::api::protocol::Protocol;
use crate::conn::machine::{Event, State};
use crate::conn::socket::Transport;
use crate::reactor::core::Core;
use crate::reactor::drive::drive;
use crate::reactor::protocols::Protocols;
use crate::reactor::server::Server;
use crate::tls::TlsConfig;
use crate::tls::stream::TlsStream;

impl<S: 'static> Server<S> {
    /// [`listen`](Server::listen) over TLS: binds `addr` and serves each
    /// client with a fresh protocol value from `factory`, once the TLS
    /// handshake with it is complete. The protocol sees plaintext and is
    /// the same as over TCP. Returns the bound address.
    ///
    /// ```no_run
    /// # use twig::{After, Ctx, Frame, Protocol, Server, framing};
    /// # struct Echo;
    /// # impl Protocol for Echo {
    /// #     fn frame(&mut self, input: &[u8]) -> Frame { framing::line(input) }
    /// #     fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After { ctx.write(line); After::KeepOpen }
    /// # }
    /// let mut server = Server::builder().build(())?;
    /// let tls = twig::tls::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
    /// server.listen_tls("127.0.0.1:7443", tls, || Echo)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`listen`](Server::listen).
    pub fn listen_tls<P, F>(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
        tls: TlsConfig,
        factory: F,
    ) -> io::Result<SocketAddr>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        let bound = self.listen(addr, factory)?;
        if let Some(listener) = self.listeners.last_mut() {
            listener.tls = Some(tls.server);
        }
        debug!("{bound}: TLS");
        Ok(bound)
    }
}

/// Registers a client accepted on a TLS listener, with a session on its
/// socket, and gives it its first turn (which waits for the ClientHello).
pub(crate) fn add<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    stream: TcpStream,
    peer: SocketAddr,
    config: &Arc<rustls::ServerConfig>,
    protocol: Box<dyn Protocol<S>>,
) {
    let session = match rustls::ServerConnection::new(Arc::clone(config)) {
        Ok(session) => session,
        Err(e) => {
            warn!("{peer}: cannot start a TLS session: {e}; dropped");
            return;
        }
    };
    let wrap = |stream, id| Transport::Tls(Box::new(TlsStream::new(stream, session, id)));
    let id = match core.insert_with(stream, peer, State::HANDSHAKING, false, wrap) {
        Ok(id) => id,
        Err(e) => {
            warn!("{peer}: cannot register the connection: {e}; dropped");
            return;
        }
    };
    protocols.insert(id.key(), protocol);
    core.stats.accepted += 1;
    debug!("{id} {peer}: connected (TLS)");
    drive(core, protocols, scratch, id, Event::Poke);
}
