//! Structural checks of resource JSON against the R4 definitions: [`check_resource`], [`Issue`].
//!
//! The checks are the ones any FHIR JSON must pass whatever profile it claims: known resource
//! type, known property names, arrays versus single values, JSON kinds and formats of primitives,
//! and the shape of `_name` primitive extension siblings. Cardinality minimums, invariants,
//! bindings and profiles are not checked here.

use std::fmt::{self, Write as _};

use serde_json::{Map, Number, Value};

use crate::definitions::{Definitions, definitions};
use crate::type_def::{ElementDef, PrimitiveJsonKind, TypeDef, TypeKind};

/// Objects nested deeper than this are not checked; one issue says so.
pub const MAX_DEPTH: usize = 64;

/// Longest piece of input quoted in a message, in characters.
const MAX_QUOTED_CHARS: usize = 64;

/// One problem found in a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Where, FHIRPath-like: `Patient.name[0].given[1]`. For an unknown property, the object that
    /// holds it. Primitive extension objects (`_birthDate`) share their value's path
    /// (`Patient.birthDate`). Empty when the root is not a resource.
    pub path: String,
    /// What is wrong, lowercase, quoting the input: `invalid date '2020-13-45'`.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            formatter.write_str(&self.message)
        } else {
            write!(formatter, "{} at {}", self.message, self.path)
        }
    }
}

/// Checks a resource's JSON against the R4 definitions and returns every issue found.
///
/// Checked: `resourceType` is a known concrete resource type; every property is an element of
/// its type (choice elements by their typed names, `valueQuantity`); arrays where the maximum
/// cardinality is many and single values where it is one; no empty arrays, empty objects or
/// nulls (except nulls that keep a primitive array aligned with its `_name` sibling); primitive
/// JSON kinds (booleans, 32-bit integers, numbers for `decimal`, strings otherwise), no empty
/// strings, and the R4 regex of each primitive type; `_name` siblings are objects (or, for
/// arrays, an array of objects or nulls of the same length) holding only `id` and `extension`;
/// `resourceType` only at a resource root; contained and entry resources are checked as
/// resources. Never panics; objects nested deeper than [`MAX_DEPTH`] give one issue and are not
/// descended into.
pub fn check_resource(value: &Value) -> Vec<Issue> {
    let definitions = definitions();
    let mut checker = Checker {
        definitions,
        element_type: definitions.type_def("Element"),
        issues: Vec::new(),
        depth_exceeded: false,
    };
    let mut path = String::new();
    checker.check_resource_value(value, &mut path, 0);
    checker.issues
}

struct Checker<'d> {
    definitions: &'d Definitions,
    /// `Element`, the type of the objects in `_name` siblings (`id` and `extension`).
    element_type: Option<&'d TypeDef>,
    issues: Vec<Issue>,
    depth_exceeded: bool,
}

