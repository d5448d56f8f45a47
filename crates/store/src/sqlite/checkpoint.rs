//! Background WAL checkpoints.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
//! writer thread, so every write queued behind that commit waits for the copy. Here the writer
//! only nudges a second connection after each commit; it copies committed pages into the
//! database file (`PASSIVE`: never blocking the writer or readers) at most every
//! [`MIN_INTERVAL`]. SQLite restarts the log from its start (overwriting the file in place)
//! only once a checkpoint has copied every frame, which a checkpoint running beside a busy
//! writer never does: the log then grew by every commit until [`WAL_LIMIT`] (a 1 GiB file whose
//! growth allocates blocks on every commit, and whose wal-index every page lookup walks). So
//! after copying, the thread repeats short passes over the frames appended meanwhile until few
//! are left, then tells the writer ([`Checkpointer::take_caught_up`]), which copies that short
//! tail itself between two batches, when no commit can add to it; its next transaction then
//! starts the log over. If the background checkpoints never catch up, the writer checkpoints
//! everything once the log passes [`WAL_LIMIT`] bytes.
//!
//! Durability does not depend on this thread: a commit is durable once its log frames are
//! synced, before the writer acknowledges it.

use crate::Error;
use rusqlite::Connection;
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
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

/// Background passes repeat until one copies at most this many frames beyond the previous one
/// (so little was appended while it ran).
const PASS_TAIL_FRAMES: i64 = 512;

/// Frames the writer copies itself at most: a few commits' worth, a millisecond or two.
const TAIL_FRAMES: i64 = 1024;

/// Background passes per nudge at most; each copies what was appended while the previous ran.
const MAX_PASSES: usize = 4;

/// The checkpoint thread; dropping `wake` stops it.
pub(crate) struct Checkpointer {
    pub(crate) wake: SyncSender<()>,
    pub(crate) thread: JoinHandle<()>,
    /// How far (in frames of the current log) the newest background checkpoint that left at
    /// most [`PASS_TAIL_FRAMES`] frames has copied; -1 when none has since the writer took it.
    caught_up: Arc<AtomicI64>,
}

thread_local! {
    /// Frames in the log after the writer's newest commit, set by [`count_frames`] (the hook
    /// runs on the committing thread, and only the writer's connection has it).
    static LOG_FRAMES: Cell<i64> = const { Cell::new(0) };
}

/// The writer connection's WAL hook: remembers the log's length after each commit.
pub(crate) fn count_frames(
    _: &rusqlite::hooks::Wal,
    frames: std::ffi::c_int,
) -> rusqlite::Result<()> {
    LOG_FRAMES.with(|log| log.set(i64::from(frames)));
    Ok(())
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
        let caught_up = Arc::new(AtomicI64::new(-1));
        let signal = caught_up.clone();
        let thread = std::thread::Builder::new()
            .name("medulla-store-checkpoint".into())
            .spawn(move || {
                while nudges.recv().is_ok() {
                    let started = Instant::now();
                    let mut previous: Option<i64> = None;
                    for _ in 0..MAX_PASSES {
                        match passive_checkpoint(&conn) {
                            Ok((log, copied)) => {
                                tracing::trace!(log, copied, "checkpoint");
                                // What this pass copied beyond the previous one was appended
                                // while that one ran (less than nothing: the log started over).
                                let fresh = previous.map_or(i64::MAX, |before| copied - before);
                                previous = Some(copied);
                                if log - copied <= PASS_TAIL_FRAMES && fresh <= PASS_TAIL_FRAMES {
                                    signal.store(copied, Ordering::Release);
                                    break;
                                }
                            }
                            Err(error) => {
                                tracing::warn!(%error, "background checkpoint failed");
                                break;
                            }
                        }
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
        Ok(Checkpointer {
            wake,
            thread,
            caught_up,
        })
    }

    /// Whether the writer, between two batches, should copy the log's tail itself (see
    /// [`passive_checkpoint`]) so that its next transaction can start the log over: a
    /// background checkpoint has caught up to within [`TAIL_FRAMES`] frames of the log as the
    /// writer's newest commit left it. A longer tail (a big batch committed meanwhile) waits
    /// for the next background checkpoint rather than stall the writer.
    pub(crate) fn take_caught_up(&self) -> bool {
        let copied = self.caught_up.load(Ordering::Acquire);
        // Frames of a log that has started over since are fewer than `copied`: a short tail.
        let is_short = copied >= 0 && LOG_FRAMES.with(Cell::get) - copied <= TAIL_FRAMES;
        if is_short {
            self.caught_up.store(-1, Ordering::Release);
        }
        is_short
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

/// Copies committed frames into the database without blocking anyone; `(log, copied)` in
/// frames. Busy (another checkpoint running) is not an error: it copies nothing new.
pub(crate) fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}
