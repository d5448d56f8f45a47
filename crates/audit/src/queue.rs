//! The journal thread: numbers records, makes each batch durable in the journal with one
//! positioned write and one `sync_data`, answers the callers, then hands the records to the
//! ledger thread.

use crate::handoff::{Durable, Handoff, Retired};
use crate::journal::{Segment, encode_entry, write_all_at};
use crate::{AuditRecord, Error};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// A record waiting for the journal, and where to send its sequence number.
pub(crate) struct Pending {
    pub(crate) record: AuditRecord,
    pub(crate) reply: oneshot::Sender<Result<u64, Error>>,
}

/// What the journal thread receives: records, in the order they were sent, then possibly the
/// order to finish (records sent after it are dropped, and their tickets fail).
#[allow(
    clippy::large_enum_variant,
    reason = "Close is sent once per log; boxing records would allocate once per record"
)]
pub(crate) enum Message {
    Record(Pending),
    Close,
}

/// Settings of the journal thread.
pub(crate) struct QueueSettings {
    pub(crate) segment_size: u64,
    pub(crate) max_batch: usize,
    pub(crate) max_lag: u64,
}

/// The journal thread's state.
pub(crate) struct JournalWriter {
    dir: PathBuf,
    handoff: Arc<Handoff>,
    current: Segment,
    /// The next segment, being preallocated on its own thread.
    spare: Option<Spare>,
    next_number: u64,
    next_seq: u64,
    settings: QueueSettings,
    /// Set after a failed write or sync: what is on disk is then unknown, so nothing more is
    /// acknowledged until the log is reopened (and the journal replayed).
    broken: Option<String>,
    buffer: Vec<u8>,
}

