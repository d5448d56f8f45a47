//! Adversarial input: deep nesting, long chains, huge collections, costly regular expressions,
//! and every R4 search parameter expression.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use medulla_fhirpath::{Environment, Error, FhirPath, evaluate_to_json};
use serde_json::json;

fn is_syntax_error(result: Result<FhirPath, Error>) -> bool {
    matches!(result, Err(Error::Syntax { .. }))
}

#[test]
fn ten_thousand_nested_parentheses_are_a_syntax_error() {
    let text = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(is_syntax_error(FhirPath::compile(&text)));
}

#[test]
fn deep_left_chains_are_a_syntax_error_not_a_stack_overflow() {
    let sum = vec!["1"; 10_000].join(" + ");
    assert!(is_syntax_error(FhirPath::compile(&sum)));
    let path = format!("Patient{}", ".name".repeat(10_000));
    assert!(is_syntax_error(FhirPath::compile(&path)));
    let negations = format!("{}1", "-".repeat(10_000));
    assert!(is_syntax_error(FhirPath::compile(&negations)));
    let calls = format!("{}1{}", "iif(true, ".repeat(5_000), ", 0)".repeat(5_000));
    assert!(is_syntax_error(FhirPath::compile(&calls)));
}

#[test]
fn the_deepest_accepted_expression_evaluates() {
    // Just inside the limit: evaluation recursion is bounded by the same depth.
    let depth = medulla_fhirpath::syntax::parser::MAX_DEPTH - 2;
    let text = format!("{}1{}", "(1 + ".repeat(depth / 2), ")".repeat(depth / 2));
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || evaluate_to_json(&text, None, false))
        .unwrap();
    let result = handle.join().unwrap().unwrap();
    assert_eq!(result, json!([depth / 2 + 1]));
}

#[test]
fn errors_carry_positions() {
    let error = FhirPath::compile("name.given.where(").unwrap_err();
    assert_eq!(
        error.to_string(),
        "syntax error at position 17: unexpected end of expression"
    );
    let error = FhirPath::compile("name.foo()").unwrap_err();
    assert_eq!(
        error.to_string(),
        "semantic error at position 5: unknown function 'foo()'"
    );
    let error = evaluate_to_json("(1 | 2).single()", None, false).unwrap_err();
    assert_eq!(
        error.to_string(),
        "evaluation error in single(): expected at most one item, got 2"
    );
}

#[test]
fn huge_collections_are_bounded() {
    let result = evaluate_to_json("(1 | 2 | 3).repeat($this)", None, false).unwrap();
    assert_eq!(result, json!([1, 2, 3]));
    // Each select doubles the collection: 2^22 items exceed the limit.
    let doubling = "1.combine(1)".to_owned() + &".select($this.combine($this))".repeat(21);
    let error = evaluate_to_json(&format!("({doubling}).count()"), None, false).unwrap_err();
    assert!(error.to_string().contains("more than"), "{error}");
}

#[test]
fn catastrophic_regexes_run_in_linear_time() {
    let input = "a".repeat(30_000) + "!";
    let text = format!("'{input}'.matches('(a+)+$')");
    let started = std::time::Instant::now();
    // The `!` at the end makes a backtracking engine try every split of the a's.
    let result = evaluate_to_json(&text, None, false).unwrap();
    assert_eq!(result, json!([false]));
    // Not a timing assertion on speed, only a guard against exponential backtracking.
    assert!(started.elapsed().as_secs() < 30);
    let error = evaluate_to_json("'a'.matches('(')", None, false).unwrap_err();
    assert!(
        error.to_string().contains("invalid regular expression"),
        "{error}"
    );
}

#[test]
fn every_r4_search_parameter_expression_compiles() {
    let mut failures = Vec::new();
    for param in medulla_model::definitions().all_search_params() {
        if let Some(expression) = &param.expression
            && let Err(error) = FhirPath::compile(expression)
        {
            failures.push(format!("{}: {expression}: {error}", param.url));
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn search_parameter_unions_are_lenient_across_types() {
    let observation = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": "Patient/1"},
        "valueQuantity": {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}
    });
    let path = FhirPath::compile("AllergyIntolerance.patient | Observation.subject").unwrap();
    let result = path
        .evaluate(Some(&observation), &Environment::new())
        .unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0].to_json(), json!({"reference": "Patient/1"}));
    let path = FhirPath::compile("(Observation.value as Quantity)").unwrap();
    let result = path
        .evaluate(Some(&observation), &Environment::new())
        .unwrap();
    assert_eq!(result[0].type_name(), "Quantity");
}

#[test]
fn quantities_convert_common_ucum_units() {
    let check = |text: &str| evaluate_to_json(text, None, false).unwrap();
    assert_eq!(check("1 'kg' = 1000 'g'"), json!([true]));
    assert_eq!(check("250 'mL' = 0.25 'L'"), json!([true]));
    assert_eq!(check("2 'h' = 120 'min'"), json!([true]));
    assert_eq!(check("1 'd' = 24 'h'"), json!([true]));
    assert_eq!(check("1 'wk' = 1 week"), json!([true]));
    assert_eq!(check("1 'mmol/L' = 18 'mg/dL'"), json!([]));
    assert_eq!(check("1 'mo' = 1 month"), json!([]));
    assert_eq!(check("1 year = 12 months"), json!([true]));
}
