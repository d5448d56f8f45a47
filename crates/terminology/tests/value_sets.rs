//! Value set evaluation on a small hand-made code system: every compose filter operator,
//! imports (intersection, cycles, depth), excludes, inactive codes, listed codes of a code
//! system that is not loaded, the `$expand` options, `$validate-code`, `$lookup` and
//! `$subsumes`.

use medulla_terminology::{
    CodeSystem, Error, ExpandOptions, Expansion, ExpansionContains, PropertyValue, Subsumption,
    Terminology, ValueSet,
};
use serde_json::{Value as Json, json};

const SHAPES: &str = "http://example.org/fhir/CodeSystem/shapes";
const LOINC: &str = "http://loinc.org";

/// shape ─ polygon ─ triangle ─ equilateral-triangle
///       │         └ quadrilateral ─ rectangle ─ square (also under rhombus)
///       │                         └ rhombus
///       └ round ─ circle, ellipse (retired)
/// color (not selectable) ─ red, green, blue
fn shapes() -> Json {
    json!({
        "resourceType": "CodeSystem",
        "url": SHAPES,
        "version": "1.0.0",
        "name": "Shapes",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "property": [
            {"code": "sides", "type": "integer"},
            {"code": "hex", "type": "string"},
            {"code": "status", "type": "code"},
            {"code": "notSelectable", "type": "boolean"}
        ],
        "concept": [
            {"code": "shape", "display": "Shape", "concept": [
                {"code": "polygon", "display": "Polygon", "concept": [
                    {"code": "triangle", "display": "Triangle",
                     "designation": [{"language": "nl", "value": "Driehoek"}],
                     "property": [{"code": "sides", "valueInteger": 3}],
                     "concept": [
                        {"code": "equilateral-triangle", "display": "Equilateral triangle",
                         "property": [{"code": "sides", "valueInteger": 3}]}
                     ]},
                    {"code": "quadrilateral", "display": "Quadrilateral",
                     "property": [{"code": "sides", "valueInteger": 4}],
                     "concept": [
                        {"code": "rectangle", "display": "Rectangle",
                         "property": [{"code": "sides", "valueInteger": 4}],
                         "concept": [
                            {"code": "square", "display": "Square",
                             "definition": "A rectangle whose sides are equal.",
                             "property": [{"code": "sides", "valueInteger": 4},
                                          {"code": "parent", "valueCode": "rhombus"}]}
                         ]},
                        {"code": "rhombus", "display": "Rhombus",
                         "property": [{"code": "sides", "valueInteger": 4}]}
                     ]}
                ]},
                {"code": "round", "display": "Round shape", "concept": [
                    {"code": "circle", "display": "Circle"},
                    {"code": "ellipse", "display": "Ellipse",
                     "property": [{"code": "status", "valueCode": "retired"}]}
                ]}
            ]},
            {"code": "color", "display": "Color",
             "property": [{"code": "notSelectable", "valueBoolean": true}],
             "concept": [
                {"code": "red", "display": "Red", "property": [{"code": "hex", "valueString": "#ff0000"}]},
                {"code": "green", "display": "Green", "property": [{"code": "hex", "valueString": "#00ff00"}]},
                {"code": "blue", "display": "Blue", "property": [{"code": "hex", "valueString": "#0000ff"}]}
             ]}
        ]
    })
}

fn vs_url(name: &str) -> String {
    format!("http://example.org/fhir/ValueSet/{name}")
}

/// A value set of one include of SHAPES with these filters.
fn filtered(name: &str, filters: Json) -> Json {
    json!({
        "resourceType": "ValueSet",
        "url": vs_url(name),
        "compose": {"include": [{"system": SHAPES, "filter": filters}]}
    })
}

