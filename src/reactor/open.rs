//! Opening connections: outbound ones ([`Core::connect`],
//! [`Core::connect_unix`]), and putting any new one (accepted, outbound,
//! in-memory) in the slab under a fresh generation, registered with the
//! poll once for its whole life.

use std::io;
use std::net::SocketAddr;

use log::{debug, trace};
use mio::Interest;
use mio::net::{TcpStream, UnixStream};

use crate::api::protocol::Protocol;
use crate::conn::connection::Connection;
use crate::conn::id::ConnId;
use crate::conn::machine::State;
use crate::conn::peer::Peer;
use crate::conn::recorder::Mark;
use crate::conn::stream::Stream;
use crate::conn::transport::Transport;
use crate::reactor::core::Core;

impl<S> Core<S> {
    /// Opens an outbound connection to `addr`, served by `protocol` (Twisted's
    /// `connectTCP`). Returns at once: the connect proceeds in the loop, then
    /// [`Protocol::on_open`] runs (the place for a client to speak first), or
    /// [`Protocol::on_connect_failed`] if it fails or takes longer than
    /// [`Config::connect_timeout`](crate::Config::connect_timeout). Bytes
    /// sent to it before it is established are queued, and go out before
    /// what `on_open` writes.
    ///
    /// # Errors
    /// Only if the socket cannot even be created (e.g. out of descriptors);
    /// a refused connection is reported to the protocol instead.
    pub fn connect(
        &mut self,
        addr: SocketAddr,
        protocol: impl Protocol<S> + 'static,
    ) -> io::Result<ConnId> {
        if self.is_stopping() {
            // Otherwise an on_close that reconnects would keep a stopping
            // server alive forever.
            return Err(io::Error::other("the server is stopping"));
        }
        let stream = TcpStream::connect(addr)?;
        trace!("connect({addr}) -> in progress");
        self.connecting(Stream::Tcp(stream), Peer::Tcp(addr), protocol)
    }

    /// [`connect`](Core::connect) to a Unix-domain socket at `path` (the
    /// peer's credentials are known once it is established).
    ///
    /// # Errors
    /// If the socket cannot be created, or the path does not exist or
    /// nobody listens on it (a Unix-domain connect is decided at once).
    pub fn connect_unix(
        &mut self,
        path: impl AsRef<std::path::Path>,
        protocol: impl Protocol<S> + 'static,
    ) -> io::Result<ConnId> {
        if self.is_stopping() {
            return Err(io::Error::other("the server is stopping"));
        }
        let path = path.as_ref();
        let stream = UnixStream::connect(path)?;
        trace!("connect(unix:{}) -> in progress", path.display());
        let peer = Peer::of_unix(&stream);
        self.connecting(Stream::Unix(stream), peer, protocol)
    }

    /// Puts a connect in progress in the slab, to be driven from the loop.
    fn connecting(
        &mut self,
        stream: Stream,
        peer: Peer,
        protocol: impl Protocol<S> + 'static,
    ) -> io::Result<ConnId> {
        let id = self.insert(stream, peer, State::CONNECTING, true)?;
        self.new_protocols.push((id, Box::new(protocol)));
        self.stats.connected += 1;
        debug!("{id} {peer}: connecting");
        // Driven from the loop, not from inside the calling callback.
        self.mark_dirty(id);
        Ok(id)
    }

    /// Puts an in-memory connection in the slab (`twig::testing`): no
    /// socket, no registration. Its protocol goes in the table as for
    /// [`connect`](Core::connect).
    pub(crate) fn insert_memory(
        &mut self,
        pipe: crate::conn::memory::MemorySocket,
        peer: Peer,
        protocol: Box<dyn Protocol<S>>,
    ) -> ConnId {
        let generation = self.next_generation;
        self.next_generation = self.next_generation.checked_add(1).unwrap_or(1);
        let entry = self.conns.vacant_entry();
        let id = ConnId {
            key: entry.key() as u32,
            generation,
        };
        let socket = Transport::Memory(pipe);
        entry.insert(Connection::new(id, socket, peer, State::ACCEPTED, self.now));
        self.new_protocols.push((id, protocol));
        self.stats.active += 1;
        self.stats.accepted += 1;
        self.mark_dirty(id); // on_open, on the next settle
        id
    }

    /// Registers a socket with the poll and puts its connection in the slab,
    /// under a fresh generation. Shared by accept and connect.
    pub(crate) fn insert(
        &mut self,
        stream: Stream,
        peer: Peer,
        state: State,
        outbound: bool,
    ) -> io::Result<ConnId> {
        self.insert_with(stream, peer, state, outbound, |stream, _| stream.into())
    }

    /// [`insert`](Core::insert), with the transport made from the
    /// registered socket and the new id (a TLS session on it).
    pub(crate) fn insert_with(
        &mut self,
        mut stream: Stream,
        peer: Peer,
        state: State,
        outbound: bool,
        transport: impl FnOnce(Stream, ConnId) -> Transport,
    ) -> io::Result<ConnId> {
        if let Stream::Tcp(tcp) = &stream {
            // Request/reply traffic must not wait on Nagle's algorithm.
            let nodelay = tcp.set_nodelay(true);
            trace!("{peer} setsockopt(TCP_NODELAY) -> {nodelay:?}");
        }
        let generation = self.next_generation;
        // Generation 0 marks reserved tokens: skip it when the counter wraps.
        self.next_generation = self.next_generation.checked_add(1).unwrap_or(1);
        let entry = self.conns.vacant_entry();
        let key =
            u32::try_from(entry.key()).map_err(|_| io::Error::other("no connection key left"))?;
        let id = ConnId { key, generation };
        // Registered once, for both directions, for the connection's whole
        // life: no epoll_ctl per state change.
        let registered = self.registry.register(
            &mut stream,
            id.token(),
            Interest::READABLE | Interest::WRITABLE,
        );
        trace!("{id} epoll_ctl(ADD, READABLE|WRITABLE) -> {registered:?}");
        registered?;
        let socket = transport(stream, id);
        let conn = entry.insert(Connection::new(id, socket, peer, state, self.now));
        conn.recorder.record(Mark::Opened {
            turn: self.stats.turns as u32,
            outbound,
        });
        self.stats.active += 1;
        Ok(id)
    }
}
