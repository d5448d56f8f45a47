//! [`Package`]: the manifest and the conformance resources of one archive.

use crate::archive::{self, Limits};
use crate::manifest::Manifest;
use crate::{Error, InvalidEntry};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The resource types a package installs, in the order they are installed: code systems
/// before the value sets that include them, definitions before the search parameters and
/// profiles that may refer to them.
pub const KEPT_TYPES: [&str; 5] = [
    "CodeSystem",
    "ValueSet",
    "ConceptMap",
    "StructureDefinition",
    "SearchParameter",
];

/// How to read an archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Bounds on the archive's entries.
    pub limits: Limits,
    /// Leave invalid resource files out (listed in [`Package::invalid`]) instead of refusing
    /// the package.
    pub skip_invalid: bool,
}

/// An NPM-format FHIR package, read and checked: its manifest and the conformance resources to
/// install.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `name` of `package.json` (`hl7.fhir.us.core`).
    pub name: String,
    /// `version` of `package.json` (`6.1.0`).
    pub version: String,
    /// `fhirVersions` of `package.json`; empty when not stated.
    pub fhir_versions: Vec<String>,
    /// `dependencies` of `package.json`: package name → version.
    pub dependencies: BTreeMap<String, String>,
    /// The CodeSystems, ValueSets, ConceptMaps, StructureDefinitions and SearchParameters,
    /// in that order, each type sorted by file name. Each has a valid `id` and a `url`.
    pub resources: Vec<Value>,
    /// Resource files of other types directly under `package/` (examples, the
    /// ImplementationGuide, CapabilityStatements …): how many of each type.
    pub skipped: BTreeMap<String, usize>,
    /// Invalid resource files left out because [`ReadOptions::skip_invalid`] was set.
    pub invalid: Vec<InvalidEntry>,
}

/// A resource kept while reading, with what it is sorted by.
struct Kept {
    rank: usize,
    file: String,
    body: Value,
}

impl Package {
    /// Reads the `.tgz` archive at `path` with the default limits, refusing it if any
    /// resource file is invalid.
    ///
    /// # Errors
    /// See [`Package::from_tgz`]; also [`Error::Io`] when the file cannot be opened.
    pub fn read(path: &Path) -> Result<Package, Error> {
        Package::read_with(path, &ReadOptions::default())
    }

    /// Reads the `.tgz` archive at `path` with `options`.
    ///
    /// # Errors
    /// See [`Package::from_tgz`]; also [`Error::Io`] when the file cannot be opened.
    pub fn read_with(path: &Path, options: &ReadOptions) -> Result<Package, Error> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Package::from_tgz(file, options)
    }

    /// Reads a `.tgz` archive from `reader`: `package/package.json` and the JSON files directly
    /// under `package/`. Sub-folders (`package/example/`, `package/other/`, …), `.index.json`
    /// and files that do not end in `.json` are passed over unread.
    ///
    /// # Errors
    /// An archive that is not gzip or is damaged, an entry with an unsafe path, an archive over
    /// [`ReadOptions::limits`], a missing or malformed `package.json`, a package for FHIR
    /// releases other than R4, and (unless [`ReadOptions::skip_invalid`]) resource files that
    /// are not JSON, have no `resourceType`, or, for the kept types, no valid `id`, no `url`,
    /// or the same type and id as another file.
    pub fn from_tgz(reader: impl std::io::Read, options: &ReadOptions) -> Result<Package, Error> {
        let mut manifest = None;
        let mut kept = Vec::new();
        let mut skipped = BTreeMap::new();
        let mut invalid = Vec::new();
        // Type/id → the file that defined it, to catch a second file with the same identity.
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut read_files = HashSet::new();
        archive::walk(
            reader,
            &options.limits,
            is_wanted,
            |path, components, bytes| {
                let file = components.join("/");
                if !read_files.insert(file.clone()) {
                    return Err(Error::DuplicateEntry {
                        entry: path.to_owned(),
                    });
                }
                if components == ["package", "package.json"] {
                    manifest = Some(Manifest::parse(&bytes)?);
                    return Ok(());
                }
                match classify(&bytes) {
                    Err(reason) => invalid.push(InvalidEntry { file, reason }),
                    Ok(Resource::Skipped(resource_type)) => {
                        *skipped.entry(resource_type).or_insert(0) += 1;
                    }
                    Ok(Resource::Kept {
                        rank,
                        identity,
                        body,
                    }) => {
                        if let Some(first) = seen.get(&identity) {
                            invalid.push(InvalidEntry {
                                reason: format!("{identity} is also defined by {first}"),
                                file,
                            });
                        } else {
                            seen.insert(identity, file.clone());
                            kept.push(Kept { rank, file, body });
                        }
                    }
                }
                Ok(())
            },
        )?;
        let manifest = manifest.ok_or(Error::NoManifest)?;
        manifest.check_r4()?;
        if !invalid.is_empty() && !options.skip_invalid {
            return Err(Error::InvalidResources { entries: invalid });
        }
        kept.sort_by(|a, b| (a.rank, &a.file).cmp(&(b.rank, &b.file)));
        Ok(Package {
            name: manifest.name,
            version: manifest.version,
            fhir_versions: manifest.fhir_versions,
            dependencies: manifest.dependencies,
            resources: kept.into_iter().map(|kept| kept.body).collect(),
            skipped,
            invalid,
        })
    }

    /// How many resources of each kept type the package holds.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for resource in &self.resources {
            let resource_type = resource
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            *counts.entry(resource_type.to_owned()).or_insert(0) += 1;
        }
        counts
    }
}

