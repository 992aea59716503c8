//! Fault injection (the `fault-injection` feature): an I/O seam under the
//! real loop that makes reads and writes short, returns spurious
//! `WouldBlock`, delivers spurious readiness, and fails `accept` with
//! `EMFILE` or `ECONNABORTED`. Nothing a client sees may change: the suite
//! runs under it in CI.
//!
//! Set the rates (probabilities from 0 to 1) and the seed in `TWIG_FAULTS`,
//! for example
//! `TWIG_FAULTS=seed=7,short_read=0.3,short_write=0.3,read_block=0.1,write_block=0.1,spurious=0.05,emfile=0.02,aborted=0.05`.
//! Unset, nothing is injected. Each loop thread draws from its own
//! generator seeded from `seed`, so a failing run can be replayed with the
//! same value (it is logged at the first injection).
//!
//! An injected `WouldBlock`, or a short read (which the loop takes as
//! "drained"), leaves bytes the kernel would announce with a new edge in a
//! real run; here no edge would come, so the seam owes the connection one
//! and the loop delivers it on its next turn ([`take_readiness`]).

use std::cell::RefCell;
use std::io;

use crate::conn::id::ConnId;

/// The rates, parsed once per thread from `TWIG_FAULTS`.
#[derive(Debug, Default, Clone, Copy)]
struct Rates {
    seed: u64,
    short_read: f64,
    short_write: f64,
    read_block: f64,
    write_block: f64,
    spurious: f64,
    emfile: f64,
    aborted: f64,
}

/// One loop thread's injector.
struct Injector {
    rates: Rates,
    /// xorshift64* state.
    rng: u64,
    /// Connections owed a readiness edge (its capacity is kept: the seam
    /// allocates nothing in the steady state).
    owed: Vec<ConnId>,
    /// The last accept error was injected (not counted in the stats, which
    /// count what the OS did).
    accept_injected: bool,
    /// The seed was logged.
    announced: bool,
}

thread_local! {
    static INJECTOR: RefCell<Injector> = RefCell::new(Injector::from_env());
}

impl Injector {
    fn from_env() -> Injector {
        let rates = std::env::var("TWIG_FAULTS")
            .map(|spec| parse(&spec))
            .unwrap_or_default();
        // A different stream per thread, reproducible per seed and thread.
        let thread = std::thread::current().id();
        let salt = format!("{thread:?}")
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ b as u64);
        Injector {
            rates,
            rng: (rates.seed ^ salt.rotate_left(17)) | 1,
            owed: Vec::with_capacity(64),
            accept_injected: false,
            announced: false,
        }
    }

    /// True with probability `p`.
    fn roll(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let hit = (x >> 11) as f64 / (1u64 << 53) as f64 <= p;
        if hit && !self.announced {
            self.announced = true;
            log::info!("fault injection on: {:?}", self.rates);
        }
        hit
    }

    /// A length in `1..len` (for `len > 1`).
    fn shorter(&mut self, len: usize) -> usize {
        self.roll(1.0);
        1 + (self.rng as usize) % (len - 1)
    }
}

/// Parses `key=value,...`; unknown keys and bad values are ignored (logged).
fn parse(spec: &str) -> Rates {
    let mut rates = Rates::default();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            log::warn!("TWIG_FAULTS: ignoring {part:?}");
            continue;
        };
        let rate = value
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r));
        let slot = match key {
            "seed" => {
                rates.seed = value.parse().unwrap_or(0);
                continue;
            }
            "short_read" => &mut rates.short_read,
            "short_write" => &mut rates.short_write,
            "read_block" => &mut rates.read_block,
            "write_block" => &mut rates.write_block,
            "spurious" => &mut rates.spurious,
            "emfile" => &mut rates.emfile,
            "aborted" => &mut rates.aborted,
            _ => {
                log::warn!("TWIG_FAULTS: unknown fault {key:?}");
                continue;
            }
        };
        match rate {
            Some(rate) => *slot = rate,
            None => log::warn!("TWIG_FAULTS: {key}={value:?} is not a rate from 0 to 1"),
        }
    }
    rates
}

fn would_block() -> io::Error {
    io::Error::from(io::ErrorKind::WouldBlock)
}

/// `read` through the seam.
pub(crate) fn read(
    id: ConnId,
    buf: &mut [u8],
    real: impl FnOnce(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    INJECTOR.with_borrow_mut(|f| {
        if f.roll(f.rates.spurious) {
            f.owed.push(id); // a spurious wake-up later, for good measure
        }
        if f.roll(f.rates.read_block) {
            f.owed.push(id);
            return Err(would_block());
        }
        let len = if buf.len() > 1 && f.roll(f.rates.short_read) {
            f.owed.push(id); // the loop will think it drained the socket
            f.shorter(buf.len())
        } else {
            buf.len()
        };
        real(&mut buf[..len])
    })
}

/// `write` through the seam.
pub(crate) fn write(
    id: ConnId,
    bytes: &[u8],
    real: impl FnOnce(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    INJECTOR.with_borrow_mut(|f| {
        if f.roll(f.rates.write_block) {
            f.owed.push(id);
            return Err(would_block());
        }
        let len = if bytes.len() > 1 && f.roll(f.rates.short_write) {
            f.shorter(bytes.len())
        } else {
            bytes.len()
        };
        real(&bytes[..len])
    })
}

/// `accept` through the seam: fails before the real call, so the client
/// waits in the backlog and is accepted later.
pub(crate) fn accept<T>(real: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let injected = INJECTOR.with_borrow_mut(|f| {
        let error = if f.roll(f.rates.emfile) {
            Some(io::Error::from_raw_os_error(libc::EMFILE))
        } else if f.roll(f.rates.aborted) {
            Some(io::Error::from_raw_os_error(libc::ECONNABORTED))
        } else {
            None
        };
        f.accept_injected = error.is_some();
        error
    });
    match injected {
        Some(error) => Err(error),
        None => real(),
    }
}

/// Whether some connection is owed a readiness edge (the poll must not sleep).
pub(crate) fn readiness_pending() -> bool {
    INJECTOR.with_borrow(|f| !f.owed.is_empty())
}

/// Whether the last accept error came from the seam.
pub(crate) fn accept_error_injected() -> bool {
    INJECTOR.with_borrow(|f| f.accept_injected)
}

/// Moves the connections owed a readiness edge into `into` (empty), to be
/// delivered now; the two vectors swap, so neither reallocates.
pub(crate) fn take_readiness(into: &mut Vec<ConnId>) {
    INJECTOR.with_borrow_mut(|f| std::mem::swap(&mut f.owed, into));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_and_ignores_nonsense() {
        let r = parse("seed=9, short_read=0.5,bogus=1,write_block=2,emfile=0.01");
        assert_eq!(r.seed, 9);
        assert_eq!(r.short_read, 0.5);
        assert_eq!(r.write_block, 0.0, "out of range is ignored");
        assert_eq!(r.emfile, 0.01);
    }
}
