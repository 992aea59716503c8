//! `Transfer-Encoding: chunked` request bodies: measured as the bytes
//! arrive (resuming where the last measurement stopped, so a body that
//! trickles in costs linear time), then decoded once complete.
//!
//! The grammar (RFC 9112 §7.1) is checked strictly where lenient parsers have
//! been used for request smuggling: every line ends in CRLF (a bare LF or CR
//! is refused), a chunk size has at least one hex digit, chunk data is
//! followed by exactly CRLF, and extensions hold no control characters.

use httparse::Status;

use super::Error;

/// Longest chunk-size line (size and extensions) accepted.
const MAX_LINE: usize = 1024;
/// Largest trailer section accepted (trailers are checked, then ignored).
const MAX_TRAILERS: usize = 8 * 1024;
/// Most trailer lines accepted.
const MAX_TRAILER_LINES: usize = 32;

/// How far a chunked body has been measured: every chunk before `pos` is
/// complete and valid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Offset, from the start of the body, of the next chunk-size line.
    pos: usize,
    /// Data bytes in the chunks before `pos`.
    data: u64,
}

impl Scan {
    /// Measures the chunked body at the start of `body`, continuing from the
    /// previous call (which must have seen a prefix of the same bytes).
    /// `Some(len)`: the encoded body is `len` bytes; `None`: wait for more.
    pub(crate) fn advance(&mut self, body: &[u8], max_data: usize) -> Result<Option<usize>, Error> {
        loop {
            let rest = &body[self.pos..];
            let Some((line, size)) = size_line(rest)? else {
                return Ok(None);
            };
            if size == 0 {
                return Ok(trailers(&rest[line..])?.map(|n| self.pos + line + n));
            }
            let data = self
                .data
                .checked_add(size)
                .filter(|&d| d <= max_data as u64)
                .ok_or(Error::BodyTooLarge)?;
            let end = line + size as usize; // size <= max_data: fits
            match rest.get(end..end + 2) {
                Some(b"\r\n") => {}
                Some(_) => return Err(Error::BadRequest("chunk data not followed by CRLF")),
                None if rest.get(end).is_some_and(|&b| b != b'\r') => {
                    return Err(Error::BadRequest("chunk data not followed by CRLF"));
                }
                None => return Ok(None),
            }
            self.pos += end + 2;
            self.data = data;
        }
    }
}

/// Parses a chunk-size line (`1a;name=value\r\n`): its length and the size.
fn size_line(rest: &[u8]) -> Result<Option<(usize, u64)>, Error> {
    let window = &rest[..rest.len().min(MAX_LINE)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if rest.len() >= MAX_LINE {
            Err(Error::BadRequest("chunk size line too long"))
        } else {
            Ok(None)
        };
    };
    if lf == 0 || rest[lf - 1] != b'\r' {
        return Err(Error::BadRequest("chunk size line not ended by CRLF"));
    }
    let line = &rest[..lf - 1];
    if !line.first().is_some_and(u8::is_ascii_hexdigit) {
        return Err(Error::BadRequest("invalid chunk size"));
    }
    if line.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(Error::BadRequest("control character in chunk size line"));
    }
    match httparse::parse_chunk_size(&rest[..=lf]) {
        Ok(Status::Complete((len, size))) => Ok(Some((len, size))),
        Ok(Status::Partial) | Err(_) => Err(Error::BadRequest("invalid chunk size")),
    }
}

/// Measures the trailer section after the last chunk, up to and including
/// its final blank line.
fn trailers(rest: &[u8]) -> Result<Option<usize>, Error> {
    if rest.starts_with(b"\r\n") {
        return Ok(Some(2)); // no trailers: the common case
    }
    let mut lines = [httparse::EMPTY_HEADER; MAX_TRAILER_LINES];
    match httparse::parse_headers(rest, &mut lines) {
        Ok(Status::Complete((len, _))) if len > MAX_TRAILERS => Err(Error::HeadTooLarge),
        Ok(Status::Complete((len, _))) => {
            let bare_lf = (0..len).any(|i| rest[i] == b'\n' && (i == 0 || rest[i - 1] != b'\r'));
            if bare_lf {
                Err(Error::BadRequest("trailer line not ended by CRLF"))
            } else {
                Ok(Some(len))
            }
        }
        Ok(Status::Partial) if rest.len() > MAX_TRAILERS => Err(Error::HeadTooLarge),
        Ok(Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders),
        Err(_) => Err(Error::BadRequest("invalid trailer")),
    }
}

/// Appends the data of a complete chunked body (one [`Scan::advance`]
/// accepted) to `out`.
pub(crate) fn decode(mut body: &[u8], out: &mut Vec<u8>) {
    while let Ok(Status::Complete((line, size))) = httparse::parse_chunk_size(body) {
        let Some(data) = usize::try_from(size)
            .ok()
            .filter(|&size| size > 0)
            .and_then(|size| body.get(line..line + size))
        else {
            return; // the last chunk
        };
        out.extend_from_slice(data);
        body = &body[(line + data.len() + 2).min(body.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(body: &[u8]) -> Result<Option<usize>, Error> {
        Scan::default().advance(body, 1 << 20)
    }

    #[test]
    fn measures_and_decodes() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\nNEXT";
        assert_eq!(measure(body), Ok(Some(body.len() - 4)));
        let mut out = Vec::new();
        decode(body, &mut out);
        assert_eq!(out, b"Wikipedia");
    }

    #[test]
    fn trailers_are_measured() {
        let body = b"1\r\na\r\n0\r\nX-Sum: 1\r\n\r\n";
        assert_eq!(measure(body), Ok(Some(body.len())));
    }

    #[test]
    fn every_prefix_waits_and_resuming_gives_the_same_answer() {
        let body = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
        let mut scan = Scan::default();
        for end in 0..body.len() {
            assert_eq!(
                scan.advance(&body[..end], 1 << 20),
                Ok(None),
                "prefix {end}"
            );
        }
        assert_eq!(scan.advance(body, 1 << 20), Ok(Some(body.len())));
    }

    #[test]
    fn refuses_smuggling_shapes() {
        let bad: &[&[u8]] = &[
            b"\r\n",                    // empty size
            b"x\r\n",                   // not hex
            b"-1\r\n",                  // negative
            b"1\nA\r\n0\r\n\r\n",       // bare LF after the size
            b"1\rA\r\n0\r\n\r\n",       // bare CR
            b"1\r\nAB\r\n0\r\n\r\n",    // data longer than the size
            b"1;a\x00b\r\nA\r\n",       // NUL in an extension
            b"1;a\nb\r\nA\r\n",         // LF inside an extension
            b"0\r\n\n",                 // bare LF ends the trailers
            b"fffffffffffffffff\r\n",   // 17 hex digits: overflow
            b"0\r\nbad header\r\n\r\n", // invalid trailer
        ];
        for body in bad {
            assert!(
                matches!(measure(body), Err(Error::BadRequest(_))),
                "{:?} gave {:?}",
                String::from_utf8_lossy(body),
                measure(body)
            );
        }
    }

    #[test]
    fn refuses_data_over_the_limit_before_it_arrives() {
        let mut scan = Scan::default();
        assert_eq!(scan.advance(b"5\r\nab", 8), Ok(None));
        assert_eq!(
            scan.advance(b"5\r\nabcde\r\n4\r\n", 8),
            Err(Error::BodyTooLarge)
        );
    }
}
