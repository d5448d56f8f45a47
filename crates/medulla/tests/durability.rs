//! `kill -9` in the middle of writes: every acknowledged write survives, and a transaction is
//! either entirely present or entirely absent.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod common;

use common::Served;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIG: usize = 3_000;
const WRITERS: usize = 4;

#[test]
fn acknowledged_writes_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let server = Served::start(data.path());
    let base = server.base.clone();
    let entries: Vec<_> = (0..BIG)
        .map(|n| {
            json!({
                "fullUrl": format!("urn:uuid:00000000-0000-4000-8000-{n:012}"),
                "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:big", "value": n.to_string()}]},
                "request": {"method": "POST", "url": "Patient"}
            })
        })
        .collect();
    let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let transaction = serde_json::to_vec(&transaction).unwrap();
    let acknowledged_small = AtomicUsize::new(0);
    let big_sent_at = AtomicUsize::new(usize::MAX);

    let (big_result, small_ids) = std::thread::scope(|scope| {
        let big = scope.spawn(|| {
            let client = reqwest::blocking::Client::new();
            let request = client
                .post(&base)
                .header("content-type", "application/fhir+json")
                .body(transaction.clone());
            big_sent_at.store(acknowledged_small.load(Ordering::SeqCst), Ordering::SeqCst);
            request.send().map(|response| response.status().as_u16())
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let base = &base;
                let acknowledged = &acknowledged_small;
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut ids = Vec::new();
                    for n in 0.. {
                        let body = json!({"resourceType": "Patient", "identifier": [{"system": "urn:small", "value": format!("{writer}-{n}")}]});
                        let sent = client
                            .post(format!("{base}/Patient"))
                            .header("content-type", "application/fhir+json")
                            .body(serde_json::to_vec(&body).unwrap())
                            .send();
                        let Ok(response) = sent else { break };
                        let status = response.status().as_u16();
                        let Ok(created) = response.json::<serde_json::Value>() else { break };
                        assert_eq!(status, 201, "{created}");
                        ids.push(created["id"].as_str().unwrap().to_owned());
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                    ids
                })
            })
            .collect();
        // Kill while both kinds of writes are in flight: once the transaction is sent and small
        // creates have gone on for a while next to it.
        let deadline = Instant::now() + Duration::from_secs(60);
        let enough = || {
            let sent_at = big_sent_at.load(Ordering::SeqCst);
            sent_at != usize::MAX && acknowledged_small.load(Ordering::SeqCst) >= sent_at + 30
        };
        while !enough() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        server.kill();
        let small: Vec<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (big.join().unwrap(), small)
    });
    assert!(
        small_ids.len() >= 30,
        "{} small creates acknowledged",
        small_ids.len()
    );

    let restarted = Served::start(data.path());
    for id in &small_ids {
        let (status, body) = restarted.get(&format!("Patient/{id}"));
        assert_eq!(status, 200, "acknowledged Patient/{id} is lost: {body}");
    }
    let small_count = restarted.count("Patient?identifier=urn:small|");
    assert!(
        small_count >= small_ids.len() as u64,
        "{small_count} < {}",
        small_ids.len()
    );
    let big_count = restarted.count("Patient?identifier=urn:big|");
    eprintln!(
        "killed with {} small creates acknowledged; transaction: {big_result:?}, {big_count} of {BIG} present",
        small_ids.len()
    );
    match big_result {
        Ok(200) => assert_eq!(
            big_count, BIG as u64,
            "an acknowledged transaction is complete"
        ),
        Ok(other) => panic!("the transaction failed with {other}"),
        Err(_) => assert!(
            big_count == 0 || big_count == BIG as u64,
            "a transaction is all or nothing, found {big_count} of {BIG}"
        ),
    }
    assert_eq!(
        restarted.count("Patient"),
        small_count + big_count,
        "nothing else was written"
    );
}
