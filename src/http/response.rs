//! [`Response`]: what a handler fills in, and the encoder that writes
//! responses straight into the connection's output buffer.

use std::io;

use log::warn;

use super::Error;
use super::date::DATE_LEN;
use super::header::{HeaderName, IntoHeaderName, Role, is_value};

/// The response a handler builds: a status (default 200), headers, a body.
///
/// The HTTP layer adds `Server`, `Date`, `Content-Length` and `Connection`
/// itself; setting those here is ignored (except `Connection: close`, which
/// is the same as [`close`](Response::close)). The header and body buffers
/// belong to the connection and are reused, so building a response
/// allocates nothing once they have grown to fit.
///
/// `write!(response, ...)` appends to the body.
#[derive(Debug)]
pub struct Response<'a> {
    status: u16,
    /// Header lines so far, each `Name: value\r\n`.
    headers: &'a mut Vec<u8>,
    body: &'a mut Vec<u8>,
    has_content_type: bool,
    close: bool,
}

impl<'a> Response<'a> {
    /// A 200 response with no headers and an empty body, built in these
    /// (emptied) buffers.
    pub(crate) fn new(headers: &'a mut Vec<u8>, body: &'a mut Vec<u8>) -> Response<'a> {
        headers.clear();
        body.clear();
        Response {
            status: 200,
            headers,
            body,
            has_content_type: false,
            close: false,
        }
    }

    /// Sets the status code (default 200).
    ///
    /// # Panics
    /// If `code` is not a final status (200–999): interim 1xx responses are
    /// the layer's business (`100 Continue`). A panic in a handler closes
    /// only its connection.
    pub fn status(&mut self, code: u16) -> &mut Self {
        assert!(
            (200..=999).contains(&code),
            "invalid response status {code}"
        );
        self.status = code;
        self
    }

    /// The status code set so far.
    pub fn code(&self) -> u16 {
        self.status
    }

    /// Adds a header line. A name that is not a token, or a value holding a
    /// control character (CR, LF, NUL…), is dropped with a warning: header
    /// injection cannot pass through here.
    ///
    /// The name is a string, checked on each call, or a [`HeaderName`],
    /// checked once when it was made (at compile time for a `const`), so
    /// the response only checks the value:
    ///
    /// ```
    /// use twig::http::{HeaderName, Router};
    /// const POWERED_BY: HeaderName = HeaderName::from_static("X-Powered-By");
    /// let router = Router::<()>::new().get("/", |_, res, _| {
    ///     res.header(POWERED_BY, "twig").header("X-Request-Id", "42");
    ///     res.text("hello\n");
    /// });
    /// ```
    pub fn header<'n>(&mut self, name: impl IntoHeaderName<'n>, value: &str) -> &mut Self {
        match name.into_header_name() {
            Ok(name) => self.named_header(name, value),
            Err(invalid) => warn!("{invalid} (value {value:?}): dropped"),
        }
        self
    }

    fn named_header(&mut self, name: HeaderName<'_>, value: &str) {
        match name.role() {
            Role::Plain => {
                push_header(self.headers, name, value);
            }
            Role::ContentType => self.has_content_type |= push_header(self.headers, name, value),
            Role::Connection => {
                self.close |= value
                    .split(',')
                    .any(|option| option.trim().eq_ignore_ascii_case("close"));
            }
            Role::Managed => log::debug!("response header {name} is set by twig: ignored"),
        }
    }

    /// Sets `Content-Type`.
    pub fn content_type(&mut self, value: &str) -> &mut Self {
        self.header(HeaderName::CONTENT_TYPE, value)
    }

    /// Appends `text` to the body; the content type is
    /// `text/plain; charset=utf-8` unless one was set.
    pub fn text(&mut self, text: &str) {
        self.typed("text/plain; charset=utf-8", text.as_bytes());
    }

    /// Appends `html` to the body; the content type is
    /// `text/html; charset=utf-8` unless one was set.
    pub fn html(&mut self, html: &str) {
        self.typed("text/html; charset=utf-8", html.as_bytes());
    }

    /// Appends bytes to the body.
    pub fn send(&mut self, bytes: &[u8]) {
        self.body.extend_from_slice(bytes);
    }

    /// The body so far, to append to (or encode into) directly.
    pub fn body_mut(&mut self) -> &mut Vec<u8> {
        self.body
    }

    /// Closes the connection after this response (`Connection: close`).
    pub fn close(&mut self) -> &mut Self {
        self.close = true;
        self
    }

    /// Whether the connection closes after this response.
    pub fn is_closing(&self) -> bool {
        self.close
    }

    pub(crate) fn headers(&self) -> &[u8] {
        self.headers
    }

    pub(crate) fn body(&self) -> &[u8] {
        self.body
    }

    /// Appends `bytes`, with `content_type` (a valid value without
    /// surrounding blanks, written unchecked) unless one was set.
    fn typed(&mut self, content_type: &'static str, bytes: &[u8]) {
        if !self.has_content_type {
            debug_assert!(is_value(content_type.as_bytes()));
            debug_assert_eq!(content_type, content_type.trim());
            push_line(
                self.headers,
                HeaderName::CONTENT_TYPE,
                content_type.as_bytes(),
            );
            self.has_content_type = true;
        }
        self.send(bytes);
    }
}

