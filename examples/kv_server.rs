//! A tiny in-memory key-value store that speaks enough of the Redis protocol
//! (RESP2) for the real `redis-cli` and `redis-benchmark`, pipelining
//! included. The store is the server's shared state: a plain `HashMap`,
//! reached as `ctx.state()` with no lock, because one thread owns it.
//!
//! Run: `cargo run --release --example kv_server [ADDR]` (default
//! `127.0.0.1:6380`), then `redis-cli -p 6380 ping`, `redis-cli -p 6380 set k v`,
//! or `redis-benchmark -p 6380 -t set,get,ping -P 16 -q`.
//!
//! Commands: PING [msg], ECHO msg, GET key, SET key value, DEL key..., EXISTS
//! key..., INCR key, DBSIZE, QUIT; plus COMMAND (an empty array, for
//! `redis-cli`) and CONFIG GET (for `redis-benchmark`). Names are
//! case-insensitive.

use std::collections::HashMap;
use std::io::Write;

use log::{debug, info};
use twig::{After, Builder, Ctx, Frame, Protocol, Server, Violation};

/// The shared state: every key and its value, binary-safe.
pub type Store = HashMap<Vec<u8>, Vec<u8>>;

/// Largest request the server buffers (twig's `max_request_size`).
pub const MAX_REQUEST: usize = 1024 * 1024;
/// Largest bulk string (Redis allows 512 MiB; a toy store needs far less).
pub const MAX_BULK: usize = 512 * 1024;
/// Most arguments in one multibulk command.
pub const MAX_ARGS: usize = 1024;
/// Longest inline command line (Redis's own limit).
pub const MAX_INLINE: usize = 64 * 1024;

/// The server's limits: twig's defaults, with room for [`MAX_BULK`] values.
pub fn builder() -> Builder {
    Server::builder().max_request_size(MAX_REQUEST)
}

// ---- resp: framing and parsing RESP2 requests -------------------------------

/// Measures the command at the front of `input`: a multibulk array of bulk
/// strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or an inline line of words
/// (`GET k\r\n`). Malformed input is rejected as soon as a byte shows it.
pub fn frame_command(input: &[u8]) -> Frame {
    match walk(input, |_| {}) {
        Ok(Some(len)) => Frame::Complete(len),
        Ok(None) => Frame::Partial,
        Err(why) => Frame::Invalid(why),
    }
}

