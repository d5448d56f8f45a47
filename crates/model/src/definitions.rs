//! The embedded R4 definitions and their lookup tables: [`Definitions`].

use std::collections::HashMap;
use std::io::Read;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::fast_hash::NameMap;
use crate::search_param::{SearchParamComponent, SearchParamDef, SearchParamType};
use crate::type_def::{
    ElementDef, FastFormat, PrimitiveJsonKind, TypeDef, TypeKind, choice_json_name,
};

/// The generated document (see `tools/gen_model.py` and `data/PROVENANCE.md`).
static EMBEDDED: &[u8] = include_bytes!("../data/r4.json.gz");

static DEFINITIONS: LazyLock<Definitions> = LazyLock::new(|| {
    // The document is embedded at compile time and checked by this crate's tests, so failing to
    // read it is a build defect, not a run-time condition.
    Definitions::from_gzip(EMBEDDED).expect("the embedded R4 definitions are valid")
});

/// The FHIR R4 definitions, loaded on first use (a few milliseconds) and shared after that.
pub fn definitions() -> &'static Definitions {
    &DEFINITIONS
}

/// Longest base-type chain followed; R4's deepest is `positiveInt → integer → Element` and
/// resources' `Patient → DomainResource → Resource`. Guards against a cycle in bad data.
const MAX_BASE_CHAIN: usize = 16;

/// All R4 types, search parameters and the Patient compartment, with indexes for fast lookup.
#[derive(Debug)]
pub struct Definitions {
    version: String,
    types: Vec<TypeDef>,
    type_ids: NameMap<String, usize>,
    resource_types: Vec<String>,
    search_params: Vec<SearchParamDef>,
    /// Resource type (concrete or abstract) → indexes of the parameters that apply to it.
    search_params_by_type: HashMap<String, Vec<usize>>,
    /// Resource type → code → index of the parameter.
    search_param_by_code: HashMap<String, HashMap<String, usize>>,
    patient_compartment: HashMap<String, Vec<String>>,
}

