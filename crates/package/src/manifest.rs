//! `package/package.json`: the package's name, version, FHIR versions and dependencies, and the
//! check that it is meant for R4.

use crate::Error;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the installer needs from `package/package.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) fhir_versions: Vec<String>,
    pub(crate) dependencies: BTreeMap<String, String>,
}

/// Longest package name npm allows.
const MAX_NAME: usize = 214;
/// A generous bound for a version string (semver with pre-release and build tags).
const MAX_VERSION: usize = 128;

impl Manifest {
    /// Parses and checks the manifest's bytes.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Manifest, Error> {
        let json: Value =
            serde_json::from_slice(bytes).map_err(|error| Error::ManifestNotJson {
                reason: error.to_string(),
            })?;
        let Some(object) = json.as_object() else {
            return Err(Error::ManifestNotJson {
                reason: "the top level is not an object".to_owned(),
            });
        };
        // The name and version become the key of the install record (`name#version`), so
        // they are held to npm's characters rather than taken as any string.
        let name = required_text(
            object,
            "name",
            MAX_NAME,
            "letters, digits and . - _ @ /",
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '/'),
        )?;
        let version = required_text(
            object,
            "version",
            MAX_VERSION,
            "letters, digits and . - +",
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'),
        )?;
        let fhir_versions = match object.get("fhirVersions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::ManifestField {
                            field: "fhirVersions",
                            reason: format!("holds {item}, not a version string"),
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(Error::ManifestField {
                    field: "fhirVersions",
                    reason: format!("is {other}, not an array of version strings"),
                });
            }
        };
        let dependencies = match object.get("dependencies") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(package, version)| match version.as_str() {
                    Some(version) => Ok((package.clone(), version.to_owned())),
                    None => Err(Error::ManifestField {
                        field: "dependencies",
                        reason: format!("gives {version} for '{package}', not a version string"),
                    }),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(Error::ManifestField {
                    field: "dependencies",
                    reason: format!("is {other}, not an object of package versions"),
                });
            }
        };
        Ok(Manifest {
            name,
            version,
            fhir_versions,
            dependencies,
        })
    }

    /// Refuses a package that declares only FHIR releases other than R4: by `fhirVersions`
    /// when it has them, otherwise by the `hl7.fhir.rN.core` packages it depends on. A package
    /// that states neither is accepted.
    pub(crate) fn check_r4(&self) -> Result<(), Error> {
        let declared: Vec<&str> = if self.fhir_versions.is_empty() {
            self.dependencies
                .keys()
                .map(String::as_str)
                .filter(|package| is_core_package(package))
                .collect()
        } else {
            self.fhir_versions.iter().map(String::as_str).collect()
        };
        let is_r4 = |declared: &str| is_r4_version(declared) || declared == "hl7.fhir.r4.core";
        if declared.is_empty() || declared.iter().any(|item| is_r4(item)) {
            Ok(())
        } else {
            Err(Error::NotR4 {
                name: self.name.clone(),
                version: self.version.clone(),
                declared: declared.join(", "),
            })
        }
    }
}

