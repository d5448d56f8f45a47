//! StructureDefinitions compiled for validation: [`StructureDefinition`] and its
//! [`ElementDefinition`] tree, read from FHIR JSON (a snapshot is required).

use std::collections::HashMap;
use std::sync::Arc;

use medulla_fhirpath::FhirPath;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value as Json};

use crate::constraint::{Constraint, ConstraintCache};
use crate::error::Error;

/// Most snapshot elements accepted in one StructureDefinition. R4's largest base snapshot has a
/// few hundred; published profiles stay well under a few thousand.
pub const MAX_ELEMENTS: usize = 20_000;

/// Longest regex (in characters) a profile may give an element.
pub const MAX_REGEX_CHARS: usize = 4_096;

/// Most memory one compiled profile regex may take; past it the profile is refused rather than
/// risking slow validation. The `regex` crate matches in linear time, so size is the only cost.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

const FHIR_TYPE_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const REGEX_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/regex";
const SYSTEM_TYPE_PREFIX: &str = "http://hl7.org/fhirpath/System.";

/// `StructureDefinition.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StructureKind {
    /// `primitive-type`: `string`, `date`, …
    PrimitiveType,
    /// `complex-type`: `HumanName`, `Extension` and extension definitions, …
    ComplexType,
    /// `resource`.
    Resource,
    /// `logical`: a logical model; never validated against.
    Logical,
}

/// `StructureDefinition.derivation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    /// A new type (`Patient` from `DomainResource`); also the root types with none given.
    Specialization,
    /// A profile: constraints on an existing type.
    Constraint,
}

/// Where an extension may be used (`StructureDefinition.context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionContext {
    /// `element`, `extension` or `fhirpath`.
    pub kind: String,
    /// An element path (`Patient`, `Observation.component`), an extension URL, or FHIRPath.
    pub expression: String,
}

/// A type an element may have (`ElementDefinition.type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementType {
    /// The FHIR type name (`Quantity`, `string`); FHIRPath System types (`System.String`) stay
    /// as they are only on primitive types' own `value` elements.
    pub code: String,
    /// Profiles the value must conform to (extension definitions for `Extension`).
    pub profiles: Vec<String>,
    /// For `Reference` and `canonical`: the allowed target profiles.
    pub target_profiles: Vec<String>,
}

impl ElementType {
    /// Whether this is a FHIRPath System type (the value of a primitive), not a FHIR type.
    pub fn is_system_type(&self) -> bool {
        self.code.starts_with(SYSTEM_TYPE_PREFIX)
    }
}

/// `ElementDefinition.binding.strength`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingStrength {
    /// Codes must come from the value set: an error otherwise.
    Required,
    /// Codes must come from the value set if a suitable one is there: a warning otherwise.
    Extensible,
    /// Codes should come from the value set: information otherwise.
    Preferred,
    /// The value set is an example: not checked.
    Example,
}

/// `ElementDefinition.binding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// How strong the binding is.
    pub strength: BindingStrength,
    /// The value set's canonical URL, possibly with `|version`.
    pub value_set: String,
}

/// `ElementDefinition.slicing.discriminator.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscriminatorType {
    /// The value at the path equals the slice's fixed value (or pattern).
    Value,
    /// The value at the path exists (slice min ≥ 1) or does not (slice max = 0).
    Exists,
    /// The value at the path matches the slice's pattern.
    Pattern,
    /// The type of the value at the path is one of the slice's types.
    Type,
    /// The value at the path conforms to the slice's type profile.
    Profile,
}

/// One `ElementDefinition.slicing.discriminator`.
#[derive(Debug, Clone)]
pub struct Discriminator {
    /// How values are told apart.
    pub kind: DiscriminatorType,
    /// FHIRPath from the sliced element: `url`, `code.coding`, `$this`, `resolve()`.
    pub path: String,
    /// The path compiled; `None` for `$this` and for paths that do not compile (such a
    /// discriminator never matches).
    pub(crate) compiled: Option<Arc<FhirPath>>,
}

/// `ElementDefinition.slicing.rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlicingRules {
    /// Only the slices defined are allowed.
    Closed,
    /// Other values are allowed anywhere.
    Open,
    /// Other values are allowed after the slices only.
    OpenAtEnd,
}

