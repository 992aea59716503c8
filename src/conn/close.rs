//! [`CloseReason`]: why a connection ended. A leaf: the machine, the stats
//! and the protocol contract all name it.

use std::fmt;

/// Why a connection ended. Each reason is counted in
/// [`Stats`](crate::Stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer closed its side and nothing was owed (or all was flushed).
    Eof,
    /// The protocol said [`After::Close`](crate::After::Close) (or code
    /// closed it), and the reply was flushed.
    Done,
    /// The peer reset the connection (or the pipe broke).
    Reset,
    /// No byte arrived within the idle timeout.
    IdleTimeout,
    /// A request was started but not completed within the request timeout.
    RequestTimeout,
    /// A reply could not be flushed within the write timeout.
    WriteTimeout,
    /// The peer broke the protocol
    /// ([`Protocol::on_violation`](crate::Protocol::on_violation) was called).
    Violation,
    /// The connection's output grew past the output limit (a client that
    /// does not read what it is sent).
    OutputLimit,
    /// A socket error other than a reset.
    Error,
    /// User protocol code panicked.
    Panic,
    /// A job the connection offloaded ([`Ctx::offload`](crate::Ctx::offload))
    /// panicked on its pool thread.
    JobPanic,
    /// The server shut down.
    Shutdown,
    /// An outbound connection could not be established
    /// ([`Protocol::on_connect_failed`](crate::Protocol::on_connect_failed)
    /// said why).
    ConnectFailed,
    /// The TLS layer failed: the peer's bytes were no acceptable handshake
    /// (garbage, plain HTTP on a TLS port, no shared version or cipher), a
    /// record did not decrypt, or the peer left mid-handshake.
    Tls,
    /// The TLS handshake did not finish within
    /// [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout).
    HandshakeTimeout,
    /// A listener that expects a PROXY protocol header got none: the bytes
    /// were no header, it was too long, or it was unfinished when the peer
    /// closed or [`Config::proxy_header_timeout`](crate::Config::proxy_header_timeout)
    /// passed. None of the connection's bytes reached the protocol.
    ProxyHeader,
}

impl CloseReason {
    /// Every reason, in a fixed order (the order of [`Stats`](crate::Stats)'s
    /// per-reason counters).
    pub const ALL: [CloseReason; 16] = [
        CloseReason::Eof,
        CloseReason::Done,
        CloseReason::Reset,
        CloseReason::IdleTimeout,
        CloseReason::RequestTimeout,
        CloseReason::WriteTimeout,
        CloseReason::Violation,
        CloseReason::OutputLimit,
        CloseReason::Error,
        CloseReason::Panic,
        CloseReason::JobPanic,
        CloseReason::Shutdown,
        CloseReason::ConnectFailed,
        CloseReason::Tls,
        CloseReason::HandshakeTimeout,
        CloseReason::ProxyHeader,
    ];

    /// A short lowercase name, used in logs and the summary line.
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::Eof => "eof",
            CloseReason::Done => "done",
            CloseReason::Reset => "reset",
            CloseReason::IdleTimeout => "idle-timeout",
            CloseReason::RequestTimeout => "request-timeout",
            CloseReason::WriteTimeout => "write-timeout",
            CloseReason::Violation => "violation",
            CloseReason::OutputLimit => "output-limit",
            CloseReason::Error => "error",
            CloseReason::Panic => "panic",
            CloseReason::JobPanic => "job-panic",
            CloseReason::Shutdown => "shutdown",
            CloseReason::ConnectFailed => "connect-failed",
            CloseReason::Tls => "tls",
            CloseReason::HandshakeTimeout => "handshake-timeout",
            CloseReason::ProxyHeader => "proxy-header",
        }
    }

    /// True for endings a healthy client causes ([`Eof`](CloseReason::Eof),
    /// [`Done`](CloseReason::Done), [`Shutdown`](CloseReason::Shutdown)).
    pub fn is_normal(self) -> bool {
        matches!(
            self,
            CloseReason::Eof | CloseReason::Done | CloseReason::Shutdown
        )
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
