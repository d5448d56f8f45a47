//! The write interactions as they run inside a store transaction. Each function assumes its
//! input was checked with [`crate::resource::check_body`] before the job was submitted, so the
//! writer thread only does what must be serialized.

use crate::query::parse_query_string;
use crate::{Error, Handling, resource};
use medulla_search::time as fhir_time;
use medulla_store::{IndexRows, Method, NewVersion, StoredResource, Timestamp, WriteTx};
use serde_json::Value;

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The version now current.
    pub resource: StoredResource,
    /// True when a new resource came into being (201), false for a new version or an existing
    /// match (200).
    pub created: bool,
    /// False when nothing was written (conditional create matched an existing resource).
    pub changed: bool,
}

/// A resource ready to store: its JSON and its search-index rows, computed before the write
/// job so that the single writer thread does not run FHIRPath.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) body: Value,
    pub(crate) rows: IndexRows,
    /// The body already serialized as version 1, when it was prepared for bulk ingest.
    pub(crate) first_version: Option<FirstVersion>,
}

/// A body serialized ahead of its write job as version 1 of `id`, with a placeholder where
/// `meta.lastUpdated` goes: the writer only copies the commit time in, instead of serializing
/// the whole resource on the one thread every write waits for.
#[derive(Debug, Clone)]
pub(crate) struct FirstVersion {
    resource_type: String,
    id: String,
    bytes: Vec<u8>,
    /// Offset of the placeholder instant, which is as long as every instant of years
    /// 1000–9999.
    time_at: usize,
}

/// The instant written in place of `meta.lastUpdated` until the commit time is known.
const TIME_PLACEHOLDER: Timestamp = Timestamp(0);

impl FirstVersion {
    /// Serializes `body` stamped as version 1 of its own id; `None` without an id (or if the
    /// serialized form does not start as [`resource::stamp`] promises).
    pub(crate) fn new(body: &Value) -> Option<FirstVersion> {
        let id = body.get("id")?.as_str()?.to_owned();
        let resource_type = body.get("resourceType")?;
        let type_name = resource_type.as_str()?.to_owned();
        let bytes = resource::stamped_bytes(body, &id, 1, TIME_PLACEHOLDER).ok()?;
        let head = format!(
            r#"{{"resourceType":{},"id":{},"meta":{{"versionId":"1","lastUpdated":""#,
            serde_json::to_string(resource_type).ok()?,
            serde_json::to_string(&id).ok()?,
        );
        let placeholder = fhir_time::format_instant(TIME_PLACEHOLDER);
        let time_at = head.len();
        let fits = bytes.starts_with(head.as_bytes())
            && bytes.get(time_at..time_at + placeholder.len()) == Some(placeholder.as_bytes());
        fits.then_some(FirstVersion {
            resource_type: type_name,
            id,
            bytes,
            time_at,
        })
    }

    /// The resource type serialized.
    pub(crate) fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The id serialized.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// True when these bytes can become version `version` of `id` at `now`.
    fn fits(&self, id: &str, version: u64, now: Timestamp) -> bool {
        version == 1
            && self.id == id
            && fhir_time::format_instant(now).len()
                == fhir_time::format_instant(TIME_PLACEHOLDER).len()
    }

    /// The bytes with `now` as `meta.lastUpdated`; call only when [`FirstVersion::fits`].
    fn finish(self, now: Timestamp) -> Vec<u8> {
        let time = fhir_time::format_instant(now);
        let FirstVersion {
            mut bytes, time_at, ..
        } = self;
        if let Some(slot) = bytes.get_mut(time_at..time_at + time.len()) {
            slot.copy_from_slice(time.as_bytes());
        }
        bytes
    }

    /// The resource again as JSON (for the rare write that cannot use the bytes as they are).
    pub(crate) fn body(&self) -> Result<Value, Error> {
        serde_json::from_slice(&self.bytes)
            .map_err(|error| Error::invalid(None, format!("cannot read resource back: {error}")))
    }
}

impl Prepared {
    /// Computes the index rows of `body`. Ids and `meta.versionId`/`lastUpdated` are not
    /// indexed (they are columns), so rows computed before stamping stay right.
    pub fn new(body: Value, base_url: &str, custom: &medulla_search::CustomParams) -> Prepared {
        let mut rows = medulla_search::index_resource(&body, custom);
        medulla_search::localize_references(&mut rows, base_url);
        Prepared::with_rows(body, rows)
    }

