//! The HTTP peer: hyper 1 on tokio's current-thread runtime (one thread,
//! like twig), shaped like hyper's own `examples/hello.rs`: HTTP/1.1 with
//! keep-alive, one task per connection, a 17-byte plain-text hello for every
//! request (twig's is 17 bytes too). Address from the first argument
//! (default `127.0.0.1:8080`).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"Hello from tokio\n")));
    // The same Content-Type as twig's, so responses differ in little more
    // than the Server and Date headers.
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        loop {
            let (socket, _) = listener.accept().await?;
            socket.set_nodelay(true)?;
            tokio::spawn(async move {
                // Errors are the client's doing (a reset, a bad request):
                // the connection ends, the server goes on.
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(socket), service_fn(hello))
                    .await;
            });
        }
    })
}
