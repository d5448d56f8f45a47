//! ECL member of (`^`) and refinements over the hand-written RF2 fixture
//! (`tests/data/snomed`, see its README for the attribute relationships and reference sets it
//! holds): each construct's result set exactly, through the implicit value sets and compose
//! filters, `$lookup`'s attribute properties, and the same answers after the terminology file
//! is reopened.

use std::path::{Path, PathBuf};

use medulla_terminology::snomed::{SNOMED_CT, SnomedOptions};
use medulla_terminology::{ConceptProperty, Error, ExpandOptions, PropertyValue, Terminology};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/snomed/SnomedCT_Fixture_20240101/Snapshot")
}

fn loaded() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology
        .load_snomed(&fixture(), &SnomedOptions::default())
        .expect("the fixture loads");
    terminology
}

/// The sorted codes of an implicit value set of SNOMED CT (`?fhir_vs…`).
fn implicit_codes(terminology: &Terminology, implicit: &str) -> Vec<String> {
    let expansion = terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs{implicit}"),
            &ExpandOptions::default(),
        )
        .unwrap_or_else(|error| panic!("{implicit}: {error}"));
    let mut codes: Vec<String> = expansion.contains.into_iter().map(|c| c.code).collect();
    codes.sort();
    codes
}

fn ecl_codes(terminology: &Terminology, ecl: &str) -> Vec<String> {
    implicit_codes(terminology, &format!("=ecl/{ecl}"))
}

fn ecl_error(terminology: &Terminology, ecl: &str) -> Error {
    terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs=ecl/{ecl}"),
            &ExpandOptions::default(),
        )
        .expect_err(ecl)
}

fn check(terminology: &Terminology, cases: &[(&str, &[&str])]) {
    for (ecl, expected) in cases {
        assert_eq!(ecl_codes(terminology, ecl), *expected, "{ecl}");
    }
}

/// Member of: the two simple reference sets of the fixture. 723264001 has lung and kidney (and
/// an inactive row for heart); 450970008 has diabetes mellitus, type 2 diabetes, hypertension
/// and asthma, an active row for the inactive concept 154101006, and a row naming a
/// description, which is not a concept member.
const MEMBER_OF_CASES: &[(&str, &[&str])] = &[
    ("^ 723264001", &["39607008", "64033007"]),
    (
        "^ 450970008 |General Practice / Family Practice reference set|",
        &["195967001", "38341003", "44054006", "73211009"],
    ),
    (
        "^ *",
        &[
            "195967001",
            "38341003",
            "39607008",
            "44054006",
            "64033007",
            "73211009",
        ],
    ),
    (
        "^ (< 446609009 |Simple type reference set|)",
        &[
            "195967001",
            "38341003",
            "39607008",
            "44054006",
            "64033007",
            "73211009",
        ],
    ),
    // Members and their descendants.
    (
        "<< ^ 450970008",
        &[
            "11687002",
            "127013003",
            "195967001",
            "199223000",
            "313436004",
            "38341003",
            "44054006",
            "46635009",
            "59621000",
            "73211009",
        ],
    ),
    ("> ^ 723264001", &["123037004", "138875005"]),
    ("^ 450970008 AND < 73211009", &["44054006"]),
    (
        "^ 450970008 MINUS ^ 723264001",
        &["195967001", "38341003", "44054006", "73211009"],
    ),
    // Not a reference set, and not a concept: no members.
    ("^ 22298006", &[]),
    ("^ 999999999", &[]),
];

#[test]
fn member_of_selects_active_members() {
    check(&loaded(), MEMBER_OF_CASES);
}

#[test]
fn refset_implicit_value_sets() {
    let terminology = loaded();
    assert_eq!(
        implicit_codes(&terminology, "=refset/723264001"),
        ["39607008", "64033007"]
    );
    // Every reference set: the concepts below 900000000000455006 |Reference set|.
    assert_eq!(
        implicit_codes(&terminology, "=refset"),
        [
            "446609009",
            "450970008",
            "723264001",
            "900000000000508004",
            "900000000000509007"
        ]
    );
    let member = terminology
        .validate_code(
            &format!("{SNOMED_CT}?fhir_vs=refset/450970008"),
            SNOMED_CT,
            "38341003",
            None,
        )
        .unwrap();
    assert!(member.result, "{member:?}");
    let inactive_member = terminology
        .validate_code(
            &format!("{SNOMED_CT}?fhir_vs=refset/450970008"),
            SNOMED_CT,
            "154101006",
            None,
        )
        .unwrap();
    assert!(!inactive_member.result, "{inactive_member:?}");
    let error = terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs=refset/lateral"),
            &ExpandOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidEcl { position: 3, .. }),
        "{error}"
    );
}

