//! The accept of a client on a TLS listener (the `tls` feature): its
//! connection starts in
//! [`Life::Handshaking`](crate::conn::machine::Life::Handshaking), with a
//! rustls session on the socket.

use std::sync::Arc;

use log::{debug, warn};

use crate::api::protocol::Protocol;
use crate::conn::machine::{Event, State};
use crate::conn::peer::Peer;
use crate::conn::stream::Stream;
use crate::conn::transport::Transport;
use crate::reactor::core::Core;
use crate::reactor::drive::drive;
use crate::reactor::protocols::Protocols;
use crate::tls::stream::TlsStream;

/// Registers a client accepted on a TLS listener, with a session on its
/// socket, and gives it its first turn (which waits for the ClientHello).
pub(crate) fn add<S>(
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    (stream, peer): (Stream, Peer),
    config: &Arc<rustls::ServerConfig>,
    protocol: Box<dyn Protocol<S>>,
    proxy_protocol: bool,
) {
    let session = match rustls::ServerConnection::new(Arc::clone(config)) {
        Ok(session) => session,
        Err(e) => {
            warn!("{peer}: cannot start a TLS session: {e}; dropped");
            return;
        }
    };
    if let Stream::Unix(_) = stream {
        // `Server::listen_at` refuses TLS on a Unix-domain socket; never
        // serve plaintext where TLS was asked for.
        warn!("{peer}: TLS on a Unix-domain socket is not supported; dropped");
        return;
    }
    let wrap = |stream, id| match stream {
        Stream::Tcp(tcp) => Transport::Tls(Box::new(TlsStream::new(tcp, session, id))),
        unix => Transport::from(unix),
    };
    // Behind a proxy, its header comes before the ClientHello.
    let state = if proxy_protocol {
        State::PROXY_HEADER
    } else {
        State::HANDSHAKING
    };
    let id = match core.insert_with(stream, peer, state, false, wrap) {
        Ok(id) => id,
        Err(e) => {
            warn!("{peer}: cannot register the connection: {e}; dropped");
            return;
        }
    };
    protocols.insert(id.key(), protocol);
    core.stats.accepted += 1;
    debug!("{id} {peer}: connected (TLS)");
    drive(core, protocols, scratch, id, Event::Poke);
}
