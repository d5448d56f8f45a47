//! ConceptMap definitions and `$translate`: each equivalence, reverse translation, the three
//! `unmapped` modes, choosing maps by system and value set, the built-in R4 maps, and errors.

use medulla_terminology::{
    Coding, Compose, ConceptMap, ConceptMapEquivalence, ConceptSet, Error, Terminology,
    TranslateRequest, Translation, ValueSet,
};
use serde_json::json;

const LOCAL: &str = "http://example.org/fhir/CodeSystem/local-lab";
const LOINC: &str = "http://loinc.org";
const LAB_MAP: &str = "http://example.org/fhir/ConceptMap/lab-to-loinc";
const LOCAL_LABS: &str = "http://example.org/fhir/ValueSet/local-labs";

fn lab_map() -> ConceptMap {
    let target = |code: &str, equivalence: &str| json!({"code": code, "equivalence": equivalence});
    ConceptMap::from_json(&json!({
        "resourceType": "ConceptMap",
        "url": LAB_MAP,
        "version": "1",
        "name": "LabToLoinc",
        "status": "active",
        "sourceUri": LOCAL_LABS,
        "targetCanonical": "http://loinc.org/vs|2.77",
        "group": [{
            "source": LOCAL,
            "target": LOINC,
            "targetVersion": "2.77",
            "element": [
                {"code": "GLU", "display": "Glucose", "target": [{
                    "code": "2345-7",
                    "display": "Glucose [Mass/volume] in Serum or Plasma",
                    "equivalence": "equivalent"
                }]},
                {"code": "GLU-ANY", "target": [
                    target("2345-7", "wider"),
                    {"code": "2339-0", "equivalence": "wider", "comment": "blood, not serum"}
                ]},
                {"code": "HGB", "target": [{
                    "code": "718-7",
                    "equivalence": "equal",
                    "dependsOn": [{"property": "http://example.org/specimen", "value": "blood"}],
                    "product": [{
                        "property": "http://example.org/unit",
                        "system": "http://unitsofmeasure.org",
                        "value": "g/dL"
                    }]
                }]},
                {"code": "A1C", "target": [target("4548-4", "subsumes")]},
                {"code": "CREAT", "target": [target("2160-0", "narrower")]},
                {"code": "CHOL", "target": [target("2093-3", "specializes")]},
                {"code": "WT", "target": [target("29463-7", "relatedto")]},
                {"code": "HR", "target": [target("8867-4", "inexact")]},
                {"code": "MISC", "target": [{"equivalence": "unmatched"}]},
                {"code": "NOPE", "target": [target("718-7", "disjoint")]}
            ]
        }]
    }))
    .expect("the lab map reads")
}

fn with_lab_map() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology.add_concept_map(lab_map());
    terminology
}

fn translate_local(terminology: &Terminology, code: &str) -> Translation {
    terminology
        .translate(&TranslateRequest {
            url: Some(LAB_MAP.into()),
            ..TranslateRequest::code(LOCAL, code)
        })
        .expect("translates")
}

/// (equivalence, system, code) of each match.
fn matches(translation: &Translation) -> Vec<(&'static str, String, String)> {
    translation
        .matches
        .iter()
        .map(|found| {
            let concept = found.concept.clone().unwrap_or(Coding {
                system: None,
                code: String::new(),
                display: None,
            });
            (
                found.equivalence.code(),
                concept.system.unwrap_or_default(),
                concept.code,
            )
        })
        .collect()
}

