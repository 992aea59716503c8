//! Fuzzes kv_server's RESP2 framer (`examples/kv_server/resp.rs`, included
//! by path) against the framer contract (`fuzz/contract.rs`): no panic,
//! `Complete(n)` within the input, the same commands however the bytes are
//! split; and every complete command's arguments lie inside it.
//!
//! Run from the repository root: `cargo +nightly fuzz run resp`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../contract.rs"]
mod contract;

#[path = "../../examples/kv_server/resp.rs"]
#[allow(dead_code)]
mod resp;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size; the rest is the byte stream.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    contract::check_framer(resp::frame_command, input, usize::from(piece % 32) + 1);
    if let twig::Frame::Complete(n) = resp::frame_command(input) {
        let args = resp::parse_args(&input[..n]);
        assert!(args.len() <= resp::MAX_ARGS);
        assert!(args.iter().map(|a| a.len()).sum::<usize>() <= n);
    }
});
