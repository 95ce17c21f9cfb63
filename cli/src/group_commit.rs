//! Group commit: callers that want something made durable while another caller is already
//! writing queue up, and the next write takes everything queued as one batch, so that N
//! concurrent callers pay for far fewer than N durable writes.
//!
//! There is no writer thread. Whoever submits while no write is in progress becomes the
//! leader: it takes the whole queue (its own items included, in arrival order), writes it
//! without holding the queue's lock, publishes the outcome under the batch's number and wakes
//! everyone. A caller returns once the batch holding its items is written, with that batch's
//! outcome; a caller whose batch has not been taken yet when no one is leading leads the next
//! one. Waiting is a plain blocking wait on a condition variable: the leader needs nothing from
//! the waiting threads (or from an async runtime they may belong to) to finish its write.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The queue of one durable log and the outcomes of its recent batches.
pub struct GroupCommit<T> {
    queue: Mutex<Queue<T>>,
    /// Signalled whenever a batch's outcome is published.
    published: Condvar,
}

struct Queue<T> {
    /// One entry per caller waiting for the next batch, in arrival order.
    waiting: Vec<T>,
    /// The number of the batch `waiting` will become.
    next_batch: u64,
    /// Whether a leader is writing a batch now.
    leading: bool,
    /// Outcomes of written batches whose callers have not all collected them yet:
    /// the outcome and how many callers are still to collect it.
    outcomes: HashMap<u64, (Result<(), String>, usize)>,
}

impl<T> Queue<T> {
    /// Take this batch's outcome, once it is published.
    fn collect(&mut self, batch: u64) -> Option<Result<(), String>> {
        let (outcome, left) = self.outcomes.get_mut(&batch)?;
        *left -= 1;
        let outcome = outcome.clone();
        if *left == 0 {
            self.outcomes.remove(&batch);
        }
        Some(outcome)
    }
}

impl<T> Default for GroupCommit<T> {
    fn default() -> Self {
        GroupCommit {
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                next_batch: 0,
                leading: false,
                outcomes: HashMap::new(),
            }),
            published: Condvar::new(),
        }
    }
}

