//! Batch and transaction Bundles.
//!
//! A transaction runs as one store job: identities are resolved first (new ids, `ifNoneExist`
//! matches, conditional PUT targets), then every `urn:uuid:`/`urn:oid:` fullUrl and conditional
//! reference is rewritten, then entries run in the spec's order (DELETE, POST, PUT/PATCH, GET).
//! Any failure rolls the whole job back. A batch runs each entry as its own job.

use crate::interactions::{self, Prepared, Written};
use crate::{Engine, Error, fhir_time, resource};
use medulla_store::IndexRows;
use medulla_store::{Method, StoredResource, WriteTx};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Batch or transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// Entries succeed or fail independently.
    Batch,
    /// All entries succeed together or none does.
    Transaction,
}

/// The successful outcome of one entry.
#[derive(Debug, Clone, Default)]
pub struct EntryResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Type/id/_history/version` of the written or read resource.
    pub location: Option<String>,
    /// The version, for `etag`.
    pub version: Option<u64>,
    /// When the version was written.
    pub last_modified: Option<medulla_store::Timestamp>,
    /// The resource (or searchset Bundle) JSON.
    pub resource: Option<Vec<u8>>,
}

/// Work run inside the write job of [`Engine::process_transaction_with`].
pub trait TransactionHooks: Send + 'static {
    /// Runs first; `false` skips the Bundle (the job then writes only what this wrote).
    ///
    /// # Errors
    /// Fails the whole job.
    fn before(&mut self, tx: &mut dyn WriteTx) -> Result<bool, Error>;

    /// Runs after the Bundle's entries, with their responses.
    ///
    /// # Errors
    /// Fails the whole job: the Bundle's writes are rolled back too.
    fn after(&mut self, tx: &mut dyn WriteTx, responses: &[EntryResponse]) -> Result<(), Error>;
}

/// The outcome of a whole batch or transaction.
#[derive(Debug)]
pub struct BundleResponse {
    /// What was processed.
    pub kind: BundleKind,
    /// One result per request entry, in the request's order.
    pub entries: Vec<Result<EntryResponse, Error>>,
}

impl BundleResponse {
    /// Number of resources written (created, updated, patched or deleted).
    pub fn writes(&self) -> usize {
        self.entries
            .iter()
            .filter(|entry| matches!(entry, Ok(response) if response.status == 201 || (response.status == 200 && response.resource.is_some() && response.location.is_some())))
            .count()
    }

    /// The response Bundle (`transaction-response` or `batch-response`); resources are included
    /// when `with_resources`.
    pub fn render(&self, with_resources: bool) -> Vec<u8> {
        let bundle_type = match self.kind {
            BundleKind::Batch => "batch-response",
            BundleKind::Transaction => "transaction-response",
        };
        let entries = self.entries.iter().map(|entry| match entry {
            Ok(response) => {
                let mut fields = serde_json::Map::new();
                fields.insert(
                    "status".into(),
                    Value::String(crate::status_line(response.status)),
                );
                if let Some(location) = &response.location {
                    fields.insert("location".into(), Value::String(location.clone()));
                }
                if let Some(version) = response.version {
                    fields.insert("etag".into(), Value::String(format!("W/\"{version}\"")));
                }
                if let Some(modified) = response.last_modified {
                    fields.insert(
                        "lastModified".into(),
                        Value::String(fhir_time::format_instant(modified)),
                    );
                }
                crate::EntryParts {
                    resource: if with_resources {
                        response.resource.as_deref().map(std::borrow::Cow::Borrowed)
                    } else {
                        None
                    },
                    response: Some(Value::Object(fields)),
                    ..crate::EntryParts::default()
                }
            }
            Err(error) => crate::EntryParts {
                response: Some(json!({
                    "status": crate::status_line(error.status()),
                    "outcome": error.to_outcome(),
                })),
                ..crate::EntryParts::default()
            },
        });
        crate::render::bundle(bundle_type, None, &[], entries)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// Where an entry's request URL points.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `Type`
    Type,
    /// `Type/id`
    Instance(String),
    /// `Type/id/_history/vid`
    Version(String, String),
    /// `Type?criteria`
    Criteria(String),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) index: usize,
    pub(crate) verb: Verb,
    pub(crate) resource_type: String,
    pub(crate) target: Target,
    full_url: Option<String>,
    pub(crate) resource: Option<Value>,
    pub(crate) if_none_exist: Option<String>,
    pub(crate) if_match: Option<u64>,
    patch: Option<json_patch::Patch>,
    /// Index rows computed before the write job; placeholders are rewritten inside it.
    rows: Option<IndexRows>,
    /// For PATCH: the validator of the write-time policy, fetched before the write job.
    validator: Option<Arc<medulla_validation::Validator>>,
}

impl Entry {
    /// The entry's resource with its index rows.
    fn prepared(&mut self) -> Prepared {
        let body = self.resource.take().unwrap_or(Value::Null);
        match self.rows.take() {
            Some(rows) => Prepared::with_rows(body, rows),
            None => Prepared::new(body, "", &medulla_search::CustomParams::default()),
        }
    }
}

/// Whether a Bundle writes definitions the engine reads into its services.
fn touches_definitions(entries: &[Entry]) -> bool {
    entries
        .iter()
        .any(|entry| crate::definitions::is_definition_type(&entry.resource_type))
}

fn entry_error(index: usize, message: impl Into<String>) -> Error {
    Error::invalid(Some(&format!("Bundle.entry[{index}]")), message)
}

fn parse_if_match(text: &str) -> Option<u64> {
    let trimmed = text.trim().trim_start_matches("W/").trim_matches('"');
    trimmed.parse().ok()
}

fn parse_target(base_url: &str, url: &str) -> Option<(String, Target)> {
    let relative = url
        .strip_prefix(base_url)
        .map(|r| r.trim_start_matches('/'))
        .unwrap_or(url);
    let relative = relative.trim_start_matches('/');
    if let Some((resource_type, criteria)) = relative.split_once('?') {
        if resource_type.contains('/') {
            return None;
        }
        return Some((
            resource_type.to_owned(),
            Target::Criteria(criteria.to_owned()),
        ));
    }
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        [resource_type] => Some(((*resource_type).to_owned(), Target::Type)),
        [resource_type, id] => Some((
            (*resource_type).to_owned(),
            Target::Instance((*id).to_owned()),
        )),
        [resource_type, id, "_history", version] => Some((
            (*resource_type).to_owned(),
            Target::Version((*id).to_owned(), (*version).to_owned()),
        )),
        _ => None,
    }
}

fn parse_patch_body(index: usize, resource: Option<&Value>) -> Result<json_patch::Patch, Error> {
    // A PATCH entry carries its JSON Patch as a Binary resource (base64 `data`).
    use base64::Engine as _;
    let binary = resource.ok_or_else(|| {
        entry_error(
            index,
            "a PATCH entry needs a Binary resource holding the JSON Patch",
        )
    })?;
    if binary.get("resourceType").and_then(Value::as_str) != Some("Binary") {
        return Err(entry_error(
            index,
            "a PATCH entry's resource must be a Binary holding a JSON Patch",
        ));
    }
    let data = binary
        .get("data")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|error| entry_error(index, format!("Binary.data is not base64: {error}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| entry_error(index, format!("Binary.data is not a JSON Patch: {error}")))
}

fn parse_entry(base_url: &str, index: usize, mut entry: Value) -> Result<Entry, Error> {
    let resource = entry.get_mut("resource").map(Value::take);
    let request = entry
        .get("request")
        .ok_or_else(|| entry_error(index, "entry has no request"))?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let verb = match method {
        "GET" | "HEAD" => Verb::Get,
        "POST" => Verb::Post,
        "PUT" => Verb::Put,
        "PATCH" => Verb::Patch,
        "DELETE" => Verb::Delete,
        other => {
            return Err(entry_error(
                index,
                format!("unsupported request.method {other:?}"),
            ));
        }
    };
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (resource_type, target) = parse_target(base_url, url)
        .ok_or_else(|| entry_error(index, format!("cannot understand request.url {url:?}")))?;
    resource::check_type(&resource_type).map_err(|error| Error::TransactionEntry {
        index,
        source: Box::new(error),
    })?;
    let patch = if verb == Verb::Patch {
        Some(parse_patch_body(index, resource.as_ref())?)
    } else {
        None
    };
    let shape_ok = matches!(
        (verb, &target),
        (Verb::Get, _)
            | (Verb::Post, Target::Type)
            | (
                Verb::Put | Verb::Patch,
                Target::Instance(_) | Target::Criteria(_)
            )
            | (Verb::Delete, Target::Instance(_) | Target::Criteria(_))
    );
    if !shape_ok {
        return Err(entry_error(
            index,
            format!("{method} {url:?} is not a valid entry request"),
        ));
    }
    if matches!(verb, Verb::Post | Verb::Put) {
        let Some(body) = &resource else {
            return Err(entry_error(
                index,
                format!("a {method} entry needs a resource"),
            ));
        };
        let url_id = match &target {
            Target::Instance(id) => Some(id.as_str()),
            _ => None,
        };
        resource::check_body(&resource_type, body, url_id).map_err(|error| {
            Error::TransactionEntry {
                index,
                source: Box::new(error),
            }
        })?;
    }
    if let Target::Instance(id) | Target::Version(id, _) = &target {
        resource::check_id(id).map_err(|error| Error::TransactionEntry {
            index,
            source: Box::new(error),
        })?;
    }
    Ok(Entry {
        index,
        verb,
        resource_type,
        target,
        full_url: entry
            .get("fullUrl")
            .and_then(Value::as_str)
            .map(str::to_owned),
        resource,
        if_none_exist: request
            .get("ifNoneExist")
            .and_then(Value::as_str)
            .map(str::to_owned),
        if_match: request
            .get("ifMatch")
            .and_then(Value::as_str)
            .and_then(parse_if_match),
        patch,
        rows: None,
        validator: None,
    })
}

fn written_response(written: &Written) -> EntryResponse {
    let resource = &written.resource;
    EntryResponse {
        status: if written.created { 201 } else { 200 },
        location: Some(format!(
            "{}/{}/_history/{}",
            resource.resource_type, resource.id, resource.version
        )),
        version: Some(resource.version),
        last_modified: Some(resource.last_updated),
        resource: resource.body.clone(),
    }
}

fn deleted_response(tombstones: &[StoredResource]) -> EntryResponse {
    EntryResponse {
        status: 204,
        version: tombstones.first().map(|t| t.version),
        ..EntryResponse::default()
    }
}

impl Engine {
    /// Processes a `batch` or `transaction` Bundle.
    ///
    /// # Errors
    /// For a transaction, the first failing entry (as [`Error::TransactionEntry`]); nothing is
    /// written then. For a batch, only a malformed Bundle fails as a whole.
    pub async fn process_bundle(&self, bundle: Value) -> Result<BundleResponse, Error> {
        self.process_bundle_checked(bundle, |_| Ok(())).await
    }

    /// [`Engine::process_bundle`] with `check` run on every entry before anything is written
    /// (access control); a refused entry fails alone in a batch and fails a transaction.
    pub(crate) async fn process_bundle_checked(
        &self,
        bundle: Value,
        check: impl Fn(&mut Entry) -> Result<(), Error>,
    ) -> Result<BundleResponse, Error> {
        let (kind, mut parsed) = self.prepare_bundle(bundle)?;
        for slot in parsed.iter_mut() {
            if let Ok(entry) = slot {
                let index = entry.index;
                if let Err(error) = check(entry) {
                    *slot = Err(Error::TransactionEntry {
                        index,
                        source: Box::new(error),
                    });
                }
            }
        }
        self.apply_policy(&mut parsed)?;
        match kind {
            BundleKind::Transaction => {
                let entries = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;
                let touches = touches_definitions(&entries);
                let engine = self.clone();
                let responses = self
                    .run(touches, move |tx| engine.run_transaction(tx, entries))
                    .await?;
                Ok(BundleResponse {
                    kind,
                    entries: responses.into_iter().map(Ok).collect(),
                })
            }
            BundleKind::Batch => self.run_batch(parsed).await,
        }
    }

    /// Processes a transaction Bundle with `hooks` run in the same write job: `before` may
    /// skip the Bundle, `after` sees its responses. Everything they write commits with the
    /// Bundle's resources or not at all. Returns the responses (`None` when skipped) and the
    /// hooks.
    ///
    /// # Errors
    /// As [`Engine::process_bundle`] for a transaction, or the hooks' errors; nothing is
    /// written then.
    pub async fn process_transaction_with<H: TransactionHooks>(
        &self,
        bundle: Value,
        hooks: H,
    ) -> Result<(Option<Vec<EntryResponse>>, H), Error> {
        let (kind, mut parsed) = self.prepare_bundle(bundle)?;
        self.apply_policy(&mut parsed)?;
        if kind != BundleKind::Transaction {
            return Err(Error::invalid(
                Some("Bundle.type"),
                "expected a transaction Bundle",
            ));
        }
        let entries = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;
        let touches = touches_definitions(&entries);
        let engine = self.clone();
        let mut hooks = hooks;
        self.run(touches, move |tx| {
            if !hooks.before(tx)? {
                return Ok((None, hooks));
            }
            let responses = engine.run_transaction(tx, entries)?;
            hooks.after(tx, &responses)?;
            Ok((Some(responses), hooks))
        })
        .await
    }

    /// The write-time validation policy, entry by entry, before anything is written (after
    /// the access checks, so that refused callers spend no validation). PATCH entries keep the
    /// validator for their result, which is only known inside the write job.
    fn apply_policy(&self, parsed: &mut [Result<Entry, Error>]) -> Result<(), Error> {
        let validator = self.policy_validator()?;
        for slot in parsed.iter_mut() {
            let checked = match slot {
                Ok(entry) => match (entry.verb, &entry.resource) {
                    (Verb::Post | Verb::Put, Some(resource)) => self
                        .check_policy_with(&validator, resource)
                        .map_err(|error| (entry.index, error)),
                    (Verb::Patch, _) => {
                        entry.validator = Some(Arc::clone(&validator));
                        Ok(())
                    }
                    _ => Ok(()),
                },
                Err(_) => Ok(()),
            };
            if let Err((index, error)) = checked {
                *slot = Err(Error::TransactionEntry {
                    index,
                    source: Box::new(error),
                });
            }
        }
        Ok(())
    }

    /// Checks a batch or transaction Bundle and computes its entries' index rows.
    fn prepare_bundle(
        &self,
        bundle: Value,
    ) -> Result<(BundleKind, Vec<Result<Entry, Error>>), Error> {
        let kind = match bundle.get("resourceType").and_then(Value::as_str) {
            Some("Bundle") => match bundle.get("type").and_then(Value::as_str) {
                Some("transaction") => BundleKind::Transaction,
                Some("batch") => BundleKind::Batch,
                other => {
                    return Err(Error::invalid(
                        Some("Bundle.type"),
                        format!(
                            "expected a batch or transaction Bundle, not type {:?}",
                            other.unwrap_or("")
                        ),
                    ));
                }
            },
            _ => {
                return Err(Error::invalid(
                    Some("resourceType"),
                    "POST to the base URL takes a Bundle",
                ));
            }
        };
        let mut bundle = bundle;
        let raw_entries = match bundle.get_mut("entry").map(Value::take) {
            Some(Value::Array(entries)) => entries,
            None => Vec::new(),
            Some(_) => {
                return Err(Error::invalid(
                    Some("Bundle.entry"),
                    "Bundle.entry must be an array",
                ));
            }
        };
        let base_url = self.options.base_url.clone();
        let parsed: Vec<Result<Entry, Error>> = raw_entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| parse_entry(&base_url, index, entry))
            .collect();
        let mut parsed = parsed;
        let custom = self.custom();
        let placeholders: HashMap<String, String> = parsed
            .iter()
            .filter_map(|entry| entry.as_ref().ok())
            .filter_map(|entry| {
                let full_url = entry.full_url.as_ref().filter(|url| is_placeholder(url))?;
                entry.resource.as_ref()?;
                Some((full_url.clone(), entry.resource_type.clone()))
            })
            .collect();
        // Index rows are computed here, before the write job, so the writer does not run
        // FHIRPath; placeholder references are typed through `placeholders`.
        for entry in parsed.iter_mut().flatten() {
            if let (Verb::Post | Verb::Put, Some(resource)) = (entry.verb, &entry.resource) {
                entry.rows = Some(if self.options.indexing {
                    let mut rows = medulla_search::index_resource_with_placeholders(
                        resource,
                        &placeholders,
                        &custom,
                    );
                    medulla_search::localize_references(&mut rows, &self.options.base_url);
                    rows
                } else {
                    IndexRows::default()
                });
            }
        }
        Ok((kind, parsed))
    }

    async fn run_batch(&self, parsed: Vec<Result<Entry, Error>>) -> Result<BundleResponse, Error> {
        let kind = BundleKind::Batch;
        let futures = parsed.into_iter().map(|entry| {
            let engine = self.clone();
            async move {
                let entry = entry?;
                let index = entry.index;
                let worker = engine.clone();
                let touches = crate::definitions::is_definition_type(&entry.resource_type);
                engine
                    .run(touches, move |tx| {
                        let mut ids = HashMap::new();
                        worker.run_entry(tx, entry, &mut ids, None)
                    })
                    .await
                    .map_err(|error| match error {
                        Error::TransactionEntry { .. } => error,
                        other => Error::TransactionEntry {
                            index,
                            source: Box::new(other),
                        },
                    })
            }
        });
        let entries = futures_util::future::join_all(futures).await;
        Ok(BundleResponse { kind, entries })
    }

    fn run_transaction(
        &self,
        tx: &mut dyn WriteTx,
        mut entries: Vec<Entry>,
    ) -> Result<Vec<EntryResponse>, Error> {
        let wrap = |index: usize| {
            move |error: Error| match error {
                Error::TransactionEntry { .. } => error,
                other => Error::TransactionEntry {
                    index,
                    source: Box::new(other),
                },
            }
        };
        // Phase 1: decide every written resource's identity.
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut existing: HashMap<usize, StoredResource> = HashMap::new();
        let mut assigned: HashMap<usize, String> = HashMap::new();
        let mut seen_targets: HashMap<String, usize> = HashMap::new();
        for entry in &entries {
            let index = entry.index;
            let id = match (&entry.verb, &entry.target) {
                (Verb::Post, _) => {
                    let found = match &entry.if_none_exist {
                        Some(criteria) => {
                            let mut matches =
                                interactions::find(tx, &entry.resource_type, criteria, 2)
                                    .map_err(wrap(index))?;
                            if matches.len() > 1 {
                                return Err(wrap(index)(Error::PreconditionFailed(format!(
                                    "ifNoneExist {criteria:?} matches more than one {}",
                                    entry.resource_type
                                ))));
                            }
                            matches.pop()
                        }
                        None => None,
                    };
                    match found {
                        Some(found) => {
                            let id = found.id.clone();
                            existing.insert(index, found);
                            id
                        }
                        None => resource::new_id(),
                    }
                }
                (Verb::Put, Target::Instance(id)) => id.clone(),
                (Verb::Put, Target::Criteria(criteria)) => {
                    let matches = interactions::find(tx, &entry.resource_type, criteria, 2)
                        .map_err(wrap(index))?;
                    match matches.as_slice() {
                        [] => entry
                            .resource
                            .as_ref()
                            .and_then(|r| r.get("id"))
                            .and_then(Value::as_str)
                            .map_or_else(resource::new_id, str::to_owned),
                        [only] => only.id.clone(),
                        _ => {
                            return Err(wrap(index)(Error::PreconditionFailed(format!(
                                "conditional update {criteria:?} matches more than one {}",
                                entry.resource_type
                            ))));
                        }
                    }
                }
                (Verb::Patch | Verb::Delete, Target::Instance(id)) => id.clone(),
                _ => continue,
            };
            let reference = format!("{}/{id}", entry.resource_type);
            let changes_target = matches!(entry.verb, Verb::Put | Verb::Patch | Verb::Delete)
                || !existing.contains_key(&index);
            let previous = if changes_target {
                seen_targets.insert(reference.clone(), index)
            } else {
                None
            };
            if let Some(previous) = previous {
                return Err(wrap(index)(Error::invalid(
                    None,
                    format!(
                        "{reference} is also the target of entry {previous}; a transaction may change a resource only once"
                    ),
                )));
            }
            if let Some(full_url) = &entry.full_url {
                ids.insert(full_url.clone(), reference);
            }
            assigned.insert(index, id);
        }
        // Conditional references may point at resources this transaction creates with
        // `ifNoneExist`; those resolve to the assigned ids without a search.
        let mut pending_conditionals: HashMap<String, String> = HashMap::new();
        for entry in &entries {
            if let (Verb::Post, Some(criteria), Some(id)) = (
                &entry.verb,
                &entry.if_none_exist,
                assigned.get(&entry.index),
            ) {
                pending_conditionals.insert(
                    format!("{}?{criteria}", entry.resource_type),
                    format!("{}/{id}", entry.resource_type),
                );
            }
        }
        // Phase 2: rewrite references.
        for entry in &mut entries {
            let index = entry.index;
            if let (Some(resource), Verb::Post | Verb::Put) = (entry.resource.as_mut(), entry.verb)
            {
                resolve_references(tx, resource, &mut ids, &pending_conditionals)
                    .map_err(wrap(index))?;
            }
        }
        for entry in &mut entries {
            if let Some(rows) = entry.rows.as_mut() {
                medulla_search::rewrite_references(rows, &ids);
            }
        }
        // Phase 3: run in the spec's order.
        let order = |verb: Verb| match verb {
            Verb::Delete => 0,
            Verb::Post => 1,
            Verb::Put | Verb::Patch => 2,
            Verb::Get => 3,
        };
        entries.sort_by_key(|entry| (order(entry.verb), entry.index));
        let mut responses: Vec<(usize, EntryResponse)> = Vec::with_capacity(entries.len());
        for entry in entries {
            let index = entry.index;
            if let Some(found) = existing.remove(&index) {
                let written = Written {
                    resource: found,
                    created: false,
                    changed: false,
                };
                responses.push((index, written_response(&written)));
                continue;
            }
            let id = assigned.remove(&index);
            let response = self
                .run_entry(tx, entry, &mut ids, id)
                .map_err(wrap(index))?;
            responses.push((index, response));
        }
        responses.sort_by_key(|(index, _)| *index);
        Ok(responses
            .into_iter()
            .map(|(_, response)| response)
            .collect())
    }

    /// Runs one entry inside `tx`. `assigned_id` is the id phase 1 chose (transactions only).
    fn run_entry(
        &self,
        tx: &mut dyn WriteTx,
        mut entry: Entry,
        _ids: &mut HashMap<String, String>,
        assigned_id: Option<String>,
    ) -> Result<EntryResponse, Error> {
        let body = entry.prepared();
        let resource_type = entry.resource_type.as_str();
        match (entry.verb, entry.target) {
            (Verb::Post, _) => {
                let written = match (assigned_id, &entry.if_none_exist) {
                    (Some(id), _) => interactions::create(tx, resource_type, body, Some(id))?,
                    (None, Some(criteria)) => {
                        interactions::create_if_none_exist(tx, resource_type, body, criteria)?
                    }
                    (None, None) => interactions::create(tx, resource_type, body, None)?,
                };
                Ok(written_response(&written))
            }
            (Verb::Put, Target::Instance(id)) => Ok(written_response(&interactions::update(
                tx,
                resource_type,
                &id,
                body,
                entry.if_match,
                Method::Put,
            )?)),
            (Verb::Put, Target::Criteria(criteria)) => {
                let written = match assigned_id {
                    Some(id) => {
                        let body = Prepared::with_rows(with_id(body.body, &id), body.rows);
                        interactions::update(
                            tx,
                            resource_type,
                            &id,
                            body,
                            entry.if_match,
                            Method::Put,
                        )?
                    }
                    None => interactions::conditional_update(
                        tx,
                        resource_type,
                        &criteria,
                        body,
                        entry.if_match,
                    )?,
                };
                Ok(written_response(&written))
            }
            (Verb::Patch, target) => {
                let id = match target {
                    Target::Instance(id) => id,
                    Target::Criteria(criteria) => {
                        let matches = interactions::find(tx, resource_type, &criteria, 2)?;
                        match matches.as_slice() {
                            [only] => only.id.clone(),
                            [] => {
                                return Err(Error::NotFound(format!("{resource_type}?{criteria}")));
                            }
                            _ => {
                                return Err(Error::PreconditionFailed(format!(
                                    "conditional patch {criteria:?} matches more than one {resource_type}"
                                )));
                            }
                        }
                    }
                    _ => return Err(Error::invalid(None, "PATCH needs Type/id or Type?criteria")),
                };
                let operations = entry.patch.unwrap_or_default();
                let validator = entry.validator;
                let policy = |document: &Value| match &validator {
                    Some(validator) => self.check_policy_with(validator, document),
                    None => self.check_policy(document),
                };
                Ok(written_response(&interactions::patch(
                    tx,
                    resource_type,
                    &id,
                    &operations,
                    entry.if_match,
                    &self.options.base_url,
                    &self.custom(),
                    &policy,
                )?))
            }
            (Verb::Delete, Target::Instance(id)) => {
                let tombstone = interactions::delete(tx, resource_type, &id);
                match tombstone {
                    Ok(tombstone) => {
                        Ok(deleted_response(&tombstone.into_iter().collect::<Vec<_>>()))
                    }
                    // Deleting what does not exist is not a failure of the transaction.
                    Err(Error::NotFound(_)) => Ok(EntryResponse {
                        status: 204,
                        ..EntryResponse::default()
                    }),
                    Err(other) => Err(other),
                }
            }
            (Verb::Delete, Target::Criteria(criteria)) => {
                let options = &self.options;
                let tombstones = interactions::conditional_delete(
                    tx,
                    resource_type,
                    &criteria,
                    options.allow_multiple_delete,
                    options.max_conditional_delete,
                )?;
                Ok(deleted_response(&tombstones))
            }
            (Verb::Get, target) => self.run_get(tx, resource_type, target),
            _ => Err(Error::invalid(None, "unsupported entry request")),
        }
    }

    fn run_get(
        &self,
        tx: &mut dyn WriteTx,
        resource_type: &str,
        target: Target,
    ) -> Result<EntryResponse, Error> {
        let found = match target {
            Target::Instance(id) => {
                interactions::live(resource_type, &id, tx.current(resource_type, &id)?)?
            }
            Target::Version(id, version) => {
                let current =
                    interactions::live(resource_type, &id, tx.current(resource_type, &id)?)?;
                if current.version.to_string() != version {
                    // Older versions are read outside the transaction's view; they never change.
                    self.vread(resource_type, &id, &version)?
                } else {
                    current
                }
            }
            Target::Type | Target::Criteria(_) => {
                let criteria = match target {
                    Target::Criteria(criteria) => criteria,
                    _ => String::new(),
                };
                let params = crate::query::parse_query_string(&criteria);
                let parsed = self.parse_search(
                    &[resource_type.to_owned()],
                    &params,
                    crate::Handling::Lenient,
                )?;
                let page = tx.search(&parsed.query)?;
                let base = &self.options.base_url;
                let entries = page.resources.iter().map(|found| crate::EntryParts {
                    full_url: Some(format!("{base}/{}/{}", found.resource_type, found.id)),
                    resource: found.body.as_deref().map(std::borrow::Cow::Borrowed),
                    search_mode: Some("match"),
                    ..crate::EntryParts::default()
                });
                let bundle = crate::render::bundle("searchset", page.total, &[], entries);
                return Ok(EntryResponse {
                    status: 200,
                    resource: Some(bundle),
                    ..EntryResponse::default()
                });
            }
        };
        Ok(EntryResponse {
            status: 200,
            location: Some(format!(
                "{resource_type}/{}/_history/{}",
                found.id, found.version
            )),
            version: Some(found.version),
            last_modified: Some(found.last_updated),
            resource: found.body,
        })
    }
}

fn with_id(body: Value, id: &str) -> Value {
    match body {
        Value::Object(mut fields) => {
            fields.insert("id".into(), Value::String(id.to_owned()));
            Value::Object(fields)
        }
        other => other,
    }
}

fn is_placeholder(text: &str) -> bool {
    text.starts_with("urn:uuid:") || text.starts_with("urn:oid:")
}

/// Collects conditional references (`Type?criteria` in a `reference`) anywhere in `value`.
fn collect_conditional(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (name, child) in fields {
                match (name.as_str(), child) {
                    ("reference", Value::String(text)) if text.contains('?') => {
                        found.push(text.clone())
                    }
                    _ => collect_conditional(child, found),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_conditional(item, found)),
        _ => {}
    }
}

/// Rewrites placeholders and conditional references in place. Every `reference` that is a
/// placeholder must resolve; other strings (uri values) are rewritten when they name a fullUrl.
fn rewrite(value: &mut Value, ids: &HashMap<String, String>, unresolved: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (name, child) in fields.iter_mut() {
                if let Value::String(text) = child {
                    if let Some(target) = ids.get(text.as_str()) {
                        *text = target.clone();
                    } else if name == "reference" && is_placeholder(text) {
                        unresolved.push(text.clone());
                    }
                } else {
                    rewrite(child, ids, unresolved);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Value::String(text) = item {
                    if let Some(target) = ids.get(text.as_str()) {
                        *text = target.clone();
                    }
                } else {
                    rewrite(item, ids, unresolved);
                }
            }
        }
        _ => {}
    }
}

fn resolve_references(
    tx: &mut dyn WriteTx,
    resource: &mut Value,
    ids: &mut HashMap<String, String>,
    pending: &HashMap<String, String>,
) -> Result<(), Error> {
    let mut conditional = Vec::new();
    collect_conditional(resource, &mut conditional);
    for reference in conditional {
        if ids.contains_key(&reference) {
            continue;
        }
        if let Some(target) = pending.get(&reference) {
            ids.insert(reference, target.clone());
            continue;
        }
        let Some((resource_type, criteria)) = reference.split_once('?') else {
            continue;
        };
        resource::check_type(resource_type)?;
        let matches = interactions::find(tx, resource_type, criteria, 2)?;
        match matches.as_slice() {
            [only] => {
                ids.insert(reference.clone(), format!("{resource_type}/{}", only.id));
            }
            [] => {
                return Err(Error::PreconditionFailed(format!(
                    "conditional reference {reference:?} matches no resource"
                )));
            }
            _ => {
                return Err(Error::PreconditionFailed(format!(
                    "conditional reference {reference:?} matches more than one resource"
                )));
            }
        }
    }
    let mut unresolved = Vec::new();
    rewrite(resource, ids, &mut unresolved);
    match unresolved.first() {
        None => Ok(()),
        Some(reference) => Err(Error::invalid(
            None,
            format!("reference {reference:?} names no fullUrl in this transaction"),
        )),
    }
}
