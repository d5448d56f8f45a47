//! The terminology operations over HTTP (`$lookup`, `$validate-code`, `$subsumes`, `$expand`;
//! GET and POST with Parameters; type and instance level), CodeSystem and ValueSet resources
//! written to the store taking effect, and the token search modifiers `:in`, `:not-in`,
//! `:below`, `:above`.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use medulla_terminology::Terminology;
use medulla_terminology::snomed::SnomedOptions;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use support::{Options, Server};

const GENDER_VS: &str = "http://hl7.org/fhir/ValueSet/administrative-gender";
const GENDER_CS: &str = "http://hl7.org/fhir/administrative-gender";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const SCT: &str = "http://snomed.info/sct";

/// A server whose terminology has the SNOMED CT fixture of the terminology crate loaded.
fn snomed_server() -> Server {
    let terminology = Terminology::in_memory();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../terminology/tests/data/snomed/SnomedCT_Fixture_20240101/Snapshot");
    terminology
        .load_snomed(&fixture, &SnomedOptions::default())
        .expect("the SNOMED CT fixture loads");
    Server::start_with(Options {
        terminology: Some(Arc::new(terminology)),
        ..Options::default()
    })
}

/// The value of output parameter `name` (its `value[x]`).
fn output<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    parameters["parameter"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| {
            p.as_object()?
                .iter()
                .find(|(key, _)| key.starts_with("value"))
                .map(|(_, value)| value)
        })
}

