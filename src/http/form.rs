//! Percent-decoding (RFC 3986 §2.1) of paths and query strings, and
//! `application/x-www-form-urlencoded` forms (the WHATWG URL standard),
//! with the servo/url project's `percent-encoding` and `form_urlencoded`
//! crates: small, no dependencies of their own, and the decoding browsers
//! use, so `+`, `%2B` and broken escapes mean here what they mean there.

use std::borrow::Cow;

use super::Request;

/// Decodes `%XX` escapes in `text` (a path segment, say); an escape that is
/// not two hex digits stays as it is. Borrows when there is none.
///
/// ```
/// assert_eq!(&*twig::http::percent_decode("a%20b%2fc"), b"a b/c");
/// ```
pub fn percent_decode(text: &str) -> Cow<'_, [u8]> {
    percent_encoding::percent_decode_str(text).into()
}

/// Decodes `%XX` escapes in `text` into UTF-8 text, or `None` if the
/// decoded bytes are not UTF-8.
pub fn percent_decode_utf8(text: &str) -> Option<Cow<'_, str>> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
}

/// Name/value pairs of a form or query string, decoded (`+` is a space,
/// `%XX` an escape; bytes that are not UTF-8 become U+FFFD).
pub fn form_pairs(bytes: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(bytes)
}

impl<'a> Request<'a> {
    /// The query string's name/value pairs, decoded (see [`form_pairs`]);
    /// none without a query.
    ///
    /// ```
    /// # use twig::http::Router;
    /// let app: Router = Router::new().get("/search", |req, res, _| {
    ///     let q = req.query_value("q").unwrap_or_default(); // ?q=twig+%26+mio: "twig & mio"
    ///     res.text(&q);
    /// });
    /// ```
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        form_pairs(self.query().unwrap_or_default().as_bytes())
    }

    /// The first value of `name` in the query string, decoded.
    pub fn query_value(&self, name: &str) -> Option<Cow<'a, str>> {
        self.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The body's name/value pairs if it is a form
    /// (`Content-Type: application/x-www-form-urlencoded`), decoded; `None`
    /// for any other content type.
    pub fn form(&self) -> Option<impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a> {
        let kind = self.header_str("Content-Type")?;
        let essence = kind.split(';').next().unwrap_or_default().trim();
        essence
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            .then(|| form_pairs(self.body()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_pluses() {
        assert_eq!(&*percent_decode("%2e%2E/%zz%4"), b"../%zz%4");
        assert_eq!(percent_decode_utf8("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(percent_decode_utf8("%ff"), None);
        let pairs: Vec<(String, String)> = form_pairs(b"a=1+2&b=%26&c&=x")
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        let want = [("a", "1 2"), ("b", "&"), ("c", ""), ("", "x")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, want);
    }
}
