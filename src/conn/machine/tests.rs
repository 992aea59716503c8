//! The machine as a table: (state, event) → (state, action), no socket.

use super::*;

use std::collections::HashMap;

use crate::conn::close::CloseReason;

/// Every life, with every close reason.
fn lives() -> Vec<Life> {
    let mut lives = vec![
        Life::Connecting,
        Life::Handshaking,
        Life::ProxyHeader,
        Life::Opening,
        Life::Open,
        Life::Draining,
    ];
    for reason in CloseReason::ALL {
        lives.extend([
            Life::Closing(reason),
            Life::Lingering(reason),
            Life::Closed(reason),
        ]);
    }
    lives
}

/// Every state the types can represent.
pub(super) fn states() -> Vec<State> {
    let inputs = [
        Input::Reading,
        Input::Unanswered,
        Input::Paused,
        Input::Eof,
        Input::HalfClosed,
        Input::Awaiting,
        Input::AwaitingPaused,
    ];
    let outputs = [
        Output::Idle,
        Output::Owing,
        Output::Drained,
        Output::ShutAfterFlush,
        Output::Shutting,
        Output::Shut,
    ];
    let reads = [
        ReadEdge::Drained,
        ReadEdge::Pending,
        ReadEdge::Hup,
        ReadEdge::HupDrained,
    ];
    let writes = [WriteEdge::Full, WriteEdge::Pending];
    let mut all = Vec::new();
    for life in lives() {
        for input in inputs {
            for output in outputs {
                for read in reads {
                    for write in writes {
                        for relay in [Relay::Off, Relay::ReadWhileOwing] {
                            let ready = Ready { read, write };
                            all.push(State {
                                life,
                                input,
                                output,
                                ready,
                                relay,
                            });
                        }
                    }
                }
            }
        }
    }
    all
}

/// Every event, with representative payloads.
pub(super) fn events() -> Vec<Event> {
    let wrotes = [
        Wrote::Nothing,
        Wrote::All,
        Wrote::Blocked,
        Wrote::Queued,
        Wrote::Failed(CloseReason::Reset),
        Wrote::Dropped,
    ];
    let endings = [
        Ending::Waiting,
        Ending::Backpressure,
        Ending::Close,
        Ending::Violation,
    ];
    let mut all = vec![
        Event::Poke,
        Event::JobDone,
        Event::Read { short: true },
        Event::Read { short: false },
        Event::ReadEof,
        Event::ReadBlocked,
        Event::WroteAll,
        Event::WrotePart,
        Event::WriteBlocked,
        Event::Abort(CloseReason::Reset),
        Event::Abort(CloseReason::Panic),
        Event::Abort(CloseReason::Tls),
        Event::Connected(None),
        Event::Connected(Some(true)),
        Event::Connected(Some(false)),
        Event::ShutDone,
        Event::SocketError(None),
        Event::SocketError(Some(CloseReason::Reset)),
        Event::Deadline(CloseReason::IdleTimeout),
        Event::Deadline(CloseReason::ConnectFailed),
        Event::Deadline(CloseReason::HandshakeTimeout),
        Event::Shook(Shake::Done { owing: false }),
        Event::Shook(Shake::Done { owing: true }),
        Event::Shook(Shake::Blocked { owing: false }),
        Event::Shook(Shake::Blocked { owing: true }),
        Event::Shook(Shake::Refused(CloseReason::Tls)),
        Event::Deadline(CloseReason::ProxyHeader),
        Event::ProxyHeader(HeaderRead::Done { tls: false }),
        Event::ProxyHeader(HeaderRead::Done { tls: true }),
        Event::ProxyHeader(HeaderRead::Partial),
        Event::ProxyHeader(HeaderRead::Refused),
    ];
    for read in [false, true] {
        for write in [false, true] {
            for hup in [false, true] {
                all.push(Event::Ready { read, write, hup });
            }
        }
    }
    for wrote in wrotes {
        all.push(Event::HookDone(wrote));
        all.push(Event::Delivered(wrote));
        for keep_open in [false, true] {
            all.push(Event::EofHandled { keep_open, wrote });
        }
        for ending in endings {
            all.push(Event::Answered { ending, wrote });
            for short in [false, true] {
                all.push(Event::ReadAnswered {
                    short,
                    ending,
                    wrote,
                });
            }
        }
    }
    for command in [
        Command::Close,
        Command::Pause,
        Command::Resume,
        Command::ShutWrite,
        Command::SetRelay(Relay::Off),
        Command::SetRelay(Relay::ReadWhileOwing),
        Command::Queued,
        Command::Stop,
        Command::Await,
    ] {
        all.push(Event::Command(command));
    }
    all
}