fn value_sets() -> Vec<Json> {
    vec![
        filtered(
            "polygons",
            json!([{"property": "concept", "op": "is-a", "value": "polygon"}]),
        ),
        filtered(
            "below-polygon",
            json!([{"property": "concept", "op": "descendent-of", "value": "polygon"}]),
        ),
        filtered(
            "not-polygon",
            json!([{"property": "concept", "op": "is-not-a", "value": "polygon"}]),
        ),
        filtered(
            "square-and-up",
            json!([{"property": "concept", "op": "generalizes", "value": "square"}]),
        ),
        filtered(
            "four-sides",
            json!([{"property": "sides", "op": "=", "value": "4"}]),
        ),
        filtered(
            "angles",
            json!([{"property": "code", "op": "regex", "value": ".*angle"}]),
        ),
        filtered(
            "red-blue",
            json!([{"property": "concept", "op": "in", "value": "red, blue"}]),
        ),
        filtered(
            "hex-in",
            json!([{"property": "hex", "op": "in", "value": "#ff0000,#00ff00"}]),
        ),
        filtered(
            "hex-not-red",
            json!([
                {"property": "hex", "op": "exists", "value": "true"},
                {"property": "hex", "op": "not-in", "value": "#ff0000"}
            ]),
        ),
        filtered(
            "no-hex",
            json!([{"property": "hex", "op": "exists", "value": "false"}]),
        ),
        filtered(
            "child-of-rectangle",
            json!([{"property": "parent", "op": "=", "value": "rectangle"}]),
        ),
        filtered(
            "parents-of-square",
            json!([{"property": "child", "op": "=", "value": "square"}]),
        ),
        filtered(
            "retired",
            json!([{"property": "inactive", "op": "=", "value": "true"}]),
        ),
        filtered(
            "display-regex",
            json!([{"property": "display", "op": "regex", "value": "R.*"}]),
        ),
        json!({
            "resourceType": "ValueSet", "url": vs_url("polygons-but-quadrilaterals"),
            "compose": {
                "include": [{"system": SHAPES, "filter": [{"property": "concept", "op": "is-a", "value": "polygon"}]}],
                "exclude": [{"system": SHAPES, "filter": [{"property": "concept", "op": "is-a", "value": "quadrilateral"}]}]
            }
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("rectangles-with-angle"),
            "compose": {"include": [{
                "system": SHAPES,
                "filter": [{"property": "concept", "op": "is-a", "value": "rectangle"}],
                "valueSet": [vs_url("angles")]
            }]}
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("polygons-with-four-sides"),
            "compose": {"include": [{"valueSet": [vs_url("polygons"), vs_url("four-sides")]}]}
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("active-round"),
            "compose": {
                "inactive": false,
                "include": [{"system": SHAPES, "filter": [{"property": "concept", "op": "is-a", "value": "round"}]}]
            }
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("vitals-and-circle"),
            "compose": {"include": [
                {"system": LOINC, "concept": [
                    {"code": "8480-6", "display": "Systolic blood pressure"},
                    {"code": "8462-4", "display": "Diastolic blood pressure"}
                ]},
                {"system": SHAPES, "concept": [{"code": "circle", "display": "Ring"}, {"code": "hexagon"}]}
            ]}
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("all-loinc"),
            "compose": {"include": [{"system": LOINC}]}
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("cycle-a"),
            "compose": {"include": [{"valueSet": [vs_url("cycle-b")]}]}
        }),
        json!({
            "resourceType": "ValueSet", "url": vs_url("cycle-b"),
            "compose": {"include": [{"valueSet": [vs_url("cycle-a")]}]}
        }),
        filtered(
            "bad-regex",
            json!([{"property": "code", "op": "regex", "value": "(unclosed"}]),
        ),
        filtered(
            "is-a-sides",
            json!([{"property": "sides", "op": "is-a", "value": "4"}]),
        ),
        filtered(
            "exists-maybe",
            json!([{"property": "hex", "op": "exists", "value": "maybe"}]),
        ),
        filtered(
            "is-a-unknown",
            json!([{"property": "concept", "op": "is-a", "value": "hexagon"}]),
        ),
    ]
}

fn service() -> Terminology {
    let terminology = Terminology::in_memory();
    terminology.add_code_system(CodeSystem::from_json(&shapes()).expect("shapes is a CodeSystem"));
    for value_set in value_sets() {
        terminology.add_value_set(ValueSet::from_json(&value_set).expect("a ValueSet"));
    }
    terminology
}