/// `ElementDefinition.slicing`.
#[derive(Debug, Clone)]
pub struct Slicing {
    /// How values are assigned to slices.
    pub discriminators: Vec<Discriminator>,
    /// Whether values must appear in slice order.
    pub ordered: bool,
    /// Whether values outside the slices are allowed.
    pub rules: SlicingRules,
}

/// One element of a snapshot, with links to its children and slices.
#[derive(Debug)]
pub struct ElementDefinition {
    /// `ElementDefinition.id`: `Patient.identifier:mrn.system` (made from the path and slice name
    /// when the snapshot gives none).
    pub id: String,
    /// `ElementDefinition.path`: `Observation.value[x]`.
    pub path: String,
    /// The last path segment without `[x]`: `value`.
    pub name: String,
    /// Whether the element is a choice (`value[x]`).
    pub is_choice: bool,
    /// For a slice, its name.
    pub slice_name: Option<String>,
    /// Minimum cardinality.
    pub min: u32,
    /// Maximum cardinality; `None` for `*`.
    pub max: Option<u32>,
    /// Whether JSON holds the element as an array: the base definition's maximum is above one.
    pub is_array: bool,
    /// The allowed types.
    pub types: Vec<ElementType>,
    /// `fixed[x]`: the value must be exactly this.
    pub fixed: Option<Json>,
    /// `pattern[x]`: the value must contain this.
    pub pattern: Option<Json>,
    /// The terminology binding.
    pub binding: Option<Binding>,
    /// The invariants that apply to each value of this element.
    pub constraints: Vec<Arc<Constraint>>,
    /// For a slicing entry, how it is sliced.
    pub slicing: Option<Slicing>,
    /// `maxLength`, for string-like primitives.
    pub max_length: Option<u64>,
    /// `minValue[x]`.
    pub min_value: Option<Json>,
    /// `maxValue[x]`.
    pub max_value: Option<Json>,
    /// The `regex` extension a profile may put on a primitive element.
    pub regex: Option<Regex>,
    /// Whether this is a modifier element.
    pub is_modifier: bool,
    /// `mustSupport`: a profile asks systems to support the element. The R4 base definitions
    /// set it nowhere, so it is only ever true in profiles.
    pub must_support: bool,
    /// For `contentReference` elements (`Questionnaire.item.item`): the element whose
    /// definition this one repeats.
    pub(crate) content_reference: Option<usize>,
    /// `contentReference` as written (`#Questionnaire.item`), until linked.
    content_reference_text: Option<String>,
    /// Child elements (not slices), in snapshot order.
    pub(crate) children: Vec<usize>,
    /// For a slicing entry: its slices, in snapshot order.
    pub(crate) slices: Vec<usize>,
    /// JSON property name of each child → (position in `children`, index into its `types`).
    pub(crate) json_names: HashMap<String, (usize, usize)>,
}

impl ElementDefinition {
    /// Whether the maximum cardinality allows `count` values.
    pub fn allows_count(&self, count: usize) -> bool {
        self.max.is_none_or(|max| count <= max as usize)
    }

    /// The maximum as FHIR writes it: `1`, `*`.
    pub fn max_text(&self) -> String {
        self.max
            .map_or_else(|| "*".to_owned(), |max| max.to_string())
    }
}

/// A StructureDefinition with its snapshot compiled for validation.
#[derive(Debug)]
pub struct StructureDefinition {
    /// The canonical URL.
    pub url: String,
    /// The business version.
    pub version: Option<String>,
    /// The computer-friendly name.
    pub name: String,
    /// The type constrained or defined: `Patient`, `Extension`, `string`.
    pub type_name: String,
    /// The kind of structure.
    pub kind: StructureKind,
    /// Whether the type is abstract.
    pub is_abstract: bool,
    /// Whether it defines a type or profiles one.
    pub derivation: Derivation,
    /// The definition this one derives from.
    pub base_definition: Option<String>,
    /// For extension definitions: where the extension may be used.
    pub contexts: Vec<ExtensionContext>,
    pub(crate) elements: Vec<ElementDefinition>,
}

impl StructureDefinition {
    /// The snapshot elements, in order; the first is the root.
    pub fn elements(&self) -> &[ElementDefinition] {
        &self.elements
    }

