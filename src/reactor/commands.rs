//! What callbacks can do to connections through the [`Core`]: look them up,
//! send to them, close, pause, half-close them, open new ones. Each command
//! is an event for the connection's machine ([`Core::command`]); the driver
//! carries out what follows before the next poll.
//!
//! **One send rule.** Bytes for one connection go out in the order the calls
//! were made, whichever path is used: [`Ctx::write`](crate::Ctx::write),
//! [`Core::send`] or [`Core::broadcast`]. Sent to the connection whose
//! callback is running, they join its reply; sent to any other, they are
//! written at once if it owes nothing, else queued behind what it owes.

use log::{debug, trace};

use crate::conn::close::CloseReason;
use crate::conn::connection::Connection;
use crate::conn::id::ConnId;
use crate::conn::machine::{Command, Event, Relay};
use crate::conn::peer::{Peer, Proxied, Who};
use crate::conn::socket::{self, WriteOutcome};
use crate::reactor::core::Core;

impl<S> Core<S> {
    /// Who is at the other end of `id`, a connection in the slab. (Never
    /// called for one that is not: a `Ctx` for a connection that has left
    /// carries its peer.)
    pub(crate) fn peer_of(&self, id: ConnId) -> Peer {
        match self.conns.get(id.key()).filter(|c| c.id == id) {
            Some(conn) => conn.peer,
            None => {
                debug_assert!(false, "{id}: a Ctx without its peer, outside the slab");
                Peer::Unix(None) // release builds: "no credentials", not a panic
            }
        }
    }

    /// Names `id` in a log line, with its peer if it is in the slab.
    pub(crate) fn who(&self, id: ConnId) -> Who {
        let peer = self.conns.get(id.key()).filter(|c| c.id == id);
        Who(id, peer.map(|c| c.peer))
    }

