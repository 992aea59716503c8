//! The opening handshake (RFC 6455 §4.2) and [`Upgrade`], the protocol
//! value whose mode switches from HTTP to WebSocket inside the connection.

use base64::Engine;
use log::debug;
use sha1::{Digest, Sha1};

use super::session::Session;
use super::{Settings, WebSocket};
use crate::http::{Handler, Http, Limits, Request, Response};
use crate::{After, Ctx, Frame, Protocol, Violation};

/// Appended to the client's key before hashing (RFC 6455 §1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
/// base64 of the SHA-1 of the key and the RFC's GUID.
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(twig::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

/// Whether a header's comma-separated list holds `token` (any case).
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The HTTP side of an [`Upgrade`]: the user's handler, and the accept
/// function asked about each upgrade request.
#[derive(Debug)]
pub struct Route<H, A, W> {
    handler: H,
    accept: A,
    /// A socket the accept function gave, with its accept key: the switch
    /// [`Upgrade::reply`] makes once the handler returns.
    accepted: Option<(W, String)>,
}

impl<S, H, A, W> Handler<S> for Route<H, A, W>
where
    H: Handler<S>,
    A: FnMut(&Request<'_>, &mut Ctx<'_, S>) -> Option<W>,
{
    fn handle(&mut self, req: &Request<'_>, res: &mut Response<'_>, ctx: &mut Ctx<'_, S>) {
        // The one check a plain request pays: no `Upgrade: websocket`.
        if !has_token(req.header_str("upgrade"), "websocket") {
            return self.handler.handle(req, res, ctx);
        }
        let refusal = if req.method() != "GET" || req.version() != 1 {
            Some((400, "a WebSocket upgrade is a GET in HTTP/1.1\n"))
        } else if !has_token(req.header_str("connection"), "upgrade") {
            Some((400, "Connection: Upgrade is missing\n"))
        } else if req.header_str("sec-websocket-version") != Some("13") {
            res.header("Sec-WebSocket-Version", "13");
            Some((426, "only WebSocket version 13 is spoken here\n"))
        } else if ctx.is_stopping() {
            Some((503, "the server is stopping\n"))
        } else {
            None
        };
        if let Some((status, text)) = refusal {
            res.status(status).text(text);
            return;
        }
        let key = req
            .header_str("sec-websocket-key")
            .unwrap_or_default()
            .trim();
        let decoded = base64::engine::general_purpose::STANDARD.decode(key);
        if decoded.map_or(true, |k| k.len() != 16) {
            res.status(400)
                .text("Sec-WebSocket-Key is not 16 bytes in base64\n");
            return;
        }
        match (self.accept)(req, ctx) {
            Some(socket) => self.accepted = Some((socket, accept_key(key))),
            None => self.handler.handle(req, res, ctx), // not a socket route
        }
    }
}

/// The state of an [`Upgrade`] connection: which protocol it speaks now.
#[derive(Debug)]
// The value lives in twig's protocol slab, one per connection: boxing the
// larger variant would cost an allocation per connection for no gain.
#[allow(clippy::large_enum_variant)]
enum Mode<H, A, W> {
    /// HTTP/1.1, as [`Http`] serves it; an accepted upgrade leaves it.
    Http(Http<Route<H, A, W>>),
    /// After the `101`: frames, until the connection closes.
    WebSocket(Session<W>),
}

/// HTTP/1.1 with WebSocket upgrades: a [`Protocol`] that serves `handler`
/// as [`Http`] does, and asks `accept` about each valid upgrade request;
/// when `accept` gives a socket, the `101` goes out and the same connection
/// speaks WebSocket from the next byte on.
///
/// ```no_run
/// use twig::{Ctx, Server, http::{Request, Router}, ws::{self, Message, WebSocket, WsCtx}};
///
/// struct Echo;
/// impl WebSocket for Echo {
///     fn on_message(&mut self, message: Message<'_>, ws: &mut WsCtx<'_, '_, ()>) {
///         match message {
///             Message::Text(text) => ws.send_text(text),
///             Message::Binary(bytes) => ws.send_binary(bytes),
///         }
///     }
/// }
///
/// let router = Router::new().get("/", |_, res, _| res.text("hello\n"));
/// let accept = |req: &Request<'_>, _: &mut Ctx<'_, ()>| (req.path() == "/ws").then_some(Echo);
/// let mut server = Server::builder().max_request_size(2 << 20).build(())?;
/// server.listen("127.0.0.1:8080", move || ws::Upgrade::new(router.clone(), accept))?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Upgrade<H, A, W> {
    mode: Mode<H, A, W>,
    settings: Settings,
}

impl<H, A, W> Upgrade<H, A, W> {
    /// Serves `handler`; `accept(request, ctx)` says, for each upgrade
    /// request, which socket serves it (`None`: the handler answers it,
    /// typically with a 404).
    pub fn new<S>(handler: H, accept: A) -> Self
    where
        A: FnMut(&Request<'_>, &mut Ctx<'_, S>) -> Option<W>,
    {
        let route = Route {
            handler,
            accept,
            accepted: None,
        };
        Upgrade {
            mode: Mode::Http(Http::new(route)),
            settings: Settings::default(),
        }
    }

    /// Sets the WebSocket limits and timeouts.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Sets the HTTP size limits (as [`Http::limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        if let Mode::Http(http) = self.mode {
            self.mode = Mode::Http(http.limits(limits));
        }
        self
    }

    /// Whether the connection speaks WebSocket now.
    pub fn is_websocket(&self) -> bool {
        matches!(self.mode, Mode::WebSocket(_))
    }
}

impl<S: 'static, H, A, W> Protocol<S> for Upgrade<H, A, W>
where
    H: Handler<S>,
    A: FnMut(&Request<'_>, &mut Ctx<'_, S>) -> Option<W>,
    W: WebSocket<S>,
{
    fn frame(&mut self, input: &[u8]) -> Frame {
        match &mut self.mode {
            Mode::Http(http) => Protocol::<S>::frame(http, input),
            Mode::WebSocket(session) => session.frame(input),
        }
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, S>) -> After {
        let Mode::Http(http) = &mut self.mode else {
            let Mode::WebSocket(session) = &mut self.mode else {
                return After::Close;
            };
            return session.reply(request, ctx);
        };
        let mark = ctx.output().len();
        let after = http.reply(request, ctx);
        let Some((socket, key)) = http.handler().accepted.take() else {
            return after;
        };
        // The HTTP layer wrote an empty 200 for the handler's untouched
        // response (its `Response` has no 1xx); it is replaced by the 101.
        ctx.output().truncate(mark);
        debug!("{} {}: switching to WebSocket", ctx.id(), ctx.peer());
        let out = ctx.output();
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
        out.extend_from_slice(b"Connection: Upgrade\r\nServer: twig\r\nSec-WebSocket-Accept: ");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        let session = Session::open(socket, self.settings, ctx);
        self.mode = Mode::WebSocket(session);
        After::KeepOpen
    }

    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, S>) {
        match &mut self.mode {
            Mode::Http(http) => http.on_violation(violation, ctx),
            Mode::WebSocket(session) => {
                session.on_violation(matches!(violation, Violation::TooLarge { .. }), ctx)
            }
        }
    }

    fn on_close(&mut self, reason: crate::CloseReason, ctx: &mut Ctx<'_, S>) {
        match &mut self.mode {
            Mode::Http(http) => http.on_close(reason, ctx),
            Mode::WebSocket(session) => session.on_close(ctx),
        }
    }
}
