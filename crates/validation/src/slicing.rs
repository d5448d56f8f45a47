//! Slicing: assigning the values of a sliced element to slices by their discriminators
//! (`value`, `pattern`, `exists`, `type`, `profile`), then the slices' cardinalities, the
//! `closed`/`openAtEnd` rules and `ordered`.

use medulla_fhirpath::{Environment, Node, Value};
use serde_json::Value as Json;

use crate::binding::{Membership, code_in_value_set};
use crate::fixed::matches_pattern;
use crate::invariant::BundleResolver;
use crate::outcome::{IssueType, Severity};
use crate::structure::{
    Discriminator, DiscriminatorType, ElementDefinition, Slicing, SlicingRules, StructureDefinition,
};
use crate::validator::{
    Frame, Host, Item, MAX_PROFILE_DEPTH, Run, backbone_model_name, from_profile,
    is_extension_element, push_index,
};

/// Most path segments followed to find the element a discriminator names.
const MAX_DISCRIMINATOR_SEGMENTS: usize = 16;

/// A value found at a discriminator's path: its JSON and FHIR type, when known.
struct Found {
    json: Json,
    type_name: Option<String>,
}

impl<'v> Run<'v> {
    /// Validates the values of a sliced element: each against the slice it matches (or the
    /// slicing entry, or for extensions the definition named by its URL), then the slices'
    /// cardinalities and the slicing rules. `path` ends with the element's name; `parent_len`
    /// is the length of the parent's path within it.
    #[allow(clippy::too_many_arguments)] // The walk's state; a struct would only rename it.
    pub(crate) fn validate_sliced<'j>(
        &mut self,
        definition: &'v StructureDefinition,
        entry_index: usize,
        type_index: usize,
        items: &[Item<'j>],
        path: &mut String,
        parent_len: usize,
        frame: Frame<'j>,
        depth: usize,
        host: Host<'v>,
    ) {
        let Some(entry) = definition.element(entry_index) else {
            return;
        };
        let open_slicing = Slicing {
            discriminators: Vec::new(),
            ordered: false,
            rules: SlicingRules::Open,
        };
        let slicing = entry.slicing.as_ref().unwrap_or(&open_slicing);
        let type_code = entry
            .types
            .get(type_index)
            .map_or("", |element_type| element_type.code.as_str());
        let assigned: Vec<Option<usize>> = items
            .iter()
            .map(|item| {
                self.find_slice(
                    definition,
                    entry,
                    &slicing.discriminators,
                    *item,
                    type_code,
                    frame,
                    depth,
                )
            })
            .collect();

        let segment_end = path.len();
        let parent_path = path.get(..parent_len).unwrap_or("").to_owned();
        for (position, &slice_index) in entry.slices.iter().enumerate() {
            let Some(slice) = definition.element(slice_index) else {
                continue;
            };
            let count = assigned.iter().filter(|a| **a == Some(position)).count();
            if count < slice.min as usize {
                self.report(
                    Severity::Error,
                    IssueType::Required,
                    &parent_path,
                    format!(
                        "{}: minimum required = {}, but only found {count}{}",
                        slice.id,
                        slice.min,
                        from_profile(definition)
                    ),
                );
            }
            if !slice.allows_count(count) {
                self.report(
                    Severity::Error,
                    IssueType::Structure,
                    &parent_path,
                    format!(
                        "{}: max allowed = {}, but found {count}{}",
                        slice.id,
                        slice.max_text(),
                        from_profile(definition)
                    ),
                );
            }
        }

        let mut last_position = 0;
        let mut seen_unmatched = false;
        for (item, assigned) in items.iter().zip(&assigned) {
            push_index(path, item.index);
            match assigned {
                Some(position) => {
                    if slicing.ordered && *position < last_position {
                        self.report(
                            Severity::Error,
                            IssueType::Structure,
                            path,
                            format!(
                                "As specified by profile {}, Element '{}' is out of order",
                                definition.url, entry.path
                            ),
                        );
                    }
                    if slicing.rules == SlicingRules::OpenAtEnd && seen_unmatched {
                        self.report(
                            Severity::Error,
                            IssueType::Structure,
                            path,
                            format!(
                                "As specified by profile {}, values of '{}' that match no slice \
                                 must come after all the slices",
                                definition.url, entry.path
                            ),
                        );
                    }
                    last_position = last_position.max(*position);
                    if let Some(&slice_index) = entry.slices.get(*position) {
                        let slice_type_index = definition
                            .element(slice_index)
                            .and_then(|slice| slice.types.iter().position(|t| t.code == type_code))
                            .unwrap_or(0);
                        self.validate_item(
                            definition,
                            slice_index,
                            slice_type_index,
                            *item,
                            path,
                            frame,
                            depth + 1,
                        );
                    }
                }
                None => {
                    seen_unmatched = true;
                    if slicing.rules == SlicingRules::Closed {
                        self.report(
                            Severity::Error,
                            IssueType::Structure,
                            path,
                            format!(
                                "This element does not match any known slice defined in the \
                                 profile {} and slicing is CLOSED",
                                definition.url
                            ),
                        );
                    }
                    if is_extension_element(entry) {
                        self.validate_extension(
                            definition,
                            entry_index,
                            *item,
                            path,
                            frame,
                            depth,
                            host,
                        );
                    } else {
                        self.validate_item(
                            definition,
                            entry_index,
                            type_index,
                            *item,
                            path,
                            frame,
                            depth + 1,
                        );
                    }
                }
            }
            path.truncate(segment_end);
        }
    }