    /// The ids of all open connections, in slab order.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns
            .iter()
            .filter(|(_, c)| c.state.is_live())
            .map(|(_, c)| c.id)
    }

    /// Bytes the server holds for all connections: partial requests waiting
    /// for their end, plus replies waiting for the socket. (Scratch buffers
    /// are shared and not counted.) Walks every connection: for diagnostics
    /// and tests, not for the hot path.
    pub fn buffered_bytes(&self) -> usize {
        self.conns
            .iter()
            .map(|(_, c)| c.input.len() + c.owed() + c.socket.buffered())
            .sum()
    }

    /// Who is at the other end of an open connection (behind a PROXY
    /// header, the client it named).
    pub fn peer(&self, id: ConnId) -> Option<Peer> {
        self.live(id).map(|c| c.peer)
    }

    /// What the PROXY header of an open connection said beside the client:
    /// the proxy itself, and the address the client connected to. `None`
    /// for a connection that came without one (or with a LOCAL one).
    pub fn proxied(&self, id: ConnId) -> Option<Proxied> {
        self.live(id).and_then(|c| c.proxied.as_deref().copied())
    }

    /// Whether `id` names a connection that is still open.
    pub fn is_open(&self, id: ConnId) -> bool {
        self.live(id).is_some()
    }

    /// Sends `bytes` to a connection (see the send rule above). Returns
    /// false (and counts a dropped command) if it has closed, or is closing
    /// and takes no more output. A connection that would then owe more than
    /// [`Config::max_output`](crate::Config::max_output) is closed as a slow
    /// consumer instead: use [`try_send`](Core::try_send) to drop the
    /// message and keep the consumer.
    pub fn send(&mut self, id: ConnId, bytes: &[u8]) -> bool {
        match self.try_send(id, bytes) {
            Ok(()) => true,
            Err(SendError::Gone) => false,
            Err(SendError::Full) => {
                if let Some(conn) = self.live(id) {
                    debug!(
                        "{id} {}: owes more than {} bytes, closing",
                        conn.peer, self.config.max_output
                    );
                }
                self.abort(id.key(), CloseReason::OutputLimit);
                false
            }
        }
    }

    /// Sends `bytes` to a connection unless it is gone or would owe more
    /// than [`Config::max_output`](crate::Config::max_output); in both cases
    /// nothing is queued and the connection is left as it was.
    ///
    /// # Errors
    /// [`SendError::Gone`] (also counted in
    /// [`Stats::dropped_commands`](crate::Stats)) or [`SendError::Full`].
    pub fn try_send(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), SendError> {
        let max_output = self.config.max_output;
        let own_reply = self.dispatching == Some(id);
        let pending = if own_reply { self.reply.len() } else { 0 };
        let key = id.key();
        let accepts = |c: &Connection| c.id == id && c.state.accepts_output();
        if !self.conns.get(key).is_some_and(accepts) {
            self.stats.dropped_commands += 1;
            trace!("send to {id}: gone, dropped");
            return Err(SendError::Gone);
        }
        let conn = &mut self.conns[key];
        let owed = conn.owed() + conn.socket.buffered(); // TLS: and its ciphertext
        if owed + pending + bytes.len() > max_output {
            return Err(SendError::Full);
        }
        if own_reply {
            // Its callback is running: join its reply, in call order.
            self.reply.extend_from_slice(bytes);
            return Ok(());
        }
        let mut rest = bytes;
        if conn.state.can_write_now() {
            // Write optimistically, as replies are: a burst fanned out to many
            // readers must not count against max_output before any write.
            let (n, outcome) = socket::write(&mut conn.socket, id, &mut conn.recorder, bytes);
            self.stats.bytes_out += n as u64;
            conn.bytes_out += n as u64;
            match outcome {
                WriteOutcome::Done => return Ok(()),
                WriteOutcome::Blocked => rest = &bytes[n..],
                WriteOutcome::Failed(reason) => {
                    self.abort(key, reason);
                    return Ok(()); // the bytes were accepted; the peer is gone
                }
            }
            conn.queue(rest);
            conn.since = self.now;
            conn.step(Event::Command(Command::Queued));
            conn.step(Event::WriteBlocked);
        } else {
            conn.queue(rest);
            if !conn.state.is_owing() {
                conn.since = self.now; // the write timeout starts now
            }
            conn.step(Event::Command(Command::Queued));
        }
        self.mark_dirty(id);
        Ok(())
    }

    /// Sends `bytes` to every open connection for which `filter` says true,
    /// the calling connection included (see [`send`](Core::send) for slow
    /// consumers). Returns how many were sent to.
    pub fn broadcast(&mut self, bytes: &[u8], mut filter: impl FnMut(ConnId) -> bool) -> usize {
        // The ids are collected first (sending needs `&mut self`), into a
        // buffer kept for the next broadcast.
        let mut targets = std::mem::take(&mut self.broadcast_ids);
        targets.extend(self.connections().filter(|&id| filter(id)));
        let sent = targets.iter().filter(|&&id| self.send(id, bytes)).count();
        targets.clear();
        self.broadcast_ids = targets;
        sent
    }

    /// Bytes a connection owes its peer and has not written yet (`None` if
    /// it is gone). With [`pause_reading`](Core::pause_reading) and
    /// [`Protocol::on_drained`](crate::Protocol::on_drained), the way to pass backpressure from one
    /// connection to another.
    pub fn owed(&self, id: ConnId) -> Option<usize> {
        self.live(id).map(Connection::owed)
    }

    /// Asks for one [`Protocol::on_drained`](crate::Protocol::on_drained)
    /// call once everything the connection owes is written — what it owes
    /// now and the reply its running callback is writing — even if the
    /// socket takes it all at once. A producer's "call me when there is
    /// room" (Twisted's `resumeProducing`): without it, a reply the socket
    /// took whole would leave nothing owed and no `on_drained` to come. The
    /// bytes then go out by the flush path, within the per-turn I/O budget,
    /// so a fast producer does not starve other connections. Returns false
    /// if the connection is gone or takes no more output.
    pub fn notify_drained(&mut self, id: ConnId) -> bool {
        if !self.live(id).is_some_and(|c| c.state.accepts_output()) {
            return false;
        }
        // Owing nothing more is still owing: the flush finds the queue
        // empty (or holding the reply), and its WroteAll calls the hook.
        self.command(id, Event::Command(Command::Queued))
    }

    /// Stops reading from a connection (and answering its buffered
    /// requests) until [`resume_reading`](Core::resume_reading): what its
    /// peer sends waits in the kernel, and TCP slows the peer down. While
    /// paused, the idle and request timeouts do not run (nothing is awaited
    /// from the peer: a streamed response may last longer than
    /// `idle_timeout`); the write timeout still does whenever bytes are
    /// owed, and the idle clock starts again at the resume. Returns false
    /// if it is gone.
    pub fn pause_reading(&mut self, id: ConnId) -> bool {
        self.command(id, Event::Command(Command::Pause))
    }

    /// Undoes [`pause_reading`](Core::pause_reading): what is buffered is
    /// answered first. Returns false if the connection is gone.
    pub fn resume_reading(&mut self, id: ConnId) -> bool {
        // No input timeout ran while paused: the idle clock starts again
        // now, not at the last byte before the pause.
        let now = self.now;
        if let Some(conn) = self.conns.get_mut(id.key())
            && conn.id == id
            && conn.state.input == crate::conn::machine::Input::Paused
        {
            conn.last_input = now;
            if conn.request_since.is_some() {
                conn.request_since = Some(now);
            }
        }
        self.command(id, Event::Command(Command::Resume))
    }

    /// Lets a connection keep reading (and answering) while it owes its
    /// peer bytes the socket has not taken yet. By default a connection
    /// that owes reads nothing more — backpressure for free — but two relays
    /// (a proxy's two sides) that both owe would then wait on each other
    /// forever. A relay bounds its memory itself, with
    /// [`pause_reading`](Core::pause_reading) and
    /// [`Protocol::on_drained`](crate::Protocol::on_drained). Returns false if the connection is gone.
    pub fn read_while_owing(&mut self, id: ConnId, on: bool) -> bool {
        let relay = if on {
            Relay::ReadWhileOwing
        } else {
            Relay::Off
        };
        self.command(id, Event::Command(Command::SetRelay(relay)))
    }

    /// Half-closes a connection: once what it owes is written, its write
    /// side is shut down (the peer reads EOF) while its input is still read
    /// and answered. Returns false if it is gone.
    pub fn shutdown_write(&mut self, id: ConnId) -> bool {
        self.command(id, Event::Command(Command::ShutWrite))
    }

    /// Closes a connection gracefully: what it owes is flushed first.
    /// Returns false if it had closed already.
    pub fn close(&mut self, id: ConnId) -> bool {
        self.command(id, Event::Command(Command::Close))
    }
}

/// Why [`Core::try_send`] did not queue the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection has closed (or its write side is shut).
    Gone,
    /// Queuing would take it past [`Config::max_output`](crate::Config::max_output); nothing was
    /// queued and the connection is untouched.
    Full,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::Gone => "connection gone",
            SendError::Full => "connection's output is full",
        })
    }
}

impl std::error::Error for SendError {}
