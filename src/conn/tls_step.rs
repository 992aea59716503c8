//! The TLS stage's syscalls
//! ([`Action::Handshake`](crate::conn::machine::Action::Handshake)): one
//! handshake step on the socket, as the machine's next event. Beside
//! `proxy_read.rs`, the PROXY stage's; the rules of both stages are in
//! `machine/`.

#[cfg(feature = "tls")]
use std::io;

#[cfg(feature = "tls")]
use log::trace;

#[cfg(feature = "tls")]
use crate::conn::close::CloseReason;
use crate::conn::id::ConnId;
use crate::conn::machine::{Event, Shake};
#[cfg(feature = "tls")]
use crate::conn::socket::classify;
use crate::conn::transport::Transport;

/// One TLS handshake step on an accepted connection, as the machine's
/// next event (see `tls/stream.rs`).
pub(crate) fn handshake(socket: &mut Transport, id: ConnId) -> Event {
    #[cfg(feature = "tls")]
    if let Transport::Tls(tls) = socket {
        use crate::tls::stream::Progress;
        let result = tls.handshake();
        trace!("{id} TLS handshake step -> {result:?}");
        return match result {
            Ok(Progress::Done { owing }) => Event::Shook(Shake::Done { owing }),
            Ok(Progress::Blocked { owing }) => Event::Shook(Shake::Blocked { owing }),
            Ok(Progress::Refused) => Event::Shook(Shake::Refused(CloseReason::Tls)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                log::debug!("{id}: {e}");
                Event::Abort(CloseReason::Tls)
            }
            Err(e) => Event::Abort(classify(&e)),
        };
    }
    let _ = (socket, id);
    Event::Shook(Shake::Done { owing: false }) // no TLS: nothing to shake
}
