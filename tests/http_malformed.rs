//! Requests the HTTP layer must refuse — malformed, oversized, ambiguous
//! (request smuggling) — each answered with its 4xx/501 and a closed
//! connection, never a 200; then random inputs with random splits, against
//! the framer in memory and against a real server: it never panics, and
//! always waits, answers or closes.

mod http_client;
mod support;

use http_client::Conn;
use support::{eventually, start_with, stats_of};
use twig::http::{Framed, Framer, Http, Limits, Router};
use twig::{CloseReason, Server};

fn limits() -> Limits {
    Limits {
        max_head: 2048,
        max_body: 4096,
    }
}

fn serve() -> support::Running<()> {
    let router: Router = Router::new()
        .get("/", |_, res, _| res.text("ok\n"))
        .post("/", |req, res, _| res.send(req.body()));
    start_with(
        Server::builder(),
        (),
        move || Http::new(router.clone()).limits(limits()),
        |_| {},
    )
}

/// (what, request, status): every request gets `status`, `Connection:
/// close`, and then the connection closes.
fn cases() -> Vec<(&'static str, Vec<u8>, u16)> {
    let many_headers: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
    let long_header = format!("X: {}\r\n", "a".repeat(3000));
    let head = |headers: &str| format!("POST / HTTP/1.1\r\nHost: t\r\n{headers}\r\n").into_bytes();
    let raw = |s: &str| s.as_bytes().to_vec();
    vec![
        // The request line.
        (
            "lowercase version",
            raw("GET / http/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        ("HTTP/2.0", raw("GET / HTTP/2.0\r\nHost: t\r\n\r\n"), 400),
        ("HTTP/1.2", raw("GET / HTTP/1.2\r\nHost: t\r\n\r\n"), 400),
        ("HTTP/0.9 style", raw("GET /\r\n\r\n"), 400),
        ("no version", raw("GET / \r\n\r\n"), 400),
        (
            "double space",
            raw("GET  / HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "tab delimiter",
            raw("GET\t/ HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "space in target",
            raw("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "NUL in method",
            raw("G\0T / HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "NUL in target",
            raw("GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "bare CR in line",
            raw("GET / HTTP/1.1\rHost: t\r\n\r\n"),
            400,
        ),
        (
            "relative target",
            raw("GET index.html HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "authority form",
            raw("CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n"),
            400,
        ),
        (
            "TLS hello",
            vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc],
            400,
        ),
        (
            "binary garbage",
            vec![0xff, 0xfe, 0x00, 0x80, b'\r', b'\n', b'\r', b'\n'],
            400,
        ),
        // Header syntax.
        (
            "space before colon",
            raw("GET / HTTP/1.1\r\nHost : t\r\n\r\n"),
            400,
        ),
        (
            "no colon",
            raw("GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"),
            400,
        ),
        (
            "obs-fold",
            raw("GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n"),
            400,
        ),
        (
            "NUL in value",
            raw("GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n"),
            400,
        ),
        (
            "bare CR in value",
            raw("GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n"),
            400,
        ),
        (
            "empty name",
            raw("GET / HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n"),
            400,
        ),
        ("missing Host", raw("GET / HTTP/1.1\r\n\r\n"), 400),
        (
            "two Hosts",
            raw("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            400,
        ),
        // Lengths: request smuggling.
        (
            "CL and TE",
            head("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
            400,
        ),
        (
            "TE and CL",
            head("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
            400,
        ),
        (
            "duplicate CL",
            head("Content-Length: 3\r\nContent-Length: 3\r\n"),
            400,
        ),
        (
            "conflicting CL",
            head("Content-Length: 3\r\nContent-Length: 4\r\n"),
            400,
        ),
        ("CL list", head("Content-Length: 3, 3\r\n"), 400),
        ("CL plus sign", head("Content-Length: +3\r\n"), 400),
        ("CL negative", head("Content-Length: -1\r\n"), 400),
        ("CL hex", head("Content-Length: 0x10\r\n"), 400),
        ("CL with space inside", head("Content-Length: 1 0\r\n"), 400),
        ("CL empty", head("Content-Length: \r\n"), 400),
        ("CL letters", head("Content-Length: ten\r\n"), 400),
        (
            "TE chunked twice",
            head("Transfer-Encoding: chunked, chunked\r\n"),
            400,
        ),
        ("TE empty", head("Transfer-Encoding: \r\n"), 400),
        (
            "TE with space before colon",
            head("Transfer-Encoding : chunked\r\n"),
            400,
        ),
        ("TE gzip", head("Transfer-Encoding: gzip\r\n"), 501),
        (
            "TE gzip, chunked",
            head("Transfer-Encoding: gzip, chunked\r\n"),
            501,
        ),
        ("TE identity", head("Transfer-Encoding: identity\r\n"), 501),
        ("TE xchunked", head("Transfer-Encoding: xchunked\r\n"), 501),
        (
            "TE on two lines",
            head("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
            501,
        ),
        // Chunked bodies.
        (
            "chunk size not hex",
            [head("Transfer-Encoding: chunked\r\n"), raw("zz\r\n")].concat(),
            400,
        ),
        (
            "chunk size empty",
            [head("Transfer-Encoding: chunked\r\n"), raw("\r\nabc\r\n")].concat(),
            400,
        ),
        (
            "chunk size negative",
            [head("Transfer-Encoding: chunked\r\n"), raw("-3\r\n")].concat(),
            400,
        ),
        (
            "chunk size overflow",
            [
                head("Transfer-Encoding: chunked\r\n"),
                raw("10000000000000000\r\n"),
            ]
            .concat(),
            400,
        ),
        (
            "chunk line bare LF",
            [
                head("Transfer-Encoding: chunked\r\n"),
                raw("3\nabc\r\n0\r\n\r\n"),
            ]
            .concat(),
            400,
        ),
        (
            "chunk data too long",
            [
                head("Transfer-Encoding: chunked\r\n"),
                raw("3\r\nabcd\r\n0\r\n\r\n"),
            ]
            .concat(),
            400,
        ),
        (
            "chunk ext NUL",
            [
                head("Transfer-Encoding: chunked\r\n"),
                raw("3;a\0\r\nabc\r\n"),
            ]
            .concat(),
            400,
        ),
        // Limits.
        (
            "too many headers",
            raw(&format!("GET / HTTP/1.1\r\nHost: t\r\n{many_headers}\r\n")),
            431,
        ),
        (
            "header block too large",
            raw(&format!("GET / HTTP/1.1\r\nHost: t\r\n{long_header}\r\n")),
            431,
        ),
        (
            "request line too long",
            raw(&format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(3000))),
            414,
        ),
        ("body too large", head("Content-Length: 4097\r\n"), 413),
        (
            "chunked too large",
            [head("Transfer-Encoding: chunked\r\n"), raw("1001\r\n")].concat(),
            413,
        ),
        (
            "unknown expectation",
            raw("GET / HTTP/1.1\r\nHost: t\r\nExpect: tea\r\n\r\n"),
            417,
        ),
    ]
}

#[test]
fn malformed_requests_get_their_status_and_a_close() {
    let server = serve();
    let cases = cases();
    for (what, request, status) in &cases {
        for pieces in [usize::MAX, 3] {
            let mut conn = Conn::open(server.addr);
            conn.send_in_pieces(request, pieces);
            let reply = conn
                .try_reply(false)
                .unwrap_or_else(|e| panic!("{what}: no response ({e})"));
            assert_eq!(reply.status, *status, "{what}: {}", reply.head);
            assert!(reply.closes(), "{what}: no Connection: close");
            assert!(conn.is_closed(), "{what}: the connection stayed open");
        }
    }
    // The client saw each close, but the server counts the last one only
    // once it has read the client's own close (lingering): wait for it.
    let refused = 2 * cases.len() as u64;
    assert!(
        eventually(|| stats_of(&server.handle).closed(CloseReason::Violation) == refused),
        "not every refused connection was closed as a violation: {}",
        stats_of(&server.handle)
    );
    let stats = stats_of(&server.handle);
    assert_eq!(
        stats.requests, 0,
        "a refused request reached the handler: {stats}"
    );
}

#[test]
fn a_smuggled_request_is_never_answered() {
    // A front end that honours Content-Length sees one request; one that
    // honours chunked sees two. Twig refuses the message, so the smuggled
    // GET never gets its 200.
    let server = serve();
    let attacks: [&[u8]; 3] = [
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 27\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1b\nGET / HTTP/1.1\r\nHost: t\r\n\r\n0\r\n\r\n",
    ];
    for attack in attacks {
        let mut conn = Conn::open(server.addr);
        let reply = conn.send(attack).reply();
        assert_eq!(reply.status, 400, "{}", reply.head);
        let rest = conn.rest_until_close();
        assert!(
            rest.is_empty(),
            "more after the 400: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

// ---------------------------------------------------------------------------
// Random inputs, random splits.

/// xorshift64*: a small deterministic PRNG (no dev-dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Valid requests to mutate.
const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /a?b=c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
];

/// Bytes that matter to HTTP framing, favoured by the mutations.
const SPICE: &[u8] = b"\r\n:; ,\t\x000aF-";

/// Two to four seed requests, pipelined, then mutated a few times.
fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..2 + rng.below(3) {
        input.extend_from_slice(SEEDS[rng.below(SEEDS.len())]);
    }
    for _ in 0..rng.below(4) {
        let at = rng.below(input.len());
        match rng.below(5) {
            0 => input[at] = SPICE[rng.below(SPICE.len())],
            1 => input[at] = rng.next() as u8,
            2 => input.insert(at, SPICE[rng.below(SPICE.len())]),
            3 => {
                let end = (at + 1 + rng.below(8)).min(input.len());
                input.drain(at..end);
            }
            _ => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                let copy = input[at..end].to_vec();
                input.splice(at..at, copy);
            }
        }
    }
    input
}

/// Random cut points: pieces of 1 to 20 bytes, or the whole.
fn random_pieces(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut at = 0;
    while at < len {
        at += if rng.below(10) == 0 {
            len
        } else {
            1 + rng.below(20)
        };
        cuts.push(at.min(len));
    }
    cuts
}

/// What a framer made of a byte stream: each request's length (a `Continue`
/// and its `Body` counted as one), then how it ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    requests: Vec<usize>,
    /// `Some(error status)`, or `None` if it waits with `waiting` bytes.
    refused: Option<u16>,
    waiting: usize,
}

/// Feeds `input` to a framer in pieces ending at `cuts`, the way twig does:
/// frame what is buffered, consume complete requests, wait for more.
fn run_framer(input: &[u8], cuts: &[usize]) -> Outcome {
    let mut framer = Framer::new(limits());
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
                    assert!(continued.is_none(), "a request while a body was due");
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
                    requests.push(continued.take().expect("a body after a Continue") + n);
                    start += n;
                }
                Framed::Error(e) => {
                    return Outcome {
                        requests,
                        refused: Some(e.status()),
                        waiting: 0,
                    };
                }
            }
        }
    }
    Outcome {
        requests,
        refused: None,
        waiting: input.len() - start + continued.unwrap_or(0),
    }
}

#[test]
fn framer_never_panics_and_splits_never_change_the_outcome() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut shapes = std::collections::HashSet::new();
    for case in 0..3000 {
        let input = random_input(&mut rng);
        let whole = run_framer(&input, &[input.len()]);
        let bytes = run_framer(&input, &(1..=input.len()).collect::<Vec<_>>());
        let random = run_framer(&input, &random_pieces(&mut rng, input.len()));
        let shown = String::from_utf8_lossy(&input);
        assert_eq!(whole, bytes, "case {case}, byte by byte: {shown:?}");
        assert_eq!(whole, random, "case {case}, random pieces: {shown:?}");
        shapes.insert((whole.requests.len(), whole.refused, whole.waiting > 0));
    }
    // The mutations reach answers, refusals and waits alike.
    assert!(shapes.iter().any(|s| s.1.is_some()), "{shapes:?}");
    assert!(shapes.iter().any(|s| s.1.is_none() && s.2), "{shapes:?}");
    assert!(
        shapes.iter().any(|s| s.0 >= 2 && s.1.is_none()),
        "{shapes:?}"
    );
}

#[test]
fn server_always_answers_or_closes_random_input() {
    let server = serve();
    let mut rng = Rng(0xdead_beef_0bad_cafe);
    for case in 0..60 {
        let input = random_input(&mut rng);
        let cuts = random_pieces(&mut rng, input.len());
        if input.windows(4).any(|w| w == b"HEAD") {
            continue; // this client cannot tell a HEAD response's end
        }
        let want = run_framer(&input, &cuts);
        let mut conn = Conn::open(server.addr);
        let mut at = 0;
        for &cut in &cuts {
            conn.send_in_pieces(&input[at..cut], usize::MAX);
            at = cut;
        }
        conn.finish(); // EOF: whatever waits now will never complete
        let (mut statuses, mut closed_by_answer) = (Vec::new(), false);
        while let Ok(reply) = conn.try_reply(false) {
            if reply.status != 100 {
                statuses.push(reply.status);
            }
            if reply.closes() {
                closed_by_answer = matches!(reply.status, 200 | 404 | 405);
                break;
            }
        }
        assert!(conn.is_closed(), "case {case}: still open after EOF");
        let shown = String::from_utf8_lossy(&input);
        // One answer (from the router: 200, 404 or 405) per request the
        // framer found, unless one of them closed the connection; then the
        // refusal, if any, and nothing after it.
        let answered = statuses
            .iter()
            .take_while(|&&s| matches!(s, 200 | 404 | 405))
            .count();
        assert!(
            answered <= want.requests.len() && statuses.len() <= answered + 1,
            "case {case}: {statuses:?} for {shown:?}, framer: {want:?}"
        );
        if !closed_by_answer {
            assert_eq!(
                answered,
                want.requests.len(),
                "case {case}: {statuses:?} for {shown:?}"
            );
            assert_eq!(
                statuses.get(answered),
                want.refused.as_ref(),
                "case {case}: {shown:?}"
            );
        }
    }
    // Still serving, and nothing panicked.
    assert_eq!(
        Conn::open(server.addr)
            .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .reply()
            .status,
        200
    );
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::Panic), 0, "{stats}");
}