    /// `body` with index rows computed elsewhere (or none).
    pub(crate) fn with_rows(body: Value, rows: IndexRows) -> Prepared {
        Prepared {
            body,
            rows,
            first_version: None,
        }
    }
}

/// Stores `body` as version `version` of `resource_type/id`.
pub(crate) fn store_version(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    version: u64,
    method: Method,
    mut prepared: Prepared,
) -> Result<StoredResource, Error> {
    store_version_from(tx, resource_type, id, version, method, &mut prepared)
}

/// [`store_version`] that leaves what it does not need in `prepared`, so that the caller can
/// free it off the writer thread.
pub(crate) fn store_version_from(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    version: u64,
    method: Method,
    prepared: &mut Prepared,
) -> Result<StoredResource, Error> {
    let now = tx.now();
    let ready = match prepared.first_version.take() {
        Some(first) if first.fits(id, version, now) => Some(first.finish(now)),
        Some(first) => {
            if prepared.body.is_null() {
                prepared.body = first.body()?;
            }
            None
        }
        None => None,
    };
    let bytes = match ready {
        Some(bytes) => bytes,
        None => resource::stamped_bytes(&prepared.body, id, version, now)
            .map_err(|error| Error::invalid(None, format!("cannot serialize resource: {error}")))?,
    };
    tx.put(&NewVersion {
        resource_type,
        id,
        version,
        last_updated: now,
        method,
        body: Some(&bytes),
        index: Some(&prepared.rows),
    })?;
    Ok(StoredResource {
        resource_type: resource_type.to_owned(),
        id: id.to_owned(),
        version,
        last_updated: now,
        method,
        body: Some(bytes),
        seq: 0,
    })
}

/// Finds current resources matching a conditional query (`identifier=…&_id=…`), at most `limit`.
/// Unknown parameters are an error here: ignoring one would widen the match.
pub(crate) fn find(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    query: &str,
    limit: usize,
) -> Result<Vec<StoredResource>, Error> {
    let params = parse_query_string(query);
    if params.is_empty() {
        return Err(Error::invalid(
            None,
            format!("conditional criteria {query:?} are empty"),
        ));
    }
    // Conditional criteria never page, so no cursor key is needed; references in them are
    // relative (`Patient/1`), so no base URL either.
    let no_custom = medulla_search::CustomParams::default();
    let options = medulla_search::SearchOptions {
        base_url: "",
        handling: Handling::Strict,
        cursor_key: b"",
        custom: &no_custom,
        code_sets: None,
    };
    let mut parsed = medulla_search::parse_search(&[resource_type.to_owned()], &params, &options)?;
    if parsed.query.clauses.is_empty() {
        // Only result parameters (`_count`, `_summary`, …): they select nothing, and treating
        // them as criteria would match every resource of the type.
        return Err(Error::invalid(
            None,
            format!(
                "conditional criteria {query:?} hold no search parameter that selects resources"
            ),
        ));
    }
    parsed.query.count = limit;
    parsed.query.after = None;
    parsed.query.sort.clear();
    Ok(tx.search(&parsed.query)?.resources)
}

/// Creates a new resource with `id` (server-assigned when `None`).
pub(crate) fn create(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    body: Prepared,
    id: Option<String>,
) -> Result<Written, Error> {
    let id = id.unwrap_or_else(resource::new_id);
    if let Some(existing) = tx.current(resource_type, &id)? {
        return Err(Error::Conflict(format!(
            "{resource_type}/{id} already exists (version {})",
            existing.version
        )));
    }
    let stored = store_version(tx, resource_type, &id, 1, Method::Post, body)?;
    Ok(Written {
        resource: stored,
        created: true,
        changed: true,
    })
}

/// Conditional create: a match is returned unchanged; more than one match is an error.
pub(crate) fn create_if_none_exist(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    body: Prepared,
    if_none_exist: &str,
) -> Result<Written, Error> {
    let mut matches = find(tx, resource_type, if_none_exist, 2)?;
    match matches.len() {
        0 => create(tx, resource_type, body, None),
        1 => Ok(Written {
            resource: matches.remove(0),
            created: false,
            changed: false,
        }),
        _ => Err(Error::PreconditionFailed(format!(
            "conditional create: more than one {resource_type} matches {if_none_exist:?}"
        ))),
    }
}

