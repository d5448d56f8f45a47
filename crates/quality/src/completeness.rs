//! Completeness: for each resource type, the share of resources that have each element that
//! should be there.
//!
//! Which elements: a profile's top-level `mustSupport` elements, when the resource's profile
//! (given in the options or declared in `meta.profile`) is known to the validator and marks
//! some; otherwise the R4 base definition's top-level elements that are in the summary view
//! (`isSummary`) or required (`min` ≥ 1), leaving out those every resource inherits (`id`,
//! `meta`, `text`, …). R4 itself marks no element `mustSupport`, hence the fallback.

use std::collections::HashMap;
use std::sync::Arc;

use medulla_model::{choice_json_name, definitions};
use medulla_validation::{Derivation, Validator};
use serde_json::{Map, Value as Json};

/// Which elements a completeness group counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompletenessBasis {
    /// The R4 base definition's summary and required top-level elements.
    Base,
    /// The `mustSupport` top-level elements of the profile with this canonical URL.
    Profile(String),
}

/// One element counted: its path (`Patient.birthDate`, `Observation.value`) and the JSON
/// property names it may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedElement {
    pub(crate) path: String,
    json_names: Vec<String>,
}

impl CheckedElement {
    fn is_present(&self, resource: &Map<String, Json>) -> bool {
        self.json_names.iter().any(|name| {
            resource.get(name).is_some_and(|value| !value.is_null())
                // A primitive may be there with only an extension (`_birthDate`).
                || resource.get(&format!("_{name}")).is_some_and(Json::is_object)
        })
    }
}

/// Counts for one (resource type, basis): resources seen, and how many had each element.
#[derive(Debug, Clone)]
pub(crate) struct CompletenessGroup {
    pub(crate) elements: Arc<Vec<CheckedElement>>,
    pub(crate) resources: u64,
    pub(crate) present: Vec<u64>,
}

/// Completeness counts by resource type and basis. The number of groups is bounded by the
/// resource types and profiles the validator knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Completeness {
    pub(crate) groups: HashMap<(String, CompletenessBasis), CompletenessGroup>,
}

