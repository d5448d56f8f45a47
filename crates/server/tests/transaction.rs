//! Transaction and batch Bundles: reference rewriting, conditional references, processing order,
//! atomicity, and independent batch entries.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Server, ids, patient};

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

fn post_entry(full_url: Option<&str>, resource: Value) -> Value {
    let resource_type = resource["resourceType"].as_str().unwrap().to_owned();
    let mut entry =
        json!({"resource": resource, "request": {"method": "POST", "url": resource_type}});
    if let Some(full_url) = full_url {
        entry["fullUrl"] = json!(full_url);
    }
    entry
}

/// `Type/id` from a response entry's `location` (`Type/id/_history/n`).
fn reference_of(entry: &Value) -> String {
    let location = entry["response"]["location"].as_str().unwrap();
    let parts: Vec<&str> = location.split('/').collect();
    assert_eq!(parts.len(), 4, "{location}");
    assert_eq!(parts[2], "_history", "{location}");
    format!("{}/{}", parts[0], parts[1])
}

#[test]
fn placeholders_are_rewritten_everywhere() {
    let server = Server::start();
    let p = "urn:uuid:6f1c7c0a-1111-4a4a-8b8b-000000000001";
    let o = "urn:uuid:6f1c7c0a-1111-4a4a-8b8b-000000000002";
    let mut the_patient = patient("urn:tx", "rw");
    the_patient["managingOrganization"] = json!({"reference": o});
    the_patient["extension"] = json!([
        {"url": "urn:ext:origin", "valueUri": p},
        {"url": "urn:ext:org", "valueReference": {"reference": o}}
    ]);
    let observation = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": p},
        "performer": [{"reference": "#role"}],
        "contained": [{
            "resourceType": "PractitionerRole",
            "id": "role",
            "organization": {"reference": o}
        }]
    });
    let provenance = json!({
        "resourceType": "Provenance",
        "target": [{"reference": p}],
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"who": {"reference": o}}],
        "entity": [{"role": "source", "what": {"reference": p}}],
        "policy": [p]
    });
    let request = bundle(
        "transaction",
        vec![
            post_entry(Some(p), the_patient),
            post_entry(None, observation),
            post_entry(
                Some(o),
                json!({"resourceType": "Organization", "name": "Acme"}),
            ),
            post_entry(None, provenance),
        ],
    );
    let response = server.post("", &request);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["type"], "transaction-response");
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    for entry in entries {
        assert_eq!(entry["response"]["status"], "201 Created");
        assert_eq!(entry["response"]["etag"], "W/\"1\"");
    }
    let patient_ref = reference_of(&entries[0]);
    let org_ref = reference_of(&entries[2]);
    assert!(patient_ref.starts_with("Patient/"), "{patient_ref}");
    assert!(org_ref.starts_with("Organization/"), "{org_ref}");

    let stored_patient = server.get(&patient_ref).json();
    assert_eq!(
        stored_patient["managingOrganization"]["reference"],
        org_ref.as_str()
    );
    assert_eq!(
        stored_patient["extension"][0]["valueUri"],
        patient_ref.as_str()
    );
    assert_eq!(
        stored_patient["extension"][1]["valueReference"]["reference"],
        org_ref.as_str()
    );
    let stored_observation = server.get(&reference_of(&entries[1])).json();
    assert_eq!(
        stored_observation["subject"]["reference"],
        patient_ref.as_str()
    );
    assert_eq!(stored_observation["performer"][0]["reference"], "#role");
    assert_eq!(
        stored_observation["contained"][0]["organization"]["reference"],
        org_ref.as_str()
    );
    let stored_provenance = server.get(&reference_of(&entries[3])).json();
    assert_eq!(
        stored_provenance["target"][0]["reference"],
        patient_ref.as_str()
    );
    assert_eq!(
        stored_provenance["entity"][0]["what"]["reference"],
        patient_ref.as_str()
    );
    assert_eq!(
        stored_provenance["agent"][0]["who"]["reference"],
        org_ref.as_str()
    );
    assert_eq!(stored_provenance["policy"][0], patient_ref.as_str());
    // The response carries the stored resources.
    assert_eq!(entries[0]["resource"], stored_patient);
    assert!(
        !response.text().contains("urn:uuid:"),
        "{}",
        response.text()
    );

    // A placeholder that names no entry fails the whole transaction.
    let dangling = bundle(
        "transaction",
        vec![post_entry(
            None,
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "urn:uuid:00000000-0000-0000-0000-00000000dead"}}),
        )],
    );
    server
        .post("", &dangling)
        .assert_outcome(400, "00000000dead");
    assert_eq!(server.count("Observation"), 1);
}

