//! TLS listeners (the `tls` feature): [`Server::listen_tls`]. A client
//! accepted on one starts in the handshake (`tls_accept.rs`).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use log::debug;

use crate::api::endpoint::Endpoint;
use crate::api::protocol::Protocol;
use crate::reactor::server::Server;
use crate::tls::TlsConfig;

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
        self.serve_tls_on_last(&bound.into(), tls);
        Ok(bound)
    }

    /// The listener added last serves TLS.
    pub(crate) fn serve_tls_on_last(&mut self, bound: &Endpoint, tls: TlsConfig) {
        if let Some(listener) = self.listeners.last_mut() {
            listener.tls = Some(tls.server);
        }
        debug!("{bound}: TLS");
    }
}
