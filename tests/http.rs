//! The HTTP layer over real sockets on 127.0.0.1, serving the example app
//! (`examples/http_server.rs`): keep-alive and close, pipelining, bodies
//! (length, chunked, `100-continue`), limits, `HEAD`, the router, state,
//! timeouts, lingering close, and the allocation-free hello route. Requests
//! are raw bytes, sent whole and split into small writes.

mod http_client;
mod support;

#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::time::{Duration, SystemTime};

use http_client::Conn;
use support::{Running, WAIT, start_with, stats_of};
use twig::http::{Handler, Http, Limits, Request, Response, Router, imf_fixdate};
use twig::{Builder, CloseReason, Core, Ctx, Handle, Server};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
const HELLO: &str = "Hello from twig!\n";

fn serve() -> Running<u64> {
    serve_with(Server::builder(), Limits::default())
}

fn serve_with(builder: Builder, limits: Limits) -> Running<u64> {
    let app = http_server::router();
    start_with(
        builder,
        0u64,
        move || Http::new(app.clone()).limits(limits),
        |_| {},
    )
}

/// Small limits, for the limit tests.
fn small() -> Limits {
    Limits {
        max_head: 1024,
        max_body: 1000,
    }
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn chunked(path: &str, chunks: &[&[u8]], trailer: &str) -> Vec<u8> {
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x};ext=1\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
    request
}

/// Piece sizes every split test tries: one byte at a time, odd sizes, whole.
const PIECES: [usize; 5] = [1, 2, 5, 13, usize::MAX];

#[test]
fn get_answers_hello_with_server_date_and_length() {
    let server = serve();
    let reply = Conn::open(server.addr).send(GET).reply();
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert_eq!(reply.text(), HELLO);
    assert_eq!(reply.header("Content-Length"), Some("17"));
    assert_eq!(reply.header("Server"), Some("twig"));
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        reply.header("Connection"),
        None,
        "HTTP/1.1 keeps alive quietly"
    );
    let date = reply.header("Date").expect("a Date header");
    let now = SystemTime::now();
    let near = (0..4).map(|s| imf_fixdate(now - Duration::from_secs(s)));
    assert!(
        near.into_iter().any(|d| d == date.as_bytes()),
        "Date {date:?} is not IMF-fixdate of the last few seconds"
    );
}

#[test]
fn http_1_1_keeps_the_connection_alive() {
    let server = serve();
    let mut conn = Conn::open(server.addr);
    for _ in 0..3 {
        assert_eq!(conn.send(GET).reply().text(), HELLO);
    }
    let stats = stats_of(&server.handle);
    assert_eq!((stats.accepted, stats.requests), (1, 3), "{stats}");
}

#[test]
fn http_1_0_closes_unless_keep_alive() {
    let server = serve();
    let mut conn = Conn::open(server.addr);
    let reply = conn.send(b"GET / HTTP/1.0\r\n\r\n").reply();
    assert_eq!(
        (reply.status, reply.closes()),
        (200, true),
        "{}",
        reply.head
    );
    assert!(conn.is_closed());

    let mut conn = Conn::open(server.addr);
    let keep = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    for pieces in PIECES {
        let reply = conn.send_in_pieces(keep, pieces).reply();
        let connection = reply.header("Connection");
        assert_eq!(connection, Some("keep-alive"), "{}", reply.head);
    }

    // Transfer-Encoding in HTTP/1.0 is faulty framing: answered, then closed
    // even though the client asked to keep the connection.
    let mut conn = Conn::open(server.addr);
    let request = b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\n\
        Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let reply = conn.send(request).reply();
    assert_eq!((reply.text(), reply.closes()), ("ok".into(), true));
    assert!(conn.is_closed());
}

