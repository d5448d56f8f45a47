//! `_sort`, keyset paging (also under concurrent writes), cursors, `_total`, `_summary`,
//! `_elements`, and hostile input in parameter names and values.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use support::{Server, ids, next_link};

fn sort_patient(
    id: &str,
    family: Option<&str>,
    birth: Option<&str>,
    gender: Option<&str>,
) -> Value {
    let mut patient = json!({
        "resourceType": "Patient", "id": id,
        "identifier": [{"system": "urn:sort", "value": id}],
    });
    if let Some(family) = family {
        patient["name"] = json!([{"family": family}]);
    }
    if let Some(birth) = birth {
        patient["birthDate"] = json!(birth);
    }
    if let Some(gender) = gender {
        patient["gender"] = json!(gender);
    }
    patient
}

fn put_all(server: &Server, resources: &[Value]) {
    for resource in resources {
        let path = format!(
            "{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        let response = server.put(&path, resource);
        assert_eq!(response.status, 201, "{path}: {}", response.text());
    }
}

/// Ids in page order, following next links.
fn paged_ids(server: &Server, query: &str) -> Vec<String> {
    let (entries, _) = server.all_pages(query);
    entries
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sort_orders_with_missing_values_last() {
    let server = Server::start();
    put_all(
        &server,
        &[
            sort_patient("p1", Some("Baker"), Some("1990-01-01"), Some("female")),
            sort_patient("p2", Some("adams"), Some("1980-06-15"), Some("male")),
            sort_patient("p3", Some("Ćorić"), None, Some("male")),
            sort_patient("p4", Some("baker"), Some("1970"), Some("female")),
            sort_patient("p5", None, Some("2000-01-01"), None),
            sort_patient("p6", Some("Zed"), Some("1980-06-15"), Some("other")),
        ],
    );
    let cases: &[(&str, [&str; 6])] = &[
        ("family", ["p2", "p1", "p4", "p3", "p6", "p5"]),
        ("-family", ["p6", "p3", "p1", "p4", "p2", "p5"]),
        ("birthdate", ["p4", "p2", "p6", "p1", "p5", "p3"]),
        ("-birthdate", ["p5", "p1", "p2", "p6", "p4", "p3"]),
        ("gender,-birthdate", ["p1", "p4", "p2", "p3", "p6", "p5"]),
        ("-gender,family", ["p6", "p2", "p3", "p1", "p4", "p5"]),
        ("_id", ["p1", "p2", "p3", "p4", "p5", "p6"]),
        ("-_id", ["p6", "p5", "p4", "p3", "p2", "p1"]),
        ("_lastUpdated", ["p1", "p2", "p3", "p4", "p5", "p6"]),
        ("-_lastUpdated", ["p6", "p5", "p4", "p3", "p2", "p1"]),
        ("identifier", ["p1", "p2", "p3", "p4", "p5", "p6"]),
        ("-identifier", ["p6", "p5", "p4", "p3", "p2", "p1"]),
    ];
    for (sort, expected) in cases {
        let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        let whole = ids(&server.search(&format!("Patient?identifier=urn:sort|&_sort={sort}")));
        assert_eq!(whole, expected, "_sort={sort}");
        for count in [1, 2, 4] {
            assert_eq!(
                paged_ids(
                    &server,
                    &format!("Patient?identifier=urn:sort|&_sort={sort}&_count={count}")
                ),
                expected,
                "_sort={sort}&_count={count}"
            );
        }
    }
    server
        .get("Patient?_sort=nosuch")
        .assert_outcome(400, "nosuch");
    server.get("Patient?_sort=-").assert_outcome(400, "_sort");
}

#[test]
fn cursors_are_signed_and_bound_to_their_query() {
    let server = Server::start();
    for n in 0..5 {
        server.create(&support::patient("urn:cursor", &n.to_string()));
    }
    let first = server.search("Patient?identifier=urn:cursor|&_count=2&_sort=given");
    let next = next_link(&first).unwrap();
    let second = server.search(&next);
    assert_eq!(ids(&second).len(), 2);
    let (prefix, cursor) = next.split_once("_cursor=").unwrap();
    // A changed payload character fails the signature.
    let mut tampered: Vec<char> = cursor.chars().collect();
    tampered[3] = if tampered[3] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    server
        .get(&format!("{prefix}_cursor={tampered}"))
        .assert_outcome(400, "_cursor");
    // The same cursor on a different search.
    server
        .get(&format!(
            "Patient?identifier=urn:cursor|&_count=2&_sort=-given&_cursor={cursor}"
        ))
        .assert_outcome(400, "_cursor");
    server
        .get(&format!("Patient?_cursor={cursor}"))
        .assert_outcome(400, "_cursor");
    for junk in ["", ".", "x.y", "%00", "'--"] {
        server
            .get(&format!("Patient?_count=2&_cursor={junk}"))
            .assert_outcome(400, "_cursor");
    }
}

#[test]
fn totals_summary_and_elements() {
    let server = Server::start();
    for n in 0..7 {
        server.create(&support::patient("urn:total", &n.to_string()));
    }
    let accurate = server.search("Patient?identifier=urn:total|&_count=3&_total=accurate");
    assert_eq!(accurate["total"], 7);
    assert_eq!(ids(&accurate).len(), 3);
    let second = server.search(&next_link(&accurate).unwrap());
    assert_eq!(second["total"], 7);
    let none = server.search("Patient?identifier=urn:total|&_count=3&_total=none");
    assert_eq!(none.get("total"), None);
    let count = server.search("Patient?identifier=urn:total|&_summary=count");
    assert_eq!(count["total"], 7);
    assert_eq!(count.get("entry"), None);
    assert_eq!(next_link(&count), None);
    assert_eq!(server.count("Patient?given=3"), 1);
    let elements = server.search("Patient?identifier=urn:total|0&_elements=identifier");
    let resource = &elements["entry"][0]["resource"];
    let mut keys: Vec<&str> = resource
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["id", "identifier", "meta", "resourceType"]);
    assert_eq!(
        resource["meta"]["tag"],
        json!([{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}])
    );
    let zero = server.search("Patient?identifier=urn:total|&_count=0&_total=accurate");
    assert_eq!(zero["total"], 7);
    assert_eq!(zero.get("entry"), None);
}

#[test]
fn paging_never_skips_or_repeats_unchanged_resources_under_concurrent_writes() {
    let server = Server::start();
    let families = ["Ames", "Bell", "Cruz", "Diaz", "Eng"];
    let mut originals = BTreeSet::new();
    for n in 0..40 {
        let mut patient = support::patient("urn:conc", &format!("orig-{n}"));
        patient["name"] = json!([{"family": families[n % families.len()]}]);
        if n % 3 != 0 {
            patient["birthDate"] = json!(format!("19{:02}-01-01", 50 + n));
        }
        let created = server.create(&patient);
        originals.insert(created["id"].as_str().unwrap().to_owned());
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let client = support::client();
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                let mut patient = support::patient("urn:conc", &format!("new-{n}"));
                patient["name"] = json!([{"family": families[n % families.len()]}]);
                patient["birthDate"] = json!(format!("19{:02}-06-01", n % 100));
                let created: Value = client
                    .post(server.url("Patient"))
                    .header("content-type", support::FHIR_JSON)
                    .body(serde_json::to_vec(&patient).unwrap())
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                // Update the new resource so that it moves in every sort order.
                let mut changed = created.clone();
                changed["name"] = json!([{"family": "Aaron"}]);
                changed["birthDate"] = json!("1900-01-01");
                let status = client
                    .put(server.url(&format!("Patient/{}", created["id"].as_str().unwrap())))
                    .header("content-type", support::FHIR_JSON)
                    .body(serde_json::to_vec(&changed).unwrap())
                    .send()
                    .unwrap()
                    .status();
                assert_eq!(status, 200);
                n += 1;
            }
            n
        });
        for sort in [
            "",
            "&_sort=family",
            "&_sort=-_lastUpdated",
            "&_sort=birthdate,-family",
            "&_sort=-_id",
        ] {
            let found = paged_ids(
                &server,
                &format!("Patient?identifier=urn:conc|&_count=6{sort}"),
            );
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for id in &found {
                *seen.entry(id.as_str()).or_default() += 1;
            }
            for id in &originals {
                assert_eq!(seen.get(id.as_str()), Some(&1), "{id} with sort {sort:?}");
            }
        }
        done.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        assert!(written > 0, "the writer ran concurrently");
    });
}

