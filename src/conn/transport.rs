//! What a connection's bytes travel over: a TCP socket, a Unix-domain one,
//! a TLS session on a TCP socket (the `tls` feature; its fault seam sits
//! under the TLS layer, in `tls/stream.rs`), or the in-memory pipe of
//! [`twig::testing`](crate::testing). Its `read` and `write` are the bare
//! calls; `socket.rs` narrates them and notes them in the flight recorder.

use std::io;

use mio::net::{TcpStream, UnixStream};

use crate::conn::memory::MemorySocket;
use crate::conn::stream::Stream;

impl From<Stream> for Transport {
    fn from(stream: Stream) -> Transport {
        match stream {
            Stream::Tcp(s) => Transport::Tcp(s),
            Stream::Unix(s) => Transport::Unix(s),
        }
    }
}

/// What a connection's bytes travel over.
pub(crate) enum Transport {
    /// A TCP socket, registered with the poll.
    Tcp(TcpStream),
    /// A Unix-domain stream socket, registered with the poll.
    Unix(UnixStream),
    /// An in-memory pipe (`twig::testing`): no poll, no kernel.
    Memory(MemorySocket),
    /// A TLS session on a TCP socket (boxed: a session is a few hundred
    /// bytes, and a plain connection should not pay for it).
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::stream::TlsStream>),
}

impl Transport {
    /// A kernel socket's `recv` and `send` go straight to the syscall
    /// (rustix): through `std`'s `Read` and `Write` they cost two wrapper
    /// calls and libc's own, some 20 instructions a request each way.
    #[inline(always)]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::net::{RecvFlags, recv};
        match self {
            Transport::Tcp(socket) => Ok(recv(&*socket, buf, RecvFlags::empty())?.0),
            Transport::Unix(socket) => Ok(recv(&*socket, buf, RecvFlags::empty())?.0),
            Transport::Memory(pipe) => pipe.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.read(buf),
        }
    }

    /// `MSG_NOSIGNAL`: a peer gone is an `EPIPE` here, never a `SIGPIPE`.
    #[inline(always)]
    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        use rustix::net::{SendFlags, send};
        match self {
            Transport::Tcp(socket) => Ok(send(&*socket, bytes, SendFlags::NOSIGNAL)?),
            Transport::Unix(socket) => Ok(send(&*socket, bytes, SendFlags::NOSIGNAL)?),
            Transport::Memory(pipe) => pipe.write(bytes),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.write(bytes),
        }
    }

    /// `SO_ERROR` of the socket under it (`None` for the in-memory pipe).
    pub(crate) fn take_error(&self) -> Option<io::Result<Option<io::Error>>> {
        match self {
            Transport::Tcp(socket) => Some(socket.take_error()),
            Transport::Unix(socket) => Some(socket.take_error()),
            Transport::Memory(_) => None,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => Some(tls.tcp().take_error()),
        }
    }

    /// `getpeername` succeeded: the socket is connected.
    pub(crate) fn is_connected(&self) -> io::Result<()> {
        match self {
            Transport::Tcp(socket) => socket.peer_addr().map(drop),
            Transport::Unix(socket) => socket.peer_addr().map(drop),
            Transport::Memory(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.tcp().peer_addr().map(drop),
        }
    }

    /// The socket under it, to peek at (the PROXY header stage reads below
    /// any TLS layer). `None` for the in-memory pipe.
    pub(crate) fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        match self {
            Transport::Tcp(socket) => Some(socket.as_fd()),
            Transport::Unix(socket) => Some(socket.as_fd()),
            Transport::Memory(_) => None,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => Some(tls.tcp().as_fd()),
        }
    }

    /// Bytes the transport itself holds for the peer (TLS ciphertext the
    /// socket has not taken): counted with what is owed against
    /// `max_output`.
    pub(crate) fn buffered(&self) -> usize {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.buffered(),
            _ => 0,
        }
    }
}
