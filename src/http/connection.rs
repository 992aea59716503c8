//! [`Http`]: the HTTP/1.1 [`Protocol`] — frames requests with the
//! [`Framer`], calls the [`Handler`], writes responses, and answers refused
//! requests with their error status before closing.

use log::{debug, trace};

use super::chunked;
use super::date;
use super::encode::write_error;
use super::framer::{Framed, Framer};
use super::head::{BodyKind, Limits, Message};
use super::request::bytes_at;
use super::response::{Exchange, write_full};
use super::stream::{self, Pump};
use super::{Error, Handler, Request, Response};
use crate::{After, Ctx, Frame, Protocol, Violation};

/// Reused buffers larger than this are released after the response, so one
/// large request does not pin memory for the rest of a keep-alive
/// connection.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The HTTP/1.1 protocol: one value per connection, serving `handler`.
///
/// ```no_run
/// use twig::Server;
/// use twig::http::{Http, Limits, Router};
///
/// let router = Router::new().get("/", |_, res, _| res.text("hello\n"));
/// let mut server = Server::builder().build(())?;
/// let limits = Limits { max_body: 64 * 1024, ..Limits::default() };
/// server.listen("127.0.0.1:8080", move || Http::new(router.clone()).limits(limits))?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// The handler value lives as long as the connection: its fields are
/// per-connection state, as a [`Protocol`]'s are.
#[derive(Debug)]
pub struct Http<H> {
    handler: H,
    framer: Framer,
    /// What `frame` measured, for the `reply` that follows it.
    pending: Pending,
    /// Why `frame` refused the input, for `on_violation`.
    refused: Option<Error>,
    /// The head of a request whose body follows a `100 Continue`, and what
    /// the framer said about it: the head is consumed before the body
    /// arrives, so it is kept here.
    held: Vec<u8>,
    held_message: Option<Message>,
    /// A chunked body, decoded (reused).
    decoded: Vec<u8>,
    /// The response's header lines and body (reused).
    response_headers: Vec<u8>,
    response_body: Vec<u8>,
    /// A pull stream in progress ([`Response::produce`]), run again from
    /// `on_drained` when the socket has taken what it made.
    pump: Option<Box<Pump>>,
}

/// What the last `frame` call found (and the next `reply` gets).
#[derive(Debug, Clone, Copy)]
enum Pending {
    Nothing,
    /// A whole request.
    Request(Message),
    /// A head that waits for `100 Continue`.
    Continue(Message),
    /// The body of the held head.
    Body,
}

impl<H> Http<H> {
    /// Serves `handler` with the default [`Limits`].
    pub fn new(handler: H) -> Http<H> {
        Http {
            handler,
            framer: Framer::new(Limits::default()),
            pending: Pending::Nothing,
            refused: None,
            held: Vec::new(),
            held_message: None,
            decoded: Vec::new(),
            response_headers: Vec::new(),
            response_body: Vec::new(),
            pump: None,
        }
    }

    /// Sets the size limits.
    pub fn limits(mut self, limits: Limits) -> Http<H> {
        self.framer = Framer::new(limits);
        self
    }

    /// The handler (and the per-connection state it holds).
    pub fn handler(&mut self) -> &mut H {
        &mut self.handler
    }
}

impl<S, H: Handler<S>> Protocol<S> for Http<H> {
    fn frame(&mut self, input: &[u8]) -> Frame {
        match self.framer.frame(input) {
            Framed::Partial => Frame::Partial,
            Framed::Request(message) => {
                self.pending = Pending::Request(message);
                Frame::Complete(message.len)
            }
            Framed::Continue(message) => {
                self.pending = Pending::Continue(message);
                Frame::Complete(message.len)
            }
            Framed::Body(n) => {
                self.pending = Pending::Body;
                Frame::Complete(n)
            }
            Framed::Error(error) => {
                self.refused = Some(error);
                Frame::Invalid(error.reason())
            }
        }
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, S>) -> After {
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Request(message) => {
                let (head, body) = request.split_at(message.head_len);
                self.respond(head, body, message, ctx)
            }
            Pending::Continue(message) => {
                trace!("{} {}: 100 Continue", ctx.id(), ctx.peer());
                self.held.clear();
                self.held.extend_from_slice(request);
                self.held_message = Some(message);
                ctx.write(b"HTTP/1.1 100 Continue\r\n\r\n");
                After::KeepOpen
            }
            Pending::Body => {
                let Some(message) = self.held_message.take() else {
                    return After::Close; // unreachable: a body follows a held head
                };
                let head = std::mem::take(&mut self.held);
                let after = self.respond(&head, request, message, ctx);
                self.held = head;
                after
            }
            Pending::Nothing => After::Close, // unreachable: twig replies after Complete
        }
    }

    fn on_drained(&mut self, ctx: &mut Ctx<'_, S>) {
        if let Some(pump) = &mut self.pump
            && !stream::pump(pump, ctx)
        {
            self.pump = None;
        }
    }

    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, S>) {
        let error = match violation {
            Violation::Invalid(_) => self
                .refused
                .take()
                .unwrap_or(Error::BadRequest("invalid request")),
            // Twig's own max_request_size: whose size was it?
            Violation::TooLarge { .. } => {
                let in_body = match self.pending {
                    Pending::Request(message) => message.body != BodyKind::None,
                    Pending::Continue(_) => false,
                    Pending::Body => true,
                    Pending::Nothing => self.framer.in_body(),
                };
                if in_body {
                    Error::BodyTooLarge
                } else {
                    Error::HeadTooLarge
                }
            }
        };
        debug!("{} {}: {error}", ctx.id(), ctx.peer());
        let date = date::cached(ctx.now());
        write_error(ctx.output(), error, &date);
    }
}

