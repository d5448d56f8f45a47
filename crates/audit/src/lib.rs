//! The tamper-evident audit trail.
//!
//! This crate owns the record of who accessed what: every FHIR REST interaction and every
//! security event (login, token, export, break-the-glass) becomes an R4 AuditEvent appended to a
//! hash-chained ledger in its own SQLite file, with periodic Ed25519-signed checkpoints, and
//! [`verify`] proves the ledger intact or names the first tampered, deleted, inserted or reordered
//! record.
//!
//! Does not: speak HTTP, touch the FHIR resource store, or decide who may do what; callers
//! (the server and the auth crate) report what happened and refuse an access whose record was
//! not acknowledged. It never logs patient data: its `tracing` events carry counts and sequence
//! numbers only; who-saw-what lives in the ledger alone.
//!
//! # How it fits together
//!
//! - An [`AuditRecord`] is what a caller reports. [`AuditLog::record`] checks its time and
//!   queues it, returning an [`AuditTicket`].
//! - The journal thread (`medulla-audit-journal`) is the durable queue. It takes every queued
//!   record (up to [`AuditOptions::max_batch`]), gives each the next sequence number, appends
//!   them in a compact encoding to the current journal segment with one positioned write, calls
//!   `sync_data` once for the batch (group commit), and only then resolves each ticket with its
//!   sequence number: an acknowledged record is on disk. It hands the records to the ledger
//!   thread in memory.
//! - The ledger thread (`medulla-audit-ledger`) stores each record as its sequence number (u64
//!   big-endian) followed by the journal's compact encoding, chains those stored bytes
//!   (`hash = SHA-256("medulla-audit-v2" ‖ prev ‖ seq as u64 big-endian ‖ stored bytes)`, with
//!   `prev` of record 1 all zeros) and appends what arrived in one transaction, at most every
//!   [`AuditOptions::ledger_commit_interval`] (250 ms) or every [`AuditOptions::max_batch`]
//!   records, and at once when a reader waits. Its commits use `synchronous=NORMAL`: the journal
//!   is the durable copy until a synced commit covers a segment's records, and only then is the
//!   segment deleted.
//! - A checkpoint is signed at every record that leaves [`AuditOptions::checkpoint_every`]
//!   records unsigned, after [`AuditOptions::checkpoint_interval`] when new records exist, and
//!   once more on clean shutdown: the ledger thread signs `(seq, hash, signed_at)` with the key
//!   in `signing.key` and stores the checkpoint beside its public key. A checkpoint catches what
//!   the chain alone cannot: a chain rewritten consistently from some record on, or records
//!   deleted from the end.
//! - [`AuditLog::read`], [`AuditLog::search`], [`AuditLog::count`] and [`AuditLog::last_seq`] use
//!   read-only connections, never the writer's. The ledger may lag the acknowledgements by up to
//!   the commit interval, so each of them first waits until the ledger holds every record
//!   acknowledged before the call (free when it does already). [`verify`] opens its own
//!   connection, needs no private key, and sees the ledger file as it is: call
//!   [`AuditLog::flush`] first to verify everything acknowledged.
//!
//! What the checkpoints cannot prove: records appended after the newest checkpoint with correctly
//! computed hashes, records deleted from the end together with the checkpoints covering them, or
//! a ledger re-signed with a key added to the same file. [`VerifyReport::unsigned_records`],
//! [`VerifyReport::last_checkpoint_seq`] and [`VerifyReport::public_keys_hex`] show what to
//! compare: keep [`AuditLog::public_key_hex`] (and, for the strongest guarantee, the newest
//! checkpoint) somewhere the server cannot write.
//!
//! # The journal and its crash story
//!
//! The journal is a series of segment files `journal-<number>.seg` beside the ledger (4 MiB
//! each by default, [`AuditOptions::journal_segment_size`]). A segment is preallocated before it
//! is used: a 16-byte header, then zeros written up to its size in 1 MiB chunks and synced with
//! its directory entry, on a helper thread while the previous segment fills. Writing a batch
//! therefore never changes the file's size, and the per-batch `sync_data` flushes data blocks
//! only, with no file-size metadata to commit. Each entry is `length: u32 | seq: u64 | record |
//! check`, where `check` is the first 8 bytes of `SHA-256("medulla-audit-journal-v1" ‖ length ‖
//! seq ‖ record)`; a zero length ends the entries. An entry takes about 100 to 300 bytes, a
//! ledger row about 300 bytes with its index entries. Reads render the R4 AuditEvent JSON from
//! the stored bytes; bytes that no longer decode (an altered file) fail the read with
//! [`Error::UnreadableRecord`].
//!
//! - Clean shutdown ([`AuditLog::close`], or dropping the last clone): the journal thread
//!   finishes the queued records, the ledger thread commits everything (synced), signs a final
//!   checkpoint, makes sure the ledger file is on disk, and deletes every segment.
//! - Crash (process killed, machine lost): acknowledged records are in the journal; some may not
//!   be in the ledger. [`AuditLog::open`] reads the segments in order, skips entries the ledger
//!   already holds (sequence number not above its newest record), appends the others in order
//!   with the usual chaining and checkpoints, syncs the ledger, and only then deletes the
//!   segments. Reading stops at the first entry whose length runs past its segment or whose
//!   check fails: the torn end of a batch whose `sync_data` never returned, so none of it was
//!   acknowledged, and its sequence numbers are given again. A crash during that recovery
//!   repeats it harmlessly. An entry whose check holds but whose record cannot be decoded stops
//!   the open with [`Error::JournalRecord`] rather than drop an acknowledged record.
//! - A failed ledger commit (a full disk) loses nothing: the records stay in the journal and in
//!   memory and the commit is retried (50 ms, doubling to 5 s, sooner when a reader asks);
//!   readers and [`AuditLog::flush`] get [`Error::CommitFailed`]. Records keep being accepted
//!   until [`AuditOptions::max_ledger_lag`] of them wait; then new ones fail with
//!   [`Error::CommitFailed`] and the access is refused. A failed journal write or sync stops all
//!   acknowledgements until the log is reopened, because what reached the disk is then unknown;
//!   the records of that failed batch may still appear after a restart, although their callers
//!   were refused.
//!
//! # Throughput
//!
//! Measured with `cargo test -p medulla-audit --release --test append_rate -- --ignored
//! --nocapture` (2 cores, 24 GB RAM, virtio disk where `sync_data` of a preallocated file takes
//! about 0.13–0.2 ms, release build, 2026-11-26): one caller waiting for each record 7,600
//! appends/s; 64 threads appending at once 103,000/s; 200,000 records queued then awaited:
//! acknowledged at 254,000/s, in the ledger at 115,000/s (the ledger thread's ceiling); 298 bytes
//! per record in the ledger; [`verify`] walks 1.86 M records/s. With the AuditEvent JSON stored
//! and hashed (layout 1, the same day) the ledger took 56,000–65,000 records/s at about 1.55 KB
//! each, and `verify` 620,000/s.
//!
//! End to end, `medulla bench auth --seconds 3 --patients 500 --grants 500` (16 keep-alive clients
//! reading patients by id, same machine, three runs alternating with the build before the journal)
//! served 14,400–16,500 audited reads/s against 26,900–28,900 without audit or authentication
//! (41–46% fewer; before the journal 9,400–10,900, 60–64% fewer), with p50 latency 0.82–1.04 ms
//! against 0.45–0.61 ms. The goal of at most 10% is not met on this machine. What remains, measured
//! with `perf` on the server: every audited request waits for one group commit (`sync_data` plus
//! two thread hand-offs, about 0.3–0.4 ms, which 16 clients cannot hide), and costs about 40 µs of
//! CPU on top of about 50 µs: about 13 µs in the journal thread (three quarters of it the kernel's
//! `fdatasync` path, for batches of two or three records), about 12 µs in the ledger thread
//! (when it still serialized and hashed JSON: SHA-256 and JSON were over half of it; the compact
//! rows of layout 2 halve the thread's cost), and about 12 µs more on the request threads (waking
//! and being woken across threads). What is left needs what this crate cannot do alone: a storage
//! device with cheap flushes, or more cores (the ledger thread then runs beside the requests
//! instead of between them).
//!
//! ```
//! use medulla_audit::{AuditLog, AuditQuery, AuditRecord, Action, AgentKind, Category, Outcome};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let log = AuditLog::open(dir.path())?;
//! let mut record = AuditRecord::new(
//!     Category::Rest, "read", Action::Read, Outcome::Success, "alice", AgentKind::User,
//! );
//! record.patient = Some("p1".into());
//! record.entities = vec!["Observation/o1".into()];
//! let seq = log.append_blocking(record)?;
//! assert_eq!(seq, 1);
//! let found = log.search(&AuditQuery { patient: Some("p1".into()), ..AuditQuery::default() })?;
//! assert_eq!(found.len(), 1);
//! log.close();
//! let report = medulla_audit::verify(dir.path())?;
//! assert!(report.is_intact(), "{report}");
//! assert_eq!(report.last_checkpoint_seq, Some(1));
//! # Ok(()) }
//! ```

mod chain;
mod error;
mod event;
mod handoff;
mod journal;
mod keys;
mod log;
mod query;
mod queue;
mod record;
mod schema;
mod verify;
mod writer;

pub use error::Error;
pub use log::{AuditLog, AuditOptions, AuditTicket, KEY_FILE, LEDGER_FILE};
pub use query::{AuditQuery, DEFAULT_COUNT, MAX_COUNT};
pub use record::{Action, AgentKind, AuditRecord, Category, Outcome};
pub use verify::{Tamper, VerifyReport, verify};
