//! Terminology: bindings checked against value sets (required → error, extensible → warning,
//! preferred → information), and the [`TerminologyHook`] that answers FHIRPath `memberOf()`.

use medulla_fhirpath::{Coding, TerminologyService};
use medulla_terminology::Terminology;
use serde_json::Value as Json;

use crate::outcome::{IssueType, Severity};
use crate::structure::{Binding, BindingStrength};
use crate::validator::{Run, quote};

/// Whether a code is in a value set, as far as the loaded terminology can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Membership {
    /// It is.
    In,
    /// It is not.
    NotIn,
    /// The terminology cannot say: the value set is unknown, or it depends on a code system
    /// that is not loaded (SNOMED CT, LOINC).
    Unknown,
}

/// Whether `code` (of `system`, or of whichever system the value set includes when `system` is
/// `None`, as for a bare `code` element) is in `value_set` (`url` or `url|version`).
pub(crate) fn code_in_value_set(
    terminology: &Terminology,
    value_set: &str,
    system: Option<&str>,
    code: &str,
) -> Membership {
    // The R4 definitions bind to `url|4.0.1`; a terminology that holds the value set under its
    // bare URL is asked again without the version.
    let value_set = match terminology.value_set(value_set) {
        Ok(_) => value_set,
        Err(_) => match value_set.split_once('|') {
            Some((url, _)) if terminology.value_set(url).is_ok() => url,
            _ => return Membership::Unknown,
        },
    };
    let systems: Vec<String> = match system {
        Some(system) => vec![system.to_owned()],
        None => match terminology.value_set(value_set) {
            Ok(definition) => definition
                .compose
                .iter()
                .flat_map(|compose| compose.include.iter())
                .filter_map(|include| include.system.clone())
                .collect(),
            Err(_) => return Membership::Unknown,
        },
    };
    let mut membership = if systems.is_empty() {
        Membership::Unknown
    } else {
        Membership::NotIn
    };
    for system in &systems {
        match terminology.validate_code(value_set, system, code, None) {
            Ok(validation) if validation.result => return Membership::In,
            Ok(_) => {}
            Err(_) => membership = Membership::Unknown,
        }
    }
    membership
}

/// FHIRPath's `memberOf()` through the terminology service: plug it into an evaluation with
/// `Environment::with_terminology`. A value set or code system the service does not know
/// makes the answer empty (unknown), not false.
pub struct TerminologyHook<'t> {
    pub(crate) terminology: &'t Terminology,
}

impl<'t> TerminologyHook<'t> {
    /// The hook over `terminology`.
    pub fn new(terminology: &'t Terminology) -> TerminologyHook<'t> {
        TerminologyHook { terminology }
    }
}

impl TerminologyService for TerminologyHook<'_> {
    fn member_of(&self, codings: &[Coding<'_>], value_set: &str) -> Option<bool> {
        let mut answer = Some(false);
        for coding in codings {
            match code_in_value_set(self.terminology, value_set, coding.system, coding.code) {
                Membership::In => return Some(true),
                Membership::NotIn => {}
                Membership::Unknown => answer = None,
            }
        }
        answer
    }
}

impl Run<'_> {
    /// Checks the codes of one value (`code`, `Coding` or `CodeableConcept`) against the
    /// element's binding. Other types and `example` bindings are not checked.
    pub(crate) fn check_binding(
        &mut self,
        binding: &Binding,
        type_code: &str,
        value: &Json,
        path: &str,
    ) {
        let severity = match binding.strength {
            BindingStrength::Required => Severity::Error,
            BindingStrength::Extensible => Severity::Warning,
            BindingStrength::Preferred => Severity::Information,
            BindingStrength::Example => return,
        };
        let coding = |json: &Json| -> Option<(Option<String>, String)> {
            Some((
                json.get("system").and_then(Json::as_str).map(str::to_owned),
                json.get("code")?.as_str()?.to_owned(),
            ))
        };
        let codings: Vec<(Option<String>, String)> = match type_code {
            "code" => value
                .as_str()
                .map(|code| (None, code.to_owned()))
                .into_iter()
                .collect(),
            "Coding" => coding(value).into_iter().collect(),
            "CodeableConcept" => value
                .get("coding")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(coding)
                .collect(),
            _ => return,
        };
        if codings.is_empty() {
            return;
        }
        let terminology = self.validator.terminology();
        let mut unknown = false;
        for (system, code) in &codings {
            match code_in_value_set(terminology, &binding.value_set, system.as_deref(), code) {
                Membership::In => return,
                Membership::NotIn => {}
                Membership::Unknown => unknown = true,
            }
        }
        let value_set = &binding.value_set;
        if unknown {
            self.report(
                Severity::Information,
                IssueType::CodeInvalid,
                path,
                format!(
                    "The code could not be checked against the value set '{value_set}': the \
                     value set or its code system is not known here"
                ),
            );
            return;
        }
        let obligation = match binding.strength {
            BindingStrength::Required => "is required from this value set",
            BindingStrength::Extensible => {
                "should come from this value set unless it has no suitable code"
            }
            _ => "is recommended to come from this value set",
        };
        let details = if type_code == "code" {
            let code = codings.first().map_or("", |(_, code)| code.as_str());
            format!(
                "The value provided ('{}') is not in the value set '{value_set}', and a code \
                 {obligation}",
                quote(code)
            )
        } else {
            let shown: Vec<String> = codings
                .iter()
                .map(|(system, code)| format!("{}#{}", system.as_deref().unwrap_or(""), code))
                .collect();
            format!(
                "None of the codings provided are in the value set '{value_set}', and a coding \
                 {obligation} (codes = {})",
                quote(&shown.join(", "))
            )
        };
        self.report(severity, IssueType::CodeInvalid, path, details);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_codes_are_looked_up_in_the_systems_the_value_set_includes() {
        let terminology = Terminology::in_memory();
        let gender = "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1";
        assert_eq!(
            code_in_value_set(&terminology, gender, None, "female"),
            Membership::In
        );
        assert_eq!(
            code_in_value_set(&terminology, gender, None, "mal"),
            Membership::NotIn
        );
        assert_eq!(
            code_in_value_set(&terminology, "http://example.org/vs", None, "x"),
            Membership::Unknown
        );
    }
}
