//! The RxNorm loader on a synthetic release in the RRF format (`tests/data/rxnorm`, see its
//! README): display by term type, suppressed strings, relationship direction, `isa` with
//! several parents, the terminology file, and the errors for missing files and malformed rows.

mod fixture_files;

use fixture_files::{expand_codes, filter, fixture, fixture_copy, line_of, replace_line};
use medulla_terminology::rxnorm::{RXNORM, RxNormOptions, read_release};
use medulla_terminology::{
    ConceptDetails, Error, ExpandOptions, FilterOperator, PropertyValue, Subsumption, Terminology,
};

const RELEASE: &str = "rxnorm/RxNorm_full_01022024";
const CONSO: &str = "rrf/RXNCONSO.RRF";
const RELATIONSHIPS: &str = "rrf/RXNREL.RRF";

fn loaded() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology
        .load_rxnorm(&fixture(RELEASE), &RxNormOptions::default())
        .expect("the fixture loads");
    terminology
}

/// The values of the property `code`, as text.
fn values(details: &ConceptDetails, code: &str) -> Vec<String> {
    details
        .properties
        .iter()
        .filter(|property| property.code == code)
        .map(|property| property.value.to_string())
        .collect()
}

#[test]
fn the_release_loads_with_its_counts_and_version() {
    let terminology = Terminology::in_memory();
    let load = terminology
        .load_rxnorm(&fixture(RELEASE), &RxNormOptions::default())
        .unwrap();
    let stats = &load.stats;
    assert_eq!(stats.conso_rows, 448);
    assert_eq!(stats.other_source_strings, 63);
    assert_eq!(stats.suppressed_strings, 3);
    assert_eq!(stats.concepts, 16 + 5 * 60);
    assert_eq!(stats.inactive_concepts, 1);
    assert_eq!(stats.relationship_rows, 634);
    assert_eq!(stats.other_relationships, 2);
    assert_eq!(stats.unknown_concept_relationships, 1);
    assert_eq!(stats.repeated_relationships, 1);
    // 634 rows less the 4 skipped and the 8 isa and inverse_isa rows.
    assert_eq!(stats.relationship_properties, 622);
    assert_eq!(stats.parent_links, 4);
    assert_eq!(stats.files.len(), 2);
    assert_eq!(load.version.as_deref(), Some("01022024"));
    let options = RxNormOptions {
        version: Some("2024-01-02".into()),
    };
    let (system, _) = read_release(&fixture(RELEASE), &options).unwrap();
    assert_eq!(system.version(), Some("2024-01-02"));
}

#[test]
fn the_display_is_the_preferred_term_type_and_every_string_a_designation() {
    let terminology = loaded();
    let tablet = terminology.lookup(RXNORM, "197361").unwrap();
    // The PSN comes first in the file; the SCD's string still wins.
    assert_eq!(
        tablet.display.as_deref(),
        Some("amlodipine 5 MG Oral Tablet")
    );
    let designations: Vec<(&str, &str)> = tablet
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
        designations,
        [
            ("PSN", "amLODIPine 5 MG Oral Tablet"),
            ("SY", "amlodipine 5 MG (as amlodipine besylate) Oral Tablet"),
            ("TMSY", "amlodipine 5 MG Oral Tablet (synthetic tallman)"),
            ("SCD", "amlodipine 5 MG Oral Tablet"),
        ]
    );
    let usage = tablet.designations[0].usage.as_ref().unwrap();
    assert_eq!(usage.system.as_deref(), Some(RXNORM));
    assert_eq!(values(&tablet, "TTY"), ["PSN", "SY", "TMSY", "SCD"]);
    assert_eq!(
        tablet
            .properties
            .iter()
            .find(|p| p.code == "TTY")
            .unwrap()
            .value,
        PropertyValue::Code("PSN".into())
    );
    // An ingredient: IN before SY; the other source's string is not there.
    let amlodipine = terminology.lookup(RXNORM, "17767").unwrap();
    assert_eq!(amlodipine.display.as_deref(), Some("amlodipine"));
    assert_eq!(amlodipine.designations.len(), 2);
    assert_eq!(values(&amlodipine, "TTY"), ["IN", "SY"]);
}

