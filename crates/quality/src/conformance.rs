//! Conformance: validation issues grouped by what went wrong, [`ConformanceKey`].
//!
//! An issue from a failed invariant is grouped by its constraint key (`obs-6`); any other by
//! its issue type and its message with the concrete values taken out ("The value '…' is not a
//! valid date"), so that a thousand bad dates make one line, not a thousand.

use std::collections::HashMap;

use medulla_validation::{Issue, Severity};

use crate::tally::{Subject, Tallies};

/// Longest normalized message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// Errors (and fatal issues) or warnings; information issues are not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IssueLevel {
    /// `fatal` or `error`: the resource is invalid.
    Error,
    /// `warning`.
    Warning,
}

/// What a group of issues has in common.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConformanceKey {
    /// The resource type validated.
    pub resource_type: String,
    /// Errors or warnings.
    pub level: IssueLevel,
    /// The constraint key (`obs-6`), or `None` for issues that are not invariants.
    pub constraint: Option<String>,
    /// The FHIR issue type code (`invariant`, `code-invalid`, `structure`).
    pub code: &'static str,
    /// The message: the constraint's text for invariants, else the message with its concrete
    /// values replaced by `…`.
    pub message: String,
}

/// Validation issues by [`ConformanceKey`], each with the element path of the first one seen.
#[derive(Debug, Clone)]
pub(crate) struct Conformance {
    pub(crate) tallies: Tallies<ConformanceKey>,
    pub(crate) expressions: HashMap<ConformanceKey, String>,
}

impl Conformance {
    pub(crate) fn new(max_keys: usize, max_examples: usize) -> Conformance {
        Conformance {
            tallies: Tallies::new(max_keys, max_examples),
            expressions: HashMap::new(),
        }
    }

    /// Counts one issue of `subject`, a resource of `resource_type`.
    pub(crate) fn record(&mut self, resource_type: &str, issue: &Issue, subject: &Subject) {
        let level = match issue.severity {
            Severity::Fatal | Severity::Error => IssueLevel::Error,
            Severity::Warning => IssueLevel::Warning,
            Severity::Information => return,
        };
        let key = ConformanceKey {
            resource_type: resource_type.to_owned(),
            level,
            constraint: issue.constraint.clone(),
            code: issue.code.as_str(),
            // Invariant messages quote the constraint's own text, not the resource's values.
            message: match &issue.constraint {
                Some(_) => issue.details.chars().take(MAX_MESSAGE_CHARS).collect(),
                None => normalize_message(&issue.details),
            },
        };
        self.tallies.record(key.clone(), subject);
        if self.tallies.by_key.contains_key(&key) && !self.expressions.contains_key(&key) {
            self.expressions
                .insert(key, strip_indexes(&issue.expression));
        }
    }
}

/// The message with quoted text, URLs and numbers replaced by `…` and `N`, cut to
/// [`MAX_MESSAGE_CHARS`].
pub(crate) fn normalize_message(message: &str) -> String {
    let mut normalized = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS));
    let mut rest = message;
    while let Some(character) = rest.chars().next() {
        let after = &rest[character.len_utf8()..];
        match character {
            // A quote opens a value only after a non-letter and if it closes again:
            // apostrophes inside words (`patient's`) do not.
            '\'' | '"'
                if after.contains(character)
                    && !normalized
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphanumeric) =>
            {
                normalized.push(character);
                normalized.push('…');
                normalized.push(character);
                let closing = after.find(character).unwrap_or(after.len());
                rest = &after[(closing + 1).min(after.len())..];
            }
            '0'..='9' => {
                normalized.push('N');
                rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
            }
            _ => {
                normalized.push(character);
                rest = after;
            }
        }
    }
    let words: Vec<&str> = normalized
        .split(' ')
        .map(|word| {
            if word.contains("://") || word.starts_with("urn:") {
                "…"
            } else {
                word
            }
        })
        .collect();
    words.join(" ").chars().take(MAX_MESSAGE_CHARS).collect()
}

/// `Patient.name[0].given[1]` → `Patient.name.given`.
pub(crate) fn strip_indexes(expression: &str) -> String {
    let mut stripped = String::with_capacity(expression.len());
    let mut in_index = false;
    for character in expression.chars() {
        match character {
            '[' => in_index = true,
            ']' if in_index => in_index = false,
            _ if in_index => {}
            _ => stripped.push(character),
        }
    }
    stripped
}

#[cfg(test)]
mod tests {
    use super::*;
    use medulla_validation::IssueType;

    #[test]
    fn messages_lose_their_concrete_values() {
        assert_eq!(
            normalize_message("The value '2020-13-45' is not a valid date"),
            "The value '…' is not a valid date"
        );
        assert_eq!(
            normalize_message("Patient.name: max allowed = 1, but found 3"),
            "Patient.name: max allowed = N, but found N"
        );
        assert_eq!(
            normalize_message("Unknown extension http://example.org/ext/x could not be found"),
            "Unknown extension … could not be found"
        );
        assert_eq!(
            normalize_message("the patient's \"name\" isn't closed"),
            "the patient's \"…\" isn't closed"
        );
        assert_eq!(normalize_message(&"x".repeat(1000)).chars().count(), 200);
    }

    #[test]
    fn expressions_lose_their_indexes() {
        assert_eq!(
            strip_indexes("Bundle.entry[12].resource.name[0].given[1]"),
            "Bundle.entry.resource.name.given"
        );
    }

    #[test]
    fn invariants_group_by_key_and_others_by_pattern() {
        let mut conformance = Conformance::new(100, 5);
        let issue = |details: &str, constraint: Option<&str>, severity| Issue {
            severity,
            code: if constraint.is_some() {
                IssueType::Invariant
            } else {
                IssueType::Value
            },
            details: details.to_owned(),
            expression: "Observation.component[3]".to_owned(),
            constraint: constraint.map(str::to_owned),
        };
        let subject = |sequence: u64| Subject::new(sequence, "Observation", Some("o1"));
        conformance.record(
            "Observation",
            &issue(
                "Constraint failed: obs-6: 'x'",
                Some("obs-6"),
                Severity::Error,
            ),
            &subject(0),
        );
        conformance.record(
            "Observation",
            &issue("The value '1' is not a valid date", None, Severity::Error),
            &subject(0),
        );
        conformance.record(
            "Observation",
            &issue("The value '2' is not a valid date", None, Severity::Error),
            &subject(1),
        );
        conformance.record(
            "Observation",
            &issue("no narrative", Some("dom-6"), Severity::Warning),
            &subject(1),
        );
        conformance.record(
            "Observation",
            &issue("fyi", None, Severity::Information),
            &subject(1),
        );
        let sorted = conformance.tallies.sorted();
        let summary: Vec<(Option<&str>, IssueLevel, &str, u64, u64)> = sorted
            .iter()
            .map(|(key, tally)| {
                (
                    key.constraint.as_deref(),
                    key.level,
                    key.message.as_str(),
                    tally.count,
                    tally.resources,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    None,
                    IssueLevel::Error,
                    "The value '…' is not a valid date",
                    2,
                    2
                ),
                (
                    Some("obs-6"),
                    IssueLevel::Error,
                    "Constraint failed: obs-6: 'x'",
                    1,
                    1
                ),
                (Some("dom-6"), IssueLevel::Warning, "no narrative", 1, 1),
            ]
        );
        let first = sorted[0].0;
        assert_eq!(conformance.expressions[first], "Observation.component");
    }
}
