//! Bad input of every kind is answered with an OperationOutcome, and the server keeps serving.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::json;
use support::{FHIR_JSON, Options, Server, patient};

fn post_raw(server: &Server, body: impl Into<Vec<u8>>) -> support::Resp {
    server
        .request(Method::POST, "Patient")
        .body(FHIR_JSON, body)
        .send()
}

/// The server still answers a normal request.
fn still_serving(server: &Server) {
    let created = server.create(&patient("urn:alive", "x"));
    assert_eq!(created["resourceType"], "Patient");
}

#[test]
fn malformed_bodies() {
    let server = Server::start();
    post_raw(&server, r#"{"resourceType": "Patient", "active": tr"#)
        .assert_outcome(400, "not valid JSON");
    post_raw(&server, "[]").assert_outcome(400, "JSON object");
    post_raw(&server, r#"[{"resourceType": "Patient"}]"#).assert_outcome(400, "JSON object");
    post_raw(&server, "").assert_outcome(400, "empty");
    post_raw(&server, "null").assert_outcome(400, "JSON object");
    post_raw(&server, r#"{"active": true}"#).assert_outcome(400, "resourceType");
    post_raw(
        &server,
        r#"{"resourceType": "Observation", "status": "final"}"#,
    )
    .assert_outcome(400, "does not match");
    post_raw(
        &server,
        b"{\"resourceType\": \"Patient\", \"gender\": \"\xff\xfe\"}".to_vec(),
    )
    .assert_outcome(400, "not valid JSON");
    post_raw(&server, b"\xef\xbb\xbf{}".to_vec()).assert_outcome(400, "not valid JSON");
    server
        .request(Method::POST, "Patient")
        .raw_body(serde_json::to_vec(&patient("urn:x", "1")).unwrap())
        .send()
        .assert_outcome(415, "Content-Type");
    still_serving(&server);
}

#[test]
fn wrong_types_and_unknown_elements_point_at_the_problem() {
    let server = Server::start();
    let mut wrong = patient("urn:x", "1");
    wrong["active"] = json!("yes");
    let response = server.post("Patient", &wrong);
    response.assert_outcome(400, "Patient.active");

    let mut unknown = patient("urn:x", "1");
    unknown["favouriteColour"] = json!("blue");
    unknown["name"][0]["nickname"] = json!("Bob");
    let response = server.post("Patient", &unknown);
    response.assert_outcome(400, "favouriteColour");
    let expressions = response.expressions();
    assert_eq!(expressions.len(), 2, "{expressions:?}");
    assert!(
        expressions.iter().any(|e| e.starts_with("Patient.name[0]")),
        "{expressions:?}"
    );
    assert!(response.text().contains("nickname"), "{}", response.text());

    let mut bad_date = patient("urn:x", "1");
    bad_date["birthDate"] = json!("1970-13-45");
    server
        .post("Patient", &bad_date)
        .assert_outcome(400, "Patient.birthDate");
    let mut bad_code = patient("urn:x", "1");
    bad_code["gender"] = json!(["female"]);
    server
        .post("Patient", &bad_code)
        .assert_outcome(400, "Patient.gender");
    let mut bad_id = patient("urn:x", "1");
    bad_id["id"] = json!("has space");
    bad_id["active"] = json!(true);
    let put = server.put("Patient/has%20space", &bad_id);
    put.assert_outcome(400, "has space");
    assert_eq!(server.count("Patient"), 0);
    still_serving(&server);
}

#[test]
fn deeply_nested_json() {
    let server = Server::start();
    let mut nested = "1".to_owned();
    for _ in 0..100 {
        nested = format!("{{\"a\":{nested}}}");
    }
    let body = format!(
        "{{\"resourceType\":\"Patient\",\"extension\":[{{\"url\":\"urn:x\",\"valueString\":{nested}}}]}}"
    );
    post_raw(&server, body).assert_outcome(400, "valueString");
    let mut deeper = "1".to_owned();
    for _ in 0..10_000 {
        deeper = format!("[{deeper}]");
    }
    let body = format!("{{\"resourceType\":\"Patient\",\"active\":{deeper}}}");
    post_raw(&server, body).assert_outcome(400, "not valid JSON");
    still_serving(&server);
}

#[test]
fn oversized_bodies() {
    let server = Server::start();
    let mut big = patient("urn:x", "big");
    big["text"] = json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>", "x".repeat(20 * 1024 * 1024))});
    let response = server.post("Patient", &big);
    response.assert_outcome(413, "16777216");
    still_serving(&server);

    let small = Server::start_with(Options {
        body_limit: Some(1000),
        ..Options::default()
    });
    let mut medium = patient("urn:x", "medium");
    medium["text"] = json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>", "x".repeat(2000))});
    small
        .post("Patient", &medium)
        .assert_outcome(413, "1000 bytes");
    // Without a Content-Length (chunked), the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(serde_json::to_vec(&medium).unwrap())];
    let streamed = small
        .client
        .post(small.url("Patient"))
        .header("content-type", FHIR_JSON)
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            chunks.into_iter().next().unwrap().unwrap(),
        )))
        .send()
        .unwrap();
    assert_eq!(streamed.status().as_u16(), 413);
    still_serving(&small);
}

#[test]
fn hostile_ids_and_paths() {
    let server = Server::start();
    let body = patient("urn:x", "1");
    for id in [
        "..%2F..%2Fetc",
        "..%2F",
        "a%00b",
        "%00",
        "a%2Fb",
        "caf%C3%A9",
    ] {
        server
            .get(&format!("Patient/{id}"))
            .assert_outcome(400, "invalid resource id");
        server
            .put(&format!("Patient/{id}"), &body)
            .assert_outcome(400, "id");
        server
            .delete(&format!("Patient/{id}"))
            .assert_outcome(400, "invalid resource id");
    }
    let long = "a".repeat(65);
    server
        .get(&format!("Patient/{long}"))
        .assert_outcome(400, "1-64 characters");
    let mut long_body = body.clone();
    long_body["id"] = json!(long);
    server
        .put(&format!("Patient/{long}"), &long_body)
        .assert_outcome(400, "1-64 characters");
    let ok_64 = "a".repeat(64);
    let mut body_64 = body.clone();
    body_64["id"] = json!(ok_64);
    assert_eq!(
        server.put(&format!("Patient/{ok_64}"), &body_64).status,
        201
    );

    server.get("Patient/a/b").assert_outcome(404, "\"b\"");
    server.get("Unicorn/1").assert_outcome(404, "Unicorn");
    server
        .post("Unicorn", &json!({"resourceType": "Unicorn"}))
        .assert_outcome(404, "Unicorn");
    server.get("patient/1").assert_outcome(404, "patient");
    server.get("?_type=Unicorn").assert_outcome(404, "Unicorn");
    let outside = server
        .client
        .get(server.base.trim_end_matches("/fhir").to_owned() + "/admin")
        .send()
        .unwrap();
    assert_eq!(outside.status().as_u16(), 404);
    assert_eq!(
        outside.headers()["content-type"].to_str().unwrap(),
        "application/fhir+json; charset=utf-8"
    );

    server
        .request(Method::POST, "Patient/1")
        .json(&body)
        .send()
        .assert_outcome(405, "not supported");
    server
        .request(Method::DELETE, "metadata")
        .send()
        .assert_outcome(405, "not supported");
    server
        .request(Method::PUT, "_history")
        .send()
        .assert_outcome(405, "not supported");
    still_serving(&server);
}
