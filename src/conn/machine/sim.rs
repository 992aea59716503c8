//! A property test: random event sequences driven through the machine by a
//! simulated driver and peer that count every byte, so a lost, duplicated
//! or misplaced byte (or a write after the shutdown) shows.

use proptest::prelude::*;

use super::*;
use crate::conn::close::CloseReason;

/// The driver, the socket and the peer, as counters.
#[derive(Debug, Default)]
struct World {
    /// Bytes in the socket's receive queue, and whether the peer's FIN
    /// follows them.
    incoming: usize,
    peer_eof: bool,
    /// Bytes read and not answered yet.
    buffered: usize,
    /// Bytes owed, room in the socket's send buffer, bytes the peer got.
    owed: usize,
    room: usize,
    delivered: usize,
    /// Reply bytes produced by the protocol, and dropped because the write
    /// side was shut.
    produced: usize,
    dropped: usize,
    shut: bool,
    /// The handshake's own bytes wait for room in the send buffer.
    handshake_owed: bool,
    /// The PROXY header was taken off the socket.
    header_read: bool,
}

const READ_BUF: usize = 4;

impl World {
    /// The optimistic write of a fresh reply of `n` bytes.
    fn deliver(&mut self, state: &State, n: usize) -> Wrote {
        self.produced += n;
        if n == 0 {
            return Wrote::Nothing;
        }
        if !state.may_reply() {
            assert_eq!(
                state.output,
                Output::Shut,
                "dropped while the write side is open"
            );
            self.dropped += n;
            return Wrote::Dropped;
        }
        if self.owed > 0 || !state.can_write_now() {
            self.owed += n;
            return Wrote::Queued;
        }
        assert!(!self.shut, "wrote after shutdown");
        let w = n.min(self.room);
        self.room -= w;
        self.delivered += w;
        if w < n {
            self.owed += n - w;
            Wrote::Blocked
        } else {
            Wrote::All
        }
    }

    /// Carries out one action; the outcome is the next event (`None`: wait
    /// for the environment). `pick` decides what the protocol does.
    fn act(&mut self, state: &State, action: Action, pick: u8) -> Option<Event> {
        Some(match action {
            Action::Wait | Action::Close(_) | Action::ConnectFailed => return None,
            Action::Read | Action::Discard => {
                if self.incoming > 0 {
                    let n = self.incoming.min(READ_BUF);
                    self.incoming -= n;
                    let short = n < READ_BUF;
                    if action == Action::Discard {
                        return Some(Event::Read { short });
                    }
                    // Bytes read are answered at once.
                    self.buffered += n;
                    let Some(Event::Answered { ending, wrote }) =
                        self.act(state, Action::Answer, pick)
                    else {
                        unreachable!("Answer is answered");
                    };
                    Event::ReadAnswered {
                        short,
                        ending,
                        wrote,
                    }
                } else if self.peer_eof {
                    Event::ReadEof
                } else {
                    Event::ReadBlocked
                }
            }
            Action::Answer => {
                // Each byte is a request answered with two bytes; now and
                // then the protocol closes or finds a violation.
                let requests = std::mem::take(&mut self.buffered);
                let ending = match pick % 16 {
                    0 => Ending::Close,
                    1 => Ending::Violation,
                    _ => Ending::Waiting,
                };
                let wrote = self.deliver(state, 2 * requests);
                Event::Answered { ending, wrote }
            }
            Action::Flush => {
                assert!(!self.shut, "flushed after shutdown");
                if self.handshake_owed && self.room > 0 {
                    self.room -= 1; // what the handshake owed goes first
                    self.handshake_owed = false;
                }
                let w = self.owed.min(self.room);
                self.owed -= w;
                self.room -= w;
                self.delivered += w;
                if self.owed == 0 {
                    Event::WroteAll
                } else {
                    Event::WriteBlocked
                }
            }
            Action::ShutWrite => {
                assert_eq!(self.owed, 0, "shut down with bytes owed: they are lost");
                self.shut = true;
                Event::ShutDone
            }
            Action::CallOnOpen | Action::CallOnDrained => {
                let n = usize::from(pick.is_multiple_of(4)) * 3;
                Event::HookDone(self.deliver(state, n))
            }
            Action::CallOnEof => {
                self.buffered = 0; // the rest goes to on_eof
                Event::EofHandled {
                    keep_open: pick.is_multiple_of(3),
                    wrote: self.deliver(state, 1),
                }
            }
            Action::CheckConnect => Event::Connected(Some(!pick.is_multiple_of(8))),
            Action::CheckError => Event::SocketError(None),
            Action::ReadProxyHeader => {
                assert!(!self.header_read, "the header is read once");
                if self.incoming == 0 {
                    return Some(if self.peer_eof {
                        Event::ReadEof
                    } else {
                        Event::ReadBlocked
                    });
                }
                // A peek takes nothing; a whole header takes one byte, and
                // the rest stays in the socket for what comes next.
                Event::ProxyHeader(match pick % 4 {
                    0 => HeaderRead::Partial,
                    3 => HeaderRead::Refused,
                    _ => {
                        self.incoming -= 1;
                        self.header_read = true;
                        HeaderRead::Done { tls: pick % 8 >= 4 }
                    }
                })
            }
            Action::Handshake => {
                if self.handshake_owed && self.room > 0 {
                    self.room -= 1;
                    self.handshake_owed = false;
                }
                if self.incoming == 0 && self.peer_eof {
                    return Some(Event::Abort(CloseReason::Tls)); // left mid-handshake
                }
                let heard = std::mem::take(&mut self.incoming) > 0;
                if heard && self.room == 0 {
                    self.handshake_owed = true;
                }
                let owing = self.handshake_owed;
                Event::Shook(match pick % 8 {
                    0 if heard => Shake::Refused(CloseReason::Tls),
                    1..=4 if heard => Shake::Done { owing },
                    _ => Shake::Blocked { owing },
                })
            }
        })
    }

