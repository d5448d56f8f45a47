//! `check_resource` on valid and invalid resources: every issue, with its path.

use medulla_model::check::{Issue, MAX_DEPTH, check_resource};
use serde_json::{Number, Value, json};

/// The issues as `message at path` lines, in the order found.
fn issues(resource: &Value) -> Vec<String> {
    check_resource(resource)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn valid_patient() -> Value {
    json!({
        "resourceType": "Patient",
        "id": "example",
        "meta": {"versionId": "1", "lastUpdated": "2020-01-01T00:00:00Z",
                 "profile": ["http://example.org/StructureDefinition/p"]},
        "text": {"status": "generated",
                 "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Peter</div>"},
        "contained": [{"resourceType": "Organization", "id": "org1", "name": "Acme",
                       "active": true}],
        "extension": [{"url": "http://example.org/ext", "valueString": "x"}],
        "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345",
                        "period": {"start": "2001-05-06"}}],
        "active": true,
        "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"],
                  "_given": [null, {"extension": [{"url": "http://example.org/q",
                                                   "valueCode": "IN"}]}]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        "_birthDate": {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
        "deceasedBoolean": false,
        "multipleBirthInteger": 2,
        "contact": [{"relationship": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                        "code": "N"}]}],
                     "name": {"family": "du Marché", "_family": {"id": "a1"}}}],
        "managingOrganization": {"reference": "#org1"}
    })
}

#[test]
fn valid_patient_has_no_issues() {
    assert_eq!(issues(&valid_patient()), Vec::<String>::new());
}

#[test]
fn valid_observation_and_bundle_have_no_issues() {
    let observation = json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "Blood pressure"},
        "subject": {"reference": "Patient/example"},
        "effectiveDateTime": "2012-09-17",
        "issued": "2012-09-17T10:00:00.000+02:00",
        "valueQuantity": {"value": 6.3, "unit": "mmol/l", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
        "referenceRange": [{"low": {"value": 3.1e0}, "high": {"value": -0.5}}],
        "component": [{"code": {"text": "systolic"}, "valueQuantity": {"value": 107}},
                      {"code": {"text": "flag"}, "valueBoolean": true}]
    });
    assert_eq!(issues(&observation), Vec::<String>::new());
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [{"relation": "self", "url": "http://example.org/Patient?_id=example"}],
        "entry": [{"fullUrl": "http://example.org/Patient/example",
                   "resource": valid_patient(),
                   "search": {"mode": "match", "score": 1}}]
    });
    assert_eq!(issues(&bundle), Vec::<String>::new());
}

#[test]
fn invalid_patient_reports_every_issue_with_its_path() {
    let patient = json!({
        "resourceType": "Patient",
        "foo": 1,
        "active": "true",
        "name": {"family": "Chalmers"},
        "gender": ["male"],
        "birthDate": "2020-13-45",
        "telecom": [{"system": "phone", "value": "555", "bar": true}],
        "contained": [{"resourceType": "Observation", "status": "final", "valueFoo": 1}]
    });
    assert_eq!(
        issues(&patient),
        [
            "unknown element 'foo' at Patient",
            "expected a boolean, found a string at Patient.active",
            "expected an array, found an object at Patient.name",
            "expected a single value, found an array at Patient.gender",
            "invalid date '2020-13-45' at Patient.birthDate",
            "unknown element 'bar' at Patient.telecom[0]",
            "unknown element 'valueFoo' at Patient.contained[0]",
        ]
    );
    // The issue values themselves, not only their display.
    assert_eq!(
        check_resource(&patient)[0],
        Issue {
            path: "Patient".into(),
            message: "unknown element 'foo'".into()
        }
    );
}

#[test]
fn unknown_element_in_a_nested_type() {
    let patient = json!({"resourceType": "Patient", "name": [{"family": "x", "foo": 1}],
                         "contact": [{"name": {"given": ["a"], "nickname": "b"}}]});
    assert_eq!(
        issues(&patient),
        [
            "unknown element 'foo' at Patient.name[0]",
            "unknown element 'nickname' at Patient.contact[0].name"
        ]
    );
}

