//! The example HTTP app (`examples/http_server.rs`) driven by a real client,
//! `curl`: GET, POST, a chunked upload, HEAD, `Expect: 100-continue`, and
//! keep-alive reuse across URLs. Skipped, with a message, where curl is not
//! installed (CI installs it). curl no longer pipelines (it dropped
//! pipelining in 7.65): `tests/http.rs` pipelines with raw bytes.

mod support;

#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{Running, start_with, stats_of};
use twig::Server;
use twig::http::{Http, Limits};

fn serve() -> Running<u64> {
    let app = http_server::router();
    let limits = Limits::default();
    let builder = Server::builder().max_request_size(limits.max_head + limits.max_body + 65536);
    start_with(
        builder,
        0u64,
        move || Http::new(app.clone()).limits(limits),
        |_| {},
    )
}

/// Runs curl with `args` (and `stdin`), or returns `None` if curl is absent.
fn curl(args: &[&str], stdin: &[u8]) -> Option<Output> {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipping: curl is not installed");
        return None;
    }
    let mut child = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run curl");
    // From a thread: curl may write output before it has read all input.
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("curl finished");
    let _ = feeder.join(); // curl may stop reading early (after a 413)
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(output)
}

fn url(server: &Running<u64>, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

#[test]
fn curl_get_post_and_head() {
    let server = serve();
    let Some(get) = curl(&[&url(&server, "/")], b"") else {
        return;
    };
    assert_eq!(get.stdout, b"Hello from twig!\n");

    let post = curl(
        &["--data-binary", "twig & curl", &url(&server, "/echo")],
        b"",
    )
    .unwrap();
    assert_eq!(post.stdout, b"twig & curl");

    let head = curl(&["--head", &url(&server, "/index.html")], b"").unwrap();
    let text = String::from_utf8_lossy(&head.stdout).to_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    assert!(
        text.contains("\r\ncontent-length: ") && text.contains("\r\nserver: twig\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\n\r\n"),
        "a HEAD response has no body: {text:?}"
    );
}

#[test]
fn curl_chunked_upload_is_decoded() {
    let server = serve();
    let body: Vec<u8> = (0..200_000u32).map(|i| b"twig"[i as usize % 4]).collect();
    let args = [
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "@-",
        "--verbose",
    ];
    let Some(output) = curl(&[&args[..], &[&url(&server, "/echo")]].concat(), &body) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("> Transfer-Encoding: chunked"), "{stderr}");
    assert!(
        output.stdout == body,
        "echo differs: {} bytes",
        output.stdout.len()
    );
}

#[test]
fn curl_expect_100_continue() {
    let server = serve();
    let body = vec![b'x'; 300_000];
    let args = [
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        "@-",
        "--verbose",
    ];
    let Some(output) = curl(&[&args[..], &[&url(&server, "/echo")]].concat(), &body) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("< HTTP/1.1 100 Continue"), "{stderr}");
    assert_eq!(output.stdout.len(), body.len());
}

#[test]
fn curl_reuses_the_connection_for_a_second_url() {
    let server = serve();
    let urls = [url(&server, "/"), url(&server, "/headers")];
    let Some(output) = curl(&["--verbose", &urls[0], &urls[1]], b"") else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Re-using"),
        "curl did not reuse the connection: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("Hello from twig!\n") && stdout.contains("Host: "),
        "{stdout}"
    );
    let stats = stats_of(&server.handle);
    assert_eq!((stats.accepted, stats.requests), (1, 2), "{stats}");
}

#[test]
fn curl_sees_413_for_an_upload_over_the_limit() {
    let server = serve();
    let body = vec![b'x'; 2 * 1024 * 1024];
    let args = [
        "-H",
        "Expect: 100-continue", // curl's default above 1 MiB; made explicit
        "--data-binary",
        "@-",
        "--write-out",
        "%{http_code}",
        "--output",
        "/dev/null",
    ];
    let Some(output) = curl(&[&args[..], &[&url(&server, "/echo")]].concat(), &body) else {
        return;
    };
    assert_eq!(output.stdout, b"413");
}