#[test]
fn conditional_references_resolve() {
    let server = Server::start();
    let existing = server.create(&patient("urn:mrn", "123"));
    server.create(&patient("urn:mrn", "dup"));
    server.create(&patient("urn:mrn", "dup"));
    let observation = |reference: &str| {
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
               "subject": {"reference": reference}})
    };
    let ok = server.post(
        "",
        &bundle(
            "transaction",
            vec![post_entry(
                None,
                observation("Patient?identifier=urn:mrn|123"),
            )],
        ),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let stored = server.get(&reference_of(&ok.json()["entry"][0])).json();
    assert_eq!(
        stored["subject"]["reference"],
        format!("Patient/{}", existing["id"].as_str().unwrap())
    );
    // ... also to a resource the same transaction creates with ifNoneExist.
    let mut new_patient = patient("urn:mrn", "new");
    new_patient["id"] = json!("ignored");
    let same_tx = server.post(
        "",
        &bundle(
            "transaction",
            vec![
                post_entry(None, observation("Patient?identifier=urn:mrn|new")),
                json!({"resource": patient("urn:mrn", "new"),
                       "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:mrn|new"}}),
            ],
        ),
    );
    assert_eq!(same_tx.status, 200, "{}", same_tx.text());
    let entries = same_tx.json()["entry"].clone();
    let stored = server.get(&reference_of(&entries[0])).json();
    assert_eq!(
        stored["subject"]["reference"],
        reference_of(&entries[1]).as_str()
    );

    let none = server.post(
        "",
        &bundle(
            "transaction",
            vec![post_entry(
                None,
                observation("Patient?identifier=urn:mrn|nobody"),
            )],
        ),
    );
    none.assert_outcome(412, "nobody");
    let several = server.post(
        "",
        &bundle(
            "transaction",
            vec![post_entry(
                None,
                observation("Patient?identifier=urn:mrn|dup"),
            )],
        ),
    );
    several.assert_outcome(412, "more than one");
    let unsupported = server.post(
        "",
        &bundle(
            "transaction",
            vec![post_entry(None, observation("Patient?nosuchparam=Test"))],
        ),
    );
    unsupported.assert_outcome(400, "nosuchparam");
    assert_eq!(server.count("Observation"), 2);
}

