//! Provenance: the messages under `tests/messages/` were written for this project from the
//! HL7 v2.5.1 segment definitions and tables (0001, 0002, 0004, 0078, 0085, 0123, 0203, 0276,
//! 0277, 0278, 0322, 0396…) with published LOINC, CVX, MVX and UCUM codes; they are not
//! copied from any other project. Their segments end with `\r`.
//!
//! These tests hold the v2 → FHIR mapping to its detail: resource types, identifiers,
//! conditional request URLs, values, units, statuses and the references between entries; and
//! they run every fixture's Bundle through a real engine to show it is accepted and
//! idempotent.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use medulla_engine::{Engine, Handling};
use medulla_interface::mapping::{self, MapError};
use medulla_store::SqliteStore;
use serde_json::{Value, json};
use std::sync::Arc;

const MRN_SYSTEM: &str = "urn:oid:2.16.840.1.113883.19.5";
const PATIENT_URL: &str = "Patient?identifier=urn:oid:2.16.840.1.113883.19.5|MRN10045";
const VISIT_CRITERIA: &str = "identifier=urn:id:GOOD%2520HEALTH%2520HOSPITAL|V-20240305-01";
const UCUM: &str = "http://unitsofmeasure.org";
const LOINC: &str = "http://loinc.org";
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
const FIXTURES: &[&str] = &[
    "adt_a01",
    "adt_a03",
    "adt_a08",
    "adt_a40",
    "oru_r01",
    "oru_r01_corrected",
    "orm_o01",
    "oml_o21",
    "vxu_v04",
    "siu_s12",
];

// ---------------------------------------------------------------------------------------
// Helpers

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/messages/{name}.hl7", env!("CARGO_MANIFEST_DIR"));
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

fn try_map(text: &str) -> Result<Value, MapError> {
    let message = medulla_hl7v2::parse(text.as_bytes(), &Default::default()).unwrap();
    mapping::to_bundle(&message)
}

fn map_text(text: &str) -> Mapped {
    Mapped(try_map(text).unwrap())
}

fn mapped(name: &str) -> Mapped {
    map_text(&fixture(name))
}

fn error_of(text: &str) -> MapError {
    try_map(text).unwrap_err()
}

/// `name` with `from` replaced by `to`, which must occur.
fn variant(name: &str, from: &str, to: &str) -> String {
    let text = fixture(name);
    assert!(text.contains(from), "{name} has no {from:?}");
    text.replacen(from, to, 1)
}

/// True when `error` is an Invalid with this code and location.
fn is_invalid(error: &MapError, code: &str, location: &str) -> bool {
    matches!(error, MapError::Invalid { code: c, location: Some(l), .. } if *c == code && l == location)
}

/// A mapped Bundle, with ways to find its entries.
struct Mapped(Value);

impl Mapped {
    fn entries(&self) -> &Vec<Value> {
        assert_eq!(self.0["resourceType"], "Bundle");
        assert_eq!(self.0["type"], "transaction");
        self.0["entry"].as_array().unwrap()
    }

    fn of_type(&self, resource_type: &str) -> Vec<&Value> {
        self.entries()
            .iter()
            .filter(|entry| entry["resource"]["resourceType"] == resource_type)
            .collect()
    }

    /// The only entry of `resource_type`.
    fn only(&self, resource_type: &str) -> &Value {
        let found = self.of_type(resource_type);
        assert_eq!(found.len(), 1, "one {resource_type} expected");
        found[0]
    }

    /// The entry whose request URL (or ifNoneExist, for `Type?criteria`) is `url`.
    fn at(&self, url: &str) -> &Value {
        self.entries()
            .iter()
            .find(|entry| request_key(entry) == url)
            .unwrap_or_else(|| panic!("no entry for {url}"))
    }

    /// The entry a Reference points at.
    fn target(&self, reference: &Value) -> &Value {
        let url = reference["reference"].as_str().unwrap();
        assert!(url.starts_with("urn:uuid:"), "{url}");
        self.entries()
            .iter()
            .find(|entry| entry["fullUrl"] == url)
            .unwrap_or_else(|| panic!("no entry has fullUrl {url}"))
    }

    fn request_keys(&self) -> Vec<String> {
        self.entries().iter().map(request_key).collect()
    }
}

/// `PUT Type?criteria` → `Type?criteria`; `POST Type` with ifNoneExist → `Type?ifNoneExist`.
fn request_key(entry: &Value) -> String {
    let request = &entry["request"];
    match request["method"].as_str().unwrap() {
        "PUT" => request["url"].as_str().unwrap().to_owned(),
        "POST" => format!(
            "{}?{}",
            request["url"].as_str().unwrap(),
            request["ifNoneExist"].as_str().unwrap()
        ),
        other => panic!("unexpected method {other}"),
    }
}

fn method(entry: &Value) -> &str {
    entry["request"]["method"].as_str().unwrap()
}

fn coding(concept: &Value) -> (&str, &str) {
    let coding = &concept["coding"][0];
    (
        coding["system"].as_str().unwrap(),
        coding["code"].as_str().unwrap(),
    )
}

/// The JSON text of a number, so `12.0` is told from `12`.
fn number(value: &Value) -> String {
    assert!(value.is_number(), "{value} is not a number");
    value.to_string()
}

// ---------------------------------------------------------------------------------------
// ADT

