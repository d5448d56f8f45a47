//! What validation reports: [`Issue`], [`Severity`], [`IssueType`], [`Outcome`], and its
//! OperationOutcome rendering.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Value as Json, json};

/// How bad an issue is, as `OperationOutcome.issue.severity` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Validation could not go on (not a resource, unknown resource type).
    Fatal,
    /// The resource is not valid.
    Error,
    /// Probably a problem, but the resource is valid.
    Warning,
    /// For information only.
    Information,
}

impl Severity {
    /// The FHIR code: `fatal`, `error`, `warning`, `information`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }

    /// Whether this severity makes the resource invalid (`fatal` or `error`).
    pub fn is_error(self) -> bool {
        matches!(self, Severity::Fatal | Severity::Error)
    }
}

/// What kind of problem, as `OperationOutcome.issue.code` (the FHIR IssueType codes) says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssueType {
    /// `invalid`: content invalid against the specification or a profile.
    Invalid,
    /// `structure`: a structural issue (unknown element, wrong JSON shape, too many values).
    Structure,
    /// `required`: a required element is missing.
    Required,
    /// `value`: an element value is invalid (format, range, fixed value).
    Value,
    /// `invariant`: a constraint (FHIRPath invariant) failed.
    Invariant,
    /// `code-invalid`: a code is not valid in the bound value set.
    CodeInvalid,
    /// `not-found`: a referenced definition or resource is unknown.
    NotFound,
    /// `processing`: validation itself could not be done as asked.
    Processing,
    /// `not-supported`: the content uses something this validator does not support.
    NotSupported,
    /// `too-costly`: a limit was reached (nesting depth, profile depth).
    TooCostly,
    /// `informational`: nothing wrong.
    Informational,
}

impl IssueType {
    /// The FHIR code: `structure`, `required`, `code-invalid`, …
    pub fn as_str(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Invariant => "invariant",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::NotFound => "not-found",
            IssueType::Processing => "processing",
            IssueType::NotSupported => "not-supported",
            IssueType::TooCostly => "too-costly",
            IssueType::Informational => "informational",
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem.
    pub code: IssueType,
    /// What is wrong, in the style of the HL7 Java validator's messages.
    pub details: String,
    /// Where, as a FHIRPath location: `Patient.name[0].given[1]`,
    /// `Observation.value.ofType(Quantity)`, `Bundle.entry[2].resource.subject`.
    pub expression: String,
    /// For a failed invariant, the constraint's key (`obs-6`, `dom-6`), so that reports can
    /// group issues by constraint without parsing `details`.
    pub constraint: Option<String>,
}

impl fmt::Display for Issue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {} at {}: {}",
            self.severity.as_str(),
            self.code.as_str(),
            self.expression,
            self.details
        )
    }
}

/// Everything validation found, in the order found, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The issues.
    pub issues: Vec<Issue>,
}

impl Outcome {
    /// Whether no issue is an error or fatal (warnings and information allowed).
    pub fn is_valid(&self) -> bool {
        !self.issues.iter().any(|issue| issue.severity.is_error())
    }

    /// The issues that are errors or fatal.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|issue| issue.severity.is_error())
    }

    /// The issues of exactly `severity`.
    pub fn with_severity(&self, severity: Severity) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(move |issue| issue.severity == severity)
    }

    /// Removes repeated issues (validation against a profile repeats the base checks), keeping
    /// the first of each.
    pub(crate) fn deduplicate(&mut self) {
        let mut seen = HashSet::with_capacity(self.issues.len());
        self.issues.retain(|issue| seen.insert(issue.clone()));
    }

    /// The outcome as an R4 OperationOutcome resource. An outcome without issues gives one
    /// `information` issue, "All OK", as the HL7 Java validator does, since an
    /// OperationOutcome must have at least one issue.
    pub fn to_operation_outcome(&self) -> Json {
        let issues: Vec<Json> = if self.issues.is_empty() {
            vec![json!({
                "severity": "information",
                "code": "informational",
                "details": {"text": "All OK"},
            })]
        } else {
            self.issues
                .iter()
                .map(|issue| {
                    json!({
                        "severity": issue.severity.as_str(),
                        "code": issue.code.as_str(),
                        "details": {"text": issue.details},
                        "expression": [issue.expression],
                    })
                })
                .collect()
        };
        json!({"resourceType": "OperationOutcome", "issue": issues})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(severity: Severity, details: &str) -> Issue {
        Issue {
            severity,
            code: IssueType::Value,
            details: details.to_owned(),
            expression: "Patient.birthDate".to_owned(),
            constraint: None,
        }
    }

    #[test]
    fn operation_outcome_lists_each_issue_with_its_expression() {
        let mut outcome = Outcome {
            issues: vec![
                issue(Severity::Error, "bad"),
                issue(Severity::Warning, "odd"),
                issue(Severity::Error, "bad"),
            ],
        };
        outcome.deduplicate();
        assert!(!outcome.is_valid());
        assert_eq!(
            outcome.to_operation_outcome(),
            json!({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "value", "details": {"text": "bad"},
                 "expression": ["Patient.birthDate"]},
                {"severity": "warning", "code": "value", "details": {"text": "odd"},
                 "expression": ["Patient.birthDate"]},
            ]})
        );
    }

    #[test]
    fn empty_outcome_says_all_ok() {
        let outcome = Outcome::default();
        assert!(outcome.is_valid());
        assert_eq!(
            outcome.to_operation_outcome()["issue"][0]["details"]["text"],
            "All OK"
        );
    }
}
