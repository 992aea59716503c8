//! Starting a streamed response: [`Response::stream`] and
//! [`Response::produce`] write the head (status, headers, chunked or a
//! length, the connection's fate) and hand the body to a [`Stream`] or a
//! [`Pump`] (`stream.rs`).

use super::connection::connection_header;
use super::date;
use super::encode::{push_content_length, server_and_date, status_line};
use super::response::Response;
use super::stream::{Framing, Producer, Pump, Stream};
use crate::Ctx;

impl Response<'_> {
    /// Starts a streamed response and returns the handle to feed it with
    /// (push; see [`Stream`] and [`twig::http`](crate::http#streaming)). The head is written now, with
    /// what was set so far (status, headers; a body set so far is
    /// discarded). `length` declares a `Content-Length`; without one the
    /// body is chunked (HTTP/1.1) or ended by a close (HTTP/1.0). The
    /// connection reads nothing more until [`Stream::end`].
    pub fn stream<S>(&mut self, ctx: &mut Ctx<'_, S>, length: Option<u64>) -> Stream {
        self.deferred = true;
        let stream = write_head(self, ctx, length);
        ctx.pause_reading(stream.id()); // later requests wait their turn
        stream
    }

    /// Starts a streamed response fed by `producer` (pull; see [`Producer`] and
    /// [`twig::http`](crate::http#streaming)), called now and again whenever the socket has taken
    /// what it made. `length` as in [`stream`](Response::stream): a
    /// producer that stops short of it, or says `More` and writes nothing,
    /// gets its connection closed.
    pub fn produce<S>(
        &mut self,
        ctx: &mut Ctx<'_, S>,
        length: Option<u64>,
        producer: impl Producer + 'static,
    ) {
        let stream = self.stream(ctx, length);
        if stream.framing == Framing::Nothing {
            stream.end(ctx);
            return;
        }
        let pump = Pump::new(Box::new(producer), stream, length);
        self.producer = Some(Box::new(pump));
    }
}

/// The head of a streamed response, into the reply.
fn write_head<S>(response: &mut Response<'_>, ctx: &mut Ctx<'_, S>, length: Option<u64>) -> Stream {
    let exchange = response.exchange;
    let (mut close, _) = connection_header(exchange, response, ctx);
    let status = response.code();
    let framing = if exchange.head_only || status == 204 || status == 304 {
        Framing::Nothing
    } else if length.is_none() && exchange.version >= 1 {
        Framing::Chunked
    } else {
        close |= length.is_none(); // HTTP/1.0: only a close ends the body
        Framing::Raw
    };
    let date = date::cached(ctx.now());
    let out = ctx.output();
    status_line(out, status);
    server_and_date(out, &date);
    out.extend_from_slice(response.headers());
    match length {
        Some(n) if status != 204 && status != 304 => push_content_length(out, n),
        Some(_) => {}
        None if framing == Framing::Chunked => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        None if exchange.head_only && exchange.version >= 1 => {
            // What the GET would say, as a HEAD must.
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        None => {}
    }
    match (close, exchange.version) {
        (true, _) => out.extend_from_slice(b"Connection: close\r\n"),
        (false, 0) => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        (false, _) => {}
    }
    out.extend_from_slice(b"\r\n");
    Stream::new(ctx.id(), framing, close)
}
