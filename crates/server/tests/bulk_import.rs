//! `$import` of NDJSON files from the server's import folder: async job, manifest, errors,
//! idempotent re-run, and refusal of files outside the folder.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::Server;

fn start(server: &Server, inputs: &[(&str, &str)]) -> support::Resp {
    let parameters = json!({
        "resourceType": "Parameters",
        "parameter": std::iter::once(json!({"name": "inputFormat", "valueCode": "application/fhir+ndjson"}))
            .chain(inputs.iter().map(|(t, url)| json!({"name": "input", "part": [
                {"name": "type", "valueCode": t}, {"name": "url", "valueUri": url}
            ]})))
            .collect::<Vec<_>>()
    });
    server
        .request(Method::POST, "$import")
        .header("Prefer", "respond-async")
        .json(&parameters)
        .send()
}

fn finish(server: &Server, kicked: support::Resp) -> Value {
    assert_eq!(kicked.status, 202);
    let location = kicked.header("content-location").unwrap();
    for _ in 0..500 {
        let polled = server.client.get(&location).send().unwrap();
        if polled.status().as_u16() == 200 {
            return polled.json().unwrap();
        }
        assert_eq!(polled.status().as_u16(), 202);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("import did not finish");
}

#[test]
fn import_loads_reports_and_is_idempotent() {
    let server = Server::start();
    std::fs::create_dir_all(&server.import_dir).unwrap();
    let lines = [
        r#"{"resourceType":"Patient","id":"imp-1","name":[{"family":"One"}]}"#,
        r#"{"resourceType":"Patient","id":"imp-2","name":[{"family":"Two"}]}"#,
        r#"{"resourceType":"Patient","id":"imp-3","birthDate":"not-a-date"}"#,
        r#"{"resourceType":"Observation","id":"wrong-type","status":"final","code":{"text":"x"}}"#,
        r#"{"truncated"#,
    ];
    std::fs::write(server.import_dir.join("Patient.ndjson"), lines.join("\n")).unwrap();

    let manifest = finish(&server, start(&server, &[("Patient", "Patient.ndjson")]));
    assert_eq!(manifest["output"][0]["count"], 2);
    assert_eq!(manifest["errorCount"], 3);
    let errors: Vec<&str> = manifest["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["diagnostics"].as_str().unwrap())
        .collect();
    assert!(errors[0].starts_with("Patient.ndjson:3:"), "{errors:?}");
    assert!(
        errors[1].starts_with("Patient.ndjson:4:") && errors[1].contains("Observation"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("Patient.ndjson:5:") && errors[2].contains("JSON"),
        "{errors:?}"
    );
    assert_eq!(
        server.get("Patient/imp-1").json()["name"][0]["family"],
        "One"
    );

    // The same input again writes nothing new.
    let again = finish(&server, start(&server, &[("Patient", "Patient.ndjson")]));
    assert_eq!(again["output"][0]["count"], 0);
    assert_eq!(again["unchanged"], 2);
    assert_eq!(server.get("Patient/imp-1").json()["meta"]["versionId"], "1");

    // Files outside the import folder, unknown types and missing files are refused.
    start(&server, &[("Patient", "file:///etc/passwd")])
        .assert_outcome(400, "outside the import folder");
    start(&server, &[("Patient", "../cursor.key")]).assert_outcome(400, "import folder");
    start(&server, &[("Unicorn", "Patient.ndjson")]).assert_outcome(404, "Unicorn");
    start(&server, &[("Patient", "missing.ndjson")]).assert_outcome(400, "missing.ndjson");
    server
        .request(Method::POST, "$import")
        .json(&json!({"resourceType": "Parameters"}))
        .send()
        .assert_outcome(400, "respond-async");
}
