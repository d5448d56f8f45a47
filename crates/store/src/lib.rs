//! Versioned FHIR resource storage.
//!
//! This crate owns how resources, their versions and their search-index rows are kept on disk.
//! [`Store`] is the boundary the rest of Medulla talks to; [`SqliteStore`] is the embedded
//! backend (the default) and a PostgreSQL backend will implement the same trait.
//!
//! Does not: know FHIR semantics beyond "a resource is a typed, versioned JSON blob with index
//! rows", speak HTTP, or read the environment. Callers (the `medulla-engine` crate) decide
//! versions, ids and conflicts inside a write job; the store only makes the job atomic and durable.
//!
//! Writes go through [`Store::submit`] as a [`WriteJob`]: one writer thread runs many pending jobs
//! inside one SQLite transaction (each job in its own savepoint) and commits once, so concurrent
//! requests share one disk sync (group commit). A job's result is delivered only after the commit
//! is durable.
//!
//! ```
//! use medulla_store::{SqliteStore, Store, write, NewVersion, Method};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path(), Default::default())?;
//! let written = write(&store, |tx| {
//!     let now = tx.now();
//!     tx.put(&NewVersion {
//!         resource_type: "Patient", id: "p1", version: 1, last_updated: now,
//!         method: Method::Post, body: Some(br#"{"resourceType":"Patient","id":"p1"}"#),
//!         index: None,
//!     })?;
//!     Ok::<_, medulla_store::Error>(now)
//! }).blocking_wait()?;
//! let read = store.read("Patient", "p1")?.expect("just written");
//! assert_eq!(read.version, 1);
//! assert_eq!(read.last_updated, written);
//! # Ok(()) }
//! ```

mod error;
mod index;
mod job;
mod search;
mod sqlite;
mod types;

pub use error::Error;
pub use index::*;
pub use job::{WriteJob, WriteTicket, write};
pub use search::*;
pub use sqlite::{SqliteOptions, SqliteStore};
pub use types::*;

/// A storage backend for versioned resources.
///
/// Reads are synchronous and may block on disk: async callers run them on a blocking thread.
/// Writes are submitted as jobs and complete through a [`WriteTicket`].
pub trait Store: Send + Sync + 'static {
    /// The newest version of a resource, including a deletion tombstone (`deleted == true`).
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error>;

    /// One specific version of a resource.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version: u64,
    ) -> Result<Option<StoredResource>, Error>;

    /// Versions, newest first, for the instance, type or whole system.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, Error>;

    /// Current, non-deleted resources matching a search, in the query's sort order.
    ///
    /// # Errors
    /// Fails when the backend fails.
    fn search(&self, query: &SearchQuery) -> Result<SearchPage, Error>;

    /// `_include`: current resources that the resources with `keys` refer to. Returns each
    /// with its storage key.
    ///
    /// # Errors
    /// Fails when the backend fails.
    fn include(&self, keys: &[i64], include: &Include)
    -> Result<Vec<(i64, StoredResource)>, Error>;

    /// `_revinclude`: current resources of `include.source_type` that refer to the resources
    /// with `keys` through `include.param`.
    ///
    /// # Errors
    /// Fails when the backend fails.
    fn revinclude(
        &self,
        keys: &[i64],
        include: &Include,
    ) -> Result<Vec<(i64, StoredResource)>, Error>;

    /// Streams every match of each query, in storage order, all from one consistent snapshot
    /// (writes committed meanwhile are not seen). `visit` returns `false` to stop early.
    /// Paging fields (`count`, `after`, `sort`) of the queries are ignored.
    ///
    /// # Errors
    /// Fails when the backend fails, or with `visit`'s error.
    fn scan(
        &self,
        queries: &[SearchQuery],
        visit: &mut dyn FnMut(StoredResource) -> Result<bool, Error>,
    ) -> Result<(), Error>;

    /// The backend's query plan for a search, one line per step (diagnostics and tests).
    ///
    /// # Errors
    /// Fails when the backend fails.
    fn explain(&self, query: &SearchQuery) -> Result<Vec<String>, Error>;

    /// Hands a job to the writer. The job runs later, on the writer thread, inside a transaction.
    fn submit(&self, job: Box<dyn WriteJob>);

    /// Declares the search parameters that have no index rows of their own (see
    /// [`ParamAliases`]); searches from then on look up their members. Not stored: the caller
    /// declares them each time it opens the store.
    fn set_param_aliases(&self, aliases: ParamAliases);

    /// Records of `kind` with sequence numbers after `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn records(&self, kind: &str, after: i64, limit: usize) -> Result<Vec<Record>, Error>;

    /// The record of `kind` with sequence number `seq`.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn record_by_seq(&self, kind: &str, seq: i64) -> Result<Option<Record>, Error>;

    /// The record `key` of `kind`, as last committed.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn record(&self, kind: &str, key: &str) -> Result<Option<Record>, Error>;

    /// Counts of stored rows, for diagnostics and benchmarks.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn stats(&self) -> Result<StoreStats, Error>;
}

/// What a write job may do. It runs inside the writer's transaction: everything it does becomes
/// durable together, or not at all if the job (or the commit) fails.
pub trait WriteTx {
    /// The commit timestamp of this batch, monotonic across batches.
    fn now(&self) -> Timestamp;

    /// The newest version of a resource as this transaction sees it.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn current(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error>;

    /// True while the store is in a bulk load (see [`SqliteOptions::bulk_load_when_empty`]): it
    /// has no key of resources by id, so [`WriteTx::current`] is a full scan, and [`WriteTx::put`]
    /// takes first versions only, unchecked. A resource put more than once is merged into
    /// versions when the load finishes.
    fn bulk_loading(&self) -> bool {
        false
    }

    /// Stores a new version and makes it current, replacing its index rows.
    ///
    /// # Errors
    /// [`Error::VersionConflict`] when `version` is not one more than the current version; while
    /// [`WriteTx::bulk_loading`], [`Error::CommitFailed`] for any version but the first.
    fn put(&mut self, version: &NewVersion<'_>) -> Result<(), Error>;

    /// Replaces the index rows of the current version of a resource, if it is still at
    /// `version` and not deleted (reindexing). Returns whether it was.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn replace_index(
        &mut self,
        resource_type: &str,
        id: &str,
        version: u64,
        rows: &IndexRows,
    ) -> Result<bool, Error>;

    /// Search as this transaction sees it (used by conditional interactions).
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn search(&mut self, query: &SearchQuery) -> Result<SearchPage, Error>;

    /// The record `key` of `kind`, as this transaction sees it.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn record(&mut self, kind: &str, key: &str) -> Result<Option<Record>, Error>;

    /// Creates or replaces record `key` of `kind`; returns its sequence number, which stays
    /// the same when the record is replaced.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn put_record(
        &mut self,
        kind: &str,
        key: &str,
        value: &[u8],
        data: Option<&[u8]>,
    ) -> Result<i64, Error>;

    /// Deletes record `key` of `kind`; returns whether it existed.
    ///
    /// # Errors
    /// Fails only when the backend fails.
    fn delete_record(&mut self, kind: &str, key: &str) -> Result<bool, Error>;
}
