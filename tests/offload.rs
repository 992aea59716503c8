//! Offloading blocking work to the pool (`Ctx::offload`,
//! `Response::offload`, `Core::offload_detached`), over real sockets on
//! 127.0.0.1, against the example app (`examples/work_server.rs`) in process
//! and as a process: concurrency, the bounded queue's 503, results for
//! closed connections, panics, order, graceful stop, and no thread unless
//! used.

mod http_client;
mod support;

#[path = "../examples/work_server.rs"]
#[allow(dead_code)]
mod work_server;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use http_client::Conn;
use support::process::{Proc, assert_clean_exit};
use support::{Running, WAIT, ask, start_with, stats_of};
use twig::http::Http;
use twig::{After, Builder, CloseReason, Ctx, Frame, OffloadError, Protocol, Server, framing};

fn serve(builder: Builder) -> Running<()> {
    let app = work_server::router();
    start_with(builder, (), move || Http::new(app.clone()), |_| {})
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

#[test]
fn eight_blocking_requests_run_at_once_while_the_loop_keeps_answering() {
    let server = serve(Server::builder().offload_threads(8));
    let started = Instant::now();
    let mut blocked: Vec<Conn> = (0..8).map(|_| Conn::open(server.addr)).collect();
    for conn in &mut blocked {
        conn.send(&get("/block?ms=500"));
    }
    assert!(support::eventually(
        || stats_of(&server.handle).offloaded == 8
    ));
    // While all eight sleep on the pool, `/` is answered at once.
    let mut quick = Conn::open(server.addr);
    for _ in 0..5 {
        let asked = Instant::now();
        let reply = quick.send(&get("/")).reply();
        assert_eq!((reply.status, reply.text()), (200, "Yes".into()));
        let took = asked.elapsed();
        assert!(took < Duration::from_millis(50), "`/` took {took:?}");
    }
    assert_eq!(stats_of(&server.handle).offloaded, 8, "none finished yet");
    for conn in &mut blocked {
        let reply = conn.reply();
        assert_eq!((reply.status, reply.text()), (200, "slept 500 ms\n".into()));
    }
    let all = started.elapsed();
    assert!(all < Duration::from_millis(1500), "8 × 500 ms took {all:?}");
}

#[test]
fn a_full_pool_answers_503_at_once_not_a_hang() {
    let server = serve(Server::builder().offload_threads(1).offload_queue(1));
    let mut running = Conn::open(server.addr);
    running.send(&get("/block?ms=300"));
    let mut waiting = Conn::open(server.addr);
    waiting.send(&get("/block?ms=300"));
    assert!(support::eventually(
        || stats_of(&server.handle).offloaded == 2
    ));
    let mut refused = Conn::open(server.addr);
    let reply = refused.send(&get("/block?ms=300")).reply();
    assert_eq!(reply.status, 503, "{}", reply.head);
    assert!(reply.text().contains("full"), "{}", reply.text());
    assert_eq!(stats_of(&server.handle).offload_refused, 1);
    // The two taken are answered, one after the other.
    for conn in [&mut running, &mut waiting] {
        assert_eq!(conn.reply().text(), "slept 300 ms\n");
    }
    // And the refused connection is still served.
    assert_eq!(refused.send(&get("/")).reply().text(), "Yes");
}

#[test]
fn bad_numbers_get_400_not_a_panic() {
    let server = serve(Server::builder());
    let mut conn = Conn::open(server.addr);
    for path in [
        "/block?ms=-5",
        "/block?ms=99999999999999999999",
        "/block?ms=10001",
        "/block?ms=ten",
        "/block",
        "/cpu?us=-1",
        "/cpu?us=1000001",
        "/cpu?us=1e3",
        "/cpu?x=1",
    ] {
        let reply = conn.send(&get(path)).reply();
        assert_eq!(reply.status, 400, "{path}: {}", reply.head);
        assert!(reply.text().contains("whole number"), "{path}");
    }
    let reply = conn.send(&get("/cpu?us=200")).reply();
    assert_eq!(
        (reply.status, reply.text()),
        (200, "computed for 200 us\n".into())
    );
    assert_eq!(stats_of(&server.handle).closed(CloseReason::Panic), 0);
}

#[test]
fn a_client_that_resets_while_its_job_runs_is_closed_and_the_result_dropped() {
    let server = serve(Server::builder());
    let mut gone = support::connect(server.addr);
    std::io::Write::write_all(&mut gone, &get("/block?ms=300")).unwrap();
    assert!(support::eventually(
        || stats_of(&server.handle).offloaded == 1
    ));
    // The client leaves with a reset (SO_LINGER 0) while its job sleeps:
    // the server notices at once, not when the result is back.
    socket2::SockRef::from(&gone)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(gone);
    assert!(support::eventually(|| stats_of(&server.handle)
        .closed(CloseReason::Reset)
        == 1));
    assert_eq!(stats_of(&server.handle).active, 0);
    assert!(support::eventually(|| stats_of(&server.handle)
        .results_dropped
        == 1));
    let mut next = Conn::open(server.addr);
    assert_eq!(
        next.send(&get("/block?ms=1")).reply().text(),
        "slept 1 ms\n"
    );
}

#[test]
fn a_connection_timed_out_while_its_job_runs_drops_the_result() {
    let idle = Some(Duration::from_millis(100));
    let server = serve(Server::builder().idle_timeout(idle));
    let mut conn = Conn::open(server.addr);
    conn.send(&get("/block?ms=400"));
    assert!(conn.is_closed(), "closed by the idle timeout");
    assert!(support::eventually(|| stats_of(&server.handle)
        .results_dropped
        == 1));
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 1);
}

