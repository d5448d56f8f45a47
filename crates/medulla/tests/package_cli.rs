//! `medulla package install|list` with the real binary on archives built here, and an
//! installed SearchParameter answering searches from `medulla serve` after `$reindex`.

mod common;

use common::{Served, medulla};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RACE_EXTENSION: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race";
const RACE_PARAMETER_URL: &str = "http://example.org/fhir/us/mini/SearchParameter/us-core-race";

/// Writes a gzip-compressed tar archive of `files` (path, JSON) to `dir/name`.
fn write_tgz(dir: &Path, name: &str, files: &[(&str, Value)]) -> PathBuf {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gzip);
    for (path, json) in files {
        let bytes = json.to_string().into_bytes();
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .expect("append to an in-memory archive");
    }
    let archive = builder
        .into_inner()
        .and_then(|gzip| gzip.finish())
        .expect("finish an in-memory archive");
    let path = dir.join(name);
    std::fs::write(&path, archive).expect("write the archive");
    path
}

fn manifest(name: &str, version: &str) -> (&'static str, Value) {
    (
        "package/package.json",
        json!({"name": name, "version": version, "fhirVersions": ["4.0.1"],
               "dependencies": {"hl7.fhir.r4.core": "4.0.1"}}),
    )
}

fn value_set(id: &str, url: &str, title: &str) -> Value {
    json!({"resourceType": "ValueSet", "id": id, "url": url, "status": "active", "title": title})
}

/// A package shaped like US Core: a Patient profile, a ValueSet, a CodeSystem, the race
/// SearchParameter, and an example that must not be installed.
fn us_core_like(version: &str, value_set_title: &str) -> Vec<(&'static str, Value)> {
    vec![
        manifest("example.fhir.us.mini", version),
        (
            "package/StructureDefinition-us-core-patient.json",
            json!({
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
                    {"id": "Patient.name", "path": "Patient.name", "min": 1, "max": "*",
                     "type": [{"code": "HumanName"}], "mustSupport": true}
                ]}
            }),
        ),
        (
            "package/ValueSet-omb-race-category.json",
            value_set(
                "omb-race-category",
                "http://example.org/fhir/us/mini/ValueSet/omb-race-category",
                value_set_title,
            ),
        ),
        (
            "package/CodeSystem-cdcrec.json",
            json!({
                "resourceType": "CodeSystem", "id": "cdcrec",
                "url": "urn:oid:2.16.840.1.113883.6.238", "status": "active",
                "content": "fragment", "concept": [{"code": "2106-3", "display": "White"}]
            }),
        ),
        (
            "package/SearchParameter-us-core-race.json",
            json!({
                "resourceType": "SearchParameter",
                "id": "us-core-race",
                "url": RACE_PARAMETER_URL,
                "name": "USCoreRace",
                "status": "active",
                "description": "Returns patients with a race extension matching the code.",
                "code": "race",
                "base": ["Patient"],
                "type": "token",
                "expression": format!("Patient.extension.where(url = '{RACE_EXTENSION}').extension.value.code")
            }),
        ),
        (
            "package/ImplementationGuide-example.fhir.us.mini.json",
            json!({"resourceType": "ImplementationGuide", "id": "example.fhir.us.mini"}),
        ),
        (
            "package/example/Patient-example.json",
            json!({"resourceType": "Patient", "id": "example"}),
        ),
    ]
}

