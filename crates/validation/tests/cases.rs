//! Golden cases: every `tests/data/<topic>/<case>.json` is validated and its issues compared
//! with `<case>.expected.json`. `MEDULLA_UPDATE_EXPECT=1` rewrites the expectations (review
//! the diff). Cases under `valid/` must also have no errors; cases under `broken/` must have
//! at least one.
//!
//! Profiles used by the cases are in `tests/data/profiles/` and are added before validating.

use std::fs;
use std::path::{Path, PathBuf};

use medulla_validation::{Options, Outcome, Structures, Validator};
use serde_json::{Value as Json, json};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn read_json(path: &Path) -> Json {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn validator_with_profiles() -> Validator {
    let mut structures = Structures::r4();
    let mut profiles: Vec<PathBuf> = fs::read_dir(data_dir().join("profiles"))
        .expect("tests/data/profiles exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    profiles.sort();
    for path in profiles {
        structures
            .add_profile(&read_json(&path))
            .unwrap_or_else(|e| panic!("add {}: {e}", path.display()));
    }
    Validator::new(
        structures,
        std::sync::Arc::new(medulla_terminology::Terminology::in_memory()),
    )
}

fn issues_json(outcome: &Outcome) -> Json {
    Json::Array(
        outcome
            .issues
            .iter()
            .map(|issue| {
                json!({
                    "severity": issue.severity.as_str(),
                    "code": issue.code.as_str(),
                    "expression": issue.expression,
                    "details": issue.details,
                })
            })
            .collect(),
    )
}

/// Runs every case of a topic; returns how many there were.
fn run_topic(topic: &str, check: impl Fn(&str, &Outcome)) -> usize {
    let validator = validator_with_profiles();
    let update = std::env::var_os("MEDULLA_UPDATE_EXPECT").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(data_dir().join(topic))
        .expect("topic directory exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "json")
                && !path.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_owned();
        let outcome = validator.validate(&read_json(case), &Options::default());
        check(&name, &outcome);
        let actual = issues_json(&outcome);
        let expected_path = case.with_extension("expected.json");
        if update {
            let text = serde_json::to_string_pretty(&actual).expect("serializes") + "\n";
            fs::write(&expected_path, text).expect("write expectation");
            continue;
        }
        let expected = if expected_path.exists() {
            read_json(&expected_path)
        } else {
            json!(null)
        };
        if expected != actual {
            failures.push(format!(
                "{topic}/{name}: expected {}\nactual {}",
                serde_json::to_string_pretty(&expected).unwrap_or_default(),
                serde_json::to_string_pretty(&actual).unwrap_or_default()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    cases.len()
}

#[test]
fn valid_resources_have_no_errors_and_the_expected_warnings() {
    let count = run_topic("valid", |name, outcome| {
        let errors: Vec<String> = outcome.errors().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    });
    assert!(count >= 10, "only {count} valid cases");
}

#[test]
fn broken_resources_give_exactly_the_expected_issues() {
    let count = run_topic("broken", |name, outcome| {
        assert!(!outcome.is_valid(), "{name} has no errors");
    });
    assert!(count >= 10, "only {count} broken cases");
}
