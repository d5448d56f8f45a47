//! Chained search, `_include` (with `:iterate` over cycles) and `_revinclude`, and the search
//! modes of a searchset's entries.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use serde_json::{Value, json};
use std::sync::OnceLock;
use support::{Server, ids};

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = Server::start();
        for resource in population() {
            let path = format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap(),
                resource["id"].as_str().unwrap()
            );
            let response = server.put(&path, &resource);
            assert_eq!(response.status, 201, "{path}: {}", response.text());
        }
        server
    })
}

fn population() -> Vec<Value> {
    let patient = |id: &str, family: &str, birth: &str, org: &str, link: &[&str]| {
        let mut patient = json!({
            "resourceType": "Patient", "id": id,
            "name": [{"family": family}],
            "birthDate": birth,
            "managingOrganization": {"reference": format!("Organization/{org}")},
        });
        if !link.is_empty() {
            patient["link"] = link
                .iter()
                .map(|other| json!({"other": {"reference": format!("Patient/{other}")}, "type": "seealso"}))
                .collect();
        }
        patient
    };
    let observation = |id: &str, subject: &str, code: &str, members: &[&str]| {
        let mut observation = json!({
            "resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": subject},
        });
        if !members.is_empty() {
            observation["hasMember"] = members
                .iter()
                .map(|m| json!({"reference": format!("Observation/{m}")}))
                .collect();
        }
        observation
    };
    vec![
        json!({"resourceType": "Organization", "id": "acme", "name": "Acme Health",
               "partOf": {"reference": "Organization/holding"}}),
        json!({"resourceType": "Organization", "id": "holding", "name": "Big Holding"}),
        json!({"resourceType": "Organization", "id": "other", "name": "Other Clinic"}),
        patient("ann", "Anderson", "1970-01-01", "acme", &["bob"]),
        patient("bob", "Brown", "1980-01-01", "other", &["ann"]),
        patient("cat", "Carter", "1990-01-01", "acme", &[]),
        json!({"resourceType": "Group", "id": "grp", "type": "person", "actual": true,
               "name": "Anderson family"}),
        json!({"resourceType": "Location", "id": "loc", "name": "Anderson Wing"}),
        json!({"resourceType": "Device", "id": "dev", "deviceName": [{"name": "Anderson pump", "type": "user-friendly-name"}]}),
        observation("o-ann", "Patient/ann", "1", &["o-loop"]),
        observation("o-loop", "Patient/ann", "2", &["o-ann"]),
        observation("o-bob", "Patient/bob", "1", &[]),
        observation("o-cat", "Patient/cat", "3", &[]),
        observation("o-grp", "Group/grp", "1", &[]),
        observation("o-dev", "Device/dev", "1", &[]),
        observation("o-loc", "Location/loc", "4", &[]),
        observation("o-dangling", "Patient/ghost", "1", &[]),
        json!({"resourceType": "Encounter", "id": "enc-ann", "status": "finished",
               "class": {"code": "AMB"}, "subject": {"reference": "Patient/ann"},
               "serviceProvider": {"reference": "Organization/acme"}}),
    ]
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

fn expect(query: &str, expected: &[&str]) {
    let found = sorted(ids(&server().search(query)));
    let expected = sorted(expected.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(found, expected, "{query}");
}

/// (mode, Type/id) of every entry, sorted.
fn entries(query: &str) -> Vec<(String, String)> {
    let bundle = server().search(query);
    let mut entries: Vec<(String, String)> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            (
                entry["search"]["mode"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}",
                    entry["resource"]["resourceType"].as_str().unwrap(),
                    entry["resource"]["id"].as_str().unwrap()
                ),
            )
        })
        .collect();
    entries.sort();
    entries
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn chains() {
    expect(
        "Observation?subject:Patient.name=anderson",
        &["o-ann", "o-loop"],
    );
    expect("Observation?patient.name=brown", &["o-bob"]);
    // Without a type, every target type with a `name` parameter is searched.
    expect(
        "Observation?subject.name=anderson",
        &["o-ann", "o-loc", "o-loop"],
    );
    expect("Observation?subject:Location.name=anderson", &["o-loc"]);
    server()
        .get("Observation?subject:Group.name=anderson")
        .assert_outcome(400, "name");
    expect(
        "Observation?subject:Device.device-name=anderson",
        &["o-dev"],
    );
    // Two levels, through Patient.managingOrganization.
    expect(
        "Observation?patient.organization.name=acme",
        &["o-ann", "o-cat", "o-loop"],
    );
    expect(
        "Observation?patient.organization.partof.name=big",
        &["o-ann", "o-cat", "o-loop"],
    );
    expect("Observation?patient.organization.name=nothing", &[]);
    // Chains to other parameter types: date, token, _id.
    expect("Observation?patient.birthdate=1980", &["o-bob"]);
    expect(
        "Observation?patient.birthdate=lt1985",
        &["o-ann", "o-bob", "o-loop"],
    );
    expect("Observation?patient._id=cat", &["o-cat"]);
    expect("Observation?subject:Patient.organization=other", &["o-bob"]);
    expect("Encounter?service-provider.name=acme", &["enc-ann"]);
    // A chain ANDed with a plain parameter, and ORed values.
    expect("Observation?patient.name=anderson&code=2", &["o-loop"]);
    expect("Observation?patient.name=brown,carter", &["o-bob", "o-cat"]);
    // A dangling reference matches no chain.
    expect("Observation?subject:Patient.name=ghost", &[]);
    server()
        .get("Observation?code.name=x")
        .assert_outcome(400, "code");
    server()
        .get("Observation?subject:Unicorn.name=x")
        .assert_outcome(400, "Unicorn");
    server()
        .get("Observation?subject:Patient.nosuch=x")
        .assert_outcome(400, "nosuch");
    server()
        .get("Observation?patient.organization.partof.partof.partof.partof.name=x")
        .assert_outcome(400, "deeper");
}