#[test]
fn a_client_that_half_closes_while_its_job_runs_still_gets_its_answer() {
    let server = serve(Server::builder());
    let mut conn = Conn::open(server.addr);
    conn.send(&get("/block?ms=200"));
    assert!(support::eventually(
        || stats_of(&server.handle).offloaded == 1
    ));
    conn.finish(); // shutdown(Write): EOF while the job sleeps
    let reply = conn.reply();
    assert_eq!(reply.text(), "slept 200 ms\n");
    assert!(
        conn.is_closed(),
        "closed after the answer (the peer sent EOF)"
    );
}

#[test]
fn a_pipelined_pair_is_answered_in_order_when_the_first_is_offloaded() {
    let server = serve(Server::builder());
    let mut conn = Conn::open(server.addr);
    let mut pair = get("/block?ms=100");
    pair.extend_from_slice(&get("/"));
    pair.extend_from_slice(&get("/block?ms=1"));
    pair.extend_from_slice(&get("/cpu?us=1"));
    conn.send(&pair);
    let texts: Vec<String> = (0..4).map(|_| conn.reply().text()).collect();
    assert_eq!(
        texts,
        [
            "slept 100 ms\n",
            "Yes",
            "slept 1 ms\n",
            "computed for 1 us\n"
        ]
    );
}

/// Lines: `panic` panics on the pool, `close` asks for a close after its
/// result, `progress` sends a note through a `Handle` from the job first;
/// every line comes back upper-cased from the pool.
struct Shout;

impl<S: 'static> Protocol<S> for Shout {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx<S>) -> After {
        let line = line.to_vec();
        let (handle, me) = (ctx.handle(), ctx.id());
        let job = move || {
            if line.starts_with(b"panic") {
                panic!("a job panics on purpose");
            }
            if line.starts_with(b"progress") {
                handle.send(me, b"working\n".to_vec()); // a Handle works from a job
            }
            line.to_ascii_uppercase()
        };
        let offloaded = ctx.offload(job, |upper, ctx| {
            ctx.write(&upper);
            if upper.starts_with(b"CLOSE") {
                let id = ctx.id();
                ctx.close(id);
            }
        });
        if let Err(e) = offloaded {
            ctx.write(format!("ERR {e}\n").as_bytes());
        }
        After::KeepOpen
    }
}

