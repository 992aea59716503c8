//! Fuzzes the WebSocket frame parser and the UTF-8 stream validator
//! (`src/ws/codec.rs`, `src/ws/utf8.rs`, private to the crate, so included
//! by path): no panic; a parsed header lies within its bounds and every
//! shorter prefix of it is `Partial`; the stream validator, fed the input
//! in two pieces at any cut, agrees with `std::str::from_utf8` on the
//! whole.
//!
//! Run from the repository root: `cargo +nightly fuzz run ws_frame`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/ws/codec.rs"]
#[allow(dead_code)]
mod codec;
#[path = "../../src/ws/utf8.rs"]
#[allow(dead_code)]
mod utf8;

fuzz_target!(|input: &[u8]| {
    let max_frame = 1 << 16;
    if let codec::Parsed::Header(h) = codec::parse(input, max_frame) {
        assert!((2..=14).contains(&h.header_len) && h.header_len <= input.len());
        assert!(h.payload_len <= max_frame);
        assert!(!h.opcode.is_control() || (h.fin && h.payload_len <= 125));
        for end in 0..h.header_len {
            assert_eq!(codec::parse(&input[..end], max_frame), codec::Parsed::Partial);
        }
    }
    let cut = input.first().map_or(0, |&b| usize::from(b)).min(input.len());
    let mut stream = utf8::Utf8Stream::new();
    let streamed = stream
        .advance(&input[..cut])
        .and_then(|()| stream.advance(input))
        .and_then(|()| stream.finish(input));
    assert_eq!(streamed.is_ok(), std::str::from_utf8(input).is_ok());
});
