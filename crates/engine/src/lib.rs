//! FHIR R4 interactions over a [`medulla_store::Store`].
//!
//! This crate owns what the FHIR RESTful API means, independent of HTTP: create, read, vread,
//! update (and update-as-create), JSON Patch, delete, their conditional forms, history, the
//! minimal search of conditional interactions, and batch/transaction Bundles. [`Engine`] is the
//! entry point; the server and the `medulla import` command both drive it.
//!
//! Does not: speak HTTP (no headers, no status lines except as FHIR `Bundle.entry.response`
//! carries them), write SQL, or read configuration from the environment.
//!
//! Every write runs as one store job, so all checks (If-Match, conditional matches, reference
//! resolution) happen atomically with the write they guard.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use medulla_engine::{Engine, EngineOptions};
//! let dir = tempfile::tempdir()?;
//! let store = medulla_store::SqliteStore::open(dir.path(), Default::default())?;
//! let engine = Engine::new(std::sync::Arc::new(store), EngineOptions::default());
//! let patient = serde_json::json!({"resourceType": "Patient", "name": [{"family": "Chalmers"}]});
//! let written = engine.create("Patient", patient, None).await?;
//! assert_eq!(written.resource.version, 1);
//! let read = engine.read("Patient", &written.resource.id)?;
//! assert_eq!(read.version, 1);
//! # Ok(()) }
//! ```

mod bundle;
mod compartment;
mod consent;
mod definitions;
mod dispose;
mod error;
mod guard;
mod ingest;
mod interactions;
mod merge;
mod outcome;
pub mod query;
mod reindex;
mod render;
pub mod resource;
mod searching;
mod shape;
mod terminology_ops;
mod validation;

pub use bundle::{BundleKind, BundleResponse, EntryResponse, TransactionHooks};
pub use error::{Error, Problem};
pub use guard::Guarded;
pub use ingest::{IngestOutcome, StampedBodies, check as check_resource, sqlite_options};
pub use interactions::{Prepared, Written};
pub use medulla_access::{Access, Permission};
pub use medulla_search::Handling;
pub use medulla_search::time as fhir_time;
pub use outcome::{operation_outcome, status_line};
pub use reindex::{ReindexState, ReindexStatus};
pub use render::{EntryParts, bundle as render_bundle};
pub use shape::Shape;
pub use terminology_ops::{OperationInput, is_terminology_operation};
pub use validation::{ValidationLevel, ValidationPolicy};

use medulla_store::{HistoryQuery, HistoryScope, Store, StoredResource};
use serde_json::{Value, json};
use std::sync::Arc;

/// Behaviour switches of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The base URL of the FHIR API as clients see it (`http://host:port/fhir`), for links and
    /// `fullUrl`s.
    pub base_url: String,
    /// Conditional delete with several matches deletes them all (instead of 412).
    pub allow_multiple_delete: bool,
    /// Upper bound on resources one conditional delete may remove.
    pub max_conditional_delete: usize,
    /// Secret that signs search paging cursors (keep it stable across restarts so that
    /// paging links stay valid).
    pub cursor_key: Vec<u8>,
    /// Compute search-index rows on writes (always, except to measure write amplification:
    /// resources written without rows are invisible to search).
    pub indexing: bool,
    /// How resources are validated before they are written.
    pub validation: ValidationPolicy,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            base_url: "http://127.0.0.1:8080/fhir".to_owned(),
            allow_multiple_delete: false,
            max_conditional_delete: 1000,
            cursor_key: uuid::Uuid::new_v4().as_bytes().to_vec(),
            indexing: true,
            validation: ValidationPolicy::default(),
        }
    }
}

