//! `$validate` (type and instance level, body or Parameters, `mode`, `profile`) and the
//! write-time validation policy (off, base, profiles with required profiles) over HTTP: writes
//! of invalid resources are refused with 422 and leave nothing behind, in single writes,
//! transactions and patches; stored StructureDefinitions become profiles the server knows.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use medulla_engine::{ValidationLevel, ValidationPolicy};
use serde_json::{Value, json};
use std::path::Path;
use support::{Options, Server};

const MRN_PROFILE: &str = "http://example.org/fhir/StructureDefinition/mrn-patient";

fn profile() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../validation/tests/data/profiles/mrn-patient.json");
    let mut profile: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    profile["id"] = json!("mrn-patient");
    // The validation crate's fixture keeps only what validation reads; a StructureDefinition
    // resource must also be valid itself, so the elements get what R4 requires of them.
    for element in profile["snapshot"]["element"].as_array_mut().unwrap() {
        let max = element["base"]["max"]
            .as_str()
            .or(element["max"].as_str())
            .unwrap_or("*")
            .to_owned();
        element["base"] = json!({
            "path": element["path"].clone(),
            "min": element["min"].as_u64().unwrap_or(0),
            "max": max,
        });
        if element.get("definition").is_none() {
            element["definition"] = json!("As in the base definition.");
        }
        if element["isModifier"] == json!(true) && element.get("isModifierReason").is_none() {
            element["isModifierReason"] = json!("As in the base definition");
        }
    }
    profile
}

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "name": [{"family": "Smith", "given": ["Ann"]}],
        "gender": "female",
        "birthDate": "1990-07-01"
    })
}

fn bad_observation() -> Value {
    // obs-6: dataAbsentReason only when there is no value.
    json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        "dataAbsentReason": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}
    })
}

fn issues(outcome: &Value) -> Vec<(String, String, String)> {
    outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| {
            (
                issue["severity"].as_str().unwrap().to_owned(),
                issue["expression"][0].as_str().unwrap_or("").to_owned(),
                issue["details"]["text"]
                    .as_str()
                    .or(issue["diagnostics"].as_str())
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

fn errors(outcome: &Value) -> Vec<(String, String, String)> {
    issues(outcome)
        .into_iter()
        .filter(|(severity, _, _)| severity == "error" || severity == "fatal")
        .collect()
}

fn post(server: &Server, path: &str, body: &Value) -> support::Resp {
    server
        .request(reqwest::Method::POST, path)
        .json(body)
        .send()
}

#[test]
fn validate_reports_every_issue_with_its_location() {
    let server = Server::start();
    let valid = post(&server, "Patient/$validate", &patient());
    assert_eq!(valid.status, 200, "{}", valid.text());
    let valid = valid.json();
    assert_eq!(valid["resourceType"], "OperationOutcome");
    assert!(errors(&valid).is_empty(), "{valid}");

    let mut wrong = patient();
    wrong["gender"] = json!("mal");
    wrong["birthDate"] = json!("1990-02-30");
    let answer = post(&server, "Patient/$validate", &wrong).json();
    let found = errors(&answer);
    assert_eq!(found.len(), 2, "{answer}");
    assert!(
        found.iter().any(|(_, at, _)| at == "Patient.gender"),
        "{answer}"
    );
    assert!(
        found.iter().any(|(_, at, _)| at == "Patient.birthDate"),
        "{answer}"
    );

    // The Parameters form, with mode.
    let parameters = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": bad_observation()},
        {"name": "mode", "valueCode": "create"}
    ]});
    let answer = post(&server, "Observation/$validate", &parameters).json();
    let found = errors(&answer);
    assert_eq!(found.len(), 1, "{answer}");
    assert!(found[0].2.contains("obs-6"), "{answer}");

    let update_without_id = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient()},
        {"name": "mode", "valueCode": "update"}
    ]});
    assert_eq!(
        post(&server, "Patient/$validate", &update_without_id).status,
        400
    );
    let bad_mode = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient()},
        {"name": "mode", "valueCode": "upsert"}
    ]});
    assert_eq!(post(&server, "Patient/$validate", &bad_mode).status, 400);
    // The resource must be of the type in the URL.
    assert_eq!(
        post(&server, "Observation/$validate", &patient()).status,
        400
    );
    assert_eq!(server.get("Patient/$validate").status, 400);
}

