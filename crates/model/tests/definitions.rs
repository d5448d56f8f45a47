//! The embedded definitions, through the public API: types, elements, search parameters,
//! compartments.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on a missing definition"
)]

use medulla_model::{
    Definitions, ElementDef, PrimitiveJsonKind, SearchParamComponent, SearchParamDef,
    SearchParamType, TypeKind, definitions,
};

fn r4() -> &'static Definitions {
    definitions()
}

fn type_names(element: &ElementDef) -> Vec<&str> {
    element.types.iter().map(String::as_str).collect()
}

#[test]
fn version_is_r4() {
    assert_eq!(r4().version(), "4.0.1");
}

#[test]
fn resource_types_are_the_concrete_r4_ones_sorted() {
    let names: Vec<&str> = r4().resource_types().collect();
    // 146, not the 145 often quoted: R4 4.0.1 defines 146 concrete resource StructureDefinitions
    // (Parameters included). The source package's R4B SubscriptionStatus is left out.
    assert_eq!(names.len(), 146);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(names.first(), Some(&"Account"));
    assert_eq!(names.last(), Some(&"VisionPrescription"));
    for name in ["Patient", "Observation", "Bundle", "Binary", "Parameters"] {
        assert!(r4().is_resource_type(name), "{name}");
    }
    for name in [
        "Resource",
        "DomainResource",
        "SubscriptionStatus",
        "MetadataResource",
    ] {
        assert!(!r4().is_resource_type(name), "{name}");
    }
    for name in ["HumanName", "string", "Patient.contact", "patient", ""] {
        assert!(!r4().is_resource_type(name), "{name}");
    }
}

#[test]
fn abstract_resource_types_keep_their_elements() {
    let resource = r4().type_def("Resource").unwrap();
    assert_eq!(resource.kind, TypeKind::Resource);
    assert!(resource.is_abstract);
    assert_eq!(resource.base, None);
    let names: Vec<&str> = resource
        .elements()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["id", "meta", "implicitRules", "language"]);
    let domain = r4().type_def("DomainResource").unwrap();
    assert_eq!(domain.base.as_deref(), Some("Resource"));
    assert_eq!(domain.elements().len(), 8);
}

#[test]
fn inherited_elements_are_in_each_resource() {
    let patient = r4().type_def("Patient").unwrap();
    let first: Vec<&str> = patient.elements()[..8]
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        first,
        [
            "id",
            "meta",
            "implicitRules",
            "language",
            "text",
            "contained",
            "extension",
            "modifierExtension"
        ]
    );
    // The R4 snapshots type Resource.id as a FHIRPath string with FHIR type `string`.
    let (id, id_type) = patient.element_for_json_name("id").unwrap();
    assert_eq!((id.path.as_str(), id_type), ("Patient.id", "string"));
    let (contained, contained_type) = patient.element_for_json_name("contained").unwrap();
    assert_eq!((contained_type, contained.max_many), ("Resource", true));
}

#[test]
fn element_flags_come_from_the_snapshot() {
    let patient = r4().type_def("Patient").unwrap();
    let active = patient.element("active").unwrap();
    assert_eq!(
        (
            active.min,
            active.max_many,
            active.is_summary,
            active.is_modifier
        ),
        (0, false, true, true)
    );
    let name = patient.element("name").unwrap();
    assert_eq!(
        (name.min, name.max_many, name.is_summary, name.is_modifier),
        (0, true, true, false)
    );
    let observation = r4().type_def("Observation").unwrap();
    let status = observation.element("status").unwrap();
    assert_eq!((status.min, type_names(status)), (1, vec!["code"]));
}

