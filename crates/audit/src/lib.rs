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
//! - An [`AuditRecord`] is what a caller reports. [`AuditLog::record`] turns it into AuditEvent
//!   JSON on the caller's thread and queues it, returning an [`AuditTicket`].
//! - One writer thread (`medulla-audit-writer`) takes every queued record (up to
//!   [`AuditOptions::max_batch`]), gives each the next sequence number, chains it
//!   (`hash = SHA-256("medulla-audit-v1" ‖ prev ‖ seq as u64 big-endian ‖ event bytes)`, with
//!   `prev` of record 1 all zeros), appends them in one transaction and commits once (group
//!   commit, WAL with `synchronous=FULL`). Only then does each ticket resolve with its sequence
//!   number: an acknowledged record is on disk.
//! - Every [`AuditOptions::checkpoint_every`] records, or after
//!   [`AuditOptions::checkpoint_interval`] when new records exist, and once more on clean
//!   shutdown, the writer signs `(seq, hash, signed_at)` with the key in `signing.key` and stores
//!   the checkpoint beside its public key. A checkpoint catches what the chain alone cannot: a
//!   chain rewritten consistently from some record on, or records deleted from the end.
//! - [`AuditLog::read`] and [`AuditLog::search`] use read-only connections, never the writer's.
//!   [`verify`] opens its own and needs no private key.
//!
//! What the checkpoints cannot prove: records appended after the newest checkpoint with correctly
//! computed hashes, records deleted from the end together with the checkpoints covering them, or
//! a ledger re-signed with a key added to the same file. [`VerifyReport::unsigned_records`],
//! [`VerifyReport::last_checkpoint_seq`] and [`VerifyReport::public_keys_hex`] show what to
//! compare: keep [`AuditLog::public_key_hex`] (and, for the strongest guarantee, the newest
//! checkpoint) somewhere the server cannot write.
//!
//! # Throughput
//!
//! Measured with `cargo test -p medulla-audit --release --test append_rate -- --ignored
//! --nocapture` (2 cores, 23 GB RAM, virtio disk, WAL with `synchronous=FULL`, release build,
//! base commit 8ad6dec, two runs, shared machine so ±20%): one caller waiting for each record
//! 3,000–3,800 appends/s (one disk sync each); 64 threads appending at once 29,000–30,600/s
//! (group commit shares the syncs); 200,000 records queued then awaited 41,500–44,000/s (the
//! writer's ceiling: about 23 µs per record). Building the 1.3 KB
//! AuditEvent on the caller's thread costs about 2.5 µs; a record takes about 1.55 KB on disk;
//! [`verify`] walks about 600,000 records/s.
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
mod keys;
mod log;
mod query;
mod record;
mod schema;
mod verify;
mod writer;

pub use error::Error;
pub use log::{AuditLog, AuditOptions, AuditTicket, KEY_FILE, LEDGER_FILE};
pub use query::{AuditQuery, DEFAULT_COUNT, MAX_COUNT};
pub use record::{Action, AgentKind, AuditRecord, Category, Outcome};
pub use verify::{Tamper, VerifyReport, verify};