#[test]
fn resource_type_problems() {
    assert_eq!(issues(&json!({"id": "1"})), ["missing resourceType"]);
    assert_eq!(
        issues(&json!({"resourceType": "Foo"})),
        ["unknown resource type 'Foo'"]
    );
    assert_eq!(
        issues(&json!({"resourceType": "HumanName"})),
        ["unknown resource type 'HumanName'"]
    );
    assert_eq!(
        issues(&json!({"resourceType": "DomainResource"})),
        ["abstract resource type 'DomainResource' cannot be instantiated"]
    );
    assert_eq!(
        issues(&json!({"resourceType": 7})),
        ["resourceType must be a string, found a number"]
    );
    assert_eq!(
        issues(&json!([1, 2])),
        ["expected a resource object, found an array"]
    );
    assert_eq!(
        issues(&json!(null)),
        ["expected a resource object, found null"]
    );
    assert_eq!(
        issues(
            &json!({"resourceType": "Patient", "name": [{"resourceType": "HumanName", "family": "x"}]})
        ),
        ["resourceType is only allowed at a resource root at Patient.name[0]"]
    );
    assert_eq!(
        issues(
            &json!({"resourceType": "Patient", "contained": [{"id": "x"}, {"resourceType": "Resource"}]})
        ),
        [
            "missing resourceType at Patient.contained[0]",
            "abstract resource type 'Resource' cannot be instantiated at Patient.contained[1]"
        ]
    );
    assert_eq!(
        issues(&json!({"resourceType": "Bundle", "type": "collection",
                       "entry": [{"resource": {"resourceType": "Patient", "gender": 1}}]})),
        ["expected a string (code), found a number at Bundle.entry[0].resource.gender"]
    );
}

#[test]
fn primitive_kinds_and_formats() {
    let patient = json!({
        "resourceType": "Patient",
        "implicitRules": "has space",
        "meta": {"versionId": "a b", "lastUpdated": "2020-01-01"},
        "language": "",
        "multipleBirthInteger": 1.5,
        "address": [{"line": [null], "city": null}],
        "photo": [{"size": -1, "data": "not base64!", "creation": "2020-01-01T10:00:00"}]
    });
    assert_eq!(
        issues(&patient),
        [
            "invalid uri 'has space' at Patient.implicitRules",
            "invalid id 'a b' at Patient.meta.versionId",
            "invalid instant '2020-01-01' at Patient.meta.lastUpdated",
            "empty string at Patient.language",
            "expected an integer (integer), found '1.5' at Patient.multipleBirthInteger",
            "null without an extension in '_line' at Patient.address[0].line[0]",
            "null is not allowed at Patient.address[0].city",
            "invalid unsignedInt '-1' at Patient.photo[0].size",
            "invalid base64Binary 'not base64!' at Patient.photo[0].data",
            "invalid dateTime '2020-01-01T10:00:00' at Patient.photo[0].creation",
        ]
    );
    let observation = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueQuantity": {"value": "6.3"},
        "component": [{"code": {"text": "y"}, "valueInteger": 3000000000_i64}]
    });
    assert_eq!(
        issues(&observation),
        [
            "expected a number (decimal), found a string at Observation.valueQuantity.value",
            "integer '3000000000' is out of the 32-bit range at Observation.component[0].valueInteger"
        ]
    );
}

#[test]
fn decimals_keep_their_text() {
    let observation: Value = serde_json::from_str(
        r#"{"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "valueQuantity": {"value": 1.50000000000000000000001}}"#,
    )
    .unwrap_or(Value::Null);
    assert_eq!(issues(&observation), Vec::<String>::new());
    let value = &observation["valueQuantity"]["value"];
    assert_eq!(
        value.as_number().map(Number::as_str),
        Some("1.50000000000000000000001")
    );
}

