//! `medulla terminology load|list` on the release fixtures of the terminology crate, and the
//! loaded releases answering over HTTP from `medulla serve` on the same data directory.

mod common;

use common::medulla;
use std::path::{Path, PathBuf};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../terminology/tests/data")
        .join(path)
}

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

fn load(kind: &str, folder: &str, data: &Path) -> serde_json::Value {
    let folder = fixture(folder);
    let (code, out, err) = run(
        &[
            "terminology",
            "load",
            kind,
            folder.to_str().expect("utf-8 path"),
        ],
        data,
    );
    assert_eq!(code, 0, "{kind}: {err}");
    serde_json::from_str(&out).expect("a JSON summary")
}

#[test]
fn releases_load_list_and_fail_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let snomed = load("snomed", "snomed/SnomedCT_Fixture_20240101/Snapshot", data);
    assert_eq!(snomed["system"], "http://snomed.info/sct");
    assert!(snomed["concepts"].as_u64().expect("count") > 40, "{snomed}");
    let loinc = load("loinc", "loinc/Loinc_2.77", data);
    assert_eq!(loinc["system"], "http://loinc.org");
    assert_eq!(loinc["version"], "2.77");
    let icd = load("icd10cm", "icd10cm", data);
    assert_eq!(icd["system"], "http://hl7.org/fhir/sid/icd-10-cm");
    assert!(icd["headerCodes"].as_u64().expect("count") > 0, "{icd}");
    let rxnorm = load("rxnorm", "rxnorm/RxNorm_full_01022024", data);
    assert_eq!(
        rxnorm["system"],
        "http://www.nlm.nih.gov/research/umls/rxnorm"
    );

    let (code, out, err) = run(&["terminology", "list"], data);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let mut urls: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|system| system["url"].as_str().expect("url"))
        .collect();
    urls.sort_unstable();
    assert_eq!(
        urls,
        [
            "http://hl7.org/fhir/sid/icd-10-cm",
            "http://loinc.org",
            "http://snomed.info/sct",
            "http://www.nlm.nih.gov/research/umls/rxnorm",
        ]
    );

    // A folder that is not a release: a message naming what is missing, and a failure exit.
    let empty = tempfile::tempdir().expect("temp dir");
    let (code, _, err) = run(
        &[
            "terminology",
            "load",
            "loinc",
            empty.path().to_str().expect("utf-8 path"),
        ],
        data,
    );
    assert_ne!(code, 0);
    assert!(err.contains("Loinc.csv"), "{err}");
    let (code, _, err) = run(&["terminology", "load", "snomed", "/no/such/folder"], data);
    assert_ne!(code, 0);
    assert!(err.contains("/no/such/folder"), "{err}");
}

#[test]
fn fhirpath_member_of_answers_from_the_builtin_terminology() {
    let dir = tempfile::tempdir().expect("temp dir");
    let patient = dir.path().join("patient.json");
    std::fs::write(&patient, r#"{"resourceType":"Patient","gender":"female"}"#).expect("write");
    let evaluate = |expression: &str| {
        let output = medulla()
            .args(["fhirpath", "--input"])
            .arg(&patient)
            .arg(expression)
            .output()
            .expect("medulla runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(
        evaluate("Patient.gender.memberOf('http://hl7.org/fhir/ValueSet/administrative-gender')"),
        "[true]"
    );
    assert_eq!(
        evaluate("Patient.gender.memberOf(%`vs-marital-status`)"),
        "[false]"
    );
    // An unknown value set: no answer, not false.
    assert_eq!(
        evaluate("Patient.gender.memberOf('http://example.org/ValueSet/none')"),
        "[]"
    );
}
