//! The chunk header and `Body`'s room, alone.

use super::*;

#[test]
fn chunk_headers_are_hex() {
    for (n, want) in [(0, "0\r\n"), (10, "a\r\n"), (65536, "10000\r\n")] {
        let mut out = Vec::new();
        chunk_header(&mut out, n);
        assert_eq!(out, want.as_bytes());
    }
}

#[test]
fn a_body_takes_what_fits() {
    let mut out = b"head".to_vec();
    let mut body = Body {
        out: &mut out,
        room: 5,
    };
    assert_eq!(body.push(b"abc"), 3);
    assert_eq!(body.fill(|buf| Ok(buf.len() + 9)).ok(), Some(2));
    assert_eq!(body.room(), 0);
    assert_eq!(out, b"headabc\0\0");
}
