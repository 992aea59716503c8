//! `twig::http::static_files` driven by curl: a file's bytes and type, a
//! large file streamed, `ETag`/`If-None-Match` and `If-Modified-Since`
//! (304), ranges (206, 416), `HEAD`, a directory's `index.html`, every
//! traversal form refused (`curl --path-as-is`, so curl sends `..` as it
//! is), and `http_server --static DIR`. Also the query and form decoding
//! helpers. Skipped, with a message, where curl is not installed (never
//! under CI=true).

mod support;

#[path = "../examples/http_server.rs"]
#[allow(dead_code)]
mod http_server;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::process::Proc;
use support::{Running, have, start_with};
use twig::Server;
use twig::http::{Http, Router, static_files};

/// A fresh tree: `root/` with files, a hidden file, a subdirectory with an
/// index, symlinks in and out; `outside.txt` beside `root/`.
fn tree(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(base.join("outside.txt"), "SECRET outside the root\n").unwrap();
    std::fs::write(root.join("hello.txt"), "hello, files\n").unwrap();
    std::fs::write(root.join("page.html"), "<p>hi</p>\n").unwrap();
    std::fs::write(root.join(".secret"), "SECRET hidden\n").unwrap();
    std::fs::write(root.join("sub/index.html"), "<p>index</p>\n").unwrap();
    std::fs::write(root.join("big.bin"), big()).unwrap();
    std::os::unix::fs::symlink(base.join("outside.txt"), root.join("escape")).unwrap();
    std::os::unix::fs::symlink(root.join("hello.txt"), root.join("inside")).unwrap();
    root
}

/// 3 MiB of varied bytes.
fn big() -> Vec<u8> {
    (0u32..3 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn serve(root: &Path) -> Running<()> {
    let app: Router = Router::new()
        .get("/files/{*path}", static_files(root).unwrap())
        .get("/q", |req, res, _| {
            let q = req.query_value("q").unwrap_or_default();
            res.text(&format!("q={q}\n"));
        })
        .post("/form", |req, res, _| match req.form() {
            Some(pairs) => {
                let text: Vec<String> = pairs.map(|(n, v)| format!("{n}={v}")).collect();
                res.text(&text.join("|"));
            }
            None => {
                res.status(415).text("not a form\n");
            }
        });
    start_with(
        Server::builder(),
        (),
        move || Http::new(app.clone()),
        |_| {},
    )
}

/// curl's output for `args`: the status, the head (with `-i`/`-I`) and body.
fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-i", "--path-as-is"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8_lossy(&out.stdout[..at]).into_owned();
    let status = head[9..12].parse().expect("a status");
    (status, head, out.stdout[at..].to_vec())
}

/// The value of header `name` in `head`.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

#[test]
fn files_with_types_validators_and_ranges() {
    if !have("curl", "--version") {
        return;
    }
    let root = tree("files-main");
    let server = serve(&root);
    let url = |path: &str| format!("http://{}{path}", server.addr);

    let (status, head, body) = curl(&[&url("/files/hello.txt")]);
    assert_eq!((status, &body[..]), (200, &b"hello, files\n"[..]));
    assert_eq!(
        header(&head, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&head, "Content-Length"), Some("13"));
    let etag = header(&head, "ETag").expect("an ETag").to_string();
    let modified = header(&head, "Last-Modified")
        .expect("a Last-Modified")
        .to_string();
    let (_, head, _) = curl(&[&url("/files/page.html")]);
    assert_eq!(
        header(&head, "Content-Type"),
        Some("text/html; charset=utf-8")
    );

    // Conditional requests: 304, with no body.
    let inm = format!("If-None-Match: {etag}");
    let (status, _, body) = curl(&["-H", &inm, &url("/files/hello.txt")]);
    assert_eq!((status, body.len()), (304, 0));
    let (status, _, _) = curl(&["-H", "If-None-Match: \"other\"", &url("/files/hello.txt")]);
    assert_eq!(status, 200);
    let ims = format!("If-Modified-Since: {modified}");
    let (status, _, body) = curl(&["-H", &ims, &url("/files/hello.txt")]);
    assert_eq!((status, body.len()), (304, 0));
    let old = "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(curl(&["-H", old, &url("/files/hello.txt")]).0, 200);

    // Ranges.
    let (status, head, body) = curl(&["-r", "0-9", &url("/files/hello.txt")]);
    assert_eq!((status, &body[..]), (206, &b"hello, fil"[..]));
    assert_eq!(header(&head, "Content-Range"), Some("bytes 0-9/13"));
    let (status, _, body) = curl(&["-r", "-6", &url("/files/hello.txt")]);
    assert_eq!((status, &body[..]), (206, &b"files\n"[..]));
    let (status, head, _) = curl(&["-r", "100-200", &url("/files/hello.txt")]);
    assert_eq!(status, 416);
    assert_eq!(header(&head, "Content-Range"), Some("bytes */13"));

    // HEAD: the GET's head, no body.
    let (status, head, body) = curl(&["-I", &url("/files/hello.txt")]);
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(header(&head, "Content-Length"), Some("13"));

    // A directory's index, a symlink inside the root.
    assert_eq!(curl(&[&url("/files/sub/")]).2, b"<p>index</p>\n");
    assert_eq!(curl(&[&url("/files/inside")]).2, b"hello, files\n");
    server.stop();
}

#[test]
fn a_large_file_streams_whole_and_in_part() {
    if !have("curl", "--version") {
        return;
    }
    let root = tree("files-big");
    let server = serve(&root);
    let url = format!("http://{}/files/big.bin", server.addr);
    let want = big();
    let (status, head, body) = curl(&[&url]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "Content-Length"), Some("3145728"));
    assert!(body == want, "{} bytes", body.len());
    let (status, _, body) = curl(&["-r", "1000000-2500000", &url]);
    assert_eq!(status, 206);
    assert!(
        body[..] == want[1_000_000..=2_500_000],
        "{} bytes",
        body.len()
    );
    server.stop();
}

