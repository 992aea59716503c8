//! The syscalls a connection makes, each narrated at trace level and noted
//! in the flight recorder: `read`, `write`, `shutdown`, and the two
//! questions asked of a socket (`SO_ERROR`, `getpeername`). With the
//! `fault-injection` feature, `fault.rs` sits under `read` and `write`
//! here. What they are made on is a [`Transport`] (`transport.rs`).

use std::io;
use std::net::Shutdown;

use log::trace;

use crate::conn::close::CloseReason;
use crate::conn::id::ConnId;
use crate::conn::recorder::{Mark, Recorder};
use crate::conn::transport::Transport;

/// What one `read` said.
pub(crate) enum ReadOutcome {
    /// `n` bytes.
    Data(usize),
    /// The peer closed its write side (a 0-byte read).
    Eof,
    /// Nothing to read now (the edge is used up).
    WouldBlock,
    /// A fatal error: the reason to close with.
    Failed(CloseReason),
}

/// What writing said.
pub(crate) enum WriteOutcome {
    /// Everything was written.
    Done,
    /// The socket is full; the rest waits for the writable edge.
    Blocked,
    /// A fatal error: the reason to close with.
    Failed(CloseReason),
}

/// One `read(2)` into `buf` (never empty: a 0-byte read would look like
/// EOF). Retries `EINTR`.
#[inline(always)]
pub(crate) fn read(
    socket: &mut Transport,
    id: ConnId,
    recorder: &mut Recorder,
    buf: &mut [u8],
) -> ReadOutcome {
    read_narrated::<true>(socket, id, recorder, buf)
}

/// [`read`], narrated at trace level only if `NARRATE`: the request cycle,
/// which runs only while trace is off, spares the check.
#[inline(always)]
pub(crate) fn read_narrated<const NARRATE: bool>(
    socket: &mut Transport,
    id: ConnId,
    recorder: &mut Recorder,
    buf: &mut [u8],
) -> ReadOutcome {
    debug_assert!(!buf.is_empty(), "a 0-byte read would look like EOF");
    loop {
        // The seam sits under TCP only: the in-memory harness has no poll
        // to deliver the readiness an injected fault owes.
        #[cfg(feature = "fault-injection")]
        let result = match socket {
            Transport::Tcp(_) | Transport::Unix(_) => {
                crate::conn::fault::read(id, buf, |buf| socket.read(buf))
            }
            Transport::Memory(_) => socket.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => socket.read(buf), // the seam is under TLS
        };
        #[cfg(not(feature = "fault-injection"))]
        let result = socket.read(buf);
        if NARRATE {
            trace!("{id} read({}) -> {:?}", buf.len(), Brief(&result));
        }
        return match result {
            Ok(0) => {
                recorder.record(Mark::Eof);
                ReadOutcome::Eof
            }
            Ok(n) => {
                recorder.record(Mark::Read(n as u32));
                ReadOutcome::Data(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                recorder.record(Mark::ReadBlocked);
                ReadOutcome::WouldBlock
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                recorder.record(Mark::Failed);
                ReadOutcome::Failed(classify(&e))
            }
        };
    }
}

/// Writes `bytes` until done or the socket is full. Returns how many were
/// written, and what stopped it.
#[inline(always)]
pub(crate) fn write(
    socket: &mut Transport,
    id: ConnId,
    recorder: &mut Recorder,
    bytes: &[u8],
) -> (usize, WriteOutcome) {
    write_narrated::<true>(socket, id, recorder, bytes)
}

/// [`write`], narrated at trace level only if `NARRATE` (see
/// [`read_narrated`]).
#[inline(always)]
pub(crate) fn write_narrated<const NARRATE: bool>(
    socket: &mut Transport,
    id: ConnId,
    recorder: &mut Recorder,
    bytes: &[u8],
) -> (usize, WriteOutcome) {
    let mut done = 0;
    while done < bytes.len() {
        #[cfg(feature = "fault-injection")]
        let result = match socket {
            Transport::Tcp(_) | Transport::Unix(_) => {
                crate::conn::fault::write(id, &bytes[done..], |b| socket.write(b))
            }
            Transport::Memory(_) => socket.write(&bytes[done..]),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => socket.write(&bytes[done..]),
        };
        #[cfg(not(feature = "fault-injection"))]
        let result = socket.write(&bytes[done..]);
        if NARRATE {
            trace!("{id} write({}) -> {:?}", bytes.len() - done, Brief(&result));
        }
        match result {
            // A 0-byte write of a non-empty buffer cannot make progress.
            Ok(0) => {
                recorder.record(Mark::Failed);
                return (done, WriteOutcome::Failed(CloseReason::Error));
            }
            Ok(n) => {
                recorder.record(Mark::Wrote(n as u32));
                done += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                recorder.record(Mark::WriteBlocked);
                return (done, WriteOutcome::Blocked);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                recorder.record(Mark::Failed);
                return (done, WriteOutcome::Failed(classify(&e)));
            }
        }
    }
    // TLS: the plaintext is taken, but its records may not all be out yet.
    #[cfg(feature = "tls")]
    if let Transport::Tls(tls) = socket {
        let result = tls.flush();
        if let Err(e) = &result {
            trace!("{id} TLS flush({}) -> {e}", tls.buffered());
        }
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                recorder.record(Mark::WriteBlocked);
                return (done, WriteOutcome::Blocked);
            }
            Err(e) => {
                recorder.record(Mark::Failed);
                return (done, WriteOutcome::Failed(classify(&e)));
            }
        }
    }
    (done, WriteOutcome::Done)
}

