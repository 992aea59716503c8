//! `parse` on whole headers, on every prefix of them, on what is not a
//! header, and (proptest) on generated and mutated headers against the
//! contract the connection driver relies on.

use super::*;

use std::net::SocketAddr;

use ppp::PartialResult;
use ppp::v2::{AddressFamily, Builder, Protocol, Type, Unix, Version};

/// The contract, on one input (the fuzz target `proxy_header` checks the
/// same): a header's `len` lies within the input and MAX_HEADER; its first
/// `len` bytes alone give the same answer, and every shorter prefix gives
/// Incomplete; any settled answer on a prefix is the answer on the whole;
/// and MAX_HEADER bytes are always enough to decide.
fn check_contract(input: &[u8]) {
    let whole = parse(input);
    if let Parsed::Proxied { len, .. } | Parsed::Local { len } = whole {
        assert!(
            0 < len && len <= input.len() && len <= MAX_HEADER,
            "{whole:?}"
        );
        assert_eq!(parse(&input[..len]), whole);
        for end in 0..len {
            assert_eq!(
                parse(&input[..end]),
                Parsed::Incomplete,
                "first {end} bytes"
            );
        }
    }
    for end in 0..input.len() {
        let prefix = parse(&input[..end]);
        if prefix != Parsed::Incomplete {
            assert_eq!(prefix, whole, "first {end} of {} bytes", input.len());
        }
    }
    if input.len() >= MAX_HEADER {
        assert_ne!(whole, Parsed::Incomplete);
    }
}

/// A socket address from its text.
fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// What a header of `len` bytes naming these addresses gives.
fn proxied(len: usize, source: &str, destination: &str) -> Parsed {
    Parsed::Proxied {
        len,
        source: addr(source),
        destination: addr(destination),
    }
}

/// A v2 PROXY header over TCP for these addresses, with these TLVs.
fn v2(source: &str, destination: &str, tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut builder = Builder::with_addresses(
        Version::Two | ppp::v2::Command::Proxy,
        Protocol::Stream,
        (addr(source), addr(destination)),
    );
    for &(kind, value) in tlvs {
        builder = builder.write_tlv(kind, value).unwrap();
    }
    builder.build().unwrap()
}

/// A v2 LOCAL header, as HAProxy sends for a health check.
fn v2_local() -> Vec<u8> {
    Builder::new(
        Version::Two | ppp::v2::Command::Local,
        AddressFamily::Unspecified | Protocol::Unspecified,
    )
    .build()
    .unwrap()
}

/// A v2 PROXY header over AF_UNIX stream sockets.
fn v2_unix() -> Vec<u8> {
    let mut path = [0u8; 108];
    path[..14].copy_from_slice(b"/run/proxy.sok");
    let addresses = ppp::v2::Addresses::Unix(Unix::new(path, path));
    Builder::with_addresses(
        Version::Two | ppp::v2::Command::Proxy,
        Protocol::Stream,
        addresses,
    )
    .build()
    .unwrap()
}

/// The 16 fixed bytes of a v2 header, by hand (for what Builder won't make).
fn v2_fixed(version_command: u8, family_transport: u8, length: u16) -> Vec<u8> {
    let mut bytes = V2_SIGNATURE.to_vec();
    bytes.extend([version_command, family_transport]);
    bytes.extend(length.to_be_bytes());
    bytes
}

/// A v1 TCP4 line.
const TCP4: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
/// A v1 TCP6 line.
const TCP6: &[u8] = b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n";
/// The start of a TLS ClientHello record: what a client behind no proxy sends first.
const TLS_HELLO: &[u8] = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

