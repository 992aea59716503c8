//! Fuzzes `twig::framing::line` against the framer contract
//! (`fuzz/contract.rs`): no panic, `Complete(n)` within the input, and the
//! same lines however the bytes are split.
//!
//! Run from the repository root: `cargo +nightly fuzz run line`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../contract.rs"]
mod contract;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size; the rest is the byte stream.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    contract::check_framer(twig::framing::line, input, usize::from(piece % 32) + 1);
});
