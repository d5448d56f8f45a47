//! Loading the LOINC, ICD-10-CM and RxNorm releases into a [`Terminology`]:
//! [`Terminology::load_loinc`], [`Terminology::load_icd10cm`], [`Terminology::load_rxnorm`], each
//! returning a [`ReleaseLoad`] with the loader's stats.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::code_system::CodeSystem;
use crate::icd10cm::{self, Icd10CmOptions, Icd10CmStats};
use crate::loinc::{self, LoincOptions, LoincStats};
use crate::rxnorm::{self, RxNormOptions, RxNormStats};
use crate::{Error, Terminology};

/// What a `Terminology::load_…` method did.
#[derive(Debug, Clone)]
pub struct ReleaseLoad<Stats> {
    /// What was read from the release files.
    pub stats: Stats,
    /// The version given to the code system.
    pub version: Option<String>,
    /// Time to read the files and build the indexes (closure and word index included).
    pub read_time: Duration,
    /// Time to write the code system to the terminology file; `None` without a file.
    pub save_time: Option<Duration>,
    /// The loaded code system.
    pub system: Arc<CodeSystem>,
}

impl Terminology {
    /// Reads a LOINC release from `dir` ([`loinc::read_release`]), writes it to the
    /// terminology file if there is one (replacing an earlier load of the same version), and
    /// adds it.
    ///
    /// # Errors
    ///
    /// What [`loinc::read_release`] and [`Terminology::save_code_system`] return.
    pub fn load_loinc(
        &self,
        dir: &Path,
        options: &LoincOptions,
    ) -> Result<ReleaseLoad<LoincStats>, Error> {
        let started = Instant::now();
        let (system, stats) = loinc::read_release(dir, options)?;
        let load = self.install(system, stats, started.elapsed())?;
        tracing::info!(
            terms = load.stats.term_rows,
            parts = load.stats.part_rows,
            parent_links = load.stats.parent_links,
            read_ms = load.read_time.as_millis() as u64,
            "loaded LOINC"
        );
        Ok(load)
    }

    /// Reads an ICD-10-CM order file from `dir` ([`icd10cm::read_order_file`]), writes it to
    /// the terminology file if there is one (replacing an earlier load of the same version),
    /// and adds it.
    ///
    /// # Errors
    ///
    /// What [`icd10cm::read_order_file`] and [`Terminology::save_code_system`] return.
    pub fn load_icd10cm(
        &self,
        dir: &Path,
        options: &Icd10CmOptions,
    ) -> Result<ReleaseLoad<Icd10CmStats>, Error> {
        let started = Instant::now();
        let (system, stats) = icd10cm::read_order_file(dir, options)?;
        let load = self.install(system, stats, started.elapsed())?;
        tracing::info!(
            codes = load.stats.concepts,
            headers = load.stats.header_codes,
            read_ms = load.read_time.as_millis() as u64,
            "loaded ICD-10-CM"
        );
        Ok(load)
    }

    /// Reads an RxNorm release from `dir` ([`rxnorm::read_release`]), writes it to the
    /// terminology file if there is one (replacing an earlier load of the same version), and
    /// adds it.
    ///
    /// # Errors
    ///
    /// What [`rxnorm::read_release`] and [`Terminology::save_code_system`] return.
    pub fn load_rxnorm(
        &self,
        dir: &Path,
        options: &RxNormOptions,
    ) -> Result<ReleaseLoad<RxNormStats>, Error> {
        let started = Instant::now();
        let (system, stats) = rxnorm::read_release(dir, options)?;
        let load = self.install(system, stats, started.elapsed())?;
        tracing::info!(
            concepts = load.stats.concepts,
            relationships = load.stats.relationship_properties,
            read_ms = load.read_time.as_millis() as u64,
            "loaded RxNorm"
        );
        Ok(load)
    }

    /// Saves `system` when the service has a file, else adds it in memory.
    fn install<Stats>(
        &self,
        system: CodeSystem,
        stats: Stats,
        read_time: Duration,
    ) -> Result<ReleaseLoad<Stats>, Error> {
        let version = system.version().map(str::to_owned);
        let (system, save_time) = if self.has_database() {
            let saving = Instant::now();
            let system = self.save_code_system(system)?;
            (system, Some(saving.elapsed()))
        } else {
            (self.add_code_system(system), None)
        };
        Ok(ReleaseLoad {
            stats,
            version,
            read_time,
            save_time,
            system,
        })
    }
}
