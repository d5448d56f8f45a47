//! [`AuditLog`]: the open ledger, its writer thread and its read connections.

use crate::event::encode_tail;
use crate::query::{self, AuditQuery};
use crate::writer::{Columns, Pending, Writer, unix_ms_now};
use crate::{AuditRecord, Error, chain, keys, schema};
use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// The ledger's file name inside the audit directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

/// The signing key's file name inside the audit directory.
pub const KEY_FILE: &str = "signing.key";

/// Settings of an [`AuditLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// A checkpoint is signed once at least this many records are not covered by one
    /// (default 1000).
    pub checkpoint_every: u64,
    /// …or once this much time has passed since the last checkpoint and new records exist
    /// (default 60 s).
    pub checkpoint_interval: Duration,
    /// Records appended in one transaction at most (default 4096).
    pub max_batch: usize,
    /// Idle read connections kept open (default 4).
    pub max_idle_readers: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 4096,
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
    /// Waits until the record is durably committed and returns its sequence number.
    ///
    /// # Errors
    /// [`Error::CommitFailed`] when the batch could not be committed (a full disk),
    /// [`Error::WriterStopped`] when the log was closed, [`Error::RecordedOutOfRange`] when the
    /// record could not be encoded.
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

/// An open audit ledger in one directory: `ledger.sqlite` (plus SQLite's WAL files) and
/// `signing.key`.
///
/// Cloning is cheap and shares the ledger. One writer thread (`medulla-audit-writer`) owns the
/// only write connection; reads use their own read-only connections, which in WAL mode never
/// wait for the writer. When the last clone is dropped (or [`AuditLog::close`] is called) the
/// writer finishes the queued records, signs a final checkpoint and closes the file.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    ledger_path: PathBuf,
    public_key: VerifyingKey,
    max_idle_readers: usize,
    queue: Mutex<Option<Sender<Pending>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
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
    /// When the directory, the ledger or the signing key cannot be created or read.
    pub fn open(dir: &Path) -> Result<AuditLog, Error> {
        AuditLog::open_with(dir, AuditOptions::default())
    }

    /// Opens (creating if needed) the ledger in `dir` and starts its writer thread.
    ///
    /// Creates `dir`, `ledger.sqlite` (WAL, `synchronous=FULL`) and `signing.key` (a new Ed25519
    /// key, mode 0600) when missing. The writer continues the chain from the newest row without
    /// verifying it: use [`crate::verify`] for that.
    ///
    /// # Errors
    /// When the directory, the ledger or the signing key cannot be created or read, or the
    /// ledger has another layout version.
    pub fn open_with(dir: &Path, options: AuditOptions) -> Result<AuditLog, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::OpenDirectory {
            path: dir.to_owned(),
            source,
        })?;
        let key = keys::load_or_create(&dir.join(KEY_FILE))?;
        let public_key = key.verifying_key();
        let ledger_path = dir.join(LEDGER_FILE);
        let conn = schema::open_writer(&ledger_path)?;
        let writer = Writer::new(conn, key, &options)?;
        let (sender, queue) = channel();
        let handle = std::thread::Builder::new()
            .name("medulla-audit-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|source| Error::OpenDirectory {
                path: dir.to_owned(),
                source,
            })?;
        Ok(AuditLog {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                ledger_path,
                public_key,
                max_idle_readers: options.max_idle_readers,
                queue: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(handle)),
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

    /// Queues `record` for the ledger and returns its ticket. `recorded == 0` is replaced by the
    /// current time. The AuditEvent JSON is built here, on the caller's thread.
    ///
    /// The record counts as audited only when the ticket returns `Ok`; a caller that gets an
    /// error must refuse the access it was recording.
    pub fn record(&self, mut record: AuditRecord) -> AuditTicket {
        let (reply, receiver) = oneshot::channel();
        if record.recorded == 0 {
            record.recorded = unix_ms_now();
        }
        match encode_tail(&record) {
            Err(error) => {
                let _ = reply.send(Err(error));
            }
            Ok(tail) => {
                let pending = Pending {
                    columns: columns(record),
                    tail,
                    reply,
                };
                let queue = lock(&self.inner.queue);
                let unsent = match queue.as_ref() {
                    Some(sender) => sender.send(pending).err().map(|failed| failed.0),
                    None => Some(pending),
                };
                drop(queue);
                if let Some(pending) = unsent {
                    let _ = pending.reply.send(Err(Error::WriterStopped));
                }
            }
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

    /// The AuditEvent JSON of record `seq`, exactly as stored and hashed.
    ///
    /// # Errors
    /// When the database fails.
    pub fn read(&self, seq: u64) -> Result<Option<Vec<u8>>, Error> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached("SELECT event FROM ledger WHERE seq = ?1")?
                .query_row([seq], |row| row.get(0))
                .optional()?)
        })
    }

    /// Records matching `query`, newest first, as `(seq, AuditEvent JSON)`.
    ///
    /// # Errors
    /// When the database fails.
    pub fn search(&self, query: &AuditQuery) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        self.with_reader(|conn| query::search(conn, query))
    }

    /// How many records the ledger holds.
    ///
    /// # Errors
    /// When the database fails.
    pub fn count(&self) -> Result<u64, Error> {
        self.with_reader(|conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM ledger")?
                .query_row([], |row| row.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }

    /// The newest committed record's sequence number (0 when empty).
    ///
    /// # Errors
    /// When the database fails.
    pub fn last_seq(&self) -> Result<u64, Error> {
        self.with_reader(|conn| {
            let last: Option<i64> = conn
                .prepare_cached("SELECT max(seq) FROM ledger")?
                .query_row([], |row| row.get(0))?;
            Ok(last.and_then(|seq| u64::try_from(seq).ok()).unwrap_or(0))
        })
    }

    /// Stops accepting records, lets the queued ones commit, signs a final checkpoint and waits
    /// for the writer thread. Later [`AuditLog::record`] calls fail with
    /// [`Error::WriterStopped`]. Dropping the last clone does the same.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Runs `work` on an idle read connection (opening one if none is idle).
    fn with_reader<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, Error>,
    ) -> Result<R, Error> {
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

impl Inner {
    fn close(&self) {
        // Readers go first, so that the writer's connection is the last one and SQLite removes
        // the WAL files when it closes.
        lock(&self.readers).clear();
        lock(&self.queue).take();
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the audit writer thread panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

/// Locks `mutex`, carrying on if another thread panicked while holding it: every critical
/// section here leaves the data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn columns(record: AuditRecord) -> Columns {
    let patient = record.patient_id().map(str::to_owned);
    Columns {
        recorded: record.recorded,
        category: record.category.code(),
        type_code: record.category.event_type().1,
        interaction: record.interaction,
        action: record.action.code(),
        outcome: record.outcome.number(),
        agent: record.agent,
        patient,
    }
}
