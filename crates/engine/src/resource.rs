//! Checking incoming resources and stamping stored ones.

use crate::{Error, Problem, fhir_time};
use medulla_model::definitions;
use medulla_store::Timestamp;
use serde_json::{Map, Value};

/// Checks a resource type named in a URL.
///
/// # Errors
/// [`Error::UnknownResourceType`] when it is not a concrete R4 resource type.
pub fn check_type(resource_type: &str) -> Result<(), Error> {
    if definitions().is_resource_type(resource_type) {
        Ok(())
    } else {
        Err(Error::UnknownResourceType(resource_type.to_owned()))
    }
}

/// True when `id` matches FHIR's id syntax: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Checks an id from a URL or body.
///
/// # Errors
/// [`Error::Invalid`] for a malformed id.
pub fn check_id(id: &str) -> Result<(), Error> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(Error::invalid(
            Some("id"),
            format!(
                "invalid resource id {id:?}: ids are 1-64 characters of A-Z, a-z, 0-9, '-' and '.'"
            ),
        ))
    }
}

/// Checks a resource body against its URL's type (and id, for updates) and the R4 definitions.
///
/// # Errors
/// [`Error::Invalid`] listing every problem found.
pub fn check_body(resource_type: &str, body: &Value, url_id: Option<&str>) -> Result<(), Error> {
    let Some(object) = body.as_object() else {
        return Err(Error::invalid(
            None,
            "the body must be a JSON object holding a FHIR resource",
        ));
    };
    match object.get("resourceType").and_then(Value::as_str) {
        None => {
            return Err(Error::invalid(
                Some("resourceType"),
                "the resource has no resourceType",
            ));
        }
        Some(found) if found != resource_type => {
            return Err(Error::invalid(
                Some("resourceType"),
                format!(
                    "resourceType {found:?} does not match the type {resource_type:?} in the URL"
                ),
            ));
        }
        Some(_) => {}
    }
    match (url_id, object.get("id")) {
        (Some(url_id), Some(Value::String(body_id))) if body_id != url_id => {
            return Err(Error::invalid(
                Some(&format!("{resource_type}.id")),
                format!("id {body_id:?} in the body does not match id {url_id:?} in the URL"),
            ));
        }
        (Some(_), None) => {
            return Err(Error::invalid(
                Some(&format!("{resource_type}.id")),
                "an update must carry the resource's id in the body",
            ));
        }
        _ => {}
    }
    if let Some(Value::String(id)) = object.get("id") {
        check_id(id)?;
    }
    let issues = medulla_model::check::check_resource(body);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(
            issues
                .into_iter()
                .map(|issue| Problem {
                    expression: Some(issue.path),
                    diagnostics: issue.message,
                })
                .collect(),
        ))
    }
}

/// Sets `id`, `meta.versionId` and `meta.lastUpdated`, keeping the rest of `meta`, and puts
/// `resourceType`, `id` and `meta` first. Writes serialize the same form without building it
/// ([`stamped_bytes`]); this is its definition, which the tests hold that to.
pub fn stamp(body: Value, id: &str, version: u64, last_updated: Timestamp) -> Value {
    let Value::Object(mut fields) = body else {
        return body;
    };
    let mut meta = match fields.shift_remove("meta") {
        Some(Value::Object(meta)) => meta,
        _ => Map::new(),
    };
    meta.shift_remove("versionId");
    meta.shift_remove("lastUpdated");
    let mut stamped_meta = Map::with_capacity(meta.len() + 2);
    stamped_meta.insert("versionId".into(), Value::String(version.to_string()));
    stamped_meta.insert(
        "lastUpdated".into(),
        Value::String(fhir_time::format_instant(last_updated)),
    );
    stamped_meta.extend(meta);
    let mut out = Map::with_capacity(fields.len() + 2);
    out.insert(
        "resourceType".into(),
        fields.shift_remove("resourceType").unwrap_or(Value::Null),
    );
    fields.shift_remove("id");
    out.insert("id".into(), Value::String(id.to_owned()));
    out.insert("meta".into(), Value::Object(stamped_meta));
    out.extend(fields);
    Value::Object(out)
}

/// The bytes of `serde_json::to_vec(&stamp(body.clone(), id, version, last_updated))`,
/// serialized from the borrowed body: bulk import stamps every resource ahead of the writer, and
/// the deep copy was a tenth of that work.
pub(crate) fn stamped_bytes(
    body: &Value,
    id: &str,
    version: u64,
    last_updated: Timestamp,
) -> serde_json::Result<Vec<u8>> {
    let Value::Object(fields) = body else {
        return serde_json::to_vec(body);
    };
    serde_json::to_vec(&Stamped {
        fields,
        id,
        version: version.to_string(),
        last_updated: fhir_time::format_instant(last_updated),
    })
}

/// A resource as [`stamp`] would make it, borrowing its members.
struct Stamped<'a> {
    fields: &'a Map<String, Value>,
    id: &'a str,
    version: String,
    last_updated: String,
}

impl serde::Serialize for Stamped<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let rest = self
            .fields
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "resourceType" | "id" | "meta"));
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "resourceType",
            self.fields.get("resourceType").unwrap_or(&Value::Null),
        )?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry(
            "meta",
            &StampedMeta {
                meta: self.fields.get("meta").and_then(Value::as_object),
                version: &self.version,
                last_updated: &self.last_updated,
            },
        )?;
        for (name, value) in rest {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// `meta` as [`stamp`] makes it: the version and time first, then the other members (a `meta`
/// that is not an object is dropped).
struct StampedMeta<'a> {
    meta: Option<&'a Map<String, Value>>,
    version: &'a str,
    last_updated: &'a str,
}

impl serde::Serialize for StampedMeta<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("versionId", self.version)?;
        map.serialize_entry("lastUpdated", self.last_updated)?;
        for (name, value) in self.meta.into_iter().flatten() {
            if !matches!(name.as_str(), "versionId" | "lastUpdated") {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

/// A new server-assigned id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
