//! `medulla quality`: the data quality report over an imported store, as JSON on standard
//! output and as an HTML file.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod common;

use common::medulla;
use serde_json::{Value, json};

#[test]
fn quality_reports_findings_of_an_imported_store() {
    let input = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let resources = [
        json!({"resourceType": "Patient", "id": "unborn", "birthDate": "2090-01-01"}),
        json!({"resourceType": "Observation", "id": "hr-400", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": 400, "system": "http://unitsofmeasure.org",
                "code": "/min"}}),
        json!({"resourceType": "Encounter", "id": "e", "status": "finished",
            "class": {"code": "AMB"}}),
    ];
    let ndjson: Vec<String> = resources.iter().map(Value::to_string).collect();
    std::fs::write(input.path().join("all.ndjson"), ndjson.join("\n")).unwrap();
    let imported = medulla()
        .args(["import", "--quiet", "--data"])
        .arg(data.path())
        .arg(input.path())
        .output()
        .unwrap();
    assert_eq!(imported.status.code(), Some(0), "{imported:?}");

    let html = input.path().join("report.html");
    let output = medulla()
        .args(["quality", "--type", "Patient,Observation", "--data"])
        .arg(data.path())
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["resourceCount"], 2);
    let findings: Vec<(&Value, &Value)> = report["plausibility"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| (&finding["kind"], &finding["examples"]))
        .collect();
    assert_eq!(
        findings,
        [
            (&json!("implausible-value"), &json!(["Observation/hr-400"])),
            (&json!("future-date"), &json!(["Patient/unborn"])),
        ]
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<code>Observation/hr-400</code>"), "{page}");

    let refused = medulla()
        .args(["quality", "--type", "Nonsense", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_ne!(refused.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Nonsense"));
}
