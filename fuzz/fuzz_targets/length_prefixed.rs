//! Fuzzes `twig::framing::length_prefixed` against the framer contract
//! (`fuzz/contract.rs`): no panic, `Complete(n)` within the input, and the
//! same messages (and refusal) however the bytes are split.
//!
//! Run from the repository root: `cargo +nightly fuzz run length_prefixed`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../contract.rs"]
mod contract;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size, the second the limit (small, so
    // the fuzzer reaches it; 255 means no limit); the rest is the stream.
    let [piece, max, input @ ..] = data else {
        return;
    };
    let max = if *max == 255 {
        usize::MAX
    } else {
        usize::from(*max)
    };
    let frame = |bytes: &[u8]| twig::framing::length_prefixed(bytes, max);
    contract::check_framer(frame, input, usize::from(piece % 32) + 1);
});
