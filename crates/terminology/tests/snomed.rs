//! The SNOMED CT RF2 loader on a hand-written Snapshot fixture (`tests/data/snomed`, see its
//! README): active flags, preferred terms, multiple parents, attribute relationships, the
//! terminology file, and the errors for missing and malformed files. ECL member of and
//! refinements over the same fixture are in `tests/ecl.rs`.

use std::path::{Path, PathBuf};

use medulla_terminology::snomed::{SNOMED_CT, SnomedOptions, read_snapshot};
use medulla_terminology::{Error, ExpandOptions, Subsumption, Terminology};

mod fixture_files;

const SNAPSHOT: &str = "snomed/SnomedCT_Fixture_20240101/Snapshot";

fn fixture() -> PathBuf {
    fixture_files::fixture(SNAPSHOT)
}

/// A copy of the fixture in a temporary folder, to break.
fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
    fixture_files::fixture_copy(SNAPSHOT, "Snapshot")
}

const CONCEPT_FILE: &str = "Terminology/sct2_Concept_Snapshot_INT_20240101.txt";
const RELATIONSHIP_FILE: &str = "Terminology/sct2_Relationship_Snapshot_INT_20240101.txt";
const DESCRIPTION_FILE: &str = "Terminology/sct2_Description_Snapshot-en_INT_20240101.txt";
const SIMPLE_REFSET_FILE: &str = "Refset/Content/der2_Refset_SimpleSnapshot_INT_20240101.txt";

fn loaded() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology
        .load_snomed(&fixture(), &SnomedOptions::default())
        .expect("the fixture loads");
    terminology
}

#[test]
fn the_fixture_loads_with_its_counts_and_version() {
    let terminology = Terminology::in_memory();
    let load = terminology
        .load_snomed(&fixture(), &SnomedOptions::default())
        .unwrap();
    let stats = &load.stats;
    assert_eq!(stats.concepts, 57);
    assert_eq!(stats.inactive_concepts, 3);
    assert_eq!(stats.descriptions, 144);
    assert_eq!(stats.inactive_descriptions, 1);
    assert_eq!(stats.relationships, 74);
    assert_eq!(stats.inactive_relationships, 6);
    assert_eq!(stats.is_a_relationships, 55);
    assert_eq!(stats.attribute_relationships, 13);
    assert_eq!(stats.language_rows, 288);
    assert_eq!(stats.preferred_terms, 57);
    assert_eq!(stats.text_definitions, 1);
    // Nine rows: one inactive, one naming a description; the inactive concept's row counts.
    assert_eq!(stats.refset_rows, 9);
    assert_eq!(stats.refset_members, 7);
    assert_eq!(stats.refsets, 2);
    assert_eq!(stats.files.len(), 6);
    assert_eq!(
        load.version.as_deref(),
        Some("http://snomed.info/sct/900000000000207008/version/20240101")
    );
    let system = terminology.code_system(SNOMED_CT).unwrap();
    assert_eq!(system.len(), 57);
    assert_eq!(system.hierarchy_size().0, 55);
    assert_eq!(system.relationship_count(), 13);
    assert_eq!(system.refset_size(), (2, 7));
}

#[test]
fn the_preferred_synonym_is_the_display_and_every_active_description_a_designation() {
    let terminology = loaded();
    let diabetes = terminology.lookup(SNOMED_CT, "73211009").unwrap();
    // Not "Sugar diabetes" (its preferred row is inactive) nor "Diabetes" (inactive).
    assert_eq!(diabetes.display.as_deref(), Some("Diabetes mellitus"));
    let values: Vec<&str> = diabetes
        .designations
        .iter()
        .map(|designation| designation.value.as_str())
        .collect();
    assert_eq!(
        values,
        [
            "Diabetes mellitus (disorder)",
            "Diabetes mellitus",
            "DM - Diabetes mellitus",
            "Sugar diabetes"
        ]
    );
    let fsn = &diabetes.designations[0];
    assert_eq!(fsn.language.as_deref(), Some("en"));
    let usage = fsn.usage.as_ref().unwrap();
    assert_eq!(
        (
            usage.system.as_deref(),
            usage.code.as_str(),
            usage.display.as_deref()
        ),
        (
            Some(SNOMED_CT),
            "900000000000003001",
            Some("Fully specified name")
        )
    );
    assert_eq!(
        diabetes.designations[1].usage.as_ref().unwrap().code,
        "900000000000013009"
    );
    assert_eq!(
        diabetes.definition.as_deref(),
        Some(
            "A metabolic disorder of raised blood glucose caused by a lack of insulin or resistance to it."
        )
    );
    let module = diabetes
        .properties
        .iter()
        .find(|property| property.code == "moduleId")
        .unwrap();
    assert_eq!(module.value.to_string(), "900000000000207008");
}

