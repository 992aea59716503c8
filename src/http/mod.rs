//! HTTP/1.1 on the reactor: a small, correct, fast web server layer, built
//! on the same [`Protocol`](crate::Protocol) trait as everything else, with
//! `httparse` doing the parsing.
//!
//! **The rule** is twig's: a handler runs on the loop thread and must not
//! block. It gets a [`Request`] that borrows from the loop's input buffer,
//! fills in a [`Response`], and can reach the shared state through
//! `ctx.state()`. A complete app:
//!
//! ```
//! use std::io::{Read, Write};
//! use twig::{Ctx, Server, http::{Http, Router}};
//!
//! fn main() -> std::io::Result<()> {
//!     let router = Router::new()
//!         .get("/", |_, res, _| res.text("hello\n"))
//!         .post("/hits/{name}", |req, res, ctx: &mut Ctx<u64>| {
//!             *ctx.state() += 1;
//!             let name = req.param("name").unwrap_or_default();
//!             let _ = write!(res, "{name}: hit {}\n", ctx.state());
//!         });
//!     let mut server = Server::new(0u64)?; // the shared state: a hit counter
//!     let addr = server.listen("127.0.0.1:0", move || Http::new(router.clone()))?;
//!     let handle = server.handle();
//!     let client = std::thread::spawn(move || -> std::io::Result<String> {
//!         let mut socket = std::net::TcpStream::connect(addr)?;
//!         socket.write_all(b"POST /hits/ann HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//!         let mut reply = String::new();
//!         socket.read_to_string(&mut reply)?;
//!         handle.stop();
//!         Ok(reply)
//!     });
//!     server.run()?;
//!     let reply = client.join().unwrap()?;
//!     assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("ann: hit 1\n"));
//!     Ok(())
//! }
//! ```
//!
//! # What the layer does for you
//! - **Connections**: HTTP/1.1 keeps the connection open unless
//!   `Connection: close`; HTTP/1.0 closes it unless `Connection:
//!   keep-alive`. Pipelined requests are answered in order, and twig
//!   batches their responses into one `write`.
//! - **Bodies**: `Content-Length` bodies are read in full, `chunked` ones
//!   decoded, both bounded by [`Limits::max_body`] (413). `Expect:
//!   100-continue` gets `100 Continue` before the body is read (or a 413
//!   if the declared length is too large).
//! - **Responses**: `Content-Length` for a whole response, `Server: twig`,
//!   and a `Date` formatted by hand (IMF-fixdate) at most once per second
//!   per loop. `HEAD` gets the headers of the `GET` response, without the
//!   body. A streamed response (below) is chunked, or sized if declared.
//! - **Refusals** ([`Error`]): a malformed request line, version or header,
//!   a NUL or bare CR, a head over [`Limits::max_head`] or with more than
//!   [`MAX_HEADERS`] lines, and every ambiguous length — `Content-Length`
//!   with `Transfer-Encoding`, two `Content-Length`s, a non-numeric one, a
//!   malformed chunk — get their 4xx/501 with `Connection: close`, and the
//!   connection closes: a request that smuggles a second one behind an
//!   ambiguous length never gets a 200.
//!
//! # Streaming
//! A handler that does not know its body yet starts a stream instead of
//! filling in the body: [`Response::stream`] writes the head and returns a
//! [`Stream`] handle that timers and other connections' callbacks feed
//! later through the [`Core`](crate::Core) (push); [`Response::produce`]
//! hands the layer a [`Producer`] that it calls whenever the socket has
//! taken what was made (pull, with backpressure: at most [`HIGH_WATER`]
//! bytes wait in the server, so a 1 GiB download runs in a few MiB).
//! HTTP/1.1 clients get `Transfer-Encoding: chunked` (or the declared
//! `Content-Length`); HTTP/1.0 clients get the bytes and a close.
//! Pipelined requests wait until the stream ends. [`Response::events`]
//! is Server-Sent Events on top ([`Events`]).
//!
//! ```
//! use twig::http::{Body, Produce, Router};
//! let app: Router = Router::new().get("/zeros", |_, res, ctx| {
//!     let mut left = 10u64 << 20; // 10 MiB, made as the client reads it
//!     res.produce(ctx, Some(left), move |body: &mut Body| {
//!         let n = body.push(&[0; 4096]) as u64;
//!         left -= n;
//!         if left == 0 { Produce::Done } else { Produce::More }
//!     });
//! });
//! ```
//!
//! # Files, queries and forms
//! [`static_files`] serves a directory on a `{*path}` route (types,
//! validators and 304s, ranges, `HEAD`; traversal refused; files streamed
//! from the loop thread, as nginx reads them without aio).
//! [`Request::query_value`], [`Request::form`] and [`percent_decode`]
//! decode what browsers encode.
//!
//! # Limits and timeouts
//! Twig's [`Config`](crate::Config) applies as to any protocol:
//! `request_timeout` ends a request that dribbles in (slowloris),
//! `idle_timeout` ends idle keep-alive connections, `max_request_size`
//! bounds what one connection may buffer (pipelined read-ahead included;
//! set it to at least `max_head + max_body`). For HTTP, a 10 s request
//! timeout and a 60 s idle timeout are sensible (see
//! `examples/http_server.rs`).
//!
//! Closing is *lingering*, as HTTP needs (RFC 9112 §9.6): after the last
//! response, twig shuts down the write side and reads and discards what the
//! client still sends until it closes (up to a bound and a timeout), so
//! unread input — say, the body of a refused upload — does not turn the
//! close into a reset that destroys the response.
//!
//! # Speed
//! The framer runs `httparse` on the loop's input buffer with a stack array
//! of headers, once per head, and keeps where the method, target and header
//! lines lie; the handler's request borrows the same bytes through those
//! offsets, with no second parse; the response is
//! built in per-connection buffers that are reused, then written into the
//! loop's output buffer. A keep-alive `GET` answered with a fixed text
//! allocates nothing in the steady state (`tests/http.rs` checks it).

