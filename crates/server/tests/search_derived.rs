//! Parameters derived from others (`Observation.patient` = `subject` pointing at a Patient,
//! `combo-code` = `code` ∪ `component-code`) have no index rows of their own; every kind of
//! search through them must still answer as if they had.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::{Server, ids, patient};

fn set(bundle: &Value) -> BTreeSet<String> {
    ids(bundle).into_iter().collect()
}

fn ids_of<const N: usize>(list: [&str; N]) -> BTreeSet<String> {
    list.into_iter().map(str::to_owned).collect()
}

struct World {
    server: Server,
    patient: String,
    group: String,
}

/// A patient and a group; observations about each, with codes on the observation or on a
/// component; an allergy of the patient (where `patient` is a parameter of its own).
fn world() -> World {
    let server = Server::start();
    let patient_id = server.create(&patient("urn:p", "1"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group_id = server
        .create(&json!({"resourceType": "Group", "type": "person", "actual": true}))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let put = |id: &str, subject: &str, code: Option<&str>, component: Option<&str>| {
        let mut observation = json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "code": {"text": "panel"},
            "subject": {"reference": subject},
        });
        if let Some(code) = code {
            observation["code"] = json!({"coding": [{"system": "http://loinc.org", "code": code}]});
        }
        if let Some(code) = component {
            observation["component"] = json!([{
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
            }]);
        }
        let response = server.put(&format!("Observation/{id}"), &observation);
        assert!(
            response.status == 201 || response.status == 200,
            "{}",
            response.text()
        );
    };
    put("o1", &format!("Patient/{patient_id}"), Some("8480-6"), None);
    put("o2", &format!("Patient/{patient_id}"), None, Some("8480-6"));
    put("o3", &format!("Group/{group_id}"), Some("8480-6"), None);
    put("o4", &format!("Group/{group_id}"), Some("2345-7"), None);
    let allergy = json!({
        "resourceType": "AllergyIntolerance", "id": "a1",
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": "active"
        }]},
        "patient": {"reference": format!("Patient/{patient_id}")},
    });
    assert_eq!(server.put("AllergyIntolerance/a1", &allergy).status, 201);
    World {
        server,
        patient: patient_id,
        group: group_id,
    }
}

#[test]
fn restricted_references_match_only_their_target_type() {
    let World {
        server,
        patient,
        group,
    } = world();
    let by_patient = server.search(&format!("Observation?patient={patient}"));
    assert_eq!(set(&by_patient), ids_of(["o1", "o2"]));
    let qualified = server.search(&format!("Observation?patient=Patient/{patient}"));
    assert_eq!(set(&qualified), ids_of(["o1", "o2"]));
    // The group's observations are subject= matches but never patient= ones.
    assert_eq!(
        set(&server.search(&format!("Observation?subject={group}"))),
        ids_of(["o3", "o4"])
    );
    assert_eq!(
        server.count(&format!("Observation?patient={group}")),
        0,
        "a Group is not a patient"
    );
    // :missing asks whether a patient reference exists.
    assert_eq!(
        set(&server.search("Observation?patient:missing=true")),
        ids_of(["o3", "o4"])
    );
    assert_eq!(
        set(&server.search("Observation?patient:missing=false")),
        ids_of(["o1", "o2"])
    );
    // Chains and reverse chains go through the member's rows too.
    assert_eq!(
        set(&server.search("Observation?patient.identifier=urn:p|1")),
        ids_of(["o1", "o2"])
    );
    assert_eq!(
        set(&server.search("Patient?_has:Observation:patient:code=8480-6")),
        ids_of([patient.as_str()])
    );
    server
        .get("Group?_has:Observation:patient:code=8480-6")
        .assert_outcome(400, "never refers to Group");
    // Several types at once: `patient` is derived for Observation, its own path for
    // AllergyIntolerance.
    assert_eq!(
        set(&server.search(&format!(
            "?_type=Observation,AllergyIntolerance&patient={patient}"
        ))),
        ids_of(["o1", "o2", "a1"])
    );
}

#[test]
fn includes_through_restricted_references() {
    let World {
        server, patient, ..
    } = world();
    let included = server.search("Observation?code=8480-6&_include=Observation:patient");
    let all = set(&included);
    assert!(all.contains(&patient), "{included}");
    assert_eq!(all.len(), 3, "o1, o3 and the patient: {included}");
    let reverse = server.search(&format!(
        "Patient?_id={patient}&_revinclude=Observation:patient"
    ));
    assert_eq!(set(&reverse), ids_of([patient.as_str(), "o1", "o2"]));
    // A target type other than the restriction's finds nothing.
    let none = server.search("Observation?_id=o3&_include=Observation:patient:Group");
    assert_eq!(set(&none), ids_of(["o3"]));
}

#[test]
fn unions_match_any_member() {
    let World { server, .. } = world();
    assert_eq!(
        set(&server.search("Observation?combo-code=http://loinc.org|8480-6")),
        ids_of(["o1", "o2", "o3"])
    );
    assert_eq!(
        set(&server.search("Observation?code=8480-6")),
        ids_of(["o1", "o3"])
    );
    assert_eq!(
        set(&server.search("Observation?component-code=8480-6")),
        ids_of(["o2"])
    );
    assert_eq!(
        set(&server.search("Observation?combo-code:not=8480-6")),
        ids_of(["o4"])
    );
    assert_eq!(
        set(&server.search("Observation?combo-code:missing=true")),
        BTreeSet::new()
    );
    assert_eq!(
        set(&server.search(
            "Observation?combo-code-value-quantity=http://loinc.org|8480-6$gt100|http://unitsofmeasure.org|mm[Hg]"
        )),
        ids_of(["o2"])
    );
    // Sorting by a union orders by the smallest of its members' values.
    let sorted = server.search("Observation?_sort=combo-code,_id");
    assert_eq!(ids(&sorted), vec!["o4", "o1", "o2", "o3"]);
}

#[test]
fn identifier_modifier_on_a_restricted_reference() {
    let World { server, .. } = world();
    let observation = json!({
        "resourceType": "Observation", "id": "o5", "status": "final", "code": {"text": "x"},
        "subject": {"identifier": {"system": "urn:mrn", "value": "77"}},
    });
    assert_eq!(server.put("Observation/o5", &observation).status, 201);
    assert_eq!(
        set(&server.search("Observation?patient:identifier=urn:mrn|77")),
        ids_of(["o5"])
    );
    assert_eq!(
        set(&server.search("Observation?subject:identifier=urn:mrn|77")),
        ids_of(["o5"])
    );
    assert_eq!(server.count("Observation?patient:identifier=urn:mrn|78"), 0);
}
