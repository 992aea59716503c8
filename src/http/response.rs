//! [`Response`]: what a handler fills in. The bytes are written by the
//! encoder in `encode.rs`.

use std::io;

use log::warn;

use super::date::DATE_LEN;
use super::encode::{finish, push_header, push_line, server_and_date, status_line};
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
    /// What the request said about the connection: a deferred response
    /// ([`Response::offload`]) needs it later.
    pub(crate) exchange: Exchange,
    /// The handler offloaded the work: this response is not written now,
    /// but by the offloaded job's callback.
    pub(crate) deferred: bool,
    /// A pull stream the handler started ([`Response::produce`]), for the
    /// connection to run.
    pub(crate) producer: Option<Box<super::stream::Pump>>,
}

/// What the request says about how its response is written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Exchange {
    /// The client keeps the connection open after this response.
    pub keep_alive: bool,
    /// HTTP/1.0 (0) or 1.1 (1).
    pub version: u8,
    /// A `HEAD` request: headers only.
    pub head_only: bool,
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
            exchange: Exchange::default(),
            deferred: false,
            producer: None,
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

#[cfg(test)]
mod tests {
    use super::super::encode::*;
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
