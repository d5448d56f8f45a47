//! The shapes the R4 search parameters use (`A.x | B.y.where(…) | (C.z as T)`), on inputs
//! the compile-time shortcuts must not change: chains of `|` whose branches are skipped by
//! resource type, path steps worked out in advance for an expected type, and inputs of other
//! types or with no type at all.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use medulla_fhirpath::{Environment, FhirPath, Options};
use serde_json::{Value as Json, json};

fn lenient(expression: &str, input: &Json) -> Json {
    let path = FhirPath::compile(expression).unwrap();
    let result = path.evaluate(Some(input), &Environment::new()).unwrap();
    Json::Array(result.iter().map(|value| value.to_json()).collect())
}

fn patient() -> Json {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}, {"given": ["Peter"]}],
        "birthDate": "1974-12-25",
        "_birthDate": {"extension": [{"url": "http://example.org/time", "valueString": "noon"}]}
    })
}

#[test]
fn a_union_takes_the_branches_of_the_input_type_in_order_without_duplicates() {
    let expression = "Practitioner.name.given | Patient.name.given | Group.name | Patient.id";
    assert_eq!(
        lenient(expression, &patient()),
        json!(["Peter", "James", "p1"])
    );
    let practitioner = json!({"resourceType": "Practitioner", "name": [{"given": ["Ann"]}]});
    assert_eq!(lenient(expression, &practitioner), json!(["Ann"]));
}

#[test]
fn abstract_type_names_and_parentheses_join_the_union() {
    let expression = "(Observation.code | Resource.id) | (DomainResource.text | Patient.gender)";
    let mut input = patient();
    input["gender"] = json!("male");
    assert_eq!(lenient(expression, &input), json!(["p1", "male"]));
}

#[test]
fn untyped_input_is_navigated_by_name() {
    let input = json!({"Patient": {"x": 1}, "Observation": {"y": 2}});
    assert_eq!(
        lenient("Patient.x | Observation.y | Group.z", &input),
        json!([1, 2])
    );
}

#[test]
fn a_step_worked_out_for_one_type_still_works_on_another() {
    // `value` after `Observation.` is worked out for Observation; a resolved or contained
    // resource of another type takes the general path.
    let observation = json!({
        "resourceType": "Observation",
        "valueQuantity": {"value": 72, "unit": "/min"},
        "component": [{"valueString": "a"}, {"valueQuantity": {"value": 3}}]
    });
    assert_eq!(
        lenient("(Observation.value as Quantity).value", &observation),
        json!([72])
    );
    assert_eq!(
        lenient(
            "Observation.component.value.ofType(Quantity).value",
            &observation
        ),
        json!([3])
    );
    assert_eq!(
        lenient("Observation.component.value.ofType(string)", &observation),
        json!(["a"])
    );
    let other = json!({"resourceType": "Condition", "onsetString": "childhood"});
    assert_eq!(
        lenient("onset.ofType(string)", &other),
        json!(["childhood"])
    );
    assert_eq!(
        lenient("Observation.value | onset", &other),
        json!(["childhood"])
    );
}

#[test]
fn primitive_extensions_still_come_with_their_values() {
    assert_eq!(
        lenient("Patient.birthDate.extension.value", &patient()),
        json!(["noon"])
    );
    let only_extension = json!({
        "resourceType": "Patient",
        "_birthDate": {"extension": [{"url": "u", "valueString": "unknown"}]}
    });
    assert_eq!(
        lenient(
            "Patient.birthDate.extension.value | Group.name",
            &only_extension
        ),
        json!(["unknown"])
    );
}

#[test]
fn functions_on_an_empty_branch_still_run() {
    // `exists()`, `empty()` and `count()` make something of nothing.
    assert_eq!(
        lenient(
            "Observation.code.exists() | Patient.name.empty()",
            &patient()
        ),
        json!([false])
    );
    assert_eq!(lenient("Observation.code.count()", &patient()), json!([0]));
}

#[test]
fn strict_mode_still_rejects_a_branch_of_another_type() {
    let path =
        FhirPath::compile_with("Patient.name | Observation.code", Options::strict()).unwrap();
    let input = patient();
    assert!(path.evaluate(Some(&input), &Environment::new()).is_err());
}