#[test]
fn validate_a_stored_resource_and_a_deletion() {
    let server = Server::start();
    let created = server.create(&patient());
    let id = created["id"].as_str().unwrap();
    let stored = server.get(&format!("Patient/{id}/$validate"));
    assert_eq!(stored.status, 200, "{}", stored.text());
    assert!(errors(&stored.json()).is_empty());
    let delete = json!({"resourceType": "Parameters", "parameter": [
        {"name": "mode", "valueCode": "delete"}
    ]});
    assert_eq!(
        post(&server, &format!("Patient/{id}/$validate"), &delete).status,
        200
    );
    assert_eq!(server.get("Patient/nope/$validate").status, 404);
}

#[test]
fn writes_of_invalid_resources_are_refused_under_the_base_policy() {
    let server = Server::start();
    let refused = post(&server, "Observation", &bad_observation());
    assert_eq!(refused.status, 422, "{}", refused.text());
    let outcome = refused.json();
    assert!(outcome.to_string().contains("obs-6"), "{outcome}");
    assert_eq!(server.count("Observation?"), 0);

    // A transaction with one invalid entry writes nothing.
    let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": bad_observation(), "request": {"method": "POST", "url": "Observation"}}
    ]});
    let answer = post(&server, "", &transaction);
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(server.count("Patient?"), 0);

    // A patch that would break the resource is refused; the version stays.
    let created = server.create(&patient());
    let id = created["id"].as_str().unwrap();
    let patch = json!([{"op": "replace", "path": "/gender", "value": "mal"}]);
    let patched = server
        .request(reqwest::Method::PATCH, &format!("Patient/{id}"))
        .body(
            "application/json-patch+json",
            serde_json::to_vec(&patch).unwrap(),
        )
        .send();
    assert_eq!(patched.status, 422, "{}", patched.text());
    let current = server.get(&format!("Patient/{id}")).json();
    assert_eq!(current["meta"]["versionId"], "1");
    assert_eq!(current["gender"], "female");
}

#[test]
fn the_policy_can_be_off_or_per_type() {
    let mut policy = ValidationPolicy::default();
    policy.add_type_rule("Observation=off").unwrap();
    let server = Server::start_with(Options {
        validation: Some(policy),
        ..Options::default()
    });
    assert_eq!(post(&server, "Observation", &bad_observation()).status, 201);
    let mut wrong = patient();
    wrong["gender"] = json!("mal");
    assert_eq!(post(&server, "Patient", &wrong).status, 422);
    // $validate reports regardless of the write policy.
    let answer = post(&server, "Observation/$validate", &bad_observation()).json();
    assert_eq!(errors(&answer).len(), 1, "{answer}");
}

#[test]
fn stored_profiles_validate_declared_and_required_conformance() {
    let mut policy = ValidationPolicy {
        default: ValidationLevel::Base,
        ..ValidationPolicy::default()
    };
    policy.add_type_rule("Patient=profiles").unwrap();
    policy
        .add_required_profile(&format!("Patient={MRN_PROFILE}"))
        .unwrap();
    let server = Server::start_with(Options {
        validation: Some(policy),
        ..Options::default()
    });
    let stored = server.put("StructureDefinition/mrn-patient", &profile());
    assert_eq!(stored.status, 201, "{}", stored.text());

    // Without the MRN identifier the profile's slice minimum fails.
    let answer = post(
        &server,
        &format!("Patient/$validate?profile={MRN_PROFILE}"),
        &patient(),
    )
    .json();
    assert!(
        errors(&answer)
            .iter()
            .any(|(_, at, _)| at.starts_with("Patient.identifier") || at == "Patient"),
        "{answer}"
    );
    let refused = post(&server, "Patient", &patient());
    assert_eq!(refused.status, 422, "{}", refused.text());

    let mut with_mrn = patient();
    with_mrn["identifier"] =
        json!([{"system": "http://hospital.example.org/mrn", "value": "004711"}]);
    let accepted = post(&server, "Patient", &with_mrn);
    assert_eq!(accepted.status, 201, "{}", accepted.text());

    // Once the profile is deleted, a requirement naming it cannot be met.
    assert_eq!(server.delete("StructureDefinition/mrn-patient").status, 204);
    let unknown = post(&server, "Patient", &with_mrn);
    assert_eq!(unknown.status, 422, "{}", unknown.text());
    assert!(unknown.text().contains("unknown"), "{}", unknown.text());
}
