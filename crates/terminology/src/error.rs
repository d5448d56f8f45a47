//! The crate's error type.

use std::path::PathBuf;

/// What went wrong in a terminology operation, load or definition.
///
/// Unknown things (`UnknownCodeSystem`, `UnknownCode`, `UnknownValueSet`) are the caller's
/// mistake and map to 404-style OperationOutcomes; definitions that cannot be used
/// (`InvalidCodeSystem`, `InvalidValueSet`, `InvalidFilter`, `InvalidConceptMap`) to 400/422;
/// release files that cannot be read (`Rf2*`, `Release*`, `Io`) and database failures to the
/// loader's caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No code system with this URL is loaded (built-in or added).
    #[error("unknown code system '{system}'")]
    UnknownCodeSystem {
        /// The code system URL asked for.
        system: String,
    },
    /// The code system is known, but not in the version asked for.
    #[error("code system '{system}' is not loaded in version '{version}' (loaded: {available})")]
    UnknownCodeSystemVersion {
        /// The code system URL.
        system: String,
        /// The version asked for.
        version: String,
        /// The versions that are loaded, comma-separated.
        available: String,
    },
    /// The code is not in the code system.
    #[error("unknown code '{code}' in code system '{system}'")]
    UnknownCode {
        /// The code system URL.
        system: String,
        /// The code asked for.
        code: String,
    },
    /// No value set with this URL (and version, if one was given) is known.
    #[error("unknown value set '{url}'")]
    UnknownValueSet {
        /// The canonical URL asked for, with `|version` if one was given.
        url: String,
    },
    /// A value set imports itself, directly or through others.
    #[error("value set '{url}' imports itself: {chain}")]
    ValueSetCycle {
        /// The value set found twice.
        url: String,
        /// The chain of imports, `a → b → a`.
        chain: String,
    },
    /// Value set imports nest deeper than the limit.
    #[error("value set '{url}' nests imports deeper than {limit} levels")]
    ValueSetTooDeep {
        /// The value set whose import went over the limit.
        url: String,
        /// The deepest nesting allowed.
        limit: usize,
    },
    /// A compose filter cannot be evaluated (unknown operator for the property, bad regex).
    #[error("value set '{value_set}': filter '{property} {op} {value}' {reason}")]
    InvalidFilter {
        /// The value set holding the filter.
        value_set: String,
        /// The filter's property.
        property: String,
        /// The filter's operator.
        op: String,
        /// The filter's value.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A value set definition cannot be used (for instance `concept` and `filter` together).
    #[error("invalid value set '{url}': {reason}")]
    InvalidValueSet {
        /// The value set's URL (empty if it has none).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A code system definition cannot be used (duplicate code, parent not in the system, a
    /// cycle in the hierarchy, a missing element).
    #[error("invalid code system '{url}': {reason}")]
    InvalidCodeSystem {
        /// The code system's URL (empty if it has none).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The expansion has more codes than the caller allowed, and no `count` asked for a page.
    #[error(
        "value set '{value_set}' expands to {total} codes, more than the limit of {limit}: \
         ask for a page with count, or narrow it with filter"
    )]
    ExpansionTooLarge {
        /// The value set expanded.
        value_set: String,
        /// How many codes the expansion has.
        total: usize,
        /// The limit given in the expand options.
        limit: usize,
    },
    /// The expansion needs a code system that is not loaded (a value set that takes all of
    /// SNOMED CT, with none loaded).
    #[error("value set '{value_set}' needs code system '{system}', which is not loaded")]
    CodeSystemNotLoaded {
        /// The value set expanded.
        value_set: String,
        /// The missing code system (with `|version` if the value set names one).
        system: String,
    },
    /// A required RF2 file is not in the release folder.
    #[error("no {kind} file ({pattern}*.txt) under {dir}")]
    Rf2MissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// Which file: `concept`, `description`, `relationship`, `language refset`.
        kind: &'static str,
        /// The file name prefix looked for.
        pattern: &'static str,
    },
    /// More than one file matches an RF2 file kind that must be unique.
    #[error("more than one {kind} file under {dir}: {files}")]
    Rf2AmbiguousFile {
        /// The folder searched.
        dir: PathBuf,
        /// Which file.
        kind: &'static str,
        /// The candidates, comma-separated.
        files: String,
    },
    /// An RF2 file's header is not the one its kind has.
    #[error("{file}: header is '{found}', expected '{expected}'")]
    Rf2Header {
        /// The file.
        file: PathBuf,
        /// The header RF2 defines, tab-separated columns shown with spaces.
        expected: &'static str,
        /// The first line of the file, cut to 200 characters.
        found: String,
    },
    /// A row of an RF2 file cannot be read.
    #[error("{file}:{line}: {reason}")]
    Rf2Line {
        /// The file.
        file: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// A required file of a LOINC, ICD-10-CM or RxNorm release is not in the folder.
    #[error("no {kind} file ({expected}) under {dir}")]
    ReleaseMissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// Which file: `Loinc.csv`, `order`, `RXNCONSO`.
        kind: &'static str,
        /// Where it was looked for, or the name pattern.
        expected: String,
    },
    /// More than one file in a release folder matches a file that must be unique.
    #[error("more than one {kind} file under {dir}: {files}")]
    ReleaseAmbiguousFile {
        /// The folder searched.
        dir: PathBuf,
        /// Which file.
        kind: &'static str,
        /// The candidates, comma-separated.
        files: String,
    },
    /// A row of a LOINC, ICD-10-CM or RxNorm release file cannot be read (line 1 for a
    /// header that lacks a column).
    #[error("{file}:{line}: {reason}")]
    ReleaseLine {
        /// The file.
        file: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with the row.
        reason: String,
    },
    /// No concept map with this URL (and version, if one was given) is known.
    #[error("unknown concept map '{url}'")]
    UnknownConceptMap {
        /// The canonical URL asked for, with `|version` if one was given.
        url: String,
    },
    /// A ConceptMap resource cannot be used (not a ConceptMap, no `url`, an element of the
    /// wrong type, an unknown equivalence or unmapped mode), or its `unmapped` `other-map`
    /// references chain deeper than the limit.
    #[error("invalid concept map '{url}': {reason}")]
    InvalidConceptMap {
        /// The concept map's URL (empty if it has none).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A `$translate` request that cannot be answered as asked (no code, no concept map to
    /// use).
    #[error("invalid $translate request: {reason}")]
    InvalidTranslateRequest {
        /// What is missing or contradictory.
        reason: String,
    },
    /// ECL text that does not parse.
    #[error("invalid ECL '{expression}' at character {position}: {reason}")]
    InvalidEcl {
        /// The expression.
        expression: String,
        /// The 1-based character position of the problem.
        position: usize,
        /// What was expected there, and what was found.
        reason: String,
    },
    /// ECL that parses but uses what cannot be evaluated yet.
    #[error("ECL '{expression}' cannot be evaluated: {feature}")]
    EclNotSupported {
        /// The expression.
        expression: String,
        /// What is not supported, and why.
        feature: &'static str,
    },
    /// A file or folder could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done: `read`, `open`, `create`, `list`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The terminology database reported an error.
    #[error("terminology database: cannot {action}: {source}")]
    Database {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The terminology file was written by a build with another layout.
    #[error(
        "the terminology file {path} has layout version {found}, this build reads version \
         {expected}: move it away and load the release files again"
    )]
    LayoutVersion {
        /// The file.
        path: PathBuf,
        /// The file's layout version.
        found: i64,
        /// The layout this build reads and writes.
        expected: i64,
    },
    /// A code system was to be saved, but this terminology has no file (it was made with
    /// [`crate::Terminology::in_memory`]).
    #[error("cannot save code system '{system}': this terminology service has no database file")]
    NoDatabase {
        /// The code system that was to be saved.
        system: String,
    },
    /// A table would exceed what the in-memory indexes address (4 Gi entries or bytes).
    #[error("code system '{system}' is too large: more than 4 Gi {what}")]
    TooLarge {
        /// The code system.
        system: String,
        /// What overflowed: `concepts`, `bytes of text`, `ancestor entries`.
        what: &'static str,
    },
}

impl Error {
    /// Whether the error says something asked for does not exist (code system, version, code,
    /// value set, concept map): the 404-style class of FHIR terminology errors.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::UnknownCodeSystem { .. }
                | Error::UnknownCodeSystemVersion { .. }
                | Error::UnknownCode { .. }
                | Error::UnknownValueSet { .. }
                | Error::UnknownConceptMap { .. }
        )
    }

    /// Whether the failure is the server's (a file or database that cannot be read), not the
    /// request's: such errors are logged and answered with a generic 500.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::Database { .. }
                | Error::LayoutVersion { .. }
                | Error::NoDatabase { .. }
        )
    }

    pub(crate) fn database(action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Database { action, source }
    }
}
