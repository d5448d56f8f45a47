//! Search parameter types over HTTP against a small, hand-checked population: string, token,
//! date, number, quantity, reference, uri, composite, `:missing` and the special parameters.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on unexpected None/Err"
)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::sync::OnceLock;
use support::{Server, ids};

const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

/// One server with the fixture population, shared by every test in this file (searches only
/// read it).
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // The population holds values chosen for search edge cases, some of which the R4
        // invariants forbid (a RiskAssessment probability of 100.6): validation is off.
        let server = Server::start_with(support::Options {
            validation: Some(medulla_engine::ValidationPolicy {
                default: medulla_engine::ValidationLevel::Off,
                ..Default::default()
            }),
            ..Default::default()
        });
        for resource in population(&server.base) {
            let path = format!(
                "{}/{}",
                resource["resourceType"].as_str().unwrap(),
                resource["id"].as_str().unwrap()
            );
            let response = server.put(&path, &resource);
            assert_eq!(response.status, 201, "{path}: {}", response.text());
        }
        server
    })
}

fn quantity(value: f64, code: &str) -> Value {
    json!({"value": value, "unit": code, "system": UCUM, "code": code})
}

fn observation(id: &str, subject: Value, code: &str, extra: Value) -> Value {
    let mut resource = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": subject,
    });
    for (name, value) in extra.as_object().unwrap() {
        resource[name] = value.clone();
    }
    resource
}

