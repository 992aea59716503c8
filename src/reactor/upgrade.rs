//! Restarting without dropping clients, by listener handoff (what nginx
//! does on SIGUSR2): the old copy starts a new copy of its program and
//! gives it its listening sockets; once the new copy says it is ready, the
//! old one stops gracefully. Both serve the same sockets meanwhile, so no
//! client is refused: the kernel's accept queue never closes.
//!
//! How things travel to the new copy:
//! - **the sockets**, as systemd passes them (`sd_listen_fds(3)`): at fds
//!   3, 4, ... (mapped by `command-fds`, which owns the `pre_exec` unsafe
//!   step), with `LISTEN_FDS` and `LISTEN_FDNAMES` (each listener's
//!   [`name`](crate::Listen::named), or `unknown`);
//! - **`LISTEN_PID`**, which must be the new copy's own pid: `Command`
//!   cannot set a variable after `fork`, so the child is `/bin/sh -c
//!   'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"' EXE ARGS...`, and
//!   `exec` keeps the shell's pid;
//! - **readiness**, back: `TWIG_UPGRADE_READY` names an abstract Unix
//!   socket the old copy listens on; the new copy's `run` connects to it
//!   and writes `READY=1` before its first turn (`handoff::announce_ready`). The
//!   old copy believes only a peer whose pid (`SO_PEERCRED`) is the child's.
//!
//! The old copy waits on a helper thread (its own small `mio::Poll` on the
//! ready socket and the child's pidfd), never on the loop, and reports
//! through the handoff flags and the loop's [`Handle`].

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::api::handle::Handle;
use crate::reactor::handoff::{READY, READY_VAR};
use crate::reactor::server::Server;

/// How long the new copy has to say it is ready before the old one gives
/// up on it (and kills it) and keeps serving.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(10);

impl<S: 'static> Server<S> {
    /// Starts the restart a handle or SIGUSR2 asked for, if any: hands a
    /// duplicate of every listener to a helper thread, which starts the
    /// new copy and waits for it.
    pub(super) fn start_upgrade(&mut self) {
        let handoff = &self.shared.handoff;
        let Some(exe) = handoff.take_request() else {
            return;
        };
        if self.core.stopping || self.core.stop_requested {
            warn!("upgrade: not started, the server is stopping");
            return;
        }
        if handoff.under_way.swap(true, Ordering::AcqRel) {
            warn!("upgrade: one is under way already; this request is ignored");
            return;
        }
        let mut sockets = Vec::with_capacity(self.listeners.len());
        for listener in &self.listeners {
            match listener.socket.dup() {
                Ok(fd) => sockets.push((fd, listener.name.clone(), listener.addr.to_string())),
                Err(e) => {
                    warn!(
                        "upgrade failed: cannot duplicate {}: {e}; still serving",
                        listener.addr
                    );
                    handoff.under_way.store(false, Ordering::Release);
                    return;
                }
            }
        }
        let handle = self.handle();
        let spawned = std::thread::Builder::new()
            .name("twig-upgrade".into())
            .spawn(move || finish(hand_over(exe, sockets, READY_TIMEOUT), &handle));
        if let Err(e) = spawned {
            warn!("upgrade failed: cannot start its thread: {e}; still serving");
            self.shared
                .handoff
                .under_way
                .store(false, Ordering::Release);
        }
    }
}

/// Acts on the outcome, from the helper thread: stop (the new copy serves)
/// or keep serving.
fn finish<S>(outcome: Result<u32, String>, handle: &Handle<S>) {
    let handoff = &handle.shared.handoff;
    match outcome {
        Ok(pid) => {
            info!("upgrade: pid {pid} is ready and serves the listeners; stopping gracefully");
            handoff.handed_over.store(true, Ordering::Release);
            handle.stop();
        }
        Err(why) => {
            warn!("upgrade failed: {why}; still serving");
            handoff.under_way.store(false, Ordering::Release);
        }
    }
}

/// A listener to hand over: its descriptor, name, and address (for logs).
type Socket = (OwnedFd, Option<String>, String);

