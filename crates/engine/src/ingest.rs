//! Bulk ingest: batches of resources written as one job each, idempotent by resource id.
//!
//! A resource whose id already exists with the same content (ignoring `meta.versionId` and
//! `meta.lastUpdated`, which the store assigns) is left alone: no new version, no index rows
//! rewritten. The comparison runs inside the write job against the current version, so it is
//! atomic with the write it guards. That makes re-running an import of the same files (after a
//! crash, say) end with each resource once, at the version it had.
//!
//! Resources without an id get a new one each time, so only they are duplicated by a re-run.

use crate::interactions::{self, FirstVersion, Prepared};
use crate::{Engine, Error, resource};
use medulla_store::{Method, WriteTicket};
use serde_json::{Map, Value};

/// What one ingested batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Resources stored as a new version (or a new resource).
    pub written: usize,
    /// Resources whose current version already had the same content; nothing was written.
    pub unchanged: usize,
}

impl Engine {
    /// Prepares one already-checked resource for [`Engine::submit_ingest`]: computes its
    /// search-index rows (unless indexing is off). CPU-bound; call it on any thread.
    pub fn prepare(&self, body: Value) -> Prepared {
        let mut prepared = if self.options.indexing {
            Prepared::new(body, &self.options.base_url, &self.custom())
        } else {
            Prepared::with_rows(body, Default::default())
        };
        // Most ingested resources are new: serialize them here rather than in the writer, and
        // free the parsed JSON here too; the rare write that needs it parses the bytes again.
        prepared.first_version = FirstVersion::new(&prepared.body);
        if prepared.first_version.is_some() {
            prepared.body = Value::Null;
        }
        prepared
    }

    /// Submits prepared resources as one write job and returns its ticket (wait on it with
    /// `wait().await` or, off async threads, `blocking_wait()`). Each resource with an id is
    /// created or updated under that id, unless its current version has the same content; each
    /// without an id is created with a new one.
    ///
    /// The resources must have been checked with [`resource::check_body`]; the first one the
    /// writer rejects fails the whole batch, and then none of it is written.
    pub fn submit_ingest(&self, batch: Vec<Prepared>) -> WriteTicket<IngestOutcome, Error> {
        medulla_store::write(self.store.as_ref(), move |tx| {
            let mut outcome = IngestOutcome::default();
            let mut spent = Vec::with_capacity(batch.len());
            for mut prepared in batch {
                let (resource_type, id) = match &prepared.first_version {
                    Some(first) => (
                        first.resource_type().to_owned(),
                        Some(first.id().to_owned()),
                    ),
                    None => (
                        prepared
                            .body
                            .get("resourceType")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        prepared
                            .body
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    ),
                };
                let Some(id) = id else {
                    interactions::create(tx, &resource_type, prepared, None)?;
                    outcome.written += 1;
                    continue;
                };
                // A bulk load cannot look ids up (it has no id key yet) and need not: it
                // merges a resource stored twice when it finishes, by the same rule as below.
                let current = if tx.bulk_loading() {
                    None
                } else {
                    tx.current(&resource_type, &id)?
                };
                let (version, method) = match &current {
                    None => (1, Method::Put),
                    Some(current) => {
                        if prepared.body.is_null()
                            && let Some(first) = &prepared.first_version
                        {
                            prepared.body = first.body()?;
                        }
                        let same = current
                            .body
                            .as_deref()
                            .and_then(|body| serde_json::from_slice::<Value>(body).ok())
                            .is_some_and(|stored| same_content(&stored, &prepared.body));
                        if same {
                            outcome.unchanged += 1;
                            spent.push(prepared);
                            continue;
                        }
                        (current.version + 1, Method::Put)
                    }
                };
                interactions::store_version_from(
                    tx,
                    &resource_type,
                    &id,
                    version,
                    method,
                    &mut prepared,
                )?;
                spent.push(prepared);
                outcome.written += 1;
            }
            crate::dispose::later(spent);
            Ok(outcome)
        })
    }

    /// Checks nothing, prepares every resource on the calling thread, writes them as one job,
    /// and waits for the durable result. See [`Engine::submit_ingest`].
    ///
    /// # Errors
    /// The first resource that fails; then none of the batch is written.
    pub async fn ingest_batch(&self, resources: Vec<Value>) -> Result<IngestOutcome, Error> {
        let batch = resources
            .into_iter()
            .map(|body| self.prepare(body))
            .collect();
        self.submit_ingest(batch).wait().await
    }
}

