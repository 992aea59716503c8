//! Switching observation on, and the admin listener:
//! [`Server::observe`], [`Server::listen_admin`], [`Workers::listen_admin`],
//! and the guard every admin route goes through (loopback peer, loopback
//! `Host`).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use log::info;

use crate::admin::figures::{Board, LoopFigures};
use crate::admin::observer::Observer;
use crate::admin::{metrics, status};
use crate::conn::peer::Peer;
use crate::http::{Http, Request, Response, Router};
use crate::reactor::listen::At;
use crate::reactor::server::resolve;
use crate::{Ctx, Endpoint, Listen, Server, Workers};

/// The admin listener's name ([`Listen::named`]): a restart hands it over
/// under it, and the new copy takes it back by it. Open the admin listener
/// before the application's (`Listen::from_systemd_or` takes every socket
/// not taken yet).
pub const ADMIN_LISTENER: &str = "admin";

/// How often each loop of a group posts its figures to the admin loop.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// With no slow-callback limit, observation still needs the clock read that
/// ends each callback: a limit no callback reaches turns it on without
/// ever warning.
const NO_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

impl<S: 'static> Server<S> {
    /// Switches observation on for this loop (an admin listener does it
    /// too): from now on, one clock read ends each turn (its busy time goes
    /// into a histogram, its report into a ring of the last 32), and each
    /// callback's duration goes into another histogram (measured on the
    /// clock read the slow-callback check already makes; with
    /// [`Config::slow_callback`](crate::Config::slow_callback) off, it is
    /// set to a year, so that read happens and never warns). Calling it
    /// again changes nothing.
    pub fn observe(&mut self) {
        let core = self.core();
        if core.observer.is_some() {
            return;
        }
        core.observer = Some(Box::new(Observer::new(&core.stats)));
        core.config.slow_callback.get_or_insert(NO_LIMIT);
        // The next callback goes down the timed path at once.
        core.slow_after = core.clock;
    }

    /// Opens the admin listener on `addr`, which must be a loopback address
    /// (`127.0.0.1:PORT`, `[::1]:PORT`), and switches observation on
    /// ([`observe`](Server::observe)). It serves, through twig's HTTP layer
    /// and on this loop: `/metrics` (Prometheus), `/status` (an HTML page
    /// that refreshes itself) and `/status.json`. A request whose peer is
    /// not on loopback, or whose `Host` is not a loopback name
    /// (`localhost`, `127.0.0.1`, `[::1]`, with an optional port: a DNS
    /// rebinding defence), gets 403. Returns the bound address.
    ///
    /// # Errors
    /// `addr` does not resolve, is not a loopback address (the status page
    /// names every client: it must not face a network), or cannot be bound.
    pub fn listen_admin(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
    ) -> io::Result<SocketAddr> {
        let addr = loopback(resolve(&addr)?)?;
        self.listen_admin_with(addr, None)
    }

    /// [`listen_admin`](Server::listen_admin) on a resolved address, with
    /// the other loops' figures on `board` (a group's loop 0).
    fn listen_admin_with(
        &mut self,
        addr: SocketAddr,
        board: Option<Board>,
    ) -> io::Result<SocketAddr> {
        self.observe();
        let router = router::<S>(board);
        // After a restart (or under systemd) the admin socket is inherited
        // under its name; binding `addr` again would find it in use.
        let inherited = Listen::from_systemd_named(ADMIN_LISTENER)?
            .into_iter()
            .next();
        let listen = inherited.unwrap_or_else(|| Listen::new(addr).named(ADMIN_LISTENER));
        // An inherited socket is checked before it is served, as `addr` was.
        if let At::Tcp(socket) = &listen.at {
            loopback(socket.local_addr()?)?;
        } else if let At::Unix(_) = &listen.at {
            return Err(not_loopback(&Endpoint::Unix("(inherited)".into())));
        }
        let bound = self.listen_at(listen, move || Http::new(router.clone()))?;
        let bound = bound
            .socket_addr()
            .filter(|a| a.ip().is_loopback())
            .ok_or_else(|| not_loopback(&bound))?;
        info!(
            "admin on {bound}; pid {}; try: curl http://{bound}/metrics (and /status, /status.json)",
            std::process::id()
        );
        Ok(bound)
    }
}

