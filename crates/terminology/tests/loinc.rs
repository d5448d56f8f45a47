//! The LOINC loader on a synthetic release in LOINC's file formats (`tests/data/loinc`, see its
//! README): terms, parts, the component hierarchy with several parents, statuses, part links,
//! versions, the terminology file, and the errors for missing and malformed files.

mod fixture_files;

use std::path::PathBuf;

use fixture_files::{
    edit_line, expand_codes, filter, fixture, fixture_copy, line_of, replace_line,
};
use medulla_terminology::loinc::{LOINC, LoincOptions, read_release};
use medulla_terminology::{
    Error, ExpandOptions, FilterOperator, PropertyValue, Subsumption, Terminology,
};

const RELEASE: &str = "loinc/Loinc_2.77";
const TABLE: &str = "LoincTable/Loinc.csv";
const HIERARCHY: &str = "AccessoryFiles/ComponentHierarchyBySystem/ComponentHierarchyBySystem.csv";
const LINKS: &str = "AccessoryFiles/PartFile/LoincPartLink_Primary.csv";

/// The synthetic deprecated term (9099999 with its check digit).
const DEPRECATED_TERM: &str = "9099999-6";
const GLUCOSE: &str = "LP14635-4";
const CARBOHYDRATES: &str = "LP40271-9";
const ROOT: &str = "LP432695-7";

fn loaded() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology
        .load_loinc(&fixture(RELEASE), &LoincOptions::default())
        .expect("the fixture loads");
    terminology
}

fn property<'a>(
    details: &'a medulla_terminology::ConceptDetails,
    code: &str,
) -> Vec<&'a PropertyValue> {
    details
        .properties
        .iter()
        .filter(|property| property.code == code)
        .map(|property| &property.value)
        .collect()
}

#[test]
fn the_release_loads_with_its_counts_and_version() {
    let terminology = Terminology::in_memory();
    let load = terminology
        .load_loinc(&fixture(RELEASE), &LoincOptions::default())
        .unwrap();
    let stats = &load.stats;
    assert_eq!(stats.term_rows, 249);
    assert_eq!(stats.deprecated_terms, 7);
    assert_eq!(stats.discouraged_terms, 7);
    assert_eq!(stats.part_rows, 61);
    assert_eq!(stats.deprecated_parts, 2);
    assert_eq!(stats.part_link_rows, 1248);
    assert_eq!(stats.skipped_rows, 1, "the link to a term not in Loinc.csv");
    assert_eq!(stats.hierarchy_rows, 349);
    // The root, three groups and 47 component|system nodes.
    assert_eq!(stats.hierarchy_only_codes, 51);
    assert_eq!(stats.concepts, 249 + 61 + 51);
    assert_eq!(stats.inactive_concepts, 9);
    // 348 rows with a parent, one of them repeated.
    assert_eq!(stats.parent_links, 347);
    assert_eq!(stats.files.len(), 4);
    assert_eq!(load.version.as_deref(), Some("2.77"));
    assert_eq!(load.save_time, None);
    let system = terminology.code_system(LOINC).unwrap();
    assert_eq!(system.version(), Some("2.77"));
    assert_eq!(system.len(), 361);
}

#[test]
fn a_term_has_its_names_properties_and_parents() {
    let terminology = loaded();
    let glucose = terminology.lookup(LOINC, "2345-7").unwrap();
    assert_eq!(
        glucose.display.as_deref(),
        Some("Glucose [Mass/volume] in Serum or Plasma")
    );
    assert_eq!(
        glucose.definition.as_deref(),
        Some("Synthetic definition: glucose measured in serum or plasma.")
    );
    let names: Vec<(&str, &str)> = glucose
        .designations
        .iter()
        .map(|designation| {
            (
                designation
                    .usage
                    .as_ref()
                    .map_or("", |usage| usage.code.as_str()),
                designation.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "LONG_COMMON_NAME",
                "Glucose [Mass/volume] in Serum or Plasma"
            ),
            ("SHORTNAME", "Glucose SerPl-mCnc"),
            ("DisplayName", "Glucose (mass/vol) in Serum or Plasma"),
        ]
    );
    assert_eq!(glucose.designations[0].language.as_deref(), Some("en-US"));
    assert_eq!(
        property(&glucose, "STATUS"),
        [&PropertyValue::String("ACTIVE".into())]
    );
    assert_eq!(
        property(&glucose, "CLASS"),
        [&PropertyValue::String("CHEM".into())]
    );
    assert_eq!(
        property(&glucose, "ORDER_OBS"),
        [&PropertyValue::String("Both".into())]
    );
    let component = property(&glucose, "COMPONENT");
    let [PropertyValue::Coding(component)] = component.as_slice() else {
        panic!("COMPONENT is one Coding: {component:?}");
    };
    assert_eq!(
        (
            component.system.as_deref(),
            component.code.as_str(),
            component.display.as_deref()
        ),
        (Some(LOINC), GLUCOSE, Some("Glucose"))
    );
    // No method: no METHOD_TYP link.
    assert!(property(&glucose, "METHOD_TYP").is_empty());
    // Under its component|system node and directly under Carbohydrates.
    let mut parents: Vec<&str> = glucose.parents.iter().map(|p| p.code.as_str()).collect();
    parents.sort_unstable();
    assert_eq!(parents.len(), 2);
    assert_eq!(parents[0], CARBOHYDRATES);
    let node = terminology.lookup(LOINC, parents[1]).unwrap();
    assert_eq!(node.display.as_deref(), Some("Glucose | Serum or plasma"));
    assert_eq!(node.parents[0].code, GLUCOSE);
}

