//! Create, read, vread, update, delete, patch, conditional reads and response shaping over HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{FHIR_JSON, Server, patient};

fn assert_version_headers(response: &support::Resp, base: &str, path: &str, version: u64) {
    assert_eq!(response.etag_version(), version);
    let location = response.header("location").expect("Location");
    assert_eq!(location, format!("{base}/{path}/_history/{version}"));
    let modified = response.header("last-modified").expect("Last-Modified");
    assert!(modified.ends_with(" GMT"), "{modified}");
}

#[test]
fn create_assigns_id_and_meta_and_keeps_client_tags() {
    let server = Server::start();
    let mut body = patient("urn:test", "c1");
    body["id"] = json!("client-chosen");
    body["meta"] = json!({
        "versionId": "99",
        "lastUpdated": "2001-01-01T00:00:00Z",
        "tag": [{"system": "urn:tags", "code": "keep-me"}]
    });
    let response = server.post("Patient", &body);
    assert_eq!(response.status, 201, "{}", response.text());
    let created = response.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "client-chosen", "POST ignores the body's id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_version_headers(&response, &server.base, &format!("Patient/{id}"), 1);
    assert_eq!(created["meta"]["versionId"], "1");
    let last_updated = created["meta"]["lastUpdated"].as_str().unwrap();
    assert_ne!(last_updated, "2001-01-01T00:00:00Z");
    assert!(
        last_updated.ends_with('Z') && last_updated.len() == 24,
        "{last_updated}"
    );
    assert_eq!(
        created["meta"]["tag"],
        json!([{"system": "urn:tags", "code": "keep-me"}])
    );
    assert_eq!(created["identifier"][0]["value"], "c1");

    let read = server.get(&format!("Patient/{id}"));
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), created);
    assert_eq!(read.etag_version(), 1);
    assert_eq!(
        read.header("last-modified"),
        response.header("last-modified")
    );
    let vread = server.get(&format!("Patient/{id}/_history/1"));
    assert_eq!(vread.status, 200);
    assert_eq!(vread.json(), created);
}

#[test]
fn update_versions_and_update_as_create() {
    let server = Server::start();
    let created = server.create(&patient("urn:test", "u1"));
    let id = created["id"].as_str().unwrap();
    let mut changed = created.clone();
    changed["active"] = json!(false);
    let updated = server.put(&format!("Patient/{id}"), &changed);
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_version_headers(&updated, &server.base, &format!("Patient/{id}"), 2);
    let body = updated.json();
    assert_eq!(body["meta"]["versionId"], "2");
    assert_eq!(body["active"], false);
    // Both versions stay readable.
    assert_eq!(
        server.get(&format!("Patient/{id}/_history/1")).json()["active"],
        true
    );
    assert_eq!(
        server.get(&format!("Patient/{id}/_history/2")).json()["active"],
        false
    );

    // Update-as-create with a client id.
    let mut fresh = patient("urn:test", "u2");
    fresh["id"] = json!("client-id-1");
    let response = server.put("Patient/client-id-1", &fresh);
    assert_eq!(response.status, 201, "{}", response.text());
    assert_version_headers(&response, &server.base, "Patient/client-id-1", 1);
    assert_eq!(response.json()["id"], "client-id-1");

    // Id in the body differs from the URL.
    let mut mismatch = fresh.clone();
    mismatch["id"] = json!("other");
    server
        .put("Patient/client-id-1", &mismatch)
        .assert_outcome(400, "does not match");
    // No id in the body.
    let no_id = patient("urn:test", "u3");
    server
        .put("Patient/client-id-1", &no_id)
        .assert_outcome(400, "Patient.id");
    // Type in the body differs from the URL.
    let mut wrong_type = fresh.clone();
    wrong_type["resourceType"] = json!("Practitioner");
    server
        .put("Patient/client-id-1", &wrong_type)
        .assert_outcome(400, "resourceType");
    assert_eq!(
        server.get("Patient/client-id-1").etag_version(),
        1,
        "failed updates wrote nothing"
    );
}