fn expand(terminology: &Terminology, name: &str) -> Expansion {
    terminology
        .expand(&vs_url(name), &ExpandOptions::default())
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn codes(expansion: &Expansion) -> Vec<&str> {
    expansion
        .contains
        .iter()
        .map(|entry| entry.code.as_str())
        .collect()
}

#[test]
fn every_filter_operator_selects_its_codes() {
    let terminology = service();
    let cases: &[(&str, &[&str])] = &[
        (
            "polygons",
            &[
                "polygon",
                "triangle",
                "equilateral-triangle",
                "quadrilateral",
                "rectangle",
                "square",
                "rhombus",
            ],
        ),
        (
            "below-polygon",
            &[
                "triangle",
                "equilateral-triangle",
                "quadrilateral",
                "rectangle",
                "square",
                "rhombus",
            ],
        ),
        (
            "not-polygon",
            &[
                "shape", "round", "circle", "ellipse", "color", "red", "green", "blue",
            ],
        ),
        (
            "square-and-up",
            &[
                "shape",
                "polygon",
                "quadrilateral",
                "rectangle",
                "square",
                "rhombus",
            ],
        ),
        (
            "four-sides",
            &["quadrilateral", "rectangle", "square", "rhombus"],
        ),
        ("angles", &["triangle", "equilateral-triangle", "rectangle"]),
        ("red-blue", &["red", "blue"]),
        ("hex-in", &["red", "green"]),
        ("hex-not-red", &["green", "blue"]),
        (
            "no-hex",
            &[
                "shape",
                "polygon",
                "triangle",
                "equilateral-triangle",
                "quadrilateral",
                "rectangle",
                "square",
                "rhombus",
                "round",
                "circle",
                "ellipse",
                "color",
            ],
        ),
        ("child-of-rectangle", &["square"]),
        ("parents-of-square", &["rectangle", "rhombus"]),
        ("retired", &["ellipse"]),
        ("display-regex", &["rectangle", "rhombus", "round", "red"]),
        ("is-a-unknown", &[]),
    ];
    for (name, expected) in cases {
        let expansion = expand(&terminology, name);
        assert_eq!(&codes(&expansion), expected, "{name}");
        assert_eq!(expansion.total, expected.len(), "{name}");
    }
}

#[test]
fn excludes_imports_and_inactive_flags_combine() {
    let terminology = service();
    assert_eq!(
        codes(&expand(&terminology, "polygons-but-quadrilaterals")),
        ["polygon", "triangle", "equilateral-triangle"]
    );
    assert_eq!(
        codes(&expand(&terminology, "rectangles-with-angle")),
        ["rectangle"]
    );
    assert_eq!(
        codes(&expand(&terminology, "polygons-with-four-sides")),
        ["quadrilateral", "rectangle", "square", "rhombus"]
    );
    assert_eq!(
        codes(&expand(&terminology, "active-round")),
        ["round", "circle"]
    );
    let retired = terminology
        .validate_code(&vs_url("active-round"), SHAPES, "ellipse", None)
        .unwrap();
    assert!(!retired.result);
}

#[test]
fn listed_codes_of_a_code_system_that_is_not_loaded_are_members() {
    let terminology = service();
    let expansion = expand(&terminology, "vitals-and-circle");
    // Loaded code systems first, then listed codes; "hexagon" is not in SHAPES, so it is not a
    // member; the value set's display wins.
    assert_eq!(codes(&expansion), ["circle", "8480-6", "8462-4"]);
    assert_eq!(expansion.contains[0].display.as_deref(), Some("Ring"));
    assert_eq!(expansion.contains[1].system, LOINC);

    let systolic = terminology
        .validate_code(
            &vs_url("vitals-and-circle"),
            LOINC,
            "8480-6",
            Some("systolic blood pressure"),
        )
        .unwrap();
    assert!(systolic.result, "{systolic:?}");
    let other = terminology
        .validate_code(&vs_url("vitals-and-circle"), LOINC, "1234-5", None)
        .unwrap();
    assert!(!other.result);
    let circle = terminology
        .validate_code(
            &vs_url("vitals-and-circle"),
            SHAPES,
            "circle",
            Some("Circle"),
        )
        .unwrap();
    assert!(
        circle.result,
        "the code system's display is valid too: {circle:?}"
    );

    let error = terminology
        .expand(&vs_url("all-loinc"), &ExpandOptions::default())
        .unwrap_err();
    assert!(
        matches!(error, Error::CodeSystemNotLoaded { .. }),
        "{error}"
    );
    let error = terminology
        .validate_code(&vs_url("all-loinc"), LOINC, "8480-6", None)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "value set 'http://example.org/fhir/ValueSet/all-loinc' needs code system \
         'http://loinc.org', which is not loaded"
    );
}