fn check_if_match(
    resource_type: &str,
    id: &str,
    current: Option<&StoredResource>,
    if_match: Option<u64>,
) -> Result<(), Error> {
    match (if_match, current) {
        (None, _) => Ok(()),
        (Some(wanted), Some(current)) if current.version == wanted && !current.is_deleted() => {
            Ok(())
        }
        (Some(wanted), Some(current)) => Err(Error::PreconditionFailed(format!(
            "If-Match version {wanted} does not match {resource_type}/{id}, which is at version {}{}",
            current.version,
            if current.is_deleted() {
                " (deleted)"
            } else {
                ""
            }
        ))),
        (Some(wanted), None) => Err(Error::PreconditionFailed(format!(
            "If-Match version {wanted} given but {resource_type}/{id} does not exist"
        ))),
    }
}

/// Update (or update-as-create) of `resource_type/id`.
pub(crate) fn update(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    body: Prepared,
    if_match: Option<u64>,
    method: Method,
) -> Result<Written, Error> {
    let current = tx.current(resource_type, id)?;
    check_if_match(resource_type, id, current.as_ref(), if_match)?;
    let created = current.as_ref().is_none_or(StoredResource::is_deleted);
    let version = current.map_or(1, |c| c.version + 1);
    let stored = store_version(tx, resource_type, id, version, method, body)?;
    Ok(Written {
        resource: stored,
        created,
        changed: true,
    })
}

/// Conditional update per R4: no match creates (with the body's id if any), one match updates
/// (the body's id, if given, must be that match's), several matches fail.
pub(crate) fn conditional_update(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    criteria: &str,
    body: Prepared,
    if_match: Option<u64>,
) -> Result<Written, Error> {
    let matches = find(tx, resource_type, criteria, 2)?;
    let body_id = body
        .body
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match matches.as_slice() {
        [] => match body_id {
            Some(id) => update(tx, resource_type, &id, body, if_match, Method::Put),
            None => create(tx, resource_type, body, None),
        },
        [found] => {
            if let Some(body_id) = body_id.filter(|body_id| *body_id != found.id) {
                return Err(Error::invalid(
                    Some(&format!("{resource_type}.id")),
                    format!(
                        "id {body_id:?} in the body is not that of the matching resource {resource_type}/{}",
                        found.id
                    ),
                ));
            }
            let id = found.id.clone();
            update(tx, resource_type, &id, body, if_match, Method::Put)
        }
        _ => Err(Error::PreconditionFailed(format!(
            "conditional update: more than one {resource_type} matches {criteria:?}"
        ))),
    }
}

/// Applies a JSON Patch to the current version and stores the result, if `policy` (the
/// write-time validation) accepts it.
#[allow(
    clippy::too_many_arguments,
    reason = "the interaction's inputs, each used once; a struct would only name them again"
)]
pub(crate) fn patch(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
    operations: &json_patch::Patch,
    if_match: Option<u64>,
    base_url: &str,
    custom: &medulla_search::CustomParams,
    policy: &dyn Fn(&Value) -> Result<(), Error>,
) -> Result<Written, Error> {
    let current = tx.current(resource_type, id)?;
    check_if_match(resource_type, id, current.as_ref(), if_match)?;
    let current = live(resource_type, id, current)?;
    let mut document: Value = serde_json::from_slice(current.body.as_deref().unwrap_or(b"{}"))
        .map_err(|error| Error::Conflict(format!("stored resource is unreadable: {error}")))?;
    json_patch::patch(&mut document, operations).map_err(|error| {
        Error::Unprocessable(vec![crate::Problem {
            expression: None,
            diagnostics: format!("JSON Patch failed: {error}"),
        }])
    })?;
    resource::check_body(resource_type, &document, Some(id)).map_err(|error| match error {
        Error::Invalid(problems) => Error::Unprocessable(problems),
        other => other,
    })?;
    policy(&document)?;
    let stored = store_version(
        tx,
        resource_type,
        id,
        current.version + 1,
        Method::Patch,
        Prepared::new(document, base_url, custom),
    )?;
    Ok(Written {
        resource: stored,
        created: false,
        changed: true,
    })
}

/// The current version if it exists and is not deleted.
pub(crate) fn live(
    resource_type: &str,
    id: &str,
    current: Option<StoredResource>,
) -> Result<StoredResource, Error> {
    match current {
        None => Err(Error::NotFound(format!("{resource_type}/{id}"))),
        Some(deleted) if deleted.is_deleted() => Err(Error::Gone {
            resource: format!("{resource_type}/{id}"),
            version: deleted.version,
        }),
        Some(current) => Ok(current),
    }
}

