//! Background WAL checkpoints.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
//! writer thread, so every write queued behind that commit waits for the copy. Here the writer
//! only nudges a second connection after each commit; it copies committed pages into the
//! database file (`PASSIVE`: never blocking the writer or readers) at most every
//! [`MIN_INTERVAL`]. When the writer keeps appending, SQLite restarts the log from the start as
//! soon as a checkpoint has caught up; if it never catches up, the writer itself checkpoints
//! once the log passes [`WAL_LIMIT`] bytes.
//!
//! Durability does not depend on this thread: a commit is durable once its log frames are
//! synced, before the writer acknowledges it.

use crate::Error;
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shortest time between two checkpoints: they batch the pages of many commits.
const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// Log size at which the writer checkpoints itself (`RESTART`), so the log stays bounded even
/// if the background checkpoints never catch up.
pub(crate) const WAL_LIMIT: u64 = 1 << 30;

/// Log size SQLite truncates the file back to after a restart: large enough that a busy log is
/// overwritten in place rather than cut and regrown (growing a file allocates blocks on every
/// commit; a fifth of the kernel time of small MLLP commits, perf 2026-11-26).
pub(crate) const WAL_KEEP: i64 = 256 << 20;

/// The checkpoint thread; dropping `wake` stops it.
pub(crate) struct Checkpointer {
    pub(crate) wake: SyncSender<()>,
    pub(crate) thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens a connection to `database` and starts the thread.
    pub(crate) fn start(database: &Path, synchronous_full: bool) -> Result<Checkpointer, Error> {
        let conn = Connection::open(database)?;
        conn.pragma_update(
            None,
            "synchronous",
            if synchronous_full { "FULL" } else { "NORMAL" },
        )?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (wake, nudges) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("medulla-store-checkpoint".into())
            .spawn(move || {
                while nudges.recv().is_ok() {
                    let started = Instant::now();
                    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                    });
                    match result {
                        Ok((log, copied)) => {
                            tracing::trace!(log, copied, "checkpoint");
                        }
                        Err(error) => tracing::warn!(%error, "background checkpoint failed"),
                    }
                    if let Some(rest) = MIN_INTERVAL.checked_sub(started.elapsed()) {
                        std::thread::sleep(rest);
                    }
                }
            })
            .map_err(|source| Error::OpenDirectory {
                path: database.to_owned(),
                source,
            })?;
        Ok(Checkpointer { wake, thread })
    }

    /// Asks for a checkpoint soon (a no-op when one is already pending).
    pub(crate) fn nudge(&self) {
        let _ = self.wake.try_send(());
    }

    /// Stops the thread after its current checkpoint.
    pub(crate) fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}
