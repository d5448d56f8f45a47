//! `GET /$data-quality` over real HTTP: implausible values, future and impossible dates and
//! invariant failures appear in the JSON report with exact counts and examples, and in the
//! HTML page.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Options, Server};

/// A server that stores what it is given: the report is about data that got in before
/// validation was on (or under `--validate off`), which is what it must find.
fn unvalidated_server() -> Server {
    Server::start_with(Options {
        validation: Some(medulla_engine::ValidationPolicy {
            default: medulla_engine::ValidationLevel::Off,
            ..Default::default()
        }),
        ..Options::default()
    })
}

/// Stores `resource` under its own id (update as create).
fn put(server: &Server, resource: &Value) {
    let path = format!(
        "{}/{}",
        resource["resourceType"].as_str().unwrap(),
        resource["id"].as_str().unwrap()
    );
    let response = server.put(&path, resource);
    assert_eq!(response.status, 201, "{path}: {}", response.text());
}

fn heart_rate(id: &str, per_minute: u32) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4",
            "display": "Heart rate"}]},
        "subject": {"reference": "Patient/healthy"},
        "effectiveDateTime": "2024-03-01T10:00:00Z",
        "valueQuantity": {"value": per_minute, "unit": "/min",
            "system": "http://unitsofmeasure.org", "code": "/min"}})
}

fn populate(server: &Server) {
    put(
        server,
        &json!({"resourceType": "Patient", "id": "healthy", "gender": "female",
            "birthDate": "1970-01-01", "name": [{"family": "Healthy"}]}),
    );
    put(
        server,
        &json!({"resourceType": "Patient", "id": "unborn", "gender": "male",
            "birthDate": "2090-01-01"}),
    );
    put(
        server,
        &json!({"resourceType": "Patient", "id": "died-before-birth", "gender": "other",
            "birthDate": "1980-05-01", "deceasedDateTime": "1979-12-31T10:00:00Z"}),
    );
    put(server, &heart_rate("hr-normal", 72));
    put(server, &heart_rate("hr-400", 400));
    // obs-6: dataAbsentReason only when there is no value.
    put(
        server,
        &json!({"resourceType": "Observation", "id": "absent-with-value", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {"value": 80, "system": "http://unitsofmeasure.org", "code": "/min"},
            "dataAbsentReason": {"text": "not asked"}}),
    );
}

fn type_summary<'a>(report: &'a Value, resource_type: &str) -> &'a Value {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|summary| summary["resourceType"] == resource_type)
        .unwrap_or_else(|| panic!("no {resource_type} in {report:#}"))
}

#[test]
fn json_report_lists_exact_findings_and_counts() {
    let server = unvalidated_server();
    populate(&server);
    let response = server.get("$data-quality");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type").as_deref(),
        Some("application/json")
    );
    let report: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(report["report"], "medulla-data-quality");
    assert_eq!(report["resourceCount"], 6);

    assert_eq!(
        report["plausibility"]["findings"],
        json!([
            {"kind": "implausible-value", "resourceType": "Observation",
             "path": "Observation.value", "detail": "8867-4 heart rate outside 20–250 /min",
             "count": 1, "resources": 1, "examples": ["Observation/hr-400"]},
            {"kind": "future-date", "resourceType": "Patient", "path": "Patient.birthDate",
             "detail": "", "count": 1, "resources": 1, "examples": ["Patient/unborn"]},
            {"kind": "death-before-birth", "resourceType": "Patient",
             "path": "Patient.deceased", "detail": "", "count": 1, "resources": 1,
             "examples": ["Patient/died-before-birth"]},
        ])
    );

    let errors = report["conformance"]["errors"].as_array().unwrap();
    assert_eq!(
        errors,
        &[
            json!({"resourceType": "Observation", "constraint": "obs-6", "code": "invariant",
            "message": "Constraint failed: obs-6: 'dataAbsentReason SHALL only be present if Observation.value[x] is not present'",
            "expression": "Observation", "count": 1, "resources": 1,
            "examples": ["Observation/absent-with-value"]})
        ],
        "{errors:#?}"
    );

    let patients = type_summary(&report, "Patient");
    assert_eq!(
        (
            &patients["count"],
            &patients["valid"],
            &patients["withPlausibilityFindings"]
        ),
        (&json!(3), &json!(3), &json!(2))
    );
    let observations = type_summary(&report, "Observation");
    assert_eq!(
        (&observations["count"], &observations["valid"]),
        (&json!(3), &json!(2))
    );
    let birth_date = patients["completeness"][0]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|element| element["path"] == "Patient.birthDate")
        .unwrap();
    assert_eq!(patients["completeness"][0]["basis"], "base");
    assert_eq!(
        (&birth_date["present"], &birth_date["share"]),
        (&json!(3), &json!(1.0))
    );
    let name = patients["completeness"][0]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|element| element["path"] == "Patient.name")
        .unwrap();
    assert_eq!(
        (&name["present"], &name["share"]),
        (&json!(1), &json!(0.3333))
    );
}

