//! The machine's fast paths are its rules: the per-request shortcut of
//! [`next`], the request cycle the driver loops in, and the combined
//! read-and-answer event, each checked against the general rules for every
//! state and event (the enumerations are `tests.rs`'s).

use super::tests::{events, states};
use super::*;

#[test]
fn the_per_request_shortcut_is_the_rules() {
    let mut shortcuts = 0;
    for state in states() {
        for event in events() {
            let fast = next(state, event);
            let slow = rules::by_the_rules(state, event);
            assert_eq!(fast, slow, "{state} + {event:?}");
            shortcuts += usize::from(shortcut::takes_shortcut(state, event));
        }
    }
    assert!(
        shortcuts > 10,
        "the shortcut answered only {shortcuts} pairs"
    );
}

/// Every `ReadAnswered` event of the enumeration, with its parts.
fn read_answers() -> impl Iterator<Item = (Event, bool, Ending, Wrote)> {
    events().into_iter().filter_map(|event| match event {
        Event::ReadAnswered {
            short,
            ending,
            wrote,
        } => Some((event, short, ending, wrote)),
        _ => None,
    })
}

#[test]
fn the_request_cycle_is_the_rules() {
    let (mut edges, mut reads) = (0, 0);
    for state in states().into_iter().filter(super::in_request_cycle) {
        for write in [false, true] {
            let ready = Event::Ready {
                read: true,
                write,
                hup: false,
            };
            let expected = next(state, ready);
            let mut s = state;
            super::cycle_edge(&mut s, write);
            assert_eq!(expected, (s, Action::Read), "{state}");
            edges += 1;
        }
    }
    for state in states() {
        for (event, short, ending, wrote) in read_answers() {
            if let Some((s, again)) = super::cycle_read(state, short, ending, wrote) {
                let action = if again { Action::Read } else { Action::Wait };
                assert_eq!(next(state, event), (s, action), "{state} + {event:?}");
                assert!(super::in_request_cycle(&s), "{s} left the cycle");
                reads += 1;
            }
        }
    }
    assert!(
        edges > 2 && reads > 2,
        "the cycle covered {edges} edges, {reads} reads"
    );
}

#[test]
fn the_cycle_in_place_is_the_cycle() {
    let mut checked = 0;
    let edged = states()
        .into_iter()
        .filter(super::in_request_cycle)
        .map(|mut state| {
            super::cycle_edge(&mut state, false);
            state
        });
    for state in edged {
        for (event, short, ending, wrote) in read_answers() {
            let mut s = state;
            let found = super::cycle_answered(&mut s, short, ending, wrote);
            let expected = match super::cycle_read(state, short, ending, wrote) {
                Some((next, true)) => (next, Cycle::Again),
                Some((next, false)) => (next, Cycle::Drained),
                None => (state, Cycle::Leave),
            };
            assert_eq!((s, found), expected, "{state} + {event:?}");
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} pairs");
}

#[test]
fn a_read_and_its_answer_in_one_step_are_the_two_steps() {
    let mut reads = 0;
    for state in states() {
        let (_, action) = next(state, Event::Poke);
        if action != Action::Read {
            continue;
        }
        reads += 1;
        for (event, short, ending, wrote) in read_answers() {
            let (read, then) = next(state, Event::Read { short });
            assert_eq!(
                then,
                Action::Answer,
                "bytes read are answered next: {state}"
            );
            let two_steps = next(read, Event::Answered { ending, wrote });
            assert_eq!(next(state, event), two_steps, "{state} + {event:?}");
        }
    }
    assert!(reads >= 20, "only {reads} states read");
}