#[test]
fn every_traversal_is_refused() {
    if !have("curl", "--version") {
        return;
    }
    let root = tree("files-traversal");
    let server = serve(&root);
    let paths = [
        "/files/../outside.txt",
        "/files/sub/../../outside.txt",
        "/files/%2e%2e/outside.txt",
        "/files/%2E%2E/outside.txt",
        "/files/.%2e/outside.txt",
        "/files/sub%2f..%2f..%2foutside.txt",
        "/files/..%2foutside.txt",
        "/files/..%5coutside.txt",
        "/files/..\\outside.txt",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/escape",
        "/files/hello.txt%00.html",
        "/files/.secret",
        "/files/%2esecret",
        "/files/nope.txt",
        "/files/%ff",
    ];
    for path in paths {
        let (status, _, body) = curl(&[&format!("http://{}{path}", server.addr)]);
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("SECRET"), "{path}");
    }
    server.stop();
}

#[test]
fn queries_and_forms_are_decoded() {
    if !have("curl", "--version") {
        return;
    }
    let root = tree("files-forms");
    let server = serve(&root);
    let url = |path: &str| format!("http://{}{path}", server.addr);
    assert_eq!(curl(&[&url("/q?x=1&q=twig+%26+mio")]).2, b"q=twig & mio\n");
    let (status, _, body) = curl(&["--data", "a=1+2&b=%26&c=caf%C3%A9", &url("/form")]);
    assert_eq!((status, &body[..]), (200, "a=1 2|b=&|c=café".as_bytes()));
    let json = ["-H", "Content-Type: application/json", "--data", "{}"];
    assert_eq!(curl(&[&json[..], &[&url("/form")]].concat()).0, 415);
    server.stop();
}

#[test]
fn http_server_serves_a_static_directory() {
    if !have("curl", "--version") {
        return;
    }
    let root = tree("files-example");
    let dir = root.to_str().unwrap();
    let mut server = Proc::spawn_args("http_server", &["127.0.0.1:0", "--static", dir], &[]);
    let addr = server.bound_addr("serving HTTP on ");
    let (status, _, body) = curl(&[&format!("http://{addr}/files/hello.txt")]);
    assert_eq!((status, &body[..]), (200, &b"hello, files\n"[..]));
    let (status, _, _) = curl(&[&format!("http://{addr}/files/../outside.txt")]);
    assert_eq!(status, 404);
    server.signal("TERM");
    let (status, _) = server.wait_exit(std::time::Duration::from_secs(10));
    assert!(status.success());
}
