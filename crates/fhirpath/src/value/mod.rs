//! The items of a FHIRPath collection: [`Value`] (a node of the input JSON or a System value)
//! and [`Node`]; equality, equivalence and ordering between them.

mod quantity;
mod temporal;
mod ucum;

use std::borrow::Cow;
use std::cmp::Ordering;

use medulla_model::{PrimitiveJsonKind, TypeDef, TypeKind};
use rust_decimal::Decimal;
use serde_json::Value as Json;

pub(crate) use quantity::CalendarUnit;
pub use quantity::Quantity;
pub(crate) use temporal::days_in_month;
pub use temporal::{Precision, Temporal};

/// A node of the input JSON: an element with its FHIR type as the R4 model gives it.
///
/// The JSON is borrowed, never copied. A primitive element carries its `_name` sibling (the
/// primitive's `id` and `extension`), and may have only that (`json` is then `null`).
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub(crate) json: &'a Json,
    pub(crate) extension: Option<&'a Json>,
    pub(crate) type_def: Option<&'static TypeDef>,
}

impl<'a> Node<'a> {
    /// A node for a JSON value of the given type (`None` when the model does not know it).
    pub fn new(json: &'a Json, type_def: Option<&'static TypeDef>) -> Node<'a> {
        Node {
            json,
            extension: None,
            type_def,
        }
    }

    /// A node for a resource, typed by its `resourceType`.
    pub fn resource(json: &'a Json) -> Node<'a> {
        // `resourceType` usually comes first; look there before hashing the name.
        let resource_type = match json.as_object().and_then(|object| object.iter().next()) {
            Some((key, value)) if key == "resourceType" => Some(value),
            _ => json.get("resourceType"),
        };
        let type_def = resource_type
            .and_then(Json::as_str)
            .and_then(|name| medulla_model::definitions().type_def(name));
        Node::new(json, type_def)
    }

    /// The JSON value (`null` for a primitive that has only extensions).
    pub fn json(&self) -> &'a Json {
        self.json
    }

    /// The `_name` sibling of a primitive, holding its `id` and `extension`.
    pub fn primitive_extension(&self) -> Option<&'a Json> {
        self.extension
    }

    /// The FHIR type name: `Patient`, `HumanName`, `code`, `Patient.contact`.
    pub fn type_name(&self) -> Option<&'static str> {
        self.type_def.map(|type_def| type_def.name.as_str())
    }

    pub(crate) fn is_primitive(&self) -> bool {
        match self.type_def {
            Some(type_def) => type_def.kind == TypeKind::Primitive,
            None => !self.json.is_object() && !self.json.is_array(),
        }
    }

    /// The System value of a primitive node: `Boolean`, `Integer`, `Decimal`, `String`, `Date`,
    /// `DateTime` or `Time`. `None` for complex nodes, values that do not parse, and primitives
    /// that have only extensions.
    pub fn to_system(&self) -> Option<Value<'a>> {
        let type_def = match self.type_def {
            Some(type_def) if type_def.kind != TypeKind::Primitive => return None,
            other => other,
        };
        let name = type_def.map(|type_def| type_def.name.as_str());
        match (type_def.and_then(|t| t.primitive_json_kind()), self.json) {
            (_, Json::Bool(value)) => Some(Value::Boolean(*value)),
            (Some(PrimitiveJsonKind::Decimal), Json::Number(number)) => {
                parse_decimal(number.as_str()).map(Value::Decimal)
            }
            (_, Json::Number(number)) => match number.as_i64() {
                Some(integer) => Some(Value::Integer(integer)),
                None => parse_decimal(number.as_str()).map(Value::Decimal),
            },
            (_, Json::String(text)) => Some(match name {
                Some("date") => Value::Date(Temporal::parse_date(text)?),
                Some("dateTime" | "instant") => Value::DateTime(Temporal::parse_date_time(text)?),
                Some("time") => Value::Time(Temporal::parse_time(text)?),
                _ => Value::String(Cow::Borrowed(text.as_str())),
            }),
            _ => None,
        }
    }

    /// The System quantity of a FHIR `Quantity` node (or one derived from it, such as `Age`):
    /// its `value` with its UCUM `code`, or its `unit` when it has no code.
    pub fn to_quantity(&self) -> Option<Quantity> {
        let type_def = self.type_def?;
        if !medulla_model::definitions().is_subtype_of(&type_def.name, "Quantity") {
            return None;
        }
        let value = parse_decimal(self.json.get("value")?.as_number()?.as_str())?;
        let unit = self
            .json
            .get("code")
            .or_else(|| self.json.get("unit"))
            .and_then(Json::as_str)
            .unwrap_or("1");
        Some(Quantity::new(value, unit))
    }
}

