//! The FHIR R4 built-in content: every value set is evaluated, and the operations work on it
//! without loading anything.

use medulla_terminology::{Error, ExpandOptions, Subsumption, Terminology};

fn codes(expansion: &medulla_terminology::Expansion) -> Vec<&str> {
    expansion
        .contains
        .iter()
        .map(|entry| entry.code.as_str())
        .collect()
}

/// Every built-in value set expands, except those that take all of, or filter, a code system
/// that is not built in (SNOMED CT, LOINC, UCUM, ISO, …) or not in the version named, and two
/// that import value sets the R4 definitions do not include. The counts are asserted so a
/// regression shows up as a changed number.
#[test]
fn every_builtin_value_set_expands_or_names_the_missing_code_system() {
    let terminology = Terminology::in_memory();
    let options = ExpandOptions {
        limit: 100_000,
        ..ExpandOptions::default()
    };
    let mut expanded = 0;
    let mut missing: std::collections::BTreeMap<String, usize> = Default::default();
    let mut other = Vec::new();
    let mut missing_imports = Vec::new();
    let mut codes_total = 0;
    let urls = terminology.builtin_value_set_urls();
    for url in &urls {
        match terminology.expand(url, &options) {
            Ok(expansion) => {
                expanded += 1;
                codes_total += expansion.total;
            }
            Err(Error::CodeSystemNotLoaded { system, .. }) => {
                *missing.entry(system).or_default() += 1;
            }
            Err(Error::UnknownValueSet { url: imported }) => {
                missing_imports.push(format!("{url} imports {imported}"));
            }
            Err(error) => other.push(format!("{url}: {error}")),
        }
    }
    let needing: usize = missing.values().sum();
    println!(
        "{} value sets: {expanded} expanded ({codes_total} codes), {needing} need a code system \
         that is not built in: {missing:?}",
        urls.len()
    );
    assert_eq!(other, Vec::<String>::new());
    assert_eq!(
        missing_imports,
        [
            "http://hl7.org/fhir/ValueSet/media-modality imports http://hl7.org/fhir/ValueSet/dicom-cid29",
            "http://hl7.org/fhir/ValueSet/use-context imports http://hl7.org/fhir/ValueSet/usps-state",
        ]
    );
    assert_eq!(urls.len(), 1317);
    assert_eq!(expanded, 1223, "{missing:?}");
    assert_eq!(needing, 92);
    assert_eq!(missing.get("http://snomed.info/sct"), Some(&52));
    assert_eq!(expanded + needing + missing_imports.len(), urls.len());
}

#[test]
fn administrative_gender_expands_validates_and_looks_up() {
    let terminology = Terminology::in_memory();
    let url = "http://hl7.org/fhir/ValueSet/administrative-gender";
    let system = "http://hl7.org/fhir/administrative-gender";
    let expansion = terminology.expand(url, &ExpandOptions::default()).unwrap();
    assert_eq!(codes(&expansion), ["male", "female", "other", "unknown"]);
    assert_eq!(expansion.total, 4);
    assert_eq!(expansion.parameters.last().unwrap().name, "used-codesystem");
    assert_eq!(
        expansion.parameters.last().unwrap().value,
        format!("{system}|4.0.1")
    );

    let valid = terminology
        .validate_code(url, system, "unknown", Some("unknown"))
        .unwrap();
    assert!(valid.result, "{valid:?}");
    assert_eq!(valid.display.as_deref(), Some("Unknown"));
    let wrong = terminology
        .validate_code(url, system, "female", Some("Woman"))
        .unwrap();
    assert!(!wrong.result);
    assert_eq!(
        wrong.message.as_deref(),
        Some(
            "wrong display 'Woman' for 'http://hl7.org/fhir/administrative-gender#female': it is 'Female'"
        )
    );
    let absent = terminology.validate_code(url, system, "f", None).unwrap();
    assert_eq!(
        absent.message.as_deref(),
        Some("unknown code 'f' in code system 'http://hl7.org/fhir/administrative-gender'")
    );

    let female = terminology.lookup(system, "female").unwrap();
    assert_eq!(female.definition.as_deref(), Some("Female."));
    assert_eq!(female.version.as_deref(), Some("4.0.1"));
}

#[test]
fn an_imported_value_set_and_a_listed_code_make_yes_no_dont_know() {
    let terminology = Terminology::in_memory();
    let expansion = terminology
        .expand(
            "http://hl7.org/fhir/ValueSet/yesnodontknow",
            &ExpandOptions::default(),
        )
        .unwrap();
    // v2-0136 lists N before Y; expansions keep code system order.
    assert_eq!(codes(&expansion), ["N", "Y", "asked-unknown"]);
    assert_eq!(
        expansion.contains[2].display.as_deref(),
        Some("Don't know"),
        "the value set's display wins over the code system's"
    );
}