/// Runs `medulla ARGS --data DATA`: (exit code, stdout, stderr).
fn run(args: &[&str], data: &Path) -> (i32, String, String) {
    let output = medulla()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("medulla runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn install(archive: &Path, data: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["package", "install", archive.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    run(&args, data)
}

fn install_ok(archive: &Path, data: &Path) -> Value {
    let (code, out, err) = install(archive, data, &[]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("a JSON summary")
}

fn list(data: &Path) -> Value {
    let (code, out, err) = run(&["package", "list"], data);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("a JSON list")
}

fn race_patient(family: &str, code: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "name": [{"family": family}],
        "extension": [{
            "url": RACE_EXTENSION,
            "extension": [
                {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": code}},
                {"url": "text", "valueString": "race"}
            ]
        }]
    })
}

fn post(served: &Served, path: &str, body: &Value) -> (u16, Value, Option<String>) {
    let response = served
        .client
        .post(format!("{}/{path}", served.base))
        .header("Content-Type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .expect("answered");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("content-location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (status, response.json().unwrap_or_default(), location)
}

/// A Parameters member's value.
fn parameter<'v>(parameters: &'v Value, name: &str, value: &str) -> &'v Value {
    parameters["parameter"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .map_or(&Value::Null, |p| &p[value])
}

#[test]
fn an_installed_search_parameter_finds_patients_after_reindex() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    // A patient stored before the package exists: no index rows for `race` yet.
    let served = Served::start(&data);
    let (status, body, _) = post(&served, "Patient", &race_patient("Before", "2106-3"));
    assert_eq!(status, 201, "{body}");
    let strict = served
        .client
        .get(format!("{}/Patient?race=2106-3", served.base))
        .header("Prefer", "handling=strict")
        .send()
        .expect("answered");
    assert_eq!(strict.status().as_u16(), 400, "race is unknown before");
    drop(served);

    let archive = write_tgz(dir.path(), "mini.tgz", &us_core_like("1.0.0", "OMB race"));
    let summary = install_ok(&archive, &data);
    assert_eq!(
        summary["resources"],
        json!({"CodeSystem": 1, "SearchParameter": 1, "StructureDefinition": 1, "ValueSet": 1})
    );
    assert_eq!(summary["written"], 4);
    assert_eq!(summary["skipped"], json!({"ImplementationGuide": 1}));

    let served = Served::start(&data);
    // The server loads the SearchParameter at start, but the older patient's rows predate it.
    assert_eq!(served.count("Patient?race=2106-3"), 0);
    let (status, started, location) = post(&served, "$reindex", &json!({}));
    assert_eq!(status, 202, "{started}");
    assert_eq!(parameter(&started, "customParameters", "valueInteger"), 1);
    let location = location.expect("a status location");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let polled = served.client.get(&location).send().expect("answered");
        let code = polled.status().as_u16();
        let body: Value = polled.json().unwrap_or_default();
        if code == 200 {
            break body;
        }
        assert_eq!(code, 202, "{body}");
        assert!(Instant::now() < deadline, "reindex did not finish: {body}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(parameter(&status, "status", "valueString"), "completed");
    assert_eq!(served.count("Patient?race=2106-3"), 1);
    assert_eq!(served.count("Patient?race=2054-5"), 0);
    // Patients written from now on are indexed at once.
    let (status, body, _) = post(&served, "Patient", &race_patient("After", "2054-5"));
    assert_eq!(status, 201, "{body}");
    assert_eq!(served.count("Patient?race=2054-5"), 1);
    // The conformance resources are ordinary resources under their package ids; the example
    // was not installed.
    let (status, profile) = served.get("StructureDefinition/us-core-patient");
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["type"], "Patient");
    assert_eq!(
        served.count(&format!("SearchParameter?url={RACE_PARAMETER_URL}")),
        1
    );
    assert_eq!(served.get("Patient/example").0, 404);
}

