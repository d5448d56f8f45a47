//! Constraint invariants evaluated on each value: [`Run::check_constraints`], with an
//! environment whose `resolve()` knows the enclosing Bundle and whose `memberOf()` asks the
//! terminology.

use std::sync::Arc;

use medulla_fhirpath::{Environment, Node, ResourceResolver, Value};
use medulla_model::TypeDef;
use serde_json::Value as Json;

use crate::binding::TerminologyHook;
use crate::constraint::{Constraint, ConstraintCheck, has_value_or_children};
use crate::outcome::IssueType;
use crate::outcome::Severity;
use crate::structure::ElementDefinition;
use crate::validator::{Frame, Item, Run};

/// Resolves references to the entries of the Bundle a resource is in (FHIRPath finds contained
/// resources, and the entries when the Bundle itself is the root, without help).
pub(crate) struct BundleResolver<'j> {
    pub(crate) bundle: Option<&'j Json>,
}

impl ResourceResolver for BundleResolver<'_> {
    fn resolve(&self, reference: &str) -> Option<&Json> {
        find_bundle_entry(self.bundle?, reference)
    }
}

/// The resource of the Bundle entry a reference points to: by `fullUrl`, or by `Type/id` at
/// the end of the reference.
pub(crate) fn find_bundle_entry<'j>(bundle: &'j Json, reference: &str) -> Option<&'j Json> {
    let entries = bundle.get("entry")?.as_array()?;
    let relative = relative_type_and_id(reference);
    entries.iter().find_map(|entry| {
        let resource = entry.get("resource")?;
        if entry.get("fullUrl").and_then(Json::as_str) == Some(reference) {
            return Some(resource);
        }
        let (kind, id) = relative?;
        (resource.get("resourceType").and_then(Json::as_str) == Some(kind)
            && resource.get("id").and_then(Json::as_str) == Some(id))
        .then_some(resource)
    })
}

/// `Patient/123`, `http://x/fhir/Patient/123/_history/2` → (`Patient`, `123`).
pub(crate) fn relative_type_and_id(reference: &str) -> Option<(&str, &str)> {
    let reference = match reference.find("/_history/") {
        Some(at) => &reference[..at],
        None => reference,
    };
    let (rest, id) = reference.rsplit_once('/')?;
    let kind = rest.rsplit('/').next()?;
    (!kind.is_empty() && !id.is_empty()).then_some((kind, id))
}

impl Run<'_> {
    /// Evaluates the constraints of `element` on one value, skipping those in `already` (the
    /// same constraint on the referring element). An expression that fails at run time gives
    /// a warning, never a crash; constraints that did not compile are skipped (they are listed
    /// by [`crate::Structures::constraints_not_evaluated`]).
    pub(crate) fn check_constraints(
        &mut self,
        element: &ElementDefinition,
        already: &[Arc<Constraint>],
        item: Item<'_>,
        model_type: Option<&'static TypeDef>,
        path: &str,
        frame: Frame<'_>,
    ) {
        if !self.options.check_invariants || element.constraints.is_empty() {
            return;
        }
        let hook = TerminologyHook {
            terminology: self.validator.terminology(),
        };
        let resolver = BundleResolver {
            bundle: frame.bundle,
        };
        for constraint in &element.constraints {
            if already.iter().any(|other| Arc::ptr_eq(other, constraint)) {
                continue;
            }
            let passed = match &constraint.check {
                ConstraintCheck::HasValueOrChildren => {
                    has_value_or_children(item.value, item.companion)
                }
                ConstraintCheck::NotEvaluated(_) => continue,
                ConstraintCheck::Expression(expression) => {
                    let Some(value) = item.value else { continue };
                    let node = if value.get("resourceType").is_some() {
                        Node::resource(value)
                    } else {
                        Node::new(value, model_type)
                    };
                    let environment = Environment::new()
                        .with_resource(frame.resource, frame.root)
                        .with_terminology(&hook)
                        .with_resolver(&resolver);
                    match expression.evaluate_collection(&[Value::Node(node)], &environment) {
                        // Empty counts as passing: the HL7 Java validator would fail it, but
                        // R4's own invariants give empty on valid data (`per-1` comparing a
                        // date with a dateTime), and a false error is worse than a missed one.
                        Ok(result) => result
                            .iter()
                            .all(|value| matches!(value, Value::Boolean(true))),
                        Err(error) => {
                            self.report(
                                Severity::Warning,
                                IssueType::Processing,
                                path,
                                format!(
                                    "Unable to evaluate constraint {}: {error}",
                                    constraint.key
                                ),
                            );
                            continue;
                        }
                    }
                }
            };
            if !passed {
                self.report(
                    constraint.severity,
                    IssueType::Invariant,
                    path,
                    format!(
                        "Constraint failed: {}: '{}'",
                        constraint.key, constraint.human
                    ),
                );
                if let Some(issue) = self.issues.last_mut() {
                    issue.constraint = Some(constraint.key.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failed_invariants_name_their_constraint() {
        let outcome = crate::Validator::r4().validate(
            &json!({"resourceType": "Observation", "status": "final",
                "code": {"text": "heart rate"}, "valueString": "80",
                "dataAbsentReason": {"text": "not asked"}}),
            &crate::Options::default(),
        );
        let keys: Vec<(Option<&str>, Severity)> = outcome
            .issues
            .iter()
            .map(|issue| (issue.constraint.as_deref(), issue.severity))
            .collect();
        assert_eq!(
            keys,
            [
                (Some("dom-6"), Severity::Warning),
                (Some("obs-6"), Severity::Error)
            ]
        );
    }

    #[test]
    fn references_find_bundle_entries_by_full_url_or_type_and_id() {
        let bundle = json!({"resourceType": "Bundle", "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p"}},
            {"fullUrl": "http://x/Practitioner/d", "resource": {"resourceType": "Practitioner", "id": "d"}},
        ]});
        assert_eq!(
            find_bundle_entry(&bundle, "urn:uuid:1").and_then(|r| r.get("id")),
            Some(&json!("p"))
        );
        assert_eq!(
            find_bundle_entry(&bundle, "Practitioner/d").and_then(|r| r.get("id")),
            Some(&json!("d"))
        );
        assert!(find_bundle_entry(&bundle, "Patient/other").is_none());
        assert_eq!(
            relative_type_and_id("http://x/fhir/Patient/1/_history/2"),
            Some(("Patient", "1"))
        );
        assert_eq!(relative_type_and_id("urn:uuid:1"), None);
    }
}