    /// The position (in `entry.slices`) of the first slice whose discriminators all match.
    #[allow(clippy::too_many_arguments)] // The walk's state; a struct would only rename it.
    fn find_slice(
        &mut self,
        definition: &'v StructureDefinition,
        entry: &'v ElementDefinition,
        discriminators: &[Discriminator],
        item: Item<'_>,
        type_code: &str,
        frame: Frame<'_>,
        depth: usize,
    ) -> Option<usize> {
        if discriminators.is_empty() {
            return None;
        }
        let value = item.value?;
        let model_name = backbone_model_name(entry, type_code);
        let mut values_by_discriminator = Vec::with_capacity(discriminators.len());
        for discriminator in discriminators {
            values_by_discriminator.push(discriminator_values(
                discriminator,
                value,
                model_name,
                type_code,
                frame,
            ));
        }
        entry.slices.iter().position(|&slice_index| {
            discriminators
                .iter()
                .zip(&values_by_discriminator)
                .all(|(discriminator, values)| {
                    self.discriminator_matches(
                        definition,
                        slice_index,
                        discriminator,
                        values,
                        frame,
                        depth,
                    )
                })
        })
    }

    fn discriminator_matches(
        &mut self,
        definition: &'v StructureDefinition,
        slice_index: usize,
        discriminator: &Discriminator,
        values: &[Found],
        frame: Frame<'_>,
        depth: usize,
    ) -> bool {
        let Some((target_definition, target_index)) =
            self.find_element_at(definition, slice_index, &discriminator.path)
        else {
            return false;
        };
        let Some(target) = target_definition.element(target_index) else {
            return false;
        };
        match discriminator.kind {
            DiscriminatorType::Value | DiscriminatorType::Pattern => {
                if let Some(fixed) = &target.fixed {
                    values.iter().any(|found| &found.json == fixed)
                } else if let Some(pattern) = &target.pattern {
                    values
                        .iter()
                        .any(|found| matches_pattern(pattern, &found.json))
                } else if let Some(binding) = &target.binding {
                    let terminology = self.validator.terminology();
                    values.iter().any(|found| {
                        let system = found.json.get("system").and_then(Json::as_str);
                        let code = found
                            .json
                            .get("code")
                            .and_then(Json::as_str)
                            .or(found.json.as_str());
                        code.is_some_and(|code| {
                            code_in_value_set(terminology, &binding.value_set, system, code)
                                == Membership::In
                        })
                    })
                } else {
                    false
                }
            }
            DiscriminatorType::Exists => {
                if target.min >= 1 {
                    !values.is_empty()
                } else if target.max == Some(0) {
                    values.is_empty()
                } else {
                    true
                }
            }
            DiscriminatorType::Type => values.iter().any(|found| {
                found.type_name.as_deref().is_some_and(|actual| {
                    target.types.iter().any(|allowed| {
                        allowed.code == actual
                            || medulla_model::definitions().is_subtype_of(actual, &allowed.code)
                    })
                })
            }),
            DiscriminatorType::Profile => {
                let profiles: Vec<&'v str> = target
                    .types
                    .iter()
                    .flat_map(|t| {
                        if discriminator.path.ends_with("resolve()") {
                            t.target_profiles.iter()
                        } else {
                            t.profiles.iter()
                        }
                    })
                    .map(String::as_str)
                    .collect();
                values.iter().any(|found| {
                    profiles
                        .iter()
                        .any(|profile| self.conforms_to(&found.json, profile, frame, depth))
                })
            }
        }
    }

