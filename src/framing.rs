//! Ready-made framers: small functions a [`Protocol::frame`](crate::Protocol::frame)
//! can return directly.

use crate::api::protocol::Frame;

/// One line, up to and including `\n` (so `\r\n` lines keep their `\r`).
///
/// ```
/// use twig::{Frame, framing};
/// assert_eq!(framing::line(b"PING\r\nPI"), Frame::Complete(6));
/// assert_eq!(framing::line(b"PI"), Frame::Partial);
/// ```
pub fn line(input: &[u8]) -> Frame {
    match input.iter().position(|&b| b == b'\n') {
        Some(end) => Frame::Complete(end + 1),
        None => Frame::Partial,
    }
}

/// A message preceded by its length as a 4-byte big-endian integer; the
/// request is the prefix plus the payload. Lengths over `max` are invalid.
///
/// ```
/// use twig::{Frame, framing};
/// assert_eq!(framing::length_prefixed(b"\0\0\0\x02hi!", 1024), Frame::Complete(6));
/// assert_eq!(framing::length_prefixed(b"\0\0\0\x02h", 1024), Frame::Partial);
/// ```
pub fn length_prefixed(input: &[u8], max: usize) -> Frame {
    let Some(prefix) = input.first_chunk::<4>() else {
        return Frame::Partial;
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > max {
        Frame::Invalid("length prefix over the limit")
    } else if input.len() - 4 >= len {
        Frame::Complete(4 + len)
    } else {
        Frame::Partial
    }
}

/// Whether some bytes are, or could still become, an HTTP/1.x request line:
/// a known method, a space, a target, a space, `HTTP/1.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpStart {
    /// Every byte so far fits an HTTP/1.x request line: wait for more.
    Maybe,
    /// The bytes begin with `METHOD SP TARGET SP HTTP/1.`.
    Http,
    /// They cannot be the start of an HTTP/1.x request.
    NotHttp,
}

/// The methods [`http_start`] recognizes, each with the space that ends it.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
    b"PATCH ",
];

/// Classifies the start of a byte stream as HTTP/1.x or not, as early as the
/// bytes allow.
///
/// It answers [`Maybe`](HttpStart::Maybe) only while the bytes are a prefix
/// of one of the standard methods and its space (`GET `, `HEAD `, `POST `,
/// `PUT `, `DELETE `, `CONNECT `, `OPTIONS `, `TRACE `, `PATCH `; case
/// matters), or begin with one and the rest still fits a request line. So
/// plain text such as `hello` is [`NotHttp`](HttpStart::NotHttp) from its
/// first byte, and a protocol that serves both can answer it at once instead
/// of waiting for bytes that will never come; an HTTP request cut anywhere
/// stays `Maybe` until its request line shows `HTTP/1.`.
///
/// ```
/// use twig::framing::{HttpStart, http_start};
/// assert_eq!(http_start(b"GE"), HttpStart::Maybe);
/// assert_eq!(http_start(b"GET / HT"), HttpStart::Maybe);
/// assert_eq!(http_start(b"GET / HTTP/1.1\r\n"), HttpStart::Http);
/// assert_eq!(http_start(b"hello"), HttpStart::NotHttp);
/// assert_eq!(http_start(b"can you hear me?"), HttpStart::NotHttp);
/// ```
pub fn http_start(input: &[u8]) -> HttpStart {
    const VERSION: &[u8] = b"HTTP/1.";
    let Some(method) = METHODS.iter().find(|m| input.starts_with(m)) else {
        // Shorter than every method that matches so far: wait for more.
        return if METHODS.iter().any(|m| m.starts_with(input)) {
            HttpStart::Maybe
        } else {
            HttpStart::NotHttp
        };
    };
    let rest = &input[method.len()..];
    let target = rest.iter().take_while(|&&b| b.is_ascii_graphic()).count();
    let Some(&after_target) = rest.get(target) else {
        return HttpStart::Maybe;
    };
    if target == 0 || after_target != b' ' {
        return HttpStart::NotHttp;
    }
    let version = &rest[target + 1..];
    let n = version.len().min(VERSION.len());
    if version[..n] != VERSION[..n] {
        HttpStart::NotHttp
    } else if n < VERSION.len() {
        HttpStart::Maybe
    } else {
        HttpStart::Http
    }
}

