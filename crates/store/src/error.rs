use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data directory could not be created or opened.
    #[error("cannot open data directory {path}: {source}")]
    OpenDirectory {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A new version did not follow the current one (a concurrent writer won).
    #[error("version conflict on {resource_type}/{id}: expected version {expected}, found {found}")]
    VersionConflict {
        /// Resource type.
        resource_type: String,
        /// Resource id.
        id: String,
        /// The version the writer tried to create.
        expected: u64,
        /// The version that is current.
        found: u64,
    },
    /// The writer thread is gone (the store is shutting down or crashed).
    #[error("the store's writer has stopped")]
    WriterStopped,
    /// A commit failed; the job's work was not kept.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The data directory was written by a build with another storage layout.
    #[error(
        "the data directory has storage layout version {found}, this build reads version {expected}: \
         export it with the build that wrote it and import the files into a new directory"
    )]
    SchemaVersion {
        /// The directory's layout version.
        found: i64,
        /// The layout this build reads and writes.
        expected: i64,
    },
    /// The data directory holds a bulk load that stopped before it finished, and this opening
    /// cannot finish it (no [`crate::StampedBodies`] in the options).
    #[error(
        "the data directory holds an unfinished bulk import: run the same `medulla import` again to finish it"
    )]
    UnfinishedBulkLoad,
    /// A pagination cursor or other opaque token was malformed.
    #[error("invalid cursor {0:?}")]
    InvalidCursor(String),
}