/// The arguments of a request [`frame_command`] measured as complete (the
/// command name first). Empty for an empty command.
pub fn parse_args(request: &[u8]) -> Vec<&[u8]> {
    let mut args = Vec::new();
    let _ = walk(request, |arg| args.push(arg));
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
fn parse_int(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = digits.first().is_some_and(|&d| d != b'0') || bytes == b"0";
    if !canonical || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

// ---- replies ---------------------------------------------------------------

/// A bulk string reply: `$<len>\r\n<bytes>\r\n`.
fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = write!(out, "${}\r\n", bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// An integer reply: `:<n>\r\n`.
fn integer(out: &mut Vec<u8>, n: i64) {
    let _ = write!(out, ":{n}\r\n");
}

/// Writes `bytes` into an error line, with CR, LF and other control bytes
/// blanked (a peer must not inject reply lines) and at most 128 bytes kept.
fn quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    let shown = &bytes[..bytes.len().min(128)];
    out.extend(shown.iter().map(|&b| if b < 0x20 { b' ' } else { b }));
}

/// Runs one command against the store, writing its RESP reply to `out`.
pub fn execute(args: &[&[u8]], store: &mut Store, out: &mut Vec<u8>) -> After {
    let Some((&name, rest)) = args.split_first() else {
        return After::KeepOpen; // an empty command: no reply, as in Redis
    };
    // Lower-case the name on the stack: no command we know is longer than 8.
    let mut lower = [0u8; 8];
    let known = name.len() <= lower.len();
    if known {
        lower[..name.len()].copy_from_slice(name);
        lower.make_ascii_lowercase();
    }
    let command = if known { &lower[..name.len()] } else { b"" };
    match (command, rest) {
        (b"ping", []) => out.extend_from_slice(b"+PONG\r\n"),
        (b"ping" | b"echo", [message]) => bulk(out, message),
        (b"get", [key]) => match store.get(*key) {
            Some(value) => bulk(out, value),
            None => out.extend_from_slice(b"$-1\r\n"),
        },
        (b"set", [key, value]) => {
            store.insert(key.to_vec(), value.to_vec());
            out.extend_from_slice(b"+OK\r\n");
        }
        (b"set", [_, _, ..]) => out.extend_from_slice(b"-ERR syntax error\r\n"),
        (b"del", [_, ..]) => {
            let deleted = rest.iter().filter(|key| store.remove(**key).is_some());
            integer(out, deleted.count() as i64);
        }
        (b"exists", [_, ..]) => {
            let found = rest.iter().filter(|key| store.contains_key(**key));
            integer(out, found.count() as i64);
        }
        (b"incr", [key]) => {
            let current = store.get(*key).map_or(Some(0), |v| parse_int(v));
            match current.map(|n| n.checked_add(1)) {
                None => out.extend_from_slice(b"-ERR value is not an integer or out of range\r\n"),
                Some(None) => {
                    out.extend_from_slice(b"-ERR increment or decrement would overflow\r\n")
                }
                Some(Some(n)) => {
                    store.insert(key.to_vec(), n.to_string().into_bytes());
                    integer(out, n);
                }
            }
        }
        (b"dbsize", []) => integer(out, store.len() as i64),
        // `redis-cli` asks for COMMAND DOCS to drive its hints: it copes with none.
        (b"command", _) => out.extend_from_slice(b"*0\r\n"),
        // `redis-benchmark` reads `save` and `appendonly` as [name, value] pairs.
        (b"config", [sub, param]) if sub.eq_ignore_ascii_case(b"get") => {
            let value: &[u8] = if param.eq_ignore_ascii_case(b"save") {
                b""
            } else if param.eq_ignore_ascii_case(b"appendonly") {
                b"no"
            } else {
                out.extend_from_slice(b"*0\r\n"); // no such parameter here
                return After::KeepOpen;
            };
            out.extend_from_slice(b"*2\r\n");
            bulk(out, param);
            bulk(out, value);
        }
        (b"config", _) => {
            out.extend_from_slice(b"-ERR only CONFIG GET <parameter> is supported\r\n")
        }
        (b"quit", _) => {
            out.extend_from_slice(b"+OK\r\n");
            return After::Close;
        }
        (b"ping" | b"echo" | b"get" | b"set" | b"del" | b"exists" | b"incr" | b"dbsize", _) => {
            out.extend_from_slice(b"-ERR wrong number of arguments for '");
            out.extend_from_slice(command); // lower-case, as Redis shows it
            out.extend_from_slice(b"' command\r\n");
        }
        _ => {
            out.extend_from_slice(b"-ERR unknown command '");
            quoted(out, name);
            out.extend_from_slice(b"'\r\n");
        }
    }
    After::KeepOpen
}

// ---- the protocol ----------------------------------------------------------

/// One value per connection: framing is [`frame_command`], answering is
/// [`execute`] on the shared [`Store`].
#[derive(Default)]
pub struct Kv {
    /// This connection's replies are built here, then copied to the socket's
    /// buffer: `ctx.state()` and `ctx.write` both borrow `ctx`, so a reply
    /// that quotes the store (GET) cannot be written straight from it.
    reply: Vec<u8>,
}

impl Protocol<Store> for Kv {
    fn frame(&mut self, input: &[u8]) -> Frame {
        frame_command(input)
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Store>) -> After {
        let after = execute(&parse_args(request), ctx.state(), &mut self.reply);
        ctx.write(&self.reply);
        self.reply.clear();
        if self.reply.capacity() > 64 * 1024 {
            self.reply = Vec::new(); // an idle connection keeps no big buffer
        }
        after
    }

    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, Store>) {
        debug!("{}: protocol error: {violation}", ctx.peer());
        let _ = match violation {
            Violation::Invalid(why) => write!(ctx, "-ERR Protocol error: {why}\r\n"),
            too_large => write!(ctx, "-ERR Protocol error: {too_large}\r\n"),
        };
    }
}

#[allow(dead_code)] // tests include this file for `Kv` only
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6380".into());
    if let Err(e) = serve(&addr) {
        eprintln!("kv_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let mut server = builder().timeouts_from_env().build(Store::new())?;
    let bound = server.listen(addr, Kv::default)?;
    server.stop_on_signals()?;
    info!(
        "serving keys on {bound}; try: redis-cli -h {} -p {} ping",
        bound.ip(),
        bound.port()
    );
    server.run()?;
    Ok(())
}