/// Ungrouped attributes. Finding sites (363698007): diabetes mellitus, type 1 and type 2,
/// diabetic kidney disorder (pancreas in group 1 and kidney in group 2) and gestational diabetes
/// (ungrouped) on the pancreas; myocardial infarction and ischemic heart disease on the heart;
/// asthma on the lung. Associated morphology (116676008): infarct for myocardial infarction (in
/// its finding site's group) and ischemic heart disease (in another group), inflammation for
/// asthma, and an ungrouped morphologically abnormal structure for gestational diabetes.
const ATTRIBUTE_CASES: &[(&str, &[&str])] = &[
    (
        "< 404684003 |Clinical finding| : 363698007 |Finding site| = << 15776009 |Pancreas|",
        &["11687002", "127013003", "44054006", "46635009", "73211009"],
    ),
    (
        "< 64572001 : 116676008 = << 49755003",
        &["11687002", "195967001", "22298006", "414545008"],
    ),
    (
        "< 64572001 : 116676008 = 55641003",
        &["22298006", "414545008"],
    ),
    // The attribute name with a hierarchy operator: any attribute below 246061005 |Attribute|.
    (
        "< 64572001 : << 246061005 = 55641003",
        &["22298006", "414545008"],
    ),
    ("< 64572001 : * = 64033007", &["127013003"]),
    // A nested value.
    (
        "< 64572001 : 363698007 = (<< 123037004 MINUS << 15776009)",
        &["127013003", "195967001", "22298006", "414545008"],
    ),
    // "!=": a finding site that is not the pancreas.
    (
        "< 64572001 : 363698007 != << 15776009",
        &["127013003", "195967001", "22298006", "414545008"],
    ),
    // Conjunction and disjunction of attributes, in any groups.
    (
        "< 64572001 : 363698007 = << 80891009, 116676008 = << 55641003",
        &["22298006", "414545008"],
    ),
    (
        "< 64572001 : 363698007 = 15776009 AND 116676008 = *",
        &["11687002"],
    ),
    (
        "< 64572001 : 116676008 = 23583003 OR 363698007 = 64033007",
        &["127013003", "195967001"],
    ),
    (
        "< 64572001 : (116676008 = 23583003 OR 363698007 = 64033007) AND 363698007 = 15776009",
        &["127013003"],
    ),
    // The focus may be anything: the wildcard, a member of, a compound.
    (
        "* : 363698007 = 15776009",
        &["11687002", "127013003", "44054006", "46635009", "73211009"],
    ),
    (
        "^ 450970008 : 363698007 = *",
        &["195967001", "44054006", "73211009"],
    ),
    (
        "(<< 73211009 OR << 414545008) : 363698007 = << 80891009",
        &["22298006", "414545008"],
    ),
    // Values that select nothing (an inactive concept), and a focus without attributes.
    ("< 64572001 : 363698007 = << 190330002", &[]),
    ("< 123037004 : 363698007 = *", &[]),
];

#[test]
fn attribute_refinements_match_any_relationship_in_any_group() {
    check(&loaded(), ATTRIBUTE_CASES);
}

const CARDINALITY_CASES: &[(&str, &[&str])] = &[
    (
        "< 64572001 : [1..1] 363698007 = *",
        &[
            "11687002",
            "195967001",
            "22298006",
            "414545008",
            "44054006",
            "46635009",
            "73211009",
        ],
    ),
    ("< 64572001 : [2..*] 363698007 = *", &["127013003"]),
    (
        "< 64572001 : [2..2] 363698007 = << 123037004",
        &["127013003"],
    ),
    // No finding site at all.
    (
        "< 64572001 : [0..0] 363698007 = *",
        &[
            "126877002",
            "173300003",
            "199223000",
            "313436004",
            "362969004",
            "38341003",
            "49601007",
            "50043002",
            "59621000",
        ],
    ),
    // No finding site on the pancreas (others allowed).
    (
        "< 73211009 : [0..0] 363698007 = << 15776009",
        &["199223000", "313436004"],
    ),
    // At most one: everything but the concept with two.
    (
        "< 73211009 : [0..1] 363698007 = *",
        &["11687002", "199223000", "313436004", "44054006", "46635009"],
    ),
    (
        "< 73211009 : [0..*] 363698007 = 64033007",
        &[
            "11687002",
            "127013003",
            "199223000",
            "313436004",
            "44054006",
            "46635009",
        ],
    ),
];

