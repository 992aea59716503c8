//! The slow-callback warning: a callback that blocks the loop longer than
//! `Config::slow_callback` is named in one warning; callbacks under the limit
//! are not, including the first one after the loop sat idle for longer than
//! the limit (which takes the exact measurement path).
//!
//! This binary installs a capturing logger (`support::logs`), a process-wide
//! setting; each test finds its lines by the client's address.

mod support;

use std::time::Duration;

use support::logs::{capture, matching};
use twig::{After, Ctx, Frame, Protocol, Server, framing};

/// The limit under test.
const LIMIT: Duration = Duration::from_millis(20);

/// Lines; the line `slow` blocks the loop for twice the limit before it is
/// answered (user code doing something it should not).
struct Lines;

impl Protocol for Lines {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        if line == b"slow\n" {
            std::thread::sleep(2 * LIMIT); // the blocking under test
        }
        ctx.write(line);
        After::KeepOpen
    }
}

#[test]
fn only_the_callback_over_the_limit_is_named() {
    capture();
    let builder = Server::builder().slow_callback(Some(LIMIT));
    let server = support::start_with(builder, (), || Lines, |_| {});
    let mut client = support::connect(server.addr);
    let me = client.local_addr().unwrap();
    let warnings = || matching(&format!("{me}: reply blocked the loop"));

    assert_eq!(support::round_trip(&mut client, b"fast\n"), b"fast\n");
    // Pacing, not synchronization: let the loop sit idle past the limit, so
    // the next fast callback ends after the bound and is measured exactly.
    std::thread::sleep(3 * LIMIT);
    assert_eq!(support::round_trip(&mut client, b"fast\n"), b"fast\n");
    assert!(warnings().is_empty(), "{:?}", warnings());

    assert_eq!(support::round_trip(&mut client, b"slow\n"), b"slow\n");
    for _ in 0..10 {
        assert_eq!(support::round_trip(&mut client, b"fast\n"), b"fast\n");
    }
    // The warning is logged before the reply is written: it is there now.
    let found = warnings();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("WARN"), "{}", found[0]);
    assert!(found[0].contains("(limit 20ms)"), "{}", found[0]);
    server.stop();
}