/// Checks a resource as bulk loading does: its own `resourceType` must be a known type and the
/// body must pass [`resource::check_body`].
///
/// # Errors
/// [`Error::UnknownResourceType`] or [`Error::Invalid`].
pub fn check(body: &Value) -> Result<(), Error> {
    let resource_type = body
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    resource::check_type(resource_type)?;
    resource::check_body(resource_type, body, None)
}

/// How a bulk load compares and restamps the copies of a resource it stored more than once
/// (see [`medulla_store::SqliteOptions::bulk_load_when_empty`]): by [`same_content`], as the
/// row-by-row ingest does, and with the stamps [`resource::stamp`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StampedBodies;

impl medulla_store::StampedBodies for StampedBodies {
    fn same_content(&self, earlier: &[u8], later: &[u8]) -> bool {
        match (
            serde_json::from_slice::<Value>(earlier),
            serde_json::from_slice::<Value>(later),
        ) {
            (Ok(earlier), Ok(later)) => same_content(&earlier, &later),
            _ => false,
        }
    }

    fn restamp(
        &self,
        body: &[u8],
        version: u64,
        last_updated: medulla_store::Timestamp,
    ) -> Result<Vec<u8>, String> {
        let body: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .ok_or("the stored body has no id")?
            .to_owned();
        resource::stamped_bytes(&body, &id, version, last_updated).map_err(|e| e.to_string())
    }
}

/// Options for a SQLite store that Medulla's engine writes: the defaults, with the engine's
/// [`StampedBodies`], so that opening a store whose bulk load stopped early finishes it.
pub fn sqlite_options() -> medulla_store::SqliteOptions {
    medulla_store::SqliteOptions {
        bodies: Some(std::sync::Arc::new(StampedBodies)),
        ..Default::default()
    }
}

/// True when `stored` and `incoming` are the same resource content: every member equal, except
/// that `meta.versionId` and `meta.lastUpdated` are ignored and an empty `meta` equals none.
fn same_content(stored: &Value, incoming: &Value) -> bool {
    let (Some(stored), Some(incoming)) = (stored.as_object(), incoming.as_object()) else {
        return false;
    };
    let members =
        |object: &Map<String, Value>| object.len() - usize::from(object.contains_key("meta"));
    if members(stored) != members(incoming) {
        return false;
    }
    let others_equal = stored
        .iter()
        .filter(|(name, _)| *name != "meta")
        .all(|(name, value)| incoming.get(name) == Some(value));
    if !others_equal {
        return false;
    }
    let meta = |object: &Map<String, Value>| -> Vec<(String, Value)> {
        object
            .get("meta")
            .and_then(Value::as_object)
            .map(|meta| {
                meta.iter()
                    .filter(|(name, _)| *name != "versionId" && *name != "lastUpdated")
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (stored_meta, incoming_meta) = (meta(stored), meta(incoming));
    stored_meta.len() == incoming_meta.len()
        && stored_meta
            .iter()
            .all(|entry| incoming_meta.contains(entry))
}

#[cfg(test)]
mod tests {
    use super::same_content;
    use serde_json::json;

    #[test]
    fn meta_stamps_are_ignored() {
        let stored = json!({"resourceType": "Patient", "id": "a", "meta": {"versionId": "3", "lastUpdated": "2020-01-01T00:00:00Z"}, "active": true});
        assert!(same_content(
            &stored,
            &json!({"resourceType": "Patient", "id": "a", "active": true})
        ));
        assert!(same_content(
            &stored,
            &json!({"active": true, "id": "a", "resourceType": "Patient", "meta": {"versionId": "1"}})
        ));
        assert!(!same_content(
            &stored,
            &json!({"resourceType": "Patient", "id": "a", "active": false})
        ));
        assert!(!same_content(
            &stored,
            &json!({"resourceType": "Patient", "id": "a", "active": true, "meta": {"source": "x"}})
        ));
        assert!(!same_content(
            &stored,
            &json!({"resourceType": "Patient", "id": "a", "active": true, "gender": "male"})
        ));
    }
}
