//! What the journal thread hands to the ledger thread, and how readers wait for the ledger.
//!
//! Two sequence numbers describe the pipeline: `acked`, the newest record durable in the journal
//! (its caller has been answered), and `applied`, the newest record committed to the ledger.
//! Readers wait until `applied` reaches the `acked` they saw when they were called, so a caller
//! that was answered always finds its record.
//!
//! Lock order: `progress` may be held while taking `inbox`, never the other way round.

use crate::{AuditRecord, Error};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A record durable in the journal, on its way to the ledger.
#[derive(Debug)]
pub(crate) struct Durable {
    pub(crate) seq: u64,
    pub(crate) record: AuditRecord,
}

/// A journal segment the journal thread no longer writes: it can be deleted once the ledger is
/// durable through `last_seq` (0 when it holds no records).
#[derive(Debug)]
pub(crate) struct Retired {
    pub(crate) path: PathBuf,
    pub(crate) last_seq: u64,
}

/// What waits for the ledger thread.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// Durable records in sequence order.
    pub(crate) records: Vec<Durable>,
    pub(crate) retired: Vec<Retired>,
    /// A reader waits for the records: commit without waiting for the interval.
    pub(crate) flush_wanted: bool,
    /// The journal thread has stopped: commit everything and finish.
    pub(crate) closing: bool,
}

#[derive(Debug)]
struct Progress {
    applied: u64,
    /// Commit attempts so far, so that a waiter can tell a failure that happened after it
    /// started waiting from an older one.
    attempts: u64,
    /// The newest attempt's error, if it failed.
    failure: Option<String>,
    /// The ledger thread has finished.
    stopped: bool,
}

/// The state shared by [`crate::AuditLog`], the journal thread and the ledger thread.
#[derive(Debug)]
pub(crate) struct Handoff {
    acked: AtomicU64,
    applied: AtomicU64,
    inbox: Mutex<Inbox>,
    inbox_changed: Condvar,
    progress: Mutex<Progress>,
    progress_changed: Condvar,
}

impl Handoff {
    /// The ledger holds every record up to `seq` and nothing is in flight.
    pub(crate) fn new(seq: u64) -> Handoff {
        Handoff {
            acked: AtomicU64::new(seq),
            applied: AtomicU64::new(seq),
            inbox: Mutex::new(Inbox::default()),
            inbox_changed: Condvar::new(),
            progress: Mutex::new(Progress {
                applied: seq,
                attempts: 0,
                failure: None,
                stopped: false,
            }),
            progress_changed: Condvar::new(),
        }
    }

    /// The newest acknowledged record.
    pub(crate) fn acked(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    /// Journal thread: hands over a synced batch (ending at `last_seq`) before its callers are
    /// answered. Wakes the ledger thread only when the inbox was empty or has just reached
    /// `wake_at` records, so that a busy ledger thread is not woken once per batch.
    pub(crate) fn deliver(&self, records: Vec<Durable>, last_seq: u64, wake_at: usize) {
        let mut inbox = lock(&self.inbox);
        let before = inbox.records.len();
        inbox.records.extend(records);
        // Inside the lock: whoever sees this number finds the records in the inbox or beyond.
        self.acked.store(last_seq, Ordering::Release);
        let after = inbox.records.len();
        drop(inbox);
        if before == 0 || (before < wake_at && after >= wake_at) {
            self.inbox_changed.notify_one();
        }
    }

    /// Journal thread: a segment to delete once the ledger is durable through its records.
    pub(crate) fn retire(&self, retired: Retired) {
        lock(&self.inbox).retired.push(retired);
    }

    /// Tells the ledger thread to commit everything and finish.
    pub(crate) fn close_inbox(&self) {
        lock(&self.inbox).closing = true;
        self.inbox_changed.notify_one();
    }

    fn request_flush(&self) {
        lock(&self.inbox).flush_wanted = true;
        self.inbox_changed.notify_one();
    }

    /// Ledger thread: the inbox, locked.
    pub(crate) fn inbox(&self) -> MutexGuard<'_, Inbox> {
        lock(&self.inbox)
    }

    /// Ledger thread: waits for a change to the inbox, at most `timeout` when given.
    pub(crate) fn wait_inbox<'a>(
        &self,
        inbox: MutexGuard<'a, Inbox>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Inbox> {
        match timeout {
            Some(timeout) => {
                self.inbox_changed
                    .wait_timeout(inbox, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => self
                .inbox_changed
                .wait(inbox)
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Ledger thread: the outcome of one commit attempt; the ledger now ends at `applied`.
    pub(crate) fn publish(&self, applied: u64, failure: Option<String>) {
        let mut progress = lock(&self.progress);
        progress.applied = applied;
        progress.attempts += 1;
        progress.failure = failure;
        self.applied.store(applied, Ordering::Release);
        drop(progress);
        self.progress_changed.notify_all();
    }

    /// Ledger thread: it has finished (or died); nobody should wait for it any more.
    pub(crate) fn stop(&self) {
        lock(&self.progress).stopped = true;
        self.progress_changed.notify_all();
    }

    /// Waits until the ledger holds every record up to `target`.
    ///
    /// # Errors
    /// [`Error::CommitFailed`] when a ledger commit attempted after this call began failed (the
    /// records stay in the journal and are retried); [`Error::WriterStopped`] when the ledger
    /// thread has finished without reaching `target`.
    pub(crate) fn wait_until_applied(&self, target: u64) -> Result<(), Error> {
        if self.applied.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let attempts = lock(&self.progress).attempts;
        self.request_flush();
        let mut progress = lock(&self.progress);
        loop {
            if progress.applied >= target {
                return Ok(());
            }
            if progress.stopped {
                return Err(Error::WriterStopped);
            }
            if progress.attempts > attempts
                && let Some(failure) = &progress.failure
            {
                return Err(Error::CommitFailed(failure.clone()));
            }
            progress = self
                .progress_changed
                .wait(progress)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Locks `mutex`, carrying on if another thread panicked while holding it: every critical
/// section here leaves the data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn waiting_returns_at_once_when_the_ledger_is_caught_up() {
        let handoff = Handoff::new(5);
        assert_eq!(handoff.acked(), 5);
        assert!(handoff.wait_until_applied(5).is_ok());
    }

    #[test]
    fn a_waiter_asks_for_a_flush_and_sees_progress_failure_and_stop() {
        let handoff = Arc::new(Handoff::new(0));
        handoff.deliver(Vec::new(), 3, 10);
        assert_eq!(handoff.acked(), 3);
        let waiter = {
            let handoff = Arc::clone(&handoff);
            std::thread::spawn(move || handoff.wait_until_applied(3))
        };
        // The waiter's flush request reaches the inbox.
        let mut inbox = handoff.inbox();
        while !inbox.flush_wanted {
            inbox = handoff.wait_inbox(inbox, Some(Duration::from_millis(10)));
        }
        inbox.flush_wanted = false;
        drop(inbox);
        handoff.publish(2, None);
        handoff.publish(2, Some("disk on fire".into()));
        let outcome = waiter.join().expect("waiter finished");
        assert!(
            matches!(&outcome, Err(Error::CommitFailed(message)) if message == "disk on fire"),
            "{outcome:?}"
        );
        handoff.publish(3, None);
        assert!(handoff.wait_until_applied(3).is_ok());
        handoff.deliver(Vec::new(), 4, 10);
        handoff.stop();
        assert!(matches!(
            handoff.wait_until_applied(4),
            Err(Error::WriterStopped)
        ));
    }
}