/// The rules every transition keeps, whatever the state and event.
fn check_rules(before: State, event: Event, after: State, action: Action) {
    let at = || format!("{before} + {event:?} -> {after}, {action:?}");
    // Closed is final, and the driver is told to stop.
    if !before.is_live() {
        assert_eq!(
            (after, action),
            (
                before,
                Action::Close(match before.life {
                    Life::Closed(r) => r,
                    _ => unreachable!(),
                })
            ),
            "{}",
            at()
        );
    }
    if let Life::Closed(reason) = after.life {
        let expected = [Action::Close(reason), Action::ConnectFailed];
        assert!(expected.contains(&action), "closed but {}", at());
    }
    // No write after the write side is shut.
    if after.output == Output::Shut {
        assert_ne!(action, Action::Flush, "{}", at());
        assert_ne!(action, Action::ShutWrite, "{}", at());
    }
    // No read while bytes are owed, unless relaying.
    if matches!(action, Action::Read | Action::Answer | Action::CallOnEof) {
        assert!(
            !after.is_owing() || after.relay == Relay::ReadWhileOwing,
            "reads while owing: {}",
            at()
        );
    }
    // An action that needs an edge has one.
    match action {
        Action::Read | Action::Discard | Action::CheckError => {
            assert!(after.ready.is_readable(), "{}", at())
        }
        Action::Flush | Action::CheckConnect => {
            assert_eq!(after.ready.write, WriteEdge::Pending, "{}", at())
        }
        _ => {}
    }
    // Hooks and connect checks only where they belong.
    match action {
        Action::CallOnOpen => assert_eq!(after.life, Life::Opening, "{}", at()),
        Action::CheckConnect => assert_eq!(after.life, Life::Connecting, "{}", at()),
        Action::Handshake => {
            assert_eq!(after.life, Life::Handshaking, "{}", at());
            let flush = after.is_owing() && after.ready.write == WriteEdge::Pending;
            assert!(after.ready.is_readable() || flush, "no edge: {}", at());
        }
        Action::ReadProxyHeader => {
            assert_eq!(after.life, Life::ProxyHeader, "{}", at());
            assert!(after.ready.is_readable(), "no edge: {}", at());
        }
        Action::Discard => assert!(matches!(after.life, Life::Lingering(_)), "{}", at()),
        Action::CallOnEof => assert_eq!(after.input, Input::Eof, "{}", at()),
        _ => {}
    }
    // A deadline is armed in every state that waits on the peer: all live
    // states but those whose code paused reading while nothing is owed.
    let paused_by_code = after.input == Input::Paused && !after.is_owing();
    if after.is_live() && !paused_by_code {
        assert_ne!(timeout(&after), Timeout::None, "no timeout: {}", at());
    }
    // Settled: looking again changes nothing (but on_connect_failed is
    // called once, as the connection closes).
    if action != Action::ConnectFailed {
        assert_eq!(
            next(after, Event::Poke),
            (after, action),
            "unsettled: {}",
            at()
        );
    }
}

#[test]
fn every_event_in_every_state_keeps_the_rules() {
    let (states, events) = (states(), events());
    for &state in &states {
        for &event in &events {
            let (after, action) = next(state, event);
            check_rules(state, event, after, action);
        }
    }
    assert!(
        states.len() * events.len() > 500_000,
        "the table covers every pair"
    );
}

#[test]
fn the_documented_transition_table_is_what_next_does() {
    let by_text: HashMap<String, State> =
        states().into_iter().map(|s| (s.to_string(), s)).collect();
    let events: HashMap<String, Event> = events()
        .into_iter()
        .map(|e| (format!("{e:?}"), e))
        .collect();
    let source = include_str!("table.md");
    let mut rows = 0;
    for line in source.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line
            .trim_start_matches("//! ")
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .filter(|c| !c.is_empty())
            .collect();
        let [from, event, to, action] = cells[..] else {
            panic!("a row has four cells: {line}");
        };
        let from_state = by_text
            .get(from)
            .unwrap_or_else(|| panic!("no state {from:?}"));
        let event_value = events
            .get(event)
            .unwrap_or_else(|| panic!("no event {event:?}"));
        let (next_state, next_action) = next(*from_state, *event_value);
        assert_eq!(next_state.to_string(), to, "row: {line}");
        assert_eq!(format!("{next_action:?}"), action, "row: {line}");
        rows += 1;
    }
    assert!(rows >= 40, "only {rows} rows found");
}

#[test]
fn accepted_connection_opens_first() {
    let (state, action) = next(State::ACCEPTED, Event::Poke);
    assert_eq!(state, State::ACCEPTED);
    assert_eq!(action, Action::CallOnOpen);
}
