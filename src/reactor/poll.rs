//! The one place the loop sleeps: `epoll_wait` on the epoll instance mio
//! built, and what one event says.
//!
//! mio registers every socket (and the waker, and the signal pipe) with
//! that instance; the loop waits on it here, through rustix, and reads each
//! event's readiness bits itself ([`Readiness`]), with exactly the meaning
//! mio gives them. Going through `mio::Poll::poll` and `mio::event::Event`
//! instead costs a wrapper call, libc's own, and five branchy decodings of
//! the same bits per event: about as much as the whole machine step of a
//! request.

use std::io;
use std::time::Duration;

use rustix::event::Timespec;
use rustix::event::epoll;

pub(crate) use crate::conn::readiness::Readiness;

/// Most readiness events one `poll` returns; more wait for the next turn.
pub(crate) const EVENTS_CAPACITY: usize = 1024;

/// The events one `epoll_wait` returned (reused every turn).
pub(crate) type Events = Vec<epoll::Event>;

/// A new, empty events buffer.
pub(crate) fn events() -> Events {
    Vec::with_capacity(EVENTS_CAPACITY)
}

/// Waits on `registry`'s epoll instance for at most `timeout` (forever if
/// `None`), filling `events`. Sub-millisecond timeouts round up to one
/// millisecond (not down to a busy poll), as mio's do; the longest sleep is
/// `i32::MAX` milliseconds (24 days), the most plain `epoll_wait` takes.
pub(crate) fn wait(
    registry: &mio::Registry,
    events: &mut Events,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let longest = Duration::from_millis(i32::MAX as u64);
    let timeout = timeout.map(|t| {
        let t = t.min(longest);
        Timespec {
            tv_sec: t.as_secs() as i64,
            tv_nsec: i64::from(t.subsec_nanos()),
        }
    });
    events.clear();
    epoll::wait(
        registry,
        rustix::buffer::spare_capacity(events),
        timeout.as_ref(),
    )?;
    Ok(())
}

/// The token an event carries (as mio registered it).
#[inline(always)]
pub(crate) fn token(event: &epoll::Event) -> mio::Token {
    let data = event.data; // copied out: the struct is packed
    mio::Token(data.u64() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real epoll instance (mio's), a real socket pair: the loop's wait
    /// sees what mio's poll would, token and all.
    #[test]
    fn wait_returns_the_registered_token_and_readiness() {
        use std::io::Write;
        let poll = mio::Poll::new().expect("epoll");
        let (mut a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        b.set_nonblocking(true).expect("nonblocking");
        let mut b = mio::net::UnixStream::from_std(b);
        let token = mio::Token(7 | (3 << 32));
        poll.registry()
            .register(&mut b, token, mio::Interest::READABLE)
            .expect("register");
        let mut events = events();
        wait(poll.registry(), &mut events, Some(Duration::ZERO)).expect("wait");
        assert!(events.is_empty(), "nothing to read yet");
        a.write_all(b"x").expect("write");
        wait(poll.registry(), &mut events, Some(Duration::from_secs(5))).expect("wait");
        assert_eq!(events.len(), 1);
        assert_eq!(super::token(&events[0]), token);
        let r = Readiness::of(&events[0]);
        assert!(r.is_readable() && !r.is_read_closed() && !r.is_error());
        drop(a);
        wait(poll.registry(), &mut events, Some(Duration::from_secs(5))).expect("wait");
        assert!(
            Readiness::of(&events[0]).is_read_closed(),
            "the peer's close"
        );
    }
}