#[test]
fn a01_patient_demographics() {
    let bundle = mapped("adt_a01");
    let entry = bundle.only("Patient");
    assert_eq!(method(entry), "PUT");
    assert_eq!(entry["request"]["url"], PATIENT_URL);
    assert!(entry["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"));
    let patient = &entry["resource"];
    assert_eq!(patient["meta"]["source"], "hl7v2:REGADT|MSG-A01-0001");
    assert_eq!(
        patient["identifier"],
        json!([
            {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "system": MRN_SYSTEM, "value": "MRN10045"},
            {"type": {"coding": [{"system": V2_0203, "code": "EI"}]}, "system": "urn:id:ACME%20CORP", "value": "EMP-7788"},
            {"type": {"coding": [{"system": V2_0203, "code": "SS"}]}, "system": "urn:oid:2.16.840.1.113883.4.1", "value": "444-55-6666"}
        ])
    );
    assert_eq!(
        patient["name"],
        json!([
            {"use": "official", "family": "O'Brien-Smith", "given": ["Mary", "Ann"], "prefix": ["Dr"]},
            {"use": "maiden", "family": "Kelly", "given": ["Mary"]},
            {"use": "nickname", "given": ["Molly"]}
        ])
    );
    assert_eq!(
        patient["telecom"],
        json!([
            {"system": "phone", "value": "+1 217 5550148", "use": "home"},
            {"system": "phone", "value": "+1 217 5550199", "use": "mobile"},
            {"system": "email", "value": "mary.obrien@example.org"},
            {"system": "phone", "value": "(217)555-0110", "use": "work"}
        ])
    );
    assert_eq!(patient["gender"], "female");
    assert_eq!(patient["birthDate"], "1979-02-14");
    // PID-7 has no offset: MSH-7's (-0500) applies.
    assert_eq!(
        patient["_birthDate"]["extension"][0],
        json!({"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
               "valueDateTime": "1979-02-14T09:30:00-05:00"})
    );
    // PID-29 is "" and PID-30 N.
    assert_eq!(patient["deceasedBoolean"], false);
    assert!(patient.get("deceasedDateTime").is_none());
    assert_eq!(
        patient["address"],
        json!([
            {"use": "home", "line": ["42 Elm Street", "Bldg 5 & 6"], "city": "Springfield",
             "district": "17167", "state": "IL", "postalCode": "62704", "country": "USA"},
            {"type": "postal", "line": ["PO Box 77"], "city": "Springfield", "state": "IL",
             "postalCode": "62705", "country": "USA"}
        ])
    );
    assert_eq!(
        coding(&patient["maritalStatus"]),
        ("http://terminology.hl7.org/CodeSystem/v2-0002", "M")
    );
    assert_eq!(
        patient["communication"][0]["language"]["coding"][0]["code"],
        "ENG"
    );
    assert_eq!(patient["communication"][0]["preferred"], true);
    assert_eq!(patient["multipleBirthBoolean"], false);
}

#[test]
fn a01_encounter_with_practitioners_and_location() {
    let bundle = mapped("adt_a01");
    assert_eq!(
        bundle.entries().len(),
        5,
        "Patient, Location, 2 Practitioners, Encounter"
    );
    let patient = bundle.only("Patient");
    let entry = bundle.only("Encounter");
    assert_eq!(method(entry), "PUT");
    assert_eq!(
        entry["request"]["url"],
        format!("Encounter?{VISIT_CRITERIA}")
    );
    let encounter = &entry["resource"];
    assert_eq!(
        encounter["identifier"],
        json!([{"type": {"coding": [{"system": V2_0203, "code": "VN"}]},
                "system": "urn:id:GOOD%20HEALTH%20HOSPITAL", "value": "V-20240305-01"}])
    );
    assert_eq!(encounter["status"], "in-progress");
    assert_eq!(
        encounter["class"],
        json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP",
               "display": "inpatient encounter"})
    );
    assert_eq!(
        encounter["period"],
        json!({"start": "2024-03-05T08:00:00-05:00"})
    );
    assert_eq!(encounter["subject"]["reference"], patient["fullUrl"]);
    assert_eq!(coding(&encounter["serviceType"]).1, "MED");
    assert_eq!(coding(&encounter["hospitalization"]["admitSource"]).1, "7");

    let participants = encounter["participant"].as_array().unwrap();
    let roles: Vec<&str> = participants
        .iter()
        .map(|p| p["type"][0]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["ATND", "REF", "ADM"]);
    let attending = bundle.target(&participants[0]["individual"]);
    assert_eq!(method(attending), "POST");
    assert_eq!(
        attending["request"]["ifNoneExist"],
        "identifier=urn:id:GOOD%2520HEALTH%2520HOSPITAL|1234567"
    );
    assert_eq!(
        attending["resource"]["name"][0],
        json!({"family": "Attend", "given": ["Adam", "J"], "prefix": ["Dr"], "suffix": ["MD"]})
    );
    assert_eq!(participants[0]["individual"]["display"], "Adam J Attend");
    // PV1-8 has no assigning authority: the sender's facility qualifies the id.
    let referring = bundle.target(&participants[1]["individual"]);
    assert_eq!(
        referring["resource"]["identifier"][0],
        json!({"system": "urn:id:GOOD%20HEALTH%20HOSPITAL", "value": "7654321"})
    );
    // The admitting doctor is the attending one: one Practitioner entry, referenced twice.
    assert_eq!(
        participants[2]["individual"]["reference"],
        participants[0]["individual"]["reference"]
    );
    assert_eq!(bundle.of_type("Practitioner").len(), 2);

    let location = bundle.target(&encounter["location"][0]["location"]);
    assert_eq!(method(location), "POST");
    assert_eq!(
        location["request"]["ifNoneExist"],
        "identifier=urn:id:GOOD%2520HEALTH%2520HOSPITAL|4W%5E401%5EB"
    );
    assert_eq!(location["resource"]["identifier"][0]["value"], "4W^401^B");
    assert_eq!(location["resource"]["name"], "4W 401 B");
    assert_eq!(
        location["resource"]["physicalType"]["coding"][0]["code"],
        "bd"
    );
}

#[test]
fn a08_null_fields_are_left_out_and_a_discharge_time_finishes_the_visit() {
    let bundle = mapped("adt_a08");
    let patient = &bundle.only("Patient")["resource"];
    // PID-13 and PID-16 are "", PID-11 is absent: all three simply not there.
    assert_eq!(
        patient["telecom"],
        json!([{"system": "phone", "value": "(217)555-0110", "use": "work"}])
    );
    for absent in ["address", "maritalStatus", "_birthDate", "deceasedBoolean"] {
        assert!(patient.get(absent).is_none(), "{absent}");
    }
    let encounter = &bundle.only("Encounter")["resource"];
    assert_eq!(encounter["status"], "finished");
    assert_eq!(
        encounter["period"],
        json!({"start": "2024-03-05T08:00:00-05:00", "end": "2024-03-07T15:00:00-05:00"})
    );
}

