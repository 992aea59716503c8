//! Telling a plain HTTP request from a TLS ClientHello by its first bytes,
//! as nginx does, so a client that typed `http://` for an `https://` port
//! is told so in plaintext instead of getting a TLS alert it cannot read.

/// What the first bytes say, so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// Uppercase letters so far (this many): an HTTP method may follow.
    Undecided(u8),
    /// Not plain HTTP: a TLS record (or garbage, which rustls will refuse
    /// with an alert).
    Tls,
    /// An HTTP method and a space: plain HTTP.
    Http,
}

/// Longest method looked for (`OPTIONS`, `CONNECT`: 7 letters).
const MAX_METHOD: u8 = 7;

impl Sniff {
    /// Nothing seen yet.
    pub(crate) const START: Sniff = Sniff::Undecided(0);

    /// The verdict after `bytes` more.
    pub(crate) fn feed(mut self, bytes: &[u8]) -> Sniff {
        for &byte in bytes {
            let Sniff::Undecided(letters) = self else {
                return self;
            };
            self = match byte {
                b'A'..=b'Z' if letters < MAX_METHOD => Sniff::Undecided(letters + 1),
                b' ' if letters >= 3 => Sniff::Http, // GET, PUT: three at least
                _ => Sniff::Tls,
            };
        }
        self
    }
}

/// The answer to plain HTTP on a TLS port, sent in plaintext before the
/// connection closes.
pub(crate) const PLAIN_HTTP_REPLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain\r\n\
Content-Length: 73\r\n\
Connection: close\r\n\
\r\n\
This is a TLS port: the plain HTTP request was sent to an https:// port.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_methods_are_recognised_in_any_chunking() {
        for request in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"OPTIONS * HTTP/1.1",
            b"POST /x",
        ] {
            for cut in 0..request.len() {
                let (a, b) = request.split_at(cut);
                assert_eq!(Sniff::START.feed(a).feed(b), Sniff::Http, "{request:?}");
            }
        }
    }

    #[test]
    fn tls_records_and_garbage_are_left_to_rustls() {
        assert_eq!(Sniff::START.feed(&[0x16, 3, 1]), Sniff::Tls);
        assert_eq!(Sniff::START.feed(b"\x80\x2e\x01"), Sniff::Tls); // SSLv2 hello
        assert_eq!(Sniff::START.feed(b"hello"), Sniff::Tls);
        assert_eq!(Sniff::START.feed(b"ABCDEFGH "), Sniff::Tls);
        assert_eq!(Sniff::START.feed(b"GE"), Sniff::Undecided(2));
    }

    #[test]
    fn the_reply_length_is_right() {
        let text = std::str::from_utf8(PLAIN_HTTP_REPLY).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