impl<H> Http<H> {
    /// Builds the handler's request from what the framer learned of the
    /// head (offsets into `head`: the head is parsed once), calls the
    /// handler, and writes its response.
    fn respond<S>(
        &mut self,
        head: &[u8],
        body: &[u8],
        message: Message,
        ctx: &mut Ctx<'_, S>,
    ) -> After
    where
        H: Handler<S>,
    {
        let parsed = self.framer.parsed();
        // The target was checked as UTF-8 by httparse: this does not fail.
        let target = std::str::from_utf8(bytes_at(head, parsed.target)).unwrap_or_default();
        let body = match message.body {
            BodyKind::Chunked => {
                self.decoded.clear();
                chunked::decode(body, &mut self.decoded);
                &self.decoded[..]
            }
            BodyKind::Length(_) | BodyKind::None => body,
        };
        let request = Request::new(
            method(bytes_at(head, parsed.method)),
            target,
            parsed.version,
            head,
            &parsed.headers,
            body,
        );
        let mut response = Response::new(&mut self.response_headers, &mut self.response_body);
        response.exchange = Exchange {
            keep_alive: message.keep_alive,
            version: request.version(),
            head_only: request.method() == "HEAD",
        };
        self.handler.handle(&request, &mut response, ctx);
        if response.deferred {
            // Its offloaded job's callback writes it (and closes if asked),
            // or it is a stream, fed from here (pull) or by its handle.
            if let Some(mut pump) = response.producer.take()
                && stream::pump(&mut pump, ctx)
            {
                self.pump = Some(pump);
            }
            return After::KeepOpen;
        }

        let (close, connection) = connection_header(response.exchange, &response, ctx);
        trace!(
            "{} {}: {} {} -> {}",
            ctx.id(),
            ctx.peer(),
            request.method(),
            request.target(),
            response.code()
        );
        let date = date::cached(ctx.now());
        write_full(
            ctx.output(),
            &response,
            &date,
            response.exchange.head_only,
            connection,
        );
        for buffer in [
            &mut self.decoded,
            &mut self.response_headers,
            &mut self.response_body,
        ] {
            if buffer.capacity() > KEEP_CAPACITY {
                *buffer = Vec::new();
            }
        }
        if close { After::Close } else { After::KeepOpen }
    }
}

/// Whether the connection closes after `response`, and the `Connection`
/// header that says so (HTTP/1.0 keep-alive must be said too).
pub(crate) fn connection_header<S>(
    exchange: Exchange,
    response: &Response<'_>,
    ctx: &Ctx<'_, S>,
) -> (bool, Option<&'static str>) {
    let close = !exchange.keep_alive || response.is_closing() || ctx.is_stopping();
    let connection = match (close, exchange.version) {
        (true, _) => Some("close"),
        (false, 0) => Some("keep-alive"),
        (false, _) => None,
    };
    (close, connection)
}

/// The method as text: the common ones without a UTF-8 check (a method is a
/// token, which httparse checked: ASCII, so the check never fails).
fn method(bytes: &[u8]) -> &str {
    match bytes {
        b"GET" => "GET",
        b"HEAD" => "HEAD",
        b"POST" => "POST",
        b"PUT" => "PUT",
        b"DELETE" => "DELETE",
        _ => std::str::from_utf8(bytes).unwrap_or_default(),
    }
}
