//! The ICD-10-CM loader on a synthetic order file in the CMS fixed-width format
//! (`tests/data/icd10cm`, see its README): dotted codes, header codes, the prefix hierarchy,
//! the terminology file, and the errors for missing files and malformed lines.

mod fixture_files;

use fixture_files::{expand_codes, filter, fixture, fixture_copy, line_of, replace_line};
use medulla_terminology::icd10cm::{ICD_10_CM, Icd10CmOptions, read_order_file, to_dotted_code};
use medulla_terminology::{
    Error, ExpandOptions, FilterOperator, PropertyValue, Subsumption, Terminology,
};

const ORDER_FILE: &str = "icd10cm_order_2024.txt";

fn loaded() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology
        .load_icd10cm(&fixture("icd10cm"), &Icd10CmOptions::default())
        .expect("the fixture loads");
    terminology
}

/// An order file line as CMS writes it.
fn order_line(order: u32, code: &str, flag: char, short: &str, long: &str) -> String {
    format!("{order:05} {code:<7} {flag} {short:<60} {long}")
}

#[test]
fn the_order_file_loads_with_its_counts_and_version() {
    let terminology = Terminology::in_memory();
    let load = terminology
        .load_icd10cm(&fixture("icd10cm"), &Icd10CmOptions::default())
        .unwrap();
    let stats = &load.stats;
    assert_eq!(stats.rows, 410);
    assert_eq!(stats.concepts, 410);
    assert_eq!(stats.header_codes, 113);
    assert_eq!(stats.billable_codes, 297);
    // A00, E11, I10, J45, S72 and the twenty synthetic categories.
    assert_eq!(stats.top_level_codes, 25);
    assert_eq!(stats.parent_links, 385);
    assert_eq!(stats.files, [fixture("icd10cm").join(ORDER_FILE)]);
    assert_eq!(load.version.as_deref(), Some("2024"));
    let options = Icd10CmOptions {
        version: Some("2024-04".into()),
    };
    let (system, _) = read_order_file(&fixture("icd10cm"), &options).unwrap();
    assert_eq!(system.version(), Some("2024-04"));
}

#[test]
fn codes_are_dotted_with_descriptions_and_billable_flags() {
    let terminology = loaded();
    let diabetes = terminology.lookup(ICD_10_CM, "E11.9").unwrap();
    assert_eq!(
        diabetes.display.as_deref(),
        Some("Type 2 diabetes mellitus without complications")
    );
    assert!(
        diabetes.designations.is_empty(),
        "the short description is the same"
    );
    assert!(!diabetes.is_abstract);
    assert_eq!(diabetes.properties.len(), 1);
    assert_eq!(diabetes.properties[0].code, "notSelectable");
    assert_eq!(diabetes.properties[0].value, PropertyValue::Boolean(false));
    assert_eq!(diabetes.parents.len(), 1);
    assert_eq!(diabetes.parents[0].code, "E11");

    let hyperosmolar = terminology.lookup(ICD_10_CM, "E11.00").unwrap();
    assert_eq!(
        hyperosmolar.display.as_deref(),
        Some(
            "Type 2 diabetes mellitus with hyperosmolarity without nonketotic \
             hyperglycemic-hyperosmolar coma (NKHHC)"
        )
    );
    assert_eq!(
        hyperosmolar.designations[0].value,
        "Type 2 diab w hyprosm w/o nonket hyprgly-hypros coma (NKHHC)"
    );
    assert_eq!(hyperosmolar.parents[0].code, "E11.0");

    let header = terminology.lookup(ICD_10_CM, "E11.0").unwrap();
    assert!(header.is_abstract);
    assert_eq!(header.properties[0].value, PropertyValue::Boolean(true));
    let mut children: Vec<&str> = header.children.iter().map(|c| c.code.as_str()).collect();
    children.sort_unstable();
    assert_eq!(children, ["E11.00", "E11.01"]);

    // A billable category has no dot and no parent.
    let hypertension = terminology.lookup(ICD_10_CM, "I10").unwrap();
    assert!(!hypertension.is_abstract && hypertension.parents.is_empty());
    // Seven characters: S72.001A.
    let fracture = terminology.lookup(ICD_10_CM, "S72.001A").unwrap();
    assert_eq!(fracture.parents[0].code, "S72.001");
}

#[test]
fn undotted_codes_are_not_codes_of_the_system() {
    let terminology = loaded();
    let error = terminology.lookup(ICD_10_CM, "E119").unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(
        error.to_string(),
        format!("unknown code 'E119' in code system '{ICD_10_CM}'")
    );
    let converted = terminology
        .lookup(ICD_10_CM, &to_dotted_code("E119"))
        .unwrap();
    assert_eq!(converted.code, "E11.9");
}

#[test]
fn the_prefix_hierarchy_subsumes() {
    let terminology = loaded();
    let subsumes = |a: &str, b: &str| terminology.subsumes(ICD_10_CM, a, b).unwrap();
    assert_eq!(subsumes("E11", "E11.311"), Subsumption::Subsumes);
    assert_eq!(subsumes("E11.3", "E11.311"), Subsumption::Subsumes);
    assert_eq!(subsumes("E11.319", "E11.31"), Subsumption::SubsumedBy);
    assert_eq!(subsumes("S72", "S72.001A"), Subsumption::Subsumes);
    // J45.909's prefixes J45.90 and J45.9 are not in the file: its parent is J45.
    assert_eq!(subsumes("J45", "J45.909"), Subsumption::Subsumes);
    assert_eq!(subsumes("J45.2", "J45.909"), Subsumption::NotSubsumed);
    assert_eq!(subsumes("E11.2", "E11.65"), Subsumption::NotSubsumed);
    assert_eq!(subsumes("U80", "U81.0"), Subsumption::NotSubsumed);
}