/// The `property` parts of a `$lookup` answer, as (code, value) pairs.
fn properties(parameters: &Value) -> Vec<(String, Value)> {
    parameters["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "property")
        .map(|p| {
            let parts = p["part"].as_array().unwrap();
            let code = parts.iter().find(|x| x["name"] == "code").unwrap()["valueCode"]
                .as_str()
                .unwrap()
                .to_owned();
            let value = parts.iter().find(|x| x["name"] == "value").unwrap();
            let value = value
                .as_object()
                .unwrap()
                .iter()
                .find(|(key, _)| key.starts_with("value"))
                .unwrap()
                .1
                .clone();
            (code, value)
        })
        .collect()
}

fn codes(value_set: &Value) -> Vec<String> {
    value_set["expansion"]["contains"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn issue_code(outcome: &Value) -> &str {
    outcome["issue"][0]["code"].as_str().unwrap()
}

#[test]
fn lookup_of_a_builtin_code_by_get_and_post() {
    let server = Server::start();
    let got = server.get(&format!("CodeSystem/$lookup?system={ACT_CODE}&code=CC"));
    assert_eq!(got.status, 200, "{}", got.text());
    let answer = got.json();
    assert_eq!(answer["resourceType"], "Parameters");
    assert_eq!(output(&answer, "display").unwrap(), "credit card");
    let parents: Vec<Value> = properties(&answer)
        .into_iter()
        .filter(|(code, _)| code == "parent")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(parents, [json!("_ActAccountCode")], "{answer}");
    let posted = server
        .request(reqwest::Method::POST, "CodeSystem/$lookup")
        .json(&json!({
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": GENDER_CS, "code": "female"}}
            ]
        }))
        .send();
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(output(&posted.json(), "display").unwrap(), "Female");
}

#[test]
fn lookup_of_unknown_systems_and_codes_is_a_404_outcome() {
    let server = Server::start();
    let unknown_system = server.get("CodeSystem/$lookup?system=http://example.org/none&code=x");
    assert_eq!(unknown_system.status, 404);
    let outcome = unknown_system.json();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(issue_code(&outcome), "not-found");
    let unknown_code = server.get(&format!("CodeSystem/$lookup?system={GENDER_CS}&code=nope"));
    assert_eq!(unknown_code.status, 404);
    let missing = server.get("CodeSystem/$lookup?code=female");
    assert_eq!(missing.status, 400, "{}", missing.text());
    assert_eq!(issue_code(&missing.json()), "invalid");
}

#[test]
fn validate_code_in_value_sets_and_code_systems() {
    let server = Server::start();
    let valid = server
        .get(&format!(
            "ValueSet/$validate-code?url={GENDER_VS}&system={GENDER_CS}&code=male"
        ))
        .json();
    assert_eq!(output(&valid, "result").unwrap(), true);
    assert_eq!(output(&valid, "display").unwrap(), "Male");
    let outside = server
        .get(&format!(
            "ValueSet/$validate-code?url={GENDER_VS}&system={GENDER_CS}&code=mal"
        ))
        .json();
    assert_eq!(output(&outside, "result").unwrap(), false);
    assert!(output(&outside, "message").is_some());
    let wrong_display = server
        .get(&format!(
            "CodeSystem/$validate-code?url={GENDER_CS}&code=male&display=Masculine"
        ))
        .json();
    assert_eq!(output(&wrong_display, "result").unwrap(), false);
    assert_eq!(output(&wrong_display, "display").unwrap(), "Male");
    // A CodeableConcept: valid when one of its codings is.
    let concept = server
        .request(reqwest::Method::POST, "ValueSet/$validate-code")
        .json(&json!({
            "resourceType": "Parameters",
            "parameter": [
                {"name": "url", "valueUri": GENDER_VS},
                {"name": "codeableConcept", "valueCodeableConcept": {"coding": [
                    {"system": "http://example.org/local", "code": "F"},
                    {"system": GENDER_CS, "code": "female"}
                ]}}
            ]
        }))
        .send();
    assert_eq!(concept.status, 200, "{}", concept.text());
    assert_eq!(output(&concept.json(), "result").unwrap(), true);
    let unknown = server.get(&format!(
        "ValueSet/$validate-code?url=http://example.org/vs/none&system={GENDER_CS}&code=male"
    ));
    assert_eq!(unknown.status, 404);
}

#[test]
fn subsumes_answers_each_relation() {
    let server = Server::start();
    let ask = |a: &str, b: &str| {
        let answer = server
            .get(&format!(
                "CodeSystem/$subsumes?system={ACT_CODE}&codeA={a}&codeB={b}"
            ))
            .json();
        output(&answer, "outcome")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(ask("_ActAccountCode", "CC"), "subsumes");
    assert_eq!(ask("CC", "_ActAccountCode"), "subsumed-by");
    assert_eq!(ask("CC", "CC"), "equivalent");
    assert_eq!(ask("CC", "PBILLACCT"), "not-subsumed");
    let missing = server.get(&format!("CodeSystem/$subsumes?system={ACT_CODE}&codeA=CC"));
    assert_eq!(missing.status, 400);
}

#[test]
fn expand_with_filter_paging_and_an_inline_value_set() {
    let server = Server::start();
    let all = server
        .get(&format!("ValueSet/$expand?url={GENDER_VS}"))
        .json();
    assert_eq!(all["resourceType"], "ValueSet");
    assert_eq!(all["url"], GENDER_VS);
    assert_eq!(all["expansion"]["total"], 4);
    let mut expected = vec!["female", "male", "other", "unknown"];
    let mut found = codes(&all);
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    let filtered = server
        .get(&format!("ValueSet/$expand?url={GENDER_VS}&filter=fem"))
        .json();
    assert_eq!(codes(&filtered), ["female"]);
    let page = server
        .get(&format!(
            "ValueSet/$expand?url={GENDER_VS}&offset=1&count=2"
        ))
        .json();
    assert_eq!(page["expansion"]["total"], 4);
    assert_eq!(page["expansion"]["offset"], 1);
    assert_eq!(codes(&page).len(), 2);
    let inline = server
        .request(reqwest::Method::POST, "ValueSet/$expand")
        .json(&json!({
            "resourceType": "Parameters",
            "parameter": [{"name": "valueSet", "resource": {
                "resourceType": "ValueSet", "url": "http://example.org/vs/two", "status": "active",
                "compose": {"include": [{"system": GENDER_CS, "concept": [
                    {"code": "male"}, {"code": "female"}
                ]}]}
            }}]
        }))
        .send();
    assert_eq!(inline.status, 200, "{}", inline.text());
    let inline = inline.json();
    assert_eq!(inline["url"], "http://example.org/vs/two");
    assert_eq!(inline["expansion"]["total"], 2);
    let bad_count = server.get(&format!("ValueSet/$expand?url={GENDER_VS}&count=-1"));
    assert_eq!(bad_count.status, 400);
    let not_parameters = server
        .request(reqwest::Method::POST, "ValueSet/$expand")
        .json(&json!({"resourceType": "Patient"}))
        .send();
    assert_eq!(not_parameters.status, 400);
}

#[test]
fn stored_code_systems_and_value_sets_take_effect_and_go_away() {
    let server = Server::start();
    let created = server.create(&json!({
        "resourceType": "CodeSystem", "url": "http://example.org/cs/colours", "version": "1",
        "status": "active", "content": "complete", "hierarchyMeaning": "is-a",
        "concept": [
            {"code": "warm", "display": "Warm colours", "concept": [
                {"code": "red", "display": "Red"}, {"code": "orange", "display": "Orange"}
            ]},
            {"code": "blue", "display": "Blue"}
        ]
    }));
    let id = created["id"].as_str().unwrap().to_owned();
    let value_set = server.create(&json!({
        "resourceType": "ValueSet", "url": "http://example.org/vs/warm", "status": "active",
        "compose": {"include": [{"system": "http://example.org/cs/colours",
            "filter": [{"property": "concept", "op": "is-a", "value": "warm"}]}]}
    }));
    let warm = server
        .get("ValueSet/$expand?url=http://example.org/vs/warm")
        .json();
    let mut found = codes(&warm);
    found.sort();
    assert_eq!(found, ["orange", "red", "warm"]);
    // Instance-level operations use the resource's url.
    let instance = server
        .get(&format!(
            "ValueSet/{}/$expand",
            value_set["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(instance["expansion"]["total"], 3);
    let lookup = server
        .get(&format!("CodeSystem/{id}/$lookup?code=red"))
        .json();
    assert_eq!(output(&lookup, "display").unwrap(), "Red");
    let posted = server
        .request(reqwest::Method::POST, &format!("CodeSystem/{id}/$subsumes"))
        .json(&json!({"resourceType": "Parameters", "parameter": [
            {"name": "codeA", "valueCode": "warm"}, {"name": "codeB", "valueCode": "red"}
        ]}))
        .send()
        .json();
    assert_eq!(output(&posted, "outcome").unwrap(), "subsumes");
    // An update replaces the definition; a delete removes it.
    let mut updated = created.clone();
    updated["concept"][1]["display"] = json!("Sky blue");
    assert_eq!(
        server.put(&format!("CodeSystem/{id}"), &updated).status,
        200
    );
    let blue = server
        .get("CodeSystem/$lookup?system=http://example.org/cs/colours&code=blue")
        .json();
    assert_eq!(output(&blue, "display").unwrap(), "Sky blue");
    assert_eq!(server.delete(&format!("CodeSystem/{id}")).status, 204);
    let gone = server.get("CodeSystem/$lookup?system=http://example.org/cs/colours&code=blue");
    assert_eq!(gone.status, 404);
}

#[test]
fn unknown_operations_and_methods_are_refused() {
    let server = Server::start();
    assert_eq!(server.get("CodeSystem/$expand").status, 404);
    assert_eq!(server.get("Patient/$lookup").status, 404);
    let post = server
        .request(reqwest::Method::POST, "Patient/123")
        .json(&json!({"resourceType": "Patient"}))
        .send();
    assert_eq!(post.status, 405);
}

#[test]
fn snomed_operations_over_a_loaded_release() {
    let server = snomed_server();
    let lookup = server
        .get(&format!("CodeSystem/$lookup?system={SCT}&code=73211009"))
        .json();
    assert_eq!(output(&lookup, "display").unwrap(), "Diabetes mellitus");
    let parents: Vec<String> = properties(&lookup)
        .into_iter()
        .filter(|(code, _)| code == "parent")
        .map(|(_, value)| value.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(parents.len(), 2, "{lookup}");
    let subsumes = server
        .get(&format!(
            "CodeSystem/$subsumes?system={SCT}&codeA=73211009&codeB=11687002"
        ))
        .json();
    assert_eq!(output(&subsumes, "outcome").unwrap(), "subsumes");
    let ecl = server
        .get(&format!(
            "ValueSet/$expand?url={SCT}?fhir_vs=ecl/%3C%3C73211009&filter=gestational"
        ))
        .json();
    assert_eq!(codes(&ecl), ["11687002"]);
}

fn condition(patient: &str, system: &str, code: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "subject": {"reference": format!("Patient/{patient}")},
        "code": {"coding": [{"system": system, "code": code}]}
    })
}

fn matching_codes(server: &Server, query: &str) -> Vec<String> {
    let bundle = server.search(query);
    let mut found: Vec<String> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            entry["resource"]["code"]["coding"][0]["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    found.sort();
    found
}

#[test]
fn token_search_below_above_in_and_not_in() {
    let server = snomed_server();
    // Diabetes (73211009), gestational diabetes (11687002), appendectomy (80146002).
    for code in ["73211009", "11687002", "80146002"] {
        server.create(&condition("p1", SCT, code));
    }
    server.create(&condition("p1", "http://example.org/other", "73211009"));
    assert_eq!(
        matching_codes(&server, &format!("Condition?code:below={SCT}|73211009")),
        ["11687002", "73211009"]
    );
    assert_eq!(
        matching_codes(&server, &format!("Condition?code:above={SCT}|11687002")),
        ["11687002", "73211009"]
    );
    let in_ecl = format!("Condition?code:in={SCT}?fhir_vs=ecl/%3C73211009");
    assert_eq!(matching_codes(&server, &in_ecl), ["11687002"]);
    server.create(&json!({
        "resourceType": "ValueSet", "url": "http://example.org/vs/diabetes", "status": "active",
        "compose": {"include": [{"system": SCT,
            "filter": [{"property": "concept", "op": "is-a", "value": "73211009"}]}]}
    }));
    assert_eq!(
        matching_codes(&server, "Condition?code:in=http://example.org/vs/diabetes"),
        ["11687002", "73211009"]
    );
    // :not-in: the appendectomy, and the other system's code of the same digits.
    assert_eq!(
        matching_codes(
            &server,
            "Condition?code:not-in=http://example.org/vs/diabetes"
        ),
        ["73211009", "80146002"]
    );
    let unknown = server.get("Condition?code:in=http://example.org/vs/none");
    assert_eq!(unknown.status, 400, "{}", unknown.text());
    let no_system = server.get("Condition?code:below=73211009");
    assert_eq!(no_system.status, 400);
    let unknown_code = server.get(&format!("Condition?code:below={SCT}|999999999"));
    assert_eq!(unknown_code.status, 400);
}

#[test]
fn capability_statement_lists_the_terminology_operations() {
    let server = Server::start();
    let capability = server.get("metadata").json();
    let resources = capability["rest"][0]["resource"].as_array().unwrap();
    let value_set = resources.iter().find(|r| r["type"] == "ValueSet").unwrap();
    let names: Vec<&str> = value_set["operation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["expand", "validate-code"]);
}

/// The `match` parts of a `$translate` answer, as (equivalence, system, code, source).
fn matches(parameters: &Value) -> Vec<(String, String, String, String)> {
    parameters["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "match")
        .map(|p| {
            let parts = p["part"].as_array().unwrap();
            let find = |name: &str| parts.iter().find(|x| x["name"] == name).unwrap();
            let concept = &find("concept")["valueCoding"];
            (
                find("equivalence")["valueCode"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                concept["system"].as_str().unwrap().to_owned(),
                concept["code"].as_str().unwrap().to_owned(),
                find("source")["valueUri"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn translate_with_builtin_and_stored_concept_maps() {
    let server = Server::start();
    let v2_sex = "http://terminology.hl7.org/CodeSystem/v2-0001";
    let builtin = "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v2";
    let answer = server
        .get(&format!(
            "ConceptMap/$translate?url={builtin}&system={GENDER_CS}&code=other"
        ))
        .json();
    assert_eq!(output(&answer, "result").unwrap(), true, "{answer}");
    let found = matches(&answer);
    assert_eq!(found.len(), 2, "{answer}");
    assert!(found.iter().all(|(equivalence, system, _, source)| {
        equivalence == "wider" && system == v2_sex && source == builtin
    }));
    // Reverse: from the v2 code back to FHIR's.
    let reverse = server
        .get(&format!(
            "ConceptMap/$translate?url={builtin}&system={v2_sex}&code=F&reverse=true"
        ))
        .json();
    assert_eq!(matches(&reverse)[0].2, "female", "{reverse}");

    // A stored map, found by its target system without naming it, then changed and deleted.
    let map = server.create(&json!({
        "resourceType": "ConceptMap", "url": "http://example.org/cm/local-labs", "status": "active",
        "group": [{
            "source": "http://example.org/labs", "target": "http://loinc.org",
            "element": [{"code": "GLU", "display": "Glucose", "target": [
                {"code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma", "equivalence": "equivalent"}
            ]}],
            "unmapped": {"mode": "provided"}
        }]
    }));
    let posted = server
        .request(reqwest::Method::POST, "ConceptMap/$translate")
        .json(&json!({"resourceType": "Parameters", "parameter": [
            {"name": "coding", "valueCoding": {"system": "http://example.org/labs", "code": "GLU"}},
            {"name": "targetsystem", "valueUri": "http://loinc.org"}
        ]}))
        .send();
    assert_eq!(posted.status, 200, "{}", posted.text());
    let posted = posted.json();
    assert_eq!(
        matches(&posted),
        [(
            "equivalent".to_owned(),
            "http://loinc.org".to_owned(),
            "2345-7".to_owned(),
            "http://example.org/cm/local-labs".to_owned()
        )]
    );
    let instance = server
        .get(&format!(
            "ConceptMap/{}/$translate?system=http://example.org/labs&code=NA",
            map["id"].as_str().unwrap()
        ))
        .json();
    // Unmapped mode `provided`: the code itself comes back.
    assert_eq!(matches(&instance)[0].2, "NA", "{instance}");
    server.delete(&format!("ConceptMap/{}", map["id"].as_str().unwrap()));
    let gone = server.get("ConceptMap/$translate?url=http://example.org/cm/local-labs&system=http://example.org/labs&code=GLU");
    assert_eq!(gone.status, 404, "{}", gone.text());
    let no_code = server.get(&format!("ConceptMap/$translate?url={builtin}"));
    assert_eq!(no_code.status, 400);
}

#[test]
fn terminology_modifiers_share_one_code_budget_per_search() {
    let server = Server::start();
    let act_codes = "http://terminology.hl7.org/ValueSet/v3-ActCode";
    let total = server
        .get(&format!("ValueSet/$expand?url={act_codes}&count=1"))
        .json()["expansion"]["total"]
        .as_u64()
        .unwrap() as usize;
    assert!(total > 500, "{total}");
    // One value set fits; enough repetitions of it go over the budget: 400, not a 500.
    assert_eq!(
        server
            .get(&format!("Encounter?class:in={act_codes}"))
            .status,
        200
    );
    let repeats = 10_000 / total + 1; // medulla_search::MAX_MODIFIER_CODES
    let query: Vec<String> = (0..repeats)
        .map(|_| format!("class:in={act_codes}"))
        .collect();
    let refused = server.get(&format!("Encounter?{}", query.join("&")));
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("narrow"), "{}", refused.text());
}

#[test]
fn in_takes_a_stored_value_set_by_reference_and_instances_use_their_own_definition() {
    let server = Server::start();
    let stored = server.create(&json!({
        "resourceType": "ValueSet", "url": "http://example.org/vs/female", "status": "active",
        "compose": {"include": [{"system": GENDER_CS, "concept": [{"code": "female"}]}]}
    }));
    let id = stored["id"].as_str().unwrap().to_owned();
    server.create(&json!({"resourceType": "Patient", "gender": "female"}));
    server.create(&json!({"resourceType": "Patient", "gender": "male"}));
    let found = server.search(&format!("Patient?gender:in=ValueSet/{id}"));
    assert_eq!(found["entry"].as_array().map(Vec::len), Some(1), "{found}");
    // A second resource with the same url: deleting it leaves the first in force.
    let twin = server.create(&json!({
        "resourceType": "ValueSet", "url": "http://example.org/vs/female", "status": "active",
        "compose": {"include": [{"system": GENDER_CS, "concept": [{"code": "female"}, {"code": "male"}]}]}
    }));
    assert_eq!(
        server
            .delete(&format!("ValueSet/{}", twin["id"].as_str().unwrap()))
            .status,
        204
    );
    let expanded = server
        .get("ValueSet/$expand?url=http://example.org/vs/female")
        .json();
    assert_eq!(codes(&expanded), ["female"], "{expanded}");
    let instance = server.get(&format!("ValueSet/{id}/$expand")).json();
    assert_eq!(codes(&instance), ["female"]);
}