#[test]
fn statuses_decide_what_is_active() {
    let terminology = loaded();
    let deprecated = terminology.lookup(LOINC, DEPRECATED_TERM).unwrap();
    assert!(deprecated.inactive);
    assert_eq!(
        property(&deprecated, "STATUS"),
        [&PropertyValue::String("DEPRECATED".into())]
    );
    let discouraged = terminology.lookup(LOINC, "41653-7").unwrap();
    assert!(!discouraged.inactive);
    assert_eq!(
        property(&discouraged, "STATUS"),
        [&PropertyValue::String("DISCOURAGED".into())]
    );
    let trial = terminology.lookup(LOINC, "9000029-0").unwrap();
    assert!(!trial.inactive);
    assert_eq!(
        property(&trial, "STATUS"),
        [&PropertyValue::String("TRIAL".into())]
    );
    let test_strip = terminology.lookup(LOINC, "LP7318-9").unwrap();
    assert!(test_strip.inactive, "a deprecated part");
    assert_eq!(test_strip.display.as_deref(), Some("Test strip manual"));
    assert_eq!(test_strip.designations[0].value, "Test strip.manual");
    let valid = terminology
        .validate_code_in_system(LOINC, DEPRECATED_TERM, None)
        .unwrap();
    assert!(valid.result && valid.inactive);
}

#[test]
fn parts_subsume_the_terms_below_them() {
    let terminology = loaded();
    assert_eq!(
        terminology.subsumes(LOINC, GLUCOSE, "2345-7").unwrap(),
        Subsumption::Subsumes
    );
    assert_eq!(
        terminology.subsumes(LOINC, "2339-0", GLUCOSE).unwrap(),
        Subsumption::SubsumedBy
    );
    assert_eq!(
        terminology.subsumes(LOINC, ROOT, "8867-4").unwrap(),
        Subsumption::Subsumes
    );
    assert_eq!(
        terminology
            .subsumes(LOINC, CARBOHYDRATES, "2345-7")
            .unwrap(),
        Subsumption::Subsumes
    );
    // Hemoglobin A1c is chemistry, but not a carbohydrate here.
    assert_eq!(
        terminology
            .subsumes(LOINC, CARBOHYDRATES, "4548-4")
            .unwrap(),
        Subsumption::NotSubsumed
    );
    assert_eq!(
        terminology.subsumes(LOINC, "2345-7", "2339-0").unwrap(),
        Subsumption::NotSubsumed
    );
    let unknown = terminology.subsumes(LOINC, "2345-7", "1-8").unwrap_err();
    assert!(unknown.is_not_found(), "{unknown}");
}