#[test]
fn delete_then_read_is_gone_and_history_keeps_the_tombstone() {
    let server = Server::start();
    let created = server.create(&patient("urn:test", "d1"));
    let id = created["id"].as_str().unwrap();
    let path = format!("Patient/{id}");
    let deleted = server.delete(&path);
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_eq!(deleted.body, b"");
    assert_eq!(deleted.etag_version(), 2);

    server.get(&path).assert_outcome(410, id);
    server
        .get(&format!("{path}/_history/2"))
        .assert_outcome(410, "deleted");
    assert_eq!(server.get(&format!("{path}/_history/1")).status, 200);
    // Deleting again is fine and changes nothing.
    assert_eq!(server.delete(&path).status, 204);

    let history = server.search(&format!("{path}/_history"));
    assert_eq!(history["type"], "history");
    let entries = history["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[0]["request"]["method"], "DELETE");
    assert_eq!(entries[0]["response"]["etag"], "W/\"2\"");
    assert_eq!(entries[0].get("resource"), None);
    assert_eq!(entries[1]["request"]["method"], "POST");
    assert_eq!(entries[1]["resource"]["id"], *id);

    // Re-creating with PUT after a delete is a create.
    let mut again = created.clone();
    again.as_object_mut().unwrap().remove("meta");
    let recreated = server.put(&path, &again);
    assert_eq!(recreated.status, 201, "{}", recreated.text());
    assert_eq!(recreated.etag_version(), 3);
}

#[test]
fn unknown_resources_and_versions_are_404() {
    let server = Server::start();
    server
        .delete("Patient/never-existed")
        .assert_outcome(404, "Patient/never-existed");
    server
        .get("Patient/never-existed")
        .assert_outcome(404, "Patient/never-existed");
    let created = server.create(&patient("urn:test", "v1"));
    let id = created["id"].as_str().unwrap();
    server
        .get(&format!("Patient/{id}/_history/2"))
        .assert_outcome(404, "_history/2");
    server
        .get(&format!("Patient/{id}/_history/0"))
        .assert_outcome(404, "_history/0");
    server
        .get(&format!("Patient/{id}/_history/abc"))
        .assert_outcome(404, "_history/abc");
    server
        .get("Patient/never-existed/_history")
        .assert_outcome(404, "Patient/never-existed");
}

#[test]
fn if_match_guards_updates() {
    let server = Server::start();
    let created = server.create(&patient("urn:test", "m1"));
    let id = created["id"].as_str().unwrap();
    let path = format!("Patient/{id}");
    let put = |etag: &str| {
        server
            .request(Method::PUT, &path)
            .header("If-Match", etag)
            .json(&created)
            .send()
    };
    let ok = put("W/\"1\"");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.etag_version(), 2);
    put("W/\"1\"").assert_outcome(412, "version 2");
    put("W/\"7\"").assert_outcome(412, "If-Match");
    put("banana").assert_outcome(400, "If-Match");
    let strong = put("\"2\"");
    assert_eq!(strong.status, 200, "strong ETag form is accepted");
    assert_eq!(strong.etag_version(), 3);
    // If-Match on a resource that does not exist.
    let mut other = created.clone();
    other["id"] = json!("not-there");
    server
        .request(Method::PUT, "Patient/not-there")
        .header("If-Match", "W/\"1\"")
        .json(&other)
        .send()
        .assert_outcome(412, "does not exist");
    assert_eq!(server.get("Patient/not-there").status, 404);
}

#[test]
fn conditional_reads_answer_304() {
    let server = Server::start();
    let created = server.create(&patient("urn:test", "r1"));
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let read = server.get(&path);
    let last_modified = read.header("last-modified").unwrap();

    let not_modified = server
        .request(Method::GET, &path)
        .header("If-None-Match", "W/\"1\"")
        .send();
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.body, b"");
    assert_eq!(not_modified.etag_version(), 1);
    let other_version = server
        .request(Method::GET, &path)
        .header("If-None-Match", "W/\"2\"")
        .send();
    assert_eq!(other_version.status, 200);
    assert_eq!(other_version.json()["id"], created["id"]);

    let since = server
        .request(Method::GET, &path)
        .header("If-Modified-Since", &last_modified)
        .send();
    assert_eq!(since.status, 304);
    let long_ago = server
        .request(Method::GET, &path)
        .header("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send();
    assert_eq!(long_ago.status, 200);
    let garbage = server
        .request(Method::GET, &path)
        .header("If-Modified-Since", "yesterday")
        .send();
    assert_eq!(garbage.status, 200, "an unparsable date is ignored");
}

