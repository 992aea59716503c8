//! Why a request is refused: a small `Copy` enum, each with its status code.

use std::fmt;

/// A request the HTTP layer refuses before any handler sees it. Every one
/// is answered with its [`status`](Error::status) and `Connection: close`,
/// and the connection is closed: after a framing error nothing that follows
/// on the connection can be trusted (that is what request smuggling
/// exploits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// 400: malformed request line, header syntax, `Content-Length`,
    /// `Transfer-Encoding` or chunked body; or an ambiguous message
    /// (both lengths, duplicate lengths, missing `Host`).
    BadRequest(&'static str),
    /// 413: the body is larger than [`Limits::max_body`](crate::http::Limits).
    BodyTooLarge,
    /// 414: the request line alone is longer than
    /// [`Limits::max_head`](crate::http::Limits).
    UriTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: the header block is larger than
    /// [`Limits::max_head`](crate::http::Limits).
    HeadTooLarge,
    /// 431: more header lines than [`MAX_HEADERS`](crate::http::MAX_HEADERS).
    TooManyHeaders,
    /// 501: a transfer coding other than `chunked`.
    NotImplemented(&'static str),
}

impl Error {
    /// The response status code.
    pub fn status(self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::BodyTooLarge => 413,
            Error::UriTooLong => 414,
            Error::ExpectationFailed => 417,
            Error::HeadTooLarge | Error::TooManyHeaders => 431,
            Error::NotImplemented(_) => 501,
        }
    }

    /// What was wrong, in a few words (sent as the response body, and
    /// logged at `debug`).
    pub fn reason(self) -> &'static str {
        match self {
            Error::BadRequest(why) | Error::NotImplemented(why) => why,
            Error::BodyTooLarge => "body too large",
            Error::UriTooLong => "request line too long",
            Error::ExpectationFailed => "unsupported expectation",
            Error::HeadTooLarge => "header block too large",
            Error::TooManyHeaders => "too many header lines",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl std::error::Error for Error {}