fn population(base: &str) -> Vec<Value> {
    vec![
        json!({"resourceType": "Organization", "id": "org-acme", "name": "Acme Health"}),
        json!({"resourceType": "Organization", "id": "org-other", "name": "Other Clinic"}),
        json!({
            "resourceType": "Patient", "id": "muller",
            "meta": {
                "tag": [{"system": "urn:tags", "code": "vip"}],
                "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
                "profile": ["http://example.org/StructureDefinition/special-patient"],
                "source": "http://example.org/source#abc"
            },
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Hans Müller, a <b>kangaroo</b> keeper</div>"},
            "identifier": [{
                "system": "urn:mrn", "value": "M1",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}], "text": "Medical record"}
            }],
            "active": true,
            "name": [{"family": "Müller", "given": ["Hans"]}],
            "gender": "male",
            "birthDate": "1970-05-02",
            "address": [{"line": ["Bahnhofstrasse 1"], "city": "Zürich", "country": "CH"}],
            "managingOrganization": {"reference": "Organization/org-acme"},
            "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M", "display": "Married"}], "text": "verheiratet"}
        }),
        json!({
            "resourceType": "Patient", "id": "smith",
            "identifier": [{"system": "urn:mrn", "value": "S2"}, {"value": "nosys"}],
            "active": false,
            "name": [{"family": "Smith", "given": ["Anna", "Maria"]}],
            "gender": "female",
            "birthDate": "1985-12-31",
            "address": [{"city": "Boston", "state": "MA"}],
            "managingOrganization": {"reference": "Organization/org-other"}
        }),
        json!({
            "resourceType": "Patient", "id": "mullins",
            "name": [{"family": "Mullins", "given": ["Joe"]}],
            "gender": "male",
            "birthDate": "1970"
        }),
        json!({
            "resourceType": "Patient", "id": "young",
            "identifier": [{"system": "urn:other", "value": "M1"}],
            "active": true,
            "name": [{"family": "100%_Real", "given": ["Zoë"]}],
            "birthDate": "2000-02-29"
        }),
        json!({
            "resourceType": "Patient", "id": "nobody",
            "name": [{"family": "100xxReal"}]
        }),
        // Quantities: 5.6 mg and 5 mg recorded in grams, cholesterol in mg/dL and mmol/L.
        observation(
            "glucose-high",
            json!({"reference": "Patient/muller"}),
            "2339-0",
            json!({
                "valueQuantity": quantity(0.0056, "g"),
                "effectiveDateTime": "2020-01-01T23:30:00-05:00",
                "code": {"coding": [{"system": LOINC, "code": "2339-0", "display": "Glucose [Mass/volume] in Blood"}], "text": "Blood sugar"}
            }),
        ),
        observation(
            "glucose-low",
            json!({"reference": "Patient/smith"}),
            "2339-0",
            json!({
                "valueQuantity": quantity(0.005, "g"),
                "effectiveDateTime": "2020-01-15T10:00:00Z"
            }),
        ),
        observation(
            "chol-mass",
            json!({"reference": format!("{base}/Patient/smith")}),
            "2093-3",
            json!({
                "valueQuantity": quantity(200.0, "mg/dL"),
                "effectivePeriod": {"start": "2020-02-01", "end": "2020-02-03"}
            }),
        ),
        observation(
            "chol-molar",
            json!({"reference": "http://elsewhere.example/fhir/Patient/smith"}),
            "2093-3",
            json!({
                "valueQuantity": quantity(5.2, "mmol/L")
            }),
        ),
        observation(
            "systolic",
            json!({"reference": "muller-unresolved"}),
            "8480-6",
            json!({
                "subject": {"reference": "Patient/muller/_history/1"},
                "valueQuantity": quantity(130.0, "mm[Hg]")
            }),
        ),
        observation(
            "bp",
            json!({"identifier": {"system": "urn:mrn", "value": "M1"}}),
            "85354-9",
            json!({
                "component": [
                    {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": quantity(120.0, "mm[Hg]")},
                    {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": quantity(80.0, "mm[Hg]")}
                ]
            }),
        ),
        observation(
            "no-system-unit",
            json!({"reference": "Group/g1"}),
            "29463-7",
            json!({
                "valueQuantity": {"value": 70, "unit": "kilo"}
            }),
        ),
        json!({
            "resourceType": "Encounter", "id": "enc-open", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
            "subject": {"reference": "Patient/muller"},
            "period": {"start": "2020-01-10"}
        }),
        json!({
            "resourceType": "Encounter", "id": "enc-closed", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/smith"},
            "period": {"start": "2020-01-01T08:00:00Z", "end": "2020-01-05T17:00:00Z"}
        }),
        json!({
            "resourceType": "RiskAssessment", "id": "risk-996", "status": "final",
            "subject": {"reference": "Patient/muller"},
            "prediction": [{"probabilityDecimal": 99.6}]
        }),
        json!({
            "resourceType": "RiskAssessment", "id": "risk-1006", "status": "final",
            "subject": {"reference": "Patient/muller"},
            "prediction": [{"probabilityDecimal": 100.6}]
        }),
        json!({
            "resourceType": "RiskAssessment", "id": "risk-03", "status": "final",
            "subject": {"reference": "Patient/smith"},
            "prediction": [{"probabilityDecimal": 0.3}]
        }),
        json!({"resourceType": "ValueSet", "id": "vs-colors", "status": "active",
               "url": "http://example.org/fhir/ValueSet/colors"}),
        json!({"resourceType": "ValueSet", "id": "vs-colors-ext", "status": "active",
               "url": "http://example.org/fhir/ValueSet/colors/extended"}),
        json!({"resourceType": "ValueSet", "id": "vs-other", "status": "draft",
               "url": "http://other.example/ValueSet/x"}),
        json!({"resourceType": "List", "id": "list-1", "status": "current", "mode": "working",
               "entry": [{"item": {"reference": "Patient/smith"}}, {"item": {"reference": "Patient/young"}}]}),
        json!({"resourceType": "DiagnosticReport", "id": "report", "status": "final",
               "code": {"text": "Panel"},
               "result": [{"reference": "Observation/glucose-low"}]}),
    ]
}

/// Sorted ids of the matches of `query`.
fn found(query: &str) -> Vec<String> {
    let mut found = ids(&server().search(query));
    found.sort();
    found
}

fn expect(query: &str, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(found(query), expected, "{query}");
}

#[test]
fn strings_fold_case_and_accents_and_match_prefixes() {
    expect("Patient?name=muller", &["muller"]);
    expect("Patient?name=MUL", &["muller", "mullins"]);
    expect("Patient?name=M%C3%BCller", &["muller"]);
    expect("Patient?family=m%C3%BCL", &["muller", "mullins"]);
    expect("Patient?name=ller", &[]);
    expect("Patient?name:contains=ller", &["muller"]);
    expect("Patient?name:contains=LLI", &["mullins"]);
    expect("Patient?name:exact=M%C3%BCller", &["muller"]);
    expect("Patient?name:exact=muller", &[]);
    expect("Patient?name:exact=M%C3%BCll", &[]);
    // Given names, every one of them; family and given are separate parameters.
    expect("Patient?given=maria", &["smith"]);
    expect("Patient?given=anna", &["smith"]);
    expect("Patient?family=anna", &[]);
    expect("Patient?given=zoe", &["young"]);
    expect("Patient?name=hans,joe", &["muller", "mullins"]);
    expect("Patient?name=m&name=ins", &[]);
    expect("Patient?name=m&given=joe", &["mullins"]);
    // Address parts.
    expect("Patient?address-city=zurich", &["muller"]);
    expect("Patient?address-city=Z%C3%BCR", &["muller"]);
    expect("Patient?address=bahnhof", &["muller"]);
    expect("Patient?address-state=ma", &["smith"]);
    expect("Patient?address-country=ch", &["muller"]);
    expect("Organization?name=acme", &["org-acme"]);
    // LIKE wildcards are literal characters.
    expect("Patient?family=100%25_", &["young"]);
    expect("Patient?family:contains=%25", &["young"]);
    expect("Patient?family:contains=_", &["young"]);
    expect("Patient?family=100", &["nobody", "young"]);
}