#[test]
fn connection_close_is_honoured() {
    let server = serve();
    for pieces in PIECES {
        let mut conn = Conn::open(server.addr);
        conn.send_in_pieces(
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            pieces,
        );
        let reply = conn.reply();
        assert!(reply.closes(), "{}", reply.head);
        assert_eq!(reply.text(), HELLO);
        assert!(conn.is_closed(), "still open after Connection: close");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_however_they_are_split() {
    let server = serve();
    let mut pipeline = GET.to_vec();
    pipeline.extend(post("/echo", b"first body"));
    pipeline.extend(chunked("/echo", &[b"chunked ", b"second"], ""));
    pipeline.extend(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    pipeline.extend(b"GET /headers HTTP/1.1\r\nHost: t\r\nX-Last: yes\r\n\r\n");
    for pieces in PIECES {
        let mut conn = Conn::open(server.addr);
        conn.send_in_pieces(&pipeline, pieces);
        assert_eq!(conn.reply().text(), HELLO, "pieces of {pieces}");
        assert_eq!(conn.reply().text(), "first body");
        assert_eq!(conn.reply().text(), "chunked second");
        assert_eq!(conn.head_reply().header("Content-Length"), Some("17"));
        assert!(conn.reply().text().contains("X-Last: yes\n"));
    }
}

#[test]
fn content_length_bodies_are_read_in_full() {
    let server = serve();
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    for pieces in [1000, 4096, usize::MAX] {
        let mut conn = Conn::open(server.addr);
        let reply = conn.send_in_pieces(&post("/echo", &body), pieces).reply();
        assert_eq!(reply.status, 200, "{}", reply.head);
        assert!(reply.body == body, "echo differs (pieces of {pieces})");
    }
    // The head and the body in separate writes, byte by byte at the seam.
    let mut conn = Conn::open(server.addr);
    let request = post("/echo", b"0123456789");
    conn.send_in_pieces(&request, 1);
    assert_eq!(conn.reply().text(), "0123456789");
}

#[test]
fn chunked_bodies_are_decoded() {
    let server = serve();
    let request = chunked(
        "/echo",
        &[b"Wiki", b"pedia", &[b'x'; 300]],
        "X-Trailer: 1\r\n",
    );
    for pieces in PIECES {
        let reply = Conn::open(server.addr)
            .send_in_pieces(&request, pieces)
            .reply();
        assert_eq!(reply.status, 200, "{}", reply.head);
        assert_eq!(reply.body.len(), 9 + 300, "pieces of {pieces}");
        assert!(reply.body.starts_with(b"Wikipedia"));
    }
}

#[test]
fn bodies_over_the_limit_get_413_and_a_close() {
    let server = serve_with(Server::builder(), small());
    let too_long = [
        post("/echo", &[b'a'; 1001]),
        chunked("/echo", &[&[b'a'; 600], &[b'b'; 600]], ""),
        // Declared too large: refused before the body is sent.
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
    ];
    for request in &too_long {
        for pieces in [7, usize::MAX] {
            let mut conn = Conn::open(server.addr);
            let reply = conn.send_in_pieces(request, pieces).reply();
            assert_eq!(
                (reply.status, reply.closes()),
                (413, true),
                "{}",
                reply.head
            );
            assert!(conn.is_closed());
        }
    }
    // Exactly at the limit is fine.
    let reply = Conn::open(server.addr)
        .send(&post("/echo", &[b'a'; 1000]))
        .reply();
    assert_eq!(reply.status, 200);
}

#[test]
fn twigs_request_size_limit_also_answers_413_or_431() {
    // max_request_size below the HTTP limits: twig's own limit cuts first.
    let builder = Server::builder().max_request_size(2000);
    let server = serve_with(builder, Limits::default());
    let mut conn = Conn::open(server.addr);
    let reply = conn.send(&post("/echo", &[b'a'; 5000])).reply();
    assert_eq!(reply.status, 413, "{}", reply.head);
    let mut conn = Conn::open(server.addr);
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(3000)
    );
    assert_eq!(conn.send(big_head.as_bytes()).reply().status, 431);
}

#[test]
fn head_answers_headers_only() {
    let server = serve();
    let mut conn = Conn::open(server.addr);
    let reply = conn
        .send(b"HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
        .head_reply();
    assert_eq!(reply.status, 200, "{}", reply.head);
    let length: usize = reply.header("Content-Length").unwrap().parse().unwrap();
    assert!(length > 100, "HEAD declares the GET body's length");
    // No body bytes follow: the next response starts right after the head.
    let reply = conn.send(GET).reply();
    assert_eq!(reply.text(), HELLO);
}

#[test]
fn expect_100_continue_gets_continue_before_the_body() {
    let server = serve();
    let head =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    for pieces in PIECES {
        let mut conn = Conn::open(server.addr);
        conn.send_in_pieces(head, pieces);
        assert_eq!(conn.raw(25), b"HTTP/1.1 100 Continue\r\n\r\n");
        conn.send_in_pieces(b"hello", pieces);
        assert_eq!(conn.reply().text(), "hello");
        assert_eq!(conn.send(GET).reply().text(), HELLO, "still in step");
    }
    // Chunked, too.
    let mut conn = Conn::open(server.addr);
    conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(conn.raw(25), b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(conn.send(b"3\r\nabc\r\n0\r\n\r\n").reply().text(), "abc");
    // The body sent along with the head: no 100 needed.
    let mut with_body = head.to_vec();
    with_body.extend(b"hello");
    let reply = Conn::open(server.addr).send(&with_body).reply();
    assert_eq!((reply.status, reply.text().as_str()), (200, "hello"));
}

#[test]
fn expect_100_continue_with_a_body_too_large_gets_413_at_once() {
    let server = serve_with(Server::builder(), small());
    let mut conn = Conn::open(server.addr);
    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
    );
    let reply = conn.reply();
    assert_eq!(
        (reply.status, reply.closes()),
        (413, true),
        "{}",
        reply.head
    );
}

#[test]
fn lingering_close_delivers_the_error_despite_unread_upload() {
    // The client sends a large upload the server refuses from its head: the
    // server answers 413, shuts down its side and drains the rest, so the
    // unread bytes do not turn the close into a reset that eats the 413.
    let server = serve_with(Server::builder(), small());
    let mut conn = Conn::open(server.addr);
    let mut request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n".to_vec();
    request.extend(vec![b'z'; 200_000]);
    conn.send_in_pieces(&request, 16 * 1024);
    let reply = conn.reply();
    assert_eq!(reply.status, 413, "{}", reply.head);
    assert!(conn.is_closed());
}

#[test]
fn router_gives_404_405_with_allow_and_params() {
    let router: Router = Router::new()
        .get("/users/{id}/posts/{post}", |req, res, _| {
            let (id, post) = (req.param("id").unwrap(), req.param("post").unwrap());
            res.text(&format!("user {id} post {post} query {:?}", req.query()));
        })
        .put("/users/{id}/posts/{post}", |_, res, _| {
            res.status(204);
        });
    let server = start_with(
        Server::builder(),
        (),
        move || Http::new(router.clone()),
        |_| {},
    );
    let mut conn = Conn::open(server.addr);
    let reply = conn
        .send(b"GET /users/7/posts/42?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
        .reply();
    assert_eq!(reply.text(), "user 7 post 42 query Some(\"x=1\")");
    let reply = conn
        .send(b"PUT /users/7/posts/42 HTTP/1.1\r\nHost: t\r\n\r\n")
        .head_reply();
    assert_eq!((reply.status, reply.header("Content-Length")), (204, None));
    let reply = conn
        .send(b"DELETE /users/7/posts/42 HTTP/1.1\r\nHost: t\r\n\r\n")
        .reply();
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), Some("GET, HEAD, PUT"));
    // The absolute form is routed by its path.
    let absolute = b"GET http://t/users/1/posts/2 HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_eq!(
        conn.send(absolute).reply().text(),
        "user 1 post 2 query None"
    );
    for path in [
        "/users/7/posts",
        "/users//posts/1",
        "/users/7/posts/42/x",
        "/nope",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(conn.send(request.as_bytes()).reply().status, 404, "{path}");
    }
    assert!(!conn.send(GET).reply().closes(), "404s keep the connection");
}

#[test]
fn shared_state_is_reached_through_ctx() {
    let server = serve();
    let page = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";
    for visitor in 1..=3 {
        let reply = Conn::open(server.addr).send(page).reply();
        let want = format!("visitor {visitor} of this page");
        assert!(reply.text().contains(&want), "{}", reply.text());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    server
        .handle
        .post(move |core: &mut Core<u64>| tx.send(*core.state()).unwrap());
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 3);
}

/// Per-connection state: the handler value lives as long as its connection.
struct PerConnection {
    requests: u32,
}

impl Handler for PerConnection {
    fn handle(&mut self, _: &Request, res: &mut Response, _: &mut Ctx) {
        self.requests += 1;
        let _ = write!(res, "{}", self.requests);
    }
}

#[test]
fn handler_fields_are_per_connection_state() {
    let server = start_with(
        Server::builder(),
        (),
        || Http::new(PerConnection { requests: 0 }),
        |_| {},
    );
    let (mut a, mut b) = (Conn::open(server.addr), Conn::open(server.addr));
    assert_eq!(a.send(GET).reply().text(), "1");
    assert_eq!(a.send(GET).reply().text(), "2");
    assert_eq!(b.send(GET).reply().text(), "1");
}

/// Describes the request it gets: method, target, version, every header
/// line, one looked up by name, and the body.
fn describe(req: &Request, res: &mut Response, _: &mut Ctx) {
    let _ = writeln!(res, "{} {} 1.{}", req.method(), req.target(), req.version());
    for (name, value) in req.headers() {
        let _ = writeln!(res, "{name}={}", String::from_utf8_lossy(value));
    }
    let found = req.header_str("x-b").unwrap_or("-");
    let _ = write!(
        res,
        "x-b:{found} body:{}",
        String::from_utf8_lossy(req.body())
    );
}

#[test]
fn the_handler_sees_each_pipelined_head_as_sent_however_it_is_split() {
    let server = start_with(Server::builder(), (), || Http::new(describe), |_| {});
    let mut pipeline = b"GET /a?q=1 HTTP/1.1\r\nHost: t\r\nX-B: one\r\n\r\n".to_vec();
    pipeline.extend(b"\r\nPUT /longer/path HTTP/1.1\r\nX-Long-Name: v, w\r\nHost: t2\r\nX-Empty:\r\nContent-Length: 3\r\n\r\nabc");
    pipeline.extend(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nx-b: two\r\n\r\n2\r\nxy\r\n0\r\n\r\n");
    pipeline.extend(b"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let expected = [
        "GET /a?q=1 1.1\nHost=t\nX-B=one\nx-b:one body:",
        "PUT /longer/path 1.1\nX-Long-Name=v, w\nHost=t2\nX-Empty=\nContent-Length=3\nx-b:- body:abc",
        "POST /c 1.1\nHost=t\nTransfer-Encoding=chunked\nx-b=two\nx-b:two body:xy",
        "OPTIONS * 1.0\nConnection=keep-alive\nx-b:- body:",
    ];
    for pieces in PIECES {
        let mut conn = Conn::open(server.addr);
        conn.send_in_pieces(&pipeline, pieces);
        for want in expected {
            assert_eq!(conn.reply().text(), want, "pieces of {pieces}");
        }
        // After a 100 Continue, the held head is the one described.
        conn.send_in_pieces(
            b"POST /held HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            pieces,
        );
        assert_eq!(conn.raw(25), b"HTTP/1.1 100 Continue\r\n\r\n");
        conn.send_in_pieces(b"okGET /next HTTP/1.1\r\nHost: n\r\n\r\n", pieces);
        assert_eq!(
            conn.reply().text(),
            "POST /held 1.1\nHost=h\nExpect=100-continue\nContent-Length=2\nx-b:- body:ok"
        );
        assert_eq!(conn.reply().text(), "GET /next 1.1\nHost=n\nx-b:- body:");
    }
}

#[test]
fn request_and_idle_timeouts_close_connections() {
    let builder = Server::builder()
        .request_timeout(Some(Duration::from_millis(200)))
        .idle_timeout(Some(Duration::from_millis(300)));
    let server = serve_with(builder, Limits::default());
    let mut dribbler = Conn::open(server.addr);
    dribbler.send(b"GET / HTTP/1.1\r\nHo");
    let mut idle = Conn::open(server.addr);
    assert_eq!(idle.send(GET).reply().text(), HELLO);
    assert!(dribbler.is_closed());
    assert!(idle.is_closed());
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::RequestTimeout), 1, "{stats}");
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 1, "{stats}");
}

