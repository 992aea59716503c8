//! The PROXY protocol header a load balancer puts in front of a connection.
//!
//! A proxy that relays TCP (HAProxy, an AWS NLB, Envoy...) hides the
//! client: the server's socket peer is the proxy. The PROXY protocol
//! (<https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>) has the
//! proxy send, before any byte of the client's, one header naming the client
//! and the address it connected to. It comes in two forms:
//!
//! - v1, one text line: `PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n`
//!   (or `TCP6`, or `UNKNOWN` for a client it cannot name), at most 107
//!   bytes with the CRLF;
//! - v2, binary: a 12-byte signature, a version/command byte (LOCAL, the
//!   proxy's own health check, or PROXY), a family/transport byte, a
//!   big-endian u16 length, then that many bytes of addresses and TLVs.
//!
//! [`parse`] looks at the bytes the connection driver peeked
//! (`recv(MSG_PEEK)`) and says whether they are a whole header, the start
//! of one, or not one. It consumes nothing: the driver reads exactly
//! [`Parsed::Proxied`]'s or [`Parsed::Local`]'s `len` off the socket, so the
//! payload that may follow in the same segment (a TLS ClientHello, an HTTP
//! request) stays in the kernel for the next layer, which reads the socket
//! itself. The parsing proper is the `ppp` crate's; this module only decides
//! which of its answers are final on partial input, and enforces the limits.
//!
//! # Limits
//! A header is required: bytes that cannot start one are [`Parsed::Invalid`]
//! as soon as they differ from both the v1 prefix and the v2 signature (one
//! byte is enough for most). A v1 line is at most 107 bytes; a v2 header at
//! most [`MAX_HEADER`] bytes in all (its length field allows 65,551), refused
//! as soon as its length field is seen. TLVs are checked for shape and
//! otherwise ignored.

use std::net::SocketAddr;

use ppp::v2::{Addresses, Command, ParseError};

// The explicit path is the default one, spelled out so that the fuzz target,
// which includes this file by path, resolves it too (rustfmt follows it).
#[cfg(test)]
#[path = "proxy_header/tests.rs"]
mod tests;

/// What the bytes peeked at the start of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Not enough bytes yet to decide: peek again when more arrive.
    Incomplete,
    /// A header of `len` bytes (read exactly that many off the socket; what
    /// follows is payload) naming the client (`source`) and the address it
    /// connected to (`destination`).
    Proxied {
        /// The header's length in bytes.
        len: usize,
        /// The client, as the proxy saw it.
        source: SocketAddr,
        /// The address the client connected to, on the proxy.
        destination: SocketAddr,
    },
    /// A header of `len` bytes that names no client: v2 LOCAL (a proxy's
    /// health check), v1 `UNKNOWN`, or a v2 PROXY with an address family
    /// other than IPv4/IPv6 (AF_UNIX, UNSPEC). The connection keeps its
    /// socket peer.
    Local {
        /// The header's length in bytes.
        len: usize,
    },
    /// Not a valid header (missing, malformed, or longer than
    /// [`MAX_HEADER`]): the connection is closed. The text says why, for one
    /// debug log line.
    Invalid(&'static str),
}

/// The longest header accepted, in bytes. A v1 line is at most 107; a v2
/// header's length field allows 16 + 65,535, but real ones carry addresses
/// and a few TLVs, so 4 KiB bounds what a peer can make the driver buffer
/// (and peek again) before it has said anything.
pub(crate) const MAX_HEADER: usize = 4096;

/// The longest v1 line, CRLF included (the spec's figure).
const MAX_V1: usize = 107;

/// How every v1 header starts (ppp's `PROTOCOL_PREFIX` lacks the space,
/// which is part of what tells a header from, say, `PROXYFOO`).
const V1_PREFIX: &[u8] = b"PROXY ";

/// How every v2 header starts: the 12-byte signature.
const V2_SIGNATURE: &[u8] = ppp::v2::PROTOCOL_PREFIX;

/// The fixed part of a v2 header: signature, version/command,
/// family/transport, length.
const V2_FIXED: usize = 16;

/// Decides what the bytes peeked at the start of a connection are (see the
/// module doc). Pure: the same bytes give the same answer, and a prefix of
/// the input gives either [`Parsed::Incomplete`] or the same answer.
pub(crate) fn parse(peeked: &[u8]) -> Parsed {
    // The first byte already tells the two forms apart ('P' or '\r'), and
    // nearly everything else (a TLS record's 0x16, an HTTP method) from both.
    if is_prefix_either_way(peeked, V1_PREFIX) {
        parse_v1(peeked)
    } else if is_prefix_either_way(peeked, V2_SIGNATURE) {
        parse_v2(peeked)
    } else {
        Parsed::Invalid("no PROXY header")
    }
}