/// Whole valid headers and what they give.
fn valid() -> Vec<(Vec<u8>, Parsed)> {
    let v4 = v2("192.0.2.1:56324", "198.51.100.2:443", &[]);
    let v4_tlvs = v2(
        "192.0.2.1:56324",
        "198.51.100.2:443",
        &[
            (Type::ALPN.into(), b"h2"),
            (Type::Authority.into(), b"example.com"),
            (0xE0, b""),
        ],
    );
    let v6 = v2("[2001:db8::1]:56324", "[2001:db8::2]:443", &[]);
    let v6_tlvs = v2(
        "[2001:db8::1]:56324",
        "[2001:db8::2]:443",
        &[(Type::NoOp.into(), &[0; 9])],
    );
    let mut unspec = v2_fixed(0x21, 0x00, 3);
    unspec.extend([1, 2, 3]); // PROXY, UNSPEC: address bytes are ignored
    let unknown_addrs = b"PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n".to_vec();
    let mut longest_v1 = b"PROXY UNKNOWN ".to_vec();
    longest_v1.resize(MAX_V1 - 2, b'x');
    longest_v1.extend(b"\r\n");
    let mut longest_v2 = v2_fixed(0x21, 0x11, (MAX_HEADER - V2_FIXED) as u16);
    longest_v2.extend([192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb]);
    longest_v2.push(Type::NoOp.into()); // one TLV fills the rest
    longest_v2.extend(((MAX_HEADER - V2_FIXED - 12 - 3) as u16).to_be_bytes());
    longest_v2.resize(MAX_HEADER, 0);
    let v4_len = v4.len();
    vec![
        (
            TCP4.to_vec(),
            proxied(TCP4.len(), "192.0.2.1:56324", "198.51.100.2:443"),
        ),
        (
            TCP6.to_vec(),
            proxied(TCP6.len(), "[2001:db8::1]:56324", "[2001:db8::2]:443"),
        ),
        (b"PROXY UNKNOWN\r\n".to_vec(), Parsed::Local { len: 15 }),
        (
            unknown_addrs.clone(),
            Parsed::Local {
                len: unknown_addrs.len(),
            },
        ),
        (longest_v1, Parsed::Local { len: MAX_V1 }),
        (v4, proxied(v4_len, "192.0.2.1:56324", "198.51.100.2:443")),
        (
            v4_tlvs.clone(),
            proxied(v4_tlvs.len(), "192.0.2.1:56324", "198.51.100.2:443"),
        ),
        (
            v6.clone(),
            proxied(v6.len(), "[2001:db8::1]:56324", "[2001:db8::2]:443"),
        ),
        (
            v6_tlvs.clone(),
            proxied(v6_tlvs.len(), "[2001:db8::1]:56324", "[2001:db8::2]:443"),
        ),
        (v2_local(), Parsed::Local { len: 16 }),
        (v2_unix(), Parsed::Local { len: 16 + 216 }),
        (unspec, Parsed::Local { len: 19 }),
        (
            longest_v2,
            proxied(MAX_HEADER, "192.0.2.1:56324", "198.51.100.2:443"),
        ),
    ]
}

/// Each valid header alone.
#[test]
fn valid_headers() {
    for (header, expected) in valid() {
        assert_eq!(parse(&header), expected, "{header:?}");
    }
}

/// Payload in the same segment is not part of `len`.
#[test]
fn valid_headers_with_payload_after() {
    for (header, expected) in valid() {
        for payload in [
            TLS_HELLO,
            b"GET / HTTP/1.1\r\n\r\n",
            b"\r\n",
            b"PROXY UNKNOWN\r\n",
        ] {
            let input = [&header[..], payload].concat();
            assert_eq!(parse(&input), expected, "{input:?}");
        }
    }
}

/// Split at every byte offset: nothing settles before the last byte.
#[test]
fn every_prefix_of_a_valid_header_is_incomplete() {
    for (header, expected) in valid() {
        for end in 0..header.len() {
            assert_eq!(
                parse(&header[..end]),
                Parsed::Incomplete,
                "{:?}",
                &header[..end]
            );
        }
        assert_eq!(parse(&header), expected);
        check_contract(&[&header[..], TLS_HELLO].concat());
    }
}

/// The ppp quirk `parse_v1` works around.
#[test]
fn v1_line_cut_after_a_field_is_incomplete() {
    // ppp alone calls this final (the empty last port is a bad port); it is
    // a prefix of TCP4, which is why parse_v1 waits for the CRLF.
    let cut = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 ";
    let alone = ppp::v1::Header::try_from(&cut[..]);
    assert!(alone.is_err() && alone.is_complete(), "{alone:?}");
    assert_eq!(parse(cut), Parsed::Incomplete);
    // A UTF-8 sequence cut in an UNKNOWN line's ignored tail, likewise.
    let line = "PROXY UNKNOWN é\r\n".as_bytes();
    assert_eq!(parse(&line[..15]), Parsed::Incomplete);
    assert_eq!(parse(line), Parsed::Local { len: line.len() });
}

