//! [`Request`]: a parsed request, borrowing every byte from the loop's input
//! buffer (no copies, no allocation).

use std::fmt;

/// Where one header line's name and value lie in the head, as byte offsets
/// from its start (what the framer's parse learned, so the head is not
/// parsed again for the handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderSpan {
    pub(crate) name: (usize, usize),
    pub(crate) value: (usize, usize),
}

/// The bytes of `head` from `start` to `end` (empty if out of range, which
/// the framer's offsets never are).
pub(crate) fn bytes_at(head: &[u8], (start, end): (usize, usize)) -> &[u8] {
    head.get(start..end).unwrap_or_default()
}

/// Most `{param}` segments in one route pattern.
pub const MAX_PARAMS: usize = 4;

/// One HTTP request, as a handler sees it: everything borrows from the
/// connection's input buffer, so it lives only for the handler call.
///
/// Paths, queries and parameters are as sent: percent-escapes are not
/// decoded.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    /// The head, and where its header lines lie in it.
    head: &'a [u8],
    headers: &'a [HeaderSpan],
    /// The body, decoded if it was chunked.
    body: &'a [u8],
    /// `{name}` → value, for the route that matched; the first `n_params`.
    params: [(&'a str, &'a str); MAX_PARAMS],
    n_params: usize,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        method: &'a str,
        target: &'a str,
        version: u8,
        head: &'a [u8],
        headers: &'a [HeaderSpan],
        body: &'a [u8],
    ) -> Request<'a> {
        let (path, query) = split_target(target);
        Request {
            method,
            target,
            path,
            query,
            version,
            head,
            headers,
            body,
            params: [("", ""); MAX_PARAMS],
            n_params: 0,
        }
    }

    /// The same request, with the parameters a route pattern captured.
    pub(crate) fn with_params(
        mut self,
        params: [(&'a str, &'a str); MAX_PARAMS],
        n_params: usize,
    ) -> Request<'a> {
        self.params = params;
        self.n_params = n_params;
        self
    }

    /// The method, e.g. `GET` (methods are case-sensitive).
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent: `/path?query`, or an absolute URL.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The path: the target without the query (and, for an absolute URL,
    /// without the scheme and authority). Always starts with `/`, except for
    /// `OPTIONS *`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query: what follows the first `?` of the target, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The minor HTTP version: `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        let head = self.head;
        self.headers
            .iter()
            .find(|h| bytes_at(head, h.name).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| bytes_at(head, h.value))
    }

    /// Like [`header`](Request::header), if the value is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Every header line in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let head = self.head;
        // Names are tokens (ASCII): httparse checked them.
        self.headers.iter().map(move |h| {
            let name = std::str::from_utf8(bytes_at(head, h.name)).unwrap_or_default();
            (name, bytes_at(head, h.value))
        })
    }

    /// The body (decoded, if it was sent chunked); empty if there was none.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The value of the route parameter `{name}`, if the route that matched
    /// has one.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params[..self.n_params]
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| *value)
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers.len())
            .field("body", &self.body.len())
            .finish()
    }
}

/// Splits a request target into path and query. For the absolute form
/// (`http://host/p?q`), the path starts after the authority.
fn split_target(target: &str) -> (&str, Option<&str>) {
    let path_and_query = if target.starts_with('/') || target == "*" {
        target
    } else {
        let authority = target.find("://").map_or(target, |i| &target[i + 3..]);
        authority
            .find(['/', '?'])
            .map_or("", |start| &authority[start..])
    };
    let (path, query) = match path_and_query.bytes().position(|b| b == b'?') {
        Some(i) => (&path_and_query[..i], Some(&path_and_query[i + 1..])),
        None => (path_and_query, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

#[cfg(test)]
mod tests {
    use super::split_target;

    #[test]
    fn targets() {
        assert_eq!(split_target("/"), ("/", None));
        assert_eq!(split_target("/a/b?x=1&y"), ("/a/b", Some("x=1&y")));
        assert_eq!(split_target("/?"), ("/", Some("")));
        assert_eq!(split_target("*"), ("*", None));
        assert_eq!(split_target("http://h:80/a?q"), ("/a", Some("q")));
        assert_eq!(split_target("http://h"), ("/", None));
        assert_eq!(split_target("http://h?q"), ("/", Some("q")));
    }
}