/// `field` as a non-empty string of at most `max` characters that all pass `allowed`
/// (`described` in the error message).
fn required_text(
    object: &serde_json::Map<String, Value>,
    field: &'static str,
    max: usize,
    described: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<String, Error> {
    let text = match object.get(field) {
        Some(Value::String(text)) => text,
        None => {
            return Err(Error::ManifestField {
                field,
                reason: "is missing".to_owned(),
            });
        }
        Some(other) => {
            return Err(Error::ManifestField {
                field,
                reason: format!("is {other}, not a string"),
            });
        }
    };
    if text.is_empty() || text.chars().count() > max || !text.chars().all(allowed) {
        return Err(Error::ManifestField {
            field,
            reason: format!("'{text}' is not a valid package {field} (1-{max} {described})"),
        });
    }
    Ok(text.clone())
}

/// True for FHIR R4's version numbers: 4.0, 4.0.0, 4.0.1 (R4B is 4.3).
fn is_r4_version(version: &str) -> bool {
    version == "4.0" || version.starts_with("4.0.") || version.eq_ignore_ascii_case("R4")
}

/// True for the core specification packages: `hl7.fhir.r4.core`, `hl7.fhir.r5.core`, …
fn is_core_package(package: &str) -> bool {
    package
        .strip_prefix("hl7.fhir.r")
        .and_then(|rest| rest.strip_suffix(".core"))
        .is_some_and(|release| {
            let digits = release.trim_end_matches('b');
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(json: &str) -> Result<Manifest, Error> {
        Manifest::parse(json.as_bytes())
    }

    #[test]
    fn r4_is_recognised_by_versions_or_core_dependency() -> Result<(), Error> {
        let by_versions = manifest(r#"{"name":"a.b","version":"1.0.0","fhirVersions":["4.0.1"]}"#)?;
        by_versions.check_r4()?;
        let by_dependency = manifest(
            r#"{"name":"a.b","version":"1.0.0","dependencies":{"hl7.fhir.r4.core":"4.0.1","hl7.terminology":"5.0.0"}}"#,
        )?;
        by_dependency.check_r4()?;
        let silent = manifest(r#"{"name":"a.b","version":"1.0.0"}"#)?;
        silent.check_r4()?;
        let both = manifest(r#"{"name":"a.b","version":"1","fhirVersions":["4.0.1","5.0.0"]}"#)?;
        both.check_r4()?;
        Ok(())
    }

    #[test]
    fn other_releases_are_refused_with_what_they_declare() -> Result<(), Error> {
        let r5 = manifest(r#"{"name":"a.b","version":"2.0.0","fhirVersions":["5.0.0"]}"#)?;
        let error = r5.check_r4().err().map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("package a.b#2.0.0 is for FHIR 5.0.0, not R4 (4.0.x)")
        );
        let r4b = manifest(
            r#"{"name":"a.b","version":"1","dependencies":{"hl7.fhir.r4b.core":"4.3.0"}}"#,
        )?;
        let error = r4b.check_r4().err().map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("package a.b#1 is for FHIR hl7.fhir.r4b.core, not R4 (4.0.x)")
        );
        Ok(())
    }

    #[test]
    fn malformed_fields_are_named() {
        let message = |json: &str| manifest(json).err().map(|error| error.to_string());
        assert_eq!(
            message(r#"{"version":"1"}"#).as_deref(),
            Some("package/package.json: 'name' is missing")
        );
        assert_eq!(
            message(r#"{"name":"a#b","version":"1"}"#).as_deref(),
            Some(
                "package/package.json: 'name' 'a#b' is not a valid package name (1-214 letters, digits and . - _ @ /)"
            )
        );
        assert_eq!(
            message(r#"{"name":"a","version":1}"#).as_deref(),
            Some("package/package.json: 'version' is 1, not a string")
        );
        assert_eq!(
            message(r#"{"name":"a","version":"1","fhirVersions":"4.0.1"}"#).as_deref(),
            Some(
                "package/package.json: 'fhirVersions' is \"4.0.1\", not an array of version strings"
            )
        );
        assert!(
            message("[1]").is_some_and(|text| text.contains("not a JSON object")),
            "{:?}",
            message("[1]")
        );
    }

    #[test]
    fn core_packages_are_recognised() {
        assert!(is_core_package("hl7.fhir.r4.core"));
        assert!(is_core_package("hl7.fhir.r4b.core"));
        assert!(is_core_package("hl7.fhir.r5.core"));
        assert!(!is_core_package("hl7.fhir.r4.examples"));
        assert!(!is_core_package("hl7.fhir.us.core"));
        assert!(!is_core_package("hl7.fhir.r.core"));
    }
}
