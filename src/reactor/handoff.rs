//! What a [`Handle`](crate::Handle) and its loop share about a restart by
//! listener handoff (the restart itself is in `upgrade.rs`): the request,
//! whether one is under way, and whether the sockets now belong to the new
//! copy; and the new copy's side, telling the old one it is ready. A leaf,
//! so that `core.rs`, `server.rs` and `api/handle.rs` can use it without
//! importing the loop.

use std::io::Write;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{info, warn};

/// The variable naming the (abstract Unix) socket the new copy reports
/// readiness to.
pub(crate) const READY_VAR: &str = "TWIG_UPGRADE_READY";

/// What the new copy writes once it serves.
pub(crate) const READY: &[u8] = b"READY=1\n";

/// The restart's flags, one set per loop.
#[derive(Default)]
pub(crate) struct Handoff {
    /// A restart asked for and not yet started by the loop, with the
    /// program to start (`None`: this process's own binary).
    requested: Mutex<Option<Option<PathBuf>>>,
    /// A new copy was started and its readiness is awaited: a second
    /// request meanwhile is refused, not queued (two new copies would both
    /// serve the sockets).
    pub(crate) under_way: AtomicBool,
    /// The new copy said it is ready, and serves the sockets from now on:
    /// the stop that follows must not remove a Unix-domain socket's file.
    pub(crate) handed_over: AtomicBool,
}

impl Handoff {
    /// Asks for a restart into `exe` (`None`: the running binary).
    pub(crate) fn request(&self, exe: Option<PathBuf>) {
        *self.requested.lock().unwrap_or_else(|e| e.into_inner()) = Some(exe);
    }

    /// The restart asked for, if any, taken (so it starts once).
    pub(crate) fn take_request(&self) -> Option<Option<PathBuf>> {
        self.requested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Whether a restart has started and not failed yet.
    pub(crate) fn is_under_way(&self) -> bool {
        self.under_way.load(Ordering::Acquire)
    }

    /// Whether the sockets were handed over (see [`handed_over`](Handoff::handed_over)).
    pub(crate) fn is_handed_over(&self) -> bool {
        self.handed_over.load(Ordering::Acquire)
    }
}

/// In the new copy of a restart (`TWIG_UPGRADE_READY` set), tells the old
/// copy that this one serves: called by `run` before its first turn, once
/// per process (a group's loops all call it). Elsewhere it does nothing.
///
/// # Errors
/// A handed-over socket that this program did not take (it binds its own
/// address instead, or a listener was dropped from the new build): left
/// open, it would keep clients in a queue nobody accepts from, so this copy
/// closes it and refuses to start, and the old copy keeps serving.
pub(crate) fn announce_ready() -> std::io::Result<()> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let once = ONCE.get_or_init(|| {
        let Some(name) = std::env::var_os(READY_VAR) else {
            return Ok(());
        };
        match crate::api::activation::close_untaken() {
            Ok(0) => {}
            Ok(n) => {
                let why = format!(
                    "upgrade: {n} handed-over listening socket(s) not taken by this program \
                     (serve them with Listen::from_systemd_or): not starting; the old copy keeps serving"
                );
                log::error!("{why}");
                return Err(why);
            }
            Err(e) => return Err(format!("upgrade: the handed-over sockets: {e}")),
        }
        let said = SocketAddr::from_abstract_name(name.as_encoded_bytes())
            .and_then(|addr| UnixStream::connect_addr(&addr))
            .and_then(|mut stream| stream.write_all(READY));
        match said {
            Ok(()) => info!("upgrade: ready; told the old copy (pid {})", parent_pid()),
            // The old copy gave up (timed out) or is gone: nothing to tell.
            Err(e) => warn!("upgrade: could not tell the old copy that this one is ready: {e}"),
        }
        Ok(())
    });
    once.clone().map_err(std::io::Error::other)
}

/// The parent's pid, for the log (0 if unknown).
fn parent_pid() -> i32 {
    rustix::process::Pid::as_raw(rustix::process::getppid())
}