/// An HTTP header block: everything up to and including the blank line
/// (`\r\n\r\n`, or a bare `\n\n` from lenient clients).
///
/// ```
/// use twig::{Frame, framing};
/// assert_eq!(framing::http_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), Frame::Complete(27));
/// assert_eq!(framing::http_head(b"GET / HTTP/1.1\r\nHost: x\r\n"), Frame::Partial);
/// ```
pub fn http_head(input: &[u8]) -> Frame {
    input
        .windows(2)
        .enumerate()
        .find_map(|(i, w)| match w {
            b"\n\n" => Some(i + 2),
            b"\n\r" if input.get(i + 2) == Some(&b'\n') => Some(i + 3),
            _ => None,
        })
        .map_or(Frame::Partial, Frame::Complete)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_start_table() {
        use HttpStart::*;
        let cases: &[(&[u8], HttpStart)] = &[
            (b"", Maybe),
            (b"G", Maybe),
            (b"GET", Maybe),
            (b"GET ", Maybe),
            (b"DELE", Maybe),
            (b"OPTIONS * HTTP/1.1", Http),
            (b"CONNECT example.com:443 HTTP/1.1", Http),
            (b"GET /index.html", Maybe),
            (b"GET / ", Maybe),
            (b"GET / HTTP/1", Maybe),
            (b"GET / HTTP/1.0\r\n", Http),
            (b"POST /x?y=1 HTTP/1.1", Http),
            (b"GET / HTTP/2.0", NotHttp),
            (b" GET", NotHttp),
            (b"GET  /", NotHttp),
            (b"GET /\r\n", NotHttp),
            (b"can you hear me?", NotHttp),
            (b"hello\n", NotHttp),
            (b"hello", NotHttp),
            (b"a b", NotHttp),
            (b"GETTING", NotHttp),
            (b"get / HTTP/1.1", NotHttp),
            (b"BREW / HTTP/1.1", NotHttp),
            (b"\x16\x03\x01", NotHttp),
        ];
        for (input, want) in cases {
            assert_eq!(
                http_start(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// The reply server's framing: plain text is the whole input, HTTP is
    /// its header block.
    fn reply_frame(input: &[u8]) -> Frame {
        match http_start(input) {
            HttpStart::NotHttp => Frame::Complete(input.len()),
            HttpStart::Maybe => Frame::Partial,
            HttpStart::Http => http_head(input),
        }
    }

    #[test]
    fn http_request_split_anywhere_waits_for_its_head() {
        let requests: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
            b"HEAD /a HTTP/1.1\r\n\r\n",
            b"POST /form HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"PUT /x HTTP/1.1\r\n\r\n",
            b"DELETE /x HTTP/1.1\r\n\r\n",
            b"CONNECT h:443 HTTP/1.1\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\n\r\n",
            b"TRACE / HTTP/1.1\r\n\r\n",
            b"PATCH /x HTTP/1.1\n\n",
        ];
        for request in requests {
            let shown = String::from_utf8_lossy(request);
            for split in 0..request.len() {
                let prefix = &request[..split];
                assert_ne!(
                    http_start(prefix),
                    HttpStart::NotHttp,
                    "{shown:?} cut at {split}"
                );
                assert_eq!(
                    reply_frame(prefix),
                    Frame::Partial,
                    "{shown:?} cut at {split}"
                );
            }
            assert_eq!(http_start(request), HttpStart::Http, "{shown:?}");
            assert_eq!(
                reply_frame(request),
                Frame::Complete(request.len()),
                "{shown:?}"
            );
        }
    }

    #[test]
    fn plain_text_is_a_request_from_the_first_read() {
        for text in ["hello", "a b", "can you hear me?", "Yes", "x", "GET"] {
            for line in [format!("{text}\n"), format!("{text}\r\n"), text.to_string()] {
                let input = line.as_bytes();
                if input == b"GET" {
                    // Without its newline it could still be `GET `: it waits.
                    assert_eq!(reply_frame(input), Frame::Partial);
                    continue;
                }
                assert_eq!(http_start(input), HttpStart::NotHttp, "{line:?}");
                assert_eq!(reply_frame(input), Frame::Complete(input.len()), "{line:?}");
            }
        }
    }

    #[test]
    fn http_head_accepts_crlf_and_bare_lf() {
        assert_eq!(http_head(b"A\r\n\r\n"), Frame::Complete(5));
        assert_eq!(http_head(b"A\n\nB"), Frame::Complete(3));
        assert_eq!(http_head(b"A\r\n\r"), Frame::Partial);
    }

    #[test]
    fn length_prefixed_rejects_oversize() {
        assert_eq!(
            length_prefixed(b"\0\0\x10\0", 100),
            Frame::Invalid("length prefix over the limit")
        );
        assert_eq!(length_prefixed(b"\0\0\0", 100), Frame::Partial);
        assert_eq!(length_prefixed(b"\0\0\0\0", 100), Frame::Complete(4));
    }
}
