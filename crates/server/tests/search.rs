//! Type-level search: `_id`, `_lastUpdated`, `identifier`, paging, unknown parameters.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;
use support::{Server, ids, next_link, patient};

fn id_set(bundle: &serde_json::Value) -> BTreeSet<String> {
    ids(bundle).into_iter().collect()
}

#[test]
fn id_and_identifier() {
    let server = Server::start();
    let a = server.create(&patient("urn:sys-a", "1"));
    let b = server.create(&patient("urn:sys-b", "1"));
    let mut no_system = patient("urn:x", "1");
    no_system["identifier"] = json!([{"value": "1"}]);
    let c = server.create(&no_system);
    let d = server.create(&patient("urn:sys-a", "2"));
    let id = |r: &serde_json::Value| r["id"].as_str().unwrap().to_owned();

    let by_id = server.search(&format!("Patient?_id={}", id(&a)));
    assert_eq!(by_id["type"], "searchset");
    assert_eq!(ids(&by_id), vec![id(&a)]);
    assert_eq!(by_id["entry"][0]["search"]["mode"], "match");
    assert_eq!(
        by_id["entry"][0]["fullUrl"],
        format!("{}/Patient/{}", server.base, id(&a))
    );
    let two = server.search(&format!("Patient?_id={},{}", id(&a), id(&b)));
    assert_eq!(id_set(&two), BTreeSet::from([id(&a), id(&b)]));
    assert_eq!(
        ids(&server.search("Patient?_id=nope")),
        Vec::<String>::new()
    );

    let exact = server.search("Patient?identifier=urn:sys-a|1");
    assert_eq!(ids(&exact), vec![id(&a)]);
    let any_system = server.search("Patient?identifier=1");
    assert_eq!(
        id_set(&any_system),
        BTreeSet::from([id(&a), id(&b), id(&c)])
    );
    let no_sys = server.search("Patient?identifier=%7C1");
    assert_eq!(ids(&no_sys), vec![id(&c)]);
    let system_only = server.search("Patient?identifier=urn:sys-a%7C");
    assert_eq!(id_set(&system_only), BTreeSet::from([id(&a), id(&d)]));
    let either = server.search("Patient?identifier=urn:sys-a|2,urn:sys-b|1");
    assert_eq!(id_set(&either), BTreeSet::from([id(&b), id(&d)]));
    let and = server.search(&format!("Patient?identifier=urn:sys-a|&_id={}", id(&d)));
    assert_eq!(ids(&and), vec![id(&d)]);

    // Deleted resources are not found.
    server.delete(&format!("Patient/{}", id(&a)));
    let after_delete = server.search("Patient?identifier=urn:sys-a|");
    assert_eq!(ids(&after_delete), vec![id(&d)]);
    // Updated identifiers are re-indexed.
    let mut moved = d.clone();
    moved["identifier"] = json!([{"system": "urn:sys-z", "value": "9"}]);
    assert_eq!(
        server.put(&format!("Patient/{}", id(&d)), &moved).status,
        200
    );
    assert_eq!(
        ids(&server.search("Patient?identifier=urn:sys-a|2")),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&server.search("Patient?identifier=urn:sys-z|9")),
        vec![id(&d)]
    );

    // POST _search.
    let posted = server
        .request(Method::POST, "Patient/_search")
        .body(
            "application/x-www-form-urlencoded",
            "identifier=urn%3Asys-b%7C1",
        )
        .send();
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(ids(&posted.json()), vec![id(&b)]);
    server
        .request(Method::POST, "Patient/_search")
        .body("application/fhir+json", "{}")
        .send()
        .assert_outcome(415, "x-www-form-urlencoded");
}