#[test]
fn installing_again_changes_nothing_and_an_upgrade_replaces_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let archive = write_tgz(dir.path(), "mini.tgz", &us_core_like("1.0.0", "OMB race"));
    let first = install_ok(&archive, &data);
    assert_eq!(
        (first["written"].as_u64(), first["unchanged"].as_u64()),
        (Some(4), Some(0))
    );
    let listed = list(&data);
    let again = install_ok(&archive, &data);
    assert_eq!(
        (again["written"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(again["resources"], first["resources"]);
    // The record keeps the first install and its time.
    assert_eq!(list(&data), listed);
    let installed = listed.as_array().expect("an array");
    assert_eq!(installed.len(), 1, "{listed}");
    assert_eq!(installed[0]["name"], "example.fhir.us.mini");
    assert_eq!(installed[0]["version"], "1.0.0");
    assert!(installed[0]["installed"].is_string(), "{listed}");
    assert_eq!(installed[0]["resources"]["SearchParameter"], 1);
    assert_eq!(
        installed[0]["references"],
        json!([
            "CodeSystem/cdcrec",
            "ValueSet/omb-race-category",
            "StructureDefinition/us-core-patient",
            "SearchParameter/us-core-race"
        ])
    );

    // A new version of the package with one changed ValueSet (same URL): only it is written.
    let upgrade = write_tgz(
        dir.path(),
        "mini-2.tgz",
        &us_core_like("2.0.0", "OMB race (new)"),
    );
    let upgraded = install_ok(&upgrade, &data);
    assert_eq!(
        (upgraded["written"].as_u64(), upgraded["unchanged"].as_u64()),
        (Some(1), Some(3))
    );
    let listed = list(&data);
    let versions: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|record| record["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);

    let served = Served::start(&data);
    let (_, parameter) = served.get("SearchParameter/us-core-race");
    assert_eq!(parameter["meta"]["versionId"], "1", "{parameter}");
    let (_, value_set) = served.get("ValueSet/omb-race-category");
    assert_eq!(value_set["meta"]["versionId"], "2", "{value_set}");
    assert_eq!(value_set["title"], "OMB race (new)");
}

#[test]
fn broken_packages_fail_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");

    let not_gzip = dir.path().join("not-a-package.tgz");
    std::fs::write(&not_gzip, "hello").expect("write");
    let (code, out, err) = install(&not_gzip, &data, &[]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(
        err.contains(&format!("installing package {}", not_gzip.display()))
            && err.contains("not a gzip-compressed archive"),
        "{err}"
    );

    let r5 = write_tgz(
        dir.path(),
        "r5.tgz",
        &[(
            "package/package.json",
            json!({"name": "r5.only", "version": "1.0.0", "fhirVersions": ["5.0.0"]}),
        )],
    );
    let (code, _, err) = install(&r5, &data, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("package r5.only#1.0.0 is for FHIR 5.0.0, not R4"),
        "{err}"
    );

    // An invalid file refuses the whole package, unless asked to leave it out.
    let mut files = vec![
        manifest("with.bad.files", "1.0.0"),
        (
            "package/ValueSet-good.json",
            value_set("good", "http://example.org/ValueSet/good", "Good"),
        ),
        (
            "package/ValueSet-no-id.json",
            json!({"resourceType": "ValueSet", "url": "http://example.org/ValueSet/no-id", "status": "active"}),
        ),
    ];
    let with_bad_file = write_tgz(dir.path(), "bad-file.tgz", &files);
    let (code, _, err) = install(&with_bad_file, &data, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("package/ValueSet-no-id.json: ValueSet has no id"),
        "{err}"
    );
    assert_eq!(list(&data), json!([]));
    // A resource that is not valid R4 (an unknown element) fails the same way.
    files.push((
        "package/CodeSystem-odd.json",
        json!({"resourceType": "CodeSystem", "id": "odd", "url": "http://example.org/odd",
               "status": "active", "content": "complete", "colour": "red"}),
    ));
    let with_odd = write_tgz(dir.path(), "odd.tgz", &files);
    let (code, _, err) = install(&with_odd, &data, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("package/ValueSet-no-id.json: ValueSet has no id"),
        "{err}"
    );
    let (code, _, err) = install(
        &write_tgz(
            dir.path(),
            "odd-only.tgz",
            &[files[0].clone(), files[3].clone()],
        ),
        &data,
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("1 resource(s) are not valid R4 (nothing was written; --skip-invalid leaves them out): CodeSystem/odd: "),
        "{err}"
    );
    assert_eq!(list(&data), json!([]));
    let (code, out, err) = install(&with_odd, &data, &["--skip-invalid"]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(summary["resources"], json!({"ValueSet": 1}));
    assert_eq!(summary["written"], 1);
    let invalid = summary["invalid"].as_array().expect("an array");
    assert_eq!(
        invalid[0],
        json!({"file": "package/ValueSet-no-id.json", "reason": "ValueSet has no id"})
    );
    assert_eq!(invalid[1]["resource"], "CodeSystem/odd", "{summary}");
    assert!(
        invalid[1]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("colour")),
        "{summary}"
    );
    assert_eq!(invalid.len(), 2);

    // Another package defining ValueSet/good with a different URL must not replace it.
    let rival = write_tgz(
        dir.path(),
        "rival.tgz",
        &[
            manifest("rival.package", "1.0.0"),
            (
                "package/ValueSet-good.json",
                value_set("good", "http://rival.example/ValueSet/good", "Rival"),
            ),
        ],
    );
    let (code, _, err) = install(&rival, &data, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "ValueSet/good is stored with url 'http://example.org/ValueSet/good', the package has 'http://rival.example/ValueSet/good'"
        ),
        "{err}"
    );
    let names: Vec<Value> = list(&data)
        .as_array()
        .expect("an array")
        .iter()
        .map(|record| record["name"].clone())
        .collect();
    assert_eq!(names, [json!("with.bad.files")]);
}
