//! Fuzzes `twig::framing::http_start` and `twig::framing::http_head`: no
//! panic; `Http` and `NotHttp` stay what they are as bytes arrive (so no
//! prefix of an HTTP request is taken for plain text); and where the input
//! is HTTP, `http_head` keeps the framer contract (`fuzz/contract.rs`).
//!
//! Run from the repository root: `cargo +nightly fuzz run http_start`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../contract.rs"]
mod contract;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size; the rest is the byte stream.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece % 32) + 1;
    contract::check_http_start(input, piece);
    // http_head on any bytes, HTTP or not.
    contract::check_framer(twig::framing::http_head, input, piece);
});
