//! Login throttling: after a few failures for one user name or one address, further attempts
//! are refused for a time that doubles with each failure (up to 15 minutes), whether or not
//! the password is right.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before attempts are refused.
const FREE_FAILURES: u32 = 5;
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// How long attempts for `key` must still wait (zero: go ahead).
    pub(crate) fn wait_for(&self, key: &str) -> Duration {
        let Ok(failures) = self.failures.lock() else {
            return Duration::ZERO;
        };
        match failures.get(key) {
            Some(&(count, last)) if count >= FREE_FAILURES => {
                let lock = Duration::from_secs(1 << (count - FREE_FAILURES).min(10)).min(MAX_LOCK);
                lock.saturating_sub(last.elapsed())
            }
            _ => Duration::ZERO,
        }
    }

    pub(crate) fn failed(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() > 100_000 {
                failures.retain(|_, (_, last)| last.elapsed() < MAX_LOCK);
            }
            let entry = failures
                .entry(key.to_owned())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    pub(crate) fn succeeded(&self, key: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(key);
        }
    }
}
