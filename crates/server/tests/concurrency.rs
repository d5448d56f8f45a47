//! Concurrent read-modify-write with If-Match: no lost updates.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;
use support::Server;

const CLIENTS: usize = 8;
const ROUNDS: usize = 12;

#[test]
fn optimistic_locking_loses_no_update() {
    let server = Server::start();
    let mut initial = support::patient("urn:conc", "shared");
    initial["id"] = json!("shared");
    assert_eq!(server.put("Patient/shared", &initial).status, 201);

    let results: Vec<(Vec<String>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let server = &server;
                scope.spawn(move || {
                    let mut won = Vec::new();
                    let mut lost = 0;
                    for round in 0..ROUNDS {
                        let read = server.get("Patient/shared");
                        assert_eq!(read.status, 200);
                        let version = read.etag_version();
                        let mut body = read.json();
                        let marker = format!("c{client}-r{round}");
                        let given = body["name"][0]["given"].as_array_mut().unwrap();
                        given.push(json!(marker));
                        let written = server
                            .request(Method::PUT, "Patient/shared")
                            .header("If-Match", &format!("W/\"{version}\""))
                            .json(&body)
                            .send();
                        match written.status {
                            200 => {
                                assert_eq!(written.etag_version(), version + 1);
                                won.push(marker);
                            }
                            412 => {
                                written.assert_outcome(412, "If-Match");
                                lost += 1;
                            }
                            other => panic!("unexpected status {other}: {}", written.text()),
                        }
                    }
                    (won, lost)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let successes: Vec<String> = results.iter().flat_map(|(won, _)| won.clone()).collect();
    let failures: usize = results.iter().map(|(_, lost)| lost).sum();
    assert_eq!(successes.len() + failures, CLIENTS * ROUNDS);
    assert_ne!(successes.len(), 0);

    let last = server.get("Patient/shared");
    assert_eq!(last.etag_version(), 1 + successes.len() as u64);
    let body = last.json();
    let given: Vec<String> = body["name"][0]["given"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    // The first given name is the original; every winner's marker follows exactly once.
    assert_eq!(given[0], "shared");
    let markers: BTreeSet<String> = given[1..].iter().cloned().collect();
    assert_eq!(markers.len(), given.len() - 1, "no marker twice");
    assert_eq!(markers, successes.into_iter().collect::<BTreeSet<_>>());
    let history = server.all_pages("Patient/shared/_history?_count=7").0;
    assert_eq!(history.len() as u64, last.etag_version());
}
