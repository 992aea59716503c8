//! Testing a protocol without sockets: [`Harness`] runs it in memory, as
//! Twisted's `StringTransport` does, but over twig's real machine, driver,
//! timers and timeouts. Feed it bytes, take what it wrote, deliver an EOF,
//! and move a manual clock so that timers and timeouts fire — no socket, no
//! thread, no waiting.
//!
//! ```
//! use std::time::Duration;
//! use twig::testing::Harness;
//! use twig::{After, CloseReason, Ctx, Frame, Protocol, framing};
//!
//! /// Upper-cases each line; `quit` says goodbye.
//! struct Shout;
//!
//! impl Protocol for Shout {
//!     fn frame(&mut self, input: &[u8]) -> Frame {
//!         framing::line(input)
//!     }
//!     fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
//!         if line.trim_ascii() == b"quit" {
//!             ctx.write(b"bye\n");
//!             return After::Close;
//!         }
//!         ctx.write(&line.to_ascii_uppercase());
//!         After::KeepOpen
//!     }
//! }
//!
//! let mut t = Harness::new((), || Shout);
//! let c = t.connect();
//! // Bytes arrive in arbitrary chunks: a request split anywhere is one request.
//! t.send(c, b"hel");
//! assert_eq!(t.output(c), b"");
//! t.send(c, b"lo\nquit\n");
//! assert_eq!(t.output(c), b"HELLO\nbye\n");
//! // The server closed its side; it lingers until the peer closes too.
//! assert!(t.is_write_shut(c));
//! t.eof(c);
//! assert_eq!(t.closed(c), Some(CloseReason::Done));
//!
//! // Timeouts run on the manual clock.
//! let idle = t.connect();
//! t.advance(Duration::from_secs(61));
//! assert_eq!(t.closed(idle), Some(CloseReason::IdleTimeout));
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::conn::machine::Event;
use crate::conn::memory::{MemorySocket, Pipe};
use crate::{Builder, CloseReason, ConnId, Core, Protocol, Server};

/// A protocol under test: its shared state, in-memory connections, and a
/// manual clock. Every step runs the loop's phases (drive, deadlines,
/// timers, posted jobs, reap) once, as one turn of the loop would.
pub struct Harness<S> {
    server: Server<S>,
    factory: Box<dyn FnMut() -> Box<dyn Protocol<S>>>,
    /// Each connection's pipe, kept after it closes (its output stays
    /// readable).
    pipes: HashMap<ConnId, Rc<RefCell<Pipe>>>,
    /// Why each closed connection closed.
    closed: HashMap<ConnId, CloseReason>,
    /// Peer port for the next connection.
    next_port: u16,
}

