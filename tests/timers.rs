//! Timers on a real loop: `after`, `every`, `cancel`, timers writing to
//! connections, panicking timers, and the absence of busy wake-ups.
//!
//! Tests that need the loop state afterwards build the server on the test
//! thread and step it with `turn` under a deadline (so a bug hangs nothing);
//! the others run it on a thread through `support`.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;
mod support;

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{WAIT, ask, connect, round_trip, start_with, stats_of};
use twig::{Core, Server, Stats, TimerId};

use echo_server::Echo;

/// Steps `server` until it has stopped and is empty, failing (not hanging)
/// if that takes longer than `limit`. Returns the final stats.
fn run_bounded<S: 'static>(server: &mut Server<S>, limit: Duration) -> Stats {
    let deadline = Instant::now() + limit;
    while !server.is_finished() {
        let now = Instant::now();
        assert!(now < deadline, "the server did not stop within {limit:?}");
        server.turn(Some(deadline - now)).expect("turn");
    }
    server.stats().clone()
}

fn push(label: &'static str) -> impl FnOnce(&mut Core<Vec<&'static str>>) {
    move |core| core.state().push(label)
}

#[test]
fn one_shot_timers_fire_in_deadline_order_then_scheduling_order() {
    let mut server = Server::builder().build(Vec::<&'static str>::new()).unwrap();
    let handle = server.handle();
    {
        // Before `run`, `now` is fixed, so equal delays are equal deadlines.
        let core = server.core();
        core.call_later(Duration::from_millis(40), push("c1"));
        core.call_later(Duration::from_millis(20), push("b"));
        core.call_later(Duration::from_millis(40), push("c2"));
        core.call_later(Duration::ZERO, push("a"));
        core.call_later(Duration::from_millis(40), push("c3"));
        core.call_later(Duration::from_millis(60), push("d"));
        assert_eq!(core.timers_pending(), 6);
    }
    // More timers, scheduled from a closure posted by another thread: they
    // count from the turn the closure runs in, so they all come after "d".
    std::thread::spawn(move || {
        handle.post(|core| {
            core.call_later(Duration::from_millis(80), |core| {
                core.state().push("f");
                core.stop();
            });
            core.call_later(Duration::from_millis(70), push("e1"));
            core.call_later(Duration::from_millis(70), push("e2"));
        });
    })
    .join()
    .unwrap();

    let stats = run_bounded(&mut server, Duration::from_secs(2));
    assert_eq!(
        *server.core().state(),
        ["a", "b", "c1", "c2", "c3", "d", "e1", "e2", "f"]
    );
    assert_eq!(stats.timers_fired, 9);
    assert_eq!(server.core().timers_pending(), 0);
}

#[derive(Default)]
struct Repeating {
    /// `Core::now` at each firing.
    fired_at: Vec<Instant>,
    timer: Option<TimerId>,
}

#[test]
fn repeating_timer_fires_n_times_then_cancels_itself() {
    const N: usize = 5;
    let interval = Duration::from_millis(10);
    let mut server = Server::builder().build(Repeating::default()).unwrap();
    let start = server.core().now();
    let id = server.core().every(interval, move |core| {
        let now = core.now();
        let state = core.state();
        state.fired_at.push(now);
        if state.fired_at.len() == N {
            let me = state.timer.expect("id stored before run");
            assert!(core.cancel(me), "a repeating timer cancels itself");
            // Keep the loop running a few more intervals: a timer that was
            // not really cancelled would fire again meanwhile.
            core.call_later(interval * 4, |core| core.stop());
        }
    });
    server.core().state().timer = Some(id);

    let stats = run_bounded(&mut server, Duration::from_secs(2));
    let fired_at = &server.core().state().fired_at;
    assert_eq!(fired_at.len(), N, "fired exactly N times");
    for (i, at) in fired_at.iter().enumerate() {
        let due = start + interval * (i as u32 + 1);
        assert!(*at >= due, "firing {i} came early: {:?}", due - *at);
    }
    assert_eq!(
        stats.timers_fired,
        N as u64 + 1,
        "N ticks plus the stop timer"
    );
    assert_eq!(server.core().timers_pending(), 0);
    assert!(!server.core().cancel(id), "already cancelled");
}

#[test]
fn cancelled_timers_never_run_and_cancel_reports_it_once() {
    let mut server = Server::builder().build(Vec::<&'static str>::new()).unwrap();
    let core = server.core();
    let early = core.call_later(Duration::from_millis(10), push("cancelled before run"));
    assert!(core.cancel(early));
    assert!(!core.cancel(early), "second cancel finds nothing");
    // Probably reuses the cancelled timer's slot: the old id must not name it.
    let reused = core.call_later(Duration::from_millis(15), push("reused"));
    assert!(!core.cancel(early), "an old id never names a later timer");

    // A timer cancelled from another timer's callback, before it is due.
    let victim = core.call_later(Duration::from_millis(40), push("cancelled by x"));
    core.call_later(Duration::from_millis(20), move |core| {
        core.state().push("x");
        assert!(core.cancel(victim));
        assert!(!core.cancel(victim));
    });
    let last = core.call_later(Duration::from_millis(60), |core| {
        core.state().push("last");
        core.stop();
    });

    let stats = run_bounded(&mut server, Duration::from_secs(2));
    assert_eq!(*server.core().state(), ["reused", "x", "last"]);
    assert_eq!(stats.timers_fired, 3);
    assert!(
        !server.core().cancel(last),
        "a fired one-shot timer is gone"
    );
    assert!(!server.core().cancel(reused));
}

#[test]
fn timer_callback_writes_to_every_connection_by_id() {
    // State: ticks sent so far, and how many sends the loop accepted.
    let running = start_with(
        Server::builder(),
        (0u64, 0u64),
        || Echo,
        |server| {
            server.core().every(Duration::from_millis(50), |core| {
                let ids: Vec<_> = core.connections().collect();
                core.state().0 += 1;
                let line = format!("tick {}\n", core.state().0);
                for id in ids {
                    if core.send(id, line.as_bytes()) {
                        core.state().1 += 1;
                    }
                }
            });
        },
    );
    let mut clients: Vec<_> = (0..2).map(|_| connect(running.addr)).collect();
    for client in &mut clients {
        // Proves the connection is accepted (and that echo works alongside).
        // A tick may come first, so read until the echo shows up.
        std::io::Write::write_all(client, b"hello\n").unwrap();
    }
    for client in clients {
        let mut lines = BufReader::new(client).lines();
        let mut ticks = Vec::new();
        let mut echoed = false;
        while ticks.len() < 3 {
            let line = lines.next().expect("a line before EOF").expect("read");
            if line == "hello" {
                echoed = true;
            } else {
                let n: u64 = line
                    .strip_prefix("tick ")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected line {line:?}"));
                ticks.push(n);
            }
        }
        assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{ticks:?}");
        if !echoed {
            assert_eq!(lines.next().unwrap().unwrap(), "hello");
        }
    }
    let (ticks, sends) = ask(&running.handle, |core| *core.state());
    assert!(ticks >= 3, "{ticks} ticks");
    assert!(
        sends >= 6,
        "each client got at least 3 ticks: {sends} sends"
    );
    let stats = running.stop();
    assert_eq!(stats.accepted, 2);
}

#[derive(Default)]
struct Panics {
    repeating_calls: u32,
}

#[test]
fn panicking_timers_do_not_stop_the_loop() {
    let running = start_with(
        Server::builder(),
        Panics::default(),
        || Echo2,
        |server| {
            let core = server.core();
            core.call_later(Duration::ZERO, |_| panic!("one-shot timer boom (expected)"));
            core.every(Duration::from_millis(10), |core| {
                core.state().repeating_calls += 1;
                if core.state().repeating_calls == 2 {
                    panic!("repeating timer boom (expected)");
                }
            });
        },
    );
    // Both panics have happened once three timer callbacks ran.
    assert!(support::eventually(|| stats_of(&running.handle)
        .timers_fired
        >= 3));

    // The loop still serves clients.
    let mut client = connect(running.addr);
    assert_eq!(round_trip(&mut client, b"still alive"), b"still alive");

    // A repeating timer that panicked is cancelled: schedule a marker some
    // intervals later and check the repeating one did not run meanwhile.
    let (tx, rx) = mpsc::channel();
    running.handle.post(move |core| {
        core.call_later(Duration::from_millis(60), move |core| {
            let _ = tx.send(core.state().repeating_calls);
        });
    });
    let calls = rx.recv_timeout(WAIT).expect("marker timer fired");
    assert_eq!(calls, 2, "the panicking repeating timer was cancelled");
    assert_eq!(ask(&running.handle, |core| core.timers_pending()), 0);

    assert_eq!(round_trip(&mut client, b"again"), b"again");
    drop(client);
    let stats = running.stop();
    assert_eq!(stats.timers_fired, 4, "one-shot, 2 repeating, marker");
    assert_eq!(stats.requests, 2);
}

/// Echo for a server whose state is not `()`.
struct Echo2;

impl<S> twig::Protocol<S> for Echo2 {
    fn frame(&mut self, input: &[u8]) -> twig::Frame {
        twig::Frame::Complete(input.len())
    }

    fn reply(&mut self, request: &[u8], ctx: &mut twig::Ctx<'_, S>) -> twig::After {
        ctx.write(request);
        twig::After::KeepOpen
    }
}

#[test]
fn no_busy_wakeups_while_waiting_for_a_timer() {
    let mut server = Server::builder().build(false).unwrap();
    let addr = server.listen("127.0.0.1:0", || Echo2).unwrap();
    // An idle client, too: an open connection must not cause wake-ups either.
    let mut client = connect(addr);
    let start = Instant::now();
    server
        .core()
        .call_later(Duration::from_millis(300), |core| *core.state() = true);

    let mut turns = 0;
    while !*server.core().state() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "timer never fired"
        );
        server.turn(None).expect("turn");
        turns += 1;
    }
    let elapsed = start.elapsed();
    let stats = server.stats().clone();
    assert!(
        elapsed >= Duration::from_millis(300),
        "fired early: {elapsed:?}"
    );
    assert_eq!(stats.accepted, 1);
    // One turn to accept the client, one for the timer; a few spares for
    // spurious wake-ups. A loop spinning on a sub-millisecond rounding of the
    // timeout, or on a readiness it does not clear, would need far more.
    assert!(turns < 10, "{turns} turns in {elapsed:?}");
    assert!(stats.turns < 10, "{} turns", stats.turns);
    assert_eq!(stats.timers_fired, 1);

    // Nothing was sent to the idle client.
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert!(client.read(&mut buf).is_err(), "no bytes, no EOF");
}

