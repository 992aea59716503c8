//! The contract between the reactor and user code: how to cut requests out of
//! a byte stream, how to answer them, and what happens around them.

use std::fmt;

use crate::api::ctx::Ctx;
use crate::conn::close::CloseReason;

/// A user protocol: framing plus replies, one value per connection.
///
/// The reactor creates one protocol value per accepted connection (through the
/// factory given to [`Server::listen`](crate::Server::listen)), so `self` is
/// per-connection state. State shared by all connections is `S`, reachable as
/// `&mut S` through [`Core::state`](crate::Core::state) (on the [`Ctx`]).
///
/// # The rule
/// Bytes arrive in arbitrary chunks: one read may hold half a request, or
/// several requests at once. The reactor buffers them and calls
/// [`frame`](Protocol::frame) until it says [`Frame::Partial`]; for each
/// complete request it calls [`reply`](Protocol::reply) with exactly that
/// request's bytes. Every callback runs on the loop thread: it must not block,
/// or every other client waits.
pub trait Protocol<S = ()> {
    /// Looks at the buffered input and says whether a complete request starts
    /// it. Called again after each reply while bytes remain, so pipelined
    /// requests are answered in order.
    fn frame(&mut self, input: &[u8]) -> Frame;

    /// Answers one complete request (`request` is the prefix that
    /// [`frame`](Protocol::frame) measured). Write the reply with
    /// [`Ctx::write`]; the return value says whether the connection stays open.
    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, S>) -> After;

    /// Called once when the connection is accepted, before any byte is read.
    /// Bytes written here are sent first (a greeting, the client speaking
    /// second).
    fn on_open(&mut self, ctx: &mut Ctx<'_, S>) {
        let _ = ctx;
    }

    /// Called when the input breaks the protocol: [`frame`](Protocol::frame)
    /// said [`Frame::Invalid`], or a request grew past the size limit. Write an
    /// error reply here if the protocol has one; the connection is then
    /// flushed and closed.
    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, S>) {
        let _ = (violation, ctx);
    }

    /// Called when the peer has finished sending (a 0-byte read: it shut
    /// down its write side, or closed), with whatever incomplete request was
    /// still buffered in `rest`. The default returns [`After::Close`]: flush
    /// what is owed, then close. Return [`After::KeepOpen`] to keep writing
    /// to a half-closed peer (a proxy relaying the other direction); the
    /// connection then ends when code closes it, or on a timeout.
    fn on_eof(&mut self, rest: &[u8], ctx: &mut Ctx<'_, S>) -> After {
        let _ = (rest, ctx);
        After::Close
    }

    /// Called when bytes queued for this connection (replies the socket
    /// did not take at once, or bytes from [`Core::send`](crate::Core::send))
    /// are now all written: a good moment to resume another connection
    /// paused with [`Core::pause_reading`](crate::Core::pause_reading).
    fn on_drained(&mut self, ctx: &mut Ctx<'_, S>) {
        let _ = ctx;
    }

    /// For outbound connections ([`Core::connect`](crate::Core::connect)):
    /// the connection could not be established (refused, unreachable, timed
    /// out). [`on_close`](Protocol::on_close) follows, with
    /// [`CloseReason::ConnectFailed`].
    fn on_connect_failed(&mut self, error: &std::io::Error, ctx: &mut Ctx<'_, S>) {
        let _ = (error, ctx);
    }

    /// Called once when the connection is gone, with the reason. Writes made
    /// here are discarded; other connections and the shared state are still
    /// reachable through `ctx`.
    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, S>) {
        let _ = (reason, ctx);
    }
}

/// What [`Protocol::frame`] found at the front of the buffered input.
///
/// "Need more bytes" is a value, not an error, as in `httparse::Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The first `n` bytes are one complete request (`n > 0`).
    Complete(usize),
    /// No complete request yet: wait for more bytes.
    Partial,
    /// These bytes can never become a valid request.
    Invalid(&'static str),
}

/// What happens after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep the connection and answer the next request.
    KeepOpen,
    /// Flush the reply, then close.
    Close,
}

/// How a peer broke the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A request grew past [`Config::max_request_size`](crate::Config) bytes.
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// [`Protocol::frame`] said the input is invalid, for this reason.
    Invalid(&'static str),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::TooLarge { limit } => write!(f, "request larger than {limit} bytes"),
            Violation::Invalid(why) => write!(f, "invalid request: {why}"),
        }
    }
}
