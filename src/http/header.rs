//! [`HeaderName`]: a response header's name, checked once. A name written
//! in the source ([`HeaderName::from_static`], the constants) is checked
//! when the program compiles; a name made at run time ([`HeaderName::new`],
//! or a `&str` given to [`Response::header`](super::Response::header)) when
//! it is made. Either way the response writes it without looking again.

use std::fmt;

/// The name of a response header: a token (RFC 9110 §5.1), and what twig
/// does with it.
///
/// ```
/// use twig::http::HeaderName;
/// const CACHE: HeaderName = HeaderName::from_static("Cache-Control");
/// assert_eq!(CACHE.as_str(), "Cache-Control");
/// assert!(HeaderName::new("Bad Name").is_err());
/// ```
///
/// A static name that is not a token does not compile:
///
/// ```compile_fail
/// const BAD: twig::http::HeaderName = twig::http::HeaderName::from_static("Bad Name");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderName<'a> {
    name: &'a str,
    role: Role,
}

/// What [`Response::header`](super::Response::header) does with a name,
/// decided when the name is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Written as given.
    Plain,
    /// `Content-Type`: written, and the default type is then not added.
    ContentType,
    /// `Connection`: not written; `close` among its options closes.
    Connection,
    /// `Content-Length`, `Transfer-Encoding`, `Date`, `Server`: twig writes
    /// these itself; ignored.
    Managed,
}

impl HeaderName<'static> {
    /// `Content-Type`.
    pub const CONTENT_TYPE: HeaderName<'static> = HeaderName::from_static("Content-Type");
    /// `Cache-Control`.
    pub const CACHE_CONTROL: HeaderName<'static> = HeaderName::from_static("Cache-Control");
    /// `Location`.
    pub const LOCATION: HeaderName<'static> = HeaderName::from_static("Location");
    /// `Allow`.
    pub const ALLOW: HeaderName<'static> = HeaderName::from_static("Allow");
    /// `Connection`.
    pub const CONNECTION: HeaderName<'static> = HeaderName::from_static("Connection");

    /// A name written in the source, checked at compile time when used in a
    /// `const` (as the constants above are).
    ///
    /// # Panics
    /// If `name` is not a token: in a `const`, that is a compile error.
    pub const fn from_static(name: &'static str) -> HeaderName<'static> {
        match HeaderName::new(name) {
            Ok(name) => name,
            Err(_) => panic!("a header name must be a non-empty token"),
        }
    }
}

impl<'a> HeaderName<'a> {
    /// Checks a name made at run time.
    ///
    /// # Errors
    /// [`InvalidHeaderName`] if `name` is empty or holds a byte that is not
    /// a token character (a space, a colon, CR, LF, …).
    pub const fn new(name: &'a str) -> Result<HeaderName<'a>, InvalidHeaderName<'a>> {
        if !is_token(name.as_bytes()) {
            return Err(InvalidHeaderName(name));
        }
        Ok(HeaderName {
            name,
            role: role_of(name.as_bytes()),
        })
    }

    /// The name as given.
    pub const fn as_str(&self) -> &'a str {
        self.name
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }
}

impl fmt::Display for HeaderName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A header name that is not a token; it holds the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidHeaderName<'a>(pub &'a str);

impl fmt::Display for InvalidHeaderName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid header name {:?}", self.0)
    }
}

impl std::error::Error for InvalidHeaderName<'_> {}

/// What [`Response::header`](super::Response::header) takes as a name: a
/// checked [`HeaderName`], or a string checked on each call.
pub trait IntoHeaderName<'a> {
    /// The checked name.
    ///
    /// # Errors
    /// [`InvalidHeaderName`] if the name is not a token.
    fn into_header_name(self) -> Result<HeaderName<'a>, InvalidHeaderName<'a>>;
}

impl<'a> IntoHeaderName<'a> for HeaderName<'a> {
    fn into_header_name(self) -> Result<HeaderName<'a>, InvalidHeaderName<'a>> {
        Ok(self)
    }
}

impl<'a> IntoHeaderName<'a> for &'a str {
    fn into_header_name(self) -> Result<HeaderName<'a>, InvalidHeaderName<'a>> {
        HeaderName::new(self)
    }
}

impl<'a> IntoHeaderName<'a> for &'a String {
    fn into_header_name(self) -> Result<HeaderName<'a>, InvalidHeaderName<'a>> {
        HeaderName::new(self)
    }
}

/// Whether `value` may be a header value: no control character but tab
/// (CR, LF and NUL would let a value end the line and inject a header).
pub(crate) fn is_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

/// RFC 9110 `tchar` for each byte.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+');
        table[b] |= matches!(c, b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        b += 1;
    }
    table
};

/// Whether `name` is a non-empty token.
const fn is_token(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        if !TCHAR[name[i] as usize] {
            return false;
        }
        i += 1;
    }
    !name.is_empty()
}

const fn role_of(name: &[u8]) -> Role {
    // Lengths differ, so one comparison at most.
    let (managed, role): (&[u8], Role) = match name.len() {
        4 => (b"date", Role::Managed),
        6 => (b"server", Role::Managed),
        10 => (b"connection", Role::Connection),
        12 => (b"content-type", Role::ContentType),
        14 => (b"content-length", Role::Managed),
        17 => (b"transfer-encoding", Role::Managed),
        _ => return Role::Plain,
    };
    if name.eq_ignore_ascii_case(managed) {
        role
    } else {
        Role::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_roles() {
        let cases = [
            ("X-Ok", Some(Role::Plain)),
            ("content-TYPE", Some(Role::ContentType)),
            ("Connection", Some(Role::Connection)),
            ("DATE", Some(Role::Managed)),
            ("Server", Some(Role::Managed)),
            ("Content-Length", Some(Role::Managed)),
            ("transfer-encoding", Some(Role::Managed)),
            ("Dates", Some(Role::Plain)),
            ("!#$%&'*+-.^_`|~09azAZ", Some(Role::Plain)),
            ("", None),
            ("Bad Name", None),
            ("X:", None),
            ("X\r\nY", None),
            ("é", None),
            ("(x)", None),
        ];
        for (name, want) in cases {
            assert_eq!(
                HeaderName::new(name).ok().map(|n| n.role()),
                want,
                "{name:?}"
            );
        }
    }

    #[test]
    fn token_table_matches_the_rfc() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(TCHAR[b as usize], want, "byte {b}");
        }
    }

    #[test]
    fn values() {
        assert!(is_value(b"text/plain; charset=utf-8"));
        assert!(is_value(b"a\tb"));
        assert!(is_value("é".as_bytes()));
        for bad in [&b"a\r\nb"[..], b"a\0", b"\x7f", b"\n"] {
            assert!(!is_value(bad), "{bad:?}");
        }
    }
}