    /// An element by index.
    pub(crate) fn element(&self, index: usize) -> Option<&ElementDefinition> {
        self.elements.get(index)
    }

    /// An element by id (`Patient.identifier:mrn`).
    pub fn element_by_id(&self, id: &str) -> Option<&ElementDefinition> {
        self.elements.iter().find(|element| element.id == id)
    }

    /// Whether this is an extension definition (a profile of `Extension`).
    pub fn is_extension(&self) -> bool {
        self.type_name == "Extension" && self.derivation == Derivation::Constraint
    }

    /// Reads a StructureDefinition's FHIR JSON, compiling its constraints with `cache`.
    ///
    /// # Errors
    ///
    /// [`Error::NotAStructureDefinition`], [`Error::InvalidField`] for a missing url, type or
    /// element path, [`Error::NoSnapshot`] for a differential-only profile,
    /// [`Error::TooManyElements`], and [`Error::InvalidElement`] for a regex that is invalid or
    /// too large, a slice without slicing entry or a content reference to nothing.
    pub(crate) fn from_json(json: &Json, cache: &mut ConstraintCache) -> Result<Self, Error> {
        let resource_type = json
            .get("resourceType")
            .and_then(Json::as_str)
            .unwrap_or("");
        if resource_type != "StructureDefinition" {
            return Err(Error::NotAStructureDefinition {
                found: resource_type.to_owned(),
            });
        }
        let text = |key: &str| json.get(key).and_then(Json::as_str).map(str::to_owned);
        let url = text("url").ok_or_else(|| Error::InvalidField {
            url: String::new(),
            field: "url".to_owned(),
        })?;
        let invalid = |field: &str| Error::InvalidField {
            url: url.clone(),
            field: field.to_owned(),
        };
        let type_name = text("type").ok_or_else(|| invalid("type"))?;
        let kind = match json.get("kind").and_then(Json::as_str) {
            Some("primitive-type") => StructureKind::PrimitiveType,
            Some("complex-type") => StructureKind::ComplexType,
            Some("resource") => StructureKind::Resource,
            Some("logical") => StructureKind::Logical,
            _ => return Err(invalid("kind")),
        };
        let derivation = match json.get("derivation").and_then(Json::as_str) {
            Some("constraint") => Derivation::Constraint,
            _ => Derivation::Specialization,
        };
        let Some(raw_elements) = json
            .pointer("/snapshot/element")
            .and_then(Json::as_array)
            .filter(|elements| !elements.is_empty())
        else {
            return Err(Error::NoSnapshot { url });
        };
        if raw_elements.len() > MAX_ELEMENTS {
            return Err(Error::TooManyElements {
                url,
                count: raw_elements.len(),
                limit: MAX_ELEMENTS,
            });
        }
        let contexts = json
            .get("context")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|context| {
                Some(ExtensionContext {
                    kind: context.get("type")?.as_str()?.to_owned(),
                    expression: context.get("expression")?.as_str()?.to_owned(),
                })
            })
            .collect();
        let mut elements = Vec::with_capacity(raw_elements.len());
        for (index, raw) in raw_elements.iter().enumerate() {
            let Some(raw) = raw.as_object() else {
                return Err(invalid(&format!("snapshot.element[{index}]")));
            };
            elements.push(read_element(raw, index, &url, cache)?);
        }
        let mut definition = StructureDefinition {
            name: text("name").unwrap_or_else(|| type_name.clone()),
            version: text("version"),
            is_abstract: json.get("abstract").and_then(Json::as_bool) == Some(true),
            base_definition: text("baseDefinition"),
            url,
            type_name,
            kind,
            derivation,
            contexts,
            elements,
        };
        definition.link_elements()?;
        Ok(definition)
    }

    /// Fills `children`, `slices`, `json_names` and content references from the ids.
    fn link_elements(&mut self) -> Result<(), Error> {
        let index_by_id: HashMap<String, usize> = self
            .elements
            .iter()
            .enumerate()
            .map(|(index, element)| (element.id.clone(), index))
            .collect();
        let invalid = |element: &str, message: String| Error::InvalidElement {
            url: self.url.clone(),
            element: element.to_owned(),
            message,
        };
        let mut links: Vec<(usize, Link)> = Vec::new();
        for (index, element) in self.elements.iter().enumerate().skip(1) {
            let Some((parent_id, last_segment)) = element.id.rsplit_once('.') else {
                return Err(invalid(&element.id, "element outside the root".to_owned()));
            };
            let parent = *index_by_id
                .get(parent_id)
                .ok_or_else(|| invalid(&element.id, format!("no parent element '{parent_id}'")))?;
            match last_segment.rsplit_once(':') {
                Some((base, slice)) => {
                    // A reslice (`name:a/b`) belongs to the slice `name:a`.
                    let entry_segment = match slice.rsplit_once('/') {
                        Some((outer, _)) => format!("{base}:{outer}"),
                        None => base.to_owned(),
                    };
                    let entry_id = format!("{parent_id}.{entry_segment}");
                    let entry = *index_by_id.get(&entry_id).ok_or_else(|| {
                        invalid(&element.id, format!("no slicing entry '{entry_id}'"))
                    })?;
                    links.push((entry, Link::Slice(index)));
                }
                None => links.push((parent, Link::Child(index))),
            }
            if let Some(reference) = &element.content_reference_text {
                let target = reference.trim_start_matches('#');
                let target_index = index_by_id
                    .get(target)
                    .copied()
                    .or_else(|| self.elements.iter().position(|e| e.path == target))
                    .ok_or_else(|| {
                        invalid(
                            &element.id,
                            format!("content reference '{reference}' names no element"),
                        )
                    })?;
                links.push((index, Link::ContentReference(target_index)));
            }
        }
        for (owner, link) in links {
            match link {
                Link::Child(child) => {
                    let names: Vec<(String, usize)> = match self.elements.get(child) {
                        Some(element) if element.is_choice => element
                            .types
                            .iter()
                            .enumerate()
                            .map(|(type_index, element_type)| {
                                (
                                    medulla_model::choice_json_name(
                                        &element.name,
                                        &element_type.code,
                                    ),
                                    type_index,
                                )
                            })
                            .collect(),
                        Some(element) => vec![(element.name.clone(), 0)],
                        None => Vec::new(),
                    };
                    if let Some(parent) = self.elements.get_mut(owner) {
                        let position = parent.children.len();
                        parent.children.push(child);
                        for (name, type_index) in names {
                            parent.json_names.insert(name, (position, type_index));
                        }
                    }
                }
                Link::Slice(slice) => {
                    if let Some(entry) = self.elements.get_mut(owner) {
                        entry.slices.push(slice);
                    }
                }
                Link::ContentReference(target) => {
                    if let Some(element) = self.elements.get_mut(owner) {
                        element.content_reference = Some(target);
                    }
                }
            }
        }
        Ok(())
    }
}

