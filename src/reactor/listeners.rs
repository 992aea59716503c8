//! The [`Server`]'s listeners: [`Server::listen`] (TCP) and
//! [`Server::listen_at`] (any [`Listen`]: TCP, Unix-domain, systemd's
//! sockets, a PROXY header or TLS first), and what it listens on. The
//! sockets themselves are in `listen.rs`; TLS listeners in `tls_listen.rs`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use log::{debug, trace};
use mio::{Interest, Token};

use crate::api::endpoint::Endpoint;
use crate::api::listen::Listen;
use crate::api::protocol::Protocol;
use crate::conn::id as token;
use crate::reactor::accept::Listener;
use crate::reactor::listen::{At, ListenSocket};
use crate::reactor::server::{Server, listen_error, resolve};

impl<S: 'static> Server<S> {
    /// Binds the TCP address `addr` and serves each client accepted there
    /// with a fresh protocol value from `factory`. Returns the bound address
    /// (useful with port 0). Call it as often as needed: one server, many
    /// ports. ([`listen_at`](Server::listen_at) takes Unix-domain sockets,
    /// systemd's sockets and PROXY-protocol listeners too.)
    ///
    /// # Errors
    /// A one-line error naming the address if it does not resolve or cannot
    /// be bound (in use, no permission).
    pub fn listen<P, F>(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
        factory: F,
    ) -> io::Result<SocketAddr>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        let resolved = resolve(&addr)?;
        let bound = self.listen_at(Listen::new(resolved), factory)?;
        Ok(bound.socket_addr().unwrap_or(resolved))
    }

    /// Opens the listener `listen` describes (a TCP address, a Unix-domain
    /// socket, or a socket systemd passed in; with a PROXY header or TLS
    /// first, if it says so) and serves each client accepted there with a
    /// fresh protocol value from `factory`. Returns where it is bound.
    ///
    /// A Unix-domain socket's file is made with [`Listen::unix_mode`]'s
    /// permissions. A file left by a server that is gone is replaced; one
    /// that a live server answers on is refused (so is a file that is not a
    /// socket). The file is removed when the server stops.
    ///
    /// # Errors
    /// A one-line error naming the endpoint if it cannot be bound (in use,
    /// no permission, a live socket file), or if it asks for TLS on a
    /// Unix-domain socket (not supported).
    pub fn listen_at<P, F>(&mut self, listen: Listen, factory: F) -> io::Result<Endpoint>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        let name = match &listen.at {
            At::Bind(endpoint) | At::Opened(_, endpoint) => endpoint.to_string(),
            At::Tcp(_) | At::Unix(_) => "an inherited socket".to_string(),
        };
        let context = |e: io::Error| listen_error(&name, e);
        let backlog = self.core.config.listen_backlog;
        let (socket, bound) =
            crate::reactor::listen::open(listen.at, backlog, listen.unix_mode).map_err(context)?;
        #[cfg(feature = "tls")]
        if listen.tls.is_some() && matches!(socket, ListenSocket::Unix(_)) {
            let why = "TLS on a Unix-domain socket is not supported";
            return Err(context(io::Error::new(io::ErrorKind::Unsupported, why)));
        }
        self.add_listener(socket, bound.clone(), listen.proxy_protocol, factory)
            .map_err(context)?;
        if let Some(last) = self.listeners.last_mut() {
            last.name = listen.name;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = listen.tls {
            self.serve_tls_on_last(&bound, tls);
        }
        Ok(bound)
    }

    /// Registers a listening socket and keeps it with its protocol factory.
    fn add_listener<P, F>(
        &mut self,
        mut socket: ListenSocket,
        bound: Endpoint,
        proxy_protocol: bool,
        mut factory: F,
    ) -> io::Result<()>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        if self.listeners.len() >= token::MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        let index = self.listeners.len();
        let registered =
            self.poll
                .registry()
                .register(&mut socket, Token(index), Interest::READABLE);
        trace!("{bound} epoll_ctl(ADD, READABLE) -> {registered:?}");
        registered?;
        let proxy = if proxy_protocol {
            " (PROXY protocol)"
        } else {
            ""
        };
        debug!("listening on {bound}{proxy}");
        self.listeners.push(Listener {
            socket,
            addr: bound,
            name: None, // set by listen_at
            factory: Box::new(move || Box::new(factory()) as Box<dyn Protocol<S>>),
            readable: false,
            proxy_protocol,
            #[cfg(feature = "tls")]
            tls: None,
        });
        Ok(())
    }

    /// The TCP addresses being listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.addr.socket_addr())
            .collect()
    }

    /// Everything being listened on: TCP addresses and Unix-domain sockets.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.listeners.iter().map(|l| l.addr.clone()).collect()
    }
}
