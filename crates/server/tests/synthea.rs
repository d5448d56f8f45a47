//! Synthea-shaped data through `POST /fhir`: shared providers first, then patients whose
//! conditional references must resolve to them.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::Server;

const SEED: u64 = 7;

fn post_bundle(server: &Server, bundle: &Value) -> Vec<Value> {
    let response = server.post("", bundle);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["type"], "transaction-response");
    body["entry"].as_array().unwrap().clone()
}

fn collect_references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (name, child) in fields {
                match (name.as_str(), child) {
                    ("reference", Value::String(text)) => {
                        found.insert(text.clone());
                    }
                    _ => collect_references(child, found),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, found)),
        _ => {}
    }
}

#[test]
fn hospital_practitioners_and_patients_load_and_link() {
    let server = Server::start();
    let hospital = medulla_synth::hospital_information_bundle(SEED);
    let practitioners = medulla_synth::practitioner_information_bundle(SEED);
    let organization_count = hospital["entry"].as_array().unwrap().len();
    let practitioner_count = practitioners["entry"].as_array().unwrap().len();
    assert_ne!(organization_count, 0);
    assert_ne!(practitioner_count, 0);

    let first = post_bundle(&server, &hospital);
    assert!(
        first
            .iter()
            .all(|e| e["response"]["status"] == "201 Created")
    );
    post_bundle(&server, &practitioners);
    // Loading the shared bundles again finds the existing resources (ifNoneExist).
    let again = post_bundle(&server, &hospital);
    assert!(
        again.iter().all(|e| e["response"]["status"] == "200 OK"),
        "{:?}",
        again
            .iter()
            .map(|e| &e["response"]["status"])
            .collect::<Vec<_>>()
    );
    let locations = |entries: &[Value]| -> Vec<Value> {
        entries
            .iter()
            .map(|e| e["response"]["location"].clone())
            .collect()
    };
    assert_eq!(locations(&again), locations(&first));
    post_bundle(&server, &practitioners);
    assert_eq!(server.count("Organization"), organization_count as u64);
    assert_eq!(server.count("Practitioner"), practitioner_count as u64);

    let mut written = Vec::new();
    let mut patients = 0;
    for index in 0..3 {
        let bundle = medulla_synth::patient_bundle(SEED, index);
        let entries = post_bundle(&server, &bundle);
        assert_eq!(entries.len(), bundle["entry"].as_array().unwrap().len());
        for entry in &entries {
            let status = entry["response"]["status"].as_str().unwrap();
            assert!(status == "201 Created" || status == "200 OK", "{status}");
            if entry["resource"]["resourceType"] == "Patient" {
                patients += 1;
            }
            written.push(entry["resource"].clone());
        }
    }
    assert_eq!(patients, 3);
    assert_eq!(server.count("Patient"), 3);
    assert_eq!(server.count("Organization"), organization_count as u64);
    assert_eq!(server.count("Practitioner"), practitioner_count as u64);

    // Every reference in what was stored is a resolved `Type/id` of a live resource.
    let mut references = BTreeSet::new();
    for resource in &written {
        let stored = server.get(&format!(
            "{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        ));
        assert_eq!(stored.status, 200);
        assert_eq!(&stored.json(), resource);
        collect_references(resource, &mut references);
    }
    let kinds: BTreeSet<&str> = references
        .iter()
        .map(|r| r.split('/').next().unwrap())
        .collect();
    assert!(kinds.contains("Organization"), "{kinds:?}");
    assert!(kinds.contains("Practitioner"), "{kinds:?}");
    assert!(kinds.contains("Patient"), "{kinds:?}");
    for reference in &references {
        assert!(
            !reference.contains('?') && !reference.starts_with("urn:"),
            "unresolved reference {reference}"
        );
        let parts: Vec<&str> = reference.split('/').collect();
        assert_eq!(parts.len(), 2, "{reference}");
        assert_eq!(server.get(reference).status, 200, "{reference} resolves");
    }
}
