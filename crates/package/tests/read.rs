//! Reading package archives built here with `tar` and `flate2`: a small US Core-like package,
//! and archives that are broken in each way the reader must refuse.

use medulla_package::{Error, Limits, Package, ReadOptions};
use serde_json::{Value, json};
use std::io::Read as _;

/// A gzip-compressed tar archive of `files` (path, contents), paths written as given, even
/// unsafe ones (the tar builder's own path checks would refuse `..`).
fn tgz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gzip);
    for (path, contents) in files {
        let mut header = tar::Header::new_old();
        let name = &mut header.as_old_mut().name;
        assert!(path.len() < name.len(), "test paths fit the old header");
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder
            .append(&header, contents.as_slice())
            .expect("append to an in-memory archive");
    }
    builder
        .into_inner()
        .and_then(|gzip| gzip.finish())
        .expect("finish an in-memory archive")
}

fn file<'a>(path: &'a str, json: &Value) -> (&'a str, Vec<u8>) {
    (path, json.to_string().into_bytes())
}

const RACE_EXTENSION: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race";

fn manifest() -> Value {
    json!({
        "name": "example.fhir.us.mini",
        "version": "1.2.0",
        "fhirVersions": ["4.0.1"],
        "dependencies": {"hl7.fhir.r4.core": "4.0.1", "hl7.terminology.r4": "5.0.0"}
    })
}

/// A package shaped like US Core: a Patient profile, a ValueSet, a CodeSystem, a race
/// SearchParameter, the ImplementationGuide, an example under `package/example/` and files the
/// reader must pass over.
fn us_core_like() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        file("package/package.json", &manifest()),
        file(
            "package/.index.json",
            &json!({"index-version": 1, "files": []}),
        ),
        file(
            "package/StructureDefinition-us-core-patient.json",
            &json!({
                "resourceType": "StructureDefinition",
                "id": "us-core-patient",
                "url": "http://example.org/fhir/us/mini/StructureDefinition/us-core-patient",
                "name": "USCorePatientProfile",
                "status": "active",
                "kind": "resource",
                "abstract": false,
                "type": "Patient",
                "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
                "derivation": "constraint",
                "snapshot": {"element": [
                    {"id": "Patient", "path": "Patient", "min": 0, "max": "*"},
                    {"id": "Patient.identifier", "path": "Patient.identifier", "min": 1, "max": "*",
                     "type": [{"code": "Identifier"}], "mustSupport": true},
                    {"id": "Patient.name", "path": "Patient.name", "min": 1, "max": "*",
                     "type": [{"code": "HumanName"}], "mustSupport": true}
                ]}
            }),
        ),
        file(
            "package/ValueSet-omb-race-category.json",
            &json!({
                "resourceType": "ValueSet",
                "id": "omb-race-category",
                "url": "http://example.org/fhir/us/mini/ValueSet/omb-race-category",
                "status": "active",
                "compose": {"include": [{"system": "urn:oid:2.16.840.1.113883.6.238",
                    "concept": [{"code": "2106-3", "display": "White"}]}]}
            }),
        ),
        file(
            "package/CodeSystem-cdcrec.json",
            &json!({
                "resourceType": "CodeSystem",
                "id": "cdcrec",
                "url": "urn:oid:2.16.840.1.113883.6.238",
                "status": "active",
                "content": "fragment",
                "concept": [{"code": "2106-3", "display": "White"}]
            }),
        ),
        file(
            "package/SearchParameter-us-core-race.json",
            &json!({
                "resourceType": "SearchParameter",
                "id": "us-core-race",
                "url": "http://example.org/fhir/us/mini/SearchParameter/us-core-race",
                "name": "USCoreRace",
                "status": "active",
                "description": "Returns patients with a race extension matching the code.",
                "code": "race",
                "base": ["Patient"],
                "type": "token",
                "expression": format!("Patient.extension.where(url = '{RACE_EXTENSION}').extension.value.code")
            }),
        ),
        file(
            "package/ImplementationGuide-example.fhir.us.mini.json",
            &json!({"resourceType": "ImplementationGuide", "id": "example.fhir.us.mini", "url": "http://example.org/ig"}),
        ),
        file(
            "package/CapabilityStatement-server.json",
            &json!({"resourceType": "CapabilityStatement", "id": "server"}),
        ),
        file(
            "package/example/Patient-example.json",
            &json!({"resourceType": "Patient", "id": "example"}),
        ),
        // Not JSON resources at all: passed over unread.
        ("package/other/spec.internals", b"not json".to_vec()),
        ("package/README.md", b"# mini".to_vec()),
        ("package/xml/ValueSet-a.json", b"{broken".to_vec()),
    ]
}

