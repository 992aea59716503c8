//! The request framer: where does the request at the front of the input
//! end? Parses the head with `httparse` (headers in a stack array), decides
//! how the body is delimited, and refuses every ambiguous message.
//!
//! It does not allocate per request, and it remembers just enough between
//! calls (a parsed head, how far a chunked body was measured) that a request
//! arriving a few bytes at a time is not re-measured from the start each
//! time. It also keeps where the method, target and header lines of the last
//! complete head lie ([`Parsed`]), so that the handler's request is built
//! from offsets instead of a second parse.

use std::mem::MaybeUninit;

use httparse::Status;

use super::Error;
use super::chunked::Scan;
use super::head::{BodyKind, Limits, Message, inspect};
use super::request::HeaderSpan;

/// Most header lines in one request; more is a 431.
pub const MAX_HEADERS: usize = 64;

/// What [`Framer::frame`] found at the front of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// No complete request yet: call again with the same bytes and more.
    Partial,
    /// A complete request: the first [`Message::len`] bytes.
    Request(Message),
    /// A complete head that says `Expect: 100-continue`, and none of its
    /// body has arrived: take the head ([`Message::len`] bytes), send
    /// `HTTP/1.1 100 Continue`, and keep framing: the next result is the
    /// body.
    Continue(Message),
    /// The body after a [`Continue`](Framed::Continue) is complete: the
    /// first `n` bytes.
    Body(usize),
    /// The request is refused; the connection must close after the error
    /// response.
    Error(Error),
}

/// Finds the end of each request in a byte stream, one at a time.
///
/// Call [`frame`](Framer::frame) with the buffered input, which starts at a
/// request. On [`Framed::Partial`], call it again later with the same bytes
/// plus more; otherwise the front request is done (its bytes are consumed by
/// the caller) and the next call starts at the next request.
///
/// ```
/// use twig::http::{Framed, Framer, Limits};
/// let mut framer = Framer::new(Limits::default());
/// let input = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
/// assert_eq!(framer.frame(&input[..40]), Framed::Partial);
/// let Framed::Request(message) = framer.frame(input) else { panic!() };
/// assert_eq!(message.len, input.len());
/// ```
#[derive(Debug, Clone)]
pub struct Framer {
    limits: Limits,
    state: State,
    parsed: Parsed,
}

/// Where the parts of the last complete head lie, as byte offsets from the
/// start of its request (the input [`Framer::frame`] was given, which is
/// also the start of the bytes the request's `reply` gets). Set when a head
/// is complete and accepted, and left alone until the next one: while its
/// body arrives, after a `100 Continue`, and through the `Body` that ends it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    pub(crate) method: (usize, usize),
    pub(crate) target: (usize, usize),
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) version: u8,
    /// One per header line, in order; reused, so it allocates only when a
    /// request has more lines than any before it on the connection.
    pub(crate) headers: Vec<HeaderSpan>,
}

/// Where the request being framed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a complete head (the head is re-parsed on each call; it is
    /// at most `max_head` bytes).
    Head,
    /// The head is complete and `message` describes it; the body is still
    /// arriving.
    Body { message: Message, scan: Scan },
    /// A `100 Continue` was due: the head has been taken, and the input
    /// starts at the body.
    AfterContinue { body: BodyKind, scan: Scan },
}