    /// Something the peer or user code does while the driver waits.
    fn environment(&mut self, pick: u8) -> Event {
        match pick % 12 {
            0..=3 if !self.peer_eof => {
                self.incoming += 1 + (pick as usize / 12) % 6;
                Event::Ready {
                    read: true,
                    write: false,
                    hup: false,
                }
            }
            4..=6 => {
                self.room += 1 + (pick as usize / 12) % 8;
                Event::Ready {
                    read: false,
                    write: true,
                    hup: false,
                }
            }
            7 => {
                self.peer_eof = true;
                Event::Ready {
                    read: true,
                    write: false,
                    hup: true,
                }
            }
            8 => Event::Command(match pick / 12 % 7 {
                0 => Command::Pause,
                1 => Command::Resume,
                2 => Command::ShutWrite,
                3 => Command::SetRelay(Relay::ReadWhileOwing),
                4 => Command::SetRelay(Relay::Off),
                5 => Command::Await,
                _ => Command::Stop,
            }),
            10 => Event::JobDone, // an offloaded result is back
            9 => Event::Ready {
                read: true,
                write: true,
                hup: false,
            }, // spurious
            _ => Event::Poke,
        }
    }

    /// Bytes are neither lost nor duplicated.
    fn check_conservation(&self) {
        assert_eq!(
            self.delivered + self.owed + self.dropped,
            self.produced,
            "{self:?}"
        );
    }
}

/// Runs `choices` through the machine from `start`, then lets the peer send
/// its EOF and read everything, and code resume and close it: it must end
/// in `Closed` with everything delivered.
fn run(start: State, choices: &[u8]) {
    let (mut world, mut state) = (World::default(), start);
    let mut event = Event::Poke;
    let mut choices = choices.iter().copied();
    let mut steps = 0;
    loop {
        let (next_state, action) = next(state, event);
        state = next_state;
        world.check_conservation();
        if !state.is_live() {
            break;
        }
        let Some(pick) = choices.next() else { break };
        event = match world.act(&state, action, pick) {
            Some(outcome) => outcome,
            None => world.environment(pick),
        };
        steps += 1;
        assert!(steps < 10_000);
    }
    // The ending: the peer reads all and has sent its EOF; code resumes and
    // closes. Every path must then reach Closed.
    world.room = usize::MAX / 2;
    world.peer_eof = true;
    let mut pending = vec![
        Event::Command(Command::Close),
        Event::JobDone,
        Event::Command(Command::Resume),
        Event::Ready {
            read: true,
            write: true,
            hup: true,
        },
    ];
    for _ in 0..1_000 {
        if !state.is_live() {
            break;
        }
        let (next_state, action) = next(state, event);
        state = next_state;
        world.check_conservation();
        event = match world.act(&state, action, 1) {
            Some(outcome) => outcome,
            None => pending.pop().unwrap_or(Event::Ready {
                read: true,
                write: true,
                hup: true,
            }),
        };
    }
    let Life::Closed(reason) = state.life else {
        panic!("did not close: {state} {world:?}");
    };
    world.check_conservation();
    if matches!(
        reason,
        CloseReason::Done | CloseReason::Eof | CloseReason::Shutdown
    ) {
        assert_eq!(world.owed, 0, "closed normally with bytes owed: {world:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn random_accepted_connections_lose_nothing_and_end_closed(
        choices in prop::collection::vec(any::<u8>(), 0..300)
    ) {
        run(State::ACCEPTED, &choices);
    }

    #[test]
    fn random_outbound_connections_lose_nothing_and_end_closed(
        choices in prop::collection::vec(any::<u8>(), 0..300)
    ) {
        run(State::CONNECTING, &choices);
    }

    #[test]
    fn random_tls_connections_lose_nothing_and_end_closed(
        choices in prop::collection::vec(any::<u8>(), 0..300)
    ) {
        run(State::HANDSHAKING, &choices);
    }

    #[test]
    fn random_proxied_connections_lose_nothing_and_end_closed(
        choices in prop::collection::vec(any::<u8>(), 0..300)
    ) {
        run(State::PROXY_HEADER, &choices);
    }
}
