//! Compartment search and `Patient/{id}/$everything`, paged.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use serde_json::{Value, json};
use support::Server;

fn observation(patient: &str, code: &str) -> Value {
    json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")}
    })
}

/// Follows `next` links, returning (type, id) of every match.
fn all_matches(server: &Server, first: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut bundle = server.get(first).json();
    loop {
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            if entry["search"]["mode"] == "match" {
                let resource = &entry["resource"];
                found.push((
                    resource["resourceType"].as_str().unwrap().to_owned(),
                    resource["id"].as_str().unwrap().to_owned(),
                ));
            }
        }
        let next = bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        match next {
            Some(url) => bundle = server.client.get(&url).send().unwrap().json().unwrap(),
            None => return found,
        }
    }
}

#[test]
fn everything_pages_keep_their_conditions() {
    let server = Server::start();
    let patient =
        server.create(&json!({"resourceType": "Patient", "name": [{"family": "Everything"}]}));
    let id = patient["id"].as_str().unwrap();
    let other = server.create(&json!({"resourceType": "Patient"}));
    for n in 0..7 {
        server.create(&observation(id, &format!("code-{n}")));
    }
    server.create(&observation(other["id"].as_str().unwrap(), "x"));
    server.create(
        &json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{id}")}}),
    );
    // A resource of another type that happens to share the patient's id is not in it.
    server.put(
        &format!("Basic/{id}"),
        &json!({"resourceType": "Basic", "id": id, "code": {"text": "x"}}),
    );

    let everything = all_matches(&server, &format!("Patient/{id}/$everything?_count=3"));
    assert_eq!(
        everything.first(),
        Some(&("Patient".to_owned(), id.to_owned()))
    );
    assert_eq!(
        everything
            .iter()
            .filter(|(t, _)| t == "Observation")
            .count(),
        7
    );
    assert_eq!(
        everything.iter().filter(|(t, _)| t == "Condition").count(),
        1
    );
    assert_eq!(everything.len(), 9, "{everything:?}");

    let observations = all_matches(
        &server,
        &format!("Patient/{id}/$everything?_type=Observation&_count=2"),
    );
    assert_eq!(observations.len(), 7);
    assert!(observations.iter().all(|(t, _)| t == "Observation"));

    let since = server.get(&format!("Patient/{id}")).json()["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned();
    let recent = all_matches(
        &server,
        &format!("Patient/{id}/$everything?_since={since}&_count=2"),
    );
    assert_eq!(recent.len(), 9);

    assert_eq!(
        all_matches(&server, &format!("Patient/{id}/Observation?_count=4")).len(),
        7
    );
    assert_eq!(
        all_matches(&server, &format!("Patient/{id}/*?_count=4")).len(),
        8
    );
    server
        .get("Patient/nobody/$everything")
        .assert_outcome(404, "nobody");
    server
        .get(&format!("Patient/{id}/$everything?_type=Organization"))
        .assert_outcome(400, "compartment");
}
