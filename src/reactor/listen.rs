//! Listening sockets of both kinds: binding a TCP address or a Unix-domain
//! socket path (with the rules for a file left behind), taking over one
//! inherited from systemd, and accepting from either.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use log::debug;
use mio::net::{TcpListener, UnixListener};

use crate::api::endpoint::Endpoint;
use crate::conn::peer::Peer;
use crate::conn::stream::Stream;

/// Where a [`Listen`](crate::Listen) listens: an endpoint to bind, or a socket already
/// listening (handed over by systemd).
pub(crate) enum At {
    /// An endpoint to bind.
    Bind(Endpoint),
    /// A TCP listener systemd passed in.
    Tcp(std::net::TcpListener),
    /// A Unix-domain listener systemd passed in.
    Unix(std::os::unix::net::UnixListener),
    /// Opened already, for one loop of a [`Workers`](crate::Workers) group.
    Opened(ListenSocket, Endpoint),
}

/// A listening socket.
pub(crate) enum ListenSocket {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix-domain stream socket.
    Unix(UnixSocketFile),
}

/// A listening Unix-domain socket and the file it made, removed when it is
/// dropped (the server stopped) if the file is still the one it bound.
pub(crate) struct UnixSocketFile {
    pub socket: UnixListener,
    /// The file to remove, and its (device, inode) to recognise it: not
    /// one another server bound since. `None` for an inherited socket,
    /// whose file belongs to whoever made it (systemd).
    own: Option<(PathBuf, (u64, u64))>,
}

impl UnixSocketFile {
    /// Where it listens, as the kernel says.
    pub(crate) fn endpoint(&self) -> Endpoint {
        let path = self.socket.local_addr().ok();
        let path = path.as_ref().and_then(|a| a.as_pathname());
        Endpoint::Unix(path.map_or_else(|| PathBuf::from("(unnamed)"), Path::to_path_buf))
    }
}

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        let Some((path, id)) = &self.own else { return };
        let ours = std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == *id);
        if ours {
            let removed = std::fs::remove_file(path);
            debug!("unlink({}) -> {removed:?}", path.display());
        }
    }
}

impl ListenSocket {
    /// One `accept(2)`: the new socket and who is on the other end.
    pub(crate) fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            ListenSocket::Tcp(socket) => {
                let (stream, addr) = socket.accept()?;
                Ok((Stream::Tcp(stream), Peer::Tcp(addr)))
            }
            ListenSocket::Unix(file) => {
                let (stream, _unnamed) = file.socket.accept()?;
                let peer = Peer::of_unix(&stream);
                Ok((Stream::Unix(stream), peer))
            }
        }
    }
}

impl ListenSocket {
    /// Another descriptor for the same listening socket (`dup`), for
    /// another loop to accept from: the loops share one accept queue. It
    /// does not remove a Unix socket's file; the original does.
    pub(crate) fn try_clone(&self) -> io::Result<ListenSocket> {
        use std::os::fd::AsFd;
        Ok(match self {
            ListenSocket::Tcp(socket) => {
                let fd = socket.as_fd().try_clone_to_owned()?;
                ListenSocket::Tcp(TcpListener::from_std(fd.into()))
            }
            ListenSocket::Unix(file) => {
                let fd = file.socket.as_fd().try_clone_to_owned()?;
                ListenSocket::Unix(UnixSocketFile {
                    socket: UnixListener::from_std(fd.into()),
                    own: None,
                })
            }
        })
    }
}

impl ListenSocket {
    /// A duplicate of its descriptor (close-on-exec), to hand to a new copy
    /// of the program on a restart (`upgrade.rs`).
    pub(crate) fn dup(&self) -> io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        match self {
            ListenSocket::Tcp(socket) => socket.as_fd().try_clone_to_owned(),
            ListenSocket::Unix(file) => file.socket.as_fd().try_clone_to_owned(),
        }
    }

    /// Forgets that its Unix-domain socket's file is this process's to
    /// remove: the new copy of a restart serves it now.
    pub(crate) fn disown(&mut self) {
        if let ListenSocket::Unix(file) = self {
            file.own = None;
        }
    }
}

impl mio::event::Source for ListenSocket {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(s) => s.register(registry, token, interests),
            ListenSocket::Unix(f) => f.socket.register(registry, token, interests),
        }
    }
    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(s) => s.reregister(registry, token, interests),
            ListenSocket::Unix(f) => f.socket.reregister(registry, token, interests),
        }
    }
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        match self {
            ListenSocket::Tcp(s) => s.deregister(registry),
            ListenSocket::Unix(f) => f.socket.deregister(registry),
        }
    }
}