#[test]
fn is_a_and_property_filters_expand() {
    let terminology = loaded();
    let glucose_terms = terminology
        .expand(
            &format!("{LOINC}?fhir_vs=isa/{GLUCOSE}"),
            &ExpandOptions::default(),
        )
        .unwrap();
    // The part, its two component|system nodes and four terms.
    assert_eq!(glucose_terms.total, 7);
    let mut codes: Vec<&str> = glucose_terms
        .contains
        .iter()
        .map(|contains| contains.code.as_str())
        .filter(|code| !code.starts_with("LP"))
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, ["2339-0", "2345-7", "41653-7", DEPRECATED_TERM]);

    let by_component = expand_codes(
        &terminology,
        LOINC,
        vec![filter("COMPONENT", FilterOperator::Equal, GLUCOSE)],
    );
    assert_eq!(by_component, codes);
    let active_chemistry_in_blood = expand_codes(
        &terminology,
        LOINC,
        vec![
            filter("concept", FilterOperator::DescendentOf, "LP7786-9"),
            filter("SYSTEM", FilterOperator::Equal, "LP7057-5"),
            filter("STATUS", FilterOperator::In, "ACTIVE,TRIAL"),
            filter("display", FilterOperator::Regex, "(Glucose|Hemoglobin).*"),
        ],
    );
    assert_eq!(active_chemistry_in_blood, ["2339-0", "4548-4", "718-7"]);
    let searched = terminology
        .expand(
            &format!("{LOINC}?fhir_vs"),
            &ExpandOptions {
                filter: Some("glucose serum".into()),
                active_only: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    let mut found: Vec<&str> = searched.contains.iter().map(|c| c.code.as_str()).collect();
    found.sort_unstable();
    assert_eq!(found, ["2345-7", "LP9200001-7"]);
}

#[test]
fn without_part_links_the_axes_are_part_names() {
    let (_temp, release) = fixture_copy(RELEASE, "Loinc_2.77");
    std::fs::remove_file(release.join(LINKS)).unwrap();
    let terminology = Terminology::in_memory();
    let load = terminology
        .load_loinc(&release, &LoincOptions::default())
        .unwrap();
    assert_eq!(load.stats.files.len(), 3);
    assert_eq!(load.stats.part_link_rows, 0);
    let glucose = terminology.lookup(LOINC, "2345-7").unwrap();
    assert_eq!(
        property(&glucose, "COMPONENT"),
        [&PropertyValue::String("Glucose".into())]
    );
    assert_eq!(
        property(&glucose, "SCALE_TYP"),
        [&PropertyValue::String("Qn".into())]
    );
    let quantitative_in_blood = expand_codes(
        &terminology,
        LOINC,
        vec![
            filter("SYSTEM", FilterOperator::Equal, "Bld"),
            filter("CLASSTYPE", FilterOperator::Equal, "1"),
            filter("display", FilterOperator::Regex, "[^S].*"),
        ],
    );
    assert_eq!(
        quantitative_in_blood,
        ["2339-0", "41653-7", "4548-4", "718-7"]
    );
}

#[test]
fn the_version_comes_from_the_option_the_folder_or_the_latest_change() {
    let (_temp, release) = fixture_copy(RELEASE, "release");
    let (system, _) = read_release(&release, &LoincOptions::default()).unwrap();
    // No version in the folder name: the highest VersionLastChanged.
    assert_eq!(system.version(), Some("2.77"));
    edit_line(&release.join(TABLE), "\"2345-7\"", "\"2.77\"", "\"2.70\"");
    edit_line(&release.join(TABLE), DEPRECATED_TERM, "\"2.77\"", "\"2.9\"");
    let (system, _) = read_release(&release, &LoincOptions::default()).unwrap();
    assert_eq!(system.version(), Some("2.76"), "2.76 is above 2.9");
    let options = LoincOptions {
        version: Some("2.77-local".into()),
    };
    let (system, _) = read_release(&fixture(RELEASE), &options).unwrap();
    assert_eq!(system.version(), Some("2.77-local"));
}

#[test]
fn missing_files_are_named() {
    let (_temp, release) = fixture_copy(RELEASE, "Loinc_2.77");
    std::fs::remove_file(release.join(HIERARCHY)).unwrap();
    let error = read_release(&release, &LoincOptions::default()).unwrap_err();
    assert!(matches!(error, Error::ReleaseMissingFile { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "no component hierarchy file (AccessoryFiles/ComponentHierarchyBySystem/\
             ComponentHierarchyBySystem.csv or AccessoryFiles/MultiAxialHierarchy/\
             MultiAxialHierarchy.csv) under {}",
            release.display()
        )
    );
    std::fs::remove_file(release.join(TABLE)).unwrap();
    let error = read_release(&release, &LoincOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "no Loinc.csv file (LoincTable/Loinc.csv) under {}",
            release.display()
        )
    );
    let error = read_release(&release.join("nothing"), &LoincOptions::default()).unwrap_err();
    assert!(matches!(error, Error::Io { action: "list", .. }), "{error}");
}

#[test]
fn an_older_release_with_the_multiaxial_hierarchy_loads() {
    let (_temp, release) = fixture_copy(RELEASE, "Loinc_2.66");
    let old = release.join("AccessoryFiles/MultiAxialHierarchy");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::rename(release.join(HIERARCHY), old.join("MultiAxialHierarchy.csv")).unwrap();
    let (system, stats) = read_release(&release, &LoincOptions::default()).unwrap();
    assert_eq!(system.version(), Some("2.66"));
    assert_eq!(stats.parent_links, 347);
}

/// The path of a file in a broken copy, and the error loading the copy gives.
fn break_file(relative: &str, find: &str, line: &str) -> (PathBuf, usize, String) {
    let (temp, release) = fixture_copy(RELEASE, "Loinc_2.77");
    let path = release.join(relative);
    let number = line_of(&path, find);
    replace_line(&path, find, line);
    let error = read_release(&release, &LoincOptions::default())
        .expect_err("the broken release does not load");
    assert!(matches!(error, Error::ReleaseLine { .. }), "{error}");
    drop(temp);
    (path, number, error.to_string())
}

#[test]
fn malformed_rows_name_file_and_line() {
    let (path, line, error) = break_file(TABLE, "\"2339-0\"", "\"2339-1\",\"Glucose\"");
    assert_eq!(
        error,
        format!(
            "{}:{line}: LOINC_NUM '2339-1' has check digit 1, but 2339 gives 0",
            path.display()
        )
    );
    let (path, line, error) = break_file(TABLE, "\"718-7\"", "\"2345-7\",\"Glucose\"");
    assert_eq!(
        error,
        format!("{}:{line}: LOINC_NUM 2345-7 appears twice", path.display())
    );
    let (path, line, error) = break_file(
        HIERARCHY,
        "\"LP29708-5\",\"Clinical\"",
        "\"x\",\"2\",\"LP1-8\",\"LP29708-5\",\"Clinical\"",
    );
    assert_eq!(
        error,
        format!(
            "{}:{line}: IMMEDIATE_PARENT LP1-8 is not a term, a part or a hierarchy code of the \
             release",
            path.display()
        )
    );
    let (path, _, error) = break_file(
        "AccessoryFiles/PartFile/Part.csv",
        "PartNumber",
        "\"PartCode\",\"PartTypeName\",\"PartName\"",
    );
    assert!(
        error.starts_with(&format!(
            "{}:1: the header has no column 'PartNumber' (it has: PartCode, PartTypeName",
            path.display()
        )),
        "{error}"
    );
    let (path, line, error) = break_file(TABLE, "\"4548-4\"", "\"\",\"Hemoglobin\"");
    assert_eq!(
        error,
        format!(
            "{}:{line}: LOINC_NUM '' is not a LOINC number (digits, '-', check digit)",
            path.display()
        )
    );
}

#[test]
fn a_cycle_in_the_hierarchy_is_an_error() {
    let (_temp, release) = fixture_copy(RELEASE, "Loinc_2.77");
    replace_line(
        &release.join(HIERARCHY),
        "\"LP29693-9\",\"Laboratory\"",
        "\"x\",\"1\",\"LP7786-9\",\"LP29693-9\",\"Laboratory\"",
    );
    let error = read_release(&release, &LoincOptions::default()).unwrap_err();
    assert!(matches!(error, Error::InvalidCodeSystem { .. }), "{error}");
    assert!(
        error.to_string().contains("the hierarchy has a cycle"),
        "{error}"
    );
}

#[test]
fn a_load_survives_a_restart_and_a_second_load_replaces_it() {
    let data = tempfile::tempdir().unwrap();
    {
        let terminology = Terminology::open(data.path()).unwrap();
        let load = terminology
            .load_loinc(&fixture(RELEASE), &LoincOptions::default())
            .unwrap();
        assert!(load.save_time.is_some());
        terminology
            .load_loinc(&fixture(RELEASE), &LoincOptions::default())
            .unwrap();
    }
    let terminology = Terminology::open(data.path()).unwrap();
    let stored = terminology.loaded_code_systems();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (stored[0].url.as_str(), stored[0].version.as_deref()),
        (LOINC, Some("2.77"))
    );
    let glucose = terminology
        .lookup(&format!("{LOINC}|2.77"), "2345-7")
        .unwrap();
    assert_eq!(glucose.parents.len(), 2);
    assert_eq!(glucose.designations.len(), 3);
    assert_eq!(property(&glucose, "COMPONENT").len(), 1);
    assert!(terminology.lookup(LOINC, DEPRECATED_TERM).unwrap().inactive);
    assert_eq!(
        terminology.subsumes(LOINC, ROOT, "2345-7").unwrap(),
        Subsumption::Subsumes
    );

    assert!(terminology.remove_code_system(LOINC, Some("2.77")).unwrap());
    assert!(!terminology.remove_code_system(LOINC, Some("2.77")).unwrap());
    assert!(
        terminology
            .lookup(LOINC, "2345-7")
            .unwrap_err()
            .is_not_found()
    );
    drop(terminology);
    let reopened = Terminology::open(data.path()).unwrap();
    assert!(reopened.loaded_code_systems().is_empty());
}
