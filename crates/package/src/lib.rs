//! Reading and checking NPM-format FHIR packages (implementation guides such as US Core).
//!
//! This crate owns what a package archive is: a gzip-compressed tar file with
//! `package/package.json` (name, version, `fhirVersions`, `dependencies`) and one JSON resource
//! per file under `package/`. [`Package::read`] walks the archive within [`Limits`], refuses
//! unsafe paths and packages for FHIR releases other than R4, and keeps the conformance
//! resources an installer stores ([`KEPT_TYPES`]: CodeSystem, ValueSet, ConceptMap,
//! StructureDefinition, SearchParameter), each checked for a valid `id` and a `url`. Examples
//! and other resource types are counted in [`Package::skipped`]; invalid files are reported
//! with their path ([`Error::InvalidResources`]) or, on request, left out
//! ([`ReadOptions::skip_invalid`]).
//!
//! Does not: write to a store, fetch packages or their dependencies over HTTP, or unpack
//! anything to disk. `medulla package install` (the binary) stores what this crate reads.
//!
//! ```
//! use medulla_package::{Package, ReadOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # fn tgz(files: &[(&str, &str)]) -> std::io::Result<Vec<u8>> {
//! #     let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! #     let mut builder = tar::Builder::new(gzip);
//! #     for (path, text) in files {
//! #         let mut header = tar::Header::new_gnu();
//! #         header.set_size(text.len() as u64);
//! #         header.set_mode(0o644);
//! #         builder.append_data(&mut header, path, text.as_bytes())?;
//! #     }
//! #     builder.into_inner()?.finish()
//! # }
//! let archive = tgz(&[
//!     ("package/package.json", r#"{"name": "example.fhir.ig", "version": "1.0.0", "fhirVersions": ["4.0.1"]}"#),
//!     ("package/ValueSet-colours.json", r#"{"resourceType": "ValueSet", "id": "colours", "url": "http://example.org/ValueSet/colours"}"#),
//!     ("package/Patient-example.json", r#"{"resourceType": "Patient", "id": "example"}"#),
//! ])?;
//! let package = Package::from_tgz(archive.as_slice(), &ReadOptions::default())?;
//! assert_eq!((package.name.as_str(), package.version.as_str()), ("example.fhir.ig", "1.0.0"));
//! assert_eq!(package.resources.len(), 1);
//! assert_eq!(package.resources[0]["id"], "colours");
//! assert_eq!(package.skipped.get("Patient"), Some(&1));
//! # Ok(()) }
//! ```

mod archive;
mod error;
mod manifest;
mod package;

pub use archive::Limits;
pub use error::{Error, InvalidEntry};
pub use package::{KEPT_TYPES, Package, ReadOptions};