#[test]
fn the_language_refset_chosen_decides_the_preferred_term() {
    let us = loaded();
    assert_eq!(
        us.lookup(SNOMED_CT, "387517004")
            .unwrap()
            .display
            .as_deref(),
        Some("Acetaminophen")
    );
    let gb = Terminology::in_memory();
    gb.load_snomed(
        &fixture(),
        &SnomedOptions {
            language_refset: 900_000_000_000_508_004,
            ..SnomedOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        gb.lookup(SNOMED_CT, "387517004")
            .unwrap()
            .display
            .as_deref(),
        Some("Paracetamol")
    );
    assert_eq!(
        gb.lookup(SNOMED_CT, "80146002").unwrap().display.as_deref(),
        Some("Appendicectomy")
    );
}

#[test]
fn inactive_concepts_are_kept_marked_and_outside_the_hierarchy() {
    let terminology = loaded();
    let obsolete = terminology.lookup(SNOMED_CT, "190330002").unwrap();
    assert!(obsolete.inactive);
    assert!(obsolete.parents.is_empty(), "its is-a rows are inactive");
    assert_eq!(
        obsolete.display.as_deref(),
        Some("Hyperosmolar non-ketotic state in type 2 diabetes mellitus")
    );
    let valid = terminology
        .validate_code_in_system(SNOMED_CT, "190330002", None)
        .unwrap();
    assert!(valid.result && valid.inactive);
    assert_eq!(
        terminology
            .subsumes(SNOMED_CT, "44054006", "190330002")
            .unwrap(),
        Subsumption::NotSubsumed
    );
    // A retired is-a of an active concept is not followed either.
    assert_eq!(
        terminology
            .subsumes(SNOMED_CT, "38341003", "22298006")
            .unwrap(),
        Subsumption::NotSubsumed
    );
    let all = terminology
        .expand(&format!("{SNOMED_CT}?fhir_vs"), &ExpandOptions::default())
        .unwrap();
    assert_eq!(all.total, 57);
    let active = terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs"),
            &ExpandOptions {
                active_only: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(active.total, 54);
}

#[test]
fn multiple_parents_give_two_paths_to_the_root() {
    let terminology = loaded();
    let diabetes = terminology.lookup(SNOMED_CT, "73211009").unwrap();
    let parents: Vec<&str> = diabetes.parents.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(parents, ["362969004", "126877002"]);
    let cases = [
        // Gestational diabetes is below diabetes mellitus and below disorder of pregnancy.
        ("73211009", "11687002", Subsumption::Subsumes),
        ("173300003", "11687002", Subsumption::Subsumes),
        ("64572001", "11687002", Subsumption::Subsumes),
        ("138875005", "11687002", Subsumption::Subsumes),
        ("11687002", "362969004", Subsumption::SubsumedBy),
        ("46635009", "44054006", Subsumption::NotSubsumed),
        ("44054006", "44054006", Subsumption::Equivalent),
        // Finding site is an attribute, not is-a.
        ("15776009", "73211009", Subsumption::NotSubsumed),
    ];
    for (a, b, expected) in cases {
        assert_eq!(
            terminology.subsumes(SNOMED_CT, a, b).unwrap(),
            expected,
            "{a} {b}"
        );
    }
}

#[test]
fn descendants_expand_with_a_text_filter() {
    let terminology = loaded();
    let below_diabetes = format!("{SNOMED_CT}?fhir_vs=isa/73211009");
    let expansion = terminology
        .expand(
            &below_diabetes,
            &ExpandOptions {
                filter: Some("type 2".to_owned()),
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    let codes: Vec<&str> = expansion.contains.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["313436004", "44054006"], "starts-with-filter first");
    let insulin = terminology
        .expand(
            &below_diabetes,
            &ExpandOptions {
                filter: Some("insulin dep".to_owned()),
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    let codes: Vec<&str> = insulin.contains.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        ["46635009", "44054006"],
        "synonyms match; equal ranks keep code order"
    );
    let valid = terminology
        .validate_code(
            &below_diabetes,
            SNOMED_CT,
            "11687002",
            Some("GDM - Gestational diabetes mellitus"),
        )
        .unwrap();
    assert!(valid.result, "{valid:?}");
    let outside = terminology
        .validate_code(&below_diabetes, SNOMED_CT, "22298006", None)
        .unwrap();
    assert!(!outside.result);
}

#[test]
fn a_loaded_release_is_kept_in_the_terminology_file() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("terminology");
    let before = {
        let terminology = Terminology::open(&dir).unwrap();
        let load = terminology
            .load_snomed(&fixture(), &SnomedOptions::default())
            .unwrap();
        assert!(load.save_time.is_some());
        // Loading the same version again replaces it.
        terminology
            .load_snomed(&fixture(), &SnomedOptions::default())
            .unwrap();
        terminology.lookup(SNOMED_CT, "73211009").unwrap()
    };
    let reopened = Terminology::open(&dir).unwrap();
    let stored = reopened.loaded_code_systems();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].url, SNOMED_CT);
    assert_eq!(
        stored[0].version.as_deref(),
        Some("http://snomed.info/sct/900000000000207008/version/20240101")
    );
    assert_eq!(stored[0].properties.len(), 2);
    let after = reopened.lookup(SNOMED_CT, "73211009").unwrap();
    assert_eq!(after, before);
    assert_eq!(
        reopened
            .subsumes(SNOMED_CT, "73211009", "11687002")
            .unwrap(),
        Subsumption::Subsumes
    );
    let obsolete = reopened.lookup(SNOMED_CT, "154101006").unwrap();
    assert!(obsolete.inactive);
    let versioned = reopened
        .lookup(
            "http://snomed.info/sct|http://snomed.info/sct/900000000000207008/version/20240101",
            "22298006",
        )
        .unwrap();
    assert_eq!(versioned.display.as_deref(), Some("Myocardial infarction"));
}

#[test]
fn a_missing_file_is_named() {
    let (_temp, dir) = fixture_copy();
    std::fs::remove_file(dir.join(RELATIONSHIP_FILE)).unwrap();
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert!(matches!(
        error,
        Error::Rf2MissingFile {
            kind: "relationship",
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        format!(
            "no relationship file (sct2_Relationship_Snapshot*.txt) under {}",
            dir.display()
        )
    );
    let error =
        read_snapshot(Path::new("/nonexistent/snomed"), &SnomedOptions::default()).unwrap_err();
    assert!(matches!(error, Error::Io { action: "list", .. }), "{error}");
}

#[test]
fn two_concept_files_are_ambiguous() {
    let (_temp, dir) = fixture_copy();
    std::fs::copy(
        dir.join(CONCEPT_FILE),
        dir.join("Terminology/sct2_Concept_Snapshot_INT_20250101.txt"),
    )
    .unwrap();
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Rf2AmbiguousFile {
                kind: "concept",
                ..
            }
        ),
        "{error}"
    );
}

fn append_line(path: &Path, line: &str) {
    let mut text = std::fs::read_to_string(path).expect("read fixture file");
    text.push_str(line);
    text.push_str("\r\n");
    std::fs::write(path, text).expect("write fixture file");
}

#[test]
fn a_malformed_line_is_named_by_file_and_line() {
    let (_temp, dir) = fixture_copy();
    let concepts = dir.join(CONCEPT_FILE);
    // Header plus 57 rows: the new row is line 59.
    append_line(&concepts, "123456789\t20240101\t1\t900000000000207008");
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}:59: has 4 columns, expected 5", concepts.display())
    );
    assert!(matches!(error, Error::Rf2Line { line: 59, .. }));

    let (_temp, dir) = fixture_copy();
    let concepts = dir.join(CONCEPT_FILE);
    append_line(
        &concepts,
        "12x456789\t20240101\t1\t900000000000207008\t900000000000074008",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}:59: id '12x456789' is not an SCTID", concepts.display())
    );

    let (_temp, dir) = fixture_copy();
    let concepts = dir.join(CONCEPT_FILE);
    append_line(
        &concepts,
        "123456789\t20240101\tyes\t900000000000207008\t900000000000074008",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}:59: active is 'yes', not 0 or 1", concepts.display())
    );

    let (_temp, dir) = fixture_copy();
    let concepts = dir.join(CONCEPT_FILE);
    append_line(
        &concepts,
        "73211009\t20240101\t1\t900000000000207008\t900000000000074008",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}:59: concept 73211009 appears twice", concepts.display())
    );
}

