//! The writer thread: the only connection that appends, with group commit and checkpoints.

use crate::chain::{GENESIS, Hash, record_hash, sign_checkpoint};
use crate::event::assemble;
use crate::{AuditOptions, Error};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A record waiting for the writer: its search columns, its serialized AuditEvent without the
/// id (see [`crate::event`]), and where to send its sequence number.
pub(crate) struct Pending {
    pub(crate) columns: Columns,
    pub(crate) tail: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Result<u64, Error>>,
}

/// The ledger's filter columns of one record.
pub(crate) struct Columns {
    pub(crate) recorded: i64,
    pub(crate) category: &'static str,
    pub(crate) type_code: &'static str,
    pub(crate) interaction: String,
    pub(crate) action: &'static str,
    pub(crate) outcome: i64,
    pub(crate) agent: String,
    pub(crate) patient: Option<String>,
}

/// The writer's state: the chain tip and the checkpoint schedule.
pub(crate) struct Writer {
    conn: Connection,
    key: SigningKey,
    key_id: i64,
    /// The sequence number of the newest committed record (0 when the ledger is empty); the
    /// next record gets the one after it.
    last_seq: u64,
    /// The newest row's hash, which the next record's `prev` must equal.
    last_hash: Hash,
    /// The newest record covered by a checkpoint.
    checkpointed_seq: u64,
    /// When the writer last wrote (or tried to write) a checkpoint.
    last_checkpoint_at: Instant,
    checkpoint_every: u64,
    checkpoint_interval: Duration,
    max_batch: usize,
}

/// What woke the writer up.
enum Wake {
    Record(Pending),
    CheckpointDue,
    Closed,
}

impl Writer {
    /// Takes over the write connection: registers the signing key's public half and reads the
    /// chain tip from the newest row. The tip is not verified here (verification is explicit).
    pub(crate) fn new(
        conn: Connection,
        key: SigningKey,
        options: &AuditOptions,
    ) -> Result<Writer, Error> {
        let public_key = key.verifying_key().to_bytes();
        let known: Option<i64> = conn
            .query_row(
                "SELECT key_id FROM keys WHERE public_key = ?1",
                [&public_key[..]],
                |row| row.get(0),
            )
            .optional()?;
        let key_id = match known {
            Some(key_id) => key_id,
            None => {
                let others: i64 =
                    conn.query_row("SELECT count(*) FROM keys", [], |row| row.get(0))?;
                if others > 0 {
                    tracing::warn!(
                        "the audit signing key changed; new checkpoints are signed with a new key"
                    );
                }
                conn.execute(
                    "INSERT INTO keys (public_key, added_at) VALUES (?1, ?2)",
                    (&public_key[..], unix_ms_now()),
                )?;
                conn.last_insert_rowid()
            }
        };
        let tip: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (last_seq, last_hash) = match tip {
            None => (0, GENESIS),
            Some((seq, hash)) => {
                let malformed = || Error::MalformedTip { seq };
                let last_seq = u64::try_from(seq).map_err(|_| malformed())?;
                let last_hash = Hash::try_from(hash.as_slice()).map_err(|_| malformed())?;
                (last_seq, last_hash)
            }
        };
        let checkpointed: Option<i64> =
            conn.query_row("SELECT max(seq) FROM checkpoints", [], |row| row.get(0))?;
        let checkpointed_seq = checkpointed
            .and_then(|seq| u64::try_from(seq).ok())
            .unwrap_or(0);
        if checkpointed_seq > last_seq {
            // Records the checkpoint covers are gone. Numbering on after the checkpoint keeps the
            // server auditing while the gap stays for `verify` to report as a deletion; reusing
            // the numbers would clash with the checkpoint and hide the loss.
            tracing::error!(
                checkpoint_seq = checkpointed_seq,
                last_seq,
                "the audit ledger ends before its newest checkpoint: records were deleted; \
                 new records continue after the checkpoint"
            );
        }
        Ok(Writer {
            conn,
            key,
            key_id,
            last_seq: last_seq.max(checkpointed_seq),
            last_hash,
            checkpointed_seq,
            last_checkpoint_at: Instant::now(),
            checkpoint_every: options.checkpoint_every.max(1),
            checkpoint_interval: options.checkpoint_interval,
            max_batch: options.max_batch.max(1),
        })
    }