#[test]
fn v3_hierarchies_follow_nesting_and_child_properties() {
    let terminology = Terminology::in_memory();
    let forms = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm";
    let drop = terminology.lookup(forms, "DROP").unwrap();
    let parents: Vec<&str> = drop.parents.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(parents.len(), 2, "{parents:?}");
    assert!(parents.contains(&"SOL"), "{parents:?}");
    assert_eq!(
        terminology.subsumes(forms, "SOL", "DROP").unwrap(),
        Subsumption::Subsumes
    );

    let act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    assert_eq!(
        terminology
            .subsumes(act_code, "CC", "_ActAccountCode")
            .unwrap(),
        Subsumption::SubsumedBy
    );
    assert_eq!(
        terminology.subsumes(act_code, "CC", "CASH").unwrap(),
        Subsumption::NotSubsumed
    );
    assert_eq!(
        terminology.subsumes(act_code, "CC", "CC").unwrap(),
        Subsumption::Equivalent
    );
    let account = terminology.lookup(act_code, "_ActAccountCode").unwrap();
    assert!(
        account.is_abstract,
        "notSelectable = true makes it abstract"
    );
    assert!(account.children.iter().any(|child| child.code == "CC"));
}

#[test]
fn is_not_a_and_descendent_of_in_builtin_value_sets() {
    let terminology = Terminology::in_memory();
    // v2-0131 without O and its descendants.
    let contacts = terminology
        .expand(
            "http://hl7.org/fhir/ValueSet/patient-contactrelationship",
            &ExpandOptions::default(),
        )
        .unwrap();
    assert!(!codes(&contacts).contains(&"O"), "{:?}", codes(&contacts));
    assert!(codes(&contacts).contains(&"C"), "{:?}", codes(&contacts));
    // v3-ActMood below _ActMoodPredicate, without it.
    let moods = terminology
        .expand(
            "http://hl7.org/fhir/ValueSet/inactive",
            &ExpandOptions::default(),
        )
        .unwrap();
    assert!(!codes(&moods).contains(&"_ActMoodPredicate"));
    assert!(codes(&moods).contains(&"GOL"), "{:?}", codes(&moods));
}

#[test]
fn v2_designations_are_looked_up_and_searched() {
    let terminology = Terminology::in_memory();
    let sex = "http://terminology.hl7.org/CodeSystem/v2-0001";
    let female = terminology.lookup(sex, "F").unwrap();
    assert!(
        female
            .designations
            .iter()
            .any(|designation| designation.language.as_deref() == Some("nl")),
        "{:?}",
        female.designations
    );
    let dutch = female
        .designations
        .iter()
        .find(|designation| designation.language.as_deref() == Some("nl"))
        .unwrap()
        .value
        .clone();
    // The word index covers designations: the Dutch text finds the code.
    let expansion = terminology
        .expand(
            "http://terminology.hl7.org/ValueSet/v2-0001",
            &ExpandOptions {
                filter: Some(dutch.clone()),
                include_designations: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(codes(&expansion), ["F"], "filter {dutch:?}");
    assert!(!expansion.contains[0].designations.is_empty());
    // And the designation is an accepted display.
    let valid = terminology
        .validate_code_in_system(sex, "F", Some(&dutch.to_uppercase()))
        .unwrap();
    assert!(valid.result, "{valid:?}");
}

#[test]
fn unknown_things_are_typed_errors() {
    let terminology = Terminology::in_memory();
    let error = terminology
        .lookup("http://hl7.org/fhir/administrative-gender", "x")
        .unwrap_err();
    assert!(matches!(error, Error::UnknownCode { .. }));
    assert!(error.is_not_found());
    let error = terminology
        .subsumes("http://example.org/none", "a", "b")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown code system 'http://example.org/none'"
    );
    let error = terminology
        .lookup("http://hl7.org/fhir/administrative-gender|3.0.0", "male")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "code system 'http://hl7.org/fhir/administrative-gender' is not loaded in version \
         '3.0.0' (loaded: 4.0.1)"
    );
    let error = terminology
        .expand("http://example.org/vs", &ExpandOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::UnknownValueSet { .. }) && error.is_not_found());
    let error = terminology
        .expand(
            "http://hl7.org/fhir/ValueSet/clinical-findings",
            &ExpandOptions::default(),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "value set 'http://hl7.org/fhir/ValueSet/clinical-findings' needs code system \
         'http://snomed.info/sct', which is not loaded"
    );
}