enum Link {
    Child(usize),
    Slice(usize),
    ContentReference(usize),
}

/// Reads one snapshot element (not yet linked to the others).
fn read_element(
    raw: &Map<String, Json>,
    index: usize,
    url: &str,
    cache: &mut ConstraintCache,
) -> Result<ElementDefinition, Error> {
    let text = |key: &str| raw.get(key).and_then(Json::as_str);
    let path = text("path").ok_or_else(|| Error::InvalidField {
        url: url.to_owned(),
        field: format!("snapshot.element[{index}].path"),
    })?;
    let slice_name = text("sliceName").map(str::to_owned);
    let id = match (text("id"), &slice_name) {
        (Some(id), _) => id.to_owned(),
        (None, Some(slice)) => format!("{path}:{slice}"),
        (None, None) => path.to_owned(),
    };
    let last_segment = path.rsplit('.').next().unwrap_or(path);
    let (name, is_choice) = match last_segment.strip_suffix("[x]") {
        Some(name) => (name.to_owned(), true),
        None => (last_segment.to_owned(), false),
    };
    let max = parse_max(text("max"));
    let base_max = raw
        .get("base")
        .and_then(|base| base.get("max"))
        .and_then(Json::as_str)
        .map(|text| parse_max(Some(text)));
    let is_array = match base_max.unwrap_or(max) {
        None => true,
        Some(max) => max > 1,
    };
    let types = raw
        .get("type")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(read_type)
        .collect();
    let with_prefix = |prefix: &str| {
        raw.iter()
            .find(|(key, _)| {
                key.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
            })
            .map(|(_, value)| value.clone())
    };
    let binding = raw.get("binding").and_then(|binding| {
        let strength = match binding.get("strength")?.as_str()? {
            "required" => BindingStrength::Required,
            "extensible" => BindingStrength::Extensible,
            "preferred" => BindingStrength::Preferred,
            _ => BindingStrength::Example,
        };
        Some(Binding {
            strength,
            value_set: binding.get("valueSet")?.as_str()?.to_owned(),
        })
    });
    let constraints = raw
        .get("constraint")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|constraint| cache.constraint(constraint))
        .collect();
    let slicing = raw.get("slicing").map(read_slicing);
    let regex = match raw
        .get("extension")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .find(|extension| extension.get("url").and_then(Json::as_str) == Some(REGEX_EXTENSION))
        .and_then(|extension| extension.get("valueString"))
        .and_then(Json::as_str)
    {
        Some(pattern) => {
            Some(
                compile_profile_regex(pattern).map_err(|message| Error::InvalidElement {
                    url: url.to_owned(),
                    element: id.clone(),
                    message,
                })?,
            )
        }
        None => None,
    };
    Ok(ElementDefinition {
        path: path.to_owned(),
        name,
        is_choice,
        min: raw
            .get("min")
            .and_then(Json::as_u64)
            .and_then(|min| u32::try_from(min).ok())
            .unwrap_or(0),
        max,
        is_array,
        types,
        fixed: with_prefix("fixed"),
        pattern: with_prefix("pattern"),
        binding,
        constraints,
        slicing,
        max_length: raw.get("maxLength").and_then(Json::as_u64),
        min_value: with_prefix("minValue"),
        max_value: with_prefix("maxValue"),
        regex,
        is_modifier: raw.get("isModifier").and_then(Json::as_bool) == Some(true),
        must_support: raw.get("mustSupport").and_then(Json::as_bool) == Some(true),
        content_reference: None,
        content_reference_text: text("contentReference").map(str::to_owned),
        children: Vec::new(),
        slices: Vec::new(),
        json_names: HashMap::new(),
        id,
        slice_name,
    })
}

