//! Reading FHIR CodeSystem and ValueSet JSON: [`CodeSystem::from_json`] and
//! [`ValueSet::from_json`]. The embedded built-in content is in the same shape and goes through
//! the same code.
//!
//! Concept properties that FHIR defines with a meaning for terminology operations are applied
//! as well as kept: `parent` and `subsumedBy` (and `child`) add hierarchy links, `status` =
//! `retired` and `inactive` = true make the concept inactive, `notSelectable` (and `abstract`)
//! = true make it abstract.

use serde::Deserialize;
use serde_json::Value as Json;

use crate::Error;
use crate::builder::{CodeSystemBuilder, ConceptId};
use crate::code_system::CodeSystem;
use crate::definitions::{
    CodeSystemContent, CodeSystemInfo, Coding, HierarchyMeaning, PropertyDefinition, PropertyType,
    PropertyValue,
};
use crate::value_set::{Compose, ConceptReference, ConceptSet, Filter, FilterOperator, ValueSet};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireCodeSystem {
    resource_type: Option<String>,
    url: Option<String>,
    version: Option<String>,
    name: Option<String>,
    title: Option<String>,
    status: Option<String>,
    content: Option<String>,
    case_sensitive: Option<bool>,
    hierarchy_meaning: Option<String>,
    #[serde(default)]
    property: Vec<WirePropertyDefinition>,
    #[serde(default)]
    concept: Vec<WireConcept>,
}