#[test]
fn a_relationship_or_description_to_an_unknown_concept_is_an_error() {
    let (_temp, dir) = fixture_copy();
    let relationships = dir.join(RELATIONSHIP_FILE);
    append_line(
        &relationships,
        "999999021\t20240101\t1\t900000000000207008\t73211009\t999999999\t0\t116680003\t900000000000011006\t900000000000451002",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:76: destinationId 999999999 is not in the concept file",
            relationships.display()
        )
    );

    let (_temp, dir) = fixture_copy();
    let descriptions = dir.join(DESCRIPTION_FILE);
    append_line(
        &descriptions,
        "999999011\t20240101\t1\t900000000000207008\t888888888\ten\t900000000000013009\tOrphan\t900000000000448009",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:147: conceptId 888888888 is not in the concept file",
            descriptions.display()
        )
    );
}

#[test]
fn a_release_without_a_simple_refset_file_has_no_members() {
    let (_temp, dir) = fixture_copy();
    std::fs::remove_file(dir.join(SIMPLE_REFSET_FILE)).unwrap();
    let (system, stats) = read_snapshot(&dir, &SnomedOptions::default()).unwrap();
    assert_eq!(
        (stats.refset_rows, stats.refset_members, stats.refsets),
        (0, 0, 0)
    );
    assert_eq!(system.refset_size(), (0, 0));
    assert_eq!(stats.files.len(), 5);
}