impl io::Write for Response<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.body.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes one complete response into `out`: the status line, `headers` in
/// order, `Content-Length`, `Connection: close` if `close`, and the body.
/// Invalid headers are dropped, as in [`Response::header`].
///
/// It adds no `Date` or `Server` (the [`Http`](crate::http::Http) protocol
/// does), so its output depends only on its arguments: for protocols that
/// answer HTTP on the side, like the lesson's reply server.
///
/// ```
/// let mut out = Vec::new();
/// twig::http::write_response(&mut out, 200, &[("Content-Type", "text/plain")], b"Yes", true);
/// assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
///     Content-Length: 3\r\nConnection: close\r\n\r\nYes");
/// ```
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) {
    status_line(out, status);
    for &(name, value) in headers {
        match HeaderName::new(name) {
            Ok(name) => {
                push_header(out, name, value);
            }
            Err(invalid) => warn!("{invalid} (value {value:?}): dropped"),
        }
    }
    finish(out, status, body, false, close.then_some("close"));
}

/// The head and body of a handler's response, with `Server` and `Date`.
pub(crate) fn write_full(
    out: &mut Vec<u8>,
    response: &Response<'_>,
    date: &[u8; DATE_LEN],
    head_only: bool,
    connection: Option<&str>,
) {
    status_line(out, response.status);
    server_and_date(out, date);
    out.extend_from_slice(response.headers());
    finish(out, response.status, response.body(), head_only, connection);
}

/// The response to a request the framer refused: its status, the reason as
/// a one-line body, and `Connection: close`.
pub(crate) fn write_error(out: &mut Vec<u8>, error: Error, date: &[u8; DATE_LEN]) {
    let status = error.status();
    status_line(out, status);
    server_and_date(out, date);
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    push_content_length(out, error.reason().len() as u64 + 1);
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(error.reason().as_bytes());
    out.push(b'\n');
}