/// The FHIR interactions over one store. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    options: Arc<EngineOptions>,
    /// Search parameters from SearchParameter resources, swapped whole by `$reindex`.
    custom: Arc<std::sync::RwLock<Arc<medulla_search::CustomParams>>>,
    /// Reindex jobs of this process, by id.
    jobs: reindex::Jobs,
    /// Deny rules of active Consent resources.
    consents: consent::Consents,
    /// The terminology service and the validator, with the definitions stored as resources.
    definitions: Arc<definitions::Definitions>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: Arc<dyn Store>, options: EngineOptions) -> Engine {
        // The indexer writes no rows for derived parameters; the store must expand them.
        store.set_param_aliases(medulla_search::param_aliases().clone());
        let definitions = Arc::new(definitions::Definitions::new(
            Arc::new(medulla_terminology::Terminology::in_memory()),
            Arc::clone(&store),
        ));
        Engine {
            store,
            options: Arc::new(options),
            custom: Arc::default(),
            jobs: reindex::Jobs::default(),
            consents: consent::Consents::default(),
            definitions,
        }
    }

    /// The engine with `terminology` (for instance one opened on the data directory, with
    /// loaded releases) instead of the built-in content only.
    pub fn with_terminology(
        mut self,
        terminology: Arc<medulla_terminology::Terminology>,
    ) -> Engine {
        self.definitions = Arc::new(definitions::Definitions::new(
            terminology,
            Arc::clone(&self.store),
        ));
        self
    }

    /// The validator: the R4 base definitions and the StructureDefinition resources of the
    /// store (profiles, extensions), over [`Engine::terminology`].
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn validator(&self) -> Result<Arc<medulla_validation::Validator>, Error> {
        self.definitions.validator()
    }

    /// The terminology service, with the CodeSystem and ValueSet resources of the store
    /// applied (checked at most once a second, and at once after a write).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn terminology(&self) -> Result<Arc<medulla_terminology::Terminology>, Error> {
        self.definitions.current().cloned()
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The options in force.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Runs `work` as one write job. `touches_definitions` says whether it writes resources of
    /// a definition type (CodeSystem, ValueSet, ConceptMap, StructureDefinition), which the
    /// terminology service and the validator then read again before their next use.
    async fn run<R, F>(&self, touches_definitions: bool, work: F) -> Result<R, Error>
    where
        F: FnOnce(&mut dyn medulla_store::WriteTx) -> Result<R, Error> + Send + 'static,
        R: Send + 'static,
    {
        let result = medulla_store::write(self.store.as_ref(), work).wait().await;
        if touches_definitions {
            self.definitions.invalidate();
        }
        result
    }

    /// Create (`POST /Type`), conditional when `if_none_exist` holds search criteria.
    ///
    /// # Errors
    /// Invalid input, or 412 when a conditional create matches several resources.
    pub async fn create(
        &self,
        resource_type: &str,
        body: Value,
        if_none_exist: Option<String>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        resource::check_body(resource_type, &body, None)?;
        self.check_policy(&body)?;
        let resource_type = resource_type.to_owned();
        let body = Prepared::new(body, &self.options.base_url, &self.custom());
        self.run(
            definitions::is_definition_type(&resource_type),
            move |tx| match if_none_exist {
                Some(criteria) => {
                    interactions::create_if_none_exist(tx, &resource_type, body, &criteria)
                }
                None => interactions::create(tx, &resource_type, body, None),
            },
        )
        .await
    }

    /// Update (`PUT /Type/id`), creating the resource with the client's id when it is new.
    ///
    /// # Errors
    /// Invalid input, or 412 when `if_match` is not the current version.
    pub async fn update(
        &self,
        resource_type: &str,
        id: &str,
        body: Value,
        if_match: Option<u64>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        resource::check_id(id)?;
        resource::check_body(resource_type, &body, Some(id))?;
        self.check_policy(&body)?;
        let (resource_type, id) = (resource_type.to_owned(), id.to_owned());
        let body = Prepared::new(body, &self.options.base_url, &self.custom());
        self.run(definitions::is_definition_type(&resource_type), move |tx| {
            interactions::update(
                tx,
                &resource_type,
                &id,
                body,
                if_match,
                medulla_store::Method::Put,
            )
        })
        .await
    }

    /// Conditional update (`PUT /Type?criteria`).
    ///
    /// # Errors
    /// Invalid input or criteria, 412 for several matches or a failed If-Match.
    pub async fn conditional_update(
        &self,
        resource_type: &str,
        criteria: &str,
        body: Value,
        if_match: Option<u64>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        resource::check_body(resource_type, &body, None)?;
        self.check_policy(&body)?;
        let (resource_type, criteria) = (resource_type.to_owned(), criteria.to_owned());
        let body = Prepared::new(body, &self.options.base_url, &self.custom());
        self.run(definitions::is_definition_type(&resource_type), move |tx| {
            interactions::conditional_update(tx, &resource_type, &criteria, body, if_match)
        })
        .await
    }

    /// JSON Patch (`PATCH /Type/id`), or conditional patch when `criteria` is given instead of an id.
    ///
    /// # Errors
    /// 404/410 for missing resources, 422 when the patch fails or breaks the resource.
    pub async fn patch(
        &self,
        resource_type: &str,
        target: PatchTarget,
        operations: Value,
        if_match: Option<u64>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        let operations: json_patch::Patch =
            serde_json::from_value(operations).map_err(|error| {
                Error::invalid(
                    None,
                    format!("the body is not a JSON Patch document: {error}"),
                )
            })?;
        let base_url = self.options.base_url.clone();
        let custom = self.custom();
        let resource_type = resource_type.to_owned();
        // The patched resource is validated inside the write job, with definitions read here.
        let validator = self.policy_validator()?;
        let engine = self.clone();
        self.run(definitions::is_definition_type(&resource_type), move |tx| {
            let policy = |document: &Value| engine.check_policy_with(&validator, document);
            let id = match target {
                PatchTarget::Id(id) => {
                    resource::check_id(&id)?;
                    id
                }
                PatchTarget::Criteria(criteria) => {
                    let matches = interactions::find(tx, &resource_type, &criteria, 2)?;
                    match matches.as_slice() {
                        [only] => only.id.clone(),
                        [] => return Err(Error::NotFound(format!("{resource_type}?{criteria}"))),
                        _ => {
                            return Err(Error::PreconditionFailed(format!(
                                "conditional patch: more than one {resource_type} matches {criteria:?}"
                            )));
                        }
                    }
                }
            };
            interactions::patch(
                tx,
                &resource_type,
                &id,
                &operations,
                if_match,
                &base_url,
                &custom,
                &policy,
            )
        })
        .await
    }

    /// Delete (`DELETE /Type/id`). `Ok(None)` when it was already deleted.
    ///
    /// # Errors
    /// 404 when the resource never existed.
    pub async fn delete(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, Error> {
        resource::check_type(resource_type)?;
        resource::check_id(id)?;
        let (resource_type, id) = (resource_type.to_owned(), id.to_owned());
        self.run(definitions::is_definition_type(&resource_type), move |tx| {
            interactions::delete(tx, &resource_type, &id)
        })
        .await
    }

    /// Conditional delete (`DELETE /Type?criteria`); returns the tombstones written.
    ///
    /// # Errors
    /// Invalid criteria, or 412 for several matches when multiple deletes are not allowed.
    pub async fn conditional_delete(
        &self,
        resource_type: &str,
        criteria: &str,
    ) -> Result<Vec<StoredResource>, Error> {
        resource::check_type(resource_type)?;
        let (resource_type, criteria) = (resource_type.to_owned(), criteria.to_owned());
        let (multiple, max) = (
            self.options.allow_multiple_delete,
            self.options.max_conditional_delete,
        );
        self.run(definitions::is_definition_type(&resource_type), move |tx| {
            interactions::conditional_delete(tx, &resource_type, &criteria, multiple, max)
        })
        .await
    }

    /// Stores already-checked resources as one write: each with an `id` is created or updated
    /// under that id (as `PUT` would), each without gets a new id. Returns how many were written.
    /// Used by bulk loading; callers check each resource first with
    /// [`resource::check_body`] to report problems per resource.
    ///
    /// # Errors
    /// The first resource that fails; then none of the batch is written.
    pub async fn upsert_batch(&self, resources: Vec<Value>) -> Result<usize, Error> {
        // Index rows are computed here, on the caller's thread, not on the writer's.
        let indexing = self.options.indexing;
        let resources: Vec<Prepared> = resources
            .into_iter()
            .map(|body| {
                if indexing {
                    Prepared::new(body, &self.options.base_url, &self.custom())
                } else {
                    Prepared::with_rows(body, Default::default())
                }
            })
            .collect();
        let touches_definitions = resources.iter().any(|prepared| {
            prepared
                .body
                .get("resourceType")
                .and_then(Value::as_str)
                .is_some_and(definitions::is_definition_type)
        });
        self.run(touches_definitions, move |tx| {
            let count = resources.len();
            for body in resources {
                let resource_type = body
                    .body
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                match body
                    .body
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                {
                    Some(id) => {
                        interactions::update(
                            tx,
                            &resource_type,
                            &id,
                            body,
                            None,
                            medulla_store::Method::Put,
                        )?;
                    }
                    None => {
                        interactions::create(tx, &resource_type, body, None)?;
                    }
                }
            }
            Ok(count)
        })
        .await
    }

    /// Read (`GET /Type/id`): the current version. Blocks on the store.
    ///
    /// # Errors
    /// 404 when unknown, 410 when deleted.
    pub fn read(&self, resource_type: &str, id: &str) -> Result<StoredResource, Error> {
        resource::check_type(resource_type)?;
        resource::check_id(id)?;
        interactions::live(resource_type, id, self.store.read(resource_type, id)?)
    }

    /// Version read (`GET /Type/id/_history/vid`). Blocks on the store.
    ///
    /// # Errors
    /// 404 when unknown, 410 when that version is a deletion.
    pub fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version: &str,
    ) -> Result<StoredResource, Error> {
        resource::check_type(resource_type)?;
        resource::check_id(id)?;
        let not_found = || Error::NotFound(format!("{resource_type}/{id}/_history/{version}"));
        let number: u64 = version.parse().map_err(|_| not_found())?;
        match self.store.vread(resource_type, id, number)? {
            None => Err(not_found()),
            Some(deleted) if deleted.is_deleted() => Err(Error::Gone {
                resource: format!("{resource_type}/{id}"),
                version: deleted.version,
            }),
            Some(found) => Ok(found),
        }
    }

    /// History as a Bundle (instance, type or system). Blocks on the store.
    ///
    /// `path` is the request path below the base (`Patient/1/_history`), used for links.
    ///
    /// # Errors
    /// Invalid parameters; 404 for an unknown instance.
    pub fn history_bundle(
        &self,
        scope: HistoryScope,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, Error> {
        match &scope {
            HistoryScope::System => {}
            HistoryScope::Type(resource_type) => resource::check_type(resource_type)?,
            HistoryScope::Instance(resource_type, id) => {
                resource::check_type(resource_type)?;
                resource::check_id(id)?;
                if self.store.read(resource_type, id)?.is_none() {
                    return Err(Error::NotFound(format!("{resource_type}/{id}")));
                }
            }
        }
        let mut query = HistoryQuery {
            scope,
            since: None,
            at: None,
            count: medulla_search::DEFAULT_COUNT,
            before_seq: None,
        };
        for (name, value) in params {
            match name.as_str() {
                "_since" => {
                    let (start, _) = fhir_time::parse_range(value).ok_or_else(|| {
                        Error::invalid(
                            Some("_since"),
                            format!("_since must be an instant, not {value:?}"),
                        )
                    })?;
                    query.since = Some(start);
                }
                "_at" => {
                    query.at = Some(fhir_time::parse_range(value).ok_or_else(|| {
                        Error::invalid(
                            Some("_at"),
                            format!("_at must be a date or dateTime, not {value:?}"),
                        )
                    })?);
                }
                "_count" => {
                    query.count = value
                        .parse::<usize>()
                        .map(|c| c.min(medulla_search::MAX_COUNT))
                        .map_err(|_| {
                            Error::invalid(
                                Some("_count"),
                                format!("_count must be a non-negative integer, not {value:?}"),
                            )
                        })?;
                }
                "_cursor" => {
                    query.before_seq = Some(value.parse().map_err(|_| {
                        Error::invalid(Some("_cursor"), format!("invalid paging cursor {value:?}"))
                    })?);
                }
                "_format" | "_pretty" | "_summary" | "_elements" => {}
                other => {
                    return Err(Error::invalid(
                        Some(other),
                        format!("unknown history parameter {other:?}"),
                    ));
                }
            }
        }
        let shape = Shape::from_params(params)?;
        let page = self.store.history(&query)?;
        let base = &self.options.base_url;
        let mut links = vec![("self", link(base, path, params, None))];
        if let Some(next) = page.next_before_seq {
            links.push(("next", link(base, path, params, Some(next.to_string()))));
        }
        let entries = page.entries.iter().map(|version| {
            let url = format!("{}/{}", version.resource_type, version.id);
            let request_url = match version.method {
                medulla_store::Method::Post => version.resource_type.clone(),
                _ => url.clone(),
            };
            let status = match (version.method, version.version) {
                (medulla_store::Method::Delete, _) => "204 No Content",
                (_, 1) => "201 Created",
                _ => "200 OK",
            };
            EntryParts {
                full_url: Some(format!("{base}/{url}")),
                resource: version.body.as_deref().map(|body| shape.apply(body)),
                search_mode: None,
                request: Some(json!({"method": version.method.as_str(), "url": request_url})),
                response: Some(json!({
                    "status": status,
                    "etag": format!("W/\"{}\"", version.version),
                    "lastModified": fhir_time::format_instant(version.last_updated),
                })),
            }
        });
        Ok(render::bundle("history", None, &links, entries))
    }
}

/// What a patch applies to.
#[derive(Debug, Clone)]
pub enum PatchTarget {
    /// `PATCH /Type/id`.
    Id(String),
    /// `PATCH /Type?criteria`.
    Criteria(String),
}

/// A link to `path` with the request's parameters, the paging cursor replaced by `cursor`.
pub(crate) fn link(
    base: &str,
    path: &str,
    params: &[(String, String)],
    cursor: Option<String>,
) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 3986 unreserved characters stay as they are (`_count`, not `%5Fcount`).
    const QUERY: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let mut url = format!("{base}/{path}");
    let mut pairs: Vec<String> = params
        .iter()
        // The self link keeps the request's own cursor; a next link replaces it.
        .filter(|(name, _)| cursor.is_none() || name != "_cursor")
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, QUERY),
                utf8_percent_encode(value, QUERY)
            )
        })
        .collect();
    if let Some(cursor) = cursor {
        pairs.push(format!("_cursor={cursor}"));
    }
    if !pairs.is_empty() {
        url.push('?');
        url.push_str(&pairs.join("&"));
    }
    url
}