#[test]
fn a_bad_refset_or_attribute_row_is_named_by_file_and_line() {
    let (_temp, dir) = fixture_copy();
    let refset = dir.join(SIMPLE_REFSET_FILE);
    append_line(
        &refset,
        "5e0c0a3c-0d7b-4c47-9d55-0d1f1f0b3f3a\t20240101\t1\t900000000000207008\t999999999\t73211009",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:11: refsetId 999999999 is not in the concept file",
            refset.display()
        )
    );

    let (_temp, dir) = fixture_copy();
    let relationships = dir.join(RELATIONSHIP_FILE);
    append_line(
        &relationships,
        "999999021\t20240101\t1\t900000000000207008\t73211009\t15776009\tone\t363698007\t900000000000011006\t900000000000451002",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:76: relationshipGroup 'one' is not a number from 0 to 4294967295",
            relationships.display()
        )
    );

    let (_temp, dir) = fixture_copy();
    let relationships = dir.join(RELATIONSHIP_FILE);
    append_line(
        &relationships,
        "999999021\t20240101\t1\t900000000000207008\t73211009\t15776009\t1\t999999999\t900000000000011006\t900000000000451002",
    );
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:76: typeId 999999999 is not in the concept file",
            relationships.display()
        )
    );
}

#[test]
fn a_wrong_header_is_refused() {
    let (_temp, dir) = fixture_copy();
    let relationships = dir.join(RELATIONSHIP_FILE);
    let text = std::fs::read_to_string(&relationships).unwrap();
    // A stated relationship file's header is the same; an older layout without modifierId
    // is not.
    let broken = text.replacen("\tmodifierId", "", 1);
    std::fs::write(&relationships, broken).unwrap();
    let error = read_snapshot(&dir, &SnomedOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: header is 'id effectiveTime active moduleId sourceId destinationId \
             relationshipGroup typeId characteristicTypeId', expected 'id effectiveTime active \
             moduleId sourceId destinationId relationshipGroup typeId characteristicTypeId \
             modifierId'",
            relationships.display()
        )
    );
}

#[test]
fn a_failed_load_leaves_the_stored_release_as_it_was() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("terminology");
    let terminology = Terminology::open(&dir).unwrap();
    terminology
        .load_snomed(&fixture(), &SnomedOptions::default())
        .unwrap();
    let (_copy, broken) = fixture_copy();
    append_line(&broken.join(CONCEPT_FILE), "not a row");
    assert!(
        terminology
            .load_snomed(&broken, &SnomedOptions::default())
            .is_err()
    );
    drop(terminology);
    let reopened = Terminology::open(&dir).unwrap();
    assert_eq!(reopened.code_system(SNOMED_CT).unwrap().len(), 57);
}

