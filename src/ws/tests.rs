//! The frame codec and the UTF-8 stream validator, as tables.

use super::codec::{self, Header, Opcode, Parsed, parse};
use super::utf8::Utf8Stream;

/// A masked client frame: `b0`, then `payload` under the mask 1 2 3 4.
fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1, 2, 3, 4];
    let mut out = vec![b0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    codec::unmask_into(payload, mask, &mut out);
    out
}

fn refused(code: u16) -> impl Fn(Parsed) -> bool {
    move |p| matches!(p, Parsed::Refused(r) if r.code == code)
}

#[test]
fn frame_headers_parse_as_the_table_says() {
    let header = |fin, opcode, header_len, payload_len| {
        Parsed::Header(Header {
            fin,
            opcode,
            mask: [1, 2, 3, 4],
            header_len,
            payload_len,
        })
    };
    let long = vec![b'x'; 300];
    let cases: Vec<(&str, Vec<u8>, Parsed)> = vec![
        (
            "text",
            client(0x81, b"hi"),
            header(true, Opcode::Text, 6, 2),
        ),
        (
            "binary",
            client(0x82, b""),
            header(true, Opcode::Binary, 6, 0),
        ),
        (
            "first fragment",
            client(0x01, b"a"),
            header(false, Opcode::Text, 6, 1),
        ),
        (
            "continuation",
            client(0x80, b"a"),
            header(true, Opcode::Continuation, 6, 1),
        ),
        (
            "16-bit length",
            client(0x82, &long),
            header(true, Opcode::Binary, 8, 300),
        ),
        ("ping", client(0x89, b"p"), header(true, Opcode::Ping, 6, 1)),
        ("pong", client(0x8A, b""), header(true, Opcode::Pong, 6, 0)),
        (
            "close",
            client(0x88, &[3, 232]),
            header(true, Opcode::Close, 6, 2),
        ),
        ("one byte", vec![0x81], Parsed::Partial),
        ("no mask yet", vec![0x81, 0x82, 1, 2], Parsed::Partial),
        (
            "no 64-bit length yet",
            vec![0x82, 0xFF, 0, 0],
            Parsed::Partial,
        ),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(parse(&bytes, 1 << 20), want, "{name}");
    }
    let refusals: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", vec![0x81, 0x02, b'h', b'i'], 1002),
        ("rsv1", client(0xC1, b"x"), 1002),
        ("rsv3", client(0x91, b"x"), 1002),
        ("opcode 3", client(0x83, b"x"), 1002),
        ("opcode 0xB", client(0x8B, b"x"), 1002),
        ("fragmented ping", client(0x09, b"x"), 1002),
        ("long ping", client(0x89, &long[..126]), 1002),
        (
            "top bit of a 64-bit length",
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
            1002,
        ),
        ("over max_frame", client(0x82, &long), 1009),
        (
            "over max_frame, 64-bit",
            vec![0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0],
            1009,
        ),
    ];
    for (name, bytes, code) in refusals {
        assert!(
            refused(code)(parse(&bytes, 200)),
            "{name}: {:?}",
            parse(&bytes, 200)
        );
    }
}

#[test]
fn every_prefix_of_a_frame_is_partial() {
    let frame = client(0x82, &[7; 70_000]);
    let Parsed::Header(h) = parse(&frame, 1 << 20) else {
        panic!("not parsed");
    };
    for end in 0..h.header_len {
        assert_eq!(parse(&frame[..end], 1 << 20), Parsed::Partial, "{end}");
    }
}

#[test]
fn server_frames_encode_each_length_form() {
    for (len, head) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
        let mut out = Vec::new();
        codec::encode(Opcode::Binary, true, &vec![1; len], &mut out);
        assert_eq!(out.len(), head + len, "{len}");
        assert_eq!(out[0], 0x82);
        assert_eq!(out[1] & 0x80, 0, "server frames are unmasked");
    }
    let mut out = Vec::new();
    codec::encode_close(1000, &"é".repeat(100), &mut out);
    assert_eq!(out.len(), 2 + 2 + 122, "cut at a character boundary");
    assert!(std::str::from_utf8(&out[4..]).is_ok());
}

#[test]
fn utf8_is_checked_across_fragments() {
    let text = "aé€😀".as_bytes().to_vec();
    // Every way of cutting the text in two fragments is accepted.
    for cut in 0..=text.len() {
        let mut check = Utf8Stream::new();
        assert!(check.advance(&text[..cut]).is_ok(), "{cut}");
        assert!(check.advance(&text).is_ok(), "{cut}");
        assert!(check.finish(&text).is_ok(), "{cut}");
    }
    let mut check = Utf8Stream::new();
    assert!(
        check.advance(&[b'a', 0xF0, 0x9F]).is_ok(),
        "a cut character waits"
    );
    assert!(
        check.finish(&[b'a', 0xF0, 0x9F]).is_err(),
        "but may not end a message"
    );
    for bad in [
        &[0xFF][..],
        &[0xC0, 0x80],
        &[0xED, 0xA0, 0x80],
        &[b'a', 0xF0, 0x28],
    ] {
        assert!(Utf8Stream::new().advance(bad).is_err(), "{bad:?}");
    }
}
