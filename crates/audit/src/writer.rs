//! The ledger thread: the only connection that appends, fed from the journal in large
//! transactions, with the chain and the checkpoints.

use crate::chain::{GENESIS, Hash, record_hash, sign_checkpoint};
use crate::event::stored_bytes;
use crate::handoff::{Durable, Handoff, Retired};
use crate::{AuditOptions, Error};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first wait before retrying a failed commit, and the shortest gap between attempts even
/// when a reader asks for one.
const MIN_BACKOFF: Duration = Duration::from_millis(50);

/// The longest wait before retrying a failed commit.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The ledger writer's state: the chain tip, the checkpoint schedule and how far the ledger is
/// known to be on disk.
pub(crate) struct Writer {
    conn: Connection,
    key: SigningKey,
    key_id: i64,
    /// The sequence number of the newest committed record (0 when the ledger is empty).
    last_seq: u64,
    /// The newest row's hash, which the next record's `prev` must equal.
    last_hash: Hash,
    /// The newest record covered by a checkpoint.
    checkpointed_seq: u64,
    /// The newest record known to be synced to disk (commits are `synchronous=NORMAL` unless a
    /// journal segment waits to be deleted).
    durable_seq: u64,
    /// Whether the connection is set to `synchronous=FULL` at the moment.
    is_synchronous_full: bool,
    /// When the writer last wrote a checkpoint.
    last_checkpoint_at: Instant,
    checkpoint_every: u64,
    checkpoint_interval: Duration,
    commit_interval: Duration,
    max_batch: usize,
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
            last_seq,
            last_hash,
            checkpointed_seq,
            durable_seq: 0,
            is_synchronous_full: false,
            last_checkpoint_at: Instant::now(),
            checkpoint_every: options.checkpoint_every.max(1),
            checkpoint_interval: options.checkpoint_interval,
            commit_interval: options.ledger_commit_interval,
            max_batch: options.max_batch.max(1),
        })
    }

    /// The newest record in the ledger.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The sequence number the next new record gets: after the newest record and after the
    /// newest checkpoint (see [`Writer::new`]).
    pub(crate) fn next_seq(&self) -> u64 {
        self.last_seq.max(self.checkpointed_seq) + 1
    }

    /// Appends records recovered from the journal (sequence numbers above the tip, in order),
    /// each transaction synced.
    pub(crate) fn replay(&mut self, records: &[Durable]) -> Result<(), Error> {
        for chunk in records.chunks(self.max_batch) {
            self.append(chunk, false, true)?;
        }
        Ok(())
    }

    /// Makes sure everything committed so far is on disk: checkpoints the WAL into the database
    /// file, which SQLite syncs (WAL first, then the database). Returns whether it could copy
    /// every frame; a reader holding an old snapshot can prevent that.
    pub(crate) fn make_durable(&mut self) -> Result<bool, Error> {
        let (busy, log, checkpointed): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
        let is_durable = busy == 0 && log == checkpointed;
        if is_durable {
            self.durable_seq = self.last_seq;
        }
        Ok(is_durable)
    }

    /// Runs until the journal thread closes the inbox: commits what arrived at most every
    /// [`AuditOptions::ledger_commit_interval`] (sooner for a reader, or once
    /// [`AuditOptions::max_batch`] records wait), signs checkpoints, deletes journal segments
    /// once their records are durable here, and on the way out commits everything, signs a final
    /// checkpoint and deletes the journal.
    pub(crate) fn run(mut self, handoff: Arc<Handoff>, mut retired: Vec<Retired>) {
        let _stop = StopOnExit(Arc::clone(&handoff));
        let mut pending: Vec<Durable> = Vec::new();
        let mut failing: Option<(Instant, Duration)> = None;
        loop {
            let (closing, flushing) =
                self.wait_for_work(&handoff, &mut pending, &mut retired, failing);
            if closing {
                self.finish(&handoff, pending, retired);
                return;
            }
            loop {
                let count = pending.len().min(self.max_batch);
                // A segment waits for its records to be durable here: this commit syncs.
                let full = count > 0
                    && retired
                        .iter()
                        .any(|segment| segment.last_seq > self.durable_seq);
                match self.append(&pending[..count], false, full) {
                    Ok(_) => {
                        pending.drain(..count);
                        // Before publishing, so that whoever waits sees the journal trimmed.
                        self.delete_retired(&mut retired);
                        if failing.take().is_some() {
                            tracing::info!(
                                last_seq = self.last_seq,
                                "the audit ledger commits again"
                            );
                        }
                        handoff.publish(self.last_seq, None);
                    }
                    Err(error) => {
                        let backoff = match failing {
                            None => {
                                tracing::error!(
                                    %error,
                                    records = count,
                                    "audit ledger commit failed; the records stay in the journal \
                                     and are retried"
                                );
                                MIN_BACKOFF
                            }
                            Some((_, backoff)) => {
                                tracing::debug!(%error, "audit ledger commit failed again");
                                (backoff * 2).min(MAX_BACKOFF)
                            }
                        };
                        failing = Some((Instant::now(), backoff));
                        handoff.publish(self.last_seq, Some(error.to_string()));
                        break;
                    }
                }
                // Everything a reader waits for, in transactions of at most `max_batch`.
                if !(flushing || pending.len() >= self.max_batch) || pending.is_empty() {
                    break;
                }
            }
        }
    }

    /// Waits until there is something to commit (or a checkpoint is due, or the inbox closes),
    /// then moves the inbox's records and retired segments over. Returns `(closing, flushing)`.
    fn wait_for_work(
        &self,
        handoff: &Handoff,
        pending: &mut Vec<Durable>,
        retired: &mut Vec<Retired>,
        failing: Option<(Instant, Duration)>,
    ) -> (bool, bool) {
        let mut inbox = handoff.inbox();
        let mut work_since: Option<Instant> = None;
        let flushing = loop {
            if inbox.closing {
                break false;
            }
            let waiting = pending.len() + inbox.records.len();
            let now = Instant::now();
            let deadline = if let Some((failed_at, backoff)) = failing {
                // Retry after the backoff, or sooner (but not in a tight loop) for a reader.
                let gap = if inbox.flush_wanted {
                    MIN_BACKOFF
                } else {
                    backoff
                };
                Some(failed_at + gap)
            } else if (inbox.flush_wanted && waiting > 0) || waiting >= self.max_batch {
                Some(now)
            } else if waiting > 0 {
                Some(*work_since.get_or_insert(now) + self.commit_interval)
            } else if self.last_seq > self.checkpointed_seq {
                Some(self.last_checkpoint_at + self.checkpoint_interval)
            } else {
                None
            };
            match deadline {
                Some(deadline) if deadline <= now => break inbox.flush_wanted,
                Some(deadline) => {
                    inbox = handoff.wait_inbox(inbox, Some(deadline - now));
                }
                None => inbox = handoff.wait_inbox(inbox, None),
            }
        };
        inbox.flush_wanted = false;
        pending.append(&mut inbox.records);
        retired.append(&mut inbox.retired);
        (inbox.closing, flushing)
    }

    /// The clean shutdown: commits everything (synced), signs a final checkpoint, makes sure the
    /// ledger is on disk, and deletes the journal. If a commit fails, the journal stays and is
    /// replayed at the next open.
    fn finish(&mut self, handoff: &Handoff, pending: Vec<Durable>, mut retired: Vec<Retired>) {
        let mut result = Ok(());
        for chunk in pending.chunks(self.max_batch) {
            result = self.append(chunk, false, true).map(drop);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = self.append(&[], true, true).map(drop);
        }
        if result.is_ok() && self.durable_seq < self.last_seq {
            result = self.make_durable().map(drop);
        }
        handoff.publish(
            self.last_seq,
            result.as_ref().err().map(ToString::to_string),
        );
        match result {
            Ok(()) => {
                self.delete_retired(&mut retired);
                if !retired.is_empty() {
                    tracing::warn!(
                        segments = retired.len(),
                        "audit journal segments were kept: the ledger could not be confirmed on \
                         disk; they are replayed at the next open"
                    );
                }
            }
            Err(error) => tracing::error!(
                %error,
                last_seq = self.last_seq,
                "the audit ledger could not take the last records; they stay in the journal and \
                 are replayed at the next open"
            ),
        }
        tracing::debug!(last_seq = self.last_seq, "audit writer stopped");
    }

    /// Deletes the segments whose records are all durable in the ledger.
    pub(crate) fn delete_retired(&self, retired: &mut Vec<Retired>) {
        retired.retain(|segment| {
            if segment.last_seq > self.durable_seq {
                return true;
            }
            match std::fs::remove_file(&segment.path) {
                Ok(()) => false,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
                Err(error) => {
                    tracing::warn!(
                        %error,
                        path = %segment.path.display(),
                        "an audit journal segment could not be deleted; it is retried"
                    );
                    true
                }
            }
        });
    }

    /// One transaction: the records chained onto the tip, a checkpoint at every record where
    /// [`AuditOptions::checkpoint_every`] are unsigned, and one at the end when the interval has
    /// passed (or `force_checkpoint`). `full` syncs the commit. Returns whether anything was
    /// written; the transaction rolls back on any error and the writer's state stays.
    fn append(
        &mut self,
        records: &[Durable],
        force_checkpoint: bool,
        full: bool,
    ) -> Result<bool, Error> {
        let is_interval_due = self.last_checkpoint_at.elapsed() >= self.checkpoint_interval;
        let end_seq = records.last().map_or(self.last_seq, |durable| durable.seq);
        if records.is_empty()
            && !((force_checkpoint || is_interval_due) && end_seq > self.checkpointed_seq)
        {
            return Ok(false);
        }
        if full != self.is_synchronous_full {
            self.conn
                .pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
            self.is_synchronous_full = full;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seq = self.last_seq;
        let mut hash = self.last_hash;
        let mut checkpointed = self.checkpointed_seq;
        let mut is_signed = false;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO ledger (seq, recorded, category, type_code, interaction, action, \
                 outcome, agent, patient, event, prev, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut sign = tx.prepare_cached(
                "INSERT INTO checkpoints (seq, hash, signed_at, key_id, signature) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut checkpoint = |seq: u64, hash: &Hash| -> Result<(), Error> {
                let signed_at = unix_ms_now();
                let signature = sign_checkpoint(&self.key, seq, hash, signed_at);
                sign.execute((
                    to_sql_seq(seq)?,
                    &hash[..],
                    signed_at,
                    self.key_id,
                    &signature[..],
                ))?;
                Ok(())
            };
            for durable in records {
                seq = durable.seq;
                let record = &durable.record;
                let event = stored_bytes(seq, record);
                let prev = hash;
                hash = record_hash(&prev, seq, &event);
                insert.execute(rusqlite::params![
                    to_sql_seq(seq)?,
                    record.recorded,
                    record.category.code(),
                    record.category.event_type().1,
                    record.interaction,
                    record.action.code(),
                    record.outcome.number(),
                    record.agent,
                    record.patient_id(),
                    event,
                    &prev[..],
                    &hash[..],
                ])?;
                if seq.saturating_sub(checkpointed) >= self.checkpoint_every {
                    checkpoint(seq, &hash)?;
                    checkpointed = seq;
                    is_signed = true;
                }
            }
            if (force_checkpoint || is_interval_due) && seq > checkpointed {
                checkpoint(seq, &hash)?;
                checkpointed = seq;
                is_signed = true;
            }
        }
        tx.commit()?;
        self.last_seq = seq;
        self.last_hash = hash;
        self.checkpointed_seq = checkpointed;
        if is_signed || is_interval_due {
            // Also when the interval passed with nothing new to sign, so that the schedule moves
            // on.
            self.last_checkpoint_at = Instant::now();
        }
        if full {
            self.durable_seq = seq;
        }
        Ok(true)
    }
}

/// Tells waiting readers that the ledger thread is gone, however it ends.
struct StopOnExit(Arc<Handoff>);

impl Drop for StopOnExit {
    fn drop(&mut self) {
        self.0.stop();
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
