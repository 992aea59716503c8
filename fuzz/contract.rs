//! The contract of a framer (`fn(&[u8]) -> Frame`), checked on one input:
//! by the fuzz targets in `fuzz_targets/` on what libFuzzer makes, and by
//! `tests/framing.rs` on pseudo-random inputs from a fixed seed (stable
//! Rust, in `cargo test`).
//!
//! 1. It never panics.
//! 2. `Frame::Complete(n)` has `0 < n <= input.len()`.
//! 3. The answer does not depend on how the bytes were split: a complete
//!    frame (or a refusal) found in a prefix is the same in the whole input,
//!    and feeding the input in pieces, consuming each complete frame as the
//!    event loop does, yields the same frames as feeding it at once.
#![allow(dead_code)] // each user checks a subset

use twig::Frame;
use twig::framing::{HttpStart, http_head, http_start};

/// Most prefixes looked at one by one (inputs longer than this are sampled).
const MAX_PREFIXES: usize = 512;

/// Checks the contract of `frame` on `input`, with pieces of `piece` bytes
/// (at least 1) for the split feed.
pub fn check_framer(frame: impl Fn(&[u8]) -> Frame, input: &[u8], piece: usize) {
    let whole = frame(input);
    assert_bounded(&whole, input.len());
    let step = input.len() / MAX_PREFIXES + 1;
    for end in (0..input.len()).step_by(step) {
        let prefix = frame(&input[..end]);
        assert_bounded(&prefix, end);
        match prefix {
            Frame::Partial => {}
            settled => assert_eq!(
                whole,
                settled,
                "{settled:?} on the first {end} bytes, but {whole:?} on all {}",
                input.len()
            ),
        }
    }
    let piece = piece.max(1);
    let cuts: Vec<usize> = (1..=input.len())
        .filter(|&end| end % piece == 0 || end == input.len())
        .collect();
    assert_eq!(
        feed(&frame, input, &[input.len()]),
        feed(&frame, input, &cuts),
        "pieces of {piece} bytes changed the frames"
    );
}

/// The contract of [`http_start`], which classifies rather than frames:
/// `Http` and `NotHttp` are final (a longer input keeps them), so a prefix
/// of an HTTP request is never `NotHttp`; and where it says `Http`,
/// [`http_head`] keeps the framer contract.
pub fn check_http_start(input: &[u8], piece: usize) {
    let whole = http_start(input);
    let step = input.len() / MAX_PREFIXES + 1;
    for end in (0..input.len()).step_by(step) {
        let prefix = http_start(&input[..end]);
        if prefix != HttpStart::Maybe {
            assert_eq!(
                whole, prefix,
                "{prefix:?} on the first {end} bytes, {whole:?} on all"
            );
        }
    }
    if whole == HttpStart::Http {
        check_framer(http_head, input, piece);
    }
}

fn assert_bounded(frame: &Frame, len: usize) {
    if let Frame::Complete(n) = *frame {
        assert!(n > 0 && n <= len, "Complete({n}) of {len} bytes");
    }
}

/// What `frame` makes of `input` arriving in pieces that end at `cuts`, as
/// the event loop feeds it: the length of each complete frame, the refusal
/// if any, and how many bytes still wait.
fn feed(
    frame: &impl Fn(&[u8]) -> Frame,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<usize>, Option<&'static str>, usize) {
    let (mut start, mut frames) = (0, Vec::new());
    for &end in cuts {
        while start < end {
            match frame(&input[start..end]) {
                Frame::Partial => break,
                Frame::Complete(n) => {
                    assert_bounded(&Frame::Complete(n), end - start);
                    frames.push(n);
                    start += n;
                }
                Frame::Invalid(why) => return (frames, Some(why), 0),
            }
        }
    }
    (frames, None, input.len() - start)
}