impl Definitions {
    /// The FHIR version these definitions come from: `4.0.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether `name` is a concrete resource type (`Patient`), not `Resource` or `DomainResource`.
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.type_def(name)
            .is_some_and(|type_def| type_def.kind == TypeKind::Resource && !type_def.is_abstract)
    }

    /// The concrete resource type names, sorted.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resource_types.iter().map(String::as_str)
    }

    /// Every type: resources, data types, primitives and backbone types.
    pub fn types(&self) -> impl Iterator<Item = &TypeDef> {
        self.types.iter()
    }

    /// A resource, complex, backbone (`Patient.contact`) or primitive type by name.
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.type_ids.get(name).and_then(|&id| self.types.get(id))
    }

    pub(crate) fn type_by_id(&self, id: usize) -> Option<&TypeDef> {
        self.types.get(id)
    }

    /// The search parameters that apply to `resource_type`, its own and those defined on
    /// `Resource` (and `DomainResource`, for the types derived from it). Empty for unknown types.
    pub fn search_params(&self, resource_type: &str) -> impl Iterator<Item = &SearchParamDef> {
        self.search_params_by_type
            .get(resource_type)
            .into_iter()
            .flatten()
            .filter_map(|&index| self.search_params.get(index))
    }

    /// The search parameter `code` of `resource_type`, including inherited ones (`_id`).
    pub fn search_param(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        self.search_param_by_code
            .get(resource_type)
            .and_then(|by_code| by_code.get(code))
            .and_then(|&index| self.search_params.get(index))
    }

    /// Every search parameter, in the order of the source bundle.
    pub fn all_search_params(&self) -> &[SearchParamDef] {
        &self.search_params
    }

    /// The search parameter codes that put a `resource_type` resource in a Patient's compartment
    /// (`Observation` → `subject`, `performer`). `None` if the type is not in the compartment.
    pub fn patient_compartment_params(&self, resource_type: &str) -> Option<&[String]> {
        self.patient_compartment
            .get(resource_type)
            .map(Vec::as_slice)
    }

    /// Whether `type_name` is `ancestor` or derives from it: `Patient` is a `DomainResource`
    /// and a `Resource`, `Age` is a `Quantity`, `code` is a `string`, `Patient.contact` is a
    /// `BackboneElement`.
    pub fn is_subtype_of(&self, type_name: &str, ancestor: &str) -> bool {
        let mut current = Some(type_name);
        for _ in 0..MAX_BASE_CHAIN {
            let Some(name) = current else { return false };
            if name == ancestor {
                return true;
            }
            current = self
                .type_def(name)
                .and_then(|type_def| type_def.base.as_deref());
        }
        false
    }

    /// Reads the generated gzip-compressed document.
    fn from_gzip(bytes: &[u8]) -> Result<Self, String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .map_err(|error| format!("decompress the definitions: {error}"))?;
        let document: RawDocument = serde_json::from_str(&text)
            .map_err(|error| format!("parse the definitions: {error}"))?;
        Self::from_raw(document)
    }

    fn from_raw(document: RawDocument) -> Result<Self, String> {
        let type_ids: NameMap<String, usize> = document
            .types
            .iter()
            .enumerate()
            .map(|(id, raw)| (raw.name.clone(), id))
            .collect();
        let bases: HashMap<&str, Option<&str>> = document
            .types
            .iter()
            .map(|raw| (raw.name.as_str(), raw.base.as_deref()))
            .collect();
        let primitive_json_kinds: HashMap<String, PrimitiveJsonKind> = document
            .types
            .iter()
            .filter(|raw| raw.kind == RawKind::Primitive)
            .map(|raw| (raw.name.clone(), primitive_json_kind(&raw.name, &bases)))
            .collect();

        let mut types = Vec::with_capacity(document.types.len());
        for raw in document.types {
            let json_kind = primitive_json_kinds.get(&raw.name).copied();
            types.push(build_type(raw, &type_ids, json_kind)?);
        }

        let mut resource_types: Vec<String> = types
            .iter()
            .filter(|type_def| type_def.kind == TypeKind::Resource && !type_def.is_abstract)
            .map(|type_def| type_def.name.clone())
            .collect();
        resource_types.sort();

        let search_params = document
            .search_params
            .into_iter()
            .map(build_search_param)
            .collect::<Result<Vec<_>, _>>()?;

        let mut definitions = Self {
            version: document.version,
            types,
            type_ids,
            resource_types,
            search_params,
            search_params_by_type: HashMap::new(),
            search_param_by_code: HashMap::new(),
            patient_compartment: document.patient_compartment,
        };
        definitions.index_search_params();
        Ok(definitions)
    }

    /// Fills the per-type search parameter indexes, following inheritance so that `_id` (base
    /// `Resource`) and `_text` (base `DomainResource`) reach every type derived from those.
    fn index_search_params(&mut self) {
        let mut by_base: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, param) in self.search_params.iter().enumerate() {
            for base in &param.base {
                by_base.entry(base.as_str()).or_default().push(index);
            }
        }
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_code: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let resource_kinds = self
            .types
            .iter()
            .filter(|type_def| type_def.kind == TypeKind::Resource);
        for type_def in resource_kinds {
            let mut indexes = Vec::new();
            let mut current = Some(type_def.name.as_str());
            for _ in 0..MAX_BASE_CHAIN {
                let Some(name) = current else { break };
                indexes.extend(by_base.get(name).into_iter().flatten().copied());
                current = self
                    .type_def(name)
                    .and_then(|ancestor| ancestor.base.as_deref());
            }
            // Source order, and each parameter once even if it names two of the ancestors.
            indexes.sort_unstable();
            indexes.dedup();
            let mut codes = HashMap::with_capacity(indexes.len());
            for &index in &indexes {
                if let Some(param) = self.search_params.get(index) {
                    // The first definition of a code wins; R4 has no clashes, this only keeps
                    // the index well-defined.
                    codes.entry(param.code.clone()).or_insert(index);
                }
            }
            by_code.insert(type_def.name.clone(), codes);
            by_type.insert(type_def.name.clone(), indexes);
        }
        self.search_params_by_type = by_type;
        self.search_param_by_code = by_code;
    }
}

/// The JSON kind of a primitive, decided by the R4 primitive it derives from.
fn primitive_json_kind(name: &str, bases: &HashMap<&str, Option<&str>>) -> PrimitiveJsonKind {
    let mut current = Some(name);
    for _ in 0..MAX_BASE_CHAIN {
        match current {
            Some("boolean") => return PrimitiveJsonKind::Boolean,
            Some("integer") => return PrimitiveJsonKind::Integer,
            Some("decimal") => return PrimitiveJsonKind::Decimal,
            Some(other) => current = bases.get(other).copied().flatten(),
            None => break,
        }
    }
    PrimitiveJsonKind::String
}

