//! The crate's error type.

use std::path::PathBuf;

/// A resource file of the package that cannot be installed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntry {
    /// The entry's path in the archive (`package/StructureDefinition-x.json`).
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for InvalidEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}

/// Why a package archive was refused.
///
/// Archive-level problems (not gzip, unsafe or oversized entries, no manifest, a manifest for
/// another FHIR release) always refuse the whole package; invalid resource files do so unless
/// the reader was asked to skip them ([`crate::ReadOptions::skip_invalid`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("cannot read '{}': {source}", path.display())]
    Io {
        /// The archive's path.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file does not start with the gzip signature.
    #[error("not a gzip-compressed archive (a FHIR package is an NPM .tgz file)")]
    NotGzip,
    /// The gzip stream or the tar structure inside it is damaged.
    #[error("damaged archive: {source}")]
    Archive {
        /// The decompressor's or tar reader's complaint.
        source: std::io::Error,
    },
    /// An entry's path is absolute or climbs out of the archive with `..`.
    #[error("entry '{entry}' has an unsafe path (absolute or with '..')")]
    UnsafePath {
        /// The entry's path as the archive spells it.
        entry: String,
    },
    /// The same file appears twice in the archive.
    #[error("entry '{entry}' appears twice in the archive")]
    DuplicateEntry {
        /// The entry's path.
        entry: String,
    },
    /// The archive has more entries than allowed.
    #[error("the archive has more than {limit} entries")]
    TooManyEntries {
        /// The most entries allowed.
        limit: usize,
    },
    /// One entry is larger, uncompressed, than allowed.
    #[error("entry '{entry}' is {size} bytes uncompressed, over the limit of {limit} bytes")]
    EntryTooLarge {
        /// The entry's path.
        entry: String,
        /// Its uncompressed size as the tar header states it.
        size: u64,
        /// The largest entry allowed.
        limit: u64,
    },
    /// The entries together are larger, uncompressed, than allowed.
    #[error(
        "the archive is over the limit of {limit} bytes uncompressed (reached at entry '{entry}')"
    )]
    ArchiveTooLarge {
        /// The entry that went over the limit.
        entry: String,
        /// The largest total allowed.
        limit: u64,
    },
    /// The decompressed stream is larger than the entry limits allow, headers included (a
    /// header claiming a huge long name, say).
    #[error("the archive decompresses to more than {limit} bytes")]
    DecompressedTooLarge {
        /// The most decompressed bytes allowed.
        limit: u64,
    },
    /// There is no `package/package.json`.
    #[error("no package/package.json in the archive: not an NPM-format FHIR package")]
    NoManifest,
    /// `package/package.json` is not a JSON object.
    #[error("package/package.json is not a JSON object: {reason}")]
    ManifestNotJson {
        /// The parser's complaint.
        reason: String,
    },
    /// A field of `package/package.json` is missing or malformed.
    #[error("package/package.json: '{field}' {reason}")]
    ManifestField {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The package declares FHIR versions, none of them R4 (4.0.x).
    #[error("package {name}#{version} is for FHIR {declared}, not R4 (4.0.x)")]
    NotR4 {
        /// The package's name.
        name: String,
        /// The package's version.
        version: String,
        /// What it declares: its `fhirVersions`, or the core packages it depends on.
        declared: String,
    },
    /// Resource files that cannot be installed (and the reader was not asked to skip them).
    #[error("{} invalid resource file(s): {}", entries.len(), summarize(entries))]
    InvalidResources {
        /// Every invalid file, in archive order.
        entries: Vec<InvalidEntry>,
    },
}

/// The first few entries, `; `-separated, and how many more there are.
fn summarize(entries: &[InvalidEntry]) -> String {
    const SHOWN: usize = 10;
    let mut text = entries
        .iter()
        .take(SHOWN)
        .map(InvalidEntry::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if entries.len() > SHOWN {
        text.push_str(&format!("; and {} more", entries.len() - SHOWN));
    }
    text
}
