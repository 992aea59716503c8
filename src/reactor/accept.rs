//! Listeners: bind, accept until `WouldBlock`, and the policy for running out
//! of connection slots or file descriptors.

use std::io;

use log::{debug, trace, warn};

use crate::api::config::AtCapacity;
use crate::api::endpoint::Endpoint;
use crate::api::protocol::Protocol;
use crate::conn::machine::{Event, State};
use crate::conn::peer::Peer;
use crate::conn::stream::Stream;
use crate::reactor::core::Core;
use crate::reactor::drive::drive;
use crate::reactor::group::Member;
use crate::reactor::listen::ListenSocket;
use crate::reactor::protocols::Protocols;

/// Makes the protocol value for each new connection.
pub(crate) type Factory<S> = Box<dyn FnMut() -> Box<dyn Protocol<S>>>;

/// One listening socket and the protocol it serves.
pub(crate) struct Listener<S> {
    pub socket: ListenSocket,
    /// Where it is bound (for logs and `Server::endpoints`).
    pub addr: Endpoint,
    /// Its name ([`Listen::named`](crate::Listen::named)), handed to the new
    /// copy of a restart in `LISTEN_FDNAMES`.
    pub name: Option<String>,
    /// Makes the protocol value for each connection accepted here.
    pub factory: Factory<S>,
    /// Edge-triggered: the backlog may hold clients until `accept` says
    /// `WouldBlock`. Stays set while accepting is paused or the server is full.
    pub readable: bool,
    /// Each client accepted here starts with a PROXY header
    /// ([`Listen::proxy_protocol`](crate::Listen::proxy_protocol)).
    pub proxy_protocol: bool,
    /// A TLS listener's configuration (`Server::listen_tls`): each client
    /// accepted here starts with the handshake.
    #[cfg(feature = "tls")]
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Conditions already logged, so a stretch of them is logged once.
#[derive(Debug, Default)]
pub(crate) struct Quiet {
    /// At the connection limit (cleared when a connection closes).
    pub full: bool,
    /// Out of descriptors or memory (cleared when an accept succeeds).
    pub exhausted: bool,
}

/// Why accepting stopped for now.
pub(crate) enum AcceptStop {
    /// The backlog is empty (`WouldBlock`), or the server is full and
    /// clients wait in the backlog: nothing to do until an event.
    Idle,
    /// The per-turn budget is spent: continue next turn.
    Budget,
    /// The process is out of descriptors or memory: back off.
    Exhausted,
}

/// Accepts from one listener until `WouldBlock`, the budget, the connection
/// limit, or resource exhaustion; each new connection is registered,
/// opened and driven. In a [`Workers`](crate::Workers) group (`group` is
/// `Some`), the limit is the group's: each accept first reserves a slot.
#[inline(never)] // once per connection: kept out of the turn's hot code
pub(crate) fn accept_from<S>(
    listener: &mut Listener<S>,
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    quiet: &mut Quiet,
    mut group: Option<&mut Member<S>>,
) -> AcceptStop {
    if let Some(member) = group.as_deref_mut() {
        member.sync(core.conns.len()); // count outbound ones opened since
    }
    for _ in 0..core.config.accept_budget {
        let full = match &group {
            None => core.conns.len() >= core.config.max_connections,
            Some(member) => !member.reserve(),
        };
        if full && core.config.at_capacity == AtCapacity::Wait {
            if !quiet.full {
                quiet.full = true;
                core.stats.capacity_reached += 1;
                debug!(
                    "at the connection limit ({}): new clients wait in the backlog",
                    core.config.max_connections
                );
            }
            return AcceptStop::Idle;
        }
        #[cfg(feature = "fault-injection")]
        let result = crate::conn::fault::accept(|| listener.socket.accept());
        #[cfg(not(feature = "fault-injection"))]
        let result = listener.socket.accept();
        trace!("{} accept() -> {}", listener.addr, Brief(&result));
        if !full && let Some(member) = group.as_deref_mut() {
            member.settle(result.is_ok()); // the reserved slot: taken or given back
        }
        match result {
            Ok((stream, peer)) if full => {
                core.stats.refused += 1;
                debug!(
                    "refused {peer}: at the connection limit ({})",
                    core.config.max_connections
                );
                drop(stream);
            }
            Ok((stream, peer)) => {
                quiet.exhausted = false;
                quiet.full = false; // (in a group, a slot may free on another loop)
                add(listener, core, protocols, scratch, stream, peer)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                listener.readable = false;
                return AcceptStop::Idle;
            }
            Err(e) if is_exhaustion(&e) => {
                count_accept_error(core);
                if !quiet.exhausted {
                    quiet.exhausted = true;
                    warn!(
                        "accept on {}: {e}; pausing accepts, retrying every {:?} and whenever a connection closes",
                        listener.addr, core.config.accept_backoff
                    );
                }
                return AcceptStop::Exhausted;
            }
            Err(e) => {
                // A client that gave up in the backlog (ECONNABORTED), a
                // firewall veto (EPERM), EINTR...: that client only. Skip it.
                count_accept_error(core);
                debug!("accept on {}: {e} (skipped)", listener.addr);
            }
        }
    }
    AcceptStop::Budget
}

/// Counts an accept error in the stats, which say what the OS did (an
/// error the fault-injection seam made up is not counted).
fn count_accept_error<S>(core: &mut Core<S>) {
    #[cfg(feature = "fault-injection")]
    if crate::conn::fault::accept_error_injected() {
        return;
    }
    core.stats.accept_errors += 1;
}

/// Errors that say the process (or system) is out of a resource: retrying
/// at once would spin, so accepting pauses instead.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    ) || e.kind() == io::ErrorKind::OutOfMemory
}

/// Registers a new connection and gives it its first turn.
fn add<S>(
    listener: &mut Listener<S>,
    core: &mut Core<S>,
    protocols: &mut Protocols<S>,
    scratch: &mut [u8],
    stream: Stream,
    peer: Peer,
) {
    let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut listener.factory));
    let protocol = match made {
        Ok(protocol) => protocol,
        Err(payload) => {
            let why = crate::reactor::hooks::panic_message(&*payload);
            log::error!("{peer}: the protocol factory panicked: {why}; connection dropped");
            return;
        }
    };
    #[cfg(feature = "tls")]
    if let Some(config) = &listener.tls {
        let proxy = listener.proxy_protocol;
        return crate::reactor::tls_accept::add(
            core,
            protocols,
            scratch,
            (stream, peer),
            config,
            protocol,
            proxy,
        );
    }
    let state = if listener.proxy_protocol {
        State::PROXY_HEADER
    } else {
        State::ACCEPTED
    };
    let id = match core.insert(stream, peer, state, false) {
        Ok(id) => id,
        Err(e) => {
            warn!("{peer}: cannot register the connection: {e}; dropped");
            return;
        }
    };
    protocols.insert(id.key(), protocol);
    core.stats.accepted += 1;
    debug!("{id} {peer}: connected (via {})", listener.addr);
    drive(core, protocols, scratch, id, Event::Poke); // on_open, and what it wrote
}

/// Formats an accept result for trace narration.
struct Brief<'a>(&'a io::Result<(Stream, Peer)>);

impl std::fmt::Display for Brief<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok((_, peer)) => write!(f, "{peer}"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => f.write_str("WouldBlock"),
            Err(e) => write!(f, "error: {e}"),
        }
    }
}
