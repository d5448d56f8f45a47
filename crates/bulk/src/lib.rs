//! Bulk Data export: `$export` at system, patient and group level, as background jobs that
//! write NDJSON files from one consistent snapshot of the store.
//!
//! This crate owns export jobs: their persisted state (`job.json` beside each job's files, so a
//! restart resumes unfinished jobs), the NDJSON files (split by size, written a resource at a
//! time so memory stays flat), and the manifest. [`Exports`] is the entry point; the server
//! maps the Bulk Data HTTP protocol onto it and `medulla export` drives it from the CLI.
//!
//! Does not: speak HTTP, or decide which resources a query matches (the engine's search and the
//! store do).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use medulla_bulk::{ExportRequest, Exports, Level};
//! let data = tempfile::tempdir()?;
//! let store = std::sync::Arc::new(medulla_store::SqliteStore::open(data.path(), Default::default())?);
//! let engine = medulla_engine::Engine::new(store, Default::default());
//! let exports = Exports::open(data.path().join("exports"), engine)?;
//! let id = exports.start(ExportRequest { level: Level::System, ..Default::default() })?;
//! let state = exports.wait(&id).expect("job exists");
//! assert_eq!(state.status, medulla_bulk::Status::Completed);
//! # Ok(()) }
//! ```

mod import;
mod job;

pub use import::{ImportInput, ImportState, Imports};
pub use job::{ExportRequest, Exports, JobState, Level, OutputFile, Status};

/// What can go wrong with an export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed (unknown type, bad `_since`, bad `_typeFilter`).
    #[error("{0}")]
    Invalid(String),
    /// Reading the store or evaluating a filter failed.
    #[error(transparent)]
    Engine(#[from] medulla_engine::Error),
    /// Writing files failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