#[test]
fn choice_elements_resolve_by_json_name() {
    let observation = r4().type_def("Observation").unwrap();
    let value = observation.element("value").unwrap();
    assert!(value.is_choice);
    assert_eq!(value.path, "Observation.value[x]");
    assert_eq!(
        type_names(value),
        [
            "Quantity",
            "CodeableConcept",
            "string",
            "boolean",
            "integer",
            "Range",
            "Ratio",
            "SampledData",
            "time",
            "dateTime",
            "Period"
        ]
    );
    let resolve = |json_name: &str| {
        observation
            .element_for_json_name(json_name)
            .map(|(element, type_code)| (element.name.clone(), type_code.to_owned()))
    };
    assert_eq!(
        resolve("valueQuantity"),
        Some(("value".into(), "Quantity".into()))
    );
    assert_eq!(
        resolve("valueString"),
        Some(("value".into(), "string".into()))
    );
    assert_eq!(
        resolve("valueDateTime"),
        Some(("value".into(), "dateTime".into()))
    );
    assert_eq!(
        resolve("effectivePeriod"),
        Some(("effective".into(), "Period".into()))
    );
    assert_eq!(resolve("value"), None);
    assert_eq!(resolve("valuequantity"), None);
    assert_eq!(resolve("valueAge"), None);
    assert_eq!(resolve("_valueString"), None);
    let patient = r4().type_def("Patient").unwrap();
    let (deceased, deceased_type) = patient.element_for_json_name("deceasedDateTime").unwrap();
    assert_eq!(
        (deceased.name.as_str(), deceased_type),
        ("deceased", "dateTime")
    );
}

#[test]
fn backbone_elements_are_types_named_by_path() {
    let patient = r4().type_def("Patient").unwrap();
    let (contact, contact_type) = patient.element_for_json_name("contact").unwrap();
    assert_eq!((contact_type, contact.max_many), ("Patient.contact", true));

    let contact_def = r4().type_def("Patient.contact").unwrap();
    assert_eq!(contact_def.kind, TypeKind::Backbone);
    assert_eq!(contact_def.base.as_deref(), Some("BackboneElement"));
    let (name, name_type) = contact_def.element_for_json_name("name").unwrap();
    assert_eq!(
        (name.path.as_str(), name_type, name.max_many),
        ("Patient.contact.name", "HumanName", false)
    );
    assert!(r4().is_subtype_of("Patient.contact", "Element"));

    let request = r4().type_def("Bundle.entry.request").unwrap();
    let method = request.element("method").unwrap();
    assert_eq!((method.min, type_names(method)), (1, vec!["code"]));
    let entry = r4().type_def("Bundle.entry").unwrap();
    let (_, request_type) = entry.element_for_json_name("request").unwrap();
    assert_eq!(request_type, "Bundle.entry.request");

    // Data types' own backbones use Element as their base.
    let repeat = r4().type_def("Timing.repeat").unwrap();
    assert_eq!(
        (repeat.kind, repeat.base.as_deref()),
        (TypeKind::Backbone, Some("Element"))
    );
}

#[test]
fn content_references_point_at_the_backbone_type() {
    let item = r4().type_def("Questionnaire.item").unwrap();
    let nested = item.element("item").unwrap();
    assert_eq!(nested.path, "Questionnaire.item.item");
    assert_eq!(type_names(nested), ["Questionnaire.item"]);
    assert!(nested.max_many);
    let parameter = r4().type_def("Parameters.parameter").unwrap();
    let (_, part_type) = parameter.element_for_json_name("part").unwrap();
    assert_eq!(part_type, "Parameters.parameter");
}

#[test]
fn complex_types_and_quantity_profiles_are_present() {
    for (name, base) in [
        ("HumanName", "Element"),
        ("Identifier", "Element"),
        ("Reference", "Element"),
        ("Meta", "Element"),
        ("Extension", "Element"),
        ("Narrative", "Element"),
        ("BackboneElement", "Element"),
        ("Quantity", "Element"),
        ("Age", "Quantity"),
        ("Duration", "Quantity"),
        ("SimpleQuantity", "Quantity"),
        ("MoneyQuantity", "Quantity"),
        ("Dosage", "BackboneElement"),
    ] {
        let type_def = r4().type_def(name).unwrap();
        assert_eq!(
            (type_def.kind, type_def.base.as_deref()),
            (TypeKind::Complex, Some(base)),
            "{name}"
        );
    }
    let element = r4().type_def("Element").unwrap();
    assert_eq!((element.is_abstract, element.base.as_deref()), (true, None));
    // SimpleQuantity prohibits a comparator (max 0), so it has no such element.
    let simple = r4().type_def("SimpleQuantity").unwrap();
    assert_eq!(simple.element("comparator").map(|e| e.name.as_str()), None);
    let quantity = r4().type_def("Quantity").unwrap();
    assert!(quantity.element("comparator").unwrap().is_modifier);
    let extension = r4().type_def("Extension").unwrap();
    let (url, url_type) = extension.element_for_json_name("url").unwrap();
    assert_eq!((url.min, url_type), (1, "uri"));
    assert_eq!(extension.element("value").unwrap().types.len(), 50);
}