/// Deletes `resource_type/id`. Returns the tombstone, or `None` when it was already deleted.
pub(crate) fn delete(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, Error> {
    let Some(current) = tx.current(resource_type, id)? else {
        return Err(Error::NotFound(format!("{resource_type}/{id}")));
    };
    if current.is_deleted() {
        return Ok(None);
    }
    let now = tx.now();
    let version = current.version + 1;
    tx.put(&NewVersion {
        resource_type,
        id,
        version,
        last_updated: now,
        method: Method::Delete,
        body: None,
        index: None,
    })?;
    Ok(Some(StoredResource {
        resource_type: resource_type.to_owned(),
        id: id.to_owned(),
        version,
        last_updated: now,
        method: Method::Delete,
        body: None,
        seq: 0,
    }))
}

/// Conditional delete: deletes the single match, or every match when `allow_multiple`
/// (at most `max_matches`); several matches otherwise fail with 412.
pub(crate) fn conditional_delete(
    tx: &mut dyn WriteTx,
    resource_type: &str,
    criteria: &str,
    allow_multiple: bool,
    max_matches: usize,
) -> Result<Vec<StoredResource>, Error> {
    let limit = if allow_multiple {
        max_matches.saturating_add(1)
    } else {
        2
    };
    let matches = find(tx, resource_type, criteria, limit)?;
    if matches.len() > 1 && !allow_multiple {
        return Err(Error::PreconditionFailed(format!(
            "conditional delete: more than one {resource_type} matches {criteria:?}"
        )));
    }
    if matches.len() > max_matches {
        return Err(Error::PreconditionFailed(format!(
            "conditional delete: more than {max_matches} resources match {criteria:?}"
        )));
    }
    let mut tombstones = Vec::with_capacity(matches.len());
    for found in matches {
        if let Some(tombstone) = delete(tx, resource_type, &found.id)? {
            tombstones.push(tombstone);
        }
    }
    Ok(tombstones)
}

#[cfg(test)]
mod tests {
    use super::FirstVersion;
    use crate::resource;
    use medulla_store::Timestamp;
    use serde_json::json;

    #[test]
    fn a_first_version_serialized_ahead_equals_one_serialized_in_the_writer() {
        let body = json!({
            "resourceType": "Observation", "status": "final", "id": "o\"1",
            "meta": {"source": "lab", "versionId": "9", "lastUpdated": "2001-01-01T00:00:00Z"},
            "code": {"text": "x"}
        });
        let now = Timestamp(1_764_000_000_123_456);
        let expected = serde_json::to_vec(&resource::stamp(body.clone(), "o\"1", 1, now)).unwrap();
        let first = FirstVersion::new(&body).unwrap();
        assert!(first.fits("o\"1", 1, now));
        assert_eq!(first.clone().finish(now), expected);
        // Another version or id falls back to serializing in the writer.
        assert!(!first.fits("o\"1", 2, now));
        assert!(!first.fits("other", 1, now));
        let again = resource::stamp(first.body().unwrap(), "o\"1", 2, now);
        assert_eq!(again["meta"]["source"], "lab");
        assert_eq!(again["meta"]["versionId"], "2");
        assert!(FirstVersion::new(&json!({"resourceType": "Patient"})).is_none());
    }

    #[test]
    fn stamped_bytes_equal_the_stamped_value_serialized() {
        let now = Timestamp(1_764_000_000_123_456);
        for body in [
            json!({"resourceType": "Patient", "id": "p", "active": true}),
            json!({"id": "p", "meta": "not an object", "resourceType": "Patient", "x": [1]}),
            json!({"meta": {"lastUpdated": "x", "tag": [{"code": "a"}], "versionId": "3"},
                   "resourceType": "Patient", "name": [{"family": "Ó\"Brien"}], "id": "old"}),
            json!({"resourceType": "Patient", "meta": {}}),
            json!({"active": false}),
            json!("not an object"),
        ] {
            let expected = serde_json::to_vec(&resource::stamp(body.clone(), "new", 7, now));
            let got = resource::stamped_bytes(&body, "new", 7, now);
            assert_eq!(got.unwrap(), expected.unwrap(), "{body}");
        }
    }
}
