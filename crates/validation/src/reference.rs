//! Reference targets: the type a `Reference.reference` points to, against the element's
//! target profiles; contained references (`#id`) must resolve.

use serde_json::{Map, Value as Json};

use crate::invariant::{find_bundle_entry, relative_type_and_id};
use crate::outcome::{IssueType, Severity};
use crate::structure::ElementDefinition;
use crate::validator::{Frame, Run, quote};

impl Run<'_> {
    /// Checks one `Reference` value's target type.
    pub(crate) fn check_reference(
        &mut self,
        element: &ElementDefinition,
        type_index: usize,
        map: &Map<String, Json>,
        path: &str,
        frame: Frame<'_>,
    ) {
        let Some(reference) = map.get("reference").and_then(Json::as_str) else {
            return;
        };
        let structures = self.validator.structures();
        let target_type: Option<&str> = if let Some(id) = reference.strip_prefix('#') {
            let found = if id.is_empty() {
                Some(frame.root)
            } else {
                frame
                    .root
                    .get("contained")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .find(|contained| contained.get("id").and_then(Json::as_str) == Some(id))
            };
            match found {
                Some(resource) => resource.get("resourceType").and_then(Json::as_str),
                None => {
                    self.report(
                        Severity::Error,
                        IssueType::Structure,
                        &format!("{path}.reference"),
                        format!(
                            "Unable to resolve the contained reference '{}'",
                            quote(reference)
                        ),
                    );
                    return;
                }
            }
        } else if let Some(resource) = frame
            .bundle
            .and_then(|bundle| find_bundle_entry(bundle, reference))
        {
            resource.get("resourceType").and_then(Json::as_str)
        } else {
            relative_type_and_id(reference)
                .map(|(kind, _)| kind)
                .filter(|kind| structures.is_resource_type(kind))
        };
        let Some(target_type) = target_type else {
            return;
        };
        let Some(element_type) = element.types.get(type_index) else {
            return;
        };
        let allowed: Vec<&str> = element_type
            .target_profiles
            .iter()
            .filter_map(|profile| structures.get(profile).map(|d| d.type_name.as_str()))
            .collect();
        if allowed.is_empty()
            || allowed
                .iter()
                .any(|allowed| *allowed == target_type || *allowed == "Resource")
        {
            return;
        }
        self.report(
            Severity::Error,
            IssueType::Structure,
            path,
            format!(
                "The type '{target_type}' implied by the reference URL {} is not a valid Target \
                 for this element (must be one of [{}])",
                quote(reference),
                allowed.join(", ")
            ),
        );
    }
}
