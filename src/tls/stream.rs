//! [`TlsStream`]: a rustls server session over a TCP socket, read and
//! written the sans-IO way (`read_tls` / `process_new_packets` / `reader`,
//! `writer` / `write_tls`), as rustls's own mio server example does, but
//! always until `WouldBlock`: readiness is edge-triggered.
//!
//! The socket calls go through [`Wire`], so the `fault-injection` seam sits
//! *under* TLS: short reads and writes and spurious `WouldBlock` reach the
//! ciphertext, and the TLS layer must cope, as it would with a real socket.
//!
//! Ciphertext the socket would not take is kept in `cipher`, an exact count
//! the output cap can add to the plaintext owed; new plaintext is taken only
//! once it is empty, so it stays below one record batch (rustls's 64 KiB
//! buffer limit). It is freed when empty, as the connection's own buffers are.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use log::debug;
use mio::net::TcpStream;
use rustls::ServerConnection;

use crate::conn::id::ConnId;
use crate::tls::sniff::{PLAIN_HTTP_REPLY, Sniff};

/// One TLS connection: the socket and the session on it.
pub(crate) struct TlsStream {
    /// The socket (registered with the poll under the connection's token).
    tcp: TcpStream,
    /// The rustls session: handshake state, keys, its own small buffers.
    session: ServerConnection,
    /// For the trace, and for the fault-injection seam's owed edges.
    id: ConnId,
    /// Bytes for the socket that it has not taken yet, from `sent` on:
    /// ciphertext, or (refused in plaintext) the `400`.
    cipher: Vec<u8>,
    sent: usize,
    /// What the first bytes looked like (plain HTTP, or TLS).
    sniff: Sniff,
    /// Plain HTTP came: the session is bypassed, the 400 goes out as is.
    plain: bool,
}

/// How far a handshake step got (the machine's `Shake`, before the
/// connection layer maps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Complete; `owing`: ciphertext waits for the writable edge.
    Done { owing: bool },
    /// Needs more from the peer; the socket is drained.
    Blocked { owing: bool },
    /// Refused: an alert, or the plaintext 400, is owed.
    Refused,
}

/// The socket, through the fault-injection seam when it is compiled in.
struct Wire<'a> {
    tcp: &'a mut TcpStream,
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    id: ConnId,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "fault-injection")]
        return crate::conn::fault::read(self.id, buf, |b| self.tcp.read(b));
        #[cfg(not(feature = "fault-injection"))]
        self.tcp.read(buf)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "fault-injection")]
        return crate::conn::fault::write(self.id, bytes, |b| self.tcp.write(b));
        #[cfg(not(feature = "fault-injection"))]
        self.tcp.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A TLS protocol error, as the I/O error the connection layer classifies