#[test]
fn cardinality_counts_matching_relationships() {
    check(&loaded(), CARDINALITY_CASES);
}

const GROUP_CASES: &[(&str, &[&str])] = &[
    // Myocardial infarction has both in group 1; ischemic heart disease has them in groups 1
    // and 2, so it does not match.
    (
        "< 64572001 : { 363698007 = << 80891009, 116676008 = << 55641003 }",
        &["22298006"],
    ),
    (
        "< 64572001 : { 363698007 = << 80891009 } AND { 116676008 = << 55641003 }",
        &["22298006", "414545008"],
    ),
    // Gestational diabetes has both, ungrouped: each ungrouped relationship is a group of its
    // own.
    ("< 64572001 : { 363698007 = 15776009, 116676008 = * }", &[]),
    (
        "< 64572001 : { 363698007 = 15776009 }",
        &["11687002", "127013003", "44054006", "46635009", "73211009"],
    ),
    // Group cardinality: how many groups match.
    ("< 64572001 : [2..*] { 363698007 = * }", &["127013003"]),
    (
        "< 64572001 : [1..1] { 363698007 = << 123037004 }",
        &[
            "11687002",
            "195967001",
            "22298006",
            "414545008",
            "44054006",
            "46635009",
            "73211009",
        ],
    ),
    // Groups with no morphology at all; and with a finding site but no morphology.
    (
        "< 73211009 : [0..0] { 116676008 = * }",
        &[
            "127013003",
            "199223000",
            "313436004",
            "44054006",
            "46635009",
        ],
    ),
    (
        "< 64572001 : { 363698007 = *, [0..0] 116676008 = * }",
        &[
            "11687002",
            "127013003",
            "414545008",
            "44054006",
            "46635009",
            "73211009",
        ],
    ),
    // Attribute cardinality within a group.
    ("< 64572001 : { [2..*] 363698007 = * }", &[]),
    (
        "< 64572001 : { 363698007 = 80891009 } OR { 116676008 = 23583003 }",
        &["195967001", "22298006", "414545008"],
    ),
];

#[test]
fn grouped_refinements_need_one_relationship_group() {
    check(&loaded(), GROUP_CASES);
}

const REVERSE_CASES: &[(&str, &[&str])] = &[
    // Body structures that are the finding site of a disease.
    (
        "< 123037004 : R 363698007 = < 64572001",
        &["15776009", "39607008", "64033007", "80891009"],
    ),
    // ... of at least two concepts.
    (
        "< 123037004 : [2..*] R 363698007 = *",
        &["15776009", "80891009"],
    ),
    // ... of none.
    (
        "< 123037004 : [0..0] R 363698007 = *",
        &["23583003", "49755003", "55641003"],
    ),
    ("<< 49755003 : R 116676008 = << 414545008", &["55641003"]),
    // The value a refined expression itself.
    (
        "< 123037004 : R 363698007 = (< 64572001 : 116676008 = 55641003)",
        &["80891009"],
    ),
];

#[test]
fn reverse_attributes_count_relationships_into_the_concept() {
    check(&loaded(), REVERSE_CASES);
}

#[test]
fn refinements_through_compose_filters() {
    let terminology = loaded();
    let value_set = medulla_terminology::ValueSet::from_json(&serde_json::json!({
        "url": "http://example.org/fhir/ValueSet/heart-infarcts",
        "compose": {"include": [{
            "system": SNOMED_CT,
            "filter": [{
                "property": "constraint",
                "op": "=",
                "value": "< 404684003 : { 363698007 = << 80891009, 116676008 = << 55641003 }"
            }]
        }]}
    }))
    .expect("a ValueSet");
    terminology.add_value_set(value_set);
    let url = "http://example.org/fhir/ValueSet/heart-infarcts";
    let infarction = terminology
        .validate_code(url, SNOMED_CT, "22298006", None)
        .unwrap();
    assert!(infarction.result, "{infarction:?}");
    let ischemic = terminology
        .validate_code(url, SNOMED_CT, "414545008", None)
        .unwrap();
    assert!(!ischemic.result, "{ischemic:?}");

    // An attribute as a property filter, as the FHIR SNOMED CT guidance allows.
    let by_property = medulla_terminology::ValueSet::from_json(&serde_json::json!({
        "url": "http://example.org/fhir/ValueSet/on-the-heart",
        "compose": {"include": [{
            "system": SNOMED_CT,
            "filter": [{"property": "363698007", "op": "=", "value": "80891009"}]
        }]}
    }))
    .expect("a ValueSet");
    terminology.add_value_set(by_property);
    let expansion = terminology
        .expand(
            "http://example.org/fhir/ValueSet/on-the-heart",
            &ExpandOptions::default(),
        )
        .unwrap();
    let mut codes: Vec<&str> = expansion.contains.iter().map(|c| c.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["22298006", "414545008"]);
}