/// Opens what `at` names: binds an endpoint, or takes over an inherited
/// socket. Returns the socket and the endpoint it is bound to.
pub(crate) fn open(
    at: At,
    backlog: u32,
    unix_mode: Option<u32>,
) -> io::Result<(ListenSocket, Endpoint)> {
    match at {
        At::Opened(socket, endpoint) => Ok((socket, endpoint)),
        At::Bind(Endpoint::Tcp(addr)) => {
            let socket = bind_tcp(addr, backlog, false)?;
            let bound = socket.local_addr()?;
            Ok((ListenSocket::Tcp(socket), Endpoint::Tcp(bound)))
        }
        At::Bind(Endpoint::Unix(path)) => {
            let file = bind_unix(&path, backlog, unix_mode)?;
            Ok((ListenSocket::Unix(file), Endpoint::Unix(path)))
        }
        At::Tcp(socket) => {
            socket.set_nonblocking(true)?;
            let bound = socket.local_addr()?;
            let socket = TcpListener::from_std(socket);
            Ok((ListenSocket::Tcp(socket), Endpoint::Tcp(bound)))
        }
        At::Unix(socket) => {
            socket.set_nonblocking(true)?;
            let path = socket.local_addr()?.as_pathname().map(Path::to_path_buf);
            let file = UnixSocketFile {
                socket: UnixListener::from_std(socket),
                own: None,
            };
            let endpoint = Endpoint::Unix(path.unwrap_or_else(|| PathBuf::from("(unnamed)")));
            Ok((ListenSocket::Unix(file), endpoint))
        }
    }
}

/// Creates a non-blocking listening TCP socket: `socket`, `SO_REUSEADDR`
/// (so a restarted server can bind while old connections sit in
/// TIME_WAIT), `bind`, `listen(backlog)`. Through socket2 because mio's own
/// `bind` fixes the backlog at 128, too short for the "wait in the backlog"
/// policy.
///
/// With `reuse_port`, also `SO_REUSEPORT`: every loop of a
/// [`Workers`](crate::Workers) group binds its own socket on the same port,
/// and the kernel spreads new clients over them.
pub(crate) fn bind_tcp(
    addr: SocketAddr,
    backlog: u32,
    reuse_port: bool,
) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol as IpProtocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(IpProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog_of(backlog))?;
    Ok(TcpListener::from_std(socket.into()))
}

/// Creates a non-blocking listening Unix-domain socket at `path`. A file
/// left there by a server that is gone (nobody answers a connect) is
/// replaced; a live server's socket is refused, and so is any file that is
/// not a socket. The mode is set before `listen`, so no client can connect
/// before the permissions hold.
pub(crate) fn bind_unix(
    path: &Path,
    backlog: u32,
    mode: Option<u32>,
) -> io::Result<UnixSocketFile> {
    use socket2::{Domain, SockAddr, Socket, Type};
    clear_stale(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::unix(path)?)?;
    let meta = std::fs::symlink_metadata(path)?;
    // From here the file is ours: dropping `file` on an error removes it.
    let std_socket = std::os::unix::net::UnixListener::from(std::os::fd::OwnedFd::from(socket));
    let file = UnixSocketFile {
        socket: UnixListener::from_std(std_socket),
        own: Some((path.to_path_buf(), (meta.dev(), meta.ino()))),
    };
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    socket2::SockRef::from(&file.socket).listen(backlog_of(backlog))?;
    Ok(file)
}

/// Removes a socket file no server listens on any more; refuses a live one.
fn clear_stale(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the file exists and is not a socket (not replaced)",
        ));
    }
    // A non-blocking connect: a live server whose backlog is full (or that
    // is stopped) says EAGAIN instead of making this call wait forever.
    let probe = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    let live = || {
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another server is listening on it",
        ))
    };
    match probe.connect(&socket2::SockAddr::unix(path)?) {
        Ok(()) => live(),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => live(),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => live(),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            let removed = std::fs::remove_file(path);
            debug!(
                "{}: stale socket file, unlink -> {removed:?}",
                path.display()
            );
            removed
        }
        Err(e) => Err(e),
    }
}

fn backlog_of(backlog: u32) -> i32 {
    i32::try_from(backlog).unwrap_or(i32::MAX)
}