#[test]
fn primitives_have_their_regexes_and_json_kinds() {
    let mut with_regex = Vec::new();
    let mut without_regex = Vec::new();
    for type_def in r4().types().filter(|t| t.is_primitive()) {
        if type_def.regex.is_some() {
            with_regex.push(type_def.name.as_str());
        } else {
            without_regex.push(type_def.name.as_str());
        }
    }
    with_regex.sort_unstable();
    // Every R4 regex compiles with the `regex` crate; only xhtml has none in R4.
    assert_eq!(
        with_regex,
        [
            "base64Binary",
            "boolean",
            "canonical",
            "code",
            "date",
            "dateTime",
            "decimal",
            "id",
            "instant",
            "integer",
            "markdown",
            "oid",
            "positiveInt",
            "string",
            "time",
            "unsignedInt",
            "uri",
            "url",
            "uuid"
        ]
    );
    assert_eq!(without_regex, ["xhtml"]);

    let matches = |name: &str, text: &str| {
        r4().type_def(name)
            .unwrap()
            .regex
            .as_ref()
            .unwrap()
            .is_match(text)
    };
    assert!(matches("date", "2020-02-29"));
    assert!(matches("date", "2020"));
    assert!(!matches("date", "2020-13-45"));
    assert!(!matches("date", "x2020-01-01"));
    assert!(matches("dateTime", "2020-01-01T10:00:00+01:00"));
    assert!(!matches("dateTime", "2020-01-01T10:00:00"));
    assert!(matches("instant", "2020-01-01T10:00:00.123Z"));
    assert!(!matches("instant", "2020-01-01"));
    assert!(matches("id", "a-1.b"));
    assert!(!matches("id", "a_1"));
    assert!(!matches("code", " leading"));
    assert!(matches(
        "uuid",
        "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"
    ));
    assert!(!matches("positiveInt", "0"));

    let kind = |name: &str| r4().type_def(name).unwrap().primitive_json_kind();
    assert_eq!(kind("boolean"), Some(PrimitiveJsonKind::Boolean));
    assert_eq!(kind("unsignedInt"), Some(PrimitiveJsonKind::Integer));
    assert_eq!(kind("positiveInt"), Some(PrimitiveJsonKind::Integer));
    assert_eq!(kind("decimal"), Some(PrimitiveJsonKind::Decimal));
    assert_eq!(kind("code"), Some(PrimitiveJsonKind::String));
    assert_eq!(kind("xhtml"), Some(PrimitiveJsonKind::String));
    assert_eq!(kind("HumanName"), None);

    let date = r4().type_def("date").unwrap();
    let value = date.element("value").unwrap();
    assert_eq!(type_names(value), ["System.Date"]);
}

#[test]
fn subtypes_follow_base_definitions() {
    let cases = [
        ("Patient", "DomainResource", true),
        ("Patient", "Resource", true),
        ("Patient", "Patient", true),
        ("Age", "Quantity", true),
        ("Age", "Element", true),
        ("code", "string", true),
        ("positiveInt", "integer", true),
        ("canonical", "uri", true),
        ("Bundle", "DomainResource", false),
        ("Binary", "Resource", true),
        ("Quantity", "Age", false),
        ("string", "code", false),
        ("Unknown", "Resource", false),
        ("Unknown", "Unknown", true),
    ];
    for (type_name, ancestor, expected) in cases {
        assert_eq!(
            r4().is_subtype_of(type_name, ancestor),
            expected,
            "{type_name} is {ancestor}"
        );
    }
}