#[test]
fn lookup_reports_attributes_as_properties() {
    let terminology = loaded();
    let infarction = terminology.lookup(SNOMED_CT, "22298006").unwrap();
    let attributes: Vec<&ConceptProperty> = infarction
        .properties
        .iter()
        .filter(|property| property.code.bytes().all(|byte| byte.is_ascii_digit()))
        .collect();
    // Both of group 1, finding site first (the concept file lists it first); the inactive
    // morphology row is not there.
    assert_eq!(
        attributes,
        [
            &ConceptProperty {
                code: "363698007".to_owned(),
                value: PropertyValue::Code("80891009".to_owned()),
            },
            &ConceptProperty {
                code: "116676008".to_owned(),
                value: PropertyValue::Code("55641003".to_owned()),
            },
        ]
    );
    let system = terminology.code_system(SNOMED_CT).unwrap();
    let kidney_disorder = system.concept("127013003").unwrap();
    let relationships: Vec<(&str, &str, u32)> = kidney_disorder
        .relationships()
        .map(|relationship| {
            (
                relationship.attribute.code(),
                relationship.value.code(),
                relationship.group,
            )
        })
        .collect();
    assert_eq!(
        relationships,
        [("363698007", "15776009", 1), ("363698007", "64033007", 2)]
    );
    // An inactive concept's retired relationship is not kept.
    assert_eq!(
        system.concept("190330002").unwrap().relationships().count(),
        0
    );
}

#[test]
fn unsupported_refinements_are_named() {
    let terminology = loaded();
    let cases = [
        (
            "< 64572001 : 116680003 = 73211009",
            "'116680003 |Is a|' as a refinement attribute is not supported; use the hierarchy \
             operators ('<', '>')",
        ),
        (
            "< 64572001 : { { 363698007 = * } }",
            "an attribute group inside an attribute group is not supported",
        ),
        (
            "< 123037004 : { R 363698007 = * }",
            "the reverse flag 'R' inside an attribute group is not supported",
        ),
        (
            "^ [referencedComponentId] 723264001",
            "member field selection ('^ [fields]') is not supported",
        ),
        (
            "< 64572001 . 363698007",
            "dotted attributes ('expression . attribute') are not supported",
        ),
    ];
    for (ecl, feature) in cases {
        let error = ecl_error(&terminology, ecl);
        assert_eq!(
            error.to_string(),
            format!("ECL '{ecl}' cannot be evaluated: {feature}"),
        );
    }
}

#[test]
fn attributes_and_members_survive_the_terminology_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("terminology");
    let all_cases: Vec<&(&str, &[&str])> = MEMBER_OF_CASES
        .iter()
        .chain(ATTRIBUTE_CASES)
        .chain(CARDINALITY_CASES)
        .chain(GROUP_CASES)
        .chain(REVERSE_CASES)
        .collect();
    let lookup_before = {
        let terminology = Terminology::open(&dir).unwrap();
        terminology
            .load_snomed(&fixture(), &SnomedOptions::default())
            .unwrap();
        terminology.lookup(SNOMED_CT, "414545008").unwrap()
    };
    let reopened = Terminology::open(&dir).unwrap();
    let system = reopened.code_system(SNOMED_CT).unwrap();
    assert_eq!(system.relationship_count(), 13);
    assert_eq!(system.refset_size(), (2, 7));
    assert_eq!(
        reopened.lookup(SNOMED_CT, "414545008").unwrap(),
        lookup_before
    );
    for (ecl, expected) in all_cases {
        assert_eq!(ecl_codes(&reopened, ecl), *expected, "reopened: {ecl}");
    }
}
