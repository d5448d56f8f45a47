//! Logs never carry resource content (PHI), even at debug level.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::Server;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn patient_names_stay_out_of_the_logs() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let server = Server::start();
    let mut body = json!({
        "resourceType": "Patient",
        "identifier": [{"system": "urn:log", "value": "Quuxworth-MRN"}],
        "name": [{"family": "Quuxworth", "given": ["Zebediah"]}]
    });
    let created = server.create(&body);
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("Patient/{id}");
    assert_eq!(server.get(&path).status, 200);
    assert_eq!(
        server.search("Patient?identifier=urn:log|Quuxworth-MRN")["entry"][0]["resource"]["id"],
        id.as_str()
    );
    // Failures too: a search with an unknown parameter, an invalid update, a stale If-Match.
    server.search("Patient?name=Zebediah");
    body["id"] = json!(id);
    body["birthDate"] = json!("Zebediah Quuxworth");
    server.put(&path, &body).assert_outcome(400, "birthDate");
    body["birthDate"] = json!("1970-01-01");
    assert_eq!(server.put(&path, &body).status, 200);
    server
        .request(Method::PUT, &path)
        .header("If-Match", "W/\"1\"")
        .json(&body)
        .send()
        .assert_outcome(412, "If-Match");
    server
        .get("Patient?_lastUpdated=Zebediah")
        .assert_outcome(400, "_lastUpdated");
    assert_eq!(server.delete(&path).status, 204);
    drop(server);

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request"),
        "debug request lines are logged: {logs}"
    );
    assert!(
        logs.contains("/{resource_type}/{id}"),
        "route templates are logged: {logs}"
    );
    for secret in ["Zebediah", "Quuxworth"] {
        let leaks: Vec<&str> = logs.lines().filter(|line| line.contains(secret)).collect();
        assert_eq!(leaks, Vec::<&str>::new(), "{secret} leaked into the logs");
    }
}
