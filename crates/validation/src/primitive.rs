//! Primitive values: JSON kinds, the R4 regexes, integer ranges, real calendar dates, and the
//! element rules for primitives (`maxLength`, a profile's regex, `minValue`/`maxValue`).

use std::cmp::Ordering;

use medulla_fhirpath::Temporal;
use medulla_model::{PrimitiveJsonKind, TypeDef};
use serde_json::Value as Json;

use crate::outcome::{IssueType, Severity};
use crate::structure::ElementDefinition;
use crate::validator::{Item, Run, describe_json_kind, quote};

/// Longest string value accepted (the HL7 Java validator's limit: 1 MB).
const MAX_STRING_BYTES: usize = 1024 * 1024;

impl Run<'_> {
    /// Checks one primitive value of type `primitive` against its JSON kind, format and the
    /// element's own rules. A primitive with only a `_name` companion has nothing to check.
    pub(crate) fn check_primitive(
        &mut self,
        element: &ElementDefinition,
        primitive: &TypeDef,
        item: Item<'_>,
        path: &str,
    ) {
        let Some(value) = item.value else { return };
        let type_name = primitive.name.as_str();
        let wrong_kind = |expected: &str| {
            format!(
                "Error parsing JSON: the primitive value must be {expected}, not {}",
                describe_json_kind(value)
            )
        };
        match primitive.primitive_json_kind() {
            Some(PrimitiveJsonKind::Boolean) => {
                if !value.is_boolean() {
                    self.report_value(IssueType::Structure, path, wrong_kind("a boolean"));
                }
            }
            Some(PrimitiveJsonKind::Integer) => self.check_integer(type_name, value, path),
            Some(PrimitiveJsonKind::Decimal) => {
                if !value.is_number() {
                    self.report_value(IssueType::Structure, path, wrong_kind("a number"));
                }
            }
            Some(PrimitiveJsonKind::String) | None => {
                let Some(text) = value.as_str() else {
                    self.report_value(IssueType::Structure, path, wrong_kind("a string"));
                    return;
                };
                self.check_text(primitive, text, path);
            }
            Some(_) => {}
        }
        self.check_element_limits(element, type_name, value, path);
    }

    fn report_value(&mut self, code: IssueType, path: &str, details: String) {
        self.report(Severity::Error, code, path, details);
    }

    fn check_integer(&mut self, type_name: &str, value: &Json, path: &str) {
        let Some(number) = value.as_number() else {
            self.report_value(
                IssueType::Structure,
                path,
                format!(
                    "Error parsing JSON: the primitive value must be a number, not {}",
                    describe_json_kind(value)
                ),
            );
            return;
        };
        let Some(integer) = number.as_i64() else {
            self.report_value(
                IssueType::Value,
                path,
                format!(
                    "The value '{}' is not a valid integer",
                    quote(number.as_str())
                ),
            );
            return;
        };
        let minimum = match type_name {
            "positiveInt" => 1,
            "unsignedInt" => 0,
            _ => i64::from(i32::MIN),
        };
        if integer > i64::from(i32::MAX) || integer < i64::from(i32::MIN) {
            self.report_value(
                IssueType::Value,
                path,
                format!("The value '{integer}' is outside the range of a 32 bit integer"),
            );
        } else if integer < minimum {
            self.report_value(
                IssueType::Value,
                path,
                format!(
                    "The value '{integer}' is not a valid {type_name}: it must be >= {minimum}"
                ),
            );
        }
    }

    fn check_text(&mut self, primitive: &TypeDef, text: &str, path: &str) {
        let type_name = primitive.name.as_str();
        if text.is_empty() {
            self.report_value(IssueType::Value, path, "@value cannot be empty".to_owned());
            return;
        }
        if text.len() > MAX_STRING_BYTES {
            self.report_value(
                IssueType::Value,
                path,
                format!("value is longer than permitted maximum length of 1 MB ({MAX_STRING_BYTES} bytes)"),
            );
            return;
        }
        let is_real_date = match type_name {
            "date" => Temporal::parse_date(text).is_some(),
            "dateTime" | "instant" => Temporal::parse_date_time(text).is_some(),
            _ => true,
        };
        if !primitive.is_valid_format(text) || !is_real_date {
            self.report_value(
                IssueType::Value,
                path,
                format!("The value '{}' is not a valid {type_name}", quote(text)),
            );
        }
    }

    /// `maxLength`, a profile's regex, `minValue[x]` and `maxValue[x]`.
    fn check_element_limits(
        &mut self,
        element: &ElementDefinition,
        type_name: &str,
        value: &Json,
        path: &str,
    ) {
        let text = value.as_str();
        if let (Some(max_length), Some(text)) = (element.max_length, text)
            && text.chars().count() as u64 > max_length
        {
            self.report_value(
                IssueType::Value,
                path,
                format!("value is longer than permitted maximum length of {max_length}"),
            );
        }
        if let Some(regex) = &element.regex {
            let shown = text.map_or_else(|| value.to_string(), str::to_owned);
            if !regex.is_match(&shown) {
                self.report_value(
                    IssueType::Value,
                    path,
                    format!(
                        "The value '{}' does not meet the profile's regex for {type_name}",
                        quote(&shown)
                    ),
                );
            }
        }
        if let Some(minimum) = &element.min_value
            && compare_values(value, minimum) == Some(Ordering::Less)
        {
            self.report_value(
                IssueType::Value,
                path,
                format!(
                    "value is less than permitted minimum value of {}",
                    quote(&show(minimum))
                ),
            );
        }
        if let Some(maximum) = &element.max_value
            && compare_values(value, maximum) == Some(Ordering::Greater)
        {
            self.report_value(
                IssueType::Value,
                path,
                format!(
                    "value is greater than permitted maximum value of {}",
                    quote(&show(maximum))
                ),
            );
        }
    }
}

fn show(json: &Json) -> String {
    json.as_str()
        .map_or_else(|| json.to_string(), str::to_owned)
}

/// Orders two primitive values: numbers numerically, date-like strings of the same precision
/// as text (ISO 8601 sorts so). `None` when they cannot be compared, which is not reported.
fn compare_values(value: &Json, limit: &Json) -> Option<Ordering> {
    match (value, limit) {
        (Json::Number(value), Json::Number(limit)) => {
            let value: f64 = value.as_str().parse().ok()?;
            let limit: f64 = limit.as_str().parse().ok()?;
            value.partial_cmp(&limit)
        }
        (Json::String(value), Json::String(limit)) if value.len() == limit.len() => {
            Some(value.cmp(limit))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_compare_numbers_and_same_precision_dates() {
        assert_eq!(compare_values(&json!(5), &json!(10)), Some(Ordering::Less));
        assert_eq!(
            compare_values(&json!(10.5), &json!(10)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_values(&json!("2020-01-02"), &json!("2020-01-01")),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_values(&json!("2020-01"), &json!("2020-01-01")),
            None
        );
    }
}