#[test]
fn a03_discharge_ends_at_the_event_time_without_pv1_45() {
    let bundle = mapped("adt_a03");
    let entry = bundle.only("Encounter");
    assert_eq!(
        entry["request"]["url"],
        format!("Encounter?{VISIT_CRITERIA}")
    );
    let encounter = &entry["resource"];
    assert_eq!(encounter["status"], "finished");
    assert_eq!(encounter["period"]["end"], "2024-03-08T11:30:00-05:00");
    assert_eq!(
        coding(&encounter["hospitalization"]["dischargeDisposition"]),
        ("http://terminology.hl7.org/CodeSystem/v2-0112", "01")
    );
    // Without EVN-6, EVN-2.
    let text = variant("adt_a03", "|||20240308113000-0500\r", "|||\r");
    let encounter = map_text(&text).only("Encounter")["resource"].clone();
    assert_eq!(encounter["period"]["end"], "2024-03-08T12:00:00-05:00");
}

#[test]
fn adt_events_set_the_encounter_status() {
    for (event, structure, status) in [
        ("A04", "ADT_A01", "in-progress"),
        ("A05", "ADT_A01", "planned"),
        ("A11", "ADT_A09", "cancelled"),
        ("A13", "ADT_A01", "in-progress"),
    ] {
        let text = variant(
            "adt_a01",
            "ADT^A01^ADT_A01",
            &format!("ADT^{event}^{structure}"),
        );
        let bundle = map_text(&text);
        let entry = bundle.only("Encounter");
        // Every event addresses the same Encounter.
        assert_eq!(
            entry["request"]["url"],
            format!("Encounter?{VISIT_CRITERIA}"),
            "{event}"
        );
        assert_eq!(entry["resource"]["status"], status, "{event}");
        assert!(entry["resource"]["period"].get("end").is_none(), "{event}");
    }
    // A13 (cancel discharge) drops an end the message still carries.
    let text = variant("adt_a08", "ADT^A08^ADT_A01", "ADT^A13^ADT_A01");
    let encounter = map_text(&text).only("Encounter")["resource"].clone();
    assert_eq!(encounter["status"], "in-progress");
    assert_eq!(
        encounter["period"],
        json!({"start": "2024-03-05T08:00:00-05:00"})
    );
}

#[test]
fn person_information_events_and_visitless_pv1_write_the_patient_only() {
    for event in ["A28", "A31"] {
        let text = variant(
            "adt_a01",
            "ADT^A01^ADT_A01",
            &format!("ADT^{event}^ADT_A05"),
        );
        let bundle = map_text(&text);
        assert_eq!(bundle.request_keys(), [PATIENT_URL], "{event}");
    }
    let text = fixture("adt_a08");
    let pv1_start = text.find("PV1|").unwrap();
    let without_visit = format!("{}PV1|1|N\r", &text[..pv1_start]);
    assert_eq!(map_text(&without_visit).request_keys(), [PATIENT_URL]);
}

#[test]
fn encounters_without_a_visit_number_get_a_stable_identifier() {
    let without_visit_number =
        |name: &str| variant(name, "V-20240305-01^^^GOOD HEALTH HOSPITAL^VN", "");
    let admit = map_text(&without_visit_number("adt_a01"));
    let expected =
        "Encounter?identifier=urn:id:GOOD%2520HEALTH%2520HOSPITAL|MRN10045-202403050800000500";
    assert_eq!(admit.only("Encounter")["request"]["url"], expected);
    // A later message about the same admission finds the same Encounter.
    let update = map_text(&without_visit_number("adt_a08"));
    assert_eq!(update.only("Encounter")["request"]["url"], expected);
    // Without an admit time either, the message control id is all there is.
    let bare = without_visit_number("adt_a01").replace("|20240305080000-0500\r", "|\r");
    assert_eq!(
        map_text(&bare).only("Encounter")["request"]["url"],
        "Encounter?identifier=urn:id:GOOD%2520HEALTH%2520HOSPITAL|msg-MSG-A01-0001"
    );
}

#[test]
fn a40_links_the_survivor_and_the_merged_patient() {
    let bundle = mapped("adt_a40");
    assert_eq!(
        bundle.request_keys(),
        [
            PATIENT_URL,
            "Patient?identifier=urn:oid:2.16.840.1.113883.19.5|MRN20931"
        ]
    );
    let survivor = &bundle.entries()[0];
    let merged = &bundle.entries()[1];
    assert_eq!(survivor["resource"]["link"][0]["type"], "replaces");
    assert_eq!(
        bundle.target(&survivor["resource"]["link"][0]["other"]),
        merged
    );
    assert_eq!(survivor["resource"]["name"][0]["family"], "O'Brien-Smith");
    assert!(survivor["resource"].get("active").is_none());
    let old = &merged["resource"];
    assert_eq!(old["active"], false);
    assert_eq!(old["link"][0]["type"], "replaced-by");
    assert_eq!(bundle.target(&old["link"][0]["other"]), survivor);
    assert_eq!(old["identifier"][0]["value"], "MRN20931");
    assert_eq!(old["identifier"][0]["system"], MRN_SYSTEM);
    assert_eq!(
        old["name"],
        json!([{"family": "OBrien", "given": ["Mary"]}])
    );
}

#[test]
fn merges_names_both_patients_as_the_bundle_finds_them() {
    let text = fixture("adt_a40");
    let message = medulla_hl7v2::parse(text.as_bytes(), &Default::default()).unwrap();
    assert_eq!(
        mapping::merges(&message),
        [(
            (MRN_SYSTEM.to_owned(), "MRN10045".to_owned()),
            (MRN_SYSTEM.to_owned(), "MRN20931".to_owned())
        )]
    );
    let admit = fixture("adt_a01");
    let message = medulla_hl7v2::parse(admit.as_bytes(), &Default::default()).unwrap();
    assert!(mapping::merges(&message).is_empty());
    // A merge of a patient into itself is refused.
    let itself = variant("adt_a40", "MRG|MRN20931", "MRG|MRN10045");
    assert!(is_invalid(&error_of(&itself), "205", "MRG^1^1"));
}

// ---------------------------------------------------------------------------------------
// ORU