fn read(files: &[(&str, Vec<u8>)]) -> Result<Package, Error> {
    Package::from_tgz(tgz(files).as_slice(), &ReadOptions::default())
}

fn error_of(result: Result<Package, Error>) -> String {
    match result {
        Ok(package) => panic!("expected an error, read {package:?}"),
        Err(error) => error.to_string(),
    }
}

/// The `Type/id` of each resource, in order.
fn identities(package: &Package) -> Vec<String> {
    package
        .resources
        .iter()
        .map(|resource| format!("{}/{}", resource["resourceType"], resource["id"]).replace('"', ""))
        .collect()
}

#[test]
fn a_us_core_like_package_keeps_its_conformance_resources_in_install_order() -> Result<(), Error> {
    let dir = tempfile::tempdir().map_err(|source| Error::Io {
        path: "temp dir".into(),
        source,
    })?;
    let path = dir.path().join("mini.tgz");
    std::fs::write(&path, tgz(&us_core_like())).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let package = Package::read(&path)?;
    assert_eq!(package.name, "example.fhir.us.mini");
    assert_eq!(package.version, "1.2.0");
    assert_eq!(package.fhir_versions, ["4.0.1"]);
    assert_eq!(
        package
            .dependencies
            .get("hl7.fhir.r4.core")
            .map(String::as_str),
        Some("4.0.1")
    );
    assert_eq!(
        identities(&package),
        [
            "CodeSystem/cdcrec",
            "ValueSet/omb-race-category",
            "StructureDefinition/us-core-patient",
            "SearchParameter/us-core-race",
        ]
    );
    // The resources are kept as the package has them.
    assert_eq!(package.resources[2]["snapshot"]["element"][1]["min"], 1);
    let skipped: Vec<(&str, usize)> = package
        .skipped
        .iter()
        .map(|(resource_type, count)| (resource_type.as_str(), *count))
        .collect();
    assert_eq!(
        skipped,
        [("CapabilityStatement", 1), ("ImplementationGuide", 1)]
    );
    assert_eq!(package.invalid, []);
    let counts: Vec<(String, usize)> = package.counts().into_iter().collect();
    assert_eq!(
        counts,
        [
            ("CodeSystem".to_owned(), 1),
            ("SearchParameter".to_owned(), 1),
            ("StructureDefinition".to_owned(), 1),
            ("ValueSet".to_owned(), 1),
        ]
    );
    Ok(())
}

#[test]
fn resources_of_one_type_are_sorted_by_file_name_whatever_the_archive_order() -> Result<(), Error> {
    let value_set = |id: &str| json!({"resourceType": "ValueSet", "id": id, "url": format!("http://example.org/ValueSet/{id}")});
    let package = read(&[
        file("package/ValueSet-b.json", &value_set("b")),
        file("package/ValueSet-a.json", &value_set("a")),
        file("package/package.json", &manifest()),
        file(
            "package/CodeSystem-z.json",
            &json!({"resourceType": "CodeSystem", "id": "z", "url": "http://example.org/z"}),
        ),
    ])?;
    assert_eq!(
        identities(&package),
        ["CodeSystem/z", "ValueSet/a", "ValueSet/b"]
    );
    Ok(())
}

