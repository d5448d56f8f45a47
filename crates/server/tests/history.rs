//! Instance, type and system history: `_since`, `_at`, `_count` and paging through `next` links.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::{Server, next_link, patient};

/// `(Type/id, version)` of every history entry, asserting no duplicates.
fn versions(entries: &[Value]) -> BTreeSet<(String, u64)> {
    let mut set = BTreeSet::new();
    for entry in entries {
        let url = entry["fullUrl"].as_str().unwrap();
        let reference = url.rsplitn(3, '/').take(2).collect::<Vec<_>>();
        let etag = entry["response"]["etag"].as_str().unwrap();
        let version: u64 = etag
            .trim_start_matches("W/\"")
            .trim_end_matches('"')
            .parse()
            .unwrap();
        let key = (format!("{}/{}", reference[1], reference[0]), version);
        assert!(set.insert(key.clone()), "duplicate history entry {key:?}");
    }
    set
}

/// Writes: 12 Patients (4 of them updated twice, 1 deleted) and 5 Observations.
fn populate(server: &Server) -> BTreeSet<(String, u64)> {
    let mut expected = BTreeSet::new();
    for n in 0..12 {
        let created = server.create(&patient("urn:hist", &format!("p{n}")));
        let id = created["id"].as_str().unwrap().to_owned();
        expected.insert((format!("Patient/{id}"), 1));
        if n % 3 == 0 {
            for version in 2..=3 {
                let mut body = created.clone();
                body["active"] = json!(version == 2);
                let response = server.put(&format!("Patient/{id}"), &body);
                assert_eq!(response.status, 200);
                expected.insert((format!("Patient/{id}"), version));
            }
        }
        if n == 5 {
            assert_eq!(server.delete(&format!("Patient/{id}")).status, 204);
            expected.insert((format!("Patient/{id}"), 2));
        }
    }
    for n in 0..5 {
        let created = server.create(&json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": format!("obs {n}")}
        }));
        expected.insert((
            format!("Observation/{}", created["id"].as_str().unwrap()),
            1,
        ));
    }
    expected
}

#[test]
fn paging_covers_every_version_once() {
    let server = Server::start();
    let expected = populate(&server);
    assert_eq!(expected.len(), 12 + 8 + 1 + 5);

    for count in [1, 4, 7, 26, 27, 100] {
        let (entries, pages) = server.all_pages(&format!("_history?_count={count}"));
        assert_eq!(
            versions(&entries),
            expected,
            "system history, _count={count}"
        );
        assert_eq!(
            pages,
            expected.len().div_ceil(count).max(1),
            "_count={count}"
        );
    }
    let (patients, _) = server.all_pages("Patient/_history?_count=5");
    let expected_patients: BTreeSet<_> = expected
        .iter()
        .filter(|(reference, _)| reference.starts_with("Patient/"))
        .cloned()
        .collect();
    assert_eq!(versions(&patients), expected_patients);
    let (observations, _) = server.all_pages("Observation/_history?_count=2");
    assert_eq!(versions(&observations).len(), 5);

    // Newest first.
    let bundle = server.search("_history?_count=3");
    assert_eq!(bundle["type"], "history");
    let first = bundle["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(first.contains("/Observation/"), "{first}");
    let next = next_link(&bundle).unwrap();
    assert!(next.starts_with(&server.base), "{next}");
    assert!(next.contains("_count=3"), "{next}");

    // Entries carry request and response.
    let one = server.all_pages("Patient/_history").0;
    let methods: BTreeSet<&str> = one
        .iter()
        .map(|e| e["request"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, BTreeSet::from(["DELETE", "POST", "PUT"]));
}

#[test]
fn count_zero_and_bad_parameters() {
    let server = Server::start();
    populate(&server);
    let empty = server.search("_history?_count=0");
    assert_eq!(empty["type"], "history");
    assert_eq!(empty.get("entry"), None, "{empty}");
    assert_eq!(next_link(&empty), None);
    server
        .get("_history?_count=-1")
        .assert_outcome(400, "_count");
    server
        .get("_history?_since=last-week")
        .assert_outcome(400, "_since");
    server.get("_history?_at=never").assert_outcome(400, "_at");
    server
        .get("_history?_cursor=xyz")
        .assert_outcome(400, "_cursor");
    server
        .get("_history?flavour=vanilla")
        .assert_outcome(400, "flavour");
    server
        .get("Unicorn/_history")
        .assert_outcome(404, "Unicorn");
}

#[test]
fn since_and_at() {
    let server = Server::start();
    let early = server.create(&patient("urn:hist", "early"));
    let early_id = early["id"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(3));
    let mut later = early.clone();
    later["active"] = json!(false);
    let updated = server.put(&format!("Patient/{early_id}"), &later).json();
    let cut = updated["meta"]["lastUpdated"].as_str().unwrap().to_owned();
    let other = server.create(&patient("urn:hist", "late"));
    let other_id = other["id"].as_str().unwrap().to_owned();

    let since = server
        .all_pages(&format!("_history?_since={cut}&_count=1"))
        .0;
    assert_eq!(
        versions(&since),
        BTreeSet::from([
            (format!("Patient/{early_id}"), 2),
            (format!("Patient/{other_id}"), 1)
        ])
    );
    let instance_since = server
        .all_pages(&format!("Patient/{early_id}/_history?_since={cut}"))
        .0;
    assert_eq!(
        versions(&instance_since),
        BTreeSet::from([(format!("Patient/{early_id}"), 2)])
    );
    let future = server.search("_history?_since=2999-01-01T00:00:00Z");
    assert_eq!(future.get("entry"), None, "{future}");
    let past = server.all_pages("_history?_since=2000-01-01T00:00:00Z").0;
    assert_eq!(past.len(), 3);

    // _at the first version's time: only version 1 was current then.
    let first_time = early["meta"]["lastUpdated"].as_str().unwrap();
    let at = server
        .all_pages(&format!("Patient/{early_id}/_history?_at={first_time}"))
        .0;
    assert_eq!(
        versions(&at),
        BTreeSet::from([(format!("Patient/{early_id}"), 1)])
    );
    let at_now = server.all_pages("_history?_at=2999-01-01").0;
    assert_eq!(
        versions(&at_now),
        BTreeSet::from([
            (format!("Patient/{early_id}"), 2),
            (format!("Patient/{other_id}"), 1)
        ])
    );
    let at_past = server.search("_history?_at=2000");
    assert_eq!(at_past.get("entry"), None);
}
