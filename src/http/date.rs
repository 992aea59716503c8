//! The `Date` header: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110
//! §5.6.7) formatted from [`SystemTime`] by hand, and cached so that a busy
//! loop formats it at most once per second.

use std::cell::RefCell;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate.
pub(crate) const DATE_LEN: usize = 29;

/// The last date formatted on this thread. One reactor runs per thread, so
/// this is a per-loop cache shared by all its connections, without a lock.
struct Cache {
    /// The loop turn ([`Core::now`](crate::Core::now)) the wall clock was last
    /// read in: within one turn the clock is not read again.
    turn: Option<Instant>,
    /// The Unix second `text` shows.
    second: u64,
    text: [u8; DATE_LEN],
}

thread_local! {
    // A RefCell, borrowed in place: a Cell would copy the whole cache out
    // and back on every call.
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache { turn: None, second: u64::MAX, text: [b' '; DATE_LEN] })
    };
}

/// The current date for a response written in the loop turn `turn`: the
/// wall clock is read at most once per turn, and formatted only when its
/// second has changed.
pub(crate) fn cached(turn: Instant) -> [u8; DATE_LEN] {
    CACHE.with_borrow_mut(|cache| {
        if cache.turn != Some(turn) {
            cache.turn = Some(turn);
            let second = unix_seconds(SystemTime::now());
            if second != cache.second {
                cache.second = second;
                cache.text = format_seconds(second);
            }
        }
        cache.text
    })
}

/// Formats `time` as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`
/// (times before 1970 show as the epoch).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let date = twig::http::imf_fixdate(UNIX_EPOCH + Duration::from_secs(784_111_777));
/// assert_eq!(&date, b"Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn imf_fixdate(time: SystemTime) -> [u8; DATE_LEN] {
    format_seconds(unix_seconds(time))
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn format_seconds(secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]); // 1970-01-01 was a Thursday
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two_digits(&mut out[12..14], year / 100 % 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], of_day / 3600);
    two_digits(&mut out[20..22], of_day / 60 % 60);
    two_digits(&mut out[23..25], of_day % 60);
    out
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31) in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let cases: &[(u64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_251_199, "Thu, 29 Feb 2024 23:59:59 GMT"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for &(secs, want) in cases {
            assert_eq!(std::str::from_utf8(&format_seconds(secs)).unwrap(), want);
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips_through_the_calendar() {
        // Walk day by day from 1970 and check the calendar against a naive
        // count of month lengths.
        let (mut year, mut month, mut day) = (1970, 1, 1);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let len = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > len {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
    }

    #[test]
    fn cache_reads_the_clock_once_per_turn() {
        let turn = Instant::now();
        let first = cached(turn);
        assert_eq!(&first[26..], b"GMT");
        // Same turn: the same text, even if a second boundary passed.
        assert_eq!(cached(turn), first);
    }
}
