//! Custom SearchParameter resources take effect after `$reindex`.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use reqwest::Method;
use serde_json::json;
use support::Server;

fn maiden_name_patient(name: &str) -> serde_json::Value {
    json!({
        "resourceType": "Patient",
        "extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
            "valueString": name
        }]
    })
}

#[test]
fn custom_search_parameter_after_reindex() {
    let server = Server::start();
    server.create(&maiden_name_patient("Dubois"));
    server.create(&json!({"resourceType": "Patient", "name": [{"family": "Other"}]}));
    let parameter = json!({
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/mothers-maiden",
        "name": "mothersMaiden",
        "status": "active",
        "description": "Mother's maiden name",
        "code": "mothers-maiden",
        "base": ["Patient"],
        "type": "string",
        "expression": "Patient.extension.where(url = 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName').value"
    });
    server.create(&parameter);
    // Not in effect before $reindex.
    server
        .request(Method::GET, "Patient?mothers-maiden=dub")
        .header("Prefer", "handling=strict")
        .send()
        .assert_outcome(400, "mothers-maiden");

    let started = server.request(Method::POST, "Patient/$reindex").send();
    assert_eq!(started.status, 202);
    let location = started
        .header("content-location")
        .expect("a status location");
    let mut status = serde_json::Value::Null;
    for _ in 0..200 {
        let polled = server.client.get(&location).send().unwrap();
        let code = polled.status().as_u16();
        status = polled.json().unwrap();
        if code == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let value = |name: &str| {
        status["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(value("status")["valueString"], "completed");
    assert_eq!(value("total")["valueInteger"], 2);
    assert_eq!(value("processed")["valueInteger"], 2);
    assert_eq!(value("customParameters")["valueInteger"], 1);

    assert_eq!(server.count("Patient?mothers-maiden=dub"), 1);
    // New writes are indexed with the parameter at once.
    server.create(&maiden_name_patient("Dubreuil"));
    assert_eq!(server.count("Patient?mothers-maiden=dub"), 2);
    assert_eq!(server.count("Patient?mothers-maiden:exact=Dubois"), 1);
    // An unusable SearchParameter is reported, not fatal.
    server.create(&json!({
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/broken",
        "name": "broken", "status": "active", "description": "x",
        "code": "broken", "base": ["Patient"], "type": "string", "expression": "Patient.name.where("
    }));
    let second = server.request(Method::POST, "$reindex").send();
    assert_eq!(second.status, 202);
    let body = second.json();
    let reported = body["parameter"].as_array().unwrap().iter().any(|p| {
        p["name"] == "unusableSearchParameter"
            && p["valueString"]
                .as_str()
                .unwrap_or("")
                .contains("does not compile")
    });
    assert!(reported, "{body}");
    server
        .get("$reindex/no-such-job")
        .assert_outcome(404, "no-such-job");
}