fn ecl_codes(terminology: &Terminology, ecl: &str) -> Vec<String> {
    let expansion = terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs=ecl/{ecl}"),
            &ExpandOptions::default(),
        )
        .unwrap_or_else(|error| panic!("{ecl}: {error}"));
    let mut codes: Vec<String> = expansion.contains.into_iter().map(|c| c.code).collect();
    codes.sort();
    codes
}

#[test]
fn ecl_selects_by_hierarchy_and_combines() {
    let terminology = loaded();
    let cases: &[(&str, &[&str])] = &[
        (
            "<< 73211009 |Diabetes mellitus|",
            &[
                "11687002",
                "127013003",
                "199223000",
                "313436004",
                "44054006",
                "46635009",
                "73211009",
            ],
        ),
        ("< 44054006", &["313436004"]),
        (
            "<! 73211009",
            &["127013003", "199223000", "44054006", "46635009"],
        ),
        ("<<! 44054006", &["313436004", "44054006"]),
        (">! 73211009", &["126877002", "362969004"]),
        (">>! 199223000", &["173300003", "199223000", "73211009"]),
        (
            "> 73211009",
            &[
                "126877002",
                "138875005",
                "362969004",
                "404684003",
                "64572001",
            ],
        ),
        (
            "<< 73211009 MINUS << 44054006",
            &["11687002", "127013003", "199223000", "46635009", "73211009"],
        ),
        ("<< 362969004 AND << 173300003", &["11687002", "199223000"]),
        (
            "22298006 OR 195967001 OR 59621000",
            &["195967001", "22298006", "59621000"],
        ),
        // "," is AND: nothing is both below type 2 and below diabetes in pregnancy.
        ("< 44054006, << 199223000", &[]),
        (
            "(<< 73211009 OR << 38341003) MINUS (< 44054006 OR << 199223000)",
            &[
                "127013003",
                "38341003",
                "44054006",
                "46635009",
                "59621000",
                "73211009",
            ],
        ),
        // Percent-encoded, as in a URL: "<< 44054006".
        ("%3C%3C%2044054006", &["313436004", "44054006"]),
        // Inactive concepts are never selected, named or not.
        ("<< 190330002", &[]),
        ("190330002", &[]),
        ("190330002 OR 22298006", &["22298006"]),
    ];
    for (ecl, expected) in cases {
        assert_eq!(ecl_codes(&terminology, ecl), *expected, "{ecl}");
    }
    assert_eq!(ecl_codes(&terminology, "*").len(), 54);
}

#[test]
fn ecl_in_a_compose_constraint_filter_and_its_errors() {
    let terminology = loaded();
    let value_set = medulla_terminology::ValueSet::from_json(&serde_json::json!({
        "url": "http://example.org/fhir/ValueSet/diabetes-not-type-2",
        "compose": {"include": [{
            "system": SNOMED_CT,
            "filter": [{"property": "constraint", "op": "=", "value": "<< 73211009 MINUS << 44054006"}]
        }]}
    }))
    .expect("a ValueSet");
    terminology.add_value_set(value_set);
    let url = "http://example.org/fhir/ValueSet/diabetes-not-type-2";
    let type_1 = terminology
        .validate_code(url, SNOMED_CT, "46635009", None)
        .expect("validates");
    assert!(type_1.result);
    let type_2 = terminology
        .validate_code(url, SNOMED_CT, "313436004", None)
        .expect("validates");
    assert!(!type_2.result);

    let error = terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs=ecl/<< 73211009 AND"),
            &ExpandOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidEcl { position: 16, .. }),
        "{error}"
    );
    let error = terminology
        .expand(
            &format!("{SNOMED_CT}?fhir_vs=ecl/< 404684003 : 363698007 = #5"),
            &ExpandOptions::default(),
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "ECL '< 404684003 : 363698007 = #5' cannot be evaluated: concrete values ('#5', \
         '\"text\"') are not supported"
    );
    assert!(matches!(error, Error::EclNotSupported { .. }), "{error}");
}