#[test]
fn search_parameters_are_all_loaded() {
    let all = r4().all_search_params();
    assert_eq!(all.len(), 1378);
    let composites = all
        .iter()
        .filter(|p| p.kind == SearchParamType::Composite)
        .count();
    assert_eq!(composites, 46);
    let with_targets = all.iter().filter(|p| !p.target.is_empty()).count();
    assert_eq!(with_targets, 471);
}

#[test]
fn observation_search_parameters() {
    let observation: Vec<&SearchParamDef> = r4().search_params("Observation").collect();
    // Observation's own 38 plus Resource's 8 plus DomainResource's _text.
    assert_eq!(observation.len(), 47);
    let code = r4().search_param("Observation", "code").unwrap();
    assert_eq!(code.kind, SearchParamType::Token);
    assert_eq!(
        code.url,
        "http://hl7.org/fhir/SearchParameter/clinical-code"
    );
    assert!(
        code.expression
            .as_deref()
            .unwrap()
            .contains("Observation.code")
    );
    assert!(observation.iter().any(|p| p.code == "code"));

    let subject = r4().search_param("Observation", "subject").unwrap();
    assert_eq!(subject.kind, SearchParamType::Reference);
    assert_eq!(subject.target, ["Group", "Device", "Patient", "Location"]);

    let date = r4().search_param("Observation", "date").unwrap();
    assert_eq!(
        date.comparators,
        ["eq", "ne", "gt", "ge", "lt", "le", "sa", "eb", "ap"]
    );

    let composite = r4()
        .search_param("Observation", "code-value-quantity")
        .unwrap();
    assert_eq!(composite.kind, SearchParamType::Composite);
    assert_eq!(composite.multiple_or, Some(false));
    assert_eq!(
        composite.components,
        [
            SearchParamComponent {
                definition: "http://hl7.org/fhir/SearchParameter/clinical-code".into(),
                expression: "code".into(),
            },
            SearchParamComponent {
                definition: "http://hl7.org/fhir/SearchParameter/Observation-value-quantity".into(),
                expression: "value.as(Quantity)".into(),
            },
        ]
    );
}

#[test]
fn resource_level_search_parameters_are_inherited() {
    let id = r4().search_param("Patient", "_id").unwrap();
    assert_eq!(
        (id.kind, id.expression.as_deref(), id.base.as_slice()),
        (
            SearchParamType::Token,
            Some("Resource.id"),
            ["Resource".to_owned()].as_slice()
        )
    );
    let last_updated = r4().search_param("Binary", "_lastUpdated").unwrap();
    assert_eq!(last_updated.kind, SearchParamType::Date);
    assert_eq!(
        r4().search_param("Patient", "_text").map(|p| p.kind),
        Some(SearchParamType::String)
    );
    // Binary and Bundle derive from Resource directly, so DomainResource's _text is not theirs.
    assert_eq!(r4().search_param("Binary", "_text"), None);
    assert_eq!(r4().search_params("Binary").count(), 8);
    assert_eq!(r4().search_param("Patient", "performer"), None);
    assert_eq!(r4().search_param("NotAType", "_id"), None);
    assert_eq!(r4().search_params("NotAType").count(), 0);
    let tag = r4().search_param("Observation", "_tag").unwrap();
    assert_eq!(tag.expression.as_deref(), Some("Resource.meta.tag"));
    let content = r4().search_param("Observation", "_content").unwrap();
    assert_eq!(content.expression, None);
}

#[test]
fn patient_compartment_links() {
    let params = |resource_type: &str| {
        r4().patient_compartment_params(resource_type)
            .map(|params| params.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(params("Observation"), Some(vec!["subject", "performer"]));
    assert_eq!(params("Patient"), Some(vec!["link"]));
    assert_eq!(params("Encounter"), Some(vec!["subject"]));
    assert_eq!(params("Condition"), Some(vec!["patient", "asserter"]));
    assert_eq!(params("ActivityDefinition"), None);
    assert_eq!(params("NotAType"), None);
    // Every compartment parameter exists for its resource type.
    for resource_type in r4().resource_types() {
        for code in r4()
            .patient_compartment_params(resource_type)
            .unwrap_or_default()
        {
            assert!(
                code == "{def}" || r4().search_param(resource_type, code).is_some(),
                "{resource_type}.{code}"
            );
        }
    }
}