#[test]
fn processing_order_and_response_order() {
    let server = Server::start();
    let doomed = server.create(&patient("urn:order", "doomed"));
    let doomed_ref = format!("Patient/{}", doomed["id"].as_str().unwrap());
    let mut kept = patient("urn:order", "kept");
    kept["id"] = json!("kept");
    assert_eq!(server.put("Patient/kept", &kept).status, 201);
    kept["active"] = json!(false);
    let patch = json!([{"op": "replace", "path": "/gender", "value": "other"}]);
    let binary = json!({
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64(&serde_json::to_vec(&patch).unwrap())
    });
    let request = bundle(
        "transaction",
        vec![
            json!({"request": {"method": "GET", "url": "Patient?identifier=urn:order|new"}}),
            json!({"request": {"method": "GET", "url": "Patient/kept"}}),
            json!({"resource": kept, "request": {"method": "PUT", "url": "Patient/kept"}}),
            post_entry(None, patient("urn:order", "new")),
            json!({"request": {"method": "DELETE", "url": doomed_ref}}),
            json!({"request": {"method": "GET", "url": format!("Patient?_id={}", doomed["id"].as_str().unwrap())}}),
            json!({"resource": binary, "request": {"method": "PATCH", "url": "Patient/kept"}}),
        ],
    );
    // PUT and PATCH of one resource in a transaction is refused.
    server.post("", &request).assert_outcome(400, "only once");

    let mut entries = request["entry"].as_array().unwrap().clone();
    entries.pop();
    let response = server.post("", &bundle("transaction", entries));
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    // Responses come in request order even though GETs ran last.
    let searched = &entries[0]["resource"];
    assert_eq!(searched["type"], "searchset");
    assert_eq!(
        ids(searched),
        vec![
            reference_of(&entries[3])
                .trim_start_matches("Patient/")
                .to_owned()
        ]
    );
    assert_eq!(entries[1]["response"]["status"], "200 OK");
    assert_eq!(
        entries[1]["resource"]["active"], false,
        "GET ran after the PUT"
    );
    assert_eq!(entries[1]["response"]["etag"], "W/\"2\"");
    assert_eq!(entries[2]["response"]["status"], "200 OK");
    assert_eq!(entries[3]["response"]["status"], "201 Created");
    assert_eq!(entries[4]["response"]["status"], "204 No Content");
    assert_eq!(
        ids(&entries[5]["resource"]),
        Vec::<String>::new(),
        "GET ran after the DELETE"
    );
    assert_eq!(server.get(&doomed_ref).status, 410);

    // PATCH through a Binary.
    let patch = json!([{"op": "add", "path": "/gender", "value": "other"}]);
    let patched = server.post(
        "",
        &bundle(
            "transaction",
            vec![json!({
                "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                             "data": base64(&serde_json::to_vec(&patch).unwrap())},
                "request": {"method": "PATCH", "url": "Patient/kept"}
            })],
        ),
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(server.get("Patient/kept").json()["gender"], "other");

    // Minimal responses leave resources out.
    let minimal = server
        .request(Method::POST, "")
        .header("Prefer", "return=minimal")
        .json(&bundle(
            "transaction",
            vec![post_entry(None, patient("urn:order", "m"))],
        ))
        .send();
    assert_eq!(minimal.status, 200);
    let minimal = minimal.json();
    assert_eq!(minimal["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(minimal["entry"][0].get("resource"), None);
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// 100 entries whose 50th fails: nothing of the transaction may remain.
#[test]
fn a_failing_entry_rolls_back_everything() {
    let server = Server::start();
    let mut guarded = patient("urn:atomic", "guarded");
    guarded["id"] = json!("guarded");
    assert_eq!(server.put("Patient/guarded", &guarded).status, 201);
    let history_before = server.system_history_len();

    let entries_with = |failing: Value| {
        let mut entries: Vec<Value> = (0..100)
            .map(|n| {
                post_entry(
                    Some(&format!("urn:uuid:00000000-0000-4000-8000-{n:012}")),
                    patient("urn:atomic", &format!("n{n}")),
                )
            })
            .collect();
        entries[49] = failing;
        bundle("transaction", entries)
    };
    // Fails when it runs, after 49 writes: If-Match does not hold.
    let stale = entries_with(json!({
        "resource": guarded.clone(),
        "request": {"method": "PUT", "url": "Patient/guarded", "ifMatch": "W/\"5\""}
    }));
    let outcome = server.post("", &stale).assert_outcome(412, "If-Match");
    assert_eq!(
        outcome["issue"][0]["expression"],
        json!(["Bundle.entry[49]"])
    );
    // Fails its check: an invalid resource.
    let mut invalid = patient("urn:atomic", "bad");
    invalid["active"] = json!("yes");
    let invalid = entries_with(post_entry(None, invalid));
    let outcome = server.post("", &invalid).assert_outcome(400, "active");
    assert!(
        outcome["issue"][0]["expression"][0]
            .as_str()
            .unwrap()
            .starts_with("Bundle.entry[49]"),
        "{outcome}"
    );
    // Fails last, after every write ran: a GET of a missing resource.
    let missing = entries_with(json!({"request": {"method": "GET", "url": "Patient/missing"}}));
    let outcome = server
        .post("", &missing)
        .assert_outcome(404, "Patient/missing");
    assert_eq!(
        outcome["issue"][0]["expression"],
        json!(["Bundle.entry[49]"])
    );
    // Fails in the PATCH phase: a JSON Patch test operation.
    let patch = json!([{"op": "test", "path": "/active", "value": false}]);
    let failing_patch = entries_with(json!({
        "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                     "data": base64(&serde_json::to_vec(&patch).unwrap())},
        "request": {"method": "PATCH", "url": "Patient/guarded"}
    }));
    server
        .post("", &failing_patch)
        .assert_outcome(422, "JSON Patch failed");

    assert_eq!(server.count("Patient?identifier=urn:atomic|"), 1);
    assert_eq!(server.system_history_len(), history_before);
    assert_eq!(server.get("Patient/guarded").etag_version(), 1);

    // The same transaction without the failure writes all 100.
    let good = entries_with(post_entry(None, patient("urn:atomic", "n49")));
    let response = server.post("", &good);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(server.count("Patient?identifier=urn:atomic|"), 101);
    assert_eq!(server.system_history_len(), history_before + 100);
}

#[test]
fn batch_entries_fail_independently() {
    let server = Server::start();
    let existing = server.create(&patient("urn:batch", "e"));
    let existing_ref = format!("Patient/{}", existing["id"].as_str().unwrap());
    let mut invalid = patient("urn:batch", "bad");
    invalid["birthDate"] = json!(19700101);
    let request = bundle(
        "batch",
        vec![
            post_entry(None, patient("urn:batch", "ok")),
            post_entry(None, invalid),
            json!({"request": {"method": "GET", "url": "Patient/missing"}}),
            json!({"resource": existing.clone(), "request": {"method": "PUT", "url": existing_ref, "ifMatch": "W/\"9\""}}),
            json!({"request": {"method": "GET", "url": existing_ref}}),
            json!({"request": {"method": "FLY", "url": "Patient"}}),
            json!({"request": {"method": "GET", "url": "Unicorn/1"}}),
            json!({"request": {"method": "DELETE", "url": existing_ref}}),
        ],
    );
    let response = server.post("", &request);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert_eq!(body["type"], "batch-response");
    let entries = body["entry"].as_array().unwrap();
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    // The GET of entry 4 and the DELETE of entry 7 run independently; the GET may see either.
    assert_eq!(statuses[0], "201 Created");
    assert_eq!(statuses[1], "400 Bad Request");
    assert_eq!(statuses[2], "404 Not Found");
    assert_eq!(statuses[3], "412 Precondition Failed");
    assert_eq!(statuses[5], "400 Bad Request");
    assert_eq!(statuses[6], "404 Not Found");
    assert_eq!(statuses[7], "204 No Content");
    let outcome = |n: usize| &entries[n]["response"]["outcome"];
    assert_eq!(outcome(1)["resourceType"], "OperationOutcome");
    assert!(
        outcome(1).to_string().contains("birthDate"),
        "{}",
        outcome(1)
    );
    assert!(
        outcome(2).to_string().contains("Patient/missing"),
        "{}",
        outcome(2)
    );
    assert!(
        outcome(3).to_string().contains("If-Match"),
        "{}",
        outcome(3)
    );
    assert!(outcome(5).to_string().contains("FLY"), "{}", outcome(5));
    assert!(outcome(6).to_string().contains("Unicorn"), "{}", outcome(6));
    assert_eq!(entries[0]["response"].get("outcome"), None);
    assert_eq!(server.count("Patient?identifier=urn:batch|ok"), 1);
    assert_eq!(server.get(&existing_ref).status, 410);
}

#[test]
fn malformed_bundles() {
    let server = Server::start();
    server
        .post("", &json!({"resourceType": "Bundle", "type": "collection"}))
        .assert_outcome(400, "collection");
    server
        .post("", &patient("urn:x", "1"))
        .assert_outcome(400, "Bundle");
    server
        .post(
            "",
            &json!({"resourceType": "Bundle", "type": "transaction", "entry": {}}),
        )
        .assert_outcome(400, "Bundle.entry");
    server
        .post(
            "",
            &bundle(
                "transaction",
                vec![json!({"resource": patient("urn:x", "1")})],
            ),
        )
        .assert_outcome(400, "no request");
    server
        .post(
            "",
            &bundle(
                "transaction",
                vec![json!({"resource": patient("urn:x", "1"), "request": {"method": "POST", "url": "Patient/a/b/c/d"}})],
            ),
        )
        .assert_outcome(400, "Patient/a/b/c/d");
    let empty = server.post("", &bundle("transaction", vec![]));
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["type"], "transaction-response");
    assert_eq!(server.count("Patient"), 0);
}