/// True for `package/package.json` and JSON files directly under `package/`, except the
/// package tools' `.index.json`.
fn is_wanted(components: &[&str]) -> bool {
    match components {
        ["package", file] => file.ends_with(".json") && *file != ".index.json",
        _ => false,
    }
}

/// What a resource file holds.
enum Resource {
    /// A resource of a type the installer keeps, checked.
    Kept {
        rank: usize,
        /// `Type/id`.
        identity: String,
        body: Value,
    },
    /// A resource of another type.
    Skipped(String),
}

/// Parses a resource file and checks what the installer relies on; `Err` says what is wrong.
fn classify(bytes: &[u8]) -> Result<Resource, String> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|error| format!("not JSON: {error}"))?;
    let resource_type = match body.get("resourceType") {
        Some(Value::String(resource_type)) if !resource_type.is_empty() => resource_type.clone(),
        Some(_) => return Err("resourceType is not a non-empty string".to_owned()),
        None if body.is_object() => return Err("no resourceType".to_owned()),
        None => return Err("not a JSON object".to_owned()),
    };
    let Some(rank) = KEPT_TYPES.iter().position(|kept| *kept == resource_type) else {
        return Ok(Resource::Skipped(resource_type));
    };
    let id = match body.get("id") {
        Some(Value::String(id)) if is_valid_id(id) => id.clone(),
        Some(Value::String(id)) => {
            return Err(format!(
                "{resource_type} id '{id}' is not a valid FHIR id (1-64 characters of A-Z, a-z, 0-9, '-' and '.')"
            ));
        }
        Some(other) => return Err(format!("{resource_type} id {other} is not a string")),
        None => return Err(format!("{resource_type} has no id")),
    };
    match body.get("url") {
        Some(Value::String(url)) if !url.trim().is_empty() => {}
        _ => return Err(format!("{resource_type}/{id} has no url")),
    }
    Ok(Resource::Kept {
        rank,
        identity: format!("{resource_type}/{id}"),
        body,
    })
}

/// FHIR's id syntax: `[A-Za-z0-9\-\.]{1,64}`.
fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_files_directly_under_package_are_read() {
        assert!(is_wanted(&["package", "package.json"]));
        assert!(is_wanted(&["package", "StructureDefinition-x.json"]));
        assert!(!is_wanted(&["package", ".index.json"]));
        assert!(!is_wanted(&["package", "example", "Patient-a.json"]));
        assert!(!is_wanted(&["package", "other", "spec.internals"]));
        assert!(!is_wanted(&["package", "x.xml"]));
        assert!(!is_wanted(&["x.json"]));
    }

    #[test]
    fn resources_are_checked_for_what_installing_needs() {
        let reason = |json: &str| classify(json.as_bytes()).err();
        assert_eq!(reason("{").map(|r| r.starts_with("not JSON")), Some(true));
        assert_eq!(reason("[]").as_deref(), Some("not a JSON object"));
        assert_eq!(reason(r#"{"id":"a"}"#).as_deref(), Some("no resourceType"));
        assert_eq!(
            reason(r#"{"resourceType":"ValueSet","url":"http://x"}"#).as_deref(),
            Some("ValueSet has no id")
        );
        assert_eq!(
            reason(r#"{"resourceType":"ValueSet","id":"a b","url":"http://x"}"#).as_deref(),
            Some(
                "ValueSet id 'a b' is not a valid FHIR id (1-64 characters of A-Z, a-z, 0-9, '-' and '.')"
            )
        );
        assert_eq!(
            reason(r#"{"resourceType":"CodeSystem","id":"a"}"#).as_deref(),
            Some("CodeSystem/a has no url")
        );
        // Other types are only counted: an example without an id is no reason to refuse.
        assert!(matches!(
            classify(br#"{"resourceType":"Patient"}"#),
            Ok(Resource::Skipped(resource_type)) if resource_type == "Patient"
        ));
        assert!(matches!(
            classify(br#"{"resourceType":"SearchParameter","id":"race","url":"http://x"}"#),
            Ok(Resource::Kept { rank: 4, identity, .. }) if identity == "SearchParameter/race"
        ));
    }
}