impl<S: 'static> Workers<S> {
    /// [`Server::listen_admin`] for a group: loop 0 serves the admin
    /// listener; every loop is observed, and each other loop posts its
    /// figures for loop 0 every [`PUBLISH_EVERY`] (a timer on that loop,
    /// and one short lock), so `/metrics` has a series per loop (`loop`
    /// label). `/status` describes loop 0, the loop serving it.
    ///
    /// # Errors
    /// As [`Server::listen_admin`], or a loop's thread is gone.
    pub fn listen_admin(
        &mut self,
        addr: impl ToSocketAddrs + std::fmt::Display,
    ) -> io::Result<SocketAddr> {
        let addr = loopback(resolve(&addr)?)?;
        let n = self.count();
        let board: Option<Board> = (n > 1).then(|| Arc::new(Mutex::new(vec![None; n])));
        let bound = self.each(move |index, server| {
            server.observe();
            if index == 0 {
                return server.listen_admin_with(addr, board.clone()).map(Some);
            }
            if let Some(board) = board.clone() {
                server.core().every(PUBLISH_EVERY, move |core| {
                    let figures = LoopFigures::of(core);
                    board.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(figures);
                });
            }
            Ok(None)
        })?;
        let mut bound = bound.into_iter();
        match bound.next() {
            Some(Ok(Some(addr))) => Ok(addr),
            Some(Err(e)) => Err(e),
            _ => Err(io::Error::other("twig bug: loop 0 bound no admin listener")),
        }
    }
}

/// `addr` if it is a loopback address, else the error saying why not.
fn loopback(addr: SocketAddr) -> io::Result<SocketAddr> {
    if addr.ip().is_loopback() {
        return Ok(addr);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "cannot listen on {addr} for admin: it must be a loopback address \
             (127.0.0.1:PORT or [::1]:PORT), since its status page shows every client"
        ),
    ))
}

/// An inherited admin socket that is not on loopback (a unit's mistake).
fn not_loopback(bound: &Endpoint) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("the inherited admin socket {bound} is not on loopback: refusing to serve it"),
    )
}

/// The admin routes, each behind [`refused`].
fn router<S: 'static>(board: Option<Board>) -> Router<S> {
    Router::new()
        .get("/", |req, res, ctx| {
            if !refused(req, res, ctx) {
                res.status(302)
                    .header("Location", "/status")
                    .text("see /status\n");
            }
        })
        .get("/metrics", move |req, res, ctx| {
            if !refused(req, res, ctx) {
                metrics::serve(res, ctx, board.as_ref());
            }
        })
        .get("/status", |req, res, ctx| {
            if !refused(req, res, ctx) {
                res.html(&status::html(ctx, ctx.id()));
            }
        })
        .get("/status.json", |req, res, ctx| {
            if !refused(req, res, ctx) {
                res.content_type("application/json");
                res.send(status::json(ctx, ctx.id()).as_bytes());
            }
        })
}

/// Answers 403 and returns true unless the request comes from loopback
/// and names a loopback host: a page on any website can make a browser
/// send requests to 127.0.0.1 through a name it controls (DNS rebinding),
/// but it cannot make the browser send a loopback `Host`.
fn refused<S>(req: &Request<'_>, res: &mut Response<'_>, ctx: &Ctx<'_, S>) -> bool {
    let from_loopback = matches!(ctx.peer(), Peer::Tcp(addr) if addr.ip().is_loopback());
    let host_ok = req.header_str("Host").is_some_and(is_loopback_host);
    if from_loopback && host_ok {
        return false;
    }
    res.status(403)
        .text("403 Forbidden: the admin pages answer loopback clients naming a loopback host\n");
    true
}

/// Whether a `Host` header names loopback: `localhost`, `127.0.0.1` or
/// `[::1]`, with an optional port.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((name, "")) => (name, None),
            Some((name, tail)) => match tail.strip_prefix(':') {
                Some(port) => (name, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && (name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_only() {
        for ok in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1",
            "127.0.0.1:9",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "127.0.0.2",
            "[::1]x",
            "::1",
            "localhost:",
            "localhost:80:80",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn only_loopback_addresses_are_bound() {
        assert!(loopback("127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(loopback("[::1]:0".parse().unwrap()).is_ok());
        let err = loopback("0.0.0.0:9000".parse().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