fn build_type(
    raw: RawType,
    type_ids: &NameMap<String, usize>,
    primitive_json_kind: Option<PrimitiveJsonKind>,
) -> Result<TypeDef, String> {
    let kind = match raw.kind {
        RawKind::Primitive => TypeKind::Primitive,
        RawKind::Complex => TypeKind::Complex,
        RawKind::Resource => TypeKind::Resource,
        RawKind::Backbone => TypeKind::Backbone,
    };
    // R4 regexes are written for Java and match the whole value; anchoring keeps that meaning.
    let regex = raw
        .regex
        .as_deref()
        .map(|pattern| {
            Regex::new(&format!(
                "^(?:{})$",
                crate::type_def::java_whitespace_classes(pattern)
            ))
        })
        .transpose()
        .map_err(|error| format!("compile the regex of '{}': {error}", raw.name))?;

    let mut elements = Vec::with_capacity(raw.elements.len());
    let mut json_names = NameMap::default();
    for (element_index, raw_element) in raw.elements.into_iter().enumerate() {
        let type_ids_of_element = raw_element
            .types
            .iter()
            .map(|code| {
                // System types (`System.String`) are leaves with no type definition of their own.
                // They get an id no type has, so `type_by_id` answers `None` for them.
                if code.starts_with("System.") {
                    Ok(usize::MAX)
                } else {
                    type_ids.get(code).copied().ok_or_else(|| {
                        format!(
                            "'{}.{}' has unknown type '{code}'",
                            raw.name, raw_element.name
                        )
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if raw_element.is_choice {
            for (type_index, code) in raw_element.types.iter().enumerate() {
                json_names.insert(
                    choice_json_name(&raw_element.name, code),
                    (element_index, type_index),
                );
            }
        } else {
            json_names.insert(raw_element.name.clone(), (element_index, 0));
        }
        let suffix = if raw_element.is_choice { "[x]" } else { "" };
        elements.push(ElementDef {
            path: format!("{}.{}{suffix}", raw.name, raw_element.name),
            name: raw_element.name,
            types: raw_element.types,
            is_choice: raw_element.is_choice,
            min: raw_element.min,
            max_many: raw_element.max != "1",
            is_summary: raw_element.is_summary,
            is_modifier: raw_element.is_modifier,
            type_ids: type_ids_of_element,
        });
    }
    let fast_format = raw.regex.as_deref().and_then(FastFormat::for_pattern);
    Ok(TypeDef {
        name: raw.name,
        kind,
        is_abstract: raw.is_abstract,
        base: raw.base,
        regex,
        primitive_json_kind,
        fast_format,
        elements,
        json_names,
    })
}

fn build_search_param(raw: RawSearchParam) -> Result<SearchParamDef, String> {
    let kind = SearchParamType::from_code(&raw.kind).ok_or_else(|| {
        format!(
            "search parameter '{}' has unknown type '{}'",
            raw.url, raw.kind
        )
    })?;
    Ok(SearchParamDef {
        code: raw.code,
        url: raw.url,
        kind,
        base: raw.base,
        expression: raw.expression,
        target: raw.target,
        modifiers: raw.modifier,
        comparators: raw.comparator,
        multiple_or: raw.multiple_or,
        multiple_and: raw.multiple_and,
        components: raw
            .component
            .into_iter()
            .map(|component| SearchParamComponent {
                definition: component.definition,
                expression: component.expression,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct RawDocument {
    version: String,
    types: Vec<RawType>,
    search_params: Vec<RawSearchParam>,
    patient_compartment: HashMap<String, Vec<String>>,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Primitive,
    Complex,
    Resource,
    Backbone,
}

#[derive(Deserialize)]
struct RawType {
    name: String,
    kind: RawKind,
    #[serde(rename = "abstract")]
    is_abstract: bool,
    base: Option<String>,
    regex: Option<String>,
    elements: Vec<RawElement>,
}

#[derive(Deserialize)]
struct RawElement {
    #[serde(rename = "n")]
    name: String,
    #[serde(rename = "t")]
    types: Vec<String>,
    min: u32,
    max: String,
    #[serde(rename = "c", default)]
    is_choice: bool,
    #[serde(rename = "s", default)]
    is_summary: bool,
    #[serde(rename = "m", default)]
    is_modifier: bool,
}

#[derive(Deserialize)]
struct RawSearchParam {
    code: String,
    url: String,
    #[serde(rename = "type")]
    kind: String,
    base: Vec<String>,
    expression: Option<String>,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    modifier: Vec<String>,
    #[serde(default)]
    comparator: Vec<String>,
    #[serde(rename = "multipleOr")]
    multiple_or: Option<bool>,
    #[serde(rename = "multipleAnd")]
    multiple_and: Option<bool>,
    #[serde(default)]
    component: Vec<RawComponent>,
}

#[derive(Deserialize)]
struct RawComponent {
    definition: String,
    expression: String,
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests fail loudly on a missing definition"
    )]

    use super::*;

    fn r4() -> &'static Definitions {
        definitions()
    }

    #[test]
    fn every_element_type_resolves() {
        for type_def in r4().types() {
            for element in type_def.elements() {
                assert_eq!(element.types.len(), element.type_ids.len());
                for (code, &id) in element.types.iter().zip(&element.type_ids) {
                    let resolved = r4().type_by_id(id).map(|t| t.name.as_str());
                    if code.starts_with("System.") {
                        assert_eq!(resolved, None, "{}", element.path);
                    } else {
                        assert_eq!(resolved, Some(code.as_str()), "{}", element.path);
                    }
                }
            }
        }
    }

    #[test]
    fn corrupt_embedded_data_is_an_error() {
        let error = Definitions::from_gzip(b"not gzip").unwrap_err();
        assert!(error.starts_with("decompress the definitions"), "{error}");
    }
}