/// What is refused, and the reason given.
#[test]
fn invalid() {
    let no_header = Parsed::Invalid("no PROXY header");
    let too_long = Parsed::Invalid("header too long");
    let v1 = Parsed::Invalid("malformed PROXY v1 header");
    let no_crlf = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 93]].concat(); // 107 bytes
    let cr_too_late = [&no_crlf[..MAX_V1 - 1], b"\r\n"].concat(); // a 108-byte line
    let mut bad_tlv = v2("192.0.2.1:1", "192.0.2.2:2", &[(Type::NoOp.into(), b"abc")]);
    let last = bad_tlv.len() - 4;
    bad_tlv[last] = 9; // the TLV's length now overruns the header
    let cases: Vec<(Vec<u8>, Parsed)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), no_header.clone()),
        (b"G".to_vec(), no_header.clone()),
        (TLS_HELLO[..1].to_vec(), no_header.clone()),
        (TLS_HELLO.to_vec(), no_header.clone()),
        (b"PROX\r".to_vec(), no_header.clone()),
        (b"PROXYX".to_vec(), no_header.clone()),
        (b"proxy TCP4".to_vec(), no_header.clone()),
        (b"\r\n\r\n\0\r\nQUIX".to_vec(), no_header.clone()),
        (b"\r\nGET".to_vec(), no_header.clone()),
        (no_crlf[..MAX_V1 - 1].to_vec(), too_long.clone()),
        (no_crlf.clone(), too_long.clone()),
        (cr_too_late, too_long.clone()),
        (b"PROXY TCP4 192.0.2.1\r\n".to_vec(), v1.clone()),
        (
            b"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n".to_vec(),
            v1.clone(),
        ),
        (
            b"PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n".to_vec(),
            v1.clone(),
        ),
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n".to_vec(),
            v1.clone(),
        ),
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX".to_vec(),
            v1.clone(),
        ),
        (b"PROXY UNKNOWN\rX".to_vec(), v1.clone()),
        (b"PROXY  UNKNOWN\r\n".to_vec(), v1.clone()),
        (b"PROXY UNKNOWN \xff\r\n".to_vec(), v1),
        (
            v2_fixed(0x21, 0x11, (MAX_HEADER - V2_FIXED + 1) as u16),
            too_long.clone(),
        ),
        (v2_fixed(0x21, 0x11, u16::MAX), too_long),
        (
            v2_fixed(0x11, 0x11, 12),
            Parsed::Invalid("unsupported PROXY v2 version"),
        ),
        (
            v2_fixed(0x31, 0x11, 12),
            Parsed::Invalid("unsupported PROXY v2 version"),
        ),
        (
            v2_fixed(0x22, 0x11, 12),
            Parsed::Invalid("unknown PROXY v2 command"),
        ),
        (
            v2_fixed(0x21, 0x41, 12),
            Parsed::Invalid("unknown PROXY v2 address family or transport"),
        ),
        (
            v2_fixed(0x21, 0x13, 12),
            Parsed::Invalid("unknown PROXY v2 address family or transport"),
        ),
        (
            v2_fixed(0x21, 0x11, 11),
            Parsed::Invalid("PROXY v2 length too short for its addresses"),
        ),
        (
            v2_fixed(0x21, 0x21, 12),
            Parsed::Invalid("PROXY v2 length too short for its addresses"),
        ),
        (bad_tlv, Parsed::Invalid("malformed PROXY v2 TLV")),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(&input), expected, "{input:?}");
        check_contract(&input);
    }
}

/// Bytes that may still become a header wait for more.
#[test]
fn prefixes_of_either_form_are_incomplete() {
    for input in [
        &b""[..],
        b"P",
        b"PROXY",
        b"PROXY ",
        b"PROXY TCP4 1",
        b"PROXY UNKNOWN\r",
        b"\r",
    ] {
        assert_eq!(parse(input), Parsed::Incomplete, "{input:?}");
    }
    for end in 1..V2_FIXED {
        assert_eq!(parse(&v2_local()[..end]), Parsed::Incomplete);
    }
    // 104 bytes with no CR yet: the line may still end at 106.
    assert_eq!(
        parse(&[b"PROXY ".as_slice(), &[b'x'; 98]].concat()),
        Parsed::Incomplete
    );
}

#[path = "tests/props.rs"]
mod props;
