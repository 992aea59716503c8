//! [`Workers`]' listeners: every loop serves the same ones. A TCP address
//! is bound once per loop (`SO_REUSEPORT`); a Unix-domain socket or a
//! socket systemd passed in is opened once, and each loop accepts from a
//! duplicate of it.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::api::endpoint::Endpoint;
use crate::api::listen::Listen;
use crate::api::protocol::Protocol;
use crate::reactor::listen::{At, ListenSocket, bind_tcp as bind, open};
use crate::reactor::remote::each_with;
use crate::reactor::server::{listen_error, resolve};
use crate::reactor::workers::{Loops, Workers};

impl<S: 'static> Workers<S> {
    /// Binds `addr` on every loop and serves each client accepted there
    /// with a fresh protocol value from a clone of `factory` (one clone per
    /// loop, called on that loop's thread). Returns the bound address: with
    /// port 0, the first socket picks the port and the others bind the
    /// same one. With one loop this is [`Server::listen`](crate::Server::listen).
    ///
    /// `SO_REUSEPORT` lets any process of the same user bind the port too
    /// (and get a share of its clients); only run workers where that user
    /// is trusted.
    ///
    /// # Errors
    /// A one-line error naming the address if it does not resolve or cannot
    /// be bound; then some loops may be listening already: drop the group.
    pub fn listen<P, F>(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
        factory: F,
    ) -> io::Result<SocketAddr>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + Clone + Send + 'static,
    {
        let listen = Listen::new(resolve(&addr)?);
        let bound = self.listen_at(listen, factory)?;
        bound
            .socket_addr()
            .ok_or_else(|| io::Error::other("twig bug: a TCP listen bound no address"))
    }

    /// [`listen`](Workers::listen) over TLS (the `tls` feature): every
    /// loop serves the port with the same certificates (see
    /// [`Server::listen_tls`](crate::Server::listen_tls)).
    ///
    /// # Errors
    /// As [`listen`](Workers::listen).
    #[cfg(feature = "tls")]
    pub fn listen_tls<P, F>(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
        tls: crate::tls::TlsConfig,
        factory: F,
    ) -> io::Result<SocketAddr>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + Clone + Send + 'static,
    {
        let listen = Listen::new(resolve(&addr)?).tls(tls);
        let bound = self.listen_at(listen, factory)?;
        bound
            .socket_addr()
            .ok_or_else(|| io::Error::other("twig bug: a TCP listen bound no address"))
    }

    /// [`Server::listen_at`](crate::Server::listen_at) on every loop: a TCP address is bound once
    /// per loop (`SO_REUSEPORT`, as for [`listen`](Workers::listen)); a
    /// Unix-domain socket, or a socket systemd passed in, is opened once and
    /// shared by the loops (each accepts from the same queue). Returns
    /// where it is bound.
    ///
    /// # Errors
    /// As [`Server::listen_at`](crate::Server::listen_at); then some loops may be listening already:
    /// drop the group.
    pub fn listen_at<P, F>(&mut self, listen: Listen, factory: F) -> io::Result<Endpoint>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + Clone + Send + 'static,
    {
        let remotes = match &mut self.loops {
            Loops::One(server) => return server.listen_at(listen, factory),
            Loops::Many(remotes) => remotes,
        };
        let name = format!("{listen:?}");
        let context = |e: io::Error| listen_error(&name, e);
        let Listen {
            at,
            proxy_protocol,
            unix_mode,
            name,
            #[cfg(feature = "tls")]
            tls,
        } = listen;
        let mut opened = Vec::with_capacity(remotes.len());
        if let At::Bind(Endpoint::Tcp(addr)) = at {
            let first = bind(addr, self.backlog, true).map_err(context)?;
            let bound = first.local_addr().map_err(context)?;
            opened.push(ListenSocket::Tcp(first));
            for _ in 1..remotes.len() {
                let socket = bind(bound, self.backlog, true).map_err(context)?;
                opened.push(ListenSocket::Tcp(socket));
            }
        } else {
            let (socket, _) = open(at, self.backlog, unix_mode).map_err(context)?;
            for _ in 1..remotes.len() {
                opened.push(socket.try_clone().map_err(context)?);
            }
            opened.insert(0, socket); // the first loop's removes the file
        }
        let mut endpoint = None;
        let mut listens = Vec::with_capacity(opened.len());
        for socket in opened {
            let bound = match &socket {
                ListenSocket::Tcp(s) => Endpoint::Tcp(s.local_addr().map_err(context)?),
                ListenSocket::Unix(f) => f.endpoint(),
            };
            endpoint.get_or_insert_with(|| bound.clone());
            let mut listen = Listen::on(At::Opened(socket, bound)).proxy_protocol(proxy_protocol);
            listen.name.clone_from(&name);
            #[cfg(feature = "tls")]
            let listen = match &tls {
                Some(tls) => listen.tls(tls.clone()),
                None => listen,
            };
            listens.push((listen, factory.clone()));
        }
        let listened = each_with(remotes, listens, |server, (listen, factory)| {
            server.listen_at(listen, factory)
        })?;
        for result in listened {
            result.map_err(context)?;
        }
        let endpoint = endpoint.ok_or_else(|| io::Error::other("no loop"))?;
        if let Some(addr) = endpoint.socket_addr() {
            self.addrs.push(addr);
        }
        Ok(endpoint)
    }
}