#[test]
fn is_a_and_billable_filters_expand() {
    let terminology = loaded();
    let diabetes = terminology
        .expand(
            &format!("{ICD_10_CM}?fhir_vs=isa/E11"),
            &ExpandOptions::default(),
        )
        .unwrap();
    assert_eq!(diabetes.total, 15);
    let category = diabetes
        .contains
        .iter()
        .find(|contains| contains.code == "E11")
        .unwrap();
    assert!(category.is_abstract);
    let billable = expand_codes(
        &terminology,
        ICD_10_CM,
        vec![
            filter("concept", FilterOperator::IsA, "E11"),
            filter("notSelectable", FilterOperator::Equal, "false"),
        ],
    );
    assert_eq!(
        billable,
        [
            "E11.00", "E11.01", "E11.21", "E11.22", "E11.311", "E11.319", "E11.65", "E11.8",
            "E11.9"
        ]
    );
    let found = terminology
        .expand(
            &format!("{ICD_10_CM}?fhir_vs"),
            &ExpandOptions {
                filter: Some("retinopathy macular".into()),
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    let mut codes: Vec<&str> = found.contains.iter().map(|c| c.code.as_str()).collect();
    codes.sort_unstable();
    assert_eq!(codes, ["E11.311", "E11.319"]);
}

/// Replaces the line containing `find` in a copy of the order file; returns the error.
fn break_line(find: &str, line: &str) -> (String, String) {
    let (_temp, dir) = fixture_copy("icd10cm", "icd10cm");
    let path = dir.join(ORDER_FILE);
    let number = line_of(&path, find);
    replace_line(&path, find, line);
    let error = read_order_file(&dir, &Icd10CmOptions::default())
        .expect_err("the broken file does not load");
    assert!(matches!(error, Error::ReleaseLine { .. }), "{error}");
    (format!("{}:{number}", path.display()), error.to_string())
}

#[test]
fn malformed_lines_name_file_and_line() {
    let (at, error) = break_line(" E119 ", &order_line(19, "E119", 'Y', "Short", "Long"));
    assert_eq!(error, format!("{at}: header flag 'Y' is not 0 or 1"));
    let (at, error) = break_line(" I10 ", &order_line(20, "E119", '1', "Again", "Again"));
    assert_eq!(error, format!("{at}: code E11.9 appears twice"));
    let (at, error) = break_line(" A001 ", "00003 A001");
    assert_eq!(
        error,
        format!(
            "{at}: has 10 characters, too short for an order file line (order number, code, \
             flag)"
        )
    );
    let (at, error) = break_line(" A009 ", &order_line(4, "A0.9", '1', "Cholera", "Cholera"));
    assert_eq!(
        error,
        format!(
            "{at}: code 'A0.9' is not an ICD-10-CM code (a letter, then 2 to 6 letters or \
             digits)"
        )
    );
    let (at, error) = break_line(" J45 ", "00021\tJ45     0 Asthma");
    assert!(
        error.starts_with(&format!("{at}: column 6 should be a space between fields")),
        "{error}"
    );
}

#[test]
fn a_missing_or_doubled_order_file_is_an_error() {
    let (_temp, dir) = fixture_copy("icd10cm", "icd10cm");
    std::fs::copy(dir.join(ORDER_FILE), dir.join("icd10cm-order-2025.txt")).unwrap();
    let error = read_order_file(&dir, &Icd10CmOptions::default()).unwrap_err();
    assert!(
        matches!(error, Error::ReleaseAmbiguousFile { .. }),
        "{error}"
    );
    std::fs::remove_file(dir.join(ORDER_FILE)).unwrap();
    std::fs::remove_file(dir.join("icd10cm-order-2025.txt")).unwrap();
    let error = read_order_file(&dir, &Icd10CmOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "no ICD-10-CM order file (icd10cm_order_YYYY.txt) under {}",
            dir.display()
        )
    );
}

#[test]
fn a_load_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    {
        let terminology = Terminology::open(data.path()).unwrap();
        let load = terminology
            .load_icd10cm(&fixture("icd10cm"), &Icd10CmOptions::default())
            .unwrap();
        assert!(load.save_time.is_some());
    }
    let terminology = Terminology::open(data.path()).unwrap();
    let header = terminology
        .lookup(&format!("{ICD_10_CM}|2024"), "E11.3")
        .unwrap();
    assert!(header.is_abstract);
    assert_eq!(
        header.display.as_deref(),
        Some("Type 2 diabetes mellitus with ophthalmic complications")
    );
    assert_eq!(
        terminology.subsumes(ICD_10_CM, "S72", "S72.001A").unwrap(),
        Subsumption::Subsumes
    );
    let billable = expand_codes(
        &terminology,
        ICD_10_CM,
        vec![
            filter("concept", FilterOperator::IsA, "E11.3"),
            filter("notSelectable", FilterOperator::Equal, "false"),
        ],
    );
    assert_eq!(billable, ["E11.311", "E11.319"]);
}