fn status_line(out: &mut Vec<u8>, status: u16) {
    if let Some(line) = known_status_line(status) {
        out.extend_from_slice(line.as_bytes());
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.extend_from_slice(b" \r\n");
}

/// `Server` and `Date`, built on the stack and appended at once.
fn server_and_date(out: &mut Vec<u8>, date: &[u8; DATE_LEN]) {
    const START: &[u8] = b"Server: twig\r\nDate: ";
    let mut lines = [0u8; START.len() + DATE_LEN + 2];
    lines[..START.len()].copy_from_slice(START);
    lines[START.len()..START.len() + DATE_LEN].copy_from_slice(date);
    lines[START.len() + DATE_LEN..].copy_from_slice(b"\r\n");
    out.extend_from_slice(&lines);
}

/// `Content-Length` (except where a body is not allowed: 204 and 304),
/// `Connection`, the blank line and the body.
fn finish(out: &mut Vec<u8>, status: u16, body: &[u8], head_only: bool, connection: Option<&str>) {
    let bodiless = status == 204 || status == 304;
    if !bodiless {
        push_content_length(out, body.len() as u64);
    }
    if let Some(connection) = connection {
        out.extend_from_slice(b"Connection: ");
        out.extend_from_slice(connection.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only && !bodiless {
        out.extend_from_slice(body);
    }
}

/// Appends `name: value\r\n`, the value without surrounding blanks, if
/// the value is valid (the name was checked when it was made); returns
/// whether it did.
fn push_header(out: &mut Vec<u8>, name: HeaderName<'_>, value: &str) -> bool {
    if !is_value(value.as_bytes()) {
        warn!("invalid value for response header {name}: {value:?}: dropped");
        return false;
    }
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let value = value.as_bytes();
    let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    push_line(out, name, &value[start..end]);
    true
}

/// Appends `name: value\r\n`.
fn push_line(out: &mut Vec<u8>, name: HeaderName<'_>, value: &[u8]) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without the formatting machinery.
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let start = decimal_into(&mut digits, n);
    out.extend_from_slice(&digits[start..]);
}

/// `Content-Length: n\r\n`, built on the stack and appended at once.
fn push_content_length(out: &mut Vec<u8>, n: u64) {
    const NAME: &[u8] = b"Content-Length: ";
    let mut line = [0u8; NAME.len() + 20 + 2];
    let end = line.len() - 2;
    let start = decimal_into(&mut line[..end], n) - NAME.len();
    line[start..start + NAME.len()].copy_from_slice(NAME);
    line[end..].copy_from_slice(b"\r\n");
    out.extend_from_slice(&line[start..]);
}

/// Writes `n` in decimal at the end of `digits` (20 bytes or more); returns
/// where it starts.
fn decimal_into(digits: &mut [u8], mut n: u64) -> usize {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return start;
        }
    }
}

/// The status codes with a registered reason phrase: `status_line` writes
/// theirs from one constant each.
macro_rules! statuses {
    ($($code:literal $reason:literal,)*) => {
        /// The whole status line of a code with a registered reason phrase.
        fn known_status_line(status: u16) -> Option<&'static str> {
            match status {
                $($code => Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n")),)*
                _ => None,
            }
        }
    };
}

statuses! {
    100 "Continue",
    200 "OK",
    201 "Created",
    202 "Accepted",
    204 "No Content",
    206 "Partial Content",
    301 "Moved Permanently",
    302 "Found",
    303 "See Other",
    304 "Not Modified",
    307 "Temporary Redirect",
    308 "Permanent Redirect",
    400 "Bad Request",
    401 "Unauthorized",
    403 "Forbidden",
    404 "Not Found",
    405 "Method Not Allowed",
    408 "Request Timeout",
    409 "Conflict",
    410 "Gone",
    411 "Length Required",
    413 "Content Too Large",
    414 "URI Too Long",
    415 "Unsupported Media Type",
    417 "Expectation Failed",
    422 "Unprocessable Content",
    429 "Too Many Requests",
    431 "Request Header Fields Too Large",
    500 "Internal Server Error",
    501 "Not Implemented",
    502 "Bad Gateway",
    503 "Service Unavailable",
    504 "Gateway Timeout",
    505 "HTTP Version Not Supported",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn header_injection_is_dropped() {
        let (mut headers, mut body) = (Vec::new(), Vec::new());
        let mut response = Response::new(&mut headers, &mut body);
        response
            .header("X-Ok", "fine")
            .header("X-Bad", "a\r\nSet-Cookie: evil=1")
            .header("Bad Name", "v")
            .header("X-Nul", "a\0b")
            .header(HeaderName::CACHE_CONTROL, " no-store\t")
            .header(&String::from("X-Owned"), "yes")
            .header("Content-Length", "99")
            .header("Connection", "Close");
        assert!(response.is_closing());
        assert_eq!(
            response.headers(),
            b"X-Ok: fine\r\nCache-Control: no-store\r\nX-Owned: yes\r\n"
        );
    }

    #[test]
    fn status_lines_and_lengths() {
        let line = |status| {
            let mut out = Vec::new();
            status_line(&mut out, status);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(200), "HTTP/1.1 200 OK\r\n");
        assert_eq!(
            line(431),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        );
        assert_eq!(line(299), "HTTP/1.1 299 \r\n");
        for n in [0u64, 9, 17, 100, u64::MAX] {
            let mut out = Vec::new();
            push_content_length(&mut out, n);
            assert_eq!(out, format!("Content-Length: {n}\r\n").as_bytes());
        }
    }

    #[test]
    fn bodiless_statuses_have_no_length_and_no_body() {
        let mut out = Vec::new();
        write_response(&mut out, 204, &[], b"ignored", false);
        assert_eq!(out, b"HTTP/1.1 204 No Content\r\n\r\n");
    }
}
