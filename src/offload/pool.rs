//! A bounded pool of threads for blocking work. It knows nothing of the
//! loop: it runs closures, at most `threads` at once, with at most `queue`
//! more waiting. Threads start on demand (none until the first task) and
//! stay until the pool is dropped; a task that panics leaves its thread
//! running.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use log::{error, warn};

/// One piece of blocking work.
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// Why a task was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Every thread is busy and the queue is full.
    Full,
    /// No thread could be started (the OS said no).
    NoThread,
}

/// The threads and their queue (see the module docs).
pub(crate) struct Pool {
    shared: Arc<Shared>,
    max_threads: usize,
    max_queued: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a task is queued or the pool closes.
    work: Condvar,
}

struct Queue {
    tasks: VecDeque<Task>,
    /// Threads started (they never exit before the pool closes).
    threads: usize,
    /// Threads running no task (waiting, or just started): each takes one
    /// queued task without finishing another first.
    idle: usize,
    /// The pool was dropped: queued tasks are discarded, and threads exit
    /// once they finish the task they run.
    closed: bool,
}

impl Pool {
    /// A pool of at most `threads` threads (at least 1) and `queue` waiting
    /// tasks. Starts no thread.
    pub(crate) fn new(threads: usize, queue: usize) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    tasks: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    closed: false,
                }),
                work: Condvar::new(),
            }),
            max_threads: threads.max(1),
            max_queued: queue,
        }
    }

    /// Queues `task`, starting a thread if none is idle and the pool has
    /// room for one. Never blocks beyond taking the queue's lock (a thread
    /// is started under it: rare, at most `threads` times).
    pub(crate) fn submit(&self, task: Task) -> Result<(), Refused> {
        let mut queue = lock(&self.shared.queue);
        // Each idle thread takes one queued task; past them a task waits.
        let free = queue.idle > queue.tasks.len();
        if !free && queue.threads < self.max_threads {
            let shared = Arc::clone(&self.shared);
            let n = queue.threads;
            let started = std::thread::Builder::new()
                .name(format!("twig-pool-{n}"))
                .spawn(move || work(&shared));
            match started {
                Ok(_) => {
                    // Detached: it exits when the pool closes. Idle (no task
                    // yet) from the start, so the task below is its own.
                    queue.threads += 1;
                    queue.idle += 1;
                }
                Err(e) if queue.threads == 0 => {
                    warn!("twig: cannot start a pool thread: {e}");
                    return Err(Refused::NoThread);
                }
                Err(e) => warn!("twig: cannot start another pool thread: {e}"),
            }
        }
        let waiting = queue.tasks.len().saturating_sub(queue.idle);
        if queue.idle <= queue.tasks.len() && waiting >= self.max_queued {
            return Err(Refused::Full);
        }
        queue.tasks.push_back(task);
        drop(queue);
        self.shared.work.notify_one();
        Ok(())
    }

    /// Threads started so far.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        lock(&self.shared.queue).threads
    }
}

impl Drop for Pool {
    /// The loop is gone: jobs not started yet never will be (their results
    /// would have nowhere to go); running ones finish, then their threads
    /// exit.
    fn drop(&mut self) {
        let mut queue = lock(&self.shared.queue);
        queue.closed = true;
        queue.tasks.clear();
        drop(queue);
        self.shared.work.notify_all();
    }
}

/// A pool thread: runs tasks until the pool closes. It counts as idle
/// whenever it runs no task (from its start, which `submit` counted).
fn work(shared: &Shared) {
    loop {
        let task = {
            let mut queue = lock(&shared.queue);
            loop {
                if queue.closed {
                    queue.idle -= 1;
                    return;
                }
                if let Some(task) = queue.tasks.pop_front() {
                    queue.idle -= 1;
                    break task;
                }
                queue = shared
                    .work
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        // Tasks from the loop catch their own panics (to report them to the
        // connection); this is the last line, so the thread survives anyway.
        if catch_unwind(AssertUnwindSafe(task)).is_err() {
            error!("twig: a pool task panicked");
        }
        lock(&shared.queue).idle += 1;
    }
}

/// The queue's lock. A poisoned lock only means a thread panicked while
/// holding it, which no code here does between consistent states.
fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn starts_no_thread_until_used_and_at_most_its_size() {
        let pool = Pool::new(2, 8);
        assert_eq!(pool.threads(), 0);
        let (done, results) = mpsc::channel();
        for i in 0..6 {
            let done = done.clone();
            pool.submit(Box::new(move || done.send(i).unwrap_or(())))
                .expect("room");
        }
        let mut got: Vec<i32> = (0..6).map(|_| results.recv().unwrap_or(-1)).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        assert!(pool.threads() <= 2, "{} threads", pool.threads());
    }

    #[test]
    fn a_full_queue_refuses_and_a_panicking_task_spares_its_thread() {
        let pool = Pool::new(1, 1);
        let (release, gate) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel();
        pool.submit(Box::new(move || {
            started.send(()).unwrap_or(());
            gate.recv().unwrap_or(());
            panic!("task panics on purpose");
        }))
        .expect("the first task starts a thread");
        running.recv().expect("the task runs");
        let (done, finished) = mpsc::channel();
        pool.submit(Box::new(move || done.send(7).unwrap_or(())))
            .expect("one may wait");
        assert_eq!(pool.submit(Box::new(|| {})), Err(Refused::Full));
        release.send(()).expect("release the first");
        assert_eq!(
            finished.recv().ok(),
            Some(7),
            "the thread survived the panic"
        );
        assert_eq!(pool.threads(), 1);
    }
}