#[test]
fn tokens() {
    expect("Patient?identifier=urn:mrn|M1", &["muller"]);
    expect("Patient?identifier=M1", &["muller", "young"]);
    expect("Patient?identifier=urn:mrn|", &["muller", "smith"]);
    expect("Patient?identifier=%7Cnosys", &["smith"]);
    expect("Patient?identifier=%7CM1", &[]);
    expect("Patient?identifier=urn:mrn|m1", &[]);
    expect("Patient?gender=male", &["muller", "mullins"]);
    // FIXME: `code` elements are indexed without the system of their required binding (the
    // model has no bindings), so `system|code` finds nothing; it should find smith.
    expect(
        "Patient?gender=http://hl7.org/fhir/administrative-gender|female",
        &[],
    );
    // :not includes resources without any value.
    expect("Patient?gender:not=male", &["nobody", "smith", "young"]);
    expect(
        "Patient?identifier:not=urn:mrn|",
        &["mullins", "nobody", "young"],
    );
    // Booleans.
    expect("Patient?active=true", &["muller", "young"]);
    expect("Patient?active=false", &["smith"]);
    expect("Patient?active:not=true", &["mullins", "nobody", "smith"]);
    // :text looks at Coding.display and CodeableConcept.text, as a normalized prefix.
    expect("Observation?code:text=blood", &["glucose-high"]);
    expect("Observation?code:text=GLUCOSE", &["glucose-high"]);
    expect("Encounter?class:text=INPATIENT", &["enc-open"]);
    expect("Encounter?class:text=encounter", &[]);
    expect("Patient?identifier:text=medical", &["muller"]);
    // :of-type takes type-system|type-code|value.
    expect(
        "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|M1",
        &["muller"],
    );
    expect(
        "Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|S2",
        &[],
    );
    server()
        .get("Patient?identifier:of-type=MR|M1")
        .assert_outcome(400, "of-type");
    // Codes with a system.
    expect(
        "Observation?code=http://loinc.org|2093-3",
        &["chol-mass", "chol-molar"],
    );
    expect(
        "Observation?code=2093-3,8480-6",
        &["chol-mass", "chol-molar", "systolic"],
    );
    expect("Observation?code=http://snomed.info/sct|2093-3", &[]);
    expect("Encounter?class=IMP", &["enc-open"]);
    expect("ValueSet?status=draft", &["vs-other"]);
    for (modifier, problem) in [
        ("in", "unknown value set"),
        ("not-in", "unknown value set"),
        ("above", "takes system|code"),
        ("below", "takes system|code"),
    ] {
        server()
            .get(&format!(
                "Observation?code:{modifier}=http://example.org/vs"
            ))
            .assert_outcome(400, problem);
    }
    server()
        .get("Patient?gender:exact=male")
        .assert_outcome(400, "exact");
}