#[test]
fn a_panicking_job_closes_only_its_connection_and_the_pool_survives() {
    let server = start_with(Server::builder().offload_threads(1), (), || Shout, |_| {});
    let mut bystander = support::connect(server.addr);
    assert_eq!(support::round_trip(&mut bystander, b"hi\n"), b"HI\n");
    let mut victim = support::connect(server.addr);
    std::io::Write::write_all(&mut victim, b"panic\n").unwrap();
    assert!(support::is_closed_by_peer(&mut victim));
    assert!(support::eventually(|| {
        stats_of(&server.handle).closed(CloseReason::JobPanic) == 1
    }));
    // The one pool thread survived: it still runs jobs.
    assert_eq!(support::round_trip(&mut bystander, b"still\n"), b"STILL\n");
    std::io::Write::write_all(&mut bystander, b"progress\n").unwrap();
    let progress = support::read_exact(&mut bystander, 17);
    assert_eq!(
        progress, b"working\nPROGRESS\n",
        "the job's note comes first"
    );
    assert_eq!(support::round_trip(&mut bystander, b"close\n"), b"CLOSE\n");
    assert!(support::is_closed_by_peer(&mut bystander));
}

#[test]
fn a_detached_job_hands_its_result_to_the_core_and_a_stop_waits_for_it() {
    let server = start_with(Server::builder(), 0u64, || Shout, |_| {});
    let (told, heard) = mpsc::channel();
    let queued = ask(&server.handle, move |core| {
        let offloaded = core.offload_detached(
            || {
                std::thread::sleep(Duration::from_millis(100));
                41
            },
            move |n, core| {
                *core.state() = n + 1;
                let _ = told.send(*core.state());
            },
        );
        core.stop(); // the graceful stop waits for the job
        offloaded
    });
    assert_eq!(queued, Ok(()));
    assert_eq!(heard.recv_timeout(WAIT).ok(), Some(42));
    let stats = server.stop();
    assert_eq!((stats.offloaded, stats.results_dropped), (1, 0));
}

#[test]
fn offloading_from_a_connection_already_waiting_says_so() {
    struct Twice;
    impl Protocol for Twice {
        fn frame(&mut self, input: &[u8]) -> Frame {
            framing::line(input)
        }
        fn reply(&mut self, _line: &[u8], ctx: &mut Ctx) -> After {
            let first = ctx.offload(|| (), |(), ctx| ctx.write(b"first\n"));
            let second = ctx.offload(|| (), |(), ctx| ctx.write(b"second\n"));
            assert_eq!((first, second), (Ok(()), Err(OffloadError::NotAnswering)));
            After::KeepOpen
        }
    }
    let server = start_with(Server::builder(), (), || Twice, |_| {});
    let mut conn = support::connect(server.addr);
    std::io::Write::write_all(&mut conn, b"go\n").unwrap();
    assert_eq!(support::read_exact(&mut conn, 6), b"first\n");
    assert_eq!(stats_of(&server.handle).closed(CloseReason::Panic), 0);
}

/// Threads of process `pid` (Linux: one entry per thread in /proc).
fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

#[test]
fn no_pool_thread_starts_until_work_is_offloaded() {
    let mut proc = Proc::spawn_args("work_server", &["127.0.0.1:0", "--pool", "2"], &[]);
    let addr = proc.bound_addr("serving work on ");
    let mut conn = Conn::open(addr);
    assert_eq!(conn.send(&get("/")).reply().text(), "Yes");
    assert_eq!(conn.send(&get("/cpu?us=10")).reply().status, 200);
    assert_eq!(threads_of(proc.pid()), 1, "only the loop thread");
    assert_eq!(conn.send(&get("/block?ms=1")).reply().status, 200);
    assert_eq!(threads_of(proc.pid()), 2, "the loop and one pool thread");
    drop(conn); // else the stop lingers for its FIN
    proc.signal("TERM");
    assert_clean_exit(proc);
}