impl Framer {
    /// A framer with these limits.
    pub fn new(limits: Limits) -> Framer {
        Framer {
            limits,
            state: State::Head,
            parsed: Parsed::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether the current request's head is complete and its body is
    /// still arriving (a size limit hit now is the body's: 413, not 431).
    pub fn in_body(&self) -> bool {
        self.state != State::Head
    }

    /// Where the parts of the last complete head lie (see [`Parsed`]).
    pub(crate) fn parsed(&self) -> &Parsed {
        &self.parsed
    }

    /// Measures the request at the front of `input` (see [`Framer`]).
    pub fn frame(&mut self, input: &[u8]) -> Framed {
        let max_body = self.limits.max_body;
        let (framed, next) = match self.state {
            State::Head => self.head(input),
            State::Body { message, mut scan } => {
                match body_len(
                    message.body,
                    &input[message.head_len..],
                    &mut scan,
                    max_body,
                ) {
                    Ok(Some(n)) => (
                        Framed::Request(Message {
                            len: message.head_len + n,
                            ..message
                        }),
                        State::Head,
                    ),
                    Ok(None) => (Framed::Partial, State::Body { message, scan }),
                    Err(e) => (Framed::Error(e), State::Head),
                }
            }
            State::AfterContinue { body, mut scan } => {
                match body_len(body, input, &mut scan, max_body) {
                    Ok(Some(n)) => (Framed::Body(n), State::Head),
                    Ok(None) => (Framed::Partial, State::AfterContinue { body, scan }),
                    Err(e) => (Framed::Error(e), State::Head),
                }
            }
        };
        self.state = next;
        framed
    }

    /// Frames a request whose head may not be complete yet.
    fn head(&mut self, input: &[u8]) -> (Framed, State) {
        // Only the first `max_head` bytes are parsed, so the outcome does not
        // depend on how much arrived beyond them (or on how it was split).
        let max_head = self.limits.max_head;
        let window = &input[..input.len().min(max_head)];
        // Uninitialized: filling 64 empty headers costs more than parsing.
        let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut []);
        let head_len = match request.parse_with_uninit_headers(window, &mut headers) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Partial) if input.len() >= max_head => {
                return (Framed::Error(too_large(window)), State::Head);
            }
            Ok(Status::Partial) => return (Framed::Partial, State::Head),
            Err(e) => return (Framed::Error(from_httparse(e)), State::Head),
        };
        let (message, expects_continue) = match inspect(&request, head_len, self.limits) {
            Ok(found) => found,
            Err(e) => return (Framed::Error(e), State::Head),
        };
        self.parsed.record(&request, window);
        let mut scan = Scan::default();
        let body = &input[head_len..];
        match body_len(message.body, body, &mut scan, self.limits.max_body) {
            Ok(Some(n)) => (
                Framed::Request(Message {
                    len: head_len + n,
                    ..message
                }),
                State::Head,
            ),
            Ok(None) if expects_continue && body.is_empty() => (
                Framed::Continue(message),
                State::AfterContinue {
                    body: message.body,
                    scan,
                },
            ),
            Ok(None) => (Framed::Partial, State::Body { message, scan }),
            Err(e) => (Framed::Error(e), State::Head),
        }
    }
}

impl Parsed {
    /// Records where the parts of `request`, parsed from `head`, lie in it.
    fn record(&mut self, request: &httparse::Request, head: &[u8]) {
        // Every slice httparse returns borrows from `head` (an empty one is
        // given as (0, 0), wherever it points).
        let base = head.as_ptr() as usize;
        let span = |part: &[u8]| {
            let start = (part.as_ptr() as usize).wrapping_sub(base);
            if part.is_empty() || start >= head.len() {
                (0, 0)
            } else {
                (start, start + part.len())
            }
        };
        self.method = request.method.map_or((0, 0), |m| span(m.as_bytes()));
        self.target = request.path.map_or((0, 0), |p| span(p.as_bytes()));
        self.version = request.version.unwrap_or(1);
        self.headers.clear();
        self.headers
            .extend(request.headers.iter().map(|header| HeaderSpan {
                name: span(header.name.as_bytes()),
                value: span(header.value),
            }));
    }
}

/// Measures a body of `kind` at the start of `body`.
fn body_len(
    kind: BodyKind,
    body: &[u8],
    scan: &mut Scan,
    max_body: usize,
) -> Result<Option<usize>, Error> {
    match kind {
        BodyKind::None => Ok(Some(0)),
        BodyKind::Length(n) => Ok((body.len() >= n).then_some(n)),
        BodyKind::Chunked => scan.advance(body, max_body),
    }
}

/// A head still incomplete at the size limit (`window` is its first
/// `max_head` bytes): a 414 if even the request line has not ended, else a
/// 431.
fn too_large(input: &[u8]) -> Error {
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    if input[start..].contains(&b'\n') {
        Error::HeadTooLarge
    } else {
        Error::UriTooLong
    }
}

fn from_httparse(e: httparse::Error) -> Error {
    Error::BadRequest(match e {
        httparse::Error::TooManyHeaders => return Error::TooManyHeaders,
        httparse::Error::Version => "unsupported HTTP version",
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Token | httparse::Error::Status => "invalid request line",
    })
}
