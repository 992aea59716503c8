//! What one epoll event says of a socket: its readiness bits, read exactly
//! as mio reads them (`is_readable` and the rest, in
//! `mio/src/sys/unix/selector/epoll.rs`), but as plain bit tests on the bits
//! the loop's own `epoll_wait` returned (`reactor/poll.rs`).

use rustix::event::epoll::{self, EventFlags};

/// An event's readiness bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Readiness(u32);

impl Readiness {
    const IN: u32 = EventFlags::IN.bits();
    const PRI: u32 = EventFlags::PRI.bits();
    const OUT: u32 = EventFlags::OUT.bits();
    const ERR: u32 = EventFlags::ERR.bits();
    const HUP: u32 = EventFlags::HUP.bits();
    const RDHUP: u32 = EventFlags::RDHUP.bits();

    /// The readiness of `event`.
    #[inline(always)]
    pub(crate) fn of(event: &epoll::Event) -> Readiness {
        let flags = event.flags; // copied out: the struct is packed
        Readiness(flags.bits())
    }

    /// The bits in one byte, for the flight recorder: the five low ones as
    /// they are, `RDHUP` (bit 13) as bit 5.
    #[inline(always)]
    pub(crate) fn compact(self) -> u8 {
        ((self.0 & 0x1f) | ((self.0 >> 8) & 0x20)) as u8
    }

    /// The readiness a [`compact`](Readiness::compact) byte stands for.
    pub(crate) fn from_compact(byte: u8) -> Readiness {
        let byte = u32::from(byte);
        Readiness((byte & 0x1f) | ((byte & 0x20) << 8))
    }

    #[inline(always)]
    fn any(self, bits: u32) -> bool {
        self.0 & bits != 0
    }

    /// Bytes (or an EOF, or urgent data) may be read.
    #[inline(always)]
    pub(crate) fn is_readable(self) -> bool {
        self.any(Self::IN | Self::PRI)
    }

    /// Bytes may be written.
    #[inline(always)]
    pub(crate) fn is_writable(self) -> bool {
        self.any(Self::OUT)
    }

    /// The socket has an error pending.
    #[inline(always)]
    pub(crate) fn is_error(self) -> bool {
        self.any(Self::ERR)
    }

    /// The peer shut its write side (FIN), or both halves are closed.
    #[inline(always)]
    pub(crate) fn is_read_closed(self) -> bool {
        self.any(Self::HUP) | (self.any(Self::IN) & self.any(Self::RDHUP))
    }

    /// Our write side can no longer send: both halves closed, or an error
    /// on a writable socket (or an error alone).
    #[inline(always)]
    pub(crate) fn is_write_closed(self) -> bool {
        self.any(Self::HUP) | (self.any(Self::OUT) & self.any(Self::ERR)) | (self.0 == Self::ERR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bits and what mio says of them: the same epoll event through
    /// both, for every combination of the six bits.
    #[test]
    fn readiness_reads_the_bits_as_mio_does() {
        let bits = [
            Readiness::IN,
            Readiness::PRI,
            Readiness::OUT,
            Readiness::ERR,
            Readiness::HUP,
            Readiness::RDHUP,
        ];
        for mask in 0u32..64 {
            let flags: u32 = (0..6)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| bits[i])
                .sum();
            let r = Readiness(flags);
            // mio's rules, written out as its source has them.
            let is = |b: u32| flags & b != 0;
            let readable = is(Readiness::IN) || is(Readiness::PRI);
            let read_closed = is(Readiness::HUP) || (is(Readiness::IN) && is(Readiness::RDHUP));
            let write_closed = is(Readiness::HUP)
                || (is(Readiness::OUT) && is(Readiness::ERR))
                || flags == Readiness::ERR;
            assert_eq!(r.is_readable(), readable, "{flags:#x}");
            assert_eq!(r.is_writable(), is(Readiness::OUT), "{flags:#x}");
            assert_eq!(r.is_error(), is(Readiness::ERR), "{flags:#x}");
            assert_eq!(r.is_read_closed(), read_closed, "{flags:#x}");
            assert_eq!(r.is_write_closed(), write_closed, "{flags:#x}");
        }
    }

    #[test]
    fn the_compact_byte_keeps_every_bit_mio_reads() {
        for mask in 0u32..64 {
            let bits = [0x1, 0x2, 0x4, 0x8, 0x10, 0x2000];
            let flags: u32 = (0..6)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| bits[i])
                .sum();
            let r = Readiness(flags);
            assert_eq!(Readiness::from_compact(r.compact()), r, "{flags:#x}");
        }
    }
}