#[test]
fn last_updated_prefixes() {
    let server = Server::start();
    let first = server.create(&patient("urn:lu", "1"));
    std::thread::sleep(std::time::Duration::from_millis(3));
    let second = server.create(&patient("urn:lu", "2"));
    std::thread::sleep(std::time::Duration::from_millis(3));
    let third = server.create(&patient("urn:lu", "3"));
    let time = |r: &serde_json::Value| r["meta"]["lastUpdated"].as_str().unwrap().to_owned();
    let id = |r: &serde_json::Value| r["id"].as_str().unwrap().to_owned();
    let t2 = time(&second);
    let q = |query: &str| id_set(&server.search(&format!("Patient?_lastUpdated={query}")));

    assert_eq!(q(&format!("gt{t2}")), BTreeSet::from([id(&third)]));
    assert_eq!(
        q(&format!("ge{t2}")),
        BTreeSet::from([id(&second), id(&third)])
    );
    assert_eq!(q(&format!("lt{t2}")), BTreeSet::from([id(&first)]));
    assert_eq!(
        q(&format!("le{t2}")),
        BTreeSet::from([id(&first), id(&second)])
    );
    assert_eq!(q(&format!("eq{t2}")), BTreeSet::from([id(&second)]));
    assert_eq!(q(&t2), BTreeSet::from([id(&second)]));
    assert_eq!(
        q(&format!("ne{t2}")),
        BTreeSet::from([id(&first), id(&third)])
    );
    assert_eq!(q("gt2000-01-01").len(), 3);
    assert_eq!(q("lt2000-01-01").len(), 0);
    assert_eq!(q("ge2999").len(), 0);
    // AND of two bounds.
    let both = id_set(&server.search(&format!(
        "Patient?_lastUpdated=ge{}&_lastUpdated=le{}",
        time(&first),
        t2
    )));
    assert_eq!(both, BTreeSet::from([id(&first), id(&second)]));

    server
        .get("Patient?_lastUpdated=gt2020-13-45")
        .assert_outcome(400, "2020-13-45");
    server
        .get("Patient?_lastUpdated=soon")
        .assert_outcome(400, "_lastUpdated");
    server
        .get("Patient?_lastUpdated:missing=true")
        .assert_outcome(400, "missing");
}

#[test]
fn paging_with_count_and_next_links() {
    let server = Server::start();
    let mut expected = BTreeSet::new();
    for n in 0..23 {
        let created = server.create(&patient("urn:page", &n.to_string()));
        expected.insert(created["id"].as_str().unwrap().to_owned());
    }
    for count in [1, 5, 23, 50] {
        let (entries, pages) =
            server.all_pages(&format!("Patient?identifier=urn:page|&_count={count}"));
        let found: Vec<String> = entries
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
            .collect();
        let unique: BTreeSet<String> = found.iter().cloned().collect();
        assert_eq!(unique.len(), found.len(), "no duplicates at _count={count}");
        assert_eq!(unique, expected, "no gaps at _count={count}");
        assert_eq!(pages, 23usize.div_ceil(count), "_count={count}");
    }
    let first = server.search("Patient?_count=10&_total=accurate");
    assert_eq!(first["total"], 23);
    assert_eq!(ids(&first).len(), 10);
    let next = next_link(&first).unwrap();
    assert!(
        next.starts_with(&format!("{}/Patient?", server.base)),
        "{next}"
    );
    assert!(next.contains("_total=accurate"), "{next}");
    let zero = server.search("Patient?_count=0");
    assert_eq!(zero.get("entry"), None);
    let count = server.search("Patient?_summary=count");
    assert_eq!(count["total"], 23);
    assert_eq!(count.get("entry"), None);
    server
        .get("Patient?_count=many")
        .assert_outcome(400, "_count");
    server
        .get("Patient?_total=maybe")
        .assert_outcome(400, "_total");
}

#[test]
fn unknown_parameters() {
    let server = Server::start();
    let created = server.create(&patient("urn:u", "1"));
    let lenient = server.search(
        "Patient?nosuchparam=Test&_id="
            .to_owned()
            .as_str()
            .replace("&_id=", "")
            .as_str(),
    );
    assert_eq!(
        ids(&lenient),
        vec![created["id"].as_str().unwrap().to_owned()]
    );
    let entries = lenient["entry"].as_array().unwrap();
    let outcome = entries
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("an outcome entry");
    assert_eq!(outcome["resource"]["resourceType"], "OperationOutcome");
    assert_eq!(outcome["resource"]["issue"][0]["severity"], "warning");
    assert_eq!(
        outcome["resource"]["issue"][0]["expression"],
        json!(["nosuchparam"])
    );

    server
        .request(Method::GET, "Patient?nosuchparam=Test")
        .header("Prefer", "handling=strict")
        .send()
        .assert_outcome(400, "nosuchparam");
    let strict_known = server
        .request(Method::GET, "Patient?identifier=urn:u|1")
        .header("Prefer", "handling=strict")
        .send();
    assert_eq!(strict_known.status, 200);
    assert_eq!(ids(&strict_known.json()).len(), 1);

    server.get("Unicorn?name=x").assert_outcome(404, "Unicorn");
    // At system level only the parameters every type shares apply; others are reported.
    server
        .request(Method::GET, "?name=x")
        .header("Prefer", "handling=strict")
        .send()
        .assert_outcome(400, "all resource types");
    server
        .get("Patient?_cursor=abc")
        .assert_outcome(400, "_cursor");
    server
        .get("Patient?identifier:in=http://example.org/vs")
        .assert_outcome(400, "unknown value set");
}