/// Parses a JSON number's text (plain or with exponent) as an exact decimal.
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        text.parse().ok()
    }
}

/// Type information as `type()` returns it: `System.Integer`, `FHIR.Patient`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// `System` or `FHIR`.
    pub namespace: &'static str,
    /// The type name.
    pub name: String,
}

/// One item of a FHIRPath collection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A node of the input (or of a resource resolved from it).
    Node(Node<'a>),
    /// System.Boolean.
    Boolean(bool),
    /// System.Integer.
    Integer(i64),
    /// System.Decimal, exact.
    Decimal(Decimal),
    /// System.String.
    String(Cow<'a, str>),
    /// System.Date.
    Date(Temporal),
    /// System.DateTime.
    DateTime(Temporal),
    /// System.Time.
    Time(Temporal),
    /// System.Quantity.
    Quantity(Box<Quantity>),
    /// The result of `type()`.
    TypeInfo(Box<TypeInfo>),
}

/// A FHIRPath collection.
pub type Collection<'a> = Vec<Value<'a>>;

impl<'a> Value<'a> {
    /// A primitive node as its System value; every other value as it is.
    pub(crate) fn to_system(&self) -> Cow<'_, Value<'a>> {
        match self {
            Value::Node(node) => match node.to_system() {
                Some(value) => Cow::Owned(value),
                None => match node.to_quantity() {
                    Some(quantity) => Cow::Owned(Value::Quantity(Box::new(quantity))),
                    None => Cow::Borrowed(self),
                },
            },
            other => Cow::Borrowed(other),
        }
    }

    /// The text of a string-like value (FHIR string, code, uri, … or System.String).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            Value::Node(node) if node.is_primitive() => match (node.json, node.type_def) {
                (Json::String(text), Some(type_def))
                    if !matches!(
                        type_def.name.as_str(),
                        "date" | "dateTime" | "instant" | "time"
                    ) =>
                {
                    Some(text)
                }
                (Json::String(text), None) => Some(text),
                _ => None,
            },
            _ => None,
        }
    }

    /// The System type's name as the HL7 suite writes it (`dateTime`), or the FHIR type name.
    pub fn type_name(&self) -> Cow<'static, str> {
        match self {
            Value::Node(node) => Cow::Borrowed(node.type_name().unwrap_or(match node.json {
                Json::Bool(_) => "boolean",
                Json::Number(_) => "decimal",
                Json::String(_) => "string",
                _ => "Element",
            })),
            Value::Boolean(_) => Cow::Borrowed("boolean"),
            Value::Integer(_) => Cow::Borrowed("integer"),
            Value::Decimal(_) => Cow::Borrowed("decimal"),
            Value::String(_) => Cow::Borrowed("string"),
            Value::Date(_) => Cow::Borrowed("date"),
            Value::DateTime(_) => Cow::Borrowed("dateTime"),
            Value::Time(_) => Cow::Borrowed("time"),
            Value::Quantity(_) => Cow::Borrowed("Quantity"),
            Value::TypeInfo(_) => Cow::Borrowed("TypeInfo"),
        }
    }

    /// This value as JSON: FHIR nodes as they are in the input, System values as FHIR JSON
    /// would write them (dates as strings without `@`, quantities as `{"value", "unit"}`).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Node(node) => node.json.clone(),
            Value::Boolean(value) => Json::Bool(*value),
            Value::Integer(value) => Json::from(*value),
            Value::Decimal(value) => decimal_json(*value),
            Value::String(text) => Json::String(text.to_string()),
            Value::Date(value) => Json::String(value.display_date().to_string()),
            Value::DateTime(value) => Json::String(value.display_date_time().to_string()),
            Value::Time(value) => Json::String(value.display_time().to_string()),
            Value::Quantity(quantity) => {
                let mut object = serde_json::Map::new();
                object.insert("value".to_owned(), decimal_json(quantity.value));
                object.insert("unit".to_owned(), Json::String(quantity.unit.clone()));
                Json::Object(object)
            }
            Value::TypeInfo(info) => {
                let mut object = serde_json::Map::new();
                object.insert("namespace".to_owned(), Json::from(info.namespace));
                object.insert("name".to_owned(), Json::String(info.name.clone()));
                Json::Object(object)
            }
        }
    }

    /// `{"type": T, "value": V}`.
    pub fn to_typed_json(&self) -> Json {
        let mut object = serde_json::Map::new();
        object.insert(
            "type".to_owned(),
            Json::String(self.type_name().into_owned()),
        );
        object.insert("value".to_owned(), self.to_json());
        Json::Object(object)
    }
}

