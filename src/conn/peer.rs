//! Who is at the other end of a connection: a TCP address, or a process on
//! a Unix-domain socket (with its credentials). Behind a proxy that speaks
//! the PROXY protocol, the client the proxy names, with the proxy itself
//! kept beside it ([`Proxied`]).

use std::fmt;
use std::net::SocketAddr;

use crate::conn::id::ConnId;

/// The other end of a connection, as [`Ctx::peer`](crate::Ctx::peer) gives
/// it. Small and `Copy`, like the `SocketAddr` it wraps.
///
/// `Display` shows `127.0.0.1:5000` for TCP and `unix:pid=42,uid=1000` for a
/// Unix-domain socket, so `"{}"` in a log line reads the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A TCP peer: its address, or, behind a proxy that sent a PROXY
    /// header, the client's address from that header.
    Tcp(SocketAddr),
    /// A peer on a Unix-domain socket. Such peers rarely have a name (a
    /// client does not bind its end); the kernel says who they are instead
    /// (`SO_PEERCRED`, `None` only if it would not).
    Unix(Option<Credentials>),
}

/// The process at the other end of a Unix-domain socket, as the kernel
/// recorded it at `connect` (`SO_PEERCRED`): it cannot be forged by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// Its process id (of the process that connected; it may have exited).
    pub pid: u32,
    /// Its effective user id.
    pub uid: u32,
    /// Its effective group id.
    pub gid: u32,
}

impl Peer {
    /// The TCP address, if it is one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Peer::Tcp(addr) => Some(*addr),
            Peer::Unix(_) => None,
        }
    }

    /// The peer process's credentials, on a Unix-domain socket.
    pub fn credentials(&self) -> Option<Credentials> {
        match self {
            Peer::Tcp(_) => None,
            Peer::Unix(credentials) => *credentials,
        }
    }

    /// The credentials of the process at the other end of `socket`.
    pub(crate) fn of_unix(socket: &impl std::os::fd::AsFd) -> Peer {
        let credentials = rustix::net::sockopt::socket_peercred(socket).ok();
        Peer::Unix(credentials.map(|c| Credentials {
            pid: c.pid.as_raw_pid() as u32,
            uid: c.uid.as_raw(),
            gid: c.gid.as_raw(),
        }))
    }
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Peer {
        Peer::Tcp(addr)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix(Some(c)) => write!(f, "unix:pid={},uid={}", c.pid, c.uid),
            Peer::Unix(None) => f.write_str("unix"),
        }
    }
}

/// What a PROXY header said about a connection, beside the client it named
/// (which became the connection's [`Peer`]): the proxy the bytes really
/// come from, and the address the client connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proxied {
    /// The socket's own peer: the proxy.
    pub proxy: Peer,
    /// The address the client connected to (the proxy's frontend).
    pub destination: SocketAddr,
}

/// Names a connection in log lines: `#key.generation peer` (the peer left
/// out when it is not known).
pub(crate) struct Who(pub ConnId, pub Option<Peer>);

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(peer) => write!(f, "{} {peer}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