/// Whether `peeked` and `expected` agree on the bytes both have.
fn is_prefix_either_way(peeked: &[u8], expected: &[u8]) -> bool {
    let n = peeked.len().min(expected.len());
    peeked[..n] == expected[..n]
}

/// A v1 header: ppp parses the line, but only once the whole line is here.
///
/// Why not hand it partial input: ppp's v1 parser gives final errors on some
/// prefixes of valid lines (`... 56324 ` with the last port not yet there is
/// `InvalidDestinationPort`; a UTF-8 sequence cut at the end is
/// `InvalidUtf8`), and "incomplete" ones (`MissingNewLine`, `Missing...`)
/// on some whole but malformed lines. Given only complete lines, every error
/// it returns is final. A v1 line comes in one write from the proxy, so
/// waiting for its CRLF costs nothing in practice.
fn parse_v1(peeked: &[u8]) -> Parsed {
    // The line ends at its first CR (ppp cuts there too), which must leave
    // room for the LF within MAX_V1.
    let window = &peeked[..peeked.len().min(MAX_V1 - 1)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        return if peeked.len() >= MAX_V1 - 1 {
            // No CR in the first 106 bytes: the line would be over 107.
            Parsed::Invalid("header too long")
        } else {
            Parsed::Incomplete
        };
    };
    let len = cr + 2;
    if peeked.len() < len {
        return Parsed::Incomplete;
    }
    match ppp::v1::Header::try_from(&peeked[..len]) {
        Ok(header) => match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => Parsed::Proxied {
                len,
                source: (a.source_address, a.source_port).into(),
                destination: (a.destination_address, a.destination_port).into(),
            },
            ppp::v1::Addresses::Tcp6(a) => Parsed::Proxied {
                len,
                source: (a.source_address, a.source_port).into(),
                destination: (a.destination_address, a.destination_port).into(),
            },
            ppp::v1::Addresses::Unknown => Parsed::Local { len },
        },
        Err(_) => Parsed::Invalid("malformed PROXY v1 header"),
    }
}

/// A v2 header: ppp parses it as soon as the fixed 16 bytes are here, and
/// its errors on those are final; only "the rest is not here yet" is not.
fn parse_v2(peeked: &[u8]) -> Parsed {
    if peeked.len() < V2_FIXED {
        // Below 16 bytes ppp only says Incomplete (or Prefix, ruled out).
        return Parsed::Incomplete;
    }
    let header = match ppp::v2::Header::try_from(peeked) {
        Ok(header) => header,
        // ppp waits for the whole declared length; refuse an oversized one
        // now rather than buffer up to 64 KiB for it.
        Err(ParseError::Partial(_, declared)) if V2_FIXED + declared > MAX_HEADER => {
            return Parsed::Invalid("header too long");
        }
        Err(ParseError::Partial(..) | ParseError::Incomplete(_)) => return Parsed::Incomplete,
        Err(error) => return Parsed::Invalid(v2_error(&error)),
    };
    // ppp's header is exactly 16 + the declared length, whatever follows it.
    let len = header.len();
    if len > MAX_HEADER {
        // All of an oversized header arrived at once: the same answer as
        // when only its first 16 bytes had.
        return Parsed::Invalid("header too long");
    }
    // LOCAL: the spec says discard the block, family and all.
    if header.command == Command::Local {
        return Parsed::Local { len };
    }
    // ppp leaves TLVs to an iterator; walk it so that a TLV overrunning the
    // header (a broken or hostile sender) is refused, not trusted.
    if header.tlvs().any(|tlv| tlv.is_err()) {
        return Parsed::Invalid("malformed PROXY v2 TLV");
    }
    match header.addresses {
        Addresses::IPv4(a) => Parsed::Proxied {
            len,
            source: (a.source_address, a.source_port).into(),
            destination: (a.destination_address, a.destination_port).into(),
        },
        Addresses::IPv6(a) => Parsed::Proxied {
            len,
            source: (a.source_address, a.source_port).into(),
            destination: (a.destination_address, a.destination_port).into(),
        },
        // AF_UNIX and UNSPEC name no TCP client: keep the socket peer.
        Addresses::Unix(_) | Addresses::Unspecified => Parsed::Local { len },
    }
}

/// The log text for one of ppp's final v2 errors.
fn v2_error(error: &ParseError) -> &'static str {
    match error {
        ParseError::Version(_) => "unsupported PROXY v2 version",
        ParseError::Command(_) => "unknown PROXY v2 command",
        ParseError::AddressFamily(_) | ParseError::Protocol(_) => {
            "unknown PROXY v2 address family or transport"
        }
        ParseError::InvalidAddresses(..) => "PROXY v2 length too short for its addresses",
        _ => "malformed PROXY v2 header",
    }
}