impl<T> GroupCommit<T> {
    /// Queue `item` and return once the batch holding it has been written, with that batch's
    /// outcome. `write` is called (by this caller or another) with every item of a batch in
    /// arrival order; only the leader's `write` runs, so every caller must pass the same logic.
    pub fn submit(
        &self,
        item: T,
        write: impl FnOnce(Vec<T>) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut queue = self.lock();
        let batch = queue.next_batch;
        queue.waiting.push(item);
        loop {
            if let Some(outcome) = queue.collect(batch) {
                return outcome;
            }
            if !queue.leading {
                // Nobody is writing and our batch is not written: it is still the waiting one.
                return self.lead(queue, batch, write);
            }
            queue = self
                .published
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Write the waiting batch (numbered `batch`) and publish its outcome.
    fn lead(
        &self,
        mut queue: MutexGuard<'_, Queue<T>>,
        batch: u64,
        write: impl FnOnce(Vec<T>) -> Result<(), String>,
    ) -> Result<(), String> {
        let items = std::mem::take(&mut queue.waiting);
        let callers = items.len();
        queue.next_batch += 1;
        queue.leading = true;
        drop(queue);
        let mut unfinished = Unfinished {
            owner: self,
            batch,
            others: callers - 1,
            armed: true,
        };
        let outcome = write(items);
        unfinished.armed = false;
        // The leader keeps its own copy; the other callers collect theirs.
        self.publish(batch, callers - 1, outcome.clone());
        outcome
    }

    /// Leave a batch's outcome for `callers` more callers to collect, end the leadership and
    /// wake the waiters.
    fn publish(&self, batch: u64, callers: usize, outcome: Result<(), String>) {
        let mut queue = self.lock();
        if callers > 0 {
            queue.outcomes.insert(batch, (outcome, callers));
        }
        queue.leading = false;
        drop(queue);
        self.published.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // The queue is consistent whenever the lock is released: a panic elsewhere is no reason
        // to stop writing state.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many callers are waiting for the next batch (tests wait for them to queue).
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

/// Publishes a failure for a batch whose write panicked, so that its other callers do not wait
/// forever and a new leader can take over.
struct Unfinished<'a, T> {
    owner: &'a GroupCommit<T>,
    batch: u64,
    /// The batch's callers other than the leader.
    others: usize,
    armed: bool,
}

impl<T> Drop for Unfinished<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            let message = "the state writer failed unexpectedly (panic)".to_string();
            self.owner.publish(self.batch, self.others, Err(message));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;

    /// Blocks the first write until released, and records every batch written.
    #[derive(Default)]
    struct Log {
        batches: Mutex<Vec<Vec<u32>>>,
        gate: Mutex<bool>,
        opened: Condvar,
        blocking: AtomicBool,
    }

    impl Log {
        fn write(&self, items: Vec<u32>) -> Result<(), String> {
            if self.blocking.swap(false, Ordering::SeqCst) {
                let mut open = self.gate.lock().expect("gate");
                while !*open {
                    open = self.opened.wait(open).expect("gate");
                }
            }
            let failed = items.contains(&13);
            self.batches.lock().expect("batches").push(items);
            if failed {
                return Err("unlucky batch".to_string());
            }
            Ok(())
        }

        fn open(&self) {
            *self.gate.lock().expect("gate") = true;
            self.opened.notify_all();
        }
    }

    /// Poll until `done`; the deadline only turns a broken queue into a failure, not a hang.
    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(Instant::now() < deadline, "gave up waiting: {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// The batches written, and what each caller got back.
    struct Grouped {
        batches: Vec<Vec<u32>>,
        results: Vec<(u32, Result<(), String>)>,
    }

    /// Submit 0 and hold its write; submit `items` from other threads; release the write.
    fn run_grouped(items: Vec<u32>) -> Grouped {
        let commit = Arc::new(GroupCommit::default());
        let log = Arc::new(Log::default());
        log.blocking.store(true, Ordering::SeqCst);
        let first = {
            let (commit, log) = (commit.clone(), log.clone());
            thread::spawn(move || commit.submit(0, |b| log.write(b)))
        };
        // The first caller leads and blocks in its write; it took only its own item.
        wait_until("the first write starts", || {
            !log.blocking.load(Ordering::SeqCst)
        });
        let others: Vec<_> = items
            .iter()
            .map(|&item| {
                let (commit, log) = (commit.clone(), log.clone());
                thread::spawn(move || (item, commit.submit(item, |b| log.write(b))))
            })
            .collect();
        wait_until("the others queue", || commit.waiting() == items.len());
        log.open();
        assert_eq!(first.join().expect("join"), Ok(()));
        let results = others
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect();
        let batches = log.batches.lock().expect("batches").clone();
        Grouped { batches, results }
    }

    #[test]
    fn callers_queued_behind_a_write_share_the_next_one() {
        let Grouped { batches, results } = run_grouped((1..=8).collect());
        assert_eq!(batches.len(), 2, "{batches:?}");
        assert_eq!(batches[0], [0]);
        let mut second = batches[1].clone();
        second.sort_unstable();
        assert_eq!(second, (1..=8).collect::<Vec<_>>());
        assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
    }

    #[test]
    fn every_caller_of_a_failed_batch_gets_its_error() {
        let Grouped { batches, results } = run_grouped(vec![5, 13, 7]);
        assert_eq!(batches.len(), 2);
        for (item, result) in results {
            assert_eq!(result, Err("unlucky batch".to_string()), "item {item}");
        }
    }

    #[test]
    fn a_lone_caller_writes_its_own_batch_each_time() {
        let commit = GroupCommit::default();
        let log = Log::default();
        for i in 0..5 {
            commit.submit(i, |b| log.write(b)).expect("write");
        }
        assert_eq!(
            *log.batches.lock().expect("batches"),
            [[0], [1], [2], [3], [4]]
        );
        assert_eq!(commit.lock().outcomes.len(), 0, "outcomes are collected");
    }

    #[test]
    fn a_panicking_write_fails_its_batch_and_the_queue_goes_on() {
        let commit = GroupCommit::default();
        let panicked = thread::scope(|s| {
            s.spawn(|| commit.submit(1, |_| panic!("writer bug")))
                .join()
                .is_err()
        });
        assert!(panicked);
        assert!(!commit.lock().leading);
        assert_eq!(commit.submit(2, |_| Ok(())), Ok(()));
        assert_eq!(commit.lock().outcomes.len(), 0, "outcomes are collected");
    }
}