#[test]
fn oru_reports_and_their_observations() {
    let bundle = mapped("oru_r01");
    let patient = bundle.only("Patient");
    // A lab message never overwrites demographics: the Patient is created only when missing.
    assert_eq!(method(patient), "POST");
    assert_eq!(
        patient["request"]["ifNoneExist"],
        "identifier=urn:oid:2.16.840.1.113883.19.5|MRN10045"
    );
    let encounter = bundle.only("Encounter");
    assert_eq!(method(encounter), "POST");
    assert_eq!(encounter["request"]["ifNoneExist"], VISIT_CRITERIA);
    assert_eq!(encounter["resource"]["status"], "unknown");

    let reports = bundle.of_type("DiagnosticReport");
    assert_eq!(reports.len(), 2);
    let chemistry = bundle.at("DiagnosticReport?identifier=urn:id:LABSYS|LAB-88001");
    assert_eq!(method(chemistry), "PUT");
    let report = &chemistry["resource"];
    assert_eq!(
        report["identifier"],
        json!([
            {"type": {"coding": [{"system": V2_0203, "code": "FILL"}]}, "system": "urn:id:LABSYS", "value": "LAB-88001"},
            {"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]}, "system": "urn:id:EHR", "value": "ORD-5501"}
        ])
    );
    assert_eq!(report["status"], "final");
    assert_eq!(coding(&report["code"]), (LOINC, "24323-8"));
    assert_eq!(
        coding(&report["category"][0]),
        ("http://terminology.hl7.org/CodeSystem/v2-0074", "CH")
    );
    assert_eq!(report["effectiveDateTime"], "2024-03-06T07:15:00-05:00");
    assert_eq!(report["issued"], "2024-03-06T14:10:00-05:00");
    assert_eq!(report["subject"]["reference"], patient["fullUrl"]);
    assert_eq!(report["encounter"]["reference"], encounter["fullUrl"]);
    let interpreter = bundle.target(&report["performer"][0]);
    assert_eq!(
        interpreter["resource"]["identifier"][0],
        json!({"system": "urn:id:GOOD%20HEALTH%20LAB", "value": "9988"})
    );
    assert_eq!(interpreter["resource"]["name"][0]["family"], "Patho");
    let results: Vec<String> = report["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reference| request_key(bundle.target(reference)))
        .collect();
    let expected: Vec<String> = (1..=7)
        .map(|set_id| format!("Observation?identifier=urn:id:LABSYS|LAB-88001-{set_id}"))
        .collect();
    assert_eq!(results, expected);

    let hematology = &bundle.at("DiagnosticReport?identifier=urn:id:LABSYS|LAB-88002")["resource"];
    assert_eq!(hematology["status"], "preliminary");
    assert_eq!(coding(&hematology["code"]), (LOINC, "58410-2"));
    assert_eq!(hematology["result"].as_array().unwrap().len(), 5);
    assert!(hematology.get("issued").is_none());
    assert_eq!(bundle.of_type("Observation").len(), 12);
    for observation in bundle.of_type("Observation") {
        assert_eq!(method(observation), "PUT");
        assert_eq!(
            observation["resource"]["subject"]["reference"],
            patient["fullUrl"]
        );
        assert_eq!(
            observation["resource"]["encounter"]["reference"],
            encounter["fullUrl"]
        );
    }
}

fn observation(bundle: &Mapped, filler: &str, set_id: u32) -> Value {
    bundle.at(&format!(
        "Observation?identifier=urn:id:LABSYS|{filler}-{set_id}"
    ))["resource"]
        .clone()
}

#[test]
fn oru_numeric_results_with_units_ranges_and_flags() {
    let bundle = mapped("oru_r01");
    let glucose = observation(&bundle, "LAB-88001", 1);
    assert_eq!(glucose["status"], "final");
    assert_eq!(coding(&glucose["code"]), (LOINC, "2345-7"));
    assert_eq!(
        glucose["valueQuantity"],
        json!({"value": 182, "unit": "milligram per deciliter", "system": UCUM, "code": "mg/dL"})
    );
    assert_eq!(
        glucose["interpretation"],
        json!([{"coding": [{"system": INTERPRETATION, "code": "H", "display": "High"}]}])
    );
    let unit = json!({"unit": "milligram per deciliter", "system": UCUM, "code": "mg/dL"});
    let with_value = |value: u32| {
        let mut quantity = unit.clone();
        quantity["value"] = json!(value);
        quantity
    };
    assert_eq!(
        glucose["referenceRange"],
        json!([{"low": with_value(70), "high": with_value(99)}])
    );
    assert_eq!(glucose["effectiveDateTime"], "2024-03-06T07:15:00-05:00");

    // Units without a coding system are UCUM; the NTE after the OBX is its note.
    let potassium = observation(&bundle, "LAB-88001", 2);
    assert_eq!(
        potassium["valueQuantity"],
        json!({"value": 3.2, "unit": "mmol/L", "system": UCUM, "code": "mmol/L"})
    );
    assert_eq!(potassium["referenceRange"][0]["low"]["value"], json!(3.5));
    assert_eq!(potassium["interpretation"][0]["coding"][0]["code"], "L");
    assert_eq!(potassium["note"], json!([{"text": "Repeated & confirmed"}]));

    // Decimals keep their digits: 12.0 stays 12.0.
    let hemoglobin = observation(&bundle, "LAB-88002", 1);
    assert_eq!(number(&hemoglobin["valueQuantity"]["value"]), "6.8");
    assert_eq!(
        number(&hemoglobin["referenceRange"][0]["low"]["value"]),
        "12.0"
    );
    assert_eq!(
        number(&hemoglobin["referenceRange"][0]["high"]["value"]),
        "16.0"
    );
    let flags: Vec<&str> = hemoglobin["interpretation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|flag| coding(flag).1)
        .collect();
    assert_eq!(flags, ["LL", "A"]);
    assert_eq!(hemoglobin["status"], "preliminary");
    // No OBX-14: the order's OBR-7.
    assert_eq!(hemoglobin["effectiveDateTime"], "2024-03-06T07:15:00-05:00");
}

#[test]
fn oru_structured_numeric_results() {
    let bundle = mapped("oru_r01");
    let creatinine = observation(&bundle, "LAB-88001", 3);
    assert_eq!(
        creatinine["valueQuantity"],
        json!({"value": 0.3, "comparator": "<", "unit": "mg/dL", "system": UCUM, "code": "mg/dL"})
    );
    let egfr = observation(&bundle, "LAB-88001", 4);
    assert_eq!(egfr["valueQuantity"]["comparator"], ">=");
    assert_eq!(egfr["valueQuantity"]["value"], json!(60));
    assert_eq!(egfr["valueQuantity"]["code"], "mL/min/{1.73_m2}");
    // ">60": a lower bound only.
    assert_eq!(egfr["referenceRange"][0]["low"]["value"], json!(60));
    assert!(egfr["referenceRange"][0].get("high").is_none());
    assert_eq!(egfr["interpretation"][0]["coding"][0]["code"], "N");

    let leukocytes = observation(&bundle, "LAB-88002", 2);
    assert_eq!(
        leukocytes["valueRange"],
        json!({"low": {"value": 10, "unit": "/[HPF]", "system": UCUM, "code": "/[HPF]"},
               "high": {"value": 20, "unit": "/[HPF]", "system": UCUM, "code": "/[HPF]"}})
    );
    let titer = observation(&bundle, "LAB-88002", 3);
    assert_eq!(
        titer["valueRatio"],
        json!({"numerator": {"value": 1}, "denominator": {"value": 128}})
    );
    assert_eq!(coding(&titer["code"]), ("urn:id:99LAB", "RUBG"));
}

#[test]
fn oru_text_coded_and_date_results() {
    let bundle = mapped("oru_r01");
    // ST with \F\, \E\ and \S\ escapes.
    assert_eq!(
        observation(&bundle, "LAB-88001", 5)["valueString"],
        "Hemolysis index 1|2 \\ lipemia ^ none"
    );
    assert_eq!(
        observation(&bundle, "LAB-88001", 6)["valueDateTime"],
        "2024-02-15"
    );
    // FT: \.br\ is a line break, \T\ an ampersand.
    assert_eq!(
        observation(&bundle, "LAB-88001", 7)["valueString"],
        "Fasting specimen.\nGlucose & potassium reviewed."
    );
    // TX repetitions are lines.
    assert_eq!(
        observation(&bundle, "LAB-88002", 5)["valueString"],
        "Red cells normochromic.\nOccasional target cells.\nNo blasts seen."
    );
    let blood_group = observation(&bundle, "LAB-88002", 4);
    assert_eq!(
        blood_group["valueCodeableConcept"],
        json!({"coding": [
            {"system": "http://snomed.info/sct", "code": "112144000", "display": "Blood group A (finding)"},
            {"system": "urn:id:L", "code": "A", "display": "Group A"}
        ], "text": "Blood group A (finding)"})
    );
}

#[test]
fn a_corrected_result_addresses_the_same_resources() {
    let original = mapped("oru_r01");
    let corrected = mapped("oru_r01_corrected");
    assert_eq!(original.request_keys(), corrected.request_keys());
    let potassium = observation(&corrected, "LAB-88001", 2);
    assert_eq!(potassium["status"], "corrected");
    assert_eq!(potassium["valueQuantity"]["value"], json!(3.6));
    assert_eq!(
        corrected.at("DiagnosticReport?identifier=urn:id:LABSYS|LAB-88001")["resource"]["status"],
        "corrected"
    );
    // Different messages, different placeholders; the same message, the same Bundle.
    assert_ne!(
        original.only("Patient")["fullUrl"],
        corrected.only("Patient")["fullUrl"]
    );
    assert_eq!(mapped("oru_r01").0, original.0);
}

#[test]
fn oru_set_ids_identify_observations_within_their_order() {
    // No OBX-1: the position in the order stands in.
    let text = variant("oru_r01", "OBX|2|NM|2823-3", "OBX||NM|2823-3");
    assert_eq!(
        observation(&map_text(&text), "LAB-88001", 2)["code"]["coding"][0]["code"],
        "2823-3"
    );
    // A sub-id becomes part of the identifier.
    let text = variant("oru_r01", "Plasma^LN||3.2|", "Plasma^LN|a|3.2|");
    let bundle = map_text(&text);
    assert_eq!(
        bundle.at("Observation?identifier=urn:id:LABSYS|LAB-88001-2-a")["resource"]["code"]["coding"]
            [0]["code"],
        "2823-3"
    );
    // The same set id twice in one order contradicts itself.
    let text = variant("oru_r01", "OBX|2|NM|2823-3", "OBX|1|NM|2823-3");
    assert!(is_invalid(&error_of(&text), "205", "OBX^2^1"));
}

// ---------------------------------------------------------------------------------------
// ORM / OML

#[test]
fn orm_service_requests() {
    let bundle = mapped("orm_o01");
    let patient = bundle.only("Patient");
    assert_eq!(method(patient), "POST");
    let encounter = bundle.only("Encounter");
    assert_eq!(bundle.of_type("ServiceRequest").len(), 2);
    let panel = bundle.at("ServiceRequest?identifier=urn:id:EHR|ORD-5501");
    assert_eq!(method(panel), "PUT");
    let request = &panel["resource"];
    assert_eq!(
        request["identifier"],
        json!([{"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]}, "system": "urn:id:EHR", "value": "ORD-5501"}])
    );
    assert_eq!(request["status"], "active");
    assert_eq!(request["intent"], "order");
    assert_eq!(request["priority"], "stat");
    assert_eq!(coding(&request["code"]), (LOINC, "24323-8"));
    assert_eq!(request["authoredOn"], "2024-03-06T06:50:00-05:00");
    assert_eq!(request["subject"]["reference"], patient["fullUrl"]);
    assert_eq!(request["encounter"]["reference"], encounter["fullUrl"]);
    let requester = bundle.target(&request["requester"]);
    assert_eq!(requester["resource"]["identifier"][0]["value"], "1234567");
    let count = &bundle.at("ServiceRequest?identifier=urn:id:EHR|ORD-5502")["resource"];
    assert_eq!(count["priority"], "routine");
    assert_eq!(count["status"], "active"); // ORC-5 SC
    assert_eq!(
        count["requester"]["reference"],
        request["requester"]["reference"]
    );
}

#[test]
fn order_status_from_order_control_and_order_status() {
    let status_of = |text: &str| {
        map_text(text).at("ServiceRequest?identifier=urn:id:EHR|ORD-5501")["resource"]["status"]
            .clone()
    };
    assert_eq!(
        status_of(&variant("orm_o01", "ORC|NW|ORD-5501", "ORC|CA|ORD-5501")),
        "revoked"
    );
    assert_eq!(
        status_of(&variant("orm_o01", "ORC|NW|ORD-5501", "ORC|HD|ORD-5501")),
        "on-hold"
    );
    assert_eq!(
        status_of(&variant(
            "orm_o01",
            "ORC|NW|ORD-5501^EHR|||||",
            "ORC|SC|ORD-5501^EHR|||CM||"
        )),
        "completed"
    );
    let unknown = variant("orm_o01", "|SC|", "|ZZ|");
    assert!(is_invalid(&error_of(&unknown), "103", "ORC^2^5"));
}

#[test]
fn oml_service_request() {
    let bundle = mapped("oml_o21");
    assert!(bundle.of_type("Encounter").is_empty());
    let request = &bundle.only("ServiceRequest")["resource"];
    assert_eq!(
        bundle.only("ServiceRequest")["request"]["url"],
        "ServiceRequest?identifier=urn:id:EHR|ORD-5510"
    );
    assert_eq!(request["priority"], "asap"); // TQ1-9
    assert_eq!(request["identifier"][1]["value"], "LAB-88010");
    assert_eq!(
        request["identifier"][1]["type"]["coding"][0]["code"],
        "FILL"
    );
    assert_eq!(coding(&request["code"]), (LOINC, "4548-4"));
    assert!(request.get("encounter").is_none());
}

// ---------------------------------------------------------------------------------------
// VXU

#[test]
fn vxu_immunizations_given_and_refused() {
    let bundle = mapped("vxu_v04");
    let patient = bundle.only("Patient");
    assert_eq!(
        patient["request"]["ifNoneExist"],
        "identifier=urn:id:PEDS%2520CLINIC|PEDS-3344"
    );
    assert_eq!(bundle.of_type("Immunization").len(), 2);
    let given = bundle.at("Immunization?identifier=urn:id:PEDS%2520CLINIC|IMM-99001");
    assert_eq!(method(given), "PUT");
    let given = &given["resource"];
    assert_eq!(given["status"], "completed");
    assert_eq!(
        coding(&given["vaccineCode"]),
        ("http://hl7.org/fhir/sid/cvx", "08")
    );
    assert_eq!(given["patient"]["reference"], patient["fullUrl"]);
    assert_eq!(given["occurrenceDateTime"], "2024-04-01T10:15:00-04:00");
    assert_eq!(
        given["doseQuantity"],
        json!({"value": 0.5, "unit": "milliliter", "system": UCUM, "code": "mL"})
    );
    assert_eq!(given["lotNumber"], "HB7749AA");
    assert_eq!(given["expirationDate"], "2025-12-31");
    assert_eq!(
        given["manufacturer"],
        json!({"display": "Merck and Co., Inc."})
    );
    assert_eq!(
        coding(&given["route"]),
        (
            "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
            "C28161"
        )
    );
    assert_eq!(
        coding(&given["site"]),
        ("http://terminology.hl7.org/CodeSystem/v2-0163", "RT")
    );
    assert_eq!(given["primarySource"], true);
    assert_eq!(given["performer"][0]["function"]["coding"][0]["code"], "AP");
    let nurse = bundle.target(&given["performer"][0]["actor"]);
    assert_eq!(nurse["resource"]["identifier"][0]["value"], "4455");
    assert!(given.get("isSubpotent").is_none());
    assert!(given.get("statusReason").is_none());

    // The refusal: ORC-3 is CDC's 9999 placeholder, so the identifier is made from the
    // patient, the vaccine and the time; 999 means no amount.
    let refused = bundle
        .at("Immunization?identifier=urn:id:PEDS%2520CLINIC|PEDS-3344-03-20240401101500-0400");
    let refused = &refused["resource"];
    assert_eq!(refused["status"], "not-done");
    assert_eq!(coding(&refused["vaccineCode"]).1, "03");
    assert_eq!(refused["statusReason"]["coding"][0]["code"], "00");
    assert_eq!(refused["statusReason"]["text"], "Parental decision");
    assert!(refused.get("doseQuantity").is_none());
    assert!(refused.get("performer").is_none());
}

#[test]
fn vxu_partial_doses_and_deletions() {
    let partial = variant("vxu_v04", "|CP|A", "|PA|A");
    let given = map_text(&partial).at("Immunization?identifier=urn:id:PEDS%2520CLINIC|IMM-99001")["resource"].clone();
    assert_eq!(
        (given["status"].as_str(), given["isSubpotent"].as_bool()),
        (Some("completed"), Some(true))
    );
    let deleted = variant("vxu_v04", "|CP|A", "|CP|D");
    let given = map_text(&deleted).at("Immunization?identifier=urn:id:PEDS%2520CLINIC|IMM-99001")["resource"].clone();
    assert_eq!(given["status"], "entered-in-error");
    let unknown = variant("vxu_v04", "|CP|A", "|XX|A");
    assert!(is_invalid(&error_of(&unknown), "103", "RXA^1^20"));
}

// ---------------------------------------------------------------------------------------
// SIU

#[test]
fn siu_appointment() {
    let bundle = mapped("siu_s12");
    let entry = bundle.only("Appointment");
    assert_eq!(method(entry), "PUT");
    assert_eq!(
        entry["request"]["url"],
        "Appointment?identifier=urn:id:SCHED|APT-5521"
    );
    let appointment = &entry["resource"];
    assert_eq!(
        appointment["identifier"],
        json!([
            {"type": {"coding": [{"system": V2_0203, "code": "PLAC"}]}, "system": "urn:id:EHR", "value": "APT-PL-778"},
            {"type": {"coding": [{"system": V2_0203, "code": "FILL"}]}, "system": "urn:id:SCHED", "value": "APT-5521"}
        ])
    );
    assert_eq!(appointment["status"], "booked");
    assert_eq!(appointment["start"], "2024-03-25T14:00:00-05:00");
    assert_eq!(appointment["end"], "2024-03-25T14:30:00-05:00");
    assert_eq!(appointment["minutesDuration"], 30);
    assert_eq!(
        coding(&appointment["serviceType"][0]),
        ("http://www.ama-assn.org/go/cpt", "99213")
    );
    assert_eq!(
        coding(&appointment["appointmentType"]),
        ("http://terminology.hl7.org/CodeSystem/v2-0277", "NORMAL")
    );
    assert_eq!(
        coding(&appointment["reasonCode"][0]),
        ("http://terminology.hl7.org/CodeSystem/v2-0276", "FOLLOWUP")
    );
    let participants = appointment["participant"].as_array().unwrap();
    assert_eq!(participants.len(), 3);
    assert!(participants.iter().all(|p| p["status"] == "accepted"));
    let kinds: Vec<&str> = participants
        .iter()
        .map(|p| {
            bundle.target(&p["actor"])["resource"]["resourceType"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(kinds, ["Patient", "Practitioner", "Location"]);
    let room = bundle.target(&participants[2]["actor"]);
    assert_eq!(
        room["resource"]["identifier"][0]["value"],
        "CLINIC-B^EXAM-3"
    );
    assert_eq!(
        room["resource"]["identifier"][0]["system"],
        "urn:id:GOOD%20HEALTH%20CLINIC"
    );
    assert_eq!(room["resource"]["physicalType"]["coding"][0]["code"], "ro");
}

#[test]
fn siu_events_and_timing() {
    for (event, status) in [
        ("S13", "booked"),
        ("S14", "booked"),
        ("S15", "cancelled"),
        ("S17", "entered-in-error"),
        ("S26", "noshow"),
    ] {
        let text = variant(
            "siu_s12",
            "SIU^S12^SIU_S12",
            &format!("SIU^{event}^SIU_S12"),
        );
        assert_eq!(
            map_text(&text).only("Appointment")["resource"]["status"],
            status,
            "{event}"
        );
    }
    let pending = variant("siu_s12", "|Booked", "|Pending");
    assert_eq!(
        map_text(&pending).only("Appointment")["resource"]["status"],
        "pending"
    );
    let bogus = variant("siu_s12", "|Booked", "|Bogus");
    assert!(is_invalid(&error_of(&bogus), "103", "SCH^1^25"));

    // Without SCH-11: the start from AIS-4, the end from the duration.
    let no_timing = variant(
        "siu_s12",
        "^^30^20240325140000-0500^20240325143000-0500",
        "",
    );
    let appointment = map_text(&no_timing).only("Appointment")["resource"].clone();
    assert_eq!(appointment["start"], "2024-03-25T14:00:00-05:00");
    assert_eq!(appointment["end"], "2024-03-25T14:30:00-05:00");
    // SCH-9/10 in hours win over AIS-7/8.
    let hours = no_timing.replace("|30|MIN|", "|1|HR|");
    let appointment = map_text(&hours).only("Appointment")["resource"].clone();
    assert_eq!(appointment["end"], "2024-03-25T15:00:00-05:00");
    assert_eq!(appointment["minutesDuration"], 60);
    // A start with no end and no duration: neither is written (FHIR wants both or none).
    let no_end = no_timing
        .replace("|30|MIN|", "|||")
        .replace("|30|MIN\r", "||\r");
    let appointment = map_text(&no_end).only("Appointment")["resource"].clone();
    assert!(appointment.get("start").is_none() && appointment.get("end").is_none());
    assert!(appointment.get("minutesDuration").is_none());
    let malformed = variant(
        "siu_s12",
        "^20240325140000-0500^2024",
        "^20241325140000-0500^2024",
    );
    assert!(is_invalid(&error_of(&malformed), "102", "SCH^1^11^1^4"));
}

// ---------------------------------------------------------------------------------------
// What is refused

#[test]
fn unsupported_types_and_events_are_named() {
    for (kind, shown) in [
        ("MFN^M02^MFN_M02", "MFN^M02"),
        ("ADT^A17^ADT_A17", "ADT^A17"),
        ("SIU^S16^SIU_S12", "SIU^S16"),
        ("ORU^R30^ORU_R30", "ORU^R30"),
    ] {
        let text = variant("adt_a01", "ADT^A01^ADT_A01", kind);
        match error_of(&text) {
            MapError::Unsupported(text) => assert!(text.contains(shown), "{text}"),
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[test]
fn invalid_data_is_located_and_never_quoted() {
    let cases = [
        (
            variant(
                "adt_a01",
                "|MRN10045^^^GOOD HEALTH HOSPITAL&2.16.840.1.113883.19.5&ISO^MR~EMP-7788^^^ACME CORP^EI~444-55-6666^^^USSSA&2.16.840.1.113883.4.1&ISO^SS|",
                "||",
            ),
            "101",
            "PID^1^3",
        ),
        (
            variant(
                "adt_a08",
                "|MRN10045^^^GOOD HEALTH HOSPITAL&2.16.840.1.113883.19.5&ISO^MR|",
                "|\"\"|",
            ),
            "101",
            "PID^1^3",
        ),
        (
            variant("adt_a01", "|19790214093000|", "|19790230093000|"),
            "102",
            "PID^1^7",
        ),
        (
            variant("adt_a01", "|19790214093000|F|", "|19790214093000|Q|"),
            "103",
            "PID^1^8",
        ),
        (
            variant("adt_a08", "|20240307150000-0500", "|2024-03-07"),
            "102",
            "PV1^1^45",
        ),
        (variant("oru_r01", "||3.2|", "||O'Brien|"), "102", "OBX^2^5"),
        (
            variant(
                "oru_r01",
                "|2823-3^Potassium [Moles/volume] in Serum or Plasma^LN|",
                "||",
            ),
            "101",
            "OBX^2^3",
        ),
        (
            variant("oru_r01", "|L|||F\r", "|L|||Q\r"),
            "103",
            "OBX^2^11",
        ),
        (variant("oru_r01", "|CH|F|", "|CH|Q|"), "103", "OBR^1^25"),
        (
            variant(
                "oru_r01",
                "ORC|RE|ORD-5501^EHR|LAB-88001^LABSYS\rOBR|1|ORD-5501^EHR|LAB-88001^LABSYS|",
                "ORC|RE\rOBR|1|||",
            ),
            "101",
            "OBR^1^3",
        ),
        (
            variant("vxu_v04", "|08^Hep B, adolescent or pediatric^CVX|", "||"),
            "101",
            "RXA^1^5",
        ),
        (
            variant("siu_s12", "SCH|APT-PL-778^EHR|APT-5521^SCHED|", "SCH|||"),
            "101",
            "SCH^1^2",
        ),
    ];
    for (text, code, location) in &cases {
        let error = error_of(text);
        assert!(is_invalid(&error, code, location), "{location}: {error:?}");
        let MapError::Invalid { text, .. } = &error else {
            unreachable!()
        };
        for private in ["MRN10045", "O'Brien", "Mary", "19790230", "Q"] {
            assert!(!text.contains(private), "{text:?} quotes {private:?}");
        }
    }
    // No PID at all.
    let text = fixture("adt_a01");
    let without_pid: String = text
        .split('\r')
        .filter(|s| !s.starts_with("PID|"))
        .collect::<Vec<_>>()
        .join("\r");
    assert!(is_invalid(&error_of(&without_pid), "101", "PID^1^3"));
}

// ---------------------------------------------------------------------------------------
// Against the engine

#[test]
fn every_resource_passes_the_fhir_structure_check() {
    for name in FIXTURES {
        for entry in mapped(name).entries() {
            let resource = &entry["resource"];
            if let Err(error) = medulla_engine::check_resource(resource) {
                panic!(
                    "{name}: {} fails the check: {error:?}\n{resource:#}",
                    resource["resourceType"]
                );
            }
        }
    }
}

struct Store {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    engine: Engine,
}

impl Store {
    fn open() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path(), Default::default()).unwrap());
        let engine = Engine::new(store.clone(), Default::default());
        Store {
            _dir: dir,
            store,
            engine,
        }
    }

    /// Writes a fixture's Bundle; the HTTP status of each entry.
    async fn apply(&self, name: &str) -> Vec<u16> {
        let response = self.engine.process_bundle(mapped(name).0).await;
        let response = response.unwrap_or_else(|error| panic!("{name}: {error}"));
        response
            .entries
            .into_iter()
            .map(|entry| entry.unwrap().status)
            .collect()
    }

    fn search(&self, resource_type: &str, query: &[(&str, &str)]) -> Value {
        let params: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let bundle = self
            .engine
            .search_bundle(
                &[resource_type.to_owned()],
                resource_type,
                &params,
                Handling::Strict,
            )
            .unwrap();
        serde_json::from_slice(&bundle).unwrap()
    }

    fn count(&self, resource_type: &str) -> u64 {
        self.search(resource_type, &[("_summary", "count")])["total"]
            .as_u64()
            .unwrap()
    }

    fn find(&self, resource_type: &str, identifier: &str) -> Value {
        let found = self.search(resource_type, &[("identifier", identifier)]);
        let entries = found["entry"].as_array().map_or(0, Vec::len);
        assert_eq!(entries, 1, "{resource_type}?identifier={identifier}");
        found["entry"][0]["resource"].clone()
    }
}

#[tokio::test]
async fn bundles_are_accepted_and_idempotent_in_the_engine() {
    let store = Store::open();
    // The admission creates everything.
    assert_eq!(store.apply("adt_a01").await, [201, 201, 201, 201, 201]);
    // Results: Patient and Encounter are found, not made again; the report is new.
    let statuses = store.apply("oru_r01").await;
    assert_eq!(
        &statuses[..3],
        [200, 200, 200],
        "Patient, Location, Encounter"
    );
    assert_eq!(store.count("Observation"), 12);
    // The corrected results update every resource in place.
    let statuses = store.apply("oru_r01_corrected").await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    assert_eq!(store.count("Observation"), 12);
    assert_eq!(store.count("DiagnosticReport"), 2);
    let potassium = store.find("Observation", "urn:id:LABSYS|LAB-88001-2");
    assert_eq!(
        (
            potassium["status"].as_str(),
            potassium["valueQuantity"]["value"].as_f64()
        ),
        (Some("corrected"), Some(3.6))
    );
    let patient = store.find("Patient", "urn:oid:2.16.840.1.113883.19.5|MRN10045");
    let patient_reference = format!("Patient/{}", patient["id"].as_str().unwrap());
    assert_eq!(potassium["subject"]["reference"], patient_reference);
    // The lab's sparse PID did not replace the registration demographics.
    assert_eq!(patient["address"][0]["city"], "Springfield");

    for name in [
        "orm_o01", "oml_o21", "vxu_v04", "siu_s12", "adt_a08", "adt_a03",
    ] {
        store.apply(name).await;
    }
    assert_eq!(store.count("Encounter"), 1);
    assert_eq!(store.count("ServiceRequest"), 3);
    assert_eq!(store.count("Immunization"), 2);
    assert_eq!(store.count("Appointment"), 1);
    assert_eq!(store.count("Practitioner"), 4);
    assert_eq!(store.count("Location"), 2);
    let encounter = store.find("Encounter", "urn:id:GOOD%20HEALTH%20HOSPITAL|V-20240305-01");
    assert_eq!(encounter["status"], "finished");

    // The merge: the survivor keeps its id, the merged patient is new and inactive.
    store.apply("adt_a40").await;
    let survivor = store.find("Patient", "urn:oid:2.16.840.1.113883.19.5|MRN10045");
    assert_eq!(survivor["id"], patient["id"]);
    let merged = store.find("Patient", "urn:oid:2.16.840.1.113883.19.5|MRN20931");
    assert_eq!(merged["active"], false);
    assert_eq!(merged["link"][0]["other"]["reference"], patient_reference);
    assert_eq!(
        survivor["link"][0]["other"]["reference"],
        format!("Patient/{}", merged["id"].as_str().unwrap())
    );
    store.store.close();
}
