//! ECL from anywhere (an implicit value set URL is client input) never panics: arbitrary text
//! and ECL-shaped text are parsed and, over the SNOMED CT fixture, evaluated; each gives a
//! result or an error.

use std::path::Path;
use std::sync::LazyLock;

use medulla_terminology::snomed::SnomedOptions;
use medulla_terminology::{ExpandOptions, Terminology, ecl};
use proptest::prelude::*;

static FIXTURE: LazyLock<Terminology> = LazyLock::new(|| {
    let terminology = Terminology::in_memory();
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/snomed/SnomedCT_Fixture_20240101/Snapshot");
    terminology
        .load_snomed(&snapshot, &SnomedOptions::default())
        .expect("the fixture loads");
    terminology
});

fn evaluate(text: &str) {
    let _ = ecl::parse(text);
    let url = format!("http://snomed.info/sct?fhir_vs=ecl/{text}");
    let _ = FIXTURE.expand(
        &url,
        &ExpandOptions {
            count: Some(20),
            ..ExpandOptions::default()
        },
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,60}") {
        evaluate(&text);
    }

    #[test]
    fn ecl_shaped_text(
        text in "([<>!]{0,2} ?(73211009|404684003|363698007|39057004|\\*|\\^ ?[0-9]{6,9}) ?([:=,{}()\\[\\]]|AND|OR|MINUS|R|\\.\\.|[0-9]| )?){1,8}"
    ) {
        evaluate(&text);
    }
}