#[test]
fn date_prefixes() {
    // Birth dates: muller 1970-05-02, mullins 1970 (the whole year), smith 1985-12-31,
    // young 2000-02-29; nobody has none.
    let cases: &[(&str, &[&str])] = &[
        ("1970", &["muller", "mullins"]),
        ("1970-05", &["muller"]),
        ("1970-05-02", &["muller"]),
        ("eq1970-05-02", &["muller"]),
        ("ne1970-05-02", &["mullins", "smith", "young"]),
        ("gt1970-05-02", &["mullins", "smith", "young"]),
        ("lt1970-05-02", &["mullins"]),
        ("ge1970-05-02", &["muller", "mullins", "smith", "young"]),
        ("le1970-05-02", &["muller", "mullins"]),
        ("sa1970-05-02", &["smith", "young"]),
        ("eb1985", &["muller", "mullins"]),
        ("eb1985-12-31", &["muller", "mullins"]),
        ("sa1970", &["smith", "young"]),
        ("ap1985-12-31", &["smith"]),
        ("gt2000-02-29", &[]),
        ("ge2000-02-29", &["young"]),
        ("1970-05-02T00:00:00Z", &[]),
        (
            "ge1970-05-02T00:00:00Z",
            &["muller", "mullins", "smith", "young"],
        ),
    ];
    for (value, expected) in cases {
        expect(&format!("Patient?birthdate={value}"), expected);
    }
    expect(
        "Patient?birthdate=ge1970&birthdate=lt1986",
        &["muller", "mullins", "smith"],
    );
    expect(
        "Patient?birthdate=1970,2000",
        &["muller", "mullins", "young"],
    );
    server()
        .get("Patient?birthdate=1970-02-30")
        .assert_outcome(400, "1970-02-30");
    server()
        .get("Patient?birthdate=xx1970")
        .assert_outcome(400, "birthdate");
    server()
        .get("Patient?birthdate:exact=1970")
        .assert_outcome(400, "exact");
}

#[test]
fn date_times_periods_and_zones() {
    // 2020-01-01T23:30:00-05:00 is 2020-01-02T04:30:00Z.
    expect("Observation?date=2020-01-02", &["glucose-high"]);
    expect("Observation?date=2020-01-01", &[]);
    expect("Observation?date=2020-01", &["glucose-high", "glucose-low"]);
    expect(
        "Observation?date=eq2020-01",
        &["glucose-high", "glucose-low"],
    );
    expect("Observation?date=2020-01-02T04:30:00Z", &["glucose-high"]);
    expect(
        "Observation?date=2020-01-02T05:30:00%2B01:00",
        &["glucose-high"],
    );
    expect(
        "Observation?date=2020-01-01T23:30:00-05:00",
        &["glucose-high"],
    );
    expect("Observation?date=2020-01-01T23:30-05:00", &["glucose-high"]);
    expect("Observation?date=2020-02", &["chol-mass"]);
    expect("Observation?date=2020-02-02", &[]);
    // `ap` widens by a tenth of the distance to now (years here), so January is near too.
    expect(
        "Observation?date=ap2020-02-02",
        &["chol-mass", "glucose-high", "glucose-low"],
    );
    expect("Observation?date=ap2000-02-02", &[]);
    expect(
        "Observation?date=gt2020-01-10",
        &["chol-mass", "glucose-low"],
    );
    expect("Observation?date=lt2020-01-02", &[]);
    expect("Observation?date=le2020-01-02", &["glucose-high"]);
    expect("Observation?date=sa2020-01-31", &["chol-mass"]);
    expect("Observation?date=eb2020-01-15", &["glucose-high"]);
    // An open period continues for ever.
    expect("Encounter?date=2020", &["enc-closed"]);
    expect("Encounter?date=gt2030", &["enc-open"]);
    expect("Encounter?date=ge2020-01-03", &["enc-closed", "enc-open"]);
    expect("Encounter?date=lt2020-01-10", &["enc-closed"]);
    expect("Encounter?date=sa2020-01-05", &["enc-open"]);
    expect("Encounter?date=eb2020-01-06", &["enc-closed"]);
    expect("Encounter?date=eb2020-01-05", &[]);
    expect("Encounter?date=ne2020", &["enc-open"]);
    expect("Encounter?date=ap2020-01-03", &["enc-closed", "enc-open"]);
    // Instants: meta.lastUpdated is an instant, searched through _lastUpdated.
    let glucose = server().get("Observation/glucose-high").json();
    let instant = glucose["meta"]["lastUpdated"].as_str().unwrap();
    let found = found(&format!(
        "Observation?_lastUpdated={}&_id=glucose-high",
        instant.replace('+', "%2B")
    ));
    assert_eq!(found, vec!["glucose-high".to_owned()], "{instant}");
}

