//! Bulk Data `$export` over HTTP: kick-off, polling, manifest, files, cancel, levels, filters.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use support::Server;

/// Kicks off an export and polls until the manifest is ready.
fn export(server: &Server, path: &str) -> Value {
    let kicked = server
        .request(Method::GET, path)
        .header("Prefer", "respond-async")
        .send();
    assert_eq!(kicked.status, 202, "kick-off of {path}");
    let location = kicked.header("content-location").expect("Content-Location");
    for _ in 0..500 {
        let polled = server.client.get(&location).send().unwrap();
        match polled.status().as_u16() {
            202 => {
                assert!(polled.headers().get("retry-after").is_some());
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            200 => return polled.json().unwrap(),
            other => panic!("status {other} while polling {location}"),
        }
    }
    panic!("export of {path} did not finish");
}

/// Downloads every output file: resources by type, as (id → resource without meta).
fn download(server: &Server, manifest: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut by_type: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for output in manifest["output"].as_array().unwrap() {
        let text = server
            .client
            .get(output["url"].as_str().unwrap())
            .send()
            .unwrap()
            .text()
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, output["count"].as_u64().unwrap());
        for line in lines {
            let mut resource: Value = serde_json::from_str(line).unwrap();
            assert_eq!(resource["resourceType"], output["type"]);
            resource.as_object_mut().unwrap().remove("meta");
            let id = resource["id"].as_str().unwrap().to_owned();
            by_type
                .entry(output["type"].as_str().unwrap().to_owned())
                .or_default()
                .insert(id, resource);
        }
    }
    by_type
}

fn patient(family: &str) -> Value {
    json!({"resourceType": "Patient", "name": [{"family": family}]})
}

fn observation(patient_id: &str, code: &str) -> Value {
    json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": format!("Patient/{patient_id}")}
    })
}

#[test]
fn system_patient_and_group_exports_round_trip() {
    let server = Server::start();
    let alice = server.create(&patient("Alice"));
    let bob = server.create(&patient("Bob"));
    let alice_id = alice["id"].as_str().unwrap();
    let bob_id = bob["id"].as_str().unwrap();
    server.create(&observation(alice_id, "8867-4"));
    server.create(&observation(alice_id, "2339-0"));
    server.create(&observation(bob_id, "8867-4"));
    let organization = server.create(&json!({"resourceType": "Organization", "name": "Clinic"}));
    let deleted = server.create(&patient("Gone"));
    server.delete(&format!("Patient/{}", deleted["id"].as_str().unwrap()));

    // System level: everything current, nothing deleted, content as stored.
    let manifest = export(&server, "$export");
    assert_eq!(manifest["requiresAccessToken"], false);
    assert_eq!(manifest["request"], format!("{}/$export", server.base));
    assert!(manifest["transactionTime"].as_str().unwrap().ends_with('Z'));
    let exported = download(&server, &manifest);
    assert_eq!(exported["Patient"].len(), 2);
    assert_eq!(exported["Observation"].len(), 3);
    assert_eq!(exported["Organization"].len(), 1);
    let mut stored_alice = server.get(&format!("Patient/{alice_id}")).json();
    stored_alice.as_object_mut().unwrap().remove("meta");
    assert_eq!(exported["Patient"][alice_id], stored_alice);

    // Round trip: the exported resources, loaded into a fresh server, are the same resources.
    let fresh = Server::start();
    for resources in exported.values() {
        for (id, resource) in resources {
            let path = format!("{}/{id}", resource["resourceType"].as_str().unwrap());
            let put = fresh.request(Method::PUT, &path).json(resource).send();
            assert_eq!(put.status, 201);
        }
    }
    let again = download(&fresh, &export(&fresh, "$export"));
    assert_eq!(again, exported);

    // _type and _typeFilter.
    let typed = download(&server, &export(&server, "$export?_type=Observation"));
    assert_eq!(typed.keys().collect::<Vec<_>>(), vec!["Observation"]);
    let filtered = download(
        &server,
        &export(
            &server,
            "$export?_type=Observation&_typeFilter=Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C8867-4",
        ),
    );
    assert_eq!(filtered["Observation"].len(), 2);

    // Patient level: compartments only (no Organization).
    let patients = download(&server, &export(&server, "Patient/$export"));
    assert_eq!(patients["Patient"].len(), 2);
    assert_eq!(patients["Observation"].len(), 3);
    assert!(!patients.contains_key("Organization"));
    let _ = organization;

    // Group level: only the members' compartments.
    let group = server.create(&json!({
        "resourceType": "Group", "type": "person", "actual": true,
        "member": [{"entity": {"reference": format!("Patient/{bob_id}")}}]
    }));
    let cohort = download(
        &server,
        &export(
            &server,
            &format!("Group/{}/$export", group["id"].as_str().unwrap()),
        ),
    );
    assert_eq!(cohort["Patient"].keys().collect::<Vec<_>>(), vec![bob_id]);
    assert_eq!(cohort["Observation"].len(), 1);
}

#[test]
fn since_cancel_and_bad_requests() {
    let server = Server::start();
    server.create(&patient("Early"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let later = server.create(&patient("Later"));
    let since = later["meta"]["lastUpdated"].as_str().unwrap();
    let exported = download(
        &server,
        &export(&server, &format!("$export?_since={since}")),
    );
    assert_eq!(exported["Patient"].len(), 1);

    // Cancel removes the job.
    let kicked = server
        .request(Method::GET, "$export")
        .header("Prefer", "respond-async")
        .send();
    let location = kicked.header("content-location").unwrap();
    let cancelled = server.client.delete(&location).send().unwrap();
    assert_eq!(cancelled.status().as_u16(), 202);
    assert_eq!(
        server
            .client
            .get(&location)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    server.get("$export").assert_outcome(400, "respond-async");
    server
        .request(Method::GET, "$export?_type=Unicorn")
        .header("Prefer", "respond-async")
        .send()
        .assert_outcome(400, "Unicorn");
    server
        .request(Method::GET, "$export?_outputFormat=text/csv")
        .header("Prefer", "respond-async")
        .send()
        .assert_outcome(400, "_outputFormat");
    server
        .request(Method::GET, "$export?_typeFilter=Patient%3Fnosuch%3D1")
        .header("Prefer", "respond-async")
        .send()
        .assert_outcome(400, "nosuch");
    server
        .request(Method::GET, "Observation/$export")
        .header("Prefer", "respond-async")
        .send()
        .assert_outcome(400, "Patient and Group");
    server
        .get("$export-status/no-such-job")
        .assert_outcome(404, "no-such-job");
    server
        .get("$export-file/no-such-job/Patient.1.ndjson")
        .assert_outcome(404, "Patient.1.ndjson");
}
