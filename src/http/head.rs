//! What a complete head says about the message: how the body is
//! delimited, whether the connection stays open, whether the client waits
//! for `100 Continue` — and whether it is ambiguous enough to refuse
//! (RFC 9112 §6, the request-smuggling rules).

use super::Error;

/// Size limits of the HTTP layer.
///
/// Twig's own [`Config::max_request_size`](crate::Config) still bounds how
/// much one request may hold in memory; set it to at least
/// `max_head + max_body` (plus chunked framing) for these limits to be the
/// ones that apply. Either way an oversized request gets a 413 or a 431.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest header block (request line and headers), in bytes (default
    /// 8 KiB). Larger is a 431 (or a 414 if the request line alone is).
    pub max_head: usize,
    /// Largest body, in bytes, after chunked decoding (default 1 MiB).
    /// Larger is a 413, sent as soon as the declared or decoded length
    /// passes it.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 8 * 1024,
            max_body: 1024 * 1024,
        }
    }
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the framer learned from a complete head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Length of the head, up to and including the blank line.
    pub head_len: usize,
    /// Length of the whole request as sent: head plus (encoded) body. For
    /// [`Framed::Continue`](super::Framed::Continue), just the head.
    pub len: usize,
    /// How the body is delimited.
    pub body: BodyKind,
    /// Whether the connection stays open after the response: HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `Connection:
    /// keep-alive` (and without `Transfer-Encoding`).
    pub keep_alive: bool,
}

/// Checks a complete head and decides how its body is delimited, whether
/// the connection stays open, and whether the client waits for
/// `100 Continue` before sending the body.
pub(crate) fn inspect(
    request: &httparse::Request,
    head_len: usize,
    limits: Limits,
) -> Result<(Message, bool), Error> {
    let bad = |why| Err(Error::BadRequest(why));
    let method = request.method.unwrap_or_default();
    let target = request.path.unwrap_or_default();
    let http11 = request.version == Some(1);
    let origin_form = target.starts_with('/');
    let absolute_form = ["http://", "https://"].iter().any(|scheme| {
        target
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if !(origin_form || absolute_form || (target == "*" && method == "OPTIONS")) {
        return bad("invalid request target");
    }
    let mut length = None;
    let (mut transfer_encoding, mut chunked, mut unknown_coding) = (false, false, false);
    let (mut hosts, mut close, mut keep_alive) = (0, false, false);
    let (mut expect_continue, mut unknown_expectation) = (false, false);
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return bad("more than one Content-Length");
            }
            length = Some(parse_length(header.value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            for coding in list(header.value) {
                if !coding.eq_ignore_ascii_case(b"chunked") {
                    unknown_coding = true;
                } else if chunked {
                    return bad("chunked applied twice");
                } else {
                    chunked = true;
                }
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            for option in list(header.value) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") && http11 {
            // An HTTP/1.0 client's expectation is ignored (RFC 9110 §10.1.1).
            for expectation in list(header.value) {
                if expectation.eq_ignore_ascii_case(b"100-continue") {
                    expect_continue = true;
                } else {
                    unknown_expectation = true;
                }
            }
        }
    }
    if hosts > 1 || (http11 && hosts == 0) {
        return bad("HTTP/1.1 needs exactly one Host");
    }
    let body = match (length, transfer_encoding) {
        (Some(_), true) => return bad("both Content-Length and Transfer-Encoding"),
        (_, true) if unknown_coding => {
            return Err(Error::NotImplemented("transfer coding other than chunked"));
        }
        (_, true) if !chunked => return bad("empty Transfer-Encoding"),
        (_, true) => BodyKind::Chunked,
        (Some(n), false) if n > limits.max_body as u64 => return Err(Error::BodyTooLarge),
        (Some(0) | None, false) => BodyKind::None,
        (Some(n), false) => BodyKind::Length(n as usize),
    };
    if unknown_expectation {
        return Err(Error::ExpectationFailed);
    }
    let message = Message {
        head_len,
        len: head_len,
        body,
        // An HTTP/1.0 message with Transfer-Encoding has faulty framing:
        // answer it, then close (RFC 9112 §6.1).
        keep_alive: !close && (http11 || (keep_alive && !transfer_encoding)),
    };
    Ok((message, expect_continue && body != BodyKind::None))
}

/// `Content-Length = 1*DIGIT`: no sign, no spaces inside, no list.
fn parse_length(value: &[u8]) -> Result<u64, Error> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadRequest("invalid Content-Length"));
    }
    value
        .iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(Error::BodyTooLarge)
}

/// The non-empty elements of a comma-separated header list, trimmed.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}