#[test]
fn a_file_that_is_not_gzip_is_refused() {
    let result = Package::from_tgz(&b"PK\x03\x04 a zip file"[..], &ReadOptions::default());
    assert_eq!(
        error_of(result),
        "not a gzip-compressed archive (a FHIR package is an NPM .tgz file)"
    );
    let result = Package::from_tgz(&b""[..], &ReadOptions::default());
    assert!(matches!(result, Err(Error::NotGzip)), "{result:?}");
}

#[test]
fn a_missing_file_is_named() {
    let message = error_of(Package::read("/no/such/package.tgz".as_ref()));
    assert!(
        message.starts_with("cannot read '/no/such/package.tgz': "),
        "{message}"
    );
}

#[test]
fn a_truncated_archive_is_damaged() {
    let archive = tgz(&us_core_like());
    let truncated = &archive[..archive.len() / 2];
    let message = error_of(Package::from_tgz(truncated, &ReadOptions::default()));
    assert!(message.starts_with("damaged archive: "), "{message}");
}

#[test]
fn an_archive_without_package_json_is_not_a_package() {
    let message = error_of(read(&[file(
        "package/ValueSet-a.json",
        &json!({"resourceType": "ValueSet", "id": "a", "url": "http://x"}),
    )]));
    assert_eq!(
        message,
        "no package/package.json in the archive: not an NPM-format FHIR package"
    );
}

#[test]
fn package_json_that_is_not_json_is_refused() {
    let message = error_of(read(&[("package/package.json", b"name: x".to_vec())]));
    assert!(
        message.starts_with("package/package.json is not a JSON object: "),
        "{message}"
    );
}

#[test]
fn an_r5_only_package_is_refused() {
    let message = error_of(read(&[file(
        "package/package.json",
        &json!({"name": "hl7.fhir.uv.r5ig", "version": "2.0.0", "fhirVersions": ["5.0.0"]}),
    )]));
    assert_eq!(
        message,
        "package hl7.fhir.uv.r5ig#2.0.0 is for FHIR 5.0.0, not R4 (4.0.x)"
    );
    // Without fhirVersions, the core package it depends on decides.
    let message = error_of(read(&[file(
        "package/package.json",
        &json!({"name": "x.y", "version": "1", "dependencies": {"hl7.fhir.r5.core": "5.0.0"}}),
    )]));
    assert_eq!(
        message,
        "package x.y#1 is for FHIR hl7.fhir.r5.core, not R4 (4.0.x)"
    );
}

#[test]
fn entries_with_unsafe_paths_are_refused_by_name() {
    for path in ["package/../../etc/cron.d/x.json", "/package/package.json"] {
        let message = error_of(read(&[
            file("package/package.json", &manifest()),
            (path, b"{}".to_vec()),
        ]));
        assert_eq!(
            message,
            format!("entry '{path}' has an unsafe path (absolute or with '..')")
        );
    }
}

#[test]
fn a_resource_without_id_fails_the_package_unless_skipping_is_asked() -> Result<(), Error> {
    let files = [
        file("package/package.json", &manifest()),
        file(
            "package/ValueSet-no-id.json",
            &json!({"resourceType": "ValueSet", "url": "http://example.org/ValueSet/x"}),
        ),
        file(
            "package/CodeSystem-no-url.json",
            &json!({"resourceType": "CodeSystem", "id": "no-url"}),
        ),
        file(
            "package/ValueSet-good.json",
            &json!({"resourceType": "ValueSet", "id": "good", "url": "http://example.org/ValueSet/good"}),
        ),
        (
            "package/ValueSet-broken.json",
            b"{\"resourceType\":".to_vec(),
        ),
    ];
    let message = error_of(read(&files));
    assert!(
        message.starts_with(
            "3 invalid resource file(s): package/ValueSet-no-id.json: ValueSet has no id; package/CodeSystem-no-url.json: CodeSystem/no-url has no url; package/ValueSet-broken.json: not JSON: "
        ),
        "{message}"
    );
    let options = ReadOptions {
        skip_invalid: true,
        ..ReadOptions::default()
    };
    let package = Package::from_tgz(tgz(&files).as_slice(), &options)?;
    assert_eq!(identities(&package), ["ValueSet/good"]);
    let files: Vec<&str> = package.invalid.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "package/ValueSet-no-id.json",
            "package/CodeSystem-no-url.json",
            "package/ValueSet-broken.json"
        ]
    );
    Ok(())
}

