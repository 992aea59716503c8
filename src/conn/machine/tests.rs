//! The machine as a table: (state, event) → (state, action), no socket.

use super::*;

#[test]
fn accepted_connection_opens_first() {
    let (state, action) = next(State::ACCEPTED, Event::Poke);
    assert_eq!(state, State::ACCEPTED);
    assert_eq!(action, Action::CallOnOpen);
}
