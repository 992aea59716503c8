//! systemd socket activation: listeners the service manager opened and
//! passed in, as [`Listen`]s (`LISTEN_FDS`, `LISTEN_PID`; see
//! `sd_listen_fds(3)`). Checked and taken by the `listenfd` crate, which
//! owns the one `unsafe` step (turning fd 3, 4, ... into sockets) so this
//! crate keeps `forbid(unsafe_code)`.

use std::io;

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
    /// does not take the sockets for its own.
    ///
    /// # Errors
    /// If a passed descriptor is not a stream listener (a datagram socket,
    /// a file): the unit is misconfigured, and serving the rest would hide it.
    pub fn from_systemd() -> io::Result<Vec<Listen>> {
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
            debug!("socket activation: fd {} is a listener", 3 + index);
            listens.push(Listen::on(at));
        }
        Ok(listens)
    }

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