#[test]
fn import_cycles_and_bad_filters_are_errors_that_say_where() {
    let terminology = service();
    let error = terminology
        .expand(&vs_url("cycle-a"), &ExpandOptions::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "value set 'http://example.org/fhir/ValueSet/cycle-a' imports itself: \
         http://example.org/fhir/ValueSet/cycle-a → http://example.org/fhir/ValueSet/cycle-b → \
         http://example.org/fhir/ValueSet/cycle-a"
    );

    let error = terminology
        .expand(&vs_url("bad-regex"), &ExpandOptions::default())
        .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "value set 'http://example.org/fhir/ValueSet/bad-regex': filter 'code regex (unclosed' \
             has an invalid regex"
        ),
        "{error}"
    );
    let error = terminology
        .expand(&vs_url("is-a-sides"), &ExpandOptions::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "value set 'http://example.org/fhir/ValueSet/is-a-sides': filter 'sides is-a 4' is not \
         supported: 'is-a' applies to property 'concept' only"
    );
    let error = terminology
        .expand(&vs_url("exists-maybe"), &ExpandOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidFilter { .. }), "{error}");
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let terminology = service();
    for depth in 0..20 {
        let value_set = ValueSet::from_json(&json!({
            "url": vs_url(&format!("level-{depth}")),
            "compose": {"include": [{"valueSet": [vs_url(&format!("level-{}", depth + 1))]}]}
        }))
        .unwrap();
        terminology.add_value_set(value_set);
    }
    terminology.add_value_set(
        ValueSet::from_json(&filtered(
            "level-20",
            json!([{"property": "concept", "op": "is-a", "value": "color"}]),
        ))
        .unwrap(),
    );
    let error = terminology
        .expand(&vs_url("level-0"), &ExpandOptions::default())
        .unwrap_err();
    assert!(
        matches!(error, Error::ValueSetTooDeep { limit: 16, .. }),
        "{error}"
    );
    // Ten levels are fine.
    let shallow = terminology
        .expand(&vs_url("level-10"), &ExpandOptions::default())
        .unwrap();
    assert_eq!(codes(&shallow), ["color", "red", "green", "blue"]);
}

#[test]
fn text_filter_matches_word_prefixes_of_displays_and_designations() {
    let terminology = service();
    let filter = |text: &str| {
        terminology
            .expand(
                &vs_url("polygons"),
                &ExpandOptions {
                    filter: Some(text.to_owned()),
                    ..ExpandOptions::default()
                },
            )
            .unwrap()
    };
    // "Triangle" starts with the filter, so it comes before "Equilateral triangle".
    assert_eq!(codes(&filter("tri")), ["triangle", "equilateral-triangle"]);
    assert_eq!(codes(&filter("EQUI TRI")), ["equilateral-triangle"]);
    assert_eq!(codes(&filter("driehoek")), ["triangle"]);
    assert_eq!(
        codes(&filter("angle")),
        Vec::<&str>::new(),
        "prefixes of words only"
    );
    assert_eq!(
        filter("  ").total,
        7,
        "a filter without words filters nothing"
    );
    assert_eq!(filter("tri").parameters[0].name, "filter");
}