#[test]
fn each_equivalence_is_reported_as_the_map_states_it() {
    let terminology = with_lab_map();
    for (code, equivalence, target, result) in [
        ("GLU", "equivalent", "2345-7", true),
        ("HGB", "equal", "718-7", true),
        ("A1C", "subsumes", "4548-4", true),
        ("CREAT", "narrower", "2160-0", true),
        ("CHOL", "specializes", "2093-3", true),
        ("WT", "relatedto", "29463-7", true),
        ("HR", "inexact", "8867-4", true),
        ("MISC", "unmatched", "", false),
        ("NOPE", "disjoint", "718-7", false),
    ] {
        let translation = translate_local(&terminology, code);
        let system = if target.is_empty() { "" } else { LOINC };
        assert_eq!(
            matches(&translation),
            [(equivalence, system.to_owned(), target.to_owned())],
            "{code}"
        );
        assert_eq!(translation.result, result, "{code}");
        assert_eq!(translation.matches[0].source, LAB_MAP);
        assert_eq!(translation.message.is_some(), !result, "{code}");
    }
    let wider = translate_local(&terminology, "GLU-ANY");
    assert_eq!(
        matches(&wider),
        [
            ("wider", LOINC.to_owned(), "2345-7".to_owned()),
            ("wider", LOINC.to_owned(), "2339-0".to_owned())
        ]
    );
    let glucose = translate_local(&terminology, "GLU");
    assert_eq!(
        glucose.matches[0]
            .concept
            .as_ref()
            .unwrap()
            .display
            .as_deref(),
        Some("Glucose [Mass/volume] in Serum or Plasma")
    );
    let hemoglobin = translate_local(&terminology, "HGB");
    assert_eq!(hemoglobin.matches[0].products[0].value, "g/dL");
    assert_eq!(hemoglobin.matches[0].depends_on[0].value, "blood");

    let unknown = translate_local(&terminology, "NOT-MAPPED");
    assert!(!unknown.result && unknown.matches.is_empty());
    assert_eq!(
        unknown.message.as_deref(),
        Some(
            "no mapping found for 'http://example.org/fhir/CodeSystem/local-lab#NOT-MAPPED' \
             in 1 concept map(s)"
        )
    );
}

