//! The pure parts of serving a file: reading `If-Modified-Since` dates,
//! matching `If-None-Match` entity tags, and parsing a single `Range`
//! (RFC 9110 §13.1 and §14). No I/O: `files.rs` uses them.

/// What a `Range` header asks of a body of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// Serve the whole body (no header, several ranges, or one we do not
    /// read: a server may always ignore `Range`).
    Whole,
    /// Bytes `first..=last`: a 206.
    Part { first: u64, last: u64 },
    /// No byte of the body is in the range: a 416.
    Unsatisfiable,
}

/// Parses `bytes=first-last`, `bytes=first-` or `bytes=-suffix` against a
/// body of `len` bytes.
pub(crate) fn range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole; // several ranges: one 200 is simpler, and allowed
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    match (number(first), number(last), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (None, Some(suffix), _) if first.trim().is_empty() => match suffix.min(len) {
            0 => Range::Unsatisfiable,
            n => Range::Part {
                first: len - n,
                last: len - 1,
            },
        },
        (Some(first), _, true) if first < len => Range::Part {
            first,
            last: len - 1,
        },
        (Some(first), Some(last), false) if first <= last && first < len => Range::Part {
            first,
            last: last.min(len - 1),
        },
        (Some(first), Some(last), false) if first <= last => Range::Unsatisfiable,
        (Some(_), _, true) => Range::Unsatisfiable,
        _ => Range::Whole, // malformed: ignored
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as §13.1.2
/// asks for this header: `W/"x"` matches `"x"`), or is `*`.
pub(crate) fn none_match(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let etag = opaque(etag);
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == etag)
}

/// Seconds since the Unix epoch of an IMF-fixdate (`Sun, 06 Nov 1994
/// 08:49:37 GMT`), the only date format a sender may generate; `None` for
/// anything else (the obsolete formats are ignored, so the file is sent).
pub(crate) fn imf_fixdate_seconds(date: &str) -> Option<u64> {
    let b = date.trim().as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let digits = |at: usize, n: usize| -> Option<u64> {
        let s = std::str::from_utf8(b.get(at..at + n)?).ok()?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let day = digits(5, 2)?;
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u64 + 1;
    let year = digits(12, 4)?;
    let (h, m, s) = (digits(17, 2)?, digits(20, 2)?, digits(23, 2)?);
    if b[16] != b' ' || b[19] != b':' || b[22] != b':' || h > 23 || m > 59 || s > 60 || year < 1970
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), March-based.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y % 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn ranges() {
        use Range::*;
        let cases = [
            (None, Whole),
            (Some("bytes=0-9"), Part { first: 0, last: 9 }),
            (
                Some("bytes=90-200"),
                Part {
                    first: 90,
                    last: 99,
                },
            ),
            (
                Some("bytes=95-"),
                Part {
                    first: 95,
                    last: 99,
                },
            ),
            (
                Some("bytes=-10"),
                Part {
                    first: 90,
                    last: 99,
                },
            ),
            (Some("bytes=-500"), Part { first: 0, last: 99 }),
            (Some("bytes=100-"), Unsatisfiable),
            (Some("bytes=100-200"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=9-0"), Whole),
            (Some("bytes=0-1,5-6"), Whole),
            (Some("items=0-1"), Whole),
            (Some("bytes=a-b"), Whole),
            (Some("bytes=+1-2"), Whole),
        ];
        for (header, want) in cases {
            assert_eq!(range(header, 100), want, "{header:?}");
        }
        assert_eq!(range(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn entity_tags() {
        assert!(none_match("\"a\"", "\"a\""));
        assert!(none_match("\"x\", W/\"a\"", "\"a\""));
        assert!(none_match("*", "\"a\""));
        assert!(!none_match("\"ab\"", "\"a\""));
    }

    #[test]
    fn dates_read_back_what_twig_writes() {
        for secs in [0u64, 784_111_777, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let date = crate::http::imf_fixdate(UNIX_EPOCH + Duration::from_secs(secs));
            let text = std::str::from_utf8(&date).unwrap();
            assert_eq!(imf_fixdate_seconds(text), Some(secs), "{text}");
        }
        assert_eq!(imf_fixdate_seconds("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(imf_fixdate_seconds("Sun, 06 Xyz 1994 08:49:37 GMT"), None);
    }
}
