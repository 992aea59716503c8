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
            assert_eq!(
                expected,
                (super::cycle_edge(state, write), Action::Read),
                "{state}"
            );
            edges += 1;
        }
    }
    for state in states() {
        for event in events() {
            let Event::ReadAnswered {
                short,
                ending,
                wrote,
            } = event
            else {
                continue;
            };
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
fn a_read_and_its_answer_in_one_step_are_the_two_steps() {
    let mut reads = 0;
    for state in states() {
        let (_, action) = next(state, Event::Poke);
        if action != Action::Read {
            continue;
        }
        reads += 1;
        for event in events() {
            let Event::ReadAnswered {
                short,
                ending,
                wrote,
            } = event
            else {
                continue;
            };
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
