//! The crate's error type.

use std::path::PathBuf;

/// What went wrong in the audit ledger.
///
/// A caller that gets any of these from [`crate::AuditLog::record`] must treat the access as not
/// audited (and refuse it): nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The audit directory could not be created or read.
    #[error("cannot open audit directory {path}: {source}")]
    OpenDirectory {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The signing key file could not be read, created or written.
    #[error("cannot use signing key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The signing key file exists but does not hold an Ed25519 PKCS#8 PEM private key.
    #[error("signing key file {path} is not an Ed25519 PKCS#8 PEM private key: {reason}")]
    KeyFormat {
        /// The key file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// There is no ledger in the directory (verification never creates one).
    #[error("no audit ledger at {path}")]
    NoLedger {
        /// The ledger file that was looked for.
        path: PathBuf,
    },
    /// The ledger database reported an error.
    #[error("audit database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The ledger file was written by a build with another layout.
    #[error(
        "the audit ledger has layout version {found}, this build reads version {expected}: \
         keep it with the build that wrote it and start a new audit directory"
    )]
    LayoutVersion {
        /// The file's layout version.
        found: i64,
        /// The layout this build reads and writes.
        expected: i64,
    },
    /// The newest record cannot be chained onto (its stored hash is not 32 bytes); run
    /// verification to find out what happened to the ledger.
    #[error("the newest audit record #{seq} has a malformed hash; run `medulla audit verify`")]
    MalformedTip {
        /// The newest record's sequence number.
        seq: i64,
    },
    /// A record's `recorded` time cannot be written as a FHIR instant (outside years 1–9999).
    #[error("recorded time {recorded} ms is outside the years 1 to 9999")]
    RecordedOutOfRange {
        /// The time given, in milliseconds since the Unix epoch.
        recorded: i64,
    },
    /// The AuditEvent JSON could not be serialized.
    #[error(
        "audit record #{seq} cannot be read: its stored bytes were altered; run `medulla audit verify`"
    )]
    UnreadableRecord {
        /// The record's sequence number.
        seq: u64,
    },
    #[error("cannot serialize the AuditEvent: {0}")]
    Encode(#[from] serde_json::Error),
    /// The journal thread is gone (the log was closed or the thread could not start), or the
    /// ledger thread finished before it took the records waited for.
    #[error("the audit writer has stopped")]
    WriterStopped,
    /// The batch holding the record could not be made durable (the journal could not be
    /// written or synced, or the ledger is too far behind while failing), or, from
    /// [`crate::AuditLog::flush`] and the reads, the ledger failed to take acknowledged records
    /// (they stay in the journal and are retried).
    #[error("audit commit failed: {0}")]
    CommitFailed(String),
    /// A journal segment or the audit directory's listing could not be created, read or synced.
    #[error("cannot use audit journal {path}: {source}")]
    Journal {
        /// The segment file or the directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A journal entry passed its check but does not hold a record this build can read: it was
    /// written by another version, or the file was forged. The ledger is not opened, so that no
    /// acknowledged record is dropped silently.
    #[error(
        "audit journal {path} holds record #{seq}, which this build cannot decode: open it with \
         the build that wrote it, or move the journal segments aside to drop their records"
    )]
    JournalRecord {
        /// The segment file.
        path: PathBuf,
        /// The entry's sequence number.
        seq: u64,
    },
}
