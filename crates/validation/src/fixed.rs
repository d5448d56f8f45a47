//! `fixed[x]` and `pattern[x]` values, and the per-value rules that share their walk (the
//! binding check): [`Run::check_value_rules`], [`matches_pattern`].

use serde_json::Value as Json;

use crate::outcome::{IssueType, Severity};
use crate::structure::ElementDefinition;
use crate::validator::{Frame, Item, Run, quote};

/// Whether `value` contains `pattern`: every property of a pattern object is matched in the
/// value, every item of a pattern array by some item of the value's, primitives are equal.
pub(crate) fn matches_pattern(pattern: &Json, value: &Json) -> bool {
    match (pattern, value) {
        (Json::Object(pattern), Json::Object(value)) => pattern.iter().all(|(key, expected)| {
            value
                .get(key)
                .is_some_and(|actual| matches_pattern(expected, actual))
        }),
        (Json::Array(pattern), Json::Array(value)) => pattern
            .iter()
            .all(|expected| value.iter().any(|actual| matches_pattern(expected, actual))),
        // A pattern with one item matches a single value too (a repeating element's pattern
        // given as an array, or the reverse).
        (Json::Array(pattern), single) => {
            pattern.len() == 1
                && pattern
                    .iter()
                    .all(|expected| matches_pattern(expected, single))
        }
        (pattern, value) => pattern == value,
    }
}

impl Run<'_> {
    /// Checks a value's fixed value, pattern and binding.
    pub(crate) fn check_value_rules(
        &mut self,
        element: &ElementDefinition,
        type_code: &str,
        item: Item<'_>,
        path: &str,
        _frame: Frame<'_>,
    ) {
        let Some(value) = item.value else { return };
        if let Some(fixed) = &element.fixed
            && fixed != value
        {
            self.report(
                Severity::Error,
                IssueType::Value,
                path,
                format!(
                    "Value is '{}' but must be '{}'",
                    quote(&shown(value)),
                    quote(&shown(fixed))
                ),
            );
        }
        if let Some(pattern) = &element.pattern
            && !matches_pattern(pattern, value)
        {
            self.report(
                Severity::Error,
                IssueType::Value,
                path,
                format!(
                    "The value does not match the pattern {} required by the profile",
                    quote(&pattern.to_string())
                ),
            );
        }
        if self.options.check_bindings
            && let Some(binding) = &element.binding
        {
            self.check_binding(binding, type_code, value, path);
        }
    }
}

fn shown(json: &Json) -> String {
    json.as_str()
        .map_or_else(|| json.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_subsets() {
        let pattern = json!({"coding": [{"system": "http://loinc.org", "code": "8480-6"}]});
        assert!(matches_pattern(
            &pattern,
            &json!({"coding": [{"system": "http://snomed.info/sct", "code": "1"},
                               {"system": "http://loinc.org", "code": "8480-6", "display": "S"}],
                    "text": "Systolic"})
        ));
        assert!(!matches_pattern(
            &pattern,
            &json!({"coding": [{"system": "http://loinc.org", "code": "8462-4"}]})
        ));
        assert!(matches_pattern(&json!("a"), &json!("a")));
        assert!(!matches_pattern(&json!({"a": 1}), &json!("a")));
    }
}