/// Shuts down the write side (sends FIN; over TLS, `close_notify` first).
/// Errors mean the peer is gone already, which is what we wanted. Returns
/// `Blocked` only while TLS's `close_notify` waits for the writable edge.
pub(crate) fn shutdown_write(socket: &mut Transport, id: ConnId) -> WriteOutcome {
    match socket {
        Transport::Tcp(socket) => {
            let result = socket.shutdown(Shutdown::Write);
            trace!("{id} shutdown(Write) -> {result:?}");
        }
        Transport::Unix(socket) => {
            let result = socket.shutdown(Shutdown::Write);
            trace!("{id} shutdown(Write) -> {result:?}");
        }
        Transport::Memory(pipe) => pipe.shutdown_write(),
        #[cfg(feature = "tls")]
        Transport::Tls(tls) => {
            let result = tls.shutdown();
            trace!("{id} close_notify, shutdown(Write) -> {result:?}");
            if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                return WriteOutcome::Blocked;
            }
        }
    }
    WriteOutcome::Done
}

/// For a connect in progress: `None` while it still is, else whether it
/// succeeded. Asks the socket (`SO_ERROR`, then `getpeername`), as the
/// writable edge only says "decided", not how.
pub(crate) fn connect_result(socket: &Transport, id: ConnId) -> Option<io::Result<()>> {
    let Some(error) = socket.take_error() else {
        return Some(Ok(())); // an in-memory pipe is connected from the start
    };
    let result = match error {
        Ok(Some(error)) | Err(error) => Some(Err(error)),
        Ok(None) => match socket.is_connected() {
            Ok(()) => Some(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
            Err(e) => Some(Err(e)),
        },
    };
    trace!("{id} getsockopt(SO_ERROR), getpeername -> {result:?}");
    result
}

/// After EOF, Linux's `read` says 0 even when the peer has since reset, so
/// a new edge on a half-closed connection asks `SO_ERROR`.
pub(crate) fn pending_error(socket: &Transport, id: ConnId) -> Option<CloseReason> {
    let result = socket.take_error()?;
    trace!("{id} getsockopt(SO_ERROR) -> {result:?}");
    match result {
        Ok(Some(error)) | Err(error) => Some(classify(&error)),
        Ok(None) => None,
    }
}

/// Maps a socket error to a close reason: resets are a peer's right and are
/// logged quietly; anything else is an error worth a warning.
pub(crate) fn classify(error: &io::Error) -> CloseReason {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::NotConnected => CloseReason::Reset,
        // Only the TLS layer says this: the peer's records were bad.
        io::ErrorKind::InvalidData => CloseReason::Tls,
        _ => CloseReason::Error,
    }
}

/// Formats a syscall result tersely for trace narration.
struct Brief<'a>(&'a io::Result<usize>);

impl std::fmt::Debug for Brief<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ok(0) => f.write_str("0 (EOF)"),
            Ok(n) => write!(f, "{n}"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => f.write_str("WouldBlock"),
            Err(e) => write!(f, "error: {e}"),
        }
    }
}
