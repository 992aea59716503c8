//! The PROXY header stage's syscalls
//! ([`Action::ReadProxyHeader`](crate::conn::machine::Action::ReadProxyHeader)):
//! peek at what has arrived, let [`proxy_header::parse`] judge it, and once a
//! whole header is there, read exactly its bytes, so that what follows (a
//! TLS ClientHello, the first request) stays in the socket for the next
//! stage. Below any TLS layer: the header comes before the handshake.

use std::io;

use log::{debug, trace};

use crate::conn::connection::Connection;
use crate::conn::machine::{Event, HeaderRead};
use crate::conn::peer::{Peer, Proxied};
use crate::conn::socket::classify;
use crate::conn::transport::Transport;
use crate::proxy_header::{self, MAX_HEADER, Parsed};

/// One look at the socket for the header; the machine's next event.
pub(crate) fn read_header(conn: &mut Connection) -> Event {
    let id = conn.id;
    let tls = is_tls(&conn.socket);
    let Some(fd) = conn.socket.fd() else {
        return Event::ProxyHeader(HeaderRead::Refused); // the in-memory pipe has none
    };
    let mut buf = [0u8; MAX_HEADER];
    let peeked = retry(|| rustix::net::recv(fd, &mut buf[..], rustix::net::RecvFlags::PEEK));
    trace!("{id} recv({MAX_HEADER}, MSG_PEEK) -> {peeked:?}");
    let n = match peeked {
        Ok((0, _)) => return Event::ReadEof,
        Ok((n, _)) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Event::ReadBlocked,
        Err(e) => return Event::Abort(classify(&e)),
    };
    let (len, named) = match proxy_header::parse(&buf[..n]) {
        Parsed::Incomplete => return Event::ProxyHeader(HeaderRead::Partial),
        Parsed::Invalid(why) => {
            debug!("{id} {}: no PROXY header: {why}", conn.peer);
            return Event::ProxyHeader(HeaderRead::Refused);
        }
        Parsed::Proxied {
            len,
            source,
            destination,
        } => (len, Some((source, destination))),
        Parsed::Local { len } => (len, None),
    };
    // The peeked bytes are in the socket: reading `len` of them takes the
    // header and nothing after it.
    let mut taken = 0;
    while taken < len {
        let read =
            retry(|| rustix::net::recv(fd, &mut buf[taken..len], rustix::net::RecvFlags::empty()));
        trace!("{id} recv({}) -> {read:?}", len - taken);
        match read {
            Ok((0, _)) => return Event::ProxyHeader(HeaderRead::Refused),
            Ok((k, _)) => taken += k,
            Err(e) => return Event::Abort(classify(&e)),
        }
    }
    if let Some((source, destination)) = named {
        debug!("{id} {}: PROXY header: client {source}", conn.peer);
        conn.proxied = Some(Box::new(Proxied {
            proxy: conn.peer,
            destination,
        }));
        conn.peer = Peer::Tcp(source);
    } else {
        debug!(
            "{id} {}: PROXY header: LOCAL (the proxy's own connection)",
            conn.peer
        );
    }
    Event::ProxyHeader(HeaderRead::Done { tls })
}

fn is_tls(socket: &Transport) -> bool {
    #[cfg(feature = "tls")]
    if let Transport::Tls(_) = socket {
        return true;
    }
    let _ = socket;
    false
}

/// A syscall retried on `EINTR`, its error as `io::Error`.
fn retry<T>(mut call: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(rustix::io::Errno::INTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}