#[derive(Deserialize)]
struct WirePropertyDefinition {
    code: String,
    uri: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct WireConcept {
    code: Option<String>,
    display: Option<String>,
    definition: Option<String>,
    #[serde(default)]
    designation: Vec<WireDesignation>,
    #[serde(default)]
    property: Vec<WireConceptProperty>,
    #[serde(default)]
    concept: Vec<WireConcept>,
}

#[derive(Deserialize)]
struct WireDesignation {
    language: Option<String>,
    #[serde(rename = "use")]
    usage: Option<WireCoding>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct WireCoding {
    system: Option<String>,
    code: Option<String>,
    display: Option<String>,
}

impl WireCoding {
    fn into_coding(self) -> Option<Coding> {
        Some(Coding {
            system: self.system,
            code: self.code?,
            display: self.display,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireConceptProperty {
    code: String,
    value_code: Option<String>,
    value_coding: Option<WireCoding>,
    value_string: Option<String>,
    value_integer: Option<i64>,
    value_boolean: Option<bool>,
    value_date_time: Option<String>,
    value_decimal: Option<serde_json::Number>,
}

impl WireConceptProperty {
    fn into_value(self) -> Option<PropertyValue> {
        if let Some(code) = self.value_code {
            return Some(PropertyValue::Code(code));
        }
        if let Some(coding) = self.value_coding {
            return coding.into_coding().map(PropertyValue::Coding);
        }
        if let Some(text) = self.value_string {
            return Some(PropertyValue::String(text));
        }
        if let Some(value) = self.value_integer {
            return Some(PropertyValue::Integer(value));
        }
        if let Some(value) = self.value_boolean {
            return Some(PropertyValue::Boolean(value));
        }
        if let Some(text) = self.value_date_time {
            return Some(PropertyValue::DateTime(text));
        }
        self.value_decimal
            .map(|number| PropertyValue::Decimal(number.to_string()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireValueSet {
    resource_type: Option<String>,
    url: Option<String>,
    version: Option<String>,
    name: Option<String>,
    title: Option<String>,
    status: Option<String>,
    compose: Option<WireCompose>,
}

#[derive(Deserialize)]
struct WireCompose {
    inactive: Option<bool>,
    #[serde(default)]
    include: Vec<WireConceptSet>,
    #[serde(default)]
    exclude: Vec<WireConceptSet>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireConceptSet {
    system: Option<String>,
    version: Option<String>,
    #[serde(default)]
    concept: Vec<WireConceptReference>,
    #[serde(default)]
    filter: Vec<WireFilter>,
    #[serde(default)]
    value_set: Vec<String>,
}

#[derive(Deserialize)]
struct WireConceptReference {
    code: String,
    display: Option<String>,
}

#[derive(Deserialize)]
struct WireFilter {
    property: String,
    op: String,
    value: String,
}

impl CodeSystem {
    /// Reads a FHIR R4 CodeSystem resource and builds its indexes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeSystem`] if the JSON is not a CodeSystem (wrong `resourceType`, no
    /// `url`, an element of the wrong type, a concept without code, an unknown `content` or
    /// `hierarchyMeaning`), or its concepts do not make a code system (duplicate codes, a parent
    /// that is not there, a cycle).
    pub fn from_json(resource: &Json) -> Result<CodeSystem, Error> {
        let url = resource.get("url").and_then(Json::as_str).unwrap_or("");
        let wire =
            WireCodeSystem::deserialize(resource).map_err(|error| Error::InvalidCodeSystem {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        build_code_system(wire)
    }
}

impl ValueSet {
    /// Reads a FHIR R4 ValueSet resource's definition (metadata and compose).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValueSet`] if the JSON is not a ValueSet (wrong `resourceType`, no
    /// `url`, an element of the wrong type), a filter operator is unknown, or an include has
    /// both concepts and filters.
    pub fn from_json(resource: &Json) -> Result<ValueSet, Error> {
        let url = resource.get("url").and_then(Json::as_str).unwrap_or("");
        let wire = WireValueSet::deserialize(resource).map_err(|error| Error::InvalidValueSet {
            url: url.to_owned(),
            reason: error.to_string(),
        })?;
        convert_value_set(wire)
    }
}

pub(crate) fn build_code_system(mut wire: WireCodeSystem) -> Result<CodeSystem, Error> {
    let concepts = std::mem::take(&mut wire.concept);
    let mut builder = CodeSystemBuilder::new(code_system_info(wire)?);
    // Depth-first over the nested concepts without recursion: (concept, its parent).
    let mut pending: Vec<(WireConcept, Option<ConceptId>)> = concepts
        .into_iter()
        .rev()
        .map(|concept| (concept, None))
        .collect();
    while let Some((concept, parent)) = pending.pop() {
        let id = add_concept(&mut builder, concept.code.as_deref(), parent)?;
        if let Some(display) = concept.display.as_deref() {
            builder.set_display(id, display)?;
        }
        if let Some(definition) = concept.definition.as_deref() {
            builder.set_definition(id, definition)?;
        }
        for designation in concept.designation {
            let Some(value) = designation.value else {
                continue;
            };
            let usage = designation.usage.and_then(WireCoding::into_coding);
            builder.add_designation(id, designation.language.as_deref(), usage.as_ref(), &value)?;
        }
        for property in concept.property {
            let code = property.code.clone();
            let Some(value) = property.into_value() else {
                continue;
            };
            apply_property(&mut builder, id, &code, value)?;
        }
        for child in concept.concept.into_iter().rev() {
            pending.push((child, Some(id)));
        }
    }
    builder.build()
}

/// The metadata of a CodeSystem resource (its concepts already taken out).
fn code_system_info(wire: WireCodeSystem) -> Result<CodeSystemInfo, Error> {
    let url = wire.url.unwrap_or_default();
    let invalid = |reason: String| Error::InvalidCodeSystem {
        url: url.clone(),
        reason,
    };
    if let Some(kind) = wire.resource_type.as_deref()
        && kind != "CodeSystem"
    {
        return Err(invalid(format!(
            "resourceType is '{kind}', not 'CodeSystem'"
        )));
    }
    if url.is_empty() {
        return Err(invalid("it has no url".to_owned()));
    }
    let content = match wire.content.as_deref() {
        None => CodeSystemContent::Complete,
        Some(code) => CodeSystemContent::from_code(code)
            .ok_or_else(|| invalid(format!("unknown content '{code}'")))?,
    };
    let hierarchy_meaning = match wire.hierarchy_meaning.as_deref() {
        None => None,
        Some(code) => Some(
            HierarchyMeaning::from_code(code)
                .ok_or_else(|| invalid(format!("unknown hierarchyMeaning '{code}'")))?,
        ),
    };
    let mut properties = Vec::with_capacity(wire.property.len());
    for property in wire.property {
        let kind = match property.kind.as_deref() {
            Some(code) => PropertyType::from_code(code).ok_or_else(|| {
                invalid(format!(
                    "property '{}' has unknown type '{code}'",
                    property.code
                ))
            })?,
            None => PropertyType::String,
        };
        properties.push(PropertyDefinition {
            code: property.code,
            uri: property.uri,
            kind,
            description: property.description,
        });
    }
    Ok(CodeSystemInfo {
        url: url.clone(),
        version: wire.version,
        name: wire.name,
        title: wire.title,
        status: wire.status,
        content,
        hierarchy_meaning,
        case_sensitive: wire.case_sensitive,
        properties,
    })
}

fn add_concept(
    builder: &mut CodeSystemBuilder,
    code: Option<&str>,
    parent: Option<ConceptId>,
) -> Result<ConceptId, Error> {
    let Some(code) = code else {
        return Err(Error::InvalidCodeSystem {
            url: builder.info().url.clone(),
            reason: "a concept has no code".to_owned(),
        });
    };
    let id = builder.add_concept(code)?;
    if let Some(parent) = parent {
        builder.add_parent(id, parent);
    }
    Ok(id)
}

/// Keeps a property, or turns it into hierarchy (`parent`, `subsumedBy`, `child`), and sets the
/// flags FHIR's standard properties imply.
fn apply_property(
    builder: &mut CodeSystemBuilder,
    id: ConceptId,
    code: &str,
    value: PropertyValue,
) -> Result<(), Error> {
    match (code, &value) {
        ("parent" | "subsumedBy", PropertyValue::Code(parent)) => {
            builder.add_parent_code(id, parent);
            return Ok(());
        }
        ("child", PropertyValue::Code(child)) => {
            builder.add_child_code(id, child);
            return Ok(());
        }
        ("status", PropertyValue::Code(status)) if status == "retired" => {
            builder.set_inactive(id, true);
        }
        ("inactive", PropertyValue::Boolean(true)) => builder.set_inactive(id, true),
        ("notSelectable" | "abstract", PropertyValue::Boolean(true)) => {
            builder.set_abstract(id, true);
        }
        _ => {}
    }
    builder.add_property(id, code, &value)
}

pub(crate) fn convert_value_set(wire: WireValueSet) -> Result<ValueSet, Error> {
    let url = wire.url.unwrap_or_default();
    let invalid = |reason: String| Error::InvalidValueSet {
        url: url.clone(),
        reason,
    };
    if let Some(kind) = wire.resource_type.as_deref()
        && kind != "ValueSet"
    {
        return Err(invalid(format!("resourceType is '{kind}', not 'ValueSet'")));
    }
    if url.is_empty() {
        return Err(invalid("it has no url".to_owned()));
    }
    let compose = match wire.compose {
        None => None,
        Some(compose) => {
            let convert = |sets: Vec<WireConceptSet>| -> Result<Vec<ConceptSet>, Error> {
                sets.into_iter()
                    .map(|set| convert_concept_set(set, &invalid))
                    .collect()
            };
            Some(Compose {
                inactive: compose.inactive,
                include: convert(compose.include)?,
                exclude: convert(compose.exclude)?,
            })
        }
    };
    Ok(ValueSet {
        url: url.clone(),
        version: wire.version,
        name: wire.name,
        title: wire.title,
        status: wire.status,
        compose,
    })
}

fn convert_concept_set(
    set: WireConceptSet,
    invalid: &impl Fn(String) -> Error,
) -> Result<ConceptSet, Error> {
    if !set.concept.is_empty() && !set.filter.is_empty() {
        return Err(invalid(
            "an include or exclude has both concept and filter (vsd-3)".to_owned(),
        ));
    }
    if set.system.is_none() && set.value_set.is_empty() {
        return Err(invalid(
            "an include or exclude has neither system nor valueSet (vsd-1)".to_owned(),
        ));
    }
    if set.system.is_none() && (!set.concept.is_empty() || !set.filter.is_empty()) {
        return Err(invalid(
            "an include or exclude has concepts or filters but no system (vsd-2)".to_owned(),
        ));
    }
    let mut filters = Vec::with_capacity(set.filter.len());
    for filter in set.filter {
        let op = FilterOperator::from_code(&filter.op).ok_or_else(|| {
            invalid(format!(
                "filter '{} {} {}' has an unknown operator",
                filter.property, filter.op, filter.value
            ))
        })?;
        filters.push(Filter {
            property: filter.property,
            op,
            value: filter.value,
        });
    }
    Ok(ConceptSet {
        system: set.system,
        version: set.version,
        concepts: set
            .concept
            .into_iter()
            .map(|concept| ConceptReference {
                code: concept.code,
                display: concept.display,
            })
            .collect(),
        filters,
        value_sets: set.value_set,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_concepts_child_properties_and_status_make_the_hierarchy_and_flags() {
        // Parsed from text: the json! macro would turn 1.50 into the f64 1.5.
        let resource: Json = serde_json::from_str(&json!({
            "resourceType": "CodeSystem",
            "url": "http://example.org/cs",
            "version": "1",
            "content": "complete",
            "hierarchyMeaning": "is-a",
            "property": [{"code": "status", "type": "code"}],
            "concept": [
                {"code": "A", "display": "Alpha", "property": [{"code": "child", "valueCode": "D"}],
                 "concept": [
                    {"code": "B", "display": "Beta",
                     "concept": [{"code": "C", "property": [{"code": "status", "valueCode": "retired"}]}]}
                 ]},
                {"code": "D", "property": [{"code": "notSelectable", "valueBoolean": true}],
                 "designation": [{"language": "nl", "use": {"system": "http://terminology.hl7.org/CodeSystem/designation-usage", "code": "display"}, "value": "Delta"}]},
                {"code": "E", "property": [{"code": "parent", "valueCode": "B"},
                                           {"code": "weight", "valueDecimal": "WEIGHT"}]}
            ]
        })
        .to_string()
        .replace("\"WEIGHT\"", "1.50"))
        .unwrap();
        let system = CodeSystem::from_json(&resource).unwrap();
        assert_eq!(system.version(), Some("1"));
        let codes: Vec<&str> = system.concepts().map(|concept| concept.code()).collect();
        assert_eq!(codes, ["A", "B", "C", "D", "E"]);
        let parents = |code: &str| -> Vec<&str> {
            system
                .concept(code)
                .unwrap()
                .parents()
                .map(|p| p.code())
                .collect()
        };
        assert_eq!(parents("C"), ["B"]);
        assert_eq!(parents("D"), ["A"]);
        assert_eq!(parents("E"), ["B"]);
        assert!(!system.concept("C").unwrap().is_active());
        assert!(system.concept("D").unwrap().is_abstract());
        let delta = &system.concept("D").unwrap().designations()[0];
        assert_eq!(
            delta.usage.as_ref().map(|usage| usage.code.as_str()),
            Some("display")
        );
        assert_eq!(
            system.concept("E").unwrap().properties()[0].value,
            PropertyValue::Decimal("1.50".to_owned())
        );
    }

    #[test]
    fn bad_code_systems_say_what_is_wrong() {
        let error = CodeSystem::from_json(&json!({"resourceType": "ValueSet", "url": "u"}));
        assert_eq!(
            error.unwrap_err().to_string(),
            "invalid code system 'u': resourceType is 'ValueSet', not 'CodeSystem'"
        );
        let error = CodeSystem::from_json(&json!({"url": "u", "concept": [{"display": "x"}]}));
        assert_eq!(
            error.unwrap_err().to_string(),
            "invalid code system 'u': a concept has no code"
        );
        let error = CodeSystem::from_json(&json!({"url": "u", "concept": "nope"}));
        assert!(
            error
                .unwrap_err()
                .to_string()
                .starts_with("invalid code system 'u': invalid type: string \"nope\"")
        );
    }

    #[test]
    fn value_sets_keep_compose_and_refuse_bad_filters() {
        let value_set = ValueSet::from_json(&json!({
            "resourceType": "ValueSet",
            "url": "http://example.org/vs",
            "compose": {
                "inactive": false,
                "include": [
                    {"system": "http://example.org/cs", "filter": [{"property": "concept", "op": "is-a", "value": "A"}]},
                    {"valueSet": ["http://example.org/other|2"]}
                ],
                "exclude": [{"system": "http://example.org/cs", "concept": [{"code": "B"}]}]
            }
        }))
        .unwrap();
        let compose = value_set.compose.unwrap();
        assert_eq!(compose.inactive, Some(false));
        assert_eq!(compose.include[0].filters[0].op, FilterOperator::IsA);
        assert_eq!(
            compose.include[1].value_sets,
            ["http://example.org/other|2"]
        );
        assert_eq!(compose.exclude[0].concepts[0].code, "B");

        let error = ValueSet::from_json(&json!({
            "url": "http://example.org/vs",
            "compose": {"include": [{"system": "s", "filter": [{"property": "concept", "op": "below", "value": "A"}]}]}
        }));
        assert_eq!(
            error.unwrap_err().to_string(),
            "invalid value set 'http://example.org/vs': filter 'concept below A' has an unknown operator"
        );
    }
}
