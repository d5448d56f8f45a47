//! [`AuditLog`]: the open ledger, its two threads and its read connections.

use crate::event::format_instant;
use crate::handoff::{Durable, Handoff, Retired, lock};
use crate::journal::{self, MIN_SEGMENT_SIZE};
use crate::query::{self, AuditQuery};
use crate::queue::{JournalWriter, Message, Pending, QueueSettings};
use crate::writer::{Writer, unix_ms_now};
use crate::{AuditRecord, Error, chain, keys, schema};
use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// The ledger's file name inside the audit directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

/// The signing key's file name inside the audit directory.
pub const KEY_FILE: &str = "signing.key";

/// Settings of an [`AuditLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// A checkpoint is signed at every record that leaves this many records unsigned
    /// (default 1000).
    pub checkpoint_every: u64,
    /// …and once this much time has passed since the last checkpoint and new records exist
    /// (default 60 s).
    pub checkpoint_interval: Duration,
    /// Records written to the journal in one write, and appended to the ledger in one
    /// transaction, at most (default 4096).
    pub max_batch: usize,
    /// How long acknowledged records may wait before the ledger thread commits them
    /// (default 250 ms). Reads never see less than what was acknowledged before them: they ask
    /// for a commit at once when they need one. Longer intervals cost less per record, because
    /// each commit rewrites the index pages it touched: measured on the server, 50 ms cost about
    /// 18–21 µs of ledger-thread CPU per record, 250 ms about 12–13 µs, 1 s about 10–11 µs.
    pub ledger_commit_interval: Duration,
    /// Bytes preallocated per journal segment (default 4 MiB, at least 64 KiB). A segment holds
    /// roughly 15,000 records; a batch larger than a segment gets one of its own.
    pub journal_segment_size: u64,
    /// Acknowledged records that may wait for the ledger at most (default 100,000). Past it new
    /// records wait for the ledger, or fail with [`Error::CommitFailed`] while the ledger is
    /// failing.
    pub max_ledger_lag: u64,
    /// Idle read connections kept open (default 4).
    pub max_idle_readers: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 4096,
            ledger_commit_interval: Duration::from_millis(250),
            journal_segment_size: 4 * 1024 * 1024,
            max_ledger_lag: 100_000,
            max_idle_readers: 4,
        }
    }
}

/// The pending acknowledgement of one record.
#[derive(Debug)]
#[must_use = "a record is acknowledged only once its ticket says so"]
pub struct AuditTicket {
    receiver: oneshot::Receiver<Result<u64, Error>>,
}

impl AuditTicket {
    /// Waits until the record is durable in the journal and returns its sequence number. The
    /// ledger takes it a few milliseconds later (see [`AuditLog::flush`]); a crash in between
    /// loses nothing, because opening the log replays the journal.
    ///
    /// # Errors
    /// [`Error::CommitFailed`] when the journal could not be written or synced, or the ledger
    /// is [`AuditOptions::max_ledger_lag`] records behind and failing; [`Error::WriterStopped`]
    /// when the log was closed; [`Error::RecordedOutOfRange`] when the record's time cannot be
    /// written.
    pub async fn wait(self) -> Result<u64, Error> {
        self.receiver
            .await
            .unwrap_or_else(|_| Err(Error::WriterStopped))
    }

    /// Like [`AuditTicket::wait`], blocking the thread; not for use on an async runtime's
    /// threads (tokio panics there).
    ///
    /// # Errors
    /// As [`AuditTicket::wait`].
    pub fn blocking_wait(self) -> Result<u64, Error> {
        self.receiver
            .blocking_recv()
            .unwrap_or_else(|_| Err(Error::WriterStopped))
    }
}