#[test]
fn numbers_have_implicit_precision() {
    expect("RiskAssessment?probability=100", &["risk-996"]);
    expect("RiskAssessment?probability=100.6", &["risk-1006"]);
    expect("RiskAssessment?probability=100.60", &["risk-1006"]);
    // One significant figure: [50, 150). (The R4 spec's table says [95, 105) for `1e2`, which
    // contradicts its own rule; we follow the rule.)
    expect("RiskAssessment?probability=1e2", &["risk-1006", "risk-996"]);
    expect("RiskAssessment?probability=1.00e2", &["risk-996"]);
    expect("RiskAssessment?probability=101", &["risk-1006"]);
    expect("RiskAssessment?probability=0.3", &["risk-03"]);
    expect(
        "RiskAssessment?probability=gt0.5",
        &["risk-1006", "risk-996"],
    );
    expect("RiskAssessment?probability=gt100", &["risk-1006"]);
    expect("RiskAssessment?probability=lt100", &["risk-03", "risk-996"]);
    expect("RiskAssessment?probability=ge100.6", &["risk-1006"]);
    expect("RiskAssessment?probability=le0.3", &["risk-03"]);
    expect(
        "RiskAssessment?probability=ne100",
        &["risk-03", "risk-1006"],
    );
    expect(
        "RiskAssessment?probability=ap100",
        &["risk-1006", "risk-996"],
    );
    expect(
        "RiskAssessment?probability=sa99",
        &["risk-1006", "risk-996"],
    );
    expect("RiskAssessment?probability=eb1", &["risk-03"]);
    server()
        .get("RiskAssessment?probability=lots")
        .assert_outcome(400, "lots");
    server()
        .get("RiskAssessment?probability=NaN")
        .assert_outcome(400, "probability");
    server()
        .get("RiskAssessment?probability=inf")
        .assert_outcome(400, "probability");
}

#[test]
fn quantities_convert_units_within_a_dimension() {
    let q = |value: &str| found(&format!("Observation?value-quantity={value}"));
    let ucum = |value: &str| q(&value.replace("UCUM", UCUM));
    // 0.0056 g is 5.6 mg; 0.005 g is 5 mg.
    assert_eq!(ucum("gt5.4|UCUM|mg"), vec!["glucose-high"]);
    assert_eq!(ucum("lt5.4|UCUM|mg"), vec!["glucose-low"]);
    assert_eq!(ucum("5.6|UCUM|mg"), vec!["glucose-high"]);
    assert_eq!(ucum("5|UCUM|mg"), vec!["glucose-low"]);
    assert_eq!(ucum("5600|UCUM|ug"), vec!["glucose-high"]);
    assert_eq!(ucum("ge0.0056|UCUM|g"), vec!["glucose-high"]);
    assert_eq!(q("gt5.4||mg"), vec!["glucose-high"]);
    assert_eq!(q("5.6||mg"), vec!["glucose-high"]);
    // mg/dL and mmol/L are different dimensions.
    assert_eq!(ucum("gt0|UCUM|mg/dL"), vec!["chol-mass"]);
    assert_eq!(ucum("2|UCUM|g/L"), vec!["chol-mass"]);
    assert_eq!(ucum("200|UCUM|mg/dL"), vec!["chol-mass"]);
    assert_eq!(ucum("5.2|UCUM|mmol/L"), vec!["chol-molar"]);
    assert_eq!(ucum("gt0|UCUM|mmol/L"), vec!["chol-molar"]);
    assert_eq!(ucum("5200|UCUM|umol/L"), vec!["chol-molar"]);
    // Plain numbers compare values as written, in any unit.
    assert_eq!(q("130"), vec!["systolic"]);
    assert_eq!(q("gt100"), vec!["chol-mass", "systolic"]);
    assert_eq!(q("5.2"), vec!["chol-molar"]);
    // Units outside UCUM's known list are compared as written.
    assert_eq!(q("70||kilo"), vec!["no-system-unit"]);
    assert_eq!(ucum("70|UCUM|kilo"), Vec::<String>::new());
    assert_eq!(q("70|urn:other|kilo"), Vec::<String>::new());
    server()
        .get("Observation?value-quantity=heavy|x|mg")
        .assert_outcome(400, "heavy");
}