#[test]
fn types_restrict_the_report() {
    let server = unvalidated_server();
    populate(&server);
    let report: Value =
        serde_json::from_slice(&server.get("$data-quality?_type=Observation").body).unwrap();
    assert_eq!(report["resourceCount"], 3);
    let types: Vec<&Value> = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| &summary["resourceType"])
        .collect();
    assert_eq!(types, [&json!("Observation")]);
    server
        .get("$data-quality?_type=Nonsense")
        .assert_outcome(400, "Nonsense");
}

#[test]
fn html_page_shows_the_findings() {
    let server = unvalidated_server();
    populate(&server);
    for response in [
        server.get("$data-quality?_format=html"),
        server
            .request(Method::GET, "$data-quality")
            .header("accept", "text/html")
            .send(),
    ] {
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            response.header("content-security-policy").as_deref(),
            Some("default-src 'none'; style-src 'unsafe-inline'")
        );
        let page = String::from_utf8(response.body.clone()).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(
            page.contains("8867-4 heart rate outside 20–250 /min"),
            "{page}"
        );
        assert!(page.contains("<code>Observation/hr-400</code>"), "{page}");
        assert!(
            page.contains("<code>Patient/died-before-birth</code>"),
            "{page}"
        );
        assert!(page.contains("<code>obs-6</code>"), "{page}");
        assert!(!page.contains("<script"), "{page}");
    }
}

/// A system token with `scope`, from a symmetric client over `client_credentials`.
fn system_token(server: &Server, scope: &str) -> String {
    let store = server.store();
    let client = server
        .block_on(medulla_auth::register_client(
            &*store,
            medulla_auth::NewClient {
                name: "quality".into(),
                kind: medulla_auth::ClientKind::Symmetric,
                jwks: None,
                redirect_uris: vec![],
                scope: "system/*.cruds".into(),
            },
        ))
        .unwrap();
    let secret = client.client_secret.unwrap();
    let response = server
        .client
        .post(format!("{}/auth/token", server.origin))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn the_report_needs_unrestricted_read_access_to_its_types() {
    let server = Server::start_with(Options {
        auth: true,
        ..Options::default()
    });
    let everything = system_token(&server, "system/*.cruds");
    let response = server
        .as_token(&everything, Method::PUT, "Patient/unborn")
        .json(&json!({"resourceType": "Patient", "id": "unborn", "birthDate": "2090-01-01"}))
        .send();
    assert_eq!(response.status, 201, "{}", response.text());

    let patients_only = system_token(&server, "system/Patient.rs");
    let allowed = server.get_as(&patients_only, "$data-quality?_type=Patient");
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let report: Value = serde_json::from_slice(&allowed.body).unwrap();
    assert_eq!(
        report["plausibility"]["findings"][0]["examples"],
        json!(["Patient/unborn"])
    );
    server
        .get_as(&patients_only, "$data-quality")
        .assert_outcome(403, "every resource type");
    server
        .get_as(&patients_only, "$data-quality?_type=Patient,Observation")
        .assert_outcome(403, "unrestricted read access to Observation");
    assert_eq!(server.get("$data-quality?_type=Patient").status, 401);
}