impl JournalWriter {
    /// Creates the first segment (number `number`) and starts numbering at `next_seq`.
    pub(crate) fn new(
        dir: PathBuf,
        handoff: Arc<Handoff>,
        number: u64,
        next_seq: u64,
        settings: QueueSettings,
    ) -> Result<JournalWriter, Error> {
        let current = Segment::create(&dir, number, settings.segment_size).map_err(|source| {
            Error::Journal {
                path: dir.join(crate::journal::segment_name(number)),
                source,
            }
        })?;
        Ok(JournalWriter {
            dir,
            handoff,
            current,
            spare: None,
            next_number: number + 1,
            next_seq,
            settings,
            broken: None,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// Runs until told to close (or every sender is dropped), then hands its segments over for
    /// deletion and tells the ledger thread to finish.
    pub(crate) fn run(mut self, queue: Receiver<Message>) {
        let mut is_closing = false;
        while !is_closing && let Ok(Message::Record(first)) = queue.recv() {
            let mut batch = Vec::with_capacity(64);
            batch.push(first);
            while batch.len() < self.settings.max_batch {
                match queue.try_recv() {
                    Ok(Message::Record(pending)) => batch.push(pending),
                    Ok(Message::Close) => {
                        is_closing = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.write(batch);
        }
        drop(queue);
        self.handoff.retire(Retired {
            path: self.current.path.clone(),
            last_seq: self.current.last_seq.unwrap_or(0),
        });
        if let Some(spare) = self.spare.take()
            && let Ok(segment) = spare.into_segment()
        {
            self.handoff.retire(Retired {
                path: segment.path,
                last_seq: 0,
            });
        }
        self.handoff.close_inbox();
    }

    /// Makes `batch` durable and answers each caller with its sequence number, or each with the
    /// same error.
    fn write(&mut self, batch: Vec<Pending>) {
        if let Err(error) = self.try_write(&batch) {
            for pending in batch {
                let _ = pending.reply.send(Err(Error::CommitFailed(error.clone())));
            }
            return;
        }
        let first_seq = self.next_seq;
        let count = batch.len() as u64;
        self.next_seq += count;
        let last_seq = first_seq + count - 1;
        self.current.last_seq = Some(last_seq);
        let mut replies = Vec::with_capacity(batch.len());
        let records = (first_seq..)
            .zip(batch)
            .map(|(seq, pending)| {
                replies.push((seq, pending.reply));
                Durable {
                    seq,
                    record: pending.record,
                }
            })
            .collect();
        self.handoff
            .deliver(records, last_seq, self.settings.max_batch);
        for (seq, reply) in replies {
            // The caller may have gone away; the record is durable anyway.
            let _ = reply.send(Ok(seq));
        }
        if self.spare.is_none() && self.current.position > self.current.size / 2 {
            self.spare = Some(self.prepare(self.settings.segment_size));
        }
    }

    /// Encodes, writes and syncs the batch; on success the bytes are durable and the segment's
    /// position moved past them.
    fn try_write(&mut self, batch: &[Pending]) -> Result<(), String> {
        if let Some(broken) = &self.broken {
            return Err(broken.clone());
        }
        self.handoff
            .wait_until_applied((self.handoff.acked() + 1).saturating_sub(self.settings.max_lag))
            .map_err(|error| format!("the audit ledger is too far behind the journal: {error}"))?;
        self.buffer.clear();
        for (seq, pending) in (self.next_seq..).zip(batch) {
            encode_entry(&mut self.buffer, seq, &pending.record);
        }
        let bytes = self.buffer.len() as u64;
        if bytes > self.current.room() {
            self.rotate(bytes)?;
        }
        let written = write_all_at(&self.current.file, &self.buffer, self.current.position)
            .and_then(|()| self.current.file.sync_data());
        match written {
            Ok(()) => {
                self.current.position += bytes;
                Ok(())
            }
            Err(error) => {
                let message = format!(
                    "cannot write audit journal {}: {error}",
                    self.current.path.display()
                );
                tracing::error!(
                    %error,
                    records = batch.len(),
                    "the audit journal could not be written; no further records are accepted \
                     until the ledger is reopened"
                );
                self.broken = Some(message.clone());
                Err(message)
            }
        }
    }

    /// Moves to the next segment (the prepared spare, or one made now) with room for `bytes`,
    /// and retires the current one.
    fn rotate(&mut self, bytes: u64) -> Result<(), String> {
        let spare = match self.spare.take() {
            Some(spare) => spare.into_segment(),
            None => self.create_now(self.settings.segment_size),
        };
        let next = match spare {
            Ok(segment) if segment.room() >= bytes => segment,
            Ok(small) => {
                // A batch larger than a segment gets a segment of its own, numbered after the
                // spare, which is retired unused so that numbers stay in writing order.
                self.handoff.retire(Retired {
                    path: small.path,
                    last_seq: 0,
                });
                let size =
                    (bytes + crate::journal::MAGIC.len() as u64).next_multiple_of(1024 * 1024);
                self.create_now(size)
                    .map_err(|error| self.preparation_failed(&error))?
            }
            Err(error) => return Err(self.preparation_failed(&error)),
        };
        let old = std::mem::replace(&mut self.current, next);
        self.handoff.retire(Retired {
            path: old.path,
            last_seq: old.last_seq.unwrap_or(0),
        });
        Ok(())
    }

    fn preparation_failed(&self, error: &std::io::Error) -> String {
        tracing::error!(%error, "a new audit journal segment could not be preallocated");
        format!(
            "cannot preallocate an audit journal segment in {}: {error}",
            self.dir.display()
        )
    }

    /// Creates the next segment on this thread.
    fn create_now(&mut self, size: u64) -> std::io::Result<Segment> {
        let number = self.next_number;
        self.next_number += 1;
        Segment::create(&self.dir, number, size)
    }

    /// Starts preallocating the next segment on its own thread (or here, if no thread starts).
    fn prepare(&mut self, size: u64) -> Spare {
        let dir = self.dir.clone();
        let number = self.next_number;
        self.next_number += 1;
        let spawned = std::thread::Builder::new()
            .name("medulla-audit-prealloc".into())
            .spawn(move || Segment::create(&dir, number, size));
        match spawned {
            Ok(handle) => Spare::Preparing(handle),
            Err(_) => Spare::Ready(Segment::create(&self.dir, number, size)),
        }
    }
}

/// The next segment: being preallocated, or done.
enum Spare {
    Preparing(JoinHandle<std::io::Result<Segment>>),
    Ready(std::io::Result<Segment>),
}

impl Spare {
    /// The segment, once preallocated.
    fn into_segment(self) -> std::io::Result<Segment> {
        match self {
            Spare::Preparing(handle) => handle.join().unwrap_or_else(|_| {
                Err(std::io::Error::other("the preallocating thread panicked"))
            }),
            Spare::Ready(result) => result,
        }
    }
}