impl<S: 'static> Harness<S> {
    /// A harness with the default configuration (but no slow-callback
    /// warning: the clock is manual), serving each connection with a fresh
    /// value from `factory`.
    ///
    /// # Panics
    /// If the OS cannot create an `epoll` instance (the core holds one even
    /// when no socket is registered with it).
    pub fn new<P, F>(state: S, factory: F) -> Harness<S>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        Harness::with_builder(Server::builder(), state, factory)
    }

    /// Like [`new`](Harness::new), with limits and timeouts from `builder`.
    ///
    /// # Panics
    /// If the configuration is invalid, or the OS cannot create an `epoll`
    /// instance.
    pub fn with_builder<P, F>(builder: Builder, state: S, mut factory: F) -> Harness<S>
    where
        P: Protocol<S> + 'static,
        F: FnMut() -> P + 'static,
    {
        let mut server = builder
            .slow_callback(None)
            .build(state)
            .expect("twig::testing: cannot build the server");
        let core = server.core();
        core.in_turn = true; // `now` is the manual clock from here on
        core.now = Instant::now();
        core.reaped = Some(Vec::new());
        Harness {
            server,
            factory: Box::new(move || Box::new(factory()) as Box<dyn Protocol<S>>),
            pipes: HashMap::new(),
            closed: HashMap::new(),
            next_port: 40_000,
        }
    }

    /// Opens a connection from a new peer address: `on_open` runs (what it
    /// writes is in [`output`](Harness::output)).
    pub fn connect(&mut self) -> ConnId {
        self.next_port = self.next_port.wrapping_add(1);
        self.connect_from(SocketAddr::from((Ipv4Addr::LOCALHOST, self.next_port)))
    }

    /// Opens a connection from `peer`.
    pub fn connect_from(&mut self, peer: SocketAddr) -> ConnId {
        let pipe = Rc::new(RefCell::new(Pipe::default()));
        let protocol = (self.factory)();
        let socket = MemorySocket(Rc::clone(&pipe));
        let id = self
            .server
            .core()
            .insert_memory(socket, peer.into(), protocol);
        self.pipes.insert(id, pipe);
        self.settle();
        id
    }

    /// The peer sends `bytes`: they are read and answered at once.
    pub fn send(&mut self, id: ConnId, bytes: &[u8]) {
        self.pipe(id).inbound.extend_from_slice(bytes);
        self.ready(id, false);
    }

    /// The peer shuts down its write side (`shutdown(SHUT_WR)`, or close).
    pub fn eof(&mut self, id: ConnId) {
        self.pipe(id).peer_eof = true;
        self.ready(id, true);
    }

    /// What the connection has written since the last call (also after it
    /// closed). If the peer reads slowly ([`set_window`](Harness::set_window)),
    /// taking the output frees that much window again.
    pub fn output(&mut self, id: ConnId) -> Vec<u8> {
        let (out, reopened) = {
            let mut pipe = self.pipe(id);
            let out = std::mem::take(&mut pipe.outbound);
            let reopened = match &mut pipe.window {
                Some(room) if !out.is_empty() => {
                    *room += out.len();
                    true
                }
                _ => false,
            };
            (out, reopened)
        };
        if reopened {
            self.ready(id, false);
        }
        out
    }

    /// Makes the peer take at most `bytes` more before it stops reading
    /// (`None`: it reads everything at once). Backpressure and the write
    /// timeout can then be tested.
    pub fn set_window(&mut self, id: ConnId, bytes: Option<usize>) {
        self.pipe(id).window = bytes;
        self.ready(id, false);
    }

    /// Whether the connection has shut its write side (the peer would read
    /// EOF after [`output`](Harness::output)).
    pub fn is_write_shut(&self, id: ConnId) -> bool {
        self.pipes.get(&id).is_some_and(|p| p.borrow().shut)
    }

    /// Why the connection closed, or `None` while it is open.
    pub fn closed(&self, id: ConnId) -> Option<CloseReason> {
        self.closed.get(&id).copied()
    }

    /// Whether the connection is still open.
    pub fn is_open(&self, id: ConnId) -> bool {
        self.closed(id).is_none() && self.pipes.contains_key(&id)
    }

    /// Moves the manual clock forward by `by`, then runs what is due:
    /// timeouts close connections, timers fire (those they schedule for
    /// `by` or less fire too, as in as many turns as that takes).
    pub fn advance(&mut self, by: Duration) {
        let core = self.server.core();
        core.now += by;
        for _ in 0..1_000 {
            let before = self.server.stats().timers_fired;
            self.settle();
            let core = self.server.core();
            let due = core.timers.is_due(core.now) || core.deadlines.is_due(core.now);
            if !due && self.server.stats().timers_fired == before {
                break;
            }
        }
    }

    /// The manual clock's time ([`Core::now`] inside callbacks).
    pub fn now(&mut self) -> Instant {
        self.server.core().now
    }

    /// The core, as a timer or a posted closure sees it (shared state,
    /// timers, other connections, stats). What is done through it is
    /// carried out at the next step.
    pub fn core(&mut self) -> &mut Core<S> {
        self.server.core()
    }

    /// The shared application state.
    pub fn state(&mut self) -> &mut S {
        self.server.core().state()
    }

    /// Runs the loop's phases once: what commands from [`core`](Harness::core)
    /// asked for is carried out.
    pub fn settle(&mut self) {
        self.server.settle();
        let core = self.server.core();
        if let Some(reaped) = &mut core.reaped {
            self.closed.extend(reaped.drain(..));
        }
    }

    /// A readiness edge for `id`, as epoll would report after the peer sent
    /// bytes, read some, or hung up.
    fn ready(&mut self, id: ConnId, hup: bool) {
        if self.server.core().live(id).is_some() {
            let ready = Event::Ready {
                read: true,
                write: true,
                hup,
            };
            self.server.drive_one(id, ready);
        }
        self.settle();
    }

    fn pipe(&self, id: ConnId) -> std::cell::RefMut<'_, Pipe> {
        self.pipes
            .get(&id)
            .unwrap_or_else(|| panic!("twig::testing: no connection {id}"))
            .borrow_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{After, Ctx, Frame};

    struct Echo;
    impl Protocol for Echo {
        fn frame(&mut self, input: &[u8]) -> Frame {
            Frame::Complete(input.len())
        }
        fn reply(&mut self, request: &[u8], ctx: &mut Ctx) -> After {
            ctx.write(request);
            After::KeepOpen
        }
    }

    #[test]
    fn a_request_does_not_re_arm_the_deadline() {
        let mut t = Harness::new((), || Echo);
        let c = t.connect();
        t.send(c, b"one");
        assert_eq!(t.output(c), b"one");
        let armed = t.server.core().conns[c.key()].armed;
        for _ in 0..10 {
            t.send(c, b"again");
            assert_eq!(t.output(c), b"again");
        }
        assert_eq!(t.server.core().conns[c.key()].armed, armed);
    }
}