#[test]
fn sigterm_while_jobs_run_sends_their_replies_then_exits_cleanly() {
    let mut proc = Proc::spawn_args("work_server", &["127.0.0.1:0"], &[]);
    let addr = proc.bound_addr("serving work on ");
    let mut conns: Vec<Conn> = (0..3).map(|_| Conn::open(addr)).collect();
    for conn in &mut conns {
        conn.send(&get("/block?ms=300"));
    }
    // The `/` reply proves the three earlier requests were read (one loop).
    let mut probe = Conn::open(addr);
    assert_eq!(probe.send(&get("/")).reply().text(), "Yes");
    proc.signal("TERM");
    for conn in &mut conns {
        let reply = conn.reply();
        assert_eq!((reply.status, reply.text()), (200, "slept 300 ms\n".into()));
        assert!(reply.closes(), "stopping: {}", reply.head);
    }
    drop((conns, probe)); // else the stop lingers for their FINs
    let summary = assert_clean_exit(proc);
    assert!(summary.contains("requests 4"), "{summary}");
}

/// Lines, each answered from the pool: `pause` pauses reading from its
/// result's callback, `twice` offloads again from it, `close` closes the
/// connection right after offloading (so its result has nowhere to go).
struct Steps;

impl Protocol for Steps {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }
    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        let id = ctx.id();
        let result = match line {
            b"pause\n" => ctx.offload(
                || (),
                move |(), ctx| {
                    ctx.write(b"paused\n");
                    ctx.pause_reading(id);
                },
            ),
            b"twice\n" => ctx.offload(
                || "one",
                |one, ctx| {
                    ctx.write(one.as_bytes());
                    let again = ctx.offload(|| " two\n", |two, ctx| ctx.write(two.as_bytes()));
                    assert_eq!(again, Ok(()), "a result's callback may offload anew");
                },
            ),
            b"close\n" => {
                let offloaded = ctx.offload(
                    || std::thread::sleep(Duration::from_millis(50)),
                    |(), _| panic!("called for a closing connection"),
                );
                ctx.close(id);
                offloaded
            }
            _ => {
                ctx.write(line);
                Ok(())
            }
        };
        if let Err(e) = result {
            ctx.write(format!("ERR {e}\n").as_bytes());
        }
        After::KeepOpen
    }
}

#[test]
fn a_pause_from_a_results_callback_holds_the_requests_behind_it() {
    let server = start_with(Server::builder(), (), || Steps, |_| {});
    let mut conn = support::connect(server.addr);
    std::io::Write::write_all(&mut conn, b"pause\nafter\n").unwrap();
    assert_eq!(support::read_exact(&mut conn, 7), b"paused\n");
    // A turn after the result's: `after` is still unanswered, held by the pause.
    assert_eq!(stats_of(&server.handle).requests, 1);
    let me = ask(&server.handle, |core| core.connections().next());
    let resumed = ask(&server.handle, move |core| {
        me.is_some_and(|id| core.resume_reading(id))
    });
    assert!(resumed);
    assert_eq!(support::read_exact(&mut conn, 6), b"after\n");
}

#[test]
fn a_results_callback_may_offload_again() {
    let server = start_with(Server::builder(), (), || Steps, |_| {});
    let mut conn = support::connect(server.addr);
    std::io::Write::write_all(&mut conn, b"twice\nnext\n").unwrap();
    assert_eq!(support::read_exact(&mut conn, 13), b"one two\nnext\n");
}

#[test]
fn a_result_for_a_connection_closing_meanwhile_is_dropped_not_handed_over() {
    let server = start_with(Server::builder(), (), || Steps, |_| {});
    let mut conn = support::connect(server.addr);
    std::io::Write::write_all(&mut conn, b"close\n").unwrap();
    assert!(support::is_closed_by_peer(&mut conn));
    assert!(support::eventually(|| stats_of(&server.handle)
        .results_dropped
        == 1));
    assert_eq!(stats_of(&server.handle).closed(CloseReason::Panic), 0);
}
