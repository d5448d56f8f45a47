//! Extensions that no slice of the profile claims: found by URL in the registry, checked
//! against their definition (value type, nested extensions, invariants) and context.
//!
//! Unknown URLs follow the HL7 Java validator: its `checkExtension` makes an extension whose
//! definition cannot be found an error ("The extension … could not be found so is not allowed
//! here", code `structure`) unless unknown extensions are allowed, and then only a hint
//! ("Unknown extension …"). It never allows unknown extensions in `http://hl7.org/fhir/`
//! space. We also never allow an unknown `modifierExtension`: the FHIR rules say a system that
//! does not understand a modifier extension must refuse the resource.

use serde_json::Value as Json;

use crate::outcome::{IssueType, Severity};
use crate::structure::{ExtensionContext, StructureDefinition};
use crate::structures::BASE_URL_PREFIX;
use crate::validator::{Frame, Host, Item, Run, quote};

impl<'v> Run<'v> {
    /// Validates an extension that matched no slice of `entry_index` in `definition`.
    #[allow(clippy::too_many_arguments)] // The walk's state; a struct would only rename it.
    pub(crate) fn validate_extension<'j>(
        &mut self,
        definition: &'v StructureDefinition,
        entry_index: usize,
        item: Item<'j>,
        path: &mut String,
        frame: Frame<'j>,
        depth: usize,
        host: Host<'v>,
    ) {
        let is_modifier = definition
            .element(entry_index)
            .is_some_and(|entry| entry.name == "modifierExtension");
        let url = item
            .value
            .and_then(|value| value.get("url"))
            .and_then(Json::as_str);
        let validator = self.validator;
        let known = url.and_then(|url| {
            validator
                .structures()
                .get(url)
                .filter(|found| found.is_extension())
        });
        match (url, known) {
            (Some(url), Some(extension)) => {
                if !context_allows(&extension.contexts, host) {
                    let allowed: Vec<String> = extension
                        .contexts
                        .iter()
                        .map(|context| format!("{}:{}", context.kind, context.expression))
                        .collect();
                    // A warning, not an error: R4's own definitions use extensions outside
                    // their declared contexts (structuredefinition-fhir-type sits on
                    // ElementDefinition.type while its context is ElementDefinition.type.code).
                    self.report(
                        Severity::Warning,
                        IssueType::Structure,
                        path,
                        format!(
                            "The extension {url} is not allowed to be used at this point \
                             (allowed = {}; this element is [{}])",
                            allowed.join(", "),
                            host.path
                        ),
                    );
                }
                let defined_as_modifier = extension.element(0).is_some_and(|root| root.is_modifier);
                if defined_as_modifier != is_modifier {
                    self.report(
                        Severity::Error,
                        IssueType::Structure,
                        path,
                        if defined_as_modifier {
                            format!("The extension {url} is a modifier extension, so it must be in modifierExtension")
                        } else {
                            format!("The extension {url} is not a modifier extension, so it must not be in modifierExtension")
                        },
                    );
                }
                self.validate_item(extension, 0, 0, item, path, frame, depth + 1);
            }
            // A relative URL names a sub-extension of a complex extension; with the outer
            // definition unknown there is nothing to check it against (the Java validator
            // reports nothing either).
            (Some(url), None) if !url.contains(':') && host.type_name == "Extension" => {
                self.validate_item(definition, entry_index, 0, item, path, frame, depth + 1);
            }
            (Some(url), None) => {
                let allowed = self.options.allow_unknown_extensions
                    && !is_modifier
                    && !url.starts_with(BASE_URL_PREFIX);
                if allowed {
                    self.report(
                        Severity::Information,
                        IssueType::Structure,
                        path,
                        format!("Unknown extension {}", quote(url)),
                    );
                } else {
                    self.report(
                        Severity::Error,
                        IssueType::Structure,
                        path,
                        format!(
                            "The extension {} could not be found so is not allowed here",
                            quote(url)
                        ),
                    );
                }
                self.validate_item(definition, entry_index, 0, item, path, frame, depth + 1);
            }
            (None, _) => {
                self.validate_item(definition, entry_index, 0, item, path, frame, depth + 1);
            }
        }
    }
}

/// Whether an extension with these contexts may appear on `host`. `element` contexts match the
/// host's path, type, or a type it derives from (`Element`, `DomainResource`); `extension` ones
/// any extension; `fhirpath` ones are not evaluated and allow any place.
fn context_allows(contexts: &[ExtensionContext], host: Host<'_>) -> bool {
    if contexts.is_empty() {
        return true;
    }
    let model = medulla_model::definitions();
    contexts.iter().any(|context| match context.kind.as_str() {
        "element" => {
            let expression = context.expression.as_str();
            // `Element` is the catch-all context: R4 uses it for extensions on resources too
            // (structuredefinition-fmm on StructureDefinition).
            expression == "Element"
                || expression == host.path
                || expression == host.type_name
                || model.is_subtype_of(host.type_name, expression)
                || (host.type_name == "BackboneElement" && expression == "BackboneElement")
        }
        "extension" => host.type_name == "Extension",
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(expression: &str) -> ExtensionContext {
        ExtensionContext {
            kind: "element".to_owned(),
            expression: expression.to_owned(),
        }
    }

    #[test]
    fn contexts_match_paths_types_and_ancestors() {
        let patient = Host {
            path: "Patient",
            type_name: "Patient",
        };
        assert!(context_allows(&[context("Patient")], patient));
        assert!(context_allows(&[context("DomainResource")], patient));
        assert!(context_allows(
            &[context("Element")],
            Host {
                path: "Patient.name",
                type_name: "HumanName"
            }
        ));
        assert!(!context_allows(&[context("Observation")], patient));
        assert!(context_allows(
            &[context("Patient.birthDate")],
            Host {
                path: "Patient.birthDate",
                type_name: "date"
            }
        ));
    }
}