fn patch(server: &Server, path: &str, content_type: &str, operations: &Value) -> support::Resp {
    server
        .request(Method::PATCH, path)
        .body(content_type, serde_json::to_vec(operations).unwrap())
        .send()
}

#[test]
fn json_patch() {
    let server = Server::start();
    let created = server.create(&patient("urn:test", "p1"));
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let json_patch = "application/json-patch+json";

    let ok = patch(
        &server,
        &path,
        json_patch,
        &json!([
            {"op": "test", "path": "/active", "value": true},
            {"op": "replace", "path": "/active", "value": false},
            {"op": "add", "path": "/gender", "value": "female"}
        ]),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.etag_version(), 2);
    let body = ok.json();
    assert_eq!(body["active"], false);
    assert_eq!(body["gender"], "female");
    assert_eq!(body["meta"]["versionId"], "2");
    assert_eq!(server.get(&path).json()["gender"], "female");

    patch(
        &server,
        &path,
        json_patch,
        &json!([{"op": "test", "path": "/active", "value": true}]),
    )
    .assert_outcome(422, "JSON Patch failed");
    patch(
        &server,
        &path,
        json_patch,
        &json!([{"op": "replace", "path": "/gender", "value": 12}]),
    )
    .assert_outcome(422, "Patient.gender");
    patch(
        &server,
        &path,
        json_patch,
        &json!([{"op": "add", "path": "/favouriteColour", "value": "blue"}]),
    )
    .assert_outcome(422, "favouriteColour");
    patch(
        &server,
        &path,
        json_patch,
        &json!([{"op": "replace", "path": "/id", "value": "hijacked"}]),
    )
    .assert_outcome(422, "id");
    patch(&server, &path, FHIR_JSON, &json!([])).assert_outcome(415, "json-patch+json");
    patch(&server, &path, json_patch, &json!({"op": "nope"})).assert_outcome(400, "JSON Patch");
    let stale = server
        .request(Method::PATCH, &path)
        .header("If-Match", "W/\"1\"")
        .body(
            json_patch,
            br#"[{"op":"remove","path":"/gender"}]"#.to_vec(),
        )
        .send();
    stale.assert_outcome(412, "If-Match");
    patch(&server, "Patient/nobody", json_patch, &json!([])).assert_outcome(404, "Patient/nobody");
    assert_eq!(
        server.get(&path).etag_version(),
        2,
        "failed patches wrote nothing"
    );
}

#[test]
fn prefer_return() {
    let server = Server::start();
    let body = patient("urn:test", "pr1");
    let minimal = server
        .request(Method::POST, "Patient")
        .header("Prefer", "return=minimal")
        .json(&body)
        .send();
    assert_eq!(minimal.status, 201);
    assert_eq!(minimal.body, b"");
    assert_eq!(minimal.etag_version(), 1);
    let location = minimal.header("location").unwrap();
    assert!(
        location.starts_with(&format!("{}/Patient/", server.base)),
        "{location}"
    );
    assert!(location.ends_with("/_history/1"), "{location}");
    assert!(minimal.header("last-modified").is_some());

    let outcome = server
        .request(Method::POST, "Patient")
        .header("Prefer", "return=OperationOutcome")
        .json(&body)
        .send();
    assert_eq!(outcome.status, 201);
    assert_eq!(outcome.json()["resourceType"], "OperationOutcome");
    assert_eq!(outcome.etag_version(), 1);

    let representation = server
        .request(Method::POST, "Patient")
        .header("Prefer", "return=representation")
        .json(&body)
        .send();
    assert_eq!(representation.status, 201);
    assert_eq!(representation.json()["resourceType"], "Patient");
}