#[test]
fn reverse_maps_targets_back_with_the_equivalence_turned_around() {
    let terminology = with_lab_map();
    let back = terminology
        .translate(&TranslateRequest {
            url: Some(LAB_MAP.into()),
            reverse: true,
            ..TranslateRequest::code(LOINC, "2345-7")
        })
        .unwrap();
    assert!(back.result);
    assert_eq!(
        matches(&back),
        [
            ("equivalent", LOCAL.to_owned(), "GLU".to_owned()),
            // GLU-ANY maps to the wider 2345-7: read backwards, it is narrower.
            ("narrower", LOCAL.to_owned(), "GLU-ANY".to_owned()),
        ]
    );
    assert_eq!(
        back.matches[0].concept.as_ref().unwrap().display.as_deref(),
        Some("Glucose")
    );
    let specialized = terminology
        .translate(&TranslateRequest {
            reverse: true,
            ..TranslateRequest::code(LOINC, "4548-4")
        })
        .unwrap();
    assert_eq!(
        matches(&specialized),
        [("specializes", LOCAL.to_owned(), "A1C".to_owned())]
    );
    // A source code is not found when translating backwards.
    let wrong_way = terminology
        .translate(&TranslateRequest {
            url: Some(LAB_MAP.into()),
            reverse: true,
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap();
    assert!(!wrong_way.result && wrong_way.matches.is_empty());
}

#[test]
fn maps_are_chosen_by_system_value_sets_and_target_system() {
    let terminology = with_lab_map();
    // No url: any map with a group from the local system.
    let found = terminology
        .translate(&TranslateRequest::code(LOCAL, "GLU"))
        .unwrap();
    assert_eq!(
        matches(&found),
        [("equivalent", LOINC.to_owned(), "2345-7".to_owned())]
    );
    let by_value_sets = terminology
        .translate(&TranslateRequest {
            source: Some(LOCAL_LABS.into()),
            target: Some("http://loinc.org/vs".into()),
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap();
    assert!(by_value_sets.result);
    let other_source = terminology
        .translate(&TranslateRequest {
            source: Some("http://example.org/fhir/ValueSet/other".into()),
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap();
    assert!(!other_source.result);
    assert_eq!(
        other_source.message.as_deref(),
        Some("no concept map applies to 'http://example.org/fhir/CodeSystem/local-lab#GLU'")
    );
    let other_target = terminology
        .translate(&TranslateRequest {
            target_system: Some("http://snomed.info/sct".into()),
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap();
    assert!(!other_target.result && other_target.matches.is_empty());
    let other_system = terminology
        .translate(&TranslateRequest {
            url: Some(LAB_MAP.into()),
            ..TranslateRequest::code("http://example.org/other-system", "GLU")
        })
        .unwrap();
    assert!(!other_system.result);
    // A codeableConcept: each coding is translated.
    let both = terminology
        .translate(&TranslateRequest {
            codings: vec![Coding::new(LOCAL, "NOT-MAPPED"), Coding::new(LOCAL, "HR")],
            ..TranslateRequest::default()
        })
        .unwrap();
    assert_eq!(
        matches(&both),
        [("inexact", LOINC.to_owned(), "8867-4".to_owned())]
    );
}

fn unmapped_map(url: &str, unmapped: serde_json::Value) -> ConceptMap {
    ConceptMap::from_json(&json!({
        "resourceType": "ConceptMap",
        "url": url,
        "group": [{
            "source": "http://example.org/fhir/CodeSystem/a",
            "target": "http://example.org/fhir/CodeSystem/b",
            "element": [{"code": "x", "target": [{"code": "X", "equivalence": "equal"}]}],
            "unmapped": unmapped
        }]
    }))
    .expect("the map reads")
}

#[test]
fn unmapped_codes_follow_the_groups_mode() {
    let terminology = Terminology::in_memory();
    let source = "http://example.org/fhir/CodeSystem/a";
    let target = "http://example.org/fhir/CodeSystem/b".to_owned();
    terminology.add_concept_map(unmapped_map(
        "http://x/provided",
        json!({"mode": "provided"}),
    ));
    terminology.add_concept_map(unmapped_map(
        "http://x/fixed",
        json!({"mode": "fixed", "code": "OTHER", "display": "Other"}),
    ));
    terminology.add_concept_map(unmapped_map(
        "http://x/other-map",
        json!({"mode": "other-map", "url": "http://x/second"}),
    ));
    terminology.add_concept_map(
        ConceptMap::from_json(&json!({
            "resourceType": "ConceptMap",
            "url": "http://x/second",
            "group": [{
                "source": source,
                "target": target,
                "element": [{"code": "y", "target": [{"code": "Y2", "equivalence": "wider"}]}]
            }]
        }))
        .unwrap(),
    );
    let translate = |url: &str, code: &str| {
        terminology
            .translate(&TranslateRequest {
                url: Some(url.into()),
                ..TranslateRequest::code(source, code)
            })
            .unwrap()
    };
    // A mapped code is not affected by the mode.
    assert_eq!(
        matches(&translate("http://x/provided", "x")),
        [("equal", target.clone(), "X".to_owned())]
    );
    assert_eq!(
        matches(&translate("http://x/provided", "y")),
        [("equal", target.clone(), "y".to_owned())]
    );
    let fixed = translate("http://x/fixed", "y");
    assert_eq!(
        matches(&fixed),
        [("inexact", target.clone(), "OTHER".to_owned())]
    );
    assert_eq!(
        fixed.matches[0]
            .concept
            .as_ref()
            .unwrap()
            .display
            .as_deref(),
        Some("Other")
    );
    let followed = translate("http://x/other-map", "y");
    assert!(followed.result);
    assert_eq!(
        matches(&followed),
        [("wider", target.clone(), "Y2".to_owned())]
    );
    assert_eq!(followed.matches[0].source, "http://x/second");
    let nowhere = translate("http://x/other-map", "z");
    assert!(!nowhere.result && nowhere.matches.is_empty());
    // Reverse translation does not apply unmapped.
    let back = terminology
        .translate(&TranslateRequest {
            url: Some("http://x/provided".into()),
            reverse: true,
            ..TranslateRequest::code(target.clone(), "q")
        })
        .unwrap();
    assert!(back.matches.is_empty());
}

#[test]
fn other_map_chains_that_loop_or_dangle_are_errors() {
    let terminology = Terminology::in_memory();
    terminology.add_concept_map(unmapped_map(
        "http://x/ping",
        json!({"mode": "other-map", "url": "http://x/pong"}),
    ));
    terminology.add_concept_map(unmapped_map(
        "http://x/pong",
        json!({"mode": "other-map", "url": "http://x/ping"}),
    ));
    terminology.add_concept_map(unmapped_map(
        "http://x/dangling",
        json!({"mode": "other-map", "url": "http://x/missing"}),
    ));
    let request = |url: &str| TranslateRequest {
        url: Some(url.into()),
        ..TranslateRequest::code("http://example.org/fhir/CodeSystem/a", "y")
    };
    let error = terminology
        .translate(&request("http://x/ping"))
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConceptMap { .. }), "{error}");
    assert!(
        error.to_string().contains("chain more than 8 maps deep"),
        "{error}"
    );
    let error = terminology
        .translate(&request("http://x/dangling"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid concept map 'http://x/dangling': unmapped other-map 'http://x/missing' is not \
         a known concept map"
    );
    assert!(!error.is_not_found());
}

#[test]
fn unknown_maps_and_empty_requests_are_errors() {
    let terminology = with_lab_map();
    let error = terminology
        .translate(&TranslateRequest {
            url: Some("http://example.org/fhir/ConceptMap/none".into()),
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(
        error.to_string(),
        "unknown concept map 'http://example.org/fhir/ConceptMap/none'"
    );
    let wrong_version = terminology
        .translate(&TranslateRequest {
            url: Some(LAB_MAP.into()),
            concept_map_version: Some("2".into()),
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap_err();
    assert_eq!(
        wrong_version.to_string(),
        format!("unknown concept map '{LAB_MAP}|2'")
    );
    let right_version = terminology
        .translate(&TranslateRequest {
            url: Some(format!("{LAB_MAP}|1")),
            ..TranslateRequest::code(LOCAL, "GLU")
        })
        .unwrap();
    assert!(right_version.result);
    let error = terminology
        .translate(&TranslateRequest::default())
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidTranslateRequest { .. }),
        "{error}"
    );
    // An inline map is used as given, without being added.
    let inline = Terminology::in_memory()
        .translate(&TranslateRequest {
            concept_map: Some(lab_map()),
            ..TranslateRequest::code(LOCAL, "A1C")
        })
        .unwrap();
    assert_eq!(
        matches(&inline),
        [("subsumes", LOINC.to_owned(), "4548-4".to_owned())]
    );
}

#[test]
fn maps_are_replaced_by_version_and_removed() {
    let terminology = with_lab_map();
    let mut second = lab_map();
    second.version = Some("2".into());
    second.groups[0].elements.truncate(1);
    terminology.add_concept_map(second);
    let mut first_again = lab_map();
    first_again.title = Some("Replaced".into());
    terminology.add_concept_map(first_again);
    assert_eq!(
        terminology
            .concept_map(&format!("{LAB_MAP}|1"))
            .unwrap()
            .title
            .as_deref(),
        Some("Replaced")
    );
    // Without a version: the one added last.
    assert_eq!(
        terminology.concept_map(LAB_MAP).unwrap().version.as_deref(),
        Some("1")
    );
    assert!(terminology.concept_map_urls().contains(&LAB_MAP.to_owned()));
    assert!(terminology.remove_concept_map(LAB_MAP, Some("1")));
    assert!(!terminology.remove_concept_map(LAB_MAP, Some("1")));
    assert_eq!(
        terminology.concept_map(LAB_MAP).unwrap().version.as_deref(),
        Some("2")
    );
    assert!(terminology.remove_concept_map(LAB_MAP, Some("2")));
    assert!(terminology.concept_map(LAB_MAP).unwrap_err().is_not_found());
    assert!(!terminology.concept_map_urls().contains(&LAB_MAP.to_owned()));
}

#[test]
fn the_built_in_r4_maps_translate() {
    let terminology = Terminology::in_memory();
    assert_eq!(terminology.concept_map_urls().len(), 19);
    let gender = "http://hl7.org/fhir/administrative-gender";
    // No url: both the v2 and the v3 gender maps apply, in URL order.
    let other = terminology
        .translate(&TranslateRequest::code(gender, "other"))
        .unwrap();
    assert_eq!(
        matches(&other),
        [
            (
                "wider",
                "http://terminology.hl7.org/CodeSystem/v2-0001".to_owned(),
                "A".to_owned()
            ),
            (
                "wider",
                "http://terminology.hl7.org/CodeSystem/v2-0001".to_owned(),
                "O".to_owned()
            ),
            (
                "wider",
                "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender".to_owned(),
                "UN".to_owned()
            ),
        ]
    );
    let v3_only = terminology
        .translate(&TranslateRequest {
            target_system: Some(
                "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender".into(),
            ),
            ..TranslateRequest::code(gender, "female")
        })
        .unwrap();
    assert_eq!(matches(&v3_only).len(), 1);
    assert_eq!(v3_only.matches[0].equivalence, ConceptMapEquivalence::Equal);
    assert_eq!(
        v3_only.matches[0].source,
        "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v3"
    );
    // ConceptMap/101 maps unmapped address uses to the fixed code "temp".
    let billing = terminology
        .translate(&TranslateRequest {
            url: Some("http://hl7.org/fhir/ConceptMap/101".into()),
            ..TranslateRequest::code("http://hl7.org/fhir/address-use", "billing")
        })
        .unwrap();
    assert_eq!(
        matches(&billing),
        [(
            "inexact",
            "http://terminology.hl7.org/CodeSystem/v3-AddressUse".to_owned(),
            "temp".to_owned()
        )]
    );
    // An added map of the same URL takes precedence over the built-in one.
    let mut replacement = unmapped_map(
        "http://hl7.org/fhir/ConceptMap/101",
        json!({"mode": "provided"}),
    );
    replacement.groups[0].source = Some("http://hl7.org/fhir/address-use".into());
    terminology.add_concept_map(replacement);
    let provided = terminology
        .translate(&TranslateRequest {
            url: Some("http://hl7.org/fhir/ConceptMap/101".into()),
            ..TranslateRequest::code("http://hl7.org/fhir/address-use", "billing")
        })
        .unwrap();
    assert_eq!(
        provided.matches[0].equivalence,
        ConceptMapEquivalence::Equal
    );
}

#[test]
fn added_value_sets_can_be_removed() {
    let terminology = Terminology::in_memory();
    let url = "http://example.org/fhir/ValueSet/removable";
    let mut value_set = ValueSet::new(
        url,
        Compose {
            include: vec![ConceptSet::system(
                "http://hl7.org/fhir/administrative-gender",
            )],
            ..Compose::default()
        },
    );
    value_set.version = Some("1".into());
    terminology.add_value_set(value_set);
    assert_eq!(
        terminology
            .expand(url, &medulla_terminology::ExpandOptions::default())
            .unwrap()
            .total,
        4
    );
    assert!(!terminology.remove_value_set(url, None));
    assert!(terminology.remove_value_set(url, Some("1")));
    assert!(terminology.value_set(url).unwrap_err().is_not_found());
    assert!(
        terminology
            .expand(url, &medulla_terminology::ExpandOptions::default())
            .unwrap_err()
            .is_not_found()
    );
}
