//! Fuzzes the PROXY protocol header parser (`src/proxy_header.rs`, private
//! to the crate, so included by path): no panic; a header's `len` lies
//! within the input and `MAX_HEADER`; its first `len` bytes alone give the
//! same answer and every shorter prefix gives `Incomplete` (so the driver,
//! peeking as bytes arrive, never settles early or reads payload as header);
//! a settled answer on any prefix is the answer on the whole; `MAX_HEADER`
//! bytes always settle it. The unit tests' proptest checks the same.
//!
//! Run from the repository root: `cargo +nightly fuzz run proxy_header`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/proxy_header.rs"]
#[allow(dead_code)]
mod proxy_header;

use proxy_header::{MAX_HEADER, Parsed, parse};

fuzz_target!(|input: &[u8]| {
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
});