#[test]
fn references() {
    expect(
        "Observation?subject=Patient/muller",
        &["glucose-high", "systolic"],
    );
    expect("Observation?subject=muller", &["glucose-high", "systolic"]);
    expect(
        "Observation?subject:Patient=muller",
        &["glucose-high", "systolic"],
    );
    expect("Observation?subject:Group=muller", &[]);
    expect("Observation?subject=Group/g1", &["no-system-unit"]);
    expect("Observation?patient=muller", &["glucose-high", "systolic"]);
    // An absolute reference under the server's base is local; one elsewhere is not.
    expect(
        "Observation?subject=Patient/smith",
        &["chol-mass", "glucose-low"],
    );
    let base = &server().base;
    expect(
        &format!("Observation?subject={base}/Patient/smith"),
        &["chol-mass", "glucose-low"],
    );
    expect(
        "Observation?subject=http://elsewhere.example/fhir/Patient/smith",
        &["chol-molar"],
    );
    expect(
        "Observation?subject=http://elsewhere.example/fhir/Patient/smith",
        &["chol-molar"],
    );
    // Versioned references.
    expect(
        "Observation?subject=Patient/muller/_history/1",
        &["systolic"],
    );
    expect("Observation?subject=Patient/muller/_history/2", &[]);
    // Logical references by identifier.
    expect("Observation?subject:identifier=urn:mrn|M1", &["bp"]);
    expect("Observation?subject:identifier=M1", &["bp"]);
    expect("Observation?subject:identifier=urn:other|M1", &[]);
    expect("Encounter?patient=smith", &["enc-closed"]);
    expect("List?item=Patient/young", &["list-1"]);
    server()
        .get("Observation?subject:Medication=x")
        .assert_outcome(400, "Medication");
    server()
        .get("Observation?subject=Unicorn/1")
        .assert_outcome(400, "Unicorn");
    server()
        .get("Observation?subject:Group=Patient/muller")
        .assert_outcome(400, "Group");
}

#[test]
fn uris() {
    let colors = "http://example.org/fhir/ValueSet/colors";
    expect(&format!("ValueSet?url={colors}"), &["vs-colors"]);
    expect(
        &format!("ValueSet?url={colors}/extended"),
        &["vs-colors-ext"],
    );
    expect("ValueSet?url=http://example.org/fhir/ValueSet", &[]);
    expect(
        "ValueSet?url:below=http://example.org/fhir/",
        &["vs-colors", "vs-colors-ext"],
    );
    expect(
        &format!("ValueSet?url:above={colors}/extended/v2"),
        &["vs-colors", "vs-colors-ext"],
    );
    expect(&format!("ValueSet?url:above={colors}"), &["vs-colors"]);
    expect(
        "Patient?_profile=http://example.org/StructureDefinition/special-patient",
        &["muller"],
    );
    expect(
        "Patient?_profile:below=http://example.org/StructureDefinition/",
        &["muller"],
    );
    expect(
        "Patient?_profile=http://example.org/StructureDefinition/",
        &[],
    );
}

#[test]
fn composites_pair_values_of_one_component() {
    let q = |query: &str| found(&format!("Observation?{query}"));
    assert_eq!(
        q("code-value-quantity=http://loinc.org|8480-6$gt100"),
        vec!["systolic"]
    );
    assert_eq!(
        q("component-code-value-quantity=http://loinc.org|8480-6$gt100"),
        vec!["bp"]
    );
    assert_eq!(
        q("component-code-value-quantity=http://loinc.org|8462-4$gt100"),
        Vec::<String>::new()
    );
    assert_eq!(q("component-code-value-quantity=8462-4$80"), vec!["bp"]);
    assert_eq!(
        q("component-code-value-quantity=8462-4$lt90|http://unitsofmeasure.org|mm[Hg]"),
        vec!["bp"]
    );
    assert_eq!(
        q("component-code-value-quantity=8462-4$120"),
        Vec::<String>::new()
    );
    assert_eq!(
        q("combo-code-value-quantity=8480-6$ge120"),
        vec!["bp", "systolic"]
    );
    assert_eq!(
        q("code-value-quantity=http://loinc.org|2339-0$ge5|http://unitsofmeasure.org|mg"),
        vec!["glucose-high", "glucose-low"]
    );
    assert_eq!(
        q("code-value-quantity=http://loinc.org|2339-0$gt5|http://unitsofmeasure.org|mg"),
        vec!["glucose-high"]
    );
    assert_eq!(
        q("code-value-quantity=http://loinc.org|2339-0$gt5.4|http://unitsofmeasure.org|mg"),
        vec!["glucose-high"]
    );
    assert_eq!(
        q("code-value-date=2339-0$2020-01-02"),
        Vec::<String>::new(),
        "effective[x] is not value[x]"
    );
    server()
        .get("Observation?code-value-quantity=8480-6")
        .assert_outcome(400, "$");
}

