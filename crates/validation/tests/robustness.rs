//! Hostile input and hostile profiles give issues or errors, never hangs or panics; and the
//! list of R4 constraints this crate cannot evaluate is pinned, so a regression shows.

use std::time::Instant;

use medulla_validation::{Error, IssueType, Options, Severity, Structures, Validator};
use serde_json::{Value as Json, json};

/// A minimal snapshot for an extension definition whose nested `extension` slice has the
/// definition itself as its profile: slicing that recurses for ever if followed blindly.
fn recursive_extension(url: &str) -> Json {
    json!({
        "resourceType": "StructureDefinition", "url": url, "name": "Recursive",
        "kind": "complex-type", "abstract": false, "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "context": [{"type": "element", "expression": "Element"}],
        "snapshot": {"element": [
            {"id": "Extension", "path": "Extension", "min": 0, "max": "*"},
            {"id": "Extension.id", "path": "Extension.id", "min": 0, "max": "1",
             "type": [{"code": "string"}]},
            {"id": "Extension.extension", "path": "Extension.extension", "min": 0, "max": "*",
             "slicing": {"discriminator": [{"type": "profile", "path": "$this"}], "rules": "closed"},
             "type": [{"code": "Extension"}]},
            {"id": "Extension.extension:again", "path": "Extension.extension",
             "sliceName": "again", "min": 0, "max": "*",
             "type": [{"code": "Extension", "profile": [url]}]},
            {"id": "Extension.url", "path": "Extension.url", "min": 1, "max": "1",
             "type": [{"code": "uri"}], "fixedUri": url},
            {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 0, "max": "1",
             "type": [{"code": "string"}]},
        ]},
    })
}

#[test]
fn recursive_profile_slicing_is_bounded() {
    let url = "http://example.org/fhir/StructureDefinition/recursive";
    let mut structures = Structures::r4();
    structures
        .add_profile(&recursive_extension(url))
        .expect("the profile itself is well formed");
    let validator = Validator::new(
        structures,
        std::sync::Arc::new(medulla_terminology::Terminology::in_memory()),
    );
    // Extensions nested 40 deep, each claiming the recursive profile, so that every level's
    // `profile` discriminator validates the whole chain below it again.
    let mut extension = json!({"url": url, "valueString": "leaf"});
    for _ in 0..40 {
        extension = json!({"url": url, "extension": [extension]});
    }
    let patient = json!({"resourceType": "Patient", "extension": [extension]});
    let started = Instant::now();
    let outcome = validator.validate(&patient, &Options::default());
    let elapsed = started.elapsed();
    assert!(
        elapsed.as_secs() < 30,
        "validation took {elapsed:?}, the limits did not hold"
    );
    assert!(
        outcome
            .issues
            .iter()
            .any(|issue| issue.code == IssueType::TooCostly && issue.severity == Severity::Error),
        "{:#?}",
        &outcome.issues[..outcome.issues.len().min(5)]
    );
}

#[test]
fn huge_profile_regexes_are_refused() {
    let mut profile = recursive_extension("http://example.org/fhir/StructureDefinition/regex");
    profile["snapshot"]["element"][5]["extension"] = json!([{
        "url": "http://hl7.org/fhir/StructureDefinition/regex",
        "valueString": "((a{1,100}){1,100}){1,100}",
    }]);
    let error = Structures::r4()
        .add_profile(&profile)
        .expect_err("the regex is too large");
    assert!(
        matches!(&error, Error::InvalidElement { element, .. } if element == "Extension.value[x]"),
        "{error}"
    );
}

#[test]
fn deeply_nested_content_stops_at_the_depth_limit() {
    let mut item = json!({"linkId": "leaf", "type": "string"});
    for level in 0..300 {
        item = json!({"linkId": format!("l{level}"), "type": "group", "item": [item]});
    }
    let questionnaire = json!({"resourceType": "Questionnaire", "status": "draft", "item": [item]});
    let outcome = Validator::r4().validate(&questionnaire, &Options::default());
    let too_deep: Vec<_> = outcome
        .issues
        .iter()
        .filter(|issue| issue.code == IssueType::TooCostly)
        .collect();
    assert_eq!(too_deep.len(), 1, "{too_deep:#?}");
    assert!(too_deep[0].details.contains("nested deeper than 64"));
}

#[test]
fn input_that_is_not_a_resource_is_a_fatal_issue() {
    let validator = Validator::r4();
    for (input, details) in [
        (
            json!([1, 2]),
            "A resource must be a JSON object, not an array",
        ),
        (json!({"id": "x"}), "Unable to find resourceType property"),
        (
            json!({"resourceType": "DomainResource"}),
            "Unknown resource type 'DomainResource'",
        ),
    ] {
        let outcome = validator.validate(&input, &Options::default());
        assert_eq!(outcome.issues.len(), 1, "{input}");
        assert_eq!(outcome.issues[0].severity, Severity::Fatal);
        assert_eq!(outcome.issues[0].details, details);
    }
}

#[test]
fn profiles_that_cannot_be_used_are_errors() {
    let mut structures = Structures::r4();
    assert!(matches!(
        structures.add_profile(&json!({"resourceType": "Patient"})),
        Err(Error::NotAStructureDefinition { .. })
    ));
    let mut broken = recursive_extension("http://example.org/fhir/StructureDefinition/orphan");
    broken["snapshot"]["element"][3]["id"] = json!("Extension.nothing:again");
    assert!(matches!(
        structures.add_profile(&broken),
        Err(Error::InvalidElement { .. })
    ));
}

#[test]
fn unknown_declared_profiles_are_warnings_and_requested_ones_errors() {
    let validator = Validator::r4();
    let patient = json!({"resourceType": "Patient",
        "meta": {"profile": ["http://example.org/unknown"]}});
    let outcome = validator.validate(&patient, &Options::default());
    let not_found: Vec<_> = outcome
        .issues
        .iter()
        .filter(|issue| issue.code == IssueType::NotFound)
        .map(|issue| (issue.severity, issue.expression.as_str()))
        .collect();
    assert_eq!(not_found, [(Severity::Warning, "Patient.meta.profile[0]")]);
    let outcome = validator.validate(
        &json!({"resourceType": "Patient"}),
        &Options::new().with_profile("http://example.org/unknown"),
    );
    assert_eq!(outcome.errors().count(), 1);
}

/// The R4 constraints whose expressions this crate's FHIRPath engine does not compile; they are
/// skipped. If this list grows, something regressed; if it shrinks, update it.
#[test]
fn constraints_not_evaluated_are_listed() {
    let structures = Structures::r4();
    let skipped: Vec<String> = structures
        .constraints_not_evaluated()
        .iter()
        .map(|constraint| constraint.key.clone())
        .collect();
    for constraint in structures.constraints_not_evaluated() {
        eprintln!(
            "{}: {}",
            constraint.key,
            constraint.not_evaluated_reason().unwrap_or("")
        );
    }
    assert_eq!(skipped, Vec::<String>::new());
}
