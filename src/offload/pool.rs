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
    /// Threads waiting for a task, or started and not yet at the queue:
    /// each will take a task without being busy first.
    idle: usize,
    /// The pool was dropped: threads exit once the queue is empty.
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
    /// room for one. Never blocks beyond taking the queue's lock.
    pub(crate) fn submit(&self, task: Task) -> Result<(), Refused> {
        let mut queue = lock(&self.shared.queue);
        // An idle thread will take it; else a new thread may; else it waits,
        // if the queue has room. (Tasks a woken idle thread is about to take
        // do not count as waiting.)
        let free = queue.idle > queue.tasks.len();
        let can_start = !free && queue.threads < self.max_threads;
        let waiting = queue.tasks.len().saturating_sub(queue.idle);
        if !free && !can_start && waiting >= self.max_queued {
            return Err(Refused::Full);
        }
        if can_start {
            let shared = Arc::clone(&self.shared);
            let n = queue.threads;
            let started = std::thread::Builder::new()
                .name(format!("twig-pool-{n}"))
                .spawn(move || work(&shared));
            match started {
                Ok(_) => {
                    // Detached: it exits when the pool closes. It counts as
                    // idle until it reaches the queue.
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
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.work.notify_all();
    }
}

/// A pool thread: runs tasks until the pool closes and the queue is empty.
fn work(shared: &Shared) {
    lock(&shared.queue).idle -= 1; // started: from now on it counts itself
    loop {
        let task = {
            let mut queue = lock(&shared.queue);
            loop {
                if let Some(task) = queue.tasks.pop_front() {
                    break task;
                }
                if queue.closed {
                    return;
                }
                queue.idle += 1;
                queue = shared
                    .work
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                queue.idle -= 1;
            }
        };
        // Tasks from the loop catch their own panics (to report them to the
        // connection); this is the last line, so the thread survives anyway.
        if catch_unwind(AssertUnwindSafe(task)).is_err() {
            error!("twig: a pool task panicked");
        }
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