#[test]
fn paging_active_only_designations_and_limit() {
    let terminology = service();
    let page = terminology
        .expand(
            &vs_url("polygons"),
            &ExpandOptions {
                offset: 2,
                count: Some(2),
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(codes(&page), ["equilateral-triangle", "quadrilateral"]);
    assert_eq!((page.total, page.offset), (7, 2));

    let all = format!("{SHAPES}?fhir_vs");
    let active = terminology
        .expand(
            &all,
            &ExpandOptions {
                active_only: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(active.total, 14);
    assert!(!codes(&active).contains(&"ellipse"));
    let everything = terminology.expand(&all, &ExpandOptions::default()).unwrap();
    let ellipse = everything
        .contains
        .iter()
        .find(|c| c.code == "ellipse")
        .unwrap();
    assert!(ellipse.inactive);
    let color = everything
        .contains
        .iter()
        .find(|c| c.code == "color")
        .unwrap();
    assert!(color.is_abstract);

    let with_designations = terminology
        .expand(
            &vs_url("angles"),
            &ExpandOptions {
                include_designations: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        with_designations.contains[0].designations[0].value,
        "Driehoek"
    );

    let error = terminology
        .expand(
            &all,
            &ExpandOptions {
                limit: 5,
                ..ExpandOptions::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "value set 'http://example.org/fhir/CodeSystem/shapes?fhir_vs' expands to 15 codes, \
         more than the limit of 5: ask for a page with count, or narrow it with filter"
    );
    let paged = terminology
        .expand(
            &all,
            &ExpandOptions {
                limit: 5,
                count: Some(3),
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(paged.contains.len(), 3);
}

fn tree(entries: &[ExpansionContains]) -> String {
    entries
        .iter()
        .map(|entry| {
            if entry.contains.is_empty() {
                entry.code.clone()
            } else {
                format!("{}({})", entry.code, tree(&entry.contains))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn hierarchical_expansions_nest_codes_under_their_parents() {
    let terminology = service();
    let expansion = terminology
        .expand(
            &vs_url("polygons"),
            &ExpandOptions {
                hierarchical: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        tree(&expansion.contains),
        "polygon(triangle(equilateral-triangle) quadrilateral(rectangle(square) rhombus))"
    );
    assert_eq!(expansion.total, 7);
    // Without their common parent on the page, codes stay at the top.
    let below = terminology
        .expand(
            &vs_url("below-polygon"),
            &ExpandOptions {
                hierarchical: true,
                ..ExpandOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        tree(&below.contains),
        "triangle(equilateral-triangle) quadrilateral(rectangle(square) rhombus)"
    );
}

#[test]
fn validate_code_checks_membership_and_display() {
    let terminology = service();
    let polygons = vs_url("polygons");
    let square = terminology
        .validate_code(&polygons, SHAPES, "square", None)
        .unwrap();
    assert!(square.result);
    assert_eq!(square.display.as_deref(), Some("Square"));
    let versioned = terminology
        .validate_code(&polygons, &format!("{SHAPES}|1.0.0"), "square", None)
        .unwrap();
    assert!(versioned.result);
    let other_version = terminology
        .validate_code(&polygons, &format!("{SHAPES}|2.0.0"), "square", None)
        .unwrap();
    assert!(!other_version.result);

    let circle = terminology
        .validate_code(&polygons, SHAPES, "circle", None)
        .unwrap();
    assert_eq!(
        circle.message.as_deref(),
        Some(
            "code 'http://example.org/fhir/CodeSystem/shapes#circle' is not in value set \
             'http://example.org/fhir/ValueSet/polygons'"
        )
    );
    let unknown = terminology
        .validate_code(&polygons, SHAPES, "hexagon", None)
        .unwrap();
    assert_eq!(
        unknown.message.as_deref(),
        Some("unknown code 'hexagon' in code system 'http://example.org/fhir/CodeSystem/shapes'")
    );
    let designation = terminology
        .validate_code(&polygons, SHAPES, "triangle", Some("driehoek"))
        .unwrap();
    assert!(designation.result, "{designation:?}");
    let wrong = terminology
        .validate_code(&polygons, SHAPES, "square", Some("Circle"))
        .unwrap();
    assert!(!wrong.result);
    assert_eq!(wrong.display.as_deref(), Some("Square"));

    let in_system = terminology
        .validate_code_in_system(SHAPES, "ellipse", None)
        .unwrap();
    assert!(in_system.result && in_system.inactive);
    let missing = terminology
        .validate_code_in_system(SHAPES, "hexagon", None)
        .unwrap();
    assert!(!missing.result);
}

#[test]
fn lookup_and_subsumes_follow_both_parents() {
    let terminology = service();
    let square = terminology.lookup(SHAPES, "square").unwrap();
    let parents: Vec<&str> = square.parents.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(parents, ["rectangle", "rhombus"]);
    assert_eq!(
        square.definition.as_deref(),
        Some("A rectangle whose sides are equal.")
    );
    assert_eq!(square.properties[0].code, "sides");
    assert_eq!(square.properties[0].value, PropertyValue::Integer(4));
    assert_eq!(square.version.as_deref(), Some("1.0.0"));
    let quadrilateral = terminology.lookup(SHAPES, "quadrilateral").unwrap();
    let children: Vec<&str> = quadrilateral
        .children
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(children, ["rectangle", "rhombus"]);

    let cases = [
        ("polygon", "square", Subsumption::Subsumes),
        ("rhombus", "square", Subsumption::Subsumes),
        ("square", "rectangle", Subsumption::SubsumedBy),
        ("circle", "square", Subsumption::NotSubsumed),
        ("square", "square", Subsumption::Equivalent),
    ];
    for (a, b, expected) in cases {
        assert_eq!(
            terminology.subsumes(SHAPES, a, b).unwrap(),
            expected,
            "{a} {b}"
        );
    }
    let error = terminology
        .subsumes(SHAPES, "square", "hexagon")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown code 'hexagon' in code system 'http://example.org/fhir/CodeSystem/shapes'"
    );
}

#[test]
fn implicit_value_sets_and_added_versions() {
    let terminology = service();
    let quadrilaterals = terminology
        .expand(
            &format!("{SHAPES}?fhir_vs=isa/quadrilateral"),
            &ExpandOptions::default(),
        )
        .unwrap();
    assert_eq!(
        codes(&quadrilaterals),
        ["quadrilateral", "rectangle", "square", "rhombus"]
    );
    let error = terminology
        .expand(
            &format!("{SHAPES}?fhir_vs=tree/123"),
            &ExpandOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(error, Error::InvalidValueSet { .. }), "{error}");
    // "refset/{id}" is ECL "^ {id}", and "123" is not a concept id.
    let error = terminology
        .expand(
            &format!("{SHAPES}?fhir_vs=refset/123"),
            &ExpandOptions::default(),
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidEcl { position: 3, .. }),
        "{error}"
    );

    // An added code system takes precedence over the built-in one of the same URL; the
    // built-in one stays reachable by its version.
    let gender = "http://hl7.org/fhir/administrative-gender";
    terminology.add_code_system(
        CodeSystem::from_json(&json!({
            "url": gender, "version": "9.9.9",
            "concept": [{"code": "female", "display": "Female (local)"}]
        }))
        .unwrap(),
    );
    let local = terminology.lookup(gender, "female").unwrap();
    assert_eq!(local.display.as_deref(), Some("Female (local)"));
    let builtin = terminology
        .lookup(&format!("{gender}|4.0.1"), "female")
        .unwrap();
    assert_eq!(builtin.display.as_deref(), Some("Female"));

    let error = terminology
        .save_code_system(CodeSystem::from_json(&shapes()).unwrap())
        .unwrap_err();
    assert!(matches!(error, Error::NoDatabase { .. }), "{error}");
}

#[test]
fn an_inline_definition_expands_without_registering() {
    let terminology = service();
    let definition = ValueSet::from_json(&filtered(
        "inline",
        json!([{"property": "concept", "op": "is-a", "value": "round"}]),
    ))
    .unwrap();
    let expansion = terminology
        .expand_definition(&definition, &ExpandOptions::default())
        .unwrap();
    assert_eq!(codes(&expansion), ["round", "circle", "ellipse"]);
    assert!(terminology.value_set(&vs_url("inline")).is_err());
}

#[test]
fn readers_and_a_writer_share_the_service() {
    let terminology = std::sync::Arc::new(service());
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let terminology = std::sync::Arc::clone(&terminology);
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    let square = terminology
                        .validate_code(&vs_url("polygons"), SHAPES, "square", None)
                        .expect("validates");
                    assert!(square.result);
                    assert_eq!(
                        terminology
                            .subsumes(SHAPES, "polygon", "square")
                            .expect("subsumes"),
                        Subsumption::Subsumes
                    );
                }
            })
        })
        .collect();
    // Adding value sets empties the compiled cache while the readers use it.
    for round in 0..50 {
        terminology.add_value_set(
            ValueSet::from_json(&filtered(
                &format!("extra-{round}"),
                json!([{"property": "concept", "op": "is-a", "value": "round"}]),
            ))
            .expect("a ValueSet"),
        );
    }
    for reader in readers {
        reader.join().expect("the reader finished");
    }
    assert_eq!(
        codes(&expand(&terminology, "extra-49")),
        ["round", "circle", "ellipse"]
    );
}