#[test]
fn missing() {
    expect("Patient?active:missing=true", &["mullins", "nobody"]);
    expect(
        "Patient?active:missing=false",
        &["muller", "smith", "young"],
    );
    expect("Patient?birthdate:missing=true", &["nobody"]);
    expect("Patient?address-city:missing=false", &["muller", "smith"]);
    expect(
        "Patient?organization:missing=true",
        &["mullins", "nobody", "young"],
    );
    expect("Observation?value-quantity:missing=true", &["bp"]);
    expect("ValueSet?url:missing=true", &[]);
    expect(
        "RiskAssessment?probability:missing=false",
        &["risk-03", "risk-1006", "risk-996"],
    );
    server()
        .get("Patient?active:missing=maybe")
        .assert_outcome(400, "maybe");
}

#[test]
fn special_parameters() {
    expect("Patient?_id=muller,smith", &["muller", "smith"]);
    expect("Patient?_tag=urn:tags|vip", &["muller"]);
    expect("Patient?_tag=vip", &["muller"]);
    expect(
        "Patient?_tag:not=vip",
        &["mullins", "nobody", "smith", "young"],
    );
    expect(
        "Patient?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R",
        &["muller"],
    );
    expect(
        "Patient?_source=http://example.org/source%23abc",
        &["muller"],
    );
    expect("Patient?_text=kangaroo", &["muller"]);
    expect("Patient?_text=KANG", &["muller"]);
    expect("Patient?_text=muller", &["muller"]);
    expect("Patient?_text=zurich", &[]);
    expect("Patient?_content=zurich", &["muller"]);
    expect("Patient?_content=bahnhofstrasse%20zurich", &["muller"]);
    expect("Patient?_content=bahnhofstrasse%20boston", &[]);
    expect("Patient?_list=list-1", &["smith", "young"]);
    expect("Patient?_list=nope", &[]);
    expect(
        "Patient?_has:Observation:patient:code=http://loinc.org|2339-0",
        &["muller", "smith"],
    );
    expect(
        "Patient?_has:Observation:subject:value-quantity=gt100",
        &["muller", "smith"],
    );
    expect("Patient?_has:Observation:patient:code=2093-3", &["smith"]);
    expect(
        "Patient?_has:Observation:patient:_has:DiagnosticReport:result:status=final",
        &["smith"],
    );
    expect(
        "Patient?_has:RiskAssessment:subject:probability=gt99",
        &["muller"],
    );
    expect(
        "Organization?_has:Patient:organization:_has:Observation:patient:code=2339-0",
        &["org-acme", "org-other"],
    );
    server()
        .get("Patient?_has:Observation:patient")
        .assert_outcome(400, "_has");
    server()
        .get("Patient?_has:Observation:code:code=x")
        .assert_outcome(400, "code");
    server()
        .get("Patient?_has:Unicorn:patient:code=x")
        .assert_outcome(400, "Unicorn");
}

#[test]
fn post_search_and_system_search_agree_with_get() {
    let posted = server()
        .request(Method::POST, "Patient/_search")
        .body(
            "application/x-www-form-urlencoded",
            "name=M%C3%BCl&birthdate=1970",
        )
        .send();
    assert_eq!(posted.status, 200, "{}", posted.text());
    let mut posted = ids(&posted.json());
    posted.sort();
    assert_eq!(posted, vec!["muller", "mullins"]);
    expect(
        "?_type=Patient,Organization&_id=muller,org-acme",
        &["muller", "org-acme"],
    );
    expect("?_tag=vip", &["muller"]);
    expect(
        "?_type=Patient,Observation&_id=glucose-high,muller,org-acme",
        &["glucose-high", "muller"],
    );
}

#[test]
fn strict_handling_names_the_unknown_parameter() {
    server()
        .request(Method::GET, "Patient?name=x&colour=blue")
        .header("Prefer", "handling=strict")
        .send()
        .assert_outcome(400, "colour");
    server()
        .request(Method::GET, "Patient?name:sounds-like=x")
        .header("Prefer", "handling=strict")
        .send()
        .assert_outcome(400, "sounds-like");
    // Lenient handling reports and ignores it.
    let bundle = server().search("Patient?name=muller&colour=blue");
    assert_eq!(ids(&bundle), vec!["muller"]);
    let outcome = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .unwrap();
    assert_eq!(
        outcome["resource"]["issue"][0]["expression"],
        json!(["colour"])
    );
}