    /// Whether a resource conforms to a profile: validated on its own, with no errors. Bounded
    /// by [`MAX_PROFILE_DEPTH`].
    fn conforms_to(&mut self, json: &Json, profile: &str, frame: Frame<'_>, depth: usize) -> bool {
        if self.profile_depth >= MAX_PROFILE_DEPTH {
            self.report(
                Severity::Error,
                IssueType::TooCostly,
                "",
                format!(
                    "Profiles nested more than {MAX_PROFILE_DEPTH} deep through profile \
                     discriminators; '{profile}' was not checked"
                ),
            );
            return false;
        }
        let Some(definition) = self.validator.structures().get(profile) else {
            return false;
        };
        let saved = std::mem::take(&mut self.issues);
        self.profile_depth += 1;
        let mut path = String::new();
        if json.get("resourceType").is_some() {
            self.validate_resource(
                json,
                &mut path,
                Some((frame, false)),
                depth + 1,
                &[profile.to_owned()],
            );
        } else {
            path.push_str(&definition.type_name);
            self.validate_item(
                definition,
                0,
                0,
                Item::single(json),
                &mut path,
                frame,
                depth + 1,
            );
        }
        self.profile_depth -= 1;
        let conforms = !self
            .issues
            .iter()
            .any(|issue| issue.severity.is_error() && issue.code != IssueType::TooCostly);
        let too_costly: Vec<_> = self
            .issues
            .drain(..)
            .filter(|issue| issue.code == IssueType::TooCostly)
            .collect();
        self.issues = saved;
        self.issues.extend(too_costly);
        conforms
    }

    /// The element a discriminator path names, starting at a slice: its children, then its
    /// type profile's or base type's elements when the slice does not list them.
    fn find_element_at(
        &self,
        definition: &'v StructureDefinition,
        start: usize,
        path: &str,
    ) -> Option<(&'v StructureDefinition, usize)> {
        let path = path.strip_prefix("$this").unwrap_or(path);
        let path = path.strip_prefix('.').unwrap_or(path);
        let mut current = (definition, start);
        if path.is_empty() {
            return Some(current);
        }
        for (count, segment) in path.split('.').enumerate() {
            if count >= MAX_DISCRIMINATOR_SEGMENTS {
                return None;
            }
            if segment.starts_with("ofType(") {
                continue;
            }
            let (definition, index) = current;
            let element = definition.element(index)?;
            let structures = self.validator.structures();
            if segment == "resolve()" {
                let target = element
                    .types
                    .iter()
                    .flat_map(|t| t.target_profiles.iter())
                    .find_map(|profile| structures.get(profile))?;
                current = (target, 0);
                continue;
            }
            let (parent_definition, parent_index) = if !element.children.is_empty() {
                (definition, index)
            } else if let Some(target) = element.content_reference {
                (definition, target)
            } else {
                let element_type = element.types.first()?;
                let type_definition = element_type
                    .profiles
                    .iter()
                    .find_map(|profile| structures.get(profile))
                    .or_else(|| structures.for_type(&element_type.code))?;
                (type_definition, 0)
            };
            let parent = parent_definition.element(parent_index)?;
            let name = segment.strip_suffix("[x]").unwrap_or(segment);
            let child = parent.children.iter().copied().find(|&child| {
                parent_definition
                    .element(child)
                    .is_some_and(|child| child.name == name)
            })?;
            current = (parent_definition, child);
        }
        Some(current)
    }
}

/// The values at a discriminator's path in one value of the sliced element.
fn discriminator_values(
    discriminator: &Discriminator,
    value: &Json,
    model_name: &str,
    type_code: &str,
    frame: Frame<'_>,
) -> Vec<Found> {
    let own_type = value
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap_or(type_code);
    let Some(expression) = &discriminator.compiled else {
        if discriminator.path == "$this" {
            return vec![Found {
                json: value.clone(),
                type_name: Some(own_type.to_owned()),
            }];
        }
        return Vec::new();
    };
    let model = medulla_model::definitions();
    let node = if value.get("resourceType").is_some() {
        Node::resource(value)
    } else {
        Node::new(
            value,
            model
                .type_def(model_name)
                .or_else(|| model.type_def(type_code)),
        )
    };
    let resolver = BundleResolver {
        bundle: frame.bundle,
    };
    let environment = Environment::new()
        .with_resource(frame.resource, frame.root)
        .with_resolver(&resolver);
    let Ok(result) = expression.evaluate_collection(&[Value::Node(node)], &environment) else {
        return Vec::new();
    };
    result
        .iter()
        .map(|found| match found {
            Value::Node(node) => Found {
                json: node.json().clone(),
                type_name: node.type_name().map(str::to_owned),
            },
            other => Found {
                json: other.to_json(),
                type_name: None,
            },
        })
        .collect()
}