/// `name=value` as a URL with both parts percent-encoded.
fn query_url(server: &Server, resource_type: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse(&server.url(resource_type)).unwrap();
    for (name, value) in pairs {
        url.query_pairs_mut().append_pair(name, value);
    }
    url.to_string()
}

#[test]
fn hostile_names_and_values_are_rejected_or_matched_literally() {
    let server = Server::start();
    let odd = "O'Brien\"; --50%_\\x";
    put_all(
        &server,
        &[
            json!({"resourceType": "Patient", "id": "odd",
                   "identifier": [{"system": "urn:'x", "value": "a'b;--%_"}],
                   "name": [{"family": odd, "given": ["Zoë"]}]}),
            json!({"resourceType": "Patient", "id": "plain",
                   "identifier": [{"system": "urn:x", "value": "ab"}],
                   "name": [{"family": "OBrien 5000 x"}]}),
            json!({"resourceType": "Observation", "id": "obs", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
                   "subject": {"reference": "Patient/odd"}}),
        ],
    );
    let search = |resource_type: &str, pairs: &[(&str, &str)]| -> (u16, Vec<String>) {
        let response = server.get(&query_url(&server, resource_type, pairs));
        assert!(
            response.status == 200 || response.status == 400,
            "{pairs:?} answered {}: {}",
            response.status,
            response.text()
        );
        let body = response.json();
        if response.status == 400 {
            assert_eq!(body["resourceType"], "OperationOutcome");
            let text = body.to_string().to_lowercase();
            assert!(!text.contains("sql"), "{pairs:?}: {body}");
            return (400, Vec::new());
        }
        let mut found = ids(&body);
        found.sort();
        (200, found)
    };
    // Literal matches.
    let odd_only = (200, vec!["odd".to_owned()]);
    assert_eq!(
        search("Patient", &[("family", "o'brien\"; --50%_\\")]),
        odd_only
    );
    assert_eq!(search("Patient", &[("family:exact", odd)]), odd_only);
    assert_eq!(search("Patient", &[("family:contains", "%_")]), odd_only);
    assert_eq!(
        search("Patient", &[("family:contains", "\"; --")]),
        odd_only
    );
    assert_eq!(search("Patient", &[("family:contains", "\\")]), odd_only);
    assert_eq!(search("Patient", &[("given", "zoe")]), odd_only);
    assert_eq!(
        search("Patient", &[("identifier", "urn:'x|a'b;--%_")]),
        odd_only
    );
    assert_eq!(search("Patient", &[("identifier", "a'b;--%_")]), odd_only);
    assert_eq!(
        search("Patient", &[("identifier", "a'b;--%")]),
        (200, vec![])
    );
    assert_eq!(search("Patient", &[("identifier", "%")]), (200, vec![]));
    assert_eq!(search("Patient", &[("family", "%")]), (200, vec![]));
    assert_eq!(search("Patient", &[("family", "_")]), (200, vec![]));
    assert_eq!(search("Patient", &[("_text", "o'brien")]), (200, vec![]));
    assert_eq!(search("Patient", &[("_content", "zoë")]), odd_only);
    assert_eq!(search("Patient", &[("_content", "o'brien")]), odd_only);
    assert_eq!(
        search("Observation", &[("subject:Patient.family", "o'brien\"")]),
        (200, vec!["obs".to_owned()])
    );
    // Every kind of parameter with every metacharacter: never a 500, and never a match that
    // the value cannot explain.
    let values = [
        "'",
        "\"",
        ";--",
        "'; DROP TABLE resources; --",
        "%",
        "_",
        "\\",
        "\0",
        "a\0b",
        "é",
        "\u{10FFFF}",
        "🦀",
        ")",
        "(",
        "*",
        "\"*",
        "NEAR",
        "AND",
        "OR x",
        "-x",
        "^",
        ":",
        "|",
        "$",
        ",",
        "\\,",
        "||",
        "|'|'",
        "$'$",
        "gt'",
        "ap%",
        "1e999",
        "-0",
        "0x10",
        "",
    ];
    let params = [
        ("Patient", "family"),
        ("Patient", "family:exact"),
        ("Patient", "family:contains"),
        ("Patient", "identifier"),
        ("Patient", "identifier:not"),
        ("Patient", "identifier:text"),
        ("Patient", "identifier:of-type"),
        ("Patient", "birthdate"),
        ("Patient", "active"),
        ("Patient", "organization"),
        ("Patient", "organization:identifier"),
        ("Patient", "_id"),
        ("Patient", "_lastUpdated"),
        ("Patient", "_tag"),
        ("Patient", "_profile"),
        ("Patient", "_profile:above"),
        ("Patient", "_profile:below"),
        ("Patient", "_source"),
        ("Patient", "_text"),
        ("Patient", "_content"),
        ("Patient", "_list"),
        ("Patient", "_has:Observation:patient:code"),
        ("Patient", "family:missing"),
        ("Patient", "_sort"),
        ("Patient", "_count"),
        ("Patient", "_total"),
        ("Patient", "_include"),
        ("Patient", "_revinclude"),
        ("Patient", "_elements"),
        ("Patient", "_summary"),
        ("Observation", "subject"),
        ("Observation", "subject:Patient.family"),
        ("Observation", "value-quantity"),
        ("Observation", "code-value-quantity"),
        ("Observation", "component-code-value-concept"),
        ("RiskAssessment", "probability"),
        ("ValueSet", "url"),
    ];
    let fold = |text: &str| text.to_lowercase().replace(['é', 'ë'], "e");
    for (resource_type, name) in params {
        for value in values {
            let (status, found) = search(resource_type, &[(name, value)]);
            // Only a value that the odd patient's data explains may find it.
            if status == 200 && found.contains(&"odd".to_owned()) {
                let explained = [
                    "_elements", "_summary", "_sort", "_count", "_total", "_include",
                    "_revinclude", "identifier:not", "family:missing", "_profile:above",
                ]
                .contains(&name)
                    // `_content` matches word prefixes; the identifier `a'b;--%_` is content.
                    || (name == "_content"
                        && fold(value)
                            .split(|c: char| !c.is_alphanumeric())
                            .filter(|w| !w.is_empty())
                            .all(|w| {
                                ["o", "brien", "50", "x", "zoe", "a", "b"]
                                    .iter()
                                    .any(|t| t.starts_with(w))
                            }))
                    || fold(odd).contains(&fold(value))
                    || fold("zoë").contains(&fold(value));
                assert!(explained, "{name}={value:?} found {found:?}");
            }
        }
    }
    // Hostile parameter names and modifiers.
    let names = [
        "fam'ily",
        "family'",
        "family:exa'ct",
        "family;--",
        "family:\0",
        "\0",
        "'",
        "_has:Obser'vation:patient:code",
        "_has:Observation:pat'ient:code",
        "_has:Observation:patient:co'de",
        "_has:'",
        "subject:Pat'ient.family",
        "subject.fam'ily",
        "subject:Patient.family:exa'ct",
        "_include:it'erate",
        "family:missing'",
        "🦀",
        "%",
        "_",
        ".",
        ":",
        "_has",
        "_has:",
        "subject.",
        ".family",
        "subject:",
        "a.b.c.d.e.f",
        "_sort:x",
        "_id:x",
    ];
    for name in names {
        for resource_type in ["Patient", "Observation"] {
            let value = if name.contains("_include") {
                "Observation:subject"
            } else {
                "x"
            };
            search(resource_type, &[(name, value)]);
            let strict = server
                .request(
                    Method::GET,
                    &query_url(&server, resource_type, &[(name, value)]),
                )
                .header("Prefer", "handling=strict")
                .send();
            assert_eq!(
                strict.status,
                400,
                "strict {resource_type}?{name:?}: {}",
                strict.text()
            );
        }
    }
    for value in values {
        search("Patient", &[("_sort", value), ("family", "o")]);
        search("Patient", &[("_include", &format!("Patient:{value}"))]);
        search(
            "Patient",
            &[("_include", &format!("Patient:organization:{value}"))],
        );
        // An unknown type in `_type` is answered like an unknown type in the path: 404.
        for types in [value.to_owned(), format!("Patient,{value}")] {
            let response = server.get(&query_url(&server, "", &[("_type", &types)]));
            assert!(
                [200, 400, 404].contains(&response.status),
                "_type={types:?}: {}",
                response.text()
            );
            assert_eq!(
                response.json()["resourceType"] == "Bundle",
                response.status == 200
            );
        }
    }
    // The data is still there.
    assert_eq!(search("Patient", &[("_id", "odd")]), odd_only);
}
