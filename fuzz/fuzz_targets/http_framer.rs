//! Fuzzes twig's HTTP request framer (`twig::http::Framer`): arbitrary bytes,
//! fed whole and in pieces, the way the event loop feeds it. It must never
//! panic, never claim more bytes than it was given, and reach the same
//! requests and the same refusal however the bytes are split.
//!
//! Run from the repository root: `cargo +nightly fuzz run http_framer`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use twig::http::{Framed, Framer, Limits};

/// Small limits, so the fuzzer reaches them.
const LIMITS: Limits = Limits {
    max_head: 512,
    max_body: 1024,
};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the piece size; the rest is the byte stream.
    let Some((&piece, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece % 32) + 1;
    let cuts: Vec<usize> = (1..=input.len())
        .filter(|&end| end % piece == 0 || end == input.len())
        .collect();
    let whole = run(input, &[input.len()]);
    let split = run(input, &cuts);
    assert_eq!(whole, split, "the split changed the outcome");
});

/// What the framer made of `input` arriving in pieces ending at `cuts`: the
/// length of each request (a `Continue` and its `Body` as one), the refusal
/// status if any, and how many bytes still wait.
fn run(input: &[u8], cuts: &[usize]) -> (Vec<usize>, Option<u16>, usize) {
    let mut framer = Framer::new(LIMITS);
    let (mut start, mut continued) = (0, None);
    let mut requests = Vec::new();
    for &end in cuts {
        loop {
            let buffered = &input[start..end];
            if buffered.is_empty() {
                break;
            }
            match framer.frame(buffered) {
                Framed::Partial => break,
                Framed::Request(m) => {
                    assert!(m.head_len <= m.len && m.len <= buffered.len() && m.len > 0);
                    assert!(m.head_len <= LIMITS.max_head);
                    assert!(continued.is_none());
                    requests.push(m.len);
                    start += m.len;
                }
                Framed::Continue(m) => {
                    assert!(m.len == m.head_len && m.len == buffered.len());
                    continued = Some(m.len);
                    start += m.len;
                }
                Framed::Body(n) => {
                    assert!(n > 0 && n <= buffered.len());
                    requests.push(continued.take().expect("a Continue came first") + n);
                    start += n;
                }
                Framed::Error(e) => return (requests, Some(e.status()), 0),
            }
        }
    }
    let waiting = input.len() - start + continued.unwrap_or(0);
    (requests, None, waiting)
}
