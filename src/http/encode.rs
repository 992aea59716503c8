//! The encoder: status lines, headers and bodies written straight into
//! the connection's output buffer, with no temporary strings. Used by
//! [`Response`](super::Response) and by the HTTP protocol for its error
//! replies.

use log::warn;

use super::Error;
use super::date::DATE_LEN;
use super::header::{HeaderName, is_value};

/// Writes one complete response into `out`: the status line, `headers` in
/// order, `Content-Length`, `Connection: close` if `close`, and the body.
/// Invalid headers are dropped, as in [`Response::header`](super::Response::header).
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

pub(super) fn status_line(out: &mut Vec<u8>, status: u16) {
    if let Some(line) = known_status_line(status) {
        out.extend_from_slice(line.as_bytes());
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.extend_from_slice(b" \r\n");
}

/// `Server` and `Date`, built on the stack and appended at once.
pub(super) fn server_and_date(out: &mut Vec<u8>, date: &[u8; DATE_LEN]) {
    const START: &[u8] = b"Server: twig\r\nDate: ";
    let mut lines = [0u8; START.len() + DATE_LEN + 2];
    lines[..START.len()].copy_from_slice(START);
    lines[START.len()..START.len() + DATE_LEN].copy_from_slice(date);
    lines[START.len() + DATE_LEN..].copy_from_slice(b"\r\n");
    out.extend_from_slice(&lines);
}

/// `Content-Length` (except where a body is not allowed: 204 and 304),
/// `Connection`, the blank line and the body.
pub(super) fn finish(
    out: &mut Vec<u8>,
    status: u16,
    body: &[u8],
    head_only: bool,
    connection: Option<&str>,
) {
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
pub(super) fn push_header(out: &mut Vec<u8>, name: HeaderName<'_>, value: &str) -> bool {
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
pub(super) fn push_line(out: &mut Vec<u8>, name: HeaderName<'_>, value: &[u8]) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without the formatting machinery.
pub(super) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let start = decimal_into(&mut digits, n);
    out.extend_from_slice(&digits[start..]);
}

/// `Content-Length: n\r\n`, built on the stack and appended at once.
pub(super) fn push_content_length(out: &mut Vec<u8>, n: u64) {
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
pub(super) fn decimal_into(digits: &mut [u8], mut n: u64) -> usize {
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