impl Completeness {
    /// Counts `resource`, of `resource_type`, against the basis that applies to it:
    /// `profile` (from the options) or its first `meta.profile` that the validator knows,
    /// else the base definition.
    pub(crate) fn record(
        &mut self,
        validator: &Validator,
        profile: Option<&str>,
        resource_type: &str,
        resource: &Map<String, Json>,
    ) {
        let declared = resource
            .get("meta")
            .and_then(|meta| meta.get("profile"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str);
        let mut chosen = None;
        for url in profile.into_iter().chain(declared) {
            let basis = CompletenessBasis::Profile(strip_version(url).to_owned());
            if let Some(group) = self
                .groups
                .get_mut(&(resource_type.to_owned(), basis.clone()))
            {
                count(group, resource);
                return;
            }
            if let Some(elements) = must_support_elements(validator, url, resource_type) {
                chosen = Some((basis, elements));
                break;
            }
        }
        let (basis, elements) = match chosen {
            Some(chosen) => chosen,
            None => {
                let key = (resource_type.to_owned(), CompletenessBasis::Base);
                if let Some(group) = self.groups.get_mut(&key) {
                    count(group, resource);
                    return;
                }
                match base_elements(resource_type) {
                    Some(elements) => (CompletenessBasis::Base, elements),
                    None => return,
                }
            }
        };
        let group = self
            .groups
            .entry((resource_type.to_owned(), basis))
            .or_insert_with(|| CompletenessGroup {
                present: vec![0; elements.len()],
                elements: Arc::new(elements),
                resources: 0,
            });
        count(group, resource);
    }
}

fn count(group: &mut CompletenessGroup, resource: &Map<String, Json>) {
    group.resources += 1;
    for (element, present) in group.elements.iter().zip(group.present.iter_mut()) {
        if element.is_present(resource) {
            *present += 1;
        }
    }
}

/// `http://x/p|1.0` → `http://x/p`.
fn strip_version(url: &str) -> &str {
    url.split_once('|').map_or(url, |(url, _)| url)
}

/// The profile's top-level `mustSupport` elements, if the validator knows the profile, it
/// constrains `resource_type`, and it marks at least one.
fn must_support_elements(
    validator: &Validator,
    url: &str,
    resource_type: &str,
) -> Option<Vec<CheckedElement>> {
    let profile = validator.structures().get(url)?;
    if profile.type_name != resource_type || profile.derivation != Derivation::Constraint {
        return None;
    }
    let elements: Vec<CheckedElement> = profile
        .elements()
        .iter()
        .filter(|element| element.must_support && element.slice_name.is_none())
        .filter(|element| is_top_level(&element.path, resource_type))
        .map(|element| CheckedElement {
            path: format!("{resource_type}.{}", element.name),
            json_names: if element.is_choice {
                element
                    .types
                    .iter()
                    .map(|element_type| choice_json_name(&element.name, &element_type.code))
                    .collect()
            } else {
                vec![element.name.clone()]
            },
        })
        .collect();
    (!elements.is_empty()).then_some(elements)
}

/// The base definition's top-level summary or required elements, without those inherited from
/// `DomainResource` and `Resource`.
pub(crate) fn base_elements(resource_type: &str) -> Option<Vec<CheckedElement>> {
    let r4 = definitions();
    if !r4.is_resource_type(resource_type) {
        return None;
    }
    let type_def = r4.type_def(resource_type)?;
    let inherited: Vec<&str> = ["DomainResource", "Resource"]
        .iter()
        .filter_map(|name| r4.type_def(name))
        .flat_map(|base| base.elements().iter().map(|element| element.name.as_str()))
        .collect();
    let elements = type_def
        .elements()
        .iter()
        .filter(|element| element.is_summary || element.min >= 1)
        .filter(|element| is_top_level(&element.path, resource_type))
        .filter(|element| !inherited.contains(&element.name.as_str()))
        .map(|element| CheckedElement {
            path: format!("{resource_type}.{}", element.name),
            json_names: if element.is_choice {
                element
                    .types
                    .iter()
                    .map(|type_code| choice_json_name(&element.name, type_code))
                    .collect()
            } else {
                vec![element.name.clone()]
            },
        })
        .collect();
    Some(elements)
}

/// `Patient.name` and `Observation.value[x]` are top-level in their types;
/// `Patient.contact.name` is not.
fn is_top_level(path: &str, resource_type: &str) -> bool {
    path.strip_prefix(resource_type)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(elements: &[CheckedElement]) -> Vec<&str> {
        elements
            .iter()
            .map(|element| element.path.as_str())
            .collect()
    }

    #[test]
    fn base_elements_are_summary_or_required_top_level_ones() {
        let patient = base_elements("Patient").expect("Patient");
        let patient = paths(&patient);
        for expected in ["Patient.name", "Patient.birthDate", "Patient.gender"] {
            assert!(patient.contains(&expected), "{expected} in {patient:?}");
        }
        for unexpected in [
            "Patient.id",
            "Patient.meta",
            "Patient.photo",
            "Patient.text",
        ] {
            assert!(
                !patient.contains(&unexpected),
                "{unexpected} in {patient:?}"
            );
        }
        let observation = base_elements("Observation").expect("Observation");
        let value = observation
            .iter()
            .find(|element| element.path == "Observation.value")
            .expect("Observation.value is in the summary");
        assert!(value.json_names.contains(&"valueQuantity".to_owned()));
        assert!(paths(&observation).contains(&"Observation.status"));
        assert_eq!(base_elements("HumanName"), None);
        assert_eq!(base_elements("DomainResource"), None);
    }

    #[test]
    fn shares_count_resources_with_each_element() {
        let validator = Validator::r4();
        let mut completeness = Completeness::default();
        let patients = [
            json!({"resourceType": "Patient", "name": [{"family": "A"}], "birthDate": "1970"}),
            json!({"resourceType": "Patient", "name": [{"family": "B"}],
                "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}),
            json!({"resourceType": "Patient", "gender": "female"}),
            json!({"resourceType": "Patient"}),
        ];
        for patient in &patients {
            let object = patient.as_object().expect("object");
            completeness.record(&validator, None, "Patient", object);
        }
        let group = &completeness.groups[&("Patient".to_owned(), CompletenessBasis::Base)];
        assert_eq!(group.resources, 4);
        let present = |path: &str| {
            let at = group
                .elements
                .iter()
                .position(|element| element.path == path)
                .expect(path);
            group.present[at]
        };
        assert_eq!(present("Patient.name"), 2);
        assert_eq!(present("Patient.birthDate"), 2);
        assert_eq!(present("Patient.gender"), 1);
        assert_eq!(present("Patient.active"), 0);
    }

    #[test]
    fn known_profiles_count_their_must_support_elements() {
        let mut validator = Validator::r4();
        let url = "http://example.org/StructureDefinition/heart-rate";
        validator
            .structures_mut()
            .add_profile(&json!({
                "resourceType": "StructureDefinition", "url": url, "type": "Observation",
                "kind": "resource", "derivation": "constraint",
                "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation",
                "snapshot": {"element": [
                    {"id": "Observation", "path": "Observation", "min": 0, "max": "*"},
                    {"id": "Observation.status", "path": "Observation.status", "min": 1,
                     "max": "1", "type": [{"code": "code"}], "mustSupport": true},
                    {"id": "Observation.subject", "path": "Observation.subject", "min": 0,
                     "max": "1", "type": [{"code": "Reference"}], "mustSupport": true},
                    {"id": "Observation.value[x]", "path": "Observation.value[x]", "min": 0,
                     "max": "1", "type": [{"code": "Quantity"}], "mustSupport": true},
                    {"id": "Observation.note", "path": "Observation.note", "min": 0,
                     "max": "*", "type": [{"code": "Annotation"}]},
                ]},
            }))
            .expect("the profile compiles");
        let mut completeness = Completeness::default();
        let declared = json!({"resourceType": "Observation", "status": "final",
            "meta": {"profile": ["http://example.org/unknown", format!("{url}|1.0")]},
            "valueQuantity": {"value": 1}});
        let plain = json!({"resourceType": "Observation", "status": "final"});
        for resource in [&declared, &declared, &plain] {
            let object = resource.as_object().expect("object");
            completeness.record(&validator, None, "Observation", object);
        }
        let profiled = &completeness.groups[&(
            "Observation".to_owned(),
            CompletenessBasis::Profile(url.to_owned()),
        )];
        assert_eq!(
            paths(&profiled.elements),
            [
                "Observation.status",
                "Observation.subject",
                "Observation.value"
            ]
        );
        assert_eq!(
            (profiled.resources, profiled.present.clone()),
            (2, vec![2, 0, 2])
        );
        let base = &completeness.groups[&("Observation".to_owned(), CompletenessBasis::Base)];
        assert_eq!(base.resources, 1);
        // A profile given in the options applies to resources that declare none.
        completeness.record(
            &validator,
            Some(url),
            "Observation",
            plain.as_object().expect("object"),
        );
        let profiled = &completeness.groups[&(
            "Observation".to_owned(),
            CompletenessBasis::Profile(url.to_owned()),
        )];
        assert_eq!(profiled.resources, 3);
    }
}
