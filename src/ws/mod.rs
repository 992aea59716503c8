//! WebSocket (RFC 6455) on the HTTP layer: a route accepts the upgrade, and
//! the same connection then carries messages both ways.
//!
//! **The state.** A connection served by [`Upgrade`] holds one private
//! enum, its mode: `Http` (an [`Http`](crate::http::Http) value, serving
//! requests as usual) until a valid upgrade request that the accept
//! function takes; then the `101 Switching Protocols` goes out and the mode
//! becomes `WebSocket` (the session: frames, reassembly, the close
//! handshake), for the rest of the connection, from the very next byte of
//! input. Twig's connection machine does not change: the protocol value
//! switches, so every twig rule — backpressure, timeouts, lingering close,
//! [`Core::send`](crate::Core::send) — holds for WebSocket connections
//! as for any other. The session's close handshake is a second enum:
//! `Open`, then `Closing` once [`WsCtx::close`] has sent a close frame and
//! waits for the peer's. A server that serves no socket uses plain
//! [`Http`](crate::http::Http) and pays nothing for this module.
//!
//! **The user's side** is [`WebSocket`]: [`on_message`](WebSocket::on_message)
//! gets each whole [`Message`] (text checked as UTF-8, fragments put
//! together) with a [`WsCtx`] to answer ([`send_text`](WsCtx::send_text),
//! [`send_binary`](WsCtx::send_binary), [`close`](WsCtx::close)) and to
//! reach other connections ([`send_text_to`](WsCtx::send_text_to) with
//! `try_send`'s cap, [`broadcast_text`](WsCtx::broadcast_text) with
//! `send`'s rule). `examples/ws_chat.rs` is a browser chat on it.
//!
//! **What the layer does for you**: pings are answered with pongs; a close
//! frame is answered with the same code, then the connection closes;
//! unmasked client frames, reserved bits or opcodes, fragmented or long
//! (> 125 bytes) control frames, a continuation with no message or a new
//! message inside a fragmented one get close code 1002; text that is not
//! UTF-8 gets 1007 as soon as the offending fragment arrives (a stream
//! validator, `utf8.rs`); a frame over [`Settings::max_frame`] or a message
//! over [`Settings::max_message`] gets 1009. Extensions (compression) and
//! subprotocols are not negotiated: the `101` names none.
//!
//! # Limits and timeouts
//! [`Settings`]: the message limit (default 1 MiB), the frame limit (the
//! same), and the ping watch: after [`Settings::ping_after`] without a
//! frame from the peer a ping goes out, and if nothing comes back within
//! [`Settings::pong_timeout`] the connection closes with 1001 (one twig
//! timer per connection; a frame received costs no timer operation). Twig's
//! own [`Config`](crate::Config) still applies: set
//! [`Config::max_request_size`](crate::Config) above `max_frame + 14` (a
//! whole frame is buffered before it is handled; a frame over
//! `max_request_size` also gets 1009), and
//! [`Config::idle_timeout`](crate::Config) above `ping_after` (or off), or
//! twig closes quiet sockets before the watch pings them.
//!
//! # The crates, and why
//! The accept key is base64 of a SHA-1 ([`accept_key`]). SHA-1 comes from
//! RustCrypto's `sha1`, base64 from `base64`: both small, pure Rust, no
//! unsafe-heavy C bindings, widely used and maintained, and a hand-rolled
//! SHA-1 is exactly the code that should not be written again. Frames and
//! UTF-8 are twig's own (`codec.rs`, `utf8.rs`): a few dozen lines each,
//! self-contained, with a fuzz target (`cargo +nightly fuzz run ws_frame`).

mod codec;
mod ctx;
mod keepalive;
mod session;
#[cfg(test)]
mod tests;
mod upgrade;
mod utf8;

use std::time::Duration;

pub use codec::{GOING_AWAY, INVALID_DATA, NORMAL, PROTOCOL_ERROR, TOO_BIG};
pub use ctx::WsCtx;
pub use upgrade::{Route, Upgrade, accept_key};

use crate::Ctx;

/// One whole message, as the peer sent it (fragments put together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message: valid UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// The user's side of a WebSocket connection: one value per connection
/// (its fields are per-connection state), made by [`Upgrade`]'s accept
/// function. Callbacks run on the loop thread and must not block.
pub trait WebSocket<S = ()> {
    /// Called once, right after the `101` (a greeting goes out after it).
    fn on_open(&mut self, ws: &mut WsCtx<'_, '_, S>) {
        let _ = ws;
    }

    /// Called with each whole message.
    fn on_message(&mut self, message: Message<'_>, ws: &mut WsCtx<'_, '_, S>);

    /// Called once when the connection is gone, with the close code sent or
    /// received (`None`: it ended without a close frame, on a reset, an EOF
    /// or a timeout).
    fn on_close(&mut self, code: Option<u16>, ctx: &mut Ctx<'_, S>) {
        let _ = (code, ctx);
    }
}

/// WebSocket limits and timeouts (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The largest message, fragments together (1009 beyond). Default 1 MiB.
    pub max_message: usize,
    /// The largest frame payload (1009 beyond). Default 1 MiB.
    pub max_frame: usize,
    /// Silence from the peer after which a ping goes out (`None`: no
    /// pings). Default 30 s.
    pub ping_after: Option<Duration>,
    /// How long a ping, or our close frame, waits for an answer before the
    /// connection closes. Default 10 s.
    pub pong_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_message: 1 << 20,
            max_frame: 1 << 20,
            ping_after: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
        }
    }
}