/// Starts the new copy with `sockets`, and waits (up to `timeout`) until
/// it says it is ready. Returns its pid, or why it failed (it is killed if
/// it is still running).
fn hand_over(exe: Option<PathBuf>, sockets: Vec<Socket>, timeout: Duration) -> Result<u32, String> {
    let exe = match exe {
        Some(exe) => exe,
        None => own_exe().map_err(|e| format!("cannot find this program: {e}"))?,
    };
    let (ready, ready_name) = ready_socket().map_err(|e| format!("ready socket: {e}"))?;
    let names: Vec<&str> = sockets
        .iter()
        .map(|(_, n, _)| n.as_deref().unwrap_or("unknown"))
        .collect();
    let names = names.join(":");
    let addrs: Vec<&str> = sockets.iter().map(|(_, _, a)| a.as_str()).collect();
    let addrs = addrs.join(", ");
    let mappings = sockets
        .into_iter()
        .zip(3..)
        .map(|((fd, _, _), child_fd)| command_fds::FdMapping {
            parent_fd: fd,
            child_fd,
        })
        .collect::<Vec<_>>();
    let count = mappings.len();
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(r#"LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@""#)
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env("LISTEN_FDS", count.to_string())
        .env("LISTEN_FDNAMES", &names)
        .env(READY_VAR, &ready_name)
        .env_remove("LISTEN_PID");
    command_fds::CommandFdExt::fd_mappings(&mut command, mappings)
        .map_err(|e| format!("cannot map the listeners: {e}"))?;
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    drop(command); // closes this process's duplicates of the sockets
    let pid = child.id();
    info!(
        "upgrade: started {} as pid {pid} with {count} listeners ({addrs})",
        exe.display()
    );
    match wait_ready(&mut child, &ready, timeout) {
        Ok(()) => Ok(pid),
        Err(why) => {
            if let Ok(None) = child.try_wait() {
                // Not ready in time: it must not go on serving beside us.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("pid {pid} {why} (killed)"));
            }
            Err(format!("pid {pid} {why}"))
        }
    }
}

/// This program, as it is on disk now: after a new build was installed
/// over it, `/proc/self/exe` reads `PATH (deleted)`, and PATH is the new
/// build, which is what a restart wants.
fn own_exe() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let text = exe.as_os_str().as_encoded_bytes();
    match text.strip_suffix(b" (deleted)") {
        Some(path) => Ok(PathBuf::from(OsString::from(
            String::from_utf8_lossy(path).into_owned(),
        ))),
        None => Ok(exe),
    }
}

/// A listening abstract Unix socket with a name no one else uses (no file
/// to clean up), and that name for `TWIG_UPGRADE_READY`.
fn ready_socket() -> io::Result<(UnixListener, String)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("twig-upgrade-{}-{n}-{nanos}", std::process::id());
    let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
    listener.set_nonblocking(true)?;
    Ok((listener, name))
}

/// Waits until `child` connects to `ready` and says `READY=1`, it exits,
/// or `timeout` passes. Event-driven: the child's pidfd becomes readable
/// when it exits (without one, an old kernel, the child is looked at
/// every 100 ms).
fn wait_ready(child: &mut Child, ready: &UnixListener, timeout: Duration) -> Result<(), String> {
    use mio::unix::SourceFd;
    use mio::{Interest, Token};
    use std::os::fd::AsRawFd;
    let failed = |what: &str, e: io::Error| format!("could not be waited for ({what}: {e})");
    let deadline = Instant::now() + timeout;
    let mut poll = mio::Poll::new().map_err(|e| failed("poll", e))?;
    let mut events = mio::Events::with_capacity(4);
    let ready_fd = ready.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&ready_fd), Token(0), Interest::READABLE)
        .map_err(|e| failed("register", e))?;
    let pid = rustix::process::Pid::from_child(child);
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
    if let Some(pidfd) = &pidfd {
        let raw = pidfd.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&raw), Token(1), Interest::READABLE)
            .map_err(|e| failed("register", e))?;
    }
    let tick = if pidfd.is_some() {
        timeout
    } else {
        Duration::from_millis(100)
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("exited before it was ready ({status})")),
            Ok(None) => {}
            Err(e) => return Err(failed("waitpid", e)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("was not ready within {timeout:?}"));
        }
        match poll.poll(&mut events, Some(tick.min(left))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed("poll", e)),
        }
        // Edge-triggered: accept until WouldBlock.
        loop {
            match ready.accept() {
                Ok((stream, _)) => {
                    if said_ready(stream, child.id()) {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed("accept", e)),
            }
        }
    }
}

/// Whether `stream` comes from process `pid` (anyone may connect to an
/// abstract socket) and says `READY=1`.
fn said_ready(mut stream: UnixStream, pid: u32) -> bool {
    let peer = rustix::net::sockopt::socket_peercred(&stream)
        .map(|cred| rustix::process::Pid::as_raw(Some(cred.pid)));
    if peer.as_ref().ok().and_then(|&p| u32::try_from(p).ok()) != Some(pid) {
        debug!("upgrade: a connection to the ready socket from {peer:?}, not pid {pid}: ignored");
        return false;
    }
    // The child writes once and closes; a second is plenty for that.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut said = Vec::with_capacity(READY.len());
    let _ = (&mut stream)
        .take(READY.len() as u64)
        .read_to_end(&mut said);
    said == READY
}