/// Echoes, and schedules a zero-delay timer from each reply.
struct EchoThenTimer;

impl twig::Protocol<u32> for EchoThenTimer {
    fn frame(&mut self, input: &[u8]) -> twig::Frame {
        twig::Frame::Complete(input.len())
    }

    fn reply(&mut self, request: &[u8], ctx: &mut twig::Ctx<'_, u32>) -> twig::After {
        ctx.write(request);
        ctx.call_later(Duration::ZERO, |core| *core.state() += 1);
        twig::After::KeepOpen
    }
}

#[test]
fn a_zero_delay_timer_from_a_reply_fires_in_the_same_turn() {
    use std::io::Write;
    let mut server = Server::builder().build(0u32).unwrap();
    let addr = server.listen("127.0.0.1:0", || EchoThenTimer).unwrap();
    let mut client = connect(addr);
    client.write_all(b"x").unwrap();
    let deadline = Instant::now() + WAIT;
    let tick = loop {
        let now = Instant::now();
        assert!(now < deadline, "the request was never answered");
        let tick = server.turn(Some(deadline - now)).expect("turn");
        if tick.requests > 0 {
            break tick;
        }
    };
    assert_eq!(
        tick.timers_fired, 1,
        "the timer was due when scheduled: the same turn fires it"
    );
    assert_eq!(*server.core().state(), 1);
}