#[test]
fn pretty_and_formats() {
    let server = Server::start();
    let created = server.create(&patient("urn:test", "f1"));
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let compact = server.get(&path);
    assert!(!compact.text().contains('\n'));
    let pretty = server.get(&format!("{path}?_pretty=true"));
    assert_eq!(pretty.status, 200);
    assert!(
        pretty.text().contains("\n  \"resourceType\""),
        "{}",
        pretty.text()
    );
    assert_eq!(pretty.json(), compact.json());

    server
        .get(&format!("{path}?_format=xml"))
        .assert_outcome(406, "xml");
    server
        .get(&format!("{path}?_format=application/fhir%2Bxml"))
        .assert_outcome(406, "fhir+xml");
    let json_format = server.get(&format!("{path}?_format=json"));
    assert_eq!(json_format.status, 200);
    server
        .request(Method::GET, &path)
        .header("Accept", "application/fhir+xml")
        .send()
        .assert_outcome(406, "application/fhir+xml");
    let accept_json = server
        .request(Method::GET, &path)
        .header(
            "Accept",
            "application/fhir+xml;q=0.9, application/fhir+json",
        )
        .send();
    assert_eq!(accept_json.status, 200);
    let accept_any = server
        .request(Method::GET, &path)
        .header("Accept", "*/*")
        .send();
    assert_eq!(accept_any.status, 200);

    server
        .request(Method::POST, "Patient")
        .body(
            "application/fhir+xml",
            "<Patient xmlns=\"http://hl7.org/fhir\"/>",
        )
        .send()
        .assert_outcome(415, "XML");
    server
        .request(Method::POST, "Patient")
        .body("text/plain", "{}")
        .send()
        .assert_outcome(415, "text/plain");

    let metadata = server.get("metadata");
    assert_eq!(metadata.status, 200);
    let capability = metadata.json();
    assert_eq!(capability["resourceType"], "CapabilityStatement");
    assert_eq!(capability["fhirVersion"], "4.0.1");
}

#[test]
fn summary_and_elements() {
    let server = Server::start();
    let mut body = patient("urn:test", "s1");
    body["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Test</div>"});
    body["birthDate"] = json!("1970-01-01");
    body["maritalStatus"] = json!({"text": "single"});
    let created = server.create(&body);
    let path = format!("Patient/{}", created["id"].as_str().unwrap());
    let subsetted = json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"});

    let summary = server.get(&format!("{path}?_summary=true")).json();
    assert_eq!(
        summary["birthDate"], "1970-01-01",
        "birthDate is a summary element"
    );
    assert_eq!(summary.get("maritalStatus"), None, "maritalStatus is not");
    assert_eq!(summary.get("text"), None);
    assert_eq!(summary["meta"]["tag"], json!([subsetted]));

    let text = server.get(&format!("{path}?_summary=text")).json();
    assert_eq!(text["text"]["status"], "generated");
    assert_eq!(text.get("birthDate"), None);
    assert_eq!(text["id"], created["id"]);

    let data = server.get(&format!("{path}?_summary=data")).json();
    assert_eq!(data.get("text"), None);
    assert_eq!(data["maritalStatus"]["text"], "single");

    let full = server.get(&format!("{path}?_summary=false")).json();
    assert_eq!(full, created);

    let elements = server
        .get(&format!("{path}?_elements=birthDate,identifier"))
        .json();
    let mut keys: Vec<&str> = elements
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["birthDate", "id", "identifier", "meta", "resourceType"]
    );

    server
        .get(&format!("{path}?_summary=maybe"))
        .assert_outcome(400, "_summary");

    let count = server.search("Patient?_summary=count");
    assert_eq!(count["total"], 1);
    assert_eq!(count.get("entry"), None);
    let searched = server.search("Patient?_elements=birthDate");
    assert_eq!(searched["entry"][0]["resource"]["birthDate"], "1970-01-01");
    assert_eq!(searched["entry"][0]["resource"].get("name"), None);
}
