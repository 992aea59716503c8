//! RESP2 on the wire: cutting one request off the input and reading its
//! arguments ([`frame_command`], [`for_each_arg`]), and writing replies.
//! Depends on nothing but `twig::Frame`, so the fuzz target includes this
//! file by path (`fuzz/fuzz_targets/resp.rs`).

use twig::Frame;

/// Largest bulk string (Redis allows 512 MiB; a toy store needs far less).
pub const MAX_BULK: usize = 512 * 1024;
/// Most arguments in one multibulk command.
pub const MAX_ARGS: usize = 1024;
/// Longest inline command line (Redis's own limit).
pub const MAX_INLINE: usize = 64 * 1024;

/// Measures the command at the front of `input`: a multibulk array of bulk
/// strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or an inline line of words
/// (`GET k\r\n`). Malformed input is rejected as soon as a byte shows it.
/// Nothing is allocated: a bulk length only says how far to look.
pub fn frame_command(input: &[u8]) -> Frame {
    match walk(input, |_| {}) {
        Ok(Some(len)) => Frame::Complete(len),
        Ok(None) => Frame::Partial,
        Err(why) => Frame::Invalid(why),
    }
}

/// Hands each argument of a request [`frame_command`] measured as complete
/// to `arg`, the command name first (none for an empty command).
pub fn for_each_arg<'a>(request: &'a [u8], arg: impl FnMut(&'a [u8])) {
    let _ = walk(request, arg);
}

/// The arguments of a complete request, collected (for tests and fuzzing;
/// the server uses [`for_each_arg`] into a reused buffer).
pub fn parse_args(request: &[u8]) -> Vec<&[u8]> {
    let mut args = Vec::new();
    for_each_arg(request, |arg| args.push(arg));
    args
}

/// The one RESP2 parser: walks the command at the front of `input`, handing
/// each argument to `arg`. `Ok(Some(len))`: complete, `len` bytes long;
/// `Ok(None)`: every byte so far fits, more are needed; `Err`: invalid.
fn walk<'a>(input: &'a [u8], arg: impl FnMut(&'a [u8])) -> Result<Option<usize>, &'static str> {
    match input.first() {
        None => Ok(None),
        Some(b'*') => walk_multibulk(input, arg),
        Some(_) => walk_inline(input, arg),
    }
}

/// `*<count>\r\n` then `count` bulk strings, each `$<len>\r\n<bytes>\r\n`.
fn walk_multibulk<'a>(
    input: &'a [u8],
    mut arg: impl FnMut(&'a [u8]),
) -> Result<Option<usize>, &'static str> {
    const BAD_COUNT: &str = "invalid multibulk length";
    let Some((count, mut at)) = number(input, 1, BAD_COUNT)? else {
        return Ok(None);
    };
    // `*0` and the null array `*-1` hold no command: Redis skips them without
    // a reply, and so do we. Other negative counts mean nothing: invalid.
    if count == 0 || count == -1 {
        return Ok(Some(at));
    }
    if !(1..=MAX_ARGS as i64).contains(&count) {
        return Err(BAD_COUNT);
    }
    for _ in 0..count {
        match input.get(at) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(_) => return Err("expected '$'"),
        }
        let Some((len, start)) = number(input, at + 1, "invalid bulk length")? else {
            return Ok(None);
        };
        if !(0..=MAX_BULK as i64).contains(&len) {
            return Err("invalid bulk length");
        }
        let end = start + len as usize; // no overflow: both are small
        // The CRLF after the bytes, checked as far as it has arrived.
        let tail = input.get(end..).unwrap_or_default();
        let seen = tail.len().min(2);
        if tail[..seen] != b"\r\n"[..seen] {
            return Err("bulk string not followed by CRLF");
        }
        if seen < 2 {
            return Ok(None);
        }
        arg(&input[start..end]);
        at = end + 2;
    }
    Ok(Some(at))
}

/// A decimal integer starting at `input[at]`, ended by CRLF: the value and
/// the position after the CRLF. At most 18 digits, so it cannot overflow.
fn number(
    input: &[u8],
    at: usize,
    bad: &'static str,
) -> Result<Option<(i64, usize)>, &'static str> {
    let (mut value, mut digits, mut negative) = (0i64, 0, false);
    for (i, &b) in input.iter().enumerate().skip(at) {
        match b {
            b'-' if i == at => negative = true,
            b'0'..=b'9' if digits < 18 => {
                value = value * 10 + i64::from(b - b'0');
                digits += 1;
            }
            b'\r' if digits > 0 => {
                return match input.get(i + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some((if negative { -value } else { value }, i + 2))),
                    Some(_) => Err(bad),
                };
            }
            _ => return Err(bad),
        }
    }
    Ok(None)
}

/// An inline command: text words separated by spaces or tabs, ended by `\n`
/// or `\r\n`. Quotes are not interpreted (Redis's are). Control bytes cannot
/// be typed, so they mean binary garbage (a TLS hello, say): invalid at once
/// rather than waiting for a newline that may never come.
fn walk_inline<'a>(
    input: &'a [u8],
    mut arg: impl FnMut(&'a [u8]),
) -> Result<Option<usize>, &'static str> {
    for (i, &b) in input.iter().enumerate().take(MAX_INLINE) {
        match b {
            b'\n' => {
                let line = input[..i].strip_suffix(b"\r").unwrap_or(&input[..i]);
                line.split(|&b| b == b' ' || b == b'\t')
                    .filter(|word| !word.is_empty())
                    .for_each(&mut arg);
                return Ok(Some(i + 1));
            }
            b'\r' if input.get(i + 1).is_some_and(|&next| next != b'\n') => {
                return Err("'\\r' without '\\n' in inline command");
            }
            b'\t' | b'\r' => {}
            0..=0x1f | 0x7f => return Err("binary data in inline command"),
            _ => {}
        }
    }
    if input.len() >= MAX_INLINE {
        Err("too big inline request")
    } else {
        Ok(None)
    }
}

/// An integer as Redis reads one: optional `-`, digits, no leading zero, no
/// `+`, no spaces, within `i64`.
pub fn parse_int(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = digits.first().is_some_and(|&d| d != b'0') || bytes == b"0";
    if !canonical || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

// ---- replies ---------------------------------------------------------------

/// `<prefix><n>\r\n`, formatted without `fmt` (this is every reply's hot path).
fn header(out: &mut Vec<u8>, prefix: u8, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push(prefix);
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// A bulk string reply: `$<len>\r\n<bytes>\r\n`.
pub fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    header(out, b'$', bytes.len() as i64);
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// The null bulk string: a missing value.
pub fn nil(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// An integer reply: `:<n>\r\n`.
pub fn integer(out: &mut Vec<u8>, n: i64) {
    header(out, b':', n);
}

/// An array header: `*<len>\r\n`, then `len` replies follow (`-1`: the
/// null array).
pub fn array(out: &mut Vec<u8>, len: i64) {
    header(out, b'*', len);
}

/// A status reply: `+<text>\r\n`.
pub fn simple(out: &mut Vec<u8>, text: &str) {
    out.push(b'+');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// An error reply: `-<text>\r\n` (the text starts with its code: `ERR ...`).
pub fn error(out: &mut Vec<u8>, text: &str) {
    out.push(b'-');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends peer bytes to an error line as Redis does: CR and LF become
/// spaces (a peer must not inject reply lines), at most `max` bytes.
pub fn quoted(out: &mut Vec<u8>, bytes: &[u8], max: usize) {
    let shown = &bytes[..bytes.len().min(max)];
    out.extend(
        shown
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}
