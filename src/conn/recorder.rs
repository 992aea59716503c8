//! The flight recorder: each connection keeps its last few events, syscall
//! results and state changes in a fixed-size ring (no allocation per entry),
//! dumped at `debug` when it ends abnormally — "why was this client
//! dropped?" answered without running at trace level.

use std::fmt;

use crate::conn::machine::Life;
use crate::conn::readiness::Readiness;

/// How many marks a connection remembers (a power of two).
const CAPACITY: usize = 16;
const _: () = assert!(CAPACITY.is_power_of_two() && CAPACITY <= 128);

/// One thing that happened to a connection. Eight bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Accepted (or, if `outbound`, its connect started), in loop turn `turn`.
    Opened { turn: u32, outbound: bool },
    /// A readiness event arrived in loop turn `turn`.
    Event { turn: u32, flags: EventFlags },
    /// `read` returned this many bytes.
    Read(u32),
    /// `read` returned 0: the peer closed its side.
    Eof,
    /// `read` said `WouldBlock`.
    ReadBlocked,
    /// `write` took this many bytes.
    Wrote(u32),
    /// `write` said `WouldBlock`: the socket is full.
    WriteBlocked,
    /// A syscall failed (the close reason follows as a state change).
    Failed,
    /// This many requests answered in one batch.
    Answered(u32),
    /// The connection moved to this state.
    To(Life),
}

/// The readiness of one event, as its epoll bits in one byte (decoded only
/// when shown: the loop stores what `epoll_wait` gave, as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventFlags(u8);

impl EventFlags {
    #[inline(always)]
    pub(crate) fn new(readiness: Readiness) -> EventFlags {
        EventFlags(readiness.compact())
    }
}

/// `R|W`, `R|HUP`...: readable, writable, the peer hung up, an error.
impl fmt::Display for EventFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = Readiness::from_compact(self.0);
        let names = [
            (r.is_readable(), "R"),
            (r.is_writable(), "W"),
            (r.is_read_closed(), "HUP"),
            (r.is_error(), "ERR"),
        ];
        let mut sep = "";
        for (set, name) in names {
            if set {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        Ok(())
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mark::Opened { turn, outbound } => {
                let how = if *outbound {
                    "connect started"
                } else {
                    "accepted"
                };
                write!(f, "[turn {turn}] {how}")
            }
            Mark::Event { turn, flags } => write!(f, "[turn {turn}] event {flags}"),
            Mark::Read(n) => write!(f, "read {n}"),
            Mark::Eof => f.write_str("read EOF"),
            Mark::ReadBlocked => f.write_str("read WouldBlock"),
            Mark::Wrote(n) => write!(f, "wrote {n}"),
            Mark::WriteBlocked => f.write_str("write WouldBlock"),
            Mark::Failed => f.write_str("syscall failed"),
            Mark::Answered(n) => write!(f, "answered {n}"),
            Mark::To(state) => write!(f, "-> {state:?}"),
        }
    }
}

/// A ring of the last [`CAPACITY`] marks.
pub(crate) struct Recorder {
    ring: [Option<Mark>; CAPACITY],
    /// Where the next mark goes; wraps.
    next: u8,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder {
            ring: [None; CAPACITY],
            next: 0,
        }
    }

    /// Remembers `mark`, forgetting the oldest one if full.
    #[inline]
    pub(crate) fn record(&mut self, mark: Mark) {
        // The mask is the modulo (CAPACITY is a power of two) and also
        // proves the index in bounds, so no check is compiled in.
        let slot = usize::from(self.next) & (CAPACITY - 1);
        self.ring[slot] = Some(mark);
        self.next = self.next.wrapping_add(1) & (CAPACITY as u8 - 1);
    }

    /// The marks, oldest first.
    pub(crate) fn marks(&self) -> impl Iterator<Item = Mark> + '_ {
        let (newer, older) = self.ring.split_at(self.next as usize);
        older.iter().chain(newer).flatten().copied()
    }
}

impl fmt::Display for Recorder {
    /// The marks, oldest first, separated by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for mark in self.marks() {
            write!(f, "{sep}{mark}")?;
            sep = "; ";
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_marks_in_order() {
        let mut r = Recorder::new();
        for n in 0..(CAPACITY as u32 + 3) {
            r.record(Mark::Read(n));
        }
        let marks: Vec<Mark> = r.marks().collect();
        assert_eq!(marks.len(), CAPACITY);
        assert_eq!(marks[0], Mark::Read(3));
        assert_eq!(marks[CAPACITY - 1], Mark::Read(CAPACITY as u32 + 2));
    }

    #[test]
    fn marks_are_small() {
        assert!(std::mem::size_of::<Option<Mark>>() <= 8);
    }

    #[test]
    fn formats_one_line() {
        let mut r = Recorder::new();
        r.record(Mark::Event {
            turn: 7,
            // EPOLLIN | EPOLLHUP
            flags: EventFlags::new(Readiness::from_compact(0x01 | 0x10)),
        });
        r.record(Mark::Read(16));
        assert_eq!(r.to_string(), "[turn 7] event R|HUP; read 16");
    }
}
