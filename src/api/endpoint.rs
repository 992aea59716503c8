//! [`Endpoint`]: a TCP address or a Unix-domain socket path, written as
//! the examples take it on the command line. A leaf: the listeners below
//! and [`Listen`](crate::Listen) above both name it.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

/// A place to listen on or connect to: `host:port`, or `unix:/path/to.sock`.
///
/// ```
/// use twig::Endpoint;
/// let tcp: Endpoint = "127.0.0.1:8000".parse()?;
/// assert_eq!(tcp.to_string(), "127.0.0.1:8000");
/// let unix: Endpoint = "unix:/run/app.sock".parse()?;
/// assert_eq!(unix, Endpoint::Unix("/run/app.sock".into()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix-domain stream socket, by the path of its file.
    Unix(PathBuf),
}

impl Endpoint {
    /// The TCP address, if it is one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Tcp(addr) => Some(*addr),
            Endpoint::Unix(_) => None,
        }
    }
}

/// `unix:PATH` is a Unix-domain socket; anything else is resolved as
/// `host:port` (the first address it resolves to).
impl FromStr for Endpoint {
    type Err = io::Error;
    fn from_str(s: &str) -> io::Result<Endpoint> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(invalid(s, "no path after unix:"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let mut addrs = s
            .to_socket_addrs()
            .map_err(|e| invalid(s, &e.to_string()))?;
        addrs
            .next()
            .map(Endpoint::Tcp)
            .ok_or_else(|| invalid(s, "resolves to no address"))
    }
}

fn invalid(s: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not an address: {s:?} ({why}; expected host:port or unix:/path)"),
    )
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Endpoint {
        Endpoint::Tcp(addr)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}