impl Checker<'_> {
    fn report(&mut self, path: &str, message: String) {
        self.issues.push(Issue {
            path: path.to_owned(),
            message,
        });
    }

    fn check_resource_value(&mut self, value: &Value, path: &mut String, depth: usize) {
        let Value::Object(map) = value else {
            self.report(
                path,
                format!("expected a resource object, found {}", describe(value)),
            );
            return;
        };
        let resource_type = match map.get("resourceType") {
            Some(Value::String(name)) => name,
            Some(other) => {
                self.report(
                    path,
                    format!("resourceType must be a string, found {}", describe(other)),
                );
                return;
            }
            None => {
                self.report(path, "missing resourceType".to_owned());
                return;
            }
        };
        let definitions = self.definitions;
        let Some(type_def) = definitions
            .type_def(resource_type)
            .filter(|type_def| type_def.kind == TypeKind::Resource)
        else {
            self.report(
                path,
                format!("unknown resource type '{}'", quote(resource_type)),
            );
            return;
        };
        if type_def.is_abstract {
            self.report(
                path,
                format!("abstract resource type '{resource_type}' cannot be instantiated"),
            );
            return;
        }
        if path.is_empty() {
            path.push_str(resource_type);
        }
        self.check_object(map, type_def, path, depth, true);
    }

    fn check_object(
        &mut self,
        map: &Map<String, Value>,
        type_def: &TypeDef,
        path: &mut String,
        depth: usize,
        at_resource_root: bool,
    ) {
        if depth > MAX_DEPTH {
            if !self.depth_exceeded {
                self.depth_exceeded = true;
                self.report(
                    path,
                    format!("nested deeper than {MAX_DEPTH} levels; not checked further"),
                );
            }
            return;
        }
        if map.is_empty() {
            self.report(path, "empty object".to_owned());
            return;
        }
        let mut choices_seen: Vec<&str> = Vec::new();
        let parent_len = path.len();
        for (key, value) in map {
            if key == "resourceType" {
                if !at_resource_root {
                    self.report(
                        path,
                        "resourceType is only allowed at a resource root".to_owned(),
                    );
                }
                continue;
            }
            if let Some(name) = key.strip_prefix('_') {
                self.check_primitive_extension(map, type_def, name, value, path, depth);
                continue;
            }
            let Some((element, type_id)) = type_def.element_and_type_id(key) else {
                self.report(path, format!("unknown element '{}'", quote(key)));
                continue;
            };
            if element.is_choice {
                if choices_seen.contains(&element.name.as_str()) {
                    self.report(
                        path,
                        format!(
                            "more than one value for choice element '{}[x]'",
                            element.name
                        ),
                    );
                } else {
                    choices_seen.push(&element.name);
                }
            }
            path.push('.');
            path.push_str(key);
            self.check_element_value(map, key, value, element, type_id, path, depth);
            path.truncate(parent_len);
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a private recursive step; a struct would only rename them"
    )]
    fn check_element_value(
        &mut self,
        siblings: &Map<String, Value>,
        key: &str,
        value: &Value,
        element: &ElementDef,
        type_id: usize,
        path: &mut String,
        depth: usize,
    ) {
        let definitions = self.definitions;
        // Only primitives' own `value` elements have System types, and those never appear in JSON.
        let Some(value_type) = definitions.type_by_id(type_id) else {
            return;
        };
        if !element.max_many {
            if value.is_array() {
                self.report(path, "expected a single value, found an array".to_owned());
            } else {
                self.check_item(value, value_type, path, depth);
            }
            return;
        }
        let Value::Array(items) = value else {
            self.report(
                path,
                format!("expected an array, found {}", describe(value)),
            );
            self.check_item(value, value_type, path, depth);
            return;
        };
        if items.is_empty() {
            self.report(path, "empty array".to_owned());
            return;
        }
        let element_len = path.len();
        for (index, item) in items.iter().enumerate() {
            // Writing to a String cannot fail.
            let _ = write!(path, "[{index}]");
            if item.is_null() && value_type.is_primitive() {
                // A null keeps a primitive array aligned with its `_name` sibling; it is only
                // allowed where that sibling carries an extension for the same position.
                let extension = siblings
                    .get(&format!("_{key}"))
                    .and_then(Value::as_array)
                    .and_then(|extensions| extensions.get(index));
                if extension.is_none_or(Value::is_null) {
                    self.report(path, format!("null without an extension in '_{key}'"));
                }
            } else {
                self.check_item(item, value_type, path, depth);
            }
            path.truncate(element_len);
        }
    }

    fn check_item(&mut self, value: &Value, value_type: &TypeDef, path: &mut String, depth: usize) {
        match value_type.kind {
            TypeKind::Primitive => self.check_primitive(value, value_type, path),
            // Elements of type Resource (contained, Bundle.entry.resource) hold whole resources.
            TypeKind::Resource => self.check_resource_value(value, path, depth + 1),
            _ => match value {
                Value::Object(map) => self.check_object(map, value_type, path, depth + 1, false),
                other => self.report(
                    path,
                    format!(
                        "expected an object ({}), found {}",
                        value_type.name,
                        describe(other)
                    ),
                ),
            },
        }
    }

    fn check_primitive(&mut self, value: &Value, type_def: &TypeDef, path: &str) {
        let kind = type_def
            .primitive_json_kind()
            .unwrap_or(PrimitiveJsonKind::String);
        match (kind, value) {
            (_, Value::Null) => self.report(path, "null is not allowed".to_owned()),
            (PrimitiveJsonKind::Boolean, Value::Bool(_)) => {}
            (PrimitiveJsonKind::Integer, Value::Number(number)) => {
                self.check_integer(number, type_def, path);
            }
            (PrimitiveJsonKind::Decimal, Value::Number(number)) => {
                self.check_format(number.as_str(), type_def, path);
            }
            (PrimitiveJsonKind::String, Value::String(text)) => {
                if text.is_empty() {
                    self.report(path, "empty string".to_owned());
                } else {
                    self.check_format(text, type_def, path);
                }
            }
            (PrimitiveJsonKind::Boolean, other) => self.report(
                path,
                format!("expected a boolean, found {}", describe(other)),
            ),
            (PrimitiveJsonKind::Integer | PrimitiveJsonKind::Decimal, other) => self.report(
                path,
                format!(
                    "expected a number ({}), found {}",
                    type_def.name,
                    describe(other)
                ),
            ),
            (PrimitiveJsonKind::String, other) => self.report(
                path,
                format!(
                    "expected a string ({}), found {}",
                    type_def.name,
                    describe(other)
                ),
            ),
        }
    }

    fn check_integer(&mut self, number: &Number, type_def: &TypeDef, path: &str) {
        // The workspace enables serde_json's arbitrary_precision, so numbers keep their text.
        let text = number.as_str();
        match number.as_i64() {
            Some(integer) if i32::try_from(integer).is_ok() => {
                self.check_format(text, type_def, path);
            }
            Some(_) => self.report(
                path,
                format!(
                    "{} '{}' is out of the 32-bit range",
                    type_def.name,
                    quote(text)
                ),
            ),
            None => self.report(
                path,
                format!(
                    "expected an integer ({}), found '{}'",
                    type_def.name,
                    quote(text)
                ),
            ),
        }
    }

    fn check_format(&mut self, text: &str, type_def: &TypeDef, path: &str) {
        if !type_def.is_valid_format(text) {
            self.report(path, format!("invalid {} '{}'", type_def.name, quote(text)));
        }
    }

    /// Checks `_name`, the primitive extension sibling of `name`, in an object of `type_def`.
    fn check_primitive_extension(
        &mut self,
        siblings: &Map<String, Value>,
        type_def: &TypeDef,
        name: &str,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) {
        let definitions = self.definitions;
        let Some((element, type_id)) = type_def.element_and_type_id(name) else {
            self.report(path, format!("unknown element '_{}'", quote(name)));
            return;
        };
        if !definitions
            .type_by_id(type_id)
            .is_some_and(TypeDef::is_primitive)
        {
            self.report(
                path,
                format!("'_{name}' is only allowed for primitive elements"),
            );
            return;
        }
        let Some(element_type) = self.element_type else {
            return;
        };
        let parent_len = path.len();
        path.push('.');
        path.push_str(name);
        match value {
            Value::Object(map) if !element.max_many => {
                self.check_object(map, element_type, path, depth + 1, false);
            }
            Value::Array(items) if element.max_many => {
                if let Some(Value::Array(values)) = siblings.get(name)
                    && values.len() != items.len()
                {
                    self.report(
                        path,
                        format!(
                            "'_{name}' has {} entries but '{name}' has {}",
                            items.len(),
                            values.len()
                        ),
                    );
                }
                let element_len = path.len();
                for (index, item) in items.iter().enumerate() {
                    let _ = write!(path, "[{index}]");
                    match item {
                        Value::Null => {}
                        Value::Object(map) => {
                            self.check_object(map, element_type, path, depth + 1, false);
                        }
                        other => self.report(
                            path,
                            format!(
                                "expected an object or null in '_{name}', found {}",
                                describe(other)
                            ),
                        ),
                    }
                    path.truncate(element_len);
                }
            }
            other if element.max_many => self.report(
                path,
                format!("expected an array in '_{name}', found {}", describe(other)),
            ),
            other => self.report(
                path,
                format!("expected an object in '_{name}', found {}", describe(other)),
            ),
        }
        path.truncate(parent_len);
    }
}

/// Names the JSON kind of a value for messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Shortens input quoted in a message so one huge value cannot blow up a response.
fn quote(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn long_input_is_shortened_in_messages() {
        let long = "x".repeat(500);
        let patient = json!({"resourceType": "Patient", "gender": format!(" {long}")});
        let found = check_resource(&patient);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            format!("invalid code ' {}…'", "x".repeat(MAX_QUOTED_CHARS - 1))
        );
    }
}