fn decimal_json(value: Decimal) -> Json {
    serde_json::from_str::<serde_json::Number>(&value.to_string())
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

/// Decimal equivalence: equal once both are rounded to the coarser of their two scales.
pub(crate) fn decimal_equivalent(a: Decimal, b: Decimal) -> bool {
    let scale = a.scale().min(b.scale());
    a.round_dp(scale) == b.round_dp(scale)
}

fn numeric(value: &Value<'_>) -> Option<Decimal> {
    match value {
        Value::Integer(integer) => Some(Decimal::from(*integer)),
        Value::Decimal(decimal) => Some(*decimal),
        _ => None,
    }
}

/// Normalises a string for equivalence: lower case, runs of whitespace as one space, trimmed.
fn normalize_for_equivalence(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `=` between two items: `None` when the answer is unknown (dates at different precisions,
/// quantities with incomparable units).
pub(crate) fn items_equal(left: &Value<'_>, right: &Value<'_>) -> Option<bool> {
    let (left, right) = (left.to_system(), right.to_system());
    match (left.as_ref(), right.as_ref()) {
        (Value::Boolean(a), Value::Boolean(b)) => Some(a == b),
        (Value::String(a), Value::String(b)) => Some(a == b),
        (
            a @ (Value::Integer(_) | Value::Decimal(_)),
            b @ (Value::Integer(_) | Value::Decimal(_)),
        ) => Some(numeric(a) == numeric(b)),
        (Value::Date(a) | Value::DateTime(a), Value::Date(b) | Value::DateTime(b)) => {
            a.compare(b).map(Ordering::is_eq)
        }
        (Value::Time(a), Value::Time(b)) => a.compare_time(b).map(Ordering::is_eq),
        (Value::Quantity(a), Value::Quantity(b)) => a.compare(b).map(Ordering::is_eq),
        (Value::Node(a), Value::Node(b)) => Some(a.json == b.json),
        (Value::TypeInfo(a), Value::TypeInfo(b)) => Some(a == b),
        _ => Some(false),
    }
}

/// `~` between two items.
pub(crate) fn items_equivalent(left: &Value<'_>, right: &Value<'_>) -> bool {
    let (left, right) = (left.to_system(), right.to_system());
    match (left.as_ref(), right.as_ref()) {
        (Value::String(a), Value::String(b)) => {
            normalize_for_equivalence(a) == normalize_for_equivalence(b)
        }
        (
            a @ (Value::Integer(_) | Value::Decimal(_)),
            b @ (Value::Integer(_) | Value::Decimal(_)),
        ) => match (numeric(a), numeric(b)) {
            (Some(a), Some(b)) => decimal_equivalent(a, b),
            _ => false,
        },
        (Value::Date(a) | Value::DateTime(a), Value::Date(b) | Value::DateTime(b)) => {
            a.compare(b) == Some(Ordering::Equal)
        }
        (Value::Time(a), Value::Time(b)) => a.compare_time(b) == Some(Ordering::Equal),
        (Value::Quantity(a), Value::Quantity(b)) => a.is_equivalent(b),
        _ => items_equal(&left, &right) == Some(true),
    }
}

/// Why two items cannot be ordered.
pub(crate) enum OrderError {
    /// The types cannot be compared at all (an error).
    Incompatible,
}

/// `<` and friends: `Ok(None)` when the answer is unknown (differing precision or units).
pub(crate) fn compare_items(
    left: &Value<'_>,
    right: &Value<'_>,
) -> Result<Option<Ordering>, OrderError> {
    let (left, right) = (left.to_system(), right.to_system());
    match (left.as_ref(), right.as_ref()) {
        (
            a @ (Value::Integer(_) | Value::Decimal(_)),
            b @ (Value::Integer(_) | Value::Decimal(_)),
        ) => Ok(numeric(a).zip(numeric(b)).map(|(a, b)| a.cmp(&b))),
        (Value::String(a), Value::String(b)) => Ok(Some(a.cmp(b))),
        (Value::Date(a) | Value::DateTime(a), Value::Date(b) | Value::DateTime(b)) => {
            Ok(a.compare(b))
        }
        (Value::Time(a), Value::Time(b)) => Ok(a.compare_time(b)),
        (Value::Quantity(a), Value::Quantity(b)) => Ok(a.compare(b)),
        (Value::Boolean(a), Value::Boolean(b)) => Ok(Some(a.cmp(b))),
        _ => Err(OrderError::Incompatible),
    }
}
