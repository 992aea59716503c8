//! Every framer of `twig::framing` against the framer contract
//! (`fuzz/contract.rs`, which the fuzz targets check too) on a few thousand
//! pseudo-random inputs from a fixed seed: the same inputs on every run,
//! built from pieces that make the framers' interesting cases likely
//! (newlines, small length prefixes, request lines, blank lines).

#[path = "../fuzz/contract.rs"]
mod contract;

use twig::framing;

const CASES: usize = 3_000;

/// xorshift64*: tiny, deterministic, good enough to pick pieces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Up to `max_pieces` pieces from `pieces`, or now and then a random
    /// byte, concatenated.
    fn input(&mut self, pieces: &[&[u8]], max_pieces: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.below(max_pieces + 1) {
            if self.below(8) == 0 {
                out.push(self.next() as u8);
            } else {
                out.extend_from_slice(pieces[self.below(pieces.len())]);
            }
        }
        out
    }
}

/// Runs `check` on `CASES` inputs built from `pieces`, each with a piece
/// size of 1 to 16 bytes.
fn each_input(seed: u64, pieces: &[&[u8]], check: impl Fn(&[u8], usize)) {
    let mut rng = Rng(seed);
    for _ in 0..CASES {
        let input = rng.input(pieces, 12);
        let piece = rng.below(16) + 1;
        check(&input, piece);
    }
}

#[test]
fn line() {
    let pieces: &[&[u8]] = &[b"PING", b"\n", b"\r\n", b"a", b"", b"\r"];
    each_input(1, pieces, |input, piece| {
        contract::check_framer(framing::line, input, piece);
    });
}

#[test]
fn length_prefixed() {
    let pieces: &[&[u8]] = &[
        b"\0\0\0\0",
        b"\0\0\0\x01",
        b"\0\0\0\x03",
        b"\0\0\0\x10",
        b"\0\0\x01\0",
        b"\xff\xff\xff\xff",
        b"\0",
        b"hi!",
    ];
    for max in [0, 3, 16, 1024, usize::MAX] {
        let frame = |bytes: &[u8]| framing::length_prefixed(bytes, max);
        each_input(2 + max as u64 % 7, pieces, |input, piece| {
            contract::check_framer(frame, input, piece);
        });
    }
}

/// Pieces of HTTP requests, and of things that are not.
const HTTP_PIECES: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"OPTIONS ",
    b"GE",
    b"get ",
    b"/",
    b"/index.html",
    b"*",
    b" ",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2",
    b"\r\n",
    b"\n",
    b"\r",
    b"Host: x",
    b": ",
    b"hello",
    b"can you hear me?",
];

#[test]
fn http_start_and_http_head() {
    each_input(3, HTTP_PIECES, |input, piece| {
        contract::check_http_start(input, piece);
        contract::check_framer(framing::http_head, input, piece);
    });
}

/// The pieces do make the interesting cases: requests that are HTTP, and
/// inputs that are not, with heads that complete.
#[test]
fn http_inputs_reach_every_outcome() {
    use framing::HttpStart;
    let mut rng = Rng(3);
    let (mut http, mut not_http, mut complete_heads) = (0, 0, 0);
    for _ in 0..CASES {
        let input = rng.input(HTTP_PIECES, 12);
        rng.below(16); // the piece size, as in `each_input`
        match framing::http_start(&input) {
            HttpStart::Http => http += 1,
            HttpStart::NotHttp => not_http += 1,
            HttpStart::Maybe => {}
        }
        if matches!(framing::http_head(&input), twig::Frame::Complete(_)) {
            complete_heads += 1;
        }
    }
    assert!(
        http > 10 && not_http > 10 && complete_heads > 10,
        "http {http}, not http {not_http}, complete heads {complete_heads}"
    );
}

/// The check has teeth: a framer that takes whatever has arrived (as the
/// reply server does for plain text) depends on the split, and fails.
#[test]
#[should_panic(expected = "on the first 1 bytes")]
fn a_framer_that_depends_on_the_split_fails_the_contract() {
    let greedy = |bytes: &[u8]| match bytes.len() {
        0 => twig::Frame::Partial,
        n => twig::Frame::Complete(n),
    };
    contract::check_framer(greedy, b"hello", 2);
}
