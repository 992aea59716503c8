//! [`static_files`]: a directory served over HTTP, as nginx's `root` does:
//! `Content-Type` by extension, `ETag` and `Last-Modified` with their
//! conditional requests (304), one `Range` (206, or 416), `HEAD`, and the
//! body streamed from the file as the socket takes it (a [`Producer`]),
//! never read whole.
//!
//! **Blocking reads.** Opening, `stat` and `read` of a local file are
//! blocking syscalls made on the loop thread, as nginx makes them without
//! `aio`: fast from the page cache, slow from a cold or network disk,
//! which then stalls every client of the loop. Serve cold or remote trees
//! through the offload pool, or from nginx.
//!
//! **What is refused.** A path is taken segment by segment: a backslash, a
//! NUL, an encoded `/` or `\` (`%2f`, `%5c`) or bytes that are not UTF-8
//! get a 400; an empty segment (`//`, an absolute path) and a segment
//! starting with `.` (`..`, `%2e%2e`, hidden files such as `.git`) a 404.
//! What is left is resolved with symlinks followed (`canonicalize`) and
//! must still lie under the root, else 404.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use log::debug;

use super::conditional::{self, Range};
use super::form::percent_decode;
use super::stream::{Body, Produce};
use super::{Request, Response, imf_fixdate};
use crate::Ctx;

/// A handler serving the files under `dir` (resolved once, here): mount it
/// on a route that ends with `{*path}`, whose value is the file's path
/// under `dir`. A directory is served as its `index.html`.
///
/// ```no_run
/// use twig::http::{Router, static_files};
/// let app: Router = Router::new().get("/files/{*path}", static_files("./public")?);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `dir` does not exist or cannot be resolved.
pub fn static_files<S>(
    dir: impl AsRef<Path>,
) -> io::Result<impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync + 'static> {
    let root: Arc<Path> = std::fs::canonicalize(dir)?.into();
    Ok(
        move |req: &Request<'_>, res: &mut Response<'_>, ctx: &mut Ctx<'_, S>| {
            serve(&root, req, res, ctx)
        },
    )
}

/// Answers one request for a file under `root`.
fn serve<S>(root: &Path, req: &Request<'_>, res: &mut Response<'_>, ctx: &mut Ctx<'_, S>) {
    let path = match under(root, req.param("path").unwrap_or_default()) {
        Ok(path) => path,
        Err(status) => {
            debug!(
                "{} {}: {} refused ({status})",
                ctx.id(),
                ctx.peer(),
                req.target()
            );
            let why = if status == 400 {
                "bad path\n"
            } else {
                "not found\n"
            };
            res.status(status).text(why);
            return;
        }
    };
    let opened = File::open(&path).and_then(|file| Ok((file.metadata()?, file)));
    let (meta, mut file) = match opened {
        Ok((meta, file)) if meta.is_file() => (meta, file),
        _ => {
            res.status(404).text("not found\n");
            return;
        }
    };
    let len = meta.len();
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    let etag = format!("\"{len:x}-{:x}\"", mtime.map_or(0, |d| d.as_nanos()));
    let modified = mtime.map(|d| UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()));
    let last_modified = modified.map(imf_fixdate);
    let last_modified = last_modified
        .as_ref()
        .and_then(|d| std::str::from_utf8(d).ok());
    res.header("ETag", &etag).header("Accept-Ranges", "bytes");
    if let Some(date) = last_modified {
        res.header("Last-Modified", date);
    }
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    let not_modified = match req.header_str("If-None-Match") {
        Some(tags) => conditional::none_match(tags, &etag),
        None => req
            .header_str("If-Modified-Since")
            .and_then(conditional::imf_fixdate_seconds)
            .zip(mtime)
            .is_some_and(|(since, mtime)| mtime.as_secs() <= since),
    };
    if not_modified {
        res.status(304);
        return;
    }
    res.content_type(content_type(&path));
    // If-Range: the range only holds for this very version of the file.
    let fresh = req
        .header_str("If-Range")
        .is_none_or(|tag| tag.trim() == etag || Some(tag.trim()) == last_modified);
    let range = match fresh {
        true => conditional::range(req.header_str("Range"), len),
        false => Range::Whole,
    };
    let (first, count) = match range {
        Range::Whole => (0, len),
        Range::Part { first, last } => {
            let value = format!("bytes {first}-{last}/{len}");
            res.status(206).header("Content-Range", &value);
            (first, last - first + 1)
        }
        Range::Unsatisfiable => {
            res.status(416)
                .header("Content-Range", &format!("bytes */{len}"));
            res.text("range not satisfiable\n");
            return;
        }
    };
    if first > 0 && file.seek(SeekFrom::Start(first)).is_err() {
        res.status(500).text("seek failed\n");
        return;
    }
    res.produce(ctx, Some(count), move |body: &mut Body<'_>| {
        // A read error or an early end (the file shrank) stops short of
        // the length: the layer closes the connection, as it must.
        match body.fill(|buf| file.read(buf)) {
            Ok(n) if n > 0 => Produce::More,
            _ => Produce::Done,
        }
    });
}

/// The file `raw` (the route's `{*path}`, still percent-encoded) names
/// under `root`, or the status that refuses it.
fn under(root: &Path, raw: &str) -> Result<PathBuf, u16> {
    let mut path = root.to_path_buf();
    let segments: Vec<&str> = raw.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if raw.is_empty() || (segment.is_empty() && i + 1 == segments.len() && i > 0) {
            break; // the root itself, or a trailing slash: a directory
        }
        if segment.contains('\\') {
            return Err(400);
        }
        let decoded = percent_decode(segment);
        let text = std::str::from_utf8(&decoded).map_err(|_| 400u16)?;
        if text.contains(['/', '\\', '\0']) {
            return Err(400);
        }
        if text.is_empty() || text.starts_with('.') {
            return Err(404);
        }
        path.push(text);
    }
    // Follow symlinks; what is not under the root after that is not served.
    let mut real = std::fs::canonicalize(&path).map_err(|_| 404u16)?;
    if real.is_dir() {
        real = std::fs::canonicalize(real.join("index.html")).map_err(|_| 404u16)?;
    }
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(404)
    }
}

/// `Content-Type` by file extension: the common web types; anything else
/// is `application/octet-stream`.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    const TYPES: &[(&str, &str)] = &[
        ("html", "text/html; charset=utf-8"),
        ("htm", "text/html; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
        ("js", "text/javascript; charset=utf-8"),
        ("mjs", "text/javascript; charset=utf-8"),
        ("json", "application/json"),
        ("txt", "text/plain; charset=utf-8"),
        ("md", "text/markdown; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
        ("xml", "application/xml"),
        ("svg", "image/svg+xml"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("webp", "image/webp"),
        ("avif", "image/avif"),
        ("ico", "image/x-icon"),
        ("wasm", "application/wasm"),
        ("pdf", "application/pdf"),
        ("zip", "application/zip"),
        ("gz", "application/gzip"),
        ("woff", "font/woff"),
        ("woff2", "font/woff2"),
        ("mp4", "video/mp4"),
        ("webm", "video/webm"),
        ("mp3", "audio/mpeg"),
    ];
    TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or("application/octet-stream", |(_, t)| t)
}
