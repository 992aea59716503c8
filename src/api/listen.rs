//! [`Listen`]: a listener to open, an [`Endpoint`] (or a socket inherited
//! from systemd) with what each connection accepted there starts with: a
//! PROXY header, TLS.

use std::fmt;
use std::io;

use crate::api::endpoint::Endpoint;
use crate::reactor::listen::At;

/// A listener to open with [`Server::listen_at`](crate::Server::listen_at):
/// where, and what each connection accepted there starts with.
///
/// ```no_run
/// # use twig::{After, Ctx, Frame, Listen, Protocol, Server, framing};
/// # struct Echo;
/// # impl Protocol for Echo {
/// #     fn frame(&mut self, input: &[u8]) -> Frame { framing::line(input) }
/// #     fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After { ctx.write(line); After::KeepOpen }
/// # }
/// let mut server = Server::new(())?;
/// // Behind HAProxy (`send-proxy-v2`), on a socket only the proxy's group may open.
/// let listen = Listen::parse("unix:/run/app/app.sock")?
///     .proxy_protocol(true)
///     .unix_mode(0o660);
/// server.listen_at(listen, || Echo)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Listen {
    pub(crate) at: At,
    pub(crate) proxy_protocol: bool,
    pub(crate) unix_mode: Option<u32>,
    /// Its name: given by [`named`](Listen::named), or by systemd
    /// (`LISTEN_FDNAMES`) for an inherited socket.
    pub(crate) name: Option<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConfig>,
}

impl Listen {
    /// Binds `endpoint` (TCP or Unix), with no PROXY header and no TLS.
    pub fn new(endpoint: impl Into<Endpoint>) -> Listen {
        Listen::on(At::Bind(endpoint.into()))
    }

    /// [`new`](Listen::new) with the endpoint parsed from `host:port` or
    /// `unix:/path`.
    ///
    /// # Errors
    /// If `s` is neither (or the host does not resolve).
    pub fn parse(s: &str) -> io::Result<Listen> {
        s.parse::<Endpoint>().map(Listen::new)
    }

    pub(crate) fn on(at: At) -> Listen {
        Listen {
            at,
            proxy_protocol: false,
            unix_mode: None,
            name: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Expect a PROXY protocol header (v1 or v2, as HAProxy's `send-proxy`
    /// and `send-proxy-v2` send) at the start of every connection, before
    /// anything else (TLS included). The client it names becomes the
    /// connection's [`peer`](crate::Ctx::peer); the proxy stays available
    /// as [`Ctx::proxied`](crate::Ctx::proxied). A connection without a
    /// valid header within [`Config::proxy_header_timeout`](crate::Config::proxy_header_timeout)
    /// is closed, counted in [`Stats::closed`](crate::Stats::closed)`(CloseReason::ProxyHeader)`,
    /// and none of its bytes reach the protocol.
    ///
    /// Only for listeners that nothing but the proxy can reach: the header
    /// is believed.
    pub fn proxy_protocol(mut self, on: bool) -> Listen {
        self.proxy_protocol = on;
        self
    }

    /// The permission bits of a Unix-domain socket's file (`chmod`), for
    /// who may connect: `0o660` for the owner and its group. Without it the
    /// file gets the process's umask. Ignored for TCP.
    pub fn unix_mode(mut self, mode: u32) -> Listen {
        self.unix_mode = Some(mode);
        self
    }

    /// Names it, so that a restart ([`Handle::upgrade`](crate::Handle::upgrade))
    /// hands it over under that name (`LISTEN_FDNAMES`, as systemd's
    /// `FileDescriptorName=`), and the new copy can tell it from the others
    /// with [`from_systemd_named`](Listen::from_systemd_named): an admin
    /// port, say. A `:` in it becomes `_` (the separator). Unnamed
    /// listeners are handed over as `unknown`, systemd's name for those.
    pub fn named(mut self, name: &str) -> Listen {
        self.name = Some(name.replace(':', "_"));
        self
    }

    /// Its name ([`named`](Listen::named), or systemd's for an inherited
    /// socket), if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Serve TLS on it: each client's handshake runs before `on_open` (the
    /// `tls` feature; TCP listeners only).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Listen {
        self.tls = Some(tls);
        self
    }
}

impl fmt::Debug for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match &self.at {
            At::Bind(endpoint) => endpoint.to_string(),
            At::Tcp(socket) => format!("inherited {:?}", socket.local_addr().ok()),
            At::Unix(_) => "inherited unix socket".to_string(),
            At::Opened(_, endpoint) => endpoint.to_string(),
        };
        f.debug_struct("Listen")
            .field("at", &at)
            .field("proxy_protocol", &self.proxy_protocol)
            .field("unix_mode", &self.unix_mode)
            .field("name", &self.name)
            .finish()
    }
}
