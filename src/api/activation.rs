//! systemd socket activation: listeners the service manager opened and
//! passed in, as [`Listen`]s (`LISTEN_FDS`, `LISTEN_PID`; see
//! `sd_listen_fds(3)`). Checked and taken by the `listenfd` crate, which
//! owns the one `unsafe` step (turning fd 3, 4, ... into sockets) so this
//! crate keeps `forbid(unsafe_code)`. A restart by listener handoff
//! ([`Handle::upgrade`](crate::Handle::upgrade)) passes its sockets the
//! same way, so this path serves both.
//!
//! The sockets are taken from the environment once, into a pool: a named
//! one (`LISTEN_FDNAMES`) can be taken first with
//! [`Listen::from_systemd_named`], and [`Listen::from_systemd`] takes the
//! rest.

use std::io;
use std::sync::Mutex;

use log::debug;

use crate::api::listen::Listen;
use crate::reactor::listen::At;

impl Listen {
    /// The listening sockets systemd (or `systemd-socket-activate`) passed
    /// to this process, in order (fd 3, 4, ...), or an empty list when the
    /// process was not socket-activated (`LISTEN_PID` unset or another
    /// process's). Each is a TCP or Unix-domain stream listener, already
    /// bound: serve it with [`Server::listen_at`](crate::Server::listen_at),
    /// after setting options such as
    /// [`proxy_protocol`](Listen::proxy_protocol) as for any other.
    ///
    /// ```no_run
    /// # use twig::{After, Ctx, Frame, Listen, Protocol, Server, framing};
    /// # struct Echo;
    /// # impl Protocol for Echo {
    /// #     fn frame(&mut self, input: &[u8]) -> Frame { framing::line(input) }
    /// #     fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After { ctx.write(line); After::KeepOpen }
    /// # }
    /// let mut server = Server::new(())?;
    /// let mut listens = Listen::from_systemd()?;
    /// if listens.is_empty() {
    ///     listens.push(Listen::parse("127.0.0.1:7000")?); // started by hand: bind
    /// }
    /// for listen in listens {
    ///     server.listen_at(listen, || Echo)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// The variables are removed from the environment, so a child process
    /// does not take the sockets for its own. Each socket carries its name
    /// from `LISTEN_FDNAMES` ([`Listen::name`]). Sockets already taken by
    /// [`from_systemd_named`](Listen::from_systemd_named) are not returned
    /// again.
    ///
    /// # Errors
    /// If a passed descriptor is not a stream listener (a datagram socket,
    /// a file): the unit is misconfigured, and serving the rest would hide it.
    pub fn from_systemd() -> io::Result<Vec<Listen>> {
        take_inherited(|_| true)
    }

    /// The sockets passed in under the name `name` (`LISTEN_FDNAMES`:
    /// systemd's `FileDescriptorName=`, or [`Listen::named`] in the old
    /// copy of a restart), taken out of the pool so that a later
    /// [`from_systemd`](Listen::from_systemd) does not return them. Call
    /// it first for a listener with another job, such as an admin port.
    ///
    /// # Errors
    /// As [`from_systemd`](Listen::from_systemd).
    pub fn from_systemd_named(name: &str) -> io::Result<Vec<Listen>> {
        take_inherited(|listen| listen.name() == Some(name))
    }

    /// [`from_systemd_named`](Listen::from_systemd_named), or, when none
    /// has that name, `addr` to bind, named `name` (so that a restart hands
    /// it over under it).
    ///
    /// # Errors
    /// As [`from_systemd`](Listen::from_systemd), or `addr` is no address.
    pub fn from_systemd_named_or(name: &str, addr: &str) -> io::Result<Vec<Listen>> {
        let listens = Listen::from_systemd_named(name)?;
        if listens.is_empty() {
            return Ok(vec![Listen::parse(addr)?.named(name)]);
        }
        Ok(listens)
    }
}

/// Closes the inherited sockets nobody took (filling the pool from the
/// environment first if nobody asked): returns how many there were.
pub(crate) fn close_untaken() -> io::Result<usize> {
    take_inherited(|_| true).map(|rest| rest.len())
}

/// Reads the inherited sockets out of the environment now, on the calling
/// thread: `listenfd` removes `LISTEN_FDS` and `LISTEN_PID` from the
/// environment, which is only sound before other threads run (a builder of
/// loops calls this before starting them).
pub(crate) fn prefetch() -> io::Result<()> {
    take_inherited(|_| false).map(drop)
}

/// Takes the inherited sockets that `wanted` picks out of the pool,
/// filling the pool from the environment the first time.
fn take_inherited(wanted: impl Fn(&Listen) -> bool) -> io::Result<Vec<Listen>> {
    static POOL: Mutex<Option<Vec<Listen>>> = Mutex::new(None);
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let all = match &mut *pool {
        Some(all) => all,
        None => pool.insert(from_env()?),
    };
    let (taken, rest) = std::mem::take(all).into_iter().partition(wanted);
    *all = rest;
    Ok(taken)
}

/// The sockets in `LISTEN_FDS` (for this process), with their names.
fn from_env() -> io::Result<Vec<Listen>> {
    // Read before listenfd clears LISTEN_PID; meaningful only if it
    // finds sockets, which it checks are for this process.
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let names: Vec<&str> = names.split(':').collect();
    let mut fds = listenfd::ListenFd::from_env();
    let mut listens = Vec::with_capacity(fds.len());
    for index in 0..fds.len() {
        let at = match fds.take_tcp_listener(index) {
            Ok(Some(socket)) => At::Tcp(socket),
            Ok(None) => continue,
            Err(_) => match fds.take_unix_listener(index)? {
                Some(socket) => At::Unix(socket),
                None => continue,
            },
        };
        let mut listen = Listen::on(at);
        listen.name = names
            .get(index)
            .filter(|n| !n.is_empty())
            .map(|n| n.to_string());
        debug!(
            "socket activation: fd {} is a listener {:?}",
            3 + index,
            listen.name
        );
        listens.push(listen);
    }
    Ok(listens)
}

impl Listen {
    /// The listeners systemd passed in ([`from_systemd`](Listen::from_systemd)),
    /// or, when there are none, `addr` (`host:port` or `unix:/path`) to
    /// bind: what a server started either way does.
    ///
    /// # Errors
    /// As [`from_systemd`](Listen::from_systemd), or `addr` is no address.
    pub fn from_systemd_or(addr: &str) -> io::Result<Vec<Listen>> {
        let listens = Listen::from_systemd()?;
        if listens.is_empty() {
            return Ok(vec![Listen::parse(addr)?]);
        }
        Ok(listens)
    }
}
