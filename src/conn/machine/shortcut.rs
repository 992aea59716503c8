//! [`next`]: the machine as the driver calls it. For the two events of an
//! ordinary request it computes the result directly; for everything else it
//! asks [`by_the_rules`]. The shortcut is not a second set of rules: a test
//! checks that it gives what `by_the_rules` gives for every state and event.

use super::rules::by_the_rules;
use super::{Action, Ending, Event, Input, Life, Output, ReadEdge, Relay, State, WriteEdge, Wrote};

/// The machine: the state after `event`, and the one action the driver
/// carries out next (whose outcome is the next event).
#[inline]
pub fn next(state: State, event: Event) -> (State, Action) {
    if is_ordinary(&state) {
        let mut s = state;
        match event {
            Event::Ready {
                read,
                write,
                hup: false,
            } if s.input == Input::Reading => {
                if read && s.ready.read == ReadEdge::Drained {
                    s.ready.read = ReadEdge::Pending;
                }
                if write {
                    s.ready.write = WriteEdge::Pending;
                }
                return (s, read_or_wait(&s));
            }
            Event::ReadAnswered {
                short,
                ending: Ending::Waiting,
                wrote: Wrote::All | Wrote::Nothing,
            } if s.input == Input::Reading => {
                if short && s.ready.read == ReadEdge::Pending {
                    s.ready.read = ReadEdge::Drained;
                }
                return (s, read_or_wait(&s));
            }
            _ => {}
        }
    }
    by_the_rules(state, event)
}

/// The per-request shortcut of [`next`] applies: an open connection that
/// owes nothing and does not relay, whose peer has not hung up. For the
/// two events of an ordinary request there — its readable edge, and the
/// read with its answer — `next` computes the result directly. It is the same
/// function as [`by_the_rules`] on these pairs (a test checks every state
/// and event), only cheaper: the general path costs a few hundred
/// instructions a step, and a request takes two.
#[inline(always)]
fn is_ordinary(state: &State) -> bool {
    matches!(state.life, Life::Open)
        & matches!(state.output, Output::Idle)
        & matches!(state.relay, Relay::Off)
        & matches!(state.ready.read, ReadEdge::Drained | ReadEdge::Pending)
}

/// In an ordinary state, with the read half waiting: read if there may be
/// bytes, else wait for the edge.
#[inline(always)]
fn read_or_wait(s: &State) -> Action {
    if s.ready.read == ReadEdge::Pending {
        Action::Read
    } else {
        Action::Wait
    }
}

/// Whether a connection is in the request cycle: it only reads requests and
/// answers them in full (the shortcut's states, with the read half
/// waiting for a request). There a readable edge means [`Action::Read`]
/// ([`cycle_edge`]), and each read answered in full means "read again" until
/// a short read ([`cycle_read`]), so the driver may loop without a general
/// step per read. The two functions are [`next`] on these pairs (a test
/// checks every state and event).
#[inline(always)]
pub fn in_request_cycle(state: &State) -> bool {
    is_ordinary(state) & (state.input == Input::Reading)
}

/// In the request cycle, a readable edge (`Ready { read: true, write, hup:
/// false }`): turns `s` into the state [`next`] gives (in place: it writes
/// the two edges, not the whole state); its action is always
/// [`Action::Read`].
#[inline(always)]
pub fn cycle_edge(s: &mut State, write: bool) {
    s.ready.read = ReadEdge::Pending;
    if write {
        s.ready.write = WriteEdge::Pending;
    }
}

/// In the request cycle, a read and its answer (the parts of
/// [`Event::ReadAnswered`]): if they keep the connection in the cycle
/// (answered in full, nothing owed), the state [`next`] gives and whether
/// its action is [`Action::Read`] again (`false`: [`Action::Wait`]). `None`
/// when the pair is not the cycle's: feed the event to [`next`].
#[inline(always)]
pub fn cycle_read(
    mut s: State,
    short: bool,
    ending: Ending,
    wrote: Wrote,
) -> Option<(State, bool)> {
    let whole = ending == Ending::Waiting && matches!(wrote, Wrote::All | Wrote::Nothing);
    if !(whole && in_request_cycle(&s)) {
        return None;
    }
    if short && s.ready.read == ReadEdge::Pending {
        s.ready.read = ReadEdge::Drained;
    }
    Some((s, s.ready.read == ReadEdge::Pending))
}

/// What [`cycle_answered`] found: read again, stop (drained: wait for the
/// next edge), or leave the cycle (feed the event to [`next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycle {
    /// Read again ([`Action::Read`]).
    Again,
    /// The read was short: the socket is drained ([`Action::Wait`]).
    Drained,
    /// The pair is not the cycle's: feed `ReadAnswered` to [`next`].
    Leave,
}

/// [`cycle_read`] in place, for the state [`cycle_edge`] gave when nothing
/// has fed the machine since (so its read edge is still `Pending`): a
/// read answered in full keeps it in the cycle, and a short one marks the
/// socket drained. It writes at most the read edge, where `cycle_read`
/// rebuilds the whole state (a test checks the two agree).
#[inline(always)]
pub fn cycle_answered(s: &mut State, short: bool, ending: Ending, wrote: Wrote) -> Cycle {
    debug_assert!(in_request_cycle(s) && s.ready.read == ReadEdge::Pending);
    let whole = ending == Ending::Waiting && matches!(wrote, Wrote::All | Wrote::Nothing);
    if !whole {
        Cycle::Leave
    } else if short {
        s.ready.read = ReadEdge::Drained;
        Cycle::Drained
    } else {
        Cycle::Again
    }
}

/// Whether [`next`] takes the per-request shortcut for this pair.
#[cfg(test)]
pub(super) fn takes_shortcut(state: State, event: Event) -> bool {
    let request_event = matches!(
        (event, state.input),
        (Event::Ready { hup: false, .. }, Input::Reading)
            | (
                Event::ReadAnswered {
                    ending: Ending::Waiting,
                    wrote: Wrote::All | Wrote::Nothing,
                    ..
                },
                Input::Reading
            )
    );
    is_ordinary(&state) && request_event
}