/// (`InvalidData` closes with `CloseReason::Tls`).
fn tls_error(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

fn is(e: &io::Error, kind: io::ErrorKind) -> bool {
    e.kind() == kind
}

impl TlsStream {
    pub(crate) fn new(tcp: TcpStream, session: ServerConnection, id: ConnId) -> TlsStream {
        TlsStream {
            tcp,
            session,
            id,
            cipher: Vec::new(),
            sent: 0,
            sniff: Sniff::START,
            plain: false,
        }
    }

    /// The socket, for the questions asked of it (`SO_ERROR`).
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Bytes buffered for the socket and not taken yet.
    pub(crate) fn buffered(&self) -> usize {
        self.cipher.len() - self.sent
    }

    /// Writes what is buffered for the socket, first taking what rustls has
    /// queued. `Err(WouldBlock)` while some is still owed.
    fn pump_out(&mut self) -> io::Result<()> {
        loop {
            if self.sent == self.cipher.len() {
                if self.plain || !self.session.wants_write() {
                    self.cipher = Vec::new(); // an idle connection holds no buffer
                    self.sent = 0;
                    return Ok(());
                }
                self.cipher.clear();
                self.sent = 0;
                while self.session.wants_write() {
                    self.session.write_tls(&mut self.cipher)?; // into memory: cannot block
                }
            }
            let mut wire = Wire {
                tcp: &mut self.tcp,
                id: self.id,
            };
            match wire.write(&self.cipher[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if is(&e, io::ErrorKind::Interrupted) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// [`pump_out`](Self::pump_out), where "still owed" is an answer, not
    /// an error: `Ok(true)` if bytes remain for the writable edge.
    fn try_pump_out(&mut self) -> io::Result<bool> {
        match self.pump_out() {
            Ok(()) => Ok(false),
            Err(e) if is(&e, io::ErrorKind::WouldBlock) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// One handshake step: reads until `WouldBlock` (or the handshake is
    /// complete), then writes what the handshake owes until the socket is
    /// full. A peer gone mid-handshake is `Err(UnexpectedEof)`.
    pub(crate) fn handshake(&mut self) -> io::Result<Progress> {
        let mut drained = false;
        while self.session.is_handshaking() && !drained {
            let mut wire = Wire {
                tcp: &mut self.tcp,
                id: self.id,
            };
            let sniff = &mut self.sniff;
            let mut sniffing = SniffRead {
                wire: &mut wire,
                sniff,
            };
            match self.session.read_tls(&mut sniffing) {
                Ok(0) => {
                    let why = "the peer closed the connection mid-handshake";
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
                }
                Ok(_) => {}
                Err(e) if is(&e, io::ErrorKind::WouldBlock) => drained = true,
                Err(e) if is(&e, io::ErrorKind::Interrupted) => continue,
                Err(e) => return Err(e),
            }
            match self.sniff {
                Sniff::Undecided(_) => continue, // rustls must not judge a half method
                Sniff::Http => {
                    debug!("{}: plain HTTP on a TLS port; answering 400", self.id);
                    self.plain = true;
                    self.cipher = PLAIN_HTTP_REPLY.to_vec();
                    self.sent = 0;
                    return Ok(Progress::Refused);
                }
                Sniff::Tls => {}
            }
            if let Err(error) = self.session.process_new_packets() {
                debug!("{}: TLS handshake failed: {error}", self.id);
                self.try_pump_out()?; // the alert rustls queued; the rest is owed
                return Ok(Progress::Refused);
            }
        }
        let owing = self.try_pump_out()?;
        Ok(if self.session.is_handshaking() {
            Progress::Blocked { owing }
        } else {
            if let Some(protocol) = self.session.alpn_protocol() {
                let alpn = String::from_utf8_lossy(protocol);
                debug!("{}: TLS handshake done (ALPN {alpn})", self.id);
            } else {
                debug!("{}: TLS handshake done", self.id);
            }
            Progress::Done { owing }
        })
    }

    /// Reads plaintext into `buf`. Fewer bytes than `buf` holds means the
    /// socket is drained (it said `WouldBlock` or EOF), as a short TCP read
    /// does on Linux: the loop relies on it. `Ok(0)` is the peer's EOF, with
    /// or without `close_notify` (without is logged at debug: many clients
    /// just close).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.plain {
            let mut wire = Wire {
                tcp: &mut self.tcp,
                id: self.id,
            };
            return wire.read(buf);
        }
        let (mut filled, mut drained, mut eof) = (0, false, false);
        loop {
            match self.session.reader().read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true; // close_notify, and the plaintext before it is read
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if is(&e, io::ErrorKind::WouldBlock) => {}
                Err(e) if is(&e, io::ErrorKind::UnexpectedEof) => {
                    if filled == 0 {
                        debug!("{}: the peer closed without close_notify", self.id);
                    }
                    eof = true;
                    break;
                }
                Err(e) => return Err(e),
            }
            // Full: not a short read, so the loop reads again and finds the
            // rest (rustls's plaintext first, then the socket's).
            if filled == buf.len() || drained {
                break;
            }
            // Only with rustls's plaintext taken: its buffer is bounded.
            let mut wire = Wire {
                tcp: &mut self.tcp,
                id: self.id,
            };
            match self.session.read_tls(&mut wire) {
                Ok(0) => drained = true, // EOF: the reader says how, next
                Ok(_) => {}
                Err(e) if is(&e, io::ErrorKind::WouldBlock) => drained = true,
                Err(e) if is(&e, io::ErrorKind::Interrupted) => continue,
                Err(e) => return Err(e),
            }
            if let Err(error) = self.session.process_new_packets() {
                let _ = self.try_pump_out(); // the alert, if the socket takes it
                return Err(tls_error(error));
            }
        }
        // Reading may have queued records of rustls's own (a key update):
        // out with them; if the socket is full they go with the next write.
        if self.session.wants_write() {
            self.try_pump_out()?;
        }
        if filled == 0 && !eof {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(filled)
    }

    /// Encrypts `bytes` (as many as rustls takes) once what was owed is
    /// written, and writes the records. `Err(WouldBlock)` if what was owed
    /// still is; the plaintext taken may stay buffered as ciphertext:
    /// [`flush`](Self::flush) says when it is all out.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.plain {
            return Ok(bytes.len()); // refused: only the 400 goes out (see `flush`)
        }
        self.pump_out()?;
        let n = self.session.writer().write(bytes)?;
        self.try_pump_out()?;
        Ok(n)
    }

    /// Writes what is buffered for the socket: `Err(WouldBlock)` while some
    /// is still owed.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if self.cipher.len() == self.sent && !self.session.wants_write() {
            return Ok(()); // the common case: nothing buffered
        }
        self.pump_out()
    }

    /// Sends `close_notify` (unless refused, or an alert went already),
    /// then shuts the socket's write side. `Err(WouldBlock)` while the
    /// alert is owed: called again on the writable edge.
    pub(crate) fn shutdown(&mut self) -> io::Result<()> {
        if !self.plain {
            self.session.send_close_notify(); // once: rustls remembers
        }
        self.pump_out()?;
        self.tcp.shutdown(Shutdown::Write)
    }
}

/// The first reads of a handshake, watched for plain HTTP.
struct SniffRead<'a, 'b> {
    wire: &'a mut Wire<'b>,
    sniff: &'a mut Sniff,
}

impl Read for SniffRead<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.wire.read(buf)?;
        *self.sniff = self.sniff.feed(&buf[..n]);
        Ok(n)
    }
}
