//! An in-memory socket for [`twig::testing`](crate::testing): the peer's
//! bytes wait in `inbound`, what the connection writes lands in `outbound`,
//! and a window can stand for a peer that reads slowly. It answers `read`
//! and `write` as a non-blocking TCP socket would (`WouldBlock` when there
//! is nothing to read or no room, `0` after the peer's EOF), so the real
//! machine and driver run over it unchanged.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

/// Both directions of one in-memory connection, shared between the
/// connection (which may be gone) and the test that drives it.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    /// Bytes the peer sent, not yet read.
    pub inbound: Vec<u8>,
    /// The peer has shut its write side: after `inbound`, reads say 0.
    pub peer_eof: bool,
    /// Bytes the connection wrote, not yet taken by the test.
    pub outbound: Vec<u8>,
    /// How many more bytes the peer takes before it stops reading (`None`:
    /// no limit).
    pub window: Option<usize>,
    /// The connection shut its write side (the peer read EOF).
    pub shut: bool,
}

/// The connection's end of a [`Pipe`].
#[derive(Debug, Clone)]
pub(crate) struct MemorySocket(pub Rc<RefCell<Pipe>>);

fn would_block() -> io::Error {
    io::Error::from(io::ErrorKind::WouldBlock)
}

impl MemorySocket {
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        if pipe.inbound.is_empty() {
            return if pipe.peer_eof {
                Ok(0)
            } else {
                Err(would_block())
            };
        }
        let n = buf.len().min(pipe.inbound.len());
        buf[..n].copy_from_slice(&pipe.inbound[..n]);
        pipe.inbound.drain(..n);
        Ok(n)
    }

    pub(crate) fn write(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        if pipe.shut {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let n = pipe
            .window
            .map_or(bytes.len(), |room| room.min(bytes.len()));
        if n == 0 {
            return Err(would_block());
        }
        if let Some(room) = &mut pipe.window {
            *room -= n;
        }
        pipe.outbound.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    pub(crate) fn shutdown_write(&self) {
        self.0.borrow_mut().shut = true;
    }
}