/// An open audit ledger in one directory: `ledger.sqlite` (plus SQLite's WAL files),
/// `signing.key`, and the journal segments `journal-*.seg` while it is open.
///
/// Cloning is cheap and shares the ledger. The journal thread (`medulla-audit-journal`)
/// numbers and acknowledges records; the ledger thread (`medulla-audit-ledger`) owns the only
/// write connection; reads use their own read-only connections, which in WAL mode never wait
/// for the writer. When the last clone is dropped (or [`AuditLog::close`] is called) the queued
/// records reach the ledger, a final checkpoint is signed, the journal is deleted and the file
/// closed.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    ledger_path: PathBuf,
    public_key: VerifyingKey,
    max_idle_readers: usize,
    handoff: Arc<Handoff>,
    queue: Sender<Message>,
    journal: Mutex<Option<JoinHandle<()>>>,
    ledger: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (creating if needed) the ledger in `dir` with default options.
    ///
    /// # Errors
    /// As [`AuditLog::open_with`].
    pub fn open(dir: &Path) -> Result<AuditLog, Error> {
        AuditLog::open_with(dir, AuditOptions::default())
    }

    /// Opens (creating if needed) the ledger in `dir`, replays the journal left by a crash, and
    /// starts the journal and ledger threads.
    ///
    /// Creates `dir`, `ledger.sqlite` (WAL) and `signing.key` (a new Ed25519 key, mode 0600)
    /// when missing. Records in journal segments that the ledger lacks (those after its newest
    /// record) are appended in order, each chained as usual; reading stops at the first torn or
    /// corrupt entry, which was never acknowledged. The ledger is synced before the old
    /// segments are deleted. The chain continues from the newest row without verifying it: use
    /// [`crate::verify`] for that.
    ///
    /// # Errors
    /// When the directory, the ledger, the journal or the signing key cannot be created or read,
    /// the ledger has another layout version, a journal entry with a valid check cannot be
    /// decoded, or replaying fails (the journal is then kept for the next attempt).
    pub fn open_with(dir: &Path, options: AuditOptions) -> Result<AuditLog, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::OpenDirectory {
            path: dir.to_owned(),
            source,
        })?;
        let key = keys::load_or_create(&dir.join(KEY_FILE))?;
        let public_key = key.verifying_key();
        let ledger_path = dir.join(LEDGER_FILE);
        let conn = schema::open_writer(&ledger_path)?;
        let mut writer = Writer::new(conn, key, &options)?;
        let (retired, next_number) = recover(dir, &mut writer)?;
        let handoff = Arc::new(Handoff::new(writer.last_seq()));
        let journal = JournalWriter::new(
            dir.to_owned(),
            Arc::clone(&handoff),
            next_number,
            writer.next_seq(),
            QueueSettings {
                segment_size: options.journal_segment_size.max(MIN_SEGMENT_SIZE),
                max_batch: options.max_batch.max(1),
                max_lag: options.max_ledger_lag.max(1),
            },
        )?;
        let spawn_error = |source| Error::OpenDirectory {
            path: dir.to_owned(),
            source,
        };
        let ledger_handoff = Arc::clone(&handoff);
        let ledger = std::thread::Builder::new()
            .name("medulla-audit-ledger".into())
            .spawn(move || writer.run(ledger_handoff, retired))
            .map_err(spawn_error)?;
        let (sender, queue) = channel();
        let journal = match std::thread::Builder::new()
            .name("medulla-audit-journal".into())
            .spawn(move || journal.run(queue))
        {
            Ok(journal) => journal,
            Err(source) => {
                handoff.close_inbox();
                let _ = ledger.join();
                return Err(spawn_error(source));
            }
        };
        Ok(AuditLog {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                ledger_path,
                public_key,
                max_idle_readers: options.max_idle_readers,
                handoff,
                queue: sender,
                journal: Mutex::new(Some(journal)),
                ledger: Mutex::new(Some(ledger)),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The audit directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The public half of the signing key, as 64 hex digits. Keep it somewhere the ledger's
    /// writers cannot reach: a verifier compares it with [`crate::VerifyReport::public_keys_hex`].
    pub fn public_key_hex(&self) -> String {
        chain::to_hex(self.inner.public_key.as_bytes())
    }

    /// Queues `record` for the journal and returns its ticket. `recorded == 0` is replaced by
    /// the current time. The AuditEvent JSON is built later, on the ledger thread.
    ///
    /// The record counts as audited only when the ticket returns `Ok`; a caller that gets an
    /// error must refuse the access it was recording.
    pub fn record(&self, mut record: AuditRecord) -> AuditTicket {
        let (reply, receiver) = oneshot::channel();
        if record.recorded == 0 {
            record.recorded = unix_ms_now();
        }
        // Checked here so that the journal never holds a record the ledger cannot take.
        if let Err(error) = format_instant(record.recorded) {
            let _ = reply.send(Err(error));
            return AuditTicket { receiver };
        }
        let pending = Pending { record, reply };
        if let Err(unsent) = self.inner.queue.send(Message::Record(pending))
            && let Message::Record(pending) = unsent.0
        {
            let _ = pending.reply.send(Err(Error::WriterStopped));
        }
        AuditTicket { receiver }
    }

    /// Records and waits for the durable acknowledgement; not for async threads.
    ///
    /// # Errors
    /// As [`AuditTicket::wait`].
    pub fn append_blocking(&self, record: AuditRecord) -> Result<u64, Error> {
        self.record(record).blocking_wait()
    }

    /// Waits until the ledger holds every record acknowledged before this call (the ledger
    /// thread commits at once when asked). [`AuditLog::read`], [`AuditLog::search`],
    /// [`AuditLog::count`] and [`AuditLog::last_seq`] do this themselves; [`crate::verify`],
    /// which reads the file from outside, does not: call this first to verify what was
    /// acknowledged. Blocks the thread.
    ///
    /// # Errors
    /// [`Error::CommitFailed`] when a ledger commit attempted meanwhile failed (the records stay
    /// in the journal and are retried, and replayed at the next open);
    /// [`Error::WriterStopped`] when the log was closed before the ledger caught up.
    pub fn flush(&self) -> Result<(), Error> {
        let handoff = &self.inner.handoff;
        handoff.wait_until_applied(handoff.acked())
    }

    /// The AuditEvent JSON of record `seq`, exactly as stored and hashed.
    ///
    /// # Errors
    /// When the database fails, or as [`AuditLog::flush`].
    pub fn read(&self, seq: u64) -> Result<Option<Vec<u8>>, Error> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        self.with_reader(|conn| {
            let stored: Option<Vec<u8>> = conn
                .prepare_cached("SELECT event FROM ledger WHERE seq = ?1")?
                .query_row([seq], |row| row.get(0))
                .optional()?;
            stored
                .map(|stored| crate::event::render(seq.unsigned_abs(), &stored))
                .transpose()
        })
    }

    /// Records matching `query`, newest first, as `(seq, AuditEvent JSON)`.
    ///
    /// # Errors
    /// When the database fails, or as [`AuditLog::flush`].
    pub fn search(&self, query: &AuditQuery) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        self.with_reader(|conn| query::search(conn, query))
    }

    /// How many records the ledger holds.
    ///
    /// # Errors
    /// When the database fails, or as [`AuditLog::flush`].
    pub fn count(&self) -> Result<u64, Error> {
        self.with_reader(|conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM ledger")?
                .query_row([], |row| row.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    /// The newest record's sequence number in the ledger (0 when empty).
    ///
    /// # Errors
    /// When the database fails, or as [`AuditLog::flush`].
    pub fn last_seq(&self) -> Result<u64, Error> {
        self.with_reader(|conn| {
            let last: Option<i64> = conn
                .prepare_cached("SELECT max(seq) FROM ledger")?
                .query_row([], |row| row.get(0))?;
            Ok(last.and_then(|seq| u64::try_from(seq).ok()).unwrap_or(0))
        })
    }

    /// Stops accepting records, lets the queued ones reach the journal and the ledger, signs a
    /// final checkpoint, deletes the journal and waits for both threads. Later
    /// [`AuditLog::record`] calls fail with [`Error::WriterStopped`]. Dropping the last clone
    /// does the same.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Waits for the ledger to catch up with the acknowledged records (not after close: then
    /// the file is read as it is), then runs `work` on an idle read connection (opening one if
    /// none is idle).
    fn with_reader<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match self.flush() {
            Ok(()) | Err(Error::WriterStopped) => {}
            Err(error) => return Err(error),
        }
        let idle = lock(&self.inner.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => schema::open_reader(&self.inner.ledger_path)?,
        };
        let result = work(&conn);
        let mut readers = lock(&self.inner.readers);
        if readers.len() < self.inner.max_idle_readers {
            readers.push(conn);
        }
        result
    }
}

/// Replays the journal segments left in `dir` (by a crash: a clean shutdown deletes them) into
/// the ledger. Returns the segments still to delete (those the ledger could not yet be confirmed
/// on disk for) and the number for the next segment.
fn recover(dir: &Path, writer: &mut Writer) -> Result<(Vec<Retired>, u64), Error> {
    let journal_error = |path: &Path, source| Error::Journal {
        path: path.to_owned(),
        source,
    };
    let segments = journal::list_segments(dir).map_err(|source| journal_error(dir, source))?;
    let Some((last_number, _)) = segments.last() else {
        return Ok((Vec::new(), 1));
    };
    let next_number = last_number + 1;
    let tip = writer.last_seq();
    let mut records = Vec::new();
    let mut newest = tip;
    'segments: for (_, path) in &segments {
        let bytes = std::fs::read(path).map_err(|source| journal_error(path, source))?;
        let scan = journal::scan(&bytes);
        for (seq, encoded) in scan.entries {
            if seq <= tip {
                continue;
            }
            if seq <= newest {
                tracing::warn!(
                    path = %path.display(),
                    seq,
                    "an audit journal entry goes back in sequence; the journal is read up to it"
                );
                break 'segments;
            }
            let record = journal::decode_record(encoded).ok_or_else(|| Error::JournalRecord {
                path: path.clone(),
                seq,
            })?;
            newest = seq;
            records.push(Durable { seq, record });
        }
        if let Some(reason) = scan.torn {
            // The tail of a batch that was being written: never acknowledged.
            tracing::warn!(
                path = %path.display(),
                offset = scan.end,
                reason,
                "ignored the torn end of the audit journal"
            );
            break;
        }
    }
    let is_durable = if records.is_empty() {
        writer.make_durable()?
    } else {
        tracing::warn!(
            records = records.len(),
            first_seq = tip + 1,
            last_seq = newest,
            "replaying audit records from the journal after an unclean shutdown"
        );
        writer.replay(&records)?;
        true
    };
    let mut retired: Vec<Retired> = segments
        .into_iter()
        .map(|(_, path)| Retired {
            path,
            last_seq: newest,
        })
        .collect();
    if is_durable {
        writer.delete_retired(&mut retired);
        journal::sync_directory(dir).map_err(|source| journal_error(dir, source))?;
    }
    Ok((retired, next_number))
}

impl Inner {
    fn close(&self) {
        // Readers go first, so that the writer's connection is the last one and SQLite removes
        // the WAL files when it closes.
        lock(&self.readers).clear();
        // Fails when an earlier close already stopped the journal thread.
        let _ = self.queue.send(Message::Close);
        let journal = lock(&self.journal).take();
        if let Some(journal) = journal
            && journal.join().is_err()
        {
            tracing::error!("the audit journal thread panicked");
        }
        // Normally done by the journal thread on its way out; again in case it panicked.
        self.handoff.close_inbox();
        let ledger = lock(&self.ledger).take();
        if let Some(ledger) = ledger
            && ledger.join().is_err()
        {
            tracing::error!("the audit ledger thread panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}
