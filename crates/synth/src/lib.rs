//! Deterministic synthetic patient populations as FHIR R4 (4.0.1) JSON, shaped like the output
//! of the [Synthea](https://github.com/synthetichealth/synthea) generator.
//!
//! This crate owns the simulation of patients' lives (demographics, wellness visits, chronic and
//! acute conditions, vital signs and laboratory trends, prescriptions, immunizations,
//! procedures, care plans and claims) and the writing of the result as transaction Bundles or
//! NDJSON. It does not talk to a server, validate against profiles, or read the environment or
//! the clock: output depends only on [`SynthOptions`].
//!
//! The main entry points:
//! - [`generate`] writes a whole population into a directory, in parallel, as
//!   [`OutputFormat::Bundle`] (one transaction Bundle per patient plus
//!   `hospitalInformation<seed>.json` and `practitionerInformation<seed>.json`, like Synthea's
//!   `fhir/` folder) or [`OutputFormat::Ndjson`] (one `<Type>.ndjson` file per resource type),
//!   and returns a [`SynthSummary`].
//! - [`patient_bundle`] returns one patient's transaction Bundle in memory;
//!   [`hospital_information_bundle`] and [`practitioner_information_bundle`] return the shared
//!   Organizations and Practitioners that patient Bundles reference conditionally.
//!
//! Patient `i` depends only on `(seed, i)`, so the same options always produce byte-identical
//! files regardless of thread count.
//!
//! ```
//! use medulla_synth::{OutputFormat, SynthOptions, generate, patient_bundle};
//!
//! let bundle = patient_bundle(42, 0);
//! assert_eq!(bundle["type"], "transaction");
//! assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "Patient");
//!
//! let out = tempfile::tempdir()?;
//! let options = SynthOptions { patients: 2, seed: 42, format: OutputFormat::Ndjson, ..SynthOptions::default() };
//! let summary = generate(&options, out.path(), &|_done| {})?;
//! assert_eq!(summary.patients, 2);
//! assert!(out.path().join("Patient.ndjson").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;

mod catalog;
mod chart;
mod clock;
mod directory;
mod ids;
mod json;
mod labs;
mod life;
mod output;
mod sink;

/// How [`generate`] lays out the population on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// One transaction Bundle file per patient, plus two Bundles of shared providers.
    #[default]
    Bundle,
    /// One NDJSON file per resource type with plain ids and `Type/id` references.
    Ndjson,
}

impl FromStr for OutputFormat {
    type Err = Error;

    /// Parses `bundle` or `ndjson` (case-insensitive).
    fn from_str(value: &str) -> Result<Self, Error> {
        match value.to_ascii_lowercase().as_str() {
            "bundle" => Ok(OutputFormat::Bundle),
            "ndjson" => Ok(OutputFormat::Ndjson),
            _ => Err(Error::UnknownFormat {
                value: value.to_owned(),
            }),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthOptions {
    /// Number of patients.
    pub patients: u64,
    /// Seed of the whole population; the same seed and count give the same bytes.
    pub seed: u64,
    /// Output layout.
    pub format: OutputFormat,
    /// Worker threads; 0 means `std::thread::available_parallelism()`. Does not affect output.
    pub threads: usize,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            patients: 100,
            seed: 0,
            format: OutputFormat::Bundle,
            threads: 0,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynthSummary {
    /// Patients generated.
    pub patients: u64,
    /// Resources written, including shared Organizations and Practitioners.
    pub resources: u64,
    /// Bytes written across all files.
    pub bytes: u64,
    /// Files written.
    pub files: u64,
}

/// Why generation failed.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// Creating or writing an output file or directory failed.
    #[error("cannot write \"{}\"", path.display())]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// An output format name other than `bundle` or `ndjson`.
    #[error("unknown output format \"{value}\", expected \"bundle\" or \"ndjson\"")]
    UnknownFormat {
        /// The name given.
        value: String,
    },
    /// A generator thread panicked; this is a bug in this crate.
    #[error("a generator thread panicked")]
    WorkerPanicked,
}

/// Writes the population into `out_dir` (created if missing), calling `progress` on the
/// calling thread with the number of patients finished so far.
///
/// # Errors
///
/// [`Error::Io`] naming the path when the directory or a file cannot be created or written;
/// [`Error::WorkerPanicked`] if a worker thread panicked.
pub fn generate(
    options: &SynthOptions,
    out_dir: &Path,
    progress: &dyn Fn(u64),
) -> Result<SynthSummary, Error> {
    output::generate(options, out_dir, progress)
}

fn parse_generated(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("the generator writes well-formed JSON")
}

/// One patient's transaction Bundle, deterministic in `(seed, index)` and identical to the
/// file [`generate`] writes for that patient in [`OutputFormat::Bundle`].
pub fn patient_bundle(seed: u64, index: u64) -> serde_json::Value {
    let directory = directory::Directory::new(seed);
    let mut sink = sink::Sink::new(sink::RefStyle::Bundle);
    life::write_patient(seed, index, &directory, &mut sink);
    parse_generated(sink.finish_bundle())
}

/// The transaction Bundle of shared Organizations for `seed` (`hospitalInformation<seed>.json`).
pub fn hospital_information_bundle(seed: u64) -> serde_json::Value {
    directory_bundle(seed, sink::ResourceType::Organization)
}

/// The transaction Bundle of shared Practitioners for `seed`
/// (`practitionerInformation<seed>.json`).
pub fn practitioner_information_bundle(seed: u64) -> serde_json::Value {
    directory_bundle(seed, sink::ResourceType::Practitioner)
}

fn directory_bundle(seed: u64, which: sink::ResourceType) -> serde_json::Value {
    let directory = directory::Directory::new(seed);
    let mut sink = sink::Sink::new(sink::RefStyle::Bundle);
    output::write_directory(&directory, &mut sink, which);
    parse_generated(sink.finish_bundle())
}