#[test]
fn two_files_with_one_identity_are_invalid() {
    let value_set = json!({"resourceType": "ValueSet", "id": "a", "url": "http://example.org/a"});
    let message = error_of(read(&[
        file("package/package.json", &manifest()),
        file("package/ValueSet-a.json", &value_set),
        file("package/ValueSet-a-copy.json", &value_set),
    ]));
    assert_eq!(
        message,
        "1 invalid resource file(s): package/ValueSet-a-copy.json: ValueSet/a is also defined by package/ValueSet-a.json"
    );
    let message = error_of(read(&[
        file("package/package.json", &manifest()),
        file("package/package.json", &manifest()),
    ]));
    assert_eq!(
        message,
        "entry 'package/package.json' appears twice in the archive"
    );
}

#[test]
fn archives_over_the_limits_are_refused_naming_the_entry() {
    let limited = |limits: Limits, files: &[(&str, Vec<u8>)]| {
        let options = ReadOptions {
            limits,
            skip_invalid: false,
        };
        Package::from_tgz(tgz(files).as_slice(), &options)
    };
    let small = Limits {
        max_entry_bytes: 1000,
        max_entries: 10,
        max_total_bytes: 2500,
    };
    let big = ("package/other/big.bin", vec![b'x'; 1001]);
    let message = error_of(limited(
        small,
        &[file("package/package.json", &manifest()), big],
    ));
    assert_eq!(
        message,
        "entry 'package/other/big.bin' is 1001 bytes uncompressed, over the limit of 1000 bytes"
    );
    let medium = |path| (path, vec![b' '; 900]);
    let message = error_of(limited(
        small,
        &[
            medium("package/a.bin"),
            medium("package/b.bin"),
            medium("package/c.bin"),
        ],
    ));
    assert_eq!(
        message,
        "the archive is over the limit of 2500 bytes uncompressed (reached at entry 'package/c.bin')"
    );
    let many: Vec<(&str, Vec<u8>)> = (0..11).map(|_| ("package/x.txt", Vec::new())).collect();
    assert_eq!(
        error_of(limited(small, &many)),
        "the archive has more than 10 entries"
    );
    // The defaults are the documented ones.
    assert_eq!(
        Limits::default(),
        Limits {
            max_entry_bytes: 50 * 1024 * 1024,
            max_entries: 20_000,
            max_total_bytes: 500 * 1024 * 1024
        }
    );
}

#[test]
fn a_header_claiming_a_huge_long_name_is_stopped_while_decompressing() {
    // A GNU long-name entry is read whole by the tar reader before any entry is yielded, so
    // only the bound on the decompressed stream catches it.
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gzip);
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_size(1 << 20);
    header.set_cksum();
    builder
        .append(&header, std::io::repeat(b'a').take(1 << 20))
        .expect("append to an in-memory archive");
    let archive = builder
        .into_inner()
        .and_then(|gzip| gzip.finish())
        .expect("finish an in-memory archive");
    let options = ReadOptions {
        limits: Limits {
            max_entry_bytes: 1000,
            max_entries: 10,
            max_total_bytes: 2500,
        },
        skip_invalid: false,
    };
    let message = error_of(Package::from_tgz(archive.as_slice(), &options));
    // 2500 bytes of entries, and 2048 bytes of headers for each of 10 + 16 entries.
    assert_eq!(message, "the archive decompresses to more than 55748 bytes");
}