#[test]
fn includes_follow_references_once() {
    assert_eq!(
        entries("Observation?_id=o-ann&_include=Observation:subject"),
        pairs(&[("match", "Observation/o-ann"), ("include", "Patient/ann")])
    );
    assert_eq!(
        entries("Observation?_id=o-ann,o-loop,o-bob&_include=Observation:patient"),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("match", "Observation/o-loop"),
            ("match", "Observation/o-bob"),
            ("include", "Patient/ann"),
            ("include", "Patient/bob"),
        ])
    );
    // A target type filter.
    assert_eq!(
        entries("Observation?code=1&_include=Observation:subject:Group"),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("match", "Observation/o-bob"),
            ("match", "Observation/o-grp"),
            ("match", "Observation/o-dev"),
            ("match", "Observation/o-dangling"),
            ("include", "Group/grp"),
        ])
    );
    // `*` follows every reference parameter; a match that is also referenced is not repeated.
    assert_eq!(
        entries("Observation?_id=o-ann&_include=Observation:*"),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("include", "Patient/ann"),
            ("include", "Observation/o-loop"),
        ])
    );
    // Without :iterate, includes apply to matches only.
    assert_eq!(
        entries("Observation?_id=o-ann&_include=Observation:subject&_include=Patient:organization"),
        pairs(&[("match", "Observation/o-ann"), ("include", "Patient/ann")])
    );
    assert_eq!(
        entries(
            "Observation?_id=o-ann&_include=Observation:subject&_include:iterate=Patient:organization"
        ),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("include", "Patient/ann"),
            ("include", "Organization/acme"),
        ])
    );
    server()
        .get("Observation?_include=Observation:code")
        .assert_outcome(400, "code");
    server()
        .get("Observation?_include=Observation")
        .assert_outcome(400, "_include");
    server()
        .get("Observation?_include=Unicorn:subject")
        .assert_outcome(400, "Unicorn");
    server()
        .get("Observation?_include:deep=Observation:subject")
        .assert_outcome(400, "deep");
}

#[test]
fn iterate_ends_on_cycles() {
    // ann and bob link to each other.
    assert_eq!(
        entries("Observation?_id=o-ann&_include=Observation:subject&_include:iterate=Patient:link"),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("include", "Patient/ann"),
            ("include", "Patient/bob"),
        ])
    );
    assert_eq!(
        entries("Patient?_id=ann&_include:iterate=Patient:link"),
        pairs(&[("match", "Patient/ann"), ("include", "Patient/bob")])
    );
    // o-ann and o-loop are members of each other.
    assert_eq!(
        entries("Observation?_id=o-ann&_include:iterate=Observation:has-member"),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("include", "Observation/o-loop")
        ])
    );
    assert_eq!(
        entries(
            "Observation?_id=o-ann&_include:iterate=Observation:has-member&_include:iterate=Observation:subject&_include:iterate=Patient:link&_include:iterate=Patient:organization&_include:iterate=Organization:partof"
        ),
        pairs(&[
            ("match", "Observation/o-ann"),
            ("include", "Observation/o-loop"),
            ("include", "Patient/ann"),
            ("include", "Patient/bob"),
            ("include", "Organization/acme"),
            ("include", "Organization/other"),
            ("include", "Organization/holding"),
        ])
    );
}

#[test]
fn revincludes() {
    assert_eq!(
        entries("Patient?_id=ann&_revinclude=Observation:subject"),
        pairs(&[
            ("match", "Patient/ann"),
            ("include", "Observation/o-ann"),
            ("include", "Observation/o-loop"),
        ])
    );
    assert_eq!(
        entries(
            "Patient?_id=ann,cat&_revinclude=Observation:patient&_revinclude=Encounter:subject"
        ),
        pairs(&[
            ("match", "Patient/ann"),
            ("match", "Patient/cat"),
            ("include", "Observation/o-ann"),
            ("include", "Observation/o-loop"),
            ("include", "Observation/o-cat"),
            ("include", "Encounter/enc-ann"),
        ])
    );
    assert_eq!(
        entries(
            "Organization?_id=holding&_revinclude:iterate=Organization:partof&_revinclude:iterate=Patient:organization"
        ),
        pairs(&[
            ("match", "Organization/holding"),
            ("include", "Organization/acme"),
            ("include", "Patient/ann"),
            ("include", "Patient/cat"),
        ])
    );
    // Includes of a page belong to that page only, and the outcome entry comes last.
    let bundle =
        server().search("Patient?_id=ann,bob&_count=1&_revinclude=Observation:subject&unknown=1");
    let modes: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["search"]["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, vec!["match", "include", "include", "outcome"]);
}

#[test]
fn iterate_follows_long_chains_to_their_end() {
    let server = Server::start();
    for n in 1..=8 {
        let mut patient = json!({"resourceType": "Patient", "id": format!("c{n}")});
        if n < 8 {
            patient["link"] =
                json!([{"other": {"reference": format!("Patient/c{}", n + 1)}, "type": "seealso"}]);
        }
        assert_eq!(server.put(&format!("Patient/c{n}"), &patient).status, 201);
    }
    let bundle = server.search("Patient?_id=c1&_include:iterate=Patient:link");
    let mut included: Vec<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
        .collect();
    included.sort();
    assert_eq!(included, vec!["c2", "c3", "c4", "c5", "c6", "c7", "c8"]);
}
