//! Conditional create, update and delete: 0, 1 and several matches, and criteria that must never
//! widen into "everything".

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::json;
use support::{Options, Server, ids, patient};

fn create_if_none_exist(server: &Server, criteria: &str, value: &str) -> support::Resp {
    server
        .request(Method::POST, "Patient")
        .header("If-None-Exist", criteria)
        .json(&patient("urn:cond", value))
        .send()
}

#[test]
fn conditional_create() {
    let server = Server::start();
    let first = create_if_none_exist(&server, "identifier=urn:cond|a", "a");
    assert_eq!(first.status, 201, "{}", first.text());
    let id = first.json()["id"].as_str().unwrap().to_owned();

    let again = create_if_none_exist(&server, "identifier=urn:cond|a", "a");
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(again.etag_version(), 1);
    assert_eq!(
        again.header("location").unwrap(),
        format!("{}/Patient/{id}/_history/1", server.base)
    );
    // A full URL form of the criteria works too.
    let full = create_if_none_exist(
        &server,
        &format!("{}/Patient?identifier=urn:cond|a", server.base),
        "a",
    );
    assert_eq!(full.status, 200);
    assert_eq!(server.count("Patient"), 1);

    server.create(&patient("urn:cond", "b"));
    server.create(&patient("urn:cond", "b"));
    create_if_none_exist(&server, "identifier=urn:cond|b", "b")
        .assert_outcome(412, "more than one");
    assert_eq!(server.count("Patient"), 3);

    create_if_none_exist(&server, "nosuchparam=Test", "c").assert_outcome(400, "nosuchparam");
    create_if_none_exist(&server, "_lastUpdated=yesterday", "c").assert_outcome(400, "yesterday");
    create_if_none_exist(&server, "_count=1", "c").assert_outcome(400, "selects");
    assert_eq!(
        server.count("Patient"),
        3,
        "failed conditional creates wrote nothing"
    );
}

#[test]
fn conditional_update() {
    let server = Server::start();
    let put =
        |criteria: &str, body: &serde_json::Value| server.put(&format!("Patient?{criteria}"), body);
    // No match, no id: created with a server id.
    let created = put("identifier=urn:cond|u1", &patient("urn:cond", "u1"));
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    // One match: updated.
    let mut body = patient("urn:cond", "u1");
    body["active"] = json!(false);
    let updated = put("identifier=urn:cond|u1", &body);
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["id"], id.as_str());
    assert_eq!(updated.etag_version(), 2);
    // One match, the body's id is the match's: fine.
    body["id"] = json!(id);
    assert_eq!(put("identifier=urn:cond|u1", &body).status, 200);
    // One match, another id in the body: 400.
    body["id"] = json!("someone-else");
    put("identifier=urn:cond|u1", &body).assert_outcome(400, "someone-else");
    assert_eq!(server.get(&format!("Patient/{id}")).etag_version(), 3);
    // No match with an id in the body: created under that id.
    let mut with_id = patient("urn:cond", "u2");
    with_id["id"] = json!("chosen-u2");
    let created_with_id = put("identifier=urn:cond|u2", &with_id);
    assert_eq!(created_with_id.status, 201, "{}", created_with_id.text());
    assert_eq!(created_with_id.json()["id"], "chosen-u2");
    // Several matches: 412.
    server.create(&patient("urn:cond", "dup"));
    server.create(&patient("urn:cond", "dup"));
    put("identifier=urn:cond|dup", &patient("urn:cond", "dup"))
        .assert_outcome(412, "more than one");
    // No criteria, unsupported criteria.
    server
        .put("Patient", &patient("urn:cond", "x"))
        .assert_outcome(400, "search criteria");
    put("nosuchparam=Test", &patient("urn:cond", "x")).assert_outcome(400, "nosuchparam");
    put("_summary=count", &patient("urn:cond", "x")).assert_outcome(400, "selects");
    // Result parameters are not criteria.
    let pretty = put(
        "identifier=urn:cond|u1&_pretty=true",
        &patient("urn:cond", "u1"),
    );
    assert_eq!(pretty.status, 200, "{}", pretty.text());
    assert_eq!(server.count("Patient"), 4);
}

#[test]
fn conditional_delete() {
    let server = Server::start();
    for value in ["one", "two", "two", "keep"] {
        server.create(&patient("urn:cond", value));
    }
    let none = server.delete("Patient?identifier=urn:cond|zero");
    assert_eq!(none.status, 200, "{}", none.text());
    assert!(
        none.text().contains("nothing was deleted"),
        "{}",
        none.text()
    );
    let one = server.delete("Patient?identifier=urn:cond|one");
    assert_eq!(one.status, 200);
    assert!(one.text().contains("deleted 1"), "{}", one.text());
    assert_eq!(server.count("Patient?identifier=urn:cond|one"), 0);
    server
        .delete("Patient?identifier=urn:cond|two")
        .assert_outcome(412, "more than one");
    assert_eq!(server.count("Patient?identifier=urn:cond|two"), 2);

    // Criteria that cannot be honoured must never delete everything.
    server
        .delete("Patient?nosuchparam=Test")
        .assert_outcome(400, "nosuchparam");
    server
        .delete("Patient?name:nosuchmodifier=Test")
        .assert_outcome(400, "name:nosuchmodifier");
    server
        .delete("Patient?identifier:in=urn:cond|keep")
        .assert_outcome(400, "identifier:in");
    server
        .delete("Patient")
        .assert_outcome(400, "search criteria");
    server
        .delete("Patient?")
        .assert_outcome(400, "search criteria");
    server
        .delete("Patient?_pretty=true")
        .assert_outcome(400, "empty");
    server.delete("Patient?&&").assert_outcome(400, "empty");
    // Result parameters alone select nothing (regression: they used to match every resource).
    server
        .delete("Patient?_count=100")
        .assert_outcome(400, "_count");
    server
        .delete("Patient?_summary=true&_elements=id")
        .assert_outcome(400, "selects");
    assert_eq!(server.count("Patient"), 3, "nothing more was deleted");
}

#[test]
fn conditional_delete_of_several_when_allowed() {
    let server = Server::start_with(Options {
        allow_multiple_delete: true,
        ..Options::default()
    });
    for value in ["two", "two", "keep"] {
        server.create(&patient("urn:cond", value));
    }
    // Regression: criteria of result parameters only used to match (and delete) everything.
    server
        .delete("Patient?_count=1000")
        .assert_outcome(400, "selects");
    server
        .delete("Patient?_total=accurate")
        .assert_outcome(400, "selects");
    assert_eq!(server.count("Patient"), 3);
    let deleted = server.delete("Patient?identifier=urn:cond|two");
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert!(deleted.text().contains("deleted 2"), "{}", deleted.text());
    let left = server.search("Patient");
    assert_eq!(ids(&left).len(), 1);
    assert_eq!(
        left["entry"][0]["resource"]["identifier"][0]["value"],
        "keep"
    );
}

#[test]
fn conditional_patch() {
    let server = Server::start();
    server.create(&patient("urn:cond", "p"));
    let patched = server
        .request(Method::PATCH, "Patient?identifier=urn:cond|p")
        .body(
            "application/json-patch+json",
            br#"[{"op":"replace","path":"/active","value":false}]"#.to_vec(),
        )
        .send();
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["active"], false);
    server
        .request(Method::PATCH, "Patient?identifier=urn:cond|nobody")
        .body("application/json-patch+json", b"[]".to_vec())
        .send()
        .assert_outcome(404, "nobody");
}