/// `"*"` → `None`; a number → that; anything else is read as `*`, the lenient choice.
fn parse_max(text: Option<&str>) -> Option<u32> {
    text.and_then(|text| text.parse().ok())
}

fn read_type(raw: &Json) -> Option<ElementType> {
    let code = raw.get("code")?.as_str()?;
    let code = if code.starts_with(SYSTEM_TYPE_PREFIX) {
        // Element.id, Extension.url and the like carry their FHIR type in an extension; only
        // primitives' own `value` elements are left with a System type.
        raw.get("extension")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .find(|extension| {
                extension.get("url").and_then(Json::as_str) == Some(FHIR_TYPE_EXTENSION)
            })
            .and_then(|extension| {
                extension
                    .get("valueUrl")
                    .or_else(|| extension.get("valueUri"))
            })
            .and_then(Json::as_str)
            .unwrap_or(code)
    } else {
        code
    };
    let strings = |key: &str| -> Vec<String> {
        raw.get(key)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect()
    };
    Some(ElementType {
        code: code.to_owned(),
        profiles: strings("profile"),
        target_profiles: strings("targetProfile"),
    })
}

fn read_slicing(raw: &Json) -> Slicing {
    let discriminators = raw
        .get("discriminator")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|discriminator| {
            let kind = match discriminator.get("type")?.as_str()? {
                "value" => DiscriminatorType::Value,
                "exists" => DiscriminatorType::Exists,
                "pattern" => DiscriminatorType::Pattern,
                "type" => DiscriminatorType::Type,
                "profile" => DiscriminatorType::Profile,
                _ => return None,
            };
            let path = discriminator.get("path")?.as_str()?.to_owned();
            let compiled = (path != "$this")
                .then(|| FhirPath::compile(&path).ok().map(Arc::new))
                .flatten();
            Some(Discriminator {
                kind,
                path,
                compiled,
            })
        })
        .collect();
    let rules = match raw.get("rules").and_then(Json::as_str) {
        Some("closed") => SlicingRules::Closed,
        Some("openAtEnd") => SlicingRules::OpenAtEnd,
        _ => SlicingRules::Open,
    };
    Slicing {
        discriminators,
        ordered: raw.get("ordered").and_then(Json::as_bool) == Some(true),
        rules,
    }
}