mod chunked;
mod conditional;
mod connection;
mod date;
mod deferred;
mod encode;
mod error;
mod files;
mod form;
mod framer;
mod head;
mod header;
mod request;
mod response;
mod router;
mod sse;
mod start;
mod stream;

pub use connection::Http;
pub use date::imf_fixdate;
pub use encode::write_response;
pub use error::Error;
pub use files::static_files;
pub use form::{form_pairs, percent_decode, percent_decode_utf8};
pub use framer::{Framed, Framer, MAX_HEADERS};
pub use head::{BodyKind, Limits, Message};
pub use header::{HeaderName, IntoHeaderName, InvalidHeaderName};
pub use request::{MAX_PARAMS, Request};
pub use response::Response;
pub use router::Router;
pub use sse::Events;
pub use stream::{Body, HIGH_WATER, Produce, Producer, Stream};

use crate::Ctx;

/// Answers HTTP requests: the user's side of [`Http`].
///
/// One handler value serves one connection (like a [`Protocol`](crate::Protocol)
/// value), so its fields are per-connection state; shared state is
/// `ctx.state()`. Closures `FnMut(&Request, &mut Response, &mut Ctx<S>)` are
/// handlers, and so is a [`Router`].
///
/// ```
/// use std::io::Write;
/// use twig::Ctx;
/// use twig::http::{Handler, Request, Response};
///
/// /// Counts requests on this connection, and on all of them.
/// struct Counter {
///     here: u64,
/// }
///
/// impl Handler<u64> for Counter {
///     fn handle(&mut self, _req: &Request, res: &mut Response, ctx: &mut Ctx<u64>) {
///         self.here += 1;
///         *ctx.state() += 1;
///         let _ = write!(res, "{} here, {} in all\n", self.here, ctx.state());
///     }
/// }
/// ```
pub trait Handler<S = ()> {
    /// Answers one request: set the status, headers and body on `response`
    /// (it starts as an empty `200`). The layer then writes it, with
    /// `Content-Length`, `Date` and `Server`.
    fn handle(&mut self, request: &Request<'_>, response: &mut Response<'_>, ctx: &mut Ctx<'_, S>);
}

impl<S, F> Handler<S> for F
where
    F: FnMut(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>),
{
    fn handle(&mut self, request: &Request<'_>, response: &mut Response<'_>, ctx: &mut Ctx<'_, S>) {
        self(request, response, ctx)
    }
}
