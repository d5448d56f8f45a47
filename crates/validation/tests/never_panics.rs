//! The validator never panics, whatever JSON it is given: arbitrary values, and resources of
//! real types with arbitrary members (known element names with values of the wrong shape).

use medulla_validation::{Options, Validator};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

static VALIDATOR: LazyLock<Validator> = LazyLock::new(Validator::r4);

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!("2024-02-30")),
        Just(json!("#contained")),
        Just(json!("Patient/1")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("resourceType".to_owned()),
        Just("id".to_owned()),
        Just("extension".to_owned()),
        Just("url".to_owned()),
        Just("coding".to_owned()),
        Just("system".to_owned()),
        Just("code".to_owned()),
        Just("reference".to_owned()),
        Just("contained".to_owned()),
        Just("value".to_owned()),
        Just("_birthDate".to_owned()),
        "[a-zA-Z_]{1,10}",
    ]
}

fn resource() -> impl Strategy<Value = Value> {
    let types = prop_oneof![
        Just("Patient"),
        Just("Observation"),
        Just("Bundle"),
        Just("Questionnaire"),
        Just("StructureDefinition"),
        Just("Nonsense"),
    ];
    let names = prop_oneof![
        Just("name"),
        Just("gender"),
        Just("birthDate"),
        Just("status"),
        Just("code"),
        Just("subject"),
        Just("valueQuantity"),
        Just("component"),
        Just("entry"),
        Just("item"),
        Just("contained"),
        Just("extension"),
        Just("meta"),
        Just("snapshot"),
    ];
    (types, prop::collection::vec((names, value()), 0..6)).prop_map(|(resource_type, members)| {
        let mut object = Map::new();
        object.insert("resourceType".to_owned(), json!(resource_type));
        for (name, value) in members {
            object.insert(name.to_owned(), value);
        }
        Value::Object(object)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn arbitrary_json(input in value()) {
        let _ = VALIDATOR.validate(&input, &Options::default());
    }

    #[test]
    fn resources_with_arbitrary_members(input in resource()) {
        let outcome = VALIDATOR.validate(&input, &Options::default());
        let _ = outcome.to_operation_outcome();
    }
}