#[test]
fn empty_values_and_choice_conflicts() {
    let patient = json!({
        "resourceType": "Patient",
        "identifier": [],
        "maritalStatus": {},
        "deceasedBoolean": true,
        "deceasedDateTime": "2020-01-01"
    });
    assert_eq!(
        issues(&patient),
        [
            "empty array at Patient.identifier",
            "empty object at Patient.maritalStatus",
            "more than one value for choice element 'deceased[x]' at Patient"
        ]
    );
}

#[test]
fn primitive_extension_siblings() {
    let patient = json!({
        "resourceType": "Patient",
        "_birthDate": {"foo": 1, "extension": [{"url": "http://e/x", "valueBoolean": "no"}]},
        "_gender": [{"id": "g"}],
        "_name": {"id": "n"},
        "_nonsense": {"id": "n"},
        "name": [{"given": ["a", "b"], "_given": [{"id": "1"}], "_family": "x"}],
        "_active": null
    });
    assert_eq!(
        issues(&patient),
        [
            "unknown element 'foo' at Patient.birthDate",
            "expected a boolean, found a string at Patient.birthDate.extension[0].valueBoolean",
            "expected an object in '_gender', found an array at Patient.gender",
            "'_name' is only allowed for primitive elements at Patient",
            "unknown element '_nonsense' at Patient",
            "'_given' has 1 entries but 'given' has 2 at Patient.name[0].given",
            "expected an object in '_family', found a string at Patient.name[0].family",
            "expected an object in '_active', found null at Patient.active",
        ]
    );
    // An extension-only primitive, and a null kept for alignment, are both fine.
    let aligned = json!({
        "resourceType": "Patient",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]},
        "name": [{"given": [null, "b"], "_given": [{"id": "g0"}, null]}]
    });
    assert_eq!(issues(&aligned), Vec::<String>::new());
}

#[test]
fn deep_nesting_gives_one_issue_and_stops() {
    let mut item = json!({"linkId": "leaf", "text": 5});
    for level in 0..100 {
        item = json!({"linkId": format!("l{level}"), "item": [item]});
    }
    let questionnaire = json!({"resourceType": "Questionnaire", "status": "draft", "item": [item]});
    let found = check_resource(&questionnaire);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        "nested deeper than 64 levels; not checked further"
    );
    let expected_path = format!("Questionnaire{}", ".item[0]".repeat(MAX_DEPTH + 1));
    assert_eq!(found[0].path, expected_path);

    // Within the limit, the bad leaf is found.
    let mut shallow = json!({"linkId": "leaf", "text": 5});
    for level in 0..10 {
        shallow = json!({"linkId": format!("l{level}"), "item": [shallow]});
    }
    let questionnaire =
        json!({"resourceType": "Questionnaire", "status": "draft", "item": [shallow]});
    let found = check_resource(&questionnaire);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        "expected a string (string), found a number"
    );
    assert_eq!(
        found[0].path,
        format!("Questionnaire{}.text", ".item[0]".repeat(11))
    );
}

#[test]
fn deep_extensions_and_odd_shapes_do_not_panic() {
    let mut extension = json!({"url": "http://e/x", "valueString": "v"});
    for _ in 0..200 {
        extension = json!({"url": "http://e/x", "extension": [extension]});
    }
    let patient = json!({"resourceType": "Patient", "extension": [extension]});
    assert_eq!(check_resource(&patient).len(), 1);

    let odd = json!({"resourceType": "Patient", "name": [[[[1]]], "x", null, true],
                     "contained": [[{"resourceType": "Patient"}]], "text": [], "_": 1, "": 2});
    assert_eq!(
        issues(&odd),
        [
            "expected an object (HumanName), found an array at Patient.name[0]",
            "expected an object (HumanName), found a string at Patient.name[1]",
            "expected an object (HumanName), found null at Patient.name[2]",
            "expected an object (HumanName), found a boolean at Patient.name[3]",
            "expected a resource object, found an array at Patient.contained[0]",
            "expected a single value, found an array at Patient.text",
            "unknown element '_' at Patient",
            "unknown element '' at Patient",
        ]
    );
}