#[test]
fn suppressed_strings_are_displayed_last_and_make_a_concept_inactive_only_if_all_are() {
    let terminology = loaded();
    let obsolete = terminology.lookup(RXNORM, "1000001").unwrap();
    assert!(obsolete.inactive);
    assert_eq!(
        obsolete.display.as_deref(),
        Some("Synthetic obsolete drug 1 MG Oral Tablet")
    );
    let partly = terminology.lookup(RXNORM, "1000002").unwrap();
    assert!(!partly.inactive);
    assert_eq!(
        partly.display.as_deref(),
        Some("Synthetic drug 2 MG Oral Tablet")
    );
    assert_eq!(partly.designations.len(), 2);
    let active_drugs = terminology
        .expand(
            &format!("{RXNORM}?fhir_vs"),
            &ExpandOptions {
                filter: Some("synthetic drug".into()),
                active_only: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    let codes: Vec<&str> = active_drugs
        .contains
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(codes, ["1000002"]);
}

#[test]
fn relationships_belong_to_rxcui2_with_rxcui1_as_value() {
    let terminology = loaded();
    // RXNREL: `17767|…|has_ingredient|…` with RXCUI2 = 329526: the component has the
    // ingredient.
    let component = terminology.lookup(RXNORM, "329526").unwrap();
    assert_eq!(
        values(&component, "has_ingredient"),
        ["17767"],
        "the atom-level repeat of the row is dropped"
    );
    assert!(values(&component, "ingredient_of").is_empty());
    let ingredient = terminology.lookup(RXNORM, "17767").unwrap();
    assert!(values(&ingredient, "has_ingredient").is_empty());
    assert_eq!(values(&ingredient, "ingredient_of"), ["329526", "329527"]);
    assert_eq!(values(&ingredient, "has_form"), ["69749"]);
    let tablet = terminology.lookup(RXNORM, "197361").unwrap();
    assert_eq!(values(&tablet, "consists_of"), ["329526"]);
    assert_eq!(values(&tablet, "has_dose_form"), ["317541"]);
    assert_eq!(values(&tablet, "has_tradename"), ["212549"]);
    assert!(values(&tablet, "isa").is_empty(), "isa is the hierarchy");
    let branded = terminology.lookup(RXNORM, "212549").unwrap();
    assert_eq!(values(&branded, "tradename_of"), ["197361"]);
    assert_eq!(values(&branded, "has_ingredient"), ["58927"]);
    let system = terminology.code_system(RXNORM).unwrap();
    let declared: Vec<&str> = system
        .info()
        .properties
        .iter()
        .map(|definition| definition.code.as_str())
        .collect();
    assert!(
        declared.contains(&"TTY") && declared.contains(&"has_tradename"),
        "{declared:?}"
    );
    assert!(!declared.contains(&"isa"), "{declared:?}");

    let with_amlodipine = expand_codes(
        &terminology,
        RXNORM,
        vec![filter("has_ingredient", FilterOperator::Equal, "17767")],
    );
    assert_eq!(with_amlodipine, ["329526", "329527"]);
}

#[test]
fn isa_rows_are_the_hierarchy_with_several_parents() {
    let terminology = loaded();
    let tablet = terminology.lookup(RXNORM, "308135").unwrap();
    let mut parents: Vec<&str> = tablet.parents.iter().map(|p| p.code.as_str()).collect();
    parents.sort_unstable();
    assert_eq!(parents, ["1152681", "1152682"]);
    assert_eq!(
        terminology.subsumes(RXNORM, "1152681", "197361").unwrap(),
        Subsumption::Subsumes
    );
    assert_eq!(
        terminology.subsumes(RXNORM, "197361", "1152682").unwrap(),
        Subsumption::SubsumedBy
    );
    assert_eq!(
        terminology.subsumes(RXNORM, "1152681", "243670").unwrap(),
        Subsumption::NotSubsumed
    );
    let pills = expand_codes(
        &terminology,
        RXNORM,
        vec![filter("concept", FilterOperator::IsA, "1152682")],
    );
    assert_eq!(pills, ["1152682", "197361", "308135"]);
    let clinical_drugs = expand_codes(
        &terminology,
        RXNORM,
        vec![filter("TTY", FilterOperator::Equal, "SCD")],
    );
    assert_eq!(clinical_drugs.len(), 2 + 1 + 2 + 60);
    let ingredients = expand_codes(
        &terminology,
        RXNORM,
        vec![filter("TTY", FilterOperator::In, "IN,PIN")],
    );
    assert_eq!(ingredients.len(), 4 + 60);
    assert!(ingredients.contains(&"69749".to_owned()));
}

/// Replaces the line containing `find` in a copy of the release; returns where and the error.
fn break_line(file: &str, find: &str, line: &str) -> (String, String) {
    let (_temp, release) = fixture_copy(RELEASE, "RxNorm_full_01022024");
    let path = release.join(file);
    let number = line_of(&path, find);
    replace_line(&path, find, line);
    let error = read_release(&release, &RxNormOptions::default())
        .expect_err("the broken release does not load");
    assert!(matches!(error, Error::ReleaseLine { .. }), "{error}");
    (format!("{}:{number}", path.display()), error.to_string())
}

#[test]
fn malformed_rows_name_file_and_line() {
    let (at, error) = break_line(
        CONSO,
        "|amlodipine|",
        "17767|ENG||||||10000002||||RXNORM|IN|17767|amlodipine|0|N|4096",
    );
    assert_eq!(
        error,
        format!("{at}: does not end with '|': an RRF row has 18 fields, each followed by '|'")
    );
    let (at, error) = break_line(CONSO, "|Norvasc|", "58927|ENG|RXNORM|BN|Norvasc|");
    assert_eq!(error, format!("{at}: has 5 fields, expected 18"));
    let (at, error) = break_line(
        CONSO,
        "|aspirin|",
        "11a91|ENG||||||10000099||||RXNORM|IN|1191|aspirin|0|N|4096|",
    );
    assert_eq!(
        error,
        format!("{at}: RXCUI '11a91' is not an RXCUI (digits)")
    );
    let (at, error) = break_line(
        CONSO,
        "|metformin|",
        "6809|ENG||||||10000098||||RXNORM||6809||0|N|4096|",
    );
    assert_eq!(
        error,
        format!("{at}: RXCUI 6809 has an RxNorm row without TTY or STR")
    );
    let (at, error) = break_line(
        RELATIONSHIPS,
        "|form_of|",
        "17767||CUI|RO|x69749||CUI|form_of|90000001||RXNORM|RXNORM|||N||",
    );
    assert_eq!(
        error,
        format!("{at}: RXCUI2 'x69749' is not an RXCUI (digits)")
    );
}

#[test]
fn missing_files_are_named() {
    let (_temp, release) = fixture_copy(RELEASE, "RxNorm_full_01022024");
    std::fs::remove_file(release.join(RELATIONSHIPS)).unwrap();
    let error = read_release(&release, &RxNormOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "no RXNREL file (rrf/RXNREL.RRF) under {}",
            release.display()
        )
    );
    // Files are found without regard to case, and outside an rrf folder.
    let (_temp, flat) = fixture_copy(RELEASE, "release");
    std::fs::rename(flat.join(CONSO), flat.join("rxnconso.rrf")).unwrap();
    let (system, stats) = read_release(&flat, &RxNormOptions::default()).unwrap();
    assert_eq!(system.len(), 316);
    assert_eq!(stats.files[0], flat.join("rxnconso.rrf"));
    assert_eq!(system.version(), None, "no date in the folder name");
}

#[test]
fn a_load_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    {
        let terminology = Terminology::open(data.path()).unwrap();
        terminology
            .load_rxnorm(&fixture(RELEASE), &RxNormOptions::default())
            .unwrap();
    }
    let terminology = Terminology::open(data.path()).unwrap();
    let tablet = terminology
        .lookup(&format!("{RXNORM}|01022024"), "197361")
        .unwrap();
    assert_eq!(
        tablet.display.as_deref(),
        Some("amlodipine 5 MG Oral Tablet")
    );
    assert_eq!(tablet.designations.len(), 4);
    assert_eq!(values(&tablet, "has_tradename"), ["212549"]);
    assert!(terminology.lookup(RXNORM, "1000001").unwrap().inactive);
    assert_eq!(
        terminology.subsumes(RXNORM, "1152682", "308135").unwrap(),
        Subsumption::Subsumes
    );
    let system = terminology.code_system(RXNORM).unwrap();
    assert!(
        system
            .info()
            .properties
            .iter()
            .any(|definition| definition.code == "consists_of")
    );
}
