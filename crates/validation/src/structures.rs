//! The registry of StructureDefinitions: [`Structures`], the embedded R4 base definitions plus
//! any profiles added.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, LazyLock};

use serde_json::Value as Json;

use crate::constraint::{Constraint, ConstraintCache};
use crate::error::Error;
use crate::structure::{StructureDefinition, StructureKind};

/// The generated document (see `tools/gen_validation.py` and `data/PROVENANCE.md`).
static EMBEDDED: &[u8] = include_bytes!("../data/r4-structures.json.gz");

/// The canonical URL prefix of the R4 base definitions.
pub const BASE_URL_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/";

static BASE: LazyLock<HashMap<String, Arc<StructureDefinition>>> = LazyLock::new(|| {
    // The document is embedded at compile time and checked by this crate's tests, so failing to
    // read it is a build defect, not a run-time condition.
    read_embedded(EMBEDDED).expect("the embedded R4 StructureDefinitions are valid")
});

fn read_embedded(bytes: &[u8]) -> Result<HashMap<String, Arc<StructureDefinition>>, String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|error| format!("decompress the StructureDefinitions: {error}"))?;
    let documents: Vec<Json> = serde_json::from_str(&text)
        .map_err(|error| format!("parse the StructureDefinitions: {error}"))?;
    let mut cache = ConstraintCache::default();
    let mut by_url = HashMap::with_capacity(documents.len());
    for document in &documents {
        let definition =
            StructureDefinition::from_json(document, &mut cache).map_err(|e| e.to_string())?;
        by_url.insert(definition.url.clone(), Arc::new(definition));
    }
    Ok(by_url)
}

/// StructureDefinitions by canonical URL: the 604 embedded R4 ones (types, resources, core
/// extensions), then any added with [`Structures::add_profile`], which take precedence.
///
/// ```
/// use medulla_validation::Structures;
///
/// let mut structures = Structures::r4();
/// let patient = structures.for_type("Patient").expect("R4 has Patient");
/// assert_eq!(patient.url, "http://hl7.org/fhir/StructureDefinition/Patient");
/// let error = structures
///     .add_profile(&serde_json::json!({"resourceType": "StructureDefinition",
///         "url": "http://example.org/p", "type": "Patient", "kind": "resource",
///         "derivation": "constraint", "differential": {"element": []}}))
///     .unwrap_err();
/// assert!(error.to_string().contains("has no snapshot"));
/// ```
#[derive(Debug)]
pub struct Structures {
    base: &'static HashMap<String, Arc<StructureDefinition>>,
    added: HashMap<String, Arc<StructureDefinition>>,
    cache: ConstraintCache,
}

impl Structures {
    /// The R4 base definitions (loaded on first use, then shared) and no profiles.
    pub fn r4() -> Structures {
        Structures {
            base: &BASE,
            added: HashMap::new(),
            cache: ConstraintCache::default(),
        }
    }

    /// Adds a StructureDefinition (a profile or an extension definition) from its FHIR JSON,
    /// replacing one with the same URL.
    ///
    /// # Errors
    ///
    /// See [`Error`]: not a StructureDefinition, no snapshot, missing fields, elements that
    /// cannot be compiled (a regex too large), too many elements.
    pub fn add_profile(&mut self, json: &Json) -> Result<Arc<StructureDefinition>, Error> {
        let definition = Arc::new(StructureDefinition::from_json(json, &mut self.cache)?);
        self.added
            .insert(definition.url.clone(), Arc::clone(&definition));
        Ok(definition)
    }

    /// The definition with this canonical URL (`url` or `url|version`; the version is not
    /// compared).
    pub fn get(&self, canonical: &str) -> Option<&StructureDefinition> {
        let url = canonical.split_once('|').map_or(canonical, |(url, _)| url);
        self.added
            .get(url)
            .or_else(|| self.base.get(url))
            .map(Arc::as_ref)
    }

    /// The R4 base definition of a type: `Patient`, `HumanName`, `string`. A type code given as
    /// a URL is looked up as one.
    pub fn for_type(&self, type_name: &str) -> Option<&StructureDefinition> {
        if type_name.contains(':') {
            return self.get(type_name);
        }
        let mut url = String::with_capacity(BASE_URL_PREFIX.len() + type_name.len());
        url.push_str(BASE_URL_PREFIX);
        url.push_str(type_name);
        self.base.get(&url).map(Arc::as_ref)
    }

    /// Whether `type_name` is a concrete R4 resource type.
    pub fn is_resource_type(&self, type_name: &str) -> bool {
        self.for_type(type_name).is_some_and(|definition| {
            definition.kind == StructureKind::Resource && !definition.is_abstract
        })
    }

    /// Every definition: the base ones not replaced, then the added ones.
    pub fn iter(&self) -> impl Iterator<Item = &StructureDefinition> {
        self.base
            .iter()
            .filter(|(url, _)| !self.added.contains_key(*url))
            .chain(self.added.iter())
            .map(|(_, definition)| definition.as_ref())
    }

    /// The constraints that are not evaluated (the expression does not compile with this
    /// crate's FHIRPath engine, or there is none), once each, sorted by key.
    pub fn constraints_not_evaluated(&self) -> Vec<&Constraint> {
        let mut seen = std::collections::HashSet::new();
        let mut found: Vec<&Constraint> = self
            .iter()
            .flat_map(|definition| definition.elements.iter())
            .flat_map(|element| element.constraints.iter())
            .filter(|constraint| constraint.not_evaluated_reason().is_some())
            .filter(|constraint| seen.insert(Arc::as_ptr(constraint)))
            .map(Arc::as_ref)
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found
    }
}

impl Default for Structures {
    fn default() -> Self {
        Structures::r4()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_definitions_cover_types_resources_and_extensions() {
        let structures = Structures::r4();
        assert_eq!(structures.iter().count(), 604);
        let observation = structures.for_type("Observation").expect("Observation");
        assert_eq!(observation.kind, StructureKind::Resource);
        assert!(structures.is_resource_type("Bundle"));
        assert!(!structures.is_resource_type("DomainResource"));
        assert!(!structures.is_resource_type("HumanName"));
        let race = structures
            .get("http://hl7.org/fhir/StructureDefinition/patient-birthPlace|4.0.1")
            .expect("a core extension");
        assert!(race.is_extension());
        assert_eq!(race.contexts[0].expression, "Patient");
        let item = structures
            .for_type("Questionnaire")
            .and_then(|questionnaire| questionnaire.element_by_id("Questionnaire.item.item"))
            .expect("Questionnaire.item.item");
        assert!(item.content_reference.is_some());
    }
}
