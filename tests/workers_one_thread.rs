//! `workers(1)` starts no thread: the one loop runs on the calling thread.
//! Alone in its own test binary, so no other test's threads are counted.

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;

use std::time::Duration;

use echo_server::Echo;
use twig::Server;

/// Threads of this process now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("Linux's /proc")
        .count()
}

#[test]
fn one_worker_starts_no_thread() {
    let before = threads();
    let mut workers = Server::builder().workers(1).build_workers(|_| ()).unwrap();
    workers.listen("127.0.0.1:0", || Echo).unwrap();
    workers.stop_on_signals().unwrap();
    assert_eq!(threads(), before, "built and set up");
    let (tx, rx) = std::sync::mpsc::channel();
    workers
        .each(move |_, server| {
            let tx = tx.clone();
            server.core().call_later(Duration::ZERO, move |core| {
                let _ = tx.send(threads()); // counted while the loop runs
                core.stop();
            });
        })
        .unwrap();
    let stats = workers.run().unwrap();
    assert_eq!(stats.per_loop.len(), 1);
    assert_eq!(rx.try_recv(), Ok(before), "while running");
    assert_eq!(threads(), before, "after run");
}
