//! Prints how long the embedded definitions take to load and one resource check takes.
//!
//! Run with `cargo run --release -p medulla-model --example load_time`. Figures go to
//! `docs/benchmarks.md` with date, machine and commit; nothing asserts on them.

use std::hint::black_box;
use std::time::Instant;

use medulla_model::check::check_resource;
use serde_json::json;

fn main() {
    let started = Instant::now();
    let definitions = medulla_model::definitions();
    let load = started.elapsed();
    println!(
        "load: {load:?} ({} resource types, {} search parameters)",
        definitions.resource_types().count(),
        definitions.all_search_params().len()
    );

    let observation = json!({
        "resourceType": "Observation",
        "id": "blood-pressure",
        "meta": {"versionId": "3", "lastUpdated": "2024-05-01T10:12:01.123Z",
                 "profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
        "identifier": [{"system": "urn:ietf:rfc:3986",
                        "value": "urn:uuid:187e0c12-8dd2-67e2-99b2-bf273c878281"}],
        "basedOn": [{"identifier": {"system": "https://acme.org/identifiers", "value": "1234"}}],
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9",
                             "display": "Blood pressure panel with all children optional"}],
                 "text": "Blood pressure systolic & diastolic"},
        "subject": {"reference": "Patient/example"},
        "encounter": {"reference": "Encounter/example"},
        "effectiveDateTime": "2012-09-17",
        "issued": "2012-09-17T10:00:00.000+02:00",
        "performer": [{"reference": "Practitioner/example"}],
        "interpretation": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": "L", "display": "low"}], "text": "Below low normal"}],
        "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "368209003",
                                 "display": "Right arm"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6",
                                  "display": "Systolic blood pressure"}]},
             "valueQuantity": {"value": 107, "unit": "mmHg",
                               "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
             "interpretation": [{"coding": [{
                 "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                 "code": "N", "display": "normal"}]}]},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4",
                                  "display": "Diastolic blood pressure"}]},
             "valueQuantity": {"value": 60.5, "unit": "mmHg",
                               "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
             "interpretation": [{"coding": [{
                 "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                 "code": "L", "display": "low"}]}]}
        ]
    });
    let size = observation.to_string().len();
    assert!(
        check_resource(&observation).is_empty(),
        "the sample is valid"
    );
    let rounds: u32 = 20_000;
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(check_resource(black_box(&observation)));
    }
    let per_check = started.elapsed() / rounds;
    println!("check_resource: {per_check:?} per {size}-byte Observation ({rounds} rounds)");
}
