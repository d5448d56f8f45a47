//! `_summary` and `_elements`: returning part of a resource.

use medulla_model::definitions;
use serde_json::{Map, Value, json};

/// Which part of each resource to return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Shape {
    /// Everything (`_summary=false`, the default).
    #[default]
    Full,
    /// Elements marked as summary (`_summary=true`).
    Summary,
    /// Text, id, meta and mandatory top-level elements (`_summary=text`).
    Text,
    /// Everything but the narrative (`_summary=data`).
    Data,
    /// Only a count, no resources (`_summary=count`, searches only).
    Count,
    /// Only the named top-level elements (`_elements=a,b`).
    Elements(Vec<String>),
}

impl Shape {
    /// Reads `_summary` and `_elements` from request parameters.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for an unknown `_summary` value.
    pub fn from_params(params: &[(String, String)]) -> Result<Shape, crate::Error> {
        let mut shape = Shape::Full;
        for (name, value) in params {
            match name.as_str() {
                "_summary" => {
                    shape = match value.as_str() {
                        "true" => Shape::Summary,
                        "text" => Shape::Text,
                        "data" => Shape::Data,
                        "count" => Shape::Count,
                        "false" => Shape::Full,
                        other => {
                            return Err(crate::Error::invalid(
                                Some("_summary"),
                                format!(
                                    "_summary must be true, text, data, count or false, not {other:?}"
                                ),
                            ));
                        }
                    }
                }
                "_elements" if shape == Shape::Full => {
                    shape = Shape::Elements(
                        value
                            .split(',')
                            .map(|e| e.trim().to_owned())
                            .filter(|e| !e.is_empty())
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        Ok(shape)
    }

    /// Applies the shape to one resource's JSON. Contained or unparsable bodies are returned as
    /// they are.
    pub fn apply<'a>(&self, body: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if matches!(self, Shape::Full | Shape::Count) {
            return std::borrow::Cow::Borrowed(body);
        }
        let Ok(Value::Object(resource)) = serde_json::from_slice::<Value>(body) else {
            return std::borrow::Cow::Borrowed(body);
        };
        let shaped = self.apply_value(resource);
        std::borrow::Cow::Owned(
            serde_json::to_vec(&Value::Object(shaped)).unwrap_or_else(|_| body.to_vec()),
        )
    }

    fn apply_value(&self, resource: Map<String, Value>) -> Map<String, Value> {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let type_def = definitions().type_def(&resource_type);
        let keep = |name: &str| -> bool {
            if matches!(name, "resourceType" | "id" | "meta") {
                return true;
            }
            let bare = name.strip_prefix('_').unwrap_or(name);
            let element = type_def
                .and_then(|def| def.element_for_json_name(bare))
                .map(|(element, _)| element);
            match self {
                Shape::Summary => element.is_some_and(|e| e.is_summary),
                Shape::Text => bare == "text" || element.is_some_and(|e| e.min > 0),
                Shape::Data => bare != "text",
                Shape::Elements(wanted) => wanted
                    .iter()
                    .any(|w| w == bare || element.is_some_and(|e| e.is_choice && *w == e.name)),
                Shape::Full | Shape::Count => true,
            }
        };
        let mut out: Map<String, Value> = resource
            .into_iter()
            .filter(|(name, _)| keep(name))
            .collect();
        let tag = json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"});
        if let Some(Value::Object(meta)) = out.get_mut("meta") {
            match meta.get_mut("tag") {
                Some(Value::Array(tags)) => tags.push(tag),
                _ => {
                    meta.insert("tag".into(), Value::Array(vec![tag]));
                }
            }
        }
        out
    }
}