#[test]
fn pipelined_read_ahead_is_bounded_while_the_client_does_not_read() {
    let server = serve();
    let mut conn = Conn::open(server.addr);
    // Write requests without reading any response, until the kernel's
    // buffers are full both ways and a write times out.
    conn.set_write_timeout(Duration::from_millis(300));
    let batch: Vec<u8> = GET.repeat(1000);
    let mut sent = 0;
    while conn.try_send(&batch) {
        sent += 1000;
        assert!(sent < 2_000_000, "the server never stopped reading");
    }
    let buffered = ask(&server.handle, |core| core.buffered_bytes());
    assert!(
        buffered <= 2 * 64 * 1024 + 4096, // a batch of replies + one read of requests
        "the server buffers {buffered} bytes for one client that does not read"
    );
    // Every request is still answered, in order, once the client reads.
    conn.set_write_timeout(WAIT);
    for _ in 0..sent {
        assert_eq!(conn.reply().body.len(), HELLO.len());
    }
}

fn ask<T: Send + 'static>(
    handle: &Handle<u64>,
    f: impl FnOnce(&mut Core<u64>) -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    handle.post(move |core| {
        let _ = tx.send(f(core));
    });
    rx.recv_timeout(WAIT).expect("the loop answered")
}

// ---------------------------------------------------------------------------
// The hello route allocates nothing per request in the steady state.

/// Counts heap allocations per thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn steady_state_hello_allocates_nothing_on_the_loop_thread() {
    let server = serve();
    let mut conn = Conn::open(server.addr);
    for _ in 0..100 {
        assert_eq!(conn.send(GET).reply().text(), HELLO);
    }
    let before = ask(&server.handle, |_| ALLOCATIONS.with(Cell::get));
    for _ in 0..1000 {
        conn.send(GET).reply();
    }
    // Pipelined, too: ten requests per read.
    for _ in 0..100 {
        conn.send(&GET.repeat(10));
        for _ in 0..10 {
            conn.reply();
        }
    }
    let after = ask(&server.handle, |_| ALLOCATIONS.with(Cell::get));
    // The two `ask`s allocate a little themselves (a boxed job each).
    assert!(
        after - before < 20,
        "{} allocations on the loop thread for 2000 requests",
        after - before
    );
}