    /// Runs until every sender is dropped: takes all queued records (up to the cap), appends them
    /// in one transaction, commits once, then answers each caller. Writes a final checkpoint on
    /// the way out.
    pub(crate) fn run(mut self, queue: Receiver<Pending>) {
        loop {
            let (batch, checkpoint_due) = match self.wait(&queue) {
                Wake::Closed => break,
                Wake::CheckpointDue => (Vec::new(), true),
                Wake::Record(first) => {
                    let mut batch = Vec::with_capacity(self.max_batch.min(64));
                    batch.push(first);
                    while batch.len() < self.max_batch {
                        match queue.try_recv() {
                            Ok(pending) => batch.push(pending),
                            Err(_) => break,
                        }
                    }
                    (batch, false)
                }
            };
            self.commit(batch, checkpoint_due);
        }
        if self.last_seq > self.checkpointed_seq {
            self.commit(Vec::new(), true);
        }
        tracing::debug!(last_seq = self.last_seq, "audit writer stopped");
    }

    /// Waits for the next record, or until a time-based checkpoint is due.
    fn wait(&self, queue: &Receiver<Pending>) -> Wake {
        if self.last_seq > self.checkpointed_seq {
            let due = self.last_checkpoint_at + self.checkpoint_interval;
            match queue.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(pending) => Wake::Record(pending),
                Err(RecvTimeoutError::Timeout) => Wake::CheckpointDue,
                Err(RecvTimeoutError::Disconnected) => Wake::Closed,
            }
        } else {
            queue.recv().map_or(Wake::Closed, Wake::Record)
        }
    }

    /// Appends `batch` (possibly empty) and, when one is due (or `checkpoint_due`), a checkpoint,
    /// in one transaction; then answers every caller.
    fn commit(&mut self, batch: Vec<Pending>, checkpoint_due: bool) {
        let count = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let unsigned = self
            .last_seq
            .saturating_add(count)
            .saturating_sub(self.checkpointed_seq);
        let checkpoint = unsigned > 0
            && (checkpoint_due
                || unsigned >= self.checkpoint_every
                || self.last_checkpoint_at.elapsed() >= self.checkpoint_interval);
        if checkpoint {
            // Also after a failure, so that a full disk is retried once per interval, not in a
            // tight loop.
            self.last_checkpoint_at = Instant::now();
        }
        match self.append(&batch, checkpoint) {
            Ok((last_seq, last_hash)) => {
                let first_seq = self.last_seq + 1;
                self.last_seq = last_seq;
                self.last_hash = last_hash;
                if checkpoint {
                    self.checkpointed_seq = last_seq;
                }
                for (seq, pending) in (first_seq..).zip(batch) {
                    // The caller may have gone away; the record is durable anyway.
                    let _ = pending.reply.send(Ok(seq));
                }
            }
            Err(error) => {
                tracing::error!(%error, records = batch.len(), "audit batch failed; rolled back");
                let message = error.to_string();
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(Error::CommitFailed(message.clone())));
                }
            }
        }
    }

    /// One transaction: the records chained onto the tip, then the checkpoint if asked for.
    /// Returns the new tip; the transaction rolls back on any error.
    fn append(&mut self, batch: &[Pending], checkpoint: bool) -> Result<(u64, Hash), Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seq = self.last_seq;
        let mut hash = self.last_hash;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO ledger (seq, recorded, category, type_code, interaction, action, \
                 outcome, agent, patient, event, prev, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for pending in batch {
                seq += 1;
                let event = assemble(seq, &pending.tail);
                let prev = hash;
                hash = record_hash(&prev, seq, &event);
                let columns = &pending.columns;
                insert.execute(rusqlite::params![
                    to_sql_seq(seq)?,
                    columns.recorded,
                    columns.category,
                    columns.type_code,
                    columns.interaction,
                    columns.action,
                    columns.outcome,
                    columns.agent,
                    columns.patient,
                    event,
                    &prev[..],
                    &hash[..],
                ])?;
            }
        }
        if checkpoint && seq > 0 {
            let signed_at = unix_ms_now();
            let signature = sign_checkpoint(&self.key, seq, &hash, signed_at);
            tx.prepare_cached(
                "INSERT INTO checkpoints (seq, hash, signed_at, key_id, signature) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute((
                to_sql_seq(seq)?,
                &hash[..],
                signed_at,
                self.key_id,
                &signature[..],
            ))?;
        }
        tx.commit()?;
        Ok((seq, hash))
    }
}

fn to_sql_seq(seq: u64) -> Result<i64, Error> {
    i64::try_from(seq).map_err(|_| Error::CommitFailed("audit sequence numbers exhausted".into()))
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