/// Compiles a profile's element regex, anchored to the whole value, within the size limits.
fn compile_profile_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_REGEX_CHARS {
        return Err(format!(
            "regex of {} characters is longer than the limit of {MAX_REGEX_CHARS}",
            pattern.chars().count()
        ));
    }
    // Profile regexes are Java regexes like the R4 ones: `\s` means ASCII whitespace.
    RegexBuilder::new(&format!(
        "^(?:{})$",
        medulla_model::java_whitespace_classes(pattern)
    ))
    .size_limit(REGEX_SIZE_LIMIT)
    .dfa_size_limit(REGEX_SIZE_LIMIT)
    .build()
    .map_err(|error| format!("regex cannot be used: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(json: &Json) -> Result<StructureDefinition, Error> {
        StructureDefinition::from_json(json, &mut ConstraintCache::default())
    }

    #[test]
    fn elements_link_into_children_slices_and_json_names() {
        let definition = compile(&json!({
            "resourceType": "StructureDefinition",
            "url": "http://example.org/StructureDefinition/p",
            "type": "Observation", "kind": "resource", "derivation": "constraint",
            "snapshot": {"element": [
                {"id": "Observation", "path": "Observation", "min": 0, "max": "*"},
                {"id": "Observation.component", "path": "Observation.component", "min": 0,
                 "max": "*", "slicing": {"discriminator": [{"type": "pattern", "path": "code"}],
                 "rules": "open"}, "type": [{"code": "BackboneElement"}]},
                {"id": "Observation.component:systolic", "path": "Observation.component",
                 "sliceName": "systolic", "min": 1, "max": "1",
                 "base": {"path": "Observation.component", "min": 0, "max": "*"}},
                {"id": "Observation.component:systolic.code", "path": "Observation.component.code",
                 "min": 1, "max": "1", "type": [{"code": "CodeableConcept"}]},
                {"id": "Observation.value[x]", "path": "Observation.value[x]", "min": 0,
                 "max": "1", "type": [{"code": "Quantity"}, {"code": "string"}],
                 "mustSupport": true},
            ]},
        }))
        .expect("compiles");
        let root = &definition.elements[0];
        assert_eq!(root.children, [1, 4]);
        assert_eq!(root.json_names.get("valueString"), Some(&(1, 1)));
        assert_eq!(definition.elements[1].slices, [2]);
        assert_eq!(definition.elements[2].children, [3]);
        assert!(definition.elements[2].is_array);
        assert!(definition.elements[4].is_choice);
        assert_eq!(definition.elements[4].max_text(), "1");
        assert!(definition.elements[4].must_support);
        assert!(!definition.elements[1].must_support);
    }

    #[test]
    fn differential_only_profiles_are_refused() {
        let error = compile(&json!({
            "resourceType": "StructureDefinition",
            "url": "http://example.org/StructureDefinition/d",
            "type": "Patient", "kind": "resource", "derivation": "constraint",
            "differential": {"element": [{"path": "Patient.name", "min": 1}]},
        }))
        .expect_err("no snapshot");
        assert_eq!(
            error,
            Error::NoSnapshot {
                url: "http://example.org/StructureDefinition/d".to_owned()
            }
        );
    }

    #[test]
    fn huge_regexes_are_refused_not_compiled_for_ever() {
        // Nested counted repetition blows up the compiled program; the size limit stops it.
        let huge = "((a{1,100}){1,100}){1,100}";
        let error = compile_profile_regex(huge).expect_err("too large");
        assert!(error.contains("regex cannot be used"), "{error}");
        let long = "a".repeat(MAX_REGEX_CHARS + 1);
        assert!(
            compile_profile_regex(&long)
                .expect_err("too long")
                .contains("longer than the limit")
        );
        assert!(
            compile_profile_regex("[0-9]{3}")
                .expect("small")
                .is_match("123")
        );
    }
}
